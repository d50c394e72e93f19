#!/usr/bin/python3
"""The home-made peer of the MQTT load benchmark: what a utility's own Python script does with the same messages.

It subscribes to the benchmark's topics with paho-mqtt (Debian's python3-paho-mqtt), parses each payload with
json.loads, takes three fields (the power, the rain tips and the level), keeps a 30-minute rolling rain sum per topic
and checks the level against a threshold, and exits after COUNT messages (or when the publisher's end marker comes
at QoS 0, where messages may be dropped). Usage: peer.py PORT QOS COUNT TOPIC-FILTER
"""
import collections
import json
import sys
import time

import paho.mqtt.client as mqtt

port, qos, count, topic = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
windows = collections.defaultdict(collections.deque)   # topic -> deque of (time, tips)
sums = collections.defaultdict(int)
received = 0
alerts = 0
WINDOW = 1800.0
THRESHOLD = 135.0


def on_message(client, userdata, message):
    global received, alerts
    if message.topic.endswith("/end"):
        client.disconnect()
        return
    received += 1
    try:
        data = json.loads(message.payload)
        power = float(data["ENERGY"]["Power"])
        tips = int(data["Rain"]["Tips"])
        level = float(data["Level"]["cm"])
    except (ValueError, KeyError, TypeError):
        return
    now = time.monotonic()
    window = windows[message.topic]
    window.append((now, tips))
    sums[message.topic] += tips
    while window and window[0][0] <= now - WINDOW:
        sums[message.topic] -= window.popleft()[1]
    if level > THRESHOLD or power < 0:
        alerts += 1
    if received >= count:
        client.disconnect()


def on_connect(client, userdata, flags, rc):
    client.subscribe([(topic, qos), ("bench/end", qos)])
    print("subscribed", flush=True)


client = mqtt.Client(client_id="peer-%d" % time.monotonic_ns(), clean_session=True)
client.on_message = on_message
client.on_connect = on_connect
client.connect("127.0.0.1", port)
client.loop_forever()
print("peer: %d messages, %d over the threshold" % (received, alerts), file=sys.stderr)
