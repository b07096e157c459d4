#!/usr/bin/env python3
"""The chain watcher's benchmark (see scripts/bench.d/chain.sh). Prints ROW| lines."""
import json, os, signal, statistics, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import ROOT, log, row, rt  # noqa: E402
import chainlib as C  # noqa: E402

BLOCKS = int(os.environ.get("BENCH_CHAIN_BLOCKS", "20000"))
OURS = int(os.environ.get("BENCH_CHAIN_TRANSFERS", "5000"))
PER_TX = 20                     # our transfers per transaction (and as many to others)
LIVE = int(os.environ.get("BENCH_CHAIN_LIVE", "200"))
POLL_MS = 250


code = C.ensure_tools()
node = C.Anvil(name="bench-anvil")
node.deploy(code)
ours = [rt.evm_address() for _ in range(OURS)]
others = [rt.evm_address() for _ in range(OURS)]
pool = os.path.join(rt.LOGDIR, "bench-chain-pool.txt")
open(pool, "w").write("\n".join(ours) + "\n")


def fresh_gateway():
    """A database of its own: the anvil network and rail, our addresses in its pool."""
    C.own_database()
    C.setup_anvil_rail(node)
    rt.admin("add-addresses", "--network", "anvil", "--file", pool, check=True)

# ---------------------------------------------------------------- the chain: 20,000 blocks
t = time.time()
ntx = OURS // PER_TX
gap = max(BLOCKS // ntx - 1, 0)
for i in range(ntx):
    batch = ours[i * PER_TX:(i + 1) * PER_TX] + others[i * PER_TX:(i + 1) * PER_TX]
    data = C.SPRAY + C.word(0x40) + C.word(1_000_000) + C.word(len(batch)) + "".join(C.addr_word(a) for a in batch)
    node.send(C.USDT, data)
    if gap:
        node.mine(gap)
head = node.head()
log("chain: %d blocks, %d transactions, %d transfers to our addresses (+%d to others) in %.1fs"
    % (head, ntx, OURS, OURS, time.time() - t))

# ---------------------------------------------------------------- baseline: raw eth_getLogs
RANGE, CHUNK = 2000, 1000
topics = [["0x" + "0" * 24 + a[2:] for a in ours[k:k + CHUNK]] for k in range(0, len(ours), CHUNK)]
bodies = []
for start in range(1, head + 1, RANGE):
    end = min(start + RANGE - 1, head)
    for tp in topics:
        bodies.append(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": [
            {"fromBlock": hex(start), "toBlock": hex(end), "topics": [C.TRANSFER_TOPIC, None, tp]}]}))
tmp = tempfile.mkdtemp(prefix="bench-chain-")
files = []
for i, b in enumerate(bodies):
    p = os.path.join(tmp, "q%d.json" % i)
    open(p, "w").write(b)
    files.append(p)


def raw_fetch():
    t0 = time.time()
    n = 0
    for p in files:
        out = subprocess.run(["curl", "-sS", "-H", "Content-Type: application/json", "--data-binary", "@" + p, node.url],
                             capture_output=True, text=True, check=True).stdout
        n += len(json.loads(out)["result"])
    return time.time() - t0, n


def range_line(line):
    """a raild log line's fields when it is a watch.range line (a range committed), else None"""
    if "event=watch.range " not in line:
        return None
    return dict(x.split("=", 1) for x in line.split() if "=" in x)


def watcher_catchup(i):
    """A fresh watcher scanning from block 1: seconds until its checkpoint reaches the head."""
    fresh_gateway()
    C.set_rpc("anvil", node.url, from_block=1)
    env = dict(os.environ, RAILD_WATCH_POLL_MS="50", PGUSER="railtop_app")
    port = rt.free_port()
    logf = open(os.path.join(rt.LOGDIR, "bench-chain-raild-%d.log" % i), "w")
    t0 = time.time()
    p = subprocess.Popen([rt.RAILD, "serve", "--listen", "127.0.0.1:%d" % port, "--no-dispatch", "--no-sweeper",
                          "--no-recon"], stdout=logf, stderr=subprocess.STDOUT, env=env)
    # Done when the range that reaches the head has committed: its watch.range line is
    # written after the COMMIT. Read from raild's log, not with psql: a psql every 20 ms
    # (a process and a PostgreSQL backend each) took a fifth of the CPU from what is measured.
    tail = open(logf.name)
    seen = {"to": -1, "buf": ""}

    def reached():
        seen["buf"] += tail.read()
        *lines, seen["buf"] = seen["buf"].split("\n")
        for kv in map(range_line, lines):
            if kv:
                seen["to"] = max(seen["to"], int(kv.get("to", -1)))
        return seen["to"] >= head
    done = rt.wait_for(reached, timeout=600, interval=0.005)
    took = time.time() - t0
    tail.close()
    p.send_signal(signal.SIGTERM)
    p.wait()
    logf.close()
    rpc_ms = db_ms = 0
    for kv in map(range_line, open(logf.name)):
        if kv:
            rpc_ms += int(kv.get("rpc_ms", 0))
            db_ms += int(kv.get("db_ms", 0))
    split.append((rpc_ms / 1000, db_ms / 1000))
    n = int(rt.sql1("SELECT count(*) FROM chain_transfers WHERE network = 'anvil'"))
    distinct = int(rt.sql1("SELECT count(DISTINCT (tx_hash, log_index)) FROM chain_transfers WHERE network = 'anvil'"))
    return (took if done else None), n, distinct


