#!/usr/bin/env bash
# Sample merchants, rails, addresses, wallets and keys for the demo (PG* set by caller).
# Keys are written to DIR/keys/<name>, mode 600 — never printed.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:?usage: demo-seed.sh DIR}
mkdir -p "$DIR/keys"; chmod 700 "$DIR/keys"
gen() { python3 - "$1" "$2" <<'PY'
import sys, os, hashlib
sys.path.insert(0, "tests/lib")
from rt import address
net, n = sys.argv[1], int(sys.argv[2])
for i in range(n): print(address(net, "demo-%s-%d" % (net, i)))
PY
}
for net in tron ethereum bsc polygon; do
  gen $net 2000 >"$DIR/addr-$net.txt"
  bin/raild admin add-addresses --network $net --file "$DIR/addr-$net.txt"
done
hot=$(python3 -c 'import sys; sys.path.insert(0, "tests/lib"); from rt import tron_address; print(tron_address("hot-wallet"))')
sweep=$(python3 -c 'import sys; sys.path.insert(0, "tests/lib"); from rt import tron_address; print(tron_address("sweep-wallet"))')
bin/raild admin add-wallet --network tron --address "$hot" --kind hot
bin/raild admin add-wallet --network tron --address "$sweep" --kind sweep
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
