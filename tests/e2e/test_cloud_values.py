"""Values and bodies that differ between clouds, end to end behind the rules-enforcing OBS and COS clouds
(tests/e2e/rules.py): storage classes and canned ACLs mapped or refused in the client's dialect (never
passed raw), CreateBucket and GetBucketLocation in each cloud's shape, and the inbound tolerance the
vendors' own SDKs need (an empty Authorization is anonymous; the sub-resources esdk-obs-python signs)."""
import http.client
import uuid

import pytest
from botocore.exceptions import ClientError

from clients import Boto3, Obs
from conftest import APPID, BUCKETS, garage_direct


def exists(bed, bucket, key):
    try:
        garage_direct(bed).head_object(Bucket=bucket, Key=key)
        return True
    except ClientError:
        return False


def refused(fn, **kw):
    with pytest.raises(ClientError) as e:
        fn(**kw)
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.mark.parametrize("backend", ["obs", "cos", "s3"])
@pytest.mark.parametrize("cls", ["STANDARD", "STANDARD_IA", "GLACIER"])
def test_storage_classes_with_an_equivalent_are_mapped_and_stored(bed, backend, cls):
    """S3's STANDARD_IA is OBS's WARM, GLACIER is OBS's COLD and COS's ARCHIVE (obs_04_0080, 436/7749):
    the rules layer refuses any S3 spelling in x-obs-/x-cos-storage-class."""
    key = f"class-{uuid.uuid4().hex[:8]}"
    c = Boto3(bed["front"].url).c
    c.put_object(Bucket=BUCKETS[backend], Key=key, Body=b"x", StorageClass=cls)
    assert exists(bed, BUCKETS[backend], key)


@pytest.mark.parametrize("backend,cls", [("obs", "GLACIER_IR"), ("obs", "ONEZONE_IA"), ("cos", "GLACIER_IR"),
                                         ("cos", "REDUCED_REDUNDANCY")])
def test_a_storage_class_without_an_equivalent_is_refused_and_nothing_stored(bed, backend, cls):
    key = f"class-{uuid.uuid4().hex[:8]}"
    c = Boto3(bed["front"].url).c
    assert refused(c.put_object, Bucket=BUCKETS[backend], Key=key, Body=b"x", StorageClass=cls) == \
        (400, "InvalidStorageClass")
    assert not exists(bed, BUCKETS[backend], key)


def test_an_obs_client_storage_class_reaches_s3_in_its_terms(bed):
    """esdk-obs-python native sends WARM; the S3 backend gets STANDARD_IA (Garage takes it)."""
    from obs import PutObjectHeader
    key = f"class-obs-{uuid.uuid4().hex[:8]}"
    o = Obs(bed["front"].url, native=True)
    r = o.c.putContent(BUCKETS["s3"], key, content=b"x", headers=PutObjectHeader(storageClass="WARM"))
    assert r.status < 300, r.errorCode
    assert exists(bed, BUCKETS["s3"], key)


@pytest.mark.parametrize("backend,acl,ok", [
    ("obs", "private", True), ("obs", "public-read", True), ("obs", "authenticated-read", False),
    ("obs", "bucket-owner-full-control", True), ("obs", "bucket-owner-read", False), ("cos", "public-read-write", False),
    ("cos", "authenticated-read", True), ("cos", "bucket-owner-read", True),
])
def test_canned_acls_follow_each_clouds_object_set(bed, backend, acl, ok):
    """OBS objects take private/public-read/public-read-write (obs_04_0080) and bucket-owner-full-control
    (obs_04_0021, esdk-obs-python's allow-list); COS objects no
    public-read-write (436/30752)."""
    key = f"acl-{uuid.uuid4().hex[:8]}"
    c = Boto3(bed["front"].url).c
    kw = dict(Bucket=BUCKETS[backend], Key=key, Body=b"x", ACL=acl)
    if ok:
        c.put_object(**kw)
        assert exists(bed, BUCKETS[backend], key)
    else:
        assert refused(c.put_object, **kw) == (400, "InvalidArgument")
        assert not exists(bed, BUCKETS[backend], key)


@pytest.mark.parametrize("backend", ["obs", "cos"])
def test_create_bucket_and_its_location_in_each_clouds_shape(bed, backend):
    """OBS requires <Location> at a regional endpoint (obs_04_0021) and answers GetBucketLocation with
    <Location> (obs_04_0024); COS takes no location body (436/7738). boto3 sends no body for us-east-1."""
    bucket = f"mk-{backend}-{uuid.uuid4().hex[:6]}-{APPID}"
    c = Boto3(bed["front"].url).c
    c.create_bucket(Bucket=bucket)
    try:
        garage_direct(bed).head_bucket(Bucket=bucket)
        assert c.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "garage"
    finally:
        c.delete_bucket(Bucket=bucket)


