#!/usr/bin/env python3
"""Governed changes (DESIGN §11): in production a rail's contract, decimals and depths, and a
network's RPC and signer endpoints, change only through a proposal that another admin or
treasury key approves, effective from a stated time. The proposer can never approve (raild
and the database refuse it); until approved nothing changes; each step is audited; the
sweeper applies a change whose time comes later."""
import datetime, os, subprocess, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

srv = Raild()
A1, A2, T = key("admin", env="production"), key("admin", env="production"), key("treasury", env="production")
T_SANDBOX, OPS = key("treasury"), key("ops", env="production")


def kf(k):
    path = os.path.join(LOGDIR, uniq("key"))
    with open(path, "w") as f:
        f.write(k + "\n")
    os.chmod(path, 0o600)
    return path


F_A1, F_A2, F_T, F_TS = kf(A1), kf(A2), kf(T), kf(T_SANDBOX)
OLD = PROD_RAILS["ethereum:usdt"]["contract"]
NEW = evm_address()
rail = lambda: sql("SELECT contract, confirm_depth FROM rails WHERE environment = 'production' AND id = 'ethereum:usdt'")
SET = ["set-rail", "--env", "production", "--rail", "ethereum:usdt", "--network", "ethereum"]
TABLES = ["rails", "governed_changes", "audit_log", "network_rpc", "network_signer"]


def refused(label, args, frag, code=2):
    before = row_counts(TABLES)
    r0 = rail()
    rc, out, err = admin(*args)
    ok(rc == code and frag in err, "%s -> refused naming what to fix" % label, (rc, out, err))
    is_((row_counts(TABLES), rail()), (before, r0), "%s: nothing changed" % label)


refused("set-rail production without --key-file", SET + ["--contract", NEW], "governed")
refused("set-rail production with a treasury key", SET + ["--contract", NEW, "--key-file", F_T], "an admin proposes")
refused("set-rail production with a sandbox key", SET + ["--contract", NEW, "--key-file", F_TS], "valid production")
refused("set-rail production with a missing key file", SET + ["--contract", NEW, "--key-file", "/nonexistent"],
        "cannot read --key-file")
refused("set-rail production --effective-at tomorrow", SET + ["--contract", NEW, "--key-file", F_A1, "--effective-at",
                                                              "tomorrow"], "RFC 3339")

rc, out, err = admin(*(SET + ["--contract", NEW, "--confirmations", "20", "--key-file", F_A1, "--reason", "Tether migrated"]))
ok(rc == 0 and "proposed chg_" in out, "an admin proposes the change", (rc, out, err))
chg = out.split("proposed ")[1].split(":")[0]
is_(rail(), [[OLD, "12"]], "nothing changes until it is approved")
st, lst, _ = srv.call("GET", "/v1/changes?state=proposed", key=T)
mine = [c for c in lst["data"] if c["id"] == chg]
ok(st == 200 and mine and mine[0]["before"]["contract"] == OLD and mine[0]["after"]["contract"] == NEW.lower()
   and mine[0]["after"]["confirmations"] == 20 and mine[0]["proposed_by"],
   "GET /v1/changes shows who proposed, before and after", mine)
rc, out, err = admin("list-changes")
ok(chg in out and OLD in out and NEW.lower() in out, "raild admin list-changes shows it", out)

# four eyes, and who may decide
refused("approve-change by the proposer", ["approve-change", "--id", chg, "--key-file", F_A1], "four eyes")
refused("approve-change by a sandbox key", ["approve-change", "--id", chg, "--key-file", F_TS], "valid production")
refused("approve-change of an unknown change", ["approve-change", "--id", "chg_nope", "--key-file", F_T], "no change")
for label, k, st_, code in [("the proposer", A1, 403, "four_eyes"), ("a production ops key", OPS, 403, "forbidden"),
                            ("a sandbox treasury key", T_SANDBOX, 404, "not_found")]:
    before = row_counts(TABLES)
    st, b, _ = srv.call("POST", "/v1/changes/%s/approve" % chg, key=k, body={"note": "ok"})
    is_((st, b.get("error", {}).get("code")), (st_, code), "API approve by %s -> %d %s" % (label, st_, code), b)
    is_(row_counts(TABLES), before, "API approve by %s: nothing changed" % label)
