"""Decodes a Sparkplug B group's messages with pysparkplug (an implementation the project did not write) and prints
each as a JSON line: topic, message type, seq, timestamp, and every metric's name, datatype, value and null flag.

Usage: sparkplug_listen.py HOST PORT GROUP SECONDS
Prints "ready" once subscribed; exits after SECONDS, or one second after an NDEATH.
"""

import json
import sys
import threading
import time

import pysparkplug as psp

host, port, group, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
death = threading.Event()
subscribed = threading.Event()


def value(v):
    return v if isinstance(v, (int, float, str, bool)) or v is None else str(v)


def on_message(_client, msg):
    payload = msg.payload
    # pysparkplug decodes an NDEATH to its bdSeq metric alone.
    raw = payload.metrics if hasattr(payload, "metrics") else [payload.bd_seq_metric]
    metrics = [
        {"name": m.name, "datatype": m.datatype.name, "value": value(m.value), "is_null": bool(m.is_null)}
        for m in raw
    ]
    kind = msg.topic.message_type.name if msg.topic.message_type is not None else None
    line = {
        "topic": str(msg.topic),
        "type": kind,
        "device": msg.topic.device_id,
        "seq": getattr(payload, "seq", None),
        "timestamp": payload.timestamp,
        "metrics": metrics,
    }
    print(json.dumps(line), flush=True)
    if kind == "NDEATH":
        death.set()


client = psp.Client(client_id=f"sparkplug-listen-{time.time_ns()}")
client.connect(host, port=port, blocking=False, callback=lambda c: subscribed.set())
subscribed.wait(10)
client.subscribe(psp.Topic.from_str(f"spBv1.0/{group}/#"), psp.QoS.AT_LEAST_ONCE, on_message)
time.sleep(0.5)
print("ready", flush=True)
deadline = time.time() + seconds
while time.time() < deadline and not death.is_set():
    time.sleep(0.05)
if death.is_set():
    time.sleep(1.0)
client.disconnect()
