#!/usr/bin/env python3
"""The finance plane: a double-entry ledger whose balance the database enforces
(unbalanced, one-legged and cross-rail transactions are refused at commit; the books are
append-only), posted by triggers: finality (custody against the merchant payable, fee in
basis points to revenue), internal sweeps (between our custody accounts, never revenue),
and the money movements of exception resolutions (refund_excess, refund of an unmatched
transfer)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from reconlib import *

srv = Raild("--no-recon")
chain = Chain(srv, "tron-nile")
ops = key("ops")


def refused(q, label):
    before = row_counts(["ledger_transactions", "ledger_postings", "ledger_accounts"])
    try:
        sql(q)
        ok(False, label + ": refused")
    except RuntimeError as e:
        ok("does not balance" in str(e) or "append-only" in str(e), label + ": refused by the database", str(e)[:300])
    is_(row_counts(["ledger_transactions", "ledger_postings", "ledger_accounts"]), before, label + ": nothing written")


TXN = ("INSERT INTO ledger_transactions (kind, rail, environment, amount, source_type, source_id)"
       " VALUES ('adjustment', 'tron:usdt', 'sandbox', 5, 'manual', (random() * 1e9)::bigint);")
ACC = "(SELECT id FROM ledger_accounts WHERE code = '%s')"
sql("SELECT ledger_custody('hot', 'tron:usdt', 'sandbox'), ledger_fees('tron:usdt', 'sandbox'),"
    " ledger_custody('hot', 'bsc:usdt', 'sandbox')")
HOT, FEES, BSC = ACC % "asset:custody:hot:sandbox:tron:usdt", ACC % "revenue:fees:sandbox:tron:usdt", \
    ACC % "asset:custody:hot:sandbox:bsc:usdt"
P = "INSERT INTO ledger_postings (txn_id, account_id, side, amount) VALUES (currval('ledger_transactions_id_seq'), %s, '%s', %d);"
refused("BEGIN;" + TXN + P % (HOT, "debit", 5) + P % (FEES, "credit", 4) + "COMMIT;", "debits 5 against credits 4")
refused("BEGIN;" + TXN + P % (HOT, "debit", 5) + "COMMIT;", "a one-legged transaction")
refused("BEGIN;" + TXN + "COMMIT;", "a transaction without postings")
refused("BEGIN;" + TXN + P % (HOT, "debit", 5) + P % (BSC, "credit", 5) + "COMMIT;", "postings on another rail")
sql("BEGIN;" + TXN + P % (HOT, "debit", 5) + P % (FEES, "credit", 5) + "COMMIT;")
ok(True, "a balanced transaction commits")
refused("UPDATE ledger_postings SET amount = amount + 1 WHERE id = (SELECT max(id) FROM ledger_postings)",
        "editing a posting")
refused("DELETE FROM ledger_postings WHERE id = (SELECT max(id) FROM ledger_postings)", "deleting a posting")
refused("DELETE FROM ledger_transactions WHERE id = (SELECT max(id) FROM ledger_transactions)", "deleting a transaction")

# --- finality: 250 bps fee
mid = admin("create-merchant", "--name", uniq("ledger-m"), "--fee-bps", "250", check=True)[1].strip()
admin("enable-rail", "--merchant", mid, "--env", "sandbox", "--rail", "tron:usdt", check=True)
add_addresses("tron-nile", 4)
m = type("M", (), {})()
m.id = mid
m.key = key("merchant", merchant=mid)
pid = chain.pay(m, "ledger-1", 100_000_001)
is_(payment_state(pid), "finalized", "the payment is finalized through chain ingest")
rows = sql("SELECT a.code, p.side, p.amount::text FROM ledger_transactions t JOIN ledger_postings p ON p.txn_id = t.id"
           " JOIN ledger_accounts a ON a.id = p.account_id JOIN payments y ON y.id = t.payment_id"
           " WHERE y.public_id = :'p' AND t.kind = 'finality' ORDER BY p.id", p=pid)
is_(rows, [["asset:custody:deposits:sandbox:tron:usdt", "debit", "100000001"],
           ["liability:payable:%s:sandbox:tron:usdt" % mid, "credit", "97500001"],
           ["revenue:fees:sandbox:tron:usdt", "credit", "2500000"]],
    "finality posts custody against payable net of the 2.5% fee (rounded down), fee to revenue")
is_(sql1("SELECT reference || ' ' || amount::text FROM ledger_transactions t WHERE payment_id = "
         "(SELECT id FROM payments WHERE public_id = :'p')", p=pid), "ledger-1 100000001",
    "the finality transaction carries the commerce key and gross amount")
chain.finalize_all()
is_(sql1("SELECT count(*) FROM ledger_transactions WHERE payment_id = (SELECT id FROM payments WHERE public_id = :'p')",
         p=pid), "1", "later heads do not post again")

# --- sweep from a deposit address to our sweep wallet: custody to custody, no revenue
wallet = tron_address()
admin("add-wallet", "--network", "tron-nile", "--address", wallet, "--kind", "sweep", check=True)
dep = sql1("SELECT deposit_address FROM payments WHERE public_id = :'p'", p=pid)
fees_before = sql1("SELECT coalesce(sum(amount), 0) FROM ledger_postings WHERE account_id = %s" % FEES)
t, _ = chain.transfer(wallet, 100_000_001, block=chain.head() + 1, frm=dep)
is_(t["classification"], "sweep", "a transfer from a deposit address to our sweep wallet is a sweep")
rows = sql("SELECT a.code, p.side, p.amount::text FROM ledger_transactions t JOIN ledger_postings p ON p.txn_id = t.id"
           " JOIN ledger_accounts a ON a.id = p.account_id WHERE t.kind = 'sweep'"
           " AND t.transfer_id = (SELECT id FROM chain_transfers WHERE to_address = :'w') ORDER BY p.id", w=wallet)
is_(rows, [["asset:custody:sweep:sandbox:tron:usdt", "debit", "100000001"],
           ["asset:custody:deposits:sandbox:tron:usdt", "credit", "100000001"]],
    "the sweep moves custody from deposits to the sweep wallet")
is_(sql1("SELECT coalesce(sum(amount), 0) FROM ledger_postings WHERE account_id = %s" % FEES), fees_before,
    "a sweep is never revenue")

# --- overpaid, resolved refund_excess: the excess goes back out of custody and payable
pid2 = chain.pay(m, "ledger-2", 10_000_000, paid_units=12_000_000)
exc = sql("SELECT public_id, version FROM exceptions WHERE type = 'overpaid' AND payment_id = "
          "(SELECT id FROM payments WHERE public_id = :'p')", p=pid2)
ok(len(exc) == 1, "overpayment opened an overpaid exception", exc)
if exc:
    st, b, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % exc[0][0], key=ops,
                        body={"version": int(exc[0][1]), "resolution": "refund_excess", "note": "send 2 back"})
    is_(st, 200, "ops resolves it with refund_excess", )
    rows = sql("SELECT t.kind, t.amount::text, a.code, p.side FROM ledger_transactions t"
               " JOIN ledger_postings p ON p.txn_id = t.id JOIN ledger_accounts a ON a.id = p.account_id"
               " WHERE t.exception_id = (SELECT id FROM exceptions WHERE public_id = :'e') ORDER BY p.id", e=exc[0][0])
    is_(rows, [["refund", "2000000", "liability:payable:%s:sandbox:tron:usdt" % mid, "debit"],
               ["refund", "2000000", "asset:custody:deposits:sandbox:tron:usdt", "credit"]],
        "refund_excess posts the 2 USDT excess: payable down, custody down")

# --- an unmatched transfer refunded: recorded in and out, nets to zero
t, _ = chain.transfer(tron_address(), 5_000_000, block=chain.head() + 1)
stray = sql("SELECT e.public_id, e.version FROM exceptions e JOIN chain_transfers c ON c.id = e.transfer_id"
            " WHERE c.id = (SELECT max(id) FROM chain_transfers) AND e.type = 'unmatched_transfer'")
if t["classification"] == "unmatched" and stray:
    st, b, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % stray[0][0], key=ops,
                        body={"version": int(stray[0][1]), "resolution": "refund", "note": "not ours"})
    is_(st, 200, "ops refunds the unmatched transfer")
    is_(sql1("SELECT kind || ' ' || amount FROM ledger_transactions WHERE exception_id = "
             "(SELECT id FROM exceptions WHERE public_id = :'e')", e=stray[0][0]), "refund_unapplied 5000000",
        "the refund of money never booked is recorded as in-and-out")
else:
    diag("a transfer to an unknown address was classified %s (not unmatched): skipping" % t["classification"])

# --- the whole ledger balances
is_(sql("SELECT t.id FROM ledger_transactions t JOIN ledger_postings p ON p.txn_id = t.id GROUP BY t.id"
        " HAVING sum(p.amount) FILTER (WHERE p.side = 'debit') <> sum(p.amount) FILTER (WHERE p.side = 'credit')"), [],
    "every transaction in the ledger balances")
ok(srv.alive(), "raild still serving")
