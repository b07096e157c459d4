"""chainlib — a real EVM node for the chain-watcher tests: anvil from the npm registry, test
tokens compiled with the solc npm package and put at the real USDT address, real
transactions from anvil's unlocked accounts, forced reorgs, a JSON-RPC fault proxy, and a
database of the test's own (the watcher's networks and rails are global state).

Everything listens on loopback; processes are stopped by the PID this module started."""
import atexit, http.server, json, os, shutil, signal, socketserver, subprocess, sys, threading, time, urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import rt
from rt import ROOT, LOGDIR, free_port, ok, wait_for, diag, uniq

NPM_DIR = os.path.join(ROOT, "build", "npm")
ANVIL = os.path.join(NPM_DIR, "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil")
SOLC = os.path.join(NPM_DIR, "node_modules", "solc")
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"        # the real USDT address (DESIGN §2)
LOOKALIKE = "0x5555555555555555555555555555555555555555"   # a look-alike "USDT"
NFT = "0x7777777777777777777777777777777777777777"
TRANSFER = "0xa9059cbb"   # transfer(address,uint256)
MINT = "0x40c10f19"       # mint(address,uint256)
SPRAY = "0xeecc2afe"      # spray(address[],uint256)
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"


def ensure_tools():
    """anvil and solc from the npm registry into build/npm (the build tree), once."""
    if not (os.path.exists(ANVIL) and os.path.isdir(SOLC)):
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", NPM_DIR,
                            "@foundry-rs/anvil-linux-amd64", "solc@0.8.26"], capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError("npm install anvil/solc failed: " + r.stdout + r.stderr)
    out = os.path.join(ROOT, "build", "chain", "tokens.json")
    src = os.path.join(ROOT, "tests", "chain", "TestTokens.sol")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(os.path.dirname(out), exist_ok=True)
        r = subprocess.run(["node", os.path.join(ROOT, "tests", "chain", "build_tokens.js")], capture_output=True,
                           text=True, env=dict(os.environ, SOLC_MODULE=SOLC))
        if r.returncode:
            raise RuntimeError("solc failed: " + r.stderr)
        with open(out, "w") as f:
            f.write(r.stdout)
    return json.load(open(out))


def word(x):
    return "%064x" % x


def addr_word(a):
    return "0" * 24 + a.lower()[2:]


class RPCError(Exception):
    pass


def rpc_call(url, method, params=None, timeout=30):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        rep = json.loads(r.read())
    if "error" in rep:
        raise RPCError("%s: %s" % (method, rep["error"]))
    return rep["result"]


class Anvil:
    """A real anvil on a free loopback port. --slots-in-an-epoch 1 moves `finalized` (head - 2)."""

    def __init__(self, chain_id=31337, name="anvil", block_time=None, logdir=None):
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(logdir or LOGDIR, "%s-%s-%d.log" % (os.path.basename(sys.argv[0]), name, self.port)),
                        "w")
        mining = ["--block-time", str(block_time)] if block_time else []
        # anvil moves old blocks' states to disk, by default under ~/.foundry/anvil/tmp, and
        # leaves them there when it stops: a 20,000-block bench chain writes about 8 GB, and
        # the runs' leftovers (71 GB) filled the disk. They go to a directory of this node's, removed when it stops (a
        # killed test's stays in the log directory, which the next run starts by removing).
        self.cache = os.path.join(logdir or LOGDIR, "anvil-cache-%d" % self.port)
        self.proc = subprocess.Popen([ANVIL, "--host", "127.0.0.1", "--port", str(self.port), "--chain-id", str(chain_id),
                                      "--slots-in-an-epoch", "1", "--accounts", "4", "--silent",
                                      "--cache-path", self.cache] + mining,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        if not wait_for(self._up, timeout=20):
            raise RuntimeError("anvil did not start")
        self.accounts = self.rpc("eth_accounts")
        self.payer = self.accounts[0]

    def _up(self):
        try:
            return self.rpc("eth_chainId") is not None
        except OSError:
            return False

    def rpc(self, method, *params):
        return rpc_call(self.url, method, list(params))

    def head(self):
        return int(self.rpc("eth_blockNumber"), 16)

    def finalized(self):
        return int(self.rpc("eth_getBlockByNumber", "finalized", False)["number"], 16)

    def mine(self, n=1):
        self.rpc("anvil_mine", hex(n))

    def deploy(self, code):
        for a in (USDT, LOOKALIKE):
            self.rpc("anvil_setCode", a, code["TestUSDT"])
        self.rpc("anvil_setCode", NFT, code["TestNFT"])
        for token in (USDT, LOOKALIKE):
            for acct in self.accounts:
                self.send(token, MINT + addr_word(acct) + word(10 ** 30))

    def send(self, to, data, frm=None):
        """A real transaction from an unlocked account; anvil mines it at once. Its hash."""
        tx = self.rpc("eth_sendTransaction", {"from": frm or self.payer, "to": to, "data": data, "gas": hex(5_000_000)})
        rcpt = wait_for(lambda: self.rpc("eth_getTransactionReceipt", tx), timeout=10)
        if not rcpt or rcpt["status"] != "0x1":
            raise RuntimeError("transaction failed: %r" % rcpt)
        return tx

    def pay(self, to, units, token=USDT, frm=None):
        return self.send(token, TRANSFER + addr_word(to) + word(units), frm)

    def receipt_block(self, tx):
        return int(self.rpc("eth_getTransactionReceipt", tx)["blockNumber"], 16)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.cache, ignore_errors=True)
        self.log.close()
        atexit.unregister(self.stop)


