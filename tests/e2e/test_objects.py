"""Plain object operations each SDK's helpers rely on: ranged and conditional GETs, response overrides,
copy with a metadata directive, multipart upload listings, and EntityTooSmall in the client's dialect."""
import os

import pytest

from clients import MODES, SdkError, make
from conftest import BUCKETS

BACKENDS = ["s3", "obs", "cos", "oss"]
KiB = 1024


@pytest.mark.parametrize("backend", BACKENDS)
def test_boto3_get_variants(bed, backend):
    c = make("boto3", bed["front"].url).c
    b = BUCKETS[backend]
    data = os.urandom(100 * KiB)
    etag = c.put_object(Bucket=b, Key="obj/get.bin", Body=data, Metadata={"colour": "blue"})["ETag"]
    r = c.get_object(Bucket=b, Key="obj/get.bin", Range="bytes=10-19")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206 and r["Body"].read() == data[10:20]
    assert r["ContentRange"] == f"bytes 10-19/{len(data)}"
    r = c.get_object(Bucket=b, Key="obj/get.bin", ResponseContentType="text/x-test",
                     ResponseContentDisposition='attachment; filename="a b.bin"')
    assert r["ContentType"] == "text/x-test" and r["ContentDisposition"] == 'attachment; filename="a b.bin"'
    assert r["Metadata"] == {"colour": "blue"}
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=b, Key="obj/get.bin", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=b, Key="obj/get.bin", IfMatch='"0000"')
    # Garage answers this 412 with an empty body; the client still gets a document in its dialect.
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert [o["Key"] for o in c.list_objects(Bucket=b, Prefix="obj/get")["Contents"]] == ["obj/get.bin"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_copy_object_with_metadata_directive(bed, backend):
    b = BUCKETS[backend]
    boto = make("boto3", bed["front"].url).c
    boto.put_object(Bucket=b, Key="obj/orig.bin", Body=b"payload", Metadata={"k": "v1"})
    # S3: REPLACE
    boto.copy_object(Bucket=b, Key="obj/s3-copy.bin", CopySource={"Bucket": b, "Key": "obj/orig.bin"},
                     MetadataDirective="REPLACE", Metadata={"k": "v2"})
    assert boto.head_object(Bucket=b, Key="obj/s3-copy.bin")["Metadata"] == {"k": "v2"}
    # COS: Replaced / Copy
    cos = make("cos", bed["front"].url).c
    src = {"Bucket": b, "Key": "obj/orig.bin", "Region": "ap-guangzhou"}
    cos.copy_object(Bucket=b, Key="obj/cos-replaced.bin", CopySource=src, CopyStatus="Replaced", Metadata={"x-cos-meta-k": "v3"})
    assert boto.head_object(Bucket=b, Key="obj/cos-replaced.bin")["Metadata"] == {"k": "v3"}
    cos.copy_object(Bucket=b, Key="obj/cos-copied.bin", CopySource=src, CopyStatus="Copy")
    assert boto.head_object(Bucket=b, Key="obj/cos-copied.bin")["Metadata"] == {"k": "v1"}
    # OBS native: REPLACE with new metadata
    from obs import CopyObjectHeader
    obs = make("obs-native", bed["front"].url).c
    r = obs.copyObject(b, "obj/orig.bin", b, "obj/obs-replaced.bin", metadata={"k": "v4"},
                       headers=CopyObjectHeader(directive="REPLACE"))
    assert r.status < 300, r.errorCode
    assert boto.head_object(Bucket=b, Key="obj/obs-replaced.bin")["Metadata"] == {"k": "v4"}
    assert boto.get_object(Bucket=b, Key="obj/obs-replaced.bin")["Body"].read() == b"payload"


@pytest.mark.parametrize("backend", BACKENDS)
def test_list_multipart_uploads_in_every_sdk(bed, backend):
    b = BUCKETS[backend]
    boto = make("boto3", bed["front"].url)
    uid = boto.initiate(b, "lmu/pending.bin")
    try:
        assert uid in [u["UploadId"] for u in boto.c.list_multipart_uploads(Bucket=b, Prefix="lmu/").get("Uploads", [])]
        import json
        from clients import AwsCli
        out = json.loads(AwsCli(bed["front"].url).run("s3api", "list-multipart-uploads", "--bucket", b, "--prefix", "lmu/"))
        assert uid in [u["UploadId"] for u in out.get("Uploads", [])]
        from obs import ListMultipartUploadsRequest
        for mode in ("obs-native", "obs-v2"):
            r = make(mode, bed["front"].url).c.listMultipartUploads(b, ListMultipartUploadsRequest(prefix="lmu/"))
            assert r.status < 300 and uid in [u.uploadId for u in r.body.upload], mode
        r = make("cos", bed["front"].url).c.list_multipart_uploads(Bucket=b, Prefix="lmu/")
        uploads = r.get("Upload", [])
        uploads = uploads if isinstance(uploads, list) else [uploads]
        assert uid in [u["UploadId"] for u in uploads]
    finally:
        boto.abort(b, "lmu/pending.bin", uid)


@pytest.mark.parametrize("mode", MODES)
def test_entity_too_small_at_complete_in_the_clients_dialect(bed, mode):
    """Parts below every cloud's minimum (50 KiB; OBS takes 100 KiB): refused at Complete, as the client's
    own cloud would, in its way (test_small_parts.py: parts its own cloud accepts are accepted)."""
    c = make(mode, bed["front"].url)
    b = BUCKETS["s3"]
    key = f"small/{mode}.bin"
    uid = c.initiate(b, key)
    e1 = c.upload_part(b, key, uid, 1, os.urandom(50 * KiB))
    e2 = c.upload_part(b, key, uid, 2, os.urandom(50 * KiB))
    with pytest.raises(SdkError) as e:
        c.complete(b, key, uid, [(1, e1), (2, e2)])
    assert e.value.code == "EntityTooSmall"
    c.abort(b, key, uid)
