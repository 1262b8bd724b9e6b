"""End-to-end test bed: real Garage and moto servers, dialect-proxy instances in front of them,
and the official SDKs as clients. Every server is started on a free loopback port and stopped at the end."""
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from faults import FaultBackend
from rules import RulesLayer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("DIALECT_PROXY_BIN", ROOT / "target" / "release" / "dialect-proxy"))
CACHE = Path(os.environ.get("DIALECT_PROXY_CACHE", Path.home() / ".cache" / "dialect-proxy"))
GARAGE = Path(os.environ.get("GARAGE_BIN", CACHE / "garage-2.5.0" / "bin" / "garage"))
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", CACHE / "venv")) / "bin"

CLIENT_AK, CLIENT_SK = "AKCLIENTE2E0001", "client-secret-e2e-0001"
# Keys with grants (test_grants.py): team A reads, writes and lists the S3 bucket; team B reads and lists the
# OBS and S3 buckets and may delete objects by name. Neither may touch the other's tripwire buckets.
TEAM_A = ("AKTEAMA00000001", "team-a-secret-0001")
TEAM_B = ("AKTEAMB00000001", "team-b-secret-0001")
# A key whose requests must carry a session token (test_grants.py).
TOKEN_KEY = ("AKTOKEN00000001", "token-secret-0001", "FQoGZXIvYXdzEXAMPLEsessiontoken0001")
OBS_AK, OBS_SK = "OBSSTANDIN0001", "obs-standin-secret"
OSS_AK, OSS_SK = "LTAIOSSSTANDIN0001", "oss-standin-secret"
COS_AK, COS_SK = "AKIDCOSSTANDIN0001", "cos-standin-secret"
APPID = "1250000000"
# Public reads (test_anonymous.py): "pub-*" takes unsigned reads and listings, "pubr-*" unsigned reads only,
# both served from this Garage bucket.
PUBLIC_BUCKET = f"pub-s3-{APPID}"
# Client-visible bucket per backend dialect (COS clients need an appid suffix, so every bucket has one).
BUCKETS = {"s3": f"via-s3-{APPID}", "obs": f"via-obs-{APPID}", "cos": f"via-cos-{APPID}",
           "oss": f"via-oss-{APPID}"}
SRC_BUCKETS = {d: f"src-{d}-{APPID}" for d in BUCKETS}
# Copy sources on other servers than the Garage behind the three dialects: moto, a second Garage.
MOTO_SRC, GARAGE2_SRC = f"src-moto-{APPID}", f"g2-src-{APPID}"
# Deadlines of the misbehaving backend, in seconds.
FAULT_IDLE, FAULT_TOTAL = 1, 4
# A slow copy is kept alive after this long: past FAULT_IDLE, so that a stalled backend's 504 comes first.
KEEPALIVE = 1.5


_HANDED_OUT = set()


