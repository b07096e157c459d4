#!/usr/bin/env python3
"""The dispatcher outlives its database: PostgreSQL (a private cluster, so the shared one is
never touched) stops under a running `raild dispatch` and comes back; the dispatcher does not
crash, reconnects its three connections (LISTEN included) and delivers what was written
while it was away and after."""
import os, re, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rt
from rt import RAILD, LOGDIR, ROOT, SANITIZER_RE, uniq, ok, is_, wait_for, sql1

PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
PGDIR = os.path.join(LOGDIR, uniq("pg-dispatch-restart"))
os.makedirs(PGDIR)


def as_pg(args):
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, capture_output=True, text=True)


out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "start", PGDIR], capture_output=True, text=True)
assert out.returncode == 0, out.stderr
os.environ.update(dict(re.findall(r"(PG\w+)='?([^'\s]+)'?", out.stdout)))   # every helper below uses this cluster
pgroot = open(os.path.join(PGDIR, "pgroot")).read().strip() if os.path.exists(os.path.join(PGDIR, "pgroot")) else PGDIR
DATA = os.path.join(pgroot, "data")
r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True)
is_(r.returncode, 0, "the private cluster is migrated")

from wh import Receiver, Raild, Merchant, create_endpoint, insert_events, delivery_counts

api = Raild("--no-dispatch", name="api")
m = Merchant()
recv = Receiver(["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="])
ep = create_endpoint(api, m, recv.url)
recv.set_secrets([ep["secret"]])
api.stop()

log_path = os.path.join(LOGDIR, "85_db_restart-dispatch.log")
log = open(log_path, "w")
disp = subprocess.Popen([RAILD, "dispatch"], stdout=log, stderr=subprocess.STDOUT)
first = set(insert_events(m.id, 10))
ok(wait_for(lambda: first <= recv.unique_ids(), timeout=20), "delivered before the outage")

stop = as_pg([PGBIN + "/pg_ctl", "-D", DATA, "-m", "fast", "-w", "stop"])
ok(stop.returncode == 0, "PostgreSQL stopped under the dispatcher", stop.stderr)
time.sleep(2.5)
ok(disp.poll() is None, "the dispatcher is still running without its database")
start = as_pg([PGBIN + "/pg_ctl", "-D", DATA, "-l", os.path.join(pgroot, "server.log"), "-w", "start"])
ok(start.returncode == 0, "PostgreSQL started again", start.stderr)
second = set(insert_events(m.id, 10))
t0 = time.time()
ok(wait_for(lambda: second <= recv.unique_ids(), timeout=20, interval=0.02),
   "events written after the outage are delivered (%.2f s)" % (time.time() - t0))
# …and recorded at once: a result lost on a connection that died with the server would
# wait out its lease (90 s) and be sent again
ok(wait_for(lambda: delivery_counts(ep["id"]).get("succeeded") == 20, timeout=10, interval=0.05),
   "…and recorded succeeded right away, not after a lapsed lease (%s)" % delivery_counts(ep["id"]))
is_(recv.stats()["duplicates"], 0, "nothing was sent twice")
ok(wait_for(lambda: int(sql1("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'raild-dispatch'")) == 3,
            timeout=10), "the dispatcher is back on its three connections")
lat = []
for _ in range(3):
    time.sleep(1.2)             # idle: only a notification wakes it this fast
    [eid] = insert_events(m.id, 1)
    t = time.time()
    lat.append(time.time() - t if wait_for(lambda: eid in recv.unique_ids(), timeout=10, interval=0.005) else 99)
ok(max(lat) < 0.4, "its fan-out connection LISTENs again: events written while idle arrive at once (max %.3f s)"
   % max(lat))

disp.send_signal(signal.SIGTERM)
disp.wait(timeout=20)
log.close()
text = open(log_path, errors="replace").read()
ok(not SANITIZER_RE.search(text), "dispatcher log has no sanitizer reports", text[-2000:])
ok("db.connect_failed" in text or "failed" in text, "the outage is in the dispatcher's log")
recv.stop()
subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "stop", PGDIR], capture_output=True)
