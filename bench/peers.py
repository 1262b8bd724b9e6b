"""dialect-proxy against a Rust peer doing the same job: s3s-proxy 0.14.1 (the s3s project's re-signing S3
proxy over aws-sdk-s3), both S3 in -> S3 out in front of the same Garage, measured in one run, interleaved
(A B A B). The pair is the only one s3s-proxy can do.

Per operation (SigV4 header-signed as the SDKs send them, with the payload's hash; wrk replays each
signed request while its date is within the clock skew): GetObject 4 KiB, PutObject 4 KiB (with its
CRC32 header, as boto3 sends it), ListObjectsV2 (100 keys), UploadPartCopy (4 KiB source): requests/s at saturation
(wrk -t1 -c32) with its p50/p99 from wrk's latency distribution, and each proxy's CPU time per request
(user + system from /proc). Then a 512 MiB GET and PUT through each (curl), against Garage direct. Peak RSS
(VmHWM) of each proxy at the end. Garage direct stays in the table as the floor. HeadObject runs at a fixed
rate with bench/bin/loadgen.rs instead (p50/p99 and CPU per request): wrk waits for the body a HEAD answer's
Content-Length announces, and never completes one.

Two backends, one after the other: first a canned nginx (the object, an ETag, a CopyPartResult, a listing
page; no storage behind it), where the proxies themselves are the limit, then Garage, which caps every
target's requests/s at its own (about 725 GETs/s here) and serves the 512 MiB GET and PUT.

Usage: bash bench/run.sh peers   (builds s3s-proxy into the cache once)
Environment: BENCH_SECONDS (per wrk run, default 5), BENCH_ROUNDS (default 2), BIG_MIB (default 512),
PEERS_BACKEND=canned|garage for one backend only (default both).
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
from conftest import CACHE, Garage, Proc, free_port, port_open, standin_config, wait_until  # noqa: E402

# The build measured: plain release, or scripts/build-release.sh's (BENCH_BUILD=pgo in run.sh).
BIN = Path(os.environ.get("DIALECT_PROXY_BIN", ROOT / "target" / "release" / "dialect-proxy"))
LOADGEN = ROOT / "target" / "release" / "examples" / "loadgen"
S3S = Path(os.environ.get("S3S_PROXY", CACHE / "s3s-proxy-0.14.1" / "bin" / "s3s-proxy"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
BIG_MIB = int(os.environ.get("BIG_MIB", "512"))
AK, SK = "AKBENCHPEER", "bench-peer-secret"
BUCKET = "peers"


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def client(url, ak, sk):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=url, aws_access_key_id=ak, aws_secret_access_key=sk,
                        region_name="garage", config=Config(signature_version="s3v4",
                                                            s3={"addressing_style": "path"}))


def wrk(url, lua, work):
    out = subprocess.run(["wrk", "-t1", "-c32", f"-d{max(1, round(SECONDS))}s", "--latency", "-s", str(lua), url],
                         capture_output=True, text=True, timeout=SECONDS * 4 + 30).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failures at {url.split('?')[0]}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    if total == 0:
        raise RuntimeError(f"wrk completed no request at {url.split('?')[0]}:\n{out}")

    def pct(p):
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return rps, total, pct(50), pct(99)


def lua(work, name, method, headers=None, body=None):
    p = work / f"{name}.lua"
    lines = [f'wrk.method = "{method}"']
    for k, v in (headers or {}).items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    if body:
        lines.append(f'wrk.body = string.rep("x", {body})')
    p.write_text("\n".join(lines) + "\n")
    return p


def signed(url, ak, sk, method, path, query="", headers=None, body=b""):
    """A SigV4 header-signed request (payload hash included), as SDKs send them; replayed by wrk while its
    date is within the clock skew both proxies allow."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import base64
    import zlib
    full = f"{url}{path}" + (f"?{query}" if query else "")
    headers = dict(headers or {})
    if body:
        # As boto3 sends a PutObject by default (CRC32 in a header). Without it aws-sdk-s3 inside
        # s3s-proxy streams the body aws-chunked with a trailer, which Garage refuses.
        headers["x-amz-checksum-crc32"] = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
        headers["x-amz-sdk-checksum-algorithm"] = "CRC32"
    req = AWSRequest(method=method, url=full, data=body, headers=headers)
    S3SigV4Auth(Credentials(ak, sk), "s3", "garage").add_auth(req)
    return full, {k: v for k, v in req.headers.items() if k.lower() != "host"}