st, b, _ = srv.call("POST", "/v1/changes/%s/approve" % chg, key=T, body={"note": ""})
is_((st, b.get("error", {}).get("code")), (422, "note_required"), "a decision needs a note")
r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    "UPDATE governed_changes SET decided_by_key = proposed_by_key, state = 'approved'"
                    " WHERE public_id = '%s'" % chg], capture_output=True, text=True)
ok(r.returncode != 0, "the database refuses the proposer as decider", r.stderr)
r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    "UPDATE governed_changes SET args = args || '{\"contract\": \"0x00\"}' WHERE public_id = '%s'" % chg],
                   capture_output=True, text=True)
ok(r.returncode != 0 and "fixed" in r.stderr, "and any edit of what was proposed", r.stderr)

rc, out, err = admin("approve-change", "--id", chg, "--key-file", F_T, "--note", "confirmed with Tether's notice")
ok(rc == 0 and "applied" in out, "treasury approves: applied at once", (rc, out, err))
is_(rail(), [[NEW.lower(), "20"]], "the rail has the new contract and depth")
is_([a[0] for a in sql("SELECT action FROM audit_log WHERE object_id = :'c' ORDER BY id", c=chg)],
    ["change.propose", "change.approve", "change.apply"], "proposal, approval and application are audited")
refused("approving it again", ["approve-change", "--id", chg, "--key-file", F_A2], "not proposed")

# effective from a stated time: applied by the sweeper when it comes
when = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
rc, out, err = admin(*(SET + ["--contract", OLD, "--confirmations", "12", "--key-file", F_A2, "--effective-at", when]))
ok(rc == 0 and when in out, "a change back, effective in 3 s", (rc, out, err))
chg2 = out.split("proposed ")[1].split(":")[0]
st, b, _ = srv.call("POST", "/v1/changes/%s/approve" % chg2, key=A1, body={"note": "revert after the test"})
is_((st, b.get("state")), (200, "approved"), "another admin approves it over the API")
is_(rail(), [[NEW.lower(), "20"]], "not yet in effect")
ok(wait_for(lambda: rail() == [[OLD, "12"]], timeout=15), "the sweeper applies it when its time comes", rail())
is_(sql1("SELECT state FROM governed_changes WHERE public_id = :'c'", c=chg2), "applied", "and records it applied")

# production endpoints: a proposal, here rejected
urls = os.path.join(LOGDIR, uniq("urls"))
open(urls, "w").write("http://user:pw@127.0.0.1:9/rpc\n")
for cmd, table in (("set-rpc", "network_rpc"), ("set-signer", "network_signer")):
    before = sql1("SELECT count(*) FROM %s WHERE network = 'ethereum'" % table)
    rc, out, err = admin(cmd, "--network", "ethereum", "--url-file", urls, "--key-file", F_A1)
    # the secret is "user:pw@"; ids are random base32 and may well hold "pw", so look for the credential itself
    ok(rc == 0 and "proposed chg_" in out and ":pw@" not in out and "user:" not in out,
       "%s for production is a proposal" % cmd, (rc, out, err))
    c3 = out.split("proposed ")[1].split(":")[0]
    is_(sql1("SELECT count(*) FROM %s WHERE network = 'ethereum'" % table), before, "%s: nothing stored yet" % cmd)
    ok(":pw@" not in (sql1("SELECT after::text || coalesce(before::text, '') FROM governed_changes WHERE public_id = :'c'",
                           c=c3) or ":pw@"), "%s: the proposal shows hosts only" % cmd)
    st, b, _ = srv.call("POST", "/v1/changes/%s/reject" % c3, key=T, body={"note": "unknown provider"})
    is_((st, b.get("state")), (200, "rejected"), "%s: treasury rejects it" % cmd)
    is_(sql1("SELECT count(*) FROM %s WHERE network = 'ethereum'" % table), before, "%s: still nothing stored" % cmd)
r = subprocess.run(["psql", "-X", "-q", "-U", "railtop_console", "-c", "SELECT sealed FROM governed_changes"],
                   capture_output=True, text=True)
ok(r.returncode != 0 and "permission denied" in r.stderr, "the console role cannot read proposed URLs", r.stderr)
# sandbox stays direct
rc, out, err = admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia", "--contract",
                     RAILS["ethereum:usdt"]["contract"])
ok(rc == 0 and "proposed" not in out, "sandbox rails change directly", (rc, out, err))
srv.stop()
