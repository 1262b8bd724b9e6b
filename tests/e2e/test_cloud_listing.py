"""The real clouds' listing and multi-delete rules, end to end behind the rules-enforcing OBS and COS
clouds (tests/e2e/rules.py): ListObjectsV2 over clouds that serve only the V1 listing (OBS obs_04_0022,
COS 436/7734) pages through every key once, in Garage's order, for boto3's paginator, `aws s3 ls`,
`aws s3 sync --delete` and minio; DeleteObjects with boto3's default checksums (no Content-MD5) deletes
every key where OBS (obs_04_0086), COS (436/8289) and OSS (DeleteMultipleObjects, 0016-00000606) require
Content-MD5. OSS serves ListObjectsV2 itself (developer-reference/listobjectsv2): it is listed through too. Every key is read back from
Garage itself."""
import concurrent.futures
import json
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from clients import AwsCli, Boto3
from conftest import BUCKETS, CACHE, CLIENT_AK, CLIENT_SK, garage_direct

BACKENDS = ["obs", "cos", "s3", "oss"]
COUNT = 2600


def key_names(prefix, n):
    """Keys under a few directories, with unicode and characters that need encoding in a query."""
    return [f"{prefix}d{i % 7}/{'sub/' if i % 5 == 0 else ''}ü-{i:05d} +&=%.bin" for i in range(n)] + \
        [f"{prefix}top-{i:03d}" for i in range(n // 100)]


def put_direct(bed, bucket, keys):
    g = garage_direct(bed)
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda k: g.put_object(Bucket=bucket, Key=k, Body=b"x"), keys))


def garage_listing(bed, bucket, prefix, delimiter=None):
    """(keys, common prefixes) in Garage's own order, V2 paginated."""
    kw = {"Bucket": bucket, "Prefix": prefix, **({"Delimiter": delimiter} if delimiter else {})}
    keys, prefixes = [], []
    for page in garage_direct(bed).get_paginator("list_objects_v2").paginate(**kw):
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    return keys, prefixes


@pytest.fixture(scope="module")
def listed(bed):
    """COUNT keys and more under one prefix in each backend's bucket, written to Garage directly."""
    prefix = f"listing-{uuid.uuid4().hex[:8]}/"
    keys = key_names(prefix, COUNT)
    for d in BACKENDS:
        put_direct(bed, BUCKETS[d], keys)
    return prefix, keys


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("page_size,delimiter,sub", [(None, None, ""), (333, None, ""), (5, "/", ""),
                                                     (60, "/", "d3/")])
def test_boto3_list_objects_v2_paginator_sees_every_key_once_in_order(bed, listed, backend, page_size,
                                                                     delimiter, sub):
    prefix = listed[0] + sub
    bucket = BUCKETS[backend]
    kw = {"Bucket": bucket, "Prefix": prefix}
    if delimiter:
        kw["Delimiter"] = delimiter
    if page_size:
        kw["PaginationConfig"] = {"PageSize": page_size}
    keys, prefixes, pages = [], [], 0
    for page in Boto3(bed["front"].url).c.get_paginator("list_objects_v2").paginate(**kw):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert page["KeyCount"] == len(page.get("Contents", [])) + len(page.get("CommonPrefixes", []))
    want_keys, want_prefixes = garage_listing(bed, bucket, prefix, delimiter)
    assert (keys, prefixes) == (want_keys, want_prefixes)
    assert len(set(keys)) == len(keys)
    if not delimiter:
        assert len(keys) == COUNT + COUNT // 100
    assert pages >= 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_start_after_and_fetch_owner_are_kept(bed, listed, backend):
    prefix, _ = listed
    bucket = BUCKETS[backend]
    all_keys, _ = garage_listing(bed, bucket, prefix)
    after = all_keys[1500]
    r = Boto3(bed["front"].url).c.list_objects_v2(Bucket=bucket, Prefix=prefix, StartAfter=after, MaxKeys=5,
                                                  FetchOwner=True)
    assert [o["Key"] for o in r["Contents"]] == all_keys[1501:1506]
    assert r["StartAfter"] == after and r["IsTruncated"] and r["NextContinuationToken"]
    r2 = Boto3(bed["front"].url).c.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=5,
                                                   ContinuationToken=r["NextContinuationToken"])
    assert [o["Key"] for o in r2["Contents"]] == all_keys[1506:1511]
    assert r2["ContinuationToken"] == r["NextContinuationToken"]


