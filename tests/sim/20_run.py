#!/usr/bin/env python3
"""railsim run against a real raild and PostgreSQL: payments reach several states, the
planted mistakes become exceptions of several types, 18-decimal amounts arrive exact, and
the requests it made are the ones --print-plan promised for the same seed."""
import json, os, re, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild()
m1 = Merchant(rails=("tron:usdt", "bsc:usdt"), addresses=80)
m2 = Merchant(rails=("tron:usdt",), addresses=40)
watcher = key("watcher")
hot = tron_address()
admin("add-wallet", "--network", "tron-nile", "--address", hot, "--kind", "hot", check=True)
tag = uniq("sim").replace("-", "")

d = os.path.join(LOGDIR, tag)
os.makedirs(d)
def keyfile(name, text):
    p = os.path.join(d, name)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, (text + "\n").encode())
    os.close(fd)
    return p

heads = [int(r[0]) for r in sql("SELECT head FROM chain_heads")]
start = max(heads + [0]) + 1000          # above every network's head: tests share the cluster
mix = "none,underpay=10,overpay=8,wrong-token=8,unknown-address=10,internal=6,duplicate=8,reorg=8," \
      "reorg-confirmed=8,cancel=8,sweep=8,split=6"
common = ["--merchant-key-file", keyfile("m1", m1.key) + "=tron:usdt,bsc:usdt",
          "--merchant-key-file", keyfile("m2", m2.key) + "=tron:usdt",
          "--watcher-key-file", keyfile("w-tron", watcher.for_network("tron-nile")),
          "--watcher-key-file", keyfile("w-bsc", watcher.for_network("bsc-testnet")), "--hot-wallet", "tron-nile=" + hot,
          "--seed", "18", "--tag", tag, "--rate", "8", "--speed", "50", "--max-payments", "40",
          "--start-height", str(start), "--mix", mix]
trace = os.path.join(d, "trace")
t0 = sql1("SELECT now()")
r = subprocess.run([RAILSIM, "run", "--api", srv.base, "--trace", trace, "--duration", "40", "--quiet"] + common,
                   capture_output=True, text=True, timeout=90)
with open(os.path.join(d, "railsim.log"), "w") as f:
    f.write(r.stderr)
is_(r.returncode, 0, "railsim run exits 0")
summary = dict(kv.split("=", 1) for kv in " ".join(l for l in r.stdout.splitlines() if l.startswith("railsim")).split()
               if "=" in kv)
diag(r.stdout)
ok(int(summary.get("payments_created", 0)) >= 25, "payments created (%s)" % summary.get("payments_created"))
is_(summary.get("payments_failed"), "0", "no creation failed")
is_(summary.get("transfers_failed"), "0", "the gateway accepted every transfer report")
is_(summary.get("head_failed"), "0", "the gateway accepted every head")
is_(summary.get("amount_mismatches"), "0", "the gateway's amount_units match railsim's for every payment")
ok("level=error" not in r.stderr, "no errors logged", r.stderr[-2000:])

pays = sql("SELECT p.rail, p.state, p.amount::text, p.reference, p.metadata->>'scenario'"
           " FROM payments p WHERE p.reference LIKE :'pat' ORDER BY p.id", pat="INV-%s-%%" % tag)
is_(len(pays), int(summary.get("payments_created", -1)), "every created payment is in the database")
states = {p[1] for p in pays}
diag("states: %s" % sorted(states))
ok(len(states) >= 3, "payments in several states: %s" % sorted(states))
ok("finalized" in states, "some payments went all the way to finalized")
ok("canceled" in states, "canceled payments (merchant cancel)")
ok({"tron:usdt", "bsc:usdt"} <= {p[0] for p in pays}, "payments on tron and bsc (18 decimals)")

# 18 decimals: the numbers in the database are exactly amount x 10^18
plan_amounts = {}
for line in open(trace):
    who, method, path, body = line.rstrip("\n").split(" ", 3)
    if path == "/v1/payments":
        b = json.loads(body)
        plan_amounts[b["reference"]] = b["amount"]
def units(a, dec):
    w, _, f = a.partition(".")
    return int(w) * 10 ** dec + int((f + "0" * dec)[:dec])
exact = all(int(p[2]) == units(plan_amounts[p[3]], RAILS[p[0]]["decimals"]) for p in pays)
ok(exact, "stored amounts are the decimal amounts in base units, exactly")
big = sql1("SELECT count(*) FROM chain_transfers WHERE network = 'bsc-testnet' AND value > 18446744073709551615"
           " AND first_seen_at >= :'t0'", t0=t0)
ok(int(big) > 0, "bsc transfers above 2^64 base units stored exactly (%s)" % big)

exc = sql("SELECT type, count(*) FROM exceptions WHERE opened_at >= :'t0' GROUP BY type ORDER BY 1", t0=t0)
types = {t for t, _ in exc}
diag("exceptions: %s" % exc)
ok(len(types) >= 4, "the planted mistakes opened several exception types: %s" % sorted(types))
for t in ("underpaid", "overpaid", "wrong_asset", "unmatched_transfer"):
    ok(t in types, "a %s exception was opened" % t)
cls = {c for (c,) in sql("SELECT DISTINCT classification FROM chain_transfers WHERE first_seen_at >= :'t0'", t0=t0)}
ok("sweep" in cls, "sweeps to our hot wallet are classified as sweeps: %s" % sorted(cls))
ok(sql1("SELECT count(*) FROM chain_transfers WHERE status = 'removed' AND first_seen_at >= :'t0'", t0=t0) != "0"
   or sql1("SELECT count(*) FROM payment_events e JOIN payments p ON p.id = e.payment_id"
           " WHERE p.reference LIKE :'pat' AND e.to_state = 'awaiting_payment' AND e.sequence > 0",
           pat="INV-%s-%%" % tag) != "0", "reorgs reached the gateway")

# same seed, same requests: the payment creations match the plan one for one
p = subprocess.run([RAILSIM, "run", "--print-plan", "--quiet"] + common, capture_output=True, text=True, timeout=60)
planned = [l.split(" ", 4)[4] for l in p.stdout.splitlines() if " POST /v1/payments " in l]
sent = [l.rstrip("\n").split(" ", 3)[3] for l in open(trace) if " POST /v1/payments " in l]
ok(len(planned) >= 25 and planned == sent, "the run created exactly the payments --print-plan listed (%d)" % len(planned),
   "planned %d sent %d" % (len(planned), len(sent)))

if sql1("SELECT to_regclass('orders') IS NOT NULL") == "t" and "orders=on" in r.stdout:
    n = sql1("SELECT count(*) FROM orders WHERE reference LIKE :'pat'", pat="INV-%s-%%" % tag)
    ok(int(n) >= 20, "merchants reported their orders (%s)" % n)
else:
    diag("orders endpoint not available: order reporting skipped")
ok(srv.alive(), "raild still serving")
