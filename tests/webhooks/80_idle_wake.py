#!/usr/bin/env python3
"""An idle dispatcher sleeps: it LISTENs (railtop_webhooks) and wakes when an event is
written, instead of polling the database dozens of times a second. Measured on its own
database (so no other test's leftover retries are real work for it):
 - idle for 5 s: only the once-a-second safety net (fan-out, claim, recover), not ~40/s;
 - an event written while it sleeps reaches the receiver in well under the safety net's 1 s."""
import os, signal, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
import wh
from wh import Receiver, Raild, Merchant, create_endpoint, insert_events, wait_for, sql, sql1, ok, is_, diag
from rt import RAILD, LOGDIR, SANITIZER_RE, uniq

db = uniq("idle").replace("-", "_")
sql("CREATE DATABASE %s" % db)
os.environ["PGDATABASE"] = db
r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True)
is_(r.returncode, 0, "a fresh database for this test is migrated")

api = Raild("--no-dispatch", name="api")
m = Merchant()
recv = Receiver(["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="])
ep = create_endpoint(api, m, recv.url)
recv.set_secrets([ep["secret"]])

log_path = os.path.join(LOGDIR, "80_idle_wake-dispatch.log")
log = open(log_path, "w")
disp = subprocess.Popen([RAILD, "dispatch"], stdout=log, stderr=subprocess.STDOUT)
ok(wait_for(lambda: int(sql1("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'raild-dispatch'"
                             " AND datname = current_database()")) == 3, timeout=15),
   "the dispatcher holds its three connections (fan-out + LISTEN, claim, record)")
time.sleep(1.5)

# ---------------------------------------------------------------- idle: statements in 5 s
seen = set()
t0 = time.time()
while time.time() - t0 < 5:
    for pid, qs in sql("SELECT pid, query_start FROM pg_stat_activity WHERE application_name = 'raild-dispatch'"
                       " AND datname = current_database()"):
        seen.add((pid, qs))
    time.sleep(0.02)
diag("idle 5 s: %d distinct statements seen across the dispatcher's connections" % len(seen))
ok(len(seen) <= 25, "idle for 5 s: at most the once-a-second safety net per step (%d statements seen, "
   "polling every 50 ms would be ~200)" % len(seen))

# ---------------------------------------------------------------- an event while idle wakes it at once
lat = []
for i in range(5):
    time.sleep(0.3)
    t = time.time()
    [eid] = insert_events(m.id, 1)
    got = wait_for(lambda: eid in recv.unique_ids(), timeout=10, interval=0.005)
    lat.append(time.time() - t if got else 99)
diag("event written -> received while idle: %s s" % ", ".join("%.3f" % x for x in lat))
ok(max(lat) < 0.4, "every event written while the dispatcher slept was delivered within 0.4 s "
   "(notified, not found by the 1 s safety net): max %.3f s, median %.3f s" % (max(lat), statistics.median(lat)))

disp.send_signal(signal.SIGTERM)
disp.wait(timeout=20)
log.close()
text = open(log_path, errors="replace").read()
ok(not SANITIZER_RE.search(text), "dispatcher log has no sanitizer reports")
recv.stop()
api.stop()
