#!/usr/bin/env python3
"""
Golden signing vectors for Aliyun OSS, produced by Alibaba Cloud's own SDKs:

  * oss2                 (Python, legacy SDK):  oss2.Auth (V1, HMAC-SHA1), oss2.ProviderAuthV4 (OSS4-HMAC-SHA256),
                                                oss2.StsAuth (V1 and V4 with a security token)
  * alibabacloud-oss-v2  (Python, current SDK): SignerV4 (default) and SignerV1 (signature_version='v1')
  * ali-oss              (Node.js, optional):   V1 default and authorizationV4=true; signatureUrl / signatureUrlV4

Every signature comes from the SDK's own code path: we call the SDK's public client method (or its presign
helper) and capture the request *as bytes on the wire*: urllib3's connect() is replaced so that the socket is an
in-memory object which records everything http.client writes (request line, headers in the exact order sent,
body) and answers with a canned OSS response. Nothing is sent anywhere and no TLS happens. The SDK then parses
the canned response, and what it made of it is recorded under `response_probe` for a few vectors (which ETag
source an SDK reads, how it parses an error document).

ali-oss is driven from an embedded Node script; its transport (`urllib.request`) is replaced by a recorder, so
for those vectors `request.headers` are the headers ali-oss hands to its HTTP library (Host added first).

Determinism: every clock the SDKs read is pinned to FIXED (2024-03-15T12:34:56Z); User-Agent strings (which
embed the OS/Python version) are pinned; mimetypes uses only Python's built-in table. `--check` regenerates
twice in memory, requires the two runs to be identical, and compares with oss.json on disk.

Every vector is also re-verified by an independent stdlib-only implementation of OSS V1/V4 in this file
(`reverify`), working from the wire data alone, and its canonical strings are compared with the SDK's.

Usage:
    python3 -m venv ~/.cache/dialect-proxy/venv-oss
    ~/.cache/dialect-proxy/venv-oss/bin/pip install oss2==2.19.1 alibabacloud-oss-v2==1.4.1
    npm install --prefix /tmp/oss-node ali-oss@6.23.0          # optional; or pass --no-node
    ~/.cache/dialect-proxy/venv-oss/bin/python gen.py          # writes ../oss.json (beside the other dialects' vectors)
    ~/.cache/dialect-proxy/venv-oss/bin/python gen.py --check  # byte-identical regeneration check
"""
import argparse
import base64
import datetime as _dt
import hashlib
import hmac
import io
import json
import mimetypes
import os
import shutil
import subprocess
import sys
import tempfile
import types
from urllib.parse import urlsplit, unquote, quote

mimetypes.init(files=[])          # built-in table only: /etc/mime.types differs between machines

# --------------------------------------------------------------------------------------
# Fixed clock and shared inputs (same fixed time and key set as ../../../shared/vectors/gen.py)
# --------------------------------------------------------------------------------------
FIXED_EPOCH = 1710506096
FIXED_UTC = _dt.datetime(2024, 3, 15, 12, 34, 56, tzinfo=_dt.timezone.utc)
assert int(FIXED_UTC.timestamp()) == FIXED_EPOCH
TS = {"iso8601": "2024-03-15T12:34:56Z", "epoch": FIXED_EPOCH,
      "rfc1123": "Fri, 15 Mar 2024 12:34:56 GMT", "amz": "20240315T123456Z"}

KEYS = {
    "ascii": "dir/object.bin",
    "space": "dir/my key  two-spaces.txt",
    "unicode": "unicode/файл-测试-é.bin",
    "special": "sp/a+b%c~d=e&f;g,h'i(j)k*l!m@n$o.dat",
    "mixed": "mixed key+%~é/子 目录.dat",
}
CRED = {"access_key": "LTAI5tOSSEXAMPLE00000001", "secret_key": "ossSecretKeyExample/+0123456789abcdefAB"}
STS = {"access_key": "STS.NUgYrLnoC37mZZCNnAbez2EXAMPLE", "secret_key": "stsSecretKeyExample0123456789abcdefABCD",
       "security_token": "CAIS8gF1q6Ft5B2yfSjIr5bSEXAMPLE+TOKEN/with+plus/and/slash=="}
REGION = "cn-hangzhou"
ENDPOINT = "https://oss-cn-hangzhou.aliyuncs.com"
DEST, SRC = "destbucket", "srcbucket"
UPL = "0004B9895DBBB6EC98E36F0B4C1A4E6B"
VER = "CAEQNhiBgMDJgZCA0BYiIDc4MGZjZGI2OTBjOTRmNTE5NmU5NmFhZjhjYmY0MDU3"
ETAG1 = '"0CC175B9C0F1B6A831C399E269772661"'
ETAG2 = '"92EB5FFEE6AE2FEC3AD71C777531578F"'
PART_BODY = b"hello world, this is part 1\n"
COND = {"if-match": '"5B3C1A2E053D763E1B002CC607C5A0FE"',
        "if-none-match": '"00000000000000000000000000000000"',
        "if-modified-since": "Thu, 14 Mar 2024 00:00:00 GMT",
        "if-unmodified-since": "Fri, 15 Mar 2024 00:00:00 GMT"}
PINNED_UA = {"oss2": "aliyun-sdk-python/%s(Linux/pinned/x86_64;3)",
             "v2": "alibabacloud-python-sdk-v2/%s (Linux/pinned/x86_64;3)",
             "ali-oss": "aliyun-sdk-nodejs/%s Node.js pinned on Linux x64"}
HERE = os.path.dirname(os.path.abspath(__file__))


