#!/usr/bin/env python3
"""Every mutating console action end to end, through the real railtop in tmux, a real raild
and PostgreSQL: the row changes on screen and in the database, and the audit row exists.
Cancel (the default focus) changes nothing; --read-only has no mutating keys at all; a
viewer key sees them disabled with the reason and cannot use them; an ops key cannot use
support actions. Exceptions: claim, resolve (menu + note), reopen, dismiss.
Webhooks: retry a dead delivery, disable and enable an endpoint, recover a window."""
import os, re, sys, time
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# dead deliveries within seconds: one 1 s retry, 1 s timeouts
os.environ.update(RAILD_WEBHOOK_TIMEOUT_MS="1000", RAILD_WEBHOOK_RETRY_SCHEDULE="1")
from uikit import *

srv = Raild()
W = key("watcher")
OPS_NAME, SUP_NAME = uniq("ui-ops"), uniq("ui-support")
OPS = admin("create-key", "--role", "ops", "--name", OPS_NAME, "--env", "sandbox", check=True)[1].strip()
SUP = admin("create-key", "--role", "support", "--name", SUP_NAME, "--env", "sandbox", check=True)[1].strip()
VIEWER = key("viewer")
m = Merchant(rails=("tron:usdt",), addresses=10)
pays = underpaid(srv, m, W, 3, prefix="act")
ok(wait_for(lambda: sql1("SELECT count(*) FROM exceptions e JOIN payments p ON p.id = e.payment_id"
                         " WHERE p.merchant_id = :'m' AND e.type = 'underpaid'", m=m.id) == "3", timeout=10),
   "setup: three underpaid exceptions opened by the engine")


def exc_row(ref):
    r = sql("SELECT e.public_id, e.state, coalesce(e.assignee, ''), e.version, coalesce(e.resolution, ''),"
            " coalesce(e.note, '') FROM exceptions e JOIN payments p ON p.id = e.payment_id"
            " WHERE p.merchant_id = :'m' AND p.reference = :'r'", m=m.id, r=ref)
    return dict(zip(["id", "state", "assignee", "version", "resolution", "note"], r[0]))


def audits(obj, action):
    return int(sql1("SELECT count(*) FROM audit_log WHERE object_id = :'o' AND action = :'a'", o=obj, a=action))


def row_of(c, ref):
    rows = [l for l in c.lines() if ref in l]
    return rows[0] if rows else ""


def open_queue(c, extra=""):
    c.keys(":")
    c.type("exceptions merchant=%s%s" % (m.name, extra))
    c.keys("Enter")
    return c.wait("act-0000")


# ---------------------------------------------------------------- exceptions as ops
c = Console(api=srv.base, key_file=key_file(OPS))
ok(open_queue(c) is not None, "ops: the queue filtered to the merchant shows its exceptions", c.text())
ok("claim" in c.hint() and "✗" not in c.hint(), "ops: claim/resolve are live in the hint line", c.hint())
same_as_expected(c.text(), "exceptions_queue")
e0 = exc_row("act-0000")
# the queue is ordered by severity then SLA then id: the first row is act-0000 (all equal but id)
ok(row_of(c, "act-0000") and c.lines().index(row_of(c, "act-0000")) < c.lines().index(row_of(c, "act-0002")),
   "queue order: oldest of equal severity/SLA first")

# Cancel is the default: c then Enter changes nothing
c.keys("c")
s = c.wait("Claim exception?")
ok(s is not None and "state open → claimed" in s and OPS_NAME in s, "claim dialog states what will change", c.text())
same_as_expected(c.text(), "claim_dialog")
c.keys("Enter")
ok(c.wait("claim canceled — nothing changed") is not None, "Enter on the default focus (Cancel) cancels")
is_(exc_row("act-0000"), e0, "Cancel: the exception is unchanged in the database")
is_(audits(e0["id"], "exception.claim"), 0, "Cancel: no audit row")