def scenarios(url, ak, sk, work, tag, uid=None):
    """(name, URL, lua) for one endpoint (a canned backend takes any upload id)."""
    if uid is None:
        uid = client(url, ak, sk).create_multipart_upload(Bucket=BUCKET, Key=f"copy-{tag}")["UploadId"]
    plans = [
        ("GetObject 4 KiB", "GET", f"/{BUCKET}/obj4k", "", {}, 0),
        ("PutObject 4 KiB", "PUT", f"/{BUCKET}/put-{tag}", "", {}, 4096),
        ("ListObjectsV2 100", "GET", f"/{BUCKET}", "list-type=2&prefix=list%2F", {}, 0),
        ("UploadPartCopy", "PUT", f"/{BUCKET}/copy-{tag}", f"partNumber=1&uploadId={uid}",
         {"x-amz-copy-source": f"/{BUCKET}/obj4k"}, 0),
    ]
    out = []
    for name, method, path, query, extra, size in plans:
        full, headers = signed(url, ak, sk, method, path, query, extra, b"x" * size)
        out.append((name, full, lua(work, f"{name.split()[0]}-{tag}", method, headers, size)))
    return out


def big(url, ak, sk, path, work):
    """(GET MiB/s, PUT MiB/s) of BIG_MIB through url: a presigned GET, and a header-signed PUT with its
    CRC32 (s3s-proxy cannot pass a presigned PUT on to Garage)."""
    c = client(url, ak, sk)
    get = c.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "big"}, ExpiresIn=3600)
    full, headers = signed(url, ak, sk, "PUT", f"/{BUCKET}/big-put-{free_port()}", "", {}, path.read_bytes())
    put = ["-T", str(path), *[a for k, v in headers.items() for a in ("-H", f"{k}: {v}")], full]
    speeds = []
    for args in (["-o", "/dev/null", get], put):
        out = subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{speed_download} %{speed_upload}",
                              *args], capture_output=True, text=True, timeout=600, check=True).stdout.split()
        speeds.append(max(float(out[0]), float(out[1])) / (1 << 20))
    return speeds


def head_rounds(targets, work, rate):
    """HeadObject at a fixed `rate` (bench/bin/loadgen.rs, open loop, 16 connections; wrk cannot complete
    a HEAD): {target: [(p50 ms, p99 ms, CPU us per request)]}, ROUNDS interleaved."""
    from urllib.parse import urlsplit
    reqs = {}
    for name, (url, ak, sk, _) in targets.items():
        full, headers = signed(url, ak, sk, "HEAD", f"/{BUCKET}/obj4k")
        u = urlsplit(full)
        raw = f"HEAD {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        reqs[name] = (u.netloc, work / f"head-{u.port}.req")
        reqs[name][1].write_bytes(raw.encode())
    out = {}
    for _ in range(ROUNDS):
        for name, (_, _, _, pid) in targets.items():
            addr, req = reqs[name]
            cpu0 = cpu_seconds(pid) if pid else 0
            r = subprocess.run([str(LOADGEN), addr, str(rate), str(SECONDS), "16", str(req)], capture_output=True,
                               text=True, timeout=SECONDS * 4 + 30).stdout
            m = dict(kv.split("=") for kv in r.split())
            if int(m["errors"]) or int(m["sent"]) == 0:
                raise RuntimeError(f"loadgen HEAD against {addr}: {r}")
            cpu = (cpu_seconds(pid) - cpu0) / int(m["sent"]) * 1e6 if pid else float("nan")
            out.setdefault(name, []).append((int(m["p50_us"]) / 1000, int(m["p99_us"]) / 1000, cpu))
    return out


