"""Where a large download's time goes: one BIG_MIB object GET from one Garage, straight and through
dialect-proxy, nginx `proxy_pass` and the do-nothing pingora proxy (bench/bin/null_proxy.rs), in
interleaved rounds (A B C D A B C D ...), all measured in one run.

Per target: MiB/s (curl, to /dev/null; medians of BENCH_ROUNDS), the proxy's CPU time per GiB (user +
system from /proc; nginx with its worker) and Garage's, then one extra untimed GET per proxy under
`strace -c -f` for its system calls per MiB (the syscalls that move bytes, and all).

dialect-proxy gets a presigned URL of its own (it verifies it and signs again for Garage); the
references pass Garage's own presigned URL through unchanged, with Garage's Host.
nginx streams from memory (`proxy_max_temp_file_size 0`: no temporary file), its default buffers.

Usage: bash bench/run.sh download
Environment: BEFORE=<an earlier dialect-proxy binary> to measure it beside this one, BENCH_ROUNDS (default 5), BIG_MIB (default 512), STRACE=0 to skip the syscall counts,
PERF=dir for one more GET per proxy under `perf record` (its report, self time, into dir/<proxy>.txt).
"""
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))
from conftest import Garage, Proc, free_port, port_open, standin_config, wait_until  # noqa: E402
from peers import big_object, client, cpu_seconds  # noqa: E402
from requests import NGINX, NULL, nginx_conf  # noqa: E402

