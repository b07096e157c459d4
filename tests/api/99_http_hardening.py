#!/usr/bin/env python3
"""What a security review found at the HTTP edge, each answered with a 4xx and nothing
changed: a control character in the path (%00 used to cut `PUT /v1/orders/a%00b` to "a") or
in a query value, hundreds of query parameters (used to hang the connection), C0/C1 controls
in stored free text (notes, descriptions, reasons; newline and tab are fine), and a second
raild on the same address (used to start and take half the requests)."""
import os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild("--no-workers")
m = Merchant(rails=("tron:usdt",), addresses=3)
orders0 = sql1("SELECT count(*) FROM orders")

st, b, _ = srv.call("PUT", "/v1/orders/a%00b", key=m.key, body={"status": "paid", "amount": "5", "rail": "tron:usdt"})
is_((st, b.get("error", {}).get("code")), (400, "invalid_path"), "PUT /v1/orders/a%00b -> 400 invalid_path", b)
is_(sql1("SELECT count(*) FROM orders"), orders0, "…and no order 'a' (or any) stored")
for path, want in (("/v1/payments/pay_%00", (400, "invalid_path")), ("/v1/payments/pay_%7f", (400, "invalid_path")),
                   ("/v1/payments/pay_x%01y", (404, "not_found")), ("/v1/orders/x%0Ay", (422, "invalid_reference"))):
    st, b, _ = srv.call("GET" if "payments" in path else "PUT", path, key=m.key,
                        body=None if "payments" in path else {"status": "paid", "amount": "5", "updated_at": "2026-11-26T10:00:00Z"})
    is_((st, b.get("error", {}).get("code")), want, "%s: another control character is refused as %s" % (path, want), b)
st, b, _ = srv.call("GET", "/v1/payments?reference=a%00b", key=m.key)
is_((st, b.get("error", {}).get("code")), (400, "invalid_request"), "a control character in a query value -> 400", b)
q = "&".join("a%d=1" % i for i in range(500))
st, b, _ = srv.call("GET", "/healthz?" + q)
is_((st, b.get("error", {}).get("code")), (414, "too_many_parameters"), "500 query parameters -> 414, not a hung connection", b)
st, b, _ = srv.call("GET", "/healthz?" + "&".join("a%d=1" % i for i in range(64)))
is_(st, 200, "64 parameters are still served")
st, b, _ = srv.call("GET", "/v1/payments?reference=a%20b%2Bc", key=m.key)
is_(st, 200, "ordinary escapes still decode", b)

# free text: C0/C1 controls refused, newline and tab kept
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": "http://127.0.0.1:9/h", "description": "ok\tfine\nline 2"})
is_(st, 201, "a description with a tab and a newline is accepted", ep)
n_ep = sql1("SELECT count(*) FROM webhook_endpoints")
for text, what in (("bell\a", "BEL"), ("\x1b[31mred", "ESC"), ("cr\r", "CR"), ("nel\u0085", "U+0085 (C1)"),
                   ("csi\u009b31m", "U+009B (C1)"), ("del\x7f", "DEL")):
    st, b, _ = srv.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": "http://127.0.0.1:9/h", "description": text})
    ok(st == 400 and b.get("error", {}).get("code") == "invalid_request" and "control character" in b["error"]["message"],
       "a description holding %s -> 400 naming the control character" % what, b)
is_(sql1("SELECT count(*) FROM webhook_endpoints"), n_ep, "…and no endpoint stored")
p = underpaid_tron_payment(srv, m, key("watcher", network="tron-nile"), uniq("ctl"))
exc = sql1("SELECT e.public_id FROM exceptions e JOIN payments py ON py.id = e.payment_id WHERE py.public_id = :'p'", p=p["id"])
ops = key("ops")
st, b, _ = srv.call("POST", "/v1/exceptions/%s/dismiss" % exc, key=ops, body={"version": 1, "note": "see \x1b]8;;http://x\x07"})
is_(st, 400, "an exception note with an escape sequence -> 400", b)
is_(sql1("SELECT state || ' ' || version FROM exceptions WHERE public_id = :'e'", e=exc), "open 1", "…and the exception is unchanged")
st, b, _ = srv.call("POST", "/v1/exceptions/%s/claim" % exc, key=ops, body={"version": 1, "note": "mine\tfor now"})
is_(st, 200, "a note with a tab is fine", b)
srv.call("DELETE", "/v1/webhook-endpoints/" + ep["id"], key=m.key)

# a second raild on the same address fails to start, with a message; the first keeps serving
log = os.path.join(LOGDIR, uniq("second") + ".log")
second = subprocess.run([RAILD, "serve", "--listen", "127.0.0.1:%d" % srv.port, "--no-workers"], capture_output=True,
                        text=True, timeout=20)
ok(second.returncode != 0 and "cannot listen on 127.0.0.1:%d" % srv.port in second.stderr,
   "a second raild on the same address exits with 'cannot listen'", (second.returncode, second.stderr[-300:]))
is_(srv.call("GET", "/healthz")[0], 200, "the first one still answers")
srv.stop()
