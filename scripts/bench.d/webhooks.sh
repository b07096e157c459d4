#!/usr/bin/env bash
# bench.d/webhooks.sh — signed webhook deliveries per second from one `raild dispatch` to the
# reference receiver (railsim receiver) on loopback, against, in the same run and against the
# same receiver, wrk's raw rate of correctly signed POSTs (the receiver verifies both the same
# way). Each round writes WH_EVENTS outbox rows for one endpoint (as the core would) and times
# fan-out + claim + sign + POST + recording until the receiver has accepted all of them and the
# database shows them succeeded. Median of WH_ROUNDS. Targets (issue 13): >= 2000/s; >= 1.5x
# the peer — graphile-worker (npm) doing the same job against the same receiver and database
# (scripts/bench-peer-graphile.js: sign with standardwebhooks, POST with fetch, one attempt row
# each, concurrency = WH_CONNS) — and >= 0.35x railsim blast. Printed too: the CPU each
# delivery costs in PostgreSQL, in the sender and in the receiver, for both senders (from
# /proc; backends that exit during a round are not counted). wrk's rate stays as a reference.
# For reference, measured in the same rounds: `railsim blast`, the HTTP half of a dispatcher
# alone (libcurl multi, same connections, a fresh id and HMAC per request, no database), so the
# table shows how much of wrk's rate any libcurl sender reaches here before recording costs anything.
# Env from bench.sh: PG*, RAILD, RAILSIM, BENCH_DIR. Knobs: WH_EVENTS (20000), WH_ROUNDS (3),
# WH_WRK_SECONDS (5), WH_CONNS (32: wrk connections = the dispatcher's per-endpoint concurrency).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${BENCH_DIR:?run from scripts/bench.sh}/webhooks
mkdir -p "$D"
N=${WH_EVENTS:-20000} ROUNDS=${WH_ROUNDS:-3} WSECS=${WH_WRK_SECONDS:-5} CONNS=${WH_CONNS:-32}
command -v wrk >/dev/null || { echo "wrk is missing (scripts/deps.sh installs it)" >&2; exit 1; }
RUN=r$$
export RAILD_WEBHOOK_ALLOW_NETS=127.0.0.0/8   # the receiver is on loopback (SSRF guard)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# a merchant and its endpoint, made through the API; the secret goes to a 600 file only
MID=$("$RAILD" admin create-merchant --name "Bench webhooks merchant $RUN")
(umask 077; "$RAILD" admin create-key --role merchant --name "bench-wh-$RUN" --merchant "$MID" --env sandbox \
   >"$D/key" 2>/dev/null)
RPORT=$(port) APORT=$(port)
"$RAILD" serve --listen 127.0.0.1:$APORT --threads 2 --no-dispatch 2>"$D/api.log" &
API=$!; PIDS+=($API)
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$APORT/healthz" 2>/dev/null && break; sleep 0.1; done
(umask 077; python3 - "$APORT" "$D/key" "http://127.0.0.1:$RPORT/hook" >"$D/endpoint.json" <<'PY'
import json, sys, urllib.request
port, keyfile, url = sys.argv[1:]
key = open(keyfile).read().strip()
req = urllib.request.Request("http://127.0.0.1:%s/v1/webhook-endpoints" % port, method="POST",
                             data=json.dumps({"url": url}).encode(),
                             headers={"Authorization": "Bearer " + key, "Content-Type": "application/json"})
print(urllib.request.urlopen(req).read().decode())
PY
)
kill $API; wait $API 2>/dev/null || true
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$D/endpoint.json" >"$D/secret"
EP=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$D/endpoint.json")
EPID=$(psql -X -At -v p="$EP" <<<"SELECT id FROM webhook_endpoints WHERE public_id = :'p'")

"$RAILSIM" receiver --listen 127.0.0.1:$RPORT --secret-file "$D/secret" 2>"$D/receiver.log" &
RECV=$!; PIDS+=($RECV)
# CPU in clock ticks (1/100 s) from /proc: one process, and every PostgreSQL process
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pg_ticks() { local s=0 p; for p in $(pgrep -x postgres); do s=$((s + $(ticks "$p"))); done; echo "$s"; }
NPM=build/npm/node_modules
[ -d "$NPM/graphile-worker" ] && [ -d "$NPM/standardwebhooks" ] ||
  npm install --no-audit --no-fund --prefix build/npm graphile-worker@0.16 standardwebhooks >"$D/npm.log" 2>&1 ||
  { echo "npm install graphile-worker failed; see $D/npm.log" >&2; exit 1; }
