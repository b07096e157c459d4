#!/usr/bin/env python3
"""Partitioned, retained history (issue 13 §1), in a database of its own so the moved clock
touches nobody else's rows:
  * partitions exist ahead of time, and raild's history worker makes missing ones again;
  * `raild admin maintain-history --now` (a clock moved 130 days on) drops whole partitions
    past retention: delivered deliveries, their attempts, the change log and hourly health
    go; the audit log and payment events stay;
  * a delivery still retrying survives its partition's drop, with its attempts, and is
    delivered afterwards; back at the real time its rows return to a partition of their own;
  * recover-a-window finds failed deliveries on both sides of a partition boundary;
  * only raild's role may maintain (not the console's), one copy at a time;
  * set-retention refuses bad input with a message naming what to fix and changes nothing."""
import datetime, os, subprocess, sys, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wh import *

name = "hist_" + uniq("t").replace("-", "_")
sql("CREATE DATABASE %s" % name)
os.environ["PGDATABASE"] = name
r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True)
ok(r.returncode == 0, "a database of its own, migrated", r.stderr[-1000:])


def status():
    return {r_[0]: {"partitions": int(r_[1]), "ahead": int(r_[2]), "default": int(r_[3])}
            for r_ in sql("SELECT tbl, partitions, ahead, default_rows FROM history_status()")}


def maintain(*args):
    return subprocess.run([RAILD, "admin", "maintain-history"] + list(args), capture_output=True, text=True)


# ---- layout: premade partitions
st = status()
premake = dict(sql("SELECT tbl, premake FROM history_tables"))
ok(all(st[t]["ahead"] >= int(premake[t]) for t in st), "every history table has its premade partitions ahead", st)

# ---- traffic: endpoint A delivers, endpoint B (nobody listening) keeps retrying
srv = Raild("--no-dispatch")
m = Merchant(rails=("tron:usdt",), addresses=0)
recv = Receiver(["whsec_" + "A" * 43 + "="])
a = create_endpoint(srv, m, recv.url)
recv.set_secrets([a["secret"]])
b_port = free_port()
b = create_endpoint(srv, m, "http://127.0.0.1:%d/hook" % b_port)
insert_events(m.id, 3)
d = dispatcher("traffic")
ok(wait_for(lambda: delivery_counts(a["id"]).get("succeeded") == 3
            and int(sql1("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :i", i=endpoint_row_id(b["id"])))
            >= 3, timeout=30), "setup: A's three delivered, B's three tried", (delivery_counts(a["id"]),
                                                                             delivery_counts(b["id"])))
stop_dispatcher(d)
is_(delivery_counts(b["id"]), {"pending": 3}, "B's three are retrying")
b_ids = sorted(r_[0] for r_ in sql("SELECT d.id FROM webhook_deliveries d JOIN webhook_endpoints e"
                                   " ON e.id = d.endpoint_id WHERE e.public_id = :'p'", p=b["id"]))
audit_n = sql1("SELECT count(*) FROM audit_log")
events_n = sql1("SELECT count(*) FROM payment_events")
ok(int(sql1("SELECT count(*) FROM change_log")) > 0 and int(sql1("SELECT count(*) FROM webhook_endpoint_hourly")) > 0,
   "setup: change-log and hourly rows exist")

# ---- only raild maintains: the console role may not
def as_role(role, q):
    return subprocess.run(["psql", "-X", "-qAt", "-c", q], capture_output=True, text=True,
                          env=dict(os.environ, PGUSER=role))


