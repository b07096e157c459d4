#!/usr/bin/env python3
"""The Overview tab (0): the last hours from the per-minute rollups, drawn as braille graphs
in UTF-8, block characters on request, and ASCII where the terminal has no UTF-8. Seeded
rollups with known figures: totals, the last hour's rate, p50/p95 from the finality
buckets, the backlog now, a webhook endpoint's success rate, breaks and chain lag. Idle on
the Overview the console queries at most once per 10 s; the window and the graph style
take bad input with a message."""
import os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-workers")   # no sweeper, no dispatcher: the rollups are only what we seed
m = Merchant(rails=("tron:usdt",), addresses=2)
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": "http://127.0.0.1:9/overview-hook"})
assert st == 201, ep
EPID = sql1("SELECT id FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"])

SEED = """
DELETE FROM console_rollup WHERE environment = 'sandbox';
INSERT INTO console_rollup (environment, metric, minute, subject, bucket, value)
SELECT 'sandbox', x.metric, date_trunc('minute', now()) - make_interval(mins => g), x.subject, x.bucket,
       CASE WHEN x.metric = 'payments_created' AND x.subject = 'tron:usdt' AND g = 200 THEN 20
            WHEN x.metric = 'exceptions_open' AND g = 0 THEN 7
            WHEN x.metric = 'exceptions_overdue' AND g > 0 THEN 0
            ELSE x.value END
FROM generate_series(0, 359) g, (VALUES
  ('payments_created', 'tron:usdt', 0, 2), ('payments_created', 'bsc:usdt', 0, 1),
  ('payments_finalized', 'tron:usdt', 0, 1),
  ('exceptions_open', '', 0, 5), ('exceptions_overdue', '', 0, 2),
  ('webhook_attempts', '%(ep)s', 0, 10), ('webhook_successes', '%(ep)s', 0, 9),
  ('breaks_open', 'amount_mismatch', 0, 3), ('chain_lag', 'sepolia', 0, 4)) AS x(metric, subject, bucket, value);
-- finality of tron:usdt: 90 payments near 30 s (bucket 39, up to 32 s), 10 near 300 s (bucket 65, up to 304 s)
INSERT INTO console_rollup (environment, metric, minute, subject, bucket, value) VALUES
  ('sandbox', 'finality', date_trunc('minute', now()) - interval '10 minutes', 'tron:usdt', 39, 90),
  ('sandbox', 'finality', date_trunc('minute', now()) - interval '20 minutes', 'tron:usdt', 65, 10);
""" % {"ep": EPID}


def seed():
    """6 hours of rollups, early in a minute, so the window does not move under the checks"""
    wait_for(lambda: time.gmtime().tm_sec < 30 or None, timeout=40, interval=0.5)
    sql(SEED)


seed()

c = Console(api=srv.base, key_file=key_file(key("viewer")))
c.wait("Payments")
c.keys("0")
s = c.wait("Chain lag per network")
ok(s is not None, "0 opens the Overview", c.text())
s = s or ""
ok("Overview of sandbox · last 6 h" in s, "the title names the environment and the window")
ok(re.search(r"Payments created\s+last hour 3\.0/min\s+peak \d+\.\d/min\s+total 1,098", s),
   "created: the last hour's rate and the total of the window", s)
ok(re.search(r"Payments finalized\s+last hour 1\.0/min\s+peak 1\.0/min\s+total 360", s), "finalized likewise", s)
ok(re.search(r"tron:usdt\s+100\s+32 s\s+5m04s", s), "finality per rail: p50 and p95 from the buckets", s)
ok(re.search(r"open now 7\s+peak 7\s+past SLA now 2", s), "the backlog now, its peak, and past SLA now", s)
ok(re.search(re.escape(m.name) + r" 127\.0\.0\.1:9\s+\S+\s+90\.0 % of 3,600", s),
   "webhook success per endpoint, named by merchant and host", s)
