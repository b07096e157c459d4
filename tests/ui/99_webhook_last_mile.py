#!/usr/bin/env python3
"""The webhook last mile in the console (issue 13 §3), through the real railtop in tmux:
support sets an endpoint's rate limit with L (a bad number is refused on the spot, the
confirmation states the change, the database and the audit log have it), a delivery's detail
shows the attempt in flight (from the delivery's lease: its row is written when it ends) above
the finished ones, and an endpoint raild disabled shows who disabled it and why in the footer."""
import os, re, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uikit import *

srv = Raild("--no-dispatch")
SUP = admin("create-key", "--role", "support", "--name", uniq("ui-sup"), "--env", "sandbox", check=True)[1].strip()
m = Merchant(rails=("tron:usdt",), addresses=2)
port = free_port()
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": "http://127.0.0.1:%d/hook" % port})
ok(st == 201, "setup: an endpoint", ep)

s = Console(api=srv.base, key_file=key_file(SUP))
s.keys("3")
s.wait("Webhook endpoints")
s.keys(":")
s.type("webhooks merchant=" + m.name)
s.keys("Enter")
ok(s.wait("%d/hook" % port) is not None, "support: the endpoint", s.text())
s.keys("L")
ok(s.wait("deliveries a second") is not None and "now none" in s.text(), "L asks for the rate, saying there is none",
   s.text())
s.type("fast")
s.keys("Enter")
ok(s.wait("'fast' is not a rate") is not None, "a bad number is refused on the spot", s.text())
is_(sql1("SELECT coalesce(rate_limit_per_s::text, 'none') FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"]),
    "none", "…nothing changed")
s.keys("L")
s.wait("deliveries a second")
s.type("7")
s.keys("Enter")
s.wait("reason")
s.type("their server falls over")
s.keys("Enter")
ok(s.wait("Set the rate limit?") is not None and "rate limit none → 7" in s.text(), "the confirmation states the change",
   s.text())
s.keys("Tab", "Enter")
ok(s.wait("rate limit of %s: 7" % ep["id"]) is not None, "status line", s.text())
is_(sql1("SELECT rate_limit_per_s FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"]), "7", "stored")
is_(sql1("SELECT count(*) FROM audit_log WHERE action = 'webhook_endpoint.rate_limit' AND object_id = :'p'"
         " AND reason = 'their server falls over'", p=ep["id"]), "1", "audited with the reason")

# a delivery whose second attempt is in flight: attempt rows are written when attempts end, so
# the detail shows the finished #1 from its row and the running #2 from the delivery's lease
sql("WITH o AS (INSERT INTO webhook_outbox (event_id, merchant_id, environment, type, sequence, payload, fanned_out_at)"
    "  VALUES (:'ev', :m, 'sandbox', 'payment.finalized', 1, '{}', now()) RETURNING id),"
    " d AS (INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_id, event_type, merchant_id, environment,"
    "  status, attempts, next_attempt_at, in_flight_until, leased_by)"
    "  SELECT e.id, o.id, :'ev', 'payment.finalized', :m, 'sandbox', 'in_flight', 2, now() + interval '10 minutes',"
    "         now() + interval '10 minutes', 'disp-ui-test' FROM o, webhook_endpoints e WHERE e.public_id = :'p'"
    "  RETURNING id, endpoint_id)"
    " INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, dispatcher, started_at, finished_at,"
    "  duration_ms, http_status, error, success)"
    " SELECT id, endpoint_id, 1, 'scheduled', 'disp-ui-test', now() - interval '1 minute', now() - interval '1 minute',"
    "  12, 503, 'HTTP 503', false FROM d", ev=uniq("evt_ui_inflight"), m=m.id, p=ep["id"])
s.keys("Enter")
ok(s.wait("Deliveries to " + ep["id"]) is not None, "Enter lists the endpoint's deliveries", s.text())
ok(s.wait("in_flight") is not None, "the delivery shows in flight", s.text())
s.keys("Enter")
ok(s.wait(re.compile(r"Delivery #\d+  payment\.finalized  in_flight")) is not None, "Enter opens it", s.text())
t = s.wait("in flight: sent by disp-ui-test, lease until")
ok(t is not None and re.search(r"#2 +in flight", t) and re.search(r"#1 .*HTTP 503", t),
   "the running attempt #2 shows from the lease, the finished #1 from its row", s.text())
s.keys("Escape")
ok(s.wait("Deliveries to " + ep["id"]) is not None, "Esc: back to the deliveries", s.text())
s.keys("Escape")
ok(s.wait("Webhook endpoints") is not None, "Esc: back to the endpoints", s.text())

sql("UPDATE webhook_endpoints SET status = 'disabled', disabled_by = 'raild', disabled_at = now(),"
    " disabled_reason = 'every attempt failed since 2026-11-25T10:00:00.000Z (more than 432000 s:"
    " RAILD_WEBHOOK_DISABLE_AFTER)' WHERE public_id = :'p'", p=ep["id"])
ok(s.wait("disabled by raild: every attempt failed since") is not None,
   "an endpoint raild disabled shows who and why, live", s.text())
s.close()
srv.stop()
