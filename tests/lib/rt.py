"""rt — the integration-test kit: TAP output, a real raild on a free port, the admin
CLI, and psql against the throwaway cluster that `make check` started (PG* variables).

A test file is an executable Python script that prints TAP; prove runs it.
Every test creates its own merchants and keys (unique names), so files are independent.
"""
import atexit, hashlib, json, os, random, re, secrets, signal, socket, subprocess, sys, time
import urllib.request, urllib.error

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RAILD = os.environ.get("RAILD", os.path.join(ROOT, "bin", "raild"))
RAILSIM = os.environ.get("RAILSIM", os.path.join(ROOT, "bin", "railsim"))
RAILTOP = os.environ.get("RAILTOP", os.path.join(ROOT, "bin", "railtop"))
LOGDIR = os.environ.get("RT_LOGDIR", os.path.join(ROOT, "build", "test-logs"))
os.makedirs(LOGDIR, exist_ok=True)
# every receiver in these tests listens on loopback, which raild refuses for webhooks unless
# allowed (SSRF guard); tests of the guard itself take this away for their own processes
os.environ.setdefault("RAILD_WEBHOOK_ALLOW_NETS", "127.0.0.0/8")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")


# ---------------------------------------------------------------- TAP
class TAP:
    def __init__(self):
        self.n = 0
        self.failed = 0
        atexit.register(self._end)

    def ok(self, cond, name, diag=None):
        self.n += 1
        if not cond:
            self.failed += 1
        print(("ok" if cond else "not ok") + " %d - %s" % (self.n, name.replace("#", "\\#")))
        if not cond and diag is not None:
            for line in str(diag).splitlines()[:40]:
                print("# " + line)
        sys.stdout.flush()
        return cond

    def is_(self, got, want, name, extra=None):
        return self.ok(got == want, name, "got:  %r\nwant: %r" % (got, want) +
                       ("" if extra is None else "\n%s" % (extra,)))

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line)
        sys.stdout.flush()

    def _end(self):
        print("1..%d" % self.n)
        sys.stdout.flush()


T = TAP()
ok, is_, diag = T.ok, T.is_, T.diag


# ---------------------------------------------------------------- helpers
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def uniq(prefix="t"):
    return "%s-%s" % (prefix, secrets.token_hex(5))


def wait_for(fn, timeout=10.0, interval=0.05):
    end = time.time() + timeout
    while time.time() < end:
        v = fn()
        if v:
            return v
        time.sleep(interval)
    return fn()