r = as_role("railtop_console", "SELECT * FROM history_create_ahead('change_log', now())")
ok(r.returncode != 0 and "permission denied" in r.stderr, "the console role cannot run maintenance", r.stderr)
r = as_role("railtop_console", "SELECT * FROM history_drop_partition('change_log', 'change_log_default', now())")
ok(r.returncode != 0 and "permission denied" in r.stderr, "…nor drop a partition", r.stderr)
r = as_role("railtop_app", "SELECT count(*) FROM history_create_ahead('change_log', now())")
ok(r.returncode == 0, "raild's role can", r.stderr)
cur = sql1("SELECT part FROM history_partitions('change_log') WHERE lo <= now() AND hi > now()")
r = as_role("railtop_app", "SELECT * FROM history_drop_partition('change_log', '%s', now())" % cur)
ok(r.returncode != 0 and "is not a partition of change_log past its retention" in r.stderr,
   "a partition within retention cannot be dropped, even by raild's role", r.stderr)
is_(sql1("SELECT to_regclass(:'p') IS NOT NULL", p=cur), "t", "…it is still there")

# ---- one copy at a time: while another holds the lock, a pass does nothing
holder = subprocess.Popen(["psql", "-X", "-qAt", "-c", "SELECT pg_advisory_lock(hashtext('raild.history'))",
                           "-c", "SELECT pg_sleep(6)"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                          env=dict(os.environ, PGUSER="railtop_app"))
wait_for(lambda: sql1("SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
                     " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()") == "1",
         timeout=5)
future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=130)).strftime("%Y-%m-%dT%H:%M:%SZ")
r = maintain("--now", future)
ok(r.returncode == 0 and "another raild copy is maintaining history" in r.stdout, "a second copy waits its turn",
   r.stdout + r.stderr)
is_(sql1("SELECT count(*) FROM webhook_deliveries"), "6", "…and dropped nothing")
sql("SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
    " WHERE l.locktype = 'advisory' AND d.datname = current_database()")
holder.wait()

# ---- the clock moved 130 days on: whole partitions past retention go
r = maintain("--now", future)
ok(r.returncode == 0, "maintain-history --now +130 days", r.stderr)
out = r.stdout
for t in ("change_log", "webhook_deliveries", "webhook_attempts", "webhook_endpoint_hourly"):
    ok(any(l.split()[:2] == [t, "dropped"] for l in out.splitlines()), "%s: partitions dropped" % t, out)
for t in ("audit_log", "payment_events"):
    ok(not any(l.split()[:2] == [t, "dropped"] for l in out.splitlines()), "%s: nothing dropped" % t, out)
is_(delivery_counts(a["id"]), {}, "A's delivered deliveries went with their partition")
is_(delivery_counts(b["id"]), {"pending": 3}, "B's retrying deliveries survived the drop")
is_(sql1("SELECT count(*) FROM webhook_deliveries_default"), "3", "…kept in the default partition")
is_(sql1("SELECT count(*) FROM webhook_attempts WHERE delivery_id = ANY(:'i'::bigint[])",
         i="{" + ",".join(b_ids) + "}"), sql1("SELECT sum(attempts) FROM webhook_deliveries"),
    "…with every attempt they made")
is_(sql1("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :i", i=endpoint_row_id(a["id"])), "0",
    "A's attempts are gone")
is_(sql1("SELECT count(*) FROM webhook_endpoint_hourly"), "0", "hourly health is pruned with the rest of history")
is_(sql1("SELECT count(*) FROM audit_log WHERE action <> 'history.maintain'"), audit_n, "the audit log is never dropped")
is_(sql1("SELECT count(*) FROM audit_log WHERE action = 'history.maintain'"), "1", "…and records the pass that dropped")
is_(sql1("SELECT count(*) FROM payment_events"), events_n, "payment events are kept (no retention by default)")
st = status()
ok(st["change_log"]["ahead"] >= 1 and st["webhook_deliveries"]["ahead"] >= 1,
   "partitions were made ahead of the moved clock too", st)

# ---- the live deliveries are still delivered; back at the real time they leave the default
recv_b = Receiver([b["secret"]], port=b_port)
sql("UPDATE webhook_deliveries SET next_attempt_at = now() WHERE id = ANY(:'i'::bigint[])",
    i="{" + ",".join(b_ids) + "}")
d = dispatcher("after-drop")
ok(wait_for(lambda: delivery_counts(b["id"]) == {"succeeded": 3}, timeout=30),
   "a delivery that survived its partition is delivered afterwards", delivery_counts(b["id"]))
