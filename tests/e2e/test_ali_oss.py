"""ali-oss 6.23.0 (Node), Alibaba's JavaScript SDK, as a client of the gateway: V1 (`OSS ak:sig`, which sends only
`x-oss-date`) and V4 (`OSS4-HMAC-SHA256`) against Garage and the OBS, COS and OSS stand-ins. The workflow
(tests/e2e/node/ali_oss_workflow.js) puts, reads, ranges, lists, joins an uploaded and a copied part (range and
condition), copies, presigns and deletes; every write is read back here from Garage itself. The SDK is installed
by scripts/setup-test-env.sh into the cache. Wire facts: tests/vectors/oss/README.md."""
import hashlib
import json
import os
import shutil
import subprocess
import urllib.parse
from http.client import HTTPConnection

import pytest

from conftest import BUCKETS, CACHE, CLIENT_AK, CLIENT_SK, garage_direct

HERE = os.path.dirname(__file__)
MODULES = str(CACHE / "node" / "node_modules")


def run(bed, backend, v4):
    if shutil.which("node") is None or not os.path.isdir(os.path.join(MODULES, "ali-oss")):
        pytest.skip("Node.js or ali-oss missing: scripts/setup-test-env.sh installs ali-oss where npm exists")
    args = {"endpoint": bed["front"].url, "ak": CLIENT_AK, "sk": CLIENT_SK, "bucket": BUCKETS[backend],
            "region": "oss-cn-hangzhou", "v4": v4, "prefix": f"ali-oss/{'v4' if v4 else 'v1'}"}
    env = dict(os.environ, NODE_PATH=MODULES)
    p = subprocess.run(["node", os.path.join(HERE, "node", "ali_oss_workflow.js"), json.dumps(args)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout)


@pytest.mark.parametrize("backend", ["s3", "obs", "cos", "oss"])
@pytest.mark.parametrize("v4", [False, True], ids=["v1", "v4"])
def test_ali_oss_workflow(bed, backend, v4):
    r = run(bed, backend, v4)
    prefix = f"ali-oss/{'v4' if v4 else 'v1'}"
    assert r["put_status"] == 200 and r["put_etag"]
    assert r["get_sha"] == r["data_sha"]
    assert r["range"] == r["range_want"]
    assert r["head_length"] == 300 * 1024 and r["head_colour"] == "blue"
    assert [f"{prefix}/dir/ü k+1.bin", 300 * 1024] in r["listed"]
    assert r["copy_part_etag"] and r["complete_status"] == 200
    assert r["joined_sha"] == r["src_sha"] == r["copy_sha"]
    assert r["precondition"] == [412, "PreconditionFailed"]
    assert r["after_delete"] == [404, "NoSuchKey", True]
    g = garage_direct(bed)
    joined = g.get_object(Bucket=BUCKETS[backend], Key=r["joined_key"])["Body"].read()
    assert hashlib.sha256(joined).hexdigest() == r["src_sha"]
    u = urllib.parse.urlsplit(r["presigned_url"])
    assert u.hostname == f"{BUCKETS[backend]}.oss-cn-hangzhou.aliyuncs.com"
    conn = HTTPConnection("127.0.0.1", bed["front"].port, timeout=30)
    try:
        conn.request("GET", f"{u.path}?{u.query}", headers={"Host": u.hostname})
        resp = conn.getresponse()
        assert resp.status == 200
        assert hashlib.sha256(resp.read()).hexdigest() == r["src_sha"]
    finally:
        conn.close()
