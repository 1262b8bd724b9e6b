"""The command line contract and the embedded default serving all three SDKs."""
import hashlib
import os
import subprocess

import pytest

from clients import SdkError, make
from conftest import BIN, ROOT, Proc, free_port, port_open, wait_until

CONF_ENV = {k: "x" for k in ["DIALECT_PROXY_CLIENT_SECRET", "GARAGE_KEY_ID", "GARAGE_SECRET", "APP_TEAM_SECRET",
                             "OBS_AK", "OBS_SK", "COS_SECRET_ID", "COS_SECRET_KEY", "YC_KEY_ID", "YC_SECRET",
                             "TEAM_A_SECRET", "REPORTS_SECRET", "REPORTS_TOKEN", "OBS_SECURITY_TOKEN"]}


def run(*args, env=None):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=30,
                          env=dict(os.environ, **(env or {})))


def test_check_accepts_every_shipped_config():
    confs = sorted((ROOT / "conf").glob("*.toml"))
    assert len(confs) >= 3
    for f in confs:
        r = run("check", "--config", str(f), env=CONF_ENV)
        assert r.returncode == 0, r.stderr
        assert len(r.stdout.strip().splitlines()) == 1 and "ok" in r.stdout


def test_check_names_the_key_and_line_of_a_broken_config(tmp_path):
    r = run("check", "--config", str(ROOT / "tests/conf-broken/bad-dialect.toml"))
    assert r.returncode != 0
    assert "backends[0].dialect" in r.stderr and "line 7" in r.stderr
    f = tmp_path / "c.toml"
    f.write_text((ROOT / "conf/garage.toml").read_text())
    r = run("check", "--config", str(f))  # the secret's variable is not set
    assert r.returncode != 0 and "DIALECT_PROXY_CLIENT_SECRET" in r.stderr and "clients[0]" in r.stderr
    f.write_text("[server]\nlisten = [\"nope\"]\n")
    r = run("check", "--config", str(f))
    assert r.returncode != 0 and "server.listen[0]" in r.stderr


def test_help_version_and_unknown_flags():
    assert run("--help").returncode == 0
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("dialect-proxy ")
    r = run("--no-such-flag")
    assert r.returncode != 0 and "Usage" in r.stderr


@pytest.fixture(scope="module")
def default_proxy(tmp_path_factory):
    work = tmp_path_factory.mktemp("default")
    port = free_port()
    env = dict(os.environ, DIALECT_PROXY_LISTEN=f"127.0.0.1:{port}", DIALECT_PROXY_DATA=str(work / "data"))
    env.pop("DIALECT_PROXY_ACCESS_KEY", None)
    env.pop("DIALECT_PROXY_SECRET_KEY", None)
    p = Proc([str(BIN)], work / "default.log", env=env)
    try:
        wait_until(lambda: port_open(port), "embedded default")
        wait_until(lambda: "secret key:" in (work / "default.log").read_text(), "credentials banner")
        text = (work / "default.log").read_text()
        ak = text.split("access key:")[1].split()[0]
        sk = text.split("secret key:")[1].split()[0]
        yield f"http://127.0.0.1:{port}", ak, sk, work
    finally:
        p.stop()


def test_embedded_default_serves_every_sdk(default_proxy, monkeypatch):
    import clients
    url, ak, sk, work = default_proxy
    monkeypatch.setattr(clients, "CLIENT_AK", ak)
    monkeypatch.setattr(clients, "CLIENT_SK", sk)
    boto = make("boto3", url)
    boto.c.create_bucket(Bucket="demo-1250000000")
    data = os.urandom(70000)
    for mode in ["boto3", "awscli", "obs-native", "obs-v2", "cos"]:
        c = make(mode, url)
        key = f"default/{mode}/obj.bin"
        c.put("demo-1250000000", key, data)
        assert hashlib.sha256(c.get("demo-1250000000", key)).digest() == hashlib.sha256(data).digest()
        assert c.head("demo-1250000000", key) == len(data)
        assert c.list("demo-1250000000", f"default/{mode}/") == [key]
        c.delete("demo-1250000000", key)
        with pytest.raises(SdkError):
            c.get("demo-1250000000", key)
    assert (work / "data" / "demo-1250000000").is_dir()
    # The generated secret is printed once, and never logged elsewhere.
    assert (work / "default.log").read_text().count(sk) == 1


def test_sidecar_mode_without_inbound_verification(bed, tmp_path):
    """inbound_auth = "none": a trusted sidecar forwards unsigned requests, signed for the backend."""
    from conftest import Proxy
    g = bed["garage"]
    cfg = f"""
[server]
listen = ["127.0.0.1:@PORT@"]
inbound_auth = "none"
[[backends]]
name = "garage"
dialect = "s3"
endpoint = "http://127.0.0.1:{g.port}"
region = "garage"
access_key = "{g.key_id}"
secret_key = "{g.secret}"
[[routes]]
bucket = "*"
backend = "garage"
"""
    p = Proxy(tmp_path, "sidecar", cfg)
    try:
        import boto3
        from botocore import UNSIGNED
        from botocore.config import Config
        c = boto3.client("s3", endpoint_url=p.url, region_name="us-east-1",
                         config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}))
        c.put_object(Bucket="via-s3-1250000000", Key="sidecar/k", Body=b"unsigned")
        assert c.get_object(Bucket="via-s3-1250000000", Key="sidecar/k")["Body"].read() == b"unsigned"
        # A COS-shaped request is answered in COS's dialect, guessed from its Host.
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        conn.request("GET", "/sidecar/missing", headers={"Host": "via-s3-1250000000.cos.ap-guangzhou.myqcloud.com"})
        r = conn.getresponse()
        body = r.read().decode()
        assert r.status == 404 and "<TraceId>" in body and r.getheader("x-cos-request-id")
    finally:
        p.stop()