@pytest.mark.parametrize("path", ["/via-cos-1250000000/some-key", "/via-obs-1250000000/some-key"])
def test_an_empty_authorization_is_an_anonymous_request(bed, path):
    """cos-python-sdk-v5's anonymous mode sends `Authorization:` empty; COS answers 403 AccessDenied
    (436/7730), not 400."""
    conn = http.client.HTTPConnection("127.0.0.1", bed["front"].port, timeout=10)
    try:
        conn.request("GET", path, headers={"Authorization": "", "Host": f"127.0.0.1:{bed['front'].port}"})
        r = conn.getresponse()
        body = r.read().decode()
    finally:
        conn.close()
    assert r.status == 403, body
    assert "<Code>AccessDenied</Code>" in body and "<Message>" in body


def test_the_obs_sdk_signs_customdomain_its_own_way(bed):
    """esdk-obs-python 3.26.6 leaves `customdomain` out of the canonical resource (obs/const.py), though
    obs_04_0010 lists it: its correctly signed request is verified and forwarded (to the tripwire
    backend, which only counts connections), not refused as forged."""
    o = Obs(bed["front"].url, native=True)
    before = bed["trip"].count
    r = o.c.setBucketCustomDomain(f"trip-sdk-{APPID}", "www.example.com")
    assert r.errorCode not in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"), \
        (r.status, r.errorCode, r.errorMessage)
    assert bed["trip"].count > before


S3_ACL_PUBLIC_READ = {
    "Owner": {"ID": "owner"},
    "Grants": [{"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                "Permission": "READ"}],
}


@pytest.mark.parametrize("backend", ["obs", "cos"])
def test_acl_documents_reach_each_cloud_in_its_terms(bed, backend):
    """An S3 AllUsers grant is OBS's <Canned>Everyone</Canned> (obs_04_0030) and COS's cam.qcloud.com group
    (436/7737): the rules layer refuses another cloud's terms. (Garage keeps no ACLs: what it answers past
    the layer is its own.)"""
    key = f"acl-doc-{uuid.uuid4().hex[:8]}"
    c = Boto3(bed["front"].url).c
    c.put_object(Bucket=BUCKETS[backend], Key=key, Body=b"x")
    layer = bed[f"{backend}_rules"]
    before = len(layer.violations)
    try:
        c.put_object_acl(Bucket=BUCKETS[backend], Key=key, AccessControlPolicy=S3_ACL_PUBLIC_READ)
    except ClientError as e:
        assert "rules-layer" not in e.response["Error"].get("Message", ""), e.response["Error"]
    assert len(layer.violations) == before


def test_an_acl_group_without_an_equivalent_is_refused(bed):
    """OBS's native API has no authenticated-users group: refused before the backend."""
    key = f"acl-doc-{uuid.uuid4().hex[:8]}"
    c = Boto3(bed["front"].url).c
    policy = {**S3_ACL_PUBLIC_READ, "Grants": [{"Grantee": {
        "Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}, "Permission": "READ"}]}
    before = len(bed["obs_rules"].violations)
    assert refused(c.put_object_acl, Bucket=BUCKETS["obs"], Key=key, AccessControlPolicy=policy) == \
        (400, "InvalidArgument")
    assert len(bed["obs_rules"].violations) == before


@pytest.mark.parametrize("backend,tier,ok", [("obs", "Expedited", True), ("cos", "Bulk", True),
                                             ("obs", "Bulk", False)])
def test_restore_requests_reach_each_cloud_in_its_terms(bed, backend, tier, ok):
    """S3's GlacierJobParameters is OBS's RestoreJob (obs_04_0087, tiers Expedited and Standard) and COS's
    CASJobParameters (436/12633), each with the Content-MD5 they require."""
    key = f"restore-{uuid.uuid4().hex[:8]}"
    c = Boto3(bed["front"].url).c
    layer = bed[f"{backend}_rules"]
    before = len(layer.violations)
    kw = dict(Bucket=BUCKETS[backend], Key=key, RestoreRequest={"Days": 1, "GlacierJobParameters": {"Tier": tier}})
    if ok:
        try:
            c.restore_object(**kw)
        except ClientError as e:
            assert "rules-layer" not in e.response["Error"].get("Message", ""), e.response["Error"]
    else:
        assert refused(c.restore_object, **kw) == (400, "InvalidArgument")
    assert len(layer.violations) == before
