#!/usr/bin/env bash
# make storm: the fault storm (scripts/storm.py) on STORM_SEEDS (default three seeds in a
# row), STORM_SECONDS each (default 120), against the plain build; stops at the first seed
# with a violation and says how to replay it.
set -euo pipefail
cd "$(dirname "$0")/.."
make -s -j2 all >/dev/null
for seed in ${STORM_SEEDS:-1 2 3}; do
  echo "== storm seed $seed (${STORM_SECONDS:-120} s)"
  STORM_SEED=$seed python3 scripts/storm.py "build/storm/$seed" || { echo "storm: seed $seed violated an invariant"; exit 1; }
done
echo "storm: every seed passed (${STORM_SEEDS:-1 2 3})"
