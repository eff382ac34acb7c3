"""An OPC UA server the project did not write (FreeOpcUa's asyncua), for the twin's OPC UA tests and benchmark.

Usage: opcua_server.py PORT DIR [options]

It serves opc.tcp://127.0.0.1:PORT/twin/ with Basic256Sha256 SignAndEncrypt only (or no security with
--insecure), user-name tokens only, checked against --user NAME:PASSWORD. Its certificate and key are made once
in DIR (server-cert.der, server-key.pem) and kept, so a restarted server is the same server. Nodes are variables
in namespace urn:twin:test (index 2) with string ids, e.g. ns=2;s=P101.Flow. It prints "ready" once it serves,
and appends every value it sets to DIR/values.jsonl ({"node", "value", "ts" (source time, Unix s), "status"}).

Options:
  --user NAME:PASSWORD      the one user (default operator:secret)
  --node NAME=VALUE         a writable Double variable
  --readonly NAME=VALUE     a read-only Double variable (AccessLevel without CurrentWrite: writes are refused with
                            BadNotWritable)
  --userreadonly NAME=VALUE a Double variable writable, but not by the user (UserAccessLevel without CurrentWrite:
                            writes are refused with BadUserAccessDenied)
  --sequence NAME:N         sets NAME to 100, 101, ... (N values, 50 ms apart, each stamped 0.25 s before now), then
                            one Bad value (BadSensorFailure) and one Uncertain value (UncertainLastUsableValue)
  --counter NAME:MS         sets NAME to 1, 2, 3, ... every MS milliseconds, for ever, starting at --start
  --start N                 first value of the counters (default 1)
  --bench NAME:K            K variables NAME.0 ... NAME.(K-1), all set every 10 ms for ever; appends
                            "<unix s> <values set in the last second>" to DIR/set-rates.txt each second
  --bridge HOST:PORT        mirrors the JSON telemetry of `twin plant` on that MQTT broker (the pump station's
                            topics) into variables P101.VibRms, P101.VibPeak, P101.VibCrest, M101.WindingTemp,
                            P101.Flow, M101.Current, T1.Level, with the payloads' "ts" as source times
  --insecure                no security (SecurityPolicy None) and anonymous users too
"""

import argparse
import asyncio
import datetime
import json
import time
from pathlib import Path

from asyncua import Server, ua
from asyncua.crypto import cert_gen
from asyncua.crypto.permission_rules import SimpleRoleRuleset, User, UserRole
from asyncua.server.user_managers import UserManager
from cryptography.x509.oid import ExtendedKeyUsageOID

APP_URI = "urn:twin:test:server"
BRIDGE = {
    "plant/p101/vibration": [("rms", "P101.VibRms"), ("peak", "P101.VibPeak"), ("crest", "P101.VibCrest")],
    "plant/m101/winding_temp": [("value", "M101.WindingTemp")],
    "plant/p101/flow": [("value", "P101.Flow")],
    "plant/m101/current": [("value", "M101.Current")],
    "plant/t1/level": [("value", "T1.Level")],
}


def conform_write_statuses(server):
    """asyncua 2.1 answers a write to a node whose AccessLevel forbids writing with BadUserAccessDenied, as if the
    user lacked the right. OPC UA Part 4 (7.39) has BadNotWritable for that ("the access level does not allow
    writing to the Node") and BadUserAccessDenied for the user's access level. The write itself stays asyncua's;
    this only names the refusal of a node nobody may write as the standard does."""
    service = server.iserver.attribute_service
    aspace = server.iserver.aspace
    original = service.write

    async def write(params, user=User(role=UserRole.Admin)):
        results = await original(params, user=user)
        for k, wv in enumerate(params.NodesToWrite):
            if results[k].value != ua.StatusCodes.BadUserAccessDenied or wv.AttributeId != ua.AttributeIds.Value:
                continue
            al = aspace.read_attribute_value(wv.NodeId, ua.AttributeIds.AccessLevel)
            if al.Value is not None and not ua.ua_binary.test_bit(al.Value.Value, ua.AccessLevel.CurrentWrite):
                results[k] = ua.StatusCode(ua.StatusCodes.BadNotWritable)
        return results

    service.write = write


class Users(UserManager):
    def __init__(self, name, password, anonymous):
        self.name, self.password, self.anonymous = name, password, anonymous

    def get_user(self, iserver, username=None, password=None, certificate=None):
        if username is None and self.anonymous:
            return User(role=UserRole.User)
        if username == self.name and password == self.password:
            return User(role=UserRole.User)
        return None


def stamp(unix_s):
    return datetime.datetime.fromtimestamp(unix_s, datetime.timezone.utc)


