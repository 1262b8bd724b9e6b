"""Uploads of unknown length (Transfer-Encoding: chunked, no Content-Length) from each client
dialect to each backend dialect arrive byte-exact; a GET or HEAD carrying a body is served."""
import hashlib
import http.client
import os
import uuid
from urllib.parse import quote

import pytest

import clients
from conftest import APPID, BUCKETS, CLIENT_AK, CLIENT_SK
from sigs import cos_authorization, now, obs_header, sigv4_headers

BACKENDS = {**BUCKETS, "moto": f"ver-chunked-{APPID}"}
PIECES = [os.urandom(n) for n in (1, 70_000, 3, 1 << 20, 12_345)]
DATA = b"".join(PIECES)


def chunked_put(port, dialect, bucket, key):
    """PUT the pieces chunked, signed in `dialect`; returns (status, body)."""
    if dialect == "cos":
        host = f"{bucket}.cos.ap-guangzhou.myqcloud.com"
        path = "/" + quote(key)
        t = now()
        h = {"Host": host, "Authorization": cos_authorization("PUT", "/" + key, host, CLIENT_SK, CLIENT_AK,
                                                               t - 60, t + 600)}
    elif dialect == "obs":
        path = f"/{bucket}/{quote(key)}"
        h = obs_header("PUT", f"/{bucket}/{key}", CLIENT_SK, CLIENT_AK)
    else:
        path = f"/{bucket}/{quote(key)}"
        h, *_ = sigv4_headers("PUT", f"127.0.0.1:{port}", path, [], {}, "UNSIGNED-PAYLOAD", CLIENT_AK, CLIENT_SK)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("PUT", path, body=iter(PIECES), headers=h, encode_chunked=True)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("dialect", ["s3", "obs", "cos"])
def test_chunked_upload_without_length(bed, dialect, backend):
    bucket = BACKENDS[backend]
    if backend == "moto":
        boto = clients.Boto3(f"http://127.0.0.1:{bed['moto_port']}")
        try:
            boto.c.create_bucket(Bucket=bucket)
        except Exception:  # noqa: BLE001 - already there from another case
            pass
    key = f"chunked/{dialect}-{uuid.uuid4().hex[:8]}.bin"
    status, body = chunked_put(bed["front"].port, dialect, bucket, key)
    assert status == 200, body
    got = clients.Boto3(bed["front"].url).get(bucket, key)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(DATA).hexdigest() and len(got) == len(DATA)


def test_sdk_streams_of_unknown_length(bed):
    """esdk-obs-python and cos-python-sdk-v5 send a stream without a length chunked."""
    import io

    class Stream(io.RawIOBase):
        def __init__(self):
            self.left = DATA

        def readable(self):
            return True

        def read(self, n=-1):
            n = len(self.left) if n is None or n < 0 else n
            out, self.left = self.left[:n], self.left[n:]
            return out

    for backend, bucket in BUCKETS.items():
        obs = clients.Obs(bed["front"].url, True)
        key = f"chunked/obs-sdk-{backend}-{uuid.uuid4().hex[:6]}"
        r = obs.c.putContent(bucket, key, content=Stream())
        assert r.status < 300, (r.status, r.errorCode)
        cos = clients.Cos(bed["front"].url)
        key2 = f"chunked/cos-sdk-{backend}-{uuid.uuid4().hex[:6]}"

        def gen():
            yield from PIECES
        cos.c.put_object(Bucket=bucket, Key=key2, Body=gen())
        for k in (key, key2):
            assert clients.Boto3(bed["front"].url).get(bucket, k) == DATA, (backend, k)


@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_a_body_on_a_bodiless_method_is_not_a_502(bed, method):
    port, bucket = bed["front"].port, BUCKETS["s3"]
    key = f"withbody-{uuid.uuid4().hex[:8]}"
    clients.Boto3(bed["front"].url).put(bucket, key, b"hello")
    body = b"stray body"
    path = f"/{bucket}/{key}"
    h, *_ = sigv4_headers(method, f"127.0.0.1:{port}", path, [], {}, hashlib.sha256(body).hexdigest(),
                          CLIENT_AK, CLIENT_SK)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
    finally:
        conn.close()
    assert r.status == {"GET": 200, "HEAD": 200, "DELETE": 204}[method], data
    if method == "GET":
        assert data == b"hello"
