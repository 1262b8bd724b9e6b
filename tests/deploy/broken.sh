#!/usr/bin/env bash
# Self-test of scripts/deploy_check.py: copies of deploy/, each broken one way, must fail the
# semantic check with their own message; the unbroken copy must pass.
# PY: a python with PyYAML; KUBECTL: kubectl (both from validate-deploy.sh's venv).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-python3}
KUBECTL=${KUBECTL:-kubectl}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# case: a name, the file under deploy/ to break, a sed script, the message the check must give.
case_() {
  local dir="$TMP/$1"
  cp -r deploy "$dir"
  if [ -n "$2" ]; then
    sed -i -e "$3" "$dir/$2"
    if cmp -s "deploy/$2" "$dir/$2"; then
      echo "broken.sh: '$1': the sed script changed nothing in deploy/$2" >&2
      exit 1
    fi
  fi
  "$KUBECTL" kustomize "$dir/kubernetes/overlays/gateway" > "$dir.yaml"
  local out rc=0
  out=$("$PY" scripts/deploy_check.py check "$dir.yaml" 2>&1) || rc=$?
  if [ -z "$4" ] && [ "$rc" -eq 0 ]; then
    echo "  ok  unbroken copy passes"
  elif [ -n "$4" ] && [ "$rc" -ne 0 ] && grep -q -- "$4" <<<"$out"; then
    echo "  ok  $1: $(grep '^FAIL' <<<"$out" | sed "s#$TMP/##")"
  else
    echo "broken.sh: '$1' expected ${4:-a pass}, got (exit $rc):" >&2
    echo "$out" >&2
    exit 1
  fi
}

case_ unbroken "" "" ""
case_ no-selector kubernetes/overlays/gateway/service.yaml '/^  selector:/,+1d' \
  "Service/dialect-proxy: no spec.selector"
case_ port-renamed kubernetes/base/deployment.yaml 's/{name: s3, /{name: s3-renamed, /' \
  "targetPort 's3' names no container port"
case_ config-unmounted kubernetes/base/deployment.yaml \
  's#"--config", "/etc/dialect-proxy/config.toml"#"--config", "/etc/proxy/config.toml"#' \
  "/etc/proxy/config.toml is on no mounted volume"
