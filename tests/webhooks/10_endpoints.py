#!/usr/bin/env python3
"""Webhook endpoints API (merchant keys) and the operator endpoints: the secret is shown
once, never stored readable by the console, rotation keeps the old secret for the overlap;
bad input of every kind is a 4xx with a stable code and changes no row; roles are enforced."""
import os, sys, json, subprocess
sys.path.insert(0, os.path.dirname(__file__))
from wh import *

srv = Raild("--no-dispatch")
m = Merchant()
other = Merchant()
sup, viewer, ops = key("support"), key("viewer"), key("ops")

# ---------------------------------------------------------------- create / read
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=m.key,
                     body={"url": "https://merchant.example/hooks?x=1", "event_types": ["payment.finalized"],
                           "description": "orders"})
is_(st, 201, "create answers 201")
ok(ep["id"].startswith("we_") and ep["secret"].startswith("whsec_"), "id is we_…, secret is whsec_…")
import base64
ok(len(base64.b64decode(ep["secret"][6:])) >= 24, "secret carries at least 24 random bytes")
is_((ep["url"], ep["event_types"], ep["status"], ep["description"]),
    ("https://merchant.example/hooks?x=1", ["payment.finalized"], "enabled", "orders"), "fields echoed")
is_(ep["health"]["consecutive_failures"], 0, "a new endpoint has health with no failures")
st, got, _ = srv.call("GET", "/v1/webhook-endpoints/" + ep["id"], key=m.key)
is_(st, 200, "get answers 200")
ok("secret" not in got and ep["secret"] not in json.dumps(got), "the secret is not shown again")
st, lst, _ = srv.call("GET", "/v1/webhook-endpoints", key=m.key)
is_([e["id"] for e in lst["data"]], [ep["id"]], "list has the merchant's endpoint")
is_(srv.call("GET", "/v1/webhook-endpoints", key=other.key)[1]["data"], [], "another merchant sees none")
is_(srv.call("GET", "/v1/webhook-endpoints/" + ep["id"], key=other.key)[0], 404, "…and gets 404 for it")

stored = sql1("SELECT secret FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"])
ok(stored.startswith(("plain:", "aes:")), "secret stored with its sealing scheme")
log = open(srv.log_path).read()
ok(ep["secret"] not in log and ep["secret"][6:] not in log, "the secret is not in raild's log")

# the console role reads endpoints but never the secret columns
def as_console(q):
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", "SET ROLE railtop_console", "-c", q],
                       capture_output=True, text=True)
    return r.returncode, r.stdout.strip(), r.stderr
rc, out, _ = as_console("SELECT url, status FROM webhook_endpoints WHERE public_id = '%s'" % ep["id"])
is_((rc, out), (0, "https://merchant.example/hooks?x=1|enabled"), "console role reads endpoint url and status")
for col in ("secret", "old_secret", "*"):
    rc, out, err = as_console("SELECT %s FROM webhook_endpoints LIMIT 1" % col)
    ok(rc != 0 and "permission denied" in err, "console role cannot read %s on webhook_endpoints" % col)
for t in ("webhook_deliveries", "webhook_attempts", "webhook_recover_jobs", "webhook_endpoint_health"):
    rc, _, err = as_console("SELECT count(*) FROM %s" % t)
    is_(rc, 0, "console role reads %s" % t)

# ---------------------------------------------------------------- update / rotate / delete
st, up, _ = srv.call("PATCH", "/v1/webhook-endpoints/" + ep["id"], key=m.key,
                     body={"url": "http://127.0.0.1:9/new", "event_types": []})
is_((st, up["url"], up["event_types"]), (200, "http://127.0.0.1:9/new", []), "update url and clear the filter")
st, rot, _ = srv.call("POST", "/v1/webhook-endpoints/%s/rotate-secret" % ep["id"], key=m.key)
is_(st, 200, "rotate answers 200")
ok(rot["secret"].startswith("whsec_") and rot["secret"] != ep["secret"], "rotation returns a new secret once")
ok(rot["previous_secret_expires_at"] is not None, "the previous secret keeps signing until a stated time")
hours = float(sql1("SELECT extract(epoch FROM old_secret_expires_at - now()) / 3600 FROM webhook_endpoints"
                   " WHERE public_id = :'p'", p=ep["id"]))
