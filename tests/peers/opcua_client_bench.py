"""asyncua's own client, for the OPC UA benchmark: subscribes to NAME.0 ... NAME.(K-1) on the server at URL with
Basic256Sha256 SignAndEncrypt and a user name, at a publishing interval of MS milliseconds, waits WARMUP seconds,
then counts the data changes it receives for SECONDS and prints "values/s <rate>" and "cpu_s <its CPU time in
that window>".

Usage: opcua_client_bench.py URL DIR NAME K MS WARMUP SECONDS (DIR keeps the client's certificate)
"""

import asyncio
import sys
import time
from pathlib import Path

from asyncua import Client, ua


class Counter:
    def __init__(self):
        self.n = 0

    def datachange_notification(self, node, val, data):
        self.n += 1


async def main():
    url, d, name, k, ms, warmup, seconds = sys.argv[1:8]
    d = Path(d)
    client = Client(url)
    client.application_uri = "urn:twin:bench:asyncua-client"
    cert, key = await client.setup_self_signed_certificate(d / "client-key.pem", d / "client-cert.der",
                                                            host_name="127.0.0.1")
    await client.set_security_string(f"Basic256Sha256,SignAndEncrypt,{cert},{key}")
    client.set_user("operator")
    client.set_password("secret")
    async with client:
        counter = Counter()
        sub = await client.create_subscription(float(ms), counter)
        nodes = [client.get_node(ua.NodeId(f"{name}.{i}", 2)) for i in range(int(k))]
        await sub.subscribe_data_change(nodes, queuesize=100)
        await asyncio.sleep(float(warmup))
        start, t0, cpu0 = counter.n, time.time(), time.process_time()
        await asyncio.sleep(float(seconds))
        rate = (counter.n - start) / (time.time() - t0)
        print(f"values/s {rate:.1f}", flush=True)
        print(f"cpu_s {time.process_time() - cpu0:.3f}", flush=True)


asyncio.run(main())
