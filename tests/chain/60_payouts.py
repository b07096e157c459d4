#!/usr/bin/env python3
"""Money out on a real EVM node (DESIGN §11): refunds and settlements as on-chain payouts.
anvil signs (the hot wallet is one of its unlocked accounts; anvil answers
eth_signTransaction), raild's payout worker broadcasts, raild's watcher confirms. Checked on
chain (token balances, nonces), on the API and in the database (states, ledger, webhooks):
an overpayment refunded by ops and approved by treasury; a merchant's refund; a settlement
to a whitelisted address only after cooling-off; four eyes in raild and in the database;
two approvers above a threshold; a payout dropped by anvil_rollback sent again and credited
once; the signer down, then back; raild killed -9 while the signer answers; nonces in order
with no gap; and a table of bad requests that change nothing."""
import json, os, signal, subprocess, sys, threading, time, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import *
from rt import *

code = ensure_tools()
own_database()
node = Anvil()
node.deploy(code)
anvil_network("anvil", 31337)
admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "anvil", "--contract", USDT,
      "--confirmations", "3", "--finality", "tag", check=True)
RAILS["ethereum:usdt"] = dict(network="anvil", contract=USDT, decimals=6, confirm=3, final=64)
set_rpc("anvil", node.url)
HOT = node.accounts[1]
admin("add-wallet", "--network", "anvil", "--address", HOT, "--kind", "hot", check=True)
admin("set-payout-policy", "--env", "sandbox", "--rail", "ethereum:usdt", "--replace-after-blocks", "4", check=True)


def set_signer(*urls):
    r = subprocess.run([RAILD, "admin", "set-signer", "--network", "anvil", "--url-file", "-"],
                       input="".join(u + "\n" for u in urls), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


set_signer(node.url)
os.environ.update(RAILD_WATCH_POLL_MS="100", RAILD_PAYOUT_POLL_MS="100", RAILD_PAYOUT_COOLING_OFF_S="3")
srv = Raild()
m = Merchant(rails=("ethereum:usdt",), addresses=40)
other = Merchant(rails=("ethereum:usdt",), addresses=0)
ops, finance, t1, t2 = key("ops"), key("finance"), key("treasury"), key("treasury")


def checksum(addr):
    """EIP-55 by js-sha3 (npm), independent of raild's Keccak."""
    js = ("const k=require('js-sha3').keccak256;const a=process.argv[1].slice(2).toLowerCase();const h=k(a);"
          "console.log('0x'+[...a].map((c,i)=>parseInt(h[i],16)>=8?c.toUpperCase():c).join(''))")
    return subprocess.run(["node", "-e", js, addr], capture_output=True, text=True, cwd=NPM_DIR).stdout.strip()


def balance(who):
    return int(node.rpc("eth_call", {"to": USDT, "data": "0x70a08231" + addr_word(who)}, "latest"), 16)


def nonce_of(who):
    return int(node.rpc("eth_getTransactionCount", who, "latest"), 16)


def pay_req(amount):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key,
                        body={"reference": uniq("ord"), "amount": amount, "rail": "ethereum:usdt"})
    assert st == 201, (st, p)
    return p


def payout(pid, k=ops):
    return srv.call("GET", "/v1/payouts/" + pid, key=k)[1]


def payout_state(pid):
    return sql1("SELECT state FROM payouts WHERE public_id = :'p'", p=pid)


def mine_until(pid, state, timeout=30):
    def f():
        if payout_state(pid) == state:
            return True
        node.mine(1)
        return False
    return wait_for(f, timeout=timeout, interval=0.3)


def act(k, pid, verb, note="ok", version=None):
    v = version if version is not None else payout(pid)["version"]
    return srv.call("POST", "/v1/payouts/%s/%s" % (pid, verb), key=k, body={"note": note, "version": v})


