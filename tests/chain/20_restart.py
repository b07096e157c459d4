#!/usr/bin/env python3
"""The watcher under kill -9: killed in the middle of a catch-up it resumes from its
checkpoint with no gap and nothing counted twice; with two raild copies only one watches
a network (the lease), and when that copy dies the other takes over within 10 s."""
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from chainlib import *
from rt import *

code = ensure_tools()
own_database()
node = Anvil()
node.deploy(code)
setup_anvil_rail(node)
m = Merchant(rails=("ethereum:usdt",), addresses=60)
N = 45
pays = [None] * N
# payments are created through a raild without a watcher, then paid on the chain, one block each
quiet = Raild("--no-workers", name="setup")
for i in range(N):
    st, p, _ = quiet.call("POST", "/v1/payments", key=m.key,
                          body={"reference": "r-%03d" % i, "amount": "1.%02d" % i, "rail": "ethereum:usdt"})
    assert st == 201, p
    pays[i] = p
quiet.stop()
first = node.head() + 1
for i, p in enumerate(pays):
    node.pay(p["deposit_address"], 1_000_000 + i * 10_000)
node.mine(3)
last = node.head()
diag("paid %d payments in blocks %d..%d" % (N, first, last))

proxy = FaultProxy(node.url)
proxy.slow_ms = 40                      # a slow provider, so the catch-up takes a while
set_rpc("anvil", proxy.url, from_block=first)
os.environ.update(RAILD_WATCH_POLL_MS="100", RAILD_WATCH_MAX_RANGE="3", RAILD_WATCH_LEASE_S="4")
a = Raild(name="a")
ok(wait_for(lambda: (watcher_state("anvil") or {}).get("checkpoint", -1) >= first + 8, timeout=30),
   "copy A is catching up range by range", watcher_state("anvil"))
a.proc.send_signal(signal.SIGKILL)
a.proc.wait()
a.log.close()
cut = (watcher_state("anvil") or {}).get("checkpoint", -1)
ok(first <= cut < last, "killed -9 mid catch-up, checkpoint at %d of %d" % (cut, last))
counted_before = int(sql1("SELECT count(*) FROM chain_transfers WHERE network = 'anvil' AND counted"))
ok(counted_before == cut - first + 1 or counted_before <= N, "transfers up to the checkpoint were ingested (%d)" % counted_before)

b = Raild(name="b")
c = Raild(name="c")
ok(wait_for(lambda: (watcher_state("anvil") or {}).get("checkpoint", -1) >= last, timeout=60),
   "a new copy resumes from the checkpoint to the head", watcher_state("anvil"))
node.mine(3)
ok(wait_for(lambda: sql1("SELECT count(*) FROM payments WHERE merchant_id = :'m' AND state = 'finalized'", m=m.id)
            == str(N), timeout=30), "every payment finalized")
is_(sql("SELECT count(*), count(DISTINCT (tx_hash, log_index)) FROM chain_transfers WHERE network = 'anvil'"
        " AND to_address IN (SELECT deposit_address FROM payments WHERE merchant_id = :'m')", m=m.id),
    [[str(N), str(N)]], "no gap, nothing twice: one transfer row per payment")
is_(sql1("SELECT count(*) FROM payments WHERE merchant_id = :'m' AND received <> amount", m=m.id), "0",
    "every payment received exactly its amount")
is_(sql1("SELECT count(*) FROM (SELECT payment_id, sequence FROM payment_events GROUP BY 1, 2 HAVING count(*) > 1) d"),
    "0", "no payment event twice")
is_(sql1("SELECT count(*) FROM ledger_transactions l JOIN payments p ON p.id = l.payment_id"
         " WHERE p.merchant_id = :'m' AND l.kind = 'finality'", m=m.id), str(N), "one finality posting each")
is_(sql1("SELECT count(*) FROM watcher_leases WHERE network = 'anvil'"), "1", "one lease for the network")

# ---------------------------------------------------------------- takeover within 10 s
holder = sql1("SELECT holder FROM watcher_leases WHERE network = 'anvil'")
pid = int(holder.split(":")[1])
dead, alive = (b, c) if b.proc.pid == pid else (c, b)
ok(pid in (b.proc.pid, c.proc.pid), "the lease names the copy that holds it (%s)" % holder)
other_log = open(alive.log_path).read()
ok("watch.lease_taken" not in other_log, "the other copy is not watching meanwhile")
dead.proc.send_signal(signal.SIGKILL)
dead.proc.wait()
dead.log.close()
t0 = time.time()
took = wait_for(lambda: (sql1("SELECT holder FROM watcher_leases WHERE network = 'anvil' AND expires_at > now()") or "")
                .split(":")[1:2] == [str(alive.proc.pid)], timeout=15) and time.time() - t0
ok(took and took <= 10, "the surviving copy took the lease %.1f s after the kill -9" % (took or -1))
st, p, _ = alive.call("POST", "/v1/payments", key=m.key, body={"reference": "after", "amount": "2.00", "rail": "ethereum:usdt"})
node.pay(p["deposit_address"], 2_000_000)
ok(wait_for(lambda: payment_state(p["id"]) == "confirming", timeout=10), "and watches: a new payment is seen")
