#!/usr/bin/env python3
"""The watcher against a misbehaving provider (a JSON-RPC fault proxy in front of anvil):
-32005 above N blocks, 429 with Retry-After, replies slower than the timeout, the node down
for 30 s, and a table of malformed replies. Each time the range adapts or the watcher waits,
nothing is missed, nothing malformed is ingested, the other network's watcher keeps running,
and the RPC URL (a secret: it carries a provider key) shows nowhere."""
import os, sys, time, json
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import *
from rt import *

SECRET = "k3y" + uniq("s").replace("-", "")        # a provider key in the URL path
code = ensure_tools()
own_database()
node, node2 = Anvil(), Anvil(chain_id=31338, name="anvil2")
node.deploy(code)
node2.deploy(code)
setup_anvil_rail(node)
anvil_network("anvil2", 31338)
admin("set-rail", "--env", "sandbox", "--rail", "bsc:usdt", "--network", "anvil2", "--contract", USDT, "--confirmations", "3",
      "--finality", "tag", check=True)
RAILS["bsc:usdt"] = dict(network="anvil2", contract=USDT, decimals=18, confirm=3, final=30)
m = Merchant(rails=("ethereum:usdt", "bsc:usdt"), addresses=80)
proxy = FaultProxy(node.url, path="/v3/" + SECRET)
set_rpc("anvil", proxy.url, from_block=node.head() + 1)
set_rpc("anvil2", node2.url)
os.environ.update(RAILD_WATCH_POLL_MS="100", RAILD_WATCH_RPC_TIMEOUT_MS="1000")
srv = Raild()
ops = key("ops")


def new_payment(rail="ethereum:usdt", amount="1.00"):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("f"), "amount": amount, "rail": rail})
    assert st == 201, p
    return p


def errors():
    return (watcher_state("anvil") or {}).get("errors", {})


def seen(p):
    return payment_state(p["id"]) in ("confirming", "confirmed", "finalized")


ok(wait_for(lambda: (watcher_state("anvil") or {}).get("state") == "running", timeout=20), "watching through the proxy")

# ---------------------------------------------------------------- -32005 above 5 blocks
proxy.max_range = 5
batch = [new_payment() for _ in range(12)]
for p in batch:
    node.pay(p["deposit_address"], 1_000_000)
    node.mine(2)                                   # spread over ~36 blocks
ok(wait_for(lambda: all(seen(p) for p in batch), timeout=40), "-32005 above 5 blocks: every transfer still found",
   [payment_state(p["id"]) for p in batch])
ok(errors().get("-32005", 0) >= 1, "the -32005 answers were counted", errors())
ok(max(proxy.ranges[-5:]) <= 5 and (watcher_state("anvil") or {}).get("range", 99) <= 5,
   "the range shrank to the provider's limit (now %s)" % (watcher_state("anvil") or {}).get("range"))
proxy.max_range = None
node.mine(400)
ok(wait_for(lambda: (watcher_state("anvil") or {}).get("range", 0) > 5, timeout=30),
   "the range grows back after successes (%s)" % (watcher_state("anvil") or {}).get("range"))

# ---------------------------------------------------------------- 429 with Retry-After
proxy.every_429 = 3
batch = [new_payment() for _ in range(3)]
for p in batch:
    node.pay(p["deposit_address"], 1_000_000)
t0 = time.time()
ok(wait_for(lambda: all(seen(p) for p in batch), timeout=30), "429s: the transfers are found anyway")
ok(errors().get("http-429", 0) >= 1, "429s were counted", errors())
proxy.every_429 = 0

# ---------------------------------------------------------------- replies slower than the timeout
proxy.garble["eth_getLogs"] = lambda req: (time.sleep(1.5) if int(req["params"][0]["toBlock"], 16) -
                                           int(req["params"][0]["fromBlock"], 16) > 1 else None) or \
    json.dumps({"jsonrpc": "2.0", "id": req["id"], "result": rpc_call(node.url, "eth_getLogs", req["params"])})
node.mine(6)
slow = new_payment()
node.pay(slow["deposit_address"], 1_000_000)
ok(wait_for(lambda: seen(slow), timeout=40), "slow replies: timeouts halve the range and the transfer is found")
ok(errors().get("timeout", 0) >= 1, "timeouts were counted", errors())
del proxy.garble["eth_getLogs"]

# ---------------------------------------------------------------- the node down for 30 s
proxy.down = True
during = [new_payment() for _ in range(2)]
for p in during:
    node.pay(p["deposit_address"], 1_000_000)