stop_dispatcher(d)
ok(len(recv_b.unique_ids()) == 3, "the receiver has all three", recv_b.unique_ids())
r = maintain()
ok(r.returncode == 0 and "created" in r.stdout, "a pass at the real time makes the missing partitions", r.stdout)
st = status()
is_({t: v["default"] for t, v in st.items()}, {t: 0 for t in st},
    "rows written while their partition was missing moved to partitions of their own")
is_(delivery_counts(b["id"]), {"succeeded": 3}, "…B's deliveries among them")

# ---- recover-a-window across a partition boundary
w = sql1("SELECT to_char(date_trunc('week', now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
sql("UPDATE webhook_deliveries SET status = 'failed', finished_at = now() WHERE id = ANY(:'i'::bigint[])",
    i="{" + ",".join(b_ids) + "}")
maintain("--now", (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=10))
         .strftime("%Y-%m-%dT%H:%M:%SZ"))       # the week before exists
sql("UPDATE webhook_deliveries SET created_at = date_trunc('week', now()) - interval '1 hour' WHERE id = :i", i=b_ids[0])
ok(sql1("SELECT tableoid::regclass::text FROM webhook_deliveries WHERE id = :i", i=b_ids[0])
   != sql1("SELECT tableoid::regclass::text FROM webhook_deliveries WHERE id = :i", i=b_ids[1]),
   "setup: failed deliveries in two partitions")
