#!/usr/bin/env bash
# Benchmarks against references in the same run.
#   bench/run.sh [MiB]        one UploadPart through the proxy versus straight to Garage
#   bench/run.sh copy [MiB]   Upload Part - Copy across two Garage servers versus a client's GET + UploadPart
#   bench/run.sh requests     per-request cost versus nginx proxy_pass and a do-nothing pingora proxy
#                             (requests/s, latency at half load, instructions per request; installs
#                             nginx, wrk and valgrind from Debian when missing)
#   bench/run.sh download     a 512 MiB GET straight from Garage and through dialect-proxy, nginx proxy_pass
#                             and the do-nothing pingora: MiB/s, CPU per GiB, syscalls per MiB (strace)
#   bench/run.sh peers        against s3s-proxy 0.14.1 over one Garage: requests/s, latency, CPU per
#                             request, 512 MiB GET and PUT, peak RSS (builds s3s-proxy into the cache once)
# BENCH_BUILD=pgo measures the release artefact of scripts/build-release.sh (profile-guided, as the
# container image ships it) instead of a plain `cargo build --release`.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-test-env.sh | grep '^CACHE=')"
script=bench/part_1gib.py
case "${1:-}" in
  copy)
    script=bench/copy_across_1gib.py
    shift
    ;;
  requests|download)
    script=bench/$1.py
    shift
    missing=()
    for tool in nginx:nginx wrk:wrk valgrind:valgrind strace:strace; do
      command -v "${tool%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool%%:*}" ] || missing+=("${tool##*:}")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
      echo "bench: installing ${missing[*]}" >&2
      export DEBIAN_FRONTEND=noninteractive
      # The benchmark starts its own nginx; the package must not start one on port 80.
      policy=/usr/sbin/policy-rc.d
      [ -e "$policy" ] || { printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; trap 'rm -f "$policy"' EXIT; }
      apt-get update -qq >/dev/null
      apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    cargo build --release --examples
    ;;
  peers)
    script=bench/peers.py
    shift
    if ! command -v wrk >/dev/null 2>&1; then
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >/dev/null
      apt-get install -y -qq wrk >/dev/null
    fi
    if [ ! -x "$CACHE/s3s-proxy-0.14.1/bin/s3s-proxy" ]; then
      echo "bench: building s3s-proxy 0.14.1 (several minutes, once)" >&2
      cargo install s3s-proxy --version 0.14.1 --locked --root "$CACHE/s3s-proxy-0.14.1" >&2
    fi
    cargo build --release --examples
    ;;
esac
cargo build --release
if [ "${BENCH_BUILD:-}" = pgo ]; then
  bash scripts/build-release.sh target/pgo/dialect-proxy
  export DIALECT_PROXY_BIN="$PWD/target/pgo/dialect-proxy"
fi
DIALECT_PROXY_CACHE="$CACHE" "$CACHE/venv/bin/python" "$script" "$@"
