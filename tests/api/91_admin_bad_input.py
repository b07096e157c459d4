#!/usr/bin/env python3
"""Bad input to every `raild admin` command: non-zero exit, a message that says what to
fix, and the database unchanged (row counts of every table before and after)."""
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from rt import *

m = Merchant(rails=("tron:usdt",), addresses=1)
revoked_name = uniq("revoked")
admin("create-key", "--role", "viewer", "--name", revoked_name, "--env", "sandbox", check=True)
revoked_id = sql1("SELECT id FROM api_keys WHERE name = :'n'", n=revoked_name)
admin("revoke-key", "--id", revoked_id, check=True)
wallet = tron_address()
admin("add-wallet", "--network", "tron", "--address", wallet, "--kind", "hot", check=True)


def addr_file(lines, name="addrs"):
    path = os.path.join(LOGDIR, uniq(name) + ".txt")
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return path


bad_tron = tron_address()[:-1] + ("1" if tron_address()[-1] != "1" else "2")   # checksum broken
good1, good2 = tron_address(), tron_address()
f_mixed = addr_file([good1, "# a comment", "", "not-an-address", good2, bad_tron])
f_empty = addr_file([])
f_comments = addr_file(["# only", "   ", "# comments"])
f_evm_on_tron = addr_file([evm_address()])
f_tron_on_evm = addr_file([good1])
f_evm_bad = addr_file(["0x" + "g" * 40, "0x1234"])
missing_file = os.path.join(LOGDIR, uniq("missing") + ".txt")
M = m.id
long_name = "n" * 201

