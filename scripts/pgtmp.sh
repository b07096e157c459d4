#!/usr/bin/env bash
# Throwaway PostgreSQL cluster under the build tree.
#   scripts/pgtmp.sh start DIR   -> prints `export PG...` lines for a shell to eval
#   scripts/pgtmp.sh stop DIR
# As root the server runs as the `postgres` user (PostgreSQL refuses root).
# It listens on a unix socket in DIR/sock and on 127.0.0.1 at a free port.
set -euo pipefail
cmd=${1:?usage: pgtmp.sh start|stop DIR}
dir=$(mkdir -p "${2:?usage: pgtmp.sh start|stop DIR}" && cd "$2" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
as_pg() { if [ "$(id -u)" -eq 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi; }

# The cluster lives in DIR — unless DIR is somewhere the postgres user cannot reach
# (a checkout under /root, say): then in a private directory under /tmp, recorded in
# DIR/pgroot and removed again by `stop`.
pgroot() {
  if [ -f "$dir/pgroot" ]; then cat "$dir/pgroot"; return; fi
  if [ "$(id -u)" -ne 0 ] || runuser -u postgres -- test -x "$dir"; then echo "$dir"; return; fi
  local r; r=$(mktemp -d /tmp/railtop-pg.XXXXXX); echo "$r" >"$dir/pgroot"; echo "$r"
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

case "$cmd" in
start)
  if [ -f "$dir/pgroot" ] && [ ! -d "$(cat "$dir/pgroot")" ]; then rm -f "$dir/pgroot"; fi
  home=$dir
  dir=$(pgroot)
  if [ -f "$dir/data/postmaster.pid" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    port=$(cat "$dir/port")
  else
    rm -rf "$dir/data" "$dir/sock"; mkdir -p "$dir/sock"
    if [ "$(id -u)" -eq 0 ]; then chown -R postgres:postgres "$dir"; fi
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    port=$(free_port); echo "$port" >"$dir/port"
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 256MB
log_min_messages = warning
CONF
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_pg "$PGBIN/psql" -h "$dir/sock" -p "$port" -U postgres -d postgres -qAt \
      -c "CREATE DATABASE railtop" >/dev/null
  fi
  echo "export PGHOST='$dir/sock' PGPORT='$port' PGUSER=postgres PGDATABASE=railtop"
  ;;
stop)
  home=$dir
  [ -f "$home/pgroot" ] && dir=$(cat "$home/pgroot")
  if [ -f "$dir/data/postmaster.pid" ]; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  if [ "$dir" != "$home" ]; then
    case "$dir" in /tmp/railtop-pg.*) rm -rf "$dir" ;; esac
    rm -f "$home/pgroot"
  fi
  ;;
*) echo "usage: pgtmp.sh start|stop DIR" >&2; exit 2 ;;
esac
