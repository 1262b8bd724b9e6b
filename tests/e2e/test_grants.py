"""Per-client grants (`[[clients]] buckets` and `access`): two keys with different grants over Garage and the OBS
stand-in, every client mode. What a key is granted is served; anything else is `403 AccessDenied` in the client's
dialect, answered before any backend is asked (a tripwire backend counts connections), counted in
`dialect_proxy_denied_total` and named in the access line. Copies need read on the source and write on the
destination. The keys are in conftest (TEAM_A, TEAM_B)."""
import re
import urllib.request
import uuid

import pytest

from clients import MODES, SdkError, make
from conftest import BUCKETS, TEAM_A, TEAM_B, TOKEN_KEY, wait_until

S3B, OBSB = BUCKETS["s3"], BUCKETS["obs"]


def denied(fn, *a, **kw):
    with pytest.raises(SdkError) as e:
        fn(*a, **kw)
    # (awscli reports the code only)
    assert e.value.code == "AccessDenied" and e.value.status in (403, None), e.value
    return e.value


def metric(bed, action):
    text = urllib.request.urlopen(bed["front"].metrics_url + "/metrics", timeout=5).read().decode()
    # Summed over the dialects.
    return sum(int(n) for n in re.findall(r'dialect_proxy_denied_total\{[^}]*action="%s"[^}]*\} (\d+)' % action, text))


@pytest.mark.parametrize("mode", MODES)
def test_each_key_does_what_it_is_granted_and_nothing_else(bed, mode):
    a, b = make(mode, bed["front"].url, key=TEAM_A), make(mode, bed["front"].url, key=TEAM_B)
    key = f"grants/{mode}-{uuid.uuid4().hex[:6]}.bin"
    data = b"granted " * 1000
    # Team A: read, write, list on the S3 bucket; no delete; nothing on the OBS bucket.
    a.put(S3B, key, data)
    assert a.get(S3B, key) == data and a.head(S3B, key) == len(data)
    assert key in a.list(S3B, "grants/")
    uid = a.initiate(S3B, key + ".mp")
    etag = a.upload_part(S3B, key + ".mp", uid, 1, data)
    a.complete(S3B, key + ".mp", uid, [(1, etag)])
    before = metric(bed, "DeleteObject")
    denied(a.delete, S3B, key)
    # Counted when the request's record closes, just after its answer went out (a client may ask
    # for the metrics first).
    wait_until(lambda: metric(bed, "DeleteObject") == before + 1, "the denial counted", timeout=5)
    denied(a.put, OBSB, key, data)
    denied(a.get, OBSB, key)
    denied(a.list, OBSB, "grants/")
    # Team B: read and list both, delete by name, never write.
    assert b.get(S3B, key) == data
    assert key in b.list(S3B, "grants/")
    denied(b.put, S3B, key, b"overwrite")
    denied(b.initiate, S3B, key + ".b")
    assert a.get(S3B, key) == data  # nothing was half-written
    b.delete(S3B, key)
    b.delete(S3B, key + ".mp")
    with pytest.raises(SdkError) as e:
        a.get(S3B, key)
    assert e.value.code in ("NoSuchKey", "404")


@pytest.mark.parametrize("mode", MODES)
def test_copies_need_read_on_the_source_and_write_on_the_destination(bed, mode):
    from clients import Boto3
    a, b = make(mode, bed["front"].url, key=TEAM_A), make(mode, bed["front"].url, key=TEAM_B)
    owner = Boto3(bed["front"].url)  # the unrestricted key sets the stage
    src = f"grants/src-{mode}-{uuid.uuid4().hex[:6]}.bin"
    data = b"s" * (200 * 1024)
    owner.put(OBSB, src, data)
    owner.put(S3B, src, data)
    # A may write S3 but not read OBS: copying OBS -> S3 is refused, as part copy and as object copy.
    uid = a.initiate(S3B, "grants/dst.bin")
    denied(a.copy_part, S3B, "grants/dst.bin", uid, 1, OBSB, src)
    denied(a.copy_object, S3B, "grants/dst2.bin", OBSB, src)
    # Readable source and writable destination: served.
    etag = a.copy_part(S3B, "grants/dst.bin", uid, 1, S3B, src)
    a.complete(S3B, "grants/dst.bin", uid, [(1, etag)])
    assert owner.get(S3B, "grants/dst.bin") == data
    # B may read S3 but write nowhere: S3 -> OBS is refused.
    uid = owner.initiate(OBSB, "grants/dst.bin")
    denied(b.copy_part, OBSB, "grants/dst.bin", uid, 1, S3B, src)
    denied(b.copy_object, OBSB, "grants/dst3.bin", S3B, src)
    owner.abort(OBSB, "grants/dst.bin", uid)
    with pytest.raises(SdkError) as e:
        owner.head(OBSB, "grants/dst3.bin")
    assert e.value.status == 404