# claim for real
c.keys("c")
c.wait("Claim exception?")
c.keys("Tab", "Enter")
ok(c.wait("claimed " + e0["id"]) is not None, "claim: the status line confirms", c.text())
ok(c.wait(re.compile(r"act-0000")) and "claimed" in row_of(c, "act-0000") and OPS_NAME[:10] in row_of(c, "act-0000"),
   "claim: the row shows claimed and the assignee", row_of(c, "act-0000"))
e = exc_row("act-0000")
is_((e["state"], e["assignee"], e["version"]), ("claimed", OPS_NAME, str(int(e0["version"]) + 1)),
    "claim: database state, assignee and version")
is_(audits(e0["id"], "exception.claim"), 1, "claim: one audit row")

# another operator claims act-0001 through the API: the row changes without a key press
st, _, _ = srv.call("POST", "/v1/exceptions/%s/claim" % exc_row("act-0001")["id"], key=OPS, body={"version": 1})
ok(st == 200 and wait_for(lambda: "claimed" in row_of(c, "act-0001"), timeout=5),
   "a claim by another process appears on screen live", c.text())

# resolve act-0000 (the cursor is still on it): menu → refund, note, confirm
c.keys("r")
s = c.wait("Resolve as")
ok(s is not None and all(x in s for x in ("accept_partial", "request_topup", "refund", "write_off")),
   "resolve: the menu offers the underpaid resolutions", c.text())
c.keys("3", "Enter")
ok(c.wait("Resolution note") is not None, "resolve: a note is asked for")
c.keys("Enter")
ok(c.wait("required: type something") is not None, "resolve: an empty note is refused in the dialog")
c.type("customer asked for a refund")
c.keys("Enter")
s = c.wait("Resolve exception?")
ok(s is not None and "resolved as refund" in s and "customer asked for a refund" in s, "resolve: confirmation", c.text())
c.keys("Tab", "Enter")
ok(c.wait("resolved " + e0["id"]) is not None, "resolve: status line", c.text())
ok(c.wait("act-0000", absent=True) is not None, "resolve: the row leaves the open queue", c.text())
e = exc_row("act-0000")
is_((e["state"], e["resolution"], e["note"]), ("resolved", "refund", "customer asked for a refund"),
    "resolve: database state, resolution and note")
is_(audits(e0["id"], "exception.resolve"), 1, "resolve: one audit row")

# reopen it from the resolved list
c.keys(":")
c.type("exceptions state=resolved merchant=" + m.name)
c.keys("Enter")
ok(c.wait("act-0000") is not None, ":exceptions state=resolved shows it", c.text())
c.keys("c")
ok(c.wait("only an open exception can be claimed") is not None, "claim on a resolved exception explains why not")
c.keys("o")
c.wait("Reopen note")
c.type("refund bounced")
c.keys("Enter")
c.wait("Reopen exception?")
c.keys("Tab", "Enter")
ok(c.wait("reopened " + e0["id"]) is not None, "reopen: status line", c.text())
is_(exc_row("act-0000")["state"], "open", "reopen: database state open")
is_(audits(e0["id"], "exception.reopen"), 1, "reopen: one audit row")

# dismiss act-0002 from the detail view (Enter on the row)
open_queue(c)
target = exc_row("act-0002")
lines = c.lines()
idx_first = [i for i, l in enumerate(lines) if re.search(r"act-000\d", l)][0]
idx = [i for i, l in enumerate(lines) if "act-0002" in l][0]
c.keys(*(["j"] * (idx - idx_first)))
c.keys("Enter")
s = c.wait("Exception " + target["id"])
ok(s is not None and "History (audit log)" in s and "accept_partial" in s, "Enter opens the exception detail", c.text())
c.keys("d")
c.wait("Dismiss note")
c.type("duplicate of a ticket")
c.keys("Enter")
c.wait("Dismiss exception?")
c.keys("Tab", "Enter")
ok(c.wait("dismissed " + target["id"]) is not None, "dismiss: status line", c.text())
ok(c.wait(re.compile(r"Exception exc_\w+ +\w+ +underpaid +dismissed")) is not None,
   "dismiss: the detail view shows the new state live", c.text())
