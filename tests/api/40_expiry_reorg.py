#!/usr/bin/env python3
"""Expiry by the sweeper (also with two raild copies), late payment after expiry, reorgs
before confirmation (back-moves) and after (reorged exception, finality held, auto-close
on re-inclusion), stuck_unconfirmed open/auto-close, SLA escalation."""
import os, sys, json, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

os.environ["RAILD_SWEEP_INTERVAL_MS"] = "100"
srv = Raild(name="a")
srv2 = Raild(name="b")
W = key("watcher")
TRON, BSC = RAILS["tron:usdt"], RAILS["bsc:usdt"]


def head_of(net):
    return int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=net) or 1000)


def heads(net, h):
    st, b, _ = srv.call("POST", "/v1/chain/heads", key=W, body={"network": net, "head": h})
    assert st == 200, (st, b)


def xfer(to, value, block=None, tx=None, frm="0x" + "11" * 20, removed=None, net="bsc-testnet"):
    c = TRON if net == "tron-nile" else BSC
    t = {"tx_hash": tx or tx_hash(), "log_index": 1, "block_number": block, "block_hash": None,
         "contract": c["contract"], "from": frm if net != "tron-nile" else tron_address(1), "to": to, "value": value}
    if removed is not None:
        t["removed"] = removed
    return t


def send(*ts, net="bsc-testnet"):
    st, b, _ = srv.call("POST", "/v1/chain/transfers", key=W, body={"network": net, "transfers": list(ts)})
    assert st == 200, (st, b)
    return b["transfers"]


def pay(m, amount, rail="bsc:usdt", expires_in=3600):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key,
                        body={"reference": uniq("r"), "amount": amount, "rail": rail, "expires_in": expires_in})
    assert st == 201, (st, p)
    return p


def get(m, pid):
    return srv.call("GET", "/v1/payments/" + pid, key=m.key)[1]


def events(pid):
    return [(r[0], r[1]) for r in sql("SELECT e.type, e.data->>'reason' FROM payment_events e JOIN payments p"
                                      " ON p.id = e.payment_id WHERE p.public_id = :'i' ORDER BY e.sequence", i=pid)]


def hooks(pid):
    return [(r[0], int(r[1])) for r in sql("SELECT o.type, o.sequence FROM webhook_outbox o JOIN payments p"
                                           " ON p.id = o.payment_id WHERE p.public_id = :'i' AND o.type LIKE 'payment.%'"
                                           " ORDER BY o.id", i=pid)]


def excs(pid, typ):
    return sql("SELECT e.state, e.severity, coalesce(e.resolution, ''), e.id FROM exceptions e JOIN payments p"
               " ON p.id = e.payment_id WHERE p.public_id = :'i' AND e.type = :'t' ORDER BY e.id", i=pid, t=typ)


m = Merchant(rails=("bsc:usdt", "tron:usdt"), addresses=40)

# ---------------------------------------------------------------- expiry (two raild copies sweeping)
ps = [pay(m, "1", expires_in=60) for _ in range(20)]
keep = pay(m, "1", expires_in=60)
canceled = pay(m, "1", expires_in=60)
srv.call("POST", "/v1/payments/%s/cancel" % canceled["id"], key=m.key)
time.sleep(0.3)
is_(get(m, ps[0]["id"])["state"], "awaiting_payment", "a payment is not expired before expires_at")
sql("UPDATE payments SET expires_at = now() - interval '1 second' WHERE public_id IN (%s)" %
    ",".join("'%s'" % p["id"] for p in ps + [canceled]))
ok(wait_for(lambda: sql1("SELECT count(*) FROM payments WHERE state = 'expired' AND public_id IN (%s)" %
                         ",".join("'%s'" % p["id"] for p in ps)) == str(len(ps)), timeout=10),
   "the sweeper expires every payment past expires_at")
is_(sql1("SELECT count(*) FROM webhook_outbox o JOIN payments p ON p.id = o.payment_id WHERE o.type = 'payment.expired'"
         " AND p.public_id IN (%s)" % ",".join("'%s'" % p["id"] for p in ps)), str(len(ps)),
    "two raild copies sweeping: exactly one payment.expired per payment")
p0 = get(m, ps[0]["id"])
is_((p0["state"], p0["sequence"]), ("expired", 1), "expired payment: state and sequence")
is_(events(ps[0]["id"])[-1], ("payment.expired", "expired"), "…the event records why")
is_((get(m, keep["id"])["state"], get(m, canceled["id"])["state"]), ("awaiting_payment", "canceled"),
    "payments not yet due and canceled payments are left alone")

