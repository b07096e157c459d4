#!/usr/bin/env python3
"""Payout requests that must be refused (DESIGN §11), as tables: every endpoint and admin
command answers bad input with the right 4xx and a stable code, and the database is
unchanged. Also: velocity limits, the payout state table in the database equal to the one
in src/core, keyset pagination, and refunds on rails without payouts. (Sending money is
proven on a real node in tests/chain/60_payouts.py.)"""
import os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild("--no-workers")
eth = RAILS["ethereum:usdt"]
m = Merchant(rails=("ethereum:usdt", "tron:usdt"), addresses=10)
other = Merchant(rails=("ethereum:usdt",), addresses=2)
prod_m = Merchant(rails=("ethereum:usdt",), env="production", addresses=0)
w = key("watcher")
ops, finance, t1, admin_key, viewer = key("ops"), key("finance"), key("treasury"), key("admin"), key("viewer")
t_prod = key("treasury", env="production")
HOT = evm_address()
admin("add-wallet", "--network", eth["network"], "--address", HOT, "--kind", "hot", check=True)
GOOD = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"     # EIP-55's own example
BADSUM = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"   # one letter's case flipped


def paid(merchant, amount="10.00", units=10_000_000, finalize=True):
    st, p, _ = srv.call("POST", "/v1/payments", key=merchant.key,
                        body={"reference": uniq("ord"), "amount": amount, "rail": "ethereum:usdt"})
    assert st == 201, (st, p)
    h = int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = :'n'", n=eth["network"])) + 1
    st, b, _ = srv.call("POST", "/v1/chain/transfers", key=w, body={"network": eth["network"], "transfers": [
        {"tx_hash": tx_hash(), "log_index": 0, "block_number": h, "block_hash": "0x" + "cd" * 32,
         "contract": eth["contract"], "from": evm_address(), "to": p["deposit_address"], "value": str(units)}]})
    assert st == 200, (st, b)
    head = h + (eth["final"] if finalize else eth["confirm"]) + 1
    assert srv.call("POST", "/v1/chain/heads", key=w, body={"network": eth["network"], "head": head,
                                                            "finalized": head - 1 if finalize else h - 1})[0] == 200
    return p


fin = paid(m)
is_(sql1("SELECT state FROM payments WHERE public_id = :'p'", p=fin["id"]), "finalized", "a finalized payment")
st, waiting, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("o"), "amount": "1", "rail": "ethereum:usdt"})
deposit = waiting["deposit_address"]
st, tronp, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("o"), "amount": "1", "rail": "tron:usdt"})

TABLES = ["payouts", "payout_approvals", "payout_events", "payout_addresses", "audit_log", "webhook_outbox",
          "ledger_transactions"]


def expect(label, method, path, status, code, key=None, body=None, raw=None, headers=None):
    before = row_counts(TABLES)
    st, b, _ = srv.call(method, path, key=key, body=body, raw=raw, headers=headers)
    got = b.get("error", {}).get("code") if isinstance(b, dict) else None
    ok((st, got) == (status, code), "%s -> %d %s" % (label, status, code), (st, b))
    is_(row_counts(TABLES), before, "%s: nothing changed" % label)


def refund(**kw):
    b = {"payment_id": fin["id"], "amount": "1.00", "to_address": GOOD, "reason": "returned"}
    b.update(kw)
    return {k: v for k, v in b.items() if v is not None}