is_(exc_row("act-0002")["state"], "dismissed", "dismiss: database state")
is_(audits(target["id"], "exception.dismiss"), 1, "dismiss: one audit row")
ok(c.wait("exception.dismiss") is not None, "dismiss: the history in the detail view shows the audit row")
c.keys("Enter")
s = c.wait("Payment pay_")
ok(s is not None and "act-0002" in s and "underpaid" in s, "Enter in an exception opens its payment (with the exception)",
   c.text())
c.keys("Escape")
ok(c.wait("Exception " + target["id"]) is not None, "Esc returns to the exception")
c.keys("Escape")

# attach an unmatched transfer to a payment found by search (its merchant reference)
ref = uniq("att")
st, target_pay, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": ref, "amount": "7.5", "rail": "tron:usdt"})
tx = tx_hash()
st, b, _ = srv.call("POST", "/v1/chain/transfers", key=W, body={"network": "tron-nile", "transfers": [
    {"tx_hash": tx, "log_index": 0, "block_number": tron_head() + 1, "block_hash": tx_hash(),
     "contract": RAILS["tron:usdt"]["contract"], "from": tron_address(), "to": tron_address(), "value": "7500000"}]})
ok(st == 200 and b["transfers"][0]["classification"] == "unmatched", "setup: an unmatched transfer", b)
uexc = sql1("SELECT e.public_id FROM exceptions e JOIN chain_transfers t ON t.id = e.transfer_id"
            " WHERE t.tx_hash = :'h' AND e.type = 'unmatched_transfer'", h=tx.lower()[2:])
c.keys(":")
c.type("exceptions type=unmatched_transfer")
c.keys("Enter")
c.keys("/")
c.type(uexc)
c.keys("Enter")
ok(c.wait(re.compile(r"unmatched_transfer +open")) is not None, "the unmatched transfer's exception, found by filter",
   c.text())
c.keys("r")
ok(c.wait("attach_to_payment") is not None and "mark_internal_sweep" in c.text(), "menu: unmatched_transfer resolutions")
c.keys("1", "Enter")
ok(c.wait("Attach to payment") is not None, "attach: asks which payment")
c.type(ref)
c.keys("Enter")
c.wait("Resolution note")
c.type("customer paid from an old QR")
c.keys("Enter")
t = c.wait("Resolve exception?")
ok(t is not None and "attach to " + target_pay["id"] in t, "attach: the confirmation names the payment found", c.text())
c.keys("Tab", "Enter")
ok(c.wait("resolved " + uexc) is not None, "attach: status line", c.text())
is_(sql("SELECT e.state, e.resolution, p.public_id FROM exceptions e JOIN chain_transfers t ON t.id = e.transfer_id"
        " JOIN payments p ON p.id = t.payment_id WHERE e.public_id = :'x'", x=uexc),
    [["resolved", "attach_to_payment", target_pay["id"]]], "attach: database — resolved, transfer moved to the payment")
is_(audits(uexc, "exception.resolve"), 1, "attach: one audit row")
c.keys("/", "C-u", "Enter")

# the ops key cannot use support actions: shown disabled with the reason
c.keys("3")
c.wait("Webhook endpoints")
ok("needs role support" in c.hint(), "ops on webhooks: support actions disabled with the reason", c.hint())
c.keys("q")
is_(c.exit_code(), 0, "ops console exits cleanly")
c.close()

# ---------------------------------------------------------------- viewer key and --read-only
before = row_counts(["exceptions", "audit_log", "webhook_deliveries", "webhook_endpoints"])
v = Console(api=srv.base, key_file=key_file(VIEWER))
ok(open_queue(v) is not None, "viewer: sees the queue")
hint = v.hint()
ok("claim✗" in hint and "needs role ops" in hint, "viewer: mutating keys shown disabled with the reason", hint)
v.keys("c")
ok(v.wait("claim is not available: needs role ops") is not None, "viewer: c explains and does nothing", v.text())
ok("Claim exception?" not in v.text(), "viewer: no dialog opens")
v.keys("q")
v.exit_code()
v.close()

