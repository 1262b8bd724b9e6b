"""Listings as large as the clouds make them still translate whole under the per-answer caps and the shared
memory for answers: a page of 1,000 keys of 1 KiB names each (S3's and OBS's largest page of the longest
keys, about 1.4 MiB of XML) read from Garage behind the OBS, COS and S3 routes by boto3 (V2 over the V1-only
clouds), the OBS SDK and the COS SDK; and a ListParts page of 10,000 parts (more than any cloud's 1,000 per
page: OBS obs_04_0101, S3 ListParts) from an OBS-dialect stub, read by boto3 in S3's shape."""
import concurrent.futures
import socket
import threading
import uuid

import pytest

from clients import make
from conftest import BUCKETS, CLIENT_AK, CLIENT_SK, Proxy, garage_direct

KEYS = 1000


@pytest.fixture(scope="module")
def long_keys(bed):
    """KEYS keys of exactly 1,024 bytes (S3's longest) under one prefix in each route's bucket."""
    prefix = f"long-{uuid.uuid4().hex[:8]}/"
    keys = [prefix + f"{i:04d}-" + "k" * (1024 - len(prefix) - 5) for i in range(KEYS)]
    assert all(len(k.encode()) == 1024 for k in keys)
    g = garage_direct(bed)
    for b in BUCKETS.values():
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            list(ex.map(lambda k, b=b: g.put_object(Bucket=b, Key=k, Body=b"x"), keys))
    return prefix, keys


@pytest.mark.parametrize("backend", ["obs", "cos", "s3"])
@pytest.mark.parametrize("mode", ["boto3", "obs-native", "cos"])
def test_a_page_of_1000_longest_keys_translates_whole(bed, long_keys, backend, mode):
    prefix, keys = long_keys
    c = make(mode, bed["front"].url).c
    b = BUCKETS[backend]
    if mode == "boto3":
        page = c.list_objects_v2(Bucket=b, Prefix=prefix, MaxKeys=KEYS)
        got = [o["Key"] for o in page["Contents"]]
        assert page["KeyCount"] == KEYS and not page["IsTruncated"]
    elif mode == "obs-native":
        r = c.listObjects(b, prefix=prefix, max_keys=KEYS)
        assert r.status == 200, r.errorMessage
        got = [o.key for o in r.body.contents]
        assert not r.body.is_truncated
    else:
        page = c.list_objects(Bucket=b, Prefix=prefix, MaxKeys=KEYS)
        got = [o["Key"] for o in page["Contents"]]
        assert page["IsTruncated"] == "false"
    assert got == keys


class PartsBackend:
    """An OBS-dialect backend that answers every request with one ListParts page of PARTS parts, in the
    shape of obs_04_0101."""
    PARTS = 10_000

    def __init__(self):
        parts = "".join(
            f"<Part><PartNumber>{n}</PartNumber><LastModified>2026-12-01T10:00:00.000Z</LastModified>"
            f"<ETag>\"{n:032x}\"</ETag><Size>{5 << 20}</Size></Part>" for n in range(1, self.PARTS + 1))
        doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               '<ListPartsResult xmlns="http://obs.myhwclouds.com/doc/2015-06-30/">'
               '<Bucket>parts</Bucket><Key>big</Key><UploadId>u1</UploadId>'
               '<Initiator><ID>i</ID></Initiator><Owner><ID>o</ID></Owner><StorageClass>WARM</StorageClass>'
               f'<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>{self.PARTS}</NextPartNumberMarker>'
               f'<MaxParts>{self.PARTS}</MaxParts><IsTruncated>false</IsTruncated>{parts}</ListPartsResult>')
        body = doc.encode()
        self.answer = (b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nx-obs-request-id: r\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(body)) + body
        self.size = len(body)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn:
            buf = b""
            try:
                while True:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            return
                        buf += data
                    buf = buf.split(b"\r\n\r\n", 1)[1]
                    conn.sendall(self.answer)
            except OSError:
                return

    def stop(self):
        self.sock.close()


def test_a_list_parts_page_of_10000_parts_translates_whole(bed):
    backend = PartsBackend()
    assert backend.size > 64 << 10  # past the result cap: a listing's cap and the shared memory apply
    proxy = Proxy(bed["work"], "parts", f"""
[server]
listen = ["127.0.0.1:@PORT@"]
[[clients]]
access_key = "{CLIENT_AK}"
secret_key = "{CLIENT_SK}"
[[backends]]
name = "parts"
dialect = "obs"
endpoint = "http://127.0.0.1:{backend.port}"
region = "cn-north-4"
access_key = "a"
secret_key = "b"
[[routes]]
bucket = "*"
backend = "parts"
""")
    try:
        c = make("boto3", proxy.url).c
        r = c.list_parts(Bucket="parts", Key="big", UploadId="u1")
        assert [p["PartNumber"] for p in r["Parts"]] == list(range(1, PartsBackend.PARTS + 1))
        assert all(p["ETag"] == f'"{p["PartNumber"]:032x}"' and p["Size"] == 5 << 20 for p in r["Parts"])
        # OBS's WARM is S3's STANDARD_IA (obs_04_0080), inside the document too.
        assert r["StorageClass"] == "STANDARD_IA"
        assert r["IsTruncated"] is False
    finally:
        proxy.stop()
        backend.stop()
