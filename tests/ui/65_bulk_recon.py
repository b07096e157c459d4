#!/usr/bin/env python3
"""Tagged breaks acknowledged at once through the real railtop in tmux: Space tags, `a`
acknowledges every tagged break with one note through POST /v1/recon/breaks/bulk-acknowledge,
the result says how many; each break acknowledged and audited in the database."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "recon"))
from uikit import *
from reconlib import order, recon, break_id

srv = Raild("--no-recon")
FIN_NAME = uniq("ui-finance")
FIN = admin("create-key", "--role", "finance", "--name", FIN_NAME, "--env", "sandbox", check=True)[1].strip()
m = Merchant(rails=("tron:usdt",), addresses=2)
for i in range(3):
    order(srv, m, "ui-bulk-%d" % i, "5", "paid", "2026-11-26T10:00:00Z")
recon("incremental")
ids = [break_id("missing_in_provider", m.id, "sandbox", "ui-bulk-%d" % i) for i in range(3)]
c = Console(api=srv.base, key_file=key_file(FIN))
c.keys(":")
c.type("recon merchant=" + m.name)
c.keys("Enter")
ok(c.wait("ui-bulk-2") is not None, "the merchant's three breaks", c.text())
c.keys("g", "Space", "Space", "Space")
ok(c.wait("3 tagged") is not None, "three tagged", c.text())
c.keys("a")
ok(c.wait("Note for all") is not None, "a asks one note for all")
c.type("test orders, merchant confirmed")
c.keys("Enter")
ok(c.wait("Acknowledge 3 tagged breaks") is not None, "the confirmation states the count", c.text())
c.keys("Tab", "Enter")
s = c.wait("Bulk result")
ok(s is not None and "3 succeeded, 0 failed" in s, "three acknowledged", c.text())
c.keys("Tab", "Enter")
is_([sql1("SELECT acknowledged_by FROM recon_breaks WHERE public_id = :'i'", i=i) for i in ids], [FIN_NAME] * 3,
    "database: each acknowledged by the operator")
is_(sql1("SELECT count(*) FROM audit_log WHERE actor = :'a' AND object_id = ANY(string_to_array(:'i', ','))",
         a=FIN_NAME, i=",".join(ids)), "3", "one audit row each")
c.close()
srv.stop()
