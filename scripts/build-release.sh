#!/usr/bin/env bash
# The release artefact, built with profile-guided optimisation: an instrumented build serves
# bench/bin/pgo_train.rs's workload (every client dialect's common operations over a canned S3
# backend), and the final build is laid out by that profile (OBS->S3 copy-part: 13 % fewer
# instructions per request, bench/RESULTS.md). Needs only the Rust toolchain and its
# llvm-tools component (added here); without them, a plain release build, said on stderr.
# Thin LTO as in Cargo.toml: fat LTO on top of the profile saved 0.9 % more (110,190 against
# 111,236 instructions per copy-part) for 10 min 39 s of building against 9 min.
#   scripts/build-release.sh [OUT]    OUT defaults to target/pgo/dialect-proxy
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/pgo/dialect-proxy}
rustup component add llvm-tools >/dev/null 2>&1 || true
profdata="$(rustc --print sysroot)/lib/rustlib/$(rustc -vV | sed -n 's/^host: //p')/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  echo "build-release: llvm-profdata missing (rustup component add llvm-tools): plain release build" >&2
  cargo build --release --locked --bin dialect-proxy
  install -D -m 0755 target/release/dialect-proxy "$out"
  exit 0
fi
prof=$(mktemp -d)
trap 'rm -rf "$prof"' EXIT
# The driver is an ordinary build; the proxy's two builds keep their own target directories,
# so neither invalidates target/release.
cargo build --release --locked --example pgo_train
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$prof/raw" CARGO_TARGET_DIR=target/pgo-gen \
  cargo build --release --locked --bin dialect-proxy
target/release/examples/pgo_train target/pgo-gen/release/dialect-proxy
"$profdata" merge -o "$prof/merged.profdata" "$prof/raw"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$prof/merged.profdata" CARGO_TARGET_DIR=target/pgo-use \
  cargo build --release --locked --bin dialect-proxy
install -D -m 0755 target/pgo-use/release/dialect-proxy "$out"
echo "build-release: $out (profile-guided)" >&2