# (args, fragments the message must contain — what to fix)
CASES = [
    ([], ["usage", "create-merchant"]),
    (["no-such-command"], ["unknown command 'no-such-command'"]),
    (["create-merchant"], ["--name is required"]),
    (["create-merchant", "--name"], ["--name needs a value"]),
    (["create-merchant", "--name", ""], ["--name is required"]),
    (["create-merchant", "--name", long_name], ["--name must be at most 200"]),
    (["create-merchant", "--name", "x", "--name", "y"], ["--name given twice"]),
    (["create-merchant", "--name", "x", "--colour", "red"], ["unknown option '--colour'"]),
    (["create-merchant", "stray"], ["unexpected argument 'stray'"]),
    (["create-merchant", "--name", uniq("m"), "--tolerance-bps", "-1"], ["--tolerance-bps must be an integer"]),
    (["create-merchant", "--name", uniq("m"), "--tolerance-bps", "10001"], ["--tolerance-bps"]),
    (["create-merchant", "--name", uniq("m"), "--fee-bps", "1.5"], ["--fee-bps must be an integer"]),
    (["create-merchant", "--name", m.name], ["already exists"]),
    (["enable-rail", "--env", "sandbox", "--rail", "tron:usdt"], ["--merchant is required"]),
    (["enable-rail", "--merchant", "abc", "--env", "sandbox", "--rail", "tron:usdt"], ["--merchant must be a positive integer"]),
    (["enable-rail", "--merchant", "0", "--env", "sandbox", "--rail", "tron:usdt"], ["--merchant must be a positive integer"]),
    (["enable-rail", "--merchant", "-3", "--env", "sandbox", "--rail", "tron:usdt"], ["--merchant must be a positive integer"]),
    (["enable-rail", "--merchant", "987654321", "--env", "sandbox", "--rail", "tron:usdt"], ["no merchant with id 987654321"]),
    (["enable-rail", "--merchant", M, "--env", "staging", "--rail", "tron:usdt"], ["--env must be 'sandbox' or 'production'"]),
    (["enable-rail", "--merchant", M, "--env", "sandbox", "--rail", "tron:usdc"], ["unknown rail 'tron:usdc'"]),
    (["enable-rail", "--merchant", M, "--env", "sandbox", "--rail", "USDT"], ["unknown rail 'USDT'"]),
    (["enable-rail", "--merchant", M, "--env", "sandbox"], ["--rail is required"]),
    (["disable-rail", "--merchant", M, "--env", "prod", "--rail", "tron:usdt"], ["--env must be"]),
    (["disable-rail", "--merchant", "x1", "--env", "sandbox", "--rail", "tron:usdt"], ["--merchant must be a positive integer"]),
    (["disable-rail", "--merchant", M, "--env", "sandbox", "--rail", "tron:trx"], ["unknown rail"]),
    (["add-addresses", "--network", "tron"], ["--file is required"]),
    (["add-addresses", "--file", f_mixed], ["--network is required"]),
    (["add-addresses", "--network", "solana", "--file", f_mixed], ["unknown --network 'solana'"]),
    (["add-addresses", "--network", "tron", "--file", missing_file], ["cannot read --file"]),
    (["add-addresses", "--network", "tron", "--file", f_mixed],
     ["%s:4: not a valid tron address" % f_mixed, "%s:6:" % f_mixed, "nothing added"]),
    (["add-addresses", "--network", "tron", "--file", f_empty], ["has no addresses", "nothing added"]),
    (["add-addresses", "--network", "tron", "--file", f_comments], ["has no addresses"]),
    (["add-addresses", "--network", "tron", "--file", f_evm_on_tron], ["%s:1: not a valid tron address" % f_evm_on_tron]),
    (["add-addresses", "--network", "ethereum", "--file", f_tron_on_evm], ["%s:1: not a valid ethereum address" % f_tron_on_evm]),
    (["add-addresses", "--network", "bsc", "--file", f_evm_bad], ["%s:1:" % f_evm_bad, "%s:2:" % f_evm_bad]),
    (["add-wallet", "--network", "tron", "--address", tron_address()], ["--kind is required"]),
    (["add-wallet", "--network", "tron", "--address", tron_address(), "--kind", "cold"], ["--kind must be 'hot' or 'sweep'"]),
    (["add-wallet", "--network", "tron", "--address", bad_tron, "--kind", "hot"], ["--address is not a valid tron address"]),
    (["add-wallet", "--network", "ethereum", "--address", good1, "--kind", "hot"], ["not a valid ethereum address"]),
    (["add-wallet", "--network", "polygon", "--address", "0x12", "--kind", "sweep"], ["not a valid polygon address"]),
    (["add-wallet", "--network", "dogecoin", "--address", good1, "--kind", "hot"], ["unknown --network 'dogecoin'"]),
    (["add-wallet", "--network", "tron", "--address", wallet, "--kind", "hot"], ["already a registered tron wallet"]),
    (["create-key", "--role", "viewer", "--name", "k"], ["--env is required"]),
    (["create-key", "--role", "root", "--name", "k", "--env", "sandbox"], ["--role must be one of"]),
    (["create-key", "--role", "Admin", "--name", "k", "--env", "sandbox"], ["--role must be one of"]),
    (["create-key", "--role", "viewer", "--name", "k", "--env", "live"], ["--env must be"]),
    (["create-key", "--role", "merchant", "--name", "k", "--env", "sandbox"], ["--merchant is required for a merchant key"]),
    (["create-key", "--role", "viewer", "--name", "k", "--env", "sandbox", "--merchant", M], ["--merchant is only for merchant keys"]),
    (["create-key", "--role", "merchant", "--name", "k", "--env", "sandbox", "--merchant", "987654321"], ["no merchant with id"]),
    (["create-key", "--role", "merchant", "--name", "k", "--env", "sandbox", "--merchant", "seven"], ["--merchant must be a positive integer"]),
    (["create-key", "--role", "ops", "--name", long_name, "--env", "sandbox"], ["--name must be at most 200"]),
    (["create-key", "--role", "ops", "--name", "k", "--env", "sandbox", "--key", "rk_test_x"], ["unknown option '--key'"]),
    (["list-keys", "--role", "ops"], ["unknown option '--role'"]),
    (["revoke-key"], ["--id is required"]),
    (["revoke-key", "--id", "abc"], ["--id must be a positive integer"]),
    (["revoke-key", "--id", "987654321"], ["no active key with id 987654321"]),
    (["revoke-key", "--id", revoked_id], ["no active key with id %s" % revoked_id]),
    (["list-keys", "--db", "host=/nonexistent-railtop-socket-dir"], ["cannot connect to the database"]),
]

before = row_counts()
for args, fragments in CASES:
    rc, out, err = admin(*args)
    label = "raild admin " + " ".join(a if len(a) < 40 else a[:37] + "..." for a in args)
    missing = [f for f in fragments if f not in err]
    ok(rc != 0 and not missing, "%s -> exit %d, says what to fix" % (label, rc),
       "exit %d\nmissing in stderr: %r\nstderr: %s" % (rc, missing, err))
    ok(out.strip() == "" or args[:1] == [], "%s prints nothing on stdout" % label, out)
    after = row_counts()
    diff = {t: (before.get(t), after.get(t)) for t in after if before.get(t) != after.get(t)}
    ok(not diff, "%s leaves the database unchanged" % label, diff)
    before = after

ok(sql1("SELECT count(*) FROM deposit_addresses WHERE address IN (:'a', :'b')", a=good1, b=good2) == "0",
   "the valid lines of a file with bad lines were not added either")
ok(sql1("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = :'i'", i=revoked_id) == "t", "revoked key stays revoked")
for p in (f_mixed, f_empty, f_comments, f_evm_on_tron, f_tron_on_evm, f_evm_bad):
    os.unlink(p)
