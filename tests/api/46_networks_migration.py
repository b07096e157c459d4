#!/usr/bin/env python3
"""Migration 0040 moves a populated database forward: networks gain their environment,
sandbox payments move to the sandbox twin of their network with their deposit addresses,
transfers and exceptions, chain heads are copied, old watcher keys (which knew no network)
are revoked with an audit row, and the gateway serves the migrated data. A sandbox rail
with no well-known test token refuses payments until the deployment names one."""
import glob, os, subprocess, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

name = "mig_" + uniq("t").replace("-", "_")
sql("CREATE DATABASE %s" % name)
os.environ["PGDATABASE"] = name
sql("CREATE TABLE schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
old = sorted(f for f in glob.glob(os.path.join(ROOT, "db", "migrations", "*.sql")) if os.path.basename(f) < "0040")
for f in old:   # the layout before networks had environments, as a deployment has it today
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-1", "-f", f], capture_output=True, text=True)
    assert r.returncode == 0, (f, r.stderr)
    sql("INSERT INTO schema_migrations (name) VALUES (:'n')", n=os.path.basename(f)[:-4])

# old-layout rows: a sandbox and a production payment on tron, a transfer and an exception
# each, a free pool address, a head, a watcher key
sql("""
INSERT INTO merchants (id, name) VALUES (9001, 'Old Merchant');
INSERT INTO merchant_rails VALUES (9001, 'sandbox', 'tron:usdt', true, now()), (9001, 'production', 'tron:usdt', true, now());
INSERT INTO payments (id, public_id, merchant_id, environment, rail, reference, amount, received, state, deposit_address,
                      expires_at)
VALUES (1, 'pay_oldsandbox', 9001, 'sandbox', 'tron:usdt', 'S-1', 5000000, 5000000, 'confirming', 'TSandboxAddr',
        now() + interval '1 day'),
       (2, 'pay_oldprod', 9001, 'production', 'tron:usdt', 'P-1', 7000000, 7000000, 'confirming', 'TProdAddr',
        now() + interval '1 day');
SELECT setval('payments_id_seq', 100);
SELECT setval('merchants_id_seq', 9001);
INSERT INTO deposit_addresses (network, address, payment_id) VALUES ('tron', 'TSandboxAddr', 1), ('tron', 'TProdAddr', 2),
       ('tron', 'TFreeAddr', NULL);
INSERT INTO chain_transfers (network, tx_hash, log_index, block_number, contract, from_address, to_address, value,
                             classification, payment_id, counted)
VALUES ('tron', 'aa', 0, 100, 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t', 'Tx', 'TSandboxAddr', 5000000, 'payment', 1, true),
       ('tron', 'bb', 0, 100, 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t', 'Tx', 'TProdAddr', 7000000, 'payment', 2, true);
INSERT INTO exceptions (public_id, type, severity, sla_due, merchant_id, environment, network, payment_id, details)
VALUES ('exc_oldsandbox', 'stuck_unconfirmed', 1, now(), 9001, 'sandbox', 'tron', 1, '{"network": "tron"}'),
       ('exc_oldprod', 'stuck_unconfirmed', 1, now(), 9001, 'production', 'tron', 2, '{"network": "tron"}');
INSERT INTO chain_heads VALUES ('tron', 110, 90, now());
INSERT INTO api_keys (name, role, environment, prefix, hash) VALUES ('old-watcher', 'watcher', 'sandbox', 'rk_test_x', '\\x01');
""")
before = row_counts(["payments", "deposit_addresses", "chain_transfers", "exceptions", "api_keys"])

r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True)
ok(r.returncode == 0, "raild migrate moves the populated database forward", r.stderr)
is_(row_counts(["payments", "deposit_addresses", "chain_transfers", "exceptions", "api_keys"]), before,
    "every row is still there")
is_(sql("SELECT name, environment FROM networks WHERE name IN ('tron', 'tron-nile') ORDER BY 1"),
    [["tron", "production"], ["tron-nile", "sandbox"]], "tron serves production, tron-nile sandbox")
is_(sql("SELECT address, network FROM deposit_addresses ORDER BY address"),
    [["TFreeAddr", "tron"], ["TProdAddr", "tron"], ["TSandboxAddr", "tron-nile"]],
    "the sandbox payment's address moved to tron-nile; production's and the free pool stayed")
is_(sql("SELECT tx_hash, network FROM chain_transfers ORDER BY 1"), [["aa", "tron-nile"], ["bb", "tron"]],
    "transfers follow their payment's environment")
is_(sql("SELECT public_id, network, details->>'network' FROM exceptions ORDER BY 1"),
    [["exc_oldprod", "tron", "tron"], ["exc_oldsandbox", "tron-nile", "tron-nile"]], "so do exceptions")
is_(sql("SELECT network, head, finalized FROM chain_heads ORDER BY 1"), [["tron", "110", "90"], ["tron-nile", "110", "90"]],
    "the head is copied to the sandbox twin (it was one chain)")
ok(sql1("SELECT revoked_at IS NOT NULL FROM api_keys WHERE name = 'old-watcher'") == "t",
   "a watcher key that knew no network is revoked")
ok(sql1("SELECT count(*) FROM audit_log WHERE action = 'key.revoke' AND actor = 'migration:0040'") == "1",
   "with an audit row saying why")
is_(sql("SELECT environment, network FROM rails WHERE id = 'tron:usdt' ORDER BY 1"),
    [["production", "tron"], ["sandbox", "tron-nile"]], "tron:usdt is configured per environment")
r = subprocess.run([RAILD, "migrate"], capture_output=True, text=True)
ok(r.returncode == 0 and "0 applied" in r.stdout, "migrating again changes nothing", r.stdout + r.stderr)

srv = Raild("--no-workers")
mk = key("merchant", merchant="9001")
st, p, _ = srv.call("GET", "/v1/payments/pay_oldsandbox", key=mk)
is_((st, p.get("network"), p.get("received")), (200, "tron-nile", "5.000000"), "the API serves the migrated payment")
admin("enable-rail", "--merchant", "9001", "--env", "sandbox", "--rail", "ethereum:usdt", check=True)
add_addresses("sepolia", 2)
before = row_counts(["payments", "deposit_addresses"])
st, b, _ = srv.call("POST", "/v1/payments", key=mk, body={"reference": "E-1", "amount": "1.00", "rail": "ethereum:usdt"})
is_((st, b.get("error", {}).get("code")), (422, "rail_not_configured"),
    "Sepolia has no well-known USDT: payments are refused until a token is named")
is_(row_counts(["payments", "deposit_addresses"]), before, "and nothing was written")
st, rails, _ = srv.call("GET", "/v1/rails", key=mk)
eth = [x for x in rails.get("rails", []) if x["rail"] == "ethereum:usdt"]
ok(st == 200 and eth and eth[0]["contract"] is None and eth[0]["network"] == "sepolia" and eth[0]["enabled"],
   "GET /v1/rails shows the rail with no contract yet", rails)
admin("set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia", "--contract", evm_address(),
      check=True)
st, b, _ = srv.call("POST", "/v1/payments", key=mk, body={"reference": "E-1", "amount": "1.00", "rail": "ethereum:usdt"})
is_((st, b.get("network")), (201, "sepolia"), "once named, the rail takes payments from the sepolia pool")
srv.stop()
os.environ.pop("PGDATABASE")
