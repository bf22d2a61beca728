#!/usr/bin/env bash
# Soak test: the release server under steady load on lookups, search and analysis while a tag
# list is re-imported in a loop. Records errors, latency percentiles and the server's resident
# memory, and writes a Markdown report.
#
#   scripts/soak.sh                    # 10 minutes (the figures README states)
#   SOAK_SECONDS=60 scripts/soak.sh    # a quick look
#
# Knobs: SOAK_SECONDS (600), SOAK_CONNECTIONS per wrk run (4), SOAK_LIST (the list re-imported:
# the corpus's WDK pooltag.txt when present, else a generated 3,000-row list), POOLSLEUTH_BIN
# (default: target/release/poolsleuth, built when missing or older than the sources).
# Needs wrk (Debian: apt-get install wrk) and curl. The report goes to target/soak-report.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${SOAK_SECONDS:-600}
connections=${SOAK_CONNECTIONS:-4}
for tool in wrk curl; do
    command -v "$tool" >/dev/null || { echo "soak: $tool is not installed" >&2; exit 2; }
done

bin=${POOLSLEUTH_BIN:-target/release/poolsleuth}
if [ -z "${POOLSLEUTH_BIN:-}" ]; then
    cargo build --release --locked --bin poolsleuth >&2
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

list=${SOAK_LIST:-../shared/corpus/pooltag/pooltag.txt}
if [ ! -f "$list" ]; then
    list=$work/list.txt
    # 3,000 rows in pooltag.txt's layout, each a different tag.
    awk 'BEGIN { a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
                 for (n = 0; n < 3000; n++) {
                     t = ""; m = n;
                     for (i = 0; i < 4; i++) { t = t substr(a, m % 52 + 1, 1); m = int(m / 52) }
                     printf "%s - drv%d.sys - soak widget buffers %d\n", t, n % 300, n } }' >"$list"
fi
snapshot=tests/fixtures/snapshots/poolmon-log-series.txt

token=soak-$$
# As the Docker image runs it (see README, Operations: memory): two malloc arenas.
MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} POOLSLEUTH_DATA_DIR=$work/data POOLSLEUTH_BIND=127.0.0.1:0 POOLSLEUTH_ADMIN_TOKEN=$token \
    POOLSLEUTH_LOG_FORMAT=json POOLSLEUTH_LOG_LEVEL=info \
    "$bin" serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 100); do
    addr=$(grep -o '"addr":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4 || true)
    [ -n "$addr" ] && break
    sleep 0.1
done
[ -n "$addr" ] || { echo "soak: the server did not start" >&2; cat "$work/server.log" >&2; exit 1; }
base=http://$addr
# Idle: started, seeded, its knowledge view built, nothing asked yet.
sleep 3
rss_idle=$(awk '/^VmRSS/ {printf "%d MiB", $2 / 1024} /^RssAnon/ {printf " (heap %d)", $2 / 1024}' "/proc/$server_pid/status")

import() {
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer $token" \
        --data-binary @"$list" "$base/api/v1/lists?name=soak"
}
import >/dev/null

# A wrk script that GETs PREFIX followed by each of the Lua strings given, in turn.
rotating_get() {
    cat <<LUA
local paths = {$2}
local n = 0
request = function()
    n = n + 1
    return wrk.format("GET", "$1" .. paths[n % #paths + 1])
end
LUA
}
rotating_get /api/v1/tags/ \
    '"NtfF", "Io%20%20", "MmSt", "Thre", "Proc", "File", "AfdB", "TcpE", "Vad%20", "Toke"' \
    >"$work/lookup.lua"
rotating_get '/api/v1/search?limit=20&q=' \
    '"Ntf*", "tcpip", "*Fs", "nonpaged", "Mm??", "ntfs.sys", "Afd*", "registry"' \
    >"$work/search.lua"
cat >"$work/analyze.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$PWD/$snapshot", "rb"):read("*a")
LUA

echo "soak: ${seconds}s against $base, $connections connections per load, list $(basename "$list")" >&2
for load in lookup search analyze; do
    # The Lua scripts of lookup and search write their own paths; analyze posts to the URL.
    wrk -t1 -c"$connections" -d"${seconds}s" --latency -s "$work/$load.lua" "$base/api/v1/analyze" \
        >"$work/$load.out" 2>&1 &
done

# Re-import the list in a loop, and sample the server's resident memory every 10 seconds.
: >"$work/imports" ; : >"$work/rss"
# Seconds since the load started, resident MiB, and of those the heap's (RssAnon): the rest is
# the index's memory-mapped files, which the kernel pages in and out as segments change.
rss_sample() {
    echo "$((SECONDS - start)) $(awk '/^(VmRSS|RssAnon)/ {printf "%d ", $2 / 1024}' "/proc/$server_pid/status")"
}
start=$SECONDS
next_sample=$start
while [ "$SECONDS" -lt $((start + seconds)) ]; do
    import >>"$work/imports"
    if [ "$SECONDS" -ge "$next_sample" ]; then
        rss_sample >>"$work/rss"
        next_sample=$((SECONDS + 10))
    fi
done
load_average=$(cut -d' ' -f1-3 /proc/loadavg)
wait $(jobs -p | grep -v "^$server_pid\$") 2>/dev/null || true
rss_sample >>"$work/rss"

# wrk's summary: requests, errors (socket errors and non-2xx answers), p50 and p99.
summary() {
    local out=$1
    local requests errors p50 p99 rate
    requests=$(awk '/requests in/ {print $1}' "$out")
    rate=$(awk '/^Requests\/sec/ {print int($2)}' "$out")
    errors=$(awk '/Socket errors/ {gsub(/,/, ""); s += $4 + $6 + $8 + $10} /Non-2xx/ {s += $NF} END {print s + 0}' "$out")
    p50=$(awk '$1 == "50%" {print $2}' "$out")
    p99=$(awk '$1 == "99%" {print $2}' "$out")
    echo "| $(basename "$out" .out) | $requests | $rate | $errors | $p50 | $p99 |"
}
imports=$(wc -l <"$work/imports")
import_errors=$(awk '$1 != 200' "$work/imports" | wc -l)
import_median=$(sort -n -k2 "$work/imports" | awk '{t[NR] = $2} END {printf "%.2f s", t[int((NR + 1) / 2)]}')
rss_warm=$(awk '$1 >= 60 {print $2 " MiB (heap " $3 ")"; exit}' "$work/rss")
rss_end=$(tail -1 "$work/rss" | awk '{print $2 " MiB (heap " $3 ")"}')
rss_max=$(sort -n -k2 "$work/rss" | tail -1 | cut -d' ' -f2)
# One sample a minute, for the shape: flat, or still climbing.
rss_minutes=$(awk '$1 >= next_minute {printf "%s%d", sep, $2; sep = ", "; next_minute = $1 + 60}' "$work/rss")

mkdir -p target
report=target/soak-report.md
{
    echo "Soak of $(date -u +%Y-%m-%dT%H:%MZ): ${seconds} s, $(nproc) CPUs (load average $load_average at the end), $connections connections per load, release build"
    echo
    echo "| load | requests | per second | errors | p50 | p99 |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    for load in lookup search analyze; do summary "$work/$load.out"; done
    echo
    echo "Imports of $(basename "$list") meanwhile: $imports ($import_errors failed), median $import_median."
    echo "Server RSS (MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2}): $rss_idle idle, ${rss_warm:-?} after the first minute, $rss_end after the churn, $rss_max MiB at most."
    echo "RSS each minute (MiB): $rss_minutes."
} | tee "$report"
echo "report saved to $report" >&2
