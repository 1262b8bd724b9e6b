"""Every checksum a current SDK sends (S3 "Checking object integrity"): CRC32, CRC32C, CRC64NVME, SHA-1 and
SHA-256, as a header (boto3 over HTTP) and as an aws-chunked trailer (boto3 over HTTPS, pyarrow), on PutObject
and multipart (COMPOSITE, FULL_OBJECT), to every backend dialect. An S3 backend keeps and checks them itself;
for OBS and COS, which check only Content-MD5 (obs_04_0080, 436/7749), the proxy verifies them on the stream.
A wrong checksum is refused in the client's dialect and leaves nothing stored."""
import base64
import hashlib
import json
import os
import subprocess
import zlib

import pytest

import sigs
from conftest import BUCKETS, CACHE, CLIENT_AK, CLIENT_SK, garage_direct
from test_multipart import raw_put

HERE = os.path.dirname(os.path.abspath(__file__))
CRT_PYTHON = CACHE / "venv-crt" / "bin" / "python"
BACKENDS = ["s3", "obs", "cos", "oss"]
MiB = 1024 * 1024


def crt_job(**job):
    r = subprocess.run([str(CRT_PYTHON), os.path.join(HERE, "crt_client.py"), json.dumps(job)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def direct_sha(bed, bucket, key):
    return hashlib.sha256(garage_direct(bed).get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


def direct_keys(bed, bucket, prefix):
    r = garage_direct(bed).list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in r.get("Contents", [])]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("where", ["header", "trailer"])
def test_boto3_every_algorithm(bed, backend, where):
    """boto3 sends the checksum as a header over HTTP and as an unsigned trailer over HTTPS."""
    front = bed["front"]
    url, verify = (front.url, None) if where == "header" else (front.https_url, front.ca)
    prefix = f"ck/{where}"
    cases = crt_job(kind="boto3", url=url, verify=verify, ak=CLIENT_AK, sk=CLIENT_SK, bucket=BUCKETS[backend],
                    prefix=prefix, part=5 * MiB)
    assert len(cases) == 12
    for c in cases:
        assert c["ok"] and c["sha"], c
        if backend == "s3":
            # Garage keeps what the client sent: ChecksumMode answers it.
            assert c["checksum"], c
            if c["op"] != "put":
                assert all(c["part_checksums"]) and c["complete_checksum"], c
        else:
            # OBS and COS keep no S3 checksum: none is made up.
            assert not c["checksum"], c
    for c in cases:
        assert direct_sha(bed, BUCKETS[backend], c["key"]) == c["data_sha"], c


@pytest.mark.parametrize("backend", BACKENDS)
def test_pyarrow_writes_through_the_gateway(bed, backend):
    """pyarrow's AWS C++ SDK sends every part as aws-chunked with an x-amz-checksum-crc64nvme trailer."""
    r = crt_job(kind="pyarrow", url=bed["front"].url, ak=CLIENT_AK, sk=CLIENT_SK, bucket=BUCKETS[backend],
                prefix="ck/pyarrow")
    assert r["parquet_equal"] and r["read_equal"], r
    assert direct_sha(bed, BUCKETS[backend], "ck/pyarrow/stream.bin") == r["stream_sha"]


def b64(b):
    return base64.b64encode(b).decode()


def value(alg, data):
    if alg == "crc32":
        return b64(zlib.crc32(data).to_bytes(4, "big"))
    if alg in ("sha1", "sha256"):
        return b64(hashlib.new(alg, data).digest())
    return None  # CRC32C and CRC64NVME: boto3 (with the CRT) proves those above


def signed(bed, method, path, query, headers, payload):
    host = f"127.0.0.1:{bed['front'].port}"
    h, *_ = sigs.sigv4_headers(method, host, path, query, headers, payload, CLIENT_AK, CLIENT_SK)
    return h


def refused(text):
    """S3 answers BadDigest; Garage, checking a header itself, InvalidDigest."""
    return "<Code>BadDigest</Code>" in text or "<Code>InvalidDigest</Code>" in text


def wrong_value(alg, data):
    """A value of the algorithm's length that is not the data's (random for the CRT-only CRCs: a match is
    a 2^-32 chance)."""
    return value(alg, data + b"!") or b64(os.urandom({"crc32c": 4, "crc64nvme": 8}[alg]))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("alg", ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"])
def test_a_wrong_checksum_stores_nothing(bed, backend, alg):
    """A wrong checksum, as a header and as a trailer, on PutObject and UploadPart: BadDigest, and nothing at
    Garage (no object, no part)."""
    b = BUCKETS[backend]
    data = os.urandom(200_000)
    wrong = wrong_value(alg, data)
    name = f"x-amz-checksum-{alg}"
    for where in ["header", "trailer"]:
        key = f"ck/wrong/{alg}-{where}"
        if where == "header":
            h = signed(bed, "PUT", f"/{b}/{key}", [], {name: wrong}, "UNSIGNED-PAYLOAD")
            body = data
        else:
            base = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
                    "x-amz-trailer": name}
            h = signed(bed, "PUT", f"/{b}/{key}", [], base, "STREAMING-UNSIGNED-PAYLOAD-TRAILER")
            body = (b"%x\r\n" % len(data)) + data + f"\r\n0\r\n{name}:{wrong}\r\n\r\n".encode()
        st, text = raw_put(bed, b, key, dict(h, **{"Content-Length": str(len(body))}), body)
        assert st == 400 and refused(text), (where, st, text)
        assert direct_keys(bed, b, key) == []
    # An empty body has no last byte to hold back: it is proven before the backend hears of it.
    key = f"ck/wrong/{alg}-empty"
    h = signed(bed, "PUT", f"/{b}/{key}", [], {name: wrong_value(alg, b"")}, "UNSIGNED-PAYLOAD")
    st, text = raw_put(bed, b, key, dict(h, **{"Content-Length": "0"}), b"")
    assert st == 400 and refused(text), (st, text)
    assert direct_keys(bed, b, key) == []
    # UploadPart: the upload has no part afterwards (read at Garage through ListParts of the client).
    import boto3
    from botocore.config import Config
    c = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK,
                     aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    key = f"ck/wrong/{alg}-part"
    uid = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    try:
        q = [("partNumber", "1"), ("uploadId", uid)]
        path = f"/{b}/{key}"
        h = signed(bed, "PUT", path, q, {name: wrong}, "UNSIGNED-PAYLOAD")
        st, text = raw_put(bed, b, f"{key}?partNumber=1&uploadId={uid}",
                           dict(h, **{"Content-Length": str(len(data))}), data)
        assert st == 400 and refused(text), (st, text)
        assert c.list_parts(Bucket=b, Key=key, UploadId=uid).get("Parts", []) == []
    finally:
        c.abort_multipart_upload(Bucket=b, Key=key, UploadId=uid)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_right_checksum_header_passes(bed, backend):
    """The same raw requests with the right value are stored (the refusals above are about the value)."""
    b = BUCKETS[backend]
    data = os.urandom(200_000)
    for alg in ["crc32", "sha1", "sha256"]:
        key = f"ck/right/{alg}"
        h = signed(bed, "PUT", f"/{b}/{key}", [], {f"x-amz-checksum-{alg}": value(alg, data)}, "UNSIGNED-PAYLOAD")
        st, text = raw_put(bed, b, key, dict(h, **{"Content-Length": str(len(data))}), data)
        assert st == 200, text
        assert direct_sha(bed, b, key) == hashlib.sha256(data).hexdigest()


def test_a_complete_naming_a_wrong_part_checksum_is_refused_by_an_s3_backend(bed):
    """Part checksums in CompleteMultipartUpload reach an S3 backend, which checks them against its parts."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    c = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK,
                     aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    b, key, data = BUCKETS["s3"], "ck/complete-wrong", os.urandom(1000)
    uid = c.create_multipart_upload(Bucket=b, Key=key, ChecksumAlgorithm="CRC32")["UploadId"]
    try:
        r = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=1, Body=data, ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == value("crc32", data)
        wrong = {"PartNumber": 1, "ETag": r["ETag"], "ChecksumCRC32": value("crc32", data + b"!")}
        with pytest.raises(ClientError) as e:
            c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": [wrong]})
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert direct_keys(bed, b, key) == []
        right = dict(wrong, ChecksumCRC32=r["ChecksumCRC32"])
        c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": [right]})
        head = c.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
        # COMPOSITE: the CRC32 of the parts' CRC32s, with the part count.
        composite = value("crc32", zlib.crc32(data).to_bytes(4, "big")) + "-1"
        assert head["ChecksumCRC32"] == composite, head
        assert direct_sha(bed, b, key) == hashlib.sha256(data).hexdigest()
    except Exception:
        c.abort_multipart_upload(Bucket=b, Key=key, UploadId=uid)
        raise


def signed_trailer_body(key, scope, amz, seed, data, name, val, cut=65536):
    out, prev = b"", seed
    for ch in [data[i:i + cut] for i in range(0, len(data), cut)] + [b""]:
        prev = sigs.chunk_signature(key, scope, amz, prev, ch)
        out += b"%x;chunk-signature=%s\r\n" % (len(ch), prev.encode()) + ch + (b"\r\n" if ch else b"")
    sig = sigs.trailer_signature(key, scope, amz, prev, [(name, val)])
    return out + f"{name}:{val}\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("size", [0, 150_000])
def test_a_signed_trailer_is_checked_and_kept(bed, backend, size):
    """STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER (the Java and Go SDKs over HTTP): chunk and trailer
    signatures and the checksum are checked here; an S3 backend then keeps the checksum (ChecksumMode)."""
    import boto3
    from botocore.config import Config
    b, data = BUCKETS[backend], os.urandom(size)
    for alg in ["crc32", "sha256"]:
        key, name = f"ck/signed-trailer/{alg}-{size}", f"x-amz-checksum-{alg}"
        base = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(size), "x-amz-trailer": name}
        h, k, scope, amz, seed = sigs.sigv4_headers("PUT", f"127.0.0.1:{bed['front'].port}", f"/{b}/{key}", [], base,
                                                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", CLIENT_AK, CLIENT_SK)
        for val, ok in [(wrong_value(alg, data), False), (value(alg, data), True)]:
            body = signed_trailer_body(k, scope, amz, seed, data, name, val)
            st, text = raw_put(bed, b, key, dict(h, **{"Content-Length": str(len(body))}), body)
            if ok:
                assert st == 200, text
            else:
                assert st == 400 and "<Code>BadDigest</Code>" in text, text
                assert direct_keys(bed, b, key) == []
        assert direct_sha(bed, b, key) == hashlib.sha256(data).hexdigest()
        c = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK,
                         aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                         config=Config(s3={"addressing_style": "path"}))
        head = c.head_object(Bucket=b, Key=key, ChecksumMode="ENABLED")
        kept = head.get(f"Checksum{alg.upper()}")
        assert kept == (value(alg, data) if backend == "s3" else None), head


@pytest.mark.parametrize("backend", ["obs", "cos"])
def test_a_whole_object_checksum_nobody_can_check_is_refused(bed, backend):
    """A FULL_OBJECT value on Complete towards OBS or COS is refused (InvalidRequest), not dropped; the upload
    stays open and completes without it."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    c = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK,
                     aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    b, key, data = BUCKETS[backend], "ck/whole-object", os.urandom(1000)
    uid = c.create_multipart_upload(Bucket=b, Key=key, ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT")["UploadId"]
    try:
        r = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=1, Body=data, ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == value("crc32", data)  # proven by the proxy on the way
        parts = {"Parts": [{"PartNumber": 1, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]}]}
        with pytest.raises(ClientError) as e:
            c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload=parts,
                                        ChecksumCRC32=value("crc32", data), ChecksumType="FULL_OBJECT")
        assert e.value.response["Error"]["Code"] == "InvalidRequest"
        assert direct_keys(bed, b, key) == []
        c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload=parts)
        assert direct_sha(bed, b, key) == hashlib.sha256(data).hexdigest()
    except Exception:
        c.abort_multipart_upload(Bucket=b, Key=key, UploadId=uid)
        raise
