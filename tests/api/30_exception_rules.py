#!/usr/bin/env python3
"""Automatic exceptions, each produced by the transfers that cause it: underpaid (and its
auto-close on top-up), overpaid, tolerance, late_payment, unmatched_transfer, wrong_asset,
duplicate_payment, unclassified_internal, sweeps, zero-value spam — with type, severity,
SLA, payment state and the exception.opened outbox rows."""
import os, sys, json
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild("--no-sweeper")
W = key("watcher")
TRON = RAILS["tron:usdt"]


def head_of(net):
    return int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=net) or 1000)


def heads(net, h):
    st, b, _ = srv.call("POST", "/v1/chain/heads", key=W, body={"network": net, "head": h})
    assert st == 200, (st, b)


def xfer(to, value, block=None, contract=TRON["contract"], frm=None, net="tron-nile"):
    return {"tx_hash": tx_hash(), "log_index": 0, "block_number": block, "block_hash": None, "contract": contract,
            "from": frm or address(net), "to": to, "value": value}


def send(*ts, net="tron-nile"):
    st, b, _ = srv.call("POST", "/v1/chain/transfers", key=W, body={"network": net, "transfers": list(ts)})
    assert st == 200, (st, b)
    return b["transfers"]


def pay(m, amount, rail="tron:usdt"):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("x"), "amount": amount, "rail": rail})
    assert st == 201, (st, p)
    return p


def state(m, pid):
    return srv.call("GET", "/v1/payments/" + pid, key=m.key)[1]["state"]


def excs(where, **kw):
    """exceptions rows: type, state, severity, amount, hours to SLA, payment public id, resolution, details"""
    return sql("SELECT e.type, e.state, e.severity, coalesce(e.amount::text, ''),"
               " round(extract(epoch FROM e.sla_due - e.opened_at) / 3600), coalesce(p.public_id, ''),"
               " coalesce(e.resolution, ''), e.details::text, e.id"
               " FROM exceptions e LEFT JOIN payments p ON p.id = e.payment_id WHERE " + where + " ORDER BY e.id", **kw)


def exc_for_payment(pid):
    return excs("p.public_id = :'i'", i=pid)


def exc_for_tx(tx):
    return excs("e.transfer_id = (SELECT id FROM chain_transfers WHERE tx_hash = :'t')", t=tx)


def exc_outbox(exc_id):
    return [(r[0], int(r[1]), json.loads(r[2])) for r in sql(
        "SELECT type, sequence, payload FROM webhook_outbox WHERE exception_id = :'x' ORDER BY id", x=exc_id)]


m = Merchant(rails=("tron:usdt",), addresses=12)

# ---------------------------------------------------------------- underpaid → top-up auto-closes
p = pay(m, "100")
h = head_of("tron-nile") + 1
send(xfer(p["deposit_address"], "60000000", block=h))
heads("tron-nile", h + TRON["confirm"] - 1)
is_(state(m, p["id"]), "confirming", "underpaid: the payment stays confirming at depth")
rows = exc_for_payment(p["id"])
is_([r[:7] for r in rows], [["underpaid", "open", "1", "40000000", "72", p["id"], ""]],
    "underpaid opens once: shortfall 40 USDT, severity 1, SLA 72h")
ob = exc_outbox(rows[0][8])
is_([(t, s) for t, s, _ in ob], [("exception.opened", 1)], "underpaid: exception.opened written to the outbox")
d = ob[0][2]["data"]
is_((d["type"], d["payment_id"], d["amount"], d["amount_units"], d["state"], d["severity"]),
    ("underpaid", p["id"], "40.000000", "40000000", "open", 1), "the webhook carries the exception object")
