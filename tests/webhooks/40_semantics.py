#!/usr/bin/env python3
"""Delivery semantics against a misbehaving receiver: 410 disables the endpoint, 429 and 503
honour Retry-After, a hang past the timeout is recorded as a timeout, a receiver that stops
listening for a while is retried; every attempt is recorded (status, response excerpt, error,
duration, signature); event_types filters the fan-out; disabled endpoints get no traffic;
operators list, read and retry deliveries. Also the reference receiver's own checks."""
import os, sys, time, json, base64, hmac, hashlib, urllib.request, urllib.error
sys.path.insert(0, os.path.dirname(__file__))
from wh import *

os.environ.update(RAILD_WEBHOOK_TIMEOUT_MS="1000", RAILD_WEBHOOK_LEASE_S="3", RAILD_WEBHOOK_RETRY_SCHEDULE="1,1,1")
srv = Raild()
sup, viewer = key("support"), key("viewer")
SECRET0 = "whsec_" + base64.b64encode(b"x" * 32).decode()


def attempt_writes():
    """(rows inserted, rows updated) into webhook_attempts' partitions so far, from PostgreSQL's
    own counters (flushed by each backend within about a second)"""
    r = sql("SELECT coalesce(sum(n_tup_ins), 0), coalesce(sum(n_tup_upd), 0) FROM pg_stat_user_tables"
            " WHERE relname LIKE 'webhook_attempts%'")[0]
    return int(r[0]), int(r[1])


writes0 = attempt_writes()
rows0 = int(sql1("SELECT count(*) FROM webhook_attempts"))


def setup(*flags, **ep_extra):
    m = Merchant()
    r = Receiver([SECRET0], *flags)
    ep = create_endpoint(srv, m, r.url, **ep_extra)
    r.set_secrets([ep["secret"]])
    return m, r, ep


def deliveries(ep, **q):
    q["endpoint"] = ep["id"]
    qs = "&".join("%s=%s" % kv for kv in q.items())
    st, b, _ = srv.call("GET", "/v1/webhook-deliveries?" + qs, key=viewer)
    assert st == 200, (st, b)
    return b


def one(ep, ev):
    d = [x for x in deliveries(ep, limit=500)["data"] if x["event_id"] == ev]
    if not d:   # not fanned out yet
        return {"attempts": [], "status": None, "attempt_count": 0}
    d = d[0]
    return srv.call("GET", "/v1/webhook-deliveries/" + d["id"], key=viewer)[1]


# ---------------------------------------------------------------- the reference receiver's checks
m, recv, ep = setup()
body = b'{"id":"evt_manual","type":"payment.confirmed"}'


def post(body, wid, ts, sig):
    req = urllib.request.Request(recv.url, data=body, method="POST", headers={
        "webhook-id": wid, "webhook-timestamp": str(ts), "webhook-signature": sig})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def sign(secret, wid, ts, body):
    k = base64.b64decode(secret[6:])
    return "v1," + base64.b64encode(hmac.new(k, b"%s.%d.%s" % (wid.encode(), ts, body), hashlib.sha256).digest()).decode()


now = int(time.time())
good = sign(ep["secret"], "evt_manual", now, body)
is_(post(body, "evt_manual", now, good)[0], 200, "receiver: a correctly signed request is accepted")
is_(post(body, "evt_manual", now, good)[1].get("duplicate"), True, "receiver: the same webhook-id again is a duplicate")
is_(post(body + b" ", "evt_manual2", now, good)[1]["error"]["code"], "bad_signature", "receiver: tampered body → 401")
is_(post(body, "evt_manual3", now - 301, sign(ep["secret"], "evt_manual3", now - 301, body))[1]["error"]["code"],
    "bad_timestamp", "receiver: a timestamp over 5 minutes old is rejected")
is_(post(body, "evt_manual4", now, "v1,AAAA " + sign(ep["secret"], "evt_manual4", now, body))[0], 200,
    "receiver: any one of several signatures may match")
is_(post(b"not json", "evt_manual5", now, sign(ep["secret"], "evt_manual5", now, b"not json"))[1]["error"]["code"],
    "bad_body", "receiver: the body is parsed only after verifying, and must be an envelope")
recv.stop()

# ---------------------------------------------------------------- 410 disables
m, recv, ep = setup("--status", "410")
ev = insert_events(m.id, 3)
ok(wait_for(lambda: srv.call("GET", "/v1/webhook-endpoints/%s/health" % ep["id"], key=viewer)[1]["status"] == "disabled",
            timeout=15), "410 Gone disables the endpoint")
