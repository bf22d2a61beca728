#!/bin/sh
# Runs the knowledge-base benchmark (release build) and keeps its Markdown report.
#
#   scripts/bench.sh                     # full run: 10 s per load run, 16 connections
#   BENCH_DURATION=5 scripts/bench.sh    # quicker
#   BENCH_PERF_DIR=/tmp/perf scripts/bench.sh   # also record a perf profile of the server
#
# Other knobs: BENCH_CONNECTIONS, BENCH_SYNTHETIC, BENCH_IMPORT_RUNS, BENCH_LOADGEN=reqwest,
# BENCH_LOG_LEVEL (see benches/knowledge_base.rs).
set -eu
cd "$(dirname "$0")/.."
if ! command -v wrk >/dev/null 2>&1; then
    echo "note: wrk is not installed (Debian: apt-get install wrk); the bench falls back to its" >&2
    echo "      in-process reqwest load generator and labels the figures accordingly" >&2
fi
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2
mkdir -p target
report=target/bench-knowledge_base.md
cargo bench --bench knowledge_base | tee "$report"
echo "report saved to $report" >&2
