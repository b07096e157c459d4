#!/usr/bin/env python3
"""Bulk actions on exceptions (DESIGN §9, for the console's tagged rows): POST
/v1/exceptions/bulk applies one action to up to 1,000 exceptions, each item its own
transaction and audit row through the same path as a single action; a stale version is a
409 for that item only, reported and never retried; bad requests change nothing."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild("--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=8)
w = key("watcher")
ops, ops2, viewer = key("ops"), key("ops"), key("viewer")
pays = [underpaid_tron_payment(srv, m, w, uniq("bulk")) for _ in range(4)]
exc = [sql("SELECT e.public_id, e.version FROM exceptions e JOIN payments p ON p.id = e.payment_id"
           " WHERE p.public_id = :'p' AND e.type = 'underpaid'", p=p["id"])[0] for p in pays]
ids = [e[0] for e in exc]
B = "/v1/exceptions/bulk"
items = lambda vs: [{"id": i, "version": v} for i, v in zip(ids, vs)]

TABLES = ["exceptions", "audit_log", "ledger_transactions", "webhook_outbox"]
for label, body, st_, code, k in [
    ("an unknown action", {"action": "delete", "items": items([1] * 4)}, 422, "invalid_action", ops),
    ("no items", {"action": "claim", "items": []}, 400, "invalid_request", ops),
    ("1,001 items", {"action": "claim", "items": [{"id": ids[0], "version": 1}] * 1001}, 400, "invalid_request", ops),
    ("an item without a version", {"action": "claim", "items": [{"id": ids[0]}]}, 400, "invalid_request", ops),
    ("an item with another field", {"action": "claim", "items": [{"id": ids[0], "version": 1, "x": 1}]}, 400,
     "invalid_request", ops),
    ("an unknown field", {"action": "claim", "items": items([1] * 4), "force": True}, 400, "unknown_field", ops),
    ("a viewer key", {"action": "claim", "items": items([1] * 4)}, 403, "forbidden", viewer),
]:
    before = row_counts(TABLES)
    st, b, _ = srv.call("POST", B, key=k, body=body)
    is_((st, b.get("error", {}).get("code")), (st_, code), "bulk: %s -> %d %s" % (label, st_, code), b)
    is_(row_counts(TABLES), before, "bulk: %s: nothing changed" % label)

st, b, _ = srv.call("POST", B, key=ops, body={"action": "claim", "items": items([1] * 3)})
is_((st, b.get("succeeded"), b.get("failed")), (200, 3, 0), "bulk claim of three: three done", b)
is_([r["version"] for r in b["results"]], [2, 2, 2], "each answered with its new version")
is_([a[0] for a in sql("SELECT count(*) FROM audit_log WHERE action = 'exception.claim' AND object_id = ANY(string_to_array(:'i', ','))",
                        i=",".join(ids[:3]))], ["3"], "three audit rows")

# one of them changes meanwhile: its item is a 409, the others are resolved
st, _, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % ids[1], key=ops2,
                    body={"version": 2, "resolution": "accept_partial", "note": "done by a colleague"})
is_(st, 200, "a colleague resolves one of them first")
st, b, _ = srv.call("POST", B, key=ops, body={"action": "resolve", "resolution": "write_off", "note": "small amounts",
                                              "items": items([2, 2, 2, 1])})
res = {r["id"]: r for r in b.get("results", [])}
ok(st == 200 and b["succeeded"] == 3 and b["failed"] == 1, "bulk resolve: three done, one failed", b)
is_((res[ids[1]]["status"], res[ids[1]]["error"]["code"]), (409, "version_conflict"),
    "the changed one is a 409 version conflict, reported")
is_(sql1("SELECT resolution FROM exceptions WHERE public_id = :'i'", i=ids[1]), "accept_partial",
    "and the colleague's resolution stands (never retried blindly)")
is_(sorted(sql1("SELECT resolution FROM exceptions WHERE public_id = :'i'", i=i) for i in (ids[0], ids[2], ids[3])),
    ["write_off"] * 3, "the others are written off (the unclaimed one too)")
is_(sql1("SELECT count(*) FROM audit_log WHERE action = 'exception.resolve' AND object_id = ANY(string_to_array(:'i', ','))",
         i=",".join(ids)), "4", "one audit row per resolution (three bulk, one single)")
is_(sql1("SELECT count(*) FROM ledger_transactions WHERE kind = 'write_off' AND exception_id IN (SELECT id FROM exceptions"
         " WHERE public_id = ANY(string_to_array(:'i', ',')))", i=",".join(ids)), "3", "and three write-off postings")

# a resolution needing more than one note for all: per-item errors, nothing half-done
st, b, _ = srv.call("POST", B, key=ops, body={"action": "reopen", "items": items([3, 3, 3, 2])})
ok(st == 200 and b["failed"] == 4 and all(r["error"]["code"] == "note_required" for r in b["results"]),
   "bulk reopen without a note: every item refused with note_required", b)
srv.stop()