r = Console(api=srv.base, key_file=key_file(OPS), args=["--read-only"])
ok(open_queue(r) is not None, "--read-only: sees the queue")
hint = r.hint()
ok("claim" not in hint and "resolve" not in hint and "[read-only]" in r.lines()[0],
   "--read-only: no mutating keys in the hint line, [read-only] in the header", hint)
r.keys("c")
ok(r.wait("c: no action here") is not None, "--read-only: c is not an action at all", r.text())
r.keys("?")
s = r.wait("keys (from the same table")
ok(s is not None and "claim the exception" not in s, "--read-only: help lists no mutating actions")
r.keys("q")
r.keys("q")
r.exit_code()
r.close()
is_(row_counts(["exceptions", "audit_log", "webhook_deliveries", "webhook_endpoints"]), before,
    "viewer and --read-only sessions changed nothing")

# ---------------------------------------------------------------- production
pm = Merchant(rails=("tron:usdt",), env="production", addresses=3)
PROD_OPS = admin("create-key", "--role", "ops", "--name", uniq("ui-ops"), "--env", "production", check=True)[1].strip()
underpaid(srv, pm, key("watcher", env="production"), 1, prefix="prod")
ok(wait_for(lambda: sql1("SELECT count(*) FROM exceptions WHERE merchant_id = :'m'", m=pm.id) == "1", timeout=10),
   "setup: a production exception")
pc = Console(api=srv.base, key_file=key_file(PROD_OPS))
ok(pc.wait("LIVE") is not None and "▌PRODUCTION▐" in pc.lines()[0], "production key: PRODUCTION banner in the header",
   pc.lines()[0])
esc = pc.text(colors=True).split("\n")[0]
ok(re.search(r"\x1b\[[0-9;]*(41|48;[25];|101)", esc) is not None or "48;2;179;0;27" in esc or "41m" in esc,
   "production header is drawn in the production (red) style", repr(esc[:80]))
pc.keys(":")
pc.type("exceptions merchant=" + pm.name)
pc.keys("Enter")
ok(pc.wait("prod-0000") is not None, "production: the queue", pc.text())
before = sql("SELECT state, version FROM exceptions WHERE merchant_id = :'m'", m=pm.id)
pc.keys("c")
t = pc.wait("Claim exception?")
ok(t is not None and "PRODUCTION: this changes live data" in t and "state open → claimed" in t,
   "production: the confirmation says so explicitly and states the change", pc.text())
same_as_expected(pc.text(), "claim_dialog_production")
pc.keys("Escape")
ok(pc.wait("claim canceled — nothing changed") is not None, "production: Esc cancels")
is_(sql("SELECT state, version FROM exceptions WHERE merchant_id = :'m'", m=pm.id), before,
    "production: canceled claim changed nothing")
pc.keys("q")
pc.exit_code()
pc.close()

# a sandbox key looking at production: actions are off, and the console says why
mc = Console(api=srv.base, key_file=key_file(OPS), args=["--env", "production"])
ok(mc.wait("the key is for sandbox but the console shows production") is not None, "env mismatch: explained",
   mc.text())
mc.keys("2")
mc.wait("Exceptions  queue")
ok("claim✗" in mc.hint() and "another environment" in mc.hint(), "env mismatch: claim disabled with the reason",
   mc.hint())
mc.keys("q")
mc.exit_code()
mc.close()

# ---------------------------------------------------------------- webhooks as support
dead_port = free_port()
st, ep, _ = srv.call("POST", "/v1/webhook-endpoints", key=m.key, body={"url": "http://127.0.0.1:%d/hook" % dead_port})
ok(st == 201, "setup: endpoint to a closed port", ep)
# payment.canceled events for this merchant → deliveries that die (refused, one 1 s retry)
for extra in range(2):
    st, p, _ = srv.call("POST", "/v1/payments", key=m.key, body={"reference": uniq("wh"), "amount": "1", "rail": "tron:usdt"})
    st, _, _ = srv.call("POST", "/v1/payments/%s/cancel" % p["id"], key=m.key)
    ok(st == 200, "setup: payment canceled (a payment.canceled event)")
