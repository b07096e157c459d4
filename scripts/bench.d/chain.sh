#!/usr/bin/env bash
# bench.d/chain.sh — raild's chain watcher on a real node (anvil), in a database of its own:
#   1. catch-up: 20,000 blocks holding 5,000 Transfers to our deposit addresses (and as many
#      to others), scanned from block 1 by a fresh watcher, against the same eth_getLogs
#      filters over the same blocks fetched raw with curl in the same run.
#      Target: watcher >= 0.8x the raw rate, every transfer ingested once.
#   2. live: a mined transfer is seen (payment leaves awaiting_payment) within the poll
#      interval + 100 ms, p99 over 200 blocks.
# Env from bench.sh: PG*, RAILD, BENCH_DIR. Sizes: BENCH_CHAIN_BLOCKS, BENCH_CHAIN_TRANSFERS.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 scripts/bench-chain.py