def free_port():
    """A port free now and not handed out before in this process: the kernel may offer a port it
    just gave to a probe again, and a server's two listeners (requests, metrics) must not share one."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def wait_until(pred, what, timeout=60.0):
    """Poll a readiness condition (not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception as e:  # noqa: BLE001 - readiness probes fail until ready
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready: {last}")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Proc:
    def __init__(self, args, log, env=None):
        self.log = open(log, "wb")
        self.p = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


class Garage:
    def __init__(self, work, name="garage"):
        self.dir = work / name
        self.dir.mkdir()
        self.port, rpc, admin = free_port(), free_port(), free_port()
        self.conf = self.dir / "garage.toml"
        self.conf.write_text(f"""
metadata_dir = "{self.dir}/meta"
data_dir = "{self.dir}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secrets.token_hex(32)}"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{self.port}"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:{admin}"
admin_token = "{secrets.token_hex(16)}"
""")
        self.proc = Proc([str(GARAGE), "-c", str(self.conf), "server"], self.dir / "server.log")
        wait_until(lambda: self.cli("status", check=False).returncode == 0, "garage")
        node = self.cli("node", "id", "-q").stdout.strip().split("@")[0]
        self.cli("layout", "assign", "-z", "dc1", "-c", "1G", node)
        self.cli("layout", "apply", "--version", "1")
        out = self.cli("key", "create", "e2e").stdout
        self.key_id = next(l.split(":", 1)[1].strip() for l in out.splitlines() if "Key ID" in l)
        self.secret = next(l.split(":", 1)[1].strip() for l in out.splitlines() if "Secret key" in l)
        self.cli("key", "allow", "--create-bucket", "e2e")
        wait_until(lambda: port_open(self.port), "garage s3 api")

    def cli(self, *args, check=True):
        r = subprocess.run([str(GARAGE), "-c", str(self.conf), *args], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"garage {args}: {r.stderr}")
        return r

    def bucket(self, name):
        self.cli("bucket", "create", name)
        self.cli("bucket", "allow", "--read", "--write", "--owner", name, "--key", "e2e")

    def stop(self):
        self.proc.stop()


class Proxy:
    def __init__(self, work, name, config_text, log_filter="info"):
        self.port = free_port()
        self.conf = work / f"{name}.toml"
        self.log_path = work / f"{name}.log"
        self.conf.write_text(config_text.replace("@PORT@", str(self.port)))
        env = dict(os.environ, DIALECT_PROXY_LOG=os.environ.get("DIALECT_PROXY_LOG", log_filter))
        self.proc = Proc([str(BIN), "--config", str(self.conf)], self.log_path, env=env)
        wait_until(lambda: port_open(self.port), f"proxy {name}")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.proc.stop()


class Tripwire:
    """A listening socket that only counts connections: proves a refused request never left the proxy."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.count = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.count += 1
            conn.close()

    def stop(self):
        self.sock.close()


class StubBackend:
    """An S3 stand-in for faults no real server makes: a 200 whose body is an error, or has no ETag."""

    def __init__(self):
        import http.server

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                if "err200" in self.path:
                    body = b"\n\n  <?xml version='1.0' encoding='UTF-8'?>\n<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message><RequestId>STUB</RequestId></Error>"
                elif "unknown200" in self.path:
                    body = b"<Error><Code>WeirdFailure</Code><Message>no idea</Message></Error>"
                elif "noetag" in self.path:
                    body = b"<CopyPartResult><LastModified>2024-03-15T12:34:56.000Z</LastModified></CopyPartResult>"
                elif "yandex" in self.path:
                    body = b'<CopyObjectResult><ETag>"abc123"</ETag><LastModified>2019-02-15T14:32:00</LastModified></CopyObjectResult>'
                else:
                    body = b""
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("x-amz-request-id", "STUBREQ")
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                # CompleteMultipartUpload: S3 may pad a slow answer with whitespace, then fail inside a 200.
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                body = (b"\n   \n<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"
                        if "err200" in self.path else
                        b"   <CompleteMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><ETag>\"c-2\"</ETag></CompleteMultipartUploadResult>")
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                # ListParts for the part-size check before a Complete: one small last part.
                body = b"<ListPartsResult><Part><PartNumber>1</PartNumber><Size>10</Size></Part></ListPartsResult>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def garage_direct(bed):
    """A boto3 client of the Garage behind everything, beside the proxy (the stand-ins keep their buckets
    there under the same names)."""
    import boto3
    from botocore.config import Config
    g = bed["garage"]
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{g.port}", aws_access_key_id=g.key_id,
                        aws_secret_access_key=g.secret, region_name="garage",
                        config=Config(s3={"addressing_style": "path"}, max_pool_connections=16))


def self_signed(work):
    """A test CA and a server certificate it signs for 127.0.0.1/localhost (the HTTPS listener).
    Returns (server chain, server key, CA certificate)."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(subject, issuer, pub, signer, ca):
        b = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(pub)
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
             .not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True))
        if not ca:
            b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        return b.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dialect-proxy e2e CA")])
    ca = cert(ca_name, ca_name, ca_key.public_key(), ca_key, True)
    leaf = cert(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]), ca_name, key.public_key(), ca_key, False)
    pem = serialization.Encoding.PEM
    crt, pkey, ca_path = work / "tls.crt", work / "tls.key", work / "ca.crt"
    crt.write_bytes(leaf.public_bytes(pem))
    ca_path.write_bytes(ca.public_bytes(pem))
    pkey.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return crt, pkey, ca_path


def standin_config(ak, sk, garage, server_extra="", client_extra=""):
    """A proxy that verifies clients signing with (ak, sk) and forwards everything to Garage."""
    return f"""
[server]
listen = ["127.0.0.1:@PORT@"]
{server_extra}
[[clients]]
access_key = "{ak}"
secret_key = "{sk}"
{client_extra}
[[backends]]
name = "garage"
dialect = "s3"
endpoint = "http://127.0.0.1:{garage.port}"
region = "garage"
access_key = "{garage.key_id}"
secret_key = "{garage.secret}"
[[routes]]
bucket = "*"
backend = "garage"
"""


