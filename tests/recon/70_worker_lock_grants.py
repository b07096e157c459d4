#!/usr/bin/env python3
"""The background runner inside raild serve finds a new break and clears it by itself
(the console sees both through change_log); runs are serialised across copies by an
advisory lock (a second runner waits); the console role reads the recon tables and cannot
write them."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from reconlib import *

srv = Raild()                       # with the recon worker
m = Merchant()
cl0 = int(sql1("SELECT coalesce(max(id), 0) FROM change_log"))
st, _, _ = order(srv, m, "live-1", "9.99", "paid", "2026-11-26T10:00:00Z")
is_(st, 201, "an order says paid; the gateway has no payment")
bid = break_id("missing_in_provider", m.id, "sandbox", "live-1")
got = wait_for(lambda: sql1("SELECT state FROM recon_breaks WHERE public_id = :'i'", i=bid), timeout=15)
is_(got, "new", "the worker opened missing_in_provider without anyone running recon")
ok(int(sql1("SELECT count(*) FROM change_log WHERE tbl = 'recon_breaks' AND id > :'c'", c=cl0)) >= 1,
   "the change log carries it for the console")
st, _, _ = order(srv, m, "live-1", "9.99", "canceled", "2026-11-26T11:00:00Z")
got = wait_for(lambda: sql1("SELECT state FROM recon_breaks WHERE public_id = :'i'", i=bid) == "resolved", timeout=15)
ok(got, "the merchant cancels the order: the worker resolves the break")

# --- one run at a time: another session holds the lock, a CLI run waits for it
holder = subprocess.Popen(["psql", "-X", "-q", "-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
holder.stdin.write("SELECT 'held' FROM (SELECT pg_advisory_lock(7236020)) x;\n")
holder.stdin.flush()
line = holder.stdout.readline().strip()
is_(line, "held", "a second runner holds the recon lock")
t0 = time.time()
run = subprocess.Popen([RAILD, "recon", "--full"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.5)
ok(run.poll() is None, "raild recon waits while the other run holds the lock")
holder.stdin.write("SELECT pg_advisory_unlock(7236020);\n")
holder.stdin.close()
holder.wait()
out, err = run.communicate(timeout=60)
ok(run.returncode == 0 and "full" in out and time.time() - t0 >= 1.5, "and runs once it is released", out + err)

# --- grants: the console reads, never writes
def as_console(q):
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input="SET ROLE railtop_console;\n" + q,
                          capture_output=True, text=True)
r = as_console("SELECT count(*) FROM recon_breaks; SELECT count(*) FROM orders; SELECT count(*) FROM ledger_postings;"
               " SELECT count(*) FROM recon_checkpoints; SELECT recon_fmt(1), recon_break_fields('orphan_posting', NULL);")
ok(r.returncode == 0, "railtop_console reads breaks, orders, the ledger, checkpoints and the helper functions", r.stderr)
r = as_console("UPDATE recon_breaks SET state = 'resolved';")
ok(r.returncode != 0, "railtop_console cannot change a break", r.stdout)
ok(srv.alive(), "raild still serving")
