"""A Complete whose answer was lost (a connection reset after the backend acted, an SDK that asks again) gets
NoSuchUpload the second time. The proxy then HEADs the object: if its ETag is the one the listed parts give
(the MD5 of their MD5s, `-N`), the Complete did happen and is answered as such; otherwise NoSuchUpload stands."""
import hashlib
import os

import boto3
import pytest
from botocore.config import Config

from conftest import BUCKETS, CLIENT_AK, CLIENT_SK

MiB = 1024 * 1024


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
def test_a_complete_asked_again_is_answered_by_the_objects_etag(bed, backend):
    c = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK,
                     aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                     config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    b, key = BUCKETS[backend], f"again/{backend}.bin"
    parts = [os.urandom(5 * MiB), os.urandom(7)]
    uid = c.create_multipart_upload(Bucket=b, Key=key)["UploadId"]
    done = []
    for n, data in enumerate(parts, 1):
        r = c.upload_part(Bucket=b, Key=key, UploadId=uid, PartNumber=n, Body=data)
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    first = c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    md5s = b"".join(hashlib.md5(p).digest() for p in parts)
    want = f'"{hashlib.md5(md5s).hexdigest()}-2"'
    assert first["ETag"] == want
    again = c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    assert again["ETag"] == want and again["Key"] == key
    # Parts that are not the object's: nothing proves a Complete, NoSuchUpload stands.
    other = [dict(done[0]), {"PartNumber": 2, "ETag": '"' + hashlib.md5(b"other").hexdigest() + '"'}]
    with pytest.raises(Exception) as e:
        c.complete_multipart_upload(Bucket=b, Key=key, UploadId=uid, MultipartUpload={"Parts": other})
    assert e.value.response["Error"]["Code"] == "NoSuchUpload"
    assert c.get_object(Bucket=b, Key=key)["Body"].read() == b"".join(parts)
