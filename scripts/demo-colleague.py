#!/usr/bin/env python3
"""Colleagues on shift, for `make demo`: every INTERVAL seconds support retries one webhook
delivery that failed and is waiting for its next attempt; with a finance key, finance also
escalates a reconciliation break to an exception when none is escalated yet (so the queue
shows a recon_break early). Through raild's API, so it lands in the audit log like any
operator action.
   demo-colleague.py API_URL SUPPORT_KEY_FILE [INTERVAL [FINANCE_KEY_FILE]]
Keys are read from files (never argv). Stops on SIGTERM."""
import signal, sys, time
import demolib

api, key_file = sys.argv[1], sys.argv[2]
interval = float(sys.argv[3]) if len(sys.argv) > 3 else 25
key = open(key_file).read().strip()
finance = open(sys.argv[4]).read().strip() if len(sys.argv) > 4 else None
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def call(method, path, body=None):
    return demolib.call(api, key, method, path, body)


def escalate_one():
    """one open break escalated, while the queue has no recon_break exception"""
    st, exc = demolib.call(api, finance, "GET", "/v1/exceptions?type=recon_break&limit=1")
    if st != 200 or exc.get("data"):
        return
    st, page = demolib.call(api, finance, "GET", "/v1/recon/breaks?limit=20")
    for b in (page.get("breaks") or page.get("data") or []) if st == 200 else []:
        if b.get("state") != "resolved" and not b.get("exception"):
            st, _ = demolib.call(api, finance, "POST", "/v1/recon/breaks/%s/escalate" % b["id"],
                                 {"note": "the ledger and the chain disagree; ops, please look (demo colleague)"})
            print("%s escalate %s (%s) -> %d" % (time.strftime("%H:%M:%S"), b["id"], b.get("class"), st), flush=True)
            return


last_retry = time.time()
while True:
    time.sleep(min(interval, 5) if finance else interval)
    if finance:
        escalate_one()
    if time.time() - last_retry < interval:
        continue
    last_retry = time.time()
    st, page = call("GET", "/v1/webhook-deliveries?status=pending&limit=50")
    waiting = [d for d in page.get("data", []) if d.get("last_http_status") or d.get("last_error")]
    if st != 200 or not waiting:
        continue
    d = waiting[0]
    st, _ = call("POST", "/v1/webhook-deliveries/%s/retry" % d["id"],
                 {"reason": "merchant says the endpoint is back; retrying now (demo colleague)"})
    print("%s retry %s (%s, last %s) -> %d" % (time.strftime("%H:%M:%S"), d["id"], d.get("event_type"),
                                               d.get("last_http_status") or d.get("last_error"), st), flush=True)
