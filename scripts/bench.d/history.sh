#!/usr/bin/env bash
# bench.d/history.sh — history at scale (issue 13 §2), in a database of its own: signed
# deliveries/s with 20M historic attempts in the partitioned table against the same with the
# history empty (same run), and dropping a 1M-row partition past retention while deliveries
# run (its time, and the longest pause at the receiver). Sizes: HIST_ATTEMPTS (20000000),
# HIST_DROP_ROWS (1000000), HIST_EVENTS per round (10000), HIST_ROUNDS (3).
# Env from bench.sh: PG*, RAILD, RAILSIM, BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 scripts/bench-history.py
