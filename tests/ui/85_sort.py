#!/usr/bin/env python3
"""Sorting lists through the real railtop in tmux (DESIGN §9): `s` cycles the orders an index
serves, `S` reverses, the column header shows the arrow, and keyset paging keeps the order
across pages and at the end (G) and back (g). Each order is an index scan in PostgreSQL."""
import os, re, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=70)
amounts = [(i * 37) % 70 + 1 for i in range(70)]          # 1..70 in a scrambled creation order
for a in amounts:
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("sort"), "amount": "%d.00" % a,
                                                                "rail": "tron:usdt"})
    assert st == 201, (st, p)


def expected_col(c):
    """the EXPECTED amounts of the rows on screen, top to bottom"""
    vals = []
    for l in c.lines()[4:38]:
        mm = re.search(r"tron:usdt\s+(\d+\.\d\d)\s", l)
        if mm:
            vals.append(float(mm.group(1)))
    return vals


c = Console(api=srv.base, key_file=key_file(key("ops")))
c.keys(":")
c.type("payments merchant=" + m.name)
c.keys("Enter")
c.wait("tron:usdt")
ok("AGE↓" in c.lines()[3], "the default order (newest first) has its arrow on AGE", c.lines()[3])
c.keys("s")
ok(c.wait("sorted by expected amount (descending)") is not None, "s: sorted by the expected amount", c.text())
ok("EXPECTED↓" in c.lines()[3] and "AGE↓" not in c.lines()[3], "the arrow moves to EXPECTED", c.lines()[3])
top = expected_col(c)
ok(top and top == sorted(top, reverse=True) and top[0] == 70.0, "largest first, in order", top)
c.keys("PgDn")
c.wait("tron:usdt")
nxt = expected_col(c)
ok(nxt and nxt == sorted(nxt, reverse=True) and nxt[0] < top[-1], "the next page continues the order", (top[-3:], nxt[:3]))
c.keys("S")
ok(c.wait("(ascending)") is not None and "EXPECTED↑" in c.lines()[3], "S reverses: the arrow points up", c.lines()[3])
asc = expected_col(c)
ok(asc and asc[0] == 1.0 and asc == sorted(asc), "smallest first", asc[:5])
c.keys("G")
ok(wait_for(lambda: expected_col(c) and expected_col(c)[-1] == 70.0), "G: the last page ends with the largest",
   expected_col(c)[-5:])
c.keys("g")
ok(wait_for(lambda: expected_col(c) and expected_col(c)[0] == 1.0), "g: back to the smallest", expected_col(c)[:3])
c.keys("s")
ok(c.wait("sorted by reference") is not None, "s again: the next order (reference)", c.text())
c.keys("s", "s")
ok(c.wait("sorted by newest") is not None and "AGE↓" in c.lines()[3], "and round to the default", c.text())
# the exceptions queue: most severe first by default, then opened, then amount
c.keys("2")
c.wait("Exceptions  queue")
ok("SEV↓" in c.lines()[3], "exceptions: the default order shows SEV↓ (most severe first)", c.lines()[3])
c.keys("s")
ok(c.wait("sorted by opened (descending)") is not None and "OPENED↓" in c.lines()[3], "s: by when opened", c.lines()[3])
c.keys("s")
ok(c.wait("sorted by amount (descending)") is not None and "AMOUNT↓" in c.lines()[3], "s: by amount", c.lines()[3])
c.close()

# every order is served by an index: with sequential scans and sorts priced out, the planner
# still finds a plan without a Sort node
for label, order in [("amount", "p.amount DESC, p.id DESC"), ("reference", "p.reference, p.id"),
                     ("state", "p.state, p.id")]:
    r = subprocess.run(["psql", "-X", "-At", "-c", "SET enable_sort = off; SET enable_seqscan = off; EXPLAIN SELECT p.id"
                        " FROM payments p WHERE p.environment = 'sandbox' ORDER BY %s LIMIT 35" % order],
                       capture_output=True, text=True)
    ok(r.returncode == 0 and "Index" in r.stdout and "Sort" not in r.stdout, "payments by %s: an index scan" % label,
       r.stdout + r.stderr)
srv.stop()
