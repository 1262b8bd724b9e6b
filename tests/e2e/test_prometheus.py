"""A real Prometheus scrapes the front proxy with deploy/prometheus/alerts.yaml loaded: every query of
deploy/grafana/dialect-proxy.json and every alert expression answers data (none silently matches nothing),
and the backend-error-ratio and false-200 alerts fire."""
import json
import os
import re
import shutil
import signal
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import pytest

from clients import make
from conftest import APPID, BUCKETS, CLIENT_AK, ROOT, Proc, free_port, wait_until

DASHBOARD = ROOT / "deploy" / "grafana" / "dialect-proxy.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yaml"
# Grafana's variables: every instance, and a window that covers the whole test (Prometheus starts with it).
SUBST = {"$__rate_interval": "5m", "$instance": ".*"}
GROUP, FAST_GROUP = "dialect-proxy", "dialect-proxy-for-0s"
FAULTS = f"fault-{APPID}"


class Prometheus:
    def __init__(self, exe, work, target, rule_files):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = work / "prometheus.log"
        conf = work / "prometheus.yml"
        # JSON is YAML.
        conf.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(f) for f in rule_files],
            "scrape_configs": [{"job_name": "dialect-proxy", "static_configs": [{"targets": [target]}]}],
        }))
        self.proc = Proc([exe, f"--config.file={conf}", f"--storage.tsdb.path={work / 'data'}",
                          f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"], self.log)

    def wait_ready(self):
        try:
            wait_until(lambda: urllib.request.urlopen(self.url + "/-/ready", timeout=2).status == 200,
                       "prometheus", timeout=30)
        except RuntimeError as e:
            raise RuntimeError(f"{e}\n{self.log.read_text()}") from None

    def api(self, path, **params):
        url = f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        try:
            body = json.load(urllib.request.urlopen(url, timeout=10))
        except urllib.error.HTTPError as e:
            raise AssertionError(f"{path} {params}: {e.code} {e.read().decode()}") from None
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def stop(self):
        self.proc.stop()


def fast_copy(text):
    """alerts.yaml in a group of its own with every `for:` at 0s: its alerts fire at the first evaluation."""
    fast = re.sub(r"(?m)^(\s+)for: \S+$", r"\1for: 0s", text)
    fast = fast.replace(f"- name: {GROUP}\n", f"- name: {FAST_GROUP}\n", 1)
    assert FAST_GROUP in fast and "for: 0s" in fast, "alerts.yaml changed shape: adapt fast_copy"
    return fast


def dashboard_queries():
    d = json.loads(DASHBOARD.read_text())
    out = []
    for top in d["panels"]:
        for p in [top] + top.get("panels", []):
            for t in p.get("targets", []):
                expr = t["expr"]
                for k, v in SUBST.items():
                    expr = expr.replace(k, v)
                out.append((f"{p['title']} {t['refId']}", expr))
    assert len(out) > 10
    return out


def split_comparison(expr):
    """`<signal> <op> <threshold>` -> (signal, op, threshold): the last comparison outside brackets and strings."""
    depth, quote, found, i = 0, None, None, 0
    while i < len(expr):
        ch = expr[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in "<>=!":
            op = expr[i:i + 2] if expr[i:i + 2] in ("==", "!=", ">=", "<=") else ch
            if op in ("==", "!=", ">=", "<=", ">", "<"):
                found = (i, op)
                i += len(op)
                continue
        i += 1
    assert found, f"no comparison at the top of {expr!r}"
    i, op = found
    return expr[:i].strip(), op, expr[i + len(op):].strip()


def rules(prom, group):
    return next(g["rules"] for g in prom.api("rules", type="alert")["groups"] if g["name"] == group)


def empty_after_polling(prom, exprs, timeout=30.0):
    """The expressions still answering nothing when the deadline passes (fresh series need two scrapes)."""
    deadline = time.monotonic() + timeout
    while True:
        empty = [(name, e) for name, e in exprs if not prom.query(e)]
        if not empty or time.monotonic() > deadline:
            return empty
        time.sleep(0.5)


def metric(bed, name):
    text = urllib.request.urlopen(bed["front"].metrics_url + "/metrics", timeout=5).read().decode()
    return sum(float(l.rsplit(" ", 1)[1]) for l in text.splitlines() if l.startswith(name))


def expect_error(fn, status):
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        fn()
    got = e.value.response["ResponseMetadata"]["HTTPStatusCode"]
    assert (got >= 500) if status == "5xx" else (got == status), e.value.response


def replace(path, text):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def closed(sock):
    try:
        return sock.recv(65536) == b""  # an answer may come before the end
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


@pytest.fixture(scope="module")
def prom(bed, tmp_path_factory):
    exe = shutil.which("prometheus")
    if not exe:
        pytest.fail("prometheus is not installed: scripts/setup-test-env.sh installs Debian's package")
    work = tmp_path_factory.mktemp("prometheus")
    fast = work / "alerts-for-0s.yaml"
    fast.write_text(fast_copy(ALERTS.read_text()))
    target = urllib.parse.urlsplit(bed["front"].metrics_url).netloc
    p = Prometheus(exe, work, target, [ALERTS, fast])
    try:
        p.wait_ready()
        wait_until(lambda: p.query('up{job="dialect-proxy"} == 1'), "first scrape", timeout=30)
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="module")
def load(bed, prom):
    """Traffic that moves every metric the dashboard and the alerts read."""
    import boto3
    from botocore.config import Config
    front = bed["front"]
    c = make("boto3", front.url).c
    run = uuid.uuid4().hex[:8]

    def twice(action, series):
        # A counter's first sample is its first value: its increase shows once Prometheus saw it before.
        action()
        wait_until(lambda: prom.query(series), f"{series} scraped", timeout=30)
        action()

    # A request head that never ends: cut after client_header_timeout (10 s), meanwhile the rest runs.
    slow = socket.create_connection(("127.0.0.1", front.port))
    try:
        slow.sendall(b"GET /")
        for dialect, bucket in BUCKETS.items():
            key = f"prom/{run}/{dialect}.bin"
            c.put_object(Bucket=bucket, Key=key, Body=os.urandom(64 * 1024))
            c.get_object(Bucket=bucket, Key=key)["Body"].read()
            c.list_objects_v2(Bucket=bucket, Prefix=f"prom/{run}/")
            expect_error(lambda: c.get_object(Bucket=bucket, Key=f"prom/{run}/missing"), 404)
        # The other client dialects.
        for mode in ("obs-native", "cos"):
            sdk = make(mode, front.url)
            sdk.put(BUCKETS["obs"], f"prom/{run}/{mode}", b"x" * 1000)
            assert sdk.get(BUCKETS["obs"], f"prom/{run}/{mode}") == b"x" * 1000
        # Copies across backends: Garage to OBS; from the faults backend, whose source body is cut once
        # (the whole copy is sent again).
        c.copy_object(Bucket=BUCKETS["obs"], Key=f"prom/{run}/copied.bin",
                      CopySource={"Bucket": BUCKETS["s3"], "Key": f"prom/{run}/s3.bin"})
        c.copy_object(Bucket=BUCKETS["s3"], Key=f"prom/{run}/again.bin",
                      CopySource={"Bucket": FAULTS, "Key": f"get.cuthalf1.{run}"})
        # A 503 retried once by the proxy; a backend that resets every time (an upstream error).
        c.get_object(Bucket=FAULTS, Key=f"get.slowdown1.{run}")["Body"].read()
        expect_error(lambda: c.get_object(Bucket=FAULTS, Key=f"get.reset.{run}"), "5xx")
        # A wrong signature.
        wrong = boto3.client("s3", endpoint_url=front.url, aws_access_key_id=CLIENT_AK,
                             aws_secret_access_key="wrong-secret", region_name="us-east-1",
                             config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
        expect_error(lambda: wrong.get_object(Bucket=BUCKETS["s3"], Key=f"prom/{run}/s3.bin"), 403)
        # A backend 200 carrying an error (the stub's err200), and a backend answering 503 to everything.
        def false_200():
            stub = f"stub-bucket-{APPID}"
            expect_error(lambda: c.upload_part_copy(Bucket=stub, Key="err200", UploadId="u1", PartNumber=1,
                                                    CopySource={"Bucket": stub, "Key": "src"}), 503)

        def slowdown():
            for _ in range(3):
                expect_error(lambda: c.get_object(Bucket=FAULTS, Key=f"get.slowdownall.{run}"), 503)

        twice(false_200, 'dialect_proxy_backend_200_errors_total{dialect="s3"}')
        twice(slowdown, 'dialect_proxy_requests_total{backend="faults", status="503"}')
        # A refused reload (a broken file), then one that succeeds (SIGHUP); the file is restored in any case.
        original = front.conf.read_text()
        failed, ok = (metric(bed, f'dialect_proxy_config_reloads_total{{result="{r}"}}') for r in ("failed", "ok"))
        try:
            replace(front.conf, original + "\n[server\n")
            wait_until(lambda: metric(bed, 'dialect_proxy_config_reloads_total{result="failed"}') > failed,
                       "refused reload", timeout=30)
        finally:
            replace(front.conf, original)
        front.proc.p.send_signal(signal.SIGHUP)
        wait_until(lambda: metric(bed, 'dialect_proxy_config_reloads_total{result="ok"}') > ok, "reload", timeout=30)
        slow.settimeout(0.5)
        wait_until(lambda: closed(slow), "header timeout", timeout=30)
    finally:
        slow.close()


def test_every_dashboard_query_answers_data(prom, load):
    empty = empty_after_polling(prom, dashboard_queries())
    assert not empty, f"dashboard queries answering nothing: {empty}"


def test_every_alert_expression_answers_data(prom, load):
    alerts = rules(prom, GROUP)
    assert {r["name"] for r in alerts} == set(re.findall(r"(?m)^\s*- alert: (\S+)$", ALERTS.read_text()))
    exprs = []
    for r in alerts:
        signal_, op, threshold = split_comparison(r["query"])
        exprs.append((f"{r['name']} signal", signal_))
        # The whole expression, kept whether or not it holds.
        exprs.append((r["name"], f"({signal_}) {op} bool {threshold}"))
    empty = empty_after_polling(prom, exprs)
    assert not empty, f"alert expressions answering nothing: {empty}"
    # Prometheus evaluated both files' rules without error.
    for group in (GROUP, FAST_GROUP):
        wait_until(lambda: all(r["health"] == "ok" for r in rules(prom, group)), f"{group} evaluated", timeout=30)


def test_backend_error_ratio_and_false_200_alerts_fire(prom, load):
    def firing(name, **labels):
        return any(a["labels"]["alertname"] == name and a["state"] == "firing"
                   and all(a["labels"].get(k) == v for k, v in labels.items())
                   for a in prom.api("alerts")["alerts"])

    # Only the for-0s copy can fire this soon; the rule as shipped (for: 5m) is pending meanwhile.
    wait_until(lambda: firing("DialectProxyBackendErrorRatioHigh", backend="faults"), "error ratio alert", timeout=60)
    shipped = next(r for r in rules(prom, GROUP) if r["name"] == "DialectProxyBackendErrorRatioHigh")
    assert [a["state"] for a in shipped["alerts"] if a["labels"]["backend"] == "faults"] == ["pending"], shipped
    # No `for:` on this one: as shipped.
    wait_until(lambda: firing("DialectProxyBackendFalse200s", dialect="s3"), "false-200 alert", timeout=60)
