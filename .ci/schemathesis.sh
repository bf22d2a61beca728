#!/usr/bin/env bash
# API contract check: runs schemathesis (PyPI) against the live release server on every
# operation of /api/openapi.json. Fails on any 5xx, any response that does not match the
# documented schema, and any undocumented status code.
#
# Needs target/release/poolsleuth (or POOLSLEUTH_RELEASE_BIN); .ci/run builds it first.
# Tunables: SCHEMATHESIS_MAX_EXAMPLES (default 40), SCHEMATHESIS_SEED (default 20261126).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
python3 -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
schemathesis=$(command -v schemathesis || echo "$scripts/schemathesis")

bin=${POOLSLEUTH_RELEASE_BIN:-$PWD/target/release/poolsleuth}
[ -x "$bin" ] || { echo "no release binary at $bin; run cargo build --release first" >&2; exit 1; }

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

token="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

POOLSLEUTH_ADMIN_TOKEN="$token" POOLSLEUTH_LOG_LEVEL=warn \
  "$bin" serve --bind "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 120); do
  if curl -fsS "$base/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "the server exited during startup:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
curl -fsS "$base/readyz" >/dev/null

# Real data for the read endpoints to return: an imported list and analysed drivers (their
# analyses appear in GET /api/v1/lists and GET /api/v1/drivers/{name}).
printf 'Zzzz - zzz.sys - an imported example tag\nZzz? - zzz.sys - a pattern row\n' |
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" -H 'Content-Type: text/plain' \
    --data-binary @- "$base/api/v1/lists?name=site-tags&version=1&origin=ci"
uploads=()
for driver in tests/fixtures/drivers/*.sys; do uploads+=(-F "files=@$driver"); done
if [ ${#uploads[@]} -gt 0 ]; then
  curl -fsS -o /dev/null -H "Authorization: Bearer $token" "${uploads[@]}" "$base/api/v1/drivers"
fi

# Run from the temp dir: schemathesis keeps a crash cache in ./.schemathesis, and every CI run
# starts from the same seed and nothing else.
set +e
(cd "$work" && "$schemathesis" run "$base/api/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance \
  --seed "${SCHEMATHESIS_SEED:-20261126}" \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-40}" \
  --workers 1 \
  --request-timeout 60 \
  --no-color \
  --output-sanitize true)
status=$?
set -e

if [ "$status" != 0 ]; then
  echo "schemathesis failed (exit $status); server log:" >&2
  tail -n 200 "$work/server.log" >&2
fi
if ! kill -0 "$server_pid" 2>/dev/null; then
  echo "the server died during the run" >&2
  exit 1
fi
exit "$status"
