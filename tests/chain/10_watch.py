#!/usr/bin/env python3
"""raild's own watcher on a real EVM node (anvil): a token at the real USDT address, real
transactions, forced reorgs. Each scenario is checked on the API and in the database:
exact, under- and overpayment, a look-alike token, an ERC-721 Transfer, a reorg before
and after confirmation, the same transaction re-included, a reorg deeper than finality
(an incident an operator resolves), a sandbox watcher beside a production payment, a
node on the wrong chain refused while the others keep running, and /metrics."""
import os, sys, time
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
os.environ["RAILD_WATCH_POLL_MS"] = "100"
srv = Raild()
m = Merchant(rails=("ethereum:usdt",), addresses=40)
ops = key("ops")


def pay_req(amount, ref=None):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key,
                        body={"reference": ref or uniq("ord"), "amount": amount, "rail": "ethereum:usdt"})
    assert st == 201, (st, p)
    return p


def api_payment(pid):
    return srv.call("GET", "/v1/payments/" + pid, key=m.key)[1]


def wait_state(pid, state, timeout=15):
    return wait_for(lambda: payment_state(pid) == state, timeout=timeout)


def exceptions_of(pid):
    return sql("SELECT e.type, e.state, coalesce(e.resolution, '') FROM exceptions e"
               " JOIN payments p ON p.id = e.payment_id WHERE p.public_id = :'p' ORDER BY e.id", p=pid)


ok(wait_for(lambda: (watcher_state("anvil") or {}).get("state") == "running", timeout=20),
   "the watcher runs for the anvil network", watcher_state("anvil"))
ok("raild_watcher_up{network=\"anvil\",state=\"running\"} 1" in srv.call("GET", "/metrics")[1],
   "/metrics: the anvil watcher is up")

# ---------------------------------------------------------------- an exact payment to finalized
p = pay_req("10.00")
tx = node.pay(p["deposit_address"], 10_000_000)
blk = node.receipt_block(tx)
ok(wait_state(p["id"], "confirming"), "exact payment: a mined transfer makes it confirming", payment_state(p["id"]))
node.mine(3)
ok(wait_state(p["id"], "finalized"), "exact payment: finalized once the node's finalized block passes it",
   payment_state(p["id"]))
got = api_payment(p["id"])
is_((got["state"], got["received"]), ("finalized", "10.000000"), "API: finalized with 10.000000 received")
row = sql("SELECT tx_hash, block_number, block_hash, classification, counted, contract FROM chain_transfers"
          " WHERE network = 'anvil' AND to_address = :'a'", a=p["deposit_address"])
node_block = node.rpc("eth_getBlockByNumber", hex(blk), False)["hash"]
is_(row, [[tx, str(blk), node_block, "payment", "t", USDT]], "database: the node's tx, block and hash, counted once")
is_(sql1("SELECT count(*) FROM ledger_transactions l JOIN payments p ON p.id = l.payment_id"
         " WHERE p.public_id = :'p' AND l.kind = 'finality'", p=p["id"]), "1", "one finality posting")

# ---------------------------------------------------------------- under- and overpayment
under, over = pay_req("20.00"), pay_req("5.00")
node.pay(under["deposit_address"], 12_500_000)
node.pay(over["deposit_address"], 7_000_000)
node.mine(4)
ok(wait_for(lambda: ["underpaid", "open", ""] in exceptions_of(under["id"]), timeout=15),
   "underpayment: an underpaid exception", exceptions_of(under["id"]))
ok(wait_for(lambda: ["overpaid", "open", ""] in exceptions_of(over["id"]), timeout=15),
   "overpayment: an overpaid exception", exceptions_of(over["id"]))
is_(api_payment(under["id"])["received"], "12.500000", "underpayment: received 12.500000 of 20.00")

# ---------------------------------------------------------------- look-alike token, ERC-721
la = pay_req("3.00")
node.pay(la["deposit_address"], 3_000_000, token=LOOKALIKE)
node.send(NFT, MINT + addr_word(la["deposit_address"]) + word(7))
ok(wait_for(lambda: sql1("SELECT classification FROM chain_transfers WHERE to_address = :'a'",
                         a=la["deposit_address"]) == "wrong_asset", timeout=15),
   "a look-alike USDT (another contract) is classified wrong_asset")
