#!/usr/bin/env python3
"""`raild watch --network NAME` alone, and what the console shows of the chains: the tabs
line names the rail on the real node with its head and finalized height ("ethereum: anvil
N/M"), `:networks` shows the watcher's state, checkpoint and RPC host (never the URL), and
a stopped watcher is flagged."""
import os, re, signal, subprocess, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ui"))
from chainlib import *
from uikit import Console
from rt import *

code = ensure_tools()
own_database()
node = Anvil()
node.deploy(code)
setup_anvil_rail(node)
set_rpc("anvil", node.url + "/?apikey=SECRET123")
srv = Raild("--no-workers")        # the API only; the watcher runs alone below
m = Merchant(rails=("ethereum:usdt",), addresses=5)
env = dict(os.environ, RAILD_WATCH_POLL_MS="100", PGUSER="railtop_app")
log = open(os.path.join(LOGDIR, "50_console-watch.log"), "w")
w = subprocess.Popen([RAILD, "watch", "--network", "anvil"], stdout=log, stderr=subprocess.STDOUT, env=env)
ok(wait_for(lambda: (watcher_state("anvil") or {}).get("state") == "running", timeout=20),
   "raild watch --network anvil runs alone", watcher_state("anvil"))
st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": "c-1", "amount": "3.00", "rail": "ethereum:usdt"})
node.pay(p["deposit_address"], 3_000_000)
node.mine(2)
ok(wait_for(lambda: payment_state(p["id"]) in ("confirming", "confirmed", "finalized"), timeout=15),
   "and ingests the node's transfers")

c = Console(key=key("ops"), api=srv.base)
s = c.wait("Payments")
head = node.head()
s = c.wait(re.compile(r"ethereum: anvil \d+/\d+"), timeout=10)
ok(s is not None, "the tabs line shows the rail on the real node: ethereum: anvil head/finalized", c.text())
c.keys(":")
c.type("networks")
c.keys("Enter")
s = c.wait("rpc host", timeout=10)
ok(s is not None and "127.0.0.1:%d" % node.port in s and "running" in s, ":networks shows the watcher and the RPC host", c.text())
ok(s is not None and "SECRET123" not in s and "apikey" not in s, "never the URL or its key")
ok(s is not None and "chain id 31337" in s and "checkpoint" in s, "with the chain id and the checkpoint")
w.send_signal(signal.SIGTERM)
is_(w.wait(timeout=15), 0, "raild watch stops on SIGTERM")
log.close()
ok(wait_for(lambda: (watcher_state("anvil") or {}).get("state") == "stopped", timeout=10), "its status says stopped")
c.keys("Escape")
s = c.wait("STOPPED", timeout=10)
ok(s is not None, "the console flags the stopped watcher", c.text())
c.keys("q")
c.close()