ok("accept_partial" in d["resolutions"] and d["id"].startswith("exc_"), "…with its id and allowed resolutions")
heads("tron-nile", h + TRON["confirm"] + 3)
is_(len(exc_for_payment(p["id"])), 1, "later heads do not open a second underpaid")
send(xfer(p["deposit_address"], "40000000", block=h + TRON["confirm"] + 4))
heads("tron-nile", h + 2 * TRON["confirm"] + 4)
is_(state(m, p["id"]), "confirmed", "a top-up that reaches the amount confirms the payment")
rows = exc_for_payment(p["id"])
is_([r[1] + "/" + r[6] for r in rows], ["resolved/auto_closed"], "…and auto-closes the underpaid exception")
is_([t for t, _, _ in exc_outbox(rows[0][8])], ["exception.opened", "exception.resolved"],
    "…with an exception.resolved event")

# ---------------------------------------------------------------- overpaid
p = pay(m, "10")
h = head_of("tron-nile") + 1
send(xfer(p["deposit_address"], "250000000", block=h))
heads("tron-nile", h + TRON["confirm"] - 1)
is_(state(m, p["id"]), "confirmed", "overpaid: the payment confirms")
is_([r[:6] for r in exc_for_payment(p["id"])], [["overpaid", "open", "2", "240000000", "24", p["id"]]],
    "overpaid opens with the excess 240 USDT, severity 2, SLA 24h")
heads("tron-nile", h + TRON["confirm"] + 2)
is_(len(exc_for_payment(p["id"])), 1, "…once")

# ---------------------------------------------------------------- tolerance
mt = Merchant(rails=("tron:usdt",), addresses=2, tolerance_bps=100)
p = pay(mt, "100")
h = head_of("tron-nile") + 1
send(xfer(p["deposit_address"], "99000000", block=h))
heads("tron-nile", h + TRON["confirm"] - 1)
is_((state(mt, p["id"]), exc_for_payment(p["id"])), ("confirmed", []),
    "within the merchant's 1% tolerance: confirmed, no exception")

# ---------------------------------------------------------------- late_payment (canceled)
p = pay(m, "5")
srv.call("POST", "/v1/payments/%s/cancel" % p["id"], key=m.key)
t = send(xfer(p["deposit_address"], "150000000000"))
is_((t[0]["classification"], t[0]["payment_id"]), ("late", p["id"]), "a transfer to a canceled payment is late")
is_(state(m, p["id"]), "canceled", "…the payment stays canceled")
rows = exc_for_payment(p["id"])
is_([r[:5] for r in rows], [["late_payment", "open", "4", "150000000000", "1"]],
    "late_payment: 150000 USDT → severity 4, SLA 1h")
is_([t for t, _, _ in exc_outbox(rows[0][8])], ["exception.opened"], "late_payment: exception.opened to the merchant")
is_(sql1("SELECT received::text FROM payments WHERE public_id = :'i'", i=p["id"]), "0", "late money is not counted")

# ---------------------------------------------------------------- late_payment (past expires_at, before any sweep)
p = pay(m, "5")
sql("UPDATE payments SET expires_at = now() - interval '1 second' WHERE public_id = :'i'", i=p["id"])
t = send(xfer(p["deposit_address"], "5000000"))
is_(t[0]["classification"], "late", "a transfer after expires_at is late even before the sweeper ran (sweeper off)")
is_(state(m, p["id"]), "expired", "…the payment is expired first")
is_(sql("SELECT o.type FROM webhook_outbox o JOIN payments p ON p.id = o.payment_id WHERE p.public_id = :'i'"
        " ORDER BY o.id", i=p["id"]), [["payment.expired"], ["exception.opened"]],
    "…with payment.expired, then exception.opened for late_payment")

# ---------------------------------------------------------------- duplicate_payment
p = pay(m, "1")
h = head_of("tron-nile") + 1
send(xfer(p["deposit_address"], "1000000", block=h))
heads("tron-nile", h + TRON["confirm"] - 1)
t = send(xfer(p["deposit_address"], "1000000", block=h + TRON["confirm"]))
is_(t[0]["classification"], "duplicate", "a second transfer to a confirmed payment is a duplicate")
is_([r[:4] for r in exc_for_tx(t[0]["tx_hash"])], [["duplicate_payment", "open", "1", "1000000"]],
    "duplicate_payment opens for the transfer")
