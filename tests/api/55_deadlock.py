#!/usr/bin/env python3
"""A request that loses a deadlock gets 409 concurrent_update with Retry-After — not a 500 —
its transaction is rolled back, and the same request sent again succeeds.
The deadlock is made for real: another session holds the exception row while an operator's
resolve (which locks the payment, then the exception) waits for it, then that session asks
for the payment. PostgreSQL aborts the request that waited first: raild's."""
import os, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild()
W, VIEWER = key("watcher"), key("viewer")
OPS = admin("create-key", "--role", "ops", "--name", uniq("ops-deadlock"), "--env", "sandbox", check=True)[1].strip()
m = Merchant(rails=("tron:usdt",), addresses=3)

# an underpaid payment and its exception, produced the real way
p = underpaid_tron_payment(srv, m, W, uniq("dl"))
exc = srv.call("GET", "/v1/exceptions?payment_id=" + p["id"], key=VIEWER)[1]["data"]
ok(len(exc) == 1 and exc[0]["type"] == "underpaid", "an underpaid exception to resolve", exc)
E = exc[0]
PAY_ID = sql1("SELECT id FROM payments WHERE public_id = :'p'", p=p["id"])
before = row_counts(["audit_log", "payment_events", "webhook_outbox", "ledger_transactions"])

# another session takes the exception row
other = subprocess.Popen(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=0"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
other.stdin.write("BEGIN;\nSELECT 'held' FROM exceptions WHERE public_id = '%s' FOR UPDATE;\n" % E["id"])
other.stdin.flush()
ok(wait_for(lambda: sql1("SELECT count(*) FROM pg_locks l JOIN exceptions e ON l.relation = 'exceptions'::regclass"
                         " WHERE l.pid <> pg_backend_pid() AND l.mode = 'RowShareLock'") not in (None, "0"), timeout=10),
   "the other session holds the exception row")

res = []
t = threading.Thread(target=lambda: res.append(srv.call(
    "POST", "/v1/exceptions/%s/resolve" % E["id"], key=OPS,
    body={"version": E["version"], "resolution": "accept_partial", "note": "customer agreed to the partial"})))
t.start()
waiting = lambda: sql1("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'raild'"
                       " AND wait_event_type = 'Lock'")
ok(wait_for(lambda: waiting() not in (None, "0"), timeout=10), "the resolve is waiting for the exception row")
# …and now the other session wants the payment the resolve already holds: a cycle
other.stdin.write("SELECT 'got payment' FROM payments WHERE id = %s FOR UPDATE;\nROLLBACK;\n" % PAY_ID)
other.stdin.flush()
t.join(timeout=30)
ok(res, "the resolve answered")
st, b, hdrs = res[0] if res else (0, {}, {})
ok(st == 409 and b.get("error", {}).get("code") == "concurrent_update" and "retry" in b["error"]["message"],
   "the request that lost the deadlock → 409 concurrent_update, saying to retry (got %s)" % st, b)
is_(hdrs.get("Retry-After"), "1", "…with Retry-After: 1")
out, _ = other.communicate(timeout=30)
ok("got payment" in out, "the other session went on once raild's transaction was rolled back", out)

e_now = srv.call("GET", "/v1/exceptions/" + E["id"], key=VIEWER)[1]
is_((e_now["state"], e_now["version"]), (E["state"], E["version"]), "the exception is unchanged")
is_(row_counts(["audit_log", "payment_events", "webhook_outbox", "ledger_transactions"]), before,
    "nothing of the rolled-back resolve was written (audit, events, outbox, ledger)")

st, b, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % E["id"], key=OPS,
                    body={"version": E["version"], "resolution": "accept_partial", "note": "customer agreed to the partial"})
ok(st == 200 and b["state"] == "resolved", "the same request again succeeds", b)
srv.stop()
