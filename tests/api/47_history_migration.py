#!/usr/bin/env python3
"""Migration 0075 moves a populated database to partitioned history (issue 13 §1): a
database at 0074 holding old-layout rows in the six history tables — some 200 days old,
some 40, some from this hour — is migrated; every row is still there byte for byte, each in
the partition of its time (none left in a default partition), ids keep counting from where
they were, the gateway's API and every view of the console still show the old rows, and
`raild migrate --to` refuses a name it does not know."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ui"))
from uikit import *

TABLES = ["change_log", "payment_events", "audit_log", "webhook_deliveries", "webhook_attempts",
          "webhook_endpoint_hourly"]

r = subprocess.run([RAILD, "migrate", "--to", "0074_no_such_migration"], capture_output=True, text=True)
ok(r.returncode == 2 and "no migration is named '0074_no_such_migration'" in r.stderr,
   "migrate --to an unknown name: exit 2, naming it", r.stderr)

name = "hmig_" + uniq("t").replace("-", "_")
sql("CREATE DATABASE %s" % name)
os.environ["PGDATABASE"] = name
r = subprocess.run([RAILD, "migrate", "--to", "0074_webhook_last_mile"], capture_output=True, text=True)
ok(r.returncode == 0 and "database at 0074_webhook_last_mile" in r.stdout, "migrate --to stops at 0074", r.stderr)
is_(sql1("SELECT count(*) FROM schema_migrations WHERE name >= '0075'"), "0", "…and applies nothing after it")
is_(sql1("SELECT relkind FROM pg_class WHERE relname = 'webhook_attempts'"), "r", "the old layout: a plain table")

# Old-layout rows, as a deployment has them: a merchant with an endpoint and a payment, its
# events, deliveries (succeeded long ago, failed, one still retrying) with their attempts,
# hourly health, audit rows and change-log rows — at three ages.
sql("""
INSERT INTO merchants (id, name) VALUES (9101, 'History Merchant');
INSERT INTO merchant_rails VALUES (9101, 'sandbox', 'tron:usdt', true, now());
INSERT INTO payments (id, public_id, merchant_id, environment, rail, reference, amount, received, state, deposit_address,
                      expires_at, created_at)
VALUES (1, 'pay_histold', 9101, 'sandbox', 'tron:usdt', 'HIST-OLD-1', 5000000, 0, 'awaiting_payment', 'THistAddr1',
        now() + interval '1 day', now() - interval '200 days');
SELECT setval('payments_id_seq', 100);
SELECT setval('merchants_id_seq', 9101);
INSERT INTO deposit_addresses (network, address, payment_id) VALUES ('tron-nile', 'THistAddr1', 1);
INSERT INTO payment_events (event_id, payment_id, sequence, type, to_state, at)
SELECT 'evt_hist_' || g, 1, g, 'payment.created', 'awaiting_payment', now() - make_interval(days => 200 - g * 40)
FROM generate_series(0, 4) g;
INSERT INTO webhook_endpoints (id, public_id, merchant_id, environment, url, secret, created_at)
VALUES (501, 'we_histold', 9101, 'sandbox', 'http://127.0.0.1:9/hook', 'whsec_aGlzdG9yeWhpc3Rvcnk=', now() - interval '200 days');
SELECT setval('webhook_endpoints_id_seq', 501);
INSERT INTO webhook_outbox (id, event_id, merchant_id, environment, type, sequence, payload, created_at, fanned_out_at)
SELECT g, 'evt_hist_' || g, 9101, 'sandbox', 'payment.created', g, '{"id":"evt_hist_' || g || '"}',
       now() - make_interval(days => 200 - g * 40), now() - make_interval(days => 200 - g * 40)
FROM generate_series(0, 4) g;
SELECT setval('webhook_outbox_id_seq', 10);
INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_id, event_type, merchant_id, environment, status, attempts,
                                next_attempt_at, last_http_status, created_at, updated_at, finished_at)
SELECT 501, g, 'evt_hist_' || g, 'payment.created', 9101, 'sandbox',
       CASE g WHEN 4 THEN 'pending' WHEN 3 THEN 'failed' ELSE 'succeeded' END, 1,
       now() + interval '1 hour', CASE g WHEN 3 THEN 500 WHEN 4 THEN 503 ELSE 200 END,
       now() - make_interval(days => 200 - g * 40), now() - make_interval(days => 200 - g * 40),
       CASE WHEN g < 4 THEN now() - make_interval(days => 200 - g * 40) END
FROM generate_series(0, 4) g;
INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, dispatcher, started_at, finished_at,
                              duration_ms, http_status, response_body, success)
SELECT d.id, 501, 1, 'scheduled', 'old-dispatcher', d.created_at, d.created_at + interval '40 ms', 40,
       d.last_http_status, 'body of ' || d.event_id, d.last_http_status = 200
