#!/usr/bin/env python3
"""The demo's real chain: anvil (npm) with test USDT at the real USDT address, mining a block
a second, watched by raild's own watcher as the sandbox ethereum:usdt rail. Once the gateway
is up it plays a merchant's customers there: real token transfers for Acme's ethereum:usdt
payments (exact, now and then short, too much or a look-alike token), and a reorg now and
then. Refunds of overpayments go back out from the hot wallet it names (DIR/anvil.hot), anvil
signing for it.
A second node, anvil-b (chain 31338, DIR/anvil-b.url), is a network raild watches with no rail
on it: 20 s after the gateway is up it is reorged below what raild recorded as final, so the
console shows what a chain incident looks like (the network stopped, a critical chain_incident
exception that ops resolve with resume_watching).

   demo-chain.py DIR      writes DIR/anvil.url, waits for DIR/api.url, runs until SIGTERM
(railsim simulates the other chains itself; this one is a real node.)"""
import json, os, random, signal, sys, time, urllib.request
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "chain"))
os.environ.setdefault("RT_LOGDIR", os.path.join(sys.argv[1], "logs"))
import chainlib  # noqa: E402  (anvil, the token, transactions)
import atexit, rt  # noqa: E402
atexit.unregister(rt.T._end)   # not a TAP test: no plan line

d = sys.argv[1]


def on_term(*_):
    raise SystemExit(0)   # atexit stops anvil, whatever this process was doing


signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, on_term)
code = chainlib.ensure_tools()
node = chainlib.Anvil(block_time=1, name="demo-anvil", logdir=os.path.join(d, "logs"))
node.deploy(code)
# the hot wallet our payouts leave from (anvil signs for it) and the customers' account
with open(os.path.join(d, "anvil.hot"), "w") as f:
    f.write(node.accounts[1] + "\n")
with open(os.path.join(d, "anvil.payer"), "w") as f:
    f.write(node.payer + "\n")
node_b = chainlib.Anvil(chain_id=31338, block_time=1, name="demo-anvil-b", logdir=os.path.join(d, "logs"))
with open(os.path.join(d, "anvil-b.url"), "w") as f:
    f.write(node_b.url + "\n")
with open(os.path.join(d, "anvil.url.tmp"), "w") as f:
    f.write(node.url + "\n")
os.rename(os.path.join(d, "anvil.url.tmp"), os.path.join(d, "anvil.url"))
print("anvil on %s, chain 31337, test USDT at %s" % (node.url, chainlib.USDT), flush=True)

while not os.path.exists(os.path.join(d, "api.url")):
    time.sleep(0.2)
api = open(os.path.join(d, "api.url")).read().strip()
key = open(os.path.join(d, "keys", "merchant-acme")).read().strip()
rng = random.Random(int(os.environ.get("DEMO_SEED", "42")))
n = 0
next_reorg = time.time() + 40
incident_at = time.time() + 20
while True:
    time.sleep(rng.uniform(2, 5))
    if incident_at and time.time() >= incident_at:
        try:   # three blocks replaced on a network where every block is final: an incident
            node_b.rpc("anvil_reorg", 3, [])
            print("deep reorg on anvil-b at head %d" % node_b.head(), flush=True)
        except Exception as e:
            print("anvil-b error: %s" % e, flush=True)
        incident_at = None
    n += 1
    amount = rng.choice(["25.00", "120.00", "9.99", "480.00", "60.00"])
    body = json.dumps({"reference": "ANV-%05d" % n, "amount": amount, "rail": "ethereum:usdt",
                       "metadata": {"source": "demo-chain"}}).encode()
    req = urllib.request.Request(api + "/v1/payments", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer " + key,
                                          "Idempotency-Key": "demo-chain-%d" % n})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            p = json.loads(r.read())
    except Exception as e:   # the gateway may be restarting: the demo goes on
        print("payment not created: %s" % e, flush=True)
        continue
    units = int(amount.replace(".", "")) * 10 ** 4      # 2 decimals -> 6 (no floating point)
    fate = rng.random()
    try:
        if n == 1 or 0.9 <= fate < 0.97:
            units = units * 11 // 10                       # paid 10% too much: overpaid, refunded later
        elif fate < 0.1:
            units = units * 7 // 10                        # paid short: underpaid
        elif fate < 0.15:
            node.pay(p["deposit_address"], units, token=chainlib.LOOKALIKE)   # a look-alike "USDT" first
        if fate < 0.97 or n == 1:
            node.send(chainlib.USDT, chainlib.TRANSFER + chainlib.addr_word(p["deposit_address"]) + chainlib.word(units))
        # else: abandoned, it expires
        if time.time() > next_reorg:
            node.rpc("anvil_reorg", 1, [])                 # the last block replaced: its transfers leave
            print("reorg at head %d" % node.head(), flush=True)
            next_reorg = time.time() + rng.uniform(40, 80)
    except Exception as e:
        print("chain error: %s" % e, flush=True)