def md5b64(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def body_record(body):
    if not body:
        return {"present": False}
    if isinstance(body, str):
        body = body.encode("utf-8")
    rec = {"present": True, "length": len(body), "sha256_hex": hashlib.sha256(body).hexdigest(),
           "md5_b64": md5b64(body), "b64": base64.b64encode(body).decode()}
    try:
        rec["utf8"] = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    return rec


def split_target(target):
    p, _, q = target.partition("?")
    return p, q


# ======================================================================================
# Wire capture: an in-memory socket behind urllib3 (used by both Python SDKs via requests)
# ======================================================================================
class FakeSock:
    def __init__(self, wire):
        self.wire = wire
        self.out = bytearray()

    def sendall(self, data):
        self.out += data

    def send(self, data):
        self.out += data
        return len(data)

    def makefile(self, mode="rb", *a, **k):
        self.wire.raw = bytes(self.out)
        return io.BytesIO(self.wire.respond(bytes(self.out)))

    def settimeout(self, t):
        pass

    def gettimeout(self):
        return None

    def setsockopt(self, *a):
        pass

    def close(self):
        pass


class Wire:
    """Installs the fake socket; `response` is what the next request is answered with."""

    def __init__(self):
        import urllib3.connection as uc
        self.raw = None
        self.response = None
        wire = self

        def connect(conn):
            conn.sock = FakeSock(wire)
            conn.is_verified = True
            conn.proxy_is_verified = None
            conn._has_connected_to_proxy = False

        uc.HTTPConnection.connect = connect
        uc.HTTPSConnection.connect = connect

    def arm(self, response):
        self.raw = None
        self.response = response

    def respond(self, _req):
        status, reason, headers, body = self.response
        if isinstance(body, str):
            body = body.encode("utf-8")
        lines = ["HTTP/1.1 %d %s" % (status, reason), "Date: " + TS["rfc1123"], "Server: AliyunOSS",
                 "x-oss-request-id: 65F4406FEXAMPLE0000000001", "Content-Length: %d" % len(body)]
        lines += ["%s: %s" % kv for kv in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body

    def parsed(self):
        raw = self.raw
        head, _, body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        method, target, _ = lines[0].decode("ascii").split(" ", 2)
        hdrs = []
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            try:
                v = v.strip().decode("utf-8")
            except UnicodeDecodeError:
                v = v.strip().decode("latin-1")
            hdrs.append([k.decode("ascii"), v])
        if any(k.lower() == "transfer-encoding" and v.lower() == "chunked" for k, v in hdrs):
            body = dechunk(body)
        return method, target, hdrs, body


def dechunk(b):
    out = b""
    while b:
        size, _, rest = b.partition(b"\r\n")
        n = int(size.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        b = rest[n + 2:]
    return out


# canned responses -------------------------------------------------------------------------
XML = [("Content-Type", "application/xml")]
ETAG_HDR = '"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"'
ETAG_XML = '"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"'
R_COPYPART = (200, "OK", XML + [("ETag", ETAG_HDR)],
              '<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult>\n  <LastModified>2024-03-15T12:34:56.000Z</LastModified>\n'
              '  <ETag>%s</ETag>\n</CopyPartResult>' % ETAG_XML)
R_EMPTY = (200, "OK", [("ETag", ETAG1)], b"")


def r_put(body):
    import oss2.utils
    c = oss2.utils.Crc64(0)
    c.update(body)
    return (200, "OK", [("ETag", ETAG1), ("x-oss-hash-crc64ecma", str(c.crc)), ("Content-MD5", md5b64(body))], b"")


def r_init(key):
    return (200, "OK", XML, '<?xml version="1.0" encoding="UTF-8"?>\n<InitiateMultipartUploadResult>\n  <Bucket>%s</Bucket>\n'
            '  <Key>%s</Key>\n  <UploadId>%s</UploadId>\n</InitiateMultipartUploadResult>' % (DEST, xml_esc(key), UPL))


def r_complete(key, url_encoded):
    k = quote(key, safe="") if url_encoded else xml_esc(key)
    enc = "  <EncodingType>url</EncodingType>\n" if url_encoded else ""
    return (200, "OK", XML + [("x-oss-hash-crc64ecma", "0")],
            '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult>\n%s  <Location>https://%s.oss-%s.aliyuncs.com/%s</Location>\n'
            '  <Bucket>%s</Bucket>\n  <Key>%s</Key>\n  <ETag>"097DE458AD02B5F89F9D0530231876F9-2"</ETag>\n</CompleteMultipartUploadResult>'
            % (enc, DEST, REGION, quote(key), DEST, k))


def r_list(v2):
    key = quote(KEYS["mixed"], safe="")
    extra = "  <KeyCount>1</KeyCount>\n" if v2 else "  <Marker></Marker>\n"
    return (200, "OK", XML,
            '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult>\n  <Name>%s</Name>\n  <Prefix>dir%%2F</Prefix>\n%s'
            '  <MaxKeys>100</MaxKeys>\n  <Delimiter>%%2F</Delimiter>\n  <EncodingType>url</EncodingType>\n  <IsTruncated>false</IsTruncated>\n'
            '  <Contents>\n    <Key>%s</Key>\n    <LastModified>2024-03-15T12:34:56.000Z</LastModified>\n    <ETag>%s</ETag>\n'
            '    <Type>Normal</Type>\n    <Size>28</Size>\n    <StorageClass>Standard</StorageClass>\n'
            '    <Owner>\n      <ID>1234567890123456</ID>\n      <DisplayName>1234567890123456</DisplayName>\n    </Owner>\n  </Contents>\n'
            '  <CommonPrefixes>\n    <Prefix>dir%%2Fsub%%2F</Prefix>\n  </CommonPrefixes>\n</ListBucketResult>'
            % (DEST, extra, key, ETAG1))


R_GET = (206, "Partial Content", [("Content-Type", "application/octet-stream"), ("Content-Range", "bytes 0-9/28"),
                                   ("Accept-Ranges", "bytes"), ("ETag", ETAG1), ("x-oss-object-type", "Normal")], PART_BODY[:10])
R_ERROR = (412, "Precondition Failed", XML + [("x-oss-ec", "0026-00000001")],
           '<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n  <Code>PreconditionFailed</Code>\n'
           '  <Message>At least one of the pre-conditions you specified did not hold.</Message>\n'
           '  <RequestId>65F4406FEXAMPLE0000000001</RequestId>\n  <HostId>%s.oss-%s.aliyuncs.com</HostId>\n'
           '  <Condition>If-Match</Condition>\n  <EC>0026-00000001</EC>\n</Error>' % (DEST, REGION))


def xml_esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ======================================================================================
# Clock pinning
# ======================================================================================
class FakeDT(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        d = FakeDT(2024, 3, 15, 12, 34, 56, tzinfo=_dt.timezone.utc)
        return d.replace(tzinfo=None) if tz is None else d.astimezone(tz)

    @classmethod
    def utcnow(cls):
        return FakeDT(2024, 3, 15, 12, 34, 56)


FAKE_DATETIME_MODULE = types.SimpleNamespace(datetime=FakeDT, timezone=_dt.timezone, timedelta=_dt.timedelta, date=_dt.date)


# ======================================================================================
# Vector assembly
# ======================================================================================
def make_vector(vid, scheme, sdk, desc, call, cred, method, target, hdrs, body, auth, notes, probe=None, scheme_url="https"):
    path, query = split_target(target)
    host = next((v for k, v in hdrs if k.lower() == "host"), "")
    v = {
        "id": vid, "dialect": "oss", "signature_scheme": scheme, "sdk": sdk, "description": desc, "sdk_call": call,
        "credentials": {"access_key": cred["access_key"], "secret_key": cred["secret_key"],
                        "security_token": cred.get("security_token")},
        "timestamp": TS,
        "request": {"method": method, "scheme": scheme_url, "host": host, "request_target": target,
                    "raw_path": path, "raw_query": query, "headers": hdrs, "body": body_record(body)},
        "auth": auth,
        "notes": notes,
    }
    if probe is not None:
        v["response_probe"] = probe
    return v


def header_auth(hdrs):
    a = [v for k, v in hdrs if k.lower() == "authorization"]
    return a[0] if a else None


def jsonable(o):
    if isinstance(o, dict):
        return {k: jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [jsonable(x) for x in o]
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    if isinstance(o, _dt.timedelta):
        return int(o.total_seconds())
    if isinstance(o, bytes):
        return o.decode("utf-8", "replace")
    if hasattr(o, "__dict__"):
        return {k: jsonable(v) for k, v in vars(o).items() if v is not None and not k.startswith("_")}
    return o


# ======================================================================================
# oss2
# ======================================================================================
def gen_oss2(wire):
    import oss2
    import oss2.auth as oa
    import oss2.http as oh
    import oss2.utils as ou
    from email.utils import formatdate
    from oss2.models import PartInfo

    version = oss2.__version__
    oh.USER_AGENT = PINNED_UA["oss2"] % version
    ou.http_date = lambda timeval=None: formatdate(FIXED_EPOCH if timeval is None else timeval, usegmt=True)
    oa.time = types.SimpleNamespace(time=lambda: float(FIXED_EPOCH))
    oa.datetime = FakeDT

    cap = {}

    def wrap(cls, name, field, post=None):
        orig = getattr(cls, name)

        def f(self, *a, **k):
            r = orig(self, *a, **k)
            cap[field] = r.decode("utf-8") if isinstance(r, bytes) else r
            return r
        setattr(cls, name, f)

    wrap(oa.ProviderAuth, "_ProviderAuth__get_bytes_to_sign", "string_to_sign")
    wrap(oa.ProviderAuthV4, "_ProviderAuthV4__get_canonical_request_bytes", "canonical_request")
    wrap(oa.ProviderAuthV4, "_ProviderAuthV4__get_string_to_sign_bytes", "string_to_sign")

    def auth_for(mode):
        if mode == "v1":
            return oss2.Auth(CRED["access_key"], CRED["secret_key"]), CRED, "oss2.Auth (ProviderAuth._sign_request)"
        if mode == "v4":
            return (oss2.ProviderAuthV4(oss2.credentials.StaticCredentialsProvider(CRED["access_key"], CRED["secret_key"])),
                    CRED, "oss2.ProviderAuthV4._sign_request")
        if mode == "sts-v1":
            return (oss2.StsAuth(STS["access_key"], STS["secret_key"], STS["security_token"]), STS,
                    "oss2.StsAuth(auth_version='v1') -> ProviderAuth")
        if mode == "sts-v4":
            return (oss2.StsAuth(STS["access_key"], STS["secret_key"], STS["security_token"], auth_version="v4"), STS,
                    "oss2.StsAuth(auth_version='v4') -> ProviderAuthV4")
        raise ValueError(mode)

    def bucket(mode, name=DEST):
        auth, cred, signer = auth_for(mode)
        b = oss2.Bucket(auth, ENDPOINT, name, session=oss2.Session(), region=REGION)
        return b, cred, signer

    def sdk_info(signer, mode):
        return {"package": "oss2", "version": version, "signer": signer,
                "client_config": {"endpoint": ENDPOINT, "region": REGION if "v4" in mode else None,
                                  "auth_version": "v4" if "v4" in mode else "v1", "enable_crc": True}}

    def scheme_of(mode, loc):
        return ("OSS4-HMAC-SHA256" if "v4" in mode else "OSS V1 HMAC-SHA1") + " (%s)" % loc

    vectors = []

    def run(vid, mode, desc, call, fn, response, notes=None, probe_fn=None):
        cap.clear()
        wire.arm(response)
        b, cred, signer = bucket(mode)
        res, err = None, None
        try:
            res = fn(b)
        except oss2.exceptions.OssError as e:
            err = e
        method, target, hdrs, body = wire.parsed()
        auth = {"location": "header", "authorization": header_auth(hdrs)}
        if "canonical_request" in cap:
            auth["canonical_request"] = cap["canonical_request"]
        auth["string_to_sign"] = cap["string_to_sign"]
        probe = probe_fn(res, err) if probe_fn else None
        vectors.append(make_vector(vid, scheme_of(mode, "header"), sdk_info(signer, mode), desc, dict(call, auth=mode), cred,
                                   method, target, hdrs, body, auth, notes or [], probe))

    def presign(vid, mode, desc, call, fn, notes=None, send_headers=None):
        cap.clear()
        b, cred, signer = bucket(mode)
        url = fn(b)
        u = urlsplit(url)
        hdrs = [["Host", u.netloc]] + [[k, v] for k, v in (send_headers or {}).items()]
        auth = {"location": "query", "presigned_url": url}
        if "canonical_request" in cap:
            auth["canonical_request"] = cap["canonical_request"]
        auth["string_to_sign"] = cap["string_to_sign"]
        signer = signer.replace("_sign_request", "_sign_url") + " via Bucket.sign_url"
        vectors.append(make_vector(vid, scheme_of(mode, "query"), sdk_info(signer, mode), desc, dict(call, auth=mode), cred,
                                   call.get("method", "GET"), u.path + "?" + u.query, hdrs, None, auth,
                                   (notes or []) + ["request.headers: what a client must send with the URL (Host plus any signed header)."]))

    def etag_probe(res, err):
        return {"etag_header_sent": ETAG_HDR, "etag_xml_sent": ETAG_XML,
                "sdk_result_etag": None if res is None else res.etag,
                "conclusion": "oss2 upload_part_copy returns PutObjectResult: ETag taken from the response HEADER (XML body ignored)"}

    def error_probe(res, err):
        return {"status_sent": 412, "error_xml_sent": R_ERROR[3],
                "sdk_exception": type(err).__name__, "sdk_fields": {"status": err.status, "code": err.code, "message": err.message,
                                                                   "request_id": err.request_id, "ec": getattr(err, "ec", None),
                                                                   "details": err.details}}

    # ---------------------------------------------------------------- upload_part_copy
    def upc(src_key, dst_key, rng=None, headers=None, params=None, part=2):
        def fn(b):
            return b.upload_part_copy(SRC, src_key, rng, dst_key, UPL, part, headers=headers, params=params)
        call = {"op": "Bucket.upload_part_copy", "bucket": DEST, "source_bucket_name": SRC, "source_key": src_key,
                "byte_range": rng, "target_key": dst_key, "target_upload_id": UPL, "target_part_number": part,
                "headers": dict(headers) if headers else None, "params": dict(params) if params else None}
        return fn, call

    cond_headers = {"x-oss-copy-source-if-match": COND["if-match"], "x-oss-copy-source-if-none-match": COND["if-none-match"],
                    "x-oss-copy-source-if-modified-since": COND["if-modified-since"],
                    "x-oss-copy-source-if-unmodified-since": COND["if-unmodified-since"]}
    for mode in ("v1", "v4"):
        p = "oss2-%s" % mode
        fn, call = upc("src/object.bin", KEYS["ascii"])
        run(p + "-copypart-01", mode, "UploadPartCopy, ascii keys, whole source (no x-oss-copy-source-range)", call, fn, R_COPYPART,
            probe_fn=etag_probe)
        fn, call = upc("src/object.bin", KEYS["ascii"], (0, 5242879))
        run(p + "-copypart-02", mode, "UploadPartCopy with byte_range=(0, 5242879) -> x-oss-copy-source-range: bytes=0-5242879",
            call, fn, R_COPYPART)
        fn, call = upc("src/object.bin", KEYS["ascii"], (100, 199), headers=dict(cond_headers))
        run(p + "-copypart-03", mode, "UploadPartCopy with range and all four x-oss-copy-source-if-* conditions (signed as x-oss-* headers)",
            call, fn, R_COPYPART)
        fn, call = upc(KEYS["unicode"], KEYS["unicode"], (0, 1048575), params={"versionId": VER})
        run(p + "-copypart-04", mode, "UploadPartCopy from a source version: params={'versionId': ...}", call, fn, R_COPYPART,
            notes=["oss2 quirk: the versionId passed in params is put into x-oss-copy-source ('...?versionId=') AND left in the "
                   "request's own query string, where it is a signed sub-resource (V1) / canonical query item (V4). "
                   "A gateway should expect ?versionId= on an UploadPartCopy target and ignore it (it names the source version)."])
        fn, call = upc(KEYS["mixed"], KEYS["mixed"], (0, 5242879))
        run(p + "-copypart-05", mode, "UploadPartCopy, key with '/', spaces, '+', '%', '~', unicode on both sides",
            call, fn, R_COPYPART,
            notes=["oss2 encodes the source key with quote(key, safe='') - '/' becomes %2F inside x-oss-copy-source."])
        fn, call = upc(KEYS["special"], KEYS["special"])
        run(p + "-copypart-06", mode, "UploadPartCopy, key with + % ~ = & ; , ' ( ) * ! @ $", call, fn, R_COPYPART)

    fn, call = upc("src/object.bin", KEYS["ascii"], headers={"x-oss-copy-source-if-match": COND["if-match"]})
    run("oss2-v1-copypart-07-error", "v1", "UploadPartCopy answered with a 412 OSS error document: how oss2 parses it", call, fn,
        R_ERROR, probe_fn=error_probe)
    fn, call = upc("src/object.bin", KEYS["ascii"], headers={"x-oss-date": TS["rfc1123"]})
    run("oss2-v1-copypart-08-xossdate", "v1", "V1 with an explicit x-oss-date header: it replaces Date in line 4 of the "
        "StringToSign and is ALSO a CanonicalizedOSSHeaders entry", call, fn, R_COPYPART)
    for mode in ("sts-v1", "sts-v4"):
        fn, call = upc(KEYS["unicode"], KEYS["unicode"], (0, 99))
        run("oss2-%s-copypart-01" % mode, mode, "UploadPartCopy with STS credentials: x-oss-security-token header (signed as x-oss-*)",
            call, fn, R_COPYPART)

    # ---------------------------------------------------------------- other operations
    for mode in ("v1", "v4"):
        p = "oss2-%s" % mode
        hdr = {"Content-Type": "text/plain; charset=utf-8", "x-oss-storage-class": "IA", "x-oss-object-acl": "private",
               "x-oss-meta-owner": "alice", "Cache-Control": "no-cache"}
        run(p + "-put-01", mode, "PutObject with Content-Type, storage class IA, object ACL, user metadata; CRC64 on",
            {"op": "Bucket.put_object", "key": KEYS["space"], "data_utf8": PART_BODY.decode(), "headers": hdr},
            lambda b: b.put_object(KEYS["space"], PART_BODY, headers=dict(hdr)), r_put(PART_BODY),
            notes=["oss2 does not add Content-MD5 on its own; it checks the response x-oss-hash-crc64ecma (CRC-64/XZ) when enable_crc=True."])
        run(p + "-init-01", mode, "InitiateMultipartUpload (POST ?uploads; empty-valued sub-resource) with storage class Archive; "
            "Content-Type guessed from the extension",
            {"op": "Bucket.init_multipart_upload", "key": KEYS["unicode"], "headers": {"x-oss-storage-class": "Archive"}},
            lambda b: b.init_multipart_upload(KEYS["unicode"], headers={"x-oss-storage-class": "Archive"}), r_init(KEYS["unicode"]))
        parts = [PartInfo(1, ETAG1.strip('"')), PartInfo(2, ETAG2.strip('"'))]
        run(p + "-complete-01", mode, "CompleteMultipartUpload with an XML part list",
            {"op": "Bucket.complete_multipart_upload", "key": KEYS["mixed"], "upload_id": UPL,
             "parts": [[1, ETAG1.strip('"')], [2, ETAG2.strip('"')]]},
            lambda b: b.complete_multipart_upload(KEYS["mixed"], UPL, parts), r_complete(KEYS["mixed"], False),
            notes=["oss2 sends no encoding-type on complete; PartInfo etags are sent as given (here unquoted)."])
        run(p + "-list-01", mode, "ListObjects (v1 listing) with prefix/delimiter; empty marker sent as 'marker='",
            {"op": "Bucket.list_objects", "prefix": "dir/", "delimiter": "/", "marker": "", "max_keys": 100},
            lambda b: b.list_objects(prefix="dir/", delimiter="/", max_keys=100), r_list(False),
            notes=["Wire query carries 'marker=' (empty value); the V4 canonical query renders it as bare 'marker'."])
        run(p + "-listv2-01", mode, "ListObjectsV2 (list-type=2) with continuation-token, start-after and fetch-owner",
            {"op": "Bucket.list_objects_v2", "prefix": "dir/", "delimiter": "/", "continuation_token": "ChR0ZXN0L29iai0wMDAwMS50eHQQAA--",
             "start_after": "dir/a", "fetch_owner": True, "max_keys": 100},
            lambda b: b.list_objects_v2(prefix="dir/", delimiter="/", continuation_token="ChR0ZXN0L29iai0wMDAwMS50eHQQAA--",
                                        start_after="dir/a", fetch_owner=True, max_keys=100), r_list(True),
            notes=["continuation-token is in oss2's V1 sub-resource list, so it IS part of the V1 CanonicalizedResource."])
        run(p + "-get-01", mode, "GetObject with byte_range=(0, 9), versionId and response-content-type",
            {"op": "Bucket.get_object", "key": KEYS["mixed"], "byte_range": [0, 9],
             "params": {"versionId": VER, "response-content-type": "text/plain"}},
            lambda b: b.get_object(KEYS["mixed"], byte_range=(0, 9), params={"versionId": VER, "response-content-type": "text/plain"}).read(),
            R_GET, notes=["Range is not signed by V1, nor by V4 unless listed in AdditionalHeaders."])

    # ---------------------------------------------------------------- presigned URLs
    presign("oss2-v1-presign-01", "v1", "GET presigned URL (V1 query auth: OSSAccessKeyId, Expires, Signature)",
            {"op": "Bucket.sign_url", "method": "GET", "key": KEYS["unicode"], "expires": 3600},
            lambda b: b.sign_url("GET", KEYS["unicode"], 3600))
    presign("oss2-v1-presign-02", "sts-v1", "GET presigned URL with STS token: security-token query param is a signed sub-resource",
            {"op": "Bucket.sign_url", "method": "GET", "key": KEYS["space"], "expires": 600},
            lambda b: b.sign_url("GET", KEYS["space"], 600))
    presign("oss2-v1-presign-03", "v1", "GET presigned URL with versionId and response-content-disposition; slash_safe=True keeps '/' in the path",
            {"op": "Bucket.sign_url", "method": "GET", "key": KEYS["mixed"], "expires": 3600, "slash_safe": True,
             "params": {"versionId": VER, "response-content-disposition": 'attachment; filename="a b.bin"'}},
            lambda b: b.sign_url("GET", KEYS["mixed"], 3600, slash_safe=True,
                                 params={"versionId": VER, "response-content-disposition": 'attachment; filename="a b.bin"'}),
            notes=["Without slash_safe oss2 percent-encodes '/' in the key as %2F in presigned URLs (oss2 default)."])
    presign("oss2-v1-presign-04", "v1", "PUT presigned URL with Content-Type and an x-oss-meta header (both signed; client must send them)",
            {"op": "Bucket.sign_url", "method": "PUT", "key": KEYS["ascii"], "expires": 900,
             "headers": {"Content-Type": "application/octet-stream", "x-oss-meta-owner": "alice"}},
            lambda b: b.sign_url("PUT", KEYS["ascii"], 900, headers={"Content-Type": "application/octet-stream", "x-oss-meta-owner": "alice"}),
            send_headers={"Content-Type": "application/octet-stream", "x-oss-meta-owner": "alice"})
    presign("oss2-v4-presign-01", "v4", "GET presigned URL, V4 (x-oss-signature-version, x-oss-credential, x-oss-date, x-oss-expires, x-oss-signature)",
            {"op": "Bucket.sign_url", "method": "GET", "key": KEYS["unicode"], "expires": 3600},
            lambda b: b.sign_url("GET", KEYS["unicode"], 3600),
            notes=["oss2 builds the V4 canonical URI from the raw key ('/' kept), even though the URL path has '/' as %2F (no slash_safe)."])
    presign("oss2-v4-presign-02", "sts-v4", "GET presigned URL, V4 with STS token (x-oss-security-token query param, signed)",
            {"op": "Bucket.sign_url", "method": "GET", "key": KEYS["space"], "expires": 600},
            lambda b: b.sign_url("GET", KEYS["space"], 600))
    presign("oss2-v4-presign-03", "v4", "GET presigned URL, V4 with additional_headers=['host', 'range'] -> x-oss-additional-headers=host;range",
            {"op": "Bucket.sign_url", "method": "GET", "key": KEYS["mixed"], "expires": 3600, "slash_safe": True,
             "headers": {"Host": "%s.oss-%s.aliyuncs.com" % (DEST, REGION), "Range": "bytes=0-1023"},
             "params": {"versionId": VER}, "additional_headers": ["host", "range"]},
            lambda b: b.sign_url("GET", KEYS["mixed"], 3600, slash_safe=True,
                                 headers={"Host": "%s.oss-%s.aliyuncs.com" % (DEST, REGION), "Range": "bytes=0-1023"},
                                 params={"versionId": VER}, additional_headers=["host", "range"]),
            send_headers={"Range": "bytes=0-1023"})
    return vectors, version


# ======================================================================================
# alibabacloud-oss-v2
# ======================================================================================
def gen_v2(wire):
    import alibabacloud_oss_v2 as oss
    import alibabacloud_oss_v2.utils as vu
    import alibabacloud_oss_v2.signer.v1 as sv1
    import alibabacloud_oss_v2.signer.v4 as sv4
    import alibabacloud_oss_v2.presigner as pres
    from alibabacloud_oss_v2.transport import RequestsHttpClient
    from alibabacloud_oss_v2._version import VERSION

    vu.get_default_user_agent = lambda: PINNED_UA["v2"] % VERSION
    for m in (sv1, sv4, pres):
        m.datetime = FAKE_DATETIME_MODULE

    cap = {}

    def wrap(cls, name, field):
        orig = getattr(cls, name)

        def f(self, *a, **k):
            r = orig(self, *a, **k)
            cap[field] = r
            return r
        setattr(cls, name, f)

    wrap(sv4.SignerV4, "_calc_canonical_request", "canonical_request")
    wrap(sv4.SignerV4, "_calc_string_to_sign", "string_to_sign")
    wrap(sv1.SignerV1, "_calc_string_to_sign", "string_to_sign")

    def client(sig="v4", sts=False, additional_headers=None):
        cred = STS if sts else CRED
        cfg = oss.config.load_default()
        cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
            cred["access_key"], cred["secret_key"], cred.get("security_token"))
        cfg.region = REGION
        cfg.endpoint = ENDPOINT
        cfg.retry_max_attempts = 1
        cfg.http_client = RequestsHttpClient()
        if sig == "v1":
            cfg.signature_version = "v1"
        if additional_headers:
            cfg.additional_headers = additional_headers
        return oss.Client(cfg), cred

    def sdk_info(sig, extra=None, presign=False):
        signer = ("alibabacloud_oss_v2.signer.SignerV4" if sig == "v4" else "alibabacloud_oss_v2.signer.SignerV1") + \
                 ("._auth_query via Client.presign" if presign else "._auth_header")
        cc = {"endpoint": ENDPOINT, "region": REGION, "signature_version": sig, "retry_max_attempts": 1}
        cc.update(extra or {})
        return {"package": "alibabacloud-oss-v2", "version": VERSION, "signer": signer, "client_config": cc}

    def scheme_of(sig, loc):
        return ("OSS4-HMAC-SHA256" if sig == "v4" else "OSS V1 HMAC-SHA1") + " (%s)" % loc

    vectors = []

    def run(vid, desc, opname, req, response, sig="v4", sts=False, notes=None, probe_fn=None, additional_headers=None, post=None):
        cap.clear()
        wire.arm(response)
        c, cred = client(sig, sts, additional_headers)
        res, err = None, None
        try:
            res = getattr(c, opname)(req)
            if post:
                post(res)
        except oss.exceptions.OperationError as e:
            err = e
        method, target, hdrs, body = wire.parsed()
        auth = {"location": "header", "authorization": header_auth(hdrs)}
        if "canonical_request" in cap:
            auth["canonical_request"] = cap["canonical_request"]
        auth["string_to_sign"] = cap["string_to_sign"]
        call = {"op": "Client." + opname, "request_type": type(req).__name__,
                "request": {k: jsonable(v) for k, v in vars(req).items() if v is not None and not k.startswith("_")}}
        extra = {"additional_headers": additional_headers} if additional_headers else None
        vectors.append(make_vector(vid, scheme_of(sig, "header"), sdk_info(sig, extra), desc, call, cred, method, target, hdrs, body,
                                   auth, notes or [], probe_fn(res, err) if probe_fn else None))

    def presign(vid, desc, req, expires, sig="v4", sts=False, notes=None):
        cap.clear()
        c, cred = client(sig, sts)
        r = c.presign(req, expires=expires)
        u = urlsplit(r.url)
        hdrs = [["Host", u.netloc]] + [[k, v] for k, v in (r.signed_headers or {}).items()]
        auth = {"location": "query", "presigned_url": r.url}
        if "canonical_request" in cap:
            auth["canonical_request"] = cap["canonical_request"]
        auth["string_to_sign"] = cap["string_to_sign"]
        auth["sdk_expiration"] = r.expiration.isoformat()
        call = {"op": "Client.presign", "request_type": type(req).__name__, "expires_seconds": int(expires.total_seconds()),
                "request": {k: jsonable(v) for k, v in vars(req).items() if v is not None and not k.startswith("_")}}
        vectors.append(make_vector(vid, scheme_of(sig, "query"), sdk_info(sig, presign=True), desc, call, cred, r.method,
                                   u.path + "?" + u.query, hdrs, None, auth,
                                   (notes or []) + ["request.headers: Host plus PresignResult.signed_headers (must be sent)."]))

    def etag_probe(res, err):
        return {"etag_header_sent": ETAG_HDR, "etag_xml_sent": ETAG_XML,
                "sdk_result_etag": None if res is None else res.etag,
                "sdk_result_last_modified": None if res is None else res.last_modified.isoformat(),
                "conclusion": "alibabacloud-oss-v2 UploadPartCopyResult: ETag and LastModified taken from the CopyPartResult XML BODY"}

    def error_probe(res, err):
        se = err.unwrap() if hasattr(err, "unwrap") else err
        return {"status_sent": 412, "error_xml_sent": R_ERROR[3],
                "sdk_exception": type(se).__name__,
                "sdk_fields": {"status_code": se.status_code, "code": se.code, "message": se.message,
                               "request_id": se.request_id, "ec": se.ec},
                "note": "the SDK requires a Date response header on errors (serde.deserialize_httptime(headers['Date']) in "
                        "_client._to_service_error) and reads EC from <EC> or the x-oss-ec header"}

    U = oss.UploadPartCopyRequest
    run("ossv2-copypart-01", "UploadPartCopy, ascii keys, whole source; SDK adds Content-MD5 of the empty body",
        "upload_part_copy", U(bucket=DEST, key=KEYS["ascii"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key="src/object.bin"),
        R_COPYPART, probe_fn=etag_probe,
        notes=["alibabacloud-oss-v2 always sends Content-MD5: 1B2M2Y8AsgTpgAmY7PhCfg== (MD5 of empty body) on UploadPartCopy "
               "(serde_utils.add_content_md5); it is a signed header (V4 default set)."])
    run("ossv2-copypart-02", "UploadPartCopy with source_range='bytes=0-5242879'", "upload_part_copy",
        U(bucket=DEST, key=KEYS["ascii"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key="src/object.bin",
          source_range="bytes=0-5242879"), R_COPYPART)
    run("ossv2-copypart-03", "UploadPartCopy with range and the four copy conditions (x-oss-copy-source-if-*)", "upload_part_copy",
        U(bucket=DEST, key=KEYS["ascii"], part_number=3, upload_id=UPL, source_bucket=SRC, source_key="src/object.bin",
          source_range="bytes=100-199", if_match=COND["if-match"], if_none_match=COND["if-none-match"],
          if_modified_since=COND["if-modified-since"], if_unmodified_since=COND["if-unmodified-since"]), R_COPYPART)
    run("ossv2-copypart-04", "UploadPartCopy from a source version (source_version_id -> '?versionId=' in x-oss-copy-source only)",
        "upload_part_copy", U(bucket=DEST, key=KEYS["unicode"], part_number=1, upload_id=UPL, source_bucket=SRC,
                              source_key=KEYS["unicode"], source_version_id=VER, source_range="bytes=0-1048575"), R_COPYPART)
    run("ossv2-copypart-05", "UploadPartCopy, key with '/', spaces, '+', '%', '~', unicode", "upload_part_copy",
        U(bucket=DEST, key=KEYS["mixed"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key=KEYS["mixed"],
          source_range="bytes=0-5242879"), R_COPYPART,
        notes=["alibabacloud-oss-v2 encodes the source key with urllib quote() default safe='/': '/' stays literal "
               "(oss2 and ali-oss encode it as %2F). OSS must accept both."])
    run("ossv2-copypart-06", "UploadPartCopy, key with + % ~ = & ; , ' ( ) * ! @ $", "upload_part_copy",
        U(bucket=DEST, key=KEYS["special"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key=KEYS["special"]), R_COPYPART)
    run("ossv2-copypart-07-sts", "UploadPartCopy with STS credentials (x-oss-security-token, signed)", "upload_part_copy",
        U(bucket=DEST, key=KEYS["unicode"], part_number=3, upload_id=UPL, source_bucket=SRC, source_key=KEYS["unicode"],
          source_version_id=VER, source_range="bytes=0-99"), R_COPYPART, sts=True)
    run("ossv2-copypart-08-error", "UploadPartCopy answered with a 412 OSS error document: how the SDK parses it", "upload_part_copy",
        U(bucket=DEST, key=KEYS["ascii"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key="src/object.bin",
          if_match=COND["if-match"]), R_ERROR, probe_fn=error_probe)
    run("ossv2-copypart-09-addl", "UploadPartCopy with Config.additional_headers=['host','user-agent']: in this SDK version the "
        "option is NOT applied to header signing (no AdditionalHeaders in Authorization)", "upload_part_copy",
        U(bucket=DEST, key=KEYS["space"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key=KEYS["space"],
          source_range="bytes=0-5242879"), R_COPYPART, additional_headers=["host", "user-agent"],
        notes=["alibabacloud_oss_v2/_client.py build_request_context creates SigningContext without additional_headers, so "
               "Config.additional_headers is stored but never reaches SignerV4 (1.4.1). See ossv2-signer-addl-01 for the signer itself."])

    # direct signer call: header-mode AdditionalHeaders
    cap.clear()
    from alibabacloud_oss_v2.types import HttpRequest, SigningContext, Credentials
    host = "%s.oss-%s.aliyuncs.com" % (DEST, REGION)
    hreq = HttpRequest(method="GET", url="https://%s/%s?versionId=%s" % (host, quote(KEYS["mixed"]), VER))
    hreq.headers.update({"Host": host, "Range": "bytes=0-1023", "User-Agent": PINNED_UA["v2"] % VERSION})
    ctx = SigningContext(product="oss", region=REGION, bucket=DEST, key=KEYS["mixed"], request=hreq,
                         credentials=Credentials(CRED["access_key"], CRED["secret_key"]), additional_headers={"range", "host"})
    sv4.SignerV4().sign(ctx)
    u = urlsplit(hreq.url)
    vectors.append(make_vector(
        "ossv2-signer-addl-01", scheme_of("v4", "header"),
        {"package": "alibabacloud-oss-v2", "version": VERSION, "signer": "alibabacloud_oss_v2.signer.SignerV4.sign (called directly)",
         "client_config": {"region": REGION, "product": "oss"}},
        "Header-mode V4 with AdditionalHeaders=host;range, produced by calling SignerV4.sign on a SigningContext directly",
        {"op": "SignerV4.sign", "method": "GET", "url": hreq.url, "bucket": DEST, "key": KEYS["mixed"],
         "additional_headers": ["host", "range"], "headers_before_signing": {"Host": host, "Range": "bytes=0-1023"}},
        CRED, "GET", u.path + "?" + u.query, [[k, v] for k, v in hreq.headers.items()], None,
        {"location": "header", "authorization": hreq.headers["Authorization"], "canonical_request": cap["canonical_request"],
         "string_to_sign": cap["string_to_sign"]},
        ["request.* reconstructed from the SDK's HttpRequest after signing (no transport involved); the header order is the "
         "HttpRequest's. Note the SDK's header format: 'Credential=...,AdditionalHeaders=host;range,Signature=...' (no spaces)."]))
    run("ossv2-v1-copypart-01", "UploadPartCopy with signature_version='v1' (OSS ak:sig); Date header signed in line 4",
        "upload_part_copy", U(bucket=DEST, key=KEYS["mixed"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key=KEYS["mixed"],
                              source_version_id=VER, source_range="bytes=0-5242879", if_match=COND["if-match"]), R_COPYPART, sig="v1")
    run("ossv2-v1-copypart-02-sts", "signature_version='v1' with STS credentials: this SDK sends the token in a header named "
        "'security-token' (NOT x-oss-security-token) and so does not sign it", "upload_part_copy",
        U(bucket=DEST, key=KEYS["ascii"], part_number=2, upload_id=UPL, source_bucket=SRC, source_key="src/object.bin"),
        R_COPYPART, sig="v1", sts=True,
        notes=["alibabacloud_oss_v2/signer/v1.py SignerV1._auth_header: request.headers.update({'security-token': ...}). "
               "Whether OSS accepts a bare 'security-token' header is NOT established here; oss2/ali-oss use x-oss-security-token."])

    run("ossv2-put-01", "PutObject with content_type, storage class ColdArchive, ACL public-read, metadata", "put_object",
        oss.PutObjectRequest(bucket=DEST, key=KEYS["space"], body=PART_BODY, content_type="text/plain; charset=utf-8",
                             storage_class="ColdArchive", acl="public-read", metadata={"owner": "alice"}), r_put(PART_BODY))
    run("ossv2-init-01", "InitiateMultipartUpload (POST ?uploads; encoding-type=url added by the SDK)", "initiate_multipart_upload",
        oss.InitiateMultipartUploadRequest(bucket=DEST, key=KEYS["unicode"], storage_class="DeepColdArchive"), r_init(KEYS["unicode"]))
    run("ossv2-complete-01", "CompleteMultipartUpload with XML part list (Content-MD5 added by the SDK; encoding-type=url)",
        "complete_multipart_upload",
        oss.CompleteMultipartUploadRequest(bucket=DEST, key=KEYS["mixed"], upload_id=UPL, complete_multipart_upload=oss.CompleteMultipartUpload(
            parts=[oss.UploadPart(part_number=1, etag=ETAG1), oss.UploadPart(part_number=2, etag=ETAG2)])),
        r_complete(KEYS["mixed"], True))
    run("ossv2-list-01", "ListObjects (v1 listing) with prefix/delimiter/max-keys", "list_objects",
        oss.ListObjectsRequest(bucket=DEST, prefix="dir/", delimiter="/", max_keys=100), r_list(False))
    run("ossv2-listv2-01", "ListObjectsV2 (list-type=2) with continuation-token, start-after, fetch-owner", "list_objects_v2",
        oss.ListObjectsV2Request(bucket=DEST, prefix="dir/", delimiter="/", max_keys=100, start_after="dir/a",
                                 continuation_token="ChR0ZXN0L29iai0wMDAwMS50eHQQAA--", fetch_owner=True), r_list(True))
    run("ossv2-get-01", "GetObject with Range, versionId and response-content-type", "get_object",
        oss.GetObjectRequest(bucket=DEST, key=KEYS["mixed"], range_header="bytes=0-9", version_id=VER, response_content_type="text/plain"),
        R_GET, post=lambda r: r.body.read())

    presign("ossv2-presign-01", "GET presigned URL (V4 query auth)", oss.GetObjectRequest(bucket=DEST, key=KEYS["unicode"]),
            _dt.timedelta(seconds=3600))
    presign("ossv2-presign-02", "GET presigned URL with STS token (x-oss-security-token in query, signed)",
            oss.GetObjectRequest(bucket=DEST, key=KEYS["space"], version_id=VER), _dt.timedelta(seconds=600), sts=True)
    presign("ossv2-presign-03", "PUT presigned URL with content_type (a signed header the client must send)",
            oss.PutObjectRequest(bucket=DEST, key=KEYS["mixed"], content_type="application/octet-stream"), _dt.timedelta(seconds=900))
    presign("ossv2-v1-presign-01", "GET presigned URL with signature_version='v1' and STS token (security-token query param)",
            oss.GetObjectRequest(bucket=DEST, key=KEYS["special"]), _dt.timedelta(seconds=3600), sig="v1", sts=True)
    return vectors, VERSION


# ======================================================================================
# ali-oss (Node.js) - optional
# ======================================================================================
NODE_SCRIPT = r"""
const FIXED = %(epoch)d * 1000;
const RealDate = Date;
class FakeDate extends RealDate {
  constructor(...a) { if (a.length === 0) super(FIXED); else super(...a); }
  static now() { return FIXED; }
}
global.Date = FakeDate;
const OSS = require('ali-oss');
const version = require('ali-oss/package.json').version;
const IN = %(inputs)s;
const out = [];
let cap = null;
const fakeUrllib = {
  async request(url, params) {
    cap = { url, method: params.method, headers: Object.assign({}, params.headers),
            content: params.content ? Buffer.from(params.content).toString('base64') : null };
    const xml = IN.copyPartXml;
    return { status: 200, headers: { etag: IN.etagHdr, 'x-oss-request-id': 'REQ', 'content-type': 'application/xml' },
             data: Buffer.from(xml), res: { status: 200, headers: { etag: IN.etagHdr, 'x-oss-request-id': 'REQ' }, size: xml.length, rt: 1 } };
  }
};
function client(v4, sts) {
  const c = new OSS({ region: 'oss-' + IN.region, accessKeyId: sts ? IN.sts.access_key : IN.cred.access_key,
    accessKeySecret: sts ? IN.sts.secret_key : IN.cred.secret_key, stsToken: sts ? IN.sts.security_token : undefined,
    bucket: IN.dest, secure: true, authorizationV4: v4, urllib: fakeUrllib, retryMax: 0 });
  c.userAgent = IN.ua.replace('%%s', version);
  return c;
}
(async () => {
  const cases = [
    ['ali-oss-v1-copypart-01', false, false, 'uploadPartCopy, ascii keys, range 0-5242879', IN.keys.ascii, 'src/object.bin', '0-5242879', {}],
    ['ali-oss-v1-copypart-02', false, false, 'uploadPartCopy, key with /, spaces, +, unicode; versionId in source; if-match condition',
       IN.keys.mixed, IN.keys.mixed, '0-1048575', { versionId: IN.ver, headers: { 'x-oss-copy-source-if-match': IN.cond['if-match'] } }],
    ['ali-oss-v1-copypart-03-sts', false, true, 'uploadPartCopy with stsToken (x-oss-security-token header)', IN.keys.unicode, IN.keys.unicode, '0-99', {}],
    ['ali-oss-v4-copypart-01', true, false, 'uploadPartCopy with authorizationV4=true, range, four conditions', IN.keys.ascii, 'src/object.bin', '100-199',
       { headers: { 'x-oss-copy-source-if-match': IN.cond['if-match'], 'x-oss-copy-source-if-none-match': IN.cond['if-none-match'],
                    'x-oss-copy-source-if-modified-since': IN.cond['if-modified-since'], 'x-oss-copy-source-if-unmodified-since': IN.cond['if-unmodified-since'] } }],
    ['ali-oss-v4-copypart-02', true, false, 'uploadPartCopy V4, key with /, spaces, +, unicode, versionId', IN.keys.mixed, IN.keys.mixed, '0-5242879', { versionId: IN.ver }],
    ['ali-oss-v4-copypart-03-sts', true, true, 'uploadPartCopy V4 with stsToken', IN.keys.special, IN.keys.special, null, {}],
  ];
  for (const [id, v4, sts, desc, dst, srcKey, range, opts] of cases) {
    cap = null;
    const c = client(v4, sts);
    const r = await c.uploadPartCopy(dst, IN.upl, 2, range, { sourceKey: srcKey, sourceBucketName: IN.src }, opts);
    out.push({ id, v4, sts, desc, call: { op: 'uploadPartCopy', name: dst, uploadId: IN.upl, partNo: 2, range,
               sourceData: { sourceKey: srcKey, sourceBucketName: IN.src }, options: opts }, cap, result_etag: r.etag });
  }
  {
    cap = null;
    const c = client(false, false);
    await c.list({ prefix: 'dir/', delimiter: '/', 'max-keys': 100 });
    out.push({ id: 'ali-oss-v1-list-01', v4: false, sts: false, desc: 'list (ListObjects v1 listing) with prefix/delimiter/max-keys',
               call: { op: 'list', query: { prefix: 'dir/', delimiter: '/', 'max-keys': 100 } }, cap });
  }
  {
    cap = null;
    const c = client(true, false);
    await c.listV2({ prefix: 'dir/', delimiter: '/', 'max-keys': 100, 'continuation-token': 'ChR0ZXN0L29iai0wMDAwMS50eHQQAA--' });
    out.push({ id: 'ali-oss-v4-listv2-01', v4: true, sts: false, desc: 'listV2 (list-type=2) V4 with continuation-token',
               call: { op: 'listV2', query: { prefix: 'dir/', delimiter: '/', 'max-keys': 100, 'continuation-token': 'ChR0ZXN0L29iai0wMDAwMS50eHQQAA--' } }, cap });
  }
  {
    cap = null;
    const c = client(true, false);
    await c.get(IN.keys.ascii, null, { headers: { Range: 'bytes=0-9' }, additionalHeaders: ['range'], versionId: IN.ver });
    out.push({ id: 'ali-oss-v4-get-01-addl', v4: true, sts: false, desc: 'get with Range, V4 with additionalHeaders [range] (header mode AdditionalHeaders)',
               call: { op: 'get', name: IN.keys.ascii, options: { headers: { Range: 'bytes=0-9' }, additionalHeaders: ['range'], versionId: IN.ver } }, cap });
  }
  {
    cap = null;
    const c = client(true, false);
    await c.list({ prefix: '', delimiter: '/', marker: '', 'max-keys': 100 });
    out.push({ id: 'ali-oss-v4-list-02-empty', v4: true, sts: false, desc: 'list V4 with empty-valued prefix/marker query params',
               call: { op: 'list', query: { prefix: '', delimiter: '/', marker: '', 'max-keys': 100 } }, cap });
  }
  {
    const c = client(false, true);
    const url = c.signatureUrl(IN.keys.space, { expires: 600, method: 'GET', response: { 'content-type': 'text/plain' } });
    out.push({ id: 'ali-oss-v1-presign-01-sts', v4: false, sts: true, desc: 'signatureUrl (V1) with stsToken and response-content-type',
               call: { op: 'signatureUrl', name: IN.keys.space, options: { expires: 600, method: 'GET', response: { 'content-type': 'text/plain' } } }, url });
  }
  {
    const c = client(true, false);
    const url = await c.signatureUrlV4('GET', 3600, { headers: {}, queries: { versionId: IN.ver } }, IN.keys.unicode);
    out.push({ id: 'ali-oss-v4-presign-01', v4: true, sts: false, desc: 'signatureUrlV4 GET with versionId',
               call: { op: 'signatureUrlV4', method: 'GET', expires: 3600, request: { queries: { versionId: IN.ver } }, objectName: IN.keys.unicode }, url });
  }
  {
    const c = client(true, true);
    const url = await c.signatureUrlV4('GET', 600, { headers: {} }, IN.keys.mixed);
    out.push({ id: 'ali-oss-v4-presign-02-sts', v4: true, sts: true, desc: 'signatureUrlV4 GET with stsToken',
               call: { op: 'signatureUrlV4', method: 'GET', expires: 600, request: {}, objectName: IN.keys.mixed }, url });
  }
  process.stdout.write(JSON.stringify({ version, out }));
})().catch(e => { console.error(e); process.exit(1); });
"""


def gen_ali_oss(node_modules):
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(node_modules, "ali-oss")):
        raise SystemExit("ali-oss not found (need node and `npm install --prefix %s ali-oss`); or run with --no-node"
                         % os.path.dirname(node_modules))
    inputs = {"region": REGION, "cred": CRED, "sts": STS, "dest": DEST, "src": SRC, "upl": UPL, "ver": VER, "keys": KEYS,
              "cond": COND, "etagHdr": ETAG_HDR, "copyPartXml": R_COPYPART[3], "ua": PINNED_UA["ali-oss"]}
    script = NODE_SCRIPT % {"epoch": FIXED_EPOCH, "inputs": json.dumps(inputs, ensure_ascii=False)}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "gen_ali_oss.js")
        with open(p, "w", encoding="utf-8") as f:
            f.write(script)
        env = dict(os.environ, NODE_PATH=node_modules, TZ="UTC")
        r = subprocess.run([node, p], capture_output=True, env=env, check=True)
    data = json.loads(r.stdout.decode("utf-8"))
    version = data["version"]
    vectors = []
    for o in data["out"]:
        cred = STS if o["sts"] else CRED
        scheme_base = "OSS4-HMAC-SHA256" if o["v4"] else "OSS V1 HMAC-SHA1"
        sdk = {"package": "ali-oss", "version": version,
               "signer": ("lib/common/signUtils.js authorizationV4" if o["v4"] else "lib/common/signUtils.js authorization"),
               "client_config": {"region": "oss-" + REGION, "secure": True, "authorizationV4": o["v4"], "bucket": DEST}}
        notes = ["ali-oss vectors: transport replaced at client.urllib.request; request.headers = headers ali-oss passed to its HTTP "
                 "library, with Host (from the URL) put first. Header order after Host is ali-oss's object order."]
        if "cap" in o:
            capd = o["cap"]
            u = urlsplit(capd["url"])
            hdrs = [["Host", u.netloc]] + [[k, str(v)] for k, v in capd["headers"].items()]
            target = u.path + ("?" + u.query if u.query else "")
            body = base64.b64decode(capd["content"]) if capd["content"] else None
            auth = {"location": "header", "authorization": header_auth(hdrs)}
            if o["id"] == "ali-oss-v4-list-02-empty":
                auth["canonical_query_empty_value"] = "key="
                notes.append("DIVERGENCE: ali-oss (lib/common/signUtils.js getCanonicalRequest, qs.stringify with strictNullHandling) "
                             "renders the empty-valued query params prefix= and marker= as 'prefix=' / 'marker=' in the V4 "
                             "canonical query; oss2 and alibabacloud-oss-v2 render them as bare 'prefix' / 'marker'. This signature "
                             "only verifies with the 'key=' form. Which form the OSS server accepts is NOT established here.")
            probe = None
            if "result_etag" in o:
                probe = {"etag_header_sent": ETAG_HDR, "etag_xml_sent": ETAG_XML, "sdk_result_etag": o["result_etag"],
                         "conclusion": "ali-oss uploadPartCopy returns result.res.headers.etag (response HEADER)"}
            if not o["v4"]:
                notes.append("ali-oss V1 sends the time in x-oss-date (RFC 1123), not Date; the StringToSign's date line is the "
                             "x-oss-date value and x-oss-date is also a CanonicalizedOSSHeaders entry.")
            vectors.append(make_vector(o["id"], scheme_base + " (header)", sdk, o["desc"], o["call"], cred, capd["method"], target,
                                       hdrs, body, auth, notes, probe))
        else:
            u = urlsplit(o["url"])
            sdk["signer"] = "lib/common/object/signatureUrl%s.js" % ("V4" if o["v4"] else "")
            vectors.append(make_vector(o["id"], scheme_base + " (query)", sdk, o["desc"], o["call"], cred, o["call"].get("method", "GET"),
                                       u.path + "?" + u.query, [["Host", u.netloc]], None,
                                       {"location": "query", "presigned_url": o["url"]}, notes[:0] + ["request.headers: Host only."]))
    return vectors, version


# ======================================================================================
# Independent re-verification (stdlib only) from the wire data
# ======================================================================================
V1_SUBRESOURCES = frozenset([
    # union of the documented list and the SDKs' lists (see README)
    "acl", "uploads", "location", "cors", "logging", "website", "referer", "lifecycle", "delete", "append", "tagging",
    "objectMeta", "uploadId", "partNumber", "security-token", "position", "img", "style", "styleName", "replication",
    "replicationProgress", "replicationLocation", "cname", "bucketInfo", "comp", "qos", "live", "status", "vod", "startTime",
    "endTime", "symlink", "x-oss-process", "response-content-type", "x-oss-traffic-limit", "response-content-language",
    "response-expires", "response-cache-control", "response-content-disposition", "response-content-encoding", "udf", "udfName",
    "udfImage", "udfId", "udfImageDesc", "udfApplication", "udfApplicationLog", "restore", "callback", "callback-var", "qosInfo",
    "policy", "stat", "encryption", "versions", "versioning", "versionId", "requestPayment", "x-oss-request-payer", "sequential",
    "inventory", "inventoryId", "continuation-token", "asyncFetch", "worm", "wormId", "wormExtend", "withHashContext",
    "x-oss-enable-md5", "x-oss-enable-sha1", "x-oss-enable-sha256", "x-oss-hash-ctx", "x-oss-md5-ctx", "transferAcceleration",
    "regionList", "cloudboxes", "x-oss-ac-source-ip", "x-oss-ac-subnet-mask", "x-oss-ac-vpc-id", "x-oss-ac-forward-allow",
    "metaQuery", "resourceGroup", "rtc", "accessMonitor", "group", "link", "objectInfo"])


def v4_enc(s, keep_slash):
    return quote(s, safe="/" if keep_slash else "", encoding="utf-8")


def bucket_and_key(v):
    host = v["request"]["host"]
    bucket = host.split(".", 1)[0]
    key = unquote(v["request"]["raw_path"][1:])
    return bucket, key


def parse_query(raw):
    out = []
    if raw:
        for pair in raw.split("&"):
            k, _, val = pair.partition("=")
            out.append((unquote(k), unquote(val)))
    return out


def reverify(v):
    """Recompute the signature from method/target/headers/credentials alone. Returns (ok, canonical strings)."""
    req, cred = v["request"], v["credentials"]
    hdrs = {}
    for k, val in req["headers"]:
        hdrs[k.lower()] = val
    bucket, key = bucket_and_key(v)
    query = parse_query(req["raw_query"])
    q = dict(query)
    if v["signature_scheme"].startswith("OSS V1"):
        if v["auth"]["location"] == "header":
            date = hdrs.get("x-oss-date") or hdrs.get("date", "")
            got = v["auth"]["authorization"].split(":", 1)[1]
        else:
            date = q["Expires"]
            got = q["Signature"]
        canon_hdrs = "".join("%s:%s\n" % (k, hdrs[k].strip()) for k in sorted(hdrs) if k.startswith("x-oss-"))
        subs = sorted((k, val) for k, val in query if k in V1_SUBRESOURCES)
        res = "/%s/%s" % (bucket, key)
        if subs:
            res += "?" + "&".join(k + ("=" + val if val else "") for k, val in subs)
        sts = "\n".join([req["method"], hdrs.get("content-md5", ""), hdrs.get("content-type", ""), date, canon_hdrs + res])
        sig = base64.b64encode(hmac.new(cred["secret_key"].encode(), sts.encode("utf-8"), hashlib.sha1).digest()).decode()
        return sig == got, {"string_to_sign": sts}
    # V4
    if v["auth"]["location"] == "header":
        a = v["auth"]["authorization"][len("OSS4-HMAC-SHA256 "):]
        fields = dict(p.strip().split("=", 1) for p in a.split(","))
        credential, got = fields["Credential"], fields["Signature"]
        addl = fields.get("AdditionalHeaders", "")
        dt = hdrs["x-oss-date"]
        payload = hdrs.get("x-oss-content-sha256", "UNSIGNED-PAYLOAD")
        cq = query
    else:
        credential, got, dt = q["x-oss-credential"], q["x-oss-signature"], q["x-oss-date"]
        addl = q.get("x-oss-additional-headers", "")
        payload = "UNSIGNED-PAYLOAD"
        cq = [(k, val) for k, val in query if k != "x-oss-signature"]
    scope = credential.split("/", 1)[1]
    sdate, region, product, term = scope.split("/")
    addl_set = [h for h in addl.split(";") if h]
    items = sorted((v4_enc(k, False), v4_enc(val, False)) for k, val in cq)
    # OSS rule (oss2, alibabacloud-oss-v2): an empty value is rendered as the bare key. ali-oss renders 'key=' instead
    # (qs.stringify); vectors produced that way carry auth.canonical_query_empty_value = "key=".
    keep_eq = v["auth"].get("canonical_query_empty_value") == "key="
    cqs = "&".join(k + ("=" + val if (val or keep_eq) else "") for k, val in items)
    signed = sorted(k for k in hdrs if k.startswith("x-oss-") or k in ("content-type", "content-md5") or k in addl_set)
    ch = "".join("%s:%s\n" % (k, hdrs[k].strip()) for k in signed)
    cr = "\n".join([req["method"], v4_enc("/%s/%s" % (bucket, key), True), cqs, ch, ";".join(addl_set), payload])
    sts = "\n".join(["OSS4-HMAC-SHA256", dt, scope, hashlib.sha256(cr.encode("utf-8")).hexdigest()])
    k = ("aliyun_v4" + cred["secret_key"]).encode()
    for part in (sdate, region, product, term):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    return sig == got, {"canonical_request": cr, "string_to_sign": sts, "signing_key_hex": k.hex()}


# ======================================================================================
def build_all(with_node=True, node_modules="/tmp/oss-node/node_modules"):
    wire = Wire()
    vecs, versions = [], {}
    for name, fn in (("oss2", gen_oss2), ("alibabacloud-oss-v2", gen_v2)):
        v, ver = fn(wire)
        vecs += v
        versions[name] = ver
    if with_node:
        v, ver = gen_ali_oss(node_modules)
        vecs += v
        versions["ali-oss"] = ver
    bad = []
    for v in vecs:
        ok, mine = reverify(v)
        if not ok:
            bad.append(v["id"])
            continue
        # compare our canonical strings with the SDK's own where the SDK exposed them
        from_sdk = "string_to_sign" in v["auth"]
        for f in ("canonical_request", "string_to_sign"):
            if f in v["auth"] and v["auth"][f] != mine[f]:
                bad.append(v["id"] + ":" + f)
        v["auth"]["signature"] = v["auth"]["authorization"].rsplit("Signature=", 1)[-1].rsplit(":", 1)[-1] \
            if v["auth"]["location"] == "header" else dict(parse_query(v["request"]["raw_query"])).get(
                "x-oss-signature" if "OSS4" in v["signature_scheme"] else "Signature")
        if "canonical_request" in mine:
            v["auth"].setdefault("canonical_request", mine["canonical_request"])
            v["auth"]["signing_key_hex"] = mine["signing_key_hex"]
        v["auth"].setdefault("string_to_sign", mine["string_to_sign"])
        v["auth"]["canonical_strings_source"] = "sdk" if from_sdk else "gen.py reverify (SDK does not expose them)"
        v["auth"]["reverified"] = True
    if bad:
        raise SystemExit("independent re-verification FAILED for: " + ", ".join(bad))
    return vecs, versions


def dump(vecs, versions):
    return json.dumps({"schema_version": 1, "generated_by": "tests/vectors/oss/gen.py", "fixed_time": TS,
                       "sdk_versions": versions, "vectors": vecs}, indent=1, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.dirname(HERE))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--no-node", action="store_true")
    ap.add_argument("--node-modules", default="/tmp/oss-node/node_modules")
    a = ap.parse_args()
    vecs, versions = build_all(not a.no_node, a.node_modules)
    text = dump(vecs, versions)
    path = os.path.join(a.out, "oss.json")
    if a.check:
        vecs2, versions2 = build_all(not a.no_node, a.node_modules)
        same_runs = dump(vecs2, versions2) == text
        disk = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        print("two in-process runs %s; oss.json on disk %s (%d vectors, all re-verified)"
              % ("IDENTICAL" if same_runs else "DIFFER", "IDENTICAL" if disk == text else "DIFFERS", len(vecs)))
        sys.exit(0 if (same_runs and disk == text) else 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    counts = {}
    for v in vecs:
        counts[(v["sdk"]["package"], v["signature_scheme"])] = counts.get((v["sdk"]["package"], v["signature_scheme"]), 0) + 1
    for (p, s), n in sorted(counts.items()):
        print("%-22s %-30s %d" % (p, s, n))
    print("wrote %s (%d vectors, all independently re-verified)" % (path, len(vecs)))


if __name__ == "__main__":
    main()
