#!/usr/bin/env python3
"""The finance API over breaks: any operator reads (list with filters, detail, summary);
finance (and admin) acknowledge with a note, match manually, escalate to an exception,
run, and export CSV with the three planes side by side. Every action is audited; other
roles get 403; bad input is a 4xx with a stable code and changes nothing."""
import csv, io, os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
from reconlib import *

srv = Raild("--no-recon")
chain = Chain(srv, "tron-nile")
fin, viewer, ops, adm = key("finance"), key("viewer"), key("ops"), key("admin")
m, other = Merchant(addresses=4), Merchant(addresses=2)
TS = "2026-11-26T10:00:00Z"
for i in range(3):
    order(srv, m, "mip-%d" % i, "5", "paid", TS)
order(srv, m, "lag-1", "3", "pending", TS)
pay = chain.pay(m, "lag-1", 3_000_000)
other_pay = chain.pay(other, "x-1", 1_000_000)
sql("UPDATE recon_settings SET value = '0' WHERE name = 'commerce_lagging_grace'")
st, run, _ = srv.call("POST", "/v1/recon/runs", key=fin, body={"mode": "full"})
is_((st, run.get("mode")), (200, "full"), "finance starts a full run through the API")
ok(run.get("opened", 0) >= 4, "the run opened the breaks", run)
ok(sql1("SELECT count(*) FROM audit_log WHERE action = 'recon.run'") != "0", "the run is audited")

B = lambda cls, ref: break_id(cls, m.id, "sandbox", ref)
MIP0, MIP1, MIP2, LAG = B("missing_in_provider", "mip-0"), B("missing_in_provider", "mip-1"), \
    B("missing_in_provider", "mip-2"), B("commerce_lagging", "lag-1")

# ---------------------------------------------------------------- reads
st, b, _ = srv.call("GET", "/v1/recon/breaks?merchant_id=%s&class=missing_in_provider" % m.id, key=viewer)
is_((st, sorted(x["id"] for x in b["breaks"])), (200, sorted([MIP0, MIP1, MIP2])), "viewer lists breaks filtered by class")
st, b, _ = srv.call("GET", "/v1/recon/breaks?merchant_id=%s&limit=2" % m.id, key=viewer)
st2, b2, _ = srv.call("GET", "/v1/recon/breaks?merchant_id=%s&limit=2&cursor=%s" % (m.id, b["next_cursor"]), key=viewer)
is_(len({x["id"] for x in b["breaks"] + b2["breaks"]}), 4, "keyset pages cover all four breaks without repeats")
st, d, _ = srv.call("GET", "/v1/recon/breaks/" + LAG, key=viewer)
ok(st == 200 and d["records"]["order"]["status"] == "pending" and d["records"]["payments"][0]["id"] == pay
   and d["records"]["ledger_transactions"][0]["kind"] == "finality", "detail shows the order, payment and posting", d)
st, s, _ = srv.call("GET", "/v1/recon/summary", key=viewer)
ok(st == 200 and {"class": "missing_in_provider"}.items() <= [c for c in s["by_class"] if c["class"] ==
   "missing_in_provider"][0].items() and set(s["checkpoints"]) == {"commerce", "provider", "finance"},
   "summary: counts by class and the per-plane checkpoints", s)

# ---------------------------------------------------------------- acknowledge
st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/acknowledge" % MIP0, key=fin, body={"note": "merchant asked"})
ok(st == 200 and b["acknowledged"]["note"] == "merchant asked" and b["state"] != "resolved",
   "finance acknowledges with a note; the break stays open", b)
is_(sql1("SELECT count(*) FROM audit_log WHERE action = 'recon.acknowledge' AND object_id = :'i'", i=MIP0), "1",
    "acknowledgement audited")
st, b, _ = srv.call("GET", "/v1/recon/breaks?merchant_id=%s&acknowledged=true" % m.id, key=viewer)
is_([x["id"] for x in b["breaks"]], [MIP0], "filter acknowledged=true")

# ---------------------------------------------------------------- escalate
st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/escalate" % LAG, key=fin, body={"note": "chase the merchant"})
ok(st == 200 and (b.get("exception") or "").startswith("exc_"), "escalation opens an exception", b)
exc_id = b.get("exception") or "none"
exc = sql("SELECT type, state, payment_id IS NOT NULL, details->>'break' FROM exceptions WHERE public_id = :'e'",
          e=exc_id)
