#!/usr/bin/env python3
"""Faults, with real processes on loopback:
 1. SIGKILL a dispatcher in the middle of a burst of 1,200 events, restart it: the receiver
    gets every event at least once (leases lapse and the work is re-claimed).
 2. Two dispatchers at once: never the same attempt in flight twice.
 3. Receiver down, then back: deliveries resume on the retry schedule by themselves; the
    ones that went dead are re-queued by an operator recover — exactly those in the window."""
import os, sys, time, signal, subprocess
sys.path.insert(0, os.path.dirname(__file__))
from wh import *
from rt import RAILD

# fast, test-sized settings (the defaults are 15 s timeouts and a 5 s … 10 h schedule)
os.environ.update(RAILD_WEBHOOK_TIMEOUT_MS="1000", RAILD_WEBHOOK_LEASE_S="3", RAILD_WEBHOOK_RETRY_SCHEDULE="1,2")

api = Raild("--no-dispatch", name="api")
sup, viewer = key("support"), key("viewer")


stop = stop_dispatcher      # (wh.py) by its PID; its log must hold no sanitizer report


# ------------------------------------------------------------------ 1. SIGKILL mid-burst
m = Merchant()
recv = Receiver(["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="])
ep = create_endpoint(api, m, recv.url)
recv.set_secrets([ep["secret"]])
recv.control(delay_ms=40)   # a slow (but healthy) merchant: there is always work in flight
N = 1200
ids = set(insert_events(m.id, N))
d1 = dispatcher("killed")
ok(wait_for(lambda: len(recv.unique_ids()) >= 200, timeout=60, interval=0.01), "deliveries started")
d1.send_signal(signal.SIGKILL)
d1.wait()
got_at_kill = len(recv.unique_ids() & ids)
inflight = int(sql1("SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                    " WHERE e.public_id = :'p' AND d.status = 'in_flight'", p=ep["id"]))
diag("at SIGKILL: %d of %d received, %d deliveries in flight (leased)" % (got_at_kill, N, inflight))
ok(got_at_kill < N, "the dispatcher was killed mid-burst (%d of %d delivered)" % (got_at_kill, N))
ok(inflight > 0, "the killed dispatcher left leased work in flight")
until = sql1("SELECT to_char(max(in_flight_until), 'HH24:MI:SS.MS') FROM webhook_deliveries WHERE status = 'in_flight'")
ok(until is not None, "in-flight deliveries show when their lease ends (in_flight_until %s)" % until)
d2 = dispatcher("restarted")
ok(wait_for(lambda: recv.unique_ids() >= ids, timeout=90, interval=0.2),
   "after a restart the receiver got every one of the %d events at least once" % N,
   "missing %d" % len(ids - recv.unique_ids()))
counts = wait_for(lambda: (lambda c: c if c.get("succeeded") == N else None)(delivery_counts(ep["id"])), timeout=20)
is_(delivery_counts(ep["id"]), {"succeeded": N}, "every delivery is recorded succeeded")
abandoned = int(sql1("SELECT count(*) FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id"
                     " WHERE e.public_id = :'p' AND a.error LIKE 'abandoned%'", p=ep["id"]))
ok(abandoned >= 1, "the lost attempts are recorded as abandoned (%d), not silently dropped" % abandoned)
open_attempts = int(sql1("SELECT count(*) FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id"
                         " WHERE e.public_id = :'p' AND a.finished_at IS NULL", p=ep["id"]))
is_(open_attempts, 0, "no attempt is left open")
dups = recv.stats()["duplicates"]
diag("duplicates after the crash (allowed, at-least-once): %d" % dups)
stop(d2)
recv.control(delay_ms=0)

# ------------------------------------------------------------------ 1b. SIGTERM mid-burst: a clean hand-back
recv.control(delay_ms=40)
ids_b = set(insert_events(m.id, 400))
d3 = dispatcher("terminated")
ok(wait_for(lambda: len(recv.unique_ids() & ids_b) >= 50, timeout=60, interval=0.01), "second burst started")
stop(d3)
is_(int(sql1("SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
             " WHERE e.public_id = :'p' AND d.status = 'in_flight'", p=ep["id"])), 0,
    "after SIGTERM nothing is left leased: unsent work was handed back at once")
is_(int(sql1("SELECT count(*) FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id"
             " WHERE e.public_id = :'p' AND a.finished_at IS NULL", p=ep["id"])), 0, "…and no attempt is left open")
d4 = dispatcher("after-term")
ok(wait_for(lambda: recv.unique_ids() >= ids_b, timeout=60, interval=0.2), "a new dispatcher delivers the rest")
stop(d4)
recv.control(delay_ms=0)

# ------------------------------------------------------------------ 2. two dispatchers at once
m2 = Merchant()
ep2 = create_endpoint(api, m2, recv.url)
recv.set_secrets([ep["secret"], ep2["secret"]])
da, db = dispatcher("twin-a"), dispatcher("twin-b")
time.sleep(0.5)
N2 = 1000
ids2 = set(insert_events(m2.id, N2))
ok(wait_for(lambda: delivery_counts(ep2["id"]).get("succeeded") == N2, timeout=90, interval=0.2),
   "two dispatchers delivered all %d events" % N2, delivery_counts(ep2["id"]))
stop(da)
stop(db)
rows = sql("SELECT a.dispatcher, count(*) FROM webhook_attempts a WHERE a.endpoint_id = :'e' GROUP BY 1",
           e=endpoint_row_id(ep2["id"]))
diag("attempts per dispatcher: %s" % rows)
is_(len(rows), 2, "both dispatchers did part of the work")
is_(int(sql1("SELECT count(*) FROM webhook_attempts WHERE endpoint_id = :'e'", e=endpoint_row_id(ep2["id"]))), N2,
    "exactly one attempt per delivery: no delivery was claimed twice")
is_(int(sql1("SELECT count(*) FROM (SELECT delivery_id FROM webhook_attempts WHERE endpoint_id = :'e'"
             " GROUP BY delivery_id HAVING count(*) > 1) x", e=endpoint_row_id(ep2["id"]))), 0,
    "no delivery has two attempts")
ev2 = [e for e in recv.events() if e["webhook_id"] in ids2]
is_((len(ev2), len({e["webhook_id"] for e in ev2})), (N2, N2), "the receiver saw each event exactly once")

# ------------------------------------------------------------------ 3. receiver down, back, recover
os.environ["RAILD_WEBHOOK_RETRY_SCHEDULE"] = "1,2"
srv = Raild(name="serve")   # the dispatcher as a worker inside raild serve
m3 = Merchant()
recv.stop()                 # the merchant's endpoint goes down
ep3 = create_endpoint(api, m3, recv.url)
recv.set_secrets([ep3["secret"]])
EP3 = endpoint_row_id(ep3["id"])
old = insert_events(m3.id, 2, tag=uniq("old"))          # fails, outside the recover window
time.sleep(1.2)
since = sql1("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
dead = insert_events(m3.id, 4, tag=uniq("dead"))        # fails, inside the window


def status_of(evs):
    return sorted(r[0] for r in sql("SELECT status FROM webhook_deliveries WHERE endpoint_id = :'e'"
                                    " AND event_id = ANY (string_to_array(:'ids', ','))", e=EP3, ids=",".join(evs)))


ok(wait_for(lambda: status_of(dead) == ["failed"] * 4 and status_of(old) == ["failed"] * 2, timeout=30),
   "with the receiver down, deliveries fail after 1 + 2 retries")
att = sql("SELECT a.attempt_no, extract(epoch FROM a.started_at), a.error, a.trigger FROM webhook_attempts a"
          " JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.event_id = :'e' AND d.endpoint_id = :'ep'"
          " ORDER BY a.attempt_no", e=dead[0], ep=EP3)
is_([int(a[0]) for a in att], [1, 2, 3], "three attempts recorded")
gaps = [float(att[i + 1][1]) - float(att[i][1]) for i in range(2)]
ok(0.85 <= gaps[0] <= 1.6 and 1.75 <= gaps[1] <= 2.7, "retries follow the schedule 1 s, 2 s with jitter (%s)"
   % ["%.2f" % g for g in gaps])
ok(all("connection refused" in a[2] for a in att), "each attempt records the error text", att)
ok(all(a[3] == "scheduled" for a in att), "trigger scheduled")
h = api.call("GET", "/v1/webhook-endpoints/%s/health" % ep3["id"], key=viewer)[1]["health"]
ok(h["consecutive_failures"] >= 18 and h["failing_since"] and "refused" in h["last_error"] and
   h["success_rate_24h"] == 0, "endpoint health shows the outage", h)

# a delivery that is still retrying when the receiver comes back gets through by itself
late = insert_events(m3.id, 3, tag=uniq("late"))
ok(wait_for(lambda: int(sql1("SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = :'e' AND attempts >= 1"
                             " AND status = 'pending' AND event_id = ANY (string_to_array(:'ids', ','))",
                             e=EP3, ids=",".join(late))) == 3, timeout=10, interval=0.02),
   "first attempts of new events failed and are scheduled again")
recv.start()
ok(wait_for(lambda: status_of(late) == ["succeeded"] * 3, timeout=15), "the receiver is back: they resume on "
   "schedule and succeed without anyone touching them")
is_(status_of(dead), ["failed"] * 4, "dead deliveries stay dead until an operator acts")
recv_before = recv.unique_ids()
ok(not (set(dead) & recv_before), "the receiver never saw the dead events")

until = sql1("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
st, pv, _ = api.call("GET", "/v1/webhook-endpoints/%s/recover-preview?since=%s&until=%s" % (ep3["id"], since, until),
                     key=viewer)
is_((st, pv["count"]), (200, 4), "recover preview: this will re-queue 4 deliveries")
before = row_counts(["webhook_recover_jobs", "audit_log"])
st, job, _ = api.call("POST", "/v1/webhook-endpoints/%s/recover" % ep3["id"], key=sup,
                      body={"since": since, "until": until, "reason": "endpoint outage"})
# an idle dispatcher is woken by the job's insert, so it may already be running (or done) by the reply
ok(st == 202 and job["status"] in ("queued", "running", "done") and job["total"] == 4,
   "recover answers 202 with the job of 4 (%s)" % job.get("status"), job)
ok(job["id"].startswith("wrj_"), "the job has an id to poll")
done = wait_for(lambda: (lambda j: j if j["status"] == "done" else None)(
    api.call("GET", "/v1/webhook-recover-jobs/" + job["id"], key=viewer)[1]), timeout=15)
ok(done and done["requeued"] == 4 and done["finished_at"], "the job finished and re-queued 4", done)
ok(wait_for(lambda: status_of(dead) == ["succeeded"] * 4, timeout=15), "the recovered deliveries succeeded")
ok(set(dead) <= recv.unique_ids(), "the receiver now has the dead events")
is_(status_of(old), ["failed"] * 2, "failed deliveries outside the window were not touched")
ok(not (set(old) & recv.unique_ids()), "…and never sent")
trig = sql("SELECT DISTINCT a.trigger, a.operator FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id"
           " WHERE d.endpoint_id = :'e' AND a.attempt_no = 4", e=EP3)
is_(len(trig), 1, "recovered attempts share one trigger")
ok(trig[0][0] == "manual" and trig[0][1], "recovered attempts are manual, with the operator (%s)" % trig[0][1])
after = row_counts(["webhook_recover_jobs", "audit_log"])
is_((after["webhook_recover_jobs"] - before["webhook_recover_jobs"], after["audit_log"] - before["audit_log"]), (1, 1),
    "one job row and one audit row")
h = api.call("GET", "/v1/webhook-endpoints/%s/health" % ep3["id"], key=viewer)[1]["health"]
ok(h["consecutive_failures"] == 0 and h["failing_since"] is None and h["last_success_at"],
   "health recovers after successes", h)
srv.stop()
recv.stop()
api.stop()
