#!/usr/bin/env bash
# make demo: a throwaway database, raild with sample merchants, rails, keys and
# addresses. (The simulator and console complete this as they land.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
make -s -j2 all >/dev/null
DEMO=$ROOT/build/demo
PGDIR=$DEMO/pg
bash scripts/pgtmp.sh stop "$PGDIR" >/dev/null 2>&1 || true
rm -rf "$DEMO"; mkdir -p "$DEMO"
eval "$(bash scripts/pgtmp.sh start "$PGDIR")"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  bash scripts/pgtmp.sh stop "$PGDIR"
}
trap cleanup EXIT INT TERM
bin/raild migrate >/dev/null
bash scripts/demo-seed.sh "$DEMO" >/dev/null
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
bin/raild serve --listen 127.0.0.1:$PORT 2>"$DEMO/raild.log" &
pids+=($!)
echo "raild:     http://127.0.0.1:$PORT   (log: $DEMO/raild.log)"
echo "database:  PGHOST=$PGHOST PGPORT=$PGPORT PGDATABASE=$PGDATABASE"
echo "keys:      $DEMO/keys/ (one file per role; e.g. curl -H \"Authorization: Bearer \$(cat $DEMO/keys/ops)\")"
echo "Press Ctrl-C to stop everything."
wait
