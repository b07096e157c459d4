#!/usr/bin/env python3
"""Merchant payments API: create (validation, rails, amounts, address pool, idempotency),
get, list (filters, keyset pagination), cancel, merchant/environment isolation."""
import os, re, sys, json, threading
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild()
m = Merchant(rails=("tron:usdt", "bsc:usdt"), addresses=12)
KEY = m.key


def create(body, key=KEY, headers=None):
    return srv.call("POST", "/v1/payments", key=key, body=body, headers=headers)


# ---------------------------------------------------------------- happy path, both rails
st, p, _ = create({"reference": "order-1", "amount": "125.5", "rail": "tron:usdt", "metadata": {"cart": 7}})
is_(st, 201, "create on tron:usdt answers 201")
ok(p["id"].startswith("pay_"), "payment id is pay_…")
is_((p["amount"], p["amount_units"]), ("125.500000", "125500000"), "amount shown with the rail's 6 decimals")
is_((p["state"], p["rail"], p["network"], p["environment"]), ("awaiting_payment", "tron:usdt", "tron-nile", "sandbox"),
    "state, rail, network and environment")
is_((p["received"], p["received_units"], p["confirmations"], p["confirmations_required"], p["sequence"]),
    ("0.000000", "0", 0, 19, 0), "nothing received yet; 19 confirmations required")
is_(p["metadata"], {"cart": 7}, "metadata round-trips")
ok(p["expires_at"].endswith("Z") and p["created_at"].endswith("Z"), "timestamps are RFC 3339 UTC")
addr_owner = sql1("SELECT p.public_id FROM deposit_addresses d JOIN payments p ON p.id = d.payment_id"
                  " WHERE d.address = :'a'", a=p["deposit_address"])
is_(addr_owner, p["id"], "the deposit address is assigned to this payment in the pool")
secs = int(float(sql1("SELECT extract(epoch FROM expires_at - created_at) FROM payments WHERE public_id = :'i'",
                      i=p["id"])))
is_(secs, 3600, "expires_in defaults to one hour")
is_(sql("SELECT e.sequence, e.type FROM payment_events e JOIN payments p ON p.id = e.payment_id"
        " WHERE p.public_id = :'i'", i=p["id"]), [["0", "payment.created"]], "creation appends payment.created at 0")
is_(sql1("SELECT count(*) FROM webhook_outbox o JOIN payments p ON p.id = o.payment_id WHERE p.public_id = :'i'",
         i=p["id"]), "0", "creation sends no webhook")
ok(int(sql1("SELECT count(*) FROM change_log c JOIN payments p ON p.id = c.row_id AND c.tbl = 'payments'"
            " WHERE p.public_id = :'i'", i=p["id"])) >= 1, "a change_log row is written for the new payment")

big = "12345678901234.123456789012345678"   # 1.2e31 base units: far beyond int64
st, pb, _ = create({"reference": "big-bsc", "amount": big, "rail": "bsc:usdt", "expires_in": 60})
is_(st, 201, "create on bsc:usdt (18 decimals) answers 201")
is_(pb.get("amount"), big, "an 18-decimal amount beyond int64 is exact")
is_(pb.get("amount_units"), "12345678901234123456789012345678", "base units as a digit string")
ok(pb.get("deposit_address", "").startswith("0x"), "bsc payment gets an EVM deposit address")
st, pg, _ = srv.call("GET", "/v1/payments/" + pb["id"], key=KEY)
is_((st, pg), (200, pb), "GET returns the same object as create")

# ---------------------------------------------------------------- bad input (DB unchanged)
TABLES = ["payments", "payment_events", "idempotency_keys", "webhook_outbox", "change_log"]
before = row_counts(TABLES)
free_before = sql1("SELECT count(*) FROM deposit_addresses WHERE payment_id IS NULL")
good = {"reference": "r", "amount": "1", "rail": "tron:usdt"}
cases = [
    ("missing reference", {"amount": "1", "rail": "tron:usdt"}, 400, "invalid_request"),
    ("empty reference", dict(good, reference=""), 400, "invalid_request"),
    ("reference too long", dict(good, reference="x" * 201), 400, "invalid_request"),
    ("control char in reference", dict(good, reference="a\nb"), 400, "invalid_request"),
    ("reference not a string", dict(good, reference=5), 400, "invalid_request"),
    ("unknown field", dict(good, color="red"), 400, "unknown_field"),
    ("unknown rail", dict(good, rail="tron:usdc"), 422, "unknown_rail"),
    ("rail not enabled", dict(good, rail="ethereum:usdt"), 422, "rail_not_enabled"),
    ("amount -1", dict(good, amount="-1"), 422, "invalid_amount"),
    ("amount 0", dict(good, amount="0"), 422, "invalid_amount"),
    ("amount 1e6", dict(good, amount="1e6"), 422, "invalid_amount"),
    ("amount 1.0000001 on 6 dp", dict(good, amount="1.0000001"), 422, "invalid_amount"),
    ("amount 80 digits", dict(good, amount="9" * 80), 422, "invalid_amount"),
    ("amount NaN", dict(good, amount="NaN"), 422, "invalid_amount"),
    ("amount empty", dict(good, amount=""), 422, "invalid_amount"),
    ("amount as JSON number", dict(good, amount=1), 422, "invalid_amount"),
    ("amount with spaces", dict(good, amount=" 1"), 422, "invalid_amount"),
    ("expires_in too small", dict(good, expires_in=59), 400, "invalid_request"),
    ("expires_in too large", dict(good, expires_in=604801), 400, "invalid_request"),
    ("expires_in a string", dict(good, expires_in="60"), 400, "invalid_request"),
    ("metadata not an object", dict(good, metadata=[1]), 400, "invalid_request"),
    ("metadata over 4 KiB", dict(good, metadata={"x": "y" * 5000}), 400, "invalid_request"),
]
for name, body, want_st, want_code in cases:
    st, b, _ = create(body)
    ok(st == want_st and isinstance(b, dict) and b.get("error", {}).get("code") == want_code,
       "bad input: %s → %d %s" % (name, want_st, want_code), "got %r %r" % (st, b))
