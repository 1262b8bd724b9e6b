"""The rules layer itself (rules.py), driven directly with raw HTTP: each rule refuses in its cloud's shape before
the stand-in is reached (so no signature is needed), and a request that breaks no rule reaches the stand-in."""
import base64
import hashlib
import http.client
import re
import uuid

import pytest

from conftest import APPID, BUCKETS

OBS_B, COS_B = BUCKETS["obs"], BUCKETS["cos"]
COS_HOST = f"{COS_B}.cos.ap-guangzhou.myqcloud.com"
DELETE_DOC = b'<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>'


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def send(layer, method, target, headers=None, body=None, chunked=False, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", layer.port, timeout=30)
    c.request(method, target, body=body, headers=headers or {}, encode_chunked=chunked)
    r = c.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    if conn is None:
        c.close()
    return out


def code_of(body):
    m = re.search(r"<Code>([^<]*)</Code>", body)
    return m.group(1) if m else None


def refused(bed, cloud, rule, status, code, method, target, headers=None, body=None, chunked=False):
    """Send, and check the answer is the rules layer's refusal in the cloud's shape, and is on record."""
    layer = bed[f"{cloud}_rules"]
    before = len(layer.violations)
    st, h, text = send(layer, method, target, headers, body, chunked)
    assert (st, code_of(text)) == (status, code), text
    assert h["content-type"] == "application/xml" and h["connection"] == "close"
    rid = re.search(r"<RequestId>([^<]+)</RequestId>", text).group(1)
    if cloud in ("obs", "oss"):
        assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'), text
        assert "<HostId>" in text and h[f"x-{cloud}-request-id"] == rid
    else:
        assert text.startswith("<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>"), text
        assert "<Resource>" in text and "<TraceId>" in text and h["x-cos-request-id"] == rid
    assert f"rules-layer {rule}:" in text
    assert layer.violations[before:] == [(rule, method, target)]
    return text


def reached_standin(bed, cloud, method, target, headers=None, body=None):
    """The request broke no rule: the answer is the stand-in's (unsigned, so an auth error), not the layer's."""
    layer = bed[f"{cloud}_rules"]
    before = len(layer.violations)
    st, _, text = send(layer, method, target, headers, body)
    assert "rules-layer" not in text and layer.violations[before:] == [], text
    assert st in (400, 403) and code_of(text), (st, text)
    return st, text


# 1. Listing: V1 only (OBS obs_04_0022; COS 436/7734).

def test_obs_refuses_list_v2(bed):
    refused(bed, "obs", "obs-list-v1", 400, "InvalidArgument", "GET", f"/{OBS_B}?list-type=2&prefix=a")
    refused(bed, "obs", "obs-list-v1", 400, "InvalidArgument", "GET", f"/{OBS_B}?continuation-token=abc")


def test_obs_deployment_serving_list_v2(bed):
    layer = bed["obs_rules"]
    layer.list_v2 = True
    try:
        reached_standin(bed, "obs", "GET", f"/{OBS_B}?list-type=2")
    finally:
        layer.list_v2 = False


def test_cos_refuses_list_v2(bed):
    refused(bed, "cos", "cos-list-v1", 400, "InvalidArgument", "GET", "/?list-type=2&start-after=a",
            {"Host": COS_HOST})
    refused(bed, "cos", "cos-list-v1", 400, "InvalidArgument", "GET", f"/{COS_B}?fetch-owner=true")


def test_v1_listing_passes(bed):
    reached_standin(bed, "obs", "GET", f"/{OBS_B}?marker=a&max-keys=10&prefix=p&delimiter=/")
    reached_standin(bed, "cos", "GET", "/?marker=a&max-keys=10", {"Host": COS_HOST})


# 2. Multi-object delete: Content-MD5 and Content-Length required, digest checked (obs_04_0086; 436/8289, 436/7728).

@pytest.mark.parametrize("cloud,rule,code", [("obs", "obs-md5-required", "MissingRequiredHeader"),
                                             ("cos", "cos-md5-required", "MissingContentMD5")])
def test_multi_delete_needs_content_md5(bed, cloud, rule, code):
    refused(bed, cloud, rule, 400, code, "POST", f"/{BUCKETS[cloud]}?delete", body=DELETE_DOC)


@pytest.mark.parametrize("cloud", ["obs", "cos"])
def test_multi_delete_digest_must_match(bed, cloud):
    refused(bed, cloud, f"{cloud}-bad-digest", 400, "BadDigest", "POST", f"/{BUCKETS[cloud]}?delete",
            {"Content-MD5": md5_b64(b"another body")}, DELETE_DOC)


@pytest.mark.parametrize("cloud", ["obs", "cos"])
def test_multi_delete_needs_content_length(bed, cloud):
    refused(bed, cloud, f"{cloud}-length-required", 411, "MissingContentLength", "POST", f"/{BUCKETS[cloud]}?delete",
            {"Content-MD5": md5_b64(DELETE_DOC)}, iter([DELETE_DOC]), chunked=True)


@pytest.mark.parametrize("cloud", ["obs", "cos"])
def test_multi_delete_with_matching_md5_passes(bed, cloud):
    reached_standin(bed, cloud, "POST", f"/{BUCKETS[cloud]}?delete", {"Content-MD5": md5_b64(DELETE_DOC)},
                    DELETE_DOC)


def test_obs_accepts_content_sha256_instead(bed):
    digest = base64.b64encode(hashlib.sha256(DELETE_DOC).digest()).decode()
    reached_standin(bed, "obs", "POST", f"/{OBS_B}?delete", {"Content-SHA256": digest}, DELETE_DOC)


# 3. Other configuration PUTs whose pages make Content-MD5 mandatory.

@pytest.mark.parametrize("cloud,target", [
    ("obs", f"/{OBS_B}?lifecycle"),         # obs_04_0034
    ("obs", f"/{OBS_B}?cors"),              # obs_04_0074
    ("obs", f"/{OBS_B}?tagging"),           # obs_04_0049
    ("obs", f"/{OBS_B}/some/key?tagging"),  # obs_04_0172
    ("obs", f"/{OBS_B}?replication"),       # obs_04_0046
    ("cos", f"/{COS_B}?lifecycle"),         # 436/8280
    ("cos", f"/{COS_B}?cors"),              # 436/8279
    ("cos", f"/{COS_B}?tagging"),           # 436/34838
])
def test_configuration_puts_need_content_md5(bed, cloud, target):
    code = "MissingRequiredHeader" if cloud == "obs" else "MissingContentMD5"
    refused(bed, cloud, f"{cloud}-md5-required", 400, code, "PUT", target, body=b"<Configuration/>")


# 4. Storage classes in the vendor header.

@pytest.mark.parametrize("cloud,value", [("obs", "STANDARD_IA"), ("obs", "GLACIER"), ("obs", "standard"),
                                         ("cos", "GLACIER"), ("cos", "ONEZONE_IA"), ("cos", "WARM")])
def test_storage_class_outside_the_vendor_set(bed, cloud, value):
    refused(bed, cloud, f"{cloud}-storage-class", 400, "InvalidArgument", "PUT", f"/{BUCKETS[cloud]}/k",
            {f"x-{cloud}-storage-class": value}, b"data")


@pytest.mark.parametrize("cloud,value", [("obs", "WARM"), ("obs", "DEEP_ARCHIVE"), ("cos", "STANDARD_IA"),
                                         ("cos", "ARCHIVE")])
def test_storage_class_in_the_vendor_set_passes(bed, cloud, value):
    reached_standin(bed, cloud, "PUT", f"/{BUCKETS[cloud]}/k", {f"x-{cloud}-storage-class": value}, b"data")


# 5. Canned ACLs, separately for objects and buckets.

@pytest.mark.parametrize("cloud,target,value", [
    ("obs", f"/{OBS_B}/k", "public-read-delivered"),   # bucket-only (obs_06_0043)
    ("obs", f"/{OBS_B}/k", "authenticated-read"),      # S3's, not OBS's
    ("obs", f"/{OBS_B}?acl", "bucket-owner-full-control"),
    ("cos", f"/{COS_B}/k", "public-read-write"),       # not for objects (436/30583)
    ("cos", f"/{COS_B}?acl", "default"),               # objects only
    ("cos", f"/{COS_B}/k", "aws-exec-read"),
])
def test_canned_acl_outside_the_vendor_set(bed, cloud, target, value):
    refused(bed, cloud, f"{cloud}-acl", 400, "InvalidArgument", "PUT", target, {f"x-{cloud}-acl": value}, b"")


@pytest.mark.parametrize("cloud,target,value", [("obs", f"/{OBS_B}?acl", "public-read-delivered"),
                                                ("obs", f"/{OBS_B}/k", "bucket-owner-full-control"),
                                                ("cos", f"/{COS_B}/k", "default"),
                                                ("cos", f"/{COS_B}?acl", "authenticated-read")])
def test_canned_acl_in_the_vendor_set_passes(bed, cloud, target, value):
    reached_standin(bed, cloud, "PUT", target, {f"x-{cloud}-acl": value}, b"")


# 6. Headers of the other dialects.

@pytest.mark.parametrize("cloud,header", [("obs", "x-amz-meta-colour"), ("obs", "x-amz-content-sha256"),
                                          ("obs", "x-cos-meta-colour"), ("cos", "x-amz-date"),
                                          ("cos", "x-obs-meta-colour")])
def test_foreign_dialect_headers(bed, cloud, header):
    text = refused(bed, cloud, f"{cloud}-foreign-header", 400, "InvalidArgument", "PUT", f"/{BUCKETS[cloud]}/k",
                   {header: "x"}, b"data")
    assert header in text


def test_refused_head_has_no_body(bed):
    layer = bed["obs_rules"]
    st, h, text = send(layer, "HEAD", f"/{OBS_B}/k", {"x-amz-date": "20240315T123456Z"})
    assert st == 400 and text == "" and int(h["content-length"]) > 0 and "x-obs-request-id" in h
    assert layer.violations[-1] == ("obs-foreign-header", "HEAD", f"/{OBS_B}/k")


# 7. COS bucket names carry the APPID (436/13312).

@pytest.mark.parametrize("target,host", [("/plainbucket/k", None), ("/k", "plainbucket.cos.ap-guangzhou.myqcloud.com"),
                                         ("/k", "bucket-12345.cos.ap-guangzhou.myqcloud.com")])
def test_cos_bucket_without_appid(bed, target, host):
    refused(bed, "cos", "cos-bucket-name", 400, "InvalidBucketName", "GET", target, {"Host": host} if host else {})


# A request that breaks no rule goes through, and the connection stays usable for the next one.

@pytest.mark.parametrize("cloud", ["obs", "cos"])
def test_valid_requests_reach_the_standin_on_one_connection(bed, cloud):
    layer = bed[f"{cloud}_rules"]
    headers = {"Host": COS_HOST} if cloud == "cos" else {}
    target = "/" if cloud == "cos" else f"/{OBS_B}/"
    before = len(layer.violations)
    conn = http.client.HTTPConnection("127.0.0.1", layer.port, timeout=30)
    try:
        for _ in range(3):
            st, h, text = send(layer, "GET", target, headers, conn=conn)
            assert st == 403 and code_of(text) and "rules-layer" not in text, text
            assert h.get("connection", "").lower() != "close"
    finally:
        conn.close()
    assert layer.violations[before:] == []


@pytest.mark.parametrize("cloud,small", [("obs", 100 * 1024 - 1), ("cos", 1024 * 1024 - 1)])
def test_parts_below_the_clouds_minimum_are_refused_at_complete(bed, cloud, small):
    """OBS parts are 100 KB to 5 GB (obs_04_0099), COS parts 1 MB to 5 GB (436/7750), the last one smaller."""
    import http.client
    layer = bed[f"{cloud}_rules"]
    host = {"obs": "b.obs.cn-north-4.myhuaweicloud.com", "cos": f"b-{APPID}.cos.ap-guangzhou.myqcloud.com"}[cloud]
    upload = uuid.uuid4().hex
    conn = http.client.HTTPConnection("127.0.0.1", layer.port, timeout=10)
    try:
        # The layer records the size from the head as the part passes. The stand-in then refuses the unsigned
        # request, possibly before the body has arrived, and its close may reset the connection: the answer to
        # this part is not what the test is about.
        conn.request("PUT", f"/k?partNumber=1&uploadId={upload}", body=b"x" * small, headers={"Host": host})
        conn.getresponse().read()
    except (ConnectionError, http.client.HTTPException):
        pass
    finally:
        conn.close()
    body = b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part>" \
           b"<Part><PartNumber>2</PartNumber></Part></CompleteMultipartUpload>"
    conn = http.client.HTTPConnection("127.0.0.1", layer.port, timeout=10)
    try:
        conn.request("POST", f"/k?uploadId={upload}", body=body, headers={"Host": host})
        r = conn.getresponse()
        text = r.read().decode()
    finally:
        conn.close()
    assert r.status == 400 and "<Code>EntityTooSmall</Code>" in text and f"{cloud}-parts" in text, text


OSS_B = BUCKETS["oss"]
OSS_HOST = f"{OSS_B}.oss-cn-hangzhou.aliyuncs.com"


def test_oss_rules_refuse_what_oss_documents(bed):
    # Path style is refused (compatibility-with-amazon-s3); virtual-hosted reaches the stand-in.
    refused(bed, "oss", "oss-virtual-hosted", 403, "SecondLevelDomainForbidden", "GET", f"/{OSS_B}/k",
            {"Host": "oss-cn-hangzhou.aliyuncs.com"})
    # DeleteMultipleObjects without Content-MD5 (doc 31983; 0016-00000606).
    refused(bed, "oss", "oss-md5-required", 400, "InvalidDigest", "POST", "/?delete", {"Host": OSS_HOST},
            DELETE_DOC)
    refused(bed, "oss", "oss-storage-class", 400, "InvalidArgument", "PUT", "/k",
            {"Host": OSS_HOST, "x-oss-storage-class": "STANDARD_IA"}, b"x")
    refused(bed, "oss", "oss-object-acl", 400, "InvalidArgument", "PUT", "/k",
            {"Host": OSS_HOST, "x-oss-object-acl": "bucket-owner-full-control"}, b"x")
    refused(bed, "oss", "oss-acl-scope", 400, "InvalidArgument", "PUT", "/?acl",
            {"Host": OSS_HOST, "x-oss-object-acl": "private"}, b"")
    refused(bed, "oss", "oss-foreign-header", 400, "InvalidArgument", "PUT", "/k",
            {"Host": OSS_HOST, "x-amz-acl": "private"}, b"x")
    refused(bed, "oss", "oss-customer-keys", 400, "InvalidArgument", "PUT", "/k",
            {"Host": OSS_HOST, "x-oss-server-side-encryption-customer-algorithm": "AES256"}, b"x")
    refused(bed, "oss", "oss-payload", 400, "InvalidArgument", "PUT", "/k",
            {"Host": OSS_HOST, "Authorization": "OSS4-HMAC-SHA256 Credential=a/b/c/oss/aliyun_v4_request"}, b"x")
    reached_standin(bed, "oss", "PUT", "/k", {"Host": OSS_HOST, "x-oss-storage-class": "IA"}, b"x")
