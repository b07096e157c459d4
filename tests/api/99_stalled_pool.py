#!/usr/bin/env python3
"""One stalled table must not stall everything (issue 14: with api_keys locked all 8 request
threads waited 15 s and /healthz timed out), and one client must not hold a socket for ever
by dripping its headers.
- Requests that need the database run on request workers; MHD's own threads answer
  /healthz, /readyz and /metrics. With api_keys locked and every worker stuck, /healthz is
  still 200 at once, /metrics 200, /readyz 503; requests queued behind the stuck workers get
  503 busy with Retry-After once they have waited RAILD_HTTP_QUEUE_WAIT_MS, not a hang.
- When the lock goes, the stuck requests finish and the next ones are served.
- A connection that has not sent a whole request within RAILD_HTTP_REQUEST_DEADLINE_MS is
  closed, although it sends a byte every 300 ms (the idle timeout alone never fires); a slow
  request that completes within the deadline is served."""
import os, socket, subprocess, sys, threading, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

os.environ.update(RAILD_HTTP_QUEUE_WAIT_MS="1500", RAILD_HTTP_REQUEST_DEADLINE_MS="2000")
srv = Raild("--no-workers", "--threads", "4")
m = Merchant()
is_(srv.call("GET", "/v1/payments?limit=1", key=m.key)[0], 200, "served before the stall")

hold = subprocess.Popen(["psql", "-X", "-q", "-c", "BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE;"
                         " SELECT pg_sleep(5); COMMIT"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ok(wait_for(lambda: sql1("SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE"
                         " c.relname = 'api_keys' AND l.mode = 'AccessExclusiveLock' AND l.granted") == "1" or None,
            timeout=5), "api_keys is locked")
results = {}


def one(i):
    t0 = time.time()
    st, b, h = srv.call("GET", "/v1/payments?limit=1", key=m.key, timeout=30)
    results[i] = (st, (b.get("error") or {}).get("code") if isinstance(b, dict) else None, h.get("Retry-After"),
                  time.time() - t0)


threads = [threading.Thread(target=one, args=(i,)) for i in range(10)]
for t in threads:
    t.start()
time.sleep(0.5)
t0 = time.time()
st, _, _ = srv.call("GET", "/healthz", timeout=5)
ok(st == 200 and time.time() - t0 < 0.5, "/healthz is 200 at once with every worker stuck (%.2f s)" % (time.time() - t0))
t0 = time.time()
st, text, _ = srv.call("GET", "/metrics", timeout=5)
ok(st == 200 and "raild_http_requests_total" in text and time.time() - t0 < 2,
   "/metrics is 200 with every worker stuck (%.2f s)" % (time.time() - t0))
t0 = time.time()
st, b, _ = srv.call("GET", "/readyz", timeout=5)
ok(st == 503 and b["error"]["code"] == "not_ready" and time.time() - t0 < 2,
   "/readyz is 503 not_ready (%.2f s): %s" % (time.time() - t0, b.get("error", {}).get("message")))
for t in threads:
    t.join()
busy = [r for r in results.values() if r[0] == 503]
served = [r for r in results.values() if r[0] == 200]
ok(len(busy) >= 4 and all(r[1] == "busy" and r[2] == "1" and r[3] < 3.5 for r in busy),
   "requests queued behind the stuck workers: 503 busy, Retry-After 1, after ~1.5 s, not a hang (%s)"
   % sorted((r[0], r[1], round(r[3], 1)) for r in busy))
ok(len(served) >= 1 and len(busy) + len(served) == 10,
   "the ones on a worker finish 200 once the lock goes (%d served, %d busy)" % (len(served), len(busy)), results)
hold.wait()
is_([srv.call("GET", "/v1/payments?limit=1", key=m.key)[0] for _ in range(6)], [200] * 6, "and the next ones are served")
st, b, _ = srv.call("GET", "/readyz")
is_(st, 200, "/readyz is 200 again", b)

# the whole-request deadline
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
t0, closed = time.time(), None
while time.time() - t0 < 8:
    try:
        s.sendall(b"X")
        s.settimeout(0.3)
        if s.recv(100) == b"":
            closed = time.time() - t0
            break
    except socket.timeout:
        continue
    except OSError:
        closed = time.time() - t0
        break
s.close()
ok(closed is not None and 1.5 < closed < 4, "a client dripping a header byte every 300 ms is cut at the 2 s deadline "
   "(%s s)" % (None if closed is None else round(closed, 1)))
s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
for part in (b"GET /healthz HTTP/1.1\r\n", b"Host: x\r\n", b"Connection: close\r\n\r\n"):
    s.sendall(part)
    time.sleep(0.4)
reply = s.recv(1000)
s.close()
ok(reply.startswith(b"HTTP/1.1 200"), "a slow request that completes within the deadline is served", reply[:80])
ok(srv.alive(), "raild is still running")
srv.stop()
