#!/usr/bin/env bash
# Large transfers through the proxy against references in the same run.
#   bench/run.sh [MiB]        one UploadPart through the proxy versus straight to Garage
#   bench/run.sh copy [MiB]   Upload Part - Copy across two Garage servers versus a client's GET + UploadPart
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-test-env.sh | grep '^CACHE=')"
cargo build --release
script=bench/part_1gib.py
if [ "${1:-}" = copy ]; then
  script=bench/copy_across_1gib.py
  shift
fi
DIALECT_PROXY_CACHE="$CACHE" "$CACHE/venv/bin/python" "$script" "$@"
