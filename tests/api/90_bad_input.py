#!/usr/bin/env python3
"""Bad input, table-driven, over every endpoint raild has: each bad request gets the
right 4xx and a stable error code, the database is unchanged (row counts of every table
before and after), and raild keeps serving. Also: references with non-ASCII and SQL
metacharacters are VALID and come back byte-exact."""
import json, os, re, subprocess, sys, urllib.parse
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *



def quiet_flags():
    """No background workers, so the row counts around each request change only
    because of that request."""
    return ["--no-workers"]


class Counts:
    """row_counts() through one long-lived psql: the same numbers, without a process
    start per bad request (there are a few hundred)."""

    def __init__(self):
        tables = [r[0] for r in sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
        self.q = (" UNION ALL ".join("SELECT '%s', count(*) FROM %s" % (t, t) for t in tables) +
                  ";\n\\echo __end__\n")
        self.p = subprocess.Popen(["psql", "-X", "-q", "-At", "-F", "\t"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)

    def __call__(self):
        self.p.stdin.write(self.q)
        self.p.stdin.flush()
        out = {}
        for line in iter(self.p.stdout.readline, ""):
            if line.strip() == "__end__":
                return out
            t, n = line.rstrip("\n").split("\t")
            out[t] = int(n)
        raise RuntimeError("psql ended")


row_counts = Counts()
srv = Raild(*quiet_flags())
m = Merchant(rails=("tron:usdt", "bsc:usdt"), addresses=14)
watcher, ops, viewer = key("watcher"), key("ops"), key("admin")
R = RAILS["tron:usdt"]
BIG = b'{"reference":"' + b"x" * (64 * 1024) + b'"}'
BIG_INGEST = b'{"network":"' + b"x" * (1024 * 1024) + b'"}'   # chain transfers take up to 1 MiB
idem_n = [0]


def idem():
    idem_n[0] += 1
    return {"Idempotency-Key": "bad-%s-%d" % (m.id, idem_n[0])}


def pay_body(**over):
    b = {"reference": "ref-" + uniq(), "amount": "10.00", "rail": "tron:usdt"}
    for k, v in over.items():
        if v is DROP:
            b.pop(k, None)
        else:
            b[k] = v
    return b


DROP = object()
state = {"before": row_counts()}


def expect(label, method, path, status, code, key=None, body=None, raw=None, headers=None):
    st, resp, _ = srv.call(method, path, key=key, body=body, raw=raw, headers=headers)
    got = resp.get("error", {}).get("code") if isinstance(resp, dict) else None
    msg = resp.get("error", {}).get("message") if isinstance(resp, dict) else None
    ok(st == status and got == code and bool(msg), "%s -> %d %s" % (label, status, code), "got %s %r" % (st, resp))
    after = row_counts()
    diff = {t: (state["before"].get(t), after.get(t)) for t in after if state["before"].get(t) != after.get(t)}
    ok(not diff, "%s: database unchanged" % label, diff)
    state["before"] = after


def expect_alive(section):
    ok(srv.alive() and srv.call("GET", "/healthz")[0] == 200, "raild still serving after %s" % section)


# ------------------------------------------------------------------ payments: create
P = "/v1/payments"
for label, raw in [("empty body", b""), ("truncated JSON", b'{"reference":'), ("not JSON", b"reference=x"),
                   ("array", b"[]"), ("string", b'"x"'), ("number", b"42"), ("null", b"null"), ("true", b"true"),
                   ("duplicate keys", b'{"reference":"a","reference":"b","amount":"1","rail":"tron:usdt"}'),
                   ("invalid UTF-8", b'{"reference":"\xff\xfe","amount":"1","rail":"tron:usdt"}'),
                   # the parser's complaint quoted these bytes and the error could not be encoded: a 500
                   # (found by tests/fuzz/fuzz_json_body)
                   ("invalid UTF-8 the parser's message quotes",
                    b'{"!ot%":"\\f\\\xdd\x91\x99\xd1\x99\x99\xa3\x94ff\\nfff"}'),
                   ("trailing garbage", b'{"reference":"a","amount":"1","rail":"tron:usdt"} x')]:
    expect("create: " + label, "POST", P, 400, "invalid_json", key=m.key, raw=raw, headers=idem())
expect("create: body over 64 KiB", "POST", P, 413, "body_too_large", key=m.key, raw=BIG, headers=idem())
expect("create: NUL in reference", "POST", P, 400, "invalid_json", key=m.key, body=pay_body(reference="a\u0000b"),
       headers=idem())
expect("create: unknown field", "POST", P, 400, "unknown_field", key=m.key, body=pay_body(colour="red"), headers=idem())
expect("create: missing reference", "POST", P, 400, "invalid_request", key=m.key, body=pay_body(reference=DROP), headers=idem())
expect("create: missing rail", "POST", P, 400, "invalid_request", key=m.key, body=pay_body(rail=DROP), headers=idem())
expect("create: missing amount", "POST", P, 422, "invalid_amount", key=m.key, body=pay_body(amount=DROP), headers=idem())
for label, ref in [("number reference", 123), ("empty reference", ""), ("201-character reference", "r" * 201),
                   ("control character in reference", "a\u0001b"), ("null reference", None),
                   ("object reference", {"a": 1})]:
    expect("create: " + label, "POST", P, 400, "invalid_request", key=m.key, body=pay_body(reference=ref), headers=idem())
for amt in ["-1", "0", "0.000000", "1e6", "1E6", "1.0000001", "8" * 80, "NaN", "Infinity", "", " 1", "1 ", "1,5",
            "0x10", "+1", "1.", ".5", "1..2", "\u0661\u0662", "99999999999999999999999999999999999999999"]:
    expect("create: amount %r" % amt, "POST", P, 422, "invalid_amount", key=m.key, body=pay_body(amount=amt), headers=idem())
for amt in [1, 1.5, 0, -1, True, None, ["1"], {"v": "1"}]:
    expect("create: amount as %s %r" % (type(amt).__name__, amt), "POST", P, 422, "invalid_amount", key=m.key,
           body=pay_body(amount=amt), headers=idem())
expect("create: 19 decimals on an 18-decimal rail", "POST", P, 422, "invalid_amount", key=m.key,
       body=pay_body(rail="bsc:usdt", amount="1.0000000000000000001"), headers=idem())
expect("create: unknown rail", "POST", P, 422, "unknown_rail", key=m.key, body=pay_body(rail="tron:usdc"), headers=idem())
expect("create: rail by ticker", "POST", P, 422, "unknown_rail", key=m.key, body=pay_body(rail="USDT"), headers=idem())
expect("create: rail in upper case", "POST", P, 422, "unknown_rail", key=m.key, body=pay_body(rail="TRON:USDT"), headers=idem())
expect("create: rail not enabled", "POST", P, 422, "rail_not_enabled", key=m.key, body=pay_body(rail="polygon:usdt"),
       headers=idem())
expect("create: rail as number", "POST", P, 400, "invalid_request", key=m.key, body=pay_body(rail=5), headers=idem())
for exp in ["3600", 59, 604801, 1.5, -1, True]:
    expect("create: expires_in %r" % (exp,), "POST", P, 400, "invalid_request", key=m.key,
           body=pay_body(expires_in=exp), headers=idem())
for meta in ["x", [], 5]:
    expect("create: metadata %r" % (meta,), "POST", P, 400, "invalid_request", key=m.key, body=pay_body(metadata=meta),
           headers=idem())
expect("create: metadata over 4 KiB", "POST", P, 400, "invalid_request", key=m.key,
       body=pay_body(metadata={"k": "v" * 5000}), headers=idem())
expect("create: Idempotency-Key with a space", "POST", P, 400, "invalid_request", key=m.key, body=pay_body(),
       headers={"Idempotency-Key": "a b"})
expect("create: Idempotency-Key of 201 characters", "POST", P, 400, "invalid_request", key=m.key, body=pay_body(),
       headers={"Idempotency-Key": "k" * 201})
expect_alive("payment creation")

# ------------------------------------------------------------------ payments: valid odd references
REFS = ["Ünïcödé-€-日本語-🚀", "'; DROP TABLE payments; --", "Robert'); DELETE FROM payments WHERE ('1'='1",
        "%s%n%x%d", 'quote " backslash \\ slash /', "<script>alert(1)</script>", "$1 $2 ::text", "NULL",
        "tab-less\u00a0nbsp", "r" * 200]
created = []
for ref in REFS:
    before = row_counts()
    st, p, _ = srv.call("POST", P, key=m.key, body=pay_body(reference=ref, amount="1.5"), headers=idem())
    ok(st == 201 and p.get("reference") == ref, "reference %r is valid and echoed byte-exact" % ref[:40], p)
    if st != 201:
        continue
    created.append(p)
    after = row_counts()
    ok(after["payments"] == before["payments"] + 1, "reference %r: exactly one payment stored" % ref[:40])
    st, g, _ = srv.call("GET", P + "/" + p["id"], key=m.key)
    ok(st == 200 and g["reference"] == ref, "reference %r: GET returns it byte-exact" % ref[:40])
    is_(sql1("SELECT reference FROM payments WHERE public_id = :'p'", p=p["id"]), ref,
        "reference %r: stored byte-exact" % ref[:40])
    st, l, _ = srv.call("GET", P + "?reference=" + urllib.parse.quote(ref, safe=""), key=m.key)
    ok(st == 200 and [x["id"] for x in l["data"]] == [p["id"]], "reference %r: list filter finds exactly it" % ref[:40], l)
state["before"] = row_counts()

# ------------------------------------------------------------------ payments: list, get, cancel
for q in ["limit=0", "limit=201", "limit=abc", "limit=-1", "limit=1.5", "state=bogus", "state=EXPIRED",
          "created_after=yesterday", "created_before=2026-02-30T00:00:00Z", "cursor=garbage", "cursor=pay_nope"]:
    expect("list payments ?" + q, "GET", P + "?" + q, 400, "invalid_request", key=m.key)
for q in ["stat=confirmed", "merchant=1", "reference=a&Reference=b"]:   # a typo must not widen the list
    expect("list payments ?" + q, "GET", P + "?" + q, 400, "unknown_parameter", key=m.key)
expect("list payments ?limit=5&limit=6", "GET", P + "?limit=5&limit=6", 400, "invalid_request", key=m.key)
for pid in ["pay_doesnotexist", urllib.parse.quote("'; DROP TABLE payments; --", safe=""), "1", "x" * 150]:
    expect("get payment %s" % pid[:30], "GET", P + "/" + pid, 404, "not_found", key=m.key)
    expect("cancel payment %s" % pid[:30], "POST", P + "/" + pid + "/cancel", 404, "not_found", key=m.key)
if created:
    st, _, _ = srv.call("POST", P + "/" + created[0]["id"] + "/cancel", key=m.key)
    is_(st, 200, "cancel a fresh payment")
    state["before"] = row_counts()
    expect("cancel an already canceled payment", "POST", P + "/" + created[0]["id"] + "/cancel", 409, "invalid_state",
           key=m.key)
expect_alive("payment reads and cancels")

# ------------------------------------------------------------------ chain ingest
T = "/v1/chain/transfers"
H = "/v1/chain/heads"
head0 = int(sql1("SELECT coalesce(max(head), 0) FROM chain_heads WHERE network = 'tron-nile'") or 0)


def xfer(**over):
    t = {"tx_hash": tx_hash(), "log_index": 0, "block_number": head0 + 5, "block_hash": tx_hash(),
         "contract": R["contract"], "from": tron_address(), "to": tron_address(), "value": "1000000", "removed": False}
    for k, v in over.items():
        if v is DROP:
            t.pop(k, None)
        else:
            t[k] = v
    return {"network": "tron-nile", "transfers": [t]}


for label, raw in [("empty body", b""), ("truncated", b'{"network":"tron-nile","transfers":['), ("array", b"[]"),
                   ("number", b"1")]:
    expect("transfers: " + label, "POST", T, 400, "invalid_json", key=watcher, raw=raw)
    expect("heads: " + label, "POST", H, 400, "invalid_json", key=watcher, raw=raw)
expect("transfers: body over 1 MiB", "POST", T, 413, "body_too_large", key=watcher, raw=BIG_INGEST)
expect("transfers: 64 KiB of junk (under the 1 MiB cap) is parsed and refused", "POST", T, 400, "unknown_field",
       key=watcher, raw=BIG)
expect("heads: body over 64 KiB", "POST", H, 413, "body_too_large", key=watcher, raw=BIG)
expect("transfers: unknown top-level field", "POST", T, 400, "unknown_field", key=watcher,
       body=dict(xfer(), extra=1))
expect("transfers: unknown transfer field", "POST", T, 422, "invalid_transfer", key=watcher, body=xfer(symbol="USDT"))
expect("transfers: unknown network", "POST", T, 422, "unknown_network", key=watcher, body=dict(xfer(), network="solana"))
expect("transfers: network missing", "POST", T, 400, "invalid_request", key=watcher, body={"transfers": []})
expect("transfers: transfers not an array", "POST", T, 400, "invalid_request", key=watcher,
       body={"network": "tron-nile", "transfers": {}})
expect("transfers: a transfer that is not an object", "POST", T, 422, "invalid_transfer", key=watcher,
       body={"network": "tron-nile", "transfers": ["x"]})
for field in ["tx_hash", "log_index", "contract", "from", "to", "value"]:
    expect("transfers: missing %s" % field, "POST", T, 422, "invalid_transfer", key=watcher, body=xfer(**{field: DROP}))
for label, over in [("log_index as string", {"log_index": "0"}), ("negative log_index", {"log_index": -1}),
                    ("block_number as string", {"block_number": "5"}), ("negative block_number", {"block_number": -5}),
                    ("removed as string", {"removed": "false"}), ("tx_hash as number", {"tx_hash": 5}),
                    ("empty tx_hash", {"tx_hash": ""})]:
    expect("transfers: " + label, "POST", T, 422, "invalid_transfer", key=watcher, body=xfer(**over))
for v in ["-1", "1e6", "1.5", "", "NaN", " 1", "0x10", "9" * 80]:
    expect("transfers: value %r" % v[:20], "POST", T, 422, "invalid_transfer", key=watcher, body=xfer(value=v))
for v in [1000000, 1.5, None]:
    expect("transfers: value as %r" % (v,), "POST", T, 422, "invalid_transfer", key=watcher, body=xfer(value=v))
for label, over in [("invalid to address", {"to": "TnotAnAddress"}), ("invalid from address", {"from": "0x1234"}),
                    ("EVM address on tron", {"to": evm_address()}), ("bad checksum", {"to": tron_address()[:-2] + "11"})]:
    expect("transfers: " + label, "POST", T, 422, "invalid_transfer", key=watcher, body=xfer(**over))
for hb in [{"network": "tron-nile"}, {"head": 5}, {"network": "tron-nile", "head": "5"}, {"network": "tron-nile", "head": -1},
           {"network": "tron-nile", "head": 1.5}, {"network": "tron-nile", "head": head0 + 10, "finalized": "1"}]:
    expect("heads: %s" % json.dumps(hb), "POST", H, 400, "invalid_request", key=watcher, body=hb)
expect("heads: unknown network", "POST", H, 422, "unknown_network", key=watcher, body={"network": "btc", "head": 5})
expect("heads: unknown field", "POST", H, 400, "unknown_field", key=watcher, body={"network": "tron-nile", "head": 5, "x": 1})
expect("heads: finalized above head", "POST", H, 400, "invalid_request", key=watcher,
       body={"network": "tron-nile", "head": head0 + 10, "finalized": head0 + 11})
expect_alive("chain ingest")

# ------------------------------------------------------------------ exceptions: queries
E = "/v1/exceptions"
for q in ["type=bogus", "type=underpaid,bogus", "type=", "type=,", "state=,,", "state=closed", "severity=0", "severity=5", "severity=x",
          "merchant_id=abc", "merchant_id=0", "limit=0", "limit=201", "limit=ten", "cursor=garbage", "cursor=1.2",
          "cursor=5.1.1", "cursor=1.x.3", "payment_id=", "type=underpaid&type=overpaid", "environment=staging", "assignee="]:
    expect("list exceptions ?" + q, "GET", E + "?" + q, 400, "invalid_request", key=ops)
expect("list exceptions with an unknown filter", "GET", E + "?colour=red", 400, "unknown_parameter", key=ops)
for eid in ["exc_doesnotexist", urllib.parse.quote("' OR 1=1 --", safe=""), "1"]:
    expect("get exception %s" % eid, "GET", E + "/" + eid, 404, "not_found", key=ops)
    expect("claim exception %s" % eid, "POST", E + "/" + eid + "/claim", 404, "not_found", key=ops, body={"version": 1})

# ------------------------------------------------------------------ exceptions: action bodies
# one real exception, produced the real way: a transfer of USDT to a pool address nobody was given
addr = tron_address()
p_ = os.path.join(LOGDIR, uniq("unmatched") + ".txt")
open(p_, "w").write(addr + "\n")
admin("add-addresses", "--network", "tron-nile", "--file", p_, check=True)
os.unlink(p_)
st, _, _ = srv.call("POST", T, key=watcher, body=xfer(to=addr, value="25000000"))
ok(st in (200, 202), "an unmatched transfer is ingested")
exc = wait_for(lambda: (srv.call("GET", E + "?type=unmatched_transfer&limit=200", key=ops)[1] or {}).get("data") and
               [e for e in srv.call("GET", E + "?type=unmatched_transfer&limit=200", key=ops)[1]["data"]
                if (e.get("transfer") or {}).get("to") == addr], timeout=5)
ok(bool(exc), "it opened an unmatched_transfer exception")
state["before"] = row_counts()
if exc:
    x = exc[0]
    A = E + "/" + x["id"]
    v = x["version"]
    for act in ("claim", "resolve", "reopen", "dismiss"):
        for label, raw in [("empty body", b""), ("malformed", b"{version:1}"), ("array", b"[1]"), ("string", b'"v"')]:
            expect("%s: %s" % (act, label), "POST", A + "/" + act, 400, "invalid_json", key=ops, raw=raw)
        expect("%s: unknown field" % act, "POST", A + "/" + act, 400, "unknown_field", key=ops,
               body={"version": v, "note": "n", "force": True})
        expect("%s: body over 64 KiB" % act, "POST", A + "/" + act, 413, "body_too_large", key=ops, raw=BIG)
        for ver in [None, "1", 0, -1, 1.5, True]:
            body = {"note": "n", "resolution": "refund"} if act == "resolve" else {"note": "n"}
            if ver is not None:
                body["version"] = ver
            expect("%s: version %r" % (act, ver), "POST", A + "/" + act, 400, "invalid_request", key=ops, body=body)
    R_ = A + "/resolve"
    expect("resolve: missing resolution", "POST", R_, 400, "invalid_request", key=ops, body={"version": v, "note": "n"})
    expect("resolve: resolution as number", "POST", R_, 400, "invalid_request", key=ops,
           body={"version": v, "note": "n", "resolution": 1})
    expect("resolve: note missing", "POST", R_, 422, "note_required", key=ops, body={"version": v, "resolution": "refund"})
    for note in ["", "   ", "\n\t"]:
        expect("resolve: blank note %r" % note, "POST", R_, 422, "note_required", key=ops,
               body={"version": v, "resolution": "refund", "note": note})
    expect("resolve: note as number", "POST", R_, 400, "invalid_request", key=ops,
           body={"version": v, "resolution": "refund", "note": 5})
    expect("resolve: note of 2001 characters", "POST", R_, 422, "note_too_long", key=ops,
           body={"version": v, "resolution": "refund", "note": "é" * 2001})
    for res in ["bogus", "accept_partial", "accept_late", "auto_closed", "REFUND", ""]:
        expect("resolve: resolution %r on unmatched_transfer" % res, "POST", R_, 422, "resolution_not_allowed", key=ops,
               body={"version": v, "resolution": res, "note": "n"})
    expect("resolve: attach without payment_id", "POST", R_, 422, "payment_id_required", key=ops,
           body={"version": v, "resolution": "attach_to_payment", "note": "n"})
    expect("resolve: payment_id with refund", "POST", R_, 400, "invalid_request", key=ops,
           body={"version": v, "resolution": "refund", "note": "n", "payment_id": "pay_x"})
    expect("resolve: attach to a payment that does not exist", "POST", R_, 422, "payment_not_found", key=ops,
           body={"version": v, "resolution": "attach_to_payment", "note": "n", "payment_id": "pay_nope"})
    expect("resolve: attach to a payment id with SQL in it", "POST", R_, 422, "payment_not_found", key=ops,
           body={"version": v, "resolution": "attach_to_payment", "note": "n", "payment_id": "' OR '1'='1"})
    if len(created) > 1:
        expect("resolve: attach to a canceled payment", "POST", R_, 409, "invalid_target_state", key=ops,
               body={"version": v, "resolution": "attach_to_payment", "note": "n", "payment_id": created[0]["id"]})
    expect("resolve: stale version", "POST", R_, 409, "version_conflict", key=ops,
           body={"version": v + 7, "resolution": "refund", "note": "n"})
    expect("reopen an open exception", "POST", A + "/reopen", 409, "invalid_state", key=ops, body={"version": v, "note": "n"})
    expect("reopen: note missing", "POST", A + "/reopen", 422, "note_required", key=ops, body={"version": v})
    expect("dismiss: note missing", "POST", A + "/dismiss", 422, "note_required", key=ops, body={"version": v})
    st, c, _ = srv.call("POST", A + "/claim", key=ops, body={"version": v})
    ok(st == 200 and c["state"] == "claimed", "claim works with a good body")
    state["before"] = row_counts()
    expect("claim a claimed exception", "POST", A + "/claim", 409, "invalid_state", key=ops, body={"version": v + 1})
    expect("claim with the old version", "POST", A + "/claim", 409, "version_conflict", key=ops, body={"version": v})
expect_alive("exception actions")

# ------------------------------------------------------------------ audit
for q in ["since=yesterday", "since=2026-02-30T00:00:00Z", "until=1700000000", "since=2026-01-01",
          "until=2026-01-01%2000:00:00Z", "since=2026-01-01T00:00:00+01:00", "limit=0", "limit=500", "cursor=abc", "cursor=0", "actor=",
          "object_id=" + "x" * 201, "action=a&action=b"]:
    expect("audit ?" + q[:40], "GET", "/v1/audit?" + q, 400, "invalid_request", key=viewer)
expect("audit with an unknown filter", "GET", "/v1/audit?who=me", 400, "unknown_parameter", key=viewer)
st, a, _ = srv.call("GET", "/v1/audit?since=" + urllib.parse.quote("2000-01-01T00:00:00+01:00") + "&limit=1", key=viewer)
ok(st == 200 and len(a["data"]) == 1, "audit accepts an RFC 3339 time with an offset")
expect_alive("audit queries")
