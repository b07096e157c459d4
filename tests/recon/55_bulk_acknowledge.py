#!/usr/bin/env python3
"""Bulk actions for the console's tagged rows outside exceptions: finance acknowledges many
breaks in one call (POST /v1/recon/breaks/bulk-acknowledge), support retries many deliveries
(POST /v1/webhook-deliveries/bulk-retry) — each item through the single route, with its own
audit row; unknown items fail alone; bad requests change nothing."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from reconlib import *

srv = Raild("--no-recon")
fin, sup, viewer = key("finance"), key("support"), key("viewer")
m = Merchant(addresses=2)
TS = "2026-11-26T10:00:00Z"
for i in range(3):
    order(srv, m, "bulk-mip-%d" % i, "5", "paid", TS)
st, run, _ = srv.call("POST", "/v1/recon/runs", key=fin, body={"mode": "full"})
ids = [break_id("missing_in_provider", m.id, "sandbox", "bulk-mip-%d" % i) for i in range(3)]
ok(all(sql1("SELECT state FROM recon_breaks WHERE public_id = :'i'", i=i) for i in ids), "three breaks", ids)

TABLES = ["recon_breaks", "audit_log"]
for label, path, body, k, st_, code in [
    ("no items", "/v1/recon/breaks/bulk-acknowledge", {"note": "n", "items": []}, fin, 400, "invalid_request"),
    ("an item with a version", "/v1/recon/breaks/bulk-acknowledge", {"note": "n", "items": [{"id": ids[0], "version": 1}]},
     fin, 400, "invalid_request"),
    ("an unknown field", "/v1/recon/breaks/bulk-acknowledge", {"note": "n", "items": [{"id": ids[0]}], "all": 1}, fin,
     400, "unknown_field"),
    ("a viewer key", "/v1/recon/breaks/bulk-acknowledge", {"note": "n", "items": [{"id": ids[0]}]}, viewer, 403,
     "forbidden"),
    ("deliveries: a finance key", "/v1/webhook-deliveries/bulk-retry", {"items": [{"id": "whd_1"}]}, fin, 403,
     "forbidden"),
    ("deliveries: 1,001 items", "/v1/webhook-deliveries/bulk-retry", {"items": [{"id": "whd_1"}] * 1001}, sup, 400,
     "invalid_request"),
]:
    before = row_counts(TABLES)
    st, b, _ = srv.call("POST", path, key=k, body=body)
    is_((st, b.get("error", {}).get("code")), (st_, code), "%s -> %d %s" % (label, st_, code), b)
    is_(row_counts(TABLES), before, "%s: nothing changed" % label)

st, b, _ = srv.call("POST", "/v1/recon/breaks/bulk-acknowledge", key=fin,
                    body={"note": "merchant confirmed the orders are test data", "items": [{"id": i} for i in ids] +
                          [{"id": "brk_nope"}]})
ok(st == 200 and b["succeeded"] == 3 and b["failed"] == 1 and b["results"][3]["status"] == 404,
   "bulk acknowledge: three done, the unknown one a 404 alone", b)
fin_name = sql1("SELECT name FROM api_keys WHERE hash = sha256(convert_to(:'k', 'UTF8'))", k=fin)
is_([sql1("SELECT acknowledged_by FROM recon_breaks WHERE public_id = :'i'", i=i) for i in ids], [fin_name] * 3,
    "database: all three acknowledged by finance")
is_(sql1("SELECT count(*) FROM audit_log WHERE object_id = ANY(string_to_array(:'i', ','))", i=",".join(ids)), "3",
    "one audit row each")
st, b, _ = srv.call("POST", "/v1/webhook-deliveries/bulk-retry", key=sup,
                    body={"reason": "endpoint back", "items": [{"id": "whd_999999999"}, {"id": "nope"}]})
ok(st == 200 and b["failed"] == 2 and all(r["status"] == 404 for r in b["results"]),
   "bulk retry: unknown deliveries are each a 404", b)
srv.stop()
