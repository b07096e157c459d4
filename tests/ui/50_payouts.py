#!/usr/bin/env python3
"""The Payouts tab through the real railtop in tmux (DESIGN §9, §11): the queue, one payout
in detail, treasury approving and rejecting — the confirmation shows the whole destination
checksummed and grouped, the amount, and under production says so — each checked in the
database and the audit log. The requester sees approve disabled ("you requested this"),
finance sees it disabled by role."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-workers")      # no payout worker: an approved payout stays approved here
GOOD = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
GROUPED = "0x5aAe b605 3F3E 94C9 b9A0 9f33 6694 35E7 Ef1B eAed"


def finalized(merchant, env="sandbox"):
    r = rails_of(env)["ethereum:usdt"]
    w = key("watcher", network=r["network"])
    st, p, _ = srv.call("POST", "/v1/payments", key=merchant.key,
                        body={"reference": uniq("ord"), "amount": "10", "rail": "ethereum:usdt"})
    assert st == 201, (st, p)
    h = int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=r["network"])) + 1
    st, b, _ = srv.call("POST", "/v1/chain/transfers", key=w, body={"network": r["network"], "transfers": [
        {"tx_hash": tx_hash(), "log_index": 0, "block_number": h, "block_hash": "0x" + "ab" * 32,
         "contract": r["contract"], "from": evm_address(), "to": p["deposit_address"], "value": "10000000"}]})
    assert st == 200, (st, b)
    head = h + r["final"] + 1
    assert srv.call("POST", "/v1/chain/heads", key=w, body={"network": r["network"], "head": head,
                                                            "finalized": head - 1})[0] == 200
    return p


def refund(merchant, p, amount):
    st, b, _ = srv.call("POST", "/v1/refunds", key=merchant.key,
                        body={"payment_id": p["id"], "amount": amount, "to_address": GOOD, "reason": "returned"})
    assert st == 201, (st, b)
    return b


m = Merchant(rails=("ethereum:usdt",), addresses=3)
p = finalized(m)
keep, drop = refund(m, p, "1.25"), refund(m, p, "0.75")
TR_NAME = uniq("ui-treasury")
TR = admin("create-key", "--role", "treasury", "--name", TR_NAME, "--env", "sandbox", check=True)[1].strip()

c = Console(api=srv.base, key_file=key_file(TR))
c.keys("6")
s = c.wait(keep["id"][:0] + "Payouts  open")
ok(s is not None, "6 opens the payouts queue", c.text())
c.keys(":")
c.type("payouts state=requested")
c.keys("Enter")
s = c.wait("0x5aAe…BeAed")
row = [l for l in c.lines() if "1.25" in l]
ok(row and "requested" in row[0] and "refund" in row[0] and "ethereum:usdt" in row[0] and "0/1" in row[0],
   "a row: state, kind, amount, rail, shortened destination, approvals", c.text())
# the newest first: 0.75 (drop) is on top, 1.25 (keep) below it
c.keys("j")
c.keys("Enter")
s = c.wait("destination")
ok(s is not None and GROUPED in s and keep["id"] in s and "requested by" in s and "0 of 1 needed" in s,
   "Enter: the detail with the whole destination, grouped", c.text())
c.keys("A")
ok(c.wait("Approval note") is not None, "A asks for a note")
c.type("matches the merchant's ticket")
c.keys("Enter")
s = c.wait("Approve payout?")
ok(s is not None and ("To         " + GROUPED) in s and "Amount     1.25 USDT" in s and "sandbox" in s,
   "the confirmation shows the whole checksummed destination and the amount", c.text())
c.keys("Tab", "Enter")
ok(c.wait("approved " + keep["id"]) is not None, "approved through raild", c.text())
is_(sql1("SELECT state FROM payouts WHERE public_id = :'p'", p=keep["id"]), "approved", "database: approved")
is_(sql("SELECT actor, reason FROM audit_log WHERE object_id = :'p' AND action = 'payout.approve'", p=keep["id"]),
    [[TR_NAME, "matches the merchant's ticket"]], "audited with the operator and the note")
c.keys("A")
ok(c.wait("only a requested payout is decided on") is not None, "approve is no longer offered on it", c.text())
c.keys("Escape")
c.wait("Payouts  ")
c.keys("g", "R")
ok(c.wait("Rejection note") is not None, "R on the list asks for a note")
c.type("customer was paid by card")
c.keys("Enter")
ok(c.wait("Reject payout?") is not None, "and confirms")
c.keys("Tab", "Enter")
ok(c.wait("rejected " + drop["id"]) is not None, "rejected through raild", c.text())
is_(sql1("SELECT state FROM payouts WHERE public_id = :'p'", p=drop["id"]), "rejected", "database: rejected")

# ops resolves an overpayment as refund_excess in the console: it asks for the destination,
# the sender shown as a suggestion only, never filled in
sender = evm_address()
eth = RAILS["ethereum:usdt"]
st, op, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": "ui-over", "amount": "10", "rail": "ethereum:usdt"})
wk = key("watcher", network=eth["network"])
h = int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=eth["network"])) + 1
srv.call("POST", "/v1/chain/transfers", key=wk, body={"network": eth["network"], "transfers": [
    {"tx_hash": tx_hash(), "log_index": 0, "block_number": h, "block_hash": "0x" + "ef" * 32, "contract": eth["contract"],
     "from": sender, "to": op["deposit_address"], "value": "12500000"}]})
srv.call("POST", "/v1/chain/heads", key=wk, body={"network": eth["network"], "head": h + eth["confirm"]})
ok(wait_for(lambda: sql1("SELECT count(*) FROM exceptions e JOIN payments p ON p.id = e.payment_id"
                         " WHERE p.public_id = :'p' AND e.type = 'overpaid'", p=op["id"]) == "1"), "an overpaid exception")
OPS = key("ops")
o = Console(api=srv.base, key_file=key_file(OPS))
o.keys(":")
o.type("exceptions type=overpaid merchant=" + m.name)
o.keys("Enter")
o.wait("overpaid")
o.keys("r")
s = o.wait("Resolve as")
ok(s is not None and "refund_excess" in s, "the overpaid menu offers refund_excess", o.text())
o.keys("2", "Enter")
s = o.wait("Refund to")
ok(s is not None and "suggestion only" in s and sender in s, "it asks where to, the sender marked as a suggestion",
   o.text())
ok(sum(l.count(sender) for l in o.lines()) == 1, "the suggestion is not filled in", o.text())
o.type(GOOD)
o.keys("Enter")
ok(o.wait("Refund amount") is not None, "then an amount (blank = the excess)")
o.keys("Enter")
o.wait("Resolution note")
o.type("customer sent 2.50 too much")
o.keys("Enter")
s = o.wait("Resolve exception?")
ok(s is not None and "Payout     the default amount to " + GOOD in s and "a payout for treasury to approve" in s,
   "the confirmation says a payout will be created for treasury", o.text())
o.keys("Tab", "Enter")
ok(o.wait("resolved ") is not None, "resolved through raild", o.text())
is_(sql("SELECT kind, amount::text, to_address, state, requested_by_name FROM payouts WHERE payment_id ="
        " (SELECT id FROM payments WHERE public_id = :'p')", p=op["id"]),
    [["refund", "2500000", GOOD.lower(), "requested", sql1("SELECT name FROM api_keys WHERE hash ="
                                                            " sha256(convert_to(:'k', 'UTF8'))", k=OPS)]],
    "database: a 2.50 refund payout to the entered address, requested by the ops operator")
o.close()

# a payout requested under this operator's name: approve disabled, with the reason
tr_id = sql1("SELECT id FROM api_keys WHERE name = :'n'", n=TR_NAME)
mine = uniq("po_ui")
sql("INSERT INTO payouts (public_id, kind, merchant_id, environment, rail, network, amount, to_address, source, reason,"
    " approvals_needed, requested_by, requested_by_name, requested_role, payment_id) SELECT :'pub', 'refund', :'m',"
    " 'sandbox', 'ethereum:usdt', :'net', 500000, lower(:'to'), 'payable', 'mine', 1, :'k', :'n', 'treasury', id"
    " FROM payments WHERE public_id = :'p'", pub=mine, m=m.id, net=RAILS["ethereum:usdt"]["network"], to=GOOD,
    k=tr_id, n=TR_NAME, p=p["id"])
c.keys(":")
c.type("payouts state=requested")
c.keys("Enter")
c.wait("0.50")
c.keys("g", "A")
ok(c.wait("you requested this") is not None, "the requester sees approve disabled: you requested this", c.text())
is_(sql1("SELECT state FROM payouts WHERE public_id = :'p'", p=mine), "requested", "nothing changed")
c.close()

# finance: the keys are there, disabled by role
FIN = key("finance")
f = Console(api=srv.base, key_file=key_file(FIN))
f.keys("6")
f.wait("Payouts  ")
ok("needs role treasury" in f.hint(), "finance sees approve disabled: needs role treasury", f.hint())
f.close()

# production: the confirmation says so
pm = Merchant(rails=("ethereum:usdt",), env="production", addresses=0)
add_addresses("ethereum", 1)
pp = finalized(pm, env="production")
prod_po = refund(pm, pp, "2.00")
PT = key("treasury", env="production")
pc = Console(api=srv.base, key_file=key_file(PT), args=("--env", "production"))
pc.keys("6")
pc.wait("2.00")
pc.keys("A")
pc.wait("Approval note")
pc.type("checked twice")
pc.keys("Enter")
s = pc.wait("Approve payout?")
ok(s is not None and "PRODUCTION" in s and GROUPED in s and "2.00 USDT" in s,
   "under production the confirmation says real money will move", pc.text())
pc.keys("Escape")
ok(pc.wait("canceled — nothing changed") is not None, "Esc cancels")
is_(sql1("SELECT state FROM payouts WHERE public_id = :'p'", p=prod_po["id"]), "requested", "nothing changed")

# the pending governed changes, for treasury
PA = key("admin", env="production")
rc, out, err = admin("set-rail", "--env", "production", "--rail", "ethereum:usdt", "--network", "ethereum",
                     "--contract", PROD_RAILS["ethereum:usdt"]["contract"], "--confirmations", "14",
                     "--key-file", key_file(PA), "--reason", "more depth after the incident")
chg = out.split("proposed ")[1].split(":")[0] if rc == 0 else "?"
pc.keys(":")
pc.type("changes")
pc.keys("Enter")
s = pc.wait(chg)
ok(s is not None and "proposed" in s and "set-rail production/ethereum:usdt" in s and "more depth after the incident" in s
   and "confirmations: 12 → 14" in s, ":changes lists the pending proposal with before and after", pc.text())
st, b, _ = srv.call("POST", "/v1/changes/%s/reject" % chg, key=PT, body={"note": "not now"})
is_(st, 200, "treasury rejects it (nothing applied)")
pc.close()
srv.stop()
