#!/usr/bin/env python3
"""railsim run without a gateway: --print-plan is deterministic for a seed, the plan is a
believable chain (mempool before block, heads rising, 18-decimal amounts exact), and every
flag is validated with a message saying what to fix."""
import json, os, re, stat, subprocess, sys, tempfile
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

DEC = {r: v["decimals"] for r, v in RAILS.items()}


def sim(*args, env=None):
    e = dict(os.environ)
    e.pop("RAILSIM_MERCHANT_KEY", None)
    e.pop("RAILSIM_WATCHER_KEY", None)
    e.update(env or {})
    return subprocess.run([RAILSIM, "run"] + [str(a) for a in args], capture_output=True, text=True, env=e,
                          timeout=60)


def plan(seed, *extra):
    r = sim("--print-plan", "--seed", seed, "--max-payments", 60, "--speed", 20, "--rate", 5, "--quiet",
            "--rails", "tron:usdt,bsc:usdt,ethereum:usdt", "--hot-wallet", "tron-nile=" + tron_address("hot"), *extra)
    if r.returncode:
        raise RuntimeError("print-plan failed: %s" % r.stderr)
    return r.stdout


def units(amount, decimals):
    whole, _, frac = amount.partition(".")
    return int(whole) * 10 ** decimals + int((frac + "0" * decimals)[:decimals])


# ---------------------------------------------------------------- help
r = sim("--help")
is_(r.returncode, 0, "--help exits 0")
for word in ["--api", "--merchant-key-file", "--watcher-key-file", "--seed", "--rate", "--speed", "--duration",
             "--max-payments", "--mix", "underpay", "reorg-confirmed", "wrong-token", "unknown-address", "stuck",
             "sweep", "internal", "duplicate", "late", "--print-plan", "--orders"]:
    ok(word in r.stdout, "--help documents %s" % word)

# ---------------------------------------------------------------- determinism
a, b, c = plan(7), plan(7), plan(8)
lines = [l for l in a.splitlines() if l.startswith("t=")]
ok(len(lines) > 100, "a 60-payment plan has many requests (%d)" % len(lines))
is_(a, b, "same seed: byte-identical plan")
ok(a != c, "another seed: a different plan")
creates_a = [l.split(" ", 4)[4] for l in lines if " POST /v1/payments " in l]
creates_c = [l.split(" ", 4)[4] for l in c.splitlines() if " POST /v1/payments " in l]
ok(creates_a != creates_c, "another seed: different payments")
ok(plan(7, "--tag", "other") != a and plan(7, "--tag", "other").count("INV-other-") > 0,
   "--tag changes references, not the draw")

# ---------------------------------------------------------------- the plan makes sense
pays = {}          # slot -> body
xfers = []         # (t, network, transfer)
heads = {}
head_ok = True
for l in lines:
    t, who, method, path, body = l.split(" ", 4)
    body = json.loads(body)
    if path == "/v1/payments":
        pays[body["metadata"]["slot"]] = body
    elif path == "/v1/chain/transfers":
        for x in body["transfers"]:
            xfers.append((int(t[2:]), body["network"], x))
    elif path == "/v1/chain/heads":
        if body["head"] <= heads.get(body["network"], 0):
            head_ok = False
        heads[body["network"]] = body["head"]
ok(head_ok, "heads rise strictly per network")
is_(sorted(heads), ["bsc-testnet", "sepolia", "tron-nile"], "a chain per network in use (the sandbox networks)")
ok(len(pays) >= 40, "payments planned (%d)" % len(pays))
ok(all(re.fullmatch(r"[0-9]+\.[0-9]{2}", p["amount"]) for p in pays.values()), "amounts are decimal strings")
is_(sorted({p["rail"] for p in pays.values()}), ["bsc:usdt", "ethereum:usdt", "tron:usdt"], "several rails used")

by_addr = {}
for t, net, x in xfers:
    by_addr.setdefault(x["to"], []).append(x)
exact_ok = under_ok = over_ok = True
seen = {"exact": 0, "underpay": 0, "overpay": 0}
for slot, p in pays.items():
    sc = p["metadata"]["scenario"]
    first = [x for x in by_addr.get("@pay:%d" % list(pays).index(slot), [])]
    if sc not in seen or not first:
        continue
    want = units(p["amount"], DEC[p["rail"]])
    got = int(first[0]["value"])
    seen[sc] += 1
    if sc == "exact" and got != want: exact_ok = False
    if sc == "underpay" and not got < want: under_ok = False
    if sc == "overpay" and not got > want: over_ok = False
ok(seen["exact"] > 5 and exact_ok, "exact payments send exactly amount x 10^decimals (18 decimals on bsc)")
ok(under_ok and over_ok, "underpayments send less, overpayments more")
bsc_vals = [int(x["value"]) for _, n, x in xfers if n == "bsc-testnet"]
ok(any(v > 2 ** 64 for v in bsc_vals), "bsc values exceed 64 bits (18 decimals)")

first_seen, order_ok = {}, True
for t, net, x in xfers:
    k = (net, x["tx_hash"], x["log_index"])
    if k not in first_seen:
        first_seen[k] = x
        if x["block_number"] is not None:
            order_ok = False
