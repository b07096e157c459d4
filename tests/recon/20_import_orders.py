#!/usr/bin/env python3
"""raild import-orders: a good file imports; a file with any bad row imports nothing and
names every problem by line and column; --partial imports the good rows and lists the
skipped ones; older rows never overwrite newer orders; bad-input table."""
import os, sys, subprocess
sys.path.insert(0, os.path.dirname(__file__))
from reconlib import *

m = Merchant()
H = "reference,amount,status,updated_at\n"


def run(content, *extra, merchant=None, env="sandbox"):
    path = os.path.join(LOGDIR, uniq("orders") + ".csv")
    with open(path, "wb") as f:
        f.write(content if isinstance(content, bytes) else content.encode())
    r = subprocess.run([RAILD, "import-orders", "--merchant", merchant or m.id, "--env", env] + list(extra) + [path],
                       capture_output=True, text=True)
    os.unlink(path)
    return r.returncode, r.stdout, r.stderr


def orders():
    return sql("SELECT reference, amount::text, status FROM orders WHERE merchant_id = :'m' ORDER BY 1", m=m.id)


rc, out, err = run(H + "imp-1,10.00,paid,2026-11-26T12:00:00Z\r\n\"imp-2\",\"1,000.5\",pending,2026-11-26T12:00:00Z\n"
                   .replace("1,000.5", "1000.5") + '"imp,3",0.000001,fulfilled,2026-11-26T12:00:00+02:00\n')
is_(rc, 0, "a good file (CRLF, quoted fields) imports: exit 0")
ok("3 created" in out, "it reports 3 created", out + err)
is_(orders(), [["imp,3", "1000000000000", "fulfilled"], ["imp-1", "10000000000000000000", "paid"],
               ["imp-2", "1000500000000000000000", "pending"]], "the orders as imported, exact")
is_(sql1("SELECT count(*) FROM audit_log WHERE action = 'orders.import' AND object_id = :'m'", m=m.id), "1",
    "the import is audited")

rc, out, err = run(H + "imp-1,10.00,paid,2026-11-26T11:00:00Z\nimp-2,1000.5,paid,2026-11-26T13:00:00Z\n")
ok(rc == 0 and "1 updated" in out and "1 older than stored" in out, "re-import: a newer row updates, an older is ignored",
   out + err)
is_(sql1("SELECT status FROM orders WHERE merchant_id = :'m' AND reference = 'imp-2'", m=m.id), "paid", "imp-2 is now paid")

BAD = [
    ("bad amount", H + "x-1,12.x,paid,2026-11-26T12:00:00Z\n", "line 2, column 2 (amount)"),
    ("negative amount", H + "x-1,-5,paid,2026-11-26T12:00:00Z\n", "line 2, column 2 (amount)"),
    ("too many decimals", H + "x-1,1.0000000000000000001,paid,2026-11-26T12:00:00Z\n", "line 2, column 2 (amount)"),
    ("unknown status", H + "x-1,1,shipped,2026-11-26T12:00:00Z\n", "line 2, column 3 (status)"),
    ("bad time", H + "x-1,1,paid,yesterday\n", "line 2, column 4 (updated_at)"),
    ("February 30", H + "x-1,1,paid,2026-02-30T12:00:00Z\n", "line 2, column 4 (updated_at)"),
    ("duplicate reference", H + "x-1,1,paid,2026-11-26T12:00:00Z\nx-1,2,paid,2026-11-26T12:00:00Z\n",
     "line 3, column 1 (reference): duplicate reference: also on line 2"),
    ("too few columns", H + "x-1,1,paid\n", "line 2: expected 4 columns"),
    ("too many columns", H + "x-1,1,paid,2026-11-26T12:00:00Z,extra\n", "line 2: expected 4 columns"),
    ("non-UTF-8", (H + "x-1,1,paid,2026-11-26T12:00:00Z\n").encode().replace(b"x-1", b"x-\xff"),
     "line 2, column 1 (reference): not valid UTF-8"),
    ("empty file", "", "line 1: the file is empty"),
    ("header only", H, "the file has a header but no orders"),
    ("wrong header", "ref,amount,status,updated_at\nx-1,1,paid,2026-11-26T12:00:00Z\n", "line 1: the first line must be the header"),
    ("unterminated quote", H + '"x-1,1,paid,2026-11-26T12:00:00Z\n', "line 2, column 1 (reference): unterminated"),
]
before = row_counts()
for label, content, want in BAD:
    rc, out, err = run(content)
    ok(rc == 1 and want in err and "nothing imported" in err, "%s: exit 1, '%s', nothing imported" % (label, want),
       "rc=%d\n%s%s" % (rc, out, err))
is_(row_counts(), before, "bad files changed nothing in the database")

# several problems: all reported with their line, nothing imported
content = (H + "ok-1,1,paid,2026-11-26T12:00:00Z\nbad-2,abc,paid,2026-11-26T12:00:00Z\n"
           "ok-3,3,pending,2026-11-26T12:00:00Z\nbad-4,4,lost,nope\nok-1,5,paid,2026-11-26T12:00:00Z\n")
rc, out, err = run(content)
ok(rc == 1 and "line 3, column 2 (amount)" in err and "line 5, column 3 (status)" in err and
   "line 5, column 4 (updated_at)" in err and "line 6, column 1 (reference): duplicate" in err,
   "every bad cell is named by line and column", err)
ok("3 bad rows" in err, "the summary counts the bad rows", err)
is_(sql1("SELECT count(*) FROM orders WHERE merchant_id = :'m' AND reference LIKE 'ok-%'", m=m.id), "0",
    "without --partial nothing was imported")
rc, out, err = run(content, "--partial")
ok(rc == 3 and "2 created" in out and "3 skipped" in out, "--partial: the 2 good rows imported, 3 skipped, exit 3",
   "rc=%d\n%s%s" % (rc, out, err))
ok("line 3" in err and "line 5" in err and "line 6" in err, "--partial lists the skipped lines", err)
is_(sql("SELECT reference, status FROM orders WHERE merchant_id = :'m' AND reference LIKE 'ok-%' ORDER BY 1", m=m.id),
    [["ok-1", "paid"], ["ok-3", "pending"]], "the good rows are there (the first ok-1, not its duplicate)")

# usage errors
for label, args in (("no merchant", ["--env", "sandbox", "x.csv"]), ("bad env", ["--merchant", m.id, "--env", "dev", "x.csv"]),
                    ("no file", ["--merchant", m.id, "--env", "sandbox"])):
    r = subprocess.run([RAILD, "import-orders"] + args, capture_output=True, text=True)
    is_(r.returncode, 2, "usage error (%s) exits 2" % label)
rc, out, err = run(H + "y-1,1,paid,2026-11-26T12:00:00Z\n", merchant="999999999")
ok(rc == 1 and "no merchant" in err, "an unknown merchant is refused", err)
