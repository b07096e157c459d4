#!/usr/bin/env python3
"""Jump to related through the real railtop in tmux (DESIGN §9): from a payment, x opens its
exceptions, b the breaks under its reference, w its webhook deliveries; the keys are in the
hint line; from a break P opens its payment."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recon"))
from uikit import *
from reconlib import Chain, order, recon, break_id

srv = Raild("--no-recon", "--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=3)
w = key("watcher")
ref = uniq("jump")
chain = Chain(srv, "tron-nile")
pid = chain.pay(m, ref, 10_000_000, paid_units=11_000_000)   # paid too much: an overpaid exception
p = {"id": pid}
order(srv, m, ref, "10", "paid", "2026-11-26T10:00:00Z")   # commerce says 10, 11 came in: a break
recon("incremental")
brk = sql1("SELECT public_id FROM recon_breaks WHERE reference = :'r' LIMIT 1", r=ref)
ok(brk, "a break under the payment's reference", brk)
# a confirmed payment whose transfer left the chain: its CONF column says so
rref = uniq("reorg")
st, rp, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": rref, "amount": "2", "rail": "tron:usdt"})
h = chain.head() + 1
payer = address(chain.net)
res, rtx = chain.transfer(rp["deposit_address"], 2_000_000, block=h, frm=payer)
chain.heads(h + chain.cfg["confirm"])
srv.call("POST", "/v1/chain/transfers", key=chain.w, body={"network": chain.net, "transfers": [
    {"tx_hash": rtx, "log_index": 0, "block_number": h, "block_hash": "cd" * 32, "contract": chain.cfg["contract"],
     "from": payer, "to": rp["deposit_address"], "value": "2000000", "removed": True}]})
ok(sql1("SELECT count(*) FROM exceptions e JOIN payments p ON p.id = e.payment_id WHERE p.public_id = :'p'"
        " AND e.type = 'reorged' AND e.state = 'open'", p=rp["id"]) == "1", "a reorged exception on a confirmed payment")
c = Console(api=srv.base, key_file=key_file(key("ops")))
c.keys(":")
c.type("payments merchant=" + m.name)
c.keys("Enter")
c.wait(rref)
row = [l for l in c.lines() if l.startswith(rref)]
ok(row and "reorged" in row[0] and "0/" not in row[0], "the payments list says reorged in CONF, not 0/N", row)
# the reconciliation view: a payment not final shows what it received and what is final
cref = uniq("conf")
chain.pay(m, cref, 3_000_000, state="confirmed")
order(srv, m, cref, "3", "fulfilled", "2026-11-26T10:00:00Z")   # fulfilled before finality: a break
recon("incremental")
c.keys(":")
c.type("recon state=all reference=" + cref)
c.keys("Enter")
s = c.wait("recv 3.00 fin 0.00")
ok(s is not None, "recon PROVIDER at 120 columns: received and final, labelled", c.text())
c.resize(150, 40)
s = c.wait("confirmed recv 3.00 final 0.00")
ok(s is not None, "and at 150 columns with the payment's state", c.text())
c.keys(":")
c.type("payment " + p["id"])
c.keys("Enter")
ok(c.wait("Payment " + p["id"]) is not None, "the payment's detail", c.text())
h = c.hint()
ok("x exceptions" in h and "w webhooks" in h and "b breaks" in h, "the jump keys are in the hint line", h)
c.keys("x")
s = c.wait("payment=" + p["id"])
ok(s is not None and "overpaid" in s, "x: its exceptions", c.text())
c.keys(":")
c.type("payment " + p["id"])
c.keys("Enter")
c.wait("Payment " + p["id"])
c.keys("b")
s = c.wait("reference=" + ref)
ok(s is not None and ("amount_mismatch" in s or "missing" in s or "fulfilled" in s), "b: the breaks under its reference",
   c.text())
c.keys("Enter")
ok(c.wait("Break brk_") is not None, "a break in detail")
c.keys("P")
ok(c.wait("Payment " + p["id"]) is not None, "P: from the break to its payment", c.text())
c.keys("w")
ok(c.wait("payment=" + p["id"]) is not None, "w: its webhook deliveries (filtered)", c.text())
c.close()
srv.stop()
