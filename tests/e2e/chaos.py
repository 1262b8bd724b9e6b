"""A fault-injecting relay between a dialect-proxy and Garage, for soak tests (tests/e2e/test_soak.py).

The relay parses each request head the proxy sends (capped at 64 KiB) and relays its body by its
Content-Length or chunked framing, piece by piece (bounded memory, nothing buffered whole but the
answer of a `cut` chunked answer, capped at 1 MiB). Each request goes to Garage on a connection of its
own, whose answer is parsed the same way (status line, headers, Content-Length / chunked / until close).

For a fraction of the requests (seeded random), once armed, it injects one fault instead of relaying
faithfully:

- `reset`     the connection is reset (RST) before any status line: `unread` right after the head, the
              body left unread and Garage never asked; `after-backend` once Garage has answered (the
              request took effect, its answer is lost);
- `stall`     nothing (`head`), or the status, headers and half the body (`body`), then silence for
              `stall` seconds (longer than the proxy's idle deadline), then the connection is closed;
              records how long the proxy took to give up on it (`proxy_closed_after`);
- `early`     only for an upload (PUT with a body): `400 RequestTimeout` right after the head, the body
              left unread, the connection kept open and served: whatever comes next on it is parsed as
              the next request. A head whose first line is no request line (the rest of the body, or the
              rest of the body and a request behind it) counts as `poisoned`; a valid head after an early
              answer counts as `reused_after_early` (the proxy wrote a new request where the server
              expected the rest of the body);
- `cut`       the status, headers and half the body, then a reset (an answer with no body: half its head);
- `slowdown`  the body is read and dropped, `503 SlowDown` answered, the connection kept.

Every request is recorded, before anything is injected, as one JSON line: its id, the connection it
came on, the time it was read (`time.monotonic()`: CLOCK_MONOTONIC, the same clock in every process),
method, target, bucket, key, `tag` (the key, or the listing's `prefix` when there is no key) and the
fault (`null` for none). A second line records its end (`status` relayed, Garage's latency `t_up`,
relay-side `error`). A test can so tell whether a client request whose exchanges carried its key had a
fault injected into one of them.

The relay runs in a process of its own: in the test's process its latency would depend on the client
threads holding the GIL, and a relay delay longer than the proxy's idle deadline would look like a proxy
failure. `ChaosRelay` starts it and reads its records; SIGUSR1 arms it, SIGUSR2 disarms it (each
acknowledged by an `armed` line), SIGTERM stops it.
"""
import argparse
import asyncio
import itertools
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit

KINDS = ("reset", "stall", "early", "cut", "slowdown")
HEAD_CAP = 64 * 1024
LINE_CAP = 8 * 1024
PIECE = 64 * 1024
CHUNKED_CAP = 1024 * 1024
IO_TIMEOUT = 120.0    # a peer silent this long inside an exchange: the connection is dropped
HEAD_WAIT = 600.0     # an idle keep-alive connection waits this long for its next request
REQUEST_LINE = re.compile(rb"[A-Z]+ [^ \r\n]+ HTTP/1\.[01]")

REQUEST_TIMEOUT = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>RequestTimeout</Code>'
                   b"<Message>Your socket connection to the server was not read from or written to within the "
                   b"timeout period.</Message><RequestId>CHAOS</RequestId></Error>")
SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b"<Message>Please reduce your request rate.</Message><RequestId>CHAOS</RequestId></Error>")


class Garbage(Exception):
    """Bytes up to a blank line that are no request head (their start is kept as a sample)."""

    def __init__(self, sample):
        super().__init__(sample)
        self.sample = sample


class Leftover(Exception):
    """The connection ended after bytes that never made a head (the rest of an unread body, say)."""

    def __init__(self, n, sample):
        super().__init__(n)
        self.n, self.sample = n, sample