def sql(query, **params):
    """Runs SQL through psql; :'name' placeholders are quoted by psql itself."""
    args = ["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"]
    for k, v in params.items():
        args += ["-v", "%s=%s" % (k, v)]
    r = subprocess.run(args, input=query, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("psql failed: %s\n%s" % (r.stderr, query))
    return [line.split("\t") for line in r.stdout.splitlines() if line != ""]


def sql1(query, **params):
    rows = sql(query, **params)
    return rows[0][0] if rows else None


def row_counts(tables=None):
    tables = tables or [r[0] for r in sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    q = " UNION ALL ".join("SELECT '%s', count(*) FROM %s" % (t, t) for t in tables)
    return {r[0]: int(r[1]) for r in sql(q)}


def admin(*args, check=False):
    r = subprocess.run([RAILD, "admin"] + [str(a) for a in args], capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("raild admin %s failed: %s" % (" ".join(map(str, args)), r.stderr))
    return r.returncode, r.stdout, r.stderr


# ---------------------------------------------------------------- addresses
B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def b58encode(b):
    n = int.from_bytes(b, "big")
    out = ""
    while n:
        n, r = divmod(n, 58)
        out = B58[r] + out
    pad = len(b) - len(b.lstrip(b"\0"))
    return "1" * pad + out


def tron_address(seed=None):
    body = b"\x41" + (hashlib.sha256(str(seed).encode()).digest()[:20] if seed is not None else secrets.token_bytes(20))
    chk = hashlib.sha256(hashlib.sha256(body).digest()).digest()[:4]
    return b58encode(body + chk)


def evm_address(seed=None):
    raw = hashlib.sha256(str(seed).encode()).digest()[:20] if seed is not None else secrets.token_bytes(20)
    return "0x" + raw.hex()


def address(network, seed=None):
    return tron_address(seed) if network.startswith("tron") else evm_address(seed)


def tx_hash():
    return "0x" + secrets.token_hex(32)


# The sandbox rails, as migration 0040 and scripts/check.sh (the test tokens of Sepolia and
# Amoy, which have no well-known USDT) configure them; most tests use the sandbox.
RAILS = {
    "tron:usdt": dict(network="tron-nile", contract="TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf", decimals=6, confirm=19,
                      final=20),
    "ethereum:usdt": dict(network="sepolia", contract="0xaa8e23fb1079ea71e0a56f48a2aa51851d8433d0", decimals=6,
                          confirm=12, final=64),
    "bsc:usdt": dict(network="bsc-testnet", contract="0x337610d27c682e347c9cd60bd4b3b107c9d34ddd", decimals=18,
                     confirm=15, final=30),
    "polygon:usdt": dict(network="polygon-amoy", contract="0x1616d425cd540b256475cbfb604586c8598ec0fb", decimals=6,
                         confirm=64, final=256),
}
# production: the catalogue contracts of DESIGN §2
PROD_RAILS = {
    "tron:usdt": dict(network="tron", contract="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", decimals=6, confirm=19, final=20),
    "ethereum:usdt": dict(network="ethereum", contract="0xdac17f958d2ee523a2206206994597c13d831ec7", decimals=6,
                          confirm=12, final=64),
    "bsc:usdt": dict(network="bsc", contract="0x55d398326f99059ff775485246999027b3197955", decimals=18,
                     confirm=15, final=30),
    "polygon:usdt": dict(network="polygon", contract="0xc2132d05d31c914a87c6611c10748aeb04b58e8f", decimals=6,
                         confirm=64, final=256),
}
SANDBOX_NETWORKS = sorted(r["network"] for r in RAILS.values())
PROD_NETWORKS = sorted(r["network"] for r in PROD_RAILS.values())


def rails_of(env):
    return PROD_RAILS if env == "production" else RAILS


class WatcherKeys(str):
    """A watcher key for each network of an environment (a watcher key posts for one
    network only). As a string it is the first network's key; Raild.call picks the key of
    the network named in the request body."""

    def __new__(cls, keys, default):
        obj = str.__new__(cls, keys[default])
        obj.keys = keys
        return obj

    def for_network(self, network):
        return self.keys.get(network, str(self))


# ---------------------------------------------------------------- raild
def terminate(proc, timeout=15):
    """stops a process this test started, by its PID: SIGTERM, then SIGKILL after `timeout` s"""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Raild:
    """A real `raild serve` on a free loopback port, stopped (and its log checked for
    sanitizer reports) when the test exits."""

    def __init__(self, *extra, name="raild"):
        self.port = free_port()
        self.base = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(LOGDIR, "%s-%s-%d.log" % (
            os.path.basename(sys.argv[0]), name, self.port))
        self.log = open(self.log_path, "w")
        # raild runs as the least-privileged role migrate creates (DML only, append-only
        # history), so every API test also proves those grants are enough
        env = dict(os.environ, PGUSER=os.environ.get("RT_RAILD_USER", "railtop_app"))
        self.proc = subprocess.Popen([RAILD, "serve", "--listen", "127.0.0.1:%d" % self.port] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)
        atexit.register(self.stop)
        if not wait_for(self._healthy, timeout=15):
            raise RuntimeError("raild did not become healthy; see %s" % self.log_path)

    def _healthy(self):
        try:
            return self.call("GET", "/healthz")[0] == 200
        except OSError:
            return False

    def call(self, method, path, key=None, body=None, headers=None, raw=None, timeout=20):
        """Returns (status, parsed JSON or text, headers dict)."""
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
        if isinstance(key, WatcherKeys):
            net = None
            try:
                net = (body if body is not None else json.loads(data or b"{}")).get("network")
            except (ValueError, AttributeError):
                pass
            key = key.for_network(net)
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if key:
            req.add_header("Authorization", "Bearer " + key)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, text, hdrs = resp.status, resp.read().decode("utf-8", "replace"), dict(resp.headers)
        except urllib.error.HTTPError as e:
            status, text, hdrs = e.code, e.read().decode("utf-8", "replace"), dict(e.headers)
        try:
            return status, json.loads(text), hdrs
        except ValueError:
            return status, text, hdrs

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        terminate(self.proc)
        self.log.close()
        text = open(self.log_path, errors="replace").read()
        if SANITIZER_RE.search(text):
            ok(False, "%s: no sanitizer reports in the daemon log" % os.path.basename(self.log_path),
               "\n".join(l for l in text.splitlines() if "Sanitizer" in l or "runtime error" in l or "#" in l[:6])[:4000])
        atexit.unregister(self.stop)


# ---------------------------------------------------------------- fixtures
class Merchant:
    """A merchant with a merchant key, rails enabled and deposit addresses in the pool."""

    def __init__(self, rails=("tron:usdt",), env="sandbox", addresses=5, tolerance_bps=None):
        self.name = uniq("merchant")
        args = ["create-merchant", "--name", self.name]
        if tolerance_bps is not None:
            args += ["--tolerance-bps", tolerance_bps]
        self.id = admin(*args, check=True)[1].strip()
        self.env = env
        for rail in rails:
            admin("enable-rail", "--merchant", self.id, "--env", env, "--rail", rail, check=True)
        nets = sorted({rails_of(env)[r]["network"] for r in rails})
        for net in nets if addresses else ():
            add_addresses(net, addresses)
        self.key = admin("create-key", "--role", "merchant", "--name", self.name + "-key", "--merchant", self.id,
                         "--env", env, check=True)[1].strip()


def add_addresses(network, n):
    """n new addresses in the network's deposit pool; returns them."""
    addrs = [address(network) for _ in range(n)]
    path = os.path.join(LOGDIR, uniq("addrs") + ".txt")
    with open(path, "w") as f:
        f.write("".join(a + "\n" for a in addrs))
    admin("add-addresses", "--network", network, "--file", path, check=True)
    os.unlink(path)
    return addrs


def underpaid_tron_payment(srv, merchant, watcher_key, reference, amount="100", paid_units="60000000", past_depth=0):
    """A tron payment paid short in a block, with heads moved to its confirmation depth (plus
    past_depth): the real way to an underpaid exception. Returns the payment as created."""
    tron = rails_of(merchant.env)["tron:usdt"]
    st, p, _ = srv.call("POST", "/v1/payments", key=merchant.key,
                        body={"reference": reference, "amount": amount, "rail": "tron:usdt"})
    assert st == 201, (st, p)
    h = int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=tron["network"])
            or 1000) + 1
    st, b, _ = srv.call("POST", "/v1/chain/transfers", key=watcher_key, body={"network": tron["network"], "transfers": [
        {"tx_hash": tx_hash()[2:], "log_index": 0, "block_number": h, "block_hash": "cd" * 32,
         "contract": tron["contract"], "from": tron_address(), "to": p["deposit_address"], "value": paid_units}]})
    assert st == 200, (st, b)
    st, b, _ = srv.call("POST", "/v1/chain/heads", key=watcher_key,
                        body={"network": tron["network"], "head": h + tron["confirm"] - 1 + past_depth})
    assert st == 200, (st, b)
    return p


def key(role, env="sandbox", merchant=None, network=None):
    """An API key. A watcher key posts for one network: with network= that one, else a
    WatcherKeys holding one for every network of env."""
    if role == "watcher":
        if network:
            return admin("create-key", "--role", "watcher", "--name", uniq("watcher"), "--network", network,
                         check=True)[1].strip()
        nets = PROD_NETWORKS if env == "production" else SANDBOX_NETWORKS
        keys = {n: key("watcher", network=n) for n in nets}
        return WatcherKeys(keys, rails_of(env)["tron:usdt"]["network"])
    args = ["create-key", "--role", role, "--name", uniq(role), "--env", env]
    if merchant:
        args += ["--merchant", merchant]
    return admin(*args, check=True)[1].strip()
