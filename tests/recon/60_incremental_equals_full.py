#!/usr/bin/env python3
"""Property: an incremental run gives the same breaks as a full run. Random scenarios
(fixed seed) mutate all three planes — orders, payments (finalized with and without their
posting, early postings), refunds, manual matches, unapplied transfers — in rounds; after
each round an incremental run, then a full run must find nothing to change and the two
snapshots must be equal. Also the grace-period clock: a break that only time creates is
found by an incremental run with no new changes."""
import hashlib, os, random, re, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from reconlib import *

SEED = int(os.environ.get("RECON_SEED", "20261126"))
rnd = random.Random(SEED)
diag("seed %d" % SEED)
M = [admin("create-merchant", "--name", uniq("prop"), "--fee-bps", str(fee), check=True)[1].strip() for fee in (0, 125)]
TRON = RAILS["tron:usdt"]["contract"]
U = 10 ** 6
sql("UPDATE recon_settings SET value = CASE name WHEN 'missing_in_finance_grace' THEN '10 minutes'::interval"
    " ELSE '20 minutes'::interval END")
recon("full")
tag = uniq("p")
keys = [(mid, "%s-%d" % (tag, i)) for mid in M for i in range(25)]
pays = []          # (public_id, merchant, reference, state)
transfers = []
n = [0]


def nid():
    n[0] += 1
    return n[0]


def q(s):
    return "'" + s.replace("'", "''") + "'"


def op_order(mid, ref):
    st = rnd.choice(["pending", "paid", "paid", "fulfilled", "canceled", "refunded"])
    amt = rnd.choice([5, 10, 10, 12]) * 10 ** 18
    return ("INSERT INTO orders AS o (merchant_id, environment, reference, amount, status, updated_at, source)"
            " VALUES (%s, 'sandbox', %s, %d, '%s', now() + interval '%d seconds', 'api')"
            " ON CONFLICT (merchant_id, environment, reference) DO UPDATE SET amount = EXCLUDED.amount,"
            " status = EXCLUDED.status, updated_at = EXCLUDED.updated_at WHERE o.updated_at < EXCLUDED.updated_at;"
            % (mid, q(ref), amt, st, nid()))


def op_payment(mid, ref):
    pid = "pay_%s_%d" % (tag, nid())
    amt = rnd.choice([5, 10, 12]) * U
    rec = amt + rnd.choice([0, 0, 0, -U, U])
    st = rnd.choice(["awaiting_payment", "confirming", "confirmed", "finalized", "finalized", "expired"])
    age = rnd.choice(["1 hour", "1 hour", "1 minute"])     # past or within the grace periods
    pays.append([pid, mid, ref, st])
    return ("INSERT INTO payments (public_id, merchant_id, environment, rail, reference, amount, received, state,"
            " deposit_address, expires_at, finalized_at) VALUES (%s, %s, 'sandbox', 'tron:usdt', %s, %d, %d, '%s',"
            " 'T%s', now() + interval '1 hour', %s);"
            % (q(pid), mid, q(ref), amt, rec if st != "awaiting_payment" else 0, st, pid,
               "now() - interval '%s'" % age if st == "finalized" else "NULL"))


def op_finalize(with_ledger):
    open_ = [p for p in pays if p[3] in ("confirming", "confirmed")]
    if not open_:
        return ""
    p = rnd.choice(open_)
    p[3] = "finalized"
    upd = ("UPDATE payments SET state = 'finalized', finalized_at = now() - interval '%s' WHERE public_id = %s;"
           % (rnd.choice(["1 hour", "1 minute"]), q(p[0])))
    if with_ledger:
        return upd
    return ("ALTER TABLE payments DISABLE TRIGGER payments_ledger_final_upd; " + upd +
            " ALTER TABLE payments ENABLE TRIGGER payments_ledger_final_upd;")


def op_early_posting():
    open_ = [p for p in pays if p[3] in ("confirming", "confirmed")]
    if not open_:
        return ""
    p = rnd.choice(open_)
    return ("SELECT ledger_post_receipt('finality', p, p.received, 'deposits', NULL, NULL, 'payment', p.id, 'early')"
            " FROM payments p WHERE public_id = %s AND p.received > 0;" % q(p[0]))


def op_refund():
    fin = [p for p in pays if p[3] == "finalized"]
    if not fin:
        return ""
    p = rnd.choice(fin)
    return ("SELECT ledger_post('refund', p.rail, p.environment, p.merchant_id, p.reference, p.id, NULL, NULL, %d,"
            " 'manual', %d, 'refund', ARRAY[ledger_payable(p.merchant_id, p.rail, p.environment),"
            " ledger_custody('deposits', p.rail, p.environment)], ARRAY['debit','credit'], ARRAY[%d, %d]::numeric[])"
            " FROM payments p WHERE public_id = %s;" % (U, 10 ** 9 + nid(), U, U, q(p[0])))


def op_match():
    cand = [p for p in pays if p[3] == "finalized"]
    if not cand:
        return ""
    p = rnd.choice(cand)
    mid, ref = rnd.choice([k for k in keys if k[0] == p[1]])
    return ("INSERT INTO recon_matches (break_id, merchant_id, environment, reference, payment_id, note, matched_by)"
            " SELECT 'brk_test', %s, 'sandbox', %s, id, 'prop', 'test' FROM payments WHERE public_id = %s"
            " ON CONFLICT DO NOTHING;" % (mid, q(ref), q(p[0])))