# The build measured: plain release, or scripts/build-release.sh's (BENCH_BUILD=pgo in run.sh).
BIN = Path(os.environ.get("DIALECT_PROXY_BIN", ROOT / "target" / "release" / "dialect-proxy"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
BIG_MIB = int(os.environ.get("BIG_MIB", "512"))
AK, SK = "AKBENCHDOWN", "bench-download-secret"
BUCKET = "download"


def children_cpu(pid):
    """CPU seconds of a process and its children (nginx's worker)."""
    total = cpu_seconds(pid)
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        kids = []
    return total + sum(children_cpu(int(k)) for k in kids)


def curl_get(url, host=None):
    args = ["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{speed_download} %{size_download}"]
    if host:
        args += ["-H", f"Host: {host}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, timeout=600, check=True).stdout.split()
    if int(out[1]) != BIG_MIB << 20:
        raise RuntimeError(f"{url.split('?')[0]} sent {out[1]} bytes, not {BIG_MIB} MiB")
    return float(out[0]) / (1 << 20)


def syscalls(pid, url, host):
    """(calls per MiB of the syscalls that move bytes, of all, the top three) for one GET under strace."""
    log = Path(tempfile.mktemp(prefix="strace-"))
    pids = [str(pid)] + Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    st = subprocess.Popen(["strace", "-c", "-f", "-o", str(log), *[a for p in pids for a in ("-p", p)]],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # strace prints its attach lines once every thread is traced.
    for line in st.stderr:
        if "attached" in line:
            break
    try:
        curl_get(url, host)
    finally:
        st.send_signal(signal.SIGINT)
        st.wait(30)
    counts = {}
    for line in log.read_text().splitlines():
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
        if m and m.group(2) != "total":
            counts[m.group(2)] = int(m.group(1))
    log.unlink()
    moving = ("read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg", "sendmsg", "splice")
    per = lambda n: n / BIG_MIB  # noqa: E731
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    return (per(sum(v for k, v in counts.items() if k in moving)), per(sum(counts.values())),
            ", ".join(f"{k} {per(v):.1f}" for k, v in top))


def profile(pid, url, host, out):
    """One GET under `perf record` (PERF=dir): the proxy's hottest symbols, self time, into out."""
    data = out.with_suffix(".data")
    rec = subprocess.Popen(["perf", "record", "-F", "1999", "-g", "-o", str(data), "-p", str(pid)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: data.exists(), "perf record")
        curl_get(url, host)
    finally:
        rec.send_signal(signal.SIGINT)
        rec.wait(60)
    report = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--stdio", "-g", "none",
                             "--percent-limit", "1"], capture_output=True, text=True, timeout=300).stdout
    out.write_text(report)


def main():
    work = Path(tempfile.mkdtemp(prefix="download-"))
    work.chmod(0o755)  # nginx's worker runs as another user
    started = []
    try:
        g = Garage(work)
        started.append(g)
        g.bucket(BUCKET)
        direct = client(f"http://127.0.0.1:{g.port}", g.key_id, g.secret)
        big_object(direct, BUCKET, work / "big.bin", BIG_MIB).unlink()
        garage_host = f"127.0.0.1:{g.port}"

        # BEFORE=<an earlier dialect-proxy binary>: measured beside this one, same run.
        before = os.environ.get("BEFORE")
        names = ("dialect-proxy", "nginx proxy_pass", "pingora (do-nothing)") + (("dialect-proxy (before)",) if before else ())
        ports = {k: free_port() for k in names}
        conf = work / "dp.toml"
        conf.write_text(standin_config(AK, SK, g, 'access_log = "off"')
                        .replace("@PORT@", str(ports["dialect-proxy"])))
        nginx_body = f"""upstream garage {{ server {garage_host}; keepalive 16; }}
  server {{
    listen 127.0.0.1:@PORT@;
    location / {{ proxy_pass http://garage; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_set_header Host $http_host; proxy_max_temp_file_size 0; }}
  }}"""
        nconf = nginx_conf(work, "nginx", ports["nginx proxy_pass"], nginx_body)
        procs = {
            "dialect-proxy": Proc([str(BIN), "--config", str(conf)], work / "dp.log",
                                  env=dict(os.environ, DIALECT_PROXY_LOG="warn")),
            "nginx proxy_pass": Proc([NGINX, "-c", str(nconf), "-e", str(work / "nginx-error.log")],
                                     work / "nginx.log"),
            "pingora (do-nothing)": Proc([str(NULL), f"127.0.0.1:{ports['pingora (do-nothing)']}", garage_host],
                                         work / "null.log"),
        }
        if before:
            bconf = work / "before.toml"
            bconf.write_text(conf.read_text().replace(f":{ports['dialect-proxy']}\"", f":{ports['dialect-proxy (before)']}\""))
            procs["dialect-proxy (before)"] = Proc([before, "--config", str(bconf)], work / "before.log",
                                                   env=dict(os.environ, DIALECT_PROXY_LOG="warn"))
        started.extend(procs.values())
        wait_until(lambda: all(port_open(p) for p in ports.values()), "the proxies")

        signed = direct.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": "big"},
                                               ExpiresIn=3600)
        ours = client(f"http://127.0.0.1:{ports['dialect-proxy']}", AK, SK).generate_presigned_url(
            "get_object", Params={"Bucket": BUCKET, "Key": "big"}, ExpiresIn=3600)
        targets = {"garage direct": (signed, None, None), "dialect-proxy": (ours, None, procs["dialect-proxy"].p.pid)}
        if before:
            targets["dialect-proxy (before)"] = (ours.replace(f":{ports['dialect-proxy']}/", f":{ports['dialect-proxy (before)']}/"),
                                                 f"127.0.0.1:{ports['dialect-proxy']}", procs["dialect-proxy (before)"].p.pid)
        for name in ("nginx proxy_pass", "pingora (do-nothing)"):
            targets[name] = (signed.replace(garage_host, f"127.0.0.1:{ports[name]}"), garage_host,
                             procs[name].p.pid)

        garage_pid = g.proc.p.pid
        speed, cpu, gcpu = {}, {}, {}
        for name, (url, host, _) in targets.items():
            curl_get(url, host)  # warm: connections, page cache
        for _ in range(ROUNDS):
            for name, (url, host, pid) in targets.items():
                c0, g0 = (children_cpu(pid) if pid else 0), cpu_seconds(garage_pid)
                speed.setdefault(name, []).append(curl_get(url, host))
                gib = BIG_MIB / 1024
                gcpu.setdefault(name, []).append((cpu_seconds(garage_pid) - g0) / gib)
                if pid:
                    cpu.setdefault(name, []).append((children_cpu(pid) - c0) / gib)
        calls = {}
        if os.environ.get("STRACE", "1") != "0":
            for name, (url, host, pid) in targets.items():
                if pid:
                    calls[name] = syscalls(pid, url, host)

        if os.environ.get("PERF"):
            where = Path(os.environ["PERF"])
            where.mkdir(parents=True, exist_ok=True)
            for name, (url, host, pid) in targets.items():
                if pid:
                    profile(pid, url, host, where / (name.split()[0] + ".txt"))
        print(f"\n{BIG_MIB} MiB GET from one Garage, {ROUNDS} interleaved rounds (medians; CPU s per GiB moved)\n")
        print("| target | MiB/s | vs Garage direct | proxy CPU s/GiB | Garage CPU s/GiB | syscalls/MiB moving bytes | "
              "all syscalls/MiB | top three per MiB |")
        print("|---|---|---|---|---|---|---|---|")
        base = statistics.median(speed["garage direct"])
        for name in targets:
            s = statistics.median(speed[name])
            c = f"{statistics.median(cpu[name]):.3f}" if name in cpu else "-"
            m, a, top = calls.get(name, ("-", "-", "-"))
            m = m if isinstance(m, str) else f"{m:.1f}"
            a = a if isinstance(a, str) else f"{a:.1f}"
            print(f"| {name} | {s:,.0f} | {s / base:.2f}x | {c} | {statistics.median(gcpu[name]):.3f} | {m} | {a} | "
                  f"{top} |")
        d = statistics.median(speed["dialect-proxy"])
        print(f"\ndialect-proxy: {d / base:.2f}x Garage direct, "
              f"{d / statistics.median(speed['nginx proxy_pass']):.2f}x nginx, "
              f"{d / statistics.median(speed['pingora (do-nothing)']):.2f}x the do-nothing pingora")
        print("each round's MiB/s: " + "; ".join(f"{n} " + " ".join(f"{x:.0f}" for x in v) for n, v in speed.items()))
    finally:
        for s in reversed(started):
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