t = send(xfer(ps[0]["deposit_address"], "1000000000000000000"))
is_(t[0]["classification"], "late", "a transfer after expiry is late")
is_([r[0] for r in excs(ps[0]["id"], "late_payment")], ["open"], "…and opens late_payment")
is_(get(m, ps[0]["id"])["state"], "expired", "…the payment stays expired (only accept_late brings it back)")

# ---------------------------------------------------------------- drop from the mempool
p = pay(m, "5")
tx = tx_hash()
send(xfer(p["deposit_address"], "5000000000000000000", tx=tx))
is_(get(m, p["id"])["state"], "detected", "mempool transfer: detected")
send(xfer(p["deposit_address"], "5000000000000000000", tx=tx, removed=True))
q = get(m, p["id"])
is_((q["state"], q["received_units"], q["sequence"]), ("awaiting_payment", "0", 2),
    "dropped: detected → awaiting_payment, uncounted")
is_(events(p["id"])[-1], ("payment.awaiting_payment", "dropped"), "the back-move is in the history with its reason")
is_(hooks(p["id"]), [("payment.detected", 1)], "…but sends no webhook (not a DESIGN §5 event type)")

# ---------------------------------------------------------------- reorg before confirmation, re-inclusion
p = pay(m, "5")
tx = tx_hash()
h = head_of("bsc-testnet") + 1
send(xfer(p["deposit_address"], "5000000000000000000", tx=tx, block=h))
heads("bsc-testnet", h + 3)
is_(get(m, p["id"])["state"], "confirming", "in a block: confirming")
send(xfer(p["deposit_address"], "5000000000000000000", tx=tx, block=h, removed=True))
q = get(m, p["id"])
is_((q["state"], q["confirmations"], q["received_units"]), ("awaiting_payment", 0, "0"),
    "reorged out before confirmation: confirming → awaiting_payment")
is_(events(p["id"])[-1], ("payment.awaiting_payment", "reorged_out"), "…recorded as reorged_out")
is_(sql1("SELECT status FROM chain_transfers WHERE tx_hash = :'t'", t=tx), "removed", "the transfer is marked removed")
send(xfer(p["deposit_address"], "5000000000000000000", tx=tx, block=h + 2))
q = get(m, p["id"])
is_((q["state"], q["received_units"]), ("confirming", "5000000000000000000"), "re-included in another block: confirming again")
heads("bsc-testnet", h + 2 + BSC["confirm"] - 1)
is_(get(m, p["id"])["state"], "confirmed", "…and confirms at depth from its new block")
is_([s for _, s in hooks(p["id"])], sorted(s for _, s in hooks(p["id"])), "outbox sequence strictly increasing")
is_(len({s for _, s in hooks(p["id"])}), len(hooks(p["id"])), "…no sequence repeats")

# ---------------------------------------------------------------- reorg after confirmation
p = pay(m, "200")
tx = tx_hash()
h = head_of("bsc-testnet") + 1
val = "200000000000000000000"
send(xfer(p["deposit_address"], val, tx=tx, block=h))
heads("bsc-testnet", h + BSC["confirm"] - 1)
is_(get(m, p["id"])["state"], "confirmed", "confirmed before the reorg")
send(xfer(p["deposit_address"], val, tx=tx, block=h, removed=True))
q = get(m, p["id"])
is_((q["state"], q["received_units"]), ("confirmed", "0"), "reorg after confirmation: no back-move, money uncounted")
rows = excs(p["id"], "reorged")
is_([r[:2] for r in rows], [["open", "3"]], "a reorged exception opens, one severity higher (200 USDT → 3)")
heads("bsc-testnet", h + BSC["final"] + 2)
is_(get(m, p["id"])["state"], "confirmed", "finality is held while the reorged exception is live")
send(xfer(p["deposit_address"], val, tx=tx, block=h + 1))
rows = excs(p["id"], "reorged")
is_([r[0] + "/" + r[2] for r in rows], ["resolved/auto_closed"], "re-inclusion auto-closes the reorged exception")
heads("bsc-testnet", h + BSC["final"] + 3)
q = get(m, p["id"])
is_((q["state"], q["received_units"]), ("finalized", val), "…the payment counts it again and finalizes")
is_([t for t, _ in hooks(p["id"])], ["payment.confirming", "payment.confirmed", "payment.finalized"],
    "webhooks: one per forward move")

