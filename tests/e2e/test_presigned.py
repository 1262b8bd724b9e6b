"""Presigned URLs from every SDK, fetched with a plain HTTP client through the gateway."""
import urllib.error
import urllib.request

import pytest

from clients import make
from conftest import BUCKETS

KEY = "presigned/a b+c~é.txt"
DATA = b"presigned body"


@pytest.fixture(scope="module")
def objects(bed):
    c = make("boto3", bed["front"].url)
    for b in BUCKETS.values():
        c.put(b, KEY, DATA)


def fetch(url, host=None):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
def test_presigned_urls_from_every_sdk(bed, objects, backend):
    b = BUCKETS[backend]
    boto = make("boto3", bed["front"].url).c
    from botocore.config import Config
    import boto3
    from conftest import CLIENT_AK, CLIENT_SK
    v4 = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK, aws_secret_access_key=CLIENT_SK,
                      region_name="us-east-1", config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    urls = {
        "boto3-sigv4": v4.generate_presigned_url("get_object", Params={"Bucket": b, "Key": KEY}, ExpiresIn=300),
        "boto3-v2": boto.generate_presigned_url("get_object", Params={"Bucket": b, "Key": KEY}, ExpiresIn=300),
        "obs-native": make("obs-native", bed["front"].url).c.createSignedUrl("GET", b, KEY, expires=300)["signedUrl"],
        "obs-v2": make("obs-v2", bed["front"].url).c.createSignedUrl("GET", b, KEY, expires=300)["signedUrl"],
    }
    for name, url in urls.items():
        assert fetch(url) == (200, DATA), name
        # One byte of the signature changed: refused, in the signer's dialect.
        i = url.rfind("Signature=") + len("Signature=") + 2
        # A different value whatever the case (hex signatures compare case-insensitively).
        bad = url[:i] + ("0" if url[i].lower() != "0" else "1") + url[i + 1:]
        st, body = fetch(bad)
        assert st in (400, 403) and b"SignatureDoesNotMatch" in body or b"AuthorizationHeaderMalformed" in body, name
    # The COS SDK signs the host of the URL it builds: the bucket's domain. The URL is fetched through the
    # gateway by connecting to it with that Host, as a client behind a DNS entry for the gateway would.
    from qcloud_cos import CosConfig, CosS3Client
    cos = CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=CLIENT_AK, SecretKey=CLIENT_SK, Scheme="http"))
    url = cos.get_presigned_url(Bucket=b, Key=KEY, Method="GET", Expired=300)
    host = f"{b}.cos.ap-guangzhou.myqcloud.com"
    assert url.startswith(f"http://{host}/")
    local = url.replace(f"http://{host}", bed["front"].url)
    assert fetch(local, host=host) == (200, DATA)
    st, body = fetch(local.replace("q-signature=", "q-signature=0"), host=host)
    assert st in (400, 403) and b"<TraceId>" in body