SUP = key("support")
since = sql1("SELECT to_char((date_trunc('week', now()) - interval '1 day') AT TIME ZONE 'UTC',"
             " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
until = sql1("SELECT to_char((now() + interval '1 minute') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
st_, pv, _ = srv.call("GET", "/v1/webhook-endpoints/%s/recover-preview?since=%s&until=%s" % (b["id"], since, until),
                      key=SUP)
is_((st_, pv.get("count")), (200, 3), "recover preview counts the failed deliveries on both sides of the boundary"
    " (week from %s)" % w, pv)
st_, job, _ = srv.call("POST", "/v1/webhook-endpoints/%s/recover" % b["id"], key=SUP,
                       body={"since": since, "until": until, "reason": "history test"})
ok(st_ == 202 and job.get("total") == 3, "the recover job takes all three", job)
d = dispatcher("recover")
ok(wait_for(lambda: srv.call("GET", "/v1/webhook-recover-jobs/%s" % job["id"], key=SUP)[1].get("requeued") == 3,
            timeout=30), "…and requeues all three", srv.call("GET", "/v1/webhook-recover-jobs/%s" % job["id"], key=SUP))
ok(wait_for(lambda: delivery_counts(b["id"]) == {"succeeded": 3}, timeout=30), "…which are delivered again",
   delivery_counts(b["id"]))
stop_dispatcher(d)

# ---- the worker inside raild serve makes a missing partition again
newest = sql1("SELECT part FROM history_partitions('change_log') WHERE lo > now() AND lo < now() + interval '10 days'"
              " ORDER BY lo DESC LIMIT 1")
sql("DROP TABLE %s" % newest)
srv.stop()
os.environ["RAILD_HISTORY_INTERVAL_S"] = "1"
srv = Raild("--no-dispatch")
del os.environ["RAILD_HISTORY_INTERVAL_S"]
ok(wait_for(lambda: sql1("SELECT to_regclass(:'p') IS NOT NULL", p=newest) == "t", timeout=15),
   "raild's history worker makes a missing partition again", newest)
with urllib.request.urlopen(srv.base + "/metrics", timeout=10) as resp:
    metrics = resp.read().decode()
ok('raild_history_partitions_ahead{table="change_log"}' in metrics and "raild_history_partitions_created_total" in metrics
   and 'raild_history_default_rows{table="webhook_deliveries"} 0' in metrics, "/metrics shows history", metrics[-1500:])
srv.stop()
ok("event=history.partition" in open(srv.log_path).read(), "the worker logs what it made")
for bad in ("soon", "0", "86401", "-5"):      # a bad interval is named in the log, the default used
    os.environ["RAILD_HISTORY_INTERVAL_S"] = bad
    srv = Raild("--no-dispatch")
    del os.environ["RAILD_HISTORY_INTERVAL_S"]
    ok(wait_for(lambda: "event=history.start interval_s=3600" in open(srv.log_path).read(), timeout=10),
       "RAILD_HISTORY_INTERVAL_S=%s: the worker keeps the default" % bad)
    srv.stop()
    log = open(srv.log_path).read()
    ok('event=history.bad_interval name=RAILD_HISTORY_INTERVAL_S value="%s"' % bad in log,
       "RAILD_HISTORY_INTERVAL_S=%s is named in the log" % bad, log[-800:])

# ---- set-retention: a table of bad input, nothing changed
before = sql("SELECT * FROM history_tables ORDER BY tbl")
BAD = [
    (["--table", "nope", "--keep", "7d", "--reason", "x"], "--table must be one of the history tables"),
    (["--table", "audit_log", "--keep", "30d", "--reason", "x"], "audit_log is never dropped"),
    (["--table", "change_log", "--keep", "7", "--reason", "x"], "--keep must be a number of days"),
    (["--table", "change_log", "--keep", "0d", "--reason", "x"], "--keep must be a number of days"),
    (["--table", "change_log", "--keep", "40000d", "--reason", "x"], "--keep must be a number of days"),
    (["--table", "change_log", "--keep", "-3d", "--reason", "x"], "--keep must be a number of days"),
    (["--table", "change_log", "--keep", "7d"], "--reason is required"),
    (["--table", "change_log", "--keep", "7d", "--reason", "x", "--bogus", "1"], "unknown option '--bogus'"),
]
for args, want in BAD:
    r = subprocess.run([RAILD, "admin", "set-retention"] + args, capture_output=True, text=True)
    ok(r.returncode == 2 and want in r.stderr, "set-retention %s → exit 2, '%s'" % (" ".join(args), want), r.stderr)
r = maintain("--now", "yesterday")
ok(r.returncode == 2 and "--now must be an RFC 3339 time" in r.stderr, "maintain-history --now yesterday → exit 2",
   r.stderr)
is_(sql("SELECT * FROM history_tables ORDER BY tbl"), before, "bad input changed nothing")
r = subprocess.run(["psql", "-X", "-qAt", "-c", "UPDATE history_tables SET retention = '30 days' WHERE tbl = 'audit_log'"],
                   capture_output=True, text=True)
ok(r.returncode != 0 and "check constraint" in r.stderr, "the database itself refuses a retention for the audit log",
   r.stderr)
r = subprocess.run([RAILD, "admin", "set-retention", "--table", "payment_events", "--keep", "400d", "--reason",
                    "finance keeps 13 months"], capture_output=True, text=True)
ok(r.returncode == 0, "set-retention payment_events 400d", r.stderr)
is_(sql1("SELECT retention FROM history_tables WHERE tbl = 'payment_events'"), "400 days", "stored")
is_(sql1("SELECT after->>'keep' FROM audit_log WHERE action = 'history.set_retention' ORDER BY id DESC LIMIT 1"), "400d",
    "audited")
r = subprocess.run([RAILD, "admin", "set-retention", "--table", "payment_events", "--keep", "never", "--reason", "back"],
                   capture_output=True, text=True)
ok(r.returncode == 0 and sql1("SELECT retention IS NULL FROM history_tables WHERE tbl = 'payment_events'") == "t",
   "--keep never removes it", r.stderr)
r = subprocess.run([RAILD, "admin", "list-history"], capture_output=True, text=True)
ok(r.returncode == 0 and "webhook_attempts" in r.stdout and "90d" in r.stdout and "never" in r.stdout,
   "list-history shows tables, retention and partitions", r.stdout)
recv.stop()
recv_b.stop()