RF = "/v1/refunds"
for label, body, st, code, k in [
    ("not JSON", None, 400, "invalid_json", m.key),
    ("an unknown field", refund(fee="1"), 400, "unknown_field", m.key),
    ("payment_id missing", refund(payment_id=None), 400, "invalid_request", m.key),
    ("amount a number", refund(amount=1), 400, "invalid_request", m.key),
    ("amount zero", refund(amount="0"), 422, "invalid_amount", m.key),
    ("amount negative", refund(amount="-1"), 422, "invalid_amount", m.key),
    ("amount with an exponent", refund(amount="1e3"), 422, "invalid_amount", m.key),
    ("amount with 7 decimals on a 6-decimal rail", refund(amount="0.1234567"), 422, "invalid_amount", m.key),
    ("amount over what was received", refund(amount="10.000001"), 422, "insufficient_balance", m.key),
    ("to_address not hex", refund(to_address="0xzz" + "0" * 38), 422, "invalid_destination", m.key),
    ("to_address too short", refund(to_address=GOOD[:-1]), 422, "invalid_destination", m.key),
    ("to_address failing its checksum", refund(to_address=BADSUM), 422, "invalid_destination", m.key),
    ("to_address the zero address", refund(to_address="0x" + "0" * 40), 422, "invalid_destination", m.key),
    ("to_address our deposit address", refund(to_address=deposit), 422, "invalid_destination", m.key),
    ("to_address our hot wallet", refund(to_address=HOT), 422, "invalid_destination", m.key),
    ("a Tron address on an EVM rail", refund(to_address=tron_address()), 422, "invalid_destination", m.key),
    ("reason empty", refund(reason=""), 422, "reason_required", m.key),
    ("an unknown payment", refund(payment_id="pay_nope"), 404, "not_found", m.key),
    ("another merchant's payment", refund(), 404, "not_found", other.key),
    ("a production key, sandbox payment", refund(), 404, "not_found", prod_m.key),
    ("a payment still awaiting", refund(payment_id=waiting["id"]), 422, "invalid_payment_state", m.key),
    ("an ops key", refund(), 403, "forbidden", ops),
    ("a treasury key", refund(), 403, "forbidden", t1),
]:
    expect("refund: " + label, "POST", RF, st, code, key=k, body=body, raw="{" if body is None else None)
expect("refund: Idempotency-Key of 201 characters", "POST", RF, 400, "invalid_request", key=m.key, body=refund(),
       headers={"Idempotency-Key": "k" * 201})

# a Tron payment cannot be refunded on chain yet
sql("UPDATE payments SET state = 'finalized', received = amount WHERE public_id = :'p'", p=tronp["id"])
expect("refund: a Tron payment", "POST", RF, 422, "rail_payouts_unsupported", key=m.key,
       body=refund(payment_id=tronp["id"], to_address=tron_address()))

# ---------------------------------------------------------------- settlements
S = {"kind": "settlement", "merchant_id": int(m.id), "rail": "ethereum:usdt", "amount": "1.00", "to_address": GOOD}
for label, patch, st, code, k in [
    ("kind refund", {"kind": "refund"}, 422, "invalid_kind", finance),
    ("merchant_id a string", {"merchant_id": m.id}, 400, "invalid_request", finance),
    ("an unknown merchant", {"merchant_id": 10 ** 12}, 422, "unknown_merchant", finance),
    ("an address not on the whitelist", {}, 422, "destination_not_whitelisted", finance),
    ("a checksum-failing address", {"to_address": BADSUM}, 422, "invalid_destination", finance),
    ("an unknown rail", {"rail": "solana:usdt"}, 422, "unknown_rail", finance),
    ("a merchant key", {}, 403, "forbidden", m.key),
    ("a treasury key (treasury requests nothing)", {}, 403, "forbidden", t1),
    ("an ops key", {}, 403, "forbidden", ops),
]:
    body = dict(S)
    body.update(patch)
    expect("settlement: " + label, "POST", "/v1/payouts", st, code, key=k, body=body)

