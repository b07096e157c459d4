#!/usr/bin/env python3
"""Webhooks never go to the gateway's own networks (SSRF): a merchant picks the URL, so
loopback, private, link-local (cloud metadata), CGNAT, multicast and reserved addresses are
refused — as IP literals when the endpoint is registered or changed, and on the address
actually connected to when delivering (whatever a hostname resolved to at registration).
RAILD_WEBHOOK_ALLOW_NETS lets chosen ranges through; a malformed value stops raild."""
import os, signal, subprocess, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wh import *  # noqa: F401,F403
from wh import Receiver, Raild, Merchant, create_endpoint, insert_events, delivery_counts, endpoint_row_id
from wh import wait_for, sql, sql1, ok, is_, diag, row_counts
from rt import RAILD, LOGDIR, SANITIZER_RE

ALLOW = os.environ.pop("RAILD_WEBHOOK_ALLOW_NETS", "127.0.0.0/8")   # this file's processes: no allow list
os.environ.update(RAILD_WEBHOOK_TIMEOUT_MS="1000", RAILD_WEBHOOK_LEASE_S="3", RAILD_WEBHOOK_RETRY_SCHEDULE="1,1,1")

guarded = Raild("--no-dispatch", name="guarded")
m = Merchant()

# ---------------------------------------------------------------- registration: IP literals
REFUSED = [
    ("loopback", "http://127.0.0.1:8080/hook", "loopback"),
    ("loopback, short form", "http://127.1:8080/hook", "loopback"),
    ("localhost", "http://localhost:8080/hook", "loopback"),
    ("a .localhost name", "http://api.localhost/hook", "loopback"),
    ("cloud metadata", "http://169.254.169.254/latest/meta-data/", "link-local"),
    ("10/8", "https://10.1.2.3/hook", "private"),
    ("172.16/12", "https://172.20.0.5/hook", "private"),
    ("192.168/16", "https://192.168.1.10/hook", "private"),
    ("CGNAT", "https://100.64.0.1/hook", "carrier-grade NAT"),
    ("0.0.0.0", "https://0.0.0.0/hook", "'this network'"),
    ("multicast", "http://224.0.0.1/hook", "multicast"),
    ("IPv6 loopback", "http://[::1]:8080/hook", "loopback"),
    ("IPv4-mapped loopback", "http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("IPv6 unique local", "https://[fd00::1]/hook", "private"),
    ("IPv6 link-local", "https://[fe80::1]/hook", "link-local"),
    # what a security review got through (issue 14): each now refused
    ("localhost with a trailing dot", "http://localhost./hook", "ends with a dot"),
    ("an IP literal with a trailing dot", "http://127.0.0.1./hook", "ends with a dot"),
    ("ip6-localhost", "http://ip6-localhost/hook", "loopback"),
    ("ip6-loopback", "http://ip6-loopback:8080/hook", "loopback"),
    ("IPv4-compatible loopback", "http://[::127.0.0.1]/hook", "loopback"),
    ("NAT64 of loopback", "http://[64:ff9b::7f00:1]/hook", "loopback"),
    ("6to4 of loopback", "http://[2002:7f00:1::]/hook", "loopback"),
    ("6to4 of a private address", "http://[2002:c0a8:0101::1]/hook", "private"),
    ("NAT64 of cloud metadata", "http://[64:ff9b::a9fe:a9fe]/latest/", "link-local"),
]
before = row_counts(["webhook_endpoints", "audit_log"])
for name, url, what in REFUSED:
    st, b, _ = guarded.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": url})
    err = (b or {}).get("error", {})
    ok(st == 422 and err.get("code") == "url_not_allowed" and what in err.get("message", ""),
       "register %s (%s) → 422 url_not_allowed, saying it is %s" % (name, url, what), "%r %r" % (st, b))
for name, url in (("full-width dots", "http://127\u30020\u30020\u30021/hook"),
                  ("full-width stops and digits", "http://\uff11\uff12\uff17\uff0e0\uff0e0\uff0e1/hook")):
    st, b, _ = guarded.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": url})
    ok(st == 422 and (b or {}).get("error", {}).get("code") in ("url_not_allowed", "invalid_url"),
       "register %s (%s) is refused" % (name, url), "%r %r" % (st, b))
is_(row_counts(["webhook_endpoints", "audit_log"]), before, "refused registrations wrote nothing")
for name, url in [("a public IP literal", "https://93.184.216.34/hook"), ("a host name", "https://hooks.example.com/x")]:
    st, b, _ = guarded.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": url})
    is_(st, 201, "register %s is allowed" % name)
pub = b
st, b, _ = guarded.call("PATCH", "/v1/webhook-endpoints/%s" % pub["id"], key=m.key,
                        body={"url": "http://169.254.169.254/latest/"})
ok(st == 422 and b["error"]["code"] == "url_not_allowed", "changing an endpoint to a private address is refused too")
guarded.call("DELETE", "/v1/webhook-endpoints/%s" % pub["id"], key=m.key)

# ---------------------------------------------------------------- delivery: the connected address
# An endpoint registered while loopback was allowed (as on a developer's gateway), then
# delivered by a dispatcher without the allow list: the guard refuses to connect.
os.environ["RAILD_WEBHOOK_ALLOW_NETS"] = ALLOW
open_api = Raild("--no-dispatch", name="allowing")
del os.environ["RAILD_WEBHOOK_ALLOW_NETS"]
m2 = Merchant()
recv = Receiver(["whsec_" + "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQQ=="])
ep = create_endpoint(open_api, m2, recv.url)
recv.set_secrets([ep["secret"]])
EP = endpoint_row_id(ep["id"])
[eid] = insert_events(m2.id, 1)


def dispatcher(tag, env):
    path = os.path.join(LOGDIR, "90_private_networks-dispatch-%s.log" % tag)
    f = open(path, "w")
    p = subprocess.Popen([RAILD, "dispatch"], stdout=f, stderr=subprocess.STDOUT, env=env)
    p.log_path, p.log_file = path, f
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=20)
    p.log_file.close()
    text = open(p.log_path, errors="replace").read()
    ok(not SANITIZER_RE.search(text), "dispatcher log %s has no sanitizer reports" % os.path.basename(p.log_path))