is_(exc, [["recon_break", "open", "t", LAG]], "the exception is a recon_break on the payment, naming the break")
st, e, _ = srv.call("GET", "/v1/exceptions/" + exc_id, key=ops)
is_((st, e.get("type"), e.get("state")), (200, "recon_break", "open"), "ops sees it in the exceptions API")
st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/escalate" % LAG, key=adm, body={"note": "again"})
is_((st, b["error"]["code"]), (409, "already_escalated"), "a second escalation is 409 already_escalated")
is_(e.get("allowed_resolutions"), ["fixed_at_source"], "a recon_break offers fixed_at_source")
st, bad, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % exc_id, key=ops,
                      body={"resolution": "write_off", "note": "no", "version": e.get("version")})
is_((st, bad.get("error", {}).get("code")), (422, "resolution_not_allowed"), "write_off is not offered for recon_break")
st, res, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % exc_id, key=ops,
                      body={"resolution": "fixed_at_source", "note": "merchant corrected the order",
                            "version": e.get("version")})
is_((st, res.get("state"), res.get("resolution")), (200, "resolved", "fixed_at_source"),
    "ops resolves the escalated break as fixed_at_source")

# ---------------------------------------------------------------- export
st, text, h = srv.call("GET", "/v1/recon/export.csv?merchant_id=%s" % m.id, key=fin)
rows = list(csv.DictReader(io.StringIO(text))) if st == 200 else []
ok(st == 200 and h.get("Content-Type", "").startswith("text/csv"), "export is text/csv", (st, text[:300]))
is_(sorted(r["break_id"] for r in rows), sorted([MIP0, MIP1, MIP2, LAG]), "the export has the open breaks")
lag = [r for r in rows if r["break_id"] == LAG]
ok(lag and (lag[0]["commerce_status"], lag[0]["commerce_amount"], lag[0]["provider_state"], lag[0]["provider_amount"],
            lag[0]["finance_amount"]) == ("pending", "3", "finalized", "3", "3"), "the three planes side by side", lag)
ok(sql1("SELECT count(*) FROM audit_log WHERE action = 'recon.export'") != "0", "the export is audited")
is_(sql1("SELECT array_to_string(recon_break_fields(class, planes), ' ') FROM recon_breaks WHERE public_id = :'i'",
         i=LAG), "c_status p_state", "recon_break_fields names the disagreeing columns for the console")

# ---------------------------------------------------------------- match
st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/match" % MIP1, key=fin, body={"note": "typo", "payment_id": pay})
ok(st == 200 and b["match"]["note"] == "typo", "finance matches lag-1's payment to mip-1", b)
ok(sql1("SELECT count(*) FROM recon_matches WHERE break_id = :'i'", i=MIP1) == "1", "the link is recorded")
is_(sql1("SELECT count(*) FROM audit_log WHERE action = 'recon.match' AND object_id = :'i'", i=MIP1), "1", "audited")

# an unapplied transfer matched to the payment it was meant for
t, txh = chain.transfer(tron_address(), 2_000_000, block=chain.head() + 1)
recon("incremental")
ub = sql1("SELECT public_id FROM recon_breaks WHERE class = 'unapplied_transfer' AND state <> 'resolved'"
          " AND transfer_id = (SELECT id FROM chain_transfers WHERE tx_hash = :'t')", t=txh.lower())
ok(ub is not None, "a transfer to an address nobody owns is an unapplied_transfer break")
st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/match" % ub, key=fin, body={"note": "customer paid from an exchange"})
is_((st, b.get("error", {}).get("code")), (422, "target_required"), "matching a transfer needs the payment it belongs to")
st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/match" % ub, key=fin, body={"note": "customer paid from an exchange",
                                                                             "payment_id": other_pay})
is_((st, b.get("state")), (200, "resolved"), "matched to a payment: the transfer is no longer unapplied")

