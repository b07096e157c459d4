#!/usr/bin/env bash
# bench.d/api.sh — payment creations per second through raild (wrk, concurrent keep-alive
# clients, each request a new payment with its own Idempotency-Key) against, in the same
# run and on the same database, pgbench running the same transaction raild runs for a
# creation (idempotency lookup, rail check, address claim + payment insert, created event,
# payment read-back, idempotency store). Target: raild >= 60% of pgbench.
# Env from bench.sh: PG*, RAILD, BENCH_DIR. Knobs: API_SECONDS (8), API_ROUNDS (3),
# API_CONNS (32 wrk connections), WRK_THREADS (1), API_THREADS (raild threads, 8),
# PGB_CLIENTS (8).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${BENCH_DIR:?run from scripts/bench.sh}/api
mkdir -p "$D"
SECS=${API_SECONDS:-8} ROUNDS=${API_ROUNDS:-3} CONNS=${API_CONNS:-32} THREADS=${API_THREADS:-8} PGBC=${PGB_CLIENTS:-8}
WRKT=${WRK_THREADS:-1}
command -v wrk >/dev/null || { echo "wrk is missing (scripts/deps.sh installs it)" >&2; exit 1; }
RUN=r$$

# a merchant for the benchmark, its key in a 600 file (never on a command line)
MID=$("$RAILD" admin create-merchant --name "Bench API merchant $RUN")
"$RAILD" admin enable-rail --merchant "$MID" --env sandbox --rail tron:usdt >/dev/null 2>&1
(umask 077; "$RAILD" admin create-key --role merchant --name "bench-api-$RUN" --merchant "$MID" --env sandbox \
   >"$D/key" 2>/dev/null)
free=$(psql -X -At -c "SELECT count(*) FROM deposit_addresses WHERE network = 'tron-nile' AND payment_id IS NULL")
echo "free tron deposit addresses: $free" >&2

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$RAILD" serve --listen 127.0.0.1:$PORT --threads "$THREADS" --no-dispatch 2>"$D/raild.log" &
RAILD_PID=$!
trap 'kill $RAILD_PID 2>/dev/null || true; wait $RAILD_PID 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$PORT/healthz" 2>/dev/null && break; sleep 0.1; done

