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
admin("add-wallet", "--network", "tron-nile", "--address", wallet, "--kind", "hot", check=True)


def addr_file(lines, name="addrs"):
    path = os.path.join(LOGDIR, uniq(name) + ".txt")
    with open(path, "w") as f:
        f.write("".join(l + "\n" for l in lines))
    return path


_t = tron_address()
bad_tron = _t[:-1] + ("1" if _t[-1] != "1" else "2")   # checksum broken (one address, not two)
good1, good2 = tron_address(), tron_address()
f_mixed = addr_file([good1, "# a comment", "", "not-an-address", good2, bad_tron])
f_empty = addr_file([])
f_comments = addr_file(["# only", "   ", "# comments"])
f_evm_on_tron = addr_file([evm_address()])
f_tron_on_evm = addr_file([good1])
f_evm_bad = addr_file(["0x" + "g" * 40, "0x1234"])
missing_file = os.path.join(LOGDIR, uniq("missing") + ".txt")
f_rpc = addr_file(["http://127.0.0.1:1/"], "rpc")
f_ftp = addr_file(["http://127.0.0.1:1/", "ftp://node.example/"], "rpc")
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
    (["add-addresses", "--network", "tron-nile"], ["--file is required"]),
    (["add-addresses", "--file", f_mixed], ["--network is required"]),
    (["add-addresses", "--network", "solana", "--file", f_mixed], ["unknown --network 'solana'"]),
    (["add-addresses", "--network", "tron-nile", "--file", missing_file], ["cannot read --file"]),
    (["add-addresses", "--network", "tron-nile", "--file", f_mixed],
     ["%s:4: not a valid tron address" % f_mixed, "%s:6:" % f_mixed, "nothing added"]),
    (["add-addresses", "--network", "tron-nile", "--file", f_empty], ["has no addresses", "nothing added"]),
    (["add-addresses", "--network", "tron-nile", "--file", f_comments], ["has no addresses"]),
    (["add-addresses", "--network", "tron-nile", "--file", f_evm_on_tron], ["%s:1: not a valid tron address" % f_evm_on_tron]),
    (["add-addresses", "--network", "sepolia", "--file", f_tron_on_evm], ["%s:1: not a valid evm address for network sepolia" % f_tron_on_evm]),
    (["add-addresses", "--network", "bsc-testnet", "--file", f_evm_bad], ["%s:1:" % f_evm_bad, "%s:2:" % f_evm_bad]),
    (["add-wallet", "--network", "tron-nile", "--address", tron_address()], ["--kind is required"]),
    (["add-wallet", "--network", "tron-nile", "--address", tron_address(), "--kind", "cold"], ["--kind must be 'hot' or 'sweep'"]),
    (["add-wallet", "--network", "tron-nile", "--address", bad_tron, "--kind", "hot"], ["--address is not a valid tron address"]),
    (["add-wallet", "--network", "sepolia", "--address", good1, "--kind", "hot"], ["not a valid evm address for network sepolia"]),
    (["add-wallet", "--network", "polygon-amoy", "--address", "0x12", "--kind", "sweep"], ["not a valid evm address for network polygon-amoy"]),
    (["add-wallet", "--network", "dogecoin", "--address", good1, "--kind", "hot"], ["unknown --network 'dogecoin'"]),
    (["add-wallet", "--network", "tron-nile", "--address", wallet, "--kind", "hot"], ["already a registered tron-nile wallet"]),
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
    # watcher keys belong to one network (DESIGN §7)
    (["create-key", "--role", "watcher", "--name", "w", "--env", "sandbox"], ["--network is required for a watcher key"]),
    (["create-key", "--role", "ops", "--name", "k", "--env", "sandbox", "--network", "tron-nile"],
     ["--network is only for watcher keys"]),
    (["create-key", "--role", "watcher", "--name", "w", "--network", "solana"], ["unknown --network 'solana'"]),
    (["create-key", "--role", "watcher", "--name", "w", "--network", "tron", "--env", "sandbox"],
     ["network 'tron' serves production, not --env sandbox"]),
    # networks (DESIGN §2)
    (["add-network", "--env", "sandbox", "--kind", "evm", "--chain-id", "5"], ["--name is required"]),
    (["add-network", "--name", "My Chain", "--env", "sandbox", "--kind", "evm", "--chain-id", "5"], ["--name must be"]),
    (["add-network", "--name", "devnet", "--env", "staging", "--kind", "evm", "--chain-id", "5"], ["--env must be"]),
    (["add-network", "--name", "devnet", "--env", "sandbox", "--kind", "btc", "--chain-id", "5"], ["--kind must be 'evm' or 'tron'"]),
    (["add-network", "--name", "devnet", "--env", "sandbox", "--kind", "evm", "--chain-id", "0"], ["--chain-id must be a positive integer"]),
    (["add-network", "--name", "devnet", "--env", "sandbox", "--kind", "evm", "--chain-id", "0x5"], ["--chain-id must be"]),
    (["add-network", "--name", "devnet", "--env", "sandbox", "--kind", "evm", "--chain-id", "5", "--block-time-ms", "5"],
     ["--block-time-ms must be"]),
    (["add-network", "--name", "tron", "--env", "sandbox", "--kind", "tron", "--chain-id", "424242"], ["already exists"]),
    (["add-network", "--name", "devnet", "--env", "sandbox", "--kind", "evm", "--chain-id", "1"], ["chain id 1 already exists"]),
    # rails per environment
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia"], ["--contract is required"]),
    (["set-rail", "--env", "sandbox", "--rail", "ETH", "--network", "sepolia", "--contract", evm_address()], ["--rail must be"]),
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "goerli", "--contract", evm_address()],
     ["unknown --network 'goerli'"]),
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "ethereum", "--contract", evm_address()],
     ["network 'ethereum' serves production, not --env sandbox"]),
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia", "--contract", "0x12"],
     ["--contract is not a valid evm address"]),
    (["set-rail", "--env", "sandbox", "--rail", "tron:usdt", "--network", "tron-nile", "--contract", evm_address()],
     ["--contract is not a valid tron address"]),
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia", "--contract", evm_address(),
      "--decimals", "40"], ["--decimals must be"]),
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia", "--contract", evm_address(),
      "--confirmations", "0"], ["--confirmations must be"]),
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia", "--contract", evm_address(),
      "--finality", "soon"], ["--finality must be a block count", "'tag'"]),
    (["set-rail", "--env", "sandbox", "--rail", "ethereum:usdt", "--network", "sepolia", "--contract", evm_address(),
      "--confirmations", "70"], ["the finality depth must be at least the confirmations"]),
    (["set-rail", "--env", "sandbox", "--rail", "sepolia:usdc", "--network", "sepolia", "--contract", evm_address()],
     ["a new rail needs --decimals, --confirmations and --finality"]),
    # RPC endpoints: from a file or stdin, never argv
    (["set-rpc", "--network", "sepolia"], ["--url-file is required"]),
    (["set-rpc", "--network", "sepolia", "--url", "http://x"], ["unknown option '--url'"]),
    (["set-rpc", "--network", "sepolia", "--url-file", missing_file], ["cannot read --url-file"]),
    (["set-rpc", "--network", "sepolia", "--url-file", f_empty], ["no URLs given"]),
    (["set-rpc", "--network", "sepolia", "--url-file", f_ftp], ["%s:2: not an http(s) URL" % f_ftp]),
    (["set-rpc", "--network", "solana", "--url-file", f_rpc], ["unknown --network 'solana'"]),
    # repairing a head
    (["reset-head", "--network", "tron-nile", "--head", "5"], ["--reason is required"]),
    (["reset-head", "--network", "tron-nile", "--head", "-1", "--reason", "x"], ["--head must be a block number"]),
    (["reset-head", "--network", "tron-nile", "--head", "9007199254740992", "--reason", "x"], ["--head must be"]),
    (["reset-head", "--network", "solana", "--head", "5", "--reason", "x"], ["unknown --network 'solana'"]),
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
for p in (f_mixed, f_empty, f_comments, f_evm_on_tron, f_tron_on_evm, f_evm_bad, f_rpc, f_ftp):
    os.unlink(p)
