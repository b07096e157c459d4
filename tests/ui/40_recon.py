#!/usr/bin/env python3
"""The reconciliation view through the real railtop in tmux: breaks produced by real
scenarios (an order without a payment, an amount that disagrees), the three planes side by
side with the disagreeing fields highlighted, and finance's actions end to end —
acknowledge, escalate, match, export — each checked in the database and the audit log.
A viewer sees them disabled with the reason."""
import os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recon"))
from uikit import *
from reconlib import Chain, order, recon, break_id

srv = Raild("--no-recon")
chain = Chain(srv, "tron-nile")
FIN_NAME = uniq("ui-finance")
FIN = admin("create-key", "--role", "finance", "--name", FIN_NAME, "--env", "sandbox", check=True)[1].strip()
VIEWER = key("viewer")
m = Merchant(rails=("tron:usdt",), addresses=6)
U = 1_000_000
TS = "2026-11-26T10:00:00Z"

pd = chain.pay(m, "D-amount", 10 * U)
order(srv, m, "D-amount", "12", "paid", TS)            # commerce says 12, provider/finance 10
order(srv, m, "E-typo", "5", "paid", TS)               # commerce paid, no payment under that reference
pe = chain.pay(m, "E-tpyo", 5 * U)                     # …because the customer's reference was mistyped
recon("incremental")
ids = {c: break_id(c, m.id, "sandbox", r) for c, r in (("amount_mismatch", "D-amount"), ("missing_in_provider", "E-typo"))}
ok(all(sql1("SELECT state FROM recon_breaks WHERE public_id = :'i'", i=i) == "new" for i in ids.values()),
   "setup: amount_mismatch and missing_in_provider breaks", ids)


def audits(obj, action):
    return int(sql1("SELECT count(*) FROM audit_log WHERE object_id = :'o' AND action = :'a'", o=obj, a=action))


c = Console(api=srv.base, key_file=key_file(FIN))
c.keys("5")
ok(c.wait("Reconciliation") is not None, "5 opens reconciliation")
c.keys(":")
c.type("recon merchant=" + m.name)
c.keys("Enter")
s = c.wait("E-typo")
ok(s is not None and "D-amount" in s and "reconciled through:" in s, "the merchant's breaks and the checkpoints", c.text())
lines = c.lines()
ok([l for l in lines if "missing_in_provider" in l or "amount_mismatch" in l][0].find("amount_mismatch") >= 0,
   "ordered most severe class first (amount_mismatch before missing_in_provider)")
row = [l for l in lines if "D-amount" in l][0]
ok("paid 12.00" in row and "finalized 10.00" in row and "1 tx 10.00" in row,
   "amount_mismatch: commerce 12, provider 10, finance 10 side by side", row)
# the disagreeing cells (commerce, provider) are drawn in another style than the agreeing one (finance);
# looked at with the cursor on the other row, so the selection colour is not in the way
c.keys("j")
c.wait(re.compile(r"(?m)^.*E-typo"))
import time; time.sleep(0.2)
esc = [l for l in c.text(colors=True).split("\n") if "D-amount" in l][0]
c.keys("g")
sgr = lambda text: (re.findall(r"((?:\x1b\[[0-9;]*m)+)[^\x1b]*" + re.escape(text), esc) or [""])[-1]
ok(sgr("paid 12.00") and sgr("paid 12.00") == sgr("finalized 10.00") and sgr("paid 12.00") != sgr("1 tx 10.00"),
   "the disagreeing planes are highlighted, the agreeing one is not", repr(esc[:400]))

# detail: the three planes side by side
lines = c.lines()
first = [i for i, l in enumerate(lines) if re.search(r"(amount_mismatch|missing_in_provider)", l)][0]
c.keys(*(["j"] * ([i for i, l in enumerate(lines) if "D-amount" in l][0] - first)))
c.keys("Enter")
s = c.wait("Break " + ids["amount_mismatch"])
s = c.wait("resolution")
ok(s is not None and "COMMERCE" in s and "PROVIDER" in s and "FINANCE" in s and "commerce,provider" in s,
   "Enter: the break with the three planes side by side", c.text())
same_as_expected(c.text(), "recon_break", extra=[(re.compile(r"brk_[0-9a-f]{24}"), "brk_XXXXXXXXXXXXXXXXXXXXXXXX")])

# acknowledge: Cancel first, then for real
c.keys("a")
c.wait("Note")
c.type("finance looked at it")
c.keys("Enter")
ok(c.wait("Acknowledge break?") is not None, "acknowledge: confirmation")
c.keys("Enter")
ok(c.wait("canceled — nothing changed") is not None, "Enter on Cancel changes nothing")
is_(sql1("SELECT acknowledged_by FROM recon_breaks WHERE public_id = :'i'", i=ids["amount_mismatch"]), None,
    "canceled: not acknowledged in the database")
