"""The multipart workflow and payload modes, streamed, for every SDK and every backend dialect."""
import hashlib
import http.client
import os
import ssl
import zlib
import base64

import pytest

import sigs
from clients import MODES, SdkError, make, Boto3, AwsCli
from conftest import BUCKETS, CLIENT_AK, CLIENT_SK

MiB = 1024 * 1024
BACKENDS = ["s3", "obs", "cos", "oss"]


def sha(b):
    return hashlib.sha256(b).hexdigest()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("checksums", [True, False], ids=["sdk-defaults", "checksums-off"])
def test_boto3_upload_file_40_mib_over_https(bed, tmp_path, backend, checksums):
    """boto3 >= 1.36 over HTTPS sends aws-chunked parts with a CRC32 trailer by default."""
    c = Boto3(bed["front"].https_url, verify=bed["front"].ca, checksums=checksums)
    data = os.urandom(40 * MiB + 3)
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    key = f"mp/boto3-{checksums}.bin"
    c.c.upload_file(str(f), BUCKETS[backend], key)
    out = tmp_path / "down.bin"
    c.c.download_file(BUCKETS[backend], key, str(out))
    assert sha(out.read_bytes()) == sha(data)
    c.delete(BUCKETS[backend], key)


@pytest.mark.parametrize("backend", BACKENDS)
def test_awscli_cp_50_mib_up_and_down(bed, tmp_path, backend):
    for url, extra in [(bed["front"].url, []), (bed["front"].https_url, ["--ca-bundle", bed["front"].ca])]:
        cli = AwsCli(url)
        data = os.urandom(50 * MiB)
        f = tmp_path / "up.bin"
        f.write_bytes(data)
        cli.run(*extra, "s3", "cp", str(f), f"s3://{BUCKETS[backend]}/mp/cli.bin")
        out = tmp_path / "down.bin"
        cli.run(*extra, "s3", "cp", f"s3://{BUCKETS[backend]}/mp/cli.bin", str(out))
        assert sha(out.read_bytes()) == sha(data), url


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("mode", MODES)
def test_multipart_upload_list_complete_abort(bed, mode, backend):
    c = make(mode, bed["front"].url)
    b = BUCKETS[backend]
    p1, p2 = os.urandom(5 * MiB), os.urandom(MiB + 5)
    key = f"mp/{mode}/obj.bin"
    uid = c.initiate(b, key)
    e1 = c.upload_part(b, key, uid, 1, p1)
    e2 = c.upload_part(b, key, uid, 2, p2)
    assert [n for n, _ in c.list_parts(b, key, uid)] == [1, 2]
    c.complete(b, key, uid, [(1, e1), (2, e2)])
    assert sha(c.get(b, key)) == sha(p1 + p2)
    # Abort leaves nothing behind.
    uid = c.initiate(b, key + ".aborted")
    c.upload_part(b, key + ".aborted", uid, 1, p2)
    c.abort(b, key + ".aborted", uid)
    with pytest.raises(SdkError):
        c.list_parts(b, key + ".aborted", uid)
    assert c.list(b, key + ".aborted") == []


