"""Request framing at the edge, on a raw socket (pingora's parser lets these through to the gateway):
both Content-Length and Transfer-Encoding (RFC 9112 §6.1: answered, then the connection closes), and chunked
bodies whose framing does not parse (400 in the client's dialect and the connection closed; nothing reaches a
backend where the body is read before forwarding, nothing is stored where it streams)."""
import socket

import pytest

import sigs
from conftest import APPID, BUCKETS, CLIENT_AK, CLIENT_SK, garage_direct


def exchange(bed, method, path, extra, body, query=()):
    """Send one request; return (status line, head, body, closed after the answer)."""
    port = bed["front"].port
    h, *_ = sigs.sigv4_headers(method, f"127.0.0.1:{port}", path, list(query), {}, "UNSIGNED-PAYLOAD",
                               CLIENT_AK, CLIENT_SK)
    target = path + ("?" + "&".join(k for k, _ in query) if query else "")
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + extra + "\r\n"
    s = socket.create_connection(("127.0.0.1", port), timeout=15)
    try:
        s.sendall(head.encode() + body)
        data = b""
        while b"\r\n\r\n" not in data:
            more = s.recv(65536)
            if not more:
                break
            data += more
        top, _, rest = data.partition(b"\r\n\r\n")
        length = next((int(l.split(b":")[1]) for l in top.split(b"\r\n") if l.lower().startswith(b"content-length:")), 0)
        while len(rest) < length:
            more = s.recv(65536)
            if not more:
                break
            rest += more
        # Closed: the next read ends (or the peer reset it) instead of timing out.
        s.settimeout(5)
        try:
            closed = s.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except socket.timeout:
            closed = False
        return top.split(b"\r\n")[0].decode(), top.decode(errors="replace").lower(), rest.decode(errors="replace"), closed
    finally:
        s.close()


def test_content_length_and_transfer_encoding_are_answered_then_closed(bed):
    b = BUCKETS["s3"]
    body = b"5\r\nhello\r\n0\r\n\r\n"
    status, head, _, closed = exchange(bed, "PUT", f"/{b}/edge/both", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", body)
    assert status.startswith("HTTP/1.1 200"), status
    assert "connection: close" in head and closed


@pytest.mark.parametrize("frame", [b"zz\r\nhello\r\n0\r\n\r\n", b"-1\r\nhello\r\n0\r\n\r\n",
                                   b"1" * 20 + b"\r\nhello\r\n0\r\n\r\n", b"0x5\r\nhello\r\n0\r\n\r\n",
                                   b"3\r\nhello\r\n0\r\n\r\n"],
                         ids=["zz", "minus1", "20digits", "0x5", "short-declared"])
def test_malformed_chunks_are_400_and_close(bed, frame):
    # Streamed (PutObject): the backend's request is cut short, nothing stored.
    b = BUCKETS["s3"]
    key = f"edge/bad-{abs(hash(frame))}"
    status, head, text, closed = exchange(bed, "PUT", f"/{b}/{key}", "Transfer-Encoding: chunked\r\n", frame)
    assert status.startswith("HTTP/1.1 400"), (status, text)
    assert "<Code>IncompleteBody</Code>" in text and "x-amz-request-id" in head and closed, text
    assert "Contents" not in garage_direct(bed).list_objects_v2(Bucket=b, Prefix=key)
    # Read before forwarding (a small body): the backend never hears of it.
    trip = bed["trip"]
    before = trip.count
    status, _, text, closed = exchange(bed, "PUT", f"/trip-{APPID}/k", "Transfer-Encoding: chunked\r\n", frame,
                                        query=[("tagging", "")])
    assert status.startswith("HTTP/1.1 400") and "<Code>IncompleteBody</Code>" in text and closed, (status, text)
    assert trip.count == before
