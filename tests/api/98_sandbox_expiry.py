#!/usr/bin/env python3
"""RAILD_SANDBOX_MIN_EXPIRY_S: a sandbox payment may ask for an expiry down to it (10 to 60 s),
so a demo or a merchant's integration test sees expiries within a minute; production never
goes below 60 s; a bad value is named in the log and the 60 s default kept."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

os.environ["RAILD_SANDBOX_MIN_EXPIRY_S"] = "11"
os.environ["RAILD_SWEEP_INTERVAL_MS"] = "100"
srv = Raild()
sb = Merchant(rails=("tron:usdt",), addresses=4)
pr = Merchant(rails=("tron:usdt",), env="production", addresses=4)


def create(m, exp):
    st, b, _ = srv.call("POST", "/v1/payments", key=m.key,
                        body={"reference": uniq("exp"), "amount": "1", "rail": "tron:usdt", "expires_in": exp})
    return st, b


for exp, want in ((11, 201), (10, 400), (9, 400), (60, 201)):
    st, b = create(sb, exp)
    is_(st, want, "sandbox, expires_in %d -> %d" % (exp, want), b)
for exp, want in ((11, 400), (59, 400), (60, 201)):
    st, b = create(pr, exp)
    is_(st, want, "production, expires_in %d -> %d (never below 60 s)" % (exp, want), b)
st, b = create(sb, 10)
ok(b.get("error", {}).get("code") == "invalid_request" and "expires_in" in b["error"]["message"],
   "the 400 names the field", b)
t0 = time.time()
st, p = create(sb, 11)
ok(wait_for(lambda: srv.call("GET", "/v1/payments/" + p["id"], key=sb.key)[1]["state"] == "expired" or None,
            timeout=25) and time.time() - t0 >= 10.5, "an 11 s sandbox payment expires after 11 s (%.1f s)"
   % (time.time() - t0))
srv.stop()

os.environ["RAILD_SANDBOX_MIN_EXPIRY_S"] = "5"
srv = Raild(name="raild-bad")
st, b = create(sb, 15)
is_(st, 400, "RAILD_SANDBOX_MIN_EXPIRY_S=5 (out of range): the 60 s minimum holds", b)
ok("payments.bad_min_expiry" in open(srv.log_path, errors="replace").read(), "…and the log names the setting")
srv.stop()