def finalized_payment(amount, units):
    p = pay_req(amount)
    node.pay(p["deposit_address"], units)
    node.mine(4)
    assert wait_for(lambda: payment_state(p["id"]) in ("finalized", "confirmed"), timeout=20), payment_state(p["id"])
    wait_for(lambda: payment_state(p["id"]) == "finalized" or node.mine(1), timeout=20, interval=0.3)
    return p


ok(wait_for(lambda: (watcher_state("anvil") or {}).get("state") == "running", timeout=20), "the watcher runs")
payer = node.payer
PAYER = checksum(payer)
ok(PAYER != payer and any(c.isupper() for c in PAYER), "the payer's checksummed address has mixed case", PAYER)

# ---------------------------------------------------------------- overpaid → refund_excess → finalized
p = pay_req("5.00")
node.pay(p["deposit_address"], 7_000_000)
node.mine(4)
ok(wait_for(lambda: sql1("SELECT count(*) FROM exceptions e JOIN payments p ON p.id = e.payment_id"
                         " WHERE p.public_id = :'p' AND e.type = 'overpaid'", p=p["id"]) == "1", timeout=20),
   "overpaid: the exception opens")
exc = sql("SELECT e.public_id, e.version FROM exceptions e JOIN payments p ON p.id = e.payment_id"
          " WHERE p.public_id = :'p' AND e.type = 'overpaid'", p=p["id"])[0]
R = "/v1/exceptions/%s/resolve" % exc[0]
st, b, _ = srv.call("POST", R, key=ops, body={"version": int(exc[1]), "resolution": "refund_excess", "note": "send back"})
is_((st, b.get("error", {}).get("code")), (422, "to_address_required"), "refund_excess without to_address is refused")
ok(payer in b["error"]["message"] and "suggestion" in b["error"]["message"],
   "the transfer's sender is offered as a suggestion, not used", b)
is_(sql1("SELECT count(*) FROM payouts"), "0", "nothing was created")
st, b, _ = srv.call("POST", R, key=ops, body={"version": int(exc[1]), "resolution": "refund_excess", "note": "send back",
                                              "to_address": PAYER})
is_(st, 200, "ops resolves refund_excess to the payer's address", b)
po = b.get("details", {}).get("resolution_effects", {}).get("payout")
ok(po and po.startswith("po_"), "the resolution created a payout", b.get("details"))
got = payout(po)
is_((got["state"], got["kind"], got["amount"], got["to_address"], got["approvals_needed"]),
    ("requested", "refund", "2.000000", PAYER, 1), "requested: the 2.000000 excess to the checksummed payer address")
is_(srv.call("POST", "/v1/payouts/%s/approve" % po, key=ops, body={"note": "x", "version": 1})[0], 403,
    "ops cannot approve (treasury only)")
bal_payer, bal_hot, n_hot = balance(payer), balance(HOT), nonce_of(HOT)
t0 = time.time()
st, b, _ = act(t1, po, "approve", "checked with the merchant")
is_((st, b.get("state")), (200, "approved"), "treasury approves", b)
ok(wait_for(lambda: payout_state(po) in ("broadcast", "confirming", "confirmed", "finalized"), timeout=10),
   "the payout worker signs and broadcasts it", payout(po))
diag("approval to broadcast: %.0f ms (wall clock, with a 100 ms poll)" % ((time.time() - t0) * 1000))
ok(mine_until(po, "finalized"), "the watcher confirms it and it finalizes", payout(po))
d = payout(po)
is_(balance(payer) - bal_payer, 2_000_000, "on chain: the payer received exactly 2.000000")
is_(bal_hot - balance(HOT), 2_000_000, "on chain: our hot wallet paid exactly 2.000000")
is_(nonce_of(HOT) - n_hot, 1, "one transaction from the hot wallet")
is_([t["state"] for t in d["transactions"]], ["mined"], "one transaction recorded, mined")
ok(d["tx_hash"] == d["transactions"][0]["tx_hash"] and d["block_number"], "the payout carries its hash and block")
is_(sql("SELECT classification FROM chain_transfers WHERE lower(tx_hash) = :'t'", t=d["tx_hash"]), [["payout"]],
    "the watcher classified the hot wallet's transfer as our payout")
