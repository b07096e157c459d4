#!/usr/bin/env python3
"""One batch of transfers, every kind at once (ingest.c ingest_batch): the new ones that hit
no payment go in with one INSERT and their exceptions with one more, the rest one by one.
Whatever path a transfer takes, a user sees the same: answers in the batch's order, the
classification each kind has alone, one exception per exception-worthy transfer with its
context and severity, a change-log row for every transfer and exception (the console's live
refresh), reconciliation's dirty rows, idempotent re-sends, and a conflicting batch that
leaves the database as it was. In a database of its own: its 600 unmatched transfers
would crowd other tests' exceptions out of the first page of the shared queue."""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

name = "ingest_" + uniq("t").replace("-", "_")
sql("CREATE DATABASE %s" % name)
os.environ["PGDATABASE"] = name
r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True)
ok(r.returncode == 0, "a database of its own, migrated", r.stderr[-1000:])
srv = Raild("--no-sweeper")
NET = "tron-nile"
W = key("watcher", network=NET)
TRON = RAILS["tron:usdt"]
USDT = TRON["contract"]


def xfer(to, value, frm=None, contract=USDT, block=None, removed=None):
    x = {"tx_hash": tx_hash(), "log_index": 0, "block_number": block, "block_hash": None, "contract": contract,
         "from": frm or tron_address(), "to": to, "value": value}
    if removed is not None:
        x["removed"] = removed
    return x


def canon(tx):
    """the tx hash as Tron networks store it: lower-case hex without 0x"""
    return tx.lower()[2:] if tx.lower().startswith("0x") else tx.lower()


def hashes(ts):
    return "{" + ",".join(canon(x["tx_hash"]) for x in ts) + "}"


def send(ts, want=200):
    st, b, _ = srv.call("POST", "/v1/chain/transfers", key=W, body={"network": NET, "transfers": ts})
    is_(st, want, "POST /v1/chain/transfers answers %d" % want, b)
    return b


def stored(tx):
    return sql("SELECT classification, status, CASE WHEN counted THEN 't' ELSE 'f' END, coalesce(payment_id::text, '') FROM chain_transfers"
               " WHERE network = :'n' AND tx_hash = :'t'", n=NET, t=canon(tx))


def excs_of(tx):
    return sql("SELECT e.type, e.state, e.severity, coalesce(e.amount::text, ''), coalesce(e.environment, ''),"
               " coalesce(e.network, ''), coalesce(e.rail, ''), e.details->>'tx_hash'"
               " FROM exceptions e JOIN chain_transfers t ON t.id = e.transfer_id"
               " WHERE t.network = :'n' AND t.tx_hash = :'t' ORDER BY e.id", n=NET, t=canon(tx))


def change_rows(tbl, since):
    return sql("SELECT row_id, op FROM change_log WHERE tbl = :'t' AND id > :'s' ORDER BY id", t=tbl, s=since)


m = Merchant(rails=("tron:usdt",), addresses=6)
st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("b"), "amount": "5", "rail": "tron:usdt"})
assert st == 201, (st, p)
free = sql1("SELECT address FROM deposit_addresses WHERE network = :'n' AND payment_id IS NULL ORDER BY id DESC LIMIT 1",
            n=NET)
hot, sweep = tron_address(), tron_address()
admin("add-wallet", "--network", NET, "--address", hot, "--kind", "hot", check=True)
admin("add-wallet", "--network", NET, "--address", sweep, "--kind", "sweep", check=True)
stranger, fake = tron_address(), tron_address()

# ---------------------------------------------------------------- every kind in one batch
batch = [
    xfer(stranger, "20000000"),                       # unmatched, severity 1
    xfer(p["deposit_address"], "5000000"),             # pays the payment (one by one: it locks the payment)
    xfer(free, "20000000000"),                         # unassigned deposit address: unmatched, severity 3
    xfer(free, "7000000", contract=fake),              # look-alike token to a deposit address: wrong_asset
    xfer(stranger, "0"),                               # zero-value spam: ignored
    xfer(sweep, "9000000", frm=hot),                   # hot -> sweep: sweep
    xfer(stranger, "11000000", frm=hot),               # hot -> elsewhere: unclassified_internal, one higher
    xfer(stranger, "13000000", removed=True),          # first reported removed: kept, no exception
]
want = ["unmatched", "payment", "unmatched", "wrong_asset", "ignored", "sweep", "unclassified_internal", "unmatched"]
cl0 = sql1("SELECT coalesce(max(id), 0) FROM change_log")
rd0 = int(sql1("SELECT count(*) FROM recon_dirty WHERE plane = 'provider' AND transfer_id IS NOT NULL"))
b = send(batch)
res = b["transfers"]
is_([(r["tx_hash"], r["log_index"]) for r in res], [(canon(x["tx_hash"]), 0) for x in batch],
    "the answer lists the transfers in the batch's order")
is_([r["classification"] for r in res], want, "each kind is classified as it is alone")
is_([r["payment_id"] for r in res], [None, p["id"], None, None, None, None, None, None],
    "only the paying transfer names a payment")
is_([stored(x["tx_hash"])[0] for x in batch],
    [["unmatched", "seen", "f", ""], ["payment", "seen", "t", sql1("SELECT id FROM payments WHERE public_id = :'p'", p=p["id"])],
     ["unmatched", "seen", "f", ""], ["wrong_asset", "seen", "f", ""], ["ignored", "seen", "f", ""],
     ["sweep", "seen", "f", ""], ["unclassified_internal", "seen", "f", ""], ["unmatched", "removed", "f", ""]],
    "stored once each: classification, status, counted, payment")
