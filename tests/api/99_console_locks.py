#!/usr/bin/env python3
"""The read-only console role cannot take raild's advisory locks (0072): a security review
stalled chain ingest for 15 s by taking pg_advisory_lock(hashtext('raild.ingest.tron')) as
railtop_console. Every lock-taking variant is refused to it, raild's own role keeps them,
and ingest answers while the console tries."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *


def as_role(role, q):
    r = subprocess.run(["psql", "-X", "-At", "-U", role, "-v", "ON_ERROR_STOP=1", "-c", q], capture_output=True, text=True)
    return r.returncode, (r.stdout + r.stderr).strip()


CALLS = ["pg_advisory_lock(hashtext('raild.ingest.tron'))", "pg_advisory_lock(1, 2)",
         "pg_advisory_lock_shared(hashtext('raild.sweeper'))", "pg_try_advisory_lock(hashtext('raild.sweeper'))",
         "pg_try_advisory_lock_shared(7)", "pg_advisory_xact_lock(hashtext('raild.rollup'))",
         "pg_try_advisory_xact_lock(hashtext('raild.recon'))", "pg_advisory_xact_lock_shared(3, 4)",
         "pg_try_advisory_xact_lock_shared(5)"]
for c in CALLS:
    rc, out = as_role("railtop_console", "SELECT " + c)
    ok(rc != 0 and "permission denied" in out, "railtop_console: %s is refused" % c, out)
rc, out = as_role("railtop_app", "SELECT pg_try_advisory_lock(hashtext('t99')), pg_advisory_unlock(hashtext('t99'))")
is_((rc, out), (0, "t|t"), "railtop_app (raild) still takes and releases them")

# the review's attack: the console role holds the ingest lock while a watcher posts a head
srv = Raild("--no-workers")
W = key("watcher", network="tron-nile")
hold = subprocess.Popen(["psql", "-X", "-q", "-U", "railtop_console", "-c",
                         "SELECT pg_advisory_lock(hashtext('raild.ingest.tron-nile')); SELECT pg_sleep(20)"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(0.5)
h = int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = 'tron-nile'") or 1000) + 1
t0 = time.time()
st, b, _ = srv.call("POST", "/v1/chain/heads", key=W, body={"network": "tron-nile", "head": h})
took = time.time() - t0
ok(st == 200 and took < 3, "a watcher's head is ingested at once while the console role tries to hold the lock (%.2f s)" % took, b)
hold.kill()
hold.wait()
srv.stop()