@pytest.mark.parametrize("backend", ["obs", "cos"])
def test_a_token_the_gateway_did_not_issue_is_refused(bed, listed, backend):
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        Boto3(bed["front"].url).c.list_objects_v2(Bucket=BUCKETS[backend], ContinuationToken="not-ours")
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("backend", BACKENDS)
def test_aws_s3_ls_recursive_lists_every_key(bed, listed, backend):
    prefix, _ = listed
    bucket = BUCKETS[backend]
    out = AwsCli(bed["front"].url).run("s3", "ls", "--recursive", f"s3://{bucket}/{prefix}").decode()
    keys = [line.split(None, 3)[3] for line in out.splitlines() if line.strip()]
    assert keys == garage_listing(bed, bucket, prefix)[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_aws_s3_sync_delete_keeps_every_file_the_bucket_has(bed, listed, backend):
    """`sync --delete` from the bucket deletes local files the listing does not show: with a short
    listing it would delete files whose keys exist."""
    prefix, keys = listed
    bucket = BUCKETS[backend]
    # aws s3 sync downloads a key whose local file is newer or of another size: older, same size.
    past = time.time() - 86400 * 365
    with tempfile.TemporaryDirectory() as d:
        for k in keys:
            p = Path(d) / k[len(prefix):]
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"x")
            os.utime(p, (past, past))
        extra = Path(d) / "not-in-bucket.txt"
        extra.write_bytes(b"x")
        out = AwsCli(bed["front"].url).run("s3", "sync", "--delete", "--no-progress",
                                           f"s3://{bucket}/{prefix}", d).decode()
        lines = [line for line in out.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("delete: ") and lines[0].endswith("/not-in-bucket.txt"), \
            lines[:5]
        assert not extra.exists()
        left = sorted(str(p.relative_to(d)) for p in Path(d).rglob("*") if p.is_file())
        assert left == sorted(k[len(prefix):] for k in keys)


@pytest.mark.parametrize("backend", BACKENDS)
def test_minio_lists_every_key(bed, listed, backend):
    from minio import Minio
    prefix, _ = listed
    bucket = BUCKETS[backend]
    m = Minio(bed["front"].url.split("//", 1)[1], access_key=CLIENT_AK, secret_key=CLIENT_SK, secure=False,
              region="us-east-1")
    keys = [o.object_name for o in m.list_objects(bucket, prefix=prefix, recursive=True)]
    assert keys == garage_listing(bed, bucket, prefix)[0]


S3FS_FIND = """
import json, sys, s3fs
url, ak, sk, path = sys.argv[1:]
fs = s3fs.S3FileSystem(key=ak, secret=sk, client_kwargs={"endpoint_url": url, "region_name": "us-east-1"})
print(json.dumps(fs.find(path)))
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_s3fs_finds_every_key(bed, listed, backend):
    """s3fs (fsspec, over aiobotocore; its own venv, as it pins an older botocore) lists with V2 pages."""
    prefix, _ = listed
    bucket = BUCKETS[backend]
    r = subprocess.run([str(CACHE / "venv-s3fs" / "bin" / "python"), "-c", S3FS_FIND, bed["front"].url, CLIENT_AK,
                        CLIENT_SK, f"{bucket}/{prefix}"], capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    keys = [p[len(bucket) + 1:] for p in json.loads(r.stdout)]
    assert keys == garage_listing(bed, bucket, prefix)[0]


@pytest.mark.parametrize("backend", BACKENDS)
def test_delete_objects_with_default_checksums_deletes_every_key(bed, backend):
    """boto3 sends DeleteObjects with x-amz-checksum-crc32 and no Content-MD5 (its default since
    1.36); OBS and COS take it only with Content-MD5, which the gateway computes after checking the
    client's checksum."""
    bucket = BUCKETS[backend]
    prefix = f"mdel-{uuid.uuid4().hex[:8]}/"
    keys = key_names(prefix, 1200)[:1200]
    put_direct(bed, bucket, keys)
    c = Boto3(bed["front"].url).c
    deleted = []
    for i in range(0, len(keys), 1000):
        r = c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[i:i + 1000]]})
        assert not r.get("Errors"), r.get("Errors")[:3]
        deleted += [d["Key"] for d in r["Deleted"]]
    assert sorted(deleted) == sorted(keys)
    assert garage_listing(bed, bucket, prefix) == ([], [])


@pytest.mark.parametrize("backend", ["obs", "cos", "oss"])
def test_delete_objects_with_a_wrong_checksum_is_refused_and_deletes_nothing(bed, backend):
    bucket = BUCKETS[backend]
    prefix = f"mdel-bad-{uuid.uuid4().hex[:8]}/"
    keys = [f"{prefix}{i}" for i in range(3)]
    put_direct(bed, bucket, keys)
    c = Boto3(bed["front"].url).c

    def corrupt(request, **_):
        del request.headers["x-amz-checksum-crc32"]
        request.headers["x-amz-checksum-crc32"] = "AAAAAA=="

    c.meta.events.register("before-sign.s3.DeleteObjects", corrupt)
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as e:
        c.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert e.value.response["Error"]["Code"] == "BadDigest"
    assert garage_listing(bed, bucket, prefix)[0] == keys


def test_an_obs_deployment_serving_v2_gets_v2_with_list_v2_true(bed, listed):
    """Some OBS deployments serve ListObjectsV2 (obs_04_0160): `list_v2 = true` sends it natively (the rules
    layer plays such a deployment and counts what reaches it)."""
    from conftest import Proxy
    prefix, _ = listed
    layer = bed["obs_rules"]
    config = f"""
[server]
listen = ["127.0.0.1:@PORT@"]
[[clients]]
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[backends]]
name = "obs-v2"
dialect = "obs"
endpoint = "http://obs.cn-north-4.myhuaweicloud.com"
connect = "127.0.0.1:{layer.port}"
addressing = "path"
access_key = "OBSSTANDIN0001"
secret_key = "obs-standin-secret"
list_v2 = true
[[routes]]
bucket = "*"
backend = "obs-v2"
"""
    proxy = Proxy(bed["work"], f"obs-list-v2-{uuid.uuid4().hex[:6]}", config)
    layer.list_v2 = True
    try:
        pages = list(Boto3(proxy.url).c.get_paginator("list_objects_v2").paginate(
            Bucket=BUCKETS["obs"], Prefix=prefix, PaginationConfig={"PageSize": 1000}))
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        assert keys == garage_listing(bed, BUCKETS["obs"], prefix)[0]
        # Garage's own tokens, passed through untouched: not the gateway's.
        assert not pages[0]["NextContinuationToken"].startswith("dp1.")
    finally:
        layer.list_v2 = False
        proxy.stop()
