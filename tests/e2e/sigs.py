"""Minimal OBS and COS signers for hand-built requests (skewed dates, expired URLs) that SDKs will not make."""
import base64
import hashlib
import hmac
import time
from email.utils import formatdate
from urllib.parse import quote


def obs_header(method, path, secret, ak, date=None, headers=None):
    headers = dict(headers or {})
    date = date or formatdate(usegmt=True)
    canon = "".join(f"{k}:{v}\n" for k, v in sorted((k.lower(), v) for k, v in headers.items() if k.lower().startswith("x-obs-")))
    sts = f"{method}\n\n\n{date}\n{canon}{path}"
    sig = base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return dict(headers, Date=date, Authorization=f"OBS {ak}:{sig}")


def obs_presigned_query(method, path, secret, ak, expires):
    sts = f"{method}\n\n\n{expires}\n{path}"
    sig = base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return f"AccessKeyId={ak}&Expires={expires}&Signature={quote(sig, safe='')}"


def cos_authorization(method, path, host, secret, ak, start, end):
    key_time = f"{start};{end}"
    sign_key = hmac.new(secret.encode(), key_time.encode(), hashlib.sha1).hexdigest()
    http_string = f"{method.lower()}\n{path}\n\nhost={quote(host, safe='-_.~')}\n"
    sts = f"sha1\n{key_time}\n{hashlib.sha1(http_string.encode()).hexdigest()}\n"
    sig = hmac.new(sign_key.encode(), sts.encode(), hashlib.sha1).hexdigest()
    return (f"q-sign-algorithm=sha1&q-ak={ak}&q-sign-time={key_time}&q-key-time={key_time}"
            f"&q-header-list=host&q-url-param-list=&q-signature={sig}")


def now():
    return int(time.time())


def sigv4_headers(method, host, path, query, headers, payload_hash, ak, secret, region="us-east-1", t=None):
    """SigV4 header auth for a hand-built request; signs host, x-amz-* and content-* headers given."""
    import datetime
    t = t or datetime.datetime.now(datetime.timezone.utc)
    amz = t.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz[:8]}/{region}/s3/aws4_request"
    h = {k.lower(): v for k, v in headers.items()}
    h.update({"host": host, "x-amz-date": amz, "x-amz-content-sha256": payload_hash})
    signed = sorted(h)
    cq = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query))
    cr = "\n".join([method, path, cq, "".join(f"{k}:{' '.join(str(h[k]).split())}\n" for k in signed),
                    ";".join(signed), payload_hash])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(cr.encode()).hexdigest()])
    k = hmac.new(("AWS4" + secret).encode(), amz[:8].encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    h["authorization"] = f"AWS4-HMAC-SHA256 Credential={ak}/{scope}, SignedHeaders={';'.join(signed)}, Signature={sig}"
    return h, k, scope, amz, sig


def chunk_signature(key, scope, amz, prev, data):
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz, scope, prev, hashlib.sha256(b"").hexdigest(),
                     hashlib.sha256(data).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def trailer_signature(key, scope, amz, prev, trailers):
    """The x-amz-trailer-signature of trailing headers (AWS "sigv4-streaming-trailers")."""
    canonical = "".join(f"{k}:{v}\n" for k, v in trailers)
    sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz, scope, prev, hashlib.sha256(canonical.encode()).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def v2_header(scheme, prefix, method, resource, secret, ak, headers=None, content_type=""):
    """`OBS ak:sig` (scheme "OBS", prefix "x-obs-") or AWS V2 `AWS ak:sig` (scheme "AWS", prefix "x-amz-")
    header auth; `resource` is the canonical resource with its sub-resources."""
    headers = dict(headers or {})
    date = formatdate(usegmt=True)
    canon = "".join(f"{k}:{v}\n" for k, v in sorted((k.lower(), v) for k, v in headers.items()
                                                      if k.lower().startswith(prefix)))
    sts = f"{method}\n\n{content_type}\n{date}\n{canon}{resource}"
    sig = base64.b64encode(hmac.new(secret.encode(), sts.encode(), hashlib.sha1).digest()).decode()
    return dict(headers, Date=date, Authorization=f"{scheme} {ak}:{sig}")
