#!/usr/bin/env bash
# Installs what the end-to-end suite needs besides the Rust toolchain:
# cmake (pingora's zlib-ng), a Python venv with the official SDKs and moto, and Garage.
# Everything is cached outside the clone so a second run is quick.
set -euo pipefail

CACHE="${DIALECT_PROXY_CACHE:-$HOME/.cache/dialect-proxy}"
mkdir -p "$CACHE"

if ! command -v cmake >/dev/null 2>&1; then
  echo "setup: installing cmake" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq cmake >/dev/null
fi

# promtool (scripts/check-observability.sh) and prometheus (tests/e2e/test_prometheus.py starts its own).
# Without recommends: node-exporter would take port 9100. The package's service is not wanted running.
if ! command -v promtool >/dev/null 2>&1; then
  echo "setup: installing prometheus" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  if [ -d /run/systemd/system ]; then
    systemctl disable --now prometheus.service >/dev/null 2>&1 || true
  fi
fi

# A venv at $1 with the packages that follow, rebuilt when the list changes.
venv() {
  local dir="$1"
  shift
  local stamp
  stamp="$dir/.stamp-$(printf '%s ' "$@" | sha1sum | cut -c1-12)"
  if [ ! -f "$stamp" ]; then
    echo "setup: building Python venv in $dir" >&2
    python3 -m venv "$dir"
    "$dir/bin/pip" install -q --upgrade pip
    "$dir/bin/pip" install -q "$@"
    touch "$stamp"
  fi
}

venv "$CACHE/venv" boto3==1.44.5 awscli==1.46.2 esdk-obs-python==3.26.6 cos-python-sdk-v5==1.9.44 \
  "moto[server]==5.2.5" pytest==8.3.4 minio==7.2.20 oss2==2.19.1 alibabacloud-oss-v2==1.4.1
# s3fs (through aiobotocore) pins a botocore older than the suite's boto3: a venv of its own.
venv "$CACHE/venv-s3fs" s3fs==2026.9.0
# boto3 with the CRT (CRC64NVME checksums) and pyarrow (the AWS C++ SDK): apart, so the CRT does not change
# what the main suite's boto3 does.
venv "$CACHE/venv-crt" "boto3[crt]==1.44.5" pyarrow==26.0.1

# ali-oss, Alibaba's Node SDK (tests/e2e/test_ali_oss.py), and playwright-core to drive Chromium
# (tests/e2e/test_browser.py), with the machine's Node.js and npm.
NODE_DIR="$CACHE/node"
NODE_PACKAGES="ali-oss@6.23.0 playwright-core@1.57.0"
NODE_STAMP="$NODE_DIR/.stamp-$(printf '%s' "$NODE_PACKAGES" | sha1sum | cut -c1-12)"
if command -v npm >/dev/null 2>&1 && [ ! -f "$NODE_STAMP" ]; then
  echo "setup: installing $NODE_PACKAGES with npm" >&2
  mkdir -p "$NODE_DIR"
  # shellcheck disable=SC2086
  npm install --silent --no-audit --no-fund --prefix "$NODE_DIR" $NODE_PACKAGES >&2
  touch "$NODE_STAMP"
fi

# Debian's Chromium for the browser test (playwright-core never downloads a browser here).
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

GARAGE_DIR="$CACHE/garage-2.5.0"
if [ ! -x "$GARAGE_DIR/bin/garage" ]; then
  echo "setup: building Garage 2.5.0 (several minutes, once)" >&2
  cargo install garage --version 2.5.0 --locked --no-default-features \
    --features bundled-libs,sqlite --root "$GARAGE_DIR" >&2
fi

echo "CACHE=$CACHE"
