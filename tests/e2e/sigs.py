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