h = srv.call("GET", "/v1/webhook-endpoints/%s/health" % ep["id"], key=viewer)[1]
ok("410" in h["disabled_reason"], "the reason says 410 (%s)" % h["disabled_reason"])
ok(wait_for(lambda: delivery_counts(ep["id"]) == {"failed": 3}, timeout=10), "its deliveries end failed, not retried",
   delivery_counts(ep["id"]))
is_(int(sql1("SELECT max(attempts) FROM webhook_deliveries WHERE endpoint_id = :'e'", e=endpoint_row_id(ep["id"]))),
    1, "no delivery was attempted after the 410")
insert_events(m.id, 2)
ok(wait_for(lambda: delivery_counts(ep["id"]) == {"failed": 5}, timeout=10),
   "new events for a disabled endpoint are recorded failed ('endpoint disabled') for a later recover")
is_(recv.stats()["injected"], 3, "the receiver got only the 3 first attempts")
d = one(ep, ev[0])
is_((d["attempts"][0]["http_status"], d["attempts"][0]["success"]), (410, False), "attempt records HTTP 410")
ok("simulated status" in d["attempts"][0]["response_body"], "attempt records the response body excerpt")
st, b, _ = srv.call("POST", "/v1/webhook-deliveries/%s/retry" % d["id"], key=sup)
is_((st, b.get("error", {}).get("code")), (409, "endpoint_disabled"), "retry on a disabled endpoint is 409")
recv.stop()

# ---------------------------------------------------------------- 429 / 503 honour Retry-After
for code in (429, 503):
    m, recv, ep = setup("--status", str(code), "--retry-after", "2")
    ev = insert_events(m.id, 1)
    ok(wait_for(lambda: len(one(ep, ev[0])["attempts"]) >= 2, timeout=15), "%d: retried" % code)
    a = one(ep, ev[0])["attempts"]
    t = [time.mktime(time.strptime(x["started_at"][:19], "%Y-%m-%dT%H:%M:%S")) + float("0" + x["started_at"][19:23])
         for x in a[:2]]
    ok(1.9 <= t[1] - t[0] <= 3.0, "%d: the retry waited Retry-After 2 s, not the 1 s schedule (%.2f s)"
       % (code, t[1] - t[0]))
    is_(a[0]["http_status"], code, "%d recorded" % code)
    recv.stop()

# ---------------------------------------------------------------- a hang past the timeout
m, recv, ep = setup("--hang-ms", "2500")
ev = insert_events(m.id, 1)
d = wait_for(lambda: (lambda x: x if x["status"] == "in_flight" else None)(one(ep, ev[0])), timeout=10, interval=0.05)
ok(d is not None and d.get("attempt_count") == 1 and d.get("attempts") == [],
   "while the request hangs the delivery is in flight and counts the attempt; its row comes when it ends",
   d and {k: d.get(k) for k in ("status", "attempt_count", "attempts")})
ok(wait_for(lambda: len(one(ep, ev[0])["attempts"]) >= 1 and one(ep, ev[0])["attempts"][0]["finished_at"],
            timeout=15), "hung attempt finished")
a = one(ep, ev[0])["attempts"][0]
ok(a["error"].startswith("timeout") and a["http_status"] is None and 900 <= a["duration_ms"] <= 2000,
   "a hang is recorded as a timeout after ~1 s (%s, %s ms)" % (a["error"][:40], a["duration_ms"]))
recv.control(hang_ms=0)
ok(wait_for(lambda: one(ep, ev[0])["status"] == "succeeded", timeout=10), "…and the retry gets through")
recv.stop()

# a slow endpoint does not starve a healthy one
m, slow, ep_slow = setup("--hang-ms", "3000")
m2, fast, ep_fast = setup()
insert_events(m.id, 40)
time.sleep(0.3)
t0 = time.time()
ev = insert_events(m2.id, 20)
ok(wait_for(lambda: set(ev) <= fast.unique_ids(), timeout=10), "a healthy endpoint is served while another hangs")
ok(time.time() - t0 < 3, "…promptly (%.2f s)" % (time.time() - t0))
slow.stop()
fast.stop()

# ---------------------------------------------------------------- stop listening for a while
m, recv, ep = setup()
recv.control(down_ms=2500)   # long enough that the first attempt is refused even on a loaded machine
time.sleep(0.4)
ev = insert_events(m.id, 2)
ok(wait_for(lambda: set(ev) <= recv.unique_ids(), timeout=15), "receiver stopped listening, came back: delivered")
a = one(ep, ev[0])["attempts"]
ok(len(a) >= 2 and "refused" in a[0]["error"] and a[-1]["success"], "first attempt refused, a retry succeeded")
ok(a[-1]["signature"].startswith("v1,") and a[-1]["webhook_timestamp"] > 0,
   "the attempt records the signature header sent")
recv.stop()

