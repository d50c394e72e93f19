"""The Home Assistant side of Tests/HomeAssistant/run, run with HA's venv python inside the HA root (aiohttp comes
with HA). The shared folder /ha holds params.json (ports), the HA config dir, the broker capture mqtt.jsonl
(mosquitto_sub -F %j of everything), marks.jsonl (the scenario's phases) and events.jsonl (HA's state_changed).

    ha.py setup                      wait for HA's HTTP, onboard a user (token in /ha/token), add the MQTT entry
    ha.py record                     write every state_changed event to /ha/events.jsonl until SIGTERM
    ha.py wait ROLE STATES TIMEOUT   wait until ROLE's entity is in one of STATES (comma-separated; ! negates)
    ha.py check                      report what HA made of the agent's messages and check expectations.py
"""
import asyncio
import datetime
import importlib.util
import json
import os
import re
import signal
import sys
import time

import aiohttp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import expectations as X  # noqa: E402

SHARED = "/ha"
PARAMS = json.load(open(f"{SHARED}/params.json"))
BASE = f"http://127.0.0.1:{PARAMS['ha_port']}"
CLIENT_ID = f"{BASE}/"


def log(*args):
    print(f"[{time.strftime('%H:%M:%S')}]", *args, file=sys.stderr, flush=True)


def token():
    return open(f"{SHARED}/token").read().strip()


# ---------------------------------------------------------------- setup

async def setup():
    t0 = time.monotonic()
    async with aiohttp.ClientSession() as http:
        while True:
            try:
                async with http.get(f"{BASE}/api/onboarding") as r:
                    if r.status == 200:
                        steps = await r.json()
                        break
            except aiohttp.ClientError:
                pass
            if time.monotonic() - t0 > 300:
                sys.exit("Home Assistant's HTTP did not answer in 300 s")
            await asyncio.sleep(0.5)
        log(f"HA answers HTTP after {time.monotonic() - t0:.1f} s; onboarding steps {steps}")
        async with http.post(f"{BASE}/api/onboarding/users", json={
                "client_id": CLIENT_ID, "name": "Harness", "username": "harness",
                "password": "harness-password-1", "language": "en"}) as r:
            body = await r.json()
            if r.status != 200:
                sys.exit(f"onboarding user: {r.status} {body}")
        async with http.post(f"{BASE}/auth/token", data={
                "grant_type": "authorization_code", "code": body["auth_code"], "client_id": CLIENT_ID}) as r:
            tok = await r.json()
            if r.status != 200:
                sys.exit(f"auth token: {r.status} {tok}")
        with open(f"{SHARED}/token", "w") as f:
            f.write(tok["access_token"])
        hdr = {"Authorization": f"Bearer {tok['access_token']}"}
        # The MQTT integration through its config flow, as the UI does it.
        async with http.post(f"{BASE}/api/config/config_entries/flow", headers=hdr,
                             json={"handler": "mqtt", "show_advanced_options": False}) as r:
            step = await r.json()
        for _ in range(6):
            kind = step.get("type")
            if kind == "create_entry":
                break
            if kind == "abort" or r.status >= 400:
                sys.exit(f"mqtt config flow: {r.status} {step}")
            if kind == "menu":
                options = step["menu_options"]
                choice = "broker" if "broker" in options else options[0]
                payload = {"next_step_id": choice}
            elif kind == "form":
                if step.get("errors"):
                    sys.exit(f"mqtt config flow refused the broker: {step['errors']}")
                names = [f["name"] for f in step.get("data_schema", [])]
                payload = {k: v for k, v in {"broker": "127.0.0.1", "port": PARAMS["mqtt_port"]}.items()
                           if k in names}
            else:
                sys.exit(f"mqtt config flow: unexpected step {step}")
            async with http.post(f"{BASE}/api/config/config_entries/flow/{step['flow_id']}", headers=hdr,
                                 json=payload) as r:
                step = await r.json()
        else:
            sys.exit(f"mqtt config flow did not finish: {step}")
        while True:
            async with http.get(f"{BASE}/api/config/config_entries/entry", headers=hdr) as r:
                entries = [e for e in await r.json() if e["domain"] == "mqtt"]
            if entries and entries[0]["state"] == "loaded":
                break
            if time.monotonic() - t0 > 300:
                sys.exit(f"mqtt entry not loaded: {entries}")
            await asyncio.sleep(0.5)
        log(f"MQTT entry loaded after {time.monotonic() - t0:.1f} s")


