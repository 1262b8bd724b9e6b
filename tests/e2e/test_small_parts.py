"""Parts as small as the client's own cloud accepts, whatever the backend: a COS client's 1 MiB parts
and an OBS or OSS client's 100 KiB parts are staged under a reserved prefix and merged at Complete into parts
the backend accepts. Proven by the part layout Garage stores (every non-last part at least the backend
dialect's minimum), not only by a 200."""
import hashlib
import os
import tempfile
import uuid

import pytest

from clients import Cos, Obs, SdkError, make
from conftest import APPID, BUCKETS, CLIENT_AK, CLIENT_SK, Proxy, standin_config

KiB, MiB = 1024, 1024 * 1024
STAGING = ".dialect-proxy-staging/"
MIN = {"s3": 5 * MiB, "cos": 1 * MiB, "obs": 100 * KiB, "oss": 100 * KiB}


def sha(b):
    return hashlib.sha256(b).hexdigest()


def direct(bed):
    """Garage itself, beside the proxy (the stand-ins keep their buckets there under the same names)."""
    import boto3
    from botocore.config import Config
    g = bed["garage"]
    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{g.port}", aws_access_key_id=g.key_id,
                        aws_secret_access_key=g.secret, region_name="garage",
                        config=Config(s3={"addressing_style": "path"}))


def layout(bed, bucket, key):
    """Part sizes of an object as Garage stores it."""
    g = direct(bed)
    first = g.head_object(Bucket=bucket, Key=key, PartNumber=1)
    count = first.get("PartsCount", 1)
    return [first["ContentLength"]] + [g.head_object(Bucket=bucket, Key=key, PartNumber=n)["ContentLength"]
                                       for n in range(2, count + 1)]


def all_staged(bed, bucket):
    r = direct(bed).list_objects_v2(Bucket=bucket, Prefix=STAGING)
    return [o["Key"] for o in r.get("Contents", [])]


def staged_left(bed, bucket, upload_id):
    """Staging objects of one upload, listed on Garage itself."""
    prefix = STAGING + hashlib.sha256(upload_id.encode()).hexdigest()[:32] + "/"
    r = direct(bed).list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for o in r.get("Contents", [])]


def assert_legal(sizes, backend):
    assert all(s >= MIN[backend] for s in sizes[:-1]), sizes


@pytest.mark.parametrize("backend", ["s3", "obs"])
def test_cos_upload_file_with_its_defaults(bed, backend):
    """cos-python-sdk-v5 upload_file, 20 MiB, its default 1 MiB parts and 5 threads."""
    c = Cos(bed["front"].url)
    data = os.urandom(20 * MiB + 12345)
    key = f"small/cos-{uuid.uuid4().hex[:6]}.bin"
    before = set(all_staged(bed, BUCKETS[backend]))
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        c._call(c.c.upload_file, Bucket=BUCKETS[backend], Key=key, LocalFilePath=f.name)
    got = direct(bed).get_object(Bucket=BUCKETS[backend], Key=key)["Body"].read()
    assert sha(got) == sha(data)
    sizes = layout(bed, BUCKETS[backend], key)
    assert sum(sizes) == len(data)
    assert_legal(sizes, backend)
    if backend == "s3":
        assert len(sizes) < 21, sizes  # merged, not the client's 21 parts
    # (the SDK keeps its upload id to itself: no staging object is new since before the upload)
    assert set(all_staged(bed, BUCKETS[backend])) <= before


@pytest.mark.parametrize("mode", ["obs-native", "obs-v2", "oss-v1", "oss-v4"])
@pytest.mark.parametrize("backend", ["s3", "cos"])
def test_100_kib_parts(bed, mode, backend):
    """OBS and OSS take parts from 100 KB (obs_04_0099; OSS uploadpart): staged towards S3 and COS."""
    c = make(mode, bed["front"].url)
    data = os.urandom(60 * 100 * KiB + 777)
    key = f"small/{mode}-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS[backend], key)
    parts, n = [], 1
    for off in range(0, len(data), 100 * KiB):
        parts.append((n, c.upload_part(BUCKETS[backend], key, uid, n, data[off:off + 100 * KiB])))
        n += 1
    c.complete(BUCKETS[backend], key, uid, parts)
    got = direct(bed).get_object(Bucket=BUCKETS[backend], Key=key)["Body"].read()
    assert sha(got) == sha(data)
    sizes = layout(bed, BUCKETS[backend], key)
    assert sum(sizes) == len(data)
    assert_legal(sizes, backend)
    assert staged_left(bed, BUCKETS[backend], uid) == []


