#!/usr/bin/env python3
"""Tron through its Ethereum-compatible JSON-RPC, exercised on anvil: there is no Tron node
here, so the sandbox network tron-nile is pointed at an anvil started with Nile's chain id.
Deposit addresses and the token contract are base58check (T…); the watcher converts them
to 20-byte hex for eth_getLogs and back for ingest."""
import hashlib, os, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import *
from rt import *

NILE = 3448148188   # eth_chainId of Tron Nile (0xcd8690dc)


def to_tron(hex_addr):
    body = b"\x41" + bytes.fromhex(hex_addr[2:])
    return b58encode(body + hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4])


def to_hex(t):
    n = 0
    for ch in t:
        n = n * 58 + B58.index(ch)
    return "0x" + n.to_bytes(25, "big")[1:21].hex()


code = ensure_tools()
own_database()
node = Anvil(chain_id=NILE, name="anvil-nile")
node.deploy(code)
usdt_t = to_tron(USDT)
admin("set-rail", "--env", "sandbox", "--rail", "tron:usdt", "--network", "tron-nile", "--contract", usdt_t,
      "--confirmations", "3", "--finality", "5", check=True)
RAILS["tron:usdt"] = dict(network="tron-nile", contract=usdt_t, decimals=6, confirm=3, final=5)
set_rpc("tron-nile", node.url, from_block=node.head() + 1)
os.environ["RAILD_WATCH_POLL_MS"] = "100"
srv = Raild()
m = Merchant(rails=("tron:usdt",), addresses=10)
ok(to_hex(to_tron(USDT)) == USDT, "test helper: base58check round trip")
ok(wait_for(lambda: (watcher_state("tron-nile") or {}).get("state") == "running", timeout=20),
   "the tron-nile watcher accepts a node with Nile's chain id", watcher_state("tron-nile"))


def payment(amount):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("t"), "amount": amount, "rail": "tron:usdt"})
    assert st == 201, p
    return p


p = payment("15.00")
ok(p["deposit_address"].startswith("T"), "the deposit address is base58check", p["deposit_address"])
tx = node.pay(to_hex(p["deposit_address"]), 15_000_000)
node.mine(6)
ok(wait_for(lambda: payment_state(p["id"]) == "finalized", timeout=20), "a tron payment goes to finalized",
   payment_state(p["id"]))
row = sql("SELECT tx_hash, contract, to_address, from_address, classification FROM chain_transfers"
          " WHERE network = 'tron-nile'")
is_(row, [[tx[2:], usdt_t, p["deposit_address"], to_tron(node.payer), "payment"]],
    "stored in Tron's forms: hash without 0x, base58check contract, to and from")
la = payment("2.00")
node.pay(to_hex(la["deposit_address"]), 2_000_000, token=LOOKALIKE)
node.mine(1)
ok(wait_for(lambda: sql1("SELECT classification FROM chain_transfers WHERE to_address = :'a'",
                         a=la["deposit_address"]) == "wrong_asset", timeout=15),
   "a look-alike token on tron is wrong_asset (matched by contract)")
wallet_hex = node.accounts[1]
admin("add-wallet", "--network", "tron-nile", "--address", to_tron(wallet_hex), "--kind", "hot", check=True)
txo = node.pay(node.accounts[2], 1_000_000, frm=wallet_hex)
node.mine(1)
ok(wait_for(lambda: sql1("SELECT classification FROM chain_transfers WHERE tx_hash = :'t'", t=txo[2:])
            == "unclassified_internal", timeout=15),
   "a move out of our hot wallet (from-filter, base58 wallet) is unclassified_internal")