is_(sql1("SELECT count(*) FROM exceptions WHERE type = 'unclassified_internal'"), "0",
    "our own payout opens no unclassified_internal exception")
L = {(l["kind"], l["account"].split(":")[1], l["side"]): l["amount_units"] for l in d["ledger"]}
is_((L.get(("payout_reserve", "payable", "debit")), L.get(("payout_reserve", "payouts_in_flight", "credit")),
     L.get(("payout", "payouts_in_flight", "debit")), L.get(("payout", "custody", "credit"))),
    ("2000000",) * 4, "ledger: reserved from the payable at approval, out of custody at finality")
ok(int(L.get(("network_fee", "network_fees", "debit"), "0")) > 0 and d["fee_native_units"] ==
   L[("network_fee", "network_fees", "debit")], "ledger: the network fee in native units", d["fee_native_units"])
is_(sql1("SELECT count(*) FROM ledger_transactions t WHERE (SELECT sum(CASE side WHEN 'debit' THEN amount ELSE -amount END)"
         " FROM ledger_postings WHERE txn_id = t.id) <> 0"), "0", "every ledger transaction balances")
is_(sql("SELECT type FROM webhook_outbox WHERE type LIKE 'payout.%' ORDER BY id"),
    [["payout.requested"], ["payout.approved"], ["payout.broadcast"], ["payout.finalized"]],
    "the merchant gets payout.requested, approved, broadcast, finalized")
moves = [e["to_state"] for e in d["events"]]
ok(moves in (["requested", "approved", "signed", "broadcast", "confirming", "finalized"],
             ["requested", "approved", "signed", "broadcast", "confirming", "confirmed", "finalized"]),
   "the timeline records every move", moves)
aud = sql("SELECT action FROM audit_log WHERE object_id = :'p' ORDER BY id", p=po)
is_(aud, [["payout.approve"]], "the approval is audited")

# ---------------------------------------------------------------- a merchant's own refund
fp = finalized_payment("3.00", 3_000_000)
is_(payment_state(fp["id"]), "finalized", "a finalized payment to refund")
body = {"payment_id": fp["id"], "amount": "1.25", "to_address": PAYER, "reason": "customer returned it"}
st, rf, _ = srv.call("POST", "/v1/refunds", key=m.key, body=body, headers={"Idempotency-Key": "rf-1"})
is_((st, rf.get("state"), rf.get("amount")), (201, "requested", "1.250000"), "POST /v1/refunds: requested", rf)
st, again, hdr = srv.call("POST", "/v1/refunds", key=m.key, body=body, headers={"Idempotency-Key": "rf-1"})
is_((st, again.get("id"), hdr.get("Idempotent-Replayed")), (200, rf["id"], "true"), "the same key replays it")
st, b, _ = srv.call("POST", "/v1/refunds", key=m.key, body=dict(body, amount="1.26"), headers={"Idempotency-Key": "rf-1"})
is_((st, b.get("error", {}).get("code")), (409, "idempotency_conflict"), "the same key with another body: 409")
is_(srv.call("GET", "/v1/payouts/" + rf["id"], key=other.key)[0], 404, "another merchant cannot see it")
is_(srv.call("GET", "/v1/payouts/" + rf["id"], key=m.key)[1].get("id"), rf["id"], "its merchant can")
bp = balance(payer)
is_(act(t1, rf["id"], "approve")[0], 200, "treasury approves the merchant's refund")
ok(mine_until(rf["id"], "finalized"), "it finalizes", payout(rf["id"]))
is_(balance(payer) - bp, 1_250_000, "on chain: the payer got 1.250000")
st, b, _ = srv.call("POST", "/v1/refunds", key=m.key, body=dict(body, amount="1.76"))
is_((st, b.get("error", {}).get("code")), (422, "insufficient_balance"), "more than is left to refund (1.75): 422", b)