for name, raw in [("malformed JSON", b"{"), ("JSON array", b"[]"), ("empty body", b"")]:
    st, b, _ = srv.call("POST", "/v1/payments", key=KEY, raw=raw)
    ok(st == 400 and b["error"]["code"] == "invalid_json", "bad input: %s → 400 invalid_json" % name)
st, b, _ = create(good, headers={"Idempotency-Key": "k" * 201})
is_(st, 400, "Idempotency-Key over 200 characters → 400")
is_(row_counts(TABLES), before, "bad input changed no rows")
is_(sql1("SELECT count(*) FROM deposit_addresses WHERE payment_id IS NULL"), free_before, "no address consumed")

# references: any UTF-8, SQL metacharacters are data
for ref in ["Заказ №5 — ✓", "'; DROP TABLE payments; --", "x" * 200, "日本" * 100]:
    st, b, _ = create(dict(good, reference=ref))
    ok(st == 201 and b["reference"] == ref, "reference %r stored verbatim" % ref[:20])

# ---------------------------------------------------------------- idempotency
body = {"reference": "idem-1", "amount": "10.00", "rail": "tron:usdt"}
hdr = {"Idempotency-Key": "idem-" + uniq()}
st1, b1, h1 = create(body, headers=hdr)
st2, b2, h2 = create({"rail": "tron:usdt", "amount": "10.00", "reference": "idem-1"}, headers=hdr)
is_((st1, st2), (201, 201), "same key + same body twice → 201 both times")
is_(b2, b1, "the replay returns the stored response")
is_(h2.get("Idempotent-Replayed"), "true", "the replay is marked")
is_(sql1("SELECT count(*) FROM payments WHERE reference = 'idem-1' AND merchant_id = :'m'", m=m.id), "1",
    "only one payment was created")
st3, b3, _ = create(dict(body, amount="11.00"), headers=hdr)
is_((st3, b3.get("error", {}).get("code")), (409, "idempotency_conflict"), "same key, different body → 409")
other = Merchant(rails=("tron:usdt",), addresses=2)
st4, b4, _ = create(body, key=other.key, headers=hdr)
ok(st4 == 201 and b4["id"] != b1["id"], "keys are scoped per merchant")

# concurrent requests with one key create exactly one payment
hdr = {"Idempotency-Key": "race-" + uniq()}
results = []
def racer():
    results.append(create({"reference": "race", "amount": "3", "rail": "tron:usdt"}, headers=hdr))
ths = [threading.Thread(target=racer) for _ in range(6)]
[t.start() for t in ths]
[t.join() for t in ths]
ids = {r[1]["id"] for r in results if r[0] == 201}
is_(([r[0] for r in results], len(ids)), ([201] * 6, 1), "6 concurrent same-key creates → one payment, same answer")

# ---------------------------------------------------------------- list, filters, cursor
m2 = Merchant(rails=("tron:usdt",), addresses=8)
made = []
for i in range(5):
    st, b, _ = create({"reference": "L%d" % (i % 2), "amount": "%d" % (i + 1), "rail": "tron:usdt"}, key=m2.key)
    made.append(b)
st, lst, _ = srv.call("GET", "/v1/payments?limit=2", key=m2.key)
is_(st, 200, "list answers 200")
is_([x["id"] for x in lst["data"]], [made[4]["id"], made[3]["id"]], "newest first, limit respected")
seen = [x["id"] for x in lst["data"]]
cur = lst["next_cursor"]
while cur:
    st, lst, _ = srv.call("GET", "/v1/payments?limit=2&cursor=" + cur, key=m2.key)
    seen += [x["id"] for x in lst["data"]]
    cur = lst["next_cursor"]
is_(seen, [x["id"] for x in reversed(made)], "cursor pages through every payment exactly once")
st, lst, _ = srv.call("GET", "/v1/payments?reference=L1", key=m2.key)
is_(sorted(x["id"] for x in lst["data"]), sorted([made[1]["id"], made[3]["id"]]), "reference filter")
st, lst, _ = srv.call("GET", "/v1/payments?state=awaiting_payment&rail=tron:usdt&created_after=2000-01-01T00:00:00Z"
                      "&created_before=2999-01-01T00:00:00%2B02:00", key=m2.key)