ok(order_ok, "every transfer shows in the mempool before a block")
removed = [x for _, _, x in xfers if x["removed"]]
ok(len(removed) > 0 and all(x["block_number"] is not None for x in removed), "reorgs remove mined transfers")
wt = plan(7, "--mix", "none,wrong-token=50")
contracts = {json.loads(l.split(" ", 4)[4])["network"]: set() for l in wt.splitlines() if "/v1/chain/transfers" in l}
for l in wt.splitlines():
    if "/v1/chain/transfers" in l:
        b = json.loads(l.split(" ", 4)[4])
        contracts[b["network"]] |= {x["contract"] for x in b["transfers"]}
ok(all(len(v) == 2 for v in contracts.values()) and contracts,
   "wrong-token: a look-alike contract beside the real one on each network", contracts)
scen = {p["metadata"]["scenario"] for p in pays.values()}
ok(len(scen) >= 5, "the default mix plans several scenarios: %s" % sorted(scen))

# ---------------------------------------------------------------- flag validation table
tmp = tempfile.mkdtemp(dir=LOGDIR)
def keyfile(name, mode=0o600, text="rk_test_abcdef"):
    p = os.path.join(tmp, name)
    with open(p, "w") as f:
        f.write(text + "\n")
    os.chmod(p, mode)
    return p
good_m, good_w = keyfile("m"), keyfile("w")
open_m = keyfile("open", 0o644)
two = keyfile("two", 0o600, "a b")
api = ["--api", "http://127.0.0.1:9"]
keys = ["--merchant-key-file", good_m, "--watcher-key-file", good_w]
table = [
    ([], "--api is required"),
    (["--api", "ftp://x"] + keys, "--api: 'ftp://x' is not an http"),
    (api + ["--watcher-key-file", good_w], "no merchant key"),
    (api + ["--merchant-key-file", good_m], "no watcher key"),
    (api + ["--merchant-key-file", open_m, "--watcher-key-file", good_w], "chmod 600"),
    (api + ["--merchant-key-file", os.path.join(tmp, "missing"), "--watcher-key-file", good_w], "cannot open"),
    (api + ["--merchant-key-file", two, "--watcher-key-file", good_w], "exactly one key"),
    (api + ["--merchant-key-file", good_m + "=tron:doge", "--watcher-key-file", good_w], "unknown rail 'tron:doge'"),
    (api + keys + ["--key", "rk_test_x"], "never taken on the command line"),
    (api + keys + ["--rate", "0"], "--rate: '0'"),
    (api + keys + ["--rate", "abc"], "--rate: 'abc'"),
    (api + keys + ["--rate", "1.0001"], "--rate: '1.0001'"),
    (api + keys + ["--speed", "0"], "--speed: '0'"),
    (api + keys + ["--speed", "-2"], "--speed: '-2'"),
    (api + keys + ["--mix", "teleport=5"], "unknown outcome 'teleport'"),
    (api + keys + ["--mix", "none,underpay=60,overpay=50"], "add up to 110.00%"),
    (api + keys + ["--mix", "underpay"], "is not NAME=PCT"),
    (api + keys + ["--mix", "underpay=1.234"], "underpay=1.234 is not a percentage"),
    (api + keys + ["--orders", "soon=5"], "unknown behaviour 'soon'"),
    (api + keys + ["--rails", "bsc:usdt,bsc:usdt"], "listed twice"),
    (api + keys + ["--hot-wallet", "tron-nile=0x1234"], "not a valid tron-nile address"),
    (api + keys + ["--hot-wallet", "doge=abc"], "unknown network 'doge'"),
    (api + keys + ["--expires-in", "10"], "--expires-in: '10' is not a whole number from 60"),
    (api + keys + ["--short-expiry", "7200", "--expires-in", "3600"], "must not exceed --expires-in"),
    (api + keys + ["--seed", "-1"], "--seed: '-1'"),
    (api + keys + ["--duration", "0"], "--duration: '0'"),
    (api + keys + ["--max-payments", "x"], "--max-payments: 'x'"),
    (api + keys + ["--concurrency", "0"], "--concurrency: '0'"),
    (api + keys + ["--tag", "a b"], "--tag: 'a b'"),
    (api + keys + ["--start-height", "0"], "--start-height: '0'"),
    (api + keys + ["--bogus", "1"], "unknown option '--bogus'"),
    (api + keys + ["--seed"], "--seed needs a value"),
    (["--print-plan"], "needs --duration or --max-payments"),
]
for args, want in table:
    r = sim(*args)
    ok(r.returncode == 2 and want in r.stderr and r.stdout == "",
       "rejects %s -> exit 2, '%s'" % (" ".join(a if not a.startswith(tmp) else "<file>" for a in args) or "(no flags)", want),
       "exit %d\nstderr: %s" % (r.returncode, r.stderr))
ok(all("rk_test_abcdef" not in sim(*a).stderr for a, _ in table[:8]), "key contents never echoed in errors")

r = sim(*keys, "--api", "http://127.0.0.1:%d" % free_port(), "--duration", 1)
ok(r.returncode == 1 and "not healthy" in r.stderr, "an unreachable gateway: exit 1 and says so", r.stderr)
r = sim("--api", "http://127.0.0.1:%d" % free_port(), "--duration", 1,
        env={"RAILSIM_MERCHANT_KEY": "rk_test_m", "RAILSIM_WATCHER_KEY": "rk_test_w"})
ok(r.returncode == 1 and "not healthy" in r.stderr, "keys from RAILSIM_*_KEY are accepted", r.stderr)
