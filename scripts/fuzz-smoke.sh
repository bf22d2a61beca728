#!/usr/bin/env bash
# Fuzz smoke: every cargo-fuzz target for SECONDS seconds (60 by default), seeded with the
# project's own fixtures, where any single input taking over 10 s is a finding (a slow input is
# a denial of service on a public endpoint), as is any panic. Runs on the stable toolchain:
# RUSTC_BOOTSTRAP lets stable rustc take the coverage instrumentation flags cargo-fuzz passes,
# so CI needs no nightly download. Findings are left in fuzz/artifacts/TARGET/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --version 0.13.2 --quiet
fi

# Seeds: what each target reads, from the fixtures (new inputs go to a scratch corpus).
declare -A seeds=(
  [parse_snapshot]="tests/fixtures/snapshots tests/fixtures/snapshot_regressions tests/fixtures/driver_lists"
  [parse_list]="tests/fixtures/attribution tests/fixtures/answers ../shared/corpus/pooltag"
  [analyze_driver]="tests/fixtures/drivers tests/fixtures/signing"
  [verify_signature]="tests/fixtures/signing"
)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

export RUSTC_BOOTSTRAP=1
cd fuzz
for target in parse_snapshot parse_list analyze_driver verify_signature; do
  corpus="$scratch/$target"
  mkdir -p "$corpus"
  dirs=()
  for d in ${seeds[$target]}; do
    # Seeds are files (libFuzzer reads a directory's files, not its subdirectories).
    if [ -d "../$d" ]; then
      find "../$d" -type f -size -256k -exec cp -t "$corpus" {} + 2>/dev/null || true
    fi
  done
  echo "+ fuzz $target for ${seconds}s ($(find "$corpus" -type f | wc -l) seeds)"
  log="$scratch/$target.log"
  if ! cargo fuzz run --sanitizer none "$target" "$corpus" -- \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log" >&2
    echo "fuzz smoke: $target found an input that fails (see fuzz/artifacts/$target/)" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || tail -n 3 "$log"
done
