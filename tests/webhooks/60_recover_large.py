#!/usr/bin/env python3
"""Recover at scale: 1,500 dead deliveries re-queued by one operator job, in chunks, with
progress visible while it runs, an exact final count, and every event delivered after."""
import os, sys, time, base64
sys.path.insert(0, os.path.dirname(__file__))
from wh import *

os.environ.update(RAILD_WEBHOOK_RETRY_SCHEDULE="1", RAILD_WEBHOOK_TIMEOUT_MS="1000", RAILD_WEBHOOK_LEASE_S="3")
srv = Raild()
sup, viewer = key("support"), key("viewer")
m = Merchant()
recv = Receiver(["whsec_" + base64.b64encode(b"z" * 32).decode()])
dead_url = "http://127.0.0.1:%d/gone" % free_port()      # nothing listens there
ep = create_endpoint(srv, m, dead_url)
recv.set_secrets([ep["secret"]])
since = sql1("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
N = 1500
ev = insert_events(m.id, N)
ok(wait_for(lambda: delivery_counts(ep["id"]) == {"failed": N}, timeout=60, interval=0.2),
   "%d deliveries to a dead URL went dead after 1 + 1 retries" % N, delivery_counts(ep["id"]))
until = sql1("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
# the merchant fixes the URL; support recovers the window
st, _, _ = srv.call("PATCH", "/v1/webhook-endpoints/" + ep["id"], key=m.key, body={"url": recv.url})
is_(st, 200, "merchant points the endpoint at a live receiver")
st, pv, _ = srv.call("GET", "/v1/webhook-endpoints/%s/recover-preview?since=%s&until=%s" % (ep["id"], since, until),
                     key=viewer)
is_(pv["count"], N, "preview: %d to re-queue" % N)
recv.control(delay_ms=5)      # slow enough that the job's progress can be watched
st, job, _ = srv.call("POST", "/v1/webhook-endpoints/%s/recover" % ep["id"], key=sup,
                      body={"since": since, "until": until, "reason": "URL fixed"})
is_((st, job["total"]), (202, N), "job accepted with its total")
seen = []
end = time.time() + 60
while time.time() < end:
    j = srv.call("GET", "/v1/webhook-recover-jobs/" + job["id"], key=viewer)[1]
    seen.append((j["status"], j["requeued"]))
    if j["status"] == "done":
        break
    time.sleep(0.02)
ok(seen and seen[-1] == ("done", N), "the job finished with requeued = %d" % N, seen[-5:])
prog = [r for s_, r in seen]
ok(prog == sorted(prog), "progress only goes up")
diag("progress observed while polling: %s" % sorted(set(prog)))
ok(wait_for(lambda: recv.unique_ids() >= set(ev), timeout=60, interval=0.2), "every recovered event was delivered")
# the receiver answers before the dispatcher records: wait for the records, not only the arrivals
ok(wait_for(lambda: delivery_counts(ep["id"]) == {"succeeded": N}, timeout=30, interval=0.2),
   "all deliveries succeeded", delivery_counts(ep["id"]))
recv.stop()
srv.stop()
