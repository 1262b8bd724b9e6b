"""Copies whose source lives on another backend than the destination: the proxy reads the source
(a range of it for Upload Part - Copy) from its cloud and streams it as the destination's UploadPart
or PutObject, then answers a copy result in the client's dialect."""
import hashlib
import os
import uuid

import pytest

from clients import MODES, SdkError, make
from conftest import BUCKETS, GARAGE2_SRC, MOTO_SRC, SRC_BUCKETS

MiB = 1024 * 1024
SSE_KEY = "0123456789abcdef0123456789abcdef"
OTHER_KEY = "fedcba9876543210fedcba9876543210"
KEY = "across/src é+%.bin"
# (source, destination): every dialect as source and as destination, and moto as a source.
PAIRS = [("moto", "s3"), ("obs", "s3"), ("s3", "cos"), ("cos", "obs"), ("oss", "s3"), ("obs", "oss")]
SOURCES = dict(SRC_BUCKETS, moto=MOTO_SRC)
META = {"colour": "blue"}


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def across_sources(bed):
    data = os.urandom(12 * MiB + 321)
    c = make("boto3", bed["front"].url)
    for bucket in SOURCES.values():
        c._call(c.c.put_object, Bucket=bucket, Key=KEY, Body=data, Metadata=META, ContentType="text/x-across")
    return data


@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{s}-to-{d}" for s, d in PAIRS])
@pytest.mark.parametrize("mode", MODES)
def test_copy_part_across_backends(bed, across_sources, mode, src, dst):
    c = make(mode, bed["front"].url)
    key = f"across/{mode}-{src}-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS[dst], key)
    e1 = c.copy_part(BUCKETS[dst], key, uid, 1, SOURCES[src], KEY)
    e2 = c.copy_part(BUCKETS[dst], key, uid, 2, SOURCES[src], KEY, rng="bytes=100-1048675")
    assert e1.strip('"') and e2.strip('"')
    assert sorted(n for n, _ in c.list_parts(BUCKETS[dst], key, uid)) == [1, 2]
    c.complete(BUCKETS[dst], key, uid, [(1, e1), (2, e2)])
    assert sha(c.get(BUCKETS[dst], key)) == sha(across_sources + across_sources[100:1048676])


@pytest.mark.parametrize("src,dst", PAIRS, ids=[f"{s}-to-{d}" for s, d in PAIRS])
@pytest.mark.parametrize("mode", MODES)
def test_copy_object_across_backends(bed, across_sources, mode, src, dst):
    """CopyObject: the whole source, its content type and user metadata (directive COPY); the
    destination's ETag is the MD5 of the source's bytes, which the destination checked."""
    c = make(mode, bed["front"].url)
    key = f"across/object-{mode}-{src}-{uuid.uuid4().hex[:6]}.bin"
    etag = c.copy_object(BUCKETS[dst], key, SOURCES[src], KEY)
    assert etag.strip('"') == hashlib.md5(across_sources).hexdigest()
    h = make("boto3", bed["front"].url).c.head_object(Bucket=BUCKETS[dst], Key=key)
    assert (h["ContentType"], h["Metadata"]) == ("text/x-across", META)
    assert sha(c.get(BUCKETS[dst], key)) == sha(across_sources)


@pytest.mark.parametrize("mode", ["boto3", "obs-native", "cos"])
def test_copy_object_across_backends_replacing_metadata(bed, across_sources, mode):
    c = make(mode, bed["front"].url)
    key = f"across/replaced-{mode}-{uuid.uuid4().hex[:6]}.bin"
    c.copy_object(BUCKETS["cos"], key, SOURCES["s3"], KEY, meta={"shade": "red"})
    h = make("boto3", bed["front"].url).c.head_object(Bucket=BUCKETS["cos"], Key=key)
    assert h["Metadata"] == {"shade": "red"}


def test_copy_object_across_backends_empty_conditions_and_missing(bed):
    c = make("boto3", bed["front"].url)
    c.put(SOURCES["moto"], "across/empty.bin", b"")
    assert c.copy_object(BUCKETS["obs"], "across/empty-copy.bin", SOURCES["moto"], "across/empty.bin")
    assert c.get(BUCKETS["obs"], "across/empty-copy.bin") == b""
    with pytest.raises(SdkError) as e:
        c._call(c.c.copy_object, Bucket=BUCKETS["s3"], Key="across/cond.bin", CopySourceIfMatch='"nope"',
                CopySource={"Bucket": SOURCES["moto"], "Key": "across/empty.bin"})
    assert (e.value.status, e.value.code) == (412, "PreconditionFailed")
    with pytest.raises(SdkError) as e:
        c.copy_object(BUCKETS["s3"], "across/missing-copy.bin", SOURCES["moto"], "across/missing.bin")
    assert (e.value.status, e.value.code) == (404, "NoSuchKey")


