#!/usr/bin/env python3
"""Liveness and readiness apart (issue 14): /healthz answers from the process alone, /readyz
asks the database for a read of api_keys within 1 s. With api_keys locked (the review's
stalled table) /readyz says 503 promptly while /healthz stays 200; once the lock goes,
/readyz is 200 again."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild("--no-workers")
st, b, _ = srv.call("GET", "/readyz")
is_((st, b.get("status")), (200, "ready"), "/readyz: ready", b)
hold = subprocess.Popen(["psql", "-X", "-q", "-c", "BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ok(wait_for(lambda: sql1("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'api_keys'"
                         " AND l.mode = 'AccessExclusiveLock' AND l.granted") == "1" or None, timeout=5), "api_keys is locked")
t0 = time.time()
st, b, _ = srv.call("GET", "/readyz")
took = time.time() - t0
ok(st == 503 and b.get("error", {}).get("code") == "not_ready" and took < 2.5,
   "/readyz answers 503 not_ready within ~1 s while api_keys is locked (%.2f s)" % took, b)
t0 = time.time()
st, b, _ = srv.call("GET", "/healthz")
ok(st == 200 and time.time() - t0 < 0.5, "/healthz stays 200 at once: it never waits on the database (%.2f s)" % (time.time() - t0))
hold.wait()
st, b, _ = srv.call("GET", "/readyz")
is_(st, 200, "the lock gone, /readyz is 200 again", b)
srv.stop()
