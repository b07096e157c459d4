#!/usr/bin/env python3
"""Operator keys act only in their own environment (DESIGN §7), whatever a client allows:
a sandbox ops key cannot claim, resolve, reopen or dismiss a production exception (alone or
in a bulk), a sandbox finance key cannot acknowledge, match or escalate a production break,
a sandbox support key cannot disable, enable or recover a production webhook endpoint —
each 403 wrong_environment with nothing changed; the production keys can."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild("--no-workers")
prod = Merchant(rails=("tron:usdt",), env="production", addresses=4)
W = key("watcher", network="tron")
p = underpaid_tron_payment(srv, prod, W, uniq("envscope"), amount="100", paid_units="60000000")
exc = sql1("SELECT e.public_id FROM exceptions e JOIN payments py ON py.id = e.payment_id WHERE py.public_id = :'p'"
           " AND e.type = 'underpaid'", p=p["id"])
ok(exc, "a production underpaid exception", exc)
ops_sb, ops_pr = key("ops"), key("ops", env="production")


def snapshot():
    return sql("SELECT state, version, coalesce(assignee, ''), coalesce(resolution, '') FROM exceptions"
               " WHERE public_id = :'e'", e=exc)


before = snapshot()
audit0 = sql1("SELECT count(*) FROM audit_log")
for verb, body in (("claim", {"version": 1}), ("resolve", {"version": 1, "resolution": "accept_partial", "note": "x"}),
                   ("dismiss", {"version": 1, "note": "x"}), ("reopen", {"version": 1, "note": "x"})):
    st, b, _ = srv.call("POST", "/v1/exceptions/%s/%s" % (exc, verb), key=ops_sb, body=body)
    is_((st, b.get("error", {}).get("code")), (403, "wrong_environment"), "sandbox ops key: %s a production exception -> 403" % verb, b)
st, b, _ = srv.call("POST", "/v1/exceptions/bulk", key=ops_sb,
                    body={"action": "claim", "items": [{"id": exc, "version": 1}]})
res = (b.get("results") or [{}])[0] if isinstance(b, dict) else {}
ok(st in (200, 207) and res.get("status") == 403 and "wrong_environment" in str(res),
   "…and in a bulk: that item answers 403 wrong_environment", b)
is_(snapshot(), before, "the exception is unchanged")
is_(sql1("SELECT count(*) FROM audit_log"), audit0, "no audit row for a refused action")
st, b, _ = srv.call("POST", "/v1/exceptions/%s/claim" % exc, key=ops_pr, body={"version": 1})
is_(st, 200, "a production ops key claims it", b)

# a transfer to no payment on a production network: its exception is production's too
tron = PROD_RAILS["tron:usdt"]
h = int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = 'tron'") or 1000) + 1
idle = add_addresses("tron", 1)[0]   # one of our deposit addresses, given to no payment
tx = tx_hash()[2:]
st, b, _ = srv.call("POST", "/v1/chain/transfers", key=W, body={"network": "tron", "transfers": [
    {"tx_hash": tx, "log_index": 0, "block_number": h, "block_hash": "cd" * 32, "contract": tron["contract"],
     "from": tron_address(), "to": idle, "value": "7000000"}]})
assert st == 200, b
unm = sql("SELECT e.public_id, coalesce(e.environment, '-') FROM exceptions e JOIN chain_transfers t ON t.id = e.transfer_id"
          " WHERE t.tx_hash = :'t'", t=tx.lower())
ok(unm and unm[0][1] == "production", "an unmatched transfer on a production network opens a production exception", unm)
if unm:
    st, b, _ = srv.call("POST", "/v1/exceptions/%s/claim" % unm[0][0], key=ops_sb, body={"version": 1})
    is_((st, b.get("error", {}).get("code")), (403, "wrong_environment"), "…which a sandbox ops key cannot claim", b)

# a production break: an order paid that no payment matches (missing_in_provider), as the
# reconciliation run finds it
fin_sb, fin_pr = key("finance"), key("finance", env="production")
ref = uniq("envscope-order")
st, b, _ = srv.call("PUT", "/v1/orders/" + ref, key=prod.key, body={"amount": "5", "status": "paid",
                                                                     "updated_at": "2026-11-26T10:00:00Z"})
assert st in (200, 201), b
st, b, _ = srv.call("POST", "/v1/recon/runs", key=fin_pr, body={"mode": "full"})
assert st in (200, 201, 202), b
brk = sql1("SELECT public_id FROM recon_breaks WHERE environment = 'production' AND reference = :'r'", r=ref)
ok(brk, "a production break", brk)
bb = sql("SELECT state, acknowledged_at IS NULL, exception_id IS NULL FROM recon_breaks WHERE public_id = :'b'", b=brk)
for verb, body in (("acknowledge", {"note": "x"}), ("match", {"note": "x", "payment_id": p["id"]}),
                   ("escalate", {"note": "x"})):
    st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/%s" % (brk, verb), key=fin_sb, body=body)
    is_((st, b.get("error", {}).get("code")), (403, "wrong_environment"), "sandbox finance key: %s a production break -> 403" % verb, b)
is_(sql("SELECT state, acknowledged_at IS NULL, exception_id IS NULL FROM recon_breaks WHERE public_id = :'b'", b=brk), bb,
    "the break is unchanged")
st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/acknowledge" % brk, key=fin_pr, body={"note": "seen"})
is_(st, 200, "a production finance key acknowledges it", b)

# a production webhook endpoint (loopback, and no dispatcher runs here)
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=prod.key, body={"url": "http://127.0.0.1:9/envscope"})
assert st == 201, ep
sup_sb, sup_pr = key("support"), key("support", env="production")
for verb, body in (("disable", {"reason": "x"}), ("recover", {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"})):
    st, b, _ = srv.call("POST", "/v1/webhook-endpoints/%s/%s" % (ep["id"], verb), key=sup_sb, body=body)
    is_((st, b.get("error", {}).get("code")), (403, "wrong_environment"), "sandbox support key: %s a production endpoint -> 403" % verb, b)
is_(sql1("SELECT status FROM webhook_endpoints WHERE public_id = :'e'", e=ep["id"]), "enabled", "the endpoint is unchanged")
st, b, _ = srv.call("POST", "/v1/webhook-endpoints/%s/disable" % ep["id"], key=sup_pr, body={"reason": "merchant asked"})
is_(st, 200, "a production support key disables it", b)
srv.call("DELETE", "/v1/webhook-endpoints/" + ep["id"], key=prod.key)
srv.stop()