# a finalized payment reorged: reorged opens, the payment stays finalized
send(xfer(p["deposit_address"], val, tx=tx, block=h + 1, removed=True))
is_((get(m, p["id"])["state"], [r[0] for r in excs(p["id"], "reorged")]), ("finalized", ["resolved", "open"]),
    "a reorg after finality opens a new reorged exception; the payment stays finalized")

# ---------------------------------------------------------------- an unmatched transfer reorged out and back
x = xfer(evm_address(), "3000000000000000000", block=head_of("bsc-testnet") + 1)
send(x)
exc_q = "SELECT e.state || '/' || coalesce(e.resolution, '') FROM exceptions e JOIN chain_transfers t" \
        " ON t.id = e.transfer_id WHERE t.tx_hash = :'t' ORDER BY e.id"
is_(sql(exc_q, t=x["tx_hash"]), [["open/"]], "unmatched transfer: unmatched_transfer opens")
send(dict(x, removed=True))
is_(sql(exc_q, t=x["tx_hash"]), [["resolved/auto_closed"]], "…removed by a reorg: the exception auto-closes")
send(dict(x, block_number=x["block_number"] + 1))
is_(sql(exc_q, t=x["tx_hash"]), [["resolved/auto_closed"], ["open/"]], "…re-included: a fresh exception opens")

# ---------------------------------------------------------------- stuck_unconfirmed
sql("UPDATE rails SET stuck_after = interval '300 milliseconds' WHERE id = 'tron:usdt'")
try:
    p = pay(m, "4", rail="tron:usdt")
    tx = tx_hash()[2:]
    send(xfer(p["deposit_address"], "4000000", tx=tx, net="tron-nile"), net="tron-nile")
    ok(wait_for(lambda: excs(p["id"], "stuck_unconfirmed"), timeout=10), "detected too long: stuck_unconfirmed opens")
    time.sleep(0.5)
    is_(len(excs(p["id"], "stuck_unconfirmed")), 1, "…once")
    h = head_of("tron-nile") + 1
    frm = sql1("SELECT from_address FROM chain_transfers WHERE tx_hash = :'t'", t=tx)
    send(dict(xfer(p["deposit_address"], "4000000", tx=tx, block=h, net="tron-nile"), **{"from": frm}), net="tron-nile")
    heads("tron-nile", h + TRON["confirm"] - 1)
    is_(get(m, p["id"])["state"], "confirmed", "the stuck payment confirms")
    is_([r[0] + "/" + r[2] for r in excs(p["id"], "stuck_unconfirmed")], ["resolved/auto_closed"],
        "…and stuck_unconfirmed auto-closes")
finally:
    sql("UPDATE rails SET stuck_after = interval '30 minutes' WHERE id = 'tron:usdt'")

# ---------------------------------------------------------------- SLA escalation
eid = excs(ps[0]["id"], "late_payment")[0][3]
sev = int(sql1("SELECT severity FROM exceptions WHERE id = :'x'", x=eid))
sql("UPDATE exceptions SET sla_due = now() - interval '1 second' WHERE id = :'x'", x=eid)
ok(wait_for(lambda: sql1("SELECT details ? 'sla_breached_at' FROM exceptions WHERE id = :'x'", x=eid) == "t", timeout=10),
   "an exception past its SLA is marked breached")
time.sleep(0.4)
is_(sql1("SELECT severity FROM exceptions WHERE id = :'x'", x=eid), str(min(sev + 1, 4)), "…its severity raised by one, once")
is_(sql1("SELECT details->>'severity_before' FROM exceptions WHERE id = :'x'", x=eid), str(sev), "…the old severity noted")
# ---------------------------------------------------------------- idempotency keys expire after 7 days
hdr = {"Idempotency-Key": uniq("idem")}
body = {"reference": "idem-old", "amount": "1", "rail": "bsc:usdt"}
st, a, _ = srv.call("POST", "/v1/payments", key=m.key, body=body, headers=hdr)
sql("UPDATE idempotency_keys SET created_at = now() - interval '8 days' WHERE key = :'k'", k=hdr["Idempotency-Key"])
ok(wait_for(lambda: sql1("SELECT count(*) FROM idempotency_keys WHERE key = :'k'", k=hdr["Idempotency-Key"]) == "0",
            timeout=10), "the sweeper deletes idempotency keys older than 7 days")
st, b, _ = srv.call("POST", "/v1/payments", key=m.key, body=body, headers=hdr)
ok(st == 201 and b["id"] != a["id"], "…after which the same key creates a new payment")
ok(srv.alive() and srv2.alive(), "both raild copies still serving")
