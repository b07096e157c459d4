#!/usr/bin/env bash
# make demo: a living gateway in one command. A throwaway PostgreSQL under build/demo,
# migrations, sample merchants/keys/rails/addresses/wallets, raild (API, lifecycle,
# webhook dispatcher), railsim's webhook receiver as the merchants' endpoint, railsim
# run (merchants + chains + mistakes), then railtop as an operator with the ops role.
# Quitting railtop (or Ctrl-C) stops everything this script started.
# Without a terminal (CI) it runs DEMO_SECONDS (default 20), prints a summary, exits 0.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DEMO=$ROOT/build/demo
PGDIR=$DEMO/pg
LOGS=$DEMO/logs

say() { printf '%s\n' "$*"; }
alive_ours() {   # a PID from an earlier demo, only if it still runs one of the demo's programs
  local p=$1
  [ "$p" != $$ ] && [ -r "/proc/$p/cmdline" ] &&
    tr '\0' ' ' <"/proc/$p/cmdline" | grep -qE "(^|/)(raild|railsim|railtop|demo-colleague.py|demo-treasury.py|demo.sh) "
}

make -s -j2 ${DEMO_BUILD:-all} >/dev/null

# An earlier demo that was killed hard: stop what it started (recorded PIDs, checked).
if [ -f "$DEMO/pids" ]; then
  while read -r p; do alive_ours "$p" && kill "$p" 2>/dev/null || true; done <"$DEMO/pids"
fi
bash scripts/pgtmp.sh stop "$PGDIR" >/dev/null 2>&1 || true
rm -rf "$DEMO"; mkdir -p "$LOGS"

