"""Running it in production: access log, metrics, readiness, reload on file change, secrets from files,
graceful shutdown and hand-over, log formats."""
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest

from conftest import BIN, Proc, Proxy, free_port, port_open, wait_until

BUCKET, OTHER = "via-s3-1250000000", "via-obs-1250000000"
AK, SK = "AKOPS0001", "ops-secret-0001"


def ops_config(g, metrics_port, secret_line, server_extra="", route_to=BUCKET, comment=""):
    return f"""# {comment}
[server]
listen = ["127.0.0.1:@PORT@"]
metrics = "127.0.0.1:{metrics_port}"
config_poll = "100ms"
{server_extra}
[[clients]]
access_key = "{AK}"
{secret_line}
[[backends]]
name = "garage"
dialect = "s3"
endpoint = "http://127.0.0.1:{g.port}"
region = "garage"
access_key = "{g.key_id}"
secret_key = "{g.secret}"
[[routes]]
bucket = "ops-*"
backend = "garage"
backend_bucket = "{route_to}"
[[routes]]
bucket = "*"
backend = "garage"
"""


def s3(url, ak=AK, sk=SK):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="us-east-1",
                        config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))


def garage_client(g):
    return s3(f"http://127.0.0.1:{g.port}", g.key_id, g.secret)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(metrics_url, name, **labels):
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in get(f"{metrics_url}/metrics")[1].splitlines():
        m = re.match(r"^([a-z_]+)(\{(.*)\})? ([0-9.e+-]+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(4))
    return total


class Ops:
    """A proxy of its own (its log and metrics are this test's), with the client key in a file."""

    def __init__(self, tmp_path, g, name="ops", server_extra="", env=None):
        self.g, self.tmp = g, tmp_path
        self.metrics_port = free_port()
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}"
        self.secret_file = tmp_path / f"{name}-client-secret"
        self.secret_file.write_text(SK + "\n")
        self.server_extra = server_extra
        self.proxy = Proxy(tmp_path, name, self.config())
        wait_until(lambda: port_open(self.metrics_port), "metrics listener")
        self.url = self.proxy.url

    def config(self, **kw):
        return ops_config(self.g, self.metrics_port, f'secret_key_file = "{self.secret_file}"',
                          self.server_extra, **kw)

    def rewrite(self, **kw):
        """Rewrite the file in place (truncate and write), as an editor or a careless script does."""
        with open(self.proxy.conf, "w") as f:
            f.write(self.config(**kw).replace("@PORT@", str(self.proxy.port)))

    def log(self):
        return self.proxy.log_path.read_text(errors="replace")

    def access_lines(self):
        out = []
        for line in self.log().splitlines():
            if line.startswith("{"):
                try:
                    j = json.loads(line)
                except ValueError:
                    continue
                if "request_id" in j and "status" in j and "operation" in j:
                    out.append(j)
            elif line.startswith("time=") and " request_id=" in line:
                out.append(dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', line)))
        return out

    def stop(self):
        self.proxy.stop()


@pytest.fixture
def ops(bed, tmp_path):
    o = Ops(tmp_path, bed["garage"], server_extra='access_log = "json"')
    yield o
    o.stop()


def test_access_log_lines_carry_who_what_where_and_how_long_but_no_secrets(ops):
    c = s3(ops.url)
    key = "ops/secret-looking-key-name.bin"
    body = os.urandom(3000)
    r = c.put_object(Bucket=BUCKET, Key=key, Body=body)
    put_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    got = c.get_object(Bucket=BUCKET, Key=key)
    assert got["Body"].read() == body
    get_id = got["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    r = c.copy_object(Bucket=BUCKET, Key="ops/copy", CopySource={"Bucket": BUCKET, "Key": key})
    copy_id = r["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    with pytest.raises(Exception) as e:
        c.get_object(Bucket=BUCKET, Key="ops/missing")
    missing_id = e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]
    with pytest.raises(Exception) as e:
        s3(ops.url, AK, "wrong-secret").get_object(Bucket=BUCKET, Key=key)
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    presigned = c.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": key}, ExpiresIn=300)
    with urllib.request.urlopen(presigned, timeout=10) as r:
        assert r.read() == body

    wait_until(lambda: len(ops.access_lines()) >= 6, "access lines")
    lines = {a["request_id"]: a for a in ops.access_lines()}
    p = lines[put_id]
    assert (p["dialect"], p["access_key"], p["method"], p["operation"], p["bucket"], p["backend"], p["status"]) == \
        ("s3", AK, "PUT", "PutObject", BUCKET, "garage", 200)
    assert p["key_len"] == len(key) and "key" not in p
    assert p["bytes_in"] >= 3000 and p["error_code"] == "-"  # the wire body: aws-chunked framing included
    assert p["total_ms"] >= p["upstream_ms"] > 0
    assert "backend_request_id" in p  # Garage sends none: "-"
    assert p["remote"].startswith("127.0.0.1:")
    g = lines[get_id]
    assert (g["operation"], g["status"], g["bytes_out"]) == ("GetObject", 200, 3000)
    assert lines[copy_id]["operation"] == "CopyObject" and lines[copy_id]["status"] == 200
    m = lines[missing_id]
    assert (m["status"], m["error_code"]) == (404, "NoSuchKey")
    refused = [a for a in lines.values() if a["error_code"] == "SignatureDoesNotMatch"]
    assert refused and refused[0]["status"] == 403 and refused[0]["backend"] == "-"
    assert refused[0]["operation"] == "GetObject"  # method and path tell it, verified or not
    log = ops.log()
    assert key not in log
    for secret in [SK, "wrong-secret", ops.g.secret, "X-Amz-Signature", "Signature="]:
        assert secret not in log, secret
    sig = re.search(r"(?:X-Amz-Signature|[?&]Signature)=([^&]+)", presigned).group(1)
    assert sig not in log and urllib.parse.unquote(sig) not in log


def test_access_log_names_the_backends_request_id(bed):
    """Through the front proxy (text access log) to the OBS stand-in, which sends x-obs-request-id."""
    front = bed["front"]
    c = s3(front.url, "AKCLIENTE2E0001", "client-secret-e2e-0001")
    r = c.put_object(Bucket=OTHER, Key="ops/backend-id", Body=b"id")
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"]

    def line():
        for l in front.log_path.read_text(errors="replace").splitlines():
            if l.startswith("time=") and f"request_id={rid} " in l:
                return dict(re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', l))
    wait_until(line, "access line")
    a = line()
    assert (a["backend"], a["operation"], a["status"]) == ("obs", "PutObject", "200")
    assert re.fullmatch(r"[0-9A-F]{16}", a["backend_request_id"]) and a["backend_request_id"] != rid


def test_access_log_text_keys_and_off(bed, tmp_path):
    g = bed["garage"]
    for extra, keyed, lines in [('access_log = "text"\naccess_log_keys = true', True, True),
                                ('access_log = "off"', False, False)]:
        o = Ops(tmp_path, g, name=f"ops-{lines}", server_extra=extra)
        try:
            c = s3(o.url)
            rid = c.put_object(Bucket=BUCKET, Key="ops/text key", Body=b"x")["ResponseMetadata"]["RequestId"]
            c.head_object(Bucket=BUCKET, Key="ops/text key")
            if lines:
                wait_until(lambda: any(a.get("request_id") == rid for a in o.access_lines()), "text line")
                line = next(a for a in o.access_lines() if a.get("request_id") == rid)
                assert line["key"] == '"ops/text key"' and line["operation"] == "PutObject" and line["status"] == "200"
                assert keyed
            else:
                wait_until(lambda: metric(o.metrics_url, "dialect_proxy_requests_total") >= 2, "counted")
                assert o.access_lines() == [] and "ops/text key" not in o.log()
        finally:
            o.stop()


def test_metrics_count_requests_latency_bytes_failures_and_health(ops):
    c = s3(ops.url)
    url = ops.metrics_url
    assert get(f"{url}/healthz")[0] == 200
    wait_until(lambda: get(f"{url}/readyz")[0] == 200, "ready")
    c.put_object(Bucket=BUCKET, Key="ops/m", Body=b"m" * 5000)
    c.get_object(Bucket=BUCKET, Key="ops/m")["Body"].read()
    with pytest.raises(Exception):
        s3(ops.url, "AKNOBODY", "x").get_object(Bucket=BUCKET, Key="ops/m")
    with pytest.raises(Exception):
        s3(ops.url, AK, "wrong").get_object(Bucket=BUCKET, Key="ops/m")
    wait_until(lambda: metric(url, "dialect_proxy_requests_total") >= 4, "requests counted")
    assert metric(url, "dialect_proxy_requests_total", dialect="s3", operation="PutObject", backend="garage",
                  status="200") == 1
    assert metric(url, "dialect_proxy_requests_total", operation="GetObject", status="200") == 1
    assert metric(url, "dialect_proxy_request_duration_seconds_count", operation="PutObject") == 1
    assert metric(url, "dialect_proxy_upstream_duration_seconds_count", backend="garage") >= 2
    assert metric(url, "dialect_proxy_received_bytes_total", dialect="s3") >= 5000
    assert metric(url, "dialect_proxy_sent_bytes_total", dialect="s3") >= 5000
    assert metric(url, "dialect_proxy_verification_failures_total", reason="InvalidAccessKeyId") == 1
    assert metric(url, "dialect_proxy_verification_failures_total", reason="SignatureDoesNotMatch") == 1
    text = get(f"{url}/metrics")[1]
    # Families with labels appear once a first sample exists (Prometheus client convention).
    for name in ["dialect_proxy_open_connections", "dialect_proxy_refused_total",
                 "dialect_proxy_responses_total"]:
        assert f"# TYPE {name}" in text, name
    assert SK not in text and AK not in text


def test_reload_under_load_on_file_change_without_a_signal(ops):
    g = garage_client(ops.g)
    g.put_object(Bucket=BUCKET, Key="ops/where", Body=b"first")
    g.put_object(Bucket=OTHER, Key="ops/where", Body=b"second")
    c = s3(ops.url)
    url = ops.metrics_url
    reloads = metric(url, "dialect_proxy_config_reloads_total", result="ok")
    stop = threading.Event()
    outcomes = {"ok": 0, "failed": []}

    def loop():
        client = s3(ops.url)
        while not stop.is_set():
            try:
                assert client.get_object(Bucket="ops-a", Key="ops/where")["Body"].read() == b"first"
                outcomes["ok"] += 1
            except Exception as e:  # noqa: BLE001 - every failure is reported
                outcomes["failed"].append(repr(e))

    workers = [threading.Thread(target=loop) for _ in range(2)]
    for w in workers:
        w.start()
    try:
        deadline = time.monotonic() + 10
        n = 0
        while time.monotonic() < deadline:
            n += 1
            ops.rewrite(comment=f"generation {n}")
            time.sleep(0.05)  # the pace of the rewrites under test, not a synchronisation
    finally:
        stop.set()
        for w in workers:
            w.join()
    assert outcomes["failed"] == [] and outcomes["ok"] > 50, outcomes
    assert metric(url, "dialect_proxy_config_reloads_total", result="ok") - reloads >= 10
    # The new routes are followed once the change is seen.
    ops.rewrite(route_to=OTHER, comment="moved")
    wait_until(lambda: c.get_object(Bucket="ops-a", Key="ops/where")["Body"].read() == b"second", "new route")
    # A broken file is refused, counted, and the running configuration keeps serving.
    failed = metric(url, "dialect_proxy_config_reloads_total", result="failed")
    with open(ops.proxy.conf, "w") as f:
        f.write("[server\nlisten = 1\n")
    wait_until(lambda: metric(url, "dialect_proxy_config_reloads_total", result="failed") == failed + 1,
               "refused reload")
    assert c.get_object(Bucket="ops-a", Key="ops/where")["Body"].read() == b"second"
    assert "reload refused" in ops.log()
    # Refused once, not at every poll.
    oks = metric(url, "dialect_proxy_config_reloads_total", result="ok")
    ops.rewrite(route_to=OTHER, comment="fixed")
    wait_until(lambda: metric(url, "dialect_proxy_config_reloads_total", result="ok") == oks + 1, "fixed")
    assert metric(url, "dialect_proxy_config_reloads_total", result="failed") == failed + 1


def test_a_rotated_secret_file_is_used_after_the_next_reload(ops):
    url = ops.metrics_url
    s3(ops.url).put_object(Bucket=BUCKET, Key="ops/rot", Body=b"r")
    reloads = metric(url, "dialect_proxy_config_reloads_total", result="ok")
    # Kubernetes rotates a mounted Secret by swapping a symlink; the file's content changes.
    tmp = ops.secret_file.with_suffix(".new")
    tmp.write_text("rotated-secret-0002")
    os.replace(tmp, ops.secret_file)
    wait_until(lambda: metric(url, "dialect_proxy_config_reloads_total", result="ok") > reloads, "reload")
    assert s3(ops.url, AK, "rotated-secret-0002").get_object(Bucket=BUCKET, Key="ops/rot")["Body"].read() == b"r"
    with pytest.raises(Exception) as e:
        s3(ops.url).get_object(Bucket=BUCKET, Key="ops/rot")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert "rotated-secret-0002" not in ops.log()


class SlowBody:
    """A request body sent in pieces; after `pause_at` bytes it waits until released."""

    def __init__(self, size, pause_at):
        self.size, self.pause_at = size, pause_at
        self.paused, self.release = threading.Event(), threading.Event()
        self.sha = hashlib.sha256()

    def send(self, conn):
        piece = os.urandom(1 << 20)
        sent = 0
        while sent < self.size:
            if sent >= self.pause_at and not self.paused.is_set():
                self.paused.set()
                assert self.release.wait(60)
            chunk = piece[: min(len(piece), self.size - sent)]
            self.sha.update(chunk)
            conn.send(chunk)
            sent += len(chunk)


def test_sigterm_lets_a_200_mib_upload_finish_and_refuses_new_connections(bed, tmp_path):
    o = Ops(tmp_path, bed["garage"], name="drain", server_extra='shutdown_grace = "60s"')
    size = 200 << 20
    try:
        url = s3(o.url).generate_presigned_url("put_object", Params={"Bucket": BUCKET, "Key": "ops/drain"},
                                                ExpiresIn=600)
        path = url.split(str(o.proxy.port), 1)[1]
        body = SlowBody(size, 16 << 20)
        result = {}

        def upload():
            conn = http.client.HTTPConnection("127.0.0.1", o.proxy.port, timeout=120)
            conn.putrequest("PUT", path, skip_accept_encoding=True)
            conn.putheader("Content-Length", str(size))
            conn.endheaders()
            body.send(conn)
            r = conn.getresponse()
            result["status"], result["body"] = r.status, r.read()

        t = threading.Thread(target=upload)
        t.start()
        assert body.paused.wait(60)
        o.proxy.proc.p.send_signal(signal.SIGTERM)
        wait_until(lambda: get(f"{o.metrics_url}/readyz")[0] == 503, "readyz draining")
        wait_until(lambda: not port_open(o.proxy.port), "listener closed")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", o.proxy.port), timeout=2).close()
        assert o.proxy.proc.p.poll() is None
        began = time.monotonic()
        body.release.set()
        t.join(120)
        assert result.get("status") == 200, result
        assert o.proxy.proc.p.wait(60) == 0
        assert time.monotonic() - began < 60
        got = garage_client(bed["garage"]).get_object(Bucket=BUCKET, Key="ops/drain")["Body"]
        h = hashlib.sha256()
        for chunk in iter(lambda: got.read(1 << 20), b""):
            h.update(chunk)
        assert h.hexdigest() == body.sha.hexdigest()
    finally:
        o.stop()


def test_sigquit_hands_the_listeners_to_a_new_process_without_failed_requests(bed, tmp_path):
    sock = tmp_path / "upgrade.sock"
    o = Ops(tmp_path, bed["garage"], name="old", server_extra=f'upgrade_sock = "{sock}"')
    new = None
    try:
        s3(o.url).put_object(Bucket=BUCKET, Key="ops/up", Body=b"up")
        stop, outcomes = threading.Event(), {"ok": 0, "failed": []}

        def loop():
            client = s3(o.url)
            while not stop.is_set():
                try:
                    assert client.get_object(Bucket=BUCKET, Key="ops/up")["Body"].read() == b"up"
                    outcomes["ok"] += 1
                except Exception as e:  # noqa: BLE001
                    outcomes["failed"].append(repr(e))

        w = threading.Thread(target=loop)
        w.start()
        try:
            env = dict(os.environ, DIALECT_PROXY_LOG="info")
            new = Proc([str(BIN), "--config", str(o.proxy.conf), "--upgrade"], tmp_path / "new.log", env=env)
            wait_until(lambda: sock.exists(), "upgrade socket")
            o.proxy.proc.p.send_signal(signal.SIGQUIT)
            assert o.proxy.proc.p.wait(60) == 0
            served = outcomes["ok"]
            wait_until(lambda: outcomes["ok"] > served + 20, "requests served by the new process")
        finally:
            stop.set()
            w.join()
        assert outcomes["failed"] == [], outcomes
        assert new.p.poll() is None
        assert s3(o.url).get_object(Bucket=BUCKET, Key="ops/up")["Body"].read() == b"up"
    finally:
        if new:
            new.stop()
        o.stop()


def test_logs_are_plain_or_json_never_coloured(bed, tmp_path):
    g = bed["garage"]
    for fmt in ["text", "json"]:
        metrics_port = free_port()
        conf = tmp_path / f"log-{fmt}.toml"
        conf.write_text(ops_config(g, metrics_port, f'secret_key = "{SK}"').replace("@PORT@", str(free_port())))
        env = dict(os.environ, DIALECT_PROXY_LOG="debug")
        if fmt == "json":
            env["DIALECT_PROXY_LOG_FORMAT"] = "json"
        p = Proc([str(BIN), "--config", str(conf)], tmp_path / f"log-{fmt}.log", env=env)
        try:
            wait_until(lambda: port_open(metrics_port), "metrics")
            get(f"http://127.0.0.1:{metrics_port}/metrics")
        finally:
            p.stop()
        text = (tmp_path / f"log-{fmt}.log").read_text()
        assert "\x1b[" not in text
        lines = [l for l in text.splitlines() if l.strip()]
        assert any("dialect-proxy serving" in l for l in lines)
        if fmt == "json":
            for line in lines:
                j = json.loads(line)
                assert "level" in j and "timestamp" in j


def test_health_subcommand_and_check_without_secrets(ops, tmp_path):
    def run(*args):
        return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=30)

    addr = f"127.0.0.1:{ops.metrics_port}"
    assert run("health", "--addr", addr).returncode == 0
    assert run("health", "--addr", addr, "--path", "/readyz").returncode == 0
    r = run("health", "--addr", addr, "--path", "/nothing")
    assert r.returncode != 0 and "404" in r.stderr
    assert run("health", "--addr", f"127.0.0.1:{free_port()}").returncode != 0
    conf = tmp_path / "absent-secrets.toml"
    conf.write_text(ops_config(ops.g, 9100, 'secret_key_file = "/nonexistent/key"').replace("@PORT@", "1"))
    r = run("check", "--config", str(conf))
    assert r.returncode != 0 and "clients[0].secret_key" in r.stderr and "/nonexistent/key" in r.stderr
    r = run("check", "--skip-secrets", "--config", str(conf))
    assert r.returncode == 0, r.stderr