ok(re.search(r"amount_mismatch\s+\S+\s+now 3", s), "open breaks by class", s)
ok(re.search(r"sepolia\s+\S+\s+now 4 blocks", s), "chain lag per network", s)
ok(re.search(r"-6h .* -1h .* now", s), "a time axis from -6h to now", s)
graph = [l for l in s.split("\n") if re.search(r"[\u2801-\u28ff]", l)]
ok(len(graph) >= 8, "the graphs are braille in UTF-8", len(graph))
ok(re.search(r"0 Overview", c.lines()[1]), "the Overview is the first tab", c.lines()[1])
same_as_expected(s, "overview_braille", extra=[(re.compile(r"at \d\d:\d\d:\d\d"), "at HH:MM:SS"),
                                               (re.compile(r"peak \d+\.\d/min  total 1,098"), "peak P/min  total 1,098"),
                                               (re.compile(r"[\u2800-\u28ff]"), "*")])

c.keys(":")
c.type("overview graphs=block")
c.keys("Enter")
s = c.wait("block graphs") or ""
ok(re.search(r"[\u2581-\u2588]", s) and not re.search(r"[\u2801-\u28ff]", s), "graphs=block draws block characters", s)
c.keys(":")
c.type("overview 24h")
c.keys("Enter")
s = c.wait("last 24 h") or ""
ok(re.search(r"-24h .* now", s) and "total 1,098" in s, "24h: the same data over a longer axis", s)
for bad, msg in (("overview 25h", "1h to 24h"), ("overview 0h", "1h to 24h"), ("overview graphs=dots", "braille, block or ascii"),
                 ("overview yesterday", "takes a window")):
    c.keys(":")
    c.type(bad)
    c.keys("Enter")
    ok(c.wait(msg, timeout=5) is not None, ":%s is refused with a message" % bad, c.lines()[-2:])
ok("last 24 h" in c.text(), "…and the view keeps what it had")

# idle: one query per 10 s on the Overview (the time axis), none on the Payments tab
trace = os.path.join(LOGDIR, uniq("trace"))
c.close()
d = Console(api=srv.base, key_file=key_file(key("viewer")), env={"RAILTOP_TRACE": trace})
d.wait("Payments")
d.keys("0")
d.wait("Chain lag per network")
t0 = open(trace).read().count("\n")
time.sleep(12)
reloads = [l for l in open(trace).read().split("\n")[t0:] if l.endswith(" reload")]
ok(1 <= len(reloads) <= 2, "idle on the Overview for 12 s: one reload for the moving time axis, no more", len(reloads))
d.keys("1")
d.wait("REFERENCE")
time.sleep(0.5)
t1 = open(trace).read().count("\n")
time.sleep(6)
reloads = [l for l in open(trace).read().split("\n")[t1:] if l.endswith(" reload")]
is_(len(reloads), 0, "idle on Payments: no reloads (the Overview's timer stops when it is left)")
d.close()

# ASCII where the terminal has no UTF-8
seed()
e = Console(api=srv.base, key_file=key_file(key("viewer")), env={"LANG": "C", "LC_ALL": "C"})
e.wait("Payments")
e.keys("0")
s = e.wait("Chain lag per network") or ""
ok(all(ord(ch) < 128 for ch in s), "without UTF-8 the whole Overview is ASCII", [ch for ch in s if ord(ch) >= 128][:5])
ok(sum(1 for l in s.split("\n") if "#" in l) >= 8 and "ascii graphs" in s, "ASCII graphs are drawn with # . :", s)
same_as_expected(s, "overview_ascii", extra=[(re.compile(r"at \d\d:\d\d:\d\d"), "at HH:MM:SS"),
                                             (re.compile(r"peak \d+\.\d/min  total 1,098"), "peak P/min  total 1,098")])
e.close()

# a bad graphs = line in the config file stops with file:line
cfg = os.path.join(LOGDIR, uniq("cfg"))
open(cfg, "w").write("# railtop\ngraphs = sparkles\n")
f = Console(api=srv.base, key_file=key_file(key("viewer")), env={"RAILTOP_CONFIG": cfg})
is_(f.exit_code(), 2, "graphs = sparkles: railtop exits 2")
ok(re.search(re.escape(cfg) + r":2: graphs must be braille, block or ascii", f.stderr()), "…naming file:line", f.stderr())
f.close()
sql("DELETE FROM console_rollup WHERE environment = 'sandbox'")
srv.call("DELETE", "/v1/webhook-endpoints/" + ep["id"], key=m.key)
srv.stop()
