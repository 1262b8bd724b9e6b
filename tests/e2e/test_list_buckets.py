"""ListBuckets answered by the gateway: Garage and the OBS, COS and OSS stand-ins (each in front of the same Garage)
listed once each, their buckets shown under the names clients use (routes' `backend_bucket` read backwards),
only those the key's grant covers, through each SDK (boto3 `list_buckets`, OBS `listBuckets`, COS `list_buckets`,
oss2 `Service.list_buckets`). A backend that cannot list fails the request: 503 in the client's dialect."""
import oss2
import pytest

from clients import Boto3, Obs
from conftest import (APPID, BUCKETS, CLIENT_AK, CLIENT_SK, COS_AK, COS_SK, OBS_AK, OBS_SK, OSS_AK, OSS_SK,
                      TEAM_A, Proxy)

EVERYONE = {"s3-main", f"cos-{APPID}", "obs-main", "oss-main"}


def config(bed, extra=""):
    g = bed["garage"]
    return f"""
[server]
listen = ["127.0.0.1:@PORT@"]
[[clients]]
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[clients]]
access_key = "{TEAM_A[0]}"
secret_key = "{TEAM_A[1]}"
buckets = ["cos-*", "obs-main"]
access = ["read", "list"]
[[backends]]
name = "garage"
dialect = "s3"
endpoint = "http://127.0.0.1:{g.port}"
region = "garage"
access_key = "{g.key_id}"
secret_key = "{g.secret}"
[[backends]]
name = "obs"
dialect = "obs"
endpoint = "http://obs.cn-north-4.myhuaweicloud.com"
connect = "127.0.0.1:{bed['obs_rules'].port}"
addressing = "path"
access_key = "{OBS_AK}"
secret_key = "{OBS_SK}"
[[backends]]
name = "cos"
dialect = "cos"
endpoint = "http://cos.ap-guangzhou.myqcloud.com"
connect = "127.0.0.1:{bed['cos_rules'].port}"
region = "ap-guangzhou"
addressing = "virtual"
access_key = "{COS_AK}"
secret_key = "{COS_SK}"
[[backends]]
name = "oss"
dialect = "oss"
endpoint = "http://oss-cn-hangzhou.aliyuncs.com"
connect = "127.0.0.1:{bed['oss_rules'].port}"
region = "cn-hangzhou"
addressing = "virtual"
access_key = "{OSS_AK}"
secret_key = "{OSS_SK}"
{extra}
[[routes]]
bucket = "s3-main"
backend = "garage"
backend_bucket = "{BUCKETS['s3']}"
[[routes]]
bucket = "cos-*"
backend = "cos"
backend_bucket = "via-{{bucket}}"
[[routes]]
bucket = "obs-main"
backend = "obs"
backend_bucket = "{BUCKETS['obs']}"
[[routes]]
bucket = "oss-main"
backend = "oss"
backend_bucket = "{BUCKETS['oss']}"
"""


@pytest.fixture(scope="module")
def gateway(bed):
    p = Proxy(bed["work"], "list-buckets", config(bed))
    try:
        yield p
    finally:
        p.stop()


def names_boto3(url, key):
    return {b["Name"] for b in Boto3(url, key=key).c.list_buckets()["Buckets"]}


def names_obs(url, key):
    r = Obs(url, True, key=key).c.listBuckets()
    assert r.status == 200, r.errorCode
    return {b.name for b in r.body.buckets}


def names_cos(url, key):
    from qcloud_cos import CosConfig, CosS3Client
    # The SDK lists at service.cos.myqcloud.com unless told another service domain.
    host = url.removeprefix("http://")
    c = CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=key[0], SecretKey=key[1], Scheme="http",
                              ServiceDomain=host), retry=0)
    r = c.list_buckets()
    return {b["Name"] for b in r["Buckets"]["Bucket"]}


def names_oss(url, key):
    return {b.name for b in oss2.Service(oss2.Auth(*key), url).list_buckets().buckets}


@pytest.mark.parametrize("sdk", [names_boto3, names_obs, names_cos, names_oss],
                         ids=["boto3", "obs", "cos", "oss2"])
def test_each_sdk_sees_exactly_the_granted_buckets_under_client_names(gateway, sdk):
    assert sdk(gateway.url, (CLIENT_AK, CLIENT_SK)) == EVERYONE
    assert sdk(gateway.url, TEAM_A) == {f"cos-{APPID}", "obs-main"}


def test_the_names_shown_are_the_names_that_work(gateway):
    c = Boto3(gateway.url)
    for name in EVERYONE:
        c.put(name, "listed.txt", b"x")
        assert c.get(name, "listed.txt") == b"x"


def test_a_backend_that_cannot_list_fails_the_whole_answer(bed):
    extra = """[[backends]]
name = "dead"
dialect = "s3"
endpoint = "http://127.0.0.1:9"
access_key = "a"
secret_key = "b"
timeouts = { connect = "1s", total = "2s", retries = 0 }
[[routes]]
bucket = "dead-*"
backend = "dead"
"""
    p = Proxy(bed["work"], "list-buckets-dead", config(bed, extra))
    try:
        from botocore.exceptions import ClientError
        with pytest.raises(ClientError) as e:
            Boto3(p.url).c.list_buckets()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert e.value.response["Error"]["Code"] == "ServiceUnavailable"
    finally:
        p.stop()