def op_transfer():
    tx = hashlib.sha256(("%s-%d" % (tag, nid())).encode()).hexdigest()   # unique across reruns
    transfers.append(tx)
    return ("INSERT INTO chain_transfers (network, tx_hash, log_index, block_number, contract, from_address, to_address,"
            " value, classification) VALUES ('tron-nile', '%s', 0, 1, '%s', 'Tfrom', 'Tto%d', %d, '%s');"
            % (tx, TRON, nid(), rnd.choice([1, 3]) * U, rnd.choice(["unmatched", "late", "duplicate"])))


def op_transfer_fix():
    if not transfers:
        return ""
    tx = rnd.choice(transfers)
    return rnd.choice([
        "UPDATE chain_transfers SET classification = 'internal' WHERE tx_hash = '%s';" % tx,
        "UPDATE chain_transfers SET status = 'removed' WHERE tx_hash = '%s';" % tx,
        "SELECT ledger_post('refund_unapplied', 'tron:usdt', 'sandbox', NULL, NULL, NULL, t.id, NULL, t.value,"
        " 'transfer', t.id, 'refund', ARRAY[ledger_custody('deposits','tron:usdt','sandbox'),"
        " ledger_custody('unapplied','tron:usdt','sandbox')], ARRAY['debit','credit'], ARRAY[t.value, t.value])"
        " FROM chain_transfers t WHERE tx_hash = '%s';" % tx])


OPS = [(op_order, 5), (op_payment, 4), (lambda *_: op_finalize(True), 2), (lambda *_: op_finalize(False), 1),
       (lambda *_: op_early_posting(), 1), (lambda *_: op_refund(), 1), (lambda *_: op_match(), 1),
       (lambda *_: op_transfer(), 1), (lambda *_: op_transfer_fix(), 1)]
WEIGHTED = [f for f, w in OPS for _ in range(w)]
SNAP = ("SELECT public_id, class, state = 'resolved', merchant_id, environment, reference, transfer_id, planes, c_status,"
        " c_amount, c_updated_at, p_state, p_payment, p_payments, p_amount, p_finalized_at, f_transactions, f_amount,"
        " f_refunded FROM recon_breaks ORDER BY public_id")


def counts(out):
    m_ = re.search(r"(\d+) opened, (\d+) updated, (\d+) resolved", out)
    return tuple(int(x) for x in m_.groups())


ROUNDS, PER_ROUND = 12, 25
all_equal, full_quiet, total_open = True, True, set()
for rnd_i in range(ROUNDS):
    script = "BEGIN;\n" + "\n".join(rnd.choice(WEIGHTED)(*rnd.choice(keys)) for _ in range(PER_ROUND)) + "\nCOMMIT;"
    sql(script)
    recon("incremental")
    inc = sql(SNAP)
    out = recon("full")
    full = sql(SNAP)
    if inc != full:
        all_equal = False
        diff = sorted(set(map(tuple, inc)) ^ set(map(tuple, full)))
        diag("round %d differs:\n%s" % (rnd_i, "\n".join(map(str, diff[:10]))))
    if counts(out) != (0, 0, 0):
        full_quiet = False
        diag("round %d: the full run after the incremental one changed %r" % (rnd_i, counts(out)))
    total_open |= {r[1] for r in full if r[2] == "f"}
ok(all_equal, "incremental == full after each of %d random rounds (seed %d)" % (ROUNDS, SEED))
ok(full_quiet, "the full run never had anything left to change")
ok(len(total_open) >= 6, "the scenarios exercised most classes: %s" % ", ".join(sorted(total_open)))

# --- the clock: a break that only time creates
sql("UPDATE recon_settings SET value = '3 seconds' WHERE name = 'missing_in_finance_grace'")
recon("full")
pid = "pay_%s_clock" % tag
sql("INSERT INTO payments (public_id, merchant_id, environment, rail, reference, amount, received, state,"
    " deposit_address, expires_at) VALUES (:'p', :'m', 'sandbox', 'tron:usdt', :'r', 5000000, 5000000, 'confirmed',"
    " 'Tclock', now() + interval '1 hour');"
    "BEGIN; ALTER TABLE payments DISABLE TRIGGER payments_ledger_final_upd;"
    " UPDATE payments SET state = 'finalized', finalized_at = now() WHERE public_id = :'p';"
    " ALTER TABLE payments ENABLE TRIGGER payments_ledger_final_upd; COMMIT;", p=pid, m=M[0], r=tag + "-clock")
recon("incremental")
is_(breaks(M[0]).get(("missing_in_finance", tag + "-clock")), None, "within the grace period: no break")
time.sleep(3.5)
out = recon("incremental")
ok(("missing_in_finance", tag + "-clock") in breaks(M[0]), "an incremental run with no new changes finds it once "
   "the grace period has passed: " + out.strip())
inc = sql(SNAP)
recon("full")
is_(sql(SNAP), inc, "and the full run agrees")
sql("UPDATE recon_settings SET value = CASE name WHEN 'missing_in_finance_grace' THEN '5 minutes'::interval"
    " ELSE '30 minutes'::interval END")