pids=()
started() { pids+=("$1"); echo "$1" >>"$DEMO/pids"; }
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local any=0
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && any=1; done
    [ $any = 0 ] && break
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  bash scripts/pgtmp.sh stop "$PGDIR" >/dev/null 2>&1 || true
  rm -f "$DEMO/pids"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {   # URL, seconds
  local i
  for i in $(seq $(( $2 * 10 ))); do
    curl -fsS -o /dev/null "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

say "== database (build/demo/pg)"
eval "$(bash scripts/pgtmp.sh start "$PGDIR")"
# from here on every file the demo writes (keys, webhook secrets, endpoint JSON, anvil URLs,
# logs) is private: curl -o and friends would otherwise leave a secret 0644 for a moment
umask 077
bin/raild migrate >"$LOGS/migrate.log" 2>&1
say "== a real EVM node: anvil (npm), test USDT at the real USDT address"
python3 scripts/demo-chain.py "$DEMO" >"$LOGS/chain.log" 2>&1 &
started $!
for _ in $(seq 600); do [ -s "$DEMO/anvil.url" ] && break; sleep 0.1; done
[ -s "$DEMO/anvil.url" ] || { say "anvil did not start; see $LOGS/chain.log"; tail -20 "$LOGS/chain.log"; exit 1; }
# secrets (webhook secrets, RPC and signer URLs) are sealed at rest, as in production: a
# fresh key for this demo, in the environment (never on a command line), set before the seed
# so `admin set-rpc` and raild seal and open with the same one
RAILD_SECRETS_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export RAILD_SECRETS_KEY
say "== merchants, rails, address pools, wallets, keys"
bash scripts/demo-seed.sh "$DEMO" >"$LOGS/seed.log" 2>&1 || { tail -20 "$LOGS/seed.log"; exit 1; }

PORT=$(free_port)
API=http://127.0.0.1:$PORT
# the demo's webhook receivers are on loopback, which raild refuses unless allowed (SSRF guard)
export RAILD_WEBHOOK_ALLOW_NETS=127.0.0.0/8
# every exception type within a minute of the first screen: sandbox payments may expire
# after 15 s (railsim's late and abandoned payments ask for 20 s), rails call a payment
# stuck after 20 s in the mempool (set in demo-seed.sh)
export RAILD_SANDBOX_MIN_EXPIRY_S=15
bin/raild serve --listen 127.0.0.1:$PORT 2>"$LOGS/raild.log" &
started $!
wait_http "$API/healthz" 20 || { say "raild did not start; see $LOGS/raild.log"; tail -20 "$LOGS/raild.log"; exit 1; }
say "== raild on $API (watching anvil itself)"
echo "$API" >"$DEMO/api.url"

# Webhook endpoints: one receiver per merchant key, registered through the API (the secret
# goes straight into a 600 file). Receivers fail 10% of deliveries; see the outage loop below.
receivers=()
if bin/railsim receiver --help >/dev/null 2>&1; then
  for m in acme acme-prod borealis; do
    rport=$(free_port)
    code=$(curl -sS -o "$DEMO/endpoint-$m.json" -w '%{http_code}' -X POST "$API/v1/webhook-endpoints" \
      -H @<(printf 'Authorization: Bearer %s\n' "$(cat "$DEMO/keys/merchant-$m")") -H 'Content-Type: application/json' \
      -d "{\"url\":\"http://127.0.0.1:$rport/webhooks\",\"description\":\"railsim receiver ($m)\"}" || true)
    if [ "$code" != 201 ] && [ "$code" != 200 ]; then
      say "   (webhook endpoints API not available: HTTP $code; no receivers)"; rm -f "$DEMO/endpoint-$m.json"; break
    fi
    python3 - "$DEMO/endpoint-$m.json" "$DEMO/keys/whsec-$m" <<'PY'    # the secret stays in its 600 file only
import json, os, sys
p, k = sys.argv[1], sys.argv[2]
d = json.load(open(p)); secret = d.pop("secret")
fd = os.open(k, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600); os.write(fd, (secret + "\n").encode()); os.close(fd)
json.dump(d, open(p, "w"))
PY
    bin/railsim receiver --listen 127.0.0.1:$rport --secret-file "$DEMO/keys/whsec-$m" --fail-rate 0.1 \
      --log "$LOGS/receiver-$m.jsonl" >"$LOGS/receiver-$m.log" 2>&1 &
    started $!
    receivers+=("$rport")
    say "== webhook receiver for $m on http://127.0.0.1:$rport/webhooks (fails 10%)"
  done
fi
if [ ${#receivers[@]} -gt 0 ]; then
  # Now and then a merchant's endpoint goes away for a minute: failures pile up, the
  # dispatcher backs off, support can see it and recover the window afterwards.
  # (the sleep is waited for, not run in the foreground, so stopping the loop stops its sleep
  # too: an orphaned sleep would outlive the demo by up to two minutes)
  ( trap 'kill $s 2>/dev/null; exit 0' TERM
    i=0; while sleep "${DEMO_OUTAGE_EVERY:-120}" & s=$!; wait $s; do
      port=${receivers[$(( i % ${#receivers[@]} ))]}; i=$((i + 1))
      curl -sS -o /dev/null -X POST "http://127.0.0.1:$port/_control" -d '{"down_ms":60000}' 2>/dev/null || true
    done ) &
  started $!
  # a colleague on the support shift retries a failed delivery now and then (audited)
  python3 scripts/demo-colleague.py "$API" "$DEMO/keys/support" "${DEMO_COLLEAGUE_EVERY:-25}" "$DEMO/keys/finance" \
    >"$LOGS/colleague.log" 2>&1 &
  started $!
else
  say "   (no webhook receivers: deliveries go nowhere)"
fi

# money out: an ops colleague refunds overpayments on the anvil rail, a treasury colleague
# approves payouts (the operator at the console can request them too); raild signs through
# anvil, broadcasts, and its watcher confirms them
python3 scripts/demo-treasury.py "$API" "$DEMO/keys/ops-colleague" "$DEMO/keys/treasury" "$DEMO/anvil.payer" \
  "${DEMO_TREASURY_EVERY:-3}" >"$LOGS/treasury.log" 2>&1 &
started $!
say "== colleagues: ops refunds overpayments, treasury approves payouts (log: build/demo/logs/treasury.log)"

hot=(); while IFS= read -r w; do hot+=(--hot-wallet "$w"); done <"$DEMO/wallets"
bin/railsim run --api "$API" \
  --merchant-key-file "$DEMO/keys/merchant-acme=tron:usdt,ethereum:usdt,bsc:usdt,polygon:usdt" \
  --merchant-key-file "$DEMO/keys/merchant-borealis=tron:usdt,bsc:usdt" \
  --merchant-key-file "$DEMO/keys/merchant-acme-prod=tron:usdt" \
  --watcher-key-file "$DEMO/keys/watcher-tron-nile" --watcher-key-file "$DEMO/keys/watcher-bsc-testnet" \
  --watcher-key-file "$DEMO/keys/watcher-polygon-amoy" --watcher-key-file "$DEMO/keys/watcher-tron" "${hot[@]}" \
  --seed "${DEMO_SEED:-42}" --rate "${DEMO_RATE:-2}" --speed "${DEMO_SPEED:-4}" --short-expiry 20 \
  --mix "${DEMO_MIX:-late=6,stuck=4,internal=3,duplicate=3,wrong-token=3,reorg-confirmed=3,unknown-address=3}" \
  --trace "$LOGS/railsim.trace" >"$LOGS/railsim.out" 2>"$LOGS/railsim.log" &
SIM=$!
started $SIM
say "== railsim run: 3 merchant keys, 4 simulated chains at 4x speed (log: build/demo/logs/railsim.log)"

q() { psql -X -q -At -F ' ' -c "$1" 2>/dev/null | sed 's/^/   /' || true; }
has() { [ "$(psql -X -At -c "SELECT to_regclass('$1') IS NOT NULL" 2>/dev/null)" = t ]; }
summary() {
  say ""
  say "-- payments by state"
  q "SELECT rpad(state, 18), count(*) FROM payments GROUP BY state ORDER BY 2 DESC"
  say "-- exceptions by type (open or claimed / all)"
  q "SELECT rpad(type, 22), count(*) FILTER (WHERE state IN ('open','claimed')), count(*) FROM exceptions
     GROUP BY type ORDER BY 3 DESC"
  say "-- networks (head, finalized, watcher)"
  q "SELECT rpad(n.name, 14), rpad(n.environment, 11), coalesce(h.head, -1), coalesce(h.finalized, -1),
            coalesce(w.state, 'external') FROM networks n JOIN chain_heads h ON h.network = n.name
       LEFT JOIN watcher_status w ON w.network = n.name ORDER BY 2, 1"
  say "-- chain transfers by network and classification"
  q "SELECT rpad(network, 14), rpad(classification, 22), count(*) FROM chain_transfers GROUP BY 1, 2 ORDER BY 1, 3 DESC"
  say "-- chain transfers by classification"
  q "SELECT rpad(classification, 22), count(*) FROM chain_transfers GROUP BY 1 ORDER BY 2 DESC"
  if has webhook_deliveries; then
    say "-- webhook deliveries by status"
    q "SELECT rpad(status, 18), count(*) FROM webhook_deliveries GROUP BY 1 ORDER BY 2 DESC"
  fi
  if has payouts; then
    say "-- payouts by state"
    q "SELECT rpad(state, 18), count(*) FROM payouts GROUP BY 1 ORDER BY 2 DESC"
  fi
  if has recon_breaks; then
    say "-- reconciliation breaks by class"
    q "SELECT rpad(class, 26), count(*) FROM recon_breaks GROUP BY 1 ORDER BY 2 DESC"
  fi
  return 0
}

CONSOLE_DB="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=railtop_console"
if [ -t 0 ] && [ -t 1 ]; then
  if [ -x bin/railtop ]; then
    sleep 2
    say "== railtop as the ops operator (q quits and stops everything)"
    RAILTOP_API=$API bin/railtop --db "$CONSOLE_DB" --key-file "$DEMO/keys/ops" || true
  else
    say ""
    say "The console is not built yet. Meanwhile:"
    say "   API        $API   (keys in build/demo/keys/, e.g."
    say "              curl -H \"Authorization: Bearer \$(cat build/demo/keys/ops)\" $API/v1/exceptions)"
    say "   database   psql \"$CONSOLE_DB\""
    say "   logs       build/demo/logs/"
    say "Press Ctrl-C to stop everything."
    wait "$SIM" || true
    say "railsim stopped:"; tail -5 "$LOGS/railsim.log"
  fi
else
  secs=${DEMO_SECONDS:-20}
  say "== no terminal: running for ${secs}s, then a summary"
  sleep "$secs"
  kill -TERM "$SIM" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$SIM" 2>/dev/null || break; sleep 0.1; done
  summary
  say "-- railsim"
  sed 's/^/   /' "$LOGS/railsim.out"
fi
exit 0
