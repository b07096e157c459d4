#!/usr/bin/env python3
"""The payments board counts exactly: the open states in full, the terminal ones reached
today (or since= a period), labelled with the period; `/` finds a substring of the id,
reference, rail, state, address or merchant name through trigram indexes, with % and _
taken literally; since= takes bad input with a message and keeps the view."""
import os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=14)
tag = uniq("cs")[-6:]
refs = ["cnt-%s-a_b-1" % tag, "cnt-%s-axb-2" % tag, "cnt-%s-50%%-3" % tag, "cnt-%s-plain-4" % tag]
for i in range(10):
    refs.append("cnt-%s-n%02d" % (tag, i))
for r in refs:
    st, b, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": r, "amount": "1", "rail": "tron:usdt"})
    assert st == 201, b
# one of them created two days ago, and canceled then: outside today's counts and since=1d
old = sql1("SELECT public_id FROM payments WHERE reference = :'r'", r=refs[13])
sql("UPDATE payments SET state = 'canceled', created_at = now() - interval '2 days', updated_at = now() - interval '2 days'"
    " WHERE public_id = :'p'", p=old)


def board(c):
    line = c.lines()[2]
    return {k: int(v) for k, v in re.findall(r"(awaiting|detected|confirming|confirmed|finalized|expired|canceled) (\d+)", line)}, line


def db_counts(since_sql):
    out = {}
    for st, short in (("awaiting_payment", "awaiting"), ("detected", "detected"), ("confirming", "confirming"),
                      ("confirmed", "confirmed")):
        out[short] = int(sql1("SELECT count(*) FROM payments WHERE environment = 'sandbox' AND state = :'s'", s=st))
    for st in ("finalized", "expired", "canceled"):
        out[st] = int(sql1("SELECT count(*) FROM payments WHERE environment = 'sandbox' AND state = :'s'"
                           " AND coalesce(finalized_at, updated_at) >= " + since_sql, s=st))
    return out


c = Console(api=srv.base, key_file=key_file(key("viewer")))
c.wait("REFERENCE")
time.sleep(1.2)   # the counts refresh at most once a second
got, line = board(c)
is_(got, db_counts("date_trunc('day', now())"), "the board: open states exact, terminal states today (TZ=UTC)", line)
ok("│ today: finalized" in line, "the terminal counts say their period", line)
ok(not re.search(r"\d+\+", line), "no capped counts (10000+)", line)

c.keys(":")
c.type("payments since=1d merchant=" + m.name)
c.keys("Enter")
s = c.wait("1d: finalized")
got, line = board(c)
is_(got["canceled"], db_counts("now() - interval '1 day'")["canceled"], "since=1d: the terminal counts over a day", line)
shown = [l.split()[0] for l in c.lines() if l.startswith("cnt-" + tag)]
is_(sorted(shown), sorted(refs[:13]), "since=1d lists the payments created in the last day (not the 2-day-old one)", shown)
for bad in ("since=2026-02-31", "since=tomorrow", "since=0h", "since=-3d", "since=2026-13-01"):
    c.keys(":")
    c.type("payments " + bad)
    c.keys("Enter")
    ok(c.wait("use today, yesterday, YYYY-MM-DD", timeout=5) is not None, "%s is refused with the forms it takes" % bad,
       c.lines()[-2:])

c.keys(":")
c.type("payments")
c.keys("Enter")
c.wait("today: finalized")


def filter_rows(text):
    c.keys("/", "C-u")   # the prompt starts with the filter in force
    c.type(text)
    c.keys("Enter")
    time.sleep(0.8)
    c.wait("filter: /")
    return sorted(l.split()[0] for l in c.lines() if l.startswith("cnt-" + tag))


is_(filter_rows("%s-plain" % tag), ["cnt-%s-plain-4" % tag], "/ finds a rare substring of the reference")
is_(filter_rows("%s-a_b" % tag), ["cnt-%s-a_b-1" % tag], "_ in the filter is a literal underscore, not a wildcard")
is_(filter_rows("%s-50%%" % tag), ["cnt-%s-50%%-3" % tag], "% in the filter is a literal percent sign")
is_(len(filter_rows(m.name[-6:].upper())), 14, "/ finds payments by a substring of the merchant's name, any case")
pid = sql1("SELECT public_id FROM payments WHERE reference = :'r'", r=refs[0])
is_(filter_rows(pid[4:14]), [refs[0]], "/ finds a payment by a piece of its id")
plan = sql("SET enable_seqscan = off; EXPLAIN SELECT 1 FROM payments p WHERE payment_search_text(p.public_id, p.reference,"
           " p.rail, p.state, p.deposit_address) LIKE '%%plain%%'")
ok(any("payments_search" in str(r) for r in plan), "the filter's predicate is served by the trigram index", plan)
plan = sql("EXPLAIN SELECT count(*) FROM payments p WHERE p.environment = 'sandbox' AND p.state = 'finalized'"
           " AND p.state IN ('finalized','expired','canceled') AND coalesce(p.finalized_at, p.updated_at) >= now()")
ok(any("payments_env_terminal_at" in str(r) for r in plan),
   "terminal counts are served by their index (index-only once the visibility map is set)", plan)
c.close()
srv.stop()