is_(srv.call("GET", "/v1/payments/" + p["id"], key=m.key)[1]["state"], "detected", "the payment is detected")

ex = [excs_of(x["tx_hash"]) for x in batch]
is_([len(e) for e in ex], [1, 0, 1, 1, 0, 0, 1, 0], "one exception per exception-worthy transfer, none for the rest")
is_(ex[0][0], ["unmatched_transfer", "open", "1", "20000000", "sandbox", NET, "tron:usdt", canon(batch[0]["tx_hash"])],
    "unmatched: environment of the network, the rail of its contract, the transfer in the details")
is_(ex[2][0][:4], ["unmatched_transfer", "open", "3", "20000000000"], "severity follows the amount (20,000 USDT: 3)")
is_(ex[3][0][:7], ["wrong_asset", "open", "1", "7000000", "sandbox", NET, ""],
    "wrong_asset: an unknown token has no rail")
is_(ex[6][0][:4], ["unclassified_internal", "open", "2", "11000000"], "unclassified_internal starts one level higher")
is_(int(sql1("SELECT count(*) FROM webhook_outbox WHERE exception_id IN (SELECT e.id FROM exceptions e"
             " JOIN chain_transfers t ON t.id = e.transfer_id WHERE t.tx_hash = ANY(:'a'::text[]))",
             a=hashes(batch))), 0,
    "no merchant is known for these exceptions: no webhook")

tids = {r[0] for r in sql("SELECT id FROM chain_transfers WHERE tx_hash = ANY(:'a'::text[])",
                           a=hashes(batch))}
ct = change_rows("chain_transfers", cl0)
is_(sorted(r[0] for r in ct if r[1] == "INSERT"), sorted(tids), "the change log has one INSERT row per new transfer")
eids = {r[0] for r in sql("SELECT e.id FROM exceptions e JOIN chain_transfers t ON t.id = e.transfer_id"
                           " WHERE t.tx_hash = ANY(:'a'::text[])",
                           a=hashes(batch))}
is_(sorted(r[0] for r in change_rows("exceptions", cl0) if r[1] == "INSERT"), sorted(eids),
    "…and one per new exception")
is_(int(sql1("SELECT count(*) FROM recon_dirty WHERE plane = 'provider' AND transfer_id IS NOT NULL")) - rd0, 3,
    "reconciliation looks again at the three unmatched transfers")

# ---------------------------------------------------------------- re-sent: nothing twice
before = row_counts(["chain_transfers", "exceptions", "webhook_outbox", "ledger_transactions"])
b2 = send(batch)
is_([r["classification"] for r in b2["transfers"]], want, "re-sent, the same answers")
is_(row_counts(["chain_transfers", "exceptions", "webhook_outbox", "ledger_transactions"]), before,
    "re-sent, no transfer, exception, webhook or ledger row is added")

# ---------------------------------------------------------------- one transfer twice in a batch
x = xfer(stranger, "21000000")
b3 = send([x, dict(x)])
is_([r["classification"] for r in b3["transfers"]], ["unmatched", "unmatched"], "twice in one batch: the same answer twice")
is_((len(stored(x["tx_hash"])), len(excs_of(x["tx_hash"]))), (1, 1), "…stored once, one exception")

# ---------------------------------------------------------------- a conflict rejects the whole batch
before = row_counts()
fresh = xfer(stranger, "23000000")
changed = dict(batch[0], value="20000001")
b4 = send([fresh, xfer(free, "1000"), changed], want=409)
is_(b4.get("error", {}).get("code"), "transfer_conflict", "a known transfer with another value: transfer_conflict")
ok("transfers[2]" in b4.get("error", {}).get("message", ""), "the message names the conflicting transfer",
   b4.get("error"))
is_(row_counts(), before, "nothing of the batch is stored: no transfer, no exception, no change-log row")
is_(stored(fresh["tx_hash"]), [], "the batch's new transfer is not there")

# ---------------------------------------------------------------- a large batch
big = [xfer(tron_address(), str(1000000 * (1 + i % 3) * (1 if i % 2 else 100000))) for i in range(600)]
b5 = send(big)
is_([r["classification"] for r in b5["transfers"]], ["unmatched"] * 600, "600 transfers in one batch, all unmatched")
rows = sql("SELECT t.tx_hash, count(e.id), min(e.severity), min(e.amount)::text = t.value::text FROM chain_transfers t"
           " LEFT JOIN exceptions e ON e.transfer_id = t.id WHERE t.tx_hash = ANY(:'a'::text[]) GROUP BY t.tx_hash, t.value",
           a=hashes(big))
is_(len(rows), 600, "each is stored")
is_(sorted({r[1] for r in rows}), ["1"], "each has exactly one exception")
is_(sorted({r[3] for r in rows}), ["t"], "each exception carries its own transfer's amount")
sev = {canon(x["tx_hash"]): ("1" if int(x["value"]) < 100 * 10**6 else "4" if int(x["value"]) >= 100000 * 10**6
                              else "3") for x in big}
is_(sorted(r[0] for r in rows if r[2] != sev[r[0]]), [], "each exception's severity follows its own amount")
ok(srv.alive(), "raild still serving")
