#!/usr/bin/env python3
"""Tagging and bulk actions on the exceptions queue through the real railtop in tmux (DESIGN
§9): Space tags and moves down, the title counts the tags, `r` resolves every tagged row
with one resolution (only those all their types allow) and one note, the confirmation
states the count, the type and the total; the result says what succeeded and what failed
and why — a row changed by someone else since it was tagged is a 409, reported, not
retried. Checked in the database and the audit log."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=8)
w = key("watcher")
pays = [underpaid_tron_payment(srv, m, w, uniq("bulk"), amount="40", paid_units="30000000") for _ in range(4)]
ids = [sql1("SELECT e.public_id FROM exceptions e JOIN payments p ON p.id = e.payment_id WHERE p.public_id = :'p'"
            " AND e.type = 'underpaid'", p=p["id"]) for p in pays]
OPS_NAME = uniq("ui-ops")
OPS = admin("create-key", "--role", "ops", "--name", OPS_NAME, "--env", "sandbox", check=True)[1].strip()
c = Console(api=srv.base, key_file=key_file(OPS))
c.keys(":")
c.type("exceptions merchant=" + m.name)
c.keys("Enter")
ok(c.wait("underpaid") is not None, "the merchant's four underpaid exceptions", c.text())
c.keys("g", "Space", "Space", "Space")
s = c.wait("3 tagged")
ok(s is not None, "Space tags three rows, the title counts them", c.text())
marked = [l for l in c.lines() if l.startswith("●")]
is_(len(marked), 3, "the tagged rows are marked")
c.keys("r")
s = c.wait("Resolve all tagged as")
ok(s is not None and "write_off" in s and "accept_partial" in s, "r offers the resolutions all tagged types allow", c.text())
c.keys("4", "Enter")
ok(c.wait("Note for all") is not None, "one note for all")
c.type("shortfalls under 15 USDT are written off")
c.keys("Enter")
s = c.wait("Resolve 3 tagged?")
ok(s is not None and "Resolve 3 underpaid exceptions as write_off — 30.00 USDT" in s,
   "the confirmation states the count, the type, the resolution and the total", c.text())
c.keys("Tab", "Enter")
s = c.wait("Bulk result")
ok(s is not None and "3 succeeded, 0 failed" in s, "the result: three succeeded", c.text())
c.keys("Tab", "Enter")
done = [i for i in ids if sql1("SELECT resolution FROM exceptions WHERE public_id = :'i'", i=i) == "write_off"]
is_(len(done), 3, "database: three written off")
is_(sql1("SELECT count(*) FROM audit_log WHERE action = 'exception.resolve' AND actor = :'a'", a=OPS_NAME), "3",
    "three audit rows, one per exception, with the operator")
ok(c.wait("tagged", absent=True) is not None, "the succeeded rows are untagged", c.text())

# a second round: two tagged, one of them changed by a colleague meanwhile
for _ in range(2):
    underpaid_tron_payment(srv, m, w, uniq("bulk2"), amount="40", paid_units="30000000")
c.keys(":")
c.type("exceptions merchant=" + m.name)
c.keys("Enter")
c.wait("underpaid")
c.keys("g", "Space", "Space")
ok(c.wait("2 tagged") is not None, "two more tagged", c.text())
open_ids = [r[0] for r in sql("SELECT e.public_id FROM exceptions e WHERE e.merchant_id = :'m' AND e.state = 'open'"
                              " ORDER BY 5 - e.severity, e.sla_due, e.id LIMIT 2", m=m.id)]
st, _, _ = srv.call("POST", "/v1/exceptions/%s/claim" % open_ids[0], key=key("ops"), body={"version": 1})
is_(st, 200, "a colleague claims one of them")
c.keys("c")
s = c.wait("Claim 2 tagged?")
ok(s is not None, "claim asks once for both", c.text())
c.keys("Tab", "Enter")
s = c.wait("Bulk result")
ok(s is not None and "1 succeeded, 1 failed" in s and open_ids[0] in s and "409 version_conflict" in s,
   "the result: one claimed, the colleague's one a 409 version conflict, reported", c.text())
c.keys("Tab", "Enter")
is_(sql1("SELECT assignee FROM exceptions WHERE public_id = :'i'", i=open_ids[1]), OPS_NAME, "database: ours claimed it")
ok(sql1("SELECT assignee FROM exceptions WHERE public_id = :'i'", i=open_ids[0]) != OPS_NAME,
   "and the colleague keeps theirs (never retried blindly)")
ok(c.wait("1 tagged") is not None, "the failed row stays tagged for a second look", c.text())
c.keys("u")
ok(c.wait("1 untagged") is not None and "· 1 tagged" not in c.text(), "u clears the tags", c.text())
c.keys("*")
n_rows = sql1("SELECT count(*) FROM exceptions WHERE merchant_id = :'m' AND state IN ('open','claimed')", m=m.id)
ok(c.wait("· %s tagged" % n_rows) is not None, "* tags every row the filter matches (%s)" % n_rows, c.text())

# y copies the selected row's id, Y the row, through tmux (set-clipboard on) by OSC 52
c.tmux("set-option", "-s", "set-clipboard", "on")
c.keys("g", "y")
first = sql1("SELECT e.public_id FROM exceptions e WHERE e.merchant_id = :'m' AND e.state IN ('open','claimed')"
             " ORDER BY 5 - e.severity, e.sla_due, e.id LIMIT 1", m=m.id)
ok(c.wait("copied " + first) is not None, "y: the status line says what was copied", c.text())
ok(wait_for(lambda: c.tmux("show-buffer").stdout == first, timeout=5), "and tmux's buffer holds the id",
   c.tmux("show-buffer").stdout)
c.keys("Y")
ok(c.wait("copied the row of " + first) is not None, "Y copies the row")
ok(wait_for(lambda: c.tmux("show-buffer").stdout.startswith(first + "\t") and "underpaid" in c.tmux("show-buffer").stdout,
            timeout=5), "as tab-separated text", c.tmux("show-buffer").stdout)
c.close()
srv.stop()