def test_across_backends_conditions_ranges_and_missing_sources(bed, across_sources):
    c = make("boto3", bed["front"].url)
    key = f"across/refused-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS["obs"], key)
    try:
        with pytest.raises(SdkError) as e:
            c.copy_part(BUCKETS["obs"], key, uid, 1, SRC_BUCKETS["s3"], KEY, cond={"if-match": '"nope"'})
        assert (e.value.status, e.value.code) == (412, "PreconditionFailed")
        etag = c.c.head_object(Bucket=SRC_BUCKETS["s3"], Key=KEY)["ETag"]
        assert c.copy_part(BUCKETS["obs"], key, uid, 1, SRC_BUCKETS["s3"], KEY, cond={"if-match": etag})
        with pytest.raises(SdkError) as e:
            c.copy_part(BUCKETS["obs"], key, uid, 1, SRC_BUCKETS["s3"], KEY, rng=f"bytes=0-{len(across_sources)}")
        assert (e.value.status, e.value.code) == (416, "InvalidRange")
        with pytest.raises(SdkError) as e:
            c.copy_part(BUCKETS["obs"], key, uid, 1, SRC_BUCKETS["s3"], "across/missing.bin")
        assert (e.value.status, e.value.code) == (404, "NoSuchKey")
    finally:
        c.abort(BUCKETS["obs"], key, uid)


@pytest.mark.parametrize("source", [GARAGE2_SRC, SRC_BUCKETS["cos"]], ids=["second-garage", "cos-standin"])
def test_across_backends_with_sse_c_on_both_sides(bed, source):
    """SSE-C between two Garage servers (and from behind the COS stand-in): each side's key applies
    on its own side; a wrong source key fails."""
    c = make("boto3", bed["front"].url)
    data = os.urandom(5 * MiB + 7)
    c.put(source, "across/ssec.bin", data, ssec=SSE_KEY)
    key = f"across/ssec-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS["s3"], key, ssec=OTHER_KEY)
    with pytest.raises(SdkError):
        c.copy_part(BUCKETS["s3"], key, uid, 1, source, "across/ssec.bin", ssec=OTHER_KEY, src_ssec=OTHER_KEY)
    e1 = c.copy_part(BUCKETS["s3"], key, uid, 1, source, "across/ssec.bin", ssec=OTHER_KEY, src_ssec=SSE_KEY)
    c.complete(BUCKETS["s3"], key, uid, [(1, e1)])
    assert sha(c.get(BUCKETS["s3"], key, ssec=OTHER_KEY)) == sha(data)
    whole = f"across/ssec-object-{uuid.uuid4().hex[:6]}.bin"
    c.copy_object(BUCKETS["obs"], whole, source, "across/ssec.bin", ssec=OTHER_KEY, src_ssec=SSE_KEY)
    assert sha(c.get(BUCKETS["obs"], whole, ssec=OTHER_KEY)) == sha(data)


@pytest.mark.parametrize("fault", ["cuthalf", "cut64", "chunkhalf", "stallbody", "reset", "slowdownall"])
def test_a_source_that_breaks_off_stores_no_part(bed, fault):
    """The source (a misbehaving backend) dies mid-stream: the client gets an error, and the
    destination holds no part that a Complete could pick up."""
    from conftest import APPID
    c = make("boto3", bed["front"].url)
    key = f"across/broken-{fault}-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS["s3"], key)
    try:
        with pytest.raises(SdkError) as e:
            c.copy_part(BUCKETS["s3"], key, uid, 1, f"fault-{APPID}", f"get.{fault}.{uuid.uuid4().hex[:6]}")
        assert e.value.status >= 500
        assert c.list_parts(BUCKETS["s3"], key, uid) == []
    finally:
        c.abort(BUCKETS["s3"], key, uid)


@pytest.mark.parametrize("fault", ["cuthalf1", "slowdown1", "reset1"])
def test_a_source_that_fails_once_is_copied_again(bed, fault):
    """The whole part is sent again after a transient failure: the copy succeeds, bytes right."""
    from conftest import APPID
    from faults import DATA
    c = make("boto3", bed["front"].url)
    key = f"across/again-{fault}-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS["s3"], key)
    etag = c.copy_part(BUCKETS["s3"], key, uid, 1, f"fault-{APPID}", f"get.{fault}.{uuid.uuid4().hex[:6]}")
    c.complete(BUCKETS["s3"], key, uid, [(1, etag)])
    assert sha(c.get(BUCKETS["s3"], key)) == sha(DATA)


def test_copies_across_backends_are_measured(bed, across_sources):
    import urllib.request

    def metric(prefix):
        text = urllib.request.urlopen(bed["front"].metrics_url + "/metrics", timeout=5).read().decode()
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))

    before = {m: metric(m) for m in ('dialect_proxy_copy_across_total{result="stored"}',
                                     'dialect_proxy_copy_across_total{result="failed"}',
                                     "dialect_proxy_copy_across_bytes_total", "dialect_proxy_copy_across_seconds_count")}
    c = make("boto3", bed["front"].url)
    key = f"across/measured-{uuid.uuid4().hex[:6]}.bin"
    uid = c.initiate(BUCKETS["cos"], key)
    try:
        c.copy_part(BUCKETS["cos"], key, uid, 1, SRC_BUCKETS["s3"], KEY, rng="bytes=0-999")
        with pytest.raises(SdkError):
            c.copy_part(BUCKETS["cos"], key, uid, 2, SRC_BUCKETS["s3"], "across/missing.bin")
    finally:
        c.abort(BUCKETS["cos"], key, uid)
    after = {m: metric(m) for m in before}
    delta = [after[m] - before[m] for m in before]
    assert delta == [1, 1, 1000, 2], delta