class Stream:
    """A StreamReader behind a buffer of our own: heads, lines and counted pieces, in bounded memory."""

    def __init__(self, reader):
        self.r = reader
        self.buf = bytearray()

    async def _fill(self, timeout=IO_TIMEOUT):
        data = await asyncio.wait_for(self.r.read(PIECE), timeout)
        if not data:
            raise EOFError("peer closed")
        self.buf += data

    async def head(self, wait=IO_TIMEOUT):
        """The bytes up to and including the first blank line; None when the peer closes with nothing
        pending. Past HEAD_CAP without a blank line the bytes are dropped as they come (keeping a sample
        and the last 3 bytes, to find a terminator split across reads): Garbage once one comes, Leftover
        if the connection ends first."""
        sample, dropped = None, 0
        while True:
            i = self.buf.find(b"\r\n\r\n")
            if i >= 0:
                head = bytes(self.buf[:i + 4])
                del self.buf[:i + 4]
                if sample is not None:
                    raise Garbage(sample)
                return head
            if len(self.buf) > HEAD_CAP:
                if sample is None:
                    sample = bytes(self.buf[:120])
                dropped += len(self.buf) - 3
                del self.buf[:-3]
            try:
                await self._fill(wait if not self.buf and sample is None else IO_TIMEOUT)
            except EOFError:
                if not self.buf and sample is None:
                    return None
                raise Leftover(dropped + len(self.buf), sample or bytes(self.buf[:120])) from None

    async def line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                out = bytes(self.buf[:i + 2])
                del self.buf[:i + 2]
                return out
            if len(self.buf) > LINE_CAP:
                raise ValueError("line too long")
            await self._fill()

    async def pieces(self, n):
        while n > 0:
            if not self.buf:
                await self._fill()
            take = min(n, len(self.buf), PIECE)
            piece = bytes(self.buf[:take])
            del self.buf[:take]
            n -= take
            yield piece

    async def rest(self):
        """Everything up to the end of the connection (an answer without length)."""
        while True:
            if self.buf:
                piece = bytes(self.buf)
                self.buf.clear()
                yield piece
            try:
                await self._fill()
            except EOFError:
                return


def parse_headers(lines):
    headers = {}
    for line in lines:
        if ":" in line:
            k, v = line.split(":", 1)
            k, v = k.strip().lower(), v.strip()
            headers[k] = f"{headers[k]},{v}" if k in headers else v
    return headers


def body_framing(headers):
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return "chunked", None
    n = headers.get("content-length")
    if n is not None:
        return "length", int(n)
    return None


class Request:
    def __init__(self, head):
        lines = head.decode("latin-1").split("\r\n")
        self.head = head
        self.method, self.target, _ = lines[0].split(" ", 2)
        self.headers = parse_headers(lines[1:])
        url = urlsplit(self.target)
        self.bucket, _, self.key = unquote(url.path).lstrip("/").partition("/")
        self.query = dict(parse_qsl(url.query, keep_blank_values=True))
        self.tag = self.key or self.query.get("prefix", "")
        self.framing = body_framing(self.headers) or ("length", 0)
        self.upload = self.method == "PUT" and (self.framing[0] == "chunked" or self.framing[1] > 0)


def answer_framing(method, status, headers):
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return "length", 0
    return body_framing(headers) or ("close", None)


def has_body(framing):
    return framing[0] != "length" or framing[1] > 0


async def copy_body(src, framing, sink):
    """Relay one body in its framing from `src` to `sink` (an async callable; None drops it)."""
    kind, n = framing
    sink = sink or _drop
    if kind == "length":
        async for piece in src.pieces(n):
            await sink(piece)
    elif kind == "chunked":
        while True:
            line = await src.line()
            await sink(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:  # trailers, up to the blank line
                while line != b"\r\n":
                    line = await src.line()
                    await sink(line)
                return
            async for piece in src.pieces(size + 2):  # the data and its CRLF
                await sink(piece)
    else:
        async for piece in src.rest():
            await sink(piece)


async def _drop(_piece):
    return None


def writer_sink(writer):
    async def sink(piece):
        writer.write(piece)
        await asyncio.wait_for(writer.drain(), IO_TIMEOUT)
    return sink


def simple_answer(status, reason, body):
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
            f"x-amz-request-id: CHAOS\r\n\r\n").encode() + body


def reset(writer):
    """Close with RST: SO_LINGER 0 drops whatever is still unsent."""
    sock = writer.get_extra_info("socket")
    try:
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    writer.transport.abort()


class _Enough(Exception):
    pass


