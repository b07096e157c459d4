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
for net in tron ethereum bsc polygon; do
  gen $net "$ADDRS" >"$DIR/addr-$net.txt"
  bin/raild admin add-addresses --network $net --file "$DIR/addr-$net.txt"
done
wallet() { python3 scripts/demo-addresses.py "$1" 1 "$2"; }
: >"$DIR/wallets"
for net in tron bsc; do
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
bin/raild admin create-key --role watcher --name chain-watcher --env sandbox >"$DIR/keys/watcher"
for role in viewer support ops finance admin; do
  bin/raild admin create-key --role $role --name "demo-$role" --env sandbox >"$DIR/keys/$role"
done
