"""No secret reaches a log line at any level: a proxy at `trace` in front of Garage carries SSE-C keys,
security tokens, presigned URLs of every dialect and wrong signatures; neither its log nor /metrics
holds a key, a signature, a token or a presigned query."""
import base64
import hashlib
import os
import re
import urllib.error
import urllib.request
import uuid

import pytest

from clients import Boto3, SdkError, make
from conftest import APPID, CLIENT_AK, CLIENT_SK, Proxy, free_port, port_open, standin_config, wait_until

SSE_KEY = "secret-sse-c-key-0123456789abcde"  # 32 bytes
TOKEN = "SECRET-SESSION-TOKEN-" + "x" * 40


@pytest.fixture(scope="module")
def traced(bed):
    metrics = free_port()
    p = Proxy(bed["work"], f"traced-{uuid.uuid4().hex[:6]}",
              standin_config(CLIENT_AK, CLIENT_SK, bed["garage"], f'metrics = "127.0.0.1:{metrics}"'),
              log_filter="trace")
    wait_until(lambda: port_open(metrics), "metrics listener")
    try:
        yield p, f"http://127.0.0.1:{metrics}"
    finally:
        p.stop()


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_no_secret_in_logs_or_metrics_at_trace(bed, traced):
    proxy, metrics_url = traced
    b, key = f"via-s3-{APPID}", f"secrets/{uuid.uuid4().hex[:6]}.bin"
    c = make("boto3", proxy.url)
    c.put(b, key, b"data", ssec=SSE_KEY)
    assert c.get(b, key, ssec=SSE_KEY) == b"data"
    c.copy_object(b, key + "-copy", b, key, ssec=SSE_KEY, src_ssec=SSE_KEY)
    cos = make("cos", proxy.url)
    cos.put(b, key + "-cos", b"cos data", ssec=SSE_KEY)
    make("obs-native", proxy.url).put(b, key + "-obs", b"obs data", ssec=SSE_KEY)
    # A security token (the proxy verifies the signature; the token is never forwarded or logged).
    import boto3
    from botocore.config import Config
    tok = boto3.client("s3", endpoint_url=proxy.url, aws_access_key_id=CLIENT_AK, aws_secret_access_key=CLIENT_SK,
                       aws_session_token=TOKEN, region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    try:
        tok.head_object(Bucket=b, Key=key)
    except Exception:  # noqa: BLE001 - the outcome does not matter here, the log does
        pass
    # Presigned URLs of every dialect, good and with a wrong signature.
    v4 = boto3.client("s3", endpoint_url=proxy.url, aws_access_key_id=CLIENT_AK, aws_secret_access_key=CLIENT_SK,
                      aws_session_token=TOKEN, region_name="us-east-1",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    urls = [v4.generate_presigned_url("get_object", Params={"Bucket": b, "Key": key + "-plain"}, ExpiresIn=300),
            Boto3(proxy.url).c.generate_presigned_url("get_object", Params={"Bucket": b, "Key": key}, ExpiresIn=300),
            make("obs-native", proxy.url).c.createSignedUrl("GET", b, key, expires=300)["signedUrl"],
            make("obs-v2", proxy.url).c.createSignedUrl("GET", b, key, expires=300)["signedUrl"]]
    signatures = []
    for url in urls:
        m = re.search(r"(?:X-Amz-Signature|Signature)=([^&]+)", url)
        signatures.append(m.group(1))
        fetch(url)
        i = m.start(1) + 2
        fetch(url[:i] + ("0" if url[i] != "0" else "1") + url[i + 1:])
    # A wrong signature in a header.
    bad = Boto3(proxy.url)
    bad.c._request_signer._credentials.secret_key = "wrong-secret"  # noqa: SLF001
    with pytest.raises(SdkError):
        bad.put(b, key + "-bad", b"x")

    log = proxy.log_path.read_text(errors="replace")
    metrics = urllib.request.urlopen(metrics_url + "/metrics", timeout=5).read().decode()
    assert "TRACE" in log or "DEBUG" in log, "the proxy did not log at trace"
    key_b64 = base64.b64encode(SSE_KEY.encode()).decode()
    key_md5 = base64.b64encode(hashlib.md5(SSE_KEY.encode()).digest()).decode()
    secrets = [SSE_KEY, key_b64, key_md5, TOKEN, CLIENT_SK, bed["garage"].secret, "wrong-secret", *signatures]
    for text, where in ((log, "log"), (metrics, "metrics")):
        for s in secrets:
            assert s not in text, f"a secret ({s[:6]}...) is in the {where}"
        # No header dump either (an Authorization value carries a signature).
        lowered = text.lower()
        for marker in ("authorization:", "aws4-hmac-sha256 credential=", "q-sign-algorithm"):
            assert marker not in lowered, f"{marker!r} is in the {where}"
