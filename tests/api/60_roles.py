#!/usr/bin/env python3
"""Roles (DESIGN §7) enforced by the server, over every route raild registers:
each role gets 403 `forbidden` on every route its capability does not cover (and the
database is unchanged); a merchant sees only its own merchant+environment (404 for
anything else); missing, unknown and revoked keys get 401 `unauthorized`."""
import glob, os, re, secrets, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

# --- the route table, read from the source so routes added later are covered too
SRC = os.path.join(ROOT, "src", "raild")
registered = set(re.findall(r"^\s*(\w+_routes),\s*$", open(os.path.join(SRC, "routes.c")).read(), re.M))
ROUTES = []
for path in sorted(glob.glob(os.path.join(SRC, "*.c"))):
    text = open(path).read()
    for name, body in re.findall(r"const struct route (\w+)\[\]\s*=\s*\{(.*?)\n\};", text, re.S):
        if name in registered:
            ROUTES += re.findall(r'\{\s*"([A-Z]+)",\s*"(/[^"]*)",\s*(CAP_\w+)', body)
ok(len(ROUTES) >= 12, "found %d registered routes in the source" % len(ROUTES))

def quiet_flags():
    """No background workers, so the row counts around each request change only
    because of that request."""
    return ["--no-workers"]


CAN = {  # mirror of auth_role_can (tests/unit/test_auth.c pins the C side)
    "merchant": {"CAP_PUBLIC", "CAP_MERCHANT", "CAP_ANY_KEY"},
    "watcher": {"CAP_PUBLIC", "CAP_INGEST", "CAP_ANY_KEY"},
    "viewer": {"CAP_PUBLIC", "CAP_READ", "CAP_ANY_KEY"},
    "support": {"CAP_PUBLIC", "CAP_READ", "CAP_SUPPORT", "CAP_ANY_KEY"},
    "ops": {"CAP_PUBLIC", "CAP_READ", "CAP_OPS", "CAP_ANY_KEY"},
    "finance": {"CAP_PUBLIC", "CAP_READ", "CAP_FINANCE", "CAP_ANY_KEY"},
    "admin": {"CAP_PUBLIC", "CAP_READ", "CAP_SUPPORT", "CAP_OPS", "CAP_FINANCE", "CAP_ADMIN", "CAP_ANY_KEY"},
}

# every route is asked with every kind of bad key from one address, hundreds of failures in
# a few seconds: the limiter that turns such a client away (tests/api/99_ratelimit.py) is off
os.environ["RAILD_AUTH_FAILURES_PER_S"] = "0"
srv = Raild(*quiet_flags())
m1 = Merchant(rails=("tron:usdt",), addresses=4)
m2 = Merchant(rails=("tron:usdt",), addresses=2)
m1_prod = key("merchant", env="production", merchant=m1.id)
KEYS = {"merchant": m1.key}
for role in ("watcher", "viewer", "support", "ops", "finance", "admin"):
    KEYS[role] = key(role)


def concrete(pattern):
    return re.sub(r"\{[^}]+\}", "x_" + secrets.token_hex(4), pattern)


# --- every forbidden (role, route) pair: 403 forbidden, nothing written
before = row_counts()
forbidden_pairs = 0
for method, pattern, cap in ROUTES:
    for role, k in KEYS.items():
        if cap in CAN[role]:
            continue
        forbidden_pairs += 1
        st, body, _ = srv.call(method, concrete(pattern), key=k, body={} if method != "GET" else None)
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        ok(st == 403 and code == "forbidden", "%s: %s %s -> 403 forbidden" % (role, method, pattern),
           "got %s %r" % (st, body))
after = row_counts()
is_(after, before, "%d forbidden calls changed nothing in the database" % forbidden_pairs)

# --- no key, malformed, unknown and revoked keys: 401 on every non-public route
rev_name = uniq("revoked-ops")
rev_key = admin("create-key", "--role", "ops", "--name", rev_name, "--env", "sandbox", check=True)[1].strip()
st, _, _ = srv.call("GET", "/v1/exceptions", key=rev_key)
is_(st, 200, "the ops key works before it is revoked")
admin("revoke-key", "--id", sql1("SELECT id FROM api_keys WHERE name = :'n'", n=rev_name), check=True)
BAD_AUTH = [
    ("no Authorization header", {}),
    ("empty bearer", {"Authorization": "Bearer "}),
    ("Basic scheme", {"Authorization": "Basic " + KEYS["admin"]}),
    ("lower-case scheme without key", {"Authorization": "bearer"}),
    ("unknown key", {"Authorization": "Bearer rk_test_" + secrets.token_hex(12)}),
    ("key with a suffix", {"Authorization": "Bearer " + KEYS["admin"] + "x"}),
    ("a 300-character key", {"Authorization": "Bearer " + "k" * 300}),
    ("revoked key", {"Authorization": "Bearer " + rev_key}),
]
before = row_counts()
for method, pattern, cap in ROUTES:
    if cap == "CAP_PUBLIC":
        continue
    for label, hdrs in BAD_AUTH:
        st, body, _ = srv.call(method, concrete(pattern), headers=hdrs, body={} if method != "GET" else None)
        code = body.get("error", {}).get("code") if isinstance(body, dict) else None
        ok(st == 401 and code == "unauthorized", "%s: %s %s -> 401 unauthorized" % (label, method, pattern),
           "got %s %r" % (st, body))
