"""Clients that need the AWS CRT, run in their own venv ($CACHE/venv-crt) by test_checksums.py:
boto3 with every checksum algorithm (CRC32C and CRC64NVME come from the CRT) and pyarrow's
S3FileSystem (the AWS C++ SDK). Reads a JSON job on argv[1], prints a JSON result."""
import json
import os
import sys

MiB = 1024 * 1024


def boto3_client(job):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=job["url"], aws_access_key_id=job["ak"], aws_secret_access_key=job["sk"],
                        region_name="us-east-1", verify=job.get("verify") or None,
                        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                                      request_checksum_calculation="when_supported",
                                      response_checksum_validation="when_supported"))


def error_of(e):
    r = getattr(e, "response", None) or {}
    return {"code": r.get("Error", {}).get("Code"), "status": r.get("ResponseMetadata", {}).get("HTTPStatusCode"),
            "text": str(e)[:300]}


def put(c, bucket, key, alg, data):
    c.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=alg)
    return c.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")


def multipart(c, bucket, key, alg, kind, parts):
    up = c.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=alg, ChecksumType=kind)
    uid, done = up["UploadId"], []
    try:
        for n, data in enumerate(parts, 1):
            r = c.upload_part(Bucket=bucket, Key=key, UploadId=uid, PartNumber=n, Body=data, ChecksumAlgorithm=alg)
            part = {"PartNumber": n, "ETag": r["ETag"]}
            if r.get(f"Checksum{alg}"):
                part[f"Checksum{alg}"] = r[f"Checksum{alg}"]
            done.append(part)
        # The type was fixed at Create; Garage refuses x-amz-checksum-type at Complete without a whole-object value.
        r = c.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=uid, MultipartUpload={"Parts": done})
    except Exception:
        c.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=uid)
        raise
    return r, c.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED"), done


def boto3_job(job):
    """Every algorithm, PutObject and multipart (COMPOSITE and FULL_OBJECT where S3 defines it)."""
    import hashlib
    c, b, out = boto3_client(job), job["bucket"], []
    small, parts = os.urandom(300_000), [os.urandom(job["part"]), os.urandom(1234)]
    sha = lambda data: hashlib.sha256(data).hexdigest()
    for alg in ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]:
        case = {"alg": alg, "op": "put", "key": f"{job['prefix']}/put-{alg}", "data_sha": sha(small)}
        try:
            got = put(c, b, case["key"], alg, small)
            case.update(ok=True, sha=sha(got["Body"].read()) == sha(small), checksum=got.get(f"Checksum{alg}"))
        except Exception as e:
            case.update(ok=False, error=error_of(e))
        out.append(case)
        # CRC64NVME is full-object only; SHA digests are composite only.
        kinds = {"CRC64NVME": ["FULL_OBJECT"], "SHA1": ["COMPOSITE"], "SHA256": ["COMPOSITE"]}.get(
            alg, ["COMPOSITE", "FULL_OBJECT"])
        for kind in kinds:
            case = {"alg": alg, "op": kind, "key": f"{job['prefix']}/mp-{alg}-{kind}", "data_sha": sha(b"".join(parts))}
            try:
                completed, got, sent = multipart(c, b, case["key"], alg, kind, parts)
                case.update(ok=True, sha=sha(got["Body"].read()) == case["data_sha"], etag=completed.get("ETag"),
                            complete_checksum=completed.get(f"Checksum{alg}"), checksum=got.get(f"Checksum{alg}"),
                            part_checksums=[p.get(f"Checksum{alg}") for p in sent])
            except Exception as e:
                case.update(ok=False, error=error_of(e))
            out.append(case)
    return out


def pyarrow_job(job):
    """A parquet file and a 20 MiB output stream through S3FileSystem (multipart, crc64nvme trailers)."""
    import hashlib
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow import fs
    from urllib.parse import urlparse
    u = urlparse(job["url"])
    s3 = fs.S3FileSystem(access_key=job["ak"], secret_key=job["sk"], region="us-east-1", scheme=u.scheme,
                         endpoint_override=u.netloc, allow_bucket_creation=False, retry_strategy=fs.AwsStandardS3RetryStrategy(1))
    b, p = job["bucket"], job["prefix"]
    table = pa.table({"n": list(range(100_000)), "s": [f"row {i}" for i in range(100_000)]})
    pq.write_table(table, f"{b}/{p}/t.parquet", filesystem=s3)
    back = pq.read_table(f"{b}/{p}/t.parquet", filesystem=s3)
    data = os.urandom(20 * MiB)
    with s3.open_output_stream(f"{b}/{p}/stream.bin") as f:
        for i in range(0, len(data), MiB):
            f.write(data[i:i + MiB])
    with s3.open_input_stream(f"{b}/{p}/stream.bin") as f:
        read = f.read()
    return {"parquet_equal": back.equals(table), "stream_sha": hashlib.sha256(data).hexdigest(),
            "read_equal": read == data}


if __name__ == "__main__":
    job = json.loads(sys.argv[1])
    print(json.dumps({"boto3": boto3_job, "pyarrow": pyarrow_job}[job["kind"]](job)))
