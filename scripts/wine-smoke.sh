#!/usr/bin/env bash
# Runs poolsleuth.exe under Debian's Wine against a Linux poolsleuth server, as an admin would on
# the Windows machine: `--help`; `scan` of ../shared/corpus/drivers into the server; `analyze`
# of a corpus poolmon snapshot through the server; and `collect`, which must either work or
# fail with a clear message (Wine may not implement the pool-tag class), never crash.
#
#   scripts/wine-smoke.sh dist/windows/poolsleuth.exe target/release/poolsleuth
#
# Needs Debian's wine64 and mingw-w64. Wine 8 has no bcryptprimitives.dll, whose ProcessPrng
# Rust's standard library calls, so a test-only stand-in (scripts/wine/) is built with mingw
# and put in the throwaway Wine prefix; it is never shipped.
set -euo pipefail
cd "$(dirname "$0")/.."
exe=$(realpath "${1:?usage: wine-smoke.sh POOLSLEUTH_EXE LINUX_POOLSLEUTH}")
server_bin=$(realpath "${2:?usage: wine-smoke.sh POOLSLEUTH_EXE LINUX_POOLSLEUTH}")
corpus=../shared/corpus
wine=$(command -v wine64 || echo /usr/lib/wine/wine64)

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  # Stopped and waited for, so it writes no registry into the removed prefix.
  "$(dirname "$wine")/wineserver" -k 2>/dev/null || true
  "$(dirname "$wine")/wineserver" -w 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export WINEPREFIX="$work/prefix" WINEDEBUG=-all
start=$(date +%s)

# The prefix, and the ProcessPrng stand-in in its system32.
"$wine" wineboot --init >/dev/null 2>&1 || true
x86_64-w64-mingw32-gcc -shared -O2 -o "$work/bcryptprimitives.dll" \
  scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
cp "$work/bcryptprimitives.dll" "$WINEPREFIX/drive_c/windows/system32/"
echo "wine prefix ready in $(( $(date +%s) - start )) s"

run_exe() { "$wine" "$exe" "$@"; }

# --help names the Windows commands.
help=$(run_exe --help)
for command in scan analyze export collect; do
  grep -q "^  $command " <<<"$help" || { echo "poolsleuth.exe --help lacks $command" >&2; exit 1; }
done
echo "ok: poolsleuth.exe --help"

# collect: works, or fails with the clear message; a crash (an NTSTATUS exit code) fails.
status=0
collect_out=$(run_exe collect --out 'C:\samples' 2>&1) || status=$?
if [ "$status" = 0 ]; then
  ls "$WINEPREFIX/drive_c/samples/"pool-*.txt >/dev/null
  echo "ok: collect wrote $(ls "$WINEPREFIX/drive_c/samples" | tr '\n' ' ')"
elif [ "$status" = 1 ] && grep -q "does not report pool tags\|refused to report pool tags" <<<"$collect_out"; then
  echo "ok: collect under Wine says: $collect_out"
else
  echo "collect under Wine ended with status $status: $collect_out" >&2
  exit 1
fi

# collect --host (fleet watch): the task it prints runs as SYSTEM every 15 minutes with the
# token's placeholder, never the token; the collect itself fails as above, never crashes.
task=$(run_exe collect --host WINE-HOST --server http://POOLSLEUTH-HOST:8080 --token secret --install-task)
for part in "schtasks /Create" "/SC MINUTE /MO 15 /RU SYSTEM" "collect --host WINE-HOST --server http://POOLSLEUTH-HOST:8080 --token YOUR-INGEST-TOKEN"; do
  grep -qF -- "$part" <<<"$task" || { echo "collect --install-task printed: $task (no \"$part\")" >&2; exit 1; }
done
if grep -q secret <<<"$task"; then echo "collect --install-task printed the token: $task" >&2; exit 1; fi
echo "ok: collect --host --install-task prints: $task"
status=0
host_out=$(run_exe collect --host WINE-HOST --server http://127.0.0.1:9 --token t 2>&1) || status=$?
if [ "$status" = 1 ] && grep -q "does not report pool tags\|refused to report pool tags\|cannot reach" <<<"$host_out"; then
  echo "ok: collect --host under Wine says: $host_out"
else
  echo "collect --host under Wine ended with status $status: $host_out" >&2
  exit 1
fi

if [ ! -d "$corpus/drivers" ] || [ ! -d "$corpus/snapshots" ]; then
  # As the tests: skipped on a developer's machine, a failure in CI.
  if [ "${CI:-}" = true ]; then
    echo "$corpus is absent: scan and analyze through a server not run" >&2
    exit 1
  fi
  echo "skipped: scan and analyze through a server ($corpus is absent)"
  exit 0
fi

# A Linux server with an admin token, on a free port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
POOLSLEUTH_ADMIN_TOKEN=wine-smoke "$server_bin" serve --bind "127.0.0.1:$port" \
  --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
server="http://127.0.0.1:$port"

# scan: the corpus drivers, read by poolsleuth.exe from a Windows path, into the server.
cp -r "$corpus/drivers" "$WINEPREFIX/drive_c/drivers"
run_exe scan 'C:\drivers' --server "$server" --token wine-smoke >"$work/scan.out" 2>&1 \
  || { cat "$work/scan.out" >&2; exit 1; }
grep -q " 0 errors" "$work/scan.out" || { cat "$work/scan.out" >&2; exit 1; }
# A scanned driver is now in the server's knowledge base.
curl -fsS "$server/api/v1/drivers/WinRing0.sys" >/dev/null
echo "ok: poolsleuth.exe scan C:\\drivers into the server: $(grep " drivers: " "$work/scan.out")"

# analyze: a corpus poolmon snapshot through the server.
snapshot=$(ls "$corpus/snapshots/"msdocs-poolmon-*.txt | head -n 1)
cp "$snapshot" "$WINEPREFIX/drive_c/snapshot.txt"
answer=$(run_exe analyze 'C:\snapshot.txt' --server "$server" | tr -d '\r')
# The same file analyzed by the Linux binary through the same server: the same answer.
cp "$snapshot" "$work/snapshot.txt"
expected=$("$server_bin" analyze "$work/snapshot.txt" --server "$server")
if [ "$answer" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$answer") >&2 || true
  echo "poolsleuth.exe analyze answered otherwise than the Linux binary" >&2
  exit 1
fi
echo "ok: poolsleuth.exe analyze $(basename "$snapshot") through the server: the Linux binary's answer ($(wc -l <<<"$answer") lines)"
echo "wine smoke passed in $(( $(date +%s) - start )) s"
