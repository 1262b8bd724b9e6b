"""CORS per route: preflights answered by the gateway (no signature, no backend: the tripwire route has no rule
and gets 403 AccessForbidden, S3's and OBS's code for it), and every answer to an allowed origin, errors
included, carries Access-Control-Allow-Origin and exposes the ETag and request-id headers."""
import http.client

import pytest

from clients import Boto3
from conftest import BUCKETS

S3B, OBSB = BUCKETS["s3"], BUCKETS["obs"]


def send(bed, method, target, headers):
    c = http.client.HTTPConnection("127.0.0.1", bed["front"].port, timeout=10)
    try:
        c.request(method, target, headers={"Host": "127.0.0.1", **headers})
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    finally:
        c.close()


def preflight(bed, target, origin, method, req_headers=None):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if req_headers:
        h["Access-Control-Request-Headers"] = req_headers
    return send(bed, "OPTIONS", target, h)


def test_an_allowed_preflight_is_answered_by_the_gateway(bed):
    before = bed["trip"].count
    st, h, body = preflight(bed, f"/{S3B}/up/file.bin", "http://app.example", "PUT",
                            "Content-Type, X-Amz-Date, Authorization, x-amz-content-sha256")
    assert st == 200 and body == ""
    assert h["access-control-allow-origin"] == "http://app.example"
    assert "PUT" in h["access-control-allow-methods"]
    assert h["access-control-allow-headers"] == "content-type, x-amz-date, authorization, x-amz-content-sha256"
    assert h["access-control-max-age"] == "600"
    assert "ETag" in h["access-control-expose-headers"] and "x-amz-request-id" in h["access-control-expose-headers"]
    # A wildcard origin rule.
    st, h, _ = preflight(bed, f"/{S3B}/k", "https://cdn.example.org", "GET")
    assert st == 200 and h["access-control-allow-origin"] == "https://cdn.example.org"
    assert bed["trip"].count == before


@pytest.mark.parametrize("target,origin,method,headers", [
    (f"/{S3B}/k", "http://evil.example", "GET", None),          # origin not listed
    (f"/{OBSB}/k", "http://app.example", "DELETE", None),        # method not listed
    (f"/{OBSB}/k", "http://app.example", "PUT", "x-amz-date"),   # header not listed
    ("/trip-bucket-1250000000/k", "http://app.example", "GET", None),  # no rule on that route
])
def test_a_preflight_outside_the_rule_is_refused_as_s3_does(bed, target, origin, method, headers):
    before = bed["trip"].count
    st, h, body = preflight(bed, target, origin, method, headers)
    assert st == 403 and "<Code>AccessForbidden</Code>" in body and "CORSResponse" in body
    assert "access-control-allow-origin" not in h
    assert bed["trip"].count == before


def test_actual_answers_carry_the_headers_errors_included(bed):
    c = Boto3(bed["front"].url)
    c.put(S3B, "cors/a.txt", b"hello")
    # A signed GET from the page's origin (what a browser SDK sends after its preflight).
    c.c.meta.events.register("before-sign.s3.GetObject",
                             lambda request, **kw: request.headers.__setitem__("Origin", "http://app.example"))
    r = c.c.get_object(Bucket=S3B, Key="cors/a.txt")
    h = r["ResponseMetadata"]["HTTPHeaders"]
    assert h["access-control-allow-origin"] == "http://app.example"
    assert "x-amz-version-id" in h["access-control-expose-headers"]
    # An unsigned request is refused, and the browser may still read why.
    st, h, body = send(bed, "GET", f"/{S3B}/cors/a.txt", {"Origin": "http://app.example"})
    assert st == 403 and h["access-control-allow-origin"] == "http://app.example"
    # Another origin: no CORS headers at all.
    st, h, _ = send(bed, "GET", f"/{S3B}/cors/a.txt", {"Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in h
    # Credentials allowed on the OBS route: the origin is named, never "*".
    st, h, _ = send(bed, "GET", f"/{OBSB}/x", {"Origin": "http://app.example"})
    assert h["access-control-allow-origin"] == "http://app.example"
    assert h["access-control-allow-credentials"] == "true"