ok(wait_for(lambda: any(e[0] == "wrong_asset" for e in sql(
    "SELECT type FROM exceptions WHERE transfer_id IN (SELECT id FROM chain_transfers WHERE to_address = :'a')",
    a=la["deposit_address"])), timeout=10), "and opens a wrong_asset exception")
is_(sql1("SELECT count(*) FROM chain_transfers WHERE to_address = :'a' AND lower(contract) = :'c'",
         a=la["deposit_address"], c=NFT), "0", "an ERC-721 Transfer (four topics) is not taken for money")
is_(payment_state(la["id"]), "awaiting_payment", "the payment still waits for real USDT")

# ---------------------------------------------------------------- reorgs (finality by depth here)
admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "anvil", "--contract", USDT,
      "--confirmations", "3", "--finality", "12", check=True)
time.sleep(0.5)
r1 = pay_req("4.00")
tx1 = node.pay(r1["deposit_address"], 4_000_000)
ok(wait_state(r1["id"], "confirming"), "reorg before confirmation: confirming first")
node.rpc("anvil_reorg", 1, [])
ok(wait_state(r1["id"], "awaiting_payment"), "reorg before confirmation: back to awaiting_payment",
   payment_state(r1["id"]))
is_(sql1("SELECT status FROM chain_transfers WHERE tx_hash = :'t'", t=tx1), "removed", "the orphaned transfer is removed")
ok(wait_for(lambda: (watcher_state("anvil") or {}).get("reorgs", 0) >= 1), "the watcher counted the reorg")
ok("raild_watcher_reorgs_total{network=\"anvil\"}" in srv.call("GET", "/metrics")[1], "/metrics: reorgs per network")

# after confirmation: a dedicated account, so its nonce is free for the re-inclusion below
r2 = pay_req("6.00")
payer2 = node.accounts[3]
tx2 = node.pay(r2["deposit_address"], 6_000_000, frm=payer2)
raw2 = node.rpc("eth_getRawTransactionByHash", tx2)
node.mine(3)
ok(wait_state(r2["id"], "confirmed"), "reorg after confirmation: confirmed first", payment_state(r2["id"]))
depth = node.head() - node.receipt_block(tx2) + 1
node.rpc("anvil_reorg", depth, [])
ok(wait_for(lambda: ["reorged", "open", ""] in exceptions_of(r2["id"]), timeout=15),
   "reorg after confirmation: a reorged exception", exceptions_of(r2["id"]))
is_(payment_state(r2["id"]), "confirmed", "the payment is not moved back past confirmation")

# the same transaction re-included in another block: the reorged exception closes itself
node.mine(2)
node.rpc("anvil_reorg", 1, [[raw2, 0]])
ok(wait_for(lambda: ["reorged", "resolved", "auto_closed"] in exceptions_of(r2["id"]), timeout=15),
   "re-included: the reorged exception auto-closes", exceptions_of(r2["id"]))
is_(sql("SELECT status, counted FROM chain_transfers WHERE tx_hash = :'t'", t=tx2), [["seen", "t"]],
    "re-included: the same transfer, counted once")
node.mine(14)
ok(wait_state(r2["id"], "finalized"), "re-included: it finalizes", payment_state(r2["id"]))
is_(api_payment(r2["id"])["received"], "6.000000", "re-included: received 6.000000, not 12")

# ---------------------------------------------------------------- a production payment beside
# the sandbox chain: the same address string in both pools, money sent on the sandbox chain
pm = Merchant(rails=("ethereum:usdt",), env="production", addresses=0)
shared = add_addresses("ethereum", 1)[0]
path = os.path.join(LOGDIR, uniq("shared") + ".txt")
open(path, "w").write(shared + "\n")
admin("add-addresses", "--network", "anvil", "--file", path, check=True)
st, prod, _ = srv.call("POST", "/v1/payments", key=pm.key,
                       body={"reference": uniq("prod"), "amount": "9.00", "rail": "ethereum:usdt"})
is_((st, prod.get("deposit_address"), prod.get("network")), (201, shared, "ethereum"),
    "a production payment takes its address from the production pool")
txp = node.pay(shared, 9_000_000)
node.mine(4)
ok(wait_for(lambda: sql1("SELECT classification FROM chain_transfers WHERE tx_hash = :'t'", t=txp) is not None),
   "the sandbox chain's transfer is ingested")
