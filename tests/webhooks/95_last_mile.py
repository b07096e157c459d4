#!/usr/bin/env python3
"""The webhook last mile (issue 13 §3):
- a delivery whose schedule runs out emits `delivery.exhausted` to the merchant's *other*
  endpoints — once per delivery, never to the failing endpoint, never about a notice — and
  counts in /metrics;
- an endpoint whose every attempt has failed for RAILD_WEBHOOK_DISABLE_AFTER (a clock moved
  in the database: failing_since six days ago) is disabled on its next failure, by 'raild'
  with the reason recorded; its pending deliveries fail; `endpoint.disabled` goes to the
  merchant's other endpoints; the API shows reason and who;
- 502 and 504 honour Retry-After like 503;
- a bad RAILD_WEBHOOK_DISABLE_AFTER stops the dispatcher with a message naming it."""
import json, os, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wh import *
from rt import RAILD

for bad in ("banana", "0", "30s", "91d", "5x", "-3"):
    r = subprocess.run([RAILD, "dispatch"], capture_output=True, text=True, timeout=20,
                       env=dict(os.environ, RAILD_WEBHOOK_DISABLE_AFTER=bad))
    ok(r.returncode != 0 and "RAILD_WEBHOOK_DISABLE_AFTER" in r.stderr,
       "RAILD_WEBHOOK_DISABLE_AFTER=%s is refused, naming the variable" % bad, r.stderr[-300:])

os.environ.update(RAILD_WEBHOOK_TIMEOUT_MS="1000", RAILD_WEBHOOK_LEASE_S="3", RAILD_WEBHOOK_RETRY_SCHEDULE="1,1")
srv = Raild()                                     # serve, with its dispatcher: /metrics counts
m = Merchant()
SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="
bad_recv = Receiver([SECRET], "--status", "500")
good_recv = Receiver([SECRET])
bad_ep = create_endpoint(srv, m, bad_recv.url)
good_ep = create_endpoint(srv, m, good_recv.url)
bad_recv.set_secrets([bad_ep["secret"]])
good_recv.set_secrets([good_ep["secret"]])
time.sleep(1.1)

ev = insert_events(m.id, 3, tag=uniq("lm"))
ok(wait_for(lambda: delivery_counts(bad_ep["id"]).get("failed") == 3, timeout=30),
   "the failing endpoint's three deliveries run out of schedule (3 attempts each)", delivery_counts(bad_ep["id"]))


def notices(recv, kind):
    return [json.loads(e["body"]) for e in recv.events() if e["type"] == kind]


ok(wait_for(lambda: len(notices(good_recv, "delivery.exhausted")) == 3, timeout=20),
   "the other endpoint gets a delivery.exhausted for each (%d)" % len(notices(good_recv, "delivery.exhausted")))
got = notices(good_recv, "delivery.exhausted")
is_(sorted(n["data"]["event_id"] for n in got), sorted(ev), "…naming the event that was not delivered")
ok(all(n["data"]["endpoint"] == bad_ep["id"] and n["data"]["attempts"] == 3 and n["data"]["last_http_status"] == 500
       for n in got), "…the endpoint, 3 attempts, last status 500", got[:1])
ok(all(n["environment"] == "sandbox" and n["id"].startswith("evt_") for n in got), "…in the event envelope")
is_(sql1("SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
         " WHERE e.public_id = :'p' AND d.event_type = 'delivery.exhausted'", p=bad_ep["id"]), "0",
    "the failing endpoint is not sent its own notices")
time.sleep(2)
is_(len(notices(good_recv, "delivery.exhausted")), 3, "exactly once each")
metrics = srv.call("GET", "/metrics")[1]
ok("raild_webhook_deliveries_exhausted_total 3" in metrics, "/metrics counts them",
   [l for l in metrics.splitlines() if "exhausted" in l])

# the clock moved: the endpoint has failed every attempt for six days
sql("UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE public_id = :'p'", p=bad_ep["id"])
insert_events(m.id, 1, tag=uniq("lm2"))
ok(wait_for(lambda: sql1("SELECT status FROM webhook_endpoints WHERE public_id = :'p'", p=bad_ep["id"]) == "disabled",
            timeout=20), "after six days of failures the next failure disables the endpoint")
row = sql("SELECT disabled_by, disabled_reason, disabled_at IS NOT NULL FROM webhook_endpoints WHERE public_id = :'p'",
          p=bad_ep["id"])[0]
ok(row[0] == "raild" and "every attempt failed since" in row[1] and row[2] == "t",
   "…by raild, with the reason recorded: %s" % row[1])
st, got_ep, _ = srv.call("GET", "/v1/webhook-endpoints/" + bad_ep["id"], key=m.key)
ok(st == 200 and got_ep["status"] == "disabled" and got_ep["disabled_by"] == "raild" and got_ep["disabled_reason"],
   "the API shows the status, reason and who", got_ep)
ok(wait_for(lambda: len(notices(good_recv, "endpoint.disabled")) == 1, timeout=20),
   "endpoint.disabled reaches the merchant's other endpoint")
n = notices(good_recv, "endpoint.disabled")
ok(n and n[0]["data"]["endpoint"] == bad_ep["id"] and n[0]["data"]["disabled_by"] == "raild",
   "…naming the endpoint and who disabled it", n[:1])
is_(sql1("SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
         " WHERE e.public_id = :'p' AND d.status = 'pending'", p=bad_ep["id"]), "0", "nothing waits on it any more")
metrics = srv.call("GET", "/metrics")[1]
ok("raild_webhook_endpoints_disabled_total 1" in metrics, "/metrics counts the disabled endpoint")
sup = key("support")
st, b, _ = srv.call("POST", "/v1/webhook-endpoints/%s/enable" % bad_ep["id"], key=sup, body={"reason": "fixed"})
is_(st, 200, "support enables it again", b)
is_(sql("SELECT status, disabled_by, failing_since FROM webhook_endpoints WHERE public_id = :'p'", p=bad_ep["id"])[0],
    ["enabled", "", ""], "…which clears who disabled it and the failing clock")

# 502 with Retry-After waits as asked, like 503
m2 = Merchant()
slow = Receiver([SECRET], "--status", "502", "--retry-after", "4")
ep2 = create_endpoint(srv, m2, slow.url)
slow.set_secrets([ep2["secret"]])
time.sleep(1.1)
insert_events(m2.id, 1, tag=uniq("lm3"))
ok(wait_for(lambda: sql1("SELECT attempts FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                         " WHERE e.public_id = :'p'", p=ep2["id"]) == "1" and
            sql1("SELECT d.status FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                 " WHERE e.public_id = :'p'", p=ep2["id"]) == "pending", timeout=15), "a 502 leaves it pending")
wait = float(sql1("SELECT extract(epoch FROM d.next_attempt_at - a.finished_at) FROM webhook_deliveries d"
                  " JOIN webhook_endpoints e ON e.id = d.endpoint_id JOIN webhook_attempts a ON a.delivery_id = d.id"
                  " WHERE e.public_id = :'p'", p=ep2["id"]))
ok(3.5 < wait < 5, "…and the next attempt waits the Retry-After of 4 s, not the 1 s schedule (%.1f s)" % wait)
for r_ in (bad_recv, good_recv, slow):
    r_.stop()
srv.stop()