# ---------------------------------------------------------------- a settlement to a whitelisted address
dest = node.accounts[2]
DEST = checksum(dest)
st, wl, _ = srv.call("POST", "/v1/merchants/%s/payout-addresses" % m.id, key=finance,
                     body={"network": "anvil", "address": DEST, "label": "treasury cold wallet"})
is_((st, wl.get("state"), wl.get("address")), (201, "pending_approval", DEST), "finance adds a whitelist entry", wl)
S = {"kind": "settlement", "merchant_id": int(m.id), "rail": "ethereum:usdt", "amount": "1.00", "to_address": DEST}
st, b, _ = srv.call("POST", "/v1/payouts", key=finance, body=S)
is_((st, b.get("error", {}).get("code")), (422, "destination_not_active"), "before approval: refused", b)
is_(srv.call("POST", "/v1/payout-addresses/%s/approve" % wl["id"], key=finance, body={"note": "x", "version": 1})[0],
    403, "finance cannot approve its own entry")
st, wl2, _ = srv.call("POST", "/v1/payout-addresses/%s/approve" % wl["id"], key=t1,
                      body={"note": "called the merchant back", "version": 1})
is_((st, wl2.get("state")), (200, "cooling_off"), "treasury approves: cooling off", wl2)
st, b, _ = srv.call("POST", "/v1/payouts", key=finance, body=S)
is_((st, b.get("error", {}).get("code")), (422, "destination_not_active"), "during cooling-off: refused", b)
st, b, _ = srv.call("POST", "/v1/payouts", key=finance, body=dict(S, merchant_id=int(other.id)))
is_((st, b.get("error", {}).get("code")), (422, "destination_not_whitelisted"),
    "another merchant's settlement to this merchant's entry: refused", b)
time.sleep(3.2)
avail = int(sql1("SELECT coalesce(sum(CASE p.side WHEN 'credit' THEN p.amount ELSE -p.amount END), 0) FROM ledger_postings p"
                 " JOIN ledger_accounts a ON a.id = p.account_id WHERE a.code = :'c'",
                 c="liability:payable:%s:sandbox:ethereum:usdt" % m.id))
st, b, _ = srv.call("POST", "/v1/payouts", key=finance, body=dict(S, amount="%d.%06d" % divmod(avail + 1, 10 ** 6)))
is_((st, b.get("error", {}).get("code")), (422, "insufficient_balance"), "more than the available balance: refused", b)
st, se, _ = srv.call("POST", "/v1/payouts", key=finance, body=S)
is_((st, se.get("kind"), se.get("state")), (201, "settlement", "requested"), "after cooling-off: a settlement", se)
bd = balance(dest)
is_(act(t2, se["id"], "approve")[0], 200, "treasury approves it")
ok(mine_until(se["id"], "finalized"), "the settlement finalizes", payout(se["id"]))
is_(balance(dest) - bd, 1_000_000, "on chain: the whitelisted address got 1.000000")

# ---------------------------------------------------------------- four eyes
# treasury requests nothing through the API, so a payout "requested by" a treasury key is
# written directly: raild and the database must both refuse its self-approval
t1_id = sql1("SELECT id FROM api_keys WHERE hash = sha256(convert_to(:'k', 'UTF8'))", k=t1)
self_po = sql1("INSERT INTO payouts (public_id, kind, merchant_id, environment, rail, network, amount, to_address, source,"
               " reason, approvals_needed, requested_by, requested_by_name, requested_role, payment_id)"
               " SELECT 'po_selftest', 'refund', :'m', 'sandbox', 'ethereum:usdt', 'anvil', 1000, :'to', 'payable',"
               " 'self', 1, :'k', 'me', 'treasury', id FROM payments WHERE public_id = :'p' RETURNING id",
               m=m.id, to=payer, k=t1_id, p=fp["id"])
st, b, _ = act(t1, "po_selftest", "approve")
is_((st, b.get("error", {}).get("code")), (403, "four_eyes"), "the requester approving their own payout: 403 four_eyes")
r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    "INSERT INTO payout_approvals (payout_id, key_id, key_name, decision, note)"
                    " VALUES (%s, %s, 'me', 'approve', 'mine')" % (self_po, t1_id)], capture_output=True, text=True)