ok(23.9 < hours <= 24.0, "default overlap is 24 h (%.3f h)" % hours)
st, rot2, _ = srv.call("POST", "/v1/webhook-endpoints/%s/rotate-secret" % ep["id"], key=m.key,
                       body={"overlap_seconds": 0})
ok(st == 200 and rot2["previous_secret_expires_at"] is None, "overlap_seconds 0 drops the old secret at once")
audit = sql("SELECT action, after::text FROM audit_log WHERE object_id = :'p' ORDER BY id", p=ep["id"])
is_([a[0] for a in audit], ["webhook_endpoint.create", "webhook_endpoint.update", "webhook_endpoint.rotate_secret",
                            "webhook_endpoint.rotate_secret"], "every merchant change is audited")
ok(all(rot["secret"] not in a[1] and ep["secret"] not in a[1] for a in audit), "audit rows carry no secret")
ok("merchant.example/hooks" in audit[0][1] and "127.0.0.1:9/new" in audit[1][1], "audit rows carry what changed")

# ---------------------------------------------------------------- operators
st, h, _ = srv.call("GET", "/v1/webhook-endpoints/%s/health" % ep["id"], key=viewer)
is_((st, h["merchant_id"], h["environment"]), (200, int(m.id), "sandbox"), "viewer reads endpoint health")
ok("secret" not in h, "operator view has no secret")
st, d, _ = srv.call("POST", "/v1/webhook-endpoints/%s/disable" % ep["id"], key=sup, body={"reason": "merchant asked"})
is_((st, d["status"]), (200, "disabled"), "support disables an endpoint")
ok("merchant asked" in d["disabled_reason"], "the reason is kept on the endpoint")
is_(srv.call("POST", "/v1/webhook-endpoints/%s/disable" % ep["id"], key=sup)[1]["error"]["code"], "invalid_state",
    "disabling twice is 409 invalid_state")
st, d, _ = srv.call("POST", "/v1/webhook-endpoints/%s/enable" % ep["id"], key=sup)
is_((st, d["status"], d["disabled_reason"]), (200, "enabled", None), "support enables it again")
is_([a[0] for a in sql("SELECT action FROM audit_log WHERE object_id = :'p' AND role = 'support' ORDER BY id",
                       p=ep["id"])], ["webhook_endpoint.disable", "webhook_endpoint.enable"], "operator actions audited")
st, pv, _ = srv.call("GET", "/v1/webhook-endpoints/%s/recover-preview?since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z"
                     % ep["id"], key=viewer)
is_((st, pv["count"]), (200, 0), "recover preview counts (none failed)")

