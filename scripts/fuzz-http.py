#!/usr/bin/env python3
"""fuzz-http — request bodies of every endpoint family, mutated, against a live raild
(the ASan+UBSan build) in its own PostgreSQL, for FUZZ_SECONDS (default 60).

Each request starts from a valid body of its family (payments, refunds, orders, exceptions
and their bulk form, webhook endpoints, deliveries, reconciliation, payouts and payout
addresses, chain ingest) and is mutated by a seeded generator: fields dropped, added,
retyped (null, bool, float, 2^64, arrays, objects), strings emptied, lengthened, given
control characters, NUL escapes, lone surrogates or invalid UTF-8, keys duplicated, bodies
truncated, bit-flipped, nested a thousand deep. Properties, per request:
  - no 5xx answer, and the daemon is alive;
  - a 4xx answer is JSON with error.code and changed no row (row counts of every table
    an endpoint writes are compared before and after);
and at the end, no sanitizer report in the daemon's log. Prints one summary line (for
scripts/fuzz.sh); a finding is written to build/fuzz/crashes/http/ and exits 1.
"""
import base64, json, os, random, re, secrets, signal, socket, subprocess, sys, time, urllib.error, urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
RAILD = os.environ.get("RAILD", os.path.join(ROOT, "build", "san-bin", "raild"))
SECS = float(os.environ.get("FUZZ_SECONDS", "60"))
SEED = int(os.environ.get("FUZZ_SEED", "1"))
DIR = os.path.join(ROOT, "build", "fuzz", "http")
CRASHES = os.path.join(ROOT, "build", "fuzz", "crashes", "http")
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Undefined)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer")
TABLES = ["payments", "payment_events", "exceptions", "audit_log", "orders", "webhook_endpoints", "webhook_deliveries",
          "chain_transfers", "chain_heads", "payouts", "payout_addresses", "payout_approvals", "recon_breaks",
          "idempotency_keys", "ledger_transactions", "webhook_outbox"]


def psql(q):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1"], input=q, capture_output=True,
                       text=True)
    if r.returncode:
        raise RuntimeError(r.stderr)
    return [l.split("\t") for l in r.stdout.splitlines() if l]


