"""A backend that misbehaves on demand, for faults no real server makes: resets, stalls, cut and
empty answers, SlowDown. It speaks just enough HTTP/1.1 by hand to break it on purpose.

The object key names the fault: `<op>.<fault>.<anything>`. The fault applies to requests of that
operation only (a Complete's part-size check, a ListParts, still gets a normal answer)."""
import collections
import hashlib
import socket
import struct
import threading
import time
from urllib.parse import unquote, urlsplit, parse_qs

DATA = bytes((i * 7 + i // 251) % 256 for i in range(200 * 1024))
DATA_ETAG = hashlib.md5(DATA).hexdigest()
# A body long enough to be moved socket to socket by the proxy (src/splice.rs: 1 MiB and more).
BIG = bytes((i * 13 + i // 509) % 256 for i in range(3 * 1024 * 1024 + 5))
PARTS = [(1, "p1", 6 * 1024 * 1024), (2, "p2", 10)]
COMPLETE_ETAG = "c-2"
COPY_ETAG = "cp1"


def list_parts_doc():
    parts = "".join(f"<Part><PartNumber>{n}</PartNumber><ETag>\"{e}\"</ETag><Size>{s}</Size>"
                    f"<LastModified>2024-03-15T12:34:56.000Z</LastModified></Part>" for n, e, s in PARTS)
    return (f'<?xml version="1.0" encoding="UTF-8"?><ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Bucket>b</Bucket><Key>k</Key><UploadId>u1</UploadId><IsTruncated>false</IsTruncated>{parts}"
            f"</ListPartsResult>").encode()


COMPLETE_DOC = (b'<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUploadResult '
                b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Location>http://x/b/k</Location><Bucket>b</Bucket>'
                b'<Key>k</Key><ETag>"c-2"</ETag></CompleteMultipartUploadResult>')
COPY_DOC = (b'<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b'<LastModified>2024-03-15T12:34:56.000Z</LastModified><ETag>"cp1"</ETag></CopyPartResult>')
NO_SUCH_KEY = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>'
               b'<Message>The specified key does not exist.</Message><RequestId>FAULTS</RequestId></Error>')
REQUEST_TIMEOUT = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>RequestTimeout</Code>'
                   b"<Message>Your socket connection to the server was not read from or written to within the "
                   b"timeout period.</Message></Error>")
SLOWDOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
            b'<Message>Please reduce your request rate.</Message><RequestId>FAULTS</RequestId></Error>')


def op_of(method, query, headers):
    q = parse_qs(query, keep_blank_values=True)
    if method == "GET" and "uploadId" in q:
        return "listparts"
    if method == "GET":
        return "get"
    if method == "HEAD":
        return "head"
    if method == "POST" and "uploadId" in q:
        return "complete"
    if method == "PUT" and "x-amz-copy-source" in headers:
        return "copypart"
    if method == "PUT" and "partNumber" in q:
        return "uploadpart"
    if method == "PUT":
        return "put"
    return method.lower()


class FaultBackend:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.hits = collections.Counter()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        # key -> time the proxy's connection carrying it was seen closed
        self.closed = {}
        self.received = set()
        self.bodies = {}
        # Request heads that were no request line: the rest of an earlier body read as a request.
        self.poisoned = 0
        self.stopping = threading.Event()
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.stopping.set()
        self.sock.close()
        for c in list(self.conns):
            try:
                c.close()
            except OSError:
                pass

    def wait_received(self, key, op, timeout=10):
        with self.cond:
            return self.cond.wait_for(lambda: (key, op) in self.received, timeout)

    def wait_closed(self, key, timeout=10):
        with self.cond:
            self.cond.wait_for(lambda: key in self.closed, timeout)
            return self.closed.get(key)

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    # --- reading -------------------------------------------------------------------------
    @staticmethod
    def _read_until(conn, buf, marker):
        while marker not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None, buf
            buf += chunk
        i = buf.index(marker) + len(marker)
        return buf[:i], buf[i:]

    def _read_body(self, conn, buf, headers):
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                line, buf = self._read_until(conn, buf, b"\r\n")
                if line is None:
                    return None, buf
                size = int(line.split(b";")[0].strip(), 16)
                while len(buf) < size + 2:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return None, buf
                    buf += chunk
                body += buf[:size]
                buf = buf[size + 2:]
                if size == 0:
                    return body, buf
        n = int(headers.get("content-length", "0"))
        while len(buf) < n:
            chunk = conn.recv(65536)
            if not chunk:
                return None, buf
            buf += chunk
        return buf[:n], buf[n:]

    # --- answering -----------------------------------------------------------------------
    @staticmethod
    def _head(status, headers):
        reason = {200: "OK", 503: "Slow Down"}.get(status, "X")
        lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers] + ["", ""]
        return "\r\n".join(lines).encode()

    @staticmethod
    def _reset(conn):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()

    def _stall(self, conn, key):
        """Say nothing more; note when the proxy gives up on this connection."""
        conn.settimeout(0.05)
        while not self.stopping.is_set():
            try:
                if not conn.recv(65536):
                    break
            except socket.timeout:
                continue
            except OSError:
                break
        with self.cond:
            self.closed[key] = time.monotonic()
            self.cond.notify_all()
        conn.close()

    def _serve(self, conn):
        buf = b""
        try:
            while True:
                head, buf = self._read_until(conn, buf, b"\r\n\r\n")
                if head is None:
                    return
                lines = head.decode("latin-1").split("\r\n")
                first = lines[0].split(" ")
                if len(first) != 3 or not first[2].startswith("HTTP/1."):
                    with self.cond:
                        self.poisoned += 1
                    return
                method, target, _ = first
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                url = urlsplit(target)
                key = unquote(url.path.rsplit("/", 1)[-1])
                op = op_of(method, url.query, headers)
                if op in ("put", "uploadpart") and key.startswith(op + ".early."):
                    # Refused at once, the body left unread and the connection kept open (a backend
                    # that times the client out, say): the rest of the body is still on the wire.
                    with self.cond:
                        self.received.add((key, op))
                        self.cond.notify_all()
                    conn.sendall(self._head(400, [("Content-Length", str(len(REQUEST_TIMEOUT))),
                                                  ("Content-Type", "application/xml")]) + REQUEST_TIMEOUT)
                    continue
                body, buf = self._read_body(conn, buf, headers)
                if body is None:
                    return
                if not self._answer(conn, method, op, key, body):
                    return
        except OSError:
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def _answer(self, conn, method, op, key, body):
        """Answer one request; False when the connection must end."""
        parts = key.split(".")
        fault = parts[1] if len(parts) > 2 and parts[0] == op else None
        with self.cond:
            self.hits[(key, op)] += 1
            hit = self.hits[(key, op)]
            self.received.add((key, op))
            self.bodies[key] = body
            self.cond.notify_all()
        if op == "get" and fault in ("bigcut", "bigstall", "bignone"):
            status, doc, extra = 200, BIG, [("Content-Type", "application/octet-stream")]
        elif op == "get":
            status, doc, extra = 200, DATA, [("ETag", f'"{DATA_ETAG}"'), ("Content-Type", "application/octet-stream")]
        elif op == "head":
            status, doc, extra = 200, b"", [("ETag", f'"{DATA_ETAG}"'), ("Content-Length", str(len(DATA)))]
        elif op == "listparts":
            status, doc, extra = 200, list_parts_doc(), [("Content-Type", "application/xml")]
        elif op == "complete":
            status, doc, extra = 200, COMPLETE_DOC, [("Content-Type", "application/xml")]
        elif op == "copypart":
            status, doc, extra = 200, COPY_DOC, [("Content-Type", "application/xml")]
        elif op in ("put", "uploadpart"):
            status, doc, extra = 200, b"", [("ETag", f'"{hashlib.md5(body).hexdigest()}"')]
        else:
            status, doc, extra = 200, b"", []
        extra.append(("x-amz-request-id", f"FAULTS{hit}"))

        if fault == "reset" or (fault == "reset1" and hit == 1):
            self._reset(conn)
            return False
        if fault == "stallhead":
            self._stall(conn, key)
            return False
        if fault == "slowdownall" or (fault == "slowdown1" and hit == 1):
            conn.sendall(self._head(503, [("Content-Length", str(len(SLOWDOWN))),
                                          ("Content-Type", "application/xml"), ("x-amz-request-id", "FAULTS")])
                         + SLOWDOWN)
            return True
        if fault in ("slow3", "slowerr") and op != "get":
            # A long copy or Complete: the answer (or an error) only after a while.
            time.sleep(3 if fault == "slow3" else 2)
            if fault == "slowerr":
                status, doc, extra = 404, NO_SUCH_KEY, [("Content-Type", "application/xml")]
        if fault in ("slow3", "slowcut") and op == "get":
            # A slow source: the body in pieces over about 3 s (slowcut: half of it, then a reset).
            conn.sendall(self._head(status, extra + [("Content-Length", str(len(doc)))]))
            step = len(doc) // 10 + 1
            for i in range(0, len(doc) // 2 if fault == "slowcut" else len(doc), step):
                time.sleep(0.3)
                conn.sendall(doc[i:i + step])
            if fault == "slowcut":
                self._reset(conn)
                return False
            return True
        if fault == "empty200":
            doc = b""
        elif fault == "ws200":
            doc = b"   \n  \n "
        elif fault == "truncxml":
            doc = doc[: len(doc) // 2]
        if fault in ("chunkhalf", "chunk64"):
            cut = len(doc) // 2 if fault == "chunkhalf" else len(doc) - 64
            out = self._head(status, extra + [("Transfer-Encoding", "chunked")])
            piece = doc[:cut]
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
            conn.sendall(out)
            self._reset(conn)
            return False
        if method == "HEAD":
            conn.sendall(self._head(status, extra))
            return True
        out = self._head(status, extra + [("Content-Length", str(len(doc)))])
        if fault in ("cuthalf", "cut64", "stallbody", "bigcut", "bigstall") or (fault == "cuthalf1" and hit == 1):
            cut = len(doc) - 64 if fault == "cut64" else len(doc) // 2
            conn.sendall(out + doc[:cut])
            if fault in ("stallbody", "bigstall"):
                self._stall(conn, key)
            else:
                self._reset(conn)
            return False
        conn.sendall(out + doc)
        return True