# ---------------------------------------------------------------- event_types filter, operator views
m = Merchant()
recv = Receiver([SECRET0])
ep_f = create_endpoint(srv, m, recv.url, event_types=["payment.finalized"])
ep_all = create_endpoint(srv, m, recv.url)
recv.set_secrets([ep_f["secret"], ep_all["secret"]])
fin = insert_events(m.id, 2, type_="payment.finalized")
conf = insert_events(m.id, 3, type_="payment.confirmed")
ok(wait_for(lambda: delivery_counts(ep_all["id"]).get("succeeded") == 5 and
            delivery_counts(ep_f["id"]).get("succeeded") == 2, timeout=15), "fan-out honours event_types",
   (delivery_counts(ep_all["id"]), delivery_counts(ep_f["id"])))
is_({d["event_type"] for d in deliveries(ep_f)["data"]}, {"payment.finalized"}, "filtered endpoint got finalized only")
page1 = deliveries(ep_all, limit=2)
page2 = deliveries(ep_all, limit=2, cursor=page1["next_cursor"])
page3 = deliveries(ep_all, limit=2, cursor=page2["next_cursor"])
ids = [d["id"] for d in page1["data"] + page2["data"] + page3["data"]]
is_((len(ids), len(set(ids)), page3["next_cursor"]), (5, 5, None), "keyset pages cover every delivery once")
is_(len(deliveries(ep_all, event_type="payment.finalized")["data"]), 2, "filter by event type")
is_(len(deliveries(ep_all, status="succeeded")["data"]), 5, "filter by status")
is_(len(deliveries(ep_all, since="2099-01-01T00:00:00Z")["data"]), 0, "filter by time range")
d = one(ep_all, fin[0])
is_(json.loads(d["payload"])["id"], fin[0], "a delivery shows the payload sent")
is_((d["attempt_count"], d["attempts"][0]["trigger"], d["attempts"][0]["http_status"]), (1, "scheduled", 200),
    "…and its attempts")
dups = recv.stats()["duplicates"]
st, r, _ = srv.call("POST", "/v1/webhook-deliveries/%s/retry" % d["id"], key=sup, body={"reason": "merchant lost it"})
# the dispatcher is woken by the change at once, so by the reply it may already have claimed it
ok(st == 202 and (r["status"] in ("pending", "in_flight") and r["trigger"] == "manual" or r["status"] == "succeeded"),
   "support retries a delivery now (%s, %s)" % (r.get("status"), r.get("trigger")), r)
ok(wait_for(lambda: one(ep_all, fin[0])["attempt_count"] == 2 and one(ep_all, fin[0])["status"] == "succeeded",
            timeout=10), "the manual retry was sent")
a2 = one(ep_all, fin[0])["attempts"][1]
ok(a2["trigger"] == "manual" and a2["operator"], "the attempt records trigger manual and the operator")
is_(sql1("SELECT reason FROM audit_log WHERE action = 'webhook_delivery.retry' AND object_id = :'d'", d=d["id"]),
    "merchant lost it", "the retry is audited with its reason")
is_(recv.stats()["duplicates"], dups + 1, "the receiver deduplicated the resend")
ch = int(sql1("SELECT count(*) FROM change_log WHERE tbl IN ('webhook_deliveries', 'webhook_attempts')"
              " AND id > (SELECT max(id) - 2000 FROM change_log)"))
ok(ch > 0, "deliveries and attempts feed the change log")

# disable / delete stop traffic
st, _, _ = srv.call("POST", "/v1/webhook-endpoints/%s/disable" % ep_all["id"], key=sup)
n0 = len(recv.events())
insert_events(m.id, 2, type_="payment.finalized")
ok(wait_for(lambda: delivery_counts(ep_f["id"]).get("succeeded") == 4, timeout=10), "the other endpoint still gets events")
is_(delivery_counts(ep_all["id"]).get("failed"), 2, "the disabled endpoint's new deliveries are held as failed")
is_(len(recv.events()) - n0, 2, "…and nothing was sent to it")
srv.call("DELETE", "/v1/webhook-endpoints/" + ep_f["id"], key=m.key)
insert_events(m.id, 1, type_="payment.finalized")
time.sleep(0.5)
is_(delivery_counts(ep_f["id"]).get("succeeded"), 4, "a deleted endpoint gets no new deliveries")
recv.stop()

# ---------------------------------------------------------------- a flaky receiver: every attempt accounted for
m, recv, ep = setup("--fail-rate", "0.5")
ev = insert_events(m.id, 40)
EPF = endpoint_row_id(ep["id"])
ok(wait_for(lambda: set(delivery_counts(ep["id"])) <= {"succeeded", "failed"} and
            sum(delivery_counts(ep["id"]).values()) == 40, timeout=30), "a 50%-flaky receiver: every delivery settled",
   delivery_counts(ep["id"]))
