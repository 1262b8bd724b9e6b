"""Anonymous access where a route allows it (`anonymous = ["read", "list"]`): unsigned GET, HEAD and listings of
a public bucket, from plain curl and from each SDK's anonymous mode (boto3 UNSIGNED, COS `Anonymous=True`, the OBS
SDK without keys, oss2 `AnonymousAuth`), served with the gateway's own key. An unsigned write, an unsigned read on
another route, or a listing where only reads are allowed: 403 AccessDenied in the client's dialect."""
import subprocess
import uuid

import pytest

from clients import Boto3
from conftest import BUCKETS, PUBLIC_BUCKET

READ_ONLY = "pubr-assets"  # routed to PUBLIC_BUCKET, unsigned reads only


@pytest.fixture(scope="module")
def asset(bed):
    key = f"public/{uuid.uuid4().hex[:6]}/logo.txt"
    Boto3(bed["front"].url).put(PUBLIC_BUCKET, key, b"public bytes")
    return key


def curl(*args):
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "20", "-w", "\n%{http_code}", *args],
                       capture_output=True, text=True, check=True)
    body, _, status = p.stdout.rpartition("\n")
    return int(status), body


def test_plain_curl_reads_heads_and_lists(bed, asset):
    base = bed["front"].url
    assert curl(f"{base}/{PUBLIC_BUCKET}/{asset}") == (200, "public bytes")
    status, _ = curl("-I", f"{base}/{PUBLIC_BUCKET}/{asset}")
    assert status == 200
    status, body = curl(f"{base}/{PUBLIC_BUCKET}?list-type=2&prefix=public/")
    assert status == 200 and f"<Key>{asset}</Key>" in body
    # A write, a delete, another route, a listing where only reads are allowed: refused, nothing forwarded.
    status, body = curl("-X", "PUT", "--data-binary", "x", f"{base}/{PUBLIC_BUCKET}/public/new.txt")
    assert status == 403 and "<Code>AccessDenied</Code>" in body
    status, body = curl("-X", "DELETE", f"{base}/{PUBLIC_BUCKET}/{asset}")
    assert status == 403 and "<Code>AccessDenied</Code>" in body
    status, body = curl(f"{base}/{BUCKETS['s3']}/{asset}")
    assert status == 403 and "<Code>AccessDenied</Code>" in body
    assert curl(f"{base}/{READ_ONLY}/{asset}") == (200, "public bytes")
    status, body = curl(f"{base}/{READ_ONLY}?list-type=2")
    assert status == 403 and "<Code>AccessDenied</Code>" in body
    assert curl(f"{base}/{PUBLIC_BUCKET}/{asset}")[0] == 200  # still there


def test_boto3_unsigned(bed, asset):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError
    c = boto3.client("s3", endpoint_url=bed["front"].url, region_name="us-east-1",
                     config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))
    assert c.get_object(Bucket=PUBLIC_BUCKET, Key=asset)["Body"].read() == b"public bytes"
    assert c.head_object(Bucket=PUBLIC_BUCKET, Key=asset)["ContentLength"] == 12
    keys = [o["Key"] for o in c.list_objects_v2(Bucket=PUBLIC_BUCKET, Prefix="public/")["Contents"]]
    assert asset in keys
    with pytest.raises(ClientError) as e:
        c.put_object(Bucket=PUBLIC_BUCKET, Key="public/boto3.txt", Body=b"x")
    assert e.value.response["Error"]["Code"] == "AccessDenied"
    with pytest.raises(ClientError) as e:
        c.get_object(Bucket=BUCKETS["s3"], Key=asset)
    assert e.value.response["Error"]["Code"] == "AccessDenied"


def test_cos_sdk_anonymous(bed, asset):
    from qcloud_cos import CosConfig, CosS3Client
    from qcloud_cos.cos_exception import CosServiceError
    port = int(bed["front"].url.rsplit(":", 1)[1])
    c = CosS3Client(CosConfig(Region="ap-guangzhou", Anonymous=True, Scheme="http", IP="127.0.0.1", Port=port),
                    retry=0)
    assert c.get_object(Bucket=PUBLIC_BUCKET, Key=asset)["Body"].get_raw_stream().read() == b"public bytes"
    keys = [o["Key"] for o in c.list_objects(Bucket=PUBLIC_BUCKET, Prefix="public/")["Contents"]]
    assert asset in keys
    with pytest.raises(CosServiceError) as e:
        c.put_object(Bucket=PUBLIC_BUCKET, Key="public/cos.txt", Body=b"x")
    assert e.value.get_status_code() == 403 and e.value.get_error_code() == "AccessDenied"


def test_obs_sdk_without_keys(bed, asset):
    from obs import ObsClient
    c = ObsClient(server=bed["front"].url, path_style=True, max_retry_count=0)
    r = c.getObject(PUBLIC_BUCKET, asset, loadStreamInMemory=True)
    assert r.status == 200 and r.body.buffer == b"public bytes"
    r = c.listObjects(PUBLIC_BUCKET, prefix="public/")
    assert r.status == 200 and asset in [o.key for o in r.body.contents]
    r = c.putContent(PUBLIC_BUCKET, "public/obs.txt", "x")
    assert r.status == 403 and r.errorCode == "AccessDenied"


def test_oss2_anonymous(bed, asset):
    import oss2
    b = oss2.Bucket(oss2.AnonymousAuth(), bed["front"].url, PUBLIC_BUCKET)
    assert b.get_object(asset).read() == b"public bytes"
    assert asset in [o.key for o in b.list_objects(prefix="public/").object_list]
    with pytest.raises(oss2.exceptions.AccessDenied):
        b.put_object("public/oss.txt", b"x")