cat >"$D/create.lua" <<'LUA'
-- one new payment per request: unique reference and Idempotency-Key per thread and counter
local f = assert(io.open(os.getenv("BENCH_KEY_FILE")))
local key = f:read("*l")
f:close()
local run = os.getenv("BENCH_RUN")
local nthreads = 0
function setup(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end
counter = 0
function request()
  counter = counter + 1
  local ref = run .. "-" .. tid .. "-" .. counter
  local body = '{"reference":"API-' .. ref .. '","amount":"125.50","rail":"tron:usdt","expires_in":3600,' ..
               '"metadata":{"bench":true}}'
  return wrk.format("POST", "/v1/payments", { ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/json", ["Idempotency-Key"] = "bench-" .. ref }, body)
end
-- no response() callback: a Lua call per response would tax the client, not raild.
-- Any status outside 2xx/3xx, timeout or socket error counts as not created.
function done(summary, latency, requests)
  local e = summary.errors
  local bad = e.status + e.connect + e.read + e.write + e.timeout
  io.write(string.format("RESULT %d %d %d %d %d\n", summary.requests - bad, bad, summary.duration,
                         latency:percentile(50), latency:percentile(99)))
end
LUA

cat >"$D/create.sql" <<'SQL'
\set n random(1, 2000000000)
SELECT request_hash = '\x00'::bytea, status, response FROM idempotency_keys
 WHERE merchant_id = :m AND environment = 'sandbox' AND key = 'pgb-' || :run || '-' || :client_id || '-' || :n;
SELECT r.decimals, r.network, coalesce(m.enabled, false), r.contract IS NOT NULL FROM rails r
  LEFT JOIN merchant_rails m ON m.rail = r.id AND m.merchant_id = :m AND m.environment = r.environment
 WHERE r.id = :rail AND r.environment = 'sandbox';
BEGIN;
WITH a AS (SELECT id, address FROM deposit_addresses WHERE network >= 'tron-nile' AND network <= 'tron-nile'
           AND payment_id IS NULL ORDER BY network, id LIMIT 1 FOR UPDATE SKIP LOCKED),
 p AS (INSERT INTO payments (public_id, merchant_id, environment, rail, reference, amount, state,
       deposit_address, metadata, expires_at)
       SELECT 'pay_' || substr(md5(random()::text), 1, 24), :m, 'sandbox', :rail,
              'PGB-' || :run || '-' || :client_id || '-' || :n, 125500000, 'awaiting_payment', a.address,
              jsonb_build_object('bench', true), now() + make_interval(secs => 3600) FROM a RETURNING id)
 UPDATE deposit_addresses d SET payment_id = p.id FROM p, a WHERE d.id = a.id RETURNING p.id AS pid \gset
INSERT INTO payment_events (event_id, payment_id, sequence, type, from_state, to_state, block_number, data)
VALUES ('evt_' || substr(md5(random()::text), 1, 24), :pid, 0, 'payment.created', NULL, 'awaiting_payment', NULL,
        '{}'::jsonb);
SELECT p.public_id, p.reference, p.rail, r.network, p.environment, p.amount::text, p.received::text, p.state,
       p.deposit_address, p.confirmations, r.confirm_depth,
       to_char((p.expires_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.MS"Z"'),
       to_char((p.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.MS"Z"'),
       to_char((p.updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.MS"Z"'),
       to_char((p.detected_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.MS"Z"'),
       to_char((p.confirmed_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.MS"Z"'),
       to_char((p.finalized_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24' || chr(58) || 'MI' || chr(58) || 'SS.MS"Z"'),
       p.metadata::text, p.sequence, r.decimals
  FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment WHERE p.id = :pid;
INSERT INTO idempotency_keys (merchant_id, environment, key, request_hash, status, response)
VALUES (:m, 'sandbox', 'pgb-' || :run || '-' || :client_id || '-' || :n, '\x00'::bytea, 201, repeat('x', 600))
ON CONFLICT DO NOTHING RETURNING 1;
COMMIT;
SQL

api_round() {   # prints creations/s, p50 ms, p99 ms
  BENCH_KEY_FILE=$D/key BENCH_RUN=$RUN-$1 wrk -t"$WRKT" -c"$CONNS" -d"$2"s --timeout 10s -s "$D/create.lua" \
    "http://127.0.0.1:$PORT" >"$D/wrk-$1.out" 2>&1
  awk '/^RESULT/ { printf "%.1f %.2f %.2f %d\n", $2 / ($4 / 1e6), $5 / 1000, $6 / 1000, $3 }' "$D/wrk-$1.out"
}
pg_round() {    # round seconds [mode]: prints transactions/s
  pgbench -n -M "${3:-prepared}" -c "$PGBC" -j 2 -T "$2" -D m="$MID" -D rail=tron:usdt -D run="$RUN-$1${3:-}" \
    -f "$D/create.sql" >"$D/pgbench-$1${3:-}.out" 2>&1
  awk '/^tps = / { print $3; exit }' "$D/pgbench-$1${3:-}.out"
}
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

api_round warm 2 >/dev/null; pg_round warm 2 >/dev/null
: >"$D/api.txt"; : >"$D/pg.txt"; : >"$D/pg-extended.txt"
for i in $(seq "$ROUNDS"); do     # alternate, so drift (table growth, vacuum) hits both
  a=$(api_round "$i" "$SECS"); p=$(pg_round "$i" "$SECS")
  echo "round $i: raild ${a%% *}/s (p50 $(cut -d' ' -f2 <<<"$a") ms, p99 $(cut -d' ' -f3 <<<"$a") ms, non-201 $(cut -d' ' -f4 <<<"$a")), pgbench $p tps" >&2
  echo "$a" >>"$D/api.txt"; echo "$p" >>"$D/pg.txt"
  # for the reader, not the target: the same script through unnamed statements (parse and
  # plan every time), so the output says what preparing buys (raild's db_q prepares each
  # statement once per connection)
  pg_round "$i" "$SECS" extended >>"$D/pg-extended.txt"
done
# Which index the address claim (raild's query) used, and how far it had to walk: with a
# year of assigned addresses in front of the free pool, a plan through the primary key
# would filter them all (it did, at 300 ms a claim, until the query was written to need
# the partial index deposit_addresses_free).
plan=$(psql -X -At -c "BEGIN" -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT id FROM deposit_addresses
         WHERE network >= 'tron-nile' AND network <= 'tron-nile' AND payment_id IS NULL ORDER BY network, id LIMIT 1
         FOR UPDATE SKIP LOCKED" -c "ROLLBACK" \
       | grep -E "Index Scan|Seq Scan|Rows Removed|Execution Time" | sed 's/^ *//; s/->  //' | paste -sd ';' || true)
echo "address claim plan: $plan" >&2
api=$(cut -d' ' -f1 "$D/api.txt" | median)
p99=$(cut -d' ' -f3 "$D/api.txt" | median)
bad=$(awk '{ s += $4 } END { print s + 0 }' "$D/api.txt")
pg=$(median <"$D/pg.txt")
pgx=$(median <"$D/pg-extended.txt")
python3 - "$api" "$pg" "$p99" "$bad" "$CONNS" "$PGBC" "$plan" "$pgx" <<'PY'
import sys
api, pg, p99, bad, conns, pgbc = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
ratio = api / pg if pg > 0 else 0.0
res = "PASS" if ratio >= 0.60 and bad == 0 else "FAIL"
print("ROW|payment creations/s through raild (wrk, %s conns)|%.0f|/s|pgbench same transaction (%s clients)|%.0f/s|%.2f|>= 0.60|%s"
      % (conns, api, pgbc, pg, ratio, res))
print("raild p99 latency %s ms (median of rounds); %d non-201 responses" % (p99, bad))
print("address claim: " + sys.argv[7])
pgx = float(sys.argv[8] or 0)
if pgx > 0:
    print("for reference, pgbench with unnamed statements (parse+plan every time): %.0f/s;"
          " raild, which prepares once per connection, does %.2fx that" % (pgx, api / pgx))
PY
