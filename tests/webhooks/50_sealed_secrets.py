#!/usr/bin/env python3
"""Secrets at rest sealed with RAILD_SECRETS_KEY (AES-256-GCM): the column holds no usable
secret, the dispatcher that has the key signs correctly, and one without the key records a
signing failure instead of ever sending an unsigned or wrongly signed request. Also: events
of one environment never reach the other environment's endpoints."""
import os, sys, time, base64, subprocess, signal
sys.path.insert(0, os.path.dirname(__file__))
from wh import *
from rt import RAILD

KEY = base64.b64encode(os.urandom(32)).decode()
os.environ.update(RAILD_SECRETS_KEY=KEY, RAILD_WEBHOOK_RETRY_SCHEDULE="1", RAILD_WEBHOOK_TIMEOUT_MS="1000",
                  RAILD_WEBHOOK_LEASE_S="3")
srv = Raild("--no-dispatch")
m = Merchant()
recv = Receiver(["whsec_" + base64.b64encode(b"y" * 32).decode()])
ep = create_endpoint(srv, m, recv.url)
recv.set_secrets([ep["secret"]])
stored = sql1("SELECT secret FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"])
ok(stored.startswith("aes:"), "with RAILD_SECRETS_KEY the secret is stored sealed (aes:…)")
ok(ep["secret"][6:] not in stored and ep["secret"] not in stored, "the stored value does not contain the secret")


def run_dispatcher(tag, env):
    path = os.path.join(LOGDIR, "%s-dispatch-%s.log" % (os.path.basename(sys.argv[0]), tag))
    f = open(path, "w")
    return subprocess.Popen([RAILD, "dispatch"], stdout=f, stderr=subprocess.STDOUT, env=env), f, path


def finish(p, f, path):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=20)
    f.close()
    text = open(path, errors="replace").read()
    if SANITIZER_RE.search(text):
        ok(False, "no sanitizer reports in %s" % path, text[-3000:])
    return text


# a dispatcher with another key cannot open the secret, so cannot sign: it records that and
# sends nothing (one with no key at all refuses to start once production secrets exist:
# tests/webhooks/55_unsealed_production.py)
nokey = dict(os.environ, RAILD_SECRETS_KEY=base64.b64encode(os.urandom(32)).decode())
ev = insert_events(m.id, 2, tag=uniq("sealed"))
p, f, path = run_dispatcher("nokey", nokey)
ok(wait_for(lambda: delivery_counts(ep["id"]).get("failed") == 2, timeout=20),
   "with the wrong key the deliveries fail after the schedule", delivery_counts(ep["id"]))
log = finish(p, f, path)
err = sql1("SELECT DISTINCT error FROM webhook_attempts WHERE endpoint_id = :'e'", e=endpoint_row_id(ep["id"]))
ok(err and err.startswith("signing:"), "the attempts say why: %s" % err)
is_(recv.stats()["accepted"] + recv.stats()["rejected"], 0, "nothing unsigned or wrongly signed was sent")
ok(KEY not in log and ep["secret"] not in log, "neither the sealing key nor the secret is logged")

# with the key, the same deliveries go out signed (operator recover) and verify
p, f, path = run_dispatcher("key", dict(os.environ))
since = sql1("SELECT to_char((now() - interval '1 hour') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
until = sql1("SELECT to_char((now() + interval '1 second') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
st, job, _ = srv.call("POST", "/v1/webhook-endpoints/%s/recover" % ep["id"], key=key("support"),
                      body={"since": since, "until": until})
is_(st, 202, "recover queued")
ok(wait_for(lambda: recv.unique_ids() >= set(ev), timeout=20), "with the key the receiver verified and accepted both")
log = finish(p, f, path)
ok(KEY not in log and ep["secret"] not in log, "…and still nothing secret in the log")

# environments are separate: a production event never reaches a sandbox endpoint
before = delivery_counts(ep["id"])
prod = insert_events(m.id, 1, env="production", tag=uniq("prod"))
p, f, path = run_dispatcher("env", dict(os.environ))
ok(wait_for(lambda: sql1("SELECT fanned_out_at IS NOT NULL FROM webhook_outbox WHERE event_id = :'e'", e=prod[0]) == "t",
            timeout=10), "the production event was fanned out")
finish(p, f, path)
is_(delivery_counts(ep["id"]), before, "…to no sandbox endpoint")
recv.stop()
srv.stop()
