#!/usr/bin/env bash
# Runs the proxy as a rendered overlay runs it: the files of its mounted ConfigMap and Secret laid
# out under a temporary root at their mount paths (deploy_check.py layout), `check` of that
# configuration with its secrets, the container's args, then the manifests' probes and the ports
# its Services target. Usage: deploy-run.sh RENDERED.yaml (PY: a python with PyYAML).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-python3}
BIN=${DIALECT_PROXY_BIN:-target/release/dialect-proxy}
ROOT=$(mktemp -d)
pids=()
# SIGINT exits at once (SIGTERM would drain for shutdown_delay); KILL if it has not after 5 s.
stop() {
  kill -INT "$1" 2>/dev/null || return 0
  local deadline=$((SECONDS + 5))
  while kill -0 "$1" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  for p in "${pids[@]}"; do stop "$p"; done
  rm -rf "$ROOT"
}
trap cleanup EXIT

"$PY" scripts/deploy_check.py layout "$1" "$ROOT"
for base in "$ROOT"/*/; do
  mapfile -t args < "$base.args"
  "$BIN" check --config "$(cat "$base.config")"
  "$BIN" "${args[@]}" 2> "$base.log" &
  pids+=($!)
  echo "  started: $BIN ${args[*]} (pid $!)"
  if ! "$PY" scripts/deploy_check.py probe "$base" "$!" 30; then
    echo "--- its stderr:" >&2
    cat "$base.log" >&2
    exit 1
  fi
done