class Relay:
    """The relay itself (runs in the child process)."""

    def __init__(self, port, upstream_port, fraction, seed, stall, kinds, records):
        self.port, self.upstream_port = port, upstream_port
        self.fraction, self.stall, self.kinds = fraction, stall, kinds
        self.rng = random.Random(seed)
        self.armed = False
        self.ids = itertools.count(1)
        self.conn_ids = itertools.count(1)
        self.out = open(records, "a", buffering=1)
        self.tasks = set()

    def emit(self, **ev):
        self.out.write(json.dumps(ev) + "\n")

    def arm(self, on):
        self.armed = on
        self.emit(ev="armed", on=on, t=time.monotonic())

    def choose(self, req):
        if not self.armed or self.rng.random() >= self.fraction:
            return None, None
        kinds = [k for k in self.kinds if k != "early" or req.upload]
        if not kinds:
            return None, None
        kind = self.rng.choice(kinds)
        detail = {"reset": lambda: self.rng.choice(["unread", "after-backend"]),
                  "stall": lambda: self.rng.choice(["head", "body"])}.get(kind, lambda: None)()
        return kind, detail

    async def run(self):
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        loop.add_signal_handler(signal.SIGUSR1, self.arm, True)
        loop.add_signal_handler(signal.SIGUSR2, self.arm, False)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGINT, stop.set)
        server = await asyncio.start_server(self._serve, "127.0.0.1", self.port, backlog=512)
        self.emit(ev="listening", port=self.port, t=time.monotonic())
        await stop.wait()
        server.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.out.close()

    async def _serve(self, creader, cwriter):
        self.tasks.add(asyncio.current_task())
        conn = next(self.conn_ids)
        src = Stream(creader)
        early = None  # id of the early-answered request whose body may still be on this connection
        try:
            while True:
                try:
                    head = await src.head(HEAD_WAIT)
                except Garbage as g:
                    self.emit(ev="poisoned", conn=conn, t=time.monotonic(), after_early=early,
                              sample=g.sample.decode("latin-1"))
                    break
                except Leftover as lo:
                    self.emit(ev="leftover", conn=conn, t=time.monotonic(), after_early=early, n=lo.n,
                              sample=lo.sample[:40].decode("latin-1"))
                    break
                if head is None:
                    break
                first = head.split(b"\r\n", 1)[0]
                if not REQUEST_LINE.fullmatch(first):
                    self.emit(ev="poisoned", conn=conn, t=time.monotonic(), after_early=early,
                              sample=head[:120].decode("latin-1"))
                    break
                req = Request(head)
                rid = next(self.ids)
                fault, detail = self.choose(req)
                self.emit(ev="req", id=rid, conn=conn, t=time.monotonic(), method=req.method, target=req.target,
                          bucket=req.bucket, key=req.key, tag=req.tag, fault=fault, detail=detail,
                          after_early=early)
                end = {"ev": "end", "id": rid}
                keep = False
                try:
                    keep = await self._exchange(req, src, cwriter, fault, detail, end)
                except (OSError, EOFError, ValueError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                    end["error"] = f"{type(e).__name__}: {e}"
                finally:
                    end["t"] = time.monotonic()
                    self.emit(**end)
                if fault == "early":
                    early = rid
                if not keep:
                    break
        except asyncio.CancelledError:
            pass
        except (OSError, EOFError, ValueError, asyncio.TimeoutError) as e:
            self.emit(ev="conn_error", conn=conn, t=time.monotonic(), error=f"{type(e).__name__}: {e}")
        finally:
            if not cwriter.is_closing():
                cwriter.close()
            self.tasks.discard(asyncio.current_task())

    async def _hold(self, src, end):
        """Silence for `stall` seconds, reading (and dropping) whatever comes; note when the proxy closes."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + self.stall
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                end["proxy_closed_after"] = None
                return
            try:
                data = await asyncio.wait_for(src.r.read(PIECE), remaining)
            except asyncio.TimeoutError:
                continue
            except OSError:
                data = b""
            if not data:
                end["proxy_closed_after"] = round(loop.time() - start, 3)
                return

    async def _exchange(self, req, src, cw, fault, detail, end):
        """Serve one request; True when the connection stays open for the next one."""
        csink = writer_sink(cw)
        if fault == "early":
            cw.write(simple_answer(400, "Bad Request", REQUEST_TIMEOUT))
            await asyncio.wait_for(cw.drain(), IO_TIMEOUT)
            end["status"] = 400
            return True
        if fault == "slowdown":
            await copy_body(src, req.framing, None)
            cw.write(simple_answer(503, "Slow Down", SLOWDOWN))
            await asyncio.wait_for(cw.drain(), IO_TIMEOUT)
            end["status"] = 503
            return True
        if fault == "reset" and detail == "unread":
            reset(cw)
            return False
        if req.upload and req.headers.get("expect", "").lower() == "100-continue":
            # The body is read next, whatever the fault: let it come (Garage's own 100 is not relayed).
            cw.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if fault == "stall" and detail == "head":
            await copy_body(src, req.framing, None)
            await self._hold(src, end)
            return False

        ureader, uwriter = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", self.upstream_port),
                                                  IO_TIMEOUT)
        try:
            uwriter.write(req.head)
            await copy_body(src, req.framing, writer_sink(uwriter))
            await asyncio.wait_for(uwriter.drain(), IO_TIMEOUT)
            t0 = time.monotonic()  # Garage's latency: from the end of the request to its status line
            up = Stream(ureader)
            while True:
                rhead = await up.head()
                if rhead is None:
                    raise EOFError("Garage closed before its status line")
                rlines = rhead.decode("latin-1").split("\r\n")
                status = int(rlines[0].split(" ", 2)[1])
                if 100 <= status < 200 and status != 101:
                    if fault is None and status != 100:
                        cw.write(rhead)
                    continue
                break
            end["status"], end["t_up"] = status, round(time.monotonic() - t0, 3)
            rheaders = parse_headers(rlines[1:])
            framing = answer_framing(req.method, status, rheaders)

            if fault is None:
                cw.write(rhead)
                await copy_body(up, framing, csink)
                await asyncio.wait_for(cw.drain(), IO_TIMEOUT)
                closing = "close" in (rheaders.get("connection", "") + req.headers.get("connection", "")).lower()
                return framing[0] != "close" and not closing

            if fault == "reset":  # after-backend: the request took effect, its answer is lost
                await copy_body(up, framing, None)
                reset(cw)
                return False

            if not has_body(framing):
                if fault == "cut":
                    end["detail"] = "head-half"
                    cw.write(rhead[:len(rhead) // 2])
                    await asyncio.wait_for(cw.drain(), IO_TIMEOUT)
                    reset(cw)
                else:  # stall: a complete head would be a complete answer, so none at all
                    end["detail"] = "head-after-backend"
                    await self._hold(src, end)
                return False

            # cut, or stall in the body: the head and half the body
            cw.write(rhead)
            if framing[0] == "length":
                async for piece in up.pieces(framing[1] // 2):
                    await csink(piece)
            else:
                raw = bytearray()

                async def collect(piece):
                    raw.extend(piece)
                    if len(raw) > CHUNKED_CAP:
                        raise _Enough()
                try:
                    await copy_body(up, framing, collect)
                except _Enough:
                    pass
                await csink(bytes(raw[:len(raw) // 2]))
            await asyncio.wait_for(cw.drain(), IO_TIMEOUT)
            if fault == "cut":
                end["detail"] = "body-half"
                reset(cw)
            else:
                await self._hold(src, end)
            return False
        finally:
            uwriter.close()


class ChaosRelay:
    """Starts the relay in a child process (on a free port, in front of `upstream_port`) and reads its
    records. Use `arm()` once the clients are ready, `stop()` in a finally."""

    def __init__(self, upstream_port, work, name="chaos", fraction=0.15, seed=None, stall=4.0, kinds=KINDS):
        from conftest import free_port, port_open, wait_until
        self.seed = random.randrange(1 << 32) if seed is None else seed
        self.port = free_port()
        self.records_path = Path(work) / f"{name}-records.jsonl"
        self.log_path = Path(work) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--port", str(self.port), "--upstream-port",
             str(upstream_port), "--fraction", str(fraction), "--seed", str(self.seed), "--stall", str(stall),
             "--kinds", ",".join(kinds), "--records", str(self.records_path)],
            stdout=self.log, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"chaos relay exited {self.proc.returncode}: see {self.log_path}")
            return port_open(self.port) and any(e["ev"] == "listening" for e in self.events())
        wait_until(up, "chaos relay", timeout=30)

    def events(self):
        out = []
        try:
            with open(self.records_path, "rb") as f:
                for line in f:
                    try:
                        out.append(json.loads(line))
                    except ValueError:  # a line still being written
                        pass
        except FileNotFoundError:
            pass
        return out

    def arm(self, on=True):
        from conftest import wait_until
        os.kill(self.proc.pid, signal.SIGUSR1 if on else signal.SIGUSR2)
        wait_until(lambda: [e["on"] for e in self.events() if e["ev"] == "armed"][-1:] == [on],
                   "chaos relay armed" if on else "chaos relay disarmed", timeout=10)

    def requests(self, events=None):
        """Every request seen, its end merged in (`t` is when its head was read, `t_end` when it ended)."""
        reqs = {}
        for e in events if events is not None else self.events():
            if e["ev"] == "req":
                reqs[e["id"]] = dict(e)
            elif e["ev"] == "end" and e["id"] in reqs:
                r = reqs[e["id"]]
                r["t_end"] = e["t"]
                for k in ("status", "t_up", "error", "proxy_closed_after"):
                    if k in e:
                        r[k] = e[k]
                if e.get("detail"):
                    r["detail"] = e["detail"]
        return list(reqs.values())

    def poisoned(self, events=None):
        return [e for e in (events if events is not None else self.events()) if e["ev"] == "poisoned"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream-port", type=int, required=True)
    ap.add_argument("--fraction", type=float, default=0.15)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stall", type=float, default=4.0)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--records", required=True)
    a = ap.parse_args()
    kinds = tuple(k for k in a.kinds.split(",") if k)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        ap.error(f"unknown fault kinds {sorted(unknown)}")
    asyncio.run(Relay(a.port, a.upstream_port, a.fraction, a.seed, a.stall, kinds, a.records).run())


if __name__ == "__main__":
    main()
