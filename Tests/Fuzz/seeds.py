#!/usr/bin/env python3
"""Builds the fuzz harnesses' seed corpora from what the repository holds, into OUT/<harness>/ (one file a seed).

  payload  every message of Devices/*/fixtures/*.yaml as `TOPIC\\nPAYLOAD`, and each fixture's messages in one input
           (NUL between them, so the rules see a sequence), plus Tests/Fuzz/Payload/seeds/
  config   Devices/demo/demo.yaml, Tests/KlimavagtRuntimeTests/Fixtures/*.yaml, each device fixture's sensors in a
           minimal configuration, plus Tests/Fuzz/Config/seeds/
  trace    Devices/demo/*.csv, Tests/KlimavagtRuntimeTests/Fixtures/*.csv, plus Tests/Fuzz/Trace/seeds/
  control  Tests/Fuzz/Control/seeds/

Usage: seeds.py REPOSITORY OUT
"""
import glob
import hashlib
import os
import shutil
import sys

import yaml

repo, out = sys.argv[1], sys.argv[2]


def put(harness, data):
    if isinstance(data, str):
        data = data.encode()
    folder = os.path.join(out, harness)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def hand_written(harness, folder):
    for path in sorted(glob.glob(os.path.join(repo, "Tests/Fuzz", folder, "seeds", "*"))):
        with open(path, "rb") as f:
            put(harness, f.read())


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


for harness in ("payload", "config", "trace", "control"):
    shutil.rmtree(os.path.join(out, harness), ignore_errors=True)

for path in sorted(glob.glob(os.path.join(repo, "Devices/*/fixtures/*.yaml"))):
    fixture = yaml.safe_load(read(path))
    messages = [f"{m['topic']}\n{m['payload']}" for m in fixture.get("messages", []) if "topic" in m and "payload" in m]
    for message in messages:
        put("payload", message)
    if messages:
        put("payload", "\0".join(messages))
    if "sensors" in fixture:
        sensors = "".join("  " + line + "\n" for line in fixture["sensors"].splitlines())
        put("config", f"site: fixture\nmqtt: {{host: 127.0.0.1}}\nsensors:\n{sensors}")
hand_written("payload", "Payload")

for path in [os.path.join(repo, "Devices/demo/demo.yaml")] + sorted(
        glob.glob(os.path.join(repo, "Tests/KlimavagtRuntimeTests/Fixtures/*.yaml"))):
    put("config", read(path))
hand_written("config", "Config")

for path in sorted(glob.glob(os.path.join(repo, "Devices/demo/*.csv"))) + sorted(
        glob.glob(os.path.join(repo, "Tests/KlimavagtRuntimeTests/Fixtures/*.csv"))):
    text = read(path)
    put("trace", text)
    lines = text.splitlines(keepends=True)
    if len(lines) > 40:   # a short piece of a long trace too, for the fuzzer to work on
        header = [line for line in lines if line.startswith("time,")][:1]
        body = [line for line in lines if line[:1].isdigit()]
        put("trace", "".join(header + body[len(body) // 2:len(body) // 2 + 20]))
hand_written("trace", "Trace")

hand_written("control", "Control")

for harness in ("payload", "config", "trace", "control"):
    folder = os.path.join(out, harness)
    count = len(os.listdir(folder)) if os.path.isdir(folder) else 0
    print(f"seeds: {count} for {harness} in {folder}")