def big_object(c, bucket, path, mib):
    """A file of `mib` MiB of random blocks, stored as `big` in bucket through client c; its path."""
    with open(path, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(mib):
            f.write(block)
    c.upload_file(str(path), bucket, "big")
    return path


def canned(work):
    """An nginx answering as an S3 backend with nothing behind it: the 4 KiB object, an ETag for any
    PUT, a CopyPartResult, a 100-key ListObjectsV2 page. Returns (backend, its Proc)."""
    from types import SimpleNamespace
    from requests import COPY_RESULT, NGINX, nginx_conf
    www = work / "www" / BUCKET
    www.mkdir(parents=True)
    (www / "obj4k").write_bytes(os.urandom(4096))
    for d in (work, work / "www", www):
        d.chmod(0o755)
    (www / "obj4k").chmod(0o644)
    keys = "".join(f"<Contents><Key>list/{i:03d}</Key><LastModified>2024-03-15T12:34:56.000Z</LastModified>"
                   f"<ETag>&quot;{i:032x}&quot;</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"
                   for i in range(100))
    listing = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
               f"<Name>{BUCKET}</Name><Prefix>list/</Prefix><KeyCount>100</KeyCount><MaxKeys>1000</MaxKeys>"
               f"<IsTruncated>false</IsTruncated>{keys}</ListBucketResult>")
    # Over nginx's length for one parameter: served as a file.
    (work / "www" / "list.xml").write_text(listing)
    (work / "www" / "list.xml").chmod(0o644)
    port = free_port()
    body = f"""server {{
    listen 127.0.0.1:@PORT@;
    location = /{BUCKET}/obj4k {{ root {work}/www; }}
    location ^~ /{BUCKET}/put- {{ add_header ETag '"0123456789abcdef0123456789abcdef"' always; return 200 ''; }}
    location ^~ /{BUCKET}/copy- {{ default_type application/xml; return 200 '{COPY_RESULT}'; }}
    location ~ ^/{BUCKET}/?$ {{ default_type application/xml; root {work}/www; try_files /list.xml =404; }}
  }}"""
    conf = nginx_conf(work, "canned", port, body)
    proc = Proc([NGINX, "-c", str(conf), "-e", str(work / "canned-error.log")], work / "canned.log")
    wait_until(lambda: port_open(port), "canned nginx")
    return SimpleNamespace(port=port, key_id="canned-key", secret="canned-secret"), proc


