"""POST Object (browser form uploads) in each client dialect, signed by the SDKs' own form signers where they
exist (boto3 `generate_presigned_post`, the OBS SDK's `createPostSignature`) and by the vendor's documented
recipe otherwise (COS q-signature, OSS V1), each posted to every backend; the object is read back from Garage
byte-exact. Hostile forms are refused in the client's dialect with nothing stored."""
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests

from conftest import BUCKETS, CLIENT_AK, CLIENT_SK, garage_direct

BACKENDS = ["s3", "obs", "cos", "oss"]


def expiry(seconds=600):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def stored(bed, bucket, key):
    try:
        return garage_direct(bed).get_object(Bucket=bucket, Key=key)["Body"].read()
    except Exception:  # noqa: BLE001 - absent
        return None


def post(url, fields, data, name="photo.jpg"):
    return requests.post(url, data=fields, files={"file": (name, data, "image/jpeg")}, timeout=60,
                         allow_redirects=False)


def v2_signed(policy, ak_field, sig_field):
    b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    sig = base64.b64encode(hmac.new(CLIENT_SK.encode(), b64.encode(), hashlib.sha1).digest()).decode()
    return {ak_field: CLIENT_AK, "policy": b64, sig_field: sig}


def oss4_signed(policy, region="cn-hangzhou"):
    """OSS V4 form (signature-version-4-recommend): hex HMAC-SHA256 of the base64 policy with the OSS4 key."""
    now = datetime.now(timezone.utc)
    day, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    credential = f"{CLIENT_AK}/{day}/{region}/oss/aliyun_v4_request"
    policy = dict(policy, conditions=policy["conditions"] + [
        {"x-oss-signature-version": "OSS4-HMAC-SHA256"}, {"x-oss-credential": credential}, {"x-oss-date": stamp}])
    b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    key = ("aliyun_v4" + CLIENT_SK).encode()
    for part in (day, region, "oss", "aliyun_v4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, b64.encode(), hashlib.sha256).hexdigest()
    return {"x-oss-signature-version": "OSS4-HMAC-SHA256", "x-oss-credential": credential, "x-oss-date": stamp,
            "policy": b64, "x-oss-signature": sig}


def cos_signed(policy):
    text = json.dumps(policy)
    key_time = f"{int(time.time()) - 60};{int(time.time()) + 600}"
    sign_key = hmac.new(CLIENT_SK.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    sts = hashlib.sha1(text.encode()).hexdigest()
    sig = hmac.new(sign_key.encode(), sts.encode(), hashlib.sha1).hexdigest()
    return {"q-sign-algorithm": "sha1", "q-ak": CLIENT_AK, "q-key-time": key_time,
            "policy": base64.b64encode(text.encode()).decode(), "q-signature": sig}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sigv", ["s3v4", "s3"], ids=["sigv4", "v2"])
def test_boto3_presigned_post(bed, backend, sigv):
    b = BUCKETS[backend]
    import boto3
    from botocore.config import Config
    c = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK,
                     aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                     config=Config(signature_version=sigv, s3={"addressing_style": "path"}))
    data = os.urandom(300 * 1024)
    p = c.generate_presigned_post(b, "post/s3/${filename}", Fields={"success_action_status": "201"},
                                  Conditions=[{"success_action_status": "201"},
                                              ["content-length-range", 1, 10 << 20]])
    assert ("x-amz-algorithm" in p["fields"]) == (sigv == "s3v4")
    r = post(p["url"], p["fields"], data)
    assert r.status_code == 201, r.text
    assert "<PostResponse>" in r.text and "<Key>post/s3/photo.jpg</Key>" in r.text
    assert r.headers["ETag"].strip('"') == hashlib.md5(data).hexdigest()
    assert stored(bed, b, "post/s3/photo.jpg") == data


@pytest.mark.parametrize("backend", BACKENDS)
def test_obs_sdk_post_signature(bed, backend):
    from obs import ObsClient
    b = BUCKETS[backend]
    obs = ObsClient(access_key_id=CLIENT_AK, secret_access_key=CLIENT_SK, server=bed["front"].url,
                    signature="obs", path_style=True)
    key = f"post/obs/{uuid.uuid4().hex[:6]}.bin"
    r = obs.createPostSignature(b, key, 600, {"content-type": "application/octet-stream"})
    fields = {"key": key, "AccessKeyId": CLIENT_AK, "policy": r.policy, "signature": r.signature,
              "content-type": "application/octet-stream"}
    data = os.urandom(100 * 1024)
    resp = post(f"{bed['front'].url}/{b}", fields, data)
    assert resp.status_code == 204, resp.text
    assert "x-obs-request-id" in resp.headers
    assert stored(bed, b, key) == data


@pytest.mark.parametrize("backend", BACKENDS)
def test_cos_and_oss_v1_v4_forms(bed, backend):
    b = BUCKETS[backend]
    for scheme in ("cos", "oss", "oss4"):
        dialect = scheme.rstrip("4")
        key = f"post/{scheme}/{uuid.uuid4().hex[:6]}.txt"
        policy = {"expiration": expiry(), "conditions": [{"bucket": b}, ["eq", "$key", key]]}
        fields = {"cos": cos_signed, "oss4": oss4_signed}.get(
            scheme, lambda p: v2_signed(p, "OSSAccessKeyId", "Signature"))(policy)
        fields.update({"key": key, "x-%s-meta-who" % dialect: "form"})
        data = b"from a form " * 1000
        r = post(f"{bed['front'].url}/{b}", fields, data)
        assert r.status_code == 204, r.text
        assert f"x-{dialect}-request-id" in r.headers
        assert stored(bed, b, key) == data
        meta = garage_direct(bed).head_object(Bucket=b, Key=key)
        assert meta["Metadata"].get("who") == "form" or backend != "s3"


def s3_form(bed, key, conditions=None, expires=600):
    policy = {"expiration": expiry(expires), "conditions": [{"bucket": BUCKETS["s3"]}, ["eq", "$key", key],
                                                            *(conditions or [])]}
    return {"key": key, **v2_signed(policy, "AWSAccessKeyId", "signature")}


def refused(r, status, code):
    assert r.status_code == status, r.text
    assert f"<Code>{code}</Code>" in r.text, r.text


def test_hostile_forms_are_refused_and_nothing_is_stored(bed):
    url, b = f"{bed['front'].url}/{BUCKETS['s3']}", BUCKETS["s3"]
    # Expired policy.
    f = s3_form(bed, "post/bad/expired", expires=-60)
    refused(post(url, f, b"x"), 403, "AccessDenied")
    # Tampered policy: another key than the one signed.
    f = s3_form(bed, "post/bad/tampered")
    f["key"] = "post/bad/elsewhere"
    refused(post(url, f, b"x"), 403, "AccessDenied")
    f = s3_form(bed, "post/bad/sig")
    f["signature"] = base64.b64encode(b"0" * 20).decode()
    refused(post(url, f, b"x"), 403, "SignatureDoesNotMatch")
    # Larger than content-length-range.
    f = s3_form(bed, "post/bad/large", [["content-length-range", 1, 1000]])
    refused(post(url, f, b"y" * 2000), 400, "EntityTooLarge")
    # A field the policy does not name (S3 requires each one).
    f = s3_form(bed, "post/bad/extra")
    f["x-amz-meta-sneaky"] = "1"
    refused(post(url, f, b"x"), 403, "AccessDenied")
    # No file; a field after the file.
    f = s3_form(bed, "post/bad/nofile")
    r = requests.post(url, files={k: (None, v) for k, v in f.items()}, timeout=30)
    refused(r, 400, "MalformedPOSTRequest")
    f = s3_form(bed, "post/bad/after")
    parts = [(k, (None, v)) for k, v in f.items()] + [("file", ("a.txt", b"data")), ("late", (None, "x"))]
    refused(requests.post(url, files=parts, timeout=30), 400, "MalformedPOSTRequest")
    for k in ["expired", "tampered", "elsewhere", "sig", "large", "extra", "nofile", "after"]:
        assert stored(bed, b, f"post/bad/{k}") is None, k
    # Towards a route whose backend is a tripwire: each refusal comes within a second, nothing is sent.
    before, trip = bed["trip"].count, f"{bed['front'].url}/trip-post-1250000000"
    for mutate in (lambda f: f.update(signature=base64.b64encode(b"1" * 20).decode()),
                   lambda f: f.update(key="post/elsewhere"),
                   lambda f: f.pop("policy")):
        policy = {"expiration": expiry(), "conditions": [{"bucket": "trip-post-1250000000"},
                                                         ["eq", "$key", "post/k"]]}
        f = {"key": "post/k", **v2_signed(policy, "AWSAccessKeyId", "signature")}
        mutate(f)
        started = time.monotonic()
        r = post(trip, f, b"x" * 1000)
        assert r.status_code in (400, 403) and time.monotonic() - started < 1, r.text
    assert bed["trip"].count == before


def test_redirect_after_upload(bed):
    url, key = f"{bed['front'].url}/{BUCKETS['s3']}", "post/redirect.txt"
    f = s3_form(bed, key, [["starts-with", "$success_action_redirect", "https://app.example/"]])
    f["success_action_redirect"] = "https://app.example/done"
    r = post(url, f, b"r")
    assert r.status_code == 303
    assert r.headers["Location"].startswith("https://app.example/done?bucket=") and "key=post%2Fredirect.txt" in \
        r.headers["Location"]
    assert stored(bed, BUCKETS["s3"], key) == b"r"


def test_a_one_gib_form_streams_in_bounded_memory(bed):
    """A 1 GiB file through a form: the gateway's peak RSS stays under 64 MiB; Garage's ETag (MD5) proves the
    bytes. The body is sent from a generator, never held whole."""
    import http.client

    from conftest import Proxy, standin_config
    g = bed["garage"]
    proxy = Proxy(bed["work"], "post-big", standin_config(CLIENT_AK, CLIENT_SK, g))

    try:
        key, b, boundary = "post/big.bin", BUCKETS["s3"], "----dialectproxyboundary"
        policy = {"expiration": expiry(), "conditions": [{"bucket": b}, ["eq", "$key", key],
                                                         ["content-length-range", 1, 2 << 30]]}
        fields = {"key": key, **v2_signed(policy, "AWSAccessKeyId", "signature")}
        head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                       for k, v in fields.items())
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        tail = f"\r\n--{boundary}--\r\n".encode()
        block, n = os.urandom(1 << 20), 1024
        md5 = hashlib.md5()
        for _ in range(n):
            md5.update(block)

        def body():
            yield head.encode()
            for _ in range(n):
                yield block
            yield tail
        length = len(head.encode()) + n * len(block) + len(tail)
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=300)
        conn.request("POST", f"/{b}", body=body(), headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Content-Length": str(length)})
        r = conn.getresponse()
        assert r.status == 204, r.read()[:500]
        assert r.getheader("ETag").strip('"') == md5.hexdigest()
        conn.close()
        peak = 0
        for line in open(f"/proc/{proxy.proc.p.pid}/status"):
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
        print(f"1 GiB form upload: gateway peak RSS {peak:.1f} MiB")
        assert peak < 64, f"peak RSS {peak:.1f} MiB"
        assert garage_direct(bed).head_object(Bucket=b, Key=key)["ContentLength"] == n << 20
    finally:
        proxy.stop()