# ---------------------------------------------------------------- the whitelist
PA = "/v1/merchants/%s/payout-addresses" % m.id
good_wl = {"network": eth["network"], "address": GOOD, "label": "cold wallet"}
for label, path, body, st, code, k in [
    ("an unknown network", PA, dict(good_wl, network="solana"), 422, "unknown_network", finance),
    ("a production network from sandbox", PA, dict(good_wl, network="ethereum"), 422, "unknown_network", finance),
    ("a bad address", PA, dict(good_wl, address="0x123"), 422, "invalid_destination", finance),
    ("a checksum-failing address", PA, dict(good_wl, address=BADSUM), 422, "invalid_destination", finance),
    ("our own deposit address", PA, dict(good_wl, address=deposit), 422, "invalid_destination", finance),
    ("an empty label", PA, dict(good_wl, label=""), 422, "invalid_label", finance),
    ("an unknown field", PA, dict(good_wl, memo="x"), 400, "unknown_field", finance),
    ("merchant 'abc'", "/v1/merchants/abc/payout-addresses", good_wl, 404, "not_found", finance),
    ("an unknown merchant", "/v1/merchants/999999999/payout-addresses", good_wl, 404, "not_found", finance),
    ("a merchant key", PA, good_wl, 403, "forbidden", m.key),
    ("a treasury key", PA, good_wl, 403, "forbidden", t1),
]:
    expect("whitelist: " + label, "POST", path, st, code, key=k, body=body)
st, wl, _ = srv.call("POST", PA, key=finance, body=good_wl)
is_((st, wl.get("state"), wl.get("address")), (201, "pending_approval", GOOD), "a whitelist entry, shown checksummed", wl)
expect("whitelist: the same address again", "POST", PA, 409, "already_listed", key=finance, body=good_wl)
W = "/v1/payout-addresses/%s/" % wl["id"]
expect("whitelist approve: stale version", "POST", W + "approve", 409, "version_conflict", key=t1,
       body={"note": "n", "version": 7})
expect("whitelist approve: no note", "POST", W + "approve", 422, "note_required", key=t1, body={"version": 1})
expect("whitelist approve: finance", "POST", W + "approve", 403, "forbidden", key=finance, body={"note": "n", "version": 1})
expect("whitelist approve: production treasury", "POST", W + "approve", 404, "not_found", key=t_prod,
       body={"note": "n", "version": 1})
wl_id = sql1("SELECT id FROM payout_addresses WHERE public_id = :'p'", p=wl["id"])
st, b, _ = srv.call("POST", W + "reject", key=t1, body={"note": "unknown to the merchant", "version": 1})
is_((st, b.get("state")), (200, "rejected"), "treasury rejects the entry")
expect("whitelist approve: a rejected entry", "POST", W + "approve", 409, "invalid_state", key=t1,
       body={"note": "n", "version": 2})
ok(any(e["id"] == wl["id"] for e in srv.call("GET", "/v1/payout-addresses?merchant_id=%s" % m.id, key=viewer)[1]["data"]),
   "GET /v1/payout-addresses lists it")

# ---------------------------------------------------------------- decisions
st, po, _ = srv.call("POST", RF, key=m.key, body=refund(amount="0.50"))
is_((st, po.get("state")), (201, "requested"), "a refund to decide on", po)
P = "/v1/payouts/%s/" % po["id"]
for label, verb, body, st, code, k in [
    ("stale version", "approve", {"note": "n", "version": 9}, 409, "version_conflict", t1),
    ("no note", "approve", {"version": 1}, 422, "note_required", t1),
    ("version a string", "approve", {"note": "n", "version": "1"}, 400, "invalid_request", t1),
    ("an unknown field", "approve", {"note": "n", "version": 1, "amount": "9"}, 400, "unknown_field", t1),
    ("finance", "approve", {"note": "n", "version": 1}, 403, "forbidden", finance),
    ("admin", "approve", {"note": "n", "version": 1}, 403, "forbidden", admin_key),
    ("the merchant", "approve", {"note": "n", "version": 1}, 403, "forbidden", m.key),
    ("a production treasury key", "approve", {"note": "n", "version": 1}, 404, "not_found", t_prod),
    ("cancel by ops (neither requester nor treasury)", "cancel", {"note": "n", "version": 1}, 403, "forbidden", ops),
    ("cancel by another merchant", "cancel", {"note": "n", "version": 1}, 404, "not_found", other.key),
]:
    expect("payout %s: %s" % (verb, label), "POST", P + verb, st, code, key=k, body=body)
expect("approve: an unknown payout", "POST", "/v1/payouts/po_nope/approve", 404, "not_found", key=t1,
       body={"note": "n", "version": 1})
