#!/usr/bin/env python3
"""The per-minute rollups the console's Overview draws (0070_console_overview.sql), written by
a real raild: payments created and finalized per rail and minute, time to finality in its
buckets, the exception backlog sampled, a webhook endpoint's attempts and successes added by
the dispatcher as it records them. Counters are recomputed, not incremented: a second raild
copy, or a pass over minutes already counted, leaves the same numbers."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "webhooks"))
from rt import *
from wh import Receiver, create_endpoint
import base64

os.environ["RAILD_ROLLUP_INTERVAL_MS"] = "200"
os.environ["RAILD_SWEEP_INTERVAL_MS"] = "100"
srv = Raild()
W = key("watcher")
RAIL = "tron:usdt"
NET = RAILS[RAIL]["network"]


def rollup(metric, subject, env="sandbox"):
    return int(sql1("SELECT coalesce(sum(value), 0) FROM console_rollup WHERE environment = :'e' AND metric = :'m'"
                    " AND subject = :'s'", e=env, m=metric, s=subject))


def created_in_db(rail, env="sandbox"):
    return int(sql1("SELECT count(*) FROM payments WHERE rail = :'r' AND environment = :'e'"
                    " AND created_at >= now() - interval '26 hours'", r=rail, e=env))


def head_of(net):
    return int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=net) or 1000)


def post(path, body):
    st, b, _ = srv.call("POST", path, key=W, body=body)
    assert st == 200, (st, b)
    return b


m = Merchant(rails=(RAIL,), addresses=6)
recv = Receiver(["whsec_" + base64.b64encode(b"x" * 32).decode()])
ep = create_endpoint(srv, m, recv.url)
recv.set_secrets([ep["secret"]])
pids = []
for i in range(5):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("ov"), "amount": "3", "rail": RAIL})
    assert st == 201, p
    pids.append(p)

want = created_in_db(RAIL)
got = wait_for(lambda: rollup("payments_created", RAIL) == want or None, timeout=15)
is_(rollup("payments_created", RAIL), want, "payments created per minute add up to the payments in the table")

# two payments to finality through real ingest: mined, then the head past the finality depth
h = head_of(NET) + 1
for p in pids[:2]:
    post("/v1/chain/transfers", {"network": NET, "transfers": [{
        "tx_hash": tx_hash()[2:], "log_index": 0, "block_number": h, "block_hash": "cd" * 32,
        "contract": RAILS[RAIL]["contract"], "from": address(NET), "to": p["deposit_address"],
        "value": p["amount_units"]}]})
post("/v1/chain/heads", {"network": NET, "head": h + RAILS[RAIL]["final"]})
fin = int(sql1("SELECT count(*) FROM payments WHERE rail = :'r' AND environment = 'sandbox' AND state = 'finalized'"
               " AND finalized_at >= now() - interval '26 hours'", r=RAIL))
ok(fin >= 2, "two payments finalized", fin)
wait_for(lambda: rollup("payments_finalized", RAIL) == fin or None, timeout=15)
is_(rollup("payments_finalized", RAIL), fin, "payments finalized per minute add up to the finalized payments")
is_(rollup("finality", RAIL), fin, "each finalized payment sits in one finality bucket")
b = sql1("SELECT rollup_finality_bucket(extract(epoch FROM finalized_at - coalesce(detected_at, created_at))::float8)"
         " FROM payments WHERE public_id = :'p'", p=pids[0]["id"])
ok(int(sql1("SELECT count(*) FROM console_rollup WHERE metric = 'finality' AND subject = :'r' AND bucket = :'b'",
            r=RAIL, b=b)) >= 1, "the bucket is the one of its time from detection to finality", b)
is_([sql1("SELECT rollup_finality_bucket(%s)" % s) for s in ("0.2", "1", "2", "60", "3600")],
    ["0", "0", "8", "47", "94"], "finality buckets: 8 per doubling of seconds, 1 s and below in bucket 0")
is_(sql1("SELECT round(rollup_bucket_upper_s(47::smallint)::numeric, 2)"), "64.00",
    "a bucket's upper bound is 2^((b+1)/8) seconds")

# the backlog gauge follows the open exceptions of the environment
want_open = lambda: int(sql1("SELECT count(*) FROM exceptions WHERE environment = 'sandbox' AND state IN ('open','claimed')"))
def gauge_now(metric):
    v = sql1("SELECT value FROM console_rollup WHERE environment = 'sandbox' AND metric = :'m' AND subject = ''"
             " ORDER BY minute DESC LIMIT 1", m=metric)
    return int(v) if v is not None else None
post("/v1/chain/transfers", {"network": NET, "transfers": [{
    "tx_hash": tx_hash()[2:], "log_index": 0, "block_number": None, "block_hash": None,
    "contract": RAILS[RAIL]["contract"], "from": address(NET), "to": address(NET), "value": "1000"}]})
post("/v1/chain/transfers", {"network": NET, "transfers": [{
    "tx_hash": tx_hash()[2:], "log_index": 0, "block_number": None, "block_hash": None,
    "contract": RAILS[RAIL]["contract"], "from": address(NET), "to": pids[3]["deposit_address"], "value": "1"}]})
wait_for(lambda: gauge_now("exceptions_open") == want_open() or None, timeout=15)
is_(gauge_now("exceptions_open"), want_open(), "the backlog sample equals the open exceptions now")
overdue = int(sql1("SELECT count(*) FROM exceptions WHERE environment = 'sandbox' AND state IN ('open','claimed')"
                   " AND sla_due < now()"))
wait_for(lambda: gauge_now("exceptions_overdue") == overdue or None, timeout=15)
is_(gauge_now("exceptions_overdue"), overdue, "the SLA sample equals the open exceptions past their SLA")

# webhook outcomes: the dispatcher adds each recorded attempt to the endpoint's minute
epid = sql1("SELECT id FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"])
def attempts_db():
    return int(sql1("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :'e' AND finished_at IS NOT NULL", e=epid))
ok(wait_for(lambda: attempts_db() >= 3 or None, timeout=20), "the merchant's webhooks were delivered", attempts_db())
time.sleep(1.0)
wait_for(lambda: rollup("webhook_attempts", epid) == attempts_db() or None, timeout=10)
is_(rollup("webhook_attempts", epid), attempts_db(), "webhook attempts per minute add up to the recorded attempts")
succ = int(sql1("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :'e' AND success", e=epid))
is_(rollup("webhook_successes", epid), succ, "…and the successes to the successful ones")

# a second copy recomputes the same minutes to the same values
before = sql("SELECT metric, subject, minute, bucket, value FROM console_rollup WHERE metric IN"
             " ('payments_created', 'payments_finalized', 'finality') ORDER BY 1, 2, 3, 4")
srv2 = Raild(name="raild-2")
time.sleep(2.0)
after = sql("SELECT metric, subject, minute, bucket, value FROM console_rollup WHERE metric IN"
            " ('payments_created', 'payments_finalized', 'finality') ORDER BY 1, 2, 3, 4")
is_(after, before, "a second raild copy leaves the counters as they were (recomputed, not added)")
srv2.stop()

# bad settings: the interval is validated, raild still runs with the default
ok(int(sql1("SELECT count(*) FROM console_rollup WHERE minute < now() - interval '26 hours'")) == 0,
   "nothing older than 26 hours is kept")
os.environ["RAILD_ROLLUP_INTERVAL_MS"] = "5"
srv3 = Raild(name="raild-3")
ok(wait_for(lambda: "rollup.bad_interval" in open(srv3.log_path, errors="replace").read() or None, timeout=10),
   "RAILD_ROLLUP_INTERVAL_MS out of range is named in the log and the default used")
srv3.stop()
srv.stop()
