#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after another, growing the corpus in
# fuzz/corpus/TARGET. Crashes land in fuzz/artifacts/TARGET; copy them into fuzz/regressions/TARGET
# (replayed by `cargo test`, see tests/e2e/fuzz_regressions.rs) once fixed.
# Needs the nightly toolchain and cargo-fuzz: cargo install cargo-fuzz --locked
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
for target in ldap_message ldap_filter profile pki_inspect; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=512 -print_final_stats=1 2>&1 |
    grep -E "^(stat::|#[0-9]+.*DONE|==[0-9]+==|SUMMARY|Done)" || true
done
