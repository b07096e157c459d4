#!/usr/bin/env bash
# bench.d/payouts.sh — money out on a real node (anvil), in a database of its own:
#   1. approval → broadcast: treasury approves, the payout worker takes a nonce, asks the
#      signer (anvil's eth_signTransaction), records and broadcasts. Median over
#      BENCH_PAYOUTS_LATENCY payouts, from the server's own event times. Baseline in the same
#      run: the same signature and broadcast asked of anvil directly (no database, no worker).
#      Target: median <= 500 ms.
#   2. BENCH_PAYOUTS_DRAIN approved payouts drain: every one finalized, nonces consecutive,
#      the hot wallet's nonce on chain moved by exactly that many.
# Env from bench.sh: PG*, RAILD, BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 scripts/bench-payouts.py
