"""Push one 1 GiB UploadPart through dialect-proxy and straight to Garage; report throughput and the
proxy's peak RSS. Usage: bench/run.sh [size-in-MiB]"""
import http.client
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import conftest  # noqa: E402
import sigs  # noqa: E402

MiB = 1024 * 1024


def upload_part(port, bucket, key, upload_id, path, size, ak, sk, region):
    query = [("partNumber", "1"), ("uploadId", upload_id)]
    h, *_ = sigs.sigv4_headers("PUT", f"127.0.0.1:{port}", f"/{bucket}/{key}", query,
                               {"content-length": str(size)}, "UNSIGNED-PAYLOAD", ak, sk, region)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600, blocksize=MiB)
    t = time.monotonic()
    with open(path, "rb") as f:
        c.request("PUT", f"/{bucket}/{key}?partNumber=1&uploadId={upload_id}", body=f, headers=h)
        r = c.getresponse()
        r.read()
    dt = time.monotonic() - t
    c.close()
    assert r.status == 200, r.status
    return dt, r.getheader("ETag")


def download(port, bucket, key, ak, sk, region):
    h, *_ = sigs.sigv4_headers("GET", f"127.0.0.1:{port}", f"/{bucket}/{key}", [], {},
                               "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ak, sk, region)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t = time.monotonic()
    c.request("GET", f"/{bucket}/{key}", headers=h)
    r = c.getresponse()
    n = 0
    while True:
        b = r.read(MiB)
        if not b:
            break
        n += len(b)
    dt = time.monotonic() - t
    c.close()
    assert r.status == 200 and n > 0, r.status
    return dt


def peak_rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main():
    size = int(sys.argv[1]) * MiB if len(sys.argv) > 1 else 1024 * MiB
    work = Path(tempfile.mkdtemp(prefix="dp-bench-"))
    garage = conftest.Garage(work)
    proxy = None
    try:
        garage.bucket("bench-1250000000")
        proxy = conftest.Proxy(work, "bench", conftest.standin_config(conftest.CLIENT_AK, conftest.CLIENT_SK, garage),
                               log_filter="warn")
        data = work / "part.bin"
        with open(data, "wb") as f:
            for _ in range(size // MiB):
                f.write(os.urandom(MiB))
        import boto3
        from botocore.config import Config
        direct = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{garage.port}", aws_access_key_id=garage.key_id,
                              aws_secret_access_key=garage.secret, region_name="garage",
                              config=Config(s3={"addressing_style": "path"}))
        rss_before = peak_rss_mib(proxy.proc.p.pid)
        results = {"direct": [], "proxy": []}
        for i in range(2):
            uid = direct.create_multipart_upload(Bucket="bench-1250000000", Key=f"d{i}")["UploadId"]
            results["direct"].append(upload_part(garage.port, "bench-1250000000", f"d{i}", uid, data, size,
                                                 garage.key_id, garage.secret, "garage")[0])
            direct.abort_multipart_upload(Bucket="bench-1250000000", Key=f"d{i}", UploadId=uid)
            uid = direct.create_multipart_upload(Bucket="bench-1250000000", Key=f"p{i}")["UploadId"]
            dt, etag = upload_part(proxy.port, "bench-1250000000", f"p{i}", uid, data, size,
                                   conftest.CLIENT_AK, conftest.CLIENT_SK, "us-east-1")
            results["proxy"].append(dt)
            if i == 0:
                direct.complete_multipart_upload(Bucket="bench-1250000000", Key="p0", UploadId=uid,
                                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
            else:
                direct.abort_multipart_upload(Bucket="bench-1250000000", Key=f"p{i}", UploadId=uid)
        downloads = {"direct": [], "proxy": []}
        for _ in range(2):
            downloads["direct"].append(download(garage.port, "bench-1250000000", "p0", garage.key_id, garage.secret,
                                                "garage"))
            downloads["proxy"].append(download(proxy.port, "bench-1250000000", "p0", conftest.CLIENT_AK,
                                               conftest.CLIENT_SK, "us-east-1"))
        best = {k: min(v) for k, v in results.items()}
        mibs = {k: size / MiB / v for k, v in best.items()}
        rss = peak_rss_mib(proxy.proc.p.pid)
        print(f"part size: {size // MiB} MiB, best of 2 runs each")
        print(f"direct to Garage: {mibs['direct']:.1f} MiB/s ({best['direct']:.2f} s)")
        print(f"through the proxy: {mibs['proxy']:.1f} MiB/s ({best['proxy']:.2f} s)")
        print(f"ratio proxy/direct: {mibs['proxy'] / mibs['direct']:.2f} (target >= 0.90)")
        down = {k: size / MiB / min(v) for k, v in downloads.items()}
        print(f"download direct: {down['direct']:.1f} MiB/s, through the proxy: {down['proxy']:.1f} MiB/s "
              f"(ratio {down['proxy'] / down['direct']:.2f})")
        print(f"proxy peak RSS: {rss:.1f} MiB (idle {rss_before:.1f} MiB; target < 64 MiB)")
    finally:
        if proxy:
            proxy.stop()
        garage.stop()
        import shutil
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