st, b, _ = srv.call("POST", P + "reject", key=t1, body={"note": "the customer was paid by card", "version": 1})
is_((st, b.get("state")), (200, "rejected"), "treasury rejects it")
expect("approve: a rejected payout", "POST", P + "approve", 409, "invalid_state", key=t1, body={"note": "n", "version": 2})
expect("cancel: a rejected payout", "POST", P + "cancel", 409, "invalid_state", key=m.key, body={"note": "n", "version": 2})
is_(sql("SELECT action FROM audit_log WHERE object_id = :'p' ORDER BY id", p=po["id"]),
    [["payout.request"], ["payout.reject"]], "request and rejection are audited")

# ---------------------------------------------------------------- velocity per merchant and rail per 24 h
admin("set-payout-policy", "--env", "sandbox", "--rail", "ethereum:usdt", "--velocity-24h", "1.00", check=True)
st, v1, _ = srv.call("POST", RF, key=m.key, body=refund(amount="0.60"))
is_(st, 201, "within the 24 h limit")
expect("refund: over the 24 h velocity limit", "POST", RF, 422, "velocity_limit", key=m.key, body=refund(amount="0.60"))
st, _, _ = srv.call("POST", "/v1/payouts/%s/cancel" % v1["id"], key=m.key, body={"note": "n", "version": 1})
is_(srv.call("POST", RF, key=m.key, body=refund(amount="0.60"))[0], 201, "a canceled payout frees its share of the limit")
admin("set-payout-policy", "--env", "sandbox", "--rail", "ethereum:usdt", "--velocity-24h", "none", check=True)

# ---------------------------------------------------------------- lists
for label, q, st, code in [("an unknown state", "?state=sent", 400, "invalid_request"),
                           ("an unknown parameter", "?amount=1", 400, "unknown_parameter"),
                           ("limit 0", "?limit=0", 400, "invalid_request"),
                           ("cursor abc", "?cursor=abc", 400, "invalid_request"),
                           ("kind other", "?kind=other", 400, "invalid_request")]:
    expect("list: " + label, "GET", "/v1/payouts" + q, st, code, key=viewer)
expect("list: a watcher key", "GET", "/v1/payouts", 403, "forbidden", key=w)
for _ in range(3):
    srv.call("POST", RF, key=m.key, body=refund(amount="0.01"))
st, page1, _ = srv.call("GET", "/v1/payouts?limit=2&kind=refund", key=viewer)
st2, page2, _ = srv.call("GET", "/v1/payouts?limit=2&kind=refund&cursor=" + page1["next_cursor"], key=viewer)
ids1, ids2 = [p["id"] for p in page1["data"]], [p["id"] for p in page2["data"]]
ok(st == st2 == 200 and len(ids1) == 2 and ids2 and not set(ids1) & set(ids2), "keyset pages do not overlap",
   (ids1, ids2))
ok(all(p["merchant_id"] == int(m.id) for p in srv.call("GET", "/v1/payouts", key=m.key)[1]["data"]),
   "a merchant lists only its own payouts")
is_(srv.call("GET", "/v1/payouts", key=other.key)[1]["data"], [], "another merchant sees none of them")

# ---------------------------------------------------------------- refund resolutions on an EVM rail
over = paid(m, amount="5.00", units=6_000_000)
oe = sql("SELECT e.public_id, e.version FROM exceptions e JOIN payments p ON p.id = e.payment_id"
         " WHERE p.public_id = :'p' AND e.type = 'overpaid'", p=over["id"])[0]
