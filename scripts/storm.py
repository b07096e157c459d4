#!/usr/bin/env python3
"""storm — a seeded fault storm against a live gateway, then an invariant checker
(issue 14, DESIGN §7, §8).

  STORM_SEED=N STORM_SECONDS=S [STORM_COPIES=3] [STORM_RATE=P] scripts/storm.py [DIR]

Starts its own PostgreSQL under DIR (default build/storm/<seed>), STORM_COPIES `raild serve`
copies behind a small TCP balancer (what a load balancer does in production), one webhook
receiver per endpoint, `railsim run` on every sandbox rail, and operators who claim, resolve,
retry and acknowledge concurrently (bulk where it exists, and on purpose some bad requests).
Meanwhile faults drawn from the seed: kill -9 of a raild copy (restarted), PostgreSQL
restarts (fast and immediate), a receiver down or hanging, a storm of cancelled statements
(what a statement timeout does to every query in flight), and slow, failing, rate-limiting
or range-limiting JSON-RPC in front of a real EVM node (anvil): the sandbox ethereum:usdt
rail runs on anvil through raild's own watcher, paid with real token transfers
(STORM_CHAIN=0 leaves the chain out).

Then everything heals, drains, and the checker prints each invariant with its count of
violations and `invariants: N checked, M violated`; the exit status is 1 on any violation.
Logs, the fault schedule and the operators' calls stay in DIR to replay and read
(the same seed gives the same schedule and the same traffic plan).
"""
import atexit, base64, hashlib, hmac, json, os, random, re, secrets, signal, socket, subprocess, sys, threading, time
import urllib.error, urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
SEED = int(os.environ.get("STORM_SEED", "1"))
SECONDS = float(os.environ.get("STORM_SECONDS", "120"))
COPIES = int(os.environ.get("STORM_COPIES", "3"))
RATE = os.environ.get("STORM_RATE", "8")
RAILD = os.environ.get("RAILD", os.path.join(ROOT, "bin", "raild"))
RAILSIM = os.environ.get("RAILSIM", os.path.join(ROOT, "bin", "railsim"))
PGBIN = os.environ.get("PGBIN", "/usr/lib/postgresql/15/bin")
DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "storm", str(SEED)))
LOGS = os.path.join(DIR, "logs")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")
T0 = time.time()


def say(msg):
    print("[%6.1f] %s" % (time.time() - T0, msg), flush=True)



def as_pg(args):
    if os.getuid() == 0:
        args = ["runuser", "-u", "postgres", "--"] + args
    return subprocess.run(args, capture_output=True, text=True, cwd="/")


def psql(query, check=True):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"], input=query,
                       capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("psql failed: %s\n%s" % (r.stderr, query[:400]))
    return [l.split("\t") for l in r.stdout.splitlines() if l != ""]


def admin(*args):
    r = subprocess.run([RAILD, "admin"] + list(args), capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("raild admin %s: %s" % (" ".join(args), r.stderr))
    return r.stdout.strip()


def secret_file(name, value):
    path = os.path.join(DIR, "keys", name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (value + "\n").encode())
    os.close(fd)
    return path


sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demolib import call, free_port   # call: (status, JSON); status 0 when no answer came


# ---------------------------------------------------------------- the cluster
class Cluster:
    def __init__(self):
        out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "start", os.path.join(DIR, "pg")],
                             capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError("cannot start PostgreSQL: " + out.stderr)
        os.environ.update(dict(re.findall(r"(PG\w+)='?([^'\s]+)'?", out.stdout)))
        root_file = os.path.join(DIR, "pg", "pgroot")
        root = open(root_file).read().strip() if os.path.exists(root_file) else os.path.join(DIR, "pg")
        self.data, self.log = os.path.join(root, "data"), os.path.join(root, "server.log")
        # A throwaway cluster acknowledges commits before their WAL is written
        # (synchronous_commit = off, scripts/pgtmp.sh). An immediate restart then forgets
        # transactions the dispatcher has already delivered, which no deployment allows;
        # the storm's restarts need the durability production has.
        subprocess.run(["psql", "-X", "-qAt", "-d", "postgres", "-c", "ALTER SYSTEM SET synchronous_commit = on",
                        "-c", "SELECT pg_reload_conf()"], capture_output=True, check=True)

    def restart(self, mode):
        r = as_pg([PGBIN + "/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "-l", self.log, "restart"])
        if r.returncode:
            raise RuntimeError("PostgreSQL did not restart: " + r.stderr + r.stdout)

    def stop(self):
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "stop", os.path.join(DIR, "pg")],
                       capture_output=True)


# ---------------------------------------------------------------- processes
class Proc:
    """A program we started, restartable; its log is appended across restarts."""

    def __init__(self, name, argv, env=None, ready=None):
        self.name, self.argv, self.env, self.ready = name, argv, env, ready
        self.log_path = os.path.join(LOGS, name + ".log")
        self.p = None
        self.start()

    def start(self):
        log = open(self.log_path, "a")
        self.p = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        log.close()
        if self.ready:
            end = time.time() + 30
            while time.time() < end and not self.ready():
                if self.p.poll() is not None:
                    break
                time.sleep(0.05)
            if not self.ready():
                raise RuntimeError("%s did not start; see %s" % (self.name, self.log_path))

    def kill9(self):
        if self.p and self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def stop(self):
        if self.p and self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def alive(self):
        return self.p is not None and self.p.poll() is None


def healthy(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=1) as r:
            return r.status == 200
    except OSError:
        return False