def test_refused_requests_never_leave_and_the_access_line_names_them(bed):
    from clients import Boto3
    trip = bed["trip"]
    a, b = Boto3(bed["front"].url, key=TEAM_A), Boto3(bed["front"].url, key=TEAM_B)
    count = trip.count
    denied(a.get, "trip-b-1", "k")          # not A's bucket
    denied(a.put, "trip-b-1", "k", b"x")
    denied(b.put, "trip-b-1", "k", b"x")    # B's bucket, but B may not write
    denied(b.delete, "trip-a-1", "k")       # deleting is B's, the bucket is not
    assert trip.count == count, "a refused request reached the backend"
    # A granted request does reach it (the tripwire would have seen the others).
    with pytest.raises(SdkError):
        b.get("trip-b-1", "k")
    wait_until(lambda: trip.count > count, "the granted request at the tripwire", timeout=10)
    log = bed["front"].log_path.read_text(errors="replace")
    lines = [l for l in log.splitlines() if TEAM_B[0] in l and "AccessDenied" in l and "trip-b-1" in l]
    assert lines, "no access line names the refused key and bucket"


def test_a_reload_applies_new_grants_to_the_next_request(bed, tmp_path):
    import signal

    from clients import Boto3
    from conftest import Proxy, standin_config
    g = bed["garage"]

    def config(access):
        return standin_config(TEAM_A[0], TEAM_A[1], g, client_extra=f"access = {access}")
    p = Proxy(tmp_path, "grants-reload", config('["read"]'))
    try:
        c = Boto3(p.url, key=TEAM_A)
        denied(c.put, S3B, "grants/reload.bin", b"x")
        p.conf.write_text(config('["read", "write"]').replace("@PORT@", str(p.port)))
        p.proc.p.send_signal(signal.SIGHUP)

        def written():
            try:
                c.put(S3B, "grants/reload.bin", b"x")
                return True
            except SdkError as e:
                assert e.code == "AccessDenied", e
                return False
        wait_until(written, "the new grant to apply", timeout=10)
        assert c.get(S3B, "grants/reload.bin") == b"x"
    finally:
        p.stop()


def token_clients(url, token):
    """Each SDK with a session token, as applications holding short-lived credentials use them."""
    import boto3
    import oss2
    from botocore.config import Config
    from obs import ObsClient
    from qcloud_cos import CosConfig, CosS3Client

    from clients import Boto3, Cos, Obs, Oss
    ak, sk = TOKEN_KEY[0], TOKEN_KEY[1]
    b = Boto3(url, key=(ak, sk))
    b.c = boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                       aws_session_token=token, region_name="us-east-1",
                       config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1}))
    o = Obs(url, True, key=(ak, sk))
    o.c = ObsClient(access_key_id=ak, secret_access_key=sk, security_token=token, server=url, max_retry_count=0,
                    signature="obs", path_style=True, client_mode="workflow")
    c = Cos(url, key=(ak, sk))
    port = int(url.rsplit(":", 1)[1])
    c.c = CosS3Client(CosConfig(Region="ap-guangzhou", SecretId=ak, SecretKey=sk, Token=token, Scheme="http",
                                IP="127.0.0.1", Port=port), retry=0)
    s = Oss(url, True, key=(ak, sk))
    s.auth = oss2.ProviderAuthV4(oss2.credentials.StaticCredentialsProvider(ak, sk, token))
    return [b, o, c, s]


def test_a_key_that_requires_a_session_token_gets_it_from_every_sdk(bed):
    url = bed["front"].url
    for c in token_clients(url, TOKEN_KEY[2]):
        c.put(S3B, f"grants/token-{c.name}", b"t")
        assert c.get(S3B, f"grants/token-{c.name}") == b"t"
    # Without it, or with another: refused, in each client's dialect.
    for c in token_clients(url, "another-token"):
        denied(c.get, S3B, f"grants/token-{c.name}")
    for c in token_clients(url, None):
        denied(c.get, S3B, f"grants/token-{c.name}")
    # Presigned, the token in the query (boto3 presigns V2 here: x-amz-security-token).
    b = token_clients(url, TOKEN_KEY[2])[0]
    signed = b.c.generate_presigned_url("get_object", Params={"Bucket": S3B, "Key": "grants/token-boto3"})
    assert "security-token=" in signed.lower()
    assert urllib.request.urlopen(signed, timeout=10).read() == b"t"