OR = "/v1/exceptions/%s/resolve" % oe[0]
ops_prod = key("ops", env="production")
rb = lambda **kw: dict({"version": int(oe[1]), "resolution": "refund_excess", "note": "n", "to_address": GOOD}, **kw)
for label, body, st, code, k in [
    ("no to_address", {"version": int(oe[1]), "resolution": "refund_excess", "note": "n"}, 422, "to_address_required", ops),
    ("a checksum-failing to_address", rb(to_address=BADSUM), 422, "invalid_destination", ops),
    ("our own deposit address", rb(to_address=deposit), 422, "invalid_destination", ops),
    ("more than the excess", rb(amount="1.000001"), 422, "insufficient_balance", ops),
    ("amount not a decimal", rb(amount="one"), 422, "invalid_amount", ops),
    ("amount a number", rb(amount=1), 400, "invalid_request", ops),
    ("a key of another environment", rb(), 403, "wrong_environment", ops_prod),
]:
    expect("resolve refund_excess: " + label, "POST", OR, st, code, key=k, body=body)
st, b, _ = srv.call("POST", OR, key=ops, body=rb(amount="0.40"))
po_id = (b.get("details") or {}).get("resolution_effects", {}).get("payout")
is_((st, sql1("SELECT amount::text || ' ' || state FROM payouts WHERE public_id = :'p'", p=po_id)), (200, "400000 requested"),
    "a refund_excess of part of the excess creates its payout")

# ---------------------------------------------------------------- refund resolutions where payouts do not exist yet
tp = underpaid_tron_payment(srv, m, w, uniq("tron-under"))
exc = sql("SELECT e.public_id, e.version FROM exceptions e JOIN payments p ON p.id = e.payment_id"
          " WHERE p.public_id = :'p' AND e.type = 'underpaid'", p=tp["id"])[0]
R = "/v1/exceptions/%s/resolve" % exc[0]
expect("resolve: to_address with accept_partial", "POST", R, 400, "invalid_request", key=ops,
       body={"version": int(exc[1]), "resolution": "accept_partial", "note": "n", "to_address": GOOD})
expect("resolve: a Tron refund with to_address", "POST", R, 422, "rail_payouts_unsupported", key=ops,
       body={"version": int(exc[1]), "resolution": "refund", "note": "n", "to_address": tron_address()})
st, b, _ = srv.call("POST", R, key=ops, body={"version": int(exc[1]), "resolution": "refund", "note": "sent by hand"})
is_((st, b.get("details", {}).get("resolution_effects", {}).get("payout", "absent")), (200, None),
    "a Tron refund is recorded, without a payout (README: Tron payouts are not supported yet)")

# ---------------------------------------------------------------- the state table: database = src/core
legal = sorted(tuple(r) for r in sql("SELECT from_state, to_state FROM payout_transitions"))
out = subprocess.run([os.path.join(ROOT, "build", "tests", "test_payouts")], capture_output=True, text=True).stdout
core = sorted(tuple(l.split(" - ")[1].split(" allowed")[0].split(" -> ")) for l in out.splitlines()
              if l.startswith("ok ") and l.endswith(" allowed"))
ok(len(core) == 15 and legal == core, "payout_transitions in the database is the table in src/core/payout_states.c",
   (legal, core))

# ---------------------------------------------------------------- the same rules in the database
INS = ("INSERT INTO payouts (public_id, kind, merchant_id, environment, rail, network, amount, to_address, source,"
       " reason, approvals_needed, requested_by, requested_by_name, requested_role, payment_id, payout_address_id)"
       " SELECT :'pub', :'kind', :'m', 'sandbox', 'ethereum:usdt', :'net', :'amt'::numeric, lower(:'to'), 'payable',"
       " 'direct', 1, (SELECT id FROM api_keys WHERE role = 'ops' LIMIT 1), 'x', 'ops', p.id,"
       " NULLIF(:'pad', '')::bigint FROM payments p WHERE p.public_id = :'p'")
for label, kw, frag in [
    ("to our own deposit address", dict(to=deposit), "one of our own addresses"),
    ("more than was received", dict(amt="99000000"), "more than is refundable"),
    ("a settlement to no whitelist entry", dict(kind="settlement", pad=wl_id), "active whitelist entry"),
]:
    args = dict(pub=uniq("po_db"), kind="refund", m=m.id, net=eth["network"], amt="1000", to=GOOD, p=fin["id"], pad="")
    args.update(kw)
    q = INS
    for k, v in args.items():
        q = q.replace(":'%s'" % k, "'%s'" % v)
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", q], capture_output=True, text=True)
    ok(r.returncode != 0 and frag in r.stderr, "the database refuses a payout %s" % label, r.stderr)