ok(r.returncode != 0 and "four eyes" in r.stderr, "the database refuses it too", r.stderr)
r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    "UPDATE payouts SET state = 'approved' WHERE id = %s" % self_po], capture_output=True, text=True)
ok(r.returncode != 0 and "needs 1 approvals" in r.stderr, "and refuses `approved` without the approvals", r.stderr)
r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    "UPDATE payouts SET state = 'finalized' WHERE id = %s" % self_po], capture_output=True, text=True)
ok(r.returncode != 0 and "cannot move from requested to finalized" in r.stderr, "and any move not in the table", r.stderr)
is_(act(t2, "po_selftest", "reject", "not a real request")[0], 200, "another treasury operator rejects it")

# ---------------------------------------------------------------- two approvers above the threshold
admin("set-payout-policy", "--env", "sandbox", "--rail", "ethereum:usdt", "--dual-above", "1.00", check=True)
st, big, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp["id"], "amount": "1.50",
                                                              "to_address": PAYER, "reason": "big one"})
is_((st, big.get("approvals_needed")), (201, 2), "1.50 is above the 1.00 threshold: two approvers", big)
st, b, _ = act(t1, big["id"], "approve")
is_((st, b.get("state"), b.get("approvals")), (200, "requested", 1), "the first approval alone does not approve", b)
st, b, _ = act(t1, big["id"], "approve")
is_((st, b.get("error", {}).get("code")), (409, "already_decided"), "the same approver twice: 409", b)
st, b, _ = act(t2, big["id"], "approve")
is_((st, b.get("state"), b.get("approvals")), (200, "approved", 2), "a second, distinct approver approves", b)
ok(mine_until(big["id"], "finalized"), "it finalizes")
admin("set-payout-policy", "--env", "sandbox", "--rail", "ethereum:usdt", "--dual-above", "none", check=True)

# ---------------------------------------------------------------- dropped by a rollback: sent again, credited once
admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "anvil", "--contract", USDT,
      "--confirmations", "3", "--finality", "12", check=True)
fp2 = finalized_payment("2.00", 2_000_000)
st, rb, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp2["id"], "amount": "0.70",
                                                             "to_address": PAYER, "reason": "rollback case"})
bp = balance(payer)
is_(act(t1, rb["id"], "approve")[0], 200, "approved")
ok(wait_for(lambda: payout_state(rb["id"]) == "confirming", timeout=15), "mined: confirming", payout(rb["id"]))
first = payout(rb["id"])
node.rpc("anvil_rollback", 1)
ok(wait_for(lambda: len(payout(rb["id"])["events"]) > len(first["events"]) and
            any(e["to_state"] == "broadcast" and e["from_state"] in ("confirming", "confirmed")
                for e in payout(rb["id"])["events"]), timeout=20),
   "the rollback dropped it: back to broadcast, the same bytes sent again", payout(rb["id"])["events"])
ok(mine_until(rb["id"], "finalized", timeout=40), "then it finalizes", payout(rb["id"]))
is_(balance(payer) - bp, 700_000, "on chain: credited exactly once")
ok(all(t["tx_hash"] == first["tx_hash"] for t in payout(rb["id"])["transactions"]),
   "the same signed transaction, never a new one", payout(rb["id"])["transactions"])
admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "anvil", "--contract", USDT,
      "--confirmations", "3", "--finality", "tag", check=True)

# ---------------------------------------------------------------- the signer down, then back
set_signer("http://127.0.0.1:%d" % free_port())
st, sd, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp2["id"], "amount": "0.10",
                                                             "to_address": PAYER, "reason": "signer down"})
