"""Backend host names are resolved when connections are made, not when the configuration loads: the proxy
starts while a backend's name does not resolve (that backend answers 503, the others serve, /readyz stays
200), and a name whose address changes under load is followed within its `dns_ttl`, no request failing.
The name lives in /etc/hosts for the test (root in the sandbox and in CI), restored afterwards."""
import asyncio
import socket
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config

from conftest import BUCKETS, CLIENT_AK, CLIENT_SK, Proxy, free_port, wait_until

HOSTS = "/etc/hosts"
NAME = "dp-switch.test"


class Forwarder:
    """A TCP relay on one loopback address to Garage, counting the connections it is given."""

    def __init__(self, ip, port, target):
        self.ip, self.port, self.target, self.accepted = ip, port, target, 0
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self.thread.start()
        assert ready.wait(10), "forwarder did not start"

    def _run(self, ready):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._serve, self.ip, self.port))
        ready.set()
        self.loop.run_forever()

    async def _serve(self, cr, cw):
        self.accepted += 1
        ur, uw = await asyncio.open_connection("127.0.0.1", self.target)

        async def pipe(r, w):
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except OSError:
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(cr, uw), pipe(ur, cw))

    def stop(self):
        async def close():
            self.server.close()
        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def port_free_on(ips):
    for _ in range(50):
        p = free_port()
        try:
            for ip in ips:
                with socket.socket() as s:
                    s.bind((ip, p))
            return p
        except OSError:
            continue
    raise RuntimeError("no port free on every address")


@pytest.fixture
def hosts():
    """Set NAME's address in /etc/hosts; the original file comes back whatever happens."""
    original = open(HOSTS).read()

    def point(ip):
        with open(HOSTS, "w") as f:
            f.write(original.rstrip("\n") + f"\n{ip} {NAME}\n")
        wait_until(lambda: socket.gethostbyname(NAME) == ip, f"{NAME} -> {ip}", timeout=10)

    try:
        yield point
    finally:
        with open(HOSTS, "w") as f:
            f.write(original)


def config(garage, port, metrics):
    return f"""
[server]
listen = ["127.0.0.1:@PORT@"]
metrics = "127.0.0.1:{metrics}"
[[clients]]
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[backends]]
name = "switching"
dialect = "s3"
endpoint = "http://{NAME}:{port}"
region = "garage"
access_key = "{garage.key_id}"
secret_key = "{garage.secret}"
timeouts = {{ dns_ttl = "1s" }}
[[backends]]
name = "nowhere"
dialect = "s3"
endpoint = "http://nowhere.invalid:9"
access_key = "a"
secret_key = "b"
[[routes]]
bucket = "nowhere-*"
backend = "nowhere"
[[routes]]
bucket = "*"
backend = "switching"
"""


def test_names_resolve_at_connect_time_and_are_followed(bed, hosts):
    garage, work = bed["garage"], bed["work"]
    port = port_free_on(["127.0.0.2", "127.0.0.3"])
    old, new = Forwarder("127.0.0.2", port, garage.port), Forwarder("127.0.0.3", port, garage.port)
    metrics = free_port()
    proxy = None
    try:
        # Neither name resolves yet: the proxy starts all the same and is ready.
        proxy = Proxy(work, "dns", config(garage, port, metrics))
        base = f"http://127.0.0.1:{metrics}"
        wait_until(lambda: urllib.request.urlopen(base + "/readyz", timeout=2).status == 200, "readyz")
        c = boto3.client("s3", endpoint_url=proxy.url, aws_access_key_id=CLIENT_AK, aws_secret_access_key=CLIENT_SK,
                         region_name="us-east-1",
                         config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
        b = BUCKETS["s3"]
        with pytest.raises(Exception) as e:
            c.head_object(Bucket="nowhere-1", Key="k")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        with pytest.raises(Exception) as e:
            c.put_object(Bucket=b, Key="dns/before", Body=b"x")
        assert e.value.response["Error"]["Code"] == "ServiceUnavailable"
        text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
        assert 'dialect_proxy_upstream_errors_total{backend="nowhere",kind="unresolved"}' in text, text[-2000:]

        # The name appears: served through the first address.
        hosts("127.0.0.2")
        wait_until(lambda: ok(c, b, "dns/first"), "the name to be looked up again", timeout=5)
        for i in range(10):
            c.put_object(Bucket=b, Key=f"dns/a{i}", Body=b"a" * i)
        assert old.accepted >= 1 and new.accepted == 0

        # The address changes under load: followed within the TTL (1 s, plus one second for a lookup
        # that failed), and no request fails.
        hosts("127.0.0.3")
        switched, n = time.monotonic(), 0
        while new.accepted == 0:
            assert time.monotonic() - switched < 4, "the new address was not followed"
            c.put_object(Bucket=b, Key=f"dns/b{n}", Body=b"b" * n)
            assert c.get_object(Bucket=b, Key=f"dns/b{n}")["Body"].read() == b"b" * n
            n += 1
        before = old.accepted
        for i in range(10):
            c.put_object(Bucket=b, Key=f"dns/c{i}", Body=b"c" * i)
        # Connections to the address that left are not dialled again.
        assert old.accepted == before
        # Both still reachable: with a one-second TTL the proxy kept working with what it had.
        assert urllib.request.urlopen(base + "/readyz", timeout=2).status == 200
    finally:
        if proxy:
            proxy.stop()
        old.stop()
        new.stop()


def ok(c, bucket, key):
    try:
        c.put_object(Bucket=bucket, Key=key, Body=b"1")
        return True
    except Exception:
        return False