# ---------------------------------------------------------------- admin commands
def admin_bad(label, args, frag):
    before = row_counts(TABLES + ["network_signer", "rails", "networks"])
    rc, out, err = admin(*args)
    ok(rc == 2 and frag in err, "admin %s -> exit 2 naming what to fix" % label, (rc, err))
    is_(row_counts(TABLES + ["network_signer", "rails", "networks"]), before, "admin %s: nothing changed" % label)


P_ = ["set-payout-policy", "--env", "sandbox", "--rail", "ethereum:usdt"]
admin_bad("set-payout-policy: an unknown rail", ["set-payout-policy", "--env", "sandbox", "--rail", "x:y"], "unknown --rail")
admin_bad("set-payout-policy: env staging", ["set-payout-policy", "--env", "staging", "--rail", "ethereum:usdt"], "--env")
admin_bad("set-payout-policy: dual-above -1", P_ + ["--dual-above", "-1"], "--dual-above")
admin_bad("set-payout-policy: dual-above 7 decimals", P_ + ["--dual-above", "0.1234567"], "--dual-above")
admin_bad("set-payout-policy: velocity abc", P_ + ["--velocity-24h", "abc"], "--velocity-24h")
admin_bad("set-payout-policy: max-fee-gwei 0", P_ + ["--max-fee-gwei", "0"], "--max-fee-gwei")
admin_bad("set-payout-policy: replace-after-blocks 10001", P_ + ["--replace-after-blocks", "10001"],
          "--replace-after-blocks")
admin_bad("set-payout-policy: an unknown option", P_ + ["--limit", "1"], "--limit")
admin_bad("set-signer: no --url-file", ["set-signer", "--network", eth["network"]], "--url-file")
admin_bad("set-signer: a missing file", ["set-signer", "--network", eth["network"], "--url-file", "/nonexistent"],
          "cannot read")
bad_urls = os.path.join(LOGDIR, uniq("urls"))
open(bad_urls, "w").write("ftp://signer.example\n")
admin_bad("set-signer: not an http(s) URL", ["set-signer", "--network", eth["network"], "--url-file", bad_urls],
          "not an http(s) URL")
rc, out, err = admin("set-signer", "--network", eth["network"], "--url-file", bad_urls)
ok("signer.example" not in out + err, "the refused URL is never printed", err)
good_urls = os.path.join(LOGDIR, uniq("urls"))
open(good_urls, "w").write("http://user:secret@127.0.0.1:1/sign?key=abc\n")
admin_bad("set-signer: an unknown network", ["set-signer", "--network", "solana", "--url-file", good_urls], "solana")
rc, out, err = admin("set-signer", "--network", eth["network"], "--url-file", good_urls)
ok(rc == 0 and "127.0.0.1:1" in out and "secret" not in out + err and "key=abc" not in out, "set-signer shows the host only",
   (rc, out, err))
ok("secret" not in (sql1("SELECT after::text FROM audit_log WHERE action = 'network.set_signer' ORDER BY id DESC LIMIT 1")
                    or "secret"), "and audits the host only")
r = subprocess.run(["psql", "-X", "-q", "-U", "railtop_console", "-c", "SELECT urls FROM network_signer"],
                   capture_output=True, text=True)
ok(r.returncode != 0 and "permission denied" in r.stderr, "the console role cannot read signer URLs", r.stderr)
r = subprocess.run(["psql", "-X", "-q", "-U", "railtop_console", "-c", "SELECT raw FROM payout_transactions"],
                   capture_output=True, text=True)
ok(r.returncode != 0 and "permission denied" in r.stderr, "nor the signed bytes of a payout", r.stderr)
PQ = sql("DELETE FROM network_signer WHERE network = :'n'", n=eth["network"])
srv.stop()