class Balancer(threading.Thread):
    """A TCP balancer on loopback: each client connection goes to the next copy that accepts
    it, so traffic keeps flowing while one copy is down (as behind a real load balancer)."""

    def __init__(self, ports):
        super().__init__(daemon=True)
        self.ports, self.i = ports, 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(512)
        self.port = self.sock.getsockname()[1]
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def serve(self, c):
        up = None
        for _ in range(len(self.ports) * 2):
            port = self.ports[self.i % len(self.ports)]
            self.i += 1
            try:
                up = socket.create_connection(("127.0.0.1", port), timeout=0.5)
                up.settimeout(None)
                break
            except OSError:
                up = None
        if up is None:
            c.close()
            return

        def pipe(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s in (a, b):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        t = threading.Thread(target=pipe, args=(up, c), daemon=True)
        t.start()
        pipe(c, up)
        t.join()
        c.close()
        up.close()


# ---------------------------------------------------------------- operators
class Operators(threading.Thread):
    """An ops pair racing for the same exceptions, support retrying failed deliveries,
    finance running reconciliation and acknowledging breaks — through the balancer. Every
    mutating call carries a unique note/reason and is written to calls.jsonl, so the checker
    can tie each answer to its audit rows."""

    def __init__(self, api, keys, rng, stop):
        super().__init__(daemon=True)
        self.api, self.keys, self.rng, self.stop_ev = api, keys, rng, stop
        self.n = 0
        self.calls = []
        self.lock = threading.Lock()
        self.log = open(os.path.join(DIR, "calls.jsonl"), "w")

    def mutate(self, role, method, path, body, kind, note_field, object_id=None):
        with self.lock:
            self.n += 1
            note = "storm s%d op%d %s" % (SEED, self.n, secrets.token_hex(3))
        body = dict(body)
        body[note_field] = note
        st, resp = call(self.api, self.keys[role], method, path, body)
        rec = dict(t=round(time.time() - T0, 2), role=role, method=method, path=path, kind=kind, note=note,
                   object_id=object_id, status=st, succeeded=resp.get("succeeded"),
                   error=(resp.get("error") or {}).get("code"))
        with self.lock:
            self.calls.append(rec)
            self.log.write(json.dumps(rec) + "\n")
            self.log.flush()
        return st, resp

    def open_exceptions(self, key):
        st, page = call(self.api, self.keys[key], "GET", "/v1/exceptions?state=open&limit=50")
        return page.get("data", []) if st == 200 else []

    def ops_round(self, who):
        from_catalogue = {t: r for t, r in RESOLUTIONS.items()}
        exc = self.open_exceptions(who)
        self.rng.shuffle(exc)
        for e in exc[:3]:
            res = from_catalogue.get(e["type"])
            if not res:
                continue
            path = "/v1/exceptions/%s/" % e["id"]
            choice = self.rng.random()
            if choice < 0.1:      # a bad request: refused, and nothing may change
                self.mutate(who, "POST", path + "resolve", {"version": e["version"], "resolution": "not_a_resolution"},
                            "exception.resolve", "note", e["id"])
            elif choice < 0.5:
                st, c = self.mutate(who, "POST", path + "claim", {"version": e["version"]}, "exception.claim", "note",
                                    e["id"])
                if st == 200:
                    self.mutate(who, "POST", path + "resolve", {"version": c["version"], "resolution": res[0]},
                                "exception.resolve", "note", e["id"])
            else:                 # straight to resolve, racing the colleague (409s expected)
                self.mutate(who, "POST", path + "resolve", {"version": e["version"], "resolution": res[0]},
                            "exception.resolve", "note", e["id"])
        by_type = {}
        for e in exc[3:]:
            by_type.setdefault(e["type"], []).append(e)
        for t, items in list(by_type.items())[:1]:
            if t in RESOLUTIONS:
                self.mutate(who, "POST", "/v1/exceptions/bulk",
                            {"action": "resolve", "resolution": RESOLUTIONS[t][0],
                             "items": [{"id": e["id"], "version": e["version"]} for e in items[:20]]},
                            "exception.resolve", "note")

    def support_round(self):
        st, page = call(self.api, self.keys["support"], "GET", "/v1/webhook-deliveries?status=failed&limit=50")
        failed = page.get("data", []) if st == 200 else []
        if not failed:
            return
        if self.rng.random() < 0.5:
            d = self.rng.choice(failed)
            self.mutate("support", "POST", "/v1/webhook-deliveries/%s/retry" % d["id"], {}, "webhook_delivery.retry",
                        "reason", d["id"])
        else:
            self.mutate("support", "POST", "/v1/webhook-deliveries/bulk-retry",
                        {"items": [{"id": d["id"]} for d in failed[:25]]}, "webhook_delivery.retry", "reason")
        if self.rng.random() < 0.1:   # a retry with an unknown field: refused whole
            self.mutate("support", "POST", "/v1/webhook-deliveries/%s/retry" % failed[0]["id"], {"force": True},
                        "webhook_delivery.retry", "reason", failed[0]["id"])

    def finance_round(self):
        if self.rng.random() < 0.3:
            call(self.api, self.keys["finance"], "POST", "/v1/recon/runs", {})
        st, page = call(self.api, self.keys["finance"], "GET", "/v1/recon/breaks?state=open&limit=50")
        brks = [b for b in (page.get("breaks") or page.get("data") or []) if b.get("state") == "open"] \
            if st == 200 else []
        if brks:
            self.mutate("finance", "POST", "/v1/recon/breaks/bulk-acknowledge",
                        {"items": [{"id": b["id"]} for b in brks[:10]]}, "recon.acknowledge", "note")

    def run(self):
        while not self.stop_ev.is_set():
            try:
                self.ops_round(self.rng.choice(["alice", "bob"]))
                self.support_round()
                self.finance_round()
            except Exception as e:   # an operator's client error is reported, not fatal
                say("operator error: %r" % e)
            self.stop_ev.wait(0.3)


RESOLUTIONS = {   # the first the catalogue allows per type (src/core/exc_catalog.c)
    "underpaid": ["accept_partial"], "overpaid": ["accept"], "late_payment": ["accept_late"],
    "unmatched_transfer": ["mark_internal_sweep"], "wrong_asset": ["write_off"], "duplicate_payment": ["accept"],
    "reorged": ["write_off"], "unclassified_internal": ["mark_internal_sweep"], "stuck_unconfirmed": ["write_off"],
}


# ---------------------------------------------------------------- faults
FAULTS = ["kill9", "pg_restart", "receiver_down", "receiver_hang", "cancel_storm"]
CHAIN = os.environ.get("STORM_CHAIN", "1") != "0"
if CHAIN:
    FAULTS.append("rpc_faults")


def schedule(rng, seconds):
    """Every kind at least once, then more drawn at random; times within the traffic window
    (the first 5 s and the last 3 s stay calm so the run starts and ends on traffic)."""
    kinds = FAULTS + [rng.choice(FAULTS) for _ in range(max(0, int(seconds / 12) - len(FAULTS)))]
    lo, hi = 5.0, max(6.0, seconds - 3.0)
    return sorted((round(rng.uniform(lo, hi), 1), k) for k in kinds)


def cancel_storm(seconds):
    """pg_cancel_backend on every active raild statement every 20 ms: each is answered
    57014 query_canceled, exactly what a statement timeout does."""
    n = int(seconds / 0.02)
    script = ("SELECT count(pg_cancel_backend(pid)) FROM pg_stat_activity WHERE usename = 'railtop_app'"
              " AND state = 'active' AND pid <> pg_backend_pid(); SELECT pg_sleep(0.02);\n") * n
    r = subprocess.run(["psql", "-X", "-q", "-At"], input=script, capture_output=True, text=True)
    return sum(int(x) for x in r.stdout.split() if x.isdigit())


class Faults(threading.Thread):
    def __init__(self, plan, rng, copies, receivers, cluster, chain):
        super().__init__(daemon=True)
        self.plan, self.rng, self.copies, self.receivers, self.cluster = plan, rng, copies, receivers, cluster
        self.chain = chain
        self.done = []
        self.error = None
        self.start()

    def run(self):
        try:
            for at, kind in self.plan:
                time.sleep(max(0, at - (time.time() - T0)))
                self.done.append((round(time.time() - T0, 1), kind, getattr(self, kind)()))
                say("fault %s: %s" % (kind, self.done[-1][2]))
        except Exception as e:
            self.error = e
            say("fault injection failed: %r" % e)

    def kill9(self):
        c = self.rng.choice(self.copies)
        c.kill9()
        down = round(self.rng.uniform(0.5, 3.0), 1)
        time.sleep(down)
        c.start()
        return "%s killed, restarted after %.1f s" % (c.name, down)

    def pg_restart(self):
        mode = self.rng.choice(["fast", "immediate"])
        t = time.time()
        self.cluster.restart(mode)
        return "restart -m %s (%.1f s)" % (mode, time.time() - t)

    def receiver_down(self):
        r = self.rng.choice(self.receivers)
        ms = self.rng.randint(3000, 20000)      # past the 15 s schedule: some deliveries fail
        r.control(down_ms=ms)
        return "receiver %d down for %d ms" % (r.port, ms)

    def receiver_hang(self):
        r = self.rng.choice(self.receivers)
        secs = round(self.rng.uniform(3, 8), 1)
        r.control(hang_ms=4000, hang_rate=0.7)
        time.sleep(secs)
        r.control(hang_ms=0, hang_rate=0)
        return "receiver %d hung 70%% of requests for 4 s each, during %.1f s" % (r.port, secs)

    def rpc_faults(self):
        """the node's provider misbehaves for a few seconds, one way drawn from the seed"""
        px = self.chain.proxy
        kind = self.rng.choice(["down", "429", "slow", "range"])
        secs = round(self.rng.uniform(3, 8), 1)
        if kind == "down":
            px.down = True
        elif kind == "429":
            px.every_429 = 2
        elif kind == "slow":
            px.slow_ms = 1500
        else:
            px.max_range = 1
        time.sleep(secs)
        px.down, px.every_429, px.slow_ms, px.max_range = False, 0, 0, None
        return "RPC %s for %.1f s" % ({"down": "unreachable", "429": "429 Retry-After on every 2nd call",
                                       "slow": "1.5 s per reply", "range": "-32005 above 1 block"}[kind], secs)

    def cancel_storm(self):
        secs = round(self.rng.uniform(2, 5), 1)
        n = cancel_storm(secs)
        return "%d statements cancelled during %.1f s" % (n, secs)


class Receiver:
    def __init__(self, name, secret):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d/hook" % self.port
        self.secret = secret
        self.events = os.path.join(DIR, name + ".events")
        sf = secret_file(name + ".whsec", secret)
        self.proc = Proc(name, [RAILSIM, "receiver", "--listen", "127.0.0.1:%d" % self.port, "--secret-file", sf,
                                "--log", self.events, "--fail-rate", "0.05"], ready=lambda: self.stats() is not None)

    def stats(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/_stats" % self.port, timeout=2) as r:
                return json.loads(r.read())
        except OSError:
            return None

    def control(self, **kw):
        """a receiver that is down (down_ms) is deaf on its control port too: wait for it"""
        end = time.time() + 30
        while True:
            req = urllib.request.Request("http://127.0.0.1:%d/_control" % self.port, data=json.dumps(kw).encode(),
                                         method="POST")
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    return json.loads(r.read())
            except OSError:
                if time.time() > end:
                    raise
                time.sleep(0.2)

    def accepted(self):
        if not os.path.exists(self.events):
            return []
        with open(self.events) as f:
            return [json.loads(l) for l in f if l.strip()]


# ---------------------------------------------------------------- the real chain
class Chain(threading.Thread):
    """anvil with the test USDT at the real USDT address, behind a fault proxy; the storm's
    merchant creates sandbox ethereum:usdt payments and a payer sends real token transfers
    to their deposit addresses (mostly exact, some short or over), a block now and then so
    the finalized tag moves. Every transfer sent is remembered for the checker."""

    def __init__(self, rng):
        super().__init__(daemon=True)
        sys.path.insert(0, os.path.join(ROOT, "tests", "chain"))
        import chainlib
        import rt                       # chainlib's test kit: its TAP plan is not ours
        atexit.unregister(rt.T._end)
        self.lib = chainlib
        code = chainlib.ensure_tools()
        self.node = chainlib.Anvil(logdir=LOGS)
        self.node.deploy(code)
        self.proxy = chainlib.FaultProxy(self.node.url)
        self.rng = rng
        self.sent = []          # (tx hash, to, units)
        self.errors = 0

    def configure(self, n_addr):
        admin("add-network", "--name", "anvil", "--env", "sandbox", "--kind", "evm", "--chain-id", "31337",
              "--block-time-ms", "1000")
        admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "anvil", "--contract",
              self.lib.USDT, "--confirmations", "3", "--finality", "tag")
        r = subprocess.run([RAILD, "admin", "set-rpc", "--network", "anvil", "--url-file", "-", "--from-block",
                            str(self.node.head() + 1)], input=self.proxy.url + "\n", capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("set-rpc: " + r.stderr)
        path = os.path.join(DIR, "addr-anvil.txt")
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo-addresses.py"), "anvil", str(n_addr),
                            "storm%d" % SEED], stdout=f, check=True)
        admin("add-addresses", "--network", "anvil", "--file", path)

    def start_paying(self, api, key, until):
        self.api, self.key, self.until = api, key, until
        self.start()

    def run(self):
        i = 0
        while time.time() < self.until:
            i += 1
            units = self.rng.randint(1, 50) * 10 ** 6
            st, p = call(self.api, self.key, "POST", "/v1/payments",
                         {"reference": "storm-eth-%d-%d" % (SEED, i), "amount": "%d" % (units // 10 ** 6),
                          "rail": "ethereum:usdt"})
            if st != 201:
                time.sleep(0.5)
                continue
            pay = self.rng.choice([units] * 8 + [units - 10 ** 6, units + 10 ** 6])
            # the transaction is remembered as soon as the node has it: waiting for its receipt
            # (as chainlib's pay() does) can time out on a loaded machine after the node took it,
            # and the storm's own driver must not be what loses a transfer (anvil mines it at once)
            data = self.lib.TRANSFER + self.lib.addr_word(p["deposit_address"]) + self.lib.word(pay)
            try:
                tx = self.lib.rpc_call(self.node.url, "eth_sendTransaction", [
                    {"from": self.node.payer, "to": self.lib.USDT, "data": data, "gas": hex(5_000_000)}], timeout=60)
            except Exception as e:           # the node itself is never faulted: count it
                self.errors += 1
                say("chain: payment %s not paid: %r" % (p["id"], e))
                continue
            self.sent.append((tx.lower(), p["deposit_address"].lower(), pay))
            try:
                self.node.mine(1)            # a block more, so the finalized tag moves
            except Exception as e:
                say("chain: mine after %s: %r" % (tx, e))
            time.sleep(self.rng.uniform(0.3, 0.9))

    def caught_up(self):
        head = self.node.head()
        cp = psql("SELECT coalesce(max(checkpoint), -1) FROM watcher_status WHERE network = 'anvil'")[0][0]
        return int(cp) >= head

    def stop(self):
        self.proxy.stop()
        self.node.stop()


# ---------------------------------------------------------------- invariants
def invariants(ops, receivers, endpoints, merchant_ids, recon_cmp, chain):
    """[(name, violations, detail)]"""
    out = []
    if chain:
        rows = psql("SELECT lower(tx_hash), lower(to_address), value::text, status FROM chain_transfers"
                    " WHERE network = 'anvil'")
        seen = {}
        for tx, to, v, status in rows:
            seen.setdefault(tx, []).append((to, int(v), status))
        missing = ["%s: %s" % (tx, seen.get(tx)) for tx, to, units in chain.sent if seen.get(tx) != [(to, units, "seen")]]
        extra = [tx for tx in seen if tx not in {t for t, _, _ in chain.sent}]
        say("chain: %d token transfers sent on anvil, %d ingested" % (len(chain.sent), len(rows)))
        out.append(("every token transfer sent on the real node was ingested once, with its value (none extra)",
                    len(missing) + len(extra) + chain.errors,
                    "missing or different %s; extra %s; payer errors %d" % (missing[:3], extra[:3], chain.errors)))
    mids = ",".join(str(m) for m in merchant_ids)

    def count(name, query, detail_query=None):
        n = int(psql(query)[0][0])
        detail = ""
        if n and detail_query:
            detail = "; ".join(" ".join(r) for r in psql(detail_query)[:5])
        out.append((name, n, detail))

    count("every ledger transaction balances (debits = credits, at least two postings)",
          "SELECT count(*) FROM (SELECT t.id FROM ledger_transactions t LEFT JOIN ledger_postings p ON p.txn_id = t.id"
          " GROUP BY t.id HAVING count(p.id) < 2 OR coalesce(sum(p.amount) FILTER (WHERE p.side = 'debit'), 0)"
          " <> coalesce(sum(p.amount) FILTER (WHERE p.side = 'credit'), 0)) x")
    count("the books balance: over all accounts of a rail and environment, debits equal credits",
          "SELECT count(*) FROM (SELECT rail, environment FROM ledger_accounts a JOIN ledger_postings p"
          " ON p.account_id = a.id GROUP BY rail, environment HAVING sum(CASE p.side WHEN 'debit' THEN p.amount"
          " ELSE -p.amount END) <> 0) x")
    count("a payment's received total equals the sum of its counted transfers",
          "SELECT count(*) FROM payments p WHERE p.received <> coalesce((SELECT sum(value) FROM chain_transfers t"
          " WHERE t.payment_id = p.id AND t.counted), 0)",
          "SELECT p.public_id, p.received, (SELECT sum(value) FROM chain_transfers t WHERE t.payment_id = p.id"
          " AND t.counted) FROM payments p WHERE p.received <> coalesce((SELECT sum(value) FROM chain_transfers t"
          " WHERE t.payment_id = p.id AND t.counted), 0)")
    count("no transfer counted twice (counted only while seen, towards one payment, posted once)",
          "SELECT (SELECT count(*) FROM chain_transfers WHERE counted AND (status <> 'seen' OR payment_id IS NULL))"
          " + (SELECT count(*) FROM (SELECT transfer_id FROM ledger_transactions WHERE transfer_id IS NOT NULL"
          "    AND kind IN ('attach') GROUP BY transfer_id HAVING count(*) > 1) x)")
    count("each finalized payment has exactly one finality posting; no other payment has one",
          "SELECT count(*) FROM payments p WHERE (p.state = 'finalized') <> ((SELECT count(*) FROM"
          " ledger_transactions t WHERE t.payment_id = p.id AND t.kind = 'finality') = 1) OR (SELECT count(*)"
          " FROM ledger_transactions t WHERE t.payment_id = p.id AND t.kind = 'finality') > 1",
          "SELECT p.public_id, p.state FROM payments p WHERE (p.state = 'finalized') <> ((SELECT count(*) FROM"
          " ledger_transactions t WHERE t.payment_id = p.id AND t.kind = 'finality') = 1)")
    # payment.created is sequence 0, each transition the next
    count("per-payment event sequences run 0..n with no gap or duplicate and end at the payment's sequence",
          "SELECT count(*) FROM payments p LEFT JOIN LATERAL (SELECT count(*) n, count(DISTINCT sequence) d,"
          " min(sequence) lo, max(sequence) hi FROM payment_events e WHERE e.payment_id = p.id) s ON true"
          " WHERE s.n = 0 OR s.n <> s.d OR s.lo <> 0 OR s.hi <> s.n - 1 OR p.sequence <> s.hi",
          "SELECT p.public_id, p.sequence, s.n, s.lo, s.hi FROM payments p LEFT JOIN LATERAL (SELECT count(*) n,"
          " min(sequence) lo, max(sequence) hi FROM payment_events e WHERE e.payment_id = p.id) s ON true"
          " WHERE s.n = 0 OR s.lo <> 0 OR s.hi <> s.n - 1 OR p.sequence <> s.hi")
    # the webhook identity, per (event, endpoint) of the storm's merchants
    pairs = ("FROM webhook_outbox o JOIN webhook_endpoints e ON e.merchant_id = o.merchant_id AND"
             " e.environment = o.environment AND e.status <> 'deleted' LEFT JOIN webhook_deliveries d"
             " ON d.outbox_id = o.id AND d.endpoint_id = e.id WHERE o.merchant_id IN (%s)" % mids)
    # subscribed: the endpoint takes the type, and the event is not a notice about that very
    # endpoint (delivery.exhausted and endpoint.disabled go to the merchant's *other* ones)
    sub = ("((cardinality(e.event_types) = 0 OR o.type = ANY (e.event_types))"
           " AND e.id IS DISTINCT FROM o.exclude_endpoint)")
    ident = psql("SELECT count(*), count(*) FILTER (WHERE d.status = 'succeeded'),"
                 " count(*) FILTER (WHERE d.status IN ('pending','in_flight')),"
                 " count(*) FILTER (WHERE d.status = 'failed'), count(*) FILTER (WHERE NOT %s AND d.id IS NULL),"
                 " count(*) FILTER (WHERE d.status = 'canceled') %s" % (sub, pairs))[0]
    total, delivered, retrying, failed, filtered, canceled = map(int, ident)
    say("webhooks: %d events x endpoints = %d delivered + %d retrying + %d failed + %d filtered (+%d canceled)"
        % (total, delivered, retrying, failed, filtered, canceled))
    out.append(("events x endpoints = delivered + retrying + failed + filtered",
                abs(total - (delivered + retrying + failed + filtered)),
                "%d != %d + %d + %d + %d" % (total, delivered, retrying, failed, filtered)))
    count("no delivery for an endpoint that does not subscribe to its event type",
          "SELECT count(*) %s AND NOT %s AND d.id IS NOT NULL" % (pairs, sub))
    count("every attempt a delivery started is recorded once it ended (one in flight is the delivery's own), none left open",
          "SELECT count(*) FROM webhook_deliveries d WHERE d.merchant_id IN (%s) AND (d.attempts <> (SELECT count(*)"
          " FROM webhook_attempts a WHERE a.delivery_id = d.id) + (d.status = 'in_flight')::int"
          " OR EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.finished_at IS NULL))" % mids,
          "SELECT d.id, d.status, d.attempts, (SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id),"
          " (SELECT count(*) FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.finished_at IS NULL)"
          " FROM webhook_deliveries d WHERE d.merchant_id IN (%s) AND (d.attempts <> (SELECT count(*)"
          " FROM webhook_attempts a WHERE a.delivery_id = d.id) + (d.status = 'in_flight')::int"
          " OR EXISTS (SELECT 1 FROM webhook_attempts a WHERE a.delivery_id = d.id AND a.finished_at IS NULL))" % mids)
    count("a retrying delivery has its next attempt scheduled; a failed one its schedule run out or a 410",
          "SELECT count(*) FROM webhook_deliveries d WHERE d.merchant_id IN (%s) AND ((d.status = 'pending' AND"
          " d.next_attempt_at IS NULL) OR (d.status = 'failed' AND d.attempts = 0))" % mids)

    # the receivers' side
    bad_sig = unknown = body_diff = missing = 0
    examples = []
    got = {}
    # as one JSON document: a payload is compared byte for byte, so no field splitting
    payload = dict(json.loads(psql("SELECT coalesce(jsonb_agg(jsonb_build_array(event_id, payload)), '[]')"
                                   " FROM webhook_outbox WHERE merchant_id IN (%s)" % mids)[0][0]))
    for rc in receivers:
        key = base64.b64decode(rc.secret.split("_", 1)[1])
        seen = set()
        for ev in rc.accepted():
            signed = ("%s.%s.%s" % (ev["webhook_id"], ev["timestamp"], ev["body"])).encode()
            want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
            sigs = [s.split(",", 1)[1] for s in ev["signature"].split() if s.startswith("v1,")]
            if not any(hmac.compare_digest(s, want) for s in sigs):
                bad_sig += 1
            if ev["webhook_id"] not in payload:
                unknown += 1
                examples.append("unknown %s at %d" % (ev["webhook_id"], rc.port))
            elif payload[ev["webhook_id"]] != ev["body"]:
                body_diff += 1
                examples.append("%s at %d: %r vs stored %r" % (ev["webhook_id"], rc.port, ev["body"][:300],
                                                               payload[ev["webhook_id"]][:300]))
            seen.add(ev["webhook_id"])
        got[rc.port] = seen
        st = rc.stats() or {}
        bad_sig += int(st.get("rejected", 0))
    for ep_id, rc in endpoints:
        for (eid,) in psql("SELECT d.event_id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                           " WHERE e.public_id = '%s' AND d.status = 'succeeded'" % ep_id):
            if eid not in got[rc.port]:
                missing += 1
    out.append(("the receivers never accepted a bad signature (and rejected none)", bad_sig, ""))
    out.append(("the receivers saw no delivery the database does not know, byte for byte",
                unknown + body_diff, "%d unknown ids, %d bodies differ: %s" % (unknown, body_diff,
                                                                                  "; ".join(examples[:3]))))
    out.append(("every delivery recorded succeeded was received by its endpoint", missing, ""))

    # operators: 2xx has its audit rows, anything else changed nothing
    no_audit = changed = 0
    audit = {}
    for note, oid, action in psql("SELECT reason, object_id, action FROM audit_log WHERE reason LIKE 'storm s%%'"):
        audit.setdefault(note, []).append((oid, action))
    notes = {r[0] for r in psql("SELECT note FROM exceptions WHERE note LIKE 'storm s%'")}
    detail = []
    for c in ops.calls:
        rows = audit.get(c["note"], [])
        if 200 <= c["status"] < 300:
            want = c["succeeded"] if c["succeeded"] is not None else 1
            if len(rows) != want or any(a != c["kind"] for _, a in rows):
                no_audit += 1
                detail.append("%s %s -> %d: %d audit rows, want %d" % (c["method"], c["path"], c["status"],
                                                                       len(rows), want))
        elif c["status"] != 0:
            if rows or c["note"] in notes:
                changed += 1
                detail.append("%s %s -> %d %s changed something" % (c["method"], c["path"], c["status"], c["error"]))
    out.append(("every 2xx operator call has its audit rows", no_audit, "; ".join(detail[:3])))
    out.append(("no 4xx/5xx operator call changed anything", changed, "; ".join(detail[-3:])))
    out.append(("a full reconciliation equals the incremental one", recon_cmp[0], recon_cmp[1]))
    return out


# what a run finds: open or resolved and every field. new → persisting is aging by run count
# (a break first seen in run N is persisting from run N+1 on, in either mode), not a finding
SNAP = ("SELECT public_id, class, state = 'resolved', merchant_id, environment, reference, transfer_id, planes, c_status,"
        " c_amount, p_state, p_payment, p_amount, f_transactions, f_amount, f_refunded FROM recon_breaks ORDER BY 1")


def recon_compare():
    def run(mode):
        r = subprocess.run([RAILD, "recon", "--" + mode], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("raild recon --%s: %s" % (mode, r.stderr))
        return r.stdout
    run("incremental")
    inc = psql(SNAP)
    out = run("full")
    full = psql(SNAP)
    m = re.search(r"(\d+) opened, (\d+) updated, (\d+) resolved", out)
    changes = sum(int(x) for x in m.groups()) if m else -1
    diff = sorted(set(map(tuple, inc)) ^ set(map(tuple, full)))
    return (len(diff) + (changes if changes > 0 else 0) + (1 if changes < 0 else 0),
            "full run after incremental: %s; %d rows differ %s" % (out.strip()[-120:], len(diff), diff[:2]))


# ---------------------------------------------------------------- the run
def drain(when):
    """wait until every event is fanned out and nothing is due or in flight (the storm's
    short retry schedule runs out within seconds)"""
    end, left = time.time() + 90, -1
    while time.time() < end:
        left = int(psql("SELECT (SELECT count(*) FROM webhook_outbox WHERE fanned_out_at IS NULL) +"
                        " (SELECT count(*) FROM webhook_deliveries WHERE status IN ('pending','in_flight'))")[0][0])
        if left == 0:
            break
        time.sleep(0.5)
    say("drained after %s (%d events or deliveries still open)" % (when, left))


def main():
    os.umask(0o077)
    if os.path.exists(DIR):
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "stop", os.path.join(DIR, "pg")],
                       capture_output=True)
        subprocess.run(["rm", "-rf", DIR])
    os.makedirs(LOGS)
    os.makedirs(os.path.join(DIR, "keys"))
    rng = random.Random(SEED)
    say("storm seed %d, %.0f s, %d raild copies, %s payments/s; logs in %s" % (SEED, SECONDS, COPIES, RATE, DIR))
    cluster = Cluster()
    # one sealing key for every process of the run (admin seals the RPC URL with it)
    os.environ["RAILD_SECRETS_KEY"] = base64.b64encode(os.urandom(32)).decode()
    procs, receivers = [], []
    chain = None
    ok = False
    try:
        subprocess.run([RAILD, "migrate"], check=True, capture_output=True)
        admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia",
              "--contract", "0xaa8e23fb1079ea71e0a56f48a2aa51851d8433d0")
        admin("set-rail", "--env", "sandbox", "--rail", "polygon:usdt", "--network", "polygon-amoy",
              "--contract", "0x1616d425cd540b256475cbfb604586c8598ec0fb")
        psql("UPDATE rails SET stuck_after = interval '15 seconds' WHERE environment = 'sandbox';"
             " UPDATE recon_settings SET value = '1 hour'")   # no break appears by the clock alone mid-check
        # railsim simulates these chains; with the chain on, ethereum:usdt is anvil's
        nets = ["tron-nile", "bsc-testnet", "polygon-amoy"] + ([] if CHAIN else ["sepolia"])
        n_addr = int(float(RATE) * SECONDS * 1.5) + 200
        if CHAIN:
            chain = Chain(random.Random(SEED * 31 + 3))
            chain.configure(int(SECONDS * 3) + 100)
        for net in nets:
            path = os.path.join(DIR, "addr-%s.txt" % net)
            with open(path, "w") as f:
                subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo-addresses.py"), net, str(n_addr),
                                "storm%d" % SEED], stdout=f, check=True)
            admin("add-addresses", "--network", net, "--file", path)
        hot = []
        for net in ("tron-nile", "bsc-testnet"):
            addr = lambda tag: subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo-addresses.py"), net,
                                               "1", tag], capture_output=True, text=True, check=True).stdout.strip()
            h, s = addr("storm-hot-%s" % net), addr("storm-sweep-%s" % net)
            admin("add-wallet", "--network", net, "--address", h, "--kind", "hot")
            admin("add-wallet", "--network", net, "--address", s, "--kind", "sweep")
            hot += ["--hot-wallet", "%s=%s" % (net, h)]
        m1 = admin("create-merchant", "--name", "Storm Acme")
        m2 = admin("create-merchant", "--name", "Storm Borealis", "--tolerance-bps", "50")
        for r in ("tron:usdt", "ethereum:usdt", "bsc:usdt", "polygon:usdt"):
            admin("enable-rail", "--merchant", m1, "--env", "sandbox", "--rail", r)
        for r in ("tron:usdt", "bsc:usdt"):
            admin("enable-rail", "--merchant", m2, "--env", "sandbox", "--rail", r)
        keys = {}
        kf = {}
        for name, mid in (("acme", m1), ("borealis", m2)):
            keys[name] = admin("create-key", "--role", "merchant", "--name", "storm-" + name, "--merchant", mid,
                               "--env", "sandbox")
            kf[name] = secret_file("merchant-" + name, keys[name])
        for net in nets:
            kf["w-" + net] = secret_file("watcher-" + net, admin("create-key", "--role", "watcher", "--name",
                                                                  "storm-w-" + net, "--network", net))
        for name, role in (("alice", "ops"), ("bob", "ops"), ("support", "support"), ("finance", "finance")):
            keys[name] = admin("create-key", "--role", role, "--name", "storm-" + name, "--env", "sandbox")

        env = dict(os.environ, PGUSER="railtop_app", RAILD_WEBHOOK_ALLOW_NETS="127.0.0.0/8",
                   RAILD_WATCH_POLL_MS="200", RAILD_WATCH_LEASE_S="4", RAILD_SANDBOX_MIN_EXPIRY_S="15",
                   RAILD_WEBHOOK_RETRY_SCHEDULE="1s,2s,4s,8s", RAILD_WEBHOOK_TIMEOUT_MS="2000",
                   RAILD_WEBHOOK_LEASE_S="6", RAILD_ROLLUP_INTERVAL_MS="2000")
        ports = [free_port() for _ in range(COPIES)]
        copies = [Proc("raild-%d" % i, [RAILD, "serve", "--listen", "127.0.0.1:%d" % p], env=env,
                       ready=(lambda p=p: healthy(p))) for i, p in enumerate(ports)]
        procs += copies
        lb = Balancer(ports)
        api = "http://127.0.0.1:%d" % lb.port

        endpoints = []
        for name, mid, types in (("acme", m1, None), ("acme", m1, ["payment.finalized", "payment.expired"]),
                                 ("borealis", m2, None)):
            rc = Receiver("receiver-%d" % len(receivers), "whsec_" + base64.b64encode(b"\0" * 32).decode())
            body = {"url": rc.url, "description": "storm receiver %d" % len(receivers)}
            if types:
                body["event_types"] = types
            st, ep = call(api, keys[name], "POST", "/v1/webhook-endpoints", body)
            if st != 201:
                raise RuntimeError("endpoint create: %d %r" % (st, ep))
            rc.secret = ep["secret"]
            secret_file("receiver-%d.whsec" % len(receivers), ep["secret"])   # re-read by the receiver
            receivers.append(rc)
            procs.append(rc.proc)
            endpoints.append((ep["id"], rc))
        time.sleep(1.1)     # the receivers re-read their secret files (mtime)

        plan = schedule(rng, SECONDS)
        with open(os.path.join(DIR, "faults.plan"), "w") as f:
            f.write("".join("%.1f %s\n" % p for p in plan))
        sim = Proc("railsim", [RAILSIM, "run", "--api", api,
                               "--merchant-key-file", kf["acme"] + "=tron:usdt,bsc:usdt,polygon:usdt" +
                               ("" if CHAIN else ",ethereum:usdt"),
                               "--merchant-key-file", kf["borealis"] + "=tron:usdt,bsc:usdt"]
                   + sum((["--watcher-key-file", kf["w-" + n]] for n in nets), []) + hot +
                   ["--seed", str(SEED), "--rate", RATE, "--speed", "25", "--short-expiry", "20",
                    "--duration", str(int(SECONDS)), "--concurrency", "16",
                    "--mix", "late=5,stuck=3,internal=2,duplicate=4,wrong-token=3,reorg=4,reorg-confirmed=4,"
                             "unknown-address=3,underpay=6,overpay=5,cancel=3,abandon=3,split=5,sweep=10"])
        procs.append(sim)
        stop_ops = threading.Event()
        ops = Operators(api, keys, random.Random(SEED * 7 + 1), stop_ops)
        ops.start()
        faults = Faults(plan, random.Random(SEED * 13 + 5), copies, receivers, cluster, chain)
        if chain:
            chain.start_paying(api, keys["acme"], T0 + SECONDS)

        sim.p.wait(timeout=SECONDS + 120)
        faults.join(timeout=60)
        stop_ops.set()
        ops.join(timeout=30)
        say("traffic over; healing: every copy up, receivers well, faults stopped")
        for c in copies:
            if not c.alive():
                c.start()
        for rc in receivers:
            rc.control(hang_ms=0, hang_rate=0, down_ms=0, fail_rate=0)
        if chain:
            chain.join(timeout=30)
            end = time.time() + 60
            while time.time() < end and not chain.caught_up():
                time.sleep(0.5)
            say("chain: the watcher %s the node's head" % ("reached" if chain.caught_up() else "did NOT reach"))
        drain("traffic over")
        for c in copies:
            c.stop()
        # a copy's sweeper may still open an exception while it stops: one dispatcher alone
        # (no sweeper, no API) fans that out too and takes over what the copies left in flight
        final = Proc("raild-dispatch", [RAILD, "dispatch"], env=env)
        procs.append(final)
        drain("copies stopped")
        final.stop()
        copies.append(final)
        crashed = [c.name for c in copies if c.p.returncode not in (0, None)]
        sanitizer = [c.name for c in copies if SANITIZER_RE.search(open(c.log_path, errors="replace").read())]
        sim_out = open(sim.log_path, errors="replace").read()
        recon_cmp = recon_compare()
        results = invariants(ops, receivers, endpoints, [m1, m2], recon_cmp, chain)
        results.append(("every raild copy stopped cleanly, no sanitizer report", len(crashed) + len(sanitizer),
                        "exit codes/sanitizer: %s %s" % (crashed, sanitizer)))
        results.append(("every planned fault was injected", len(plan) - len(faults.done) + (1 if faults.error else 0),
                        repr(faults.error) if faults.error else ""))

        say("faults injected (%d):" % len(faults.done))
        for at, kind, what in faults.done:
            print("  %6.1f s  %-14s %s" % (at, kind, what))
        st = {}
        for (k, v) in psql("SELECT state, count(*) FROM payments GROUP BY 1 ORDER BY 2 DESC"):
            st[k] = int(v)
        ex = psql("SELECT count(*), count(*) FILTER (WHERE state = 'resolved') FROM exceptions")[0]
        calls = {}
        for c in ops.calls:
            calls[c["status"]] = calls.get(c["status"], 0) + 1
        print("  payments %s; exceptions %s (%s resolved); operator calls by status %s" % (
            json.dumps(st), ex[0], ex[1], json.dumps(dict(sorted(calls.items())))))
        tail = [l for l in sim_out.splitlines() if l.strip()][-2:]
        print("  railsim: %s" % " | ".join(tail))
        bad = 0
        for name, n, detail in results:
            print("%-4s %-95s %d%s" % ("ok" if n == 0 else "FAIL", name, n, ("  (" + detail + ")") if n and detail else ""))
            bad += n != 0
        print("invariants: %d checked, %d violated" % (len(results), bad))
        ok = bad == 0
        if not ok:
            print("replay: STORM_SEED=%d STORM_SECONDS=%g make storm   (logs: %s)" % (SEED, SECONDS, DIR))
    finally:
        for p in procs:
            p.stop()
        if chain:
            chain.stop()
        if os.environ.get("STORM_KEEP"):     # leave the database up to look into
            print("database kept: PGHOST=%s PGPORT=%s" % (os.environ["PGHOST"], os.environ["PGPORT"]))
        else:
            cluster.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
