#!/usr/bin/env python3
"""A colleague on the support shift, for `make demo`: every INTERVAL seconds, retries one
webhook delivery that failed and is waiting for its next attempt — through raild's API with
the support key, so it lands in the audit log like any operator action.
   demo-colleague.py API_URL SUPPORT_KEY_FILE [INTERVAL]
The key is read from the file (never argv). Stops on SIGTERM."""
import signal, sys, time
import demolib

api, key_file = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 25
key = open(key_file).read().strip()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def call(method, path, body=None):
    return demolib.call(api, key, method, path, body)


while True:
    time.sleep(interval)
    st, page = call("GET", "/v1/webhook-deliveries?status=pending&limit=50")
    waiting = [d for d in page.get("data", []) if d.get("last_http_status") or d.get("last_error")]
    if st != 200 or not waiting:
        continue
    d = waiting[0]
    st, _ = call("POST", "/v1/webhook-deliveries/%s/retry" % d["id"],
                 {"reason": "merchant says the endpoint is back; retrying now (demo colleague)"})
    print("%s retry %s (%s, last %s) -> %d" % (time.strftime("%H:%M:%S"), d["id"], d.get("event_type"),
                                               d.get("last_http_status") or d.get("last_error"), st), flush=True)
