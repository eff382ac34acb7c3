"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from implementations the project did not
write: Sparkplug B payloads by pysparkplug, OPC UA DataValues by asyncua's binary encoder, Modbus frames laid out by
hand from the Modbus Application Protocol specification. Run with the test peers' environment:
    target/peers-venv/bin/python fuzz/make_seeds.py
"""

import json
import struct
from datetime import datetime, timezone
from pathlib import Path

import pysparkplug as sp
from asyncua import ua
from asyncua.ua.ua_binary import struct_to_binary

CORPUS = Path(__file__).resolve().parent / "corpus"
ROOT = CORPUS.parent.parent
TS = 1_764_000_000  # Unix s


def write(target, name, data):
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data if isinstance(data, bytes) else data.encode())


# Sparkplug B: a node birth, device births with aliases and every scalar type, data by alias, a death.
def m(name, dt, value, alias=None, **kw):
    return sp.Metric(timestamp=TS * 1000, name=name, datatype=dt, value=value, alias=alias, **kw)


nbirth = sp.NBirth(timestamp=TS * 1000, seq=0, metrics=(
    m("bdSeq", sp.DataType.UINT64, 3),
    m("Node Control/Rebirth", sp.DataType.BOOLEAN, False),
)).encode(include_dtypes=True)
dbirth = sp.DBirth(timestamp=TS * 1000, seq=1, metrics=(
    m("Vibration/RMS", sp.DataType.DOUBLE, 2.1, alias=1),
    m("Flow", sp.DataType.FLOAT, 60.5, alias=2),
    m("Counts", sp.DataType.INT32, -7, alias=3),
    m("Speed", sp.DataType.UINT16, 1480, alias=4),
    m("Running", sp.DataType.BOOLEAN, True, alias=5),
    m("Serial", sp.DataType.STRING, "SN-42", alias=6),
    m("Energy", sp.DataType.INT64, -(2**40), alias=7),
    m("Hours", sp.DataType.UINT64, 2**63 + 5, alias=8),
)).encode(include_dtypes=True)
ddata = sp.DData(timestamp=TS * 1000 + 1000, seq=2, metrics=(
    sp.Metric(timestamp=TS * 1000 + 1000, name=None, datatype=sp.DataType.DOUBLE, value=2.2, alias=1),
    sp.Metric(timestamp=TS * 1000 + 1000, name=None, datatype=sp.DataType.FLOAT, value=None, alias=2, is_null=True),
)).encode(include_dtypes=True)
ndeath = sp.NDeath(timestamp=TS * 1000 + 2000, bd_seq_metric=m("bdSeq", sp.DataType.UINT64, 3)).encode(include_dtypes=True)
for name, data in [("nbirth", nbirth), ("dbirth", dbirth), ("ddata", ddata), ("ndeath", ndeath)]:
    write("sparkplug", name, data)

# JSON payloads and paths: the first line is the path.
for i, (path, payload) in enumerate([
    ("$.rms", {"rms": 0.1, "peak": 0.3, "crest": 3.0, "ts": TS + 0.5}),
    ("$.value", {"value": 212, "ts": TS}),
    ("$.data[1].v", {"data": [{"v": 1}, {"v": 2.5e3}], "ts": "2025-11-24T16:00:00Z"}),
    ("$.value", {"value": "NaN", "ts": TS, "status": "UncertainLastUsableValue"}),
    ("$['a b'].c", {"a b": {"c": -1e308}}),
]):
    write("json_path", f"seed{i}", path + "\n" + json.dumps(payload))

# MQTT messages into the booster station: [topic index][length][payload]... (topics as in fuzz/targets.rs).
TOPICS = [
    "booster/p201/vibration", "booster/m201/temp", "booster/p201/flow", "booster/t2/level", "booster/p201/identity",
    "spBv1.0/booster/NBIRTH/booster-edge-3", "spBv1.0/booster/NDATA/booster-edge-3",
    "spBv1.0/booster/NDEATH/booster-edge-3", "spBv1.0/booster/DBIRTH/booster-edge-3/P-203",
    "spBv1.0/booster/DDATA/booster-edge-3/P-203", "spBv1.0/booster/DDEATH/booster-edge-3/M-203",
    "spBv1.0/booster/NCMD/booster-edge-3", "$twin/value/P-201.vib_rms", "elsewhere/x",
]


def frames(*msgs):
    out = b""
    for topic, payload in msgs:
        payload = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        assert len(payload) < 256, topic
        out += bytes([TOPICS.index(topic), len(payload)]) + payload
    return out


booster_dbirth = sp.DBirth(timestamp=TS * 1000, seq=1, metrics=(
    m("Vibration/RMS", sp.DataType.DOUBLE, 0.08, alias=1),
    m("Flow", sp.DataType.FLOAT, 60.5, alias=2),
)).encode(include_dtypes=True)
booster_ddata = sp.DData(timestamp=TS * 1000 + 1000, seq=2, metrics=(
    sp.Metric(timestamp=TS * 1000 + 1000, name=None, datatype=sp.DataType.DOUBLE, value=0.09, alias=1),
)).encode(include_dtypes=True)
write("mqtt_ingest", "json", frames(
    ("booster/p201/vibration", {"rms": 0.1, "ts": TS}),
    ("booster/m201/temp", {"value": 150.0, "ts": TS + 1}),
    ("booster/p201/flow", {"value": 55, "ts": TS + 1, "seq": 4}),
    ("booster/t2/level", {"value": 300, "ts": TS + 10}),
    ("booster/p201/vibration", {"rms": 0.1, "ts": TS}),
    ("booster/p201/identity", {"config_version": "3.2", "firmware": "1.8.4"}),
))
write("mqtt_ingest", "sparkplug", frames(
    ("spBv1.0/booster/NBIRTH/booster-edge-3", nbirth),
    ("spBv1.0/booster/DBIRTH/booster-edge-3/P-203", booster_dbirth),
    ("spBv1.0/booster/DDATA/booster-edge-3/P-203", booster_ddata),
    ("spBv1.0/booster/NDEATH/booster-edge-3", ndeath),
    ("spBv1.0/booster/DDATA/booster-edge-3/P-203", booster_ddata),
))
write("mqtt_ingest", "values", frames(
    ("$twin/value/P-201.vib_rms", {"ts": TS, "value": 0.2}),
    ("$twin/value/P-201.vib_rms", {"ts": TS + 1, "value": "inf", "status": "BadSensorFailure"}),
    ("elsewhere/x", {"value": 1}),
))

# CSV replays of the booster station, both layouts.
write("csv_replay", "long.csv", "t_s,signal,value\n0,P-201.flow,55.0\n0,T-2.level,300\n10,P-201.flow,55.2\n")
write("csv_replay", "wide.csv",
      "time,P-201.flow,P-201.vib_rms\n2025-11-24T16:00:00Z,55.0,0.1\n2025-11-24T16:00:10Z,,0.11\n")
write("csv_replay", "quoted.csv", '\ufefft_s,signal,value\n"0","P-201.flow","5,5"\n1,"M-201.temp",NaN\n')

# JSON Lines recordings.
lines = [
    {"topic": "booster/p201/flow", "received_unix_s": TS, "payload": json.dumps({"value": 55, "ts": TS})},
    {"topic": "spBv1.0/booster/DDATA/booster-edge-3/P-203", "received_unix_s": TS + 1,
     "payload_hex": booster_ddata.hex()},
]
write("jsonl_replay", "recording.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")

# Scenarios: the bundled ones and the bad fixtures.
for f in sorted((ROOT / "scenes").glob("*.ron")) + sorted((ROOT / "tests/fixtures").glob("*.ron")) + sorted(
        (ROOT / "tests/fixtures/bad").glob("*.ron")):
    write("scenario", f.name, f.read_bytes())


# Modbus TCP: requests (MBAP header + PDU) and a reply's PDU.
def mbap(tid, pdu, unit=1):
    return struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu


write("modbus", "read", mbap(1, struct.pack(">BHH", 3, 10, 4)))
write("modbus", "write_single", mbap(2, struct.pack(">BHH", 6, 10, 1234)))
write("modbus", "write_multiple", mbap(3, struct.pack(">BHHB4H", 16, 10, 4, 8, 0x44A8, 0xC000, 1, 2)))
write("modbus", "two_frames", mbap(4, struct.pack(">BHH", 3, 0, 1)) + mbap(5, struct.pack(">BHH", 6, 0, 7)))
write("modbus", "coils", mbap(6, struct.pack(">BHHBB", 15, 0, 8, 1, 0xFF)))
write("modbus", "reply", struct.pack(">BB4H", 3, 8, 0x44A8, 0xC000, 0xFFFF, 0x0001))
write("modbus", "exception", struct.pack(">BB", 0x83, 2))

# OPC UA DataValues in binary encoding, as asyncua's server sends them.
now = datetime(2025, 11, 24, 16, 0, tzinfo=timezone.utc)
for name, dv in [
    ("double", ua.DataValue(ua.Variant(55.0, ua.VariantType.Double), SourceTimestamp=now, ServerTimestamp=now)),
    ("float", ua.DataValue(ua.Variant(1.5, ua.VariantType.Float), SourceTimestamp=now)),
    ("int32", ua.DataValue(ua.Variant(-3, ua.VariantType.Int32))),
    ("uint16", ua.DataValue(ua.Variant(7, ua.VariantType.UInt16), ServerTimestamp=now)),
    ("bad", ua.DataValue(ua.Variant(0.0, ua.VariantType.Double), StatusCode=ua.StatusCode(0x808C0000))),
    ("uncertain", ua.DataValue(ua.Variant(2.0, ua.VariantType.Double), StatusCode=ua.StatusCode(0x40900000))),
    ("string", ua.DataValue(ua.Variant("55", ua.VariantType.String))),
    ("array", ua.DataValue(ua.Variant([1.0, 2.0], ua.VariantType.Double))),
    ("empty", ua.DataValue()),
]:
    write("opcua_value", name, struct_to_binary(dv))
print("seeds written under", CORPUS)

# Approvals: a signature file, a change set, a trusted keys file and an audit log, each after its kind byte (see the
# approval target), as the approvals test writes them (cargo test --test it approvals).
signed = ROOT / "target/test-artifacts/approvals-signed"
if signed.is_dir():
    for kind, name, src in [(0, "signature", "alice.sig"), (1, "change", "change.json"), (2, "trust", "trusted-keys.ron"),
                            (3, "audit", "audit.jsonl"), (3, "audit-tampered", "tampered.jsonl")]:
        write("approval", name, bytes([kind]) + (signed / src).read_bytes())
else:
    print("approval seeds kept: run `cargo test --test it approvals` first to write new ones")
