"""Fault injection: a backend that resets, stalls, cuts, pads or empties its answers, driven through
raw HTTP and the official SDKs. Whatever the backend does, no client sees a success with wrong or
missing bytes; every stall ends within the backend's deadline + 1 s; a client that hangs up frees
the backend connection within 1 s; and the proxy serves the next request."""
import hashlib
import http.client
import re
import socket
import time
import uuid
from urllib.parse import quote, urlencode

import pytest

import clients
from conftest import APPID, CLIENT_AK, CLIENT_SK, FAULT_IDLE
from faults import COMPLETE_ETAG, COPY_ETAG, DATA, PARTS
from sigs import sigv4_headers

BUCKET = f"fault-{APPID}"
SLOW_BUCKET = f"slowfault-{APPID}"
UPLOAD = bytes(range(256)) * 400
UPLOAD_ETAG = hashlib.md5(UPLOAD).hexdigest()

EXPECTED = {
    "get": DATA,
    "head": len(DATA),
    "copypart": COPY_ETAG,
    "complete": COMPLETE_ETAG,
    "listparts": [(n, e) for n, e, _ in PARTS],
    "put": UPLOAD_ETAG,
    "uploadpart": UPLOAD_ETAG,
}
STREAMED = ("put", "uploadpart")
BODY_FAULTS = ["cuthalf", "cut64", "chunkhalf", "chunk64", "stallbody"]
XML_FAULTS = ["truncxml", "empty200", "ws200"]
COMMON = ["reset", "reset1", "slowdown1", "slowdownall", "stallhead"]
CASES = (
    [(op, f) for op in EXPECTED for f in COMMON]
    + [(op, f) for op in ("get", "copypart", "complete", "listparts") for f in BODY_FAULTS]
    + [(op, f) for op in ("copypart", "complete", "listparts") for f in XML_FAULTS]
)
CLIENTS = ["raw", "boto3", "obs-native", "cos"]


def code_of(body):
    m = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    return m.group(1).decode() if m else None


class Raw:
    """Hand-built SigV4 requests over http.client (which refuses a body cut short of its length)."""
    name = "raw"

    def __init__(self, url):
        self.port = int(url.rsplit(":", 1)[1])

    def req(self, method, b, k, query=(), headers=None, body=b""):
        path = f"/{b}/{quote(k, safe='/~')}"
        h, *_ = sigv4_headers(method, f"127.0.0.1:{self.port}", path, list(query), headers or {},
                              hashlib.sha256(body).hexdigest(), CLIENT_AK, CLIENT_SK)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            target = path + ("?" + urlencode(list(query), quote_via=quote) if query else "")
            conn.request(method, target, body=body or None, headers=h)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        if r.status >= 300:
            raise clients.SdkError(r.status, code_of(data), data)
        return r, data

    def get(self, b, k):
        return self.req("GET", b, k)[1]

    def head(self, b, k):
        return int(self.req("HEAD", b, k)[0].getheader("content-length"))

    def copy_part(self, b, k, uid, n, sb, sk):
        _, data = self.req("PUT", b, k, [("partNumber", str(n)), ("uploadId", uid)],
                           {"x-amz-copy-source": f"/{sb}/{sk}"})
        return re.search(rb"<ETag>([^<]*)</ETag>", data).group(1).decode().replace("&quot;", '"')

    def complete(self, b, k, uid, parts):
        doc = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{e}</ETag></Part>" for n, e in parts) + "</CompleteMultipartUpload>"
        _, data = self.req("POST", b, k, [("uploadId", uid)], {}, doc.encode())
        return re.search(rb"<ETag>([^<]*)</ETag>", data).group(1).decode().replace("&quot;", '"')

    def list_parts(self, b, k, uid):
        _, data = self.req("GET", b, k, [("uploadId", uid)])
        return [(int(n), e.decode().replace("&quot;", '"')) for n, e in
                re.findall(rb"<PartNumber>(\d+)</PartNumber><ETag>([^<]*)</ETag>", data)]

    def put(self, b, k, data):
        return self.req("PUT", b, k, (), {}, data)[0].getheader("etag")

    def upload_part(self, b, k, uid, n, data):
        return self.req("PUT", b, k, [("partNumber", str(n)), ("uploadId", uid)], {}, data)[0].getheader("etag")


