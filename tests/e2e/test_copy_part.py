"""Upload Part - Copy through the gateway: every client mode against every backend dialect."""
import hashlib
import os

import pytest

from clients import MODES, SdkError, make
from conftest import BUCKETS, SRC_BUCKETS

MiB = 1024 * 1024
SRC_KEYS = ["copy/src plain.bin", "copy/sp a+b%c~d=e&f;g,h'i(j)k*l!m@n$o.bin", "copy/юникод 测试 é.bin"]


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.fixture(scope="module")
def sources(bed):
    """6 MiB source objects (Garage cannot copy from tiny inline objects) in each backend's source bucket."""
    data = os.urandom(6 * MiB + 123)
    c = make("boto3", bed["front"].url)
    for backend in BUCKETS:
        for k in SRC_KEYS:
            c.put(SRC_BUCKETS[backend], k, data)
    return data


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
@pytest.mark.parametrize("mode", MODES)
def test_whole_and_ranged_copy(bed, sources, mode, backend):
    c = make(mode, bed["front"].url)
    dst, src = BUCKETS[backend], SRC_BUCKETS[backend]
    for i, sk in enumerate(SRC_KEYS):
        key = f"copied/{mode}/{i}.bin"
        uid = c.initiate(dst, key)
        e1 = c.copy_part(dst, key, uid, 1, src, sk)
        e2 = c.copy_part(dst, key, uid, 2, src, sk, rng="bytes=100-1048675")
        assert e1.strip('"') and e2.strip('"')
        assert sorted(n for n, _ in c.list_parts(dst, key, uid)) == [1, 2]
        c.complete(dst, key, uid, [(1, e1), (2, e2)])
        got = c.get(dst, key)
        assert sha(got) == sha(sources + sources[100:1048676]), sk
        c.delete(dst, key)


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
@pytest.mark.parametrize("mode", MODES)
def test_refused_at_the_edge(bed, sources, mode, backend):
    c = make(mode, bed["front"].url)
    dst, src = BUCKETS[backend], SRC_BUCKETS[backend]
    key = f"refused/{mode}.bin"
    uid = c.initiate(dst, key)
    try:
        for bad in ["bytes=9-1", "bytes=abc", "bytes=-5", "bytes=5-", "bytes=0-1,3-4"]:
            with pytest.raises(SdkError) as e:
                c.copy_part(dst, key, uid, 1, src, SRC_KEYS[0], rng=bad)
            assert e.value.code == "InvalidArgument", bad
        for n in (0, 10001):
            with pytest.raises(SdkError) as e:
                c.copy_part(dst, key, uid, n, src, SRC_KEYS[0])
            assert e.value.code == "InvalidArgument", n
        with pytest.raises(SdkError) as e:
            c.copy_part(dst, key, "no-such-upload-id", 1, src, SRC_KEYS[0])
        assert e.value.code == "NoSuchUpload"
        with pytest.raises(SdkError) as e:
            c.copy_part(dst, key, uid, 1, src, "copy/missing-source.bin")
        assert e.value.code == "NoSuchKey"
    finally:
        c.abort(dst, key, uid)
