#!/usr/bin/env bash
# Starts a throw-away PostgreSQL cluster for the fleet tests, as an unprivileged user, on a
# local port, and prints its URL (the tests read it from POOLSLEUTH_TEST_DATABASE_URL; each
# test creates its own database in it). Usage: scripts/test-postgres.sh [DIR] [PORT]
set -euo pipefail
dir=${1:-/tmp/poolsleuth-postgres}
port=${2:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$bin" ]; then
  echo "no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)" >&2
  exit 1
fi
# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user the
# Debian package creates.
as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
if [ -f "$dir/data/postmaster.pid" ]; then
  as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
fi
rm -rf "$dir"
mkdir -p "$dir"
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
# fsync off: a throw-away cluster; what the tests kill is poolsleuth, not PostgreSQL.
as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
echo "postgres://postgres@127.0.0.1:$port/postgres"