def test_part_by_part_the_client_sees_its_own_parts(bed):
    c = make("obs-native", bed["front"].url)
    b = BUCKETS["s3"]
    key = f"small/parts-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(b, key)
    p = {n: os.urandom(100 * KiB + n) for n in (1, 2, 3)}
    # Out of order, and part 2 sent twice: the second wins.
    e3 = c.upload_part(b, key, uid, 3, p[3])
    c.upload_part(b, key, uid, 2, os.urandom(100 * KiB))
    e1 = c.upload_part(b, key, uid, 1, p[1])
    e2 = c.upload_part(b, key, uid, 2, p[2])
    listed = c.c.listParts(b, key, uid)
    assert listed.status == 200
    assert [(x.partNumber, x.etag.strip('"'), x.size) for x in listed.body.parts] == [
        (1, e1.strip('"'), len(p[1])), (2, e2.strip('"'), len(p[2])), (3, e3.strip('"'), len(p[3]))]
    assert e1.strip('"') == hashlib.md5(p[1]).hexdigest()  # the ETag its own cloud would give
    with pytest.raises(SdkError) as e:
        c.complete(b, key, uid, [(1, e1), (2, '"0123456789abcdef0123456789abcdef"')])
    assert (e.value.status, e.value.code) == (400, "InvalidPart")
    with pytest.raises(SdkError) as e:
        # (the OBS SDK sorts the list itself; the COS SDK sends it as given)
        make("cos", bed["front"].url).complete(b, key, uid, [(2, e2), (1, e1)])
    assert (e.value.status, e.value.code) == (400, "InvalidPartOrder")
    c.complete(b, key, uid, [(1, e1), (2, e2), (3, e3)])
    assert c.get(b, key) == p[1] + p[2] + p[3]
    assert staged_left(bed, b, uid) == []


def test_abort_removes_staged_parts(bed):
    c = make("cos", bed["front"].url)
    b = BUCKETS["s3"]
    key = f"small/abort-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(b, key)
    c.upload_part(b, key, uid, 1, os.urandom(MiB))
    c.upload_part(b, key, uid, 2, os.urandom(10))
    assert len(staged_left(bed, b, uid)) == 2
    c.abort(b, key, uid)
    assert staged_left(bed, b, uid) == []
    with pytest.raises(SdkError) as e:
        c.list_parts(b, key, uid)
    assert e.value.code == "NoSuchUpload"


def test_an_s3_client_still_gets_entity_too_small(bed):
    """Its own cloud refuses a 1 MiB non-last part: so does the proxy, whatever the backend accepts."""
    c = make("boto3", bed["front"].url)
    for backend in ("s3", "obs"):
        key = f"small/s3-{uuid.uuid4().hex[:6]}.bin"
        uid = c.initiate(BUCKETS[backend], key)
        e1 = c.upload_part(BUCKETS[backend], key, uid, 1, os.urandom(MiB))
        e2 = c.upload_part(BUCKETS[backend], key, uid, 2, os.urandom(10))
        with pytest.raises(SdkError) as e:
            c.complete(BUCKETS[backend], key, uid, [(1, e1), (2, e2)])
        assert (e.value.status, e.value.code) == (400, "EntityTooSmall")
        c.abort(BUCKETS[backend], key, uid)


def peak_rss_mib(pid):
    from pathlib import Path
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines() if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def second_proxy(bed):
    return Proxy(bed["work"], f"replica-{uuid.uuid4().hex[:6]}", standin_config(CLIENT_AK, CLIENT_SK, bed["garage"]))


def test_two_replicas_serve_one_upload_and_merging_stays_small(bed):
    """Parts alternately through two proxy processes, Complete through the second; merging 100 parts
    of 1 MiB keeps the second's peak RSS under 64 MiB."""
    replica = second_proxy(bed)
    try:
        clients = [Cos(bed["front"].url), Cos(replica.url)]
        b = BUCKETS["s3"]
        key = f"small/replicas-{uuid.uuid4().hex[:6]}.bin"
        uid = clients[0].initiate(b, key)
        digest, parts = hashlib.sha256(), []
        for n in range(1, 101):
            piece = os.urandom(MiB)
            digest.update(piece)
            parts.append((n, clients[n % 2].upload_part(b, key, uid, n, piece)))
        clients[1].complete(b, key, uid, parts)
        got = direct(bed).get_object(Bucket=b, Key=key)["Body"].read()
        assert hashlib.sha256(got).hexdigest() == digest.hexdigest()
        assert_legal(layout(bed, b, key), "s3")
        assert staged_left(bed, b, uid) == []
        assert peak_rss_mib(replica.proc.p.pid) < 64
    finally:
        replica.stop()