is_(len(lst["data"]), 5, "state, rail and time filters")
st, lst, _ = srv.call("GET", "/v1/payments?created_after=2999-01-01T00:00:00Z", key=m2.key)
is_((st, lst["data"], lst["next_cursor"]), (200, [], None), "an empty page has next_cursor null")
for q in ["limit=0", "limit=201", "limit=x", "state=paid", "created_after=yesterday",
          "created_before=2026-13-01T00:00:00Z", "cursor=pay_nope"]:
    st, b, _ = srv.call("GET", "/v1/payments?" + q, key=m2.key)
    ok(st == 400 and b["error"]["code"] == "invalid_request", "list rejects %s with 400" % q, b)

# ---------------------------------------------------------------- isolation (404, not 403)
st, b, _ = srv.call("GET", "/v1/payments/" + made[0]["id"], key=KEY)
is_((st, b["error"]["code"]), (404, "not_found"), "another merchant's payment is 404")
st, b, _ = srv.call("POST", "/v1/payments/%s/cancel" % made[0]["id"], key=KEY)
is_(st, 404, "cancelling another merchant's payment is 404")
st, lst, _ = srv.call("GET", "/v1/payments?limit=200", key=KEY)
ok(not ({x["id"] for x in lst["data"]} & {x["id"] for x in made}), "list never shows another merchant's payments")
prod_key = key("merchant", env="production", merchant=m2.id)
st, b, _ = srv.call("GET", "/v1/payments/" + made[0]["id"], key=prod_key)
is_(st, 404, "the same merchant's production key cannot see sandbox payments")
st, b, _ = create(good, key=prod_key)
is_((st, b["error"]["code"]), (422, "rail_not_enabled"), "rails are enabled per environment")
for role in ("watcher", "ops", "viewer"):
    st, b, _ = srv.call("GET", "/v1/payments", key=key(role))
    is_(st, 403, "%s key cannot use the merchant payments API" % role)

# ---------------------------------------------------------------- cancel
st, c, _ = srv.call("POST", "/v1/payments/%s/cancel" % made[0]["id"], key=m2.key)
is_((st, c["state"], c["sequence"]), (200, "canceled", 1), "cancel moves awaiting_payment → canceled")
st, b, _ = srv.call("POST", "/v1/payments/%s/cancel" % made[0]["id"], key=m2.key)
is_((st, b["error"]["code"]), (409, "invalid_state"), "cancelling twice → 409 invalid_state")
rows = sql("SELECT o.type, o.sequence, o.payload FROM webhook_outbox o JOIN payments p ON p.id = o.payment_id"
           " WHERE p.public_id = :'i'", i=made[0]["id"])
is_([(r[0], r[1]) for r in rows], [("payment.canceled", "1")], "cancel writes one payment.canceled outbox row")
env = json.loads(rows[0][2])
is_(list(env.keys()), ["id", "type", "created_at", "environment", "sequence", "data"], "envelope field order")
is_((env["type"], env["environment"], env["sequence"], env["data"]["id"], env["data"]["state"]),
    ("payment.canceled", "sandbox", 1, made[0]["id"], "canceled"), "envelope content")
ok(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", env["created_at"]), "created_at is RFC 3339 with ms")
ok(rows[0][2] == json.dumps(env, separators=(",", ":"), ensure_ascii=False), "payload is compact JSON")
is_(sql1("SELECT count(*) FROM payment_events e JOIN webhook_outbox o ON o.event_id = e.event_id"
         " JOIN payments p ON p.id = e.payment_id WHERE p.public_id = :'i'", i=made[0]["id"]), "1",
    "the payment event and the outbox row share the evt_ id")

# ---------------------------------------------------------------- address pool
m3 = Merchant(rails=("polygon:usdt",), addresses=1)
free = int(sql1("SELECT count(*) FROM deposit_addresses WHERE network = 'polygon-amoy' AND payment_id IS NULL"))
got = []
for i in range(free):
    st, b, _ = create({"reference": "pool", "amount": "1", "rail": "polygon:usdt"}, key=m3.key)
    got.append(b.get("deposit_address"))
before = row_counts(["payments", "payment_events"])
st, b, _ = create({"reference": "pool", "amount": "1", "rail": "polygon:usdt"}, key=m3.key)
is_((st, b["error"]["code"]), (503, "address_pool_exhausted"), "empty pool → 503 address_pool_exhausted")
is_(row_counts(["payments", "payment_events"]), before, "…and nothing was written")
is_(len(set(got)), len(got), "every payment got its own address")
add_addresses("polygon-amoy", 1)
st, b, _ = create({"reference": "pool", "amount": "1", "rail": "polygon:usdt"}, key=m3.key)
ok(st == 201 and b["deposit_address"] not in got, "a refilled pool serves a fresh address, never a reused one")
ok(srv.alive(), "raild still serving")
