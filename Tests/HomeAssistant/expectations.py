"""What the Home Assistant harness expects. Edit this file when the discovery payloads change; ha.py only measures.

Roles name the entities the scenario watches. A role is found among the discovery components the agent published
(single-component topics `homeassistant/<component>/.../config` and device-based `homeassistant/device/<id>/config`
with `cmps` alike) by `match`: every key must equal the component's (expanded, unabbreviated) config value, except
`component` (the platform) and `template_contains` (a substring of value_template). Where several match, the one
without entity_category wins.

Values in ENTITIES and DEVICE_FIELDS: a plain value must be equal; a set lists allowed values; ANY takes anything.

The device-based payloads (REDESIGN below) are expected by default; HA_EXPECT=legacy checks only the common ones
(for an agent from before device-based discovery).
"""
import os

ANY = object()
SITE = "ha-test"
PREFIX = f"klimavagt/{SITE}"
REDESIGN = os.environ.get("HA_EXPECT", "") != "legacy"

ROLES = {
    "level-1": {"component": "sensor", "state_topic": f"{PREFIX}/sensors/level-1/state"},
    "pumps": {"component": "sensor", "state_topic": f"{PREFIX}/sensors/pumps/state"},
    "sump-high": {"component": "binary_sensor", "state_topic": f"{PREFIX}/sensors/sump-high/state"},
    "alert stormflod": {"component": "binary_sensor", "state_topic": f"{PREFIX}/alerts/stormflod/state"},
    "alert high": {"component": "binary_sensor", "state_topic": f"{PREFIX}/alerts/high/state"},
    # the second site: a rain gauge (a pulse sensor: its rate and its running total) and the rain rules
    "rain-1": {"component": "sensor", "state_topic": "klimavagt/ha-rain/sensors/rain-1/state",
               "template_contains": "value_json.value"},
    "rain-1 total": {"component": "sensor", "state_topic": "klimavagt/ha-rain/sensors/rain-1/state",
                     "template_contains": "value_json.total"},
    "alert skybrud": {"component": "binary_sensor", "state_topic": "klimavagt/ha-rain/alerts/skybrud/state"},
    "alert kraftig-regn": {"component": "binary_sensor", "state_topic": "klimavagt/ha-rain/alerts/kraftig-regn/state"},
}

# What HA must show for each role's entity: its state attributes and registry entry.
ENTITIES = {
    "level-1": {"platform": "mqtt", "device_class": "distance", "state_class": "measurement",
                "unit_of_measurement": "cm", "entity_category": None},
    "pumps": {"platform": "mqtt", "device_class": "energy", "state_class": "total_increasing",
              "unit_of_measurement": "kWh", "entity_category": None},
    "sump-high": {"platform": "mqtt", "entity_category": None},
    "alert stormflod": {"platform": "mqtt", "device_class": "problem", "entity_category": None},
    "alert high": {"platform": "mqtt", "device_class": "problem", "entity_category": None},
    "rain-1": {"platform": "mqtt", "device_class": "precipitation_intensity", "state_class": "measurement",
               "unit_of_measurement": "mm/h", "entity_category": None},
    "rain-1 total": {"platform": "mqtt", "device_class": "precipitation", "state_class": "total_increasing",
                     "unit_of_measurement": "mm", "entity_category": None},
    "alert skybrud": {"platform": "mqtt", "device_class": "problem", "entity_category": None},
    "alert kraftig-regn": {"platform": "mqtt", "device_class": "problem", "entity_category": None},
}

# The agent's own device (the one every entity belongs to today; the parent of each sensor's device after the
# redesign): found as the device of the alert entities.
AGENT_DEVICE = {"name": f"klimavagt {SITE}", "manufacturer": "klimavagt", "model": ANY, "sw_version": ANY,
                "via_device_id": None}

