#!/usr/bin/env python3
"""The HTTP ingest for external watchers (DESIGN §7, §10): a watcher key posts for its own
network only; a head may not jump more than the network's limit past the last one; a
poisoned head is repaired with `raild admin reset-head`, audited; `raild watch` says what
to fix when it cannot run. Every refusal leaves the database unchanged."""
import os, random, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild("--no-workers")
net = uniq("scope")          # a network of this test's own: poisoning it harms no other test
admin("add-network", "--name", net, "--env", "sandbox", "--kind", "evm", "--chain-id", str(random.randint(10 ** 9, 2 ** 40)),
      check=True)
w = key("watcher", network=net)
w_prod = key("watcher", network="tron")
st, me, _ = srv.call("GET", "/v1/whoami", key=w)
is_((st, me.get("role"), me.get("network"), me.get("environment")), (200, "watcher", net, "sandbox"),
    "whoami tells a watcher key its network and environment")

H, T = "/v1/chain/heads", "/v1/chain/transfers"
is_(srv.call("POST", H, key=w, body={"network": net, "head": 1000})[0], 200, "a first head")
tables = ["chain_heads", "chain_transfers", "payments", "exceptions", "audit_log"]
CASES = [
    ("another network's head", H, w, {"network": "tron-nile", "head": 5000}, 403, "wrong_network"),
    ("a production network's head", H, w, {"network": "tron", "head": 5000}, 403, "wrong_network"),
    ("a production key, sandbox network", H, w_prod, {"network": net, "head": 1001}, 403, "wrong_network"),
    ("another network's transfers", T, w, {"network": "tron-nile", "transfers": []}, 403, "wrong_network"),
    ("a head 10,001 blocks on", H, w, {"network": net, "head": 11001}, 422, "head_jump_too_large"),
    ("a head of 2^53 - 1", H, w, {"network": net, "head": 2 ** 53 - 1}, 422, "head_jump_too_large"),
    ("finalized above head", H, w, {"network": net, "head": 1001, "finalized": 1002}, 400, "invalid_request"),
]
before_all = row_counts(tables)
for label, path, k, body, want_st, want_code in CASES:
    before = row_counts(tables)
    st, b, _ = srv.call("POST", path, key=k, body=body)
    code = b.get("error", {}).get("code") if isinstance(b, dict) else None
    ok((st, code) == (want_st, want_code), "%s -> %d %s" % (label, want_st, want_code), (st, b))
    is_(row_counts(tables), before, "%s: nothing changed" % label)
is_(sql1("SELECT head FROM chain_heads WHERE network = :'n'", n=net), "1000", "the head is still 1000")
is_(srv.call("POST", H, key=w, body={"network": net, "head": 11000})[0], 200, "exactly 10,000 blocks on is accepted")

# a head poisoned within the limit, step by step, then repaired
for h in (21000, 31000, 41000):
    srv.call("POST", H, key=w, body={"network": net, "head": h, "finalized": h - 20})
st, b, _ = srv.call("POST", H, key=w, body={"network": net, "head": 1200})
is_((st, b.get("error", {}).get("code")), (409, "head_below_finalized"), "the real chain's head is now refused")
rc, out, err = admin("reset-head", "--network", net, "--head", "1200", "--reason", "a watcher reported another chain")
ok(rc == 0 and "1200" in out, "raild admin reset-head repairs it", err)
is_(sql("SELECT head, finalized FROM chain_heads WHERE network = :'n'", n=net), [["1200", "1200"]],
    "head and finality move down with it")
aud = sql("SELECT actor, reason, before->>'head', after->>'head' FROM audit_log WHERE action = 'chain.reset_head'"
          " AND object_id = :'n'", n=net)
ok(len(aud) == 1 and aud[0][1] == "a watcher reported another chain" and aud[0][2:] == ["41000", "1200"],
   "audited with the reason, before and after", aud)
is_(srv.call("POST", H, key=w, body={"network": net, "head": 1201})[0], 200, "the real chain's heads are accepted again")

# raild watch: what to fix when it cannot run (nothing changes, exit 2)
before = row_counts(["watcher_leases", "watcher_status", "chain_checkpoints"])
for args, frag in [([], "--network is required"), (["--network", "solana"], "unknown --network 'solana'"),
                   (["--network", net], "has no RPC endpoints"), (["--network", net, "--poll", "1"], "unknown option")]:
    r = subprocess.run([RAILD, "watch"] + args, capture_output=True, text=True, timeout=20)
    ok(r.returncode == 2 and frag in r.stderr, "raild watch %s -> exit 2: %s" % (" ".join(args), frag), r.stderr)
is_(row_counts(["watcher_leases", "watcher_status", "chain_checkpoints"]), before, "raild watch refusals change nothing")