is_(state(m, p["id"]), "confirmed", "…the payment stays confirmed")

# ---------------------------------------------------------------- wrong_asset (look-alike token)
p = pay(m, "3")
fake = tron_address()
t = send(xfer(p["deposit_address"], "3000000", contract=fake))
is_((t[0]["classification"], t[0]["payment_id"]), ("wrong_asset", p["id"]), "another contract to a deposit address: wrong_asset")
is_(state(m, p["id"]), "awaiting_payment", "…never counted: the payment still awaits payment")
rows = exc_for_tx(t[0]["tx_hash"])
is_([r[:3] + [r[5]] for r in rows], [["wrong_asset", "open", "1", p["id"]]], "wrong_asset opens with the payment's context")
d = exc_outbox(rows[0][8])[0][2]["data"]
is_((d["amount"], d["amount_units"], d["rail"]), (None, "3000000", None),
    "an unknown token's amount is shown in base units only")

# ---------------------------------------------------------------- unmatched_transfer
free = sql1("SELECT address FROM deposit_addresses WHERE network = 'tron-nile' AND payment_id IS NULL ORDER BY id DESC LIMIT 1")
stranger = tron_address()
t = send(xfer(free, "20000000"), xfer(stranger, "20000000000"))
is_([x["classification"] for x in t], ["unmatched", "unmatched"], "to an unassigned deposit address / unknown address: unmatched")
r1, r2 = exc_for_tx(t[0]["tx_hash"]), exc_for_tx(t[1]["tx_hash"])
is_([r1[0][:4], r2[0][:4]], [["unmatched_transfer", "open", "1", "20000000"], ["unmatched_transfer", "open", "3", "20000000000"]],
    "unmatched_transfer opens, severity by amount")
is_(exc_outbox(r1[0][8]), [], "no merchant known → no webhook")

# ---------------------------------------------------------------- our own wallets
hot, sweep = tron_address(), tron_address()
admin("add-wallet", "--network", "tron-nile", "--address", hot, "--kind", "hot", check=True)
admin("add-wallet", "--network", "tron-nile", "--address", sweep, "--kind", "sweep", check=True)
dep = sql1("SELECT address FROM deposit_addresses WHERE network = 'tron-nile' AND payment_id IS NOT NULL ORDER BY id DESC LIMIT 1")
t = send(xfer(sweep, "5000000", frm=hot), xfer(hot, "7000000", frm=dep), xfer(stranger, "9000000", frm=hot))
is_([x["classification"] for x in t], ["sweep", "sweep", "unclassified_internal"],
    "hot → sweep and deposit → hot are sweeps; hot → elsewhere is unclassified_internal")
is_([len(exc_for_tx(t[0]["tx_hash"])), len(exc_for_tx(t[1]["tx_hash"]))], [0, 0], "sweeps open no exception")
is_([r[:4] for r in exc_for_tx(t[2]["tx_hash"])], [["unclassified_internal", "open", "2", "9000000"]],
    "unclassified_internal opens one severity higher than its amount")

# ---------------------------------------------------------------- zero-value spam, same transfer twice
p = pay(m, "2")
t = send(xfer(p["deposit_address"], "0"))
is_(t[0]["classification"], "ignored", "a zero-value transfer is ignored (address poisoning)")
is_((state(m, p["id"]), exc_for_tx(t[0]["tx_hash"])), ("awaiting_payment", []), "…no state change, no exception")
x = xfer(stranger, "11000000")
send(x)
before = row_counts(["exceptions", "webhook_outbox", "chain_transfers"])
send(x)
is_(row_counts(["exceptions", "webhook_outbox", "chain_transfers"]), before,
    "re-reporting a transfer opens no second exception")
ok(srv.alive(), "raild still serving")
