#!/usr/bin/env python3
"""GET /v1/audit: who did what, when, why. Admin CLI and operator API actions land in one
log; filters (actor, action, object_type, object_id, since/until) and keyset pagination
work; keys never appear in it."""
import json, os, sys, time, urllib.parse
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild()
VIEWER = key("viewer")
CAROL = uniq("ops-carol")
carol = admin("create-key", "--role", "ops", "--name", CAROL, "--env", "sandbox", check=True)[1].strip()
W = key("watcher")


def audit(**f):
    st, b, _ = srv.call("GET", "/v1/audit?" + urllib.parse.urlencode(f), key=VIEWER)
    assert st == 200, (st, b)
    return b


# --- admin CLI actions are audited, with the CLI user as actor
name = uniq("merchant-audit")
mid = admin("create-merchant", "--name", name, "--tolerance-bps", "25", check=True)[1].strip()
admin("enable-rail", "--merchant", mid, "--env", "sandbox", "--rail", "tron:usdt", check=True)
admin("disable-rail", "--merchant", mid, "--env", "sandbox", "--rail", "tron:usdt", check=True)
kname = uniq("audited-key")
secret = admin("create-key", "--role", "viewer", "--name", kname, "--env", "production", check=True)[1].strip()
kid = sql1("SELECT id FROM api_keys WHERE name = :'n'", n=kname)
admin("revoke-key", "--id", kid, "--reason", "left the company", check=True)

rows = audit(object_type="merchant", object_id=mid)["data"]
ok(len(rows) == 1 and rows[0]["action"] == "merchant.create" and rows[0]["actor"].startswith("cli:") and
   rows[0]["role"] == "admin" and rows[0]["after"]["name"] == name, "merchant.create audited as the CLI user", rows)
rows = audit(object_type="merchant_rail", object_id="%s/sandbox/tron:usdt" % mid)["data"]
is_([(r["action"], (r["before"] or {}).get("enabled"), r["after"]["enabled"]) for r in rows],
    [("rail.disable", True, False), ("rail.enable", None, True)], "rail enable/disable with before and after, newest first")
rows = audit(object_type="api_key", object_id=kid)["data"]
is_([r["action"] for r in rows], ["key.revoke", "key.create"], "key create and revoke audited")
is_(rows[0]["reason"], "left the company", "the revoke's reason is kept")
dump = json.dumps(audit(limit=200)["data"])
ok(secret not in dump and secret[8:] not in dump, "the key itself never appears in the audit log")
ok(rows[1]["after"]["prefix"] and secret.startswith(rows[1]["after"]["prefix"]), "only its display prefix does")

# --- operator API actions: actor is the key's name
h = int(sql1("SELECT coalesce(max(head), 1000) FROM chain_heads WHERE network = 'tron-nile'") or 1000) + 1
tx = tx_hash()
st, b, _ = srv.call("POST", "/v1/chain/transfers", key=W, body={"network": "tron-nile", "transfers": [
    {"tx_hash": tx, "log_index": 0, "block_number": h, "block_hash": tx_hash(), "contract": RAILS["tron:usdt"]["contract"],
     "from": tron_address(), "to": tron_address(), "value": "4200000"}]})
assert st == 200, (st, b)
eid = sql1("SELECT e.public_id FROM exceptions e JOIN chain_transfers t ON t.id = e.transfer_id"
           " WHERE t.tx_hash = :'t'", t=tx[2:])
ok(eid and eid.startswith("exc_"), "an unmatched transfer opened an exception")
t0 = sql1("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')")
time.sleep(0.01)
st, c, _ = srv.call("POST", "/v1/exceptions/%s/claim" % eid, key=carol, body={"version": 1, "note": "mine"})
ok(st == 200, "carol claims it")
st, c, _ = srv.call("POST", "/v1/exceptions/%s/resolve" % eid, key=carol,
                    body={"version": 2, "note": "refund to sender", "resolution": "refund"})
ok(st == 200, "carol resolves it")
rows = audit(actor=CAROL)["data"]
is_([(r["action"], r["object_type"], r["object_id"], r["reason"]) for r in rows],
    [("exception.resolve", "exception", eid, "refund to sender"), ("exception.claim", "exception", eid, "mine")],
    "actor filter: exactly carol's two actions, newest first, with why")
ok(all(r["role"] == "ops" and r["actor_key_id"] == int(sql1("SELECT id FROM api_keys WHERE name = :'n'", n=CAROL))
       for r in rows), "operator rows carry the role and the key id (never the key)")
ok(rows[0]["before"]["state"] == "claimed" and rows[0]["after"]["state"] == "resolved", "before and after states")
is_([r["object_id"] for r in audit(action="exception.claim", actor=CAROL)["data"]], [eid], "action filter")

# --- time window: since is inclusive, until exclusive; RFC 3339 with offsets
since_rows = audit(since=t0, actor=CAROL)["data"]
is_(len(since_rows), 2, "since = just before carol's actions finds both")
is_(audit(until=t0, actor=CAROL)["data"], [], "until = the same instant finds none")
at = rows[0]["at"]
ok(at.endswith("Z") and len(at) == 24, "times are RFC 3339 UTC with milliseconds", at)
plus = at[:-1] + "+00:00"
is_(len(audit(until=plus, actor=CAROL)["data"]), 1, "until the resolve's own time (as +00:00) excludes it")
far = "2999-01-01T01:00:00+01:00"
is_(audit(since=far)["data"], [], "since in the future: nothing")

# --- keyset pagination: newest first, stable, no duplicates
full = audit(limit=200)["data"]
pages, cur, got = 0, None, []
while True:
    q = {"limit": 3}
    if cur:
        q["cursor"] = cur
    b = audit(**q)
    got += b["data"]
    pages += 1
    cur = b["next_cursor"]
    if not cur or len(got) >= len(full) or pages > 100:
        break
is_([r["id"] for r in got[:len(full)]], [r["id"] for r in full][:len(got)], "pages of 3 follow the single-page order")
ok([r["id"] for r in full] == sorted((r["id"] for r in full), reverse=True), "newest first")
ok(len(got) >= 9 and len(set(r["id"] for r in got)) == len(got), "no row twice across %d pages" % pages)
ok(srv.alive(), "raild still serving")
