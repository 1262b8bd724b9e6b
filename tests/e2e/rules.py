"""A rules layer between the front proxy and an OBS or COS stand-in: it plays the real cloud's documented
request rules, which the stand-in (a permissive dialect-proxy in front of Garage) does not enforce.

Client->upstream requests are parsed (head capped at 64 KiB, body relayed by Content-Length or chunked
framing, in bounded memory) and checked against the cloud's table of rules below; a refused request gets the
cloud's error document with `Connection: close` and never reaches the stand-in. Upstream->client bytes are
piped raw. Every refusal is recorded in `.violations` as (rule_id, method, target); the rule id is also in the
error Message ("rules-layer <id>: ..."), so a failing test names the rule that fired.

Pages: OBS = support.huaweicloud.com/.../api-obs/<id>.html (full text read from the opentelekomcloud-docs
mirror of the same page ids); COS = cloud.tencent.com/document/product/436/<id>. Where the layer is stricter
than the cloud, the comment says so."""
import asyncio
import base64
import hashlib
import re
import socket
import threading
import uuid
from urllib.parse import parse_qsl, unquote, urlsplit

HEAD_CAP, BODY_CAP, TIMEOUT = 64 * 1024, 1024 * 1024, 120.0


class Request:
    def __init__(self, head, cloud):
        lines = head.decode("latin-1").split("\r\n")
        self.method, self.target, _ = lines[0].split(" ", 2)
        self.headers = {}
        for line in lines[1:]:
            if line:
                k, v = line.split(":", 1)
                k, v = k.strip().lower(), v.strip()
                self.headers[k] = f"{self.headers[k]},{v}" if k in self.headers else v
        url = urlsplit(self.target)
        self.query = dict(parse_qsl(url.query, keep_blank_values=True))
        host = self.headers.get("host", "").split(":")[0]
        vhost = re.fullmatch({"obs": r"(.+)\.obs\.[^.]+\.myhuaweicloud\.com",
                              "cos": r"(.+)\.cos\.[^.]+\.myqcloud\.com",
                              "oss": r"(.+)\.oss-[^.]+\.aliyuncs\.com"}[cloud], host)
        self.virtual = vhost is not None
        path = unquote(url.path).lstrip("/")
        if vhost:  # virtual-hosted style: bucket in the Host
            self.bucket, self.key = vhost.group(1), path
        else:      # path style: /bucket/key
            self.bucket, _, self.key = path.partition("/")
        self.body = None  # the small body of a rule that needs it (see RulesLayer._wants_body)

    def length(self):
        return int(self.headers["content-length"]) if "content-length" in self.headers else None


# ---- checks: each returns a message when the request breaks the rule, else None ----

V2_PARAMS = ("list-type", "continuation-token", "start-after", "fetch-owner")


def lists_v2(layer, r):
    if r.method == "GET" and r.bucket and not r.key and any(p in r.query for p in V2_PARAMS):
        return ("ListObjectsV2 parameters (%s) on a cloud that documents only the V1 listing; the real cloud "
                "would answer a V1 listing an S3 SDK misreads" % ",".join(p for p in V2_PARAMS if p in r.query))


def md5_op(table, r):
    """The (method, sub-resource) of `table` this request is, when it is one."""
    for (method, sub, level) in table:
        if r.method == method and sub in r.query and (level == "any" or bool(r.key) == (level == "object")):
            return sub


def missing_md5(table, alt=None):
    def check(layer, r):
        sub = md5_op(table, r)
        if sub and "content-md5" not in r.headers and not (alt and alt in r.headers):
            return f"Missing required header for this request: Content-MD5 (?{sub})"
    return check


def missing_length(table):
    def check(layer, r):
        sub = md5_op(table, r)
        if sub and r.length() is None:
            return f"You must provide the Content-Length HTTP header (?{sub})"
    return check