FROM webhook_deliveries d;
INSERT INTO webhook_endpoint_hourly (endpoint_id, hour, attempts, successes)
SELECT 501, date_trunc('hour', now() - make_interval(days => 200 - g * 40)), 1, CASE WHEN g < 3 THEN 1 ELSE 0 END
FROM generate_series(0, 4) g;
INSERT INTO audit_log (at, actor, role, action, object_type, object_id, reason)
SELECT now() - make_interval(days => 200 - g * 40), 'cli:history', 'admin', 'history.old_action_' || g, 'merchant',
       '9101', 'from the old layout'
FROM generate_series(0, 4) g;
INSERT INTO change_log (at, tbl, op, row_id)
SELECT now() - make_interval(days => 200 - g * 40), 'payments', 'UPDATE', 1 FROM generate_series(0, 4) g;
""")


def fingerprint():
    """per table: count, and an md5 over every row's full text in id (or key) order"""
    out = {}
    for t in TABLES:
        order = "endpoint_id, hour" if t == "webhook_endpoint_hourly" else "id"
        out[t] = sql1("SELECT count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY %s)), '-') FROM %s x"
                      % (order, t))
    return out


before = fingerprint()
ok(all(v.startswith(("5:", "6:", "10:", "11:", "12:")) or int(v.split(":")[0]) >= 5 for v in before.values()),
   "setup: every history table holds old rows", before)
maxid = {t: sql1("SELECT max(id) FROM %s" % t) for t in TABLES if t != "webhook_endpoint_hourly"}

r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True)
ok(r.returncode == 0, "raild migrate moves the populated database to partitioned history", r.stderr[-2000:])
is_(fingerprint(), before, "every row is still there, byte for byte")
is_(sql("SELECT c.relname FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1"),
    [[t] for t in sorted(TABLES)], "the six history tables are partitioned")
st = sql("SELECT tbl, default_rows, ahead >= 1 FROM history_status() ORDER BY tbl")
is_([r_[1] for r_ in st], ["0"] * 6, "every old row is in the partition of its time, none in a default partition", st)
ok(all(r_[2] == "t" for r_ in st), "each table has partitions made ahead", st)
is_(sql1("SELECT count(*) FROM webhook_deliveries_p%s" % sql1(
    "SELECT to_char(date_trunc('week', now() - interval '200 days') AT TIME ZONE 'UTC', 'YYYYMMDD')")), "1",
    "the 200-day-old delivery sits in its week's partition")
for t, m in maxid.items():
    if t == "change_log":
        continue    # written by triggers below
    nid = sql1("SELECT nextval('%s_id_seq')" % t)
    ok(int(nid) > int(m), "%s ids go on after the old ones (%s > %s)" % (t, nid, m))

# the gateway serves the migrated rows
srv = Raild("--no-dispatch")
SUP = key("support")
old_since = sql1("SELECT to_char((now() - interval '250 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
st_, b, _ = srv.call("GET", "/v1/webhook-deliveries?endpoint=we_histold&since=" + old_since, key=SUP)
ok(st_ == 200 and len(b.get("data", [])) == 5, "the API lists the endpoint's five old deliveries", b)
did = sql1("SELECT id FROM webhook_deliveries WHERE event_id = 'evt_hist_0'")
st_, b, _ = srv.call("GET", "/v1/webhook-deliveries/whd_%s" % did, key=SUP)
ok(st_ == 200 and b.get("attempts") and b["attempts"][0].get("response_body") == "body of evt_hist_0",
   "…and a 200-day-old delivery with its attempt", b)
AUD = key("admin")
st_, b, _ = srv.call("GET", "/v1/audit?action=history.old_action_0", key=AUD)
ok(st_ == 200 and len(b.get("data", [])) == 1, "the audit API finds a 200-day-old row", b)
st_, b, _ = srv.call("GET", "/v1/payments/pay_histold", key=key("merchant", merchant="9101"))
ok(st_ == 200 and b.get("reference") == "HIST-OLD-1", "the old payment answers its merchant", b)

# the console: every view answers over the partitioned tables
kf = key_file(key("ops"))
c = Console(api=srv.base, key_file=kf)
c.keys("1")
ok(c.wait("HIST-OLD-1") is not None, "payments view shows the old payment", c.text())
c.keys("Enter")
ok(c.wait("payment.created") is not None or c.wait("awaiting_payment") is not None,
   "its detail opens with its timeline", c.text())
c.keys("Escape")
c.keys("3")
ok(c.wait("we_histold") is not None or c.wait("127.0.0.1:9/hook") is not None, "webhooks view lists the endpoint",
   c.text())
c.keys("4")
ok(c.wait("history.old_action_4") is not None, "the audit view shows the old rows", c.text())
for k, title in (("0", "Overview"), ("2", "Exceptions"), ("5", "Reconciliation"), ("6", "Payouts")):
    c.keys(k)
    ok(c.wait(title) is not None and "query failed" not in c.text(), "view %s (%s) answers" % (k, title), c.text())
c.keys("q")
is_(c.exit_code(), 0, "the console quits cleanly")
c.close()
srv.stop()