def front_config(garage, obs, cos, oss, moto_port, trip, stub, metrics_port, tls_port, crt, key, faults, garage2):
    return f"""
[server]
listen = ["127.0.0.1:@PORT@"]
tls_listen = ["127.0.0.1:{tls_port}"]
tls_cert = "{crt}"
tls_key = "{key}"
metrics = "127.0.0.1:{metrics_port}"
copy_keepalive = "{int(KEEPALIVE * 1000)}ms"
[[clients]]
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[clients]]
access_key = "{TEAM_A[0]}"
secret_key = "{TEAM_A[1]}"
buckets = ["{BUCKETS['s3']}", "trip-a-*"]
access = ["read", "write", "list"]
[[clients]]
access_key = "{TEAM_B[0]}"
secret_key = "{TEAM_B[1]}"
buckets = ["{BUCKETS['obs']}", "{BUCKETS['s3']}", "trip-b-*"]
access = ["read", "list", "DeleteObject"]
[[clients]]
access_key = "{TOKEN_KEY[0]}"
secret_key = "{TOKEN_KEY[1]}"
session_token = "{TOKEN_KEY[2]}"
[[backends]]
name = "garage"
dialect = "s3"
endpoint = "http://127.0.0.1:{garage.port}"
region = "garage"
access_key = "{garage.key_id}"
secret_key = "{garage.secret}"
[[backends]]
name = "obs"
dialect = "obs"
endpoint = "http://obs.cn-north-4.myhuaweicloud.com"
connect = "127.0.0.1:{obs.port}"
addressing = "path"
access_key = "{OBS_AK}"
secret_key = "{OBS_SK}"
[[backends]]
name = "cos"
dialect = "cos"
endpoint = "http://cos.ap-guangzhou.myqcloud.com"
connect = "127.0.0.1:{cos.port}"
region = "ap-guangzhou"
addressing = "virtual"
access_key = "{COS_AK}"
secret_key = "{COS_SK}"
[[backends]]
name = "oss"
dialect = "oss"
endpoint = "http://oss-cn-hangzhou.aliyuncs.com"
connect = "127.0.0.1:{oss.port}"
region = "cn-hangzhou"
addressing = "virtual"
access_key = "{OSS_AK}"
secret_key = "{OSS_SK}"
[[backends]]
name = "garage2"
dialect = "s3"
endpoint = "http://127.0.0.1:{garage2.port}"
region = "garage"
access_key = "{garage2.key_id}"
secret_key = "{garage2.secret}"
[[backends]]
name = "moto"
dialect = "s3"
endpoint = "http://127.0.0.1:{moto_port}"
region = "us-east-1"
access_key = "testing"
secret_key = "testing"
[[backends]]
name = "tripwire"
dialect = "s3"
endpoint = "http://127.0.0.1:{trip.port}"
access_key = "unused"
secret_key = "unused"
[[backends]]
name = "stub"
dialect = "s3"
endpoint = "http://127.0.0.1:{stub.port}"
access_key = "unused"
secret_key = "unused"
min_part_size = 102400
[[backends]]
name = "faults"
dialect = "s3"
endpoint = "http://127.0.0.1:{faults.port}"
access_key = "unused"
secret_key = "unused"
timeouts = {{ connect = "1s", idle = "{FAULT_IDLE}s", total = "{FAULT_TOTAL}s", retries = 2, backoff = "20ms", backoff_max = "100ms" }}
# (takes any part: the faults are about the exchange, not about staging small parts)
min_part_size = 102400
[[backends]]
name = "faults-slow"
dialect = "s3"
endpoint = "http://127.0.0.1:{faults.port}"
access_key = "unused"
secret_key = "unused"
timeouts = {{ idle = "30s", total = "60s" }}
min_part_size = 102400
[[routes]]
bucket = "pub-*"
backend = "garage"
anonymous = ["read", "list"]
[[routes]]
bucket = "pubr-*"
backend = "garage"
backend_bucket = "{PUBLIC_BUCKET}"
anonymous = ["read"]
[[routes]]
bucket = "fault-*"
backend = "faults"
[[routes]]
bucket = "slowfault-*"
backend = "faults-slow"
[[routes]]
bucket = "trip-*"
backend = "tripwire"
[[routes]]
bucket = "stub-*"
backend = "stub"
[[routes]]
bucket = "*-s3-*"
backend = "garage"
cors = {{ allowed_origins = ["http://app.example", "https://*.example.org", "http://127.0.0.1:*"], allowed_methods = ["GET", "PUT", "POST", "HEAD", "DELETE"], allowed_headers = ["*"], expose_headers = ["x-amz-version-id"], max_age_secs = 600 }}
[[routes]]
bucket = "*-obs-*"
backend = "obs"
cors = {{ allowed_origins = ["http://app.example", "http://127.0.0.1:*"], allowed_methods = ["GET", "PUT", "POST"], allowed_headers = ["content-type", "x-obs-*"], allow_credentials = true }}
[[routes]]
bucket = "*-cos-*"
backend = "cos"
cors = {{ allowed_origins = ["http://127.0.0.1:*"], allowed_methods = ["GET", "PUT", "POST"], allowed_headers = ["*"] }}
[[routes]]
bucket = "*-oss-*"
backend = "oss"
cors = {{ allowed_origins = ["http://127.0.0.1:*"], allowed_methods = ["GET", "PUT", "POST"], allowed_headers = ["*"] }}
[[routes]]
bucket = "ver-*"
backend = "moto"
[[routes]]
bucket = "src-moto-*"
backend = "moto"
[[routes]]
bucket = "g2-*"
backend = "garage2"
"""