def raw_put(bed, bucket, key, headers, body):
    c = http.client.HTTPConnection("127.0.0.1", bed["front"].port, timeout=30)
    try:
        c.request("PUT", f"/{bucket}/{key}", body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read().decode(errors="replace")
    except (ConnectionError, http.client.HTTPException) as e:
        return None, repr(e)
    finally:
        c.close()


def host(bed):
    return f"127.0.0.1:{bed['front'].port}"


def unsigned_trailer_body(data, crc_b64):
    return (b"%x\r\n" % len(data)) + data + b"\r\n0\r\nx-amz-checksum-crc32:" + crc_b64.encode() + b"\r\n\r\n"


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


@pytest.mark.parametrize("backend", BACKENDS)
def test_payload_modes_and_their_failures(bed, backend):
    b = BUCKETS[backend]
    data = os.urandom(300000)
    exists = lambda k: k in make("boto3", bed["front"].url).list(b, "pm/")
    base = {"content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))}

    # STREAMING-UNSIGNED-PAYLOAD-TRAILER, right and wrong CRC32.
    for key, crc in [("pm/trailer-ok", crc32_b64(data)), ("pm/trailer-bad", "AAAAAA==")]:
        body = unsigned_trailer_body(data, crc)
        h, *_ = sigs.sigv4_headers("PUT", host(bed), f"/{b}/{key}", [], dict(base, **{"x-amz-trailer": "x-amz-checksum-crc32"}),
                                   "STREAMING-UNSIGNED-PAYLOAD-TRAILER", CLIENT_AK, CLIENT_SK)
        st, text = raw_put(bed, b, key, dict(h, **{"Content-Length": str(len(body))}), body)
        if key.endswith("ok"):
            assert st == 200, text
        else:
            assert st in (400, None) and (st is None or "BadDigest" in text), text
    assert exists("pm/trailer-ok") and not exists("pm/trailer-bad")
    assert sha(make("boto3", bed["front"].url).get(b, "pm/trailer-ok")) == sha(data)

    # STREAMING-AWS4-HMAC-SHA256-PAYLOAD, signed chunks, one corrupted.
    for key, corrupt in [("pm/signed-ok", False), ("pm/signed-bad", True)]:
        h, k, scope, amz, seed = sigs.sigv4_headers("PUT", host(bed), f"/{b}/{key}", [], base,
                                                    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", CLIENT_AK, CLIENT_SK)
        chunks, prev, out = [data[:200000], data[200000:], b""], seed, b""
        for ch in chunks:
            sig = sigs.chunk_signature(k, scope, amz, prev, ch)
            prev = sig
            payload = ch
            if corrupt and ch is chunks[1]:
                payload = bytes([ch[0] ^ 1]) + ch[1:]
            out += b"%x;chunk-signature=%s\r\n" % (len(ch), sig.encode()) + payload + b"\r\n"
        st, text = raw_put(bed, b, key, dict(h, **{"Content-Length": str(len(out))}), out)
        if corrupt:
            assert st in (403, None) and (st is None or "SignatureDoesNotMatch" in text), text
        else:
            assert st == 200, text
    assert exists("pm/signed-ok") and not exists("pm/signed-bad")

    # A hex payload hash that does not match the body.
    h, *_ = sigs.sigv4_headers("PUT", host(bed), f"/{b}/pm/hash-bad", [], {}, sha(b"something else"), CLIENT_AK, CLIENT_SK)
    st, text = raw_put(bed, b, "pm/hash-bad", dict(h, **{"Content-Length": str(len(data))}), data)
    assert st in (400, None) and (st is None or "XAmzContentSHA256Mismatch" in text), text
    assert not exists("pm/hash-bad")

    # A wrong Content-MD5 is kept and checked by the backend.
    from botocore.exceptions import ClientError
    c = make("boto3", bed["front"].url)
    with pytest.raises(ClientError) as e:
        c.c.put_object(Bucket=b, Key="pm/md5-bad", Body=data, ContentMD5=base64.b64encode(hashlib.md5(b"x").digest()).decode())
    assert e.value.response["Error"]["Code"] in ("BadDigest", "InvalidDigest")
    assert not exists("pm/md5-bad")


def test_part_above_5_gib_is_refused(bed):
    h, *_ = sigs.sigv4_headers("PUT", host(bed), f"/{BUCKETS['s3']}/huge", [("partNumber", "1"), ("uploadId", "u")],
                               {}, "UNSIGNED-PAYLOAD", CLIENT_AK, CLIENT_SK)
    c = http.client.HTTPConnection("127.0.0.1", bed["front"].port, timeout=10)
    c.putrequest("PUT", f"/{BUCKETS['s3']}/huge?partNumber=1&uploadId=u", skip_host=True, skip_accept_encoding=True)
    for k, v in h.items():
        c.putheader(k, v)
    c.putheader("Content-Length", str(5 * 1024 ** 3 + 1))
    c.endheaders()
    r = c.getresponse()
    assert r.status == 400 and "EntityTooLarge" in r.read().decode()
