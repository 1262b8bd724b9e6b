"""Large downloads over plain HTTP move socket to socket (src/splice.rs): the bytes are the object's,
whole and in order, the client's connection stays usable for its next request, HTTPS takes the copying
path with the same bytes, and a backend that breaks off or stalls inside a spliced body cuts the client
connection (never a short success) within the backend's idle deadline + 1 s."""
import hashlib
import http.client
import os
import re
import time
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

from conftest import APPID, BUCKETS, CLIENT_AK, CLIENT_SK, FAULT_IDLE
from faults import BIG
from test_faults import Raw

FAULT_BUCKET = f"fault-{APPID}"


def spliced_bytes(bed):
    text = urllib.request.urlopen(bed["front"].metrics_url + "/metrics", timeout=5).read().decode()
    m = re.search(r"^dialect_proxy_spliced_bytes_total (\d+)", text, re.M)
    return int(m.group(1)) if m else 0


def s3(url, **kw):
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=CLIENT_AK, aws_secret_access_key=CLIENT_SK,
                        region_name="us-east-1", config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
                        **kw)


def get(conn, url, headers=None):
    """One GET on a kept connection: status, body (http.client refuses a body cut short of its length)."""
    target = url.split("/", 3)[3]
    conn.request("GET", "/" + target, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.read(), r.getheader("connection")


@pytest.mark.parametrize("backend", ["s3", "obs"])
def test_a_large_download_moves_socket_to_socket_whole_and_keeps_the_connection(bed, backend):
    front = bed["front"]
    c = s3(front.url)
    bucket, key = BUCKETS[backend], f"splice/{uuid.uuid4().hex}.bin"
    data = os.urandom(5 * 1024 * 1024 + 3)
    c.put_object(Bucket=bucket, Key=key, Body=data)
    url = c.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    before = spliced_bytes(bed)
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=30)
    try:
        for _ in range(2):
            status, body, connection = get(conn, url)
            assert status == 200 and len(body) == len(data)
            assert hashlib.sha256(body).digest() == hashlib.sha256(data).digest()
            assert (connection or "").lower() != "close"
        # A range, on the same connection: a 206 of 2 MiB.
        status, body, _ = get(conn, url, {"Range": "bytes=1000-2098151"})
        assert status == 206 and body == data[1000:2098152]
    finally:
        conn.close()
    moved = spliced_bytes(bed) - before
    # All but what came with each answer's head and its first piece went socket to socket.
    assert 2 * (len(data) - 256 * 1024) + 1024 * 1024 < moved <= 2 * len(data) + 2098152 - 1000, moved
    # Over HTTPS the body is copied (TLS needs the bytes): the same bytes.
    tls = s3(front.https_url, verify=front.ca)
    assert tls.get_object(Bucket=bucket, Key=key)["Body"].read() == data
    c.delete_object(Bucket=bucket, Key=key)


@pytest.mark.parametrize("fault", ["bigcut", "bigstall"])
def test_a_backend_that_breaks_off_inside_a_spliced_body_cuts_the_client(bed, fault):
    raw = Raw(bed["front"].url)
    before = spliced_bytes(bed)
    started = time.monotonic()
    with pytest.raises((http.client.IncompleteRead, ConnectionError, OSError)):
        raw.get(FAULT_BUCKET, f"get.{fault}.raw.{uuid.uuid4().hex[:8]}")
    elapsed = time.monotonic() - started
    assert elapsed < FAULT_IDLE + 1, f"{fault} took {elapsed:.2f}s"
    assert spliced_bytes(bed) == before, "a broken splice is not counted as moved"
    # The proxy serves the next request, and a whole big body from the same backend arrives whole.
    assert raw.get(FAULT_BUCKET, f"get.bignone.raw.{uuid.uuid4().hex[:8]}") == BIG
    assert spliced_bytes(bed) > before