is_(sql("SELECT network, classification, payment_id IS NULL FROM chain_transfers WHERE tx_hash = :'t'", t=txp),
    [["anvil", "unmatched", "t"]], "on the sandbox network, matched to no production payment")
is_(payment_state(prod["id"]), "awaiting_payment", "the production payment did not move")
sw = key("watcher", network="anvil")
st, b, _ = srv.call("POST", "/v1/chain/heads", key=sw, body={"network": "ethereum", "head": 99})
is_((st, b.get("error", {}).get("code")), (403, "wrong_network"), "a sandbox watcher key cannot post production heads")

# ---------------------------------------------------------------- a node on the wrong chain
anvil_network("anvil-b", 999)
set_rpc("anvil-b", node.url)
ok(wait_for(lambda: (watcher_state("anvil-b") or {}).get("state") == "refused", timeout=20),
   "a node answering another chain id is refused", watcher_state("anvil-b"))
ws = watcher_state("anvil-b") or {}
ok("chain id mismatch" in ws.get("reason", "") and "31337" in ws["reason"] and "999" in ws["reason"],
   "the reason names both chain ids", ws.get("reason"))
ok("raild_watcher_up{network=\"anvil-b\",state=\"refused\"} 1" in srv.call("GET", "/metrics")[1],
   "/metrics says the watcher refused")
is_(sql1("SELECT count(*) FROM chain_transfers WHERE network = 'anvil-b'"), "0", "nothing ingested from it")
alive = pay_req("1.00")
node.pay(alive["deposit_address"], 1_000_000)
ok(wait_state(alive["id"], "confirming"), "the anvil network's watcher keeps running beside it")
ok(srv.call("GET", "/v1/networks", key=ops)[0] == 200, "GET /v1/networks answers an operator")
nets = {n["network"]: n for n in srv.call("GET", "/v1/networks", key=ops)[1]["networks"]}
ok(nets["anvil"]["watcher"]["rpc_host"] == "127.0.0.1:%d" % node.port and node.url not in str(nets),
   "the API shows the RPC host, never the URL", nets.get("anvil"))
ok("anvil-b" in nets and nets["anvil-b"]["watcher"]["state"] == "refused", "and the refused network with its reason")
ok(sql1("SELECT has_table_privilege('railtop_console', 'network_rpc', 'SELECT')") == "f",
   "the console role cannot read RPC endpoints")

# ---------------------------------------------------------------- deeper than finality
admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "anvil", "--contract", USDT,
      "--confirmations", "3", "--finality", "tag", check=True)
node.mine(5)
time.sleep(1)
fin_before = int(sql1("SELECT finalized FROM chain_heads WHERE network = 'anvil'"))
node.rpc("anvil_reorg", 6, [])
ok(wait_for(lambda: (watcher_state("anvil") or {}).get("state") == "incident", timeout=15),
   "a reorg below the finalized height stops the network's watcher", watcher_state("anvil"))
inc = sql("SELECT public_id, severity, environment FROM exceptions WHERE type = 'chain_incident' AND network = 'anvil'"
          " AND state = 'open'")
ok(len(inc) == 1 and inc[0][1] == "4" and inc[0][2] == "sandbox", "a critical chain_incident exception opens", inc)
cp = (watcher_state("anvil") or {}).get("checkpoint")
stalled = pay_req("2.00")
node.pay(stalled["deposit_address"], 2_000_000)
time.sleep(1.5)
is_(payment_state(stalled["id"]), "awaiting_payment", "while the incident is open nothing more is ingested")
if inc:
    st, e, _ = srv.call("GET", "/v1/exceptions/" + inc[0][0], key=ops)
    st, e, _ = srv.call("POST", "/v1/exceptions/%s/claim" % inc[0][0], key=ops, body={"version": e["version"]})
    st, e, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % inc[0][0], key=ops,
                        body={"resolution": "resume_watching", "note": "node checked, books reviewed",
                              "version": e.get("version")})
    ok(st == 200, "ops resolve the incident with resume_watching", e)
ok(wait_state(stalled["id"], "confirming", timeout=20), "the watcher resumes from the common ancestor")
ok((watcher_state("anvil") or {}).get("state") == "running", "and runs again")
diag("finalized before the deep reorg: %d, checkpoint at the incident: %s" % (fin_before, cp))
