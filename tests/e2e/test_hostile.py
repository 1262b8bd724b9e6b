"""Hostile input over raw sockets: each case is answered 4xx in the client's dialect within a second,
nothing reaches a backend (the tripwire counts connections), and the proxy serves the next request."""
import hashlib
import socket
import time
import uuid

import pytest

from conftest import APPID, CLIENT_AK, CLIENT_SK
from sigs import sigv4_headers, v2_header

TRIP = f"trip-{APPID}"
EMPTY = hashlib.sha256(b"").hexdigest()


def raw(port, head, body=b""):
    """Send a request as bytes; (status, headers, body, seconds)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    started = time.monotonic()
    try:
        s.sendall(head + body)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head_end = data.index(b"\r\n\r\n") + 4
        lines = data[:head_end].decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
        rest = data[head_end:]
        n = int(headers.get("content-length", "0"))
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, headers, rest, time.monotonic() - started
    finally:
        s.close()


def signed(port, method, path, query=(), extra=None, raw_path=None):
    """A SigV4-signed request head; `raw_path` goes on the wire instead of `path` (already encoded)."""
    h, *_ = sigv4_headers(method, f"127.0.0.1:{port}", path, list(query), extra or {}, EMPTY, CLIENT_AK, CLIENT_SK)
    target = (raw_path or path) + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    lines = [f"{method} {target} HTTP/1.1"] + [f"{k}: {v}" for k, v in h.items()] + ["content-length: 0", "", ""]
    return "\r\n".join(lines).encode()


def cases(port):
    two_auth = signed(port, "GET", f"/{TRIP}/k").replace(
        b"authorization:", b"authorization: AWS4-HMAC-SHA256 Credential=x/1/2/3/4, SignedHeaders=host, Signature=0\r\n"
                           b"authorization:", 1)
    header_and_query = signed(port, "GET", f"/{TRIP}/k", [("X-Amz-Signature", "00")])
    obs_crlf = v2_header("OBS", "x-obs-", "PUT", f"/{TRIP}/k", CLIENT_SK, CLIENT_AK,
                         {"x-obs-meta-a": "x%0D%0Ax-evil: 1"})
    obs_head = (f"PUT /{TRIP}/k HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nuser-agent: obs-sdk-python/3.26.6\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in obs_crlf.items()) + "content-length: 0\r\n\r\n").encode()
    yield "two Authorization headers", two_auth, 400, "InvalidArgument"
    yield "header and query auth", header_and_query, 400, "InvalidArgument"
    for src in ["../../etc/passwd", "http://169.254.169.254/latest", "/../x"]:
        yield f"copy source {src}", signed(port, "PUT", f"/{TRIP}/k", extra={"x-amz-copy-source": src}), 400, \
            "InvalidBucketName"
    for path in ["/../k", "/http:/k", "/UPPER-case/k"]:
        yield f"bucket in path {path}", signed(port, "GET", path), 400, "InvalidBucketName"
    for key in ["obj%zz.bin", "obj%.bin", "obj%F.bin"]:
        yield f"percent {key}", signed(port, "GET", f"/{TRIP}/x", raw_path=f"/{TRIP}/{key}"), 400, "InvalidURI"
    yield "bad escape in the query", signed(port, "GET", f"/{TRIP}/k", [("prefix", "a%zz")]), 400, "InvalidURI"
    yield "3 KiB of metadata", signed(port, "PUT", f"/{TRIP}/k", extra={"x-amz-meta-big": "m" * 3000}), 400, \
        "MetadataTooLarge"
    yield "64 KiB header", signed(port, "PUT", f"/{TRIP}/k", extra={"x-amz-meta-big": "m" * 65536}), 431, \
        "RequestHeaderSectionTooLarge"
    yield "encoded CR/LF in an OBS header", obs_head, 400, "InvalidArgument"


@pytest.mark.parametrize("n", range(14))
def test_hostile_input_is_refused_at_the_edge(bed, n):
    port = bed["front"].port
    name, head, status, code = list(cases(port))[n]
    before = bed["trip"].count
    got, headers, body, seconds = raw(port, head)
    assert (got, f"<Code>{code}</Code>".encode() in body) == (status, True), (name, got, body[:300])
    assert seconds < 1.0, (name, seconds)
    assert "x-amz-request-id" in headers or "x-obs-request-id" in headers, name
    assert bed["trip"].count == before, f"{name} reached a backend"
    # The proxy serves the next request.
    ok, *_ = raw(port, signed(port, "GET", f"/via-s3-{APPID}/hostile-none"))
    assert ok == 404


def test_keys_that_look_like_paths_are_ordinary_keys(bed):
    """`../x` inside a valid bucket is a key like any other: stored and read back under that name."""
    from clients import make
    c = make("boto3", bed["front"].url)
    key = f"../hostile-{uuid.uuid4().hex[:6]}/..%zz"
    c.put(f"via-s3-{APPID}", key, b"dots")
    assert c.get(f"via-s3-{APPID}", key) == b"dots"
    assert key in c.list(f"via-s3-{APPID}", "../")