q_dead = ("SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
          " WHERE e.public_id = :'p' AND d.status = 'failed'")
ok(wait_for(lambda: int(sql1(q_dead, p=ep["id"])) >= 2, timeout=30), "setup: both deliveries went dead",
   sql("SELECT status, attempts, last_error FROM webhook_deliveries"))

s = Console(api=srv.base, key_file=key_file(SUP))
s.keys("3")
ok(s.wait("Webhook endpoints") is not None, "support: webhooks view")
s.keys(":")
s.type("webhooks merchant=" + m.name)
s.keys("Enter")
ok(s.wait(str(dead_port)) is not None, "support: the endpoint with its URL", s.text())
s.keys("Enter")
ok(s.wait("Deliveries to " + ep["id"]) is not None, "Enter lists the endpoint's deliveries", s.text())
ok(s.wait("failed") is not None, "a dead delivery shows as failed", s.text())
lines = s.lines()
first = [i for i, l in enumerate(lines) if re.match(r"^\s+\d+ ", l)][0]
fail_idx = [i for i, l in enumerate(lines) if re.match(r"^\s+\d+ ", l) and " failed " in l][0]
s.keys(*(["j"] * (fail_idx - first)))
s.keys("Enter")
t = s.wait(re.compile(r"Delivery #(\d+)  payment\.canceled  failed"))
ok(t is not None, "Enter opens a dead delivery", s.text())
did = re.search(r"Delivery #(\d+)", t or s.text()).group(1)
att0 = int(sql1("SELECT attempts FROM webhook_deliveries WHERE id = :'d'", d=did))
t = s.wait("webhook-signature: v1,")
ok(t is not None and "webhook-signature: v1," in t and "Body (the exact bytes" in t and "error:" in t,
   "delivery detail: attempts with error, signature header and raw body", s.text())
s.keys("r")
ok(s.wait("Retry delivery?") is not None, "retry: confirmation")
s.keys("Escape")
ok(s.wait("retry canceled — nothing changed") is not None, "retry: Esc cancels")
is_(audits("whd_" + did, "webhook_delivery.retry"), 0, "retry canceled: no audit row")
s.keys("r")
s.wait("Retry delivery?")
s.keys("Tab", "Enter")
ok(s.wait("retry of delivery #%s queued" % did) is not None, "retry: status line", s.text())
is_(audits("whd_" + did, "webhook_delivery.retry"), 1, "retry: one audit row")
ok(wait_for(lambda: int(sql1("SELECT attempts FROM webhook_deliveries WHERE id = :'d'", d=did)) > att0, timeout=15),
   "retry: the dispatcher made another attempt")
ok(s.wait("manual by " + SUP_NAME, timeout=10) is not None, "retry: the manual attempt appears in the detail view live",
   s.text())
s.keys("Escape", "Escape")
ok(s.wait("Webhook endpoints") is not None, "Esc Esc back to the endpoints")

# disable (with a reason) then enable
s.keys("x")
s.wait("Disable endpoint")
s.type("receiver is down")
s.keys("Enter")
ok(s.wait("Disable endpoint?") is not None and "Reason     receiver is down" in s.text(), "disable: confirmation", s.text())
s.keys("Tab", "Enter")
ok(s.wait("disabled " + ep["id"]) is not None, "disable: status line", s.text())
ok(s.wait(re.compile(r"%d/hook .* disabled" % dead_port)) is not None, "disable: the row shows disabled", s.text())
is_(sql1("SELECT status FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"]), "disabled", "disable: database")
is_(audits(ep["id"], "webhook_endpoint.disable"), 1, "disable: one audit row")
s.keys("v")
ok(s.wait("Recover: window start") is not None, "recover: asks for the window")
s.keys("Enter")
s.wait("Recover: window end")
s.keys("Enter")
ok(s.wait("endpoint_disabled") is not None or s.wait("Recover failed deliveries?") is not None, "recover on a disabled endpoint")
if "Recover failed deliveries?" in s.text():
    s.keys("Tab", "Enter")
