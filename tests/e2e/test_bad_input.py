"""Bad input is answered by the proxy, in the client's dialect, and never reaches a backend."""
import http.client
import re
import urllib.request

import pytest

import sigs
from clients import MODES, SdkError, make
from conftest import BUCKETS, CLIENT_AK, CLIENT_SK

HEX64 = "a" * 64


def raw(bed, method, target, headers):
    c = http.client.HTTPConnection("127.0.0.1", bed["front"].port, timeout=10)
    c.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for k, v in headers.items():
        c.putheader(k, v)
    c.endheaders()
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body.decode()


def code_of(body):
    m = re.search(r"<Code>([^<]*)</Code>", body)
    return m.group(1) if m else None


S3_HOST = {"Host": "127.0.0.1"}
COS_HOST = {"Host": "trip-cos-1250000000.cos.ap-guangzhou.myqcloud.com"}

CASES = [
    # (name, method, target, headers, status, code, dialect)
    ("anonymous", "GET", "/trip-x/k", S3_HOST, 403, "AccessDenied", "s3"),
    ("sigv4 truncated", "GET", "/trip-x/k",
     dict(S3_HOST, Authorization="AWS4-HMAC-SHA256 Credential=AK/2024", **{"x-amz-date": "20240315T123456Z"}),
     400, "AuthorizationHeaderMalformed", "s3"),
    ("sigv4 duplicated field", "GET", "/trip-x/k",
     dict(S3_HOST, Authorization=f"AWS4-HMAC-SHA256 Credential={CLIENT_AK}/20240315/us-east-1/s3/aws4_request, "
          f"Credential={CLIENT_AK}/20240315/us-east-1/s3/aws4_request, SignedHeaders=host, Signature={HEX64}"),
     400, "AuthorizationHeaderMalformed", "s3"),
    ("sigv4 bad hex", "GET", "/trip-x/k",
     dict(S3_HOST, Authorization=f"AWS4-HMAC-SHA256 Credential={CLIENT_AK}/20240315/us-east-1/s3/aws4_request, "
          f"SignedHeaders=host, Signature={'z' * 64}"),
     400, "AuthorizationHeaderMalformed", "s3"),
    ("obs bad base64", "GET", "/trip-x/k",
     dict(S3_HOST, Authorization=f"OBS {CLIENT_AK}:!!!not-base64!!!", Date="Fri, 15 Mar 2024 12:34:56 GMT"),
     400, "AuthorizationHeaderMalformed", "obs"),
    ("obs no colon", "GET", "/trip-x/k", dict(S3_HOST, Authorization="OBS justakey"), 400,
     "AuthorizationHeaderMalformed", "obs"),
    ("cos missing fields", "GET", "/k", dict(COS_HOST, Authorization=f"q-sign-algorithm=sha1&q-ak={CLIENT_AK}"),
     400, "AuthorizationHeaderMalformed", "cos"),
    ("cos duplicated field", "GET", "/k",
     dict(COS_HOST, Authorization=f"q-sign-algorithm=sha1&q-ak={CLIENT_AK}&q-ak={CLIENT_AK}&q-sign-time=1;2"
          "&q-key-time=1;2&q-header-list=host&q-url-param-list=&q-signature=" + "a" * 40),
     400, "AuthorizationHeaderMalformed", "cos"),
    ("unknown scheme", "GET", "/trip-x/k", dict(S3_HOST, Authorization="Bearer abc"), 400,
     "AuthorizationHeaderMalformed", "s3"),
    ("unparsable host", "GET", "/trip-x/k", {"Host": "bad host!"}, 400, "InvalidArgument", "s3"),
    ("missing host", "GET", "/trip-x/k", {}, 400, "InvalidArgument", "s3"),
]

REQUEST_ID = {"s3": "x-amz-request-id", "obs": "x-obs-request-id", "cos": "x-cos-request-id"}


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_requests(bed, case):
    _, method, target, headers, status, code, dialect = case
    before = bed["trip"].count
    st, hdrs, body = raw(bed, method, target, headers)
    assert (st, code_of(body)) == (status, code), body
    assert REQUEST_ID[dialect] in hdrs, hdrs
    assert ("<TraceId>" in body) == (dialect == "cos")
    assert bed["trip"].count == before, "a refused request reached the backend"


