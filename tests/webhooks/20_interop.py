#!/usr/bin/env python3
"""Interop: real deliveries — driven through the real API (payments, chain ingest), sent by
the real dispatcher inside raild serve, captured by the reference receiver — verify with the
`standardwebhooks` package from the npm registry, which nobody here wrote. Covers secret
rotation (two signatures, each verifies alone) and a tampered body (fails)."""
import os, sys, json, subprocess
sys.path.insert(0, os.path.dirname(__file__))
from wh import *

NPM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "npm")
r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", NPM_DIR, "standardwebhooks"],
                   capture_output=True, text=True, timeout=300)
if not ok(r.returncode == 0, "npm install standardwebhooks into build/npm", r.stdout + r.stderr):
    sys.exit(1)

# A Node verifier: for every case, new Webhook(secret).verify(body, headers) must or must not throw.
VERIFY_JS = r"""
const { Webhook } = require(process.argv[1] + '/node_modules/standardwebhooks');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const out = cases.map(c => {
  try {
    new Webhook(c.secret).verify(c.body, {'webhook-id': c.id, 'webhook-timestamp': c.ts, 'webhook-signature': c.sig});
    return true;
  } catch (e) { return String(e.message || e); }
});
process.stdout.write(JSON.stringify(out));
"""


def node_verify(cases):
    p = subprocess.run(["node", "-e", VERIFY_JS, NPM_DIR], input=json.dumps(cases), capture_output=True, text=True,
                       timeout=60)
    if p.returncode:
        raise RuntimeError(p.stderr)
    return json.loads(p.stdout)


srv = Raild()
W = key("watcher")
m = Merchant(addresses=6)
recv = Receiver(["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="])
ep = create_endpoint(srv, m, recv.url)
recv.set_secrets([ep["secret"]])


def new_payment(ref):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": ref, "amount": "10.5",
                                                                 "rail": "tron:usdt"})
    assert st == 201, (st, p)
    return p


# real events: a detected payment (chain ingest) and a canceled one
p1 = new_payment("interop-1")
st, b, _ = srv.call("POST", "/v1/chain/transfers", key=W, body={"network": "tron-nile", "transfers": [{
    "tx_hash": tx_hash()[2:], "log_index": 0, "block_number": None, "block_hash": None,
    "contract": RAILS["tron:usdt"]["contract"], "from": tron_address(), "to": p1["deposit_address"],
    "value": "10500000"}]})
is_(st, 200, "chain ingest accepted a mempool transfer")
p2 = new_payment("interop-2")
is_(srv.call("POST", "/v1/payments/%s/cancel" % p2["id"], key=m.key)[0], 200, "payment canceled")
want = {r[0] for r in sql("SELECT event_id FROM webhook_outbox WHERE merchant_id = :'m'", m=m.id)}
ok(len(want) >= 2, "the core wrote outbox events (%d)" % len(want))
ok(wait_for(lambda: recv.unique_ids() >= want, timeout=20), "the receiver accepted every event")
evs = {e["webhook_id"]: e for e in recv.events()}
types = {evs[i]["type"] for i in want}
ok({"payment.detected", "payment.canceled"} <= types, "events include payment.detected and payment.canceled")
payloads = {r[0]: r[1] for r in sql("SELECT event_id, payload FROM webhook_outbox WHERE merchant_id = :'m'", m=m.id)}
ok(all(evs[i]["body"] == payloads[i] for i in want), "the body sent is byte-for-byte the outbox payload")

cases = [dict(secret=ep["secret"], id=i, ts=evs[i]["timestamp"], sig=evs[i]["signature"], body=evs[i]["body"])
         for i in sorted(want)]
res = node_verify(cases)
is_(res, [True] * len(cases), "standardwebhooks (npm) verifies every delivery")
tampered = [dict(c, body=c["body"].replace("sandbox", "production", 1)) for c in cases]
res = node_verify(tampered)
ok(all(x is not True for x in res), "a tampered body fails verification", res)
wrong_id = [dict(c, id=c["id"] + "x") for c in cases[:1]]
ok(node_verify(wrong_id)[0] is not True, "a different webhook-id fails verification")

# rotation: both signatures until the overlap ends; each secret verifies on its own
st, rot, _ = srv.call("POST", "/v1/webhook-endpoints/%s/rotate-secret" % ep["id"], key=m.key)
is_(st, 200, "secret rotated")
recv.set_secrets([rot["secret"]])          # the merchant switched to the new secret
before = set(recv.unique_ids())
p3 = new_payment("interop-3")
srv.call("POST", "/v1/payments/%s/cancel" % p3["id"], key=m.key)
ok(wait_for(lambda: len(recv.unique_ids() - before) >= 1, timeout=20), "an event after rotation was accepted "
   "by a receiver that only knows the new secret")
new = [e for e in recv.events() if e["webhook_id"] not in before][0]
sigs = new["signature"].split(" ")
is_((len(sigs), all(s.startswith("v1,") for s in sigs)), (2, True), "two v1 signatures during the overlap")
c = dict(id=new["webhook_id"], ts=new["timestamp"], sig=new["signature"], body=new["body"])
is_(node_verify([dict(c, secret=rot["secret"]), dict(c, secret=ep["secret"])]), [True, True],
    "standardwebhooks verifies the rotated delivery with the new secret alone and with the old secret alone")
is_(node_verify([dict(c, secret="whsec_" + "QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQg==")])[0] is True, False,
    "an unrelated secret does not verify it")
ok(node_verify([dict(c, secret=rot["secret"], body=c["body"] + " ")])[0] is not True,
   "one extra byte in the body fails verification")

# the overlap ends: only the new signature is sent
sql("UPDATE webhook_endpoints SET old_secret_expires_at = now() - interval '1 second' WHERE public_id = :'p'",
    p=ep["id"])
before = set(recv.unique_ids())
p4 = new_payment("interop-4")
srv.call("POST", "/v1/payments/%s/cancel" % p4["id"], key=m.key)
ok(wait_for(lambda: len(recv.unique_ids() - before) >= 1, timeout=20), "delivery after the overlap accepted")
last = [e for e in recv.events() if e["webhook_id"] not in before][0]
is_(len(last["signature"].split(" ")), 1, "after the overlap only one signature is sent")
c = dict(id=last["webhook_id"], ts=last["timestamp"], sig=last["signature"], body=last["body"])
is_(node_verify([dict(c, secret=rot["secret"]), dict(c, secret=ep["secret"])])[0], True,
    "…and it verifies with the new secret")
ok(node_verify([dict(c, secret=ep["secret"])])[0] is not True, "…and no longer with the old one")

# the receiver itself refused what it could not verify (it never saw a bad request here)
is_(recv.stats()["rejected"], 0, "the reference receiver rejected nothing genuine")
recv.stop()
srv.stop()
