#!/usr/bin/env python3
"""Losing the database under a running console, on a private PostgreSQL cluster (so the
shared one is never touched): the console shows "stale since HH:MM:SS — reconnecting",
keeps taking keys, reconnects by itself when the server is back, and live updates work
again. Then a hot standby of that cluster, where LISTEN is refused: the console falls back
to polling change_log by id and still shows a change committed on the primary."""
import os, re, shutil, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

ROOT = rt.ROOT
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
PGDIR = os.path.join(LOGDIR, uniq("pg-reconnect"))
os.makedirs(PGDIR)


def as_pg(args, **kw):
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, capture_output=True, text=True, **kw)


out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "start", PGDIR], capture_output=True, text=True)
assert out.returncode == 0, out.stderr
penv = dict(re.findall(r"(PG\w+)='?([^'\s]+)'?", out.stdout))
pgroot = open(os.path.join(PGDIR, "pgroot")).read().strip() if os.path.exists(os.path.join(PGDIR, "pgroot")) else PGDIR
DATA = os.path.join(pgroot, "data")
standby_dir = None


def cleanup():
    if standby_dir:
        as_pg([PGBIN + "/pg_ctl", "-D", standby_dir, "-m", "immediate", "-w", "stop"])
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "stop", PGDIR], capture_output=True)


import atexit
atexit.register(cleanup)


def psql(q, port=None):
    e = dict(os.environ, **penv)
    if port:
        e["PGPORT"] = str(port)
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", q], capture_output=True, text=True, env=e)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True, env=dict(os.environ, **penv))
ok(r.returncode == 0, "private cluster migrated", r.stderr)
MID = psql("INSERT INTO merchants (name) VALUES ('reconnect-shop') RETURNING id")


def add_payment(ref, port=None):
    psql("INSERT INTO payments (public_id, merchant_id, environment, rail, reference, amount, state, deposit_address,"
         " expires_at) VALUES ('pay_' || md5(random()::text), %s, 'sandbox', 'tron:usdt', '%s', 1000000,"
         " 'awaiting_payment', 'T' || md5(random()::text), now() + interval '1 hour')" % (MID, ref), port)


for i in range(5):
    add_payment("rc-%d" % i)

c = Console(env=dict(penv, PGUSER="railtop_console"))
ok(c.wait("rc-4") is not None and c.wait("LIVE") is not None, "console up on the private cluster", c.text())

stop = as_pg([PGBIN + "/pg_ctl", "-D", DATA, "-m", "fast", "-w", "stop"])
ok(stop.returncode == 0, "PostgreSQL stopped under the console", stop.stderr)
s = c.wait(re.compile(r"stale since \d\d:\d\d:\d\d — reconnecting"), timeout=10)
ok(s is not None, "banner: stale since HH:MM:SS — reconnecting", c.text())
ok(s is not None and "rc-4" in s, "the last data stays on screen while stale")
same_as_expected(c.text(), "stale", extra=[(re.compile(r"stale since \d\d:\d\d:\d\d"), "stale since HH:MM:SS"),
                                           (re.compile(r"database: .*"), "database: ERROR")])
c.keys("2")
ok(c.wait("Exceptions  queue") is not None, "keys still work while the database is down (2 → exceptions)", c.text())
c.keys("1")
ok(c.wait("REFERENCE") is not None, "and back (1 → payments)")
time.sleep(1.5)                 # a few reconnect attempts fail (backoff), none crash the console
start = as_pg([PGBIN + "/pg_ctl", "-D", DATA, "-l", os.path.join(pgroot, "server.log"), "-w", "start"])
ok(start.returncode == 0, "PostgreSQL started again", start.stderr)
s = c.wait("stale since", absent=True, timeout=15)
ok(s is not None and "LIVE" in s and "rc-4" in s, "the console reconnects by itself: banner gone, LIVE, data back", c.text())
ok(c.wait("reconnected to the database") is not None, "status line says it reconnected")
add_payment("rc-after")
ok(c.wait("rc-after", timeout=5) is not None, "after reconnecting, LISTEN works again: a new payment appears", c.text())

# ---------------------------------------------------------------- hot standby: LISTEN refused → poll change_log
standby_dir = os.path.join(pgroot, "standby")
sport = free_port()
bb = as_pg([PGBIN + "/pg_basebackup", "-D", standby_dir, "-R", "-h", penv["PGHOST"], "-p", penv["PGPORT"],
            "-U", "postgres", "-X", "stream"])
ok(bb.returncode == 0, "standby: base backup", bb.stderr)
with open(os.path.join(standby_dir, "postgresql.auto.conf"), "a") as f:
    f.write("\nport = %d\nhot_standby = on\n" % sport)
if os.getuid() == 0:
    subprocess.run(["chown", "postgres:postgres", os.path.join(standby_dir, "postgresql.auto.conf")])
st = as_pg([PGBIN + "/pg_ctl", "-D", standby_dir, "-l", os.path.join(pgroot, "standby.log"), "-w", "start"])
ok(st.returncode == 0, "standby: started", st.stderr)
ok(wait_for(lambda: psql("SELECT pg_is_in_recovery()", port=sport) == "t", timeout=20), "standby: in recovery")

sb = Console(env=dict(penv, PGUSER="railtop_console", PGPORT=str(sport)))
s = sb.wait("LIVE (polling)")
ok(s is not None and "rc-after" in sb.text(), "on the standby LISTEN is refused: 'LIVE (polling)' and the data", sb.text())
add_payment("rc-standby")
t0 = time.time()
ok(sb.wait("rc-standby", timeout=10) is not None, "a change committed on the primary appears on the standby console",
   sb.text())
diag("primary commit → standby console: %.2f s (poll every 1 s)" % (time.time() - t0))
sb.keys("q")
is_(sb.exit_code(), 0, "standby console quits cleanly")
sb.close()
c.keys("q")
is_(c.exit_code(), 0, "console quits cleanly after the outage")
c.close()