# ---------------------------------------------------------------- websocket

class WS:
    def __init__(self, session):
        self.session, self.n, self.ws = session, 0, None

    async def __aenter__(self):
        self.ws = await self.session.ws_connect(f"{BASE}/api/websocket", max_msg_size=0)
        assert (await self.ws.receive_json())["type"] == "auth_required"
        await self.ws.send_json({"type": "auth", "access_token": token()})
        msg = await self.ws.receive_json()
        if msg["type"] != "auth_ok":
            sys.exit(f"websocket auth: {msg}")
        return self

    async def __aexit__(self, *exc):
        await self.ws.close()

    async def call(self, kind, **kw):
        self.n += 1
        await self.ws.send_json({"id": self.n, "type": kind, **kw})
        while True:
            msg = await self.ws.receive_json()
            if msg.get("id") == self.n and msg["type"] == "result":
                if not msg["success"]:
                    raise RuntimeError(f"{kind}: {msg['error']}")
                return msg["result"]


async def record():
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with aiohttp.ClientSession() as http, WS(http) as ws:
        await ws.call("subscribe_events", event_type="state_changed")
        with open(f"{SHARED}/events.jsonl", "a") as out:
            while not stop.is_set():
                recv = asyncio.ensure_future(ws.ws.receive())
                done, _ = await asyncio.wait({recv, asyncio.ensure_future(stop.wait())},
                                             return_when=asyncio.FIRST_COMPLETED)
                if recv not in done:
                    recv.cancel()
                    break
                msg = recv.result()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(msg.data)
                if data.get("type") == "event":
                    out.write(json.dumps(data["event"]) + "\n")
                    out.flush()


# ---------------------------------------------------------------- discovery as published

