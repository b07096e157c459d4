#!/usr/bin/env python3
"""Two colleagues for `make demo`, money out (DESIGN §11): every INTERVAL seconds an ops
colleague refunds the excess of one overpaid ethereum:usdt payment to the customer's
address (the customer confirmed it; in the demo it is anvil's paying account), and a
treasury colleague approves payouts waiting for approval — including those the operator
at the console requests. Both act through raild's API with their own keys, so four eyes
hold and every step lands in the audit log.
   demo-treasury.py API_URL OPS_KEY_FILE TREASURY_KEY_FILE PAYER_FILE [INTERVAL]
Keys are read from files (never argv). Stops on SIGTERM."""
import signal, sys, time
import demolib

api, ops_file, tr_file, payer_file = sys.argv[1:5]
interval = float(sys.argv[5]) if len(sys.argv) > 5 else 3
ops, tr = open(ops_file).read().strip(), open(tr_file).read().strip()
payer = open(payer_file).read().strip()
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def call(key, method, path, body=None):
    return demolib.call(api, key, method, path, body)


def log(msg):
    print("%s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


while True:
    time.sleep(interval)
    st, page = call(ops, "GET", "/v1/exceptions?type=overpaid&state=open&limit=20")
    for e in [e for e in page.get("data", []) if e.get("rail") == "ethereum:usdt"][:1]:
        st, b = call(ops, "POST", "/v1/exceptions/%s/resolve" % e["id"],
                     {"version": e["version"], "resolution": "refund_excess", "to_address": payer,
                      "note": "customer confirmed the refund address by email (demo ops colleague)"})
        log("ops: refund_excess %s -> %d %s" % (e["id"], st, (b.get("details") or {}).get("resolution_effects", b)))
    st, page = call(tr, "GET", "/v1/payouts?state=requested&limit=20")
    for p in page.get("data", []):
        st, b = call(tr, "POST", "/v1/payouts/%s/approve" % p["id"],
                     {"version": p["version"], "note": "checked against the exception (demo treasury colleague)"})
        log("treasury: approve %s (%s %s to %s) -> %d %s" % (p["id"], p["kind"], p["amount"], p["to_address"], st,
                                                             b.get("state") or b.get("error")))