def client(mode, url):
    return Raw(url) if mode == "raw" else clients.make(mode, url)


def run(c, op, key):
    if op == "get":
        return bytes(c.get(BUCKET, key))
    if op == "head":
        return c.head(BUCKET, key)
    if op == "copypart":
        return c.copy_part(BUCKET, key, "u1", 1, BUCKET, "src").strip('"')
    if op == "complete":
        return c.complete(BUCKET, key, "u1", [(n, f'"{e}"') for n, e, _ in PARTS]).strip('"')
    if op == "listparts":
        return [(int(n), e.strip('"')) for n, e in c.list_parts(BUCKET, key, "u1")]
    if op == "put":
        return c.put(BUCKET, key, UPLOAD).strip('"')
    if op == "uploadpart":
        return c.upload_part(BUCKET, key, "u1", 1, UPLOAD).strip('"')
    raise AssertionError(op)


@pytest.mark.parametrize("mode", CLIENTS)
@pytest.mark.parametrize("op,fault", CASES, ids=[f"{o}-{f}" for o, f in CASES])
def test_no_false_success_and_every_stall_ends(bed, mode, op, fault):
    c = client(mode, bed["front"].url)
    key = f"{op}.{fault}.{mode}.{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    try:
        value, error = run(c, op, key), None
    except Exception as e:  # noqa: BLE001 - SDKs raise their own types for cut connections
        value, error = None, e
    elapsed = time.monotonic() - started
    # The proxy sends again what it may (bodiless or buffered requests); a streamed body is gone.
    recovers = fault in ("reset1", "slowdown1") and op not in STREAMED
    if recovers:
        assert error is None, f"{fault} once should be retried by the proxy: {error!r}"
    if error is None:
        assert value == EXPECTED[op], f"success with wrong data: {str(value)[:200]}"
        assert recovers, f"{op}/{fault} reported success"
    elif isinstance(error, clients.SdkError) and error.status is not None:
        # Every failure is one the SDKs retry.
        assert error.status >= 500, (error.status, error.code)
        # (an answer to HEAD has no body, so no code to check)
        if fault == "slowdownall" or (fault == "slowdown1" and op in STREAMED):
            assert error.status == 503 and (op == "head" or error.code == "SlowDown"), (error.status, error.code)
        if fault == "stallhead":
            assert error.status == 504 and (op == "head" or error.code == "GatewayTimeout"), (error.status, error.code)
    if fault.startswith("stall"):
        assert elapsed < FAULT_IDLE + 1, f"stall took {elapsed:.2f}s"
    # The proxy is alive and serves the next request on the same client.
    assert run(c, "get", f"get.none.{uuid.uuid4().hex[:8]}") == DATA


def _send_signed(port, method, bucket, key, query=(), body=b"", headers=None):
    path = f"/{bucket}/{quote(key, safe='/~')}"
    h, *_ = sigv4_headers(method, f"127.0.0.1:{port}", path, list(query), headers or {},
                          hashlib.sha256(body).hexdigest(), CLIENT_AK, CLIENT_SK)
    h["content-length"] = str(len(body))
    target = path + ("?" + urlencode(list(query), quote_via=quote) if query else "")
    raw = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(raw.encode() + body)
    return s


HANGUPS = [("get", "stallhead"), ("get", "stallbody"), ("get", "bigstall"), ("complete", "stallhead"), ("copypart", "stallhead"),
           ("head", "stallhead"), ("put", "stallhead")]