class Counter:
    """row counts of TABLES through one long-lived psql (a fresh psql per request would
    make the database check the slowest part of the loop)"""
    Q = " UNION ALL ".join("SELECT '%s', count(*) FROM %s" % (t, t) for t in TABLES) + ";\n\\echo __end__\n"

    def __init__(self):
        self.p = subprocess.Popen(["psql", "-X", "-q", "-At"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  text=True, bufsize=1)

    def __call__(self):
        self.p.stdin.write(self.Q)
        self.p.stdin.flush()
        out = []
        for line in self.p.stdout:
            if line.strip() == "__end__":
                return out
            out.append(line.strip())
        raise RuntimeError("psql went away")


def admin(*a):
    r = subprocess.run([RAILD, "admin"] + list(a), capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("admin %s: %s" % (a, r.stderr))
    return r.stdout.strip()


def send(port, key, method, path, raw):
    c = socket.create_connection(("127.0.0.1", port), timeout=20)
    head = ("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\n"
            "Content-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, key, len(raw))).encode()
    c.sendall(head + raw)
    data = b""
    while True:
        d = c.recv(65536)
        if not d:
            break
        data += d
    c.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    if b"chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return status, body


WEIRD = ["", " ", "a" * 5000, "\u0007bell", "tab\tok", "nul\u0000in", "\ud800", "é" * 300, "\u202eevil", "😀" * 50,
         "0", "-1", "1e400", "0x10", "../../etc/passwd", "' OR 1=1 --", "%00", "\u0085nel", "null", "true"]
VALUES = [None, True, False, 0, -1, 1, 2 ** 31, 2 ** 63, 2 ** 64, -2 ** 63, 1.5, 1e308, [], {}, [1, "a"], {"a": {}},
          "", "x"]


def mutate_json(rng, body):
    b = json.loads(json.dumps(body))
    for _ in range(rng.randint(1, 3)):
        keys = list(b.keys()) if isinstance(b, dict) else []
        op = rng.random()
        if keys and op < 0.2:
            del b[rng.choice(keys)]
        elif op < 0.3:
            b[rng.choice(["x", "force", "id", "amount", "__proto__", "a" * 300])] = rng.choice(VALUES)
        elif keys and op < 0.55:
            b[rng.choice(keys)] = rng.choice(VALUES + WEIRD)
        elif keys and op < 0.8:
            k = rng.choice(keys)
            b[k] = rng.choice(WEIRD) if not isinstance(b[k], str) else rng.choice(
                [b[k] + rng.choice(WEIRD), b[k][:rng.randint(0, len(b[k]))], rng.choice(WEIRD)])
        elif keys:
            k = rng.choice(keys)
            if isinstance(b[k], list) and b[k]:
                b[k] = b[k] * rng.choice([0, 2, 600]) if rng.random() < 0.5 else [mutate_json(rng, b[k][0])
                                                                                   if isinstance(b[k][0], dict)
                                                                                   else rng.choice(VALUES)]
            elif isinstance(b[k], dict):
                b[k] = mutate_json(rng, b[k])
    return b


def mutate_raw(rng, raw):
    op = rng.random()
    if op < 0.15:
        return raw[:rng.randint(0, len(raw))]
    if op < 0.3 and raw:
        i = rng.randrange(len(raw))
        return raw[:i] + bytes([raw[i] ^ (1 << rng.randrange(8))]) + raw[i + 1:]
    if op < 0.4:
        i = rng.randint(0, len(raw))
        return raw[:i] + rng.choice([b"\xff\xfe", b"\xc0\x80", b"\xed\xa0\x80", b"\x00", b"}", b",", b"\"", b"\\"]) + raw[i:]
    if op < 0.5 and raw.startswith(b"{") and len(raw) > 2:      # a duplicated key
        first = raw[1:].split(b",")[0].rstrip(b"}")
        return b"{" + first + b"," + raw[1:]
    if op < 0.55:
        return b"[" * 1000 + b"]" * 1000
    if op < 0.6:
        return b"{\"a\":" * 1000 + b"1" + b"}" * 1000
    if op < 0.65:
        return rng.choice([b"", b"null", b"[]", b"\"s\"", b"12", b"{", b"not json", b"{}" * 10])
    return raw


def main():
    os.makedirs(CRASHES, exist_ok=True)
    subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "stop", os.path.join(DIR, "pg")],
                   capture_output=True)
    subprocess.run(["rm", "-rf", DIR])
    os.makedirs(DIR)
    out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "start", os.path.join(DIR, "pg")],
                         capture_output=True, text=True, check=True).stdout
    os.environ.update(dict(re.findall(r"(PG\w+)='?([^'\s]+)'?", out)))
    proc = None
    try:
        subprocess.run([RAILD, "migrate"], check=True, capture_output=True)
        mid = admin("create-merchant", "--name", "Fuzz Merchant")
        admin("enable-rail", "--merchant", mid, "--env", "sandbox", "--rail", "tron:usdt")
        path = os.path.join(DIR, "addr.txt")
        with open(path, "w") as f:
            subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "demo-addresses.py"), "tron-nile", "3000",
                            "fuzz"], stdout=f, check=True)
        admin("add-addresses", "--network", "tron-nile", "--file", path)
        keys = {"merchant": admin("create-key", "--role", "merchant", "--name", "fz-m", "--merchant", mid, "--env",
                                  "sandbox"),
                "watcher": admin("create-key", "--role", "watcher", "--name", "fz-w", "--network", "tron-nile")}
        for role in ("ops", "support", "finance", "treasury"):
            keys[role] = admin("create-key", "--role", role, "--name", "fz-" + role, "--env", "sandbox")
        port = socket.socket()
        port.bind(("127.0.0.1", 0))
        p = port.getsockname()[1]
        port.close()
        log_path = os.path.join(DIR, "raild.log")
        log = open(log_path, "w")
        env = dict(os.environ, PGUSER="railtop_app", RAILD_WEBHOOK_ALLOW_NETS="127.0.0.0/8",
                   RAILD_SECRETS_KEY=base64.b64encode(os.urandom(32)).decode(), ASAN_OPTIONS="detect_leaks=1:exitcode=86",
                   LSAN_OPTIONS="suppressions=%s/tests/lsan.supp" % ROOT)
        # no background workers: only the requests themselves may change a row
        proc = subprocess.Popen([RAILD, "serve", "--listen", "127.0.0.1:%d" % p, "--no-workers"], stdout=log,
                                stderr=subprocess.STDOUT, env=env)
        for _ in range(300):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/healthz" % p, timeout=1)
                break
            except OSError:
                time.sleep(0.05)

        def ok_call(role, method, path, body):
            st, b = send(p, keys[role], method, path, json.dumps(body).encode())
            return st, json.loads(b or b"{}")
        st, pay = ok_call("merchant", "POST", "/v1/payments", {"reference": "fz-1", "amount": "10", "rail": "tron:usdt"})
        pid = pay.get("id", "pay_x")
        st, ep = ok_call("merchant", "POST", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/hook"})
        epid = ep.get("id", "we_x")
        T = "0x" + "ab" * 32
        seeds = [
            ("merchant", "POST", "/v1/payments", {"reference": "fz-r", "amount": "12.5", "rail": "tron:usdt",
                                                 "expires_in": 900, "metadata": {"order": "A-1"}}),
            ("merchant", "POST", "/v1/payments/%s/cancel" % pid, {"reason": "customer left"}),
            ("merchant", "POST", "/v1/refunds", {"payment": pid, "amount": "1", "to": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
                                                "reason": "returned goods"}),
            ("merchant", "PUT", "/v1/orders/ord-fz-1", {"amount": "10", "status": "paid",
                                                        "updated_at": "2026-12-01T10:00:00Z"}),
            ("ops", "POST", "/v1/exceptions/exc_x/claim", {"version": 1}),
            ("ops", "POST", "/v1/exceptions/exc_x/resolve", {"version": 1, "resolution": "write_off", "note": "n"}),
            ("ops", "POST", "/v1/exceptions/bulk", {"action": "resolve", "resolution": "write_off", "note": "n",
                                                    "items": [{"id": "exc_x", "version": 1}]}),
            ("merchant", "POST", "/v1/webhook-endpoints", {"url": "http://127.0.0.1:9/h", "description": "d",
                                                          "event_types": ["payment.finalized"]}),
            ("merchant", "PATCH", "/v1/webhook-endpoints/%s" % epid, {"description": "e", "event_types": []}),
            ("support", "POST", "/v1/webhook-endpoints/%s/disable" % epid, {"reason": "merchant asked"}),
            ("support", "POST", "/v1/webhook-endpoints/%s/recover" % epid, {"since": "2026-12-01T00:00:00Z",
                                                                           "until": "2026-12-01T01:00:00Z"}),
            ("support", "POST", "/v1/webhook-deliveries/bulk-retry", {"reason": "r", "items": [{"id": "1"}]}),
            ("finance", "POST", "/v1/recon/breaks/bulk-acknowledge", {"note": "n", "items": [{"id": "brk_x"}]}),
            ("finance", "POST", "/v1/recon/breaks/brk_x/match", {"note": "n", "payment": pid}),
            ("finance", "POST", "/v1/recon/runs", {"mode": "incremental"}),
            ("finance", "POST", "/v1/payouts", {"kind": "settlement", "merchant": mid, "rail": "tron:usdt", "amount": "5",
                                               "to": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf", "reason": "weekly"}),
            ("finance", "POST", "/v1/merchants/%s/payout-addresses" % mid, {"rail": "tron:usdt", "label": "main",
                                                                           "address": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"}),
            ("treasury", "POST", "/v1/payouts/po_x/approve", {"note": "ok"}),
            ("watcher", "POST", "/v1/chain/transfers", {"network": "tron-nile", "transfers": [
                {"tx_hash": T[2:], "log_index": 0, "block_number": 100, "block_hash": "cd" * 32,
                 "contract": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf", "from": "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",
                 "to": pay.get("deposit_address", "T"), "value": "10000000"}]}),
            ("watcher", "POST", "/v1/chain/heads", {"network": "tron-nile", "head": 120, "finalized": 100}),
        ]
        rng = random.Random(SEED)
        end = time.time() + SECS
        n = 0
        by_status = {}
        families = set()
        finding = None
        counts = Counter()
        before = counts()
        while time.time() < end and finding is None:
            role, method, path, body = rng.choice(seeds)
            raw = json.dumps(mutate_json(rng, body) if rng.random() < 0.7 else body, ensure_ascii=rng.random() < 0.5)
            raw = raw.encode("utf-8", "surrogatepass")
            if rng.random() < 0.35:
                raw = mutate_raw(rng, raw)
            try:
                st, resp = send(p, keys[role], method, path, raw)
            except OSError as e:
                st, resp = 0, str(e).encode()
            n += 1
            by_status[st] = by_status.get(st, 0) + 1
            families.add(path.split("/")[2])
            why = None
            if proc.poll() is not None:
                why = "raild died (exit %s)" % proc.returncode
            elif st == 0 or st >= 500:
                why = "answered %d" % st
            elif st >= 400:
                try:
                    code = json.loads(resp)["error"]["code"]
                    if not code:
                        why = "4xx without an error code"
                except (ValueError, KeyError, TypeError):
                    why = "4xx that is not a JSON error: %r" % resp[:200]
                if why is None:
                    now = counts()
                    if now != before:
                        why = "a %d changed rows: %s" % (st, [(a, b) for a, b in zip(before, now) if a != b])
            if st < 400 or why:
                before = counts()
            if why:
                finding = why
                name = os.path.join(CRASHES, "finding-%d" % n)
                with open(name, "wb") as f:
                    f.write(("%s %s (%s)\n" % (method, path, role)).encode() + raw)
                finding += " — request in " + name
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        log.close()
        text = open(log_path, errors="replace").read()
        if finding is None and SANITIZER_RE.search(text):
            finding = "sanitizer report in " + log_path
        if finding is None and proc.returncode not in (0,):
            finding = "raild exited %s" % proc.returncode
        statuses = " ".join("%s:%d" % (k, v) for k, v in sorted(by_status.items()))
        print("%-12s %12d reqs   %d families (%s)  %s" % ("http", n, len(families), statuses,
                                                         "no findings" if finding is None else "FINDING: " + finding))
        return 0 if finding is None else 1
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        subprocess.run(["bash", os.path.join(ROOT, "scripts", "pgtmp.sh"), "stop", os.path.join(DIR, "pg")],
                       capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
