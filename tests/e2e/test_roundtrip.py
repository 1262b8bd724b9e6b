"""Plain object round-trips through the gateway, for every client mode and every backend dialect."""
import hashlib
import os

import pytest

from clients import MODES, SdkError, make
from conftest import BUCKETS

KEYS = ["plain.bin", "dir/with space+plus%pct~tilde.bin", "unicode/файл-测试-é.bin"]


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
@pytest.mark.parametrize("mode", MODES)
def test_put_get_head_list_delete(bed, mode, backend):
    c = make(mode, bed["front"].url)
    bucket = BUCKETS[backend]
    prefix = f"rt/{mode}/"
    data = os.urandom(300 * 1024 + 7)
    for k in KEYS:
        c.put(bucket, prefix + k, data)
    for k in KEYS:
        got = c.get(bucket, prefix + k)
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), k
        assert c.head(bucket, prefix + k) == len(data)
    assert c.list(bucket, prefix) == sorted(prefix + k for k in KEYS)
    for k in KEYS:
        c.delete(bucket, prefix + k)
    assert c.list(bucket, prefix) == []
    with pytest.raises(SdkError) as e:
        c.get(bucket, prefix + KEYS[0])
    assert e.value.code in ("NoSuchKey", "404") or e.value.status == 404