class FaultProxy:
    """A JSON-RPC proxy in front of a node, on loopback, that misbehaves on request:
      down        every request fails at the connection (the node is unreachable)
      max_range   eth_getLogs over more blocks than this answers -32005 (a provider's limit)
      every_429   every Nth request answers HTTP 429 with Retry-After: 1
      slow_ms     every reply waits this long
      garble      {method: reply-text}: that method's replies replaced by this body
    It counts requests per method and remembers the largest eth_getLogs range asked."""

    def __init__(self, upstream, path="/rpc"):
        self.upstream = upstream
        self.down = False
        self.max_range = None
        self.every_429 = 0
        self.slow_ms = 0
        self.garble = {}
        self.calls = {}
        self.ranges = []
        self.n = 0
        self.lock = threading.Lock()
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if proxy.down:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                req = json.loads(body)
                m = req.get("method")
                with proxy.lock:
                    proxy.n += 1
                    n = proxy.n
                    proxy.calls[m] = proxy.calls.get(m, 0) + 1
                if proxy.slow_ms:
                    time.sleep(proxy.slow_ms / 1000)
                if proxy.every_429 and n % proxy.every_429 == 0:
                    return self.reply(429, b'{"error":"too many requests"}', {"Retry-After": "1"})
                if m == "eth_getLogs":
                    f = req["params"][0]
                    span = int(f["toBlock"], 16) - int(f["fromBlock"], 16) + 1
                    with proxy.lock:
                        proxy.ranges.append(span)
                    if proxy.max_range and span > proxy.max_range:
                        err = {"jsonrpc": "2.0", "id": req["id"],
                               "error": {"code": -32005, "message": "query exceeds max block range %d" % proxy.max_range}}
                        return self.reply(200, json.dumps(err).encode())
                if m in proxy.garble:
                    g = proxy.garble[m]
                    return self.reply(200, (g(req) if callable(g) else g).encode())
                up = urllib.request.Request(proxy.upstream, data=body, headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(up, timeout=30) as r:
                    self.reply(200, r.read())

            def reply(self, status, data, headers=None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass   # a client that gave up (a timeout, a killed raild) is part of the test

        self.port = free_port()
        self.url = "http://127.0.0.1:%d%s" % (self.port, path)
        self.server = S(("127.0.0.1", self.port), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def own_database():
    """A fresh database for this test file (networks and rails are global), migrated; the
    PG* environment of every later rt call points at it."""
    name = "chain_" + uniq("t").replace("-", "_")
    rt.sql("CREATE DATABASE %s" % name)
    os.environ["PGDATABASE"] = name
    r = subprocess.run([rt.RAILD, "migrate"], capture_output=True, text=True, env=dict(os.environ, PGUSER="postgres"))
    if r.returncode:
        raise RuntimeError("migrate failed: " + r.stderr)
    return name


def anvil_network(name="anvil", chain_id=31337, env="sandbox", kind="evm", block_ms=1000):
    rt.admin("add-network", "--name", name, "--env", env, "--kind", kind, "--chain-id", chain_id,
             "--block-time-ms", block_ms, check=True)


def set_rpc(network, *urls, from_block=None):
    extra = ["--from-block", str(from_block)] if from_block is not None else []
    r = subprocess.run([rt.RAILD, "admin", "set-rpc", "--network", network, "--url-file", "-"] + extra,
                       input="".join(u + "\n" for u in urls), capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("set-rpc failed: " + r.stderr)
    return r


def watcher_state(network):
    rows = rt.sql("SELECT state, coalesce(reason, ''), coalesce(checkpoint, -1), coalesce(range_size, 0),"
                  " reorgs, rpc_errors::text, coalesce(last_error, '') FROM watcher_status WHERE network = :'n'",
                  n=network)
    if not rows:
        return None
    s, reason, cp, rng, reorgs, errs, last = rows[0]
    return dict(state=s, reason=reason, checkpoint=int(cp), range=int(rng), reorgs=int(reorgs), errors=json.loads(errs),
                last_error=last)


def wait_checkpoint(network, block, timeout=20):
    return wait_for(lambda: (watcher_state(network) or {}).get("checkpoint", -1) >= block, timeout=timeout)


def setup_anvil_rail(node, confirmations=3, finality="tag"):
    """The anvil network (sandbox, chain 31337) and the sandbox ethereum:usdt rail on it."""
    anvil_network("anvil", 31337)
    rt.admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "anvil", "--contract", USDT,
             "--confirmations", confirmations, "--finality", finality, check=True)
    rt.RAILS["ethereum:usdt"] = dict(network="anvil", contract=USDT, decimals=6, confirm=confirmations, final=64)


def payment_state(pid):
    return rt.sql1("SELECT state FROM payments WHERE public_id = :'p'", p=pid)