raw_times, w_times, w_ok, split = [], [], True, []
for i in range(3):   # interleaved, so both see the same machine
    rt_s, rn = raw_fetch()
    raw_times.append(rt_s)
    ws, n, distinct = watcher_catchup(i)
    w_ok = w_ok and ws is not None and n == OURS and distinct == OURS
    w_times.append(ws if ws is not None else float("inf"))
    log("round %d: raw %.2fs (%d logs), watcher %.2fs (%d transfers, %d distinct; RPC %.2fs, ingest %.2fs)"
        % (i + 1, rt_s, rn, ws or -1, n, distinct, split[-1][0], split[-1][1]))
raw = statistics.median(raw_times)
w = statistics.median(w_times)
rate_w, rate_raw = head / w, head / raw
ratio = rate_w / rate_raw
row("watcher catch-up, %d blocks / %d transfers" % (head, OURS), "%.0f" % rate_w, "blocks/s",
    "raw eth_getLogs (curl)", "%.0f" % rate_raw, "%.2f" % ratio, ">= 0.80x, each once", ratio >= 0.8 and w_ok)
rpc = statistics.median(x[0] for x in split)
ing = statistics.median(x[1] for x in split)
row("(reference) watcher's RPC time alone", "%.0f" % (head / rpc if rpc else 0), "blocks/s", "raw eth_getLogs (curl)",
    "%.0f" % rate_raw, "%.2f" % ((head / rpc) / rate_raw if rpc else 0), "-", True)
row("(reference) watcher's ingest time", "%.0f" % (OURS / ing if ing else 0), "transfers/s", "-", "-", "-", "-", True)

# ---------------------------------------------------------------- live: mined -> seen
fresh_gateway()
C.set_rpc("anvil", node.url, from_block=node.head())
env = dict(os.environ, RAILD_WATCH_POLL_MS=str(POLL_MS), PGUSER="railtop_app")
port = rt.free_port()
logf = open(os.path.join(rt.LOGDIR, "bench-chain-raild-live.log"), "w")
srv = subprocess.Popen([rt.RAILD, "serve", "--listen", "127.0.0.1:%d" % port, "--no-dispatch", "--no-recon"],
                       stdout=logf, stderr=subprocess.STDOUT, env=env)
api = "http://127.0.0.1:%d" % port
rt.wait_for(lambda: rt.sql1("SELECT state FROM watcher_status WHERE network = 'anvil'") == "running", timeout=30)
mid = rt.admin("create-merchant", "--name", rt.uniq("bench-chain"), check=True)[1].strip()
rt.admin("enable-rail", "--merchant", mid, "--env", "sandbox", "--rail", "ethereum:usdt", check=True)
mkey = rt.admin("create-key", "--role", "merchant", "--name", rt.uniq("bc"), "--merchant", mid, "--env", "sandbox",
                check=True)[1].strip()
rt.add_addresses("anvil", LIVE)
lat = []
import urllib.request  # noqa: E402
for i in range(LIVE):
    req = urllib.request.Request(api + "/v1/payments", method="POST", data=json.dumps(
        {"reference": "live-%d" % i, "amount": "1.00", "rail": "ethereum:usdt"}).encode(),
        headers={"Authorization": "Bearer " + mkey, "Content-Type": "application/json"})
    p = json.loads(urllib.request.urlopen(req, timeout=10).read())
    time.sleep((i % 10) * POLL_MS / 10000)          # spread the sends over the poll cycle
    node.pay(p["deposit_address"], 1_000_000)       # returns once mined (automine)
    mined = time.time()
    seen = rt.wait_for(lambda: rt.sql1("SELECT extract(epoch FROM min(at)) FROM payment_events e JOIN payments q"
                                       " ON q.id = e.payment_id WHERE q.public_id = :'p' AND e.sequence >= 1",
                                       p=p["id"]), timeout=10, interval=0.01)
    lat.append((float(seen) - mined) * 1000 if seen else 10000)
srv.send_signal(signal.SIGTERM)
srv.wait()
lat.sort()
p50 = lat[len(lat) // 2]
p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
row("mined transfer -> seen, p99 over %d blocks" % LIVE, "%.0f" % p99, "ms", "p50", "%.0f" % p50, "-",
    "<= poll %d + 100 ms" % POLL_MS, p99 <= POLL_MS + 100)
node.stop()
