#!/usr/bin/env python3
"""Keys from the config file (DESIGN §9): `bind = REQUEST KEY` moves a request to another key
— it works there, no longer on the old one, and the hint line and the ? help show it;
`unbind` removes one; an unknown name, a bad key or a key another request holds stops
railtop with the file and line."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=2)
w = key("watcher")
underpaid_tron_payment(srv, m, w, uniq("bind"))
OPS = key("ops")


def config(text):
    path = os.path.join(LOGDIR, uniq("cfg"))
    open(path, "w").write(text)
    return path


good = config("# my keys\nbind = claim C\nunbind = pause\nbind = REQ_TAG t\n")
c = Console(api=srv.base, key_file=key_file(OPS), env={"RAILTOP_CONFIG": good})
c.keys("2")
c.wait("Exceptions  queue")
c.keys(":")
c.type("exceptions merchant=" + m.name)
c.keys("Enter")
c.wait("underpaid")
ok("C claim" in c.hint() and "c claim" not in c.hint(), "the hint line shows claim on C", c.hint())
ok("p pause" not in c.hint(), "an unbound request leaves the hint line", c.hint())
c.keys("c")
ok(c.wait("c: no action here") is not None, "c no longer claims", c.text())
c.keys("C")
ok(c.wait("Claim exception?") is not None, "C claims", c.text())
c.keys("Escape")
c.wait("canceled")
c.keys("t")
ok(c.wait("1 tagged") is not None, "tag moved to t", c.text())
c.keys("?")
s = c.wait("keys (from the same table")
row = [l for l in c.lines() if "claim the exception" in l]
ok(row and row[0].lstrip().startswith("C ") and "claim" in row[0], "the ? help shows C for claim, with its name", row)
c.keys("q")
c.close()

for text, frag in [("bind = clam C\n", ":1: bind: unknown request 'clam'"),
                   ("\n\nbind = claim Ctrl-C\n", ":3: bind: 'Ctrl-C' is not a key"),
                   ("bind = claim r\n", ":1: bind: 'r' is already RESOLVE's key"),
                   ("bind = claim\n", ":1: bind: bind needs a request name and a key"),
                   ("unbind = claim resolve\n", ":1: unbind: unbind needs one request name")]:
    path = config(text)
    b = Console(api=srv.base, key_file=key_file(OPS), env={"RAILTOP_CONFIG": path})
    rc = b.exit_code()
    err = b.stderr()
    ok(rc == 2 and (path + frag) in err, "a bad line stops railtop naming file:line: %r" % text.strip(), (rc, err))
    b.close()
srv.stop()
