#!/usr/bin/env python3
"""`make demo` without a terminal, as CI runs it: the README's first command must bring up
its own PostgreSQL, raild, receivers and railsim, produce a living gateway (payments moving
through states, exceptions, delivered webhooks, reconciliation breaks), print the summary,
exit 0 — and leave nothing running."""
import os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

env = dict(os.environ, CI="true", DEMO_SECONDS="20")
for k in ("PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "RAILD_WEBHOOK_ALLOW_NETS", "TERM"):
    env.pop(k, None)   # the demo sets up everything itself, as on a fresh machine
t0 = time.time()
r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "demo.sh")], stdin=subprocess.DEVNULL,
                   capture_output=True, text=True, env=env, timeout=300)
out = r.stdout
took = time.time() - t0
diag("demo ran %.0f s" % took)
# run() returns when every process holding the demo's output has exited: an orphan (a
# leftover sleep, a receiver) would keep it open long after the summary
ok(took < 90, "the demo returns promptly after its %s s run: nothing it started outlives it (%.0f s)"
   % (env["DEMO_SECONDS"], took))
is_(r.returncode, 0, "the demo exits 0 without a terminal")
if r.returncode:
    diag(out[-2000:] + r.stderr[-2000:])


def section(title):
    m = re.search(r"-- %s[^\n]*\n((?:   [^\n]*\n)*)" % re.escape(title), out)
    rows = {}
    for line in (m.group(1).splitlines() if m else []):
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            rows[parts[0]] = int(parts[1])
    return rows


states = section("payments by state")
ok(sum(states.values()) >= 10 and len(states) >= 3, "payments were created and moved through several states %s" % states)
ok(any(s in states for s in ("confirming", "confirmed", "finalized")), "some reached confirming or beyond")
ok(sum(section("exceptions by type").values()) >= 1, "the simulated mistakes opened exceptions %s" % section("exceptions by type"))
ok(section("webhook deliveries by status").get("succeeded", 0) >= 5,
   "webhooks were delivered to the merchants' receivers %s" % section("webhook deliveries by status"))
ok("-- reconciliation breaks by class" in out, "the reconciliation summary is printed")
payouts = section("payouts by state")
ok(sum(payouts.get(s, 0) for s in ("broadcast", "confirming", "confirmed", "finalized")) >= 1,
   "money moved out: an overpayment refunded by the ops colleague, approved by treasury, sent on anvil %s" % payouts)
m = re.search(r"payments_created=(\d+) payments_failed=(\d+)", out)
ok(m and int(m.group(1)) > 0 and int(m.group(2)) == 0, "railsim created payments through the API, none failed",
   m.group(0) if m else out[-500:])

# the ethereum:usdt rail runs on a real node (anvil) through raild's own watcher
nets = re.search(r"-- networks[^\n]*\n((?:   [^\n]*\n)*)", out)
anvil = [l.split() for l in (nets.group(1).splitlines() if nets else []) if l.split()[:1] == ["anvil"]]
ok(anvil and anvil[0][1] == "sandbox" and anvil[0][-1] == "running" and int(anvil[0][2]) > 5,
   "anvil is a sandbox network whose raild watcher runs and sees blocks", anvil)
by_net = re.search(r"-- chain transfers by network[^\n]*\n((?:   [^\n]*\n)*)", out)
anvil_xfers = sum(int(l.split()[-1]) for l in (by_net.group(1).splitlines() if by_net else []) if l.split()[0] == "anvil")
ok(anvil_xfers >= 1, "real token transfers on anvil were ingested by the watcher (%d)" % anvil_xfers)
ok(not any(l.startswith("   sepolia") or l.startswith("   ethereum ") for l in out.splitlines()),
   "nothing simulated on the ethereum networks: that rail is the real node's")
left_anvil = [l for l in subprocess.run(["pgrep", "-af", "anvil"], capture_output=True, text=True).stdout.splitlines()
              if "--block-time" in l and "pgrep" not in l]   # only the demo's anvil mines on a timer
ok(not left_anvil, "the demo's anvil is stopped with it", "\n".join(left_anvil))

# nothing left behind: no demo process, no pid file, no cluster
time.sleep(0.5)
left = subprocess.run(["pgrep", "-af", os.path.join(ROOT, "build", "demo")], capture_output=True, text=True).stdout
left = [l for l in left.splitlines() if "pgrep" not in l]
ok(not left, "no process of the demo is left running", "\n".join(left))
ok(not os.path.exists(os.path.join(ROOT, "build", "demo", "pids")), "the demo's pid file is gone")

# everything the demo wrote after its database started is private (umask 077): keys,
# webhook secrets, the endpoints' JSON, the anvil URLs
demo_dir = os.path.join(ROOT, "build", "demo")
loose = []
for base, dirs, files in os.walk(demo_dir):
    if os.path.join(demo_dir, "pg") in base or base.endswith("/node_modules"):
        continue
    for f in files:
        path = os.path.join(base, f)
        if (f.startswith(("endpoint-", "whsec-", "anvil")) or "/keys" in base) and os.stat(path).st_mode & 0o077:
            loose.append("%s %o" % (os.path.relpath(path, demo_dir), os.stat(path).st_mode & 0o777))
ok(not loose, "no key, webhook secret, endpoint or node URL file of the demo is readable by others", loose)
