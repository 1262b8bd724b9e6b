"""A real browser: headless Chromium (Debian's, driven by playwright-core) opens a page served on another origin
than the gateway's. The page (a) posts forms signed for each dialect (S3 SigV4 by boto3, OBS by its SDK, COS and
OSS by their documented recipes) with fetch() and FormData to a bucket on each backend, and (b) PUTs through a
presigned URL after the browser's own preflight, reading the ETag header. Every object is read back from Garage
byte-exact. Both setup pieces come from scripts/setup-test-env.sh (apt chromium, npm playwright-core)."""
import hashlib
import http.server
import json
import os
import shutil
import subprocess
import threading
import uuid

import pytest

from conftest import BUCKETS, CACHE, CLIENT_AK, CLIENT_SK, garage_direct
from test_post_object import cos_signed, expiry, v2_signed

HERE = os.path.dirname(__file__)
MODULES = CACHE / "node" / "node_modules"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")

PAGE = """<!doctype html><html><body><script id="cfg" type="application/json">{cfg}</script><script>
const cfg = JSON.parse(document.getElementById('cfg').textContent);
(async () => {{
  const results = [];
  for (const f of cfg.forms) {{
    const fd = new FormData();
    for (const [k, v] of Object.entries(f.fields)) fd.append(k, v);
    fd.append('file', new Blob([f.content], {{type: 'text/plain'}}), 'hello.txt');
    try {{
      const r = await fetch(f.url, {{method: 'POST', body: fd}});
      results.push({{name: f.name, status: r.status, etag: r.headers.get('ETag'), rid: r.headers.get(f.rid)}});
    }} catch (e) {{ results.push({{name: f.name, error: String(e)}}); }}
  }}
  for (const p of cfg.puts) {{
    try {{
      const r = await fetch(p.url, {{method: 'PUT', body: p.content, headers: {{'Content-Type': 'text/plain'}}}});
      const text = r.ok ? '' : await r.text();
      results.push({{name: p.name, status: r.status, etag: r.headers.get('ETag'), text}});
    }} catch (e) {{ results.push({{name: p.name, error: String(e)}}); }}
  }}
  window.results = results;
}})();
</script></body></html>"""


def forms(bed):
    """One signed form per (dialect, backend); each with its own key and content."""
    from obs import ObsClient
    front = bed["front"].url
    out = []
    for backend in ["s3", "obs", "cos", "oss"]:
        b = BUCKETS[backend]
        for dialect in ["s3", "obs", "cos", "oss"]:
            key = f"browser/{dialect}-to-{backend}-{uuid.uuid4().hex[:6]}.txt"
            if dialect == "s3":
                import boto3
                from botocore.config import Config
                c = boto3.client("s3", endpoint_url=front, aws_access_key_id=CLIENT_AK,
                                 aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                                 config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
                fields = c.generate_presigned_post(b, key)["fields"]
            elif dialect == "obs":
                obs = ObsClient(access_key_id=CLIENT_AK, secret_access_key=CLIENT_SK, server=front,
                                signature="obs", path_style=True)
                r = obs.createPostSignature(b, key, 600)
                fields = {"key": key, "AccessKeyId": CLIENT_AK, "policy": r.policy, "signature": r.signature}
            else:
                policy = {"expiration": expiry(), "conditions": [{"bucket": b}, ["eq", "$key", key]]}
                fields = cos_signed(policy) if dialect == "cos" else v2_signed(policy, "OSSAccessKeyId", "Signature")
                fields["key"] = key
            rid = {"s3": "x-amz-request-id", "obs": "x-obs-request-id", "cos": "x-cos-request-id",
                   "oss": "x-oss-request-id"}[dialect]
            out.append({"name": key, "url": f"{front}/{b}", "fields": fields, "rid": rid,
                        "content": f"uploaded by a browser form {key}", "bucket": b})
    return out


def puts(bed):
    import boto3
    from botocore.config import Config
    c = boto3.client("s3", endpoint_url=bed["front"].url, aws_access_key_id=CLIENT_AK,
                     aws_secret_access_key=CLIENT_SK, region_name="us-east-1",
                     config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    out = []
    for backend in ["s3", "cos"]:
        b, key = BUCKETS[backend], f"browser/put-{backend}-{uuid.uuid4().hex[:6]}.txt"
        url = c.generate_presigned_url("put_object", Params={"Bucket": b, "Key": key}, ExpiresIn=600)
        out.append({"name": key, "url": url, "content": f"put by a browser {key}", "bucket": b})
    return out


@pytest.fixture
def page_server(tmp_path):
    handler = lambda *a, **kw: http.server.SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **kw)  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield tmp_path, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_browser_uploads_by_form_and_presigned_put(bed, page_server):
    if not (os.path.exists(CHROMIUM) and shutil.which("node") and (MODULES / "playwright-core").is_dir()):
        pytest.skip("Chromium or playwright-core missing: scripts/setup-test-env.sh installs both")
    root, origin = page_server
    fs, ps = forms(bed), puts(bed)
    cfg = {"forms": fs, "puts": ps}
    # Script text is not entity-decoded: only a closing tag must not appear in it.
    (root / "index.html").write_text(PAGE.format(cfg=json.dumps(cfg).replace("</", "<\\/")))
    p = subprocess.run(["node", os.path.join(HERE, "node", "browser_upload.js"), f"{origin}/index.html"],
                       capture_output=True, text=True, timeout=180, env=dict(os.environ, NODE_PATH=str(MODULES)))
    assert p.returncode == 0, p.stderr[-3000:]
    got = {r["name"]: r for r in json.loads(p.stdout)["results"]}
    g = garage_direct(bed)
    for f in fs:
        r = got[f["name"]]
        assert r.get("status") == 204, r
        assert r["rid"], f"the page could not read {f['rid']}: {r}"
        data = f["content"].encode()
        assert r["etag"].strip('"') == hashlib.md5(data).hexdigest()
        assert g.get_object(Bucket=f["bucket"], Key=f["name"])["Body"].read() == data
    for put in ps:
        r = got[put["name"]]
        assert r.get("status") == 200 and r["etag"], r
        assert g.get_object(Bucket=put["bucket"], Key=put["name"])["Body"].read() == put["content"].encode()
