#!/usr/bin/env bash
# Sample merchants, rails, addresses, wallets and keys for the demo (PG* set by caller).
# Keys are written to DIR/keys/<name>, mode 600 — never printed. Hot wallets are
# written to DIR/wallets (NET=ADDRESS lines) for railsim's --hot-wallet.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: demo-seed.sh DIR}
ADDRS=${DEMO_ADDRESSES:-10000}
mkdir -p "$DIR/keys"; chmod 700 "$DIR/keys"
gen() { python3 scripts/demo-addresses.py "$1" "$2" demo; }
# Networks (DESIGN §2): sandbox rails on tron-nile, bsc-testnet, polygon-amoy (simulated by
# railsim) and ethereum:usdt on a real node, anvil (watched by raild itself); production
# tron:usdt on tron (simulated). Amoy has no well-known USDT: the demo names a test token.
bin/raild admin add-network --name anvil --env sandbox --kind evm --chain-id 31337 --block-time-ms 1000
bin/raild admin set-rail --env sandbox --rail ethereum:usdt --network anvil \
  --contract 0xdAC17F958D2ee523a2206206994597C13D831ec7 --confirmations 3 --finality tag
bin/raild admin set-rail --env sandbox --rail polygon:usdt --network polygon-amoy \
  --contract 0x1616d425cd540b256475cbfb604586c8598ec0fb
bin/raild admin set-rpc --network anvil --url-file "$DIR/anvil.url" --from-block 1
# a second node with no rail on it, reorged deep by demo-chain.py: the chain incident path
bin/raild admin add-network --name anvil-b --env sandbox --kind evm --chain-id 31338 --block-time-ms 1000
bin/raild admin set-rpc --network anvil-b --url-file "$DIR/anvil-b.url" --from-block 1
# money out (DESIGN §11): payouts leave anvil's second account, anvil signs for it
bin/raild admin add-wallet --network anvil --address "$(cat "$DIR/anvil.hot")" --kind hot
bin/raild admin set-signer --network anvil --url-file "$DIR/anvil.url"
bin/raild admin set-payout-policy --env sandbox --rail ethereum:usdt --dual-above 1000 --velocity-24h 50000
for net in tron-nile anvil bsc-testnet polygon-amoy tron; do
  gen $net "$ADDRS" >"$DIR/addr-$net.txt"
  bin/raild admin add-addresses --network $net --file "$DIR/addr-$net.txt"
done
# a payment is stuck after 20 s in the mempool (30 minutes by default), so the demo shows
# stuck_unconfirmed early; set-rail has no flag for it yet
psql -X -q -c "UPDATE rails SET stuck_after = interval '20 seconds' WHERE environment = 'sandbox'"
wallet() { python3 scripts/demo-addresses.py "$1" 1 "$2"; }
: >"$DIR/wallets"
for net in tron-nile bsc-testnet tron; do
  hot=$(wallet $net "hot-wallet-$net"); sweep=$(wallet $net "sweep-wallet-$net")
  bin/raild admin add-wallet --network $net --address "$hot" --kind hot
  bin/raild admin add-wallet --network $net --address "$sweep" --kind sweep
  echo "$net=$hot" >>"$DIR/wallets"
done
m1=$(bin/raild admin create-merchant --name "Acme Industrial GmbH")
m2=$(bin/raild admin create-merchant --name "Borealis Freight Ltd" --tolerance-bps 50)
for r in tron:usdt ethereum:usdt bsc:usdt polygon:usdt; do
  bin/raild admin enable-rail --merchant "$m1" --env sandbox --rail $r
done
bin/raild admin enable-rail --merchant "$m1" --env production --rail tron:usdt
bin/raild admin enable-rail --merchant "$m2" --env sandbox --rail tron:usdt
bin/raild admin enable-rail --merchant "$m2" --env sandbox --rail bsc:usdt
umask 077
bin/raild admin create-key --role merchant --name acme-sandbox --merchant "$m1" --env sandbox >"$DIR/keys/merchant-acme"
bin/raild admin create-key --role merchant --name acme-production --merchant "$m1" --env production >"$DIR/keys/merchant-acme-prod"
bin/raild admin create-key --role merchant --name borealis-sandbox --merchant "$m2" --env sandbox >"$DIR/keys/merchant-borealis"
for net in tron-nile bsc-testnet polygon-amoy tron; do   # railsim's chains: a watcher key each
  bin/raild admin create-key --role watcher --name "watcher-$net" --network $net >"$DIR/keys/watcher-$net"
done
for role in viewer support ops ops-colleague finance treasury admin; do
  bin/raild admin create-key --role "${role%-colleague}" --name "demo-$role" --env sandbox >"$DIR/keys/$role"
done