seen0 = recv.stats()
d1 = dispatcher("guarded", dict(os.environ))
blocked = lambda: sql1("SELECT error FROM webhook_attempts WHERE endpoint_id = :'e' AND error LIKE 'blocked:%%'"
                       " ORDER BY id LIMIT 1", e=EP)
ok(wait_for(lambda: blocked() is not None, timeout=20), "the dispatcher refused to connect to 127.0.0.1")
err = blocked() or ""
ok("127.0.0.1 is a loopback address" in err and "RAILD_WEBHOOK_ALLOW_NETS" in err,
   "the attempt says why and what setting allows it", err)
stop(d1)
s1 = recv.stats()
is_(s1["accepted"] + s1["rejected"] + s1["duplicates"], seen0["accepted"] + seen0["rejected"] + seen0["duplicates"],
    "not one request reached the loopback receiver")
h = open_api.call("GET", "/v1/webhook-endpoints/%s/health" % ep["id"], key=key("viewer"))[1]["health"]
ok("blocked" in (h.get("last_error") or ""), "endpoint health shows the block as its last error", h)

d2 = dispatcher("allowing", dict(os.environ, RAILD_WEBHOOK_ALLOW_NETS="10.0.0.0/8, 127.0.0.1/32"))
ok(wait_for(lambda: eid in recv.unique_ids(), timeout=20),
   "with 127.0.0.1/32 in RAILD_WEBHOOK_ALLOW_NETS the retry goes through")
ok(wait_for(lambda: delivery_counts(ep["id"]).get("succeeded") == 1, timeout=10), "…and the delivery succeeded")
stop(d2)

# ---------------------------------------------------------------- a malformed allow list stops raild
for value in ["bogus", "10.0.0.0/33", "::1/129", "127.0.0.0/8,nope", "10.0.0.0/-1", "1.2.3.4/8x"]:
    for args in (["dispatch"], ["serve", "--listen", "127.0.0.1:0"]):
        r = subprocess.run([RAILD] + args, capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, RAILD_WEBHOOK_ALLOW_NETS=value))
        ok(r.returncode == 2 and "RAILD_WEBHOOK_ALLOW_NETS" in r.stderr and "127.0.0.0/8" in r.stderr,
           "raild %s with RAILD_WEBHOOK_ALLOW_NETS=%r exits 2 saying how to write ranges" % (args[0], value),
           "rc=%d %s" % (r.returncode, r.stderr[-300:]))

recv.stop()
open_api.stop()
guarded.stop()