@pytest.mark.parametrize("op,fault", HANGUPS, ids=[f"{o}-{f}" for o, f in HANGUPS])
def test_client_hang_up_frees_the_backend_connection(bed, op, fault):
    """Behind a backend with a 30 s idle deadline, the proxy still lets go within 1 s of the client."""
    faults, port = bed["faults"], bed["front"].port
    key = f"{op}.{fault}.{uuid.uuid4().hex[:8]}"
    method, query, body, headers = {
        "get": ("GET", (), b"", None), "head": ("HEAD", (), b"", None), "put": ("PUT", (), UPLOAD, None),
        "complete": ("POST", [("uploadId", "u1")],
                     b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"p1\"</ETag></Part>"
                     b"</CompleteMultipartUpload>", None),
        "copypart": ("PUT", [("partNumber", "1"), ("uploadId", "u1")], b"",
                     {"x-amz-copy-source": f"/{SLOW_BUCKET}/src"}),
    }[op]
    s = _send_signed(port, method, SLOW_BUCKET, key, query, body, headers)
    try:
        assert faults.wait_received(key, op), "the request never reached the backend"
        if fault in ("stallbody", "bigstall"):
            assert s.recv(1024).startswith(b"HTTP/1.1 200"), "the answer did not start"
    finally:
        hung_up = time.monotonic()
        s.close()
    closed = faults.wait_closed(key, timeout=10)
    assert closed is not None, "the backend connection was never released"
    assert closed - hung_up < 1.0, f"released {closed - hung_up:.2f}s after the client hung up"
    assert Raw(bed["front"].url).get(BUCKET, f"get.none.{uuid.uuid4().hex[:8]}") == DATA


def test_false_successes_are_counted(bed):
    import urllib.request

    def count():
        text = urllib.request.urlopen(bed["front"].metrics_url + "/metrics", timeout=5).read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("dialect_proxy_backend_200_errors_total{"))

    before = count()
    c = Raw(bed["front"].url)
    for key in ("complete.empty200.m", "complete.ws200.m", "copypart.empty200.m"):
        with pytest.raises(clients.SdkError) as e:
            run(c, key.split(".")[0], key + uuid.uuid4().hex[:6])
        assert (e.value.status, e.value.code) == (500, "InternalError")
    assert count() - before == 3


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
def test_one_request_id_per_answer(bed, backend):
    """Behind a chain (proxy -> OBS/COS stand-in -> Garage) too: the request-id header and the error
    body's RequestId agree; the backend's own id travels in a second header."""
    from conftest import BUCKETS
    c = Raw(bed["front"].url)
    with pytest.raises(clients.SdkError) as e:
        c.get(BUCKETS[backend], f"missing-{uuid.uuid4().hex[:8]}")
    assert e.value.status == 404
    body = e.value.raw
    rid = re.search(rb"<RequestId>([^<]*)</RequestId>", body).group(1).decode()
    # Raw keeps only the body; ask again to see the headers.
    path = f"/{BUCKETS[backend]}/missing-x"
    h, *_ = sigv4_headers("GET", f"127.0.0.1:{c.port}", path, [], {}, hashlib.sha256(b"").hexdigest(),
                          CLIENT_AK, CLIENT_SK)
    conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=30)
    conn.request("GET", path, headers=h)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    assert r.getheader("x-amz-request-id") == re.search(rb"<RequestId>([^<]*)</RequestId>", data).group(1).decode()
    assert len(r.msg.get_all("x-amz-request-id")) == 1
    backend_id = r.getheader("x-dialect-proxy-backend-request-id")
    if backend != "s3":  # Garage sends no request id of its own; the stand-ins do
        assert backend_id and backend_id != r.getheader("x-amz-request-id")
    assert rid != r.getheader("x-amz-request-id"), "each answer has its own id"


@pytest.mark.parametrize("op", ["put", "uploadpart"])
def test_an_early_answer_does_not_poison_the_next_request(bed, op):
    """A backend that refuses an upload before reading its body and keeps the connection open: the rest of
    the body still waits in that connection, so it never goes back to the pool (the next request written on
    it would be read as the rest of the body)."""
    faults, c = bed["faults"], Raw(bed["front"].url)
    before = faults.poisoned
    key = f"{op}.early.{uuid.uuid4().hex[:8]}"
    with pytest.raises(clients.SdkError) as e:
        if op == "put":
            c.req("PUT", BUCKET, key, body=UPLOAD)
        else:
            c.req("PUT", BUCKET, key, [("partNumber", "1"), ("uploadId", "u1")], body=UPLOAD)
    assert (e.value.status, e.value.code) == (400, "RequestTimeout")
    # The pool hands out its newest connection first: the next requests would get that one.
    for _ in range(3):
        assert c.get(BUCKET, f"get.none.{uuid.uuid4().hex[:8]}") == DATA
    assert faults.poisoned == before
