#!/usr/bin/env python3
"""raild's own command line and environment: every bad flag or config value exits with
status 2 and a message that says what to fix, before touching the database."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *


def run(args, env_extra=None, timeout=20):
    env = dict(os.environ, **(env_extra or {}))
    r = subprocess.run([RAILD] + args, capture_output=True, text=True, env=env, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


before = row_counts()
CASES = [
    ([], None, "usage: raild <command>"),
    (["frobnicate"], None, "unknown command 'frobnicate'"),
    (["migrate", "--bogus"], None, "usage: raild migrate"),
    (["migrate", "extra"], None, "unexpected argument 'extra'"),
    (["serve", "--threads", "0"], None, "--threads must be an integer from 1 to 64"),
    (["serve", "--threads", "abc"], None, "--threads must be an integer from 1 to 64"),
    (["serve", "--threads", "65"], None, "--threads must be an integer from 1 to 64"),
    (["serve", "--threads"], None, "--threads needs a value"),
    (["serve", "--listen", "nohost"], None, "--listen must be HOST:PORT"),
    (["serve", "--listen", "127.0.0.1:99999"], None, "--listen must be HOST:PORT"),
    (["serve", "--listen", "127.0.0.1:-1"], None, "--listen must be HOST:PORT"),
    (["serve", "--bogus"], None, "unknown option '--bogus'"),
    (["serve", "--no-such-worker"], None, "unknown option '--no-such-worker'"),
    (["serve", "--listen", "127.0.0.1:0"], {"RAILD_SECRETS_KEY": "not-base64!"},
     "RAILD_SECRETS_KEY must be base64 of 32 random bytes"),
    (["serve", "--listen", "127.0.0.1:0"], {"RAILD_SECRETS_KEY": "c2hvcnQ="},
     "RAILD_SECRETS_KEY must be base64 of 32 random bytes"),
    (["admin"], None, "usage: raild admin"),
    (["admin", "nope"], None, "unknown command 'nope'"),
]
for args, env, want in CASES:
    label = "raild %s%s" % (" ".join(args), " with %s" % env if env else "")
    try:
        rc, out, err = run(args, env)
    except subprocess.TimeoutExpired:
        ok(False, label + " exits (it kept running)")
        continue
    is_(rc, 2, label + " exits 2")
    ok(want in err, label + " says what to fix", err)
    ok("rk_" not in err + out, label + " prints no key material")

rc, out, err = run(["serve", "--help"])
ok(rc == 0 and "--no-workers" in out and "--threads" in out, "serve --help documents the flags", out + err)
rc, out, err = run(["serve", "--db", "host=127.0.0.1 port=1 connect_timeout=2", "--listen", "127.0.0.1:0"])
ok(rc == 1 and "cannot connect to the database" in err, "an unreachable database is a clear error, exit 1", err)
is_(row_counts(), before, "the database is unchanged")