def _abbreviations():
    """HA's own abbreviation tables, read from the mqtt integration's file (without importing the integration)."""
    import homeassistant
    path = os.path.join(os.path.dirname(homeassistant.__file__), "components", "mqtt", "abbreviations.py")
    spec = importlib.util.spec_from_file_location("mqtt_abbreviations", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _expand(cfg, abbr):
    cfg = {abbr.ABBREVIATIONS.get(k, k): v for k, v in cfg.items()}
    if isinstance(cfg.get("device"), dict):
        cfg["device"] = {abbr.DEVICE_ABBREVIATIONS.get(k, k): v for k, v in cfg["device"].items()}
    if isinstance(cfg.get("origin"), dict):
        cfg["origin"] = {abbr.ORIGIN_ABBREVIATIONS.get(k, k): v for k, v in cfg["origin"].items()}
    return cfg


def captured():
    """Every message on the private broker, in order, with the payload as text."""
    out = []
    for line in open(f"{SHARED}/mqtt.jsonl", errors="replace"):
        try:
            m = json.loads(line)
        except ValueError:
            continue
        out.append(m)
    return out


def discovery_components():
    """The last retained config on each discovery topic, split into components (dicts with _topic, _component,
    _key for device-based ones, and the expanded config)."""
    abbr = _abbreviations()
    last = {}
    for m in captured():
        if m["topic"].startswith("homeassistant/") and m["topic"].endswith("/config"):
            last[m["topic"]] = m.get("payload") or ""
    comps = []
    for topic, payload in sorted(last.items()):
        if not payload:
            continue
        try:
            cfg = _expand(json.loads(payload), abbr)
        except ValueError as e:
            comps.append({"_topic": topic, "_component": "?", "_error": f"not JSON: {e}", "_raw": payload})
            continue
        parts = topic.split("/")
        if parts[1] == "device":
            shared = {k: v for k, v in cfg.items() if k != "components"}
            for key, c in (cfg.get("components") or {}).items():
                c = _expand(c, abbr)
                merged = {**{k: v for k, v in shared.items() if k not in ("device", "origin")}, **c}
                merged.update({"_topic": topic, "_key": key, "_component": c.get("platform", "?"),
                               "_device": shared.get("device"), "_origin": shared.get("origin"), "_raw": payload,
                               "_device_based": True})
                comps.append(merged)
        else:
            cfg.update({"_topic": topic, "_component": parts[1], "_device": cfg.get("device"),
                        "_origin": cfg.get("origin"), "_raw": payload, "_device_based": False})
            comps.append(cfg)
    return comps


def role_component(role, comps):
    match = X.ROLES[role]
    found = []
    for c in comps:
        ok = True
        for k, v in match.items():
            if k == "component":
                ok &= c["_component"] == v
            elif k == "template_contains":
                ok &= v in (c.get("value_template") or "")
            else:
                ok &= c.get(k) == v
        if ok:
            found.append(c)
    found.sort(key=lambda c: c.get("entity_category") is not None)
    return found[0] if found else None


async def registries(ws):
    entities = await ws.call("config/entity_registry/list")
    devices = await ws.call("config/device_registry/list")
    states = {s["entity_id"]: s for s in await ws.call("get_states")}
    return entities, devices, states


def entity_for(comp, entities):
    for e in entities:
        if e["platform"] == "mqtt" and comp.get("unique_id") and e["unique_id"] == comp["unique_id"]:
            return e
    return None


# ---------------------------------------------------------------- wait

async def wait(role, states, timeout):
    negate = states.startswith("!")
    wanted = set(states.lstrip("!").split(","))
    t0 = time.monotonic()
    last = None
    async with aiohttp.ClientSession() as http, WS(http) as ws:
        while time.monotonic() - t0 < timeout:
            comp = role_component(role, discovery_components())
            if comp:
                entities = await ws.call("config/entity_registry/list")
                e = entity_for(comp, entities)
                if e:
                    st = next((s for s in await ws.call("get_states") if s["entity_id"] == e["entity_id"]), None)
                    last = st["state"] if st else None
                    if (last in wanted) != negate:
                        log(f"{role} ({e['entity_id']}) is {last} after {time.monotonic() - t0:.1f} s")
                        return 0
            await asyncio.sleep(0.5)
    log(f"TIMEOUT: {role} not {states} in {timeout} s (last state {last})")
    return 1


# ---------------------------------------------------------------- check

def _ts(iso):
    return datetime.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _fmt(v):
    return "-" if v is None else str(v)


def _allowed(expected, actual):
    if expected is X.ANY:
        return True
    if isinstance(expected, (set, frozenset)):
        return actual in expected
    return actual == expected


def table(rows, head):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)] if rows else [len(h) for h in head]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(head, widths))]
    lines += ["  ".join(str(x).ljust(w) for x, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def log_entries(path):
    """HA's log as entries (a timestamped line and its continuation lines)."""
    entries = []
    start = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    for line in open(path, errors="replace"):
        if start.match(line) or not entries:
            entries.append(line.rstrip("\n"))
        else:
            entries[-1] += "\n" + line.rstrip("\n")
    return entries


async def check():
    failures = []

    def expect(ok, what):
        if not ok:
            failures.append(what)
        return ok

    comps = discovery_components()
    async with aiohttp.ClientSession() as http, WS(http) as ws:
        entities, devices, states = await registries(ws)
    devices_by_id = {d["id"]: d for d in devices}
    mqtt_devices = [d for d in devices if any(i[0] == "mqtt" for i in map(tuple, d.get("identifiers", [])))]

    print("\n== Discovery configs the agent published, and the entity HA made of each")
    rows = []
    for c in comps:
        e = entity_for(c, entities)
        st = states.get(e["entity_id"]) if e else None
        attrs = st["attributes"] if st else {}
        dev = devices_by_id.get(e["device_id"]) if e and e.get("device_id") else None
        rows.append([c["_topic"] + (f" [{c['_key']}]" if c.get("_key") else ""), c["_component"],
                     _fmt(c.get("unique_id")), e["entity_id"] if e else "NONE", e["platform"] if e else "-",
                     _fmt(attrs.get("device_class")), _fmt(attrs.get("state_class")),
                     _fmt(attrs.get("unit_of_measurement")), _fmt(e.get("entity_category") if e else None),
                     dev["name"] if dev else "-", _fmt(attrs.get("friendly_name")), st["state"] if st else "-"])
        if X.EVERY_COMPONENT_HAS_ENTITY:
            expect(e is not None, f"no entity for {c['_topic']} {c.get('_key') or ''} (HA refused it: see the log)")
        for k in X.FORBIDDEN_CONFIG_KEYS:
            expect(k not in c, f"{c['_topic']}: has {k}")
        for k in X.REQUIRED_CONFIG_KEYS:
            expect(k in c or (k == "origin" and c.get("_origin")), f"{c['_topic']}: lacks {k}")
        if X.DEVICE_BASED_DISCOVERY:
            expect(c.get("_device_based"), f"{c['_topic']}: not device-based discovery")
        if X.HEALTH_ENTITIES and any(w in (c.get("unique_id") or "") for w in X.HEALTH_WORDS):
            for k, v in X.HEALTH_ENTITIES.items():
                expect(e is not None and e.get(k) == v, f"health entity {c.get('unique_id')}: {k} is not {v}")
    print(table(rows, ["discovery topic", "comp", "unique_id", "entity_id", "platform", "device_class",
                       "state_class", "unit", "entity_category", "device", "friendly_name", "state now"]))
    print(f"({len(comps)} components on {len({c['_topic'] for c in comps})} discovery topics; "
          f"origin: {comps[0].get('_origin') if comps else None})")

    print("\n== Devices HA made from MQTT")
    rows = [[d["name"], _fmt(d.get("manufacturer")), _fmt(d.get("model")), _fmt(d.get("sw_version")),
             devices_by_id[d["via_device_id"]]["name"] if d.get("via_device_id") in devices_by_id else "-",
             " ".join(i[1] for i in d.get("identifiers", [])), d["id"]] for d in mqtt_devices]
    print(table(rows, ["name", "manufacturer", "model", "sw_version", "via_device", "identifiers", "id"]))

    # roles
    role_entity = {}
    for role in X.ROLES:
        c = role_component(role, comps)
        e = entity_for(c, entities) if c else None
        if expect(c is not None, f"{role}: no discovery component matches {X.ROLES[role]}") and \
                expect(e is not None, f"{role}: HA has no entity for unique_id {c.get('unique_id')}"):
            role_entity[role] = e
    agent_device = None
    for role in ("alert stormflod", "alert high"):
        if role in role_entity and role_entity[role].get("device_id"):
            agent_device = devices_by_id.get(role_entity[role]["device_id"])
            break
    if expect(agent_device is not None, "the agent's device: the alert entities belong to no device"):
        for k, v in X.AGENT_DEVICE.items():
            expect(_allowed(v, agent_device.get(k)), f"agent device: {k} is {agent_device.get(k)!r}, not {v!r}")
    for role, want in X.ENTITIES.items():
        e = role_entity.get(role)
        if not e:
            continue
        attrs = states.get(e["entity_id"], {}).get("attributes", {})
        for k, v in want.items():
            actual = e.get(k) if k in ("platform", "entity_category") else attrs.get(k)
            expect(_allowed(v, actual), f"{role} ({e['entity_id']}): {k} is {actual!r}, not {v!r}")
    for role in X.SENSOR_ROLES_OWN_DEVICE:
        e = role_entity.get(role)
        if not e:
            continue
        dev = devices_by_id.get(e.get("device_id"))
        expect(dev is not None and agent_device is not None and dev["id"] != agent_device["id"]
               and dev.get("via_device_id") == agent_device["id"],
               f"{role}: not on a device of its own via the agent's ({dev and dev['name']})")

    # states over the scenario
    marks = [json.loads(l) for l in open(f"{SHARED}/marks.jsonl")]
    events = [json.loads(l) for l in open(f"{SHARED}/events.jsonl")] if os.path.exists(
        f"{SHARED}/events.jsonl") else []
    bounds = [(m["name"], m["t"], marks[i + 1]["t"] if i + 1 < len(marks) else float("inf"))
              for i, m in enumerate(marks)]

    def history(entity_id):
        h = []
        for ev in events:
            d = ev["data"]
            if d["entity_id"] == entity_id:
                h.append((_ts(ev["time_fired"]), d["new_state"]["state"] if d.get("new_state") else "(removed)"))
        return h

    def phase_states(entity_id, phase):
        h = history(entity_id)
        b = next((b for b in bounds if b[0] == phase), None)
        if not b:
            return None
        before = [s for t, s in h if t < b[1]]
        return ([before[-1]] if before else ["(none)"]) + [s for t, s in h if b[1] <= t < b[2]]

    print("\n== States over the scenario (the state a phase began with, then every change in it)")
    rows = []
    for role, e in role_entity.items():
        for name, _, _ in bounds:
            rows.append([role, e["entity_id"], name, " → ".join(phase_states(e["entity_id"], name))])
    print(table(rows, ["role", "entity_id", "phase", "states"]))
    for role, phase, how, allowed in X.STATES:
        e = role_entity.get(role)
        if not e:
            continue
        seq = phase_states(e["entity_id"], phase)
        if seq is None:
            expect(False, f"phase {phase} never began")
            continue
        ok = {"final": lambda: seq[-1] in allowed, "ever": lambda: any(s in allowed for s in seq),
              "never": lambda: not any(s in allowed for s in seq),
              "only": lambda: all(s in allowed for s in seq)}[how]()
        expect(ok, f"{role} in {phase}: {how} {sorted(allowed)} but was {' → '.join(seq)}")

    print("\n== level-1's values in HA, in order")
    if "level-1" in role_entity:
        print(" → ".join(s for _, s in history(role_entity["level-1"]["entity_id"])))

    print("\n== What the agent published (alerts and sensor states, in order)")
    for m in captured():
        if m["topic"].startswith(X.PREFIX + "/alerts/") or m["topic"] == X.PREFIX + "/status" or \
                "/sensors/level-1/" in m["topic"]:
            print(f"  {m.get('tst', '')[11:23]} {m['topic']} {'(retained) ' if m.get('retain') else ''}"
                  f"{(m.get('payload') or '')[:160]}")

    print("\n== Home Assistant's log: WARNING and ERROR entries")
    relevant = []
    for entry in log_entries(f"{SHARED}/config/home-assistant.log"):
        head = entry.split("\n", 1)[0]
        if " WARNING " not in head and " ERROR " not in head and " CRITICAL " not in head:
            continue
        about = any(w.lower() in entry.lower() for w in X.LOG_RELEVANT)
        print(("  [about the agent] " if about else "  [other] ") + entry.replace("\n", "\n      "))
        if about:
            relevant.append(head)
    expect(not relevant, f"{len(relevant)} WARNING/ERROR entries in HA's log about the agent's payloads")

    print(f"\n== Expectations ({'redesign' if X.REDESIGN else 'common'} set): "
          f"{'all met' if not failures else str(len(failures)) + ' failed'}")
    for f in failures:
        print("  FAIL", f)
    return 1 if failures else 0


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "setup":
        asyncio.run(setup())
    elif cmd == "record":
        asyncio.run(record())
    elif cmd == "wait":
        sys.exit(asyncio.run(wait(sys.argv[2], sys.argv[3], float(sys.argv[4]))))
    elif cmd == "check":
        sys.exit(asyncio.run(check()))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
