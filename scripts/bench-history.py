#!/usr/bin/env python3
"""History at scale (see scripts/bench.d/history.sh). Prints ROW| lines.

In a database of its own: one `raild dispatch` delivering signed webhooks to `railsim
receiver`, timed in rounds of HIST_EVENTS deliveries —
  1. with the history tables empty (the baseline, same run);
  2. with HIST_ATTEMPTS historic attempts (default 20M, with half as many deliveries) spread
     over the last 12 weeks' partitions, analysed as autovacuum would;
  3. while `raild admin maintain-history` drops a partition past retention holding
     HIST_DROP_ROWS (default 1M) attempts: the drop's own time, and the longest pause in
     deliveries at the receiver during that round against the longest in the rounds before.
Targets (issue 13 §2): the full-table rate within 10 % of the empty one; the drop <= 1 s
without blocking deliveries."""
import atexit, os, statistics, subprocess, sys, threading, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, log, row, rt  # noqa: E402
from wh import Receiver  # noqa: E402

EVENTS = int(os.environ.get("HIST_EVENTS", "10000"))
ROUNDS = int(os.environ.get("HIST_ROUNDS", "3"))
ATTEMPTS = int(os.environ.get("HIST_ATTEMPTS", "20000000"))
DROP_ROWS = int(os.environ.get("HIST_DROP_ROWS", "1000000"))
CONNS = 32
os.environ["RAILD_WEBHOOK_ALLOW_NETS"] = "127.0.0.0/8"


def psql(q, **kw):
    """the first value `q` returns ("" when it returns none), through the test kit's psql"""
    return rt.sql1(q, **kw) or ""


# ---------------------------------------------------------------- a gateway of its own
name = "bench_history_%d" % os.getpid()
psql("CREATE DATABASE %s" % name)
os.environ["PGDATABASE"] = name
subprocess.run([rt.RAILD, "migrate"], capture_output=True, check=True)
mid = rt.admin("create-merchant", "--name", "bench history", check=True)[1].strip()
mkey = rt.admin("create-key", "--role", "merchant", "--name", "bench-history", "--merchant", mid, "--env", "sandbox",
                check=True)[1].strip()
rport = rt.free_port()
srv = rt.Raild("--no-dispatch", "--no-history", name="bench-history-api")
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=mkey, body={"url": "http://127.0.0.1:%d/hook" % rport})
assert st == 201, ep
srv.stop()
epid = psql("SELECT id FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"])
recv = Receiver([ep["secret"]], port=rport)     # railsim receiver; its secret in a 600 file
disp_log = open(os.path.join(rt.LOGDIR, "bench-history-dispatch.log"), "w")
disp = subprocess.Popen([rt.RAILD, "dispatch", "--per-endpoint", str(CONNS)], stdout=disp_log,
                        stderr=subprocess.STDOUT, env=dict(os.environ, PGUSER="railtop_app"))
atexit.register(rt.terminate, disp)     # also when the benchmark fails half-way


def accepted():
    return recv.stats()["accepted"]


tag = [0]


def deliver_round(during=None):
    """EVENTS outbox rows; seconds until the receiver accepted all and the database shows
    them succeeded, and the longest stretch (ms) with no new acceptance. `during` runs in a
    thread once a third of the round is through."""
    tag[0] += 1
    t = "h%d" % tag[0]
    base = accepted()
    psql("INSERT INTO webhook_outbox (event_id, merchant_id, environment, type, sequence, payload)"
         " SELECT 'evt_' || :'t' || '_' || g, :'m', 'sandbox', 'payment.confirmed', 1,"
         "  json_build_object('id', 'evt_' || :'t' || '_' || g, 'type', 'payment.confirmed', 'created_at',"
         "   to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), 'environment', 'sandbox',"
         "   'sequence', 1, 'data', json_build_object('n', g))::text FROM generate_series(1, :n) g", t=t, m=mid,
         n=EVENTS)
    t0 = time.time()
    last_n, last_t, gap, th = base, t0, 0.0, None
    while True:
        n = accepted()
        now = time.time()
        if n > last_n:
            gap = max(gap, now - last_t)
            last_n, last_t = n, now
        if during and th is None and n - base >= EVENTS // 3:
            th = threading.Thread(target=during)
            th.start()
        if n - base >= EVENTS:
            break
        if now - t0 > 300:
            raise RuntimeError("round %s: only %d of %d accepted" % (t, n - base, EVENTS))
        time.sleep(0.02)
    took = time.time() - t0
    if th:
        th.join()
    rt.wait_for(lambda: psql("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :'e' AND event_id LIKE :'t'"
                             " AND status = 'succeeded'", e=epid, t="evt_%s_%%" % t) == str(EVENTS), timeout=60)
    return EVENTS / took, gap * 1000


def rounds(label):
    res = [deliver_round() for _ in range(ROUNDS)]
    rate = statistics.median(r[0] for r in res)
    log("%s: %s deliveries/s (longest pause %s ms)" % (label, " ".join("%.0f" % r[0] for r in res),
                                                      " ".join("%.0f" % r[1] for r in res)))
    return rate, max(r[1] for r in res)


deliver_round()                         # warm-up: connections, caches, the plan cache
empty_rate, empty_gap = rounds("empty history")

