"""Slow and many clients: a request head sent a byte at a time is cut at client_header_timeout while
valid requests are served at once; connections beyond max_connections are closed at once."""
import select
import socket
import time
import uuid

import pytest

from clients import make
from conftest import APPID, CLIENT_AK, CLIENT_SK, Proxy, standin_config

HEADER_TIMEOUT = 2


@pytest.fixture(scope="module")
def guarded(bed):
    extra = f'client_header_timeout = "{HEADER_TIMEOUT}s"\nmax_connections = 300'
    p = Proxy(bed["work"], f"guarded-{uuid.uuid4().hex[:6]}",
              standin_config(CLIENT_AK, CLIENT_SK, bed["garage"], extra))
    try:
        yield p
    finally:
        p.stop()


def test_slowloris_is_cut_at_the_header_deadline_while_others_are_served(guarded):
    head = f"GET /via-s3-{APPID}/k HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + "a" * 100
    socks = [socket.create_connection(("127.0.0.1", guarded.port)) for _ in range(200)]
    started = time.monotonic()
    closed_at = {}
    c = make("boto3", guarded.url)
    c.put(f"via-s3-{APPID}", "slow/ok", b"ok")
    served = []
    try:
        i = 0
        while len(closed_at) < len(socks) and time.monotonic() - started < HEADER_TIMEOUT + 5:
            for s in socks:
                if s in closed_at:
                    continue
                try:
                    s.send(head[i % len(head)].encode())
                except OSError:
                    closed_at[s] = time.monotonic() - started
            readable, _, _ = select.select([s for s in socks if s not in closed_at], [], [], 0.25)
            for s in readable:
                try:
                    if not s.recv(4096):
                        closed_at[s] = time.monotonic() - started
                except OSError:
                    closed_at[s] = time.monotonic() - started
            t = time.monotonic()
            assert c.get(f"via-s3-{APPID}", "slow/ok") == b"ok"
            served.append(time.monotonic() - t)
            i += 1
    finally:
        for s in socks:
            s.close()
    assert len(closed_at) == len(socks), f"{len(socks) - len(closed_at)} slow heads were never cut"
    assert max(closed_at.values()) < HEADER_TIMEOUT + 1, max(closed_at.values())
    assert min(closed_at.values()) >= HEADER_TIMEOUT - 0.5, min(closed_at.values())
    served.sort()
    assert served[len(served) // 2] < 0.1, served  # the median valid request, while 200 heads crawl


def test_connections_beyond_the_cap_are_closed(bed):
    p = Proxy(bed["work"], f"capped-{uuid.uuid4().hex[:6]}",
              standin_config(CLIENT_AK, CLIENT_SK, bed["garage"], "max_connections = 5"))
    held = []
    try:
        # (the proxy's own readiness probe took one slot and gave it back)
        # Six connections to a cap of five: exactly one is closed at once (whichever the proxy took last).
        held = [socket.create_connection(("127.0.0.1", p.port)) for _ in range(6)]
        closed = []
        deadline = time.monotonic() + 3
        while not closed and time.monotonic() < deadline:
            readable, _, _ = select.select(held, [], [], 0.5)
            for s in readable:
                try:
                    data = s.recv(10)
                except OSError:
                    data = b""
                assert data == b"", "a connection sent something unasked"
                closed.append(s)
        assert len(closed) == 1, f"{len(closed)} connections were closed"
        readable, _, _ = select.select([s for s in held if s not in closed], [], [], 0.3)
        assert readable == [], "more than one connection over the cap was closed"
        for s in closed:
            held.remove(s)
            s.close()
        held.pop().close()
        # A slot is free again once the proxy has seen the close: a request is served.
        deadline = time.monotonic() + 2
        while True:
            s = socket.create_connection(("127.0.0.1", p.port))
            s.settimeout(2)
            try:
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                got = s.recv(12)
            except OSError:
                got = b""
            s.close()
            if got.startswith(b"HTTP/1.1") or time.monotonic() > deadline:
                break
        assert got.startswith(b"HTTP/1.1"), got
    finally:
        for s in held:
            s.close()
        p.stop()
