"""The official SDKs behind one small interface, one class per client mode."""
import json
import os
import subprocess
import tempfile
from pathlib import Path

from conftest import CLIENT_AK, CLIENT_SK, VENV_BIN


class SdkError(Exception):
    def __init__(self, status, code, raw=None):
        super().__init__(f"{status} {code}")
        self.status, self.code, self.raw = status, code, raw


class Boto3:
    name = "boto3"

    def __init__(self, url, verify=None, checksums=True, key=None):
        key = key or (CLIENT_AK, CLIENT_SK)  # read now: tests swap the module's keys
        import boto3
        from botocore.config import Config
        extra = {} if checksums else {"request_checksum_calculation": "when_required",
                                      "response_checksum_validation": "when_required"}
        self.c = boto3.client("s3", endpoint_url=url, aws_access_key_id=key[0], aws_secret_access_key=key[1],
                              region_name="us-east-1", verify=verify,
                              config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                                            **extra))

    def _call(self, fn, **kw):
        from botocore.exceptions import ClientError
        try:
            return fn(**kw)
        except ClientError as e:
            raise SdkError(e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"], e.response) from None

    @staticmethod
    def _sse(ssec, prefix=""):
        return {f"{prefix}SSECustomerAlgorithm": "AES256", f"{prefix}SSECustomerKey": ssec} if ssec else {}

    def put(self, b, k, data, ssec=None):
        return self._call(self.c.put_object, Bucket=b, Key=k, Body=data, **self._sse(ssec))["ETag"]

    def get(self, b, k, ssec=None):
        return self._call(self.c.get_object, Bucket=b, Key=k, **self._sse(ssec))["Body"].read()

    def head(self, b, k):
        return self._call(self.c.head_object, Bucket=b, Key=k)["ContentLength"]

    def delete(self, b, k):
        self._call(self.c.delete_object, Bucket=b, Key=k)

    def list(self, b, prefix):
        r = self._call(self.c.list_objects_v2, Bucket=b, Prefix=prefix)
        return sorted(o["Key"] for o in r.get("Contents", []))

    def initiate(self, b, k, ssec=None):
        return self._call(self.c.create_multipart_upload, Bucket=b, Key=k, **self._sse(ssec))["UploadId"]

    def upload_part(self, b, k, uid, n, data):
        return self._call(self.c.upload_part, Bucket=b, Key=k, UploadId=uid, PartNumber=n, Body=data)["ETag"]

    def copy_part(self, b, k, uid, n, sb, sk, rng=None, version=None, cond=None, ssec=None, src_ssec=None):
        src = {"Bucket": sb, "Key": sk}
        if version:
            src["VersionId"] = version
        kw = dict(self._sse(ssec), **self._sse(src_ssec, "CopySource"))
        if rng:
            kw["CopySourceRange"] = rng
        for name, v in (cond or {}).items():
            kw["CopySource" + {"if-match": "IfMatch", "if-none-match": "IfNoneMatch",
                               "if-modified-since": "IfModifiedSince", "if-unmodified-since": "IfUnmodifiedSince"}[name]] = v
        r = self._call(self.c.upload_part_copy, Bucket=b, Key=k, UploadId=uid, PartNumber=n, CopySource=src, **kw)
        return r["CopyPartResult"]["ETag"]

    def copy_object(self, b, k, sb, sk, meta=None, ssec=None, src_ssec=None):
        kw = dict(self._sse(ssec), **self._sse(src_ssec, "CopySource"))
        if meta is not None:
            kw.update(MetadataDirective="REPLACE", Metadata=meta)
        r = self._call(self.c.copy_object, Bucket=b, Key=k, CopySource={"Bucket": sb, "Key": sk}, **kw)
        return r["CopyObjectResult"]["ETag"]

    def complete(self, b, k, uid, parts):
        return self._call(self.c.complete_multipart_upload, Bucket=b, Key=k, UploadId=uid,
                          MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]})["ETag"]

    def abort(self, b, k, uid):
        self._call(self.c.abort_multipart_upload, Bucket=b, Key=k, UploadId=uid)

    def list_parts(self, b, k, uid):
        r = self._call(self.c.list_parts, Bucket=b, Key=k, UploadId=uid)
        return [(p["PartNumber"], p["ETag"]) for p in r.get("Parts", [])]