c.keys("a")
c.wait("Note")
c.type("finance looked at it")
c.keys("Enter")
c.wait("Acknowledge break?")
c.keys("Tab", "Enter")
ok(c.wait("acknowledged " + ids["amount_mismatch"]) is not None, "acknowledge: status line", c.text())
is_(sql("SELECT acknowledged_by, ack_note FROM recon_breaks WHERE public_id = :'i'", i=ids["amount_mismatch"]),
    [[FIN_NAME, "finance looked at it"]], "acknowledge: database")
ok(c.wait(FIN_NAME) is not None, "acknowledge: the detail shows who, live")

# escalate to an exception
c.keys("x")
c.wait("Note")
c.type("needs ops")
c.keys("Enter")
c.wait("Escalate break?")
c.keys("Tab", "Enter")
ok(c.wait("escalated " + ids["amount_mismatch"]) is not None, "escalate: status line", c.text())
exc = sql1("SELECT e.public_id FROM recon_breaks b JOIN exceptions e ON e.id = b.exception_id WHERE b.public_id = :'i'",
           i=ids["amount_mismatch"])
ok(exc is not None, "escalate: the break links an exception in the database")
ok(c.wait(re.compile(r"exception +exc_")) is not None, "escalate: the detail shows the exception")
c.keys("x")
ok(c.wait("already escalated to an exception") is not None and "Note" not in c.text(),
   "escalating twice is refused before any dialog", c.text())
c.keys("Escape")
ok(c.wait(re.compile(r"(?m)^.*E-typo")) is not None, "Esc back to the breaks")

# match the typo'd payment to the order's reference
lines = c.lines()
first = [i for i, l in enumerate(lines) if re.search(r"(amount_mismatch|missing_in_provider)", l)][0]
idx = [i for i, l in enumerate(lines) if "E-typo" in l][0]
c.keys("g")
c.keys(*(["j"] * (idx - first)))
c.keys("m")
ok(c.wait("Match to a payment") is not None, "match: asks for the payment")
c.type("E-tpyo")                     # found by the merchant's (mistyped) reference
c.keys("Enter")
c.wait("Note")
c.type("customer mistyped the reference")
c.keys("Enter")
t = c.wait("Match break?")
ok(t is not None and pe in t and "E-typo" in t, "match: the confirmation names payment and reference", c.text())
c.keys("Tab", "Enter")
ok(c.wait("matched " + ids["missing_in_provider"]) is not None, "match: status line", c.text())
is_(sql1("SELECT count(*) FROM recon_matches rm JOIN payments p ON p.id = rm.payment_id WHERE p.public_id = :'p'"
         " AND rm.reference = 'E-typo'", p=pe), "1", "match: recon_matches row in the database")
for cls, action in (("amount_mismatch", "recon.acknowledge"), ("amount_mismatch", "recon.escalate"),
                    ("missing_in_provider", "recon.match")):
    n = int(sql1("SELECT count(*) FROM audit_log WHERE object_id = :'o' AND action LIKE :'a'", o=ids[cls],
                 a="%" + action.split(".")[1] + "%"))
    ok(n == 1, "%s: one audit row for %s" % (action, ids[cls]), sql("SELECT action, object_id FROM audit_log ORDER BY id DESC LIMIT 5"))

# export the open breaks to a file
path = os.path.join(os.path.abspath(LOGDIR), uniq("export") + ".csv")
c.keys("X")
ok(c.wait("Export open breaks") is not None, "export: asks where")
c.keys("C-u")
c.type(path)
c.keys("Enter")
ok(c.wait("exported") is not None, "export: status line", c.text())
data = open(path).read() if os.path.exists(path) else ""
ok(data.startswith("break_id,class,") and ids["amount_mismatch"] in data, "export: the CSV file holds the open breaks",
   data[:300])
ok((os.stat(path).st_mode & 0o077) == 0 if data else False, "export: the file is readable by its owner only")
c.keys("q")
is_(c.exit_code(), 0, "finance console exits cleanly")
c.close()

# a viewer: finance actions disabled, with the reason
before = row_counts(["recon_breaks", "recon_matches", "audit_log", "exceptions"])
v = Console(api=srv.base, key_file=key_file(VIEWER))
v.keys("5")
v.wait("Reconciliation")
ok("ack✗" in v.hint() and "needs role finance" in v.hint(), "viewer: ack/match/escalate/export disabled with the reason",
   v.hint())
v.keys("a")
ok(v.wait("ack is not available: needs role finance") is not None, "viewer: a explains and does nothing")
v.keys("X")
ok(v.wait("export is not available: needs role finance") is not None, "viewer: X explains and does nothing")
v.keys("q")
v.exit_code()
v.close()
is_(row_counts(["recon_breaks", "recon_matches", "audit_log", "exceptions"]), before, "the viewer changed nothing")