# ---------------------------------------------------------------- bad input: nothing changes
ep2 = create_endpoint(srv, m, "http://127.0.0.1:9/two")
E0 = "/v1/webhook-endpoints"
E = E0 + "/"
W = "since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z"
dl = sql1("SELECT 'whd_' || coalesce(max(id), 0) + 1000000 FROM webhook_deliveries")
cases = [
    # (name, method, path, key, body or raw, status, code)
    ("no url", "POST", E0, m.key, {}, 400, "invalid_request"),
    ("url not a string", "POST", E0, m.key, {"url": 5}, 400, "invalid_request"),
    ("ftp url", "POST", E0, m.key, {"url": "ftp://example.com/x"}, 422, "invalid_url"),
    ("javascript url", "POST", E0, m.key, {"url": "javascript:alert(1)"}, 422, "invalid_url"),
    ("no scheme", "POST", E0, m.key, {"url": "example.com/hooks"}, 422, "invalid_url"),
    ("credentials", "POST", E0, m.key, {"url": "https://user:pw@example.com/h"}, 422, "invalid_url"),
    ("user only", "POST", E0, m.key, {"url": "https://user@example.com/h"}, 422, "invalid_url"),
    ("space", "POST", E0, m.key, {"url": "https://exa mple.com/h"}, 422, "invalid_url"),
    ("newline", "POST", E0, m.key, {"url": "https://example.com/h\nX: y"}, 422, "invalid_url"),
    ("no host", "POST", E0, m.key, {"url": "http:///path/only"}, 422, "invalid_url"),
    ("too long", "POST", E0, m.key, {"url": "https://example.com/" + "a" * 2100}, 422, "invalid_url"),
    ("bad port", "POST", E0, m.key, {"url": "http://example.com:99999/h"}, 422, "invalid_url"),
    ("unknown event", "POST", E0, m.key, {"url": "https://e.example/h", "event_types": ["payment.paid"]}, 422,
     "invalid_event_types"),
    ("events not array", "POST", E0, m.key, {"url": "https://e.example/h", "event_types": "payment.finalized"}, 422,
     "invalid_event_types"),
    ("duplicate event", "POST", E0, m.key, {"url": "https://e.example/h",
                                           "event_types": ["payment.finalized", "payment.finalized"]}, 422,
     "invalid_event_types"),
    ("event not string", "POST", E0, m.key, {"url": "https://e.example/h", "event_types": [1]}, 422,
     "invalid_event_types"),
    ("unknown field", "POST", E0, m.key, {"url": "https://e.example/h", "secret": "whsec_x"}, 400, "unknown_field"),
    ("description too long", "POST", E0, m.key, {"url": "https://e.example/h", "description": "d" * 501}, 400,
     "invalid_request"),
    ("malformed json", "POST", E0, m.key, "{", 400, "invalid_json"),
    ("create as support", "POST", E0, sup, {"url": "https://e.example/h"}, 403, "forbidden"),
    ("create without key", "POST", E0, None, {"url": "https://e.example/h"}, 401, "unauthorized"),
    ("update nothing", "PATCH", E + ep2["id"], m.key, {}, 400, "invalid_request"),
    ("update bad url", "PATCH", E + ep2["id"], m.key, {"url": "gopher://x.example/"}, 422, "invalid_url"),
    ("update other's", "PATCH", E + ep2["id"], other.key, {"url": "https://e.example/h"}, 404, "not_found"),
    ("update unknown id", "PATCH", E + "we_nope", m.key, {"url": "https://e.example/h"}, 404, "not_found"),
    ("delete other's", "DELETE", E + ep2["id"], other.key, None, 404, "not_found"),
    ("delete as admin", "DELETE", E + ep2["id"], key("admin"), None, 403, "forbidden"),
    ("rotate bad overlap", "POST", E + ep2["id"] + "/rotate-secret", m.key, {"overlap_seconds": -1}, 400,
     "invalid_request"),
    ("rotate huge overlap", "POST", E + ep2["id"] + "/rotate-secret", m.key, {"overlap_seconds": 10 ** 9}, 400,
     "invalid_request"),
    ("rotate other's", "POST", E + ep2["id"] + "/rotate-secret", other.key, None, 404, "not_found"),
    ("health as merchant", "GET", E + ep2["id"] + "/health", m.key, None, 403, "forbidden"),
    ("health unknown", "GET", E + "we_nope/health", viewer, None, 404, "not_found"),
    ("disable as viewer", "POST", E + ep2["id"] + "/disable", viewer, None, 403, "forbidden"),
    ("disable as ops", "POST", E + ep2["id"] + "/disable", ops, None, 403, "forbidden"),
    ("disable as merchant", "POST", E + ep2["id"] + "/disable", m.key, None, 403, "forbidden"),
    ("disable unknown", "POST", E + "we_nope/disable", sup, None, 404, "not_found"),
    ("disable bad field", "POST", E + ep2["id"] + "/disable", sup, {"why": "x"}, 400, "unknown_field"),
    ("enable enabled", "POST", E + ep2["id"] + "/enable", sup, None, 409, "invalid_state"),
    ("recover no window", "POST", E + ep2["id"] + "/recover", sup, {}, 400, "invalid_request"),
    ("recover reversed", "POST", E + ep2["id"] + "/recover", sup,
     {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 422, "invalid_window"),
    ("recover empty window", "POST", E + ep2["id"] + "/recover", sup,
     {"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 422, "invalid_window"),
    ("recover not rfc3339", "POST", E + ep2["id"] + "/recover", sup,
     {"since": "yesterday", "until": "2026-01-01T00:00:00Z"}, 422, "invalid_window"),
    ("recover month 13", "POST", E + ep2["id"] + "/recover", sup,
     {"since": "2026-13-01T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, 422, "invalid_window"),
    ("recover too long", "POST", E + ep2["id"] + "/recover", sup,
     {"since": "2025-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, 422, "invalid_window"),
    ("recover in future", "POST", E + ep2["id"] + "/recover", sup,
     {"since": "2099-01-01T00:00:00Z", "until": "2099-01-02T00:00:00Z"}, 422, "invalid_window"),
    ("recover as viewer", "POST", E + ep2["id"] + "/recover", viewer,
     {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}, 403, "forbidden"),
    ("recover unknown", "POST", E + "we_nope/recover", sup,
     {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"}, 404, "not_found"),
    ("preview missing until", "GET", E + ep2["id"] + "/recover-preview?since=2026-01-01T00:00:00Z", viewer, None,
     400, "invalid_request"),
    ("preview unknown param", "GET", E + ep2["id"] + "/recover-preview?" + W + "&x=1", viewer, None, 400,
     "unknown_parameter"),
    ("preview as merchant", "GET", E + ep2["id"] + "/recover-preview?" + W, m.key, None, 403, "forbidden"),
    ("job unknown", "GET", "/v1/webhook-recover-jobs/wrj_999999999", viewer, None, 404, "not_found"),
    ("job malformed", "GET", "/v1/webhook-recover-jobs/42", viewer, None, 404, "not_found"),
    ("deliveries bad status", "GET", "/v1/webhook-deliveries?status=lost", viewer, None, 400, "invalid_parameter"),
    ("deliveries bad type", "GET", "/v1/webhook-deliveries?event_type=payment.paid", viewer, None, 400,
     "invalid_parameter"),
    ("deliveries bad since", "GET", "/v1/webhook-deliveries?since=now", viewer, None, 400, "invalid_parameter"),
    ("deliveries bad cursor", "GET", "/v1/webhook-deliveries?cursor=abc", viewer, None, 400, "invalid_parameter"),
    ("deliveries bad limit", "GET", "/v1/webhook-deliveries?limit=0", viewer, None, 400, None),
    ("deliveries unknown endpoint", "GET", "/v1/webhook-deliveries?endpoint=we_nope", viewer, None, 400,
     "invalid_parameter"),
    ("deliveries unknown param", "GET", "/v1/webhook-deliveries?merchant=1", viewer, None, 400, "unknown_parameter"),
    ("deliveries as merchant", "GET", "/v1/webhook-deliveries", m.key, None, 403, "forbidden"),
    ("delivery unknown", "GET", "/v1/webhook-deliveries/" + dl, viewer, None, 404, "not_found"),
    ("delivery malformed", "GET", "/v1/webhook-deliveries/whd_x", viewer, None, 404, "not_found"),
    ("retry unknown", "POST", "/v1/webhook-deliveries/" + dl + "/retry", sup, None, 404, "not_found"),
    ("retry as viewer", "POST", "/v1/webhook-deliveries/" + dl + "/retry", viewer, None, 403, "forbidden"),
    ("retry bad field", "POST", "/v1/webhook-deliveries/" + dl + "/retry", sup, {"now": True}, 400, "unknown_field"),
]
before = row_counts()
for name, method, path, k, body, status, code in cases:
    if isinstance(body, str):
        st, b, _ = srv.call(method, path, key=k, raw=body)
    else:
        st, b, _ = srv.call(method, path, key=k, body=body)
    good = st == status and isinstance(b, dict) and "error" in b and (code is None or b["error"]["code"] == code)
    ok(good, "bad input: %s → %d %s" % (name, status, code or ""), "got %r %r" % (st, b))
after = row_counts()
is_({t: after[t] for t in after if after[t] != before[t] and t not in ("change_log",)}, {},
    "bad input changed no row (apart from keys' last_used_at)")

# ---------------------------------------------------------------- limits, delete
st, _, _ = srv.call("DELETE", E + ep2["id"], key=m.key)
is_(st, 200, "delete answers 200")
is_(srv.call("GET", E + ep2["id"], key=m.key)[0], 404, "a deleted endpoint is gone for the merchant")
is_(srv.call("GET", E + ep2["id"] + "/health", key=viewer)[1]["status"], "deleted", "operators still see it, deleted")
n = len(srv.call("GET", E0, key=m.key)[1]["data"])
for i in range(20 - n):
    create_endpoint(srv, m, "https://e%d.example/h" % i)
st, b, _ = srv.call("POST", E0, key=m.key, body={"url": "https://one-too-many.example/h"})
is_((st, b["error"]["code"]), (409, "too_many_endpoints"), "at most 20 endpoints per merchant and environment")
ok(srv.alive(), "raild still serving")