class Values:
    """Sets variables and logs what it set."""

    def __init__(self, path):
        self.log = open(path, "a", buffering=1)

    async def set(self, var, name, value, ts, status=ua.StatusCodes.Good):
        dv = ua.DataValue(
            ua.Variant(float(value), ua.VariantType.Double),
            StatusCode=ua.StatusCode(status),
            SourceTimestamp=stamp(ts),
            ServerTimestamp=stamp(time.time()),
        )
        await var.write_value(dv)
        code = ua.StatusCode(status).name
        self.log.write(json.dumps({"node": name, "value": value, "ts": ts, "status": code}) + "\n")


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("dir", type=Path)
    p.add_argument("--user", default="operator:secret")
    p.add_argument("--node", action="append", default=[])
    p.add_argument("--readonly", action="append", default=[])
    p.add_argument("--userreadonly", action="append", default=[])
    p.add_argument("--sequence")
    p.add_argument("--counter", action="append", default=[])
    p.add_argument("--start", type=int, default=1)
    p.add_argument("--bench")
    p.add_argument("--bridge")
    p.add_argument("--insecure", action="store_true")
    a = p.parse_args()
    a.dir.mkdir(parents=True, exist_ok=True)
    name, password = a.user.split(":", 1)

    server = Server(user_manager=Users(name, password, a.insecure))
    await server.init()
    conform_write_statuses(server)
    await server.set_application_uri(APP_URI)
    server.set_server_name("twin test peer (asyncua)")
    server.set_endpoint(f"opc.tcp://127.0.0.1:{a.port}/twin/")
    if a.insecure:
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.AnonymousIdentityToken, ua.UserNameIdentityToken])
    else:
        key, cert = a.dir / "server-key.pem", a.dir / "server-cert.der"
        await cert_gen.setup_self_signed_certificate(
            key, cert, APP_URI, "127.0.0.1", [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            {"commonName": "twin test peer"},
        )
        await server.load_certificate(cert)
        await server.load_private_key(key)
        server.set_security_policy(
            [ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt], permission_ruleset=SimpleRoleRuleset()
        )
        server.set_identity_tokens([ua.UserNameIdentityToken])
    idx = await server.register_namespace("urn:twin:test")
    plant = await server.nodes.objects.add_object(idx, "Plant")
    variables = {}

    async def variable(vname, value, writable):
        if vname not in variables:
            var = await plant.add_variable(ua.NodeId(vname, idx), vname, float(value), ua.VariantType.Double)
            if writable:
                await var.set_writable()
            variables[vname] = var
        return variables[vname]

    for spec in a.node:
        n, v = spec.split("=")
        await variable(n, v, True)
    for spec in a.readonly:
        n, v = spec.split("=")
        await variable(n, v, False)
    for spec in a.userreadonly:
        n, v = spec.split("=")
        var = await variable(n, v, True)
        await var.unset_attr_bit(ua.AttributeIds.UserAccessLevel, ua.AccessLevel.CurrentWrite)
    values = Values(a.dir / "values.jsonl")
    tasks = []

    async def sequence(n, count):
        var = await variable(n, 0.0, False)
        await asyncio.sleep(1.0)
        for k in range(count):
            await values.set(var, n, 100.0 + k, time.time() - 0.25)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        await values.set(var, n, 999.0, time.time() - 0.25, ua.StatusCodes.BadSensorFailure)
        await asyncio.sleep(0.5)
        await values.set(var, n, 150.0, time.time() - 0.25, ua.StatusCodes.UncertainLastUsableValue)

    async def counter(n, ms):
        var = await variable(n, 0.0, False)
        k = a.start
        while True:
            await values.set(var, n, float(k), time.time())
            k += 1
            await asyncio.sleep(ms / 1000.0)

    async def bench(n, k):
        vs = [await variable(f"{n}.{i}", 0.0, False) for i in range(k)]
        rates = open(a.dir / "set-rates.txt", "a", buffering=1)
        count, t0, v = 0, time.time(), 0.0
        while True:
            v += 1.0
            now = stamp(time.time())
            for var in vs:
                await var.write_value(ua.DataValue(ua.Variant(v, ua.VariantType.Double), SourceTimestamp=now,
                                                   ServerTimestamp=now))
            count += k
            if time.time() - t0 >= 1.0:
                rates.write(f"{time.time():.3f} {count / (time.time() - t0):.1f}\n")
                count, t0 = 0, time.time()
            await asyncio.sleep(0.01)

    async def bridge(host, port):
        import paho.mqtt.client as mqtt

        for pairs in BRIDGE.values():
            for _, n in pairs:
                await variable(n, 0.0, False)
        loop = asyncio.get_running_loop()
        queue = asyncio.Queue()
        client = mqtt.Client(client_id=f"opcua-bridge-{a.port}")
        client.on_connect = lambda c, *_: [c.subscribe(t, 1) for t in BRIDGE]
        client.on_message = lambda c, u, m: loop.call_soon_threadsafe(queue.put_nowait, m)
        client.connect(host, int(port))
        client.loop_start()
        while True:
            m = await queue.get()
            try:
                body = json.loads(m.payload)
            except ValueError:
                continue
            for key, n in BRIDGE.get(m.topic, []):
                if key in body:
                    await values.set(variables[n], n, body[key], float(body.get("ts", time.time())))

    if a.sequence:
        n, count = a.sequence.split(":")
        tasks.append(sequence(n, int(count)))
    for spec in a.counter:
        n, ms = spec.split(":")
        tasks.append(counter(n, int(ms)))
    if a.bench:
        n, k = a.bench.split(":")
        tasks.append(bench(n, int(k)))
    if a.bridge:
        tasks.append(bridge(*a.bridge.split(":")))
    async with server:
        print("ready", flush=True)
        await asyncio.gather(*tasks, asyncio.Event().wait())


if __name__ == "__main__":
    asyncio.run(main())
