"""The OBS and COS SDKs' own high-level transfer helpers (multipart upload, ranged parallel download)."""
import hashlib
import os

import pytest

from clients import make
from conftest import BUCKETS

MiB = 1024 * 1024


def sha_file(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
@pytest.mark.parametrize("mode", ["obs-native", "obs-v2"])
def test_obs_upload_file_and_download_file(bed, tmp_path, mode, backend):
    c = make(mode, bed["front"].url).c
    src, dst = tmp_path / "up.bin", tmp_path / "down.bin"
    src.write_bytes(os.urandom(25 * MiB + 11))
    key = f"helpers/{mode}.bin"
    r = c.uploadFile(BUCKETS[backend], key, str(src), partSize=9 * MiB, taskNum=2)
    assert r.status < 300, (r.errorCode, r.errorMessage)
    r = c.downloadFile(BUCKETS[backend], key, downloadFile=str(dst), partSize=6 * MiB, taskNum=2)
    assert r.status < 300, (r.errorCode, r.errorMessage)
    assert sha_file(dst) == sha_file(src)


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
def test_cos_upload_file_and_download_file(bed, tmp_path, backend):
    c = make("cos", bed["front"].url).c
    src, dst = tmp_path / "up.bin", tmp_path / "down.bin"
    src.write_bytes(os.urandom(25 * MiB + 11))
    key = "helpers/cos.bin"
    c.upload_file(Bucket=BUCKETS[backend], Key=key, LocalFilePath=str(src), PartSize=6, MAXThread=2)
    c.download_file(Bucket=BUCKETS[backend], Key=key, DestFilePath=str(dst), PartSize=6, MAXThread=2)
    assert sha_file(dst) == sha_file(src)
