#!/usr/bin/env python3
"""The payouts benchmark (see scripts/bench.d/payouts.sh). Prints ROW| lines."""
import os, statistics, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, log, row, rt  # noqa: E402
import chainlib as C  # noqa: E402

LAT = int(os.environ.get("BENCH_PAYOUTS_LATENCY", "30"))
DRAIN = int(os.environ.get("BENCH_PAYOUTS_DRAIN", "100"))


code = C.ensure_tools()
node = C.Anvil(name="bench-payouts-anvil")
node.deploy(code)
C.own_database()
C.setup_anvil_rail(node, confirmations=2, finality="2")
C.set_rpc("anvil", node.url)
HOT = node.accounts[1]
rt.admin("add-wallet", "--network", "anvil", "--address", HOT, "--kind", "hot", check=True)
r = subprocess.run([rt.RAILD, "admin", "set-signer", "--network", "anvil", "--url-file", "-"], input=node.url + "\n",
                   capture_output=True, text=True)
assert r.returncode == 0, r.stderr
os.environ.update(RAILD_WATCH_POLL_MS="100")
srv = rt.Raild(name="bench-payouts")
m = rt.Merchant(rails=("ethereum:usdt",), addresses=2)
T1 = rt.key("treasury")
payer = node.payer

st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": "bench-po", "amount": "100000",
                                                            "rail": "ethereum:usdt"})
node.pay(p["deposit_address"], 100_000 * 10 ** 6)
node.mine(4)
assert rt.wait_for(lambda: C.payment_state(p["id"]) == "finalized" or node.mine(1), timeout=60, interval=0.3)


def refund(amount="0.01"):
    st, b, _ = srv.call("POST", "/v1/refunds", key=m.key, body={"payment_id": p["id"], "amount": amount,
                                                                "to_address": payer, "reason": "bench"})
    assert st == 201, (st, b)
    return b


def approve(po):
    st, b, _ = srv.call("POST", "/v1/payouts/%s/approve" % po["id"], key=T1, body={"note": "bench", "version": 1})
    assert st == 200, (st, b)


def state(pid):
    return rt.sql1("SELECT state FROM payouts WHERE public_id = :'p'", p=pid)


# ---------------------------------------------------------------- 1. approval → broadcast
lat = []
for i in range(LAT):
    po = refund()
    approve(po)
    assert rt.wait_for(lambda: state(po["id"]) not in ("approved", "signed"), timeout=20), state(po["id"])
    ms = rt.sql1("SELECT extract(epoch from (b.at - a.at)) * 1000 FROM payout_events a, payout_events b, payouts p"
                 " WHERE p.public_id = :'p' AND a.payout_id = p.id AND b.payout_id = p.id"
                 " AND a.to_state = 'approved' AND b.to_state = 'broadcast'", p=po["id"])
    lat.append(float(ms))
    node.mine(1)

# baseline: the same two calls asked of anvil directly
nonce = int(node.rpc("eth_getTransactionCount", node.accounts[2], "pending"), 16)
base = []
data = C.TRANSFER + C.addr_word(payer) + C.word(10_000)
for i in range(LAT):
    t0 = time.perf_counter()
    raw = node.rpc("eth_signTransaction", {"from": node.accounts[2], "to": C.USDT, "gas": hex(100000),
                                           "maxFeePerGas": hex(4 * 10 ** 9), "maxPriorityFeePerGas": hex(10 ** 9),
                                           "value": "0x0", "data": data, "nonce": hex(nonce + i), "chainId": hex(31337),
                                           "type": "0x2"})
    node.rpc("eth_sendRawTransaction", raw)
    base.append((time.perf_counter() - t0) * 1000)
    node.mine(1)
med, b_med = statistics.median(lat), statistics.median(base)
p95 = sorted(lat)[int(0.95 * (len(lat) - 1))]
log("approval → broadcast over %d payouts: median %.1f ms, p95 %.1f ms, max %.1f ms; raw sign+send median %.1f ms"
    % (LAT, med, p95, max(lat), b_med))
row("payout approval → broadcast, median (p95 %.0f ms)" % p95, "%.0f" % med, "ms", "anvil sign+send, raw",
    "%.1f ms" % b_med, "%.1fx" % (med / b_med if b_med else 0), "<= 500 ms", med <= 500)

# ---------------------------------------------------------------- 2. 100 approved payouts drain
pos = [refund() for _ in range(DRAIN)]
n0 = int(node.rpc("eth_getTransactionCount", HOT, "latest"), 16)
t0 = time.time()
for po in pos:
    approve(po)
ids = [po["id"] for po in pos]
done = rt.wait_for(lambda: rt.sql1("SELECT count(*) FROM payouts WHERE public_id = ANY(string_to_array(:'ids', ','))"
                                   " AND state = 'finalized'", ids=",".join(ids)) == str(DRAIN) or node.mine(1),
                   timeout=300, interval=0.25)
secs = time.time() - t0
nonces = sorted(int(x[0]) for x in rt.sql("SELECT nonce FROM payouts WHERE public_id = ANY(string_to_array(:'ids', ','))",
                                           ids=",".join(ids)))
n1 = int(node.rpc("eth_getTransactionCount", HOT, "latest"), 16)
in_order = nonces == list(range(n0, n0 + DRAIN)) and n1 - n0 == DRAIN
log("drain: %d payouts finalized=%s in %.1f s; nonces %d..%d consecutive=%s; on-chain nonce +%d"
    % (DRAIN, bool(done), secs, nonces[0], nonces[-1], in_order, n1 - n0))
row("%d approved payouts drained to finalized" % DRAIN, "%.1f" % secs, "s", "-", "-", "-",
    "all finalized, nonces in order, no gap", bool(done) and in_order)
srv.stop()
node.stop()
