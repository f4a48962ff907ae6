#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60), one after another, replaying the kept
# corpus in fuzz/corpus/TARGET (regressions included). New inputs go to a temporary folder, so a
# run leaves the checkout clean; FUZZ_GROW=1 writes them into fuzz/corpus/TARGET instead. A crash stops
# the script with its exit code and leaves the input in fuzz/artifacts/TARGET: fix it, then copy
# the input into fuzz/corpus/TARGET so that every later run replays it.
# Needs the nightly toolchain and cargo-fuzz: cargo install cargo-fuzz --locked
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
log="$(mktemp)"
grown="$(mktemp -d)"
trap 'rm -rf "$log" "$grown"' EXIT
for target in ldap_message ldap_filter profile pki_inspect dns_reply untrusted_text; do
  mkdir -p "fuzz/corpus/$target"
  echo "== $target for ${seconds}s"
  status=0
  # libFuzzer writes new inputs into the first corpus folder it is given.
  if [ "${FUZZ_GROW:-0}" = 1 ]; then
    corpora=("fuzz/corpus/$target")
  else
    mkdir -p "$grown/$target"
    corpora=("$grown/$target" "fuzz/corpus/$target")
  fi
  cargo +nightly fuzz run "$target" "${corpora[@]}" -- \
    -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=512 -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb|#[0-9]+.*DONE)" "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -40 "$log"
    echo "fuzz target $target failed (exit $status): see fuzz/artifacts/$target"
    exit "$status"
  fi
done