n_hot = nonce_of(HOT)
is_(act(t1, sd["id"], "approve")[0], 200, "approved while the signer is down")
ok(wait_for(lambda: (payout(sd["id"]).get("attempts") or 0) >= 2, timeout=20), "retried with backoff", payout(sd["id"]))
got = payout(sd["id"])
ok(got["state"] == "approved" and "signer" in (got["last_error"] or ""), "it stays approved with the error shown", got)
ok("127.0.0.1" in got["last_error"] and "http://" not in got["last_error"], "the error names the host, never the URL",
   got["last_error"])
set_signer(node.url)
sql("UPDATE payouts SET next_attempt_at = now() WHERE public_id = :'p'", p=sd["id"])
ok(mine_until(sd["id"], "finalized"), "the signer back: it is sent and finalizes", payout(sd["id"]))
is_((nonce_of(HOT) - n_hot, len(payout(sd["id"])["transactions"])), (1, 1), "sent once")

# ---------------------------------------------------------------- kill -9 while the signer answers
hold = threading.Event()
signed = threading.Event()


proxy = FaultProxy(node.url)


def do_post(h):
    body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
    req = json.loads(body)
    up = urllib.request.Request(node.url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(up, timeout=30) as r:
        data = r.read()
    if req.get("method") == "eth_signTransaction" and not signed.is_set():
        signed.set()        # the signer has signed; raild has not recorded it yet
        hold.wait(30)
    h.reply(200, data)


proxy.server.RequestHandlerClass.do_POST = do_post
set_signer(proxy.url)
st, kp, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp2["id"], "amount": "0.20",
                                                             "to_address": PAYER, "reason": "crash case"})
n_hot, bp = nonce_of(HOT), balance(payer)
is_(act(t1, kp["id"], "approve")[0], 200, "approved")
ok(signed.wait(15), "the signer signed")
srv.proc.send_signal(signal.SIGKILL)
srv.proc.wait()
hold.set()
is_(payout_state(kp["id"]), "approved", "killed between signing and recording: still approved, nothing recorded")
is_(sql1("SELECT count(*) FROM payout_transactions t JOIN payouts p ON p.id = t.payout_id WHERE p.public_id = :'p'",
         p=kp["id"]), "0", "no transaction recorded")
srv = Raild()
ok(mine_until(kp["id"], "finalized"), "after the restart it is signed again and finalizes", payout(kp["id"]))
is_((nonce_of(HOT) - n_hot, balance(payer) - bp), (1, 200_000), "one transfer on chain, 0.20 once")
set_signer(node.url)

# ---------------------------------------------------------------- nonces in order, no gap
fp3 = finalized_payment("5.00", 5_000_000)
ids = []
for i in range(10):
    st, b, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp3["id"], "amount": "0.0%d" % (i + 1),
                                                                "to_address": PAYER, "reason": "batch %d" % i})
    ids.append(b["id"])
n0 = nonce_of(HOT)
for pid in ids:
    act(t1, pid, "approve")
ok(wait_for(lambda: all(payout_state(i) == "finalized" for i in ids) or node.mine(1), timeout=60, interval=0.3),
   "ten approved payouts drain", [payout_state(i) for i in ids])
nonces = sorted(int(sql1("SELECT nonce FROM payouts WHERE public_id = :'p'", p=i)) for i in ids)
is_(nonces, list(range(n0, n0 + 10)), "their nonces are consecutive from the wallet's next one")
is_(nonce_of(HOT), n0 + 10, "and on chain the wallet's nonce moved by exactly ten")

# ---------------------------------------------------------------- stuck below the base fee: replaced
# blocks are mined by hand and the base fee jumps after the broadcast: the transaction cannot
# be included; after replace_after_blocks (4) the worker replaces it (same nonce, more fee)
st, sp, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp3["id"], "amount": "0.30",
                                                             "to_address": PAYER, "reason": "stuck case"})