st = recv.stats()
n500 = int(sql1("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :'e' AND http_status = 500", e=EPF))
n200 = int(sql1("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :'e' AND http_status = 200", e=EPF))
is_((n500, n200), (st["injected"], st["accepted"] + st["duplicates"]),
    "every attempt is recorded: %d failures and %d successes, as the receiver counted them" % (n500, n200))
c = delivery_counts(ep["id"])
is_(c.get("succeeded", 0), len(recv.unique_ids() & set(ev)), "succeeded deliveries = events the receiver accepted")
is_(int(sql1("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :'e' AND status = 'failed'"
             " AND attempts = 4", e=EPF)), c.get("failed", 0), "the failed ones used all 4 attempts (1 + 3 retries)")
h = srv.call("GET", "/v1/webhook-endpoints/%s/health" % ep["id"], key=sup)[1]["health"]
is_((h["attempts_24h"], h["successes_24h"]), (n500 + n200, n200),
    "24 h health (hourly counters) matches the attempt rows: %d attempts, %d successes" % (n500 + n200, n200))
ok(h["success_rate_24h"] is not None and abs(float(h["success_rate_24h"]) - n200 / (n500 + n200)) < 0.0001,
   "…and its success rate is their ratio (%s)" % h["success_rate_24h"])
recv.stop()

# ---------------------------------------------------------------- response bodies: first 2 KiB, stored as text
import http.server, threading


class Loud(http.server.BaseHTTPRequestHandler):
    """An endpoint that answers 500 with ~5000 bytes of UTF-8 whose 2048th byte splits a character."""
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b"a" + ("é" * 1500).encode() + b"z" * 1997
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


loud = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Loud)
threading.Thread(target=loud.serve_forever, daemon=True).start()
m = Merchant()
ep = create_endpoint(srv, m, "http://127.0.0.1:%d/hook" % loud.server_address[1])
ev = insert_events(m.id, 1)
ok(wait_for(lambda: len(one(ep, ev[0])["attempts"]) >= 1 and one(ep, ev[0])["attempts"][0]["finished_at"],
            timeout=10), "an attempt against a loud failing endpoint finished")
a = one(ep, ev[0])["attempts"][0]
b = a["response_body"]
is_(b, "a" + "é" * 1023, "the response excerpt is the first 2 KiB, cut back to whole UTF-8 characters")
is_((a["http_status"], a["error"]), (500, "HTTP 500"), "status and error recorded")
srv.call("POST", "/v1/webhook-endpoints/%s/disable" % ep["id"], key=sup)
loud.shutdown()

# ---------------------------------------------------------------- bad configuration fails loudly
import subprocess
from rt import RAILD
env = dict(os.environ)
for args, extra_env, name in [
        (["dispatch", "--retry-schedule", "1,,2"], {}, "an empty schedule step"),
        (["dispatch", "--retry-schedule", "5x"], {}, "an unknown unit"),
        (["dispatch", "--concurrency", "0"], {}, "concurrency 0"),
        (["dispatch", "--per-endpoint", "x"], {}, "a non-numeric per-endpoint"),
        (["dispatch", "--timeout-ms", "50"], {}, "a timeout under 100 ms"),
        (["dispatch", "--nope", "1"], {}, "an unknown option"),
        (["dispatch"], {"RAILD_WEBHOOK_RETRY_SCHEDULE": "soon"}, "a bad schedule in the environment"),
        (["dispatch"], {"RAILD_WEBHOOK_LEASE_S": "1"}, "a lease shorter than two timeouts"),
        (["serve", "--listen", "127.0.0.1:0"], {"RAILD_WEBHOOK_RETRY_SCHEDULE": "soon"},
         "serve with a bad schedule for its dispatch worker")]:
    e = dict(env, **extra_env)
    r = subprocess.run([RAILD] + args, capture_output=True, text=True, env=e, timeout=30)
    ok(r.returncode != 0 and ("RAILD_WEBHOOK" in r.stderr or "--" in r.stderr),
       "raild %s: %s is refused (exit %d)" % (args[0], name, r.returncode), r.stderr[-500:])

# each attempt's row is written once, complete, when the attempt ends: never updated after
ins0, upd0 = writes0
n_attempts_seen = int(sql1("SELECT count(*) FROM webhook_attempts")) - rows0
ok(n_attempts_seen > 20, "this test recorded its attempts (%d rows)" % n_attempts_seen)
ok(wait_for(lambda: attempt_writes()[0] - ins0 >= n_attempts_seen, timeout=10),
   "PostgreSQL's counters show this test's attempt rows inserted", (attempt_writes(), writes0, n_attempts_seen))
is_(attempt_writes()[1] - upd0, 0, "no attempt row was updated after it was written")

ok(srv.alive(), "raild still serving")
srv.stop()