for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$RPORT/_stats" 2>/dev/null && break; sleep 0.1; done
# polled every 50 ms while the dispatcher is timed, so it must cost next to nothing: bash's
# /dev/tcp in this shell (no fork, no exec) sets ACC. A curl process per poll took ~0.2 of
# the machine's 2 cores — CPU taken from the dispatcher's side only (wrk is not polled).
accepted() {
  local line s=""
  ACC=-1
  { exec 3<>"/dev/tcp/127.0.0.1/$RPORT"; } 2>/dev/null || return 0   # (a bare exec 2>… would redirect the shell)
  printf 'GET /_stats HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  while IFS= read -r line <&3 || [ -n "$line" ]; do s+=$line; line=""; done
  exec 3<&-
  case $s in *'"accepted":'*) s=${s#*\"accepted\":}; ACC=${s%%,*} ;; esac
}

"$RAILD" dispatch --per-endpoint "$CONNS" 2>"$D/dispatch.log" &
DISP=$!; PIDS+=($DISP)
# warm-up: work already due in the seeded data set (deliveries to dead test endpoints) is
# attempted and rescheduled, as a running dispatcher would, before the clock starts — through
# the 5 s first retry too, so no round also pays for thousands of refused connections
for _ in $(seq 600); do
  due=$(psql -X -At -c "SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending','in_flight')
                        AND next_attempt_at <= now() + interval '60 seconds'")
  [ "$due" = 0 ] && break; sleep 0.5
done
echo "warm-up done (due deliveries left: $due)" >&2

# a correctly signed request for wrk (fixed id: the receiver verifies, parses, dedupes)
python3 - "$D/secret" >"$D/signed.lua" <<'PY'
import base64, hashlib, hmac, json, sys, time
secret = open(sys.argv[1]).read().strip()
body = json.dumps({"id": "evt_wrk", "type": "payment.confirmed", "created_at": "2026-01-01T00:00:00.000Z",
                   "environment": "sandbox", "sequence": 1, "data": {"id": "pay_wrk", "state": "confirmed"}},
                  separators=(",", ":"))
ts = str(int(time.time()))
sig = base64.b64encode(hmac.new(base64.b64decode(secret[6:]), ("evt_wrk.%s.%s" % (ts, body)).encode(),
                                hashlib.sha256).digest()).decode()
print('wrk.method = "POST"\nwrk.body = %s\nwrk.headers["Content-Type"] = "application/json"\n'
      'wrk.headers["webhook-id"] = "evt_wrk"\nwrk.headers["webhook-timestamp"] = "%s"\n'
      'wrk.headers["webhook-signature"] = "v1,%s"' % (json.dumps(body), ts, sig))
PY

BODY_BYTES=$(python3 -c 'import json,re,sys; print(len(json.loads(re.search(r"wrk.body = (\".*\")", open(sys.argv[1]).read()).group(1))))' "$D/signed.lua")
echo "wrk: $CONNS connections, 2 threads, ${WSECS}s per round, POST /hook with one correctly signed Standard Webhooks"
echo "  request ($BODY_BYTES-byte JSON body, Content-Type + webhook-id/-timestamp/-signature): the receiver verifies"
echo "  signature and timestamp on every request exactly as for the dispatcher's, then counts it a duplicate"
echo "  (fixed webhook-id). The dispatcher: one unique event per delivery, signed per delivery, same headers,"
echo "  same receiver, --per-endpoint $CONNS keep-alive connections; timed until the receiver has accepted all,"
echo "  then every delivery must be recorded succeeded in PostgreSQL (attempt rows written with it)."
rates=() wrks=() blasts=() peers=() cpu_raild=() cpu_peer=()
for round in $(seq "$ROUNDS"); do
  accepted; base=$ACC
  psql -X -q -v m="$MID" -v n="$N" -v t="$RUN-$round" <<'SQL'
INSERT INTO webhook_outbox (event_id, merchant_id, environment, type, sequence, payload)
SELECT 'evt_' || :'t' || '_' || g, :'m', 'sandbox', 'payment.confirmed', 1,
       json_build_object('id', 'evt_' || :'t' || '_' || g, 'type', 'payment.confirmed',
         'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), 'environment', 'sandbox',
         'sequence', 1, 'data', json_build_object('id', 'pay_' || :'t' || g, 'state', 'confirmed'))::text
FROM generate_series(1, :n) g;
SQL
  c_d=$(ticks "$DISP") c_r=$(ticks "$RECV") c_p=$(pg_ticks)
  t0=$(date +%s.%N)
  for _ in $(seq 6000); do
    accepted; [ $(( ACC - base )) -ge "$N" ] && break; sleep 0.05
  done
  t1=$(date +%s.%N)
  # µs of CPU per delivery: PostgreSQL / raild / receiver
  cpu_raild+=("$(( ($(pg_ticks) - c_p) * 10000000 / N / 1000 ))/$(( ($(ticks "$DISP") - c_d) * 10000000 / N / 1000 ))/$(( ($(ticks "$RECV") - c_r) * 10000000 / N / 1000 ))")
  ok=$(psql -X -At -v e="$EPID" -v t="evt_$RUN-${round}_%" <<<\
       "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :'e' AND event_id LIKE :'t' AND status = 'succeeded'")
  rate=$(python3 -c "import sys; print('%.0f' % (int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2]))))" "$N" "$t0" "$t1")
  echo "round $round: $N events in $(python3 -c "print('%.2f' % ($t1 - $t0))") s = $rate deliveries/s ($ok recorded succeeded)" >&2
  [ "$ok" -eq "$N" ] || { echo "round $round: only $ok of $N recorded succeeded" >&2; exit 1; }
  rates+=("$rate")
  w=$(wrk -t2 -c"$CONNS" -d"${WSECS}s" -s "$D/signed.lua" "http://127.0.0.1:$RPORT/hook" | tee -a "$D/wrk.txt" |
      awk '/^Requests\/sec/ {printf "%.0f", $2}')
  echo "round $round: wrk $w requests/s" >&2
  wrks+=("$w")
  b=$("$RAILSIM" blast --url "http://127.0.0.1:$RPORT/hook" --secret-file "$D/secret" --connections "$CONNS" \
        --seconds "$WSECS" | tee -a "$D/blast.txt" | sed -n 's/.* = \([0-9]*\) requests\/s.*/\1/p')
  echo "round $round: railsim blast (libcurl, no database) $b requests/s" >&2
  blasts+=("$b")
  # the peer: graphile-worker, same receiver, same database, same concurrency
  c_r=$(ticks "$RECV") c_p=$(pg_ticks)
  pj=$(node scripts/bench-peer-graphile.js "$N" "http://127.0.0.1:$RPORT/hook" "$D/secret" "$CONNS" "$RUN$round" \
       2>>"$D/peer.log") || { echo "round $round: the graphile-worker peer failed: $pj; see $D/peer.log" >&2; exit 1; }
  p=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["per_s"])' "$pj")
  pn=$(python3 -c 'import json,sys; print(int(json.loads(sys.argv[1])["cpu_s"] * 1e6 / int(sys.argv[2])))' "$pj" "$N")
  cpu_peer+=("$(( ($(pg_ticks) - c_p) * 10000000 / N / 1000 ))/$pn/$(( ($(ticks "$RECV") - c_r) * 10000000 / N / 1000 ))")
  echo "round $round: graphile-worker peer $p deliveries/s ($pj)" >&2
  peers+=("$p")