@pytest.fixture(scope="session")
def bed():
    if not BIN.exists():
        pytest.fail(f"{BIN} is missing: run cargo build --release first")
    work = Path(tempfile.mkdtemp(prefix="dp-e2e-"))
    started = []
    try:
        garage = Garage(work)
        started.append(garage)
        for b in list(BUCKETS.values()) + list(SRC_BUCKETS.values()) + [PUBLIC_BUCKET]:
            garage.bucket(b)
        garage2 = Garage(work, "garage2")
        started.append(garage2)
        garage2.bucket(GARAGE2_SRC)
        moto_port = free_port()
        moto = Proc([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)], work / "moto.log")
        started.append(moto)
        wait_until(lambda: port_open(moto_port), "moto")
        import boto3
        boto3.client("s3", endpoint_url=f"http://127.0.0.1:{moto_port}", aws_access_key_id="testing",
                     aws_secret_access_key="testing", region_name="us-east-1").create_bucket(Bucket=MOTO_SRC)
        obs = Proxy(work, "standin-obs", standin_config(OBS_AK, OBS_SK, garage))
        started.append(obs)
        cos = Proxy(work, "standin-cos", standin_config(COS_AK, COS_SK, garage))
        started.append(cos)
        oss = Proxy(work, "standin-oss", standin_config(OSS_AK, OSS_SK, garage))
        started.append(oss)
        # The front reaches each stand-in through a layer that enforces the cloud's documented request rules.
        obs_rules = RulesLayer("obs", obs.port)
        started.append(obs_rules)
        cos_rules = RulesLayer("cos", cos.port)
        started.append(cos_rules)
        oss_rules = RulesLayer("oss", oss.port)
        started.append(oss_rules)
        trip = Tripwire()
        started.append(trip)
        stub = StubBackend()
        started.append(stub)
        faults = FaultBackend()
        started.append(faults)
        metrics_port, tls_port = free_port(), free_port()
        crt, key, ca = self_signed(work)
        front = Proxy(work, "front", front_config(garage, obs_rules, cos_rules, oss_rules, moto_port, trip, stub, metrics_port,
                                                  tls_port, crt, key, faults, garage2),
                      log_filter="info,dialect_proxy=debug")
        started.append(front)
        front.https_url, front.ca = f"https://127.0.0.1:{tls_port}", str(ca)
        wait_until(lambda: port_open(tls_port), "https listener")
        front.metrics_url = f"http://127.0.0.1:{metrics_port}"
        wait_until(lambda: port_open(metrics_port), "metrics listener")
        yield {"work": work, "garage": garage, "front": front, "obs": obs, "cos": cos, "oss": oss,
               "moto_port": moto_port,
               "trip": trip, "stub": stub, "faults": faults, "obs_rules": obs_rules, "cos_rules": cos_rules,
               "oss_rules": oss_rules}
    finally:
        for s in reversed(started):
            s.stop()
        if os.environ.get("KEEP_E2E_WORK"):
            print(f"e2e work dir kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(autouse=True)
def no_cloud_rule_broken(request):
    """Every test that runs behind the OBS and COS clouds fails if the gateway sent them a request their
    documentation refuses (tests/e2e/rules.py), whatever its client made of the answer. The rules layer's own
    tests send such requests on purpose."""
    if "bed" not in request.fixturenames or request.module.__name__.endswith("test_cloud_rules"):
        yield
        return
    bed = request.getfixturevalue("bed")
    layers = [bed["obs_rules"], bed["cos_rules"], bed["oss_rules"]]
    before = [len(layer.violations) for layer in layers]
    yield
    broken = [v for layer, n in zip(layers, before) for v in layer.violations[n:]]
    assert not broken, f"the gateway sent requests the cloud's rules refuse: {broken[:5]}"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used the bed reports the gateways' last warnings: which hop failed and why
    (the logs themselves go with the bed's work directory)."""
    outcome = yield
    rep = outcome.get_result()
    bed = item.funcargs.get("bed") if hasattr(item, "funcargs") else None
    if rep.when != "call" or not rep.failed or not isinstance(bed, dict):
        return
    for name in ("front", "obs", "cos", "oss"):
        path = getattr(bed.get(name), "log_path", None)
        if path is None or not path.exists():
            continue
        with open(path, "rb") as f:
            f.seek(max(0, path.stat().st_size - (1 << 20)))
            lines = f.read().decode("utf-8", "replace").splitlines()
        warned = [line for line in lines if " WARN " in line or " ERROR " in line]
        rep.sections.append((f"{name} gateway: last warnings", "\n".join(warned[-25:]) or "(none)"))
