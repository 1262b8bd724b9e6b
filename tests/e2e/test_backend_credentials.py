"""Backend keys that expire: fetched with `AssumeRoleWithWebIdentity` from moto's STS, or from a container
credentials endpoint (EKS Pod Identity's shape) served here, both issuing keys that live six seconds. Under a
steady load across several refreshes no request fails, and a tap in front of moto (S3 and STS) checks that every
backend request carries, and signs, the session token of a key pair that was issued and still valid. The web
identity token file rotated on disk is what the next STS call presents. Static `session_token` is signed too."""
import base64
import http.client
import http.server
import json
import re
import threading
import time
import urllib.parse
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from clients import Boto3
from conftest import CLIENT_AK, CLIENT_SK, Proxy, free_port, wait_until

LIFE = 6  # seconds each issued key set lives


class Tap:
    """An HTTP relay to moto that records each request's key, token and signed headers, and the keys STS issues."""

    def __init__(self, target_port):
        tap = self
        self.requests, self.issued, self.web_tokens = [], {}, []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                headers = {k: v for k, v in self.headers.items()}
                auth = self.headers.get("Authorization", "")
                if body.startswith(b"Action=AssumeRoleWithWebIdentity"):
                    form = dict(urllib.parse.parse_qsl(body.decode()))
                    tap.web_tokens.append(form["WebIdentityToken"])
                else:
                    ak = re.search(r"Credential=([^/]+)/", auth)
                    signed = re.search(r"SignedHeaders=([^,]+)", auth)
                    tap.requests.append((time.time(), ak.group(1) if ak else None,
                                         self.headers.get("x-amz-security-token"),
                                         signed.group(1).split(";") if signed else []))
                c = http.client.HTTPConnection("127.0.0.1", target_port, timeout=30)
                c.request(self.command, self.path, body=body or None, headers=headers)
                r = c.getresponse()
                data = r.read()
                if body.startswith(b"Action=AssumeRoleWithWebIdentity") and r.status == 200:
                    t = data.decode()
                    one = lambda n: re.search(f"<{n}>([^<]+)</{n}>", t).group(1)  # noqa: E731
                    tap.issued[one("AccessKeyId")] = (one("SessionToken"), one("Expiration"))
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class ContainerEndpoint:
    """EKS Pod Identity's agent, in small: GET with the token file's content as Authorization, rotating keys."""

    def __init__(self, token_path):
        ep = self
        self.issued, self.auth_seen, self.n = {}, [], 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                ep.auth_seen.append(self.headers.get("Authorization"))
                if self.headers.get("Authorization") != open(token_path).read().strip():
                    self.send_response(403)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                ep.n += 1
                ak, token = f"ASIACONTAINER{ep.n:04d}", base64.b64encode(uuid.uuid4().bytes).decode()
                exp = (datetime.now(timezone.utc) + timedelta(seconds=LIFE)).strftime("%Y-%m-%dT%H:%M:%SZ")
                ep.issued[ak] = (token, exp)
                body = json.dumps({"AccessKeyId": ak, "SecretAccessKey": "s" * 40, "Token": token,
                                   "Expiration": exp}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def config(tap_port, credentials, server_extra=""):
    return f"""
[server]
listen = ["127.0.0.1:@PORT@"]
{server_extra}
[[clients]]
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[backends]]
name = "moto"
dialect = "s3"
endpoint = "http://127.0.0.1:{tap_port}"
region = "us-east-1"
{credentials}
[[routes]]
bucket = "*"
backend = "moto"
"""


def expiry(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def load_across_refreshes(url, issued_count, seconds=3 * LIFE):
    """Requests for `seconds`: every one must succeed."""
    c = Boto3(url)
    bucket = f"creds-{uuid.uuid4().hex[:8]}"
    wait_until(lambda: ready(c, bucket), "first keys", timeout=15)
    end, n = time.time() + seconds, 0
    while time.time() < end:
        key = f"k{n}"
        c.put(bucket, key, b"v" * n)
        assert c.get(bucket, key) == b"v" * n
        n += 1
    assert issued_count() >= 3, f"only {issued_count()} key sets in {seconds} s"
    return n


def ready(c, bucket):
    try:
        c.c.create_bucket(Bucket=bucket)
        return True
    except Exception as e:  # noqa: BLE001 - 503 until the first keys are in
        assert "ServiceUnavailable" in str(e) or "BucketAlreadyOwnedByYou" in str(e), e
        return "BucketAlreadyOwnedByYou" in str(e)


def assert_signed_with_valid_keys(tap, issued):
    s3 = [r for r in tap.requests if r[1] is not None]
    assert s3, "no backend requests seen"
    for at, ak, token, signed in s3:
        assert ak in issued, f"{ak} was never issued"
        want, exp = issued[ak]
        assert token == want, "the token is not the one issued with this key"
        assert "x-amz-security-token" in signed
        assert at < expiry(exp) + 1, "signed with a key set that had expired"


def test_web_identity_keys_from_sts_are_refreshed_without_a_failure(bed, tmp_path):
    tap = Tap(bed["moto_port"])
    token_file = tmp_path / "token"
    token_file.write_text("web-identity-token-1\n")
    creds = (f'web_identity = {{ token_file = "{token_file}", role_arn = "arn:aws:iam::123456789012:role/gw", '
             f'sts_endpoint = "http://127.0.0.1:{tap.port}", session_name = "e2e", duration_secs = {LIFE} }}')
    metrics = free_port()
    # At trace: no token of either kind in any log line, nor in /metrics (test_secrets.py's rule).
    p = Proxy(tmp_path, "creds-sts", config(tap.port, creds, f'metrics = "127.0.0.1:{metrics}"'),
              log_filter="trace")
    try:
        n = load_across_refreshes(p.url, lambda: len(tap.issued))
        assert n > 20
        assert_signed_with_valid_keys(tap, tap.issued)
        assert set(tap.web_tokens) == {"web-identity-token-1"}
        # The kubelet rotates the token in place: the next STS call presents the new one.
        token_file.write_text("web-identity-token-2\n")
        wait_until(lambda: "web-identity-token-2" in tap.web_tokens, "the rotated token at STS", timeout=3 * LIFE)
        log = p.log_path.read_text(errors="replace")
        assert "TRACE" in log or "DEBUG" in log, "the proxy did not log at trace"
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=5).read().decode()
        for secret in ["web-identity-token", *(t for t, _ in tap.issued.values())]:
            assert secret not in log, "a token reached the log"
            assert secret not in text, "a token reached /metrics"
    finally:
        p.stop()
        tap.stop()


def test_container_credentials_are_refreshed_without_a_failure(bed, tmp_path):
    tap = Tap(bed["moto_port"])
    token_file = tmp_path / "pod-identity-token"
    token_file.write_text("pod-token-1")
    ep = ContainerEndpoint(token_file)
    creds = f'container_credentials = {{ uri = "http://127.0.0.1:{ep.port}/v1/credentials", token_file = "{token_file}" }}'
    p = Proxy(tmp_path, "creds-container", config(tap.port, creds))
    try:
        load_across_refreshes(p.url, lambda: len(ep.issued))
        assert_signed_with_valid_keys(tap, ep.issued)
        token_file.write_text("pod-token-2")
        before = ep.n
        wait_until(lambda: ep.n > before and ep.auth_seen[-1] == "pod-token-2", "the rotated token", timeout=3 * LIFE)
    finally:
        p.stop()
        ep.stop()
        tap.stop()


def test_a_static_session_token_is_sent_and_signed(bed, tmp_path):
    tap = Tap(bed["moto_port"])
    creds = 'access_key = "ASIASTATIC0001"\nsecret_key = "static-secret"\nsession_token = "static-session-token"'
    p = Proxy(tmp_path, "creds-static", config(tap.port, creds))
    try:
        c = Boto3(p.url)
        c.c.create_bucket(Bucket="creds-static")
        c.put("creds-static", "k", b"x")
        assert_signed_with_valid_keys(tap, {"ASIASTATIC0001": ("static-session-token", "2999-01-01T00:00:00Z")})
    finally:
        p.stop()
        tap.stop()


def test_a_backend_without_keys_yet_answers_503(bed, tmp_path):
    creds = """container_credentials = { uri = "http://127.0.0.1:9/v1/credentials" }"""
    p = Proxy(tmp_path, "creds-none", config(9, creds))
    try:
        c = Boto3(p.url)
        with pytest.raises(Exception) as e:
            c.put("creds-none", "k", b"x")
        assert e.value.status == 503 and e.value.code == "ServiceUnavailable"
    finally:
        p.stop()
