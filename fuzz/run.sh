#!/usr/bin/env bash
# Build every fuzz target (cargo-fuzz, nightly) and run each for a while.
#   fuzz/run.sh build          build only (what CI does, so targets do not rot)
#   fuzz/run.sh [SECONDS] [TARGET...]   run each target SECONDS (default 600), from fuzz/seeds/<target>
# Findings land in fuzz/artifacts/<target>/; turn each into a regression test before fixing it.
set -euo pipefail
cd "$(dirname "$0")"
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  cargo +nightly install cargo-fuzz --locked
fi
targets=$(cargo +nightly fuzz list)
if [ "${1:-}" = build ]; then
  cargo +nightly fuzz build
  exit 0
fi
seconds=${1:-600}
shift || true
[ $# -gt 0 ] && targets="$*"
for t in $targets; do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds=("seeds/$t")
  cargo +nightly fuzz run "$t" "corpus/$t" "${seeds[@]}" -- -max_total_time="$seconds" -print_final_stats=1 \
    2>&1 | tee "run-$t.log" | grep -E "^(stat::number_of_executed_units|==|SUMMARY|artifact_prefix)|Done" || true
done
