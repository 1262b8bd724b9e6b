"""Per-request cost of dialect-proxy against references, measured in one run on free loopback ports:
nginx `proxy_pass` and a do-nothing pingora 0.9.1 proxy (bench/bin/null_proxy.rs) in front of the same
canned backend (nginx answering a CopyPartResult or a 4 KiB object).

Scenarios: an OBS-signed Upload Part - Copy (verified, translated, SigV4-signed for the backend, the
result translated back), an OBS-signed 4 KiB GetObject, and an S3 (SigV4) 4 KiB GetObject passed through.
The references get the same request bytes (they verify nothing). A second do-nothing pingora joins the
latency rounds as a control: its p99 against the first one's is this machine's noise on that measure.

Measures, targets interleaved (A B C A B C): requests/s at saturation (wrk -t1 -c32), p50/p99 latency at
half of the pingora reference's saturation rate (bench/bin/loadgen.rs, open loop), and instructions per
request under valgrind --tool=callgrind (N requests on one keep-alive connection minus none).
During the latency rounds each proxy's CPU time per request (user + system, from /proc; nginx with its
workers) and how busy the whole machine was are recorded too: "half load" for pingora is not half of
this machine, and a p99 near saturation moves with small differences in CPU. Each paired p99
difference comes with a 90 % bootstrap interval of its median.

Usage (through bash bench/run.sh requests): python bench/requests.py
Environment: BENCH_SECONDS (per wrk/loadgen run, default 5), BENCH_ROUNDS (default 2),
BENCH_LATENCY_ROUNDS (default the larger of BENCH_ROUNDS and 9: a p99 on a shared 2-core machine varies
from round to round by more than the effect measured, so it is the median of more rounds; each round's
figures are printed under the table, and the median of the per-round differences, each taken between
rounds run seconds apart, is shown beside the difference of the medians), CALLGRIND_N (200).
"""
import hashlib
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
import sigs  # noqa: E402
from conftest import free_port  # noqa: E402  (the e2e suite's: never the same port twice)