node.rpc("evm_setAutomine", False)
n_hot, bp = nonce_of(HOT), balance(payer)
is_(act(t1, sp["id"], "approve")[0], 200, "approved with blocks mined by hand")
ok(wait_for(lambda: payout_state(sp["id"]) == "broadcast", timeout=10), "broadcast", payout(sp["id"]))
node.rpc("anvil_setNextBlockBaseFeePerGas", hex(60 * 10 ** 9))
node.mine(1)
first_tx = payout(sp["id"])["tx_hash"]
ok(node.rpc("eth_getTransactionReceipt", first_tx) is None, "the base fee jumped: the transaction is not included")


def replaced():
    node.mine(1)
    return len(payout(sp["id"])["transactions"]) >= 2
ok(wait_for(replaced, timeout=20, interval=0.5), "after 4 blocks it is replaced", payout(sp["id"])["transactions"])
node.rpc("evm_setAutomine", True)
node.mine(1)
ok(mine_until(sp["id"], "finalized"), "the replacement is mined and finalizes", payout(sp["id"]))
txs = payout(sp["id"])["transactions"]
ok(len({t["nonce"] for t in txs}) == 1 and int(txs[-1]["max_fee_per_gas"]) > int(txs[0]["max_fee_per_gas"])
   and int(txs[-1]["max_fee_per_gas"]) <= 300 * 10 ** 9,
   "the same nonce, a higher fee, within the 300 gwei cap", txs)
ok(sorted(t["state"] for t in txs) == ["mined"] + ["replaced"] * (len(txs) - 1), "one mined, the others replaced", txs)
is_((nonce_of(HOT) - n_hot, balance(payer) - bp), (1, 300_000), "one transfer on chain, 0.30 once")

# ---------------------------------------------------------------- kill -9 while the node takes the broadcast
# the node proxy holds eth_sendRawTransaction; raild dies; the held call then reaches the
# node anyway (the worst case: sent, not recorded as sent). After the restart the worker
# sends the same bytes again, the node knows them, and it is credited once.
held, release = threading.Event(), threading.Event()
nproxy = FaultProxy(node.url)


def node_post(h):
    body = h.rfile.read(int(h.headers.get("Content-Length", 0)))
    req = json.loads(body)
    if req.get("method") == "eth_sendRawTransaction" and not held.is_set():
        held.set()
        release.wait(30)
    up = urllib.request.Request(node.url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(up, timeout=30) as r:
        data = r.read()
    try:
        h.reply(200, data)
    except OSError:
        pass   # raild is gone
nproxy.server.RequestHandlerClass.do_POST = node_post
set_rpc("anvil", nproxy.url)
time.sleep(1.5)
st, kb, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp3["id"], "amount": "0.40",
                                                             "to_address": PAYER, "reason": "crash at broadcast"})
n_hot, bp = nonce_of(HOT), balance(payer)
is_(act(t1, kb["id"], "approve")[0], 200, "approved")
ok(held.wait(20), "the worker signed, recorded and is broadcasting")
is_(payout_state(kb["id"]), "signed", "recorded as signed")
srv.proc.send_signal(signal.SIGKILL)
srv.proc.wait()
release.set()
ok(wait_for(lambda: nonce_of(HOT) == n_hot + 1, timeout=10), "the held broadcast reached the node after raild died")
srv = Raild()
ok(mine_until(kb["id"], "finalized"), "after the restart it is sent again (already known) and finalizes", payout(kb["id"]))
is_((nonce_of(HOT) - n_hot, balance(payer) - bp, len(payout(kb["id"])["transactions"])), (1, 400_000, 1),
    "one transaction, one transfer, 0.40 once")
set_rpc("anvil", node.url)

# ---------------------------------------------------------------- cancel and reopen
st, c1, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": fp3["id"], "amount": "0.01",
                                                             "to_address": PAYER, "reason": "oops"})
is_(srv.call("POST", "/v1/payouts/%s/cancel" % c1["id"], key=other.key, body={"note": "x", "version": 1})[0], 404,
    "another merchant cannot cancel it")
