#!/usr/bin/env python3
"""The commerce plane's API: PUT /v1/orders/{reference} creates and updates an order,
replays change nothing, an older updated_at never overwrites a newer one, bad input is
a 4xx with a stable code and the database unchanged; merchant keys only, own scope."""
import os, sys
sys.path.insert(0, os.path.dirname(__file__))
from reconlib import *

srv = Raild("--no-recon")
m = Merchant()
other = Merchant()
P = "/v1/orders/"

st, o, _ = srv.call("PUT", P + "ord-1", key=m.key, body={"amount": "125.50", "status": "pending",
                                                          "updated_at": "2026-11-26T12:00:00Z"})
is_(st, 201, "a new order is 201")
is_((o["reference"], o["amount"], o["amount_units"], o["status"], o["applied"]),
    ("ord-1", "125.5", "125500000000000000000", "pending", True), "the order as stored: exact, 10^-18 units")
st, o, _ = srv.call("PUT", P + "ord-1", key=m.key, body={"amount": "125.50", "status": "pending",
                                                          "updated_at": "2026-11-26T12:00:00Z"})
is_((st, o["applied"]), (200, False), "replaying the same change is 200 and applies nothing")
st, o, _ = srv.call("PUT", P + "ord-1", key=m.key, body={"amount": "125.50", "status": "paid",
                                                          "updated_at": "2026-11-26T12:05:00+01:00"})
is_((st, o["status"], o["applied"]), (200, "pending", False),
    "12:05+01:00 is older than 12:00Z: ignored, status stays pending")
st, o, _ = srv.call("PUT", P + "ord-1", key=m.key, body={"amount": "125.50", "status": "paid",
                                                          "updated_at": "2026-11-26T12:01:00Z"})
is_((st, o["status"], o["applied"]), (200, "paid", True), "a newer change applies")
st, o, _ = srv.call("PUT", P + "ord-1", key=m.key, body={"amount": "125.50", "status": "pending",
                                                          "updated_at": "2026-11-26T12:00:30Z"})
is_((st, o["status"], o["applied"]), (200, "paid", False), "an older change arriving late never overwrites")
st, o, _ = srv.call("PUT", P + "ord-1", key=m.key, body={"amount": "99", "status": "paid",
                                                          "updated_at": "2026-11-26T12:01:00Z"})
is_((st, o.get("error", {}).get("code")), (409, "order_conflict"),
    "the same updated_at with other content is 409 order_conflict")
is_(sql1("SELECT amount::text || ' ' || status FROM orders WHERE reference = 'ord-1' AND merchant_id = :'m'", m=m.id),
    "125500000000000000000 paid", "the stored order is the newest valid one")
st, o, _ = srv.call("GET", P + "ord-1", key=m.key)
is_((st, o["status"]), (200, "paid"), "GET returns the order")

ref = "Bestellung-ü-'x;--"
st, o, _ = order(srv, m, ref, "0.000000000000000001", "fulfilled", "2026-11-26T12:00:00.123456Z")
is_((st, o.get("reference"), o.get("amount")), (201, ref, "0.000000000000000001"),
    "a UTF-8 reference with SQL metacharacters and an 18-decimal amount round-trip exactly")

# --- scope: another merchant and the production key see nothing; operators are refused
prod = key("merchant", env="production", merchant=m.id)
for label, k in (("another merchant", other.key), ("the production key", prod)):
    st, b, _ = srv.call("GET", P + "ord-1", key=k)
    is_((st, b["error"]["code"]), (404, "not_found"), "%s: GET ord-1 -> 404" % label)
st, o, _ = srv.call("PUT", P + "ord-1", key=prod, body={"amount": "1", "status": "paid",
                                                         "updated_at": "2026-11-26T13:00:00Z"})
is_(st, 201, "the production key has its own ord-1 (environments are separate)")
for role in ("viewer", "finance", "admin", "watcher"):
    st, b, _ = srv.call("PUT", P + "ord-9", key=key(role), body={"amount": "1", "status": "paid",
                                                                  "updated_at": "2026-11-26T13:00:00Z"})
    is_((st, b["error"]["code"]), (403, "forbidden"), "%s key cannot put orders" % role)

# --- bad input: 4xx, stable code, nothing written
GOOD = {"amount": "10.00", "status": "paid", "updated_at": "2026-11-26T12:00:00Z"}
def w(**kw):
    b = dict(GOOD)
    for k, v in kw.items():
        if v is None:
            b.pop(k)
        else:
            b[k] = v
    return b
CASES = [
    ("amount as a JSON number", "bad-1", w(amount=10), 422, "invalid_amount"),
    ("negative amount", "bad-1", w(amount="-1"), 422, "invalid_amount"),
    ("zero amount", "bad-1", w(amount="0"), 422, "invalid_amount"),
    ("exponent", "bad-1", w(amount="1e3"), 422, "invalid_amount"),
    ("19 decimals", "bad-1", w(amount="1.0000000000000000001"), 422, "invalid_amount"),
    ("empty amount", "bad-1", w(amount=""), 422, "invalid_amount"),
    ("amount with spaces", "bad-1", w(amount=" 1"), 422, "invalid_amount"),
    ("amount beyond 128 bits", "bad-1", w(amount="9" * 40), 422, "invalid_amount"),
    ("missing amount", "bad-1", w(amount=None), 400, "invalid_request"),
    ("unknown status", "bad-1", w(status="shipped"), 422, "invalid_status"),
    ("status in capitals", "bad-1", w(status="PAID"), 422, "invalid_status"),
    ("missing status", "bad-1", w(status=None), 400, "invalid_request"),
    ("date without zone", "bad-1", w(updated_at="2026-11-26T12:00:00"), 422, "invalid_updated_at"),
    ("February 30", "bad-1", w(updated_at="2026-02-30T12:00:00Z"), 422, "invalid_updated_at"),
    ("'now'", "bad-1", w(updated_at="now"), 422, "invalid_updated_at"),
    ("'infinity'", "bad-1", w(updated_at="infinity"), 422, "invalid_updated_at"),
    ("hour 24", "bad-1", w(updated_at="2026-11-26T24:00:00Z"), 422, "invalid_updated_at"),
    ("missing updated_at", "bad-1", w(updated_at=None), 400, "invalid_request"),
    ("unknown field", "bad-1", dict(GOOD, rail="tron:usdt"), 400, "unknown_field"),
    ("201-character reference (path segments stop at 200 bytes)", "r" * 201, GOOD, 404, "not_found"),
    ("control character in reference", "a%01b", GOOD, 422, "invalid_reference"),
    ("invalid UTF-8 in reference", "a%FFb", GOOD, 422, "invalid_reference"),
]
before = row_counts()
for label, ref, body, want_st, want_code in CASES:
    st, b, _ = srv.call("PUT", P + ref, key=m.key, body=body)
    code = b.get("error", {}).get("code") if isinstance(b, dict) else None
    ok((st, code) == (want_st, want_code), "%s -> %d %s" % (label, want_st, want_code), "got %s %r" % (st, b))
for label, raw in (("not JSON", b"amount=1"), ("a JSON array", b"[]"), ("truncated", b'{"amount":')):
    st, b, _ = srv.call("PUT", P + "bad-1", key=m.key, raw=raw)
    ok(st == 400 and b["error"]["code"] == "invalid_json", "%s -> 400 invalid_json" % label, b)
is_(row_counts(), before, "bad orders changed nothing in the database")
ok(srv.alive(), "raild still serving")
