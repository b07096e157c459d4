#!/usr/bin/env python3
"""Database failures the fault storm found (issue 14):
- an order whose INSERT fails for a reason other than a bad date read the SQLSTATE from a
  freed result (heap-use-after-free under ASan, the copy died);
- a request thread whose connection the server dropped (a PostgreSQL restart) answered its
  next request 500 or 503; the key lookup is that request's first statement, so it now runs
  again on a fresh connection and the request succeeds;
- a connection lost mid-request is 503 db_unavailable with Retry-After, never 500."""
import os, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild()
m = Merchant()
ref = uniq("uaf")
sql("ALTER TABLE orders ADD CONSTRAINT t99_probe CHECK (reference <> :'r') NOT VALID", r=ref)
try:
    st, b, _ = srv.call("PUT", "/v1/orders/" + ref, key=m.key,
                        body={"amount": "10", "status": "paid", "updated_at": "2026-12-01T10:00:00Z"})
    is_((st, b.get("error", {}).get("code")), (500, "internal"), "an order the database refuses: 500 internal", b)
    ok(srv.alive(), "raild is still running after it (the SQLSTATE is read before the result is freed)")
finally:
    sql("ALTER TABLE orders DROP CONSTRAINT t99_probe")
is_(sql1("SELECT count(*) FROM orders WHERE reference = :'r'", r=ref), "0", "and no order was stored")

st, _, _ = srv.call("GET", "/v1/payments?limit=1", key=m.key)
is_(st, 200, "a request warms the thread connections")
for i in range(3):
    n = sql1("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'raild'"
             " AND usename = 'railtop_app' AND datname = current_database()")   # not other tests' databases
    ok(int(n) >= 1, "round %d: the server drops raild's request connections (%s)" % (i + 1, n))
    time.sleep(0.2)
    codes = [srv.call("GET", "/v1/payments?limit=1", key=m.key)[0] for _ in range(12)]
    is_(set(codes), {200}, "round %d: every request after the drop succeeds on a fresh connection" % (i + 1), codes)
srv.stop()
