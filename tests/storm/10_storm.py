#!/usr/bin/env python3
"""The fault storm's short form (issue 14): scripts/storm.py for STORM_SECONDS (30 here)
against the sanitized binaries, in its own PostgreSQL. Each invariant the checker prints
is a test; so is every planned fault having been injected. `make storm` runs it longer,
on three seeds."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import ROOT, LOGDIR, ok, is_, diag

seed = os.environ.get("STORM_SEED", "7")
env = dict(os.environ, STORM_SEED=seed, STORM_SECONDS=os.environ.get("STORM_SECONDS", "30"))
out_dir = os.path.join(LOGDIR, "storm-%s" % seed)
r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "storm.py"), out_dir], env=env,
                   capture_output=True, text=True, timeout=600)
text = r.stdout + r.stderr
with open(os.path.join(out_dir, "storm.out"), "w") as f:     # kept with the logs, for a post-mortem
    f.write(text)
lines = [l for l in text.splitlines() if re.match(r"^(ok|FAIL) ", l)]
ok(len(lines) >= 15, "the checker printed its invariants (%d)" % len(lines), text[-3000:])
for l in lines:
    m = re.match(r"^(ok|FAIL)\s+(.*?)\s+(\d+)(  \((.*)\))?$", l)
    ok(m and m.group(1) == "ok" and m.group(3) == "0", "storm seed %s: %s" % (seed, m.group(2) if m else l),
       m.group(5) if m and m.group(5) else l)
kinds = set(re.findall(r"^\s+[\d.]+ s  (\w+)", text, re.M))
is_(sorted(kinds), sorted(["kill9", "pg_restart", "receiver_down", "receiver_hang", "cancel_storm", "rpc_faults"]),
    "every kind of fault was injected at least once")
summary = re.search(r"invariants: (\d+) checked, (\d+) violated", text)
ok(summary and summary.group(2) == "0" and r.returncode == 0, "storm exits 0: %s" %
   (summary.group(0) if summary else "no summary"), text[-2000:])
failed = r.returncode != 0
for l in text.splitlines():
    if failed or re.match(r"^\s+(\d|payments|railsim)|^\[", l):
        diag(l)