def bad_digest(layer, r):
    """A Content-MD5 (or OBS Content-SHA256) that does not match the buffered body."""
    if r.body is None:
        return None
    for header, fn in (("content-md5", hashlib.md5), ("content-sha256", hashlib.sha256)):
        if header in r.headers and r.headers[header] != base64.b64encode(fn(r.body).digest()).decode():
            return f"The {header} you specified did not match what we received"


def one_of(header, allowed, key_allowed=None):
    """`header`, when present, takes a value of `allowed` (bucket requests) / `key_allowed` (object requests)."""
    def check(layer, r):
        values = key_allowed if (key_allowed is not None and r.key) else allowed
        if header in r.headers and r.headers[header] not in values:
            return f"{header}: {r.headers[header]!r} is not one of {', '.join(sorted(values))}"
    return check


def foreign_headers(*prefixes):
    def check(layer, r):
        bad = sorted(k for k in r.headers if k.startswith(prefixes))
        if bad:
            return f"headers of another dialect reach this cloud: {', '.join(bad)}"
    return check


def create_bucket(r):
    return r.method == "PUT" and r.bucket and not r.key and not r.query


def body_op(r):
    """Requests whose small body a rule reads: CreateBucket, ACL and restore documents."""
    return create_bucket(r) or (r.method == "PUT" and "acl" in r.query) or (r.method == "POST" and "restore" in r.query)


def obs_location(layer, r):
    # obs_04_0021 Creating a Bucket: <Location> is required at every endpoint but the default region's
    # (the front names obs.cn-north-4.myhuaweicloud.com, a regional one); IllegalLocationConstraintException.
    if create_bucket(r) and b"<Location>" not in (r.body or b""):
        return "a bucket created at a regional endpoint must name its <Location>"


def foreign_elements(*names):
    """Body elements or texts of another cloud's documents (ACL grantees, restore jobs, bucket locations)."""
    def check(layer, r):
        bad = [n for n in names if n.encode() in (r.body or b"")]
        if bad:
            return f"the body carries another cloud's terms: {', '.join(bad)}"
    return check


def parts(layer, r):
    """Part numbers 1 to 10,000 and sizes up to 5 GiB on UploadPart; at Complete every part but the last at
    least the cloud's minimum (OBS 100 KB, obs_04_0099; COS 1 MB, 436/7750), from the sizes the layer saw pass
    (an Upload Part - Copy without a range has a size the layer cannot see: not checked)."""
    upload = r.query.get("uploadId")
    if not (r.key and upload):
        return None
    sizes = layer.parts.setdefault((r.bucket, r.key, upload), {})
    if r.method == "PUT" and "partNumber" in r.query:
        n = int(r.query["partNumber"]) if r.query["partNumber"].isdigit() else 0
        if not 1 <= n <= 10000:
            return f"partNumber {r.query['partNumber']!r} is not 1 to 10000"
        copy_range = r.headers.get(f"x-{layer.cloud}-copy-source-range", "")
        if f"x-{layer.cloud}-copy-source" in r.headers:
            first, _, last = copy_range.removeprefix("bytes=").partition("-")
            size = int(last) - int(first) + 1 if first.isdigit() and last.isdigit() else None
        else:
            size = r.length()
        if size is not None and size > 5 << 30:
            return f"part {n} of {size} bytes is over 5 GiB"
        sizes[n] = size
    elif r.method == "POST" and r.body is not None:
        listed = [int(n) for n in re.findall(rb"<PartNumber>\s*(\d+)\s*</PartNumber>", r.body)]
        small = [n for n in listed[:-1] if (sizes.get(n) or layer.min_part) < layer.min_part]
        if small:
            return f"parts {small[:5]} are below {layer.min_part} bytes and not the last"