# ---------------------------------------------------------------- 20M historic attempts
t0 = time.time()
ndel = max(ATTEMPTS // 2, 1)
psql("SELECT history_ensure('webhook_attempts', now() - interval '12 weeks', now());"
     "SELECT history_ensure('webhook_deliveries', now() - interval '12 weeks', now())")
psql("SELECT setval('webhook_deliveries_id_seq', (SELECT max(id) FROM webhook_deliveries) + 1)")
step = 2_000_000
for lo in range(0, ATTEMPTS, step):          # in slices, so no single statement runs for many minutes
    hi = min(lo + step, ATTEMPTS)
    psql("INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, dispatcher, started_at,"
         " finished_at, duration_ms, http_status, response_body, success, signature, webhook_timestamp)"
         " SELECT -(g % :nd) - 1, :'e', 1 + g / :nd, 'scheduled', 'bench-history',"
         "  now() - interval '84 days' + g * (interval '84 days' / :na), now() - interval '84 days' + g * (interval '84 days' / :na),"
         "  12, 200, '{\"received\":true}', true, 'v1,' || md5(g::text), 1764000000 + g"
         " FROM generate_series(:lo, :hi - 1) g", e=epid, nd=ndel, na=ATTEMPTS, lo=lo, hi=hi)
    log("  %d attempts" % hi)
for lo in range(0, ndel, step):
    hi = min(lo + step, ndel)
    psql("INSERT INTO webhook_deliveries (id, endpoint_id, outbox_id, event_id, event_type, merchant_id, environment,"
         " status, attempts, next_attempt_at, last_http_status, created_at, updated_at, finished_at)"
         " SELECT -g - 1, :'e', (SELECT min(id) FROM webhook_outbox), 'evt_hist_' || g, 'payment.confirmed', :'m',"
         "  'sandbox', 'succeeded', 1, now(), 200, now() - interval '84 days' + g * (interval '84 days' / :nd),"
         "  now() - interval '84 days' + g * (interval '84 days' / :nd), now() - interval '84 days' + g * (interval '84 days' / :nd)"
         " FROM generate_series(:lo, :hi - 1) g", e=epid, m=mid, nd=ndel, lo=lo, hi=hi)
psql("VACUUM ANALYZE webhook_attempts; VACUUM ANALYZE webhook_deliveries")
load_s = time.time() - t0
total = int(psql("SELECT count(*) FROM webhook_attempts"))
parts = psql("SELECT count(*) FROM history_partitions('webhook_attempts')")
log("history: %d attempts, %d deliveries in %s weekly partitions, loaded in %.0f s" % (total, ndel, parts, load_s))
full_rate, full_gap = rounds("%d historic attempts" % total)

# ---------------------------------------------------------------- dropping a 1M-row partition
psql("SELECT history_ensure('webhook_attempts', now() - interval '120 days', now() - interval '113 days')")
old = psql("SELECT part FROM history_partitions('webhook_attempts') WHERE hi <= now() - interval '90 days'"
           " ORDER BY lo DESC LIMIT 1")
psql("INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, dispatcher, started_at, finished_at,"
     " duration_ms, http_status, response_body, success)"
     " SELECT -g - 1, :'e', 1, 'scheduled', 'bench-history', lo + (g % 600000) * interval '1 second',"
     "  lo + (g % 600000) * interval '1 second', 12, 200, '{\"received\":true}', true"
     " FROM generate_series(0, :n - 1) g, (SELECT min(x.lo) AS lo FROM history_partitions('webhook_attempts') x"
     "  WHERE x.part = :'p') b", e=epid, n=DROP_ROWS, p=old)
psql("ANALYZE %s" % old)
in_part = int(psql("SELECT count(*) FROM %s" % old))
drop = {}


def run_drop():
    t = time.time()
    r = subprocess.run([rt.RAILD, "admin", "maintain-history"], capture_output=True, text=True)
    drop["total_ms"] = (time.time() - t) * 1000
    drop["out"] = r.stdout + r.stderr


rate_drop, gap_drop = deliver_round(during=run_drop)
drop_ms = None
gone = psql("SELECT to_regclass(:'p') IS NULL", p=old) == "t"
log("drop of %s (%d rows) during a round: %s" % (old, in_part, drop.get("out", "").strip().replace("\n", "; ")))

rt.terminate(disp)
recv.stop()
# the drop's own time is in the CLI's log line on stderr (history.partition ... ms=N)
for line in drop.get("out", "").splitlines():
    if "action=dropped" in line and "partition=%s" % old in line:
        drop_ms = int(line.split("ms=")[1].split()[0])

ratio = full_rate / empty_rate if empty_rate else 0
row("deliveries/s with %dM historic attempts vs empty history (median of %d)" % (total // 1_000_000, ROUNDS),
    "%.0f" % full_rate, "deliveries/s", "empty history", "%.0f" % empty_rate, "%.2f" % ratio, ">= 0.90", ratio >= 0.9)
row("dropping a %dk-row attempts partition past retention" % (in_part // 1000), "%s" % drop_ms, "ms",
    "maintain-history pass", "%.0f ms" % drop.get("total_ms", 0), "-", "<= 1000 ms",
    gone and drop_ms is not None and drop_ms <= 1000)
row("longest pause in deliveries during the drop round", "%.0f" % gap_drop, "ms", "rounds without a drop",
    "%.0f ms" % max(empty_gap, full_gap), "%.2f" % (gap_drop / max(empty_gap, full_gap, 1)),
    "not blocked (<= 1000 ms)", gap_drop <= 1000)
row("(reference) the drop round's rate", "%.0f" % rate_drop, "deliveries/s", "full-history rounds", "%.0f" % full_rate,
    "%.2f" % (rate_drop / full_rate if full_rate else 0), "-", "info")
row("(reference) loading the historic rows", "%.0f" % load_s, "s", "-", "-", "-", "-", "info")
# the database held the 20M rows: gone again, so a second run starts from the same place
subprocess.run(["psql", "-X", "-qAt", "-d", "postgres", "-c", "DROP DATABASE %s" % name], capture_output=True)