def run(work, started, backend, floor, head_rate, uid=None, big_path=None):
    """Both proxies in front of `backend` (with .port, .key_id, .secret); the table of one run."""
    dp_port, s3s_port = free_port(), free_port()
    conf = work / f"dp-{dp_port}.toml"
    # The e2e suite's one-client, one-Garage configuration, without access lines.
    conf.write_text(standin_config(AK, SK, backend, 'access_log = "off"').replace("@PORT@", str(dp_port)))
    dp = Proc([str(BIN), "--config", str(conf)], work / f"dp-{dp_port}.log",
              env=dict(os.environ, DIALECT_PROXY_LOG="warn"))
    started.append(dp)
    env = dict(os.environ, AWS_ACCESS_KEY_ID=backend.key_id, AWS_SECRET_ACCESS_KEY=backend.secret,
               AWS_REGION="garage", RUST_LOG="warn")
    s3s = Proc([str(S3S), "--host", "127.0.0.1", "--port", str(s3s_port), "--endpoint-url",
                f"http://127.0.0.1:{backend.port}"], work / f"s3s-{s3s_port}.log", env=env)
    started.append(s3s)
    wait_until(lambda: port_open(dp_port) and port_open(s3s_port), "both proxies")

    targets = {
        "dialect-proxy": (f"http://127.0.0.1:{dp_port}", AK, SK, dp.p.pid),
        "s3s-proxy": (f"http://127.0.0.1:{s3s_port}", backend.key_id, backend.secret, s3s.p.pid),
        floor: (f"http://127.0.0.1:{backend.port}", backend.key_id, backend.secret, None),
    }
    plans = {name: scenarios(url, ak, sk, work, f"{name.split()[0]}{dp_port}", uid)
             for name, (url, ak, sk, _) in targets.items()}
    results = {}
    for _ in range(ROUNDS):
        for i in range(len(plans["dialect-proxy"])):
            for name, (_, _, _, pid) in targets.items():
                op, url, script = plans[name][i]
                cpu0 = cpu_seconds(pid) if pid else 0
                rps, total, p50, p99 = wrk(url, script, work)
                cpu = (cpu_seconds(pid) - cpu0) / total * 1e6 if pid else float("nan")
                results.setdefault((op, name), []).append((rps, p50, p99, cpu))

    print(f"\nS3 in -> S3 out over {floor.split()[0]}, {ROUNDS} interleaved rounds of {SECONDS:.0f} s, wrk -t1 -c32 "
          f"(medians; CPU is the proxy's user+system per request)\n")
    print("| operation | target | requests/s | p50 ms | p99 ms | CPU µs/request | vs s3s-proxy (req/s, p99, CPU) |")
    print("|---|---|---|---|---|---|---|")
    for op, *_ in plans["dialect-proxy"]:
        med = {n: [statistics.median(x) for x in zip(*results[(op, n)])] for n in targets}
        for n in targets:
            rps, p50, p99, cpu = med[n]
            ratio = ""
            if n == "dialect-proxy":
                o = med["s3s-proxy"]
                ratio = f"{rps / o[0]:.2f}x, {p99 / o[2]:.2f}x, {cpu / o[3]:.2f}x"
            cpu_s = "-" if cpu != cpu else f"{cpu:.0f}"
            print(f"| {op} | {n} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {cpu_s} | {ratio} |")
    heads = head_rounds(targets, work, head_rate)
    print(f"\nHeadObject at {head_rate}/s (loadgen, open loop, 16 connections; medians)\n")
    print("| target | p50 ms | p99 ms | CPU µs/request | vs s3s-proxy (p99, CPU) |\n|---|---|---|---|---|")
    med = {n: [statistics.median(x) for x in zip(*v)] for n, v in heads.items()}
    for n, (p50, p99, cpu) in med.items():
        o = med["s3s-proxy"]
        ratio = f"{p99 / o[1]:.2f}x, {cpu / o[2]:.2f}x" if n == "dialect-proxy" else ""
        cpu_s = "-" if cpu != cpu else f"{cpu:.0f}"
        print(f"| {n} | {p50:.2f} | {p99:.2f} | {cpu_s} | {ratio} |")
    if big_path:
        bigs = {name: big(url, ak, sk, big_path, work) for name, (url, ak, sk, _) in targets.items()}
        print(f"\n| {BIG_MIB} MiB | GET MiB/s | PUT MiB/s |\n|---|---|---|")
        for n, (get, put) in bigs.items():
            print(f"| {n} | {get:,.0f} | {put:,.0f} |")
        d, o, gd = bigs["dialect-proxy"], bigs["s3s-proxy"], bigs[floor]
        print(f"\ndialect-proxy GET {d[0] / gd[0]:.2f}x Garage direct, {d[0] / o[0]:.2f}x s3s-proxy; "
              f"PUT {d[1] / gd[1]:.2f}x Garage direct, {d[1] / o[1]:.2f}x s3s-proxy")
    print(f"peak RSS: dialect-proxy {peak_rss_mib(dp.p.pid):.1f} MiB, s3s-proxy {peak_rss_mib(s3s.p.pid):.1f} MiB")


def main():
    if not S3S.exists():
        sys.exit(f"s3s-proxy missing at {S3S}: bash bench/run.sh peers builds it")
    work = Path(tempfile.mkdtemp(prefix="peers-"))
    started = []
    try:
        if os.environ.get("PEERS_BACKEND", "both") in ("both", "canned"):
            backend, proc = canned(work)
            started.append(proc)
            run(work, started, backend, "canned nginx direct", 4000, uid="canned-upload")
        if os.environ.get("PEERS_BACKEND", "both") in ("both", "garage"):
            g = Garage(work)
            started.append(g)
            g.bucket(BUCKET)
            direct = client(f"http://127.0.0.1:{g.port}", g.key_id, g.secret)
            direct.put_object(Bucket=BUCKET, Key="obj4k", Body=os.urandom(4096))
            for i in range(100):
                direct.put_object(Bucket=BUCKET, Key=f"list/{i:03d}", Body=b"x")
            path = big_object(direct, BUCKET, work / "big.bin", BIG_MIB)
            run(work, started, g, "garage direct", 300, big_path=path)
    finally:
        for s in reversed(started):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