def test_deploy_configs_pass_check_without_their_secrets():
    """The configurations of the kustomize base and overlays (scripts/validate-deploy.sh checks them
    again as rendered into ConfigMaps): valid, and refused when their secret files are absent."""
    confs = sorted((ROOT / "deploy" / "kubernetes").rglob("config.toml"))
    assert len(confs) == 2
    for conf in confs:
        r = run("check", "--skip-secrets", "--config", str(conf))
        assert r.returncode == 0, (conf, r.stderr)
        r = run("check", "--config", str(conf))
        assert r.returncode != 0 and "/var/run/dialect-proxy/keys/" in r.stderr, (conf, r.stderr)


def test_https_backend_trusted_through_ca_file(bed, tmp_path):
    """A proxy whose backend is the front proxy's HTTPS listener: trusted with ca_file, refused without."""
    from conftest import CLIENT_AK, CLIENT_SK, Proxy
    port = bed["front"].https_url.rsplit(":", 1)[1]

    def cfg(ca_line):
        return f"""
[server]
listen = ["127.0.0.1:@PORT@"]
[[clients]]
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[backends]]
name = "front-tls"
dialect = "s3"
endpoint = "https://127.0.0.1:{port}"
{ca_line}
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[routes]]
bucket = "*"
backend = "front-tls"
"""
    trusted = Proxy(tmp_path, "tls-trusted", cfg(f'ca_file = "{bed["front"].ca}"'))
    untrusted = Proxy(tmp_path, "tls-untrusted", cfg(""))
    try:
        c = make("boto3", trusted.url)
        c.put("via-s3-1250000000", "tls/k", b"over tls")
        assert c.get("via-s3-1250000000", "tls/k") == b"over tls"
        with pytest.raises(SdkError) as e:
            make("boto3", untrusted.url).get("via-s3-1250000000", "tls/k")
        assert e.value.status in (502, 503)
    finally:
        trusted.stop()
        untrusted.stop()
    r = run("check", "--config", str(tmp_path / "bad.toml"))
    (tmp_path / "bad.toml").write_text(cfg('ca_file = "/nonexistent/ca.pem"').replace("@PORT@", "1"))
    r = run("check", "--config", str(tmp_path / "bad.toml"))
    assert r.returncode != 0 and "backends[0].ca_file" in r.stderr


def test_sighup_reloads_and_keeps_a_running_config_when_the_new_one_is_broken(bed, tmp_path, monkeypatch):
    import signal
    import clients
    from conftest import Proxy, standin_config, wait_until
    g = bed["garage"]
    p = Proxy(tmp_path, "reload", standin_config("AKFIRST", "first-secret", g))
    try:
        def works(ak, sk):
            monkeypatch.setattr(clients, "CLIENT_AK", ak)
            monkeypatch.setattr(clients, "CLIENT_SK", sk)
            try:
                make("boto3", p.url).put("via-s3-1250000000", "reload/k", b"x")
                return True
            except SdkError as e:
                assert e.code == "InvalidAccessKeyId"
                return False

        assert works("AKFIRST", "first-secret") and not works("AKSECOND", "second-secret")
        p.conf.write_text(standin_config("AKSECOND", "second-secret", g).replace("@PORT@", str(p.port)))
        p.proc.p.send_signal(signal.SIGHUP)
        wait_until(lambda: works("AKSECOND", "second-secret"), "reloaded configuration")
        assert not works("AKFIRST", "first-secret")
        p.conf.write_text("[[routes]]\nbucket = 1\n")
        p.proc.p.send_signal(signal.SIGHUP)
        wait_until(lambda: "reload refused" in p.log_path.read_text(errors="replace"), "refused reload")
        assert works("AKSECOND", "second-secret") and p.proc.p.poll() is None
    finally:
        p.stop()


def test_copy_results_from_the_embedded_store_carry_last_modified(default_proxy, monkeypatch):
    """s3s-fs answers a copy without LastModified; every SDK still gets one."""
    import clients
    url, ak, sk, _ = default_proxy
    monkeypatch.setattr(clients, "CLIENT_AK", ak)
    monkeypatch.setattr(clients, "CLIENT_SK", sk)
    boto = make("boto3", url)
    try:
        boto.c.create_bucket(Bucket="lm-1250000000")
    except Exception:  # noqa: BLE001 - another test may have made it
        pass
    boto.put("lm-1250000000", "src", os.urandom(1000))
    r = boto.c.copy_object(Bucket="lm-1250000000", Key="dst", CopySource={"Bucket": "lm-1250000000", "Key": "src"})
    assert r["CopyObjectResult"]["LastModified"] and r["CopyObjectResult"]["ETag"]
    uid = boto.initiate("lm-1250000000", "mp")
    r = boto.c.upload_part_copy(Bucket="lm-1250000000", Key="mp", UploadId=uid, PartNumber=1,
                                CopySource={"Bucket": "lm-1250000000", "Key": "src"})
    assert r["CopyPartResult"]["LastModified"] and r["CopyPartResult"]["ETag"]
    for mode in ["obs-native", "cos"]:
        c = make(mode, url)
        uid = c.initiate("lm-1250000000", f"mp-{mode}")
        assert c.copy_part("lm-1250000000", f"mp-{mode}", uid, 1, "lm-1250000000", "src")
        c.abort("lm-1250000000", f"mp-{mode}", uid)