def cos_bucket_name(layer, r):
    name_ok = re.fullmatch(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?-[0-9]{10}", r.bucket) and len(r.bucket) <= 50
    if r.bucket and not name_ok:
        return f"bucket {r.bucket!r} is not <BucketName>-<APPID> (10-digit APPID, 50 characters at most)"


# ---- OBS ----
# (method, sub-resource, level) whose Content-MD5 is mandatory: obs_04_0086 Deleting Objects ("the request header
# must contain Content-MD5 and Content-Length"; newer editions also accept Content-SHA256), obs_04_0049 bucket
# tagging, obs_04_0034 lifecycle, obs_04_0074 CORS, obs_04_0046 replication (Mandatory: Yes in each headers table),
# obs_04_0172 object tagging (Content-MD5 or Content-SHA256).
OBS_MD5 = [("POST", "delete", "bucket"), ("PUT", "tagging", "any"), ("PUT", "lifecycle", "bucket"),
           ("PUT", "cors", "bucket"), ("PUT", "replication", "bucket"),
           ("POST", "restore", "object")]  # obs_04_0087 Restoring Cold Objects: Content-MD5 in the syntax
# obs_04_0080 / obs_04_0021 x-obs-storage-class (case-sensitive): STANDARD, WARM, COLD; obs_04_0044 adds DEEP_ARCHIVE.
# INTELLIGENT_TIERING: esdk-obs-python's convertor.py (OBS_ALLOWED_STORAGE_CLASS) sends it in OBS mode.
OBS_CLASSES = {"STANDARD", "WARM", "COLD", "DEEP_ARCHIVE", "INTELLIGENT_TIERING"}
# obs_06_0043 "Configuring an ACL Using Header Fields" / obs_04_0030 / obs_04_0080: the *-delivered ACLs are for
# buckets only; bucket-owner-full-control is for objects (obs_22_0703).
OBS_BUCKET_ACLS = {"private", "public-read", "public-read-write", "public-read-delivered", "public-read-write-delivered"}
OBS_OBJECT_ACLS = {"private", "public-read", "public-read-write", "bucket-owner-full-control"}
OBS_RULES = [
    # obs_04_0022 documents the V1 listing only (prefix, marker, max-keys, delimiter). obs_04_0160 (V2) exists on
    # some OBS sites (Open Telekom Cloud, Flexible Engine, Huawei intl): `layer.list_v2 = True` plays one of those.
    ("obs-list-v1", lambda L, r: None if L.list_v2 else lists_v2(L, r), 400, "InvalidArgument"),
    # obs_04_0086 names only "400 Bad Request" for a missing Content-MD5; obs_04_0115's code for a missing header is
    # MissingRequiredHeader (the wire code of the real cloud is unverified).
    ("obs-md5-required", missing_md5(OBS_MD5, alt="content-sha256"), 400, "MissingRequiredHeader"),
    ("obs-length-required", missing_length(OBS_MD5), 411, "MissingContentLength"),  # obs_04_0086; obs_04_0115
    ("obs-bad-digest", bad_digest, 400, "BadDigest"),  # obs_04_0115 BadDigest
    # obs_04_0115 has no InvalidStorageClass (only InvalidDefaultStorageClass): InvalidArgument.
    ("obs-storage-class", one_of("x-obs-storage-class", OBS_CLASSES), 400, "InvalidArgument"),
    ("obs-acl", one_of("x-obs-acl", OBS_BUCKET_ACLS, OBS_OBJECT_ACLS), 400, "InvalidArgument"),
    # Layer strictness: OBS also answers much of the S3 API (x-amz-*), but the gateway must speak native OBS
    # (obs_04_0010 signs x-obs-* headers only), and x-cos-* means nothing to OBS.
    ("obs-foreign-header", foreign_headers("x-amz-", "x-cos-"), 400, "InvalidArgument"),
    ("obs-create-location", obs_location, 400, "IllegalLocationConstraintException"),  # obs_04_0021, obs_04_0115
    ("obs-parts", parts, 400, "EntityTooSmall"),  # obs_04_0099 Uploading Parts; obs_04_0115 EntityTooSmall
    # obs_04_0030 ACL grantees (<Canned>Everyone</Canned>, <ID>); obs_04_0087 <RestoreJob>; obs_04_0021 <Location>.
    ("obs-foreign-body", foreign_elements("acs.amazonaws.com", "cam.qcloud.com", "GlacierJobParameters",
                                          "CASJobParameters", "LocationConstraint"), 400, "MalformedXML"),
]

# ---- COS ----
# 436/8289 DELETE Multiple Objects (Content-MD5 in the request syntax; 436/7728 Common Request Headers: required for
# PUT/POST with a body), 436/8279 PUT Bucket cors (Content-MD5: Required Yes), 436/8280 PUT Bucket lifecycle,
# 436/34838 PUT Bucket tagging. Layer leniency: 436/7728 reads as "every PUT/POST with a body", but the layer, like
# the cloud in practice, does not ask it of PUT Object / Upload Part.
COS_MD5 = [("POST", "delete", "bucket"), ("PUT", "cors", "bucket"), ("PUT", "lifecycle", "bucket"),
           ("PUT", "tagging", "bucket"),
           ("POST", "restore", "object")]  # 436/12633 POST Object restore: Content-MD5 in the sample request
# 436/7749 PUT Object x-cos-storage-class (enumerated in Storage Class Overview): STANDARD_IA, INTELLIGENT_TIERING
# and DEEP_ARCHIVE are COS classes too; GLACIER, GLACIER_IR, ONEZONE_IA, REDUCED_REDUNDANCY, EXPRESS_ONEZONE are not.
COS_CLASSES = {"STANDARD", "STANDARD_IA", "MAZ_STANDARD", "MAZ_STANDARD_IA", "INTELLIGENT_TIERING",
               "MAZ_INTELLIGENT_TIERING", "ARCHIVE", "DEEP_ARCHIVE"}
# 436/30583 (cn 436/30752) ACL Overview, "Preset ACL": public-read-write is not supported for objects.
COS_BUCKET_ACLS = {"private", "public-read", "public-read-write", "authenticated-read"}
COS_OBJECT_ACLS = {"default", "private", "public-read", "authenticated-read", "bucket-owner-read",
                   "bucket-owner-full-control"}
COS_RULES = [
    # 436/7734 GET Bucket (List Objects): prefix, delimiter, encoding-type, marker, max-keys; no V2.
    ("cos-list-v1", lists_v2, 400, "InvalidArgument"),
    ("cos-md5-required", missing_md5(COS_MD5), 400, "MissingContentMD5"),  # 436/7730 MissingContentMD5
    ("cos-length-required", missing_length(COS_MD5), 411, "MissingContentLength"),  # 436/7728; 436/7730
    ("cos-bad-digest", bad_digest, 400, "BadDigest"),  # 436/7730 BadDigest
    # 436/7730 lists InvalidArgument (and NotSupportedStorageClass, for classes a region lacks).
    ("cos-storage-class", one_of("x-cos-storage-class", COS_CLASSES), 400, "InvalidArgument"),
    ("cos-acl", one_of("x-cos-acl", COS_BUCKET_ACLS, COS_OBJECT_ACLS), 400, "InvalidArgument"),
    # Layer strictness: COS answers parts of the S3 API, but the gateway must speak native COS.
    ("cos-foreign-header", foreign_headers("x-amz-", "x-obs-"), 400, "InvalidArgument"),
    # 436/7737 ACL grantees (http://cam.qcloud.com/groups/...); 436/12633 <CASJobParameters>; 436/7738 PUT Bucket
    # takes no location element (the host names the region).
    ("cos-foreign-body", foreign_elements("acs.amazonaws.com", "<Canned>", "GlacierJobParameters", "RestoreJob",
                                          "LocationConstraint", "<Location>"), 400, "MalformedXML"),
    # 436/13312 Bucket Naming Conventions: <BucketName-APPID>, e.g. examplebucket-1250000000 (Host or path).
    ("cos-bucket-name", cos_bucket_name, 400, "InvalidBucketName"),
    ("cos-parts", parts, 400, "EntityTooSmall"),  # 436/7750 Upload Part; 436/7730 EntityTooSmall
]


# ---- OSS ----
# Pages: help.aliyun.com / alibabacloud.com help (ids and paths as named); wire sheet: tests/vectors/oss/README.md.
# DeleteMultipleObjects (doc 31983; error 0016-00000606): Content-MD5 and Content-Length required.
OSS_MD5 = [("POST", "delete", "bucket")]
# x-oss-storage-class (error 0017-00000131): Standard, IA, Archive, ColdArchive, DeepColdArchive, as written.
OSS_CLASSES = {"Standard", "IA", "Archive", "ColdArchive", "DeepColdArchive"}
# Bucket ACL x-oss-acl (PutBucketAcl); object ACL x-oss-object-acl (manage-the-acl-of-an-object) also takes default.
OSS_BUCKET_ACLS = {"private", "public-read", "public-read-write"}
OSS_OBJECT_ACLS = {"default", "private", "public-read", "public-read-write"}


def oss_virtual_hosted(layer, r):
    # compatibility-with-amazon-s3: "OSS supports only virtual-hosted style ... path-style requests are denied".
    if r.bucket and not r.virtual:
        return f"path-style request for bucket {r.bucket!r}; OSS takes only <bucket>.oss-<region>.aliyuncs.com"


def oss_bucket_name(layer, r):
    # Bucket naming: 3 to 63 lower-case letters, digits and hyphens, starting and ending with a letter or digit.
    if r.bucket and not re.fullmatch(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", r.bucket):
        return f"bucket {r.bucket!r} is not 3-63 lower-case letters, digits and hyphens"


def oss_acl_header_scope(layer, r):
    # PutBucket/PutBucketAcl read x-oss-acl (putbucketacl); objects x-oss-object-acl (manage-the-acl-of-an-object).
    # The other header is not an error at OSS but is not applied: the layer refuses it so that a lost ACL shows.
    wrong = "x-oss-acl" if r.key else "x-oss-object-acl"
    if r.bucket and wrong in r.headers:
        return f"{wrong} on a {'object' if r.key else 'bucket'} request, where OSS does not apply it"


def oss_payload(layer, r):
    # V4 (0002-00000214): x-oss-content-sha256 is required and UNSIGNED-PAYLOAD is its only value.
    if r.headers.get("authorization", "").startswith("OSS4-HMAC-SHA256") \
            and r.headers.get("x-oss-content-sha256") != "UNSIGNED-PAYLOAD":
        return "an OSS V4 request must carry x-oss-content-sha256: UNSIGNED-PAYLOAD"


def oss_no_customer_keys(layer, r):
    # OSS encrypts with SSE-KMS or SSE-OSS only (user-guide/data-encryption): there is no customer-key header.
    bad = sorted(k for k in r.headers if "-server-side-encryption-customer-" in k)
    if bad:
        return f"customer-provided key headers OSS does not have: {', '.join(bad)}"


OSS_RULES = [
    ("oss-virtual-hosted", oss_virtual_hosted, 403, "SecondLevelDomainForbidden"),
    ("oss-md5-required", missing_md5(OSS_MD5), 400, "InvalidDigest"),  # 0016-00000606
    ("oss-length-required", missing_length(OSS_MD5), 411, "MissingContentLength"),
    ("oss-bad-digest", bad_digest, 400, "InvalidDigest"),
    ("oss-storage-class", one_of("x-oss-storage-class", OSS_CLASSES), 400, "InvalidArgument"),
    ("oss-acl", one_of("x-oss-acl", OSS_BUCKET_ACLS), 400, "InvalidArgument"),
    ("oss-object-acl", one_of("x-oss-object-acl", OSS_OBJECT_ACLS), 400, "InvalidArgument"),
    ("oss-acl-scope", oss_acl_header_scope, 400, "InvalidArgument"),
    # Layer strictness: OSS answers parts of the S3 API, but the gateway must speak native OSS.
    ("oss-foreign-header", foreign_headers("x-amz-", "x-obs-", "x-cos-"), 400, "InvalidArgument"),
    ("oss-customer-keys", oss_no_customer_keys, 400, "InvalidArgument"),
    ("oss-payload", oss_payload, 400, "InvalidArgument"),
    ("oss-bucket-name", oss_bucket_name, 400, "InvalidBucketName"),
    # UploadPart: 100 KB to 5 GB, the minimum checked at Complete (uploadpartcopy); at most 10,000 parts.
    ("oss-parts", parts, 400, "EntityTooSmall"),
]


class RulesLayer:
    def __init__(self, cloud, upstream_port):
        assert cloud in ("obs", "cos", "oss")
        self.cloud, self.upstream_port = cloud, upstream_port
        self.rules, self.md5_ops = {"obs": (OBS_RULES, OBS_MD5), "cos": (COS_RULES, COS_MD5),
                                    "oss": (OSS_RULES, OSS_MD5)}[cloud]
        self.list_v2 = False  # OBS: play a deployment that serves ListObjectsV2 (obs_04_0160)
        self.violations = []
        self.parts = {}  # (bucket, key, uploadId) -> {part number: size seen}
        self.min_part = {"obs": 100 * 1024, "cos": 1024 * 1024, "oss": 100 * 1024}[cloud]
        self.timeout = TIMEOUT
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        self.tasks = set()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name=f"rules-{cloud}")
        self.thread.start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, sock=self.sock, limit=HEAD_CAP), self.loop).result(10)

    def stop(self):
        async def shutdown():
            self.server.close()
            for t in list(self.tasks):
                t.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    async def _read(self, aw):
        return await asyncio.wait_for(aw, self.timeout)

    async def _serve(self, creader, cwriter):
        self.tasks.add(asyncio.current_task())
        uwriter = pump = None
        client_done = False  # the client ended the connection between requests
        try:
            ureader, uwriter = await self._read(asyncio.open_connection("127.0.0.1", self.upstream_port))
            pump = asyncio.ensure_future(self._pipe(ureader, cwriter))
            while True:
                head = await self._read_head(creader)
                if head is None:
                    client_done = True
                    break
                req = Request(head, self.cloud)
                raw = None
                if self._wants_body(req):
                    if req.headers.get("expect", "").lower() == "100-continue":
                        cwriter.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    raw = req.body = await self._read(creader.readexactly(req.length()))
                refusal = self._check(req)
                if refusal:
                    pump.cancel()
                    await self._refuse(req, cwriter, creader, *refusal)
                    break
                uwriter.write(head)
                if raw is not None:
                    uwriter.write(raw)
                elif "chunked" in req.headers.get("transfer-encoding", "").lower():
                    await self._relay_chunked(creader, uwriter)
                else:
                    await self._relay(creader, uwriter, req.length() or 0)
                await uwriter.drain()
        except (OSError, EOFError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass
        finally:
            if pump is not None and client_done and not pump.done():
                # Half-close upstream and let an answer still in flight finish, briefly.
                try:
                    uwriter.write_eof()
                    await asyncio.wait_for(asyncio.shield(pump), 5)
                except (OSError, asyncio.TimeoutError):
                    pass
            if pump is not None:
                pump.cancel()
            if uwriter is not None:
                uwriter.close()
            if not client_done:
                await self._linger(cwriter, creader)
            cwriter.close()
            self.tasks.discard(asyncio.current_task())

    async def _read_head(self, reader):
        """The request head up to its blank line, or None at a clean end of the connection."""
        try:
            head = await self._read(reader.readuntil(b"\r\n\r\n"))
        except asyncio.IncompleteReadError as e:
            if e.partial.strip():
                raise
            return None
        return head.lstrip(b"\r\n")

    def _wants_body(self, req):
        n = req.length()
        complete = req.method == "POST" and "uploadId" in req.query
        return (md5_op(self.md5_ops, req) is not None or body_op(req) or complete) and n is not None \
            and n <= BODY_CAP

    def _check(self, req):
        for rule_id, check, status, code in self.rules:
            msg = check(self, req)
            if msg:
                return rule_id, status, code, msg
        return None

    async def _relay(self, reader, writer, n):
        while n > 0:
            data = await self._read(reader.read(min(n, 64 * 1024)))
            if not data:
                raise EOFError("client closed inside a body")
            writer.write(data)
            await writer.drain()
            n -= len(data)

    async def _relay_chunked(self, reader, writer):
        while True:
            line = await self._read(reader.readuntil(b"\r\n"))
            writer.write(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:  # trailers, up to the blank line
                while line != b"\r\n":
                    line = await self._read(reader.readuntil(b"\r\n"))
                    writer.write(line)
                return
            await self._relay(reader, writer, size + 2)  # the data and its CRLF

    async def _pipe(self, reader, writer):
        try:
            while True:
                data = await self._read(reader.read(64 * 1024))
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.TimeoutError):
            pass
        # Upstream ended: so does the client connection, once _serve has lingered over a body still coming
        # (not on cancellation: see _refuse).
        try:
            writer.write_eof()
        except OSError:
            pass

    async def _refuse(self, req, writer, reader, rule_id, status, code, msg):
        self.violations.append((rule_id, req.method, req.target))
        rid = uuid.uuid4().hex.upper()
        message = xml_escape(f"rules-layer {rule_id}: {msg}")
        if self.cloud == "obs":
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                    f"<RequestId>{rid}</RequestId><HostId>{base64.b64encode(rid.encode()).decode()}</HostId></Error>")
            extra = f"x-obs-request-id: {rid}\r\nServer: OBS\r\n"
        elif self.cloud == "oss":
            # The OSS error document: no namespace (tests/vectors/oss/README.md section 7).
            body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                    f"<RequestId>{rid}</RequestId><HostId>{req.bucket}.oss-cn-hangzhou.aliyuncs.com</HostId></Error>")
            extra = f"x-oss-request-id: {rid}\r\nServer: AliyunOSS\r\n"
        else:
            resource = xml_escape(f"{req.bucket}.cos.myqcloud.com/{req.key}")
            body = (f"<?xml version='1.0' encoding='utf-8' ?>\n<Error><Code>{code}</Code><Message>{message}</Message>"
                    f"<Resource>{resource}</Resource><RequestId>{rid}</RequestId><TraceId>{rid}</TraceId></Error>")
            extra = f"x-cos-request-id: {rid}\r\nServer: tencent-cos\r\n"
        data = body.encode()
        reason = {400: "Bad Request", 403: "Forbidden", 411: "Length Required"}.get(status, "Error")
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(data)}\r\n"
                     f"{extra}Connection: close\r\n\r\n".encode() + (b"" if req.method == "HEAD" else data))
        await writer.drain()

    @staticmethod
    async def _linger(writer, reader):
        """Lingering close: a body the client is still sending must not turn our close into a reset that eats
        the answer already sent (the stand-in may answer, and close, before a part's body has arrived)."""
        try:
            if not writer.is_closing():
                writer.write_eof()
            deadline = asyncio.get_running_loop().time() + 5
            while await asyncio.wait_for(reader.read(64 * 1024), 2):
                if asyncio.get_running_loop().time() > deadline:
                    break
        except (OSError, RuntimeError, asyncio.TimeoutError):
            pass


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