done
grep -h "dispatcher_stop\|error" "$D/dispatch.log" | tail -3 >&2 || true
python3 - "${rates[*]}" "${wrks[*]}" "${blasts[*]}" "${peers[*]}" "${cpu_raild[*]}" "${cpu_peer[*]}" <<'PY'
import statistics, sys
r = statistics.median(map(float, sys.argv[1].split()))
w = statistics.median(map(float, sys.argv[2].split()))
b = statistics.median(map(float, sys.argv[3].split()))
p = statistics.median(map(float, sys.argv[4].split()))
def split(arg):   # medians of "pg/sender/receiver" µs per delivery
    parts = [list(map(int, x.split("/"))) for x in arg.split()]
    return [statistics.median(c) for c in zip(*parts)]
cr, cp = split(sys.argv[5]), split(sys.argv[6])
print("ROW|signed webhook deliveries/s, one raild -> railsim receiver (median of %d)|%.0f|deliveries/s|-|-|-|>= 2000/s|%s"
      % (len(sys.argv[1].split()), r, "PASS" if r >= 2000 else "FAIL"))
print("ROW|signed, recorded deliveries vs the graphile-worker peer (same job, receiver, database)|%.0f|deliveries/s|"
      "graphile-worker/s|%.0f|%.2f|>= 1.5|%s" % (r, p, r / p if p else 0, "PASS" if p and r / p >= 1.5 else "FAIL"))
print("ROW|signed, recorded deliveries vs railsim blast (the database-free sender)|%.0f|deliveries/s|railsim blast|%.0f|"
      "%.2f|>= 0.35|%s" % (r, b, r / b if b else 0, "PASS" if b and r / b >= 0.35 else "FAIL"))
print("ROW|(cpu) raild: µs per delivery in PostgreSQL / raild / receiver|%d|µs PG|-|-|%d / %d / %d|-|info"
      % (cr[0], cr[0], cr[1], cr[2]))
print("ROW|(cpu) graphile-worker: µs per delivery in PostgreSQL / node / receiver|%d|µs PG|-|-|%d / %d / %d|-|info"
      % (cp[0], cp[0], cp[1], cp[2]))
print("ROW|(reference) signed deliveries vs wrk's signed POSTs to the same receiver (target withdrawn)|%.0f|"
      "deliveries/s|wrk requests/s|%.0f|%.2f|-|info" % (r, w, r / w if w else 0))
print("ROW|(reference) libcurl signed POSTs, no database (railsim blast) vs wrk|%.0f|requests/s|wrk requests/s|%.0f|%.2f|-|info"
      % (b, w, b / w if w else 0))
print("ROW|(reference) signed deliveries vs that database-free libcurl sender|%.0f|deliveries/s|railsim blast|%.0f|%.2f|-|info"
      % (r, b, r / b if b else 0))
PY