# ---------------------------------------------------------------- roles and bad input
RKEYS = {role: key(role) for role in ("viewer", "ops", "support")}
before = row_counts(["recon_breaks", "recon_matches", "audit_log", "exceptions", "recon_runs"])
snap = sql("SELECT public_id, state, acknowledged_at, exception_id, matched_at FROM recon_breaks ORDER BY 1")
for role, k in RKEYS.items():
    for path, body in (("/v1/recon/breaks/%s/acknowledge" % MIP2, {"note": "x"}),
                       ("/v1/recon/breaks/%s/escalate" % MIP2, {"note": "x"}),
                       ("/v1/recon/breaks/%s/match" % MIP2, {"note": "x", "payment_id": pay}),
                       ("/v1/recon/runs", {"mode": "full"})):
        st, b, _ = srv.call("POST", path, key=k, body=body)
        is_((st, b["error"]["code"]), (403, "forbidden"), "%s: POST %s -> 403" % (role, path.split("/")[-1]))
    st, b, _ = srv.call("GET", "/v1/recon/export.csv", key=k)
    is_(st, 403, "%s cannot export" % role)
st, b, _ = srv.call("GET", "/v1/recon/breaks", key=m.key)
is_(st, 403, "a merchant key cannot read breaks")
BAD = [
    ("ack without note", "acknowledge", MIP2, {}, 422, "note_required"),
    ("ack with empty note", "acknowledge", MIP2, {"note": ""}, 422, "note_required"),
    ("ack with 2001-char note", "acknowledge", MIP2, {"note": "n" * 2001}, 422, "note_too_long"),
    ("ack with unknown field", "acknowledge", MIP2, {"note": "x", "force": True}, 400, "unknown_field"),
    ("ack unknown break", "acknowledge", "brk_000000000000000000000000", {"note": "x"}, 404, "not_found"),
    ("match without target", "match", MIP2, {"note": "x"}, 422, "target_required"),
    ("match with two targets", "match", MIP2, {"note": "x", "payment_id": pay, "ledger_transaction_id": 1}, 422,
     "target_required"),
    ("match unknown payment", "match", MIP2, {"note": "x", "payment_id": "pay_nope"}, 422, "unknown_target"),
    ("match another merchant's payment", "match", MIP2, {"note": "x", "payment_id": other_pay}, 422, "merchant_mismatch"),
    ("match an already matched payment", "match", MIP2, {"note": "x", "payment_id": pay}, 409, "already_matched"),
    ("match payment_id as number", "match", MIP2, {"note": "x", "payment_id": 5}, 400, "invalid_request"),
    ("escalate without note", "escalate", MIP2, {}, 422, "note_required"),
    ("escalate resolved break", "escalate", MIP1, {"note": "x"}, 409, "invalid_state"),
]
for label, act, bid, body, want_st, want_code in BAD:
    st, b, _ = srv.call("POST", "/v1/recon/breaks/%s/%s" % (bid, act), key=fin, body=body)
    code = b.get("error", {}).get("code") if isinstance(b, dict) else None
    ok((st, code) == (want_st, want_code), "%s -> %d %s" % (label, want_st, want_code), "got %s %r" % (st, b))
st, b, _ = srv.call("POST", "/v1/recon/runs", key=fin, body={"mode": "sideways"})
is_((st, b["error"]["code"]), (422, "invalid_mode"), "run with an unknown mode -> 422")
for q in ("state=closed", "class=nope", "merchant_id=abc", "severity=9", "limit=0", "cursor=x", "acknowledged=maybe"):
    st, b, _ = srv.call("GET", "/v1/recon/breaks?" + q, key=viewer)
    is_((st, b["error"]["code"]), (400, "invalid_request"), "list ?%s -> 400" % q)
for path in ("/v1/recon/breaks?clas=missing_in_provider", "/v1/recon/breaks?merchant=1",
             "/v1/recon/export.csv?environmnet=sandbox"):   # a misspelt filter must not widen the answer
    st, b, _ = srv.call("GET", path, key=fin)
    is_((st, b["error"]["code"] if isinstance(b, dict) else b), (400, "unknown_parameter"), "%s -> 400" % path)
is_(row_counts(["recon_breaks", "recon_matches", "audit_log", "exceptions", "recon_runs"]), before,
    "refused calls wrote nothing")
is_(sql("SELECT public_id, state, acknowledged_at, exception_id, matched_at FROM recon_breaks ORDER BY 1"), snap,
    "and changed no break")
sql("UPDATE recon_settings SET value = '30 minutes' WHERE name = 'commerce_lagging_grace'")
ok(srv.alive(), "raild still serving")
