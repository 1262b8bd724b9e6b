"""Memory per idle keep-alive client connection: N connections each make one request (one after
another) and stay open;
the proxy's RSS before, while they are open, and after they close. Usage (test venv's Python):
python bench/idle_connections.py [N]"""
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import conftest  # noqa: E402


def rss_mib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


CONFIG = """
[server]
listen = ["127.0.0.1:@PORT@"]
client_keepalive = "300s"
inbound_auth = "none"
[[backends]]
name = "none"
dialect = "s3"
endpoint = "http://127.0.0.1:9"
access_key = "a"
secret_key = "b"
[[routes]]
bucket = "*"
backend = "none"
"""


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    work = Path(tempfile.mkdtemp(prefix="dp-idle-"))
    proxy = conftest.Proxy(work, "idle", CONFIG, log_filter="warn")
    try:
        pid = proxy.proc.p.pid
        # Warm up: one request, so start-up allocations are not counted.
        probe = b"HEAD /bench-bucket?apiversion HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", proxy.port))
        s.sendall(probe)
        s.recv(4096)
        s.close()
        time.sleep(0.5)
        before = rss_mib(pid)
        # One after another: each connection is idle when the next one asks.
        socks = []
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", proxy.port))
            s.sendall(probe)
            assert s.recv(4096).startswith(b"HTTP/1.1 200")
            socks.append(s)
        time.sleep(1)
        during = rss_mib(pid)
        for s in socks:
            s.close()
        time.sleep(7)  # the proxy gives memory back within 5 s of a burst's end
        after = rss_mib(pid)
        print(f"{n} idle keep-alive connections: RSS before {before:.1f} MiB, while open {during:.1f} MiB "
              f"({(during - before) * 1024 / n:.1f} KiB each), after they closed {after:.1f} MiB")
    finally:
        proxy.stop()


if __name__ == "__main__":
    main()
