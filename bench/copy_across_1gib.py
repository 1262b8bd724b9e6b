"""A 1 GiB Upload Part - Copy whose source lives on another backend (two Garage servers), through
dialect-proxy, next to a client that does the same itself: GET from the source, streamed into an
UploadPart on the destination. Runs interleaved (client, proxy, client, proxy); reports the best
of each and the proxy's peak RSS. Usage: bench/run.sh copy [size-in-MiB]"""
import hashlib
import http.client
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import conftest  # noqa: E402
import sigs  # noqa: E402
from part_1gib import peak_rss_mib  # noqa: E402

MiB = 1024 * 1024
EMPTY = hashlib.sha256(b"").hexdigest()
SRC, DST = "src-1250000000", "dst-1250000000"


def request(port, method, path, query, headers, ak, sk, region, body=None, payload=EMPTY):
    h, *_ = sigs.sigv4_headers(method, f"127.0.0.1:{port}", path, query, headers, payload, ak, sk, region)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=900, blocksize=MiB)
    q = "&".join(f"{k}={v}" for k, v in query)
    c.request(method, path + (f"?{q}" if q else ""), body=body, headers=h)
    return c, c.getresponse()


def client_copy(src, dst, key, uid, size):
    """What a client without the proxy does: GET the source, stream it as the destination's part."""
    t = time.monotonic()
    gc, got = request(src.port, "GET", f"/{SRC}/big", [], {}, src.key_id, src.secret, "garage")
    assert got.status == 200, got.status

    def pieces():
        while True:
            b = got.read(MiB)
            if not b:
                return
            yield b

    pc, put = request(dst.port, "PUT", f"/{DST}/{key}", [("partNumber", "1"), ("uploadId", uid)],
                      {"content-length": str(size)}, dst.key_id, dst.secret, "garage", body=pieces(),
                      payload="UNSIGNED-PAYLOAD")
    put.read()
    dt = time.monotonic() - t
    gc.close()
    pc.close()
    assert put.status == 200 and put.getheader("ETag"), put.status
    return dt


def proxy_copy(proxy, key, uid):
    t = time.monotonic()
    c, r = request(proxy.port, "PUT", f"/{DST}/{key}", [("partNumber", "1"), ("uploadId", uid)],
                   {"x-amz-copy-source": f"{SRC}/big"}, conftest.CLIENT_AK, conftest.CLIENT_SK, "us-east-1")
    body = r.read()
    dt = time.monotonic() - t
    c.close()
    assert r.status == 200 and b"<CopyPartResult" in body and b"<ETag>" in body, body[:300]
    return dt


def config(src, dst):
    return f"""
[server]
listen = ["127.0.0.1:@PORT@"]
[[clients]]
access_key = "{conftest.CLIENT_AK}"
secret_key = "{conftest.CLIENT_SK}"
[[backends]]
name = "source"
dialect = "s3"
endpoint = "http://127.0.0.1:{src.port}"
region = "garage"
access_key = "{src.key_id}"
secret_key = "{src.secret}"
[[backends]]
name = "destination"
dialect = "s3"
endpoint = "http://127.0.0.1:{dst.port}"
region = "garage"
access_key = "{dst.key_id}"
secret_key = "{dst.secret}"
[[routes]]
bucket = "src-*"
backend = "source"
[[routes]]
bucket = "*"
backend = "destination"
"""


def main():
    size = int(sys.argv[1]) * MiB if len(sys.argv) > 1 else 1024 * MiB
    work = Path(tempfile.mkdtemp(prefix="dp-bench-"))
    started = []
    try:
        src = conftest.Garage(work, "source")
        started.append(src)
        dst = conftest.Garage(work, "destination")
        started.append(dst)
        src.bucket(SRC)
        dst.bucket(DST)
        proxy = conftest.Proxy(work, "bench", config(src, dst), log_filter="warn")
        started.append(proxy)
        data = work / "object.bin"
        with open(data, "wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        with open(data, "rb") as f:
            c, r = request(src.port, "PUT", f"/{SRC}/big", [], {"content-length": str(size)}, src.key_id,
                           src.secret, "garage", body=f, payload="UNSIGNED-PAYLOAD")
            r.read()
            c.close()
            assert r.status == 200, r.status
        data.unlink()
        import boto3
        from botocore.config import Config
        d = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{dst.port}", aws_access_key_id=dst.key_id,
                         aws_secret_access_key=dst.secret, region_name="garage",
                         config=Config(s3={"addressing_style": "path"}))
        rss_idle = peak_rss_mib(proxy.proc.p.pid)
        times = {"client": [], "proxy": []}
        for i in range(2):
            for who in ("client", "proxy"):
                key = f"{who}{i}"
                uid = d.create_multipart_upload(Bucket=DST, Key=key)["UploadId"]
                if who == "client":
                    times[who].append(client_copy(src, dst, key, uid, size))
                else:
                    times[who].append(proxy_copy(proxy, key, uid))
                d.abort_multipart_upload(Bucket=DST, Key=key, UploadId=uid)
        rate = {k: size / MiB / min(v) for k, v in times.items()}
        print(f"copy across backends, part of {size // MiB} MiB, best of 2 runs each (interleaved)")
        print(f"client GET + UploadPart itself: {rate['client']:.1f} MiB/s ({min(times['client']):.2f} s)")
        print(f"Upload Part - Copy through the proxy: {rate['proxy']:.1f} MiB/s ({min(times['proxy']):.2f} s)")
        print(f"ratio proxy/client: {rate['proxy'] / rate['client']:.2f} (target >= 1.0)")
        print(f"proxy peak RSS: {peak_rss_mib(proxy.proc.p.pid):.1f} MiB (idle {rss_idle:.1f} MiB; target < 64 MiB)")
    finally:
        for s in reversed(started):
            s.stop()
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