st, b, _ = srv.call("POST", "/v1/payouts/%s/cancel" % c1["id"], key=m.key, body={"note": "wrong amount", "version": 1})
is_((st, b.get("state")), (200, "canceled"), "its requester cancels it before approval", b)
is_(act(t1, c1["id"], "approve")[0], 409, "a canceled payout cannot be approved")
po_rows_before = sql1("SELECT count(*) FROM payouts")
st, b, _ = srv.call("POST", "/v1/exceptions/%s/reopen" % exc[0], key=ops,
                    body={"version": int(exc[1]) + 1, "note": "the refund was wrong"})
is_((st, b.get("error", {}).get("code")), (409, "effects_irreversible"), "reopening a refund already paid out: 409", b)

# an unmatched transfer refunded, approved, then its exception reopened before signing
set_signer("http://127.0.0.1:%d" % free_port())   # nothing gets signed meanwhile
stray = add_addresses("anvil", 1)[0]
node.pay(stray, 900_000)
ok(wait_for(lambda: sql1("SELECT count(*) FROM exceptions WHERE type = 'unmatched_transfer' AND state = 'open'") == "1",
            timeout=20), "an unmatched transfer")
ue = sql("SELECT public_id, version FROM exceptions WHERE type = 'unmatched_transfer'")[0]
st, b, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % ue[0], key=ops,
                    body={"version": int(ue[1]), "resolution": "refund", "note": "not ours", "to_address": PAYER,
                          "amount": "0.90"})
upo = b.get("details", {}).get("resolution_effects", {}).get("payout")
is_((st, payout(upo)["source"], payout(upo)["amount"]), (200, "unapplied", "0.900000"),
    "a refund of money no payment claimed draws on unapplied", b)
st, b, _ = srv.call("POST", "/v1/exceptions/%s/reopen" % ue[0], key=ops, body={"version": int(ue[1]) + 1, "note": "wait"})
is_((st, payout_state(upo)), (200, "canceled"), "reopened before signing: the payout is canceled")
is_(sql("SELECT kind FROM ledger_transactions WHERE source_type = 'exception' AND source_id = (SELECT id FROM exceptions"
        " WHERE public_id = :'e') ORDER BY id", e=ue[0]), [["unapplied_in"], ["unapplied_in_reversal"]],
    "the money held for the payer is booked and reversed")
set_signer(node.url)

# ---------------------------------------------------------------- the books against the chain
WB = "SELECT count(*) FROM recon_breaks WHERE class = 'wallet_balance_mismatch' AND state <> 'resolved'"
ok(wait_for(lambda: sql1("SELECT baseline ? 'ethereum:usdt' FROM wallets WHERE address = :'a'", a=HOT) == "t",
            timeout=10), "the hot wallet's balance was checked against the ledger")
node.mine(3)
time.sleep(2.5)
is_(sql1(WB), "0", "after every payout above, the hot wallet's balance on chain agrees with the ledger")
node.pay(evm_address(), 123_456, frm=HOT)   # tokens leave the hot wallet, no payout explains it
node.mine(3)
ok(wait_for(lambda: sql1(WB) == "1", timeout=20), "a transfer out that no payout explains: wallet_balance_mismatch")
br = sql("SELECT p_amount::text, f_amount::text, severity, reference FROM recon_breaks"
         " WHERE class = 'wallet_balance_mismatch' AND state <> 'resolved'")[0]
is_(int(br[1]) - int(br[0]), 123_456 * 10 ** 12, "the break shows both figures: the ledger is 0.123456 above the chain")
ok(br[2] == "4" and HOT in br[3], "critical, naming the wallet", br)
ok(wait_for(lambda: sql1("SELECT count(*) FROM exceptions WHERE type = 'unclassified_internal' AND state = 'open'")
            == "1", timeout=10), "and an unclassified_internal exception for ops")
st, b, _ = srv.call("GET", "/v1/recon/breaks?class=wallet_balance_mismatch", key=key("finance"))
ok(st == 200 and len(b.get("breaks", [])) == 1 and b["breaks"][0]["provider"]["amount"] != b["breaks"][0]["finance"]["amount"], "finance finds it in the reconciliation API, both figures", b)
srv.stop()
