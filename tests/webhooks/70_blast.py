#!/usr/bin/env python3
"""railsim blast — the database-free libcurl sender `make bench` compares the dispatcher and
wrk against: what it sends must be what a dispatcher sends (every request verifies at the
reference receiver, each with its own webhook-id), its count must match what the receiver
accepted, and every flag is validated with a message saying what to fix."""
import base64, os, re, subprocess, sys
sys.path.insert(0, os.path.dirname(__file__))
from wh import *  # noqa: F401,F403
from wh import Receiver, RAILSIM, LOGDIR, uniq, ok, is_

SECRET = "whsec_" + base64.b64encode(b"blast-test-secret-0123456789ab").decode()
OTHER = "whsec_" + base64.b64encode(b"some-other-secret-0123456789ab").decode()


def secret_file(secret):
    path = os.path.join(LOGDIR, uniq("blast") + ".secret")
    with open(path, "w") as f:
        f.write(secret + "\n")
    os.chmod(path, 0o600)
    return path


def blast(*args, env=None):
    e = dict(os.environ)
    e.pop("RAILSIM_WEBHOOK_SECRET", None)
    e.update(env or {})
    return subprocess.run([RAILSIM, "blast"] + [str(a) for a in args], capture_output=True, text=True, env=e,
                          timeout=60)


recv = Receiver([SECRET])
good = secret_file(SECRET)

# ---------------------------------------------------------------- bad flags: exit 2, a message, nothing sent
BAD = [
    ("no --url", ["--secret-file", good], None, "--url is required"),
    ("--url not http(s)", ["--url", "ftp://127.0.0.1/x", "--secret-file", good], None, "http(s) URL"),
    ("--connections 0", ["--url", recv.url, "--secret-file", good, "--connections", 0], None, "--connections 1-1024"),
    ("--connections huge", ["--url", recv.url, "--secret-file", good, "--connections", 5000], None, "1-1024"),
    ("--seconds 0", ["--url", recv.url, "--secret-file", good, "--seconds", 0], None, "--seconds 1-600"),
    ("--seconds not a number", ["--url", recv.url, "--secret-file", good, "--seconds", "x"], None, "--seconds"),
    ("no secret anywhere", ["--url", recv.url], None, "need a whsec_ secret"),
    ("secret file missing", ["--url", recv.url, "--secret-file", "/nonexistent/secret"], None, "need a whsec_"),
    ("secret not whsec_", ["--url", recv.url, "--secret-file", secret_file("sk_live_nope")], None, "need a whsec_"),
    ("secret too short", ["--url", recv.url, "--secret-file", secret_file("whsec_QUJD")], None, "need a whsec_"),
    ("env secret malformed", ["--url", recv.url], {"RAILSIM_WEBHOOK_SECRET": "whsec_!!"}, "need a whsec_"),
    ("flag without value", ["--url"], None, "needs a value"),
    ("unknown flag", ["--url", recv.url, "--secret-file", good, "--rate", 5], None, "bad option"),
]
before = recv.stats()
for name, args, env, want in BAD:
    r = blast(*args, env=env)
    ok(r.returncode == 2 and want in r.stderr, "%s: exit 2 saying '%s'" % (name, want),
       "rc=%d stderr=%s" % (r.returncode, r.stderr[-300:]))
after = recv.stats()
is_(after["accepted"] + after["rejected"], before["accepted"] + before["rejected"],
    "rejected invocations sent nothing to the receiver")
r = blast("--help")
ok(r.returncode == 0 and "--connections" in r.stdout and "--seconds" in r.stdout, "--help exits 0 and lists the flags")

# ---------------------------------------------------------------- a real run: everything verifies, counts agree
r = blast("--url", recv.url, "--secret-file", good, "--connections", 4, "--seconds", 1)
is_(r.returncode, 0, "a run against the reference receiver exits 0")
m = re.search(r"blast: (\d+) requests in ([\d.]+) s = (\d+) requests/s \(2xx (\d+), other (\d+)\)", r.stdout)
ok(m is not None, "it prints requests, seconds and the rate", r.stdout + r.stderr)
sent, rate, good_n, other = (int(m.group(1)), int(m.group(3)), int(m.group(4)), int(m.group(5))) if m else (0, 0, 0, -1)
ok(sent > 50 and rate > 50, "it sent a real load in one second (%d requests, %d/s)" % (sent, rate))
is_(other, 0, "no request failed")
st = recv.stats()
acc = st["accepted"] - after["accepted"]
# requests still in flight when the clock stops reach the receiver but are not counted
ok(good_n <= acc <= good_n + 4, "the receiver accepted the 2xx count it printed, plus at most the 4 in flight at the end",
   "printed %d, accepted %d" % (good_n, acc))
is_(st["rejected"], after["rejected"], "every signature verified at the reference receiver")
is_(st["duplicates"], after["duplicates"], "every request had its own webhook-id (no duplicates)")
ids = recv.unique_ids()
ok(len(ids) >= good_n and all(i.startswith("evt_blast_") for i in ids), "the receiver logged each unique event id")

# the secret really matters: a sender with the wrong one is refused every time and says so
r = blast("--url", recv.url, "--connections", 2, "--seconds", 1, env={"RAILSIM_WEBHOOK_SECRET": OTHER})
m = re.search(r"\(2xx (\d+), other (\d+)\)", r.stdout)
ok(m is not None and int(m.group(1)) == 0 and int(m.group(2)) > 0,
   "with the wrong secret (from the environment) nothing is accepted", r.stdout)
is_(r.returncode, 1, "…and it exits 1")
ok(recv.stats()["rejected"] > st["rejected"], "the receiver rejected those signatures")

recv.stop()