# Scenario phases (marked by `run` in this order): start, level-100, level-130, level-110, burst (111, 112, 113
# within one telemetry interval), spike-300, nodata (level-1 silent past stale_after), sigterm, restart, sigstop
# (the agent frozen: the broker's keepalive must bring the Last Will), sigcont, sigkill, rain (a second site's
# agent replays the demo's cloudburst at 1440x and ends), end. Checks: (role, phase, how, allowed states), where how is
#   final: the state at the end of the phase is one of them    ever: some state in the phase is one of them
#   never: no state in the phase is one of them                 only: every state in the phase is one of them
# A phase's states are the one it began with and every change in it.
STATES = [
    ("level-1", "level-100", "final", {"100", "100.0"}),
    ("level-1", "level-130", "final", {"130", "130.0"}),
    ("level-1", "level-110", "final", {"110", "110.0"}),
    ("pumps", "level-110", "final", {"12.5"}),
    # the last of a burst of readings reaches HA (the telemetry limit may drop the ones before it, not the last)
    ("level-1", "burst", "final", {"113", "113.0"}),
    ("sump-high", "level-110", "final", {"on"}),
    ("alert stormflod", "level-100", "final", {"off", "unknown"}),
    ("alert stormflod", "level-130", "final", {"on"}),
    ("alert stormflod", "level-110", "final", {"off"}),
    ("alert high", "level-130", "final", {"off", "unknown"}),
    # the spike is suspect (max_step 50): no level rule may act on it
    ("alert high", "spike-300", "never", {"on"}),
    ("alert stormflod", "spike-300", "never", {"on"}),
    # a rule whose sensor is silent is in nodata: never shown as a calm "off"
    ("alert stormflod", "nodata", "only", {"unavailable", "on"}),
    ("alert high", "nodata", "only", {"unavailable", "on"}),
    # SIGTERM publishes the retained offline; SIGKILL leaves it to the Last Will
    ("level-1", "sigterm", "final", {"unavailable"}),
    ("pumps", "sigterm", "final", {"unavailable"}),
    ("alert stormflod", "sigterm", "final", {"unavailable"}),
    ("pumps", "restart", "final", {"12.5"}),
    ("level-1", "sigstop", "final", {"unavailable"}),
    ("alert stormflod", "sigstop", "final", {"unavailable"}),
    ("pumps", "sigcont", "final", {"12.5"}),
    ("level-1", "sigkill", "final", {"unavailable"}),
    ("pumps", "sigkill", "final", {"unavailable"}),
    ("alert stormflod", "sigkill", "final", {"unavailable"}),
    # the demo's cloudburst: 53 mm in 75 minutes fires the cloudburst and heavy-rain rules, and both resolve
    ("alert skybrud", "rain", "ever", {"on"}),
    ("alert kraftig-regn", "rain", "ever", {"on"}),
    ("rain-1 total", "rain", "ever", {"53.0", "53"}),
    ("alert skybrud", "rain", "final", {"unavailable"}),
]

# Where the agent's payloads are concerned, HA's log must have no WARNING or ERROR (a line is about them when it
# matches one of these, case-insensitively).
LOG_RELEVANT = ["mqtt", "discovery", "klimavagt", "homeassistant/", SITE, SITE.replace("-", "_"), "site/level",
                "tele/pumps", "site/sump"]

# Every discovery component must have made an entity in HA (one that did not was refused: see the log).
EVERY_COMPONENT_HAS_ENTITY = True

# Config keys HA has deprecated or that the redesign drops.
FORBIDDEN_CONFIG_KEYS = set()

if REDESIGN:
    # device-based discovery, default_entity_id instead of object_id, an origin, one device per sensor under the
    # agent's, diagnostic health entities, an alert in nodata shown as unavailable
    DEVICE_BASED_DISCOVERY = True
    FORBIDDEN_CONFIG_KEYS = {"object_id"}
    REQUIRED_CONFIG_KEYS = {"default_entity_id", "origin"}
    SENSOR_ROLES_OWN_DEVICE = ["level-1", "pumps"]      # each on its own device, via_device the agent's
    HEALTH_ENTITIES = {"entity_category": "diagnostic"}  # every component whose unique_id says health must have this
    HEALTH_WORDS = ["broker_connection", "alerts_waiting", "payloads_refused", "last_start"]
    STATES += [
        ("alert stormflod", "nodata", "final", {"unavailable"}),
        ("alert high", "nodata", "final", {"unavailable"}),
    ]
else:
    DEVICE_BASED_DISCOVERY = False
    REQUIRED_CONFIG_KEYS = set()
    SENSOR_ROLES_OWN_DEVICE = []
    HEALTH_ENTITIES = None
    HEALTH_WORDS = []
