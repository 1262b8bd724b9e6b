"""Instructions per request of the proxy, counted with valgrind --tool=callgrind (repeatable on a
noisy machine): the proxy verifies a SigV4 client, re-signs for a canned S3 backend and relays.
Each operation runs twice, with 0 and with N requests on one keep-alive connection; the difference
divided by N cancels start-up and shutdown.

Usage: python bench/callgrind_requests.py BINARY [BINARY ...]   (N from CALLGRIND_N, default 200)"""
import hashlib
import http.client
import http.server
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import sigs  # noqa: E402

AK, SK = "AKBENCH", "bench-secret"
SMALL = os.urandom(1024)
OBJECT = os.urandom(4096)
COPY_RESULT = (b'<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><LastModified>2024-03-15T12:34:56.000Z'
               b'</LastModified><ETag>"cp1"</ETag></CopyPartResult>')


class Canned(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _send(self, body, extra=()):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"e"')
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._send(COPY_RESULT if "x-amz-copy-source" in self.headers else b"")

    def do_GET(self):
        self._send(OBJECT, [("Content-Type", "application/octet-stream")])

    def log_message(self, *a):
        pass


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(conn, port, op):
    path = "/bench/obj"
    query, headers, body = [], {}, b""
    if op == "put":
        body = SMALL
    elif op == "copypart":
        query = [("partNumber", "1"), ("uploadId", "u1")]
        headers = {"x-amz-copy-source": "/bench/src"}
    h, *_ = sigs.sigv4_headers("GET" if op == "get" else "PUT", f"127.0.0.1:{port}", path, query, headers,
                               hashlib.sha256(body).hexdigest(), AK, SK)
    target = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
    conn.request("GET" if op == "get" else "PUT", target, body=body or None, headers=h)
    r = conn.getresponse()
    r.read()
    assert r.status == 200, (op, r.status)


def instructions(binary, backend_port, op, n, work):
    port = free_port()
    conf = work / f"c{port}.toml"
    conf.write_text(f"""
[server]
listen = ["127.0.0.1:{port}"]
[[clients]]
access_key = "{AK}"
secret_key = "{SK}"
[[backends]]
name = "canned"
dialect = "s3"
endpoint = "http://127.0.0.1:{backend_port}"
access_key = "bk"
secret_key = "bs"
[[routes]]
bucket = "*"
backend = "canned"
""")
    out = work / f"cg.{port}"
    p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", str(binary),
                          "--config", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ, DIALECT_PROXY_LOG="error"))
    conn = None
    deadline = time.monotonic() + 120
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            request(conn, port, op)  # warm-up: connections, caches, lazy statics
            break
        except (ConnectionRefusedError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    for _ in range(n):
        request(conn, port, op)
    conn.close()
    p.send_signal(signal.SIGTERM)
    p.wait(120)
    for line in out.read_text().splitlines():
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    raise RuntimeError("no callgrind totals")


def main():
    n = int(os.environ.get("CALLGRIND_N", "200"))
    binaries = [Path(b) for b in sys.argv[1:]] or [Path(__file__).resolve().parents[1] / "target/release/dialect-proxy"]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Canned)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    work = Path(tempfile.mkdtemp(prefix="dp-callgrind-"))
    try:
        print(f"instructions per request (callgrind, {n} requests minus 0, one keep-alive connection)")
        for op in os.environ.get("CALLGRIND_OPS", "put,get,copypart").split(","):
            for b in binaries:
                base = instructions(b, server.server_address[1], op, 0, work)
                full = instructions(b, server.server_address[1], op, n, work)
                print(f"{op:9} {b}: {(full - base) / n / 1000:.1f} k")
    finally:
        server.shutdown()
        if os.environ.get("CALLGRIND_KEEP"):
            print(f"callgrind files kept in {work}")
        else:
            import shutil
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