ok(s.wait("enable the endpoint before recovering") is not None, "recover while disabled: the API error is shown", s.text())
s.keys("e")
s.wait("Enable endpoint?")
s.keys("Tab", "Enter")
ok(s.wait("enabled " + ep["id"]) is not None, "enable: status line", s.text())
is_(sql1("SELECT status FROM webhook_endpoints WHERE public_id = :'p'", p=ep["id"]), "enabled", "enable: database")
is_(audits(ep["id"], "webhook_endpoint.enable"), 1, "enable: one audit row")

# recover: the confirmation states how many deliveries the window re-queues
ok(wait_for(lambda: int(sql1(q_dead, p=ep["id"])) >= 1, timeout=30), "setup: dead deliveries to recover")
n_dead = int(sql1(q_dead, p=ep["id"]))
s.keys("v")
s.wait("Recover: window start")
s.keys("Enter")
s.wait("Recover: window end")
s.keys("Enter")
t = s.wait("Recover failed deliveries?")
m_n = re.search(r"re-queue (\d+) failed deliveries", t or "")
ok(m_n is not None and int(m_n.group(1)) >= 1, "recover: the confirmation states the count (%s)" %
   (m_n.group(1) if m_n else "?"), s.text())
s.keys("Tab", "Enter")
ok(s.wait("recover queued for " + ep["id"]) is not None, "recover: status line", s.text())
is_(sql1("SELECT count(*) FROM webhook_recover_jobs j JOIN webhook_endpoints e ON e.id = j.endpoint_id"
         " WHERE e.public_id = :'p'", p=ep["id"]), "1", "recover: one job in the database")
is_(audits(ep["id"], "webhook_endpoint.recover"), 1, "recover: one audit row")
diag("recover re-queued from a window holding %d dead deliveries" % n_dead)
s.keys("q")
is_(s.exit_code(), 0, "support console exits cleanly")
s.close()

# ---------------------------------------------------------------- raild goes away and comes back
import subprocess, signal
port = srv.port
c = Console(api=srv.base, key_file=key_file(OPS))
ok(open_queue(c) is not None, "raild outage: console up on the queue")
target = exc_row("act-0000")
ok(target["state"] == "open", "raild outage: act-0000 is open", target)
lines = c.lines()
first = [i for i, l in enumerate(lines) if re.search(r"act-000\d", l)][0]
c.keys(*(["j"] * ([i for i, l in enumerate(lines) if "act-0000" in l][0] - first)))
srv.stop()
c.keys("c")
c.wait("Claim exception?")
c.keys("Tab", "Enter")
s = c.wait(re.compile(r"stale since \d\d:\d\d:\d\d — reconnecting +\(raild API\)"))
ok(s is not None and "cannot reach raild" in s, "raild down: the action fails in the status line and the API banner shows",
   c.text())
is_(exc_row("act-0000")["version"], target["version"], "raild down: nothing changed")
log_path = os.path.join(LOGDIR, "20_actions-raild-restarted-%d.log" % port)
log = open(log_path, "w")
again = subprocess.Popen([RAILD, "serve", "--listen", "127.0.0.1:%d" % port], stdout=log, stderr=subprocess.STDOUT)
ok(c.wait("stale since", absent=True, timeout=20) is not None, "raild back: the console notices by itself (banner gone)",
   c.text())
c.keys("c")
c.wait("Claim exception?")
c.keys("Tab", "Enter")
ok(c.wait("claimed " + target["id"]) is not None, "raild back: the claim goes through", c.text())
is_(exc_row("act-0000")["state"], "claimed", "raild back: database state claimed")
c.keys("q")
is_(c.exit_code(), 0, "console exits cleanly after the raild outage")
c.close()
again.send_signal(signal.SIGTERM)
again.wait(timeout=15)
log.close()
ok(not SANITIZER_RE.search(open(log_path, errors="replace").read()), "restarted raild: no sanitizer reports")