def test_skewed_date_and_expired_urls(bed):
    before = bed["trip"].count
    old = sigs.now() - 3600
    from email.utils import formatdate
    h = sigs.obs_header("GET", "/trip-x/k", CLIENT_SK, CLIENT_AK, date=formatdate(old, usegmt=True))
    st, hdrs, body = raw(bed, "GET", "/trip-x/k", dict(S3_HOST, **h))
    assert (st, code_of(body)) == (403, "RequestTimeTooSkewed") and "x-obs-request-id" in hdrs
    q = sigs.obs_presigned_query("GET", "/trip-x/k", CLIENT_SK, CLIENT_AK, sigs.now() - 10)
    st, hdrs, body = raw(bed, "GET", "/trip-x/k?" + q, S3_HOST)
    assert (st, code_of(body)) == (403, "AccessDenied") and "expired" in body
    host = COS_HOST["Host"]
    a = sigs.cos_authorization("GET", "/k", host, CLIENT_SK, CLIENT_AK, old - 100, old)
    st, hdrs, body = raw(bed, "GET", "/k", dict(COS_HOST, Authorization=a))
    assert (st, code_of(body)) == (403, "AccessDenied") and "<TraceId>" in body
    # A correct signature over the same shapes is accepted (reaches the backend).
    h = sigs.obs_header("GET", "/nowhere-at-all/k", CLIENT_SK, CLIENT_AK)
    st, hdrs, body = raw(bed, "GET", "/nowhere-at-all/k", dict(S3_HOST, **h))
    assert (st, code_of(body)) == (404, "NoSuchBucket") and "x-obs-request-id" in hdrs
    assert bed["trip"].count == before


@pytest.mark.parametrize("mode", MODES)
def test_wrong_keys_in_every_sdk(bed, mode, monkeypatch):
    import clients
    before = bed["trip"].count
    monkeypatch.setattr(clients, "CLIENT_SK", "not-the-secret")
    c = make(mode, bed["front"].url)
    with pytest.raises(SdkError) as e:
        c.get("trip-bucket-1250000000", "k")
    assert e.value.code == "SignatureDoesNotMatch"
    monkeypatch.setattr(clients, "CLIENT_AK", "AKUNKNOWN000")
    c = make(mode, bed["front"].url)
    with pytest.raises(SdkError) as e:
        c.get("trip-bucket-1250000000", "k")
    assert e.value.code == "InvalidAccessKeyId"
    assert bed["trip"].count == before


def test_no_route_is_no_such_bucket(bed):
    for mode in MODES:
        c = make(mode, bed["front"].url)
        with pytest.raises(SdkError) as e:
            c.get("unrouted-1250000000", "k")
        assert e.value.code == "NoSuchBucket", mode


def test_signature_mismatch_logs_canonical_string_not_secret(bed):
    import base64
    c = make("boto3", bed["front"].url)
    c.c._request_signer._credentials.secret_key = "wrong-secret-xyz"
    with pytest.raises(SdkError):
        c.get(BUCKETS["s3"], "logged/key.bin")
    sse_key = "sse-c-key-that-must-not-be-logged"[:32].ljust(32, "x")
    with pytest.raises(SdkError):
        c.put(BUCKETS["s3"], "logged/sse.bin", b"x", ssec=sse_key)
    log = bed["front"].log_path.read_text(errors="replace")
    assert "logged/key.bin" in log and "x-amz-content-sha256" in log
    assert "x-amz-server-side-encryption-customer-key:<redacted>" in log
    assert CLIENT_SK not in log and "wrong-secret-xyz" not in log
    assert base64.b64encode(sse_key.encode()).decode() not in log


def test_apiversion_probe(bed):
    st, hdrs, _ = raw(bed, "HEAD", "/any-bucket?apiversion", S3_HOST)
    assert st == 200 and hdrs.get("x-obs-api") == "3.0"


def test_metrics_and_health(bed):
    assert urllib.request.urlopen(bed["front"].metrics_url + "/healthz").read() == b"ok\n"
    m = urllib.request.urlopen(bed["front"].metrics_url + "/metrics").read().decode()
    assert "dialect_proxy_responses_total" in m