is_(row_counts(), before, "rejected keys changed nothing in the database")

st, _, _ = srv.call("GET", "/v1/exceptions", headers={"Authorization": "bearer " + KEYS["viewer"]})
is_(st, 200, "the auth scheme is case-insensitive (RFC 9110): 'bearer KEY' works")

# --- allowed roles pass the gate (404/409/422 from the handler, never 401/403)
for method, pattern, cap in ROUTES:
    if method == "GET" or "{" not in pattern or cap in ("CAP_PUBLIC", "CAP_MERCHANT", "CAP_INGEST"):
        continue
    for role, k in KEYS.items():
        if cap not in CAN[role]:
            continue
        st, body, _ = srv.call(method, concrete(pattern), key=k, body={"version": 1, "note": "roles test",
                                                                       "resolution": "refund"})
        ok(st not in (401, 403), "%s passes the %s gate on %s %s (got %d)" % (role, cap, method, pattern, st), body)
for role in ("viewer", "support", "ops", "finance", "admin"):
    for path in ("/v1/exceptions", "/v1/audit", "/v1/whoami"):
        st, _, _ = srv.call("GET", path, key=KEYS[role])
        is_(st, 200, "%s can read %s" % (role, path))

# --- merchant scope: own merchant AND environment, 404 (not 403) for anything else
st, p1, _ = srv.call("POST", "/v1/payments", key=m1.key, headers={"Idempotency-Key": uniq("idem")},
                     body={"reference": "roles-1", "amount": "12.50", "rail": "tron:usdt"})
is_(st, 201, "merchant 1 creates a payment")
pid = p1.get("id") if isinstance(p1, dict) else None
st, got, _ = srv.call("GET", "/v1/payments/" + str(pid), key=m1.key)
ok(st == 200 and got.get("id") == pid, "merchant 1 reads its payment")
before = row_counts()
for label, k in (("another merchant", m2.key), ("the same merchant's production key", m1_prod)):
    st, body, _ = srv.call("GET", "/v1/payments/" + str(pid), key=k)
    ok(st == 404 and body["error"]["code"] == "not_found", "%s: GET the payment -> 404 not_found" % label, body)
    st, body, _ = srv.call("POST", "/v1/payments/%s/cancel" % pid, key=k)
    ok(st == 404 and body["error"]["code"] == "not_found", "%s: cancel the payment -> 404 not_found" % label, body)
    st, body, _ = srv.call("GET", "/v1/payments?limit=200", key=k)
    ok(st == 200 and all(p["id"] != pid for p in body["data"]), "%s: the payment is not in its list" % label)
    st, body, _ = srv.call("GET", "/v1/payments?reference=roles-1", key=k)
    ok(st == 200 and body["data"] == [], "%s: filtering by the reference finds nothing" % label, body)
is_(row_counts(), before, "cross-merchant attempts changed nothing")
st, got, _ = srv.call("GET", "/v1/payments/" + str(pid), key=m1.key)
ok(st == 200 and got["state"] == "awaiting_payment", "the payment is untouched by the other merchant's cancel")

# --- the watcher ingests and nothing else; ingest is not open to operators
head = int(sql1("SELECT coalesce(max(head), 0) FROM chain_heads WHERE network = 'tron-nile'") or 0)
st, body, _ = srv.call("POST", "/v1/chain/transfers", key=KEYS["watcher"], body={"network": "tron-nile", "transfers": []})
ok(st in (200, 202), "watcher may post transfers (got %d)" % st, body)
st, body, _ = srv.call("POST", "/v1/chain/heads", key=KEYS["watcher"], body={"network": "tron-nile", "head": max(head, 1)})
ok(st in (200, 202), "watcher may post the current head (got %d)" % st, body)
for role in ("admin", "ops", "merchant"):
    st, body, _ = srv.call("POST", "/v1/chain/heads", key=KEYS[role], body={"network": "tron-nile", "head": head + 1})
    is_(st, 403, "%s may not move chain heads" % role)

# --- whoami tells the truth about the caller
st, me, _ = srv.call("GET", "/v1/whoami", key=KEYS["ops"])
ok(st == 200 and me["role"] == "ops" and me["environment"] == "sandbox", "whoami names the role", me)
ok(srv.alive(), "raild still serving")
