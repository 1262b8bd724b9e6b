#!/usr/bin/env bash
# The test command: installs what it needs, runs the unit and vector tests, builds the release
# binary and runs the end-to-end suite against real Garage and moto servers with the official SDKs.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup-test-env.sh | grep '^CACHE=')"
export DIALECT_PROXY_CACHE="$CACHE"
cargo test --all-targets
cargo build --release
for f in conf/*.toml; do
  DIALECT_PROXY_CLIENT_SECRET=x GARAGE_KEY_ID=x GARAGE_SECRET=x APP_TEAM_SECRET=x OBS_AK=x OBS_SK=x \
  COS_SECRET_ID=x COS_SECRET_KEY=x YC_KEY_ID=x YC_SECRET=x \
  TEAM_A_SECRET=x REPORTS_SECRET=x REPORTS_TOKEN=x OBS_SECURITY_TOKEN=x target/release/dialect-proxy check --config "$f"
done
if target/release/dialect-proxy check --config tests/conf-broken/bad-dialect.toml; then
  echo "check accepted a broken configuration" >&2
  exit 1
fi
"$CACHE/venv/bin/python" -m pytest -q tests/e2e "$@"
