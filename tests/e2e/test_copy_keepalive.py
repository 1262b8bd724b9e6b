"""Keep-alive for long copies: a copy (native or across backends) still working after the configured
delay (1.5 s here) is answered 200 at once, then whitespace, then its result, or its error: a document
for S3 clients (botocore raises it), a cut for OBS and COS clients (their SDKs would take a 200 with
an error document for a result)."""
import hashlib
import http.client
import time
import uuid

import pytest

from clients import MODES, SdkError, make
from conftest import APPID, BUCKETS, CLIENT_AK, CLIENT_SK, KEEPALIVE

SLOW = f"slowfault-{APPID}"


def sha(b):
    return hashlib.sha256(b).hexdigest()


def signed_copy_part(url, bucket, key, source):
    """An UploadPartCopy signed by botocore and sent by hand, to time its answer byte by byte."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="PUT", url=f"{url}/{bucket}/{key}?partNumber=1&uploadId=u1",
                     headers={"x-amz-copy-source": source, "x-amz-content-sha256": "UNSIGNED-PAYLOAD"})
    S3SigV4Auth(Credentials(CLIENT_AK, CLIENT_SK), "s3", "us-east-1").add_auth(req)
    host, port = url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    started = time.monotonic()
    conn.request("PUT", req.url.split(url, 1)[1], headers=dict(req.headers.items()))
    resp = conn.getresponse()
    return conn, resp, started


def test_a_slow_native_copy_answers_200_within_the_delay_then_its_result(bed):
    key = f"copypart.slow3.{uuid.uuid4().hex[:6]}"
    conn, resp, started = signed_copy_part(bed["front"].url, SLOW, key, f"{SLOW}/src.bin")
    try:
        assert resp.status == 200
        first = resp.read1(64)
        # The backend needs 3 s: status and first bytes within the delay + 1 s.
        assert time.monotonic() - started < KEEPALIVE + 1
        assert first.startswith(b"<?xml"), first
        body = first + resp.read()
        doc = body.split(b"?>", 1)[1]
        assert doc.lstrip().startswith(b"<CopyPartResult"), body
        assert doc[: len(doc) - len(doc.lstrip())].strip(b" \n") == b""
        assert b'<ETag>"cp1"</ETag>' in doc
    finally:
        conn.close()


@pytest.mark.parametrize("mode", MODES)
def test_sdks_parse_a_kept_alive_result(bed, mode):
    c = make(mode, bed["front"].url)
    etag = c.copy_part(SLOW, f"copypart.slow3.{uuid.uuid4().hex[:6]}", "u1", 1, SLOW, "src.bin")
    assert etag.strip('"') == "cp1"


@pytest.mark.parametrize("mode", MODES)
def test_sdks_report_a_kept_alive_failure_as_an_error(bed, mode):
    c = make(mode, bed["front"].url)
    started = time.monotonic()
    with pytest.raises(Exception) as e:
        c.copy_part(SLOW, f"copypart.slowerr.{uuid.uuid4().hex[:6]}", "u1", 1, SLOW, "src.bin")
    assert time.monotonic() - started >= 2  # the backend fails after 2 s, past the delay
    if mode in ("boto3", "awscli"):
        # botocore reads the error document of a 200: the backend's own code.
        assert isinstance(e.value, SdkError) and e.value.code == "NoSuchKey"


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_source_across_backends_is_kept_alive_and_copied(bed, mode):
    from faults import DATA
    c = make(mode, bed["front"].url)
    key = f"keepalive/{mode}-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS["s3"], key)
    etag = c.copy_part(BUCKETS["s3"], key, uid, 1, SLOW, f"get.slow3.{uuid.uuid4().hex[:6]}")
    c.complete(BUCKETS["s3"], key, uid, [(1, etag)])
    assert sha(c.get(BUCKETS["s3"], key)) == sha(DATA)


@pytest.mark.parametrize("mode", ["boto3", "obs-native", "cos"])
def test_a_slow_source_that_breaks_off_ends_in_an_error(bed, mode):
    c = make(mode, bed["front"].url)
    key = f"keepalive/broken-{mode}-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS["s3"], key)
    try:
        with pytest.raises(Exception) as e:
            c.copy_part(BUCKETS["s3"], key, uid, 1, SLOW, f"get.slowcut.{uuid.uuid4().hex[:6]}")
        if mode == "boto3":
            assert isinstance(e.value, SdkError) and e.value.code == "InternalError"
        assert c.list_parts(BUCKETS["s3"], key, uid) == []
    finally:
        c.abort(BUCKETS["s3"], key, uid)