# The build measured: plain release, or scripts/build-release.sh's (BENCH_BUILD=pgo in run.sh).
BIN = Path(os.environ.get("DIALECT_PROXY_BIN", ROOT / "target" / "release" / "dialect-proxy"))
NULL = ROOT / "target" / "release" / "examples" / "null_proxy"
NULL_MI = ROOT / "target" / "release" / "examples" / "null_proxy_mimalloc"
LOADGEN = ROOT / "target" / "release" / "examples" / "loadgen"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
AK, SK = "AKBENCH", "bench-secret"
SECONDS = float(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
LATENCY_ROUNDS = int(os.environ.get("BENCH_LATENCY_ROUNDS", str(max(ROUNDS, 9))))
CALLGRIND_N = int(os.environ.get("CALLGRIND_N", "200"))
COPY_RESULT = ('<?xml version="1.0" encoding="UTF-8"?><CopyPartResult><LastModified>2024-03-15T12:34:56.000Z'
               '</LastModified><ETag>"cp1"</ETag></CopyPartResult>')


def wait_port(port, proc, what, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on {port}")


def nginx_conf(work, name, port, body, workers=1, master=True):
    temp = work / f"{name}-tmp"
    temp.mkdir(exist_ok=True)
    conf = work / f"{name}.conf"
    conf.write_text(f"""
worker_processes {workers};
daemon off;
master_process {'on' if master else 'off'};
error_log {work}/{name}-error.log warn;
pid {work}/{name}.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path {temp}/body;
  proxy_temp_path {temp}/proxy;
  fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi;
  scgi_temp_path {temp}/scgi;
  {body.replace("@PORT@", str(port))}
}}
""")
    return conf


def canned_body(work):
    (work / "www" / "bench").mkdir(parents=True, exist_ok=True)
    (work / "www" / "bench" / "obj").write_bytes(os.urandom(4096))
    for d in (work / "www", work / "www" / "bench"):
        d.chmod(0o755)
    (work / "www" / "bench" / "obj").chmod(0o644)
    return f"""server {{
    listen 127.0.0.1:@PORT@;
    location = /bench/obj {{ root {work}/www; }}
    location / {{ default_type application/xml; return 200 '{COPY_RESULT}'; }}
  }}"""


def proxy_pass_body(backend):
    return f"""upstream canned {{ server 127.0.0.1:{backend}; keepalive 64; }}
  server {{
    listen 127.0.0.1:@PORT@;
    location / {{ proxy_pass http://canned; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}"""


def proxy_config(work, port, backend, access_log="off"):
    conf = work / f"dp-{port}.toml"
    conf.write_text(f"""
[server]
listen = ["127.0.0.1:{port}"]
access_log = "{access_log}"
[[clients]]
access_key = "{AK}"
secret_key = "{SK}"
[[backends]]
name = "canned"
dialect = "s3"
endpoint = "http://127.0.0.1:{backend}"
access_key = "bk"
secret_key = "bs"
# Takes parts of any size, so an OBS client's copy goes straight through (no staging).
min_part_size = 102400
[[routes]]
bucket = "*"
backend = "canned"
""")
    return conf


def request_bytes(scenario, port):
    """One whole request, signed for dialect-proxy on `port` (the references ignore the signature)."""
    host = f"127.0.0.1:{port}"
    if scenario == "copypart":
        path = "/bench/part?partNumber=1&uploadId=u1"
        h = sigs.obs_header("PUT", path, SK, AK, headers={"x-obs-copy-source": "/bench/src"})
        method, h["Content-Length"] = "PUT", "0"
    elif scenario == "get4k":
        path = "/bench/obj"
        method, h = "GET", sigs.obs_header("GET", path, SK, AK)
    else:
        path = "/bench/obj"
        h, *_ = sigs.sigv4_headers("GET", host, path, [], {}, hashlib.sha256(b"").hexdigest(), AK, SK)
        method = "GET"
    h = {k: v for k, v in h.items() if k.lower() != "host"}
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
    return (head + "\r\n").encode()


def wrk_script(work, raw):
    """wrk sends the request bytes as they are."""
    lua = work / f"req-{hashlib.sha1(raw).hexdigest()[:8]}.lua"
    text = raw.decode().replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")
    lua.write_text(f'local r = "{text}"\nrequest = function() return r end\n')
    lua.with_suffix(".raw").write_bytes(raw)
    return lua


def saturation(port, lua):
    out = subprocess.run(["wrk", "-t1", "-c32", f"-d{max(1, round(SECONDS))}s", "-s", str(lua), f"http://127.0.0.1:{port}/"],
                         capture_output=True, text=True, check=True).stdout
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: .*", out)
    if bad or (errors and re.search(r"(read|write|timeout) [1-9]", errors.group(0))):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(lua.with_suffix(".raw").read_bytes())
            sample = s.recv(2000)
        raise RuntimeError(f"wrk against {port} saw failures:\n{out}\none answer: {sample[:600]!r}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def latency(port, raw, rate, work):
    req = work / f"raw-{port}-{hashlib.sha1(raw).hexdigest()[:8]}"
    req.write_bytes(raw)
    out = subprocess.run([str(LOADGEN), f"127.0.0.1:{port}", str(rate), str(SECONDS), "16", str(req)],
                         capture_output=True, text=True, check=True).stdout
    f = dict(kv.split("=") for kv in out.split())
    if int(f["errors"]):
        raise RuntimeError(f"loadgen against {port}: {out}")
    return int(f["p50_us"]), int(f["p99_us"])


def cpu_seconds(pid):
    """User + system CPU of a process and its children (nginx's workers), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    for p in [pid, *map(int, kids)]:
        try:
            f = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(f[11]) + int(f[12])) / tick
    return total


def machine_times():
    """(busy, all) jiffies of the whole machine, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(f) - f[3] - f[4], sum(f)


def interval90(diffs, draws=2000):
    """A 90 % bootstrap interval of the median of `diffs` (paired per-round differences)."""
    rng = random.Random(13)
    meds = sorted(statistics.median(rng.choices(diffs, k=len(diffs))) for _ in range(draws))
    return meds[int(draws * 0.05)], meds[int(draws * 0.95) - 1]


def callgrind_one(cmd, port, raw, n, work, env=None):
    out = work / f"cg.{port}.{n}"
    p = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        wait_port(port, p, cmd[0], timeout=300)
        with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
            for i in range(n + 1):  # the first warms connections, caches, lazy statics
                s.sendall(raw)
                read_answer(s)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(300)
    for line in out.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError("no callgrind totals")


def read_answer(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    head, rest = buf.split(b"\r\n\r\n", 1)
    status = int(head.split()[1])
    if status >= 300:
        raise RuntimeError(f"status {status}: {head[:200]!r}")
    m = re.search(rb"(?i)content-length:\s*(\d+)", head)
    need = int(m.group(1)) if m else 0
    while len(rest) < need:
        rest += s.recv(65536)


def instructions(kind, work, backend, raw_for):
    """Instructions per request: (N requests - 0 requests) / N, start-up cancelled out."""
    totals = []
    for n in (0, CALLGRIND_N):
        port = free_port()
        env = dict(os.environ, DIALECT_PROXY_LOG="error")
        if kind == "nginx":
            conf = nginx_conf(work, f"cg-nginx-{port}-{n}", port, proxy_pass_body(backend), master=False)
            cmd = [NGINX, "-c", str(conf), "-e", str(work / "cg-nginx-error.log")]
        elif kind in ("pingora", "pingora+mimalloc"):
            exe = NULL if kind == "pingora" else NULL_MI
            cmd = [str(exe), f"127.0.0.1:{port}", f"127.0.0.1:{backend}"]
        else:
            access = "text" if kind == "dialect+log" else "off"
            cmd = [str(BIN), "--config", str(proxy_config(work, port, backend, access))]
        totals.append(callgrind_one(cmd, port, raw_for(port), n, work, env))
    return (totals[1] - totals[0]) / CALLGRIND_N


def main():
    for tool in (NGINX, "wrk", "valgrind"):
        if subprocess.run(["which", tool], capture_output=True).returncode:
            sys.exit(f"{tool} is missing (bench/run.sh requests installs nginx and wrk)")
    work = Path(tempfile.mkdtemp(prefix="dp-bench-"))
    work.chmod(0o755)  # nginx workers run as another user
    procs = []
    try:
        backend = free_port()
        b = subprocess.Popen([NGINX, "-c", str(nginx_conf(work, "backend", backend, canned_body(work))),
                              "-e", str(work / "backend-error.log")])
        procs.append(b)
        wait_port(backend, b, "nginx backend")
        ports = {"nginx": free_port(), "pingora": free_port(), "dialect": free_port()}
        # A second do-nothing pingora, in the latency rounds only: the p99 difference between two
        # identical proxies is what this machine's noise alone makes of the measure.
        again = free_port()
        starts = {
            "nginx": [NGINX, "-c", str(nginx_conf(work, "ref", ports["nginx"], proxy_pass_body(backend), workers=2)),
                      "-e", str(work / "ref-error.log")],
            "pingora": [str(NULL), f"127.0.0.1:{ports['pingora']}", f"127.0.0.1:{backend}"],
            "dialect": [str(BIN), "--config", str(proxy_config(work, ports["dialect"], backend))],
            "pingora again": [str(NULL), f"127.0.0.1:{again}", f"127.0.0.1:{backend}"],
        }
        for name, cmd in starts.items():
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=dict(os.environ, DIALECT_PROXY_LOG="error"))
            procs.append(p)
            wait_port(ports.get(name, again), p, name)
        pids = dict(zip(starts, (p.pid for p in procs[1:])))
        cores = os.cpu_count()
        print(f"per-request cost, {cores} cores, {ROUNDS} interleaved rounds of {SECONDS:g} s per target "
              f"({LATENCY_ROUNDS} for latency; medians shown), callgrind N={CALLGRIND_N}")
        rows, rounds = [], []
        for scenario in ("copypart", "get4k", "s3get"):
            raw = request_bytes(scenario, ports["dialect"])
            lua = wrk_script(work, raw)
            rps = {k: [] for k in ports}
            for _ in range(ROUNDS):
                for name, port in ports.items():
                    rps[name].append(saturation(port, lua))
            med = {k: statistics.median(v) for k, v in rps.items()}
            rate = int(med["pingora"] / 2)
            timed = {**ports, "pingora again": again}
            lat = {k: [] for k in timed}
            cpu = {k: [] for k in timed}
            busy = []
            for _ in range(LATENCY_ROUNDS):
                for name, port in timed.items():
                    c0, m0 = cpu_seconds(pids[name]), machine_times()
                    lat[name].append(latency(port, raw, rate, work))
                    c1, m1 = cpu_seconds(pids[name]), machine_times()
                    cpu[name].append((c1 - c0) * 1e6 / (rate * SECONDS))
                    busy.append((m1[0] - m0[0]) / max(1, m1[1] - m0[1]))
            rounds.append(f"{scenario} p99 us per round at {rate}/s: " + "; ".join(
                f"{k} {', '.join(str(x[1]) for x in v)}" for k, v in lat.items()))
            p50 = {k: statistics.median(x[0] for x in v) for k, v in lat.items()}
            p99 = {k: statistics.median(x[1] for x in v) for k, v in lat.items()}
            rows.append((scenario, "req/s at saturation", med["nginx"], med["pingora"], med["dialect"],
                         med["dialect"] / med["pingora"]))
            rows.append((scenario, f"p50 us at {rate}/s", p50["nginx"], p50["pingora"], p50["dialect"],
                         p50["dialect"] - p50["pingora"]))
            rows.append((scenario, f"p99 us at {rate}/s", p99["nginx"], p99["pingora"], p99["dialect"],
                         p99["dialect"] - p99["pingora"]))
            diffs = [d[1] - p[1] for d, p in zip(lat["dialect"], lat["pingora"])]
            lo, hi = interval90(diffs)
            rows.append((scenario, f"  p99, median of per-round differences (90 % interval {lo:+} to {hi:+} us)",
                         "", "", "", statistics.median(diffs)))
            noise = [a[1] - p[1] for a, p in zip(lat["pingora again"], lat["pingora"])]
            lo, hi = interval90(noise)
            rows.append((scenario, f"  p99, a second pingora against the first (the same median; {lo:+} to {hi:+} us)",
                         "", "", "", statistics.median(noise)))
            c = {k: statistics.median(v) for k, v in cpu.items()}
            rows.append((scenario, f"CPU us/request at {rate}/s (user + system; machine {statistics.median(busy):.0%} busy)",
                         c["nginx"], c["pingora"], c["dialect"], c["dialect"] / c["pingora"]))
        for p in procs[1:]:
            p.send_signal(signal.SIGTERM)
            p.wait(30)
        procs = procs[:1]
        for scenario in ("copypart", "get4k", "s3get"):
            ins = {k: instructions(k, work, backend, lambda port, s=scenario: request_bytes(s, port))
                   for k in ("nginx", "pingora", "pingora+mimalloc", "dialect", "dialect+log")}
            rows.append((scenario, "instructions/request", ins["nginx"], ins["pingora"], ins["dialect"],
                         ins["dialect"] / ins["pingora"]))
            rows.append((scenario, "  with access log", "", "", ins["dialect+log"],
                         ins["dialect+log"] / ins["pingora"]))
            # dialect-proxy runs on mimalloc; the same reference with that allocator sets it aside.
            rows.append((scenario, "  both on mimalloc", "", ins["pingora+mimalloc"], ins["dialect"],
                         ins["dialect"] / ins["pingora+mimalloc"]))
        print(f"| scenario | measure | nginx proxy_pass | pingora (do-nothing) | dialect-proxy | dialect vs pingora |")
        print("|---|---|---|---|---|---|")
        for s, m, a, b2, c, r in rows:
            if m.startswith("CPU"):
                fmt = (lambda v: f"{v:.1f}")
            else:
                fmt = (lambda v: f"{v:,.0f}" if isinstance(v, float) and v > 100 else f"{v}")
            ratio = f"{r:+.0f} us" if m.lstrip().startswith("p") else f"{r:.2f}x"
            print(f"| {s} | {m} | {fmt(a)} | {fmt(b2)} | {fmt(c)} | {ratio} |")
        print()
        for line in rounds:
            print(line)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        if not os.environ.get("BENCH_KEEP"):
            import shutil
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
