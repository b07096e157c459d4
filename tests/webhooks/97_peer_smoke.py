#!/usr/bin/env python3
"""The bench's peer row as a smoke test (issue 13 §2), so it cannot rot: graphile-worker
(npm) signs 200 events with the standardwebhooks package, POSTs them with fetch to a real
`railsim receiver` and records an attempt row each, in a database of its own. The receiver
verifies every signature; every event arrives and has its successful attempt recorded."""
import json, os, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from wh import *
from rt import ROOT, uniq, ok, is_, diag, sql

NPM_DIR = os.path.join(ROOT, "build", "npm")
if not os.path.isdir(os.path.join(NPM_DIR, "node_modules", "graphile-worker")) or \
        not os.path.isdir(os.path.join(NPM_DIR, "node_modules", "standardwebhooks")):
    r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", NPM_DIR, "graphile-worker@0.16",
                        "standardwebhooks"], capture_output=True, text=True)
    ok(r.returncode == 0, "npm install graphile-worker standardwebhooks into build/npm", r.stdout + r.stderr)
SECRET = "whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQg=="
recv = Receiver([SECRET])
db = "peer_" + uniq("s").replace("-", "_")
sql("CREATE DATABASE %s" % db)
secret_file = os.path.join(LOGDIR, uniq("peer") + ".secret")
with open(secret_file, "w") as f:
    f.write(SECRET + "\n")
os.chmod(secret_file, 0o600)
N = 200
r = subprocess.run(["node", os.path.join(ROOT, "scripts", "bench-peer-graphile.js"), str(N), recv.url, secret_file, "8",
                    "smoke"], capture_output=True, text=True, timeout=180, env=dict(os.environ, PGDATABASE=db))
ok(r.returncode == 0, "graphile-worker delivered and recorded every job", r.stdout[-500:] + r.stderr[-2000:])
out = json.loads(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else {}
is_(out.get("n"), N, "%d events with a successful attempt recorded" % N)
diag("peer smoke: %s" % out)
st = recv.stats()
is_((st["unique"], st["rejected"]), (N, 0), "the receiver verified and accepted all %d, rejected none" % N)
q = subprocess.run(["psql", "-X", "-At", "-d", db, "-c", "SELECT count(DISTINCT event_id) FILTER (WHERE success),"
                    " count(*) FILTER (WHERE response_body IS NULL AND success) FROM bench_peer_attempts"],
                   capture_output=True, text=True)
is_(q.stdout.strip(), "%d|0" % N, "each has its attempt row, with the response body", q.stderr)
recv.stop()
