#!/usr/bin/env python3
"""Rate limits (issue 14: 106,329 bogus-key requests in 5 s were each a database lookup):
a client address presenting unknown keys is answered 429 too_many_failed_keys with
Retry-After once its bucket is empty — before any lookup, and for its valid keys too until
it waits; a key over its own limit gets 429 rate_limited while other keys go on; keys that
are not shaped like ours are refused as unknown; bad settings are named in the log."""
import os, sys, time, urllib.request, urllib.error
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *


def get(srv, path, k):
    req = urllib.request.Request(srv.base + path, headers={"Authorization": "Bearer " + k})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers)


good = key("viewer")
os.environ.update(RAILD_AUTH_FAILURES_PER_S="5", RAILD_RATE_PER_KEY="0")
srv = Raild("--no-workers", name="raild-failures")
for bogus in ("rk_test_" + "a" * 24, "not-a-key", "rk_live_short"):
    is_(get(srv, "/v1/whoami", bogus)[0], 401, "an unknown key (%s…) is 401" % bogus[:10])
codes = [get(srv, "/v1/whoami", "rk_test_" + "b" * 24) for _ in range(60)]
limited = [h for st, h in codes if st == 429]
ok(len(limited) >= 5 and all(st in (401, 429) for st, _ in codes),
   "a burst of 60 unknown keys: the first ~50 are 401, then 429 (%d limited)" % len(limited))
ok(limited and int(limited[0].get("Retry-After", "0")) >= 1, "the 429 says when to retry (Retry-After)",
   limited[0] if limited else None)
st, h = get(srv, "/v1/whoami", good)
is_(st, 429, "while the address is shut out even a valid key waits")
time.sleep(int(limited[0].get("Retry-After", "1")) + 0.5 if limited else 1)
is_(get(srv, "/v1/whoami", good)[0], 200, "after Retry-After the valid key is served again")
srv.stop()

os.environ.update(RAILD_AUTH_FAILURES_PER_S="20", RAILD_RATE_PER_KEY="10")
srv = Raild("--no-workers", name="raild-perkey")
busy, other = key("viewer"), key("viewer")
codes = [get(srv, "/v1/whoami", busy)[0] for _ in range(40)]
ok(codes.count(200) >= 15 and codes.count(429) >= 5, "a key over 10/s (bursts of 20) gets 429 rate_limited",
   (codes.count(200), codes.count(429)))
is_(get(srv, "/v1/whoami", other)[0], 200, "another key is not affected")
srv.stop()

os.environ.update(RAILD_RATE_PER_KEY="lots", RAILD_AUTH_FAILURES_PER_S="-1")
srv = Raild("--no-workers", name="raild-badsettings")
get(srv, "/v1/whoami", good)
log = open(srv.log_path, errors="replace").read()
ok("name=RAILD_RATE_PER_KEY" in log and "name=RAILD_AUTH_FAILURES_PER_S" in log,
   "bad limit settings are named in the log (defaults used)")
is_(get(srv, "/v1/whoami", good)[0], 200, "…and raild serves")
srv.stop()
