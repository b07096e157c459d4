#!/usr/bin/env python3
"""Per-endpoint rate limit (issue 13 §3), set by support through the API: at most N
deliveries a second to an endpoint across every dispatcher. Two `raild dispatch` copies share
a backlog of 40 events for an endpoint limited to 5/s: counted at the receiver (arrival
times), no second sees more than the limit allows, the backlog takes the ~8 s it must, both
copies sent some; lifting the limit lets the rest go at once. Bad input is refused with a
code and changes nothing."""
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wh import *
from rt import RAILD

os.environ.update(RAILD_WEBHOOK_TIMEOUT_MS="2000", RAILD_WEBHOOK_LEASE_S="5")
srv = Raild("--no-dispatch")
m = Merchant()
SECRET = "whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="
recv = Receiver([SECRET])
ep = create_endpoint(srv, m, recv.url)
recv.set_secrets([ep["secret"]])
sup, viewer = key("support"), key("viewer")
P = "/v1/webhook-endpoints/%s/rate-limit" % ep["id"]


def limit_now():
    return sql1("SELECT coalesce(rate_limit_per_s::text, 'none') FROM webhook_endpoints WHERE public_id = :'p'",
                p=ep["id"])


audits = lambda: sql1("SELECT count(*) FROM audit_log WHERE action = 'webhook_endpoint.rate_limit'"
                      " AND object_id = :'p'", p=ep["id"])
for label, body, k, want in [
    ("zero", {"per_second": 0}, sup, (400, "invalid_request")),
    ("above 10000", {"per_second": 10001}, sup, (400, "invalid_request")),
    ("a string", {"per_second": "5"}, sup, (400, "invalid_request")),
    ("a fraction", {"per_second": 1.5}, sup, (400, "invalid_request")),
    ("missing", {"reason": "x"}, sup, (400, "invalid_request")),
    ("an unknown field", {"per_second": 5, "burst": 10}, sup, (400, "unknown_field")),
    ("a control character in the reason", {"per_second": 5, "reason": "a\u0007b"}, sup, (400, "invalid_request")),
    ("a viewer key", {"per_second": 5}, viewer, (403, "forbidden")),
    ("the merchant's key", {"per_second": 5}, m.key, (403, "forbidden")),
]:
    st, b, _ = srv.call("POST", P, key=k, body=body)
    is_((st, (b.get("error") or {}).get("code") if isinstance(b, dict) else None), want, "rate limit %s -> %s" % (label, want), b)
is_((limit_now(), audits()), ("none", "0"), "…and nothing changed")

st, b, _ = srv.call("POST", P, key=sup, body={"per_second": 5, "reason": "the merchant's server falls over above 5/s"})
is_(st, 200, "support sets 5 deliveries a second", b)
is_((limit_now(), audits()), ("5", "1"), "stored, and audited")
st, e, _ = srv.call("GET", "/v1/webhook-endpoints/" + ep["id"], key=m.key)
is_(e.get("rate_limit_per_s"), 5, "the endpoint's JSON shows it", e)


ev = insert_events(m.id, 40, tag=uniq("rl"))
t0 = time.time()
ds = [dispatcher("a"), dispatcher("b")]
ok(wait_for(lambda: set(ev) <= recv.unique_ids(), timeout=40, interval=0.1), "all 40 arrive in the end")
took = time.time() - t0
arrivals = sorted(e["at_ms"] for e in recv.events() if e["webhook_id"] in set(ev))
per_second = {}
for a in arrivals:
    per_second[a // 1000] = per_second.get(a // 1000, 0) + 1
busiest = max(per_second.values())
ok(busiest <= 6, "counted at the receiver, no second gets more than the limit (busiest second: %d, by second: %s)"
   % (busiest, sorted(per_second.values(), reverse=True)[:6]))
span = (arrivals[-1] - arrivals[0]) / 1000.0
ok(span >= 6.0, "40 at 5/s take the time they must (%.1f s from first to last)" % span)
ok(span <= 20.0, "…and the limit is used, not starved (%.1f s)" % span)
# an attempt's row is written when its result is recorded, a moment after the receiver saw it
recorded = lambda: int(sql1("SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                            " WHERE e.public_id = :'p' AND d.status = 'succeeded' AND d.event_id = ANY(:'ev'::text[])",
                            p=ep["id"], ev="{%s}" % ",".join(ev)))
ok(wait_for(lambda: recorded() == len(ev), timeout=10), "all 40 recorded succeeded", recorded())
who = sql("SELECT DISTINCT a.dispatcher FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id"
          " WHERE e.public_id = :'p'", p=ep["id"])
is_(len(who), 2, "both dispatcher copies sent some: the limit held across them", who)

st, b, _ = srv.call("POST", P, key=sup, body={"per_second": None, "reason": "fixed on their side"})
is_((st, limit_now()), (200, "none"), "support lifts the limit (null)", b)
more = insert_events(m.id, 30, tag=uniq("rl2"))
t1 = time.time()
ok(wait_for(lambda: set(more) <= recv.unique_ids(), timeout=20, interval=0.05), "without it 30 more arrive")
ok(time.time() - t1 < 4, "…at once (%.1f s)" % (time.time() - t1))
for p in ds:
    stop_dispatcher(p)
recv.stop()
srv.stop()
