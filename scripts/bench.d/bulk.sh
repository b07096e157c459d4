#!/usr/bin/env bash
# bench.d/bulk.sh — bulk actions from the console on the large data set: railtop in tmux
# tags 1,000 open underpaid exceptions (`*`), resolves them as write_off with one note, and
# the time from the confirming Enter to the result list is measured (progress shown on
# the way). Baseline in the same run: 1,000 other exceptions resolved one call at a time
# with curl in a loop. Target: <= 10 s end to end.
# Env from bench.sh: PG*, RAILD, RAILTOP, BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 scripts/bench-bulk.py