other = new_payment("bsc:usdt")
node2.pay(other["deposit_address"], 10 ** 18)
ok(wait_for(lambda: seen(other), timeout=15), "while anvil's node is down, the other network is still watched")
time.sleep(30)
ok(not any(seen(p) for p in during), "nothing is invented while the node is down")
ok(errors().get("transport", 0) >= 1, "the outage was counted", errors())
proxy.down = False
ok(wait_for(lambda: all(seen(p) for p in during), timeout=40), "30 s later the node is back: the payments made meanwhile are found")

# ---------------------------------------------------------------- malformed replies
def rep(req, **kw):
    return json.dumps(dict({"jsonrpc": "2.0", "id": req["id"]}, **kw))


def bad_log(**over):
    def g(req):
        logs = rpc_call(node.url, "eth_getLogs", req["params"])
        for l in logs:
            l.update(over)
        return rep(req, result=logs)
    return g


CASES = [
    ("eth_blockNumber", "not JSON", lambda req: "<html>502 Bad Gateway</html>"),
    ("eth_blockNumber", "wrong id", lambda req: json.dumps({"jsonrpc": "2.0", "id": req["id"] + 7, "result": "0x10"})),
    ("eth_blockNumber", "result of the wrong type", lambda req: rep(req, result=16)),
    ("eth_blockNumber", "block number beyond 2^63", lambda req: rep(req, result="0x1" + "0" * 16)),
    ("eth_blockNumber", "no result, no error", lambda req: json.dumps({"jsonrpc": "2.0", "id": req["id"]})),
    ("eth_getLogs", "logs not an array", lambda req: rep(req, result={"logs": []})),
    ("eth_getLogs", "a log with its topics missing", bad_log(topics=None)),
    ("eth_getLogs", "data that is not 32 bytes", bad_log(data="0x01")),
    ("eth_getLogs", "hex of odd length", bad_log(transactionHash="0x" + "a" * 63)),
    ("eth_getLogs", "a block number beyond 2^63", bad_log(blockNumber="0x1" + "0" * 16)),
    ("eth_getBlockByNumber", "a header with a short hash", lambda req: rep(req, result={
        "number": "0x1", "timestamp": "0x1", "hash": "0x12", "parentHash": "0x" + "0" * 64})),
]
for method, label, g in CASES:
    before = errors().get("malformed", 0)
    p = new_payment()
    proxy.garble[method] = g
    node.pay(p["deposit_address"], 1_000_000)
    node.mine(1)
    got = wait_for(lambda: errors().get("malformed", 0) > before, timeout=15)
    ingested = sql1("SELECT count(*) FROM chain_transfers WHERE to_address = :'a'", a=p["deposit_address"])
    other = new_payment("bsc:usdt")
    node2.pay(other["deposit_address"], 10 ** 18)
    other_ok = wait_for(lambda: seen(other), timeout=15)
    del proxy.garble[method]
    ok(got and ingested == "0" and other_ok,
       "%s: %s -> counted as malformed, nothing ingested, the other network still watched" % (method, label),
       "malformed %s -> %s, ingested %s, other %s" % (before, errors().get("malformed"), ingested, other_ok))
    ok(wait_for(lambda: seen(p), timeout=20), "%s: %s -> once the node answers properly the payment is found" % (method, label))
    last = (watcher_state("anvil") or {}).get("last_error", "")
    ok(method in last and "127.0.0.1:%d" % proxy.port in last, "%s: the last error names the call and the host" % label, last)

# ---------------------------------------------------------------- a node without the `finalized` tag
def no_tag(req):
    if req["params"][0] == "finalized":
        return rep(req, error={"code": -32602, "message": "invalid block tag: finalized"})
    return rep(req, result=rpc_call(node.url, req["method"], req["params"]))


proxy.garble["eth_getBlockByNumber"] = no_tag
nt = new_payment()
node.pay(nt["deposit_address"], 1_000_000)
node.mine(70)    # the rail's depth (64) is the rule then
ok(wait_for(lambda: payment_state(nt["id"]) == "finalized", timeout=30),
   "a node that refuses the finalized tag: finality by the rail's depth instead", payment_state(nt["id"]))
del proxy.garble["eth_getBlockByNumber"]

# ---------------------------------------------------------------- the URL is a secret
logs = open(srv.log_path).read()
metrics = srv.call("GET", "/metrics")[1]
nets = json.dumps(srv.call("GET", "/v1/networks", key=ops)[1])
status = json.dumps(sql("SELECT * FROM watcher_status"))
audit = json.dumps(sql("SELECT * FROM audit_log"))
stored = sql1("SELECT urls FROM network_rpc WHERE network = 'anvil'")
for where, text in (("the raild log", logs), ("/metrics", metrics), ("GET /v1/networks", nets),
                    ("watcher_status", status), ("the audit log", audit)):
    ok(SECRET not in text, "the RPC URL's key is not in %s" % where)
ok("127.0.0.1:%d" % proxy.port in nets, "the host is shown")