class AwsCli:
    name = "awscli"

    def __init__(self, url, key=None):
        key = key or (CLIENT_AK, CLIENT_SK)  # read now: tests swap the module's keys
        self.url = url
        self.env = dict(os.environ, AWS_ACCESS_KEY_ID=key[0], AWS_SECRET_ACCESS_KEY=key[1],
                        AWS_DEFAULT_REGION="us-east-1", AWS_MAX_ATTEMPTS="1", AWS_CONFIG_FILE="/dev/null",
                        AWS_SHARED_CREDENTIALS_FILE="/dev/null")

    def run(self, *args):
        r = subprocess.run([str(VENV_BIN / "aws"), "--endpoint-url", self.url, *args], capture_output=True,
                           env=self.env, timeout=120)
        if r.returncode != 0:
            err = r.stderr.decode(errors="replace")
            code = err.split("(", 1)[1].split(")", 1)[0] if "(" in err else err.strip()
            raise SdkError(None, code, err)
        return r.stdout

    @staticmethod
    def _sse(ssec, prefix=""):
        return [f"--{prefix}sse-customer-algorithm", "AES256", f"--{prefix}sse-customer-key", ssec] if ssec else []

    def put(self, b, k, data, ssec=None):
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            return json.loads(self.run("s3api", "put-object", "--bucket", b, "--key", k, "--body", f.name,
                                       *self._sse(ssec)))["ETag"]

    def get(self, b, k, ssec=None):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "obj"
            self.run("s3api", "get-object", "--bucket", b, "--key", k, *self._sse(ssec), str(out))
            return out.read_bytes()

    def head(self, b, k):
        return json.loads(self.run("s3api", "head-object", "--bucket", b, "--key", k))["ContentLength"]

    def delete(self, b, k):
        self.run("s3api", "delete-object", "--bucket", b, "--key", k)

    def list(self, b, prefix):
        out = self.run("s3api", "list-objects-v2", "--bucket", b, "--prefix", prefix)
        return sorted(o["Key"] for o in (json.loads(out) if out.strip() else {}).get("Contents", []))

    def initiate(self, b, k, ssec=None):
        return json.loads(self.run("s3api", "create-multipart-upload", "--bucket", b, "--key", k,
                                   *self._sse(ssec)))["UploadId"]

    def upload_part(self, b, k, uid, n, data):
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            return json.loads(self.run("s3api", "upload-part", "--bucket", b, "--key", k, "--upload-id", uid,
                                       "--part-number", str(n), "--body", f.name))["ETag"]

    def copy_part(self, b, k, uid, n, sb, sk, rng=None, version=None, cond=None, ssec=None, src_ssec=None):
        # botocore percent-encodes a string copy source itself.
        src = f"{sb}/{sk}" + (f"?versionId={version}" if version else "")
        args = ["s3api", "upload-part-copy", "--bucket", b, "--key", k, "--upload-id", uid,
                "--part-number", str(n), "--copy-source", src, *self._sse(ssec), *self._sse(src_ssec, "copy-source-")]
        if rng:
            args += ["--copy-source-range", rng]
        for name, v in (cond or {}).items():
            args += ["--copy-source-" + name, v]
        return json.loads(self.run(*args))["CopyPartResult"]["ETag"]

    def copy_object(self, b, k, sb, sk, meta=None, ssec=None, src_ssec=None):
        args = ["s3api", "copy-object", "--bucket", b, "--key", k, "--copy-source", f"{sb}/{sk}",
                *self._sse(ssec), *self._sse(src_ssec, "copy-source-")]
        if meta is not None:
            args += ["--metadata-directive", "REPLACE", "--metadata", json.dumps(meta)]
        return json.loads(self.run(*args))["CopyObjectResult"]["ETag"]

    def complete(self, b, k, uid, parts):
        mpu = json.dumps({"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]})
        return json.loads(self.run("s3api", "complete-multipart-upload", "--bucket", b, "--key", k,
                                   "--upload-id", uid, "--multipart-upload", mpu))["ETag"]

    def abort(self, b, k, uid):
        self.run("s3api", "abort-multipart-upload", "--bucket", b, "--key", k, "--upload-id", uid)

    def list_parts(self, b, k, uid):
        out = json.loads(self.run("s3api", "list-parts", "--bucket", b, "--key", k, "--upload-id", uid))
        return [(p["PartNumber"], p["ETag"]) for p in out.get("Parts", [])]


class Obs:
    """esdk-obs-python; native=True signs `OBS ak:sig` with x-obs-* headers, else its default AWS V2 mode."""

    def __init__(self, url, native, key=None):
        key = key or (CLIENT_AK, CLIENT_SK)  # read now: tests swap the module's keys
        from obs import ObsClient
        self.name = "obs-native" if native else "obs-v2"
        kw = dict(signature="obs", path_style=True, client_mode="workflow") if native else {}
        self.c = ObsClient(access_key_id=key[0], secret_access_key=key[1], server=url, max_retry_count=0, **kw)

    def _check(self, r):
        if r.status >= 300:
            raise SdkError(r.status, r.errorCode, r)
        return r

    @staticmethod
    def _sse(ssec):
        from obs import SseCHeader
        return SseCHeader(encryption="AES256", key=ssec) if ssec else None

    def put(self, b, k, data, ssec=None):
        from obs import PutObjectHeader
        headers = PutObjectHeader(sseHeader=self._sse(ssec)) if ssec else None
        return self._check(self.c.putContent(b, k, content=data, headers=headers)).body.etag

    def get(self, b, k, ssec=None):
        from obs import GetObjectHeader
        headers = GetObjectHeader(sseHeader=self._sse(ssec)) if ssec else None
        r = self._check(self.c.getObject(b, k, loadStreamInMemory=True, headers=headers))
        return r.body.buffer

    def head(self, b, k):
        r = self._check(self.c.getObjectMetadata(b, k))
        return int(r.body.contentLength)

    def delete(self, b, k):
        self._check(self.c.deleteObject(b, k))

    def list(self, b, prefix):
        r = self._check(self.c.listObjects(b, prefix=prefix))
        return sorted(c.key for c in r.body.contents)

    def initiate(self, b, k, ssec=None):
        return self._check(self.c.initiateMultipartUpload(b, k, sseHeader=self._sse(ssec))).body.uploadId

    def upload_part(self, b, k, uid, n, data):
        return self._check(self.c.uploadPart(b, k, n, uid, object=data)).body.etag

    def copy_part(self, b, k, uid, n, sb, sk, rng=None, version=None, cond=None, ssec=None, src_ssec=None):
        # The SDK percent-encodes the copy source itself; callers pass the raw key.
        src = f"/{sb}/{sk}" + (f"?versionId={version}" if version else "")
        headers = {"x-obs-copy-source-" + name if self.name == "obs-native" else "x-amz-copy-source-" + name: v
                   for name, v in (cond or {}).items()}
        r = self._check(self.c.copyPart(b, k, n, uid, src, copySourceRange=rng[len("bytes="):] if rng else None,
                                        destSseHeader=self._sse(ssec), sourceSseHeader=self._sse(src_ssec),
                                        extensionHeaders=headers or None))
        return r.body.etag

    def copy_object(self, b, k, sb, sk, meta=None, ssec=None, src_ssec=None):
        from obs import CopyObjectHeader
        headers = CopyObjectHeader(directive="REPLACE" if meta is not None else None, destSseHeader=self._sse(ssec),
                                   sourceSseHeader=self._sse(src_ssec))
        return self._check(self.c.copyObject(sb, sk, b, k, metadata=meta, headers=headers)).body.etag

    def complete(self, b, k, uid, parts):
        from obs import CompleteMultipartUploadRequest, CompletePart
        req = CompleteMultipartUploadRequest(parts=[CompletePart(partNum=n, etag=e) for n, e in parts])
        return self._check(self.c.completeMultipartUpload(b, k, uid, req)).body.etag

    def abort(self, b, k, uid):
        self._check(self.c.abortMultipartUpload(b, k, uid))

    def list_parts(self, b, k, uid):
        r = self._check(self.c.listParts(b, k, uid))
        return [(p.partNumber, p.etag) for p in r.body.parts]


class Cos:
    name = "cos"

    def __init__(self, url, key=None):
        key = key or (CLIENT_AK, CLIENT_SK)  # read now: tests swap the module's keys
        from qcloud_cos import CosConfig, CosS3Client
        port = int(url.rsplit(":", 1)[1])
        cfg = CosConfig(Region="ap-guangzhou", SecretId=key[0], SecretKey=key[1], Scheme="http",
                        IP="127.0.0.1", Port=port)
        self.c = CosS3Client(cfg, retry=0)

    def _call(self, fn, **kw):
        from qcloud_cos.cos_exception import CosServiceError
        try:
            return fn(**kw)
        except CosServiceError as e:
            raise SdkError(e.get_status_code(), e.get_error_code(), e) from None

    @staticmethod
    def _sse(ssec, prefix=""):
        if not ssec:
            return {}
        import base64
        import hashlib
        key = ssec.encode()
        return {f"{prefix}SSECustomerAlgorithm": "AES256",
                f"{prefix}SSECustomerKey": base64.b64encode(key).decode(),
                f"{prefix}SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}

    def put(self, b, k, data, ssec=None):
        return self._call(self.c.put_object, Bucket=b, Key=k, Body=data, **self._sse(ssec))["ETag"]

    def get(self, b, k, ssec=None):
        r = self._call(self.c.get_object, Bucket=b, Key=k, **self._sse(ssec))
        return r["Body"].get_raw_stream().read()

    def head(self, b, k):
        return int(self._call(self.c.head_object, Bucket=b, Key=k)["Content-Length"])

    def delete(self, b, k):
        self._call(self.c.delete_object, Bucket=b, Key=k)

    def list(self, b, prefix):
        r = self._call(self.c.list_objects, Bucket=b, Prefix=prefix)
        return sorted(c["Key"] for c in r.get("Contents", []))

    def initiate(self, b, k, ssec=None):
        return self._call(self.c.create_multipart_upload, Bucket=b, Key=k, **self._sse(ssec))["UploadId"]

    def upload_part(self, b, k, uid, n, data):
        return self._call(self.c.upload_part, Bucket=b, Key=k, UploadId=uid, PartNumber=n, Body=data)["ETag"]

    def copy_part(self, b, k, uid, n, sb, sk, rng=None, version=None, cond=None, ssec=None, src_ssec=None):
        src = {"Bucket": sb, "Key": sk, "Region": "ap-guangzhou"}
        if version:
            src["VersionId"] = version
        kw = dict(self._sse(ssec), **self._sse(src_ssec, "CopySource"))
        for name, v in (cond or {}).items():
            kw["CopySource" + {"if-match": "IfMatch", "if-none-match": "IfNoneMatch",
                               "if-modified-since": "IfModifiedSince", "if-unmodified-since": "IfUnmodifiedSince"}[name]] = v
        r = self._call(self.c.upload_part_copy, Bucket=b, Key=k, UploadId=uid, PartNumber=n, CopySource=src,
                       CopySourceRange=rng or "", **kw)
        return r["ETag"]

    def copy_object(self, b, k, sb, sk, meta=None, ssec=None, src_ssec=None):
        kw = dict(self._sse(ssec), **self._sse(src_ssec, "CopySource"))
        if meta is not None:
            kw.update(CopyStatus="Replaced", Metadata={f"x-cos-meta-{n}": v for n, v in meta.items()})
        src = {"Bucket": sb, "Key": sk, "Region": "ap-guangzhou"}
        return self._call(self.c.copy_object, Bucket=b, Key=k, CopySource=src, **kw)["ETag"]

    def complete(self, b, k, uid, parts):
        r = self._call(self.c.complete_multipart_upload, Bucket=b, Key=k, UploadId=uid,
                       MultipartUpload={"Part": [{"PartNumber": n, "ETag": e} for n, e in parts]})
        return r["ETag"]

    def abort(self, b, k, uid):
        self._call(self.c.abort_multipart_upload, Bucket=b, Key=k, UploadId=uid)

    def list_parts(self, b, k, uid):
        r = self._call(self.c.list_parts, Bucket=b, Key=k, UploadId=uid)
        return [(int(p["PartNumber"]), p["ETag"]) for p in r.get("Part", [])]


class Oss:
    """oss2 2.19.1; v4=True signs `OSS4-HMAC-SHA256` (region cn-hangzhou), else `OSS ak:sig`. Path style on
    an IP endpoint, as oss2 addresses one. No SSE-C: OSS has none (the gateway refuses it, 501)."""

    def __init__(self, url, v4, key=None):
        key = key or (CLIENT_AK, CLIENT_SK)  # read now: tests swap the module's keys
        import oss2
        self.name = "oss-v4" if v4 else "oss-v1"
        self.url, self.v4 = url, v4
        if v4:
            provider = oss2.credentials.StaticCredentialsProvider(*key)
            self.auth = oss2.ProviderAuthV4(provider)
        else:
            self.auth = oss2.Auth(*key)
        self.c = self

    def _b(self, b):
        import oss2
        kw = {"region": "cn-hangzhou"} if self.v4 else {}
        return oss2.Bucket(self.auth, self.url, b, connect_timeout=30, **kw)

    def _call(self, fn, *a, **kw):
        import oss2
        try:
            return fn(*a, **kw)
        except oss2.exceptions.OssError as e:
            raise SdkError(e.status, e.code, e) from None

    @staticmethod
    def _no_sse(*keys):
        if any(keys):
            raise SdkError(501, "NotImplemented", "OSS has no SSE-C")

    def put(self, b, k, data, ssec=None):
        self._no_sse(ssec)
        return self._call(self._b(b).put_object, k, data).etag

    def get(self, b, k, ssec=None):
        self._no_sse(ssec)
        return self._call(self._b(b).get_object, k).read()

    def head(self, b, k):
        return self._call(self._b(b).head_object, k).content_length

    def delete(self, b, k):
        self._call(self._b(b).delete_object, k)

    def list(self, b, prefix):
        r = self._call(self._b(b).list_objects, prefix=prefix)
        return sorted(o.key for o in r.object_list)

    def initiate(self, b, k, ssec=None):
        self._no_sse(ssec)
        return self._call(self._b(b).init_multipart_upload, k).upload_id

    def upload_part(self, b, k, uid, n, data):
        return self._call(self._b(b).upload_part, k, uid, n, data).etag

    def copy_part(self, b, k, uid, n, sb, sk, rng=None, version=None, cond=None, ssec=None, src_ssec=None):
        self._no_sse(ssec, src_ssec)
        byte_range = None
        headers = {"x-oss-copy-source-" + name: v for name, v in (cond or {}).items()}
        if rng:
            first, _, last = rng[len("bytes="):].partition("-")
            # oss2 renders (first, last) itself; a malformed range is sent as given.
            if first.isdigit() and last.isdigit():
                byte_range = (int(first), int(last))
            else:
                headers["x-oss-copy-source-range"] = rng
        params = {"versionId": version} if version else None
        r = self._call(self._b(b).upload_part_copy, sb, sk, byte_range, k, uid, n,
                       headers=headers or None, params=params)
        return r.etag

    def copy_object(self, b, k, sb, sk, meta=None, ssec=None, src_ssec=None):
        self._no_sse(ssec, src_ssec)
        headers = None
        if meta is not None:
            headers = {"x-oss-metadata-directive": "REPLACE", **{f"x-oss-meta-{m}": v for m, v in meta.items()}}
        return self._call(self._b(b).copy_object, sb, sk, k, headers=headers).etag

    def complete(self, b, k, uid, parts):
        import oss2
        infos = [oss2.models.PartInfo(n, e) for n, e in parts]
        return self._call(self._b(b).complete_multipart_upload, k, uid, infos).etag

    def abort(self, b, k, uid):
        self._call(self._b(b).abort_multipart_upload, k, uid)

    def list_parts(self, b, k, uid):
        r = self._call(self._b(b).list_parts, k, uid)
        return [(p.part_number, p.etag) for p in r.parts]


MODES = ["boto3", "awscli", "obs-native", "obs-v2", "cos", "oss-v1", "oss-v4"]
# OSS has no customer-provided keys (SSE-KMS and SSE-OSS only): its SDKs send none.
SSE_C_MODES = [m for m in MODES if not m.startswith("oss")]


def make(mode, url, key=None):
    return {
        "boto3": lambda: Boto3(url, key=key),
        "awscli": lambda: AwsCli(url, key=key),
        "obs-native": lambda: Obs(url, True, key=key),
        "obs-v2": lambda: Obs(url, False, key=key),
        "cos": lambda: Cos(url, key=key),
        "oss-v1": lambda: Oss(url, False, key=key),
        "oss-v4": lambda: Oss(url, True, key=key),
    }[mode]()
