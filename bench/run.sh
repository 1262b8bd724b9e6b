#!/usr/bin/env bash
# Throughput and memory of one large UploadPart through the proxy versus straight to Garage.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-test-env.sh | grep '^CACHE=')"
cargo build --release
DIALECT_PROXY_CACHE="$CACHE" "$CACHE/venv/bin/python" bench/part_1gib.py "$@"
