#!/usr/bin/env bash
# make bench: its own PostgreSQL under build/bench, the large data set seeded with
# set-based SQL (scripts/bench-seed.sql), then every executable scripts/bench.d/*.sh with
# PG*, RAILD, RAILSIM, RAILTOP and BENCH_DIR set. Each prints lines
#   ROW|<figure>|<value>|<unit>|<baseline name>|<baseline value>|<ratio>|<target>|PASS or FAIL
# (medians of repeated runs, baseline measured in the same run). They are gathered into
# one aligned table, printed and written to build/bench/results.txt.
# Sizes: BENCH_PAYMENTS (1000000), BENCH_EXCEPTIONS (100000), BENCH_ATTEMPTS (2000000),
# BENCH_ORDERS (1000000), BENCH_LEDGER (1000000), BENCH_POOL (300000 free addresses on
# tron-nile and bsc-testnet). BENCH_ONLY="api webhooks" runs a subset of bench.d.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$ROOT/build/bench
T0=$(date +%s)

make -s -j2 ${BENCH_BUILD:-all} >/dev/null
bash scripts/pgtmp.sh stop "$B/pg" >/dev/null 2>&1 || true
rm -rf "$B"; mkdir -p "$B/logs"
eval "$(bash scripts/pgtmp.sh start "$B/pg")"
trap 'bash scripts/pgtmp.sh stop "$B/pg" >/dev/null 2>&1 || true' EXIT
export PGHOST PGPORT PGUSER PGDATABASE
export RAILD=$ROOT/bin/raild RAILSIM=$ROOT/bin/railsim RAILTOP=$ROOT/bin/railtop BENCH_DIR=$B
# the seeded production endpoints need a raild that can seal secrets (it refuses to start
# on production secrets without RAILD_SECRETS_KEY)
RAILD_SECRETS_KEY=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
export RAILD_SECRETS_KEY
bin/raild migrate >"$B/logs/migrate.log" 2>&1
# Sepolia and Amoy have no well-known USDT: name test tokens, as a deployment must
bin/raild admin set-rail --env sandbox --rail ethereum:usdt --network sepolia \
  --contract 0xaa8e23fb1079ea71e0a56f48a2aa51851d8433d0 >>"$B/logs/migrate.log" 2>&1
bin/raild admin set-rail --env sandbox --rail polygon:usdt --network polygon-amoy \
  --contract 0x1616d425cd540b256475cbfb604586c8598ec0fb >>"$B/logs/migrate.log" 2>&1

BENCH_PAYMENTS=${BENCH_PAYMENTS:-1000000}
echo "== seeding the large data set ($BENCH_PAYMENTS payments)"
cp scripts/bench-seed.sql "$B/seed.sql"     # psql reads as it goes: edits to the tree must not reach it
t=$(date +%s.%N)
psql -X -q -v payments="$BENCH_PAYMENTS" -v exceptions="${BENCH_EXCEPTIONS:-100000}" \
     -v attempts="${BENCH_ATTEMPTS:-2000000}" -v orders="${BENCH_ORDERS:-1000000}" \
     -v ledger="${BENCH_LEDGER:-1000000}" -v pool="${BENCH_POOL:-300000}" -f "$B/seed.sql"
SEED_S=$(python3 -c "import sys; print('%.1f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$t" "$(date +%s.%N)")
psql -X -At -F ' ' -c "SELECT 'rows:', (SELECT count(*) FROM payments) || ' payments,',
  (SELECT count(*) FROM payment_events) || ' events,',
  (SELECT count(*) FROM exceptions WHERE state = 'open') || ' open exceptions,',
  (SELECT count(*) FROM chain_transfers) || ' transfers'" | sed 's/^/   /'
for t in webhook_attempts orders ledger_transactions; do
  if [ "$(psql -X -At -c "SELECT to_regclass('$t') IS NOT NULL")" = t ]; then
    echo "   $(psql -X -At -c "SELECT count(*) FROM $t") $t"
  fi
done
echo "   seeded in ${SEED_S}s; database $(psql -X -At -c "SELECT pg_size_pretty(pg_database_size(current_database()))")"

: >"$B/rows"
status=0
for f in scripts/bench.d/*.sh; do
  [ -x "$f" ] || continue
  name=$(basename "$f" .sh)
  if [ -n "${BENCH_ONLY:-}" ] && ! grep -qw "$name" <<<"$BENCH_ONLY"; then continue; fi
  echo "== bench.d/$name.sh"
  s=$(date +%s)
  if bash "$f" >"$B/logs/$name.out" 2>"$B/logs/$name.log"; then rc=0; else rc=$?; fi
  grep '^ROW|' "$B/logs/$name.out" >>"$B/rows" || true
  grep -v '^ROW|' "$B/logs/$name.out" | sed 's/^/   /' || true
  echo "   ($(( $(date +%s) - s ))s, exit $rc; log build/bench/logs/$name.log)"
  if [ $rc -ne 0 ]; then
    status=1
    echo "ROW|$name.sh exited $rc (see build/bench/logs/$name.log)|-|-|-|-|-|-|FAIL" >>"$B/rows"
    tail -5 "$B/logs/$name.log" | sed 's/^/   ! /'
  fi
done

table_rc=0
if python3 - "$B/rows" "$B/results.txt" "$SEED_S" "$BENCH_PAYMENTS" "$(( $(date +%s) - T0 ))" <<'PY'
import sys
rows_path, out_path, seed_s, payments, total = sys.argv[1:]
head = ["figure", "value", "baseline (same run)", "ratio", "target", "result"]
rows = []
for line in open(rows_path):
    f = line.rstrip("\n").split("|")[1:]
    if len(f) < 8:
        f += ["-"] * (8 - len(f))
    fig, val, unit, bname, bval, ratio, target, res = f[:8]
    rows.append([fig, ("%s %s" % (val, unit)).strip(), "%s: %s" % (bname, bval) if bname not in ("", "-") else "-",
                 ratio, target, res])
w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
fmt = lambda r: "  ".join(c.ljust(w[i]) if i < 3 else c.rjust(w[i]) if i == 3 else c.ljust(w[i]) for i, c in enumerate(r)).rstrip()
lines = ["railtop bench — medians of repeated runs; data set seeded with %s payments in %ss; total %ss" % (payments, seed_s, total),
         "", fmt(head), "  ".join("-" * x for x in w)] + [fmt(r) for r in rows]
fails = sum(1 for r in rows if r[5] not in ("PASS", "info"))
refs = sum(1 for r in rows if r[5] == "info")
lines += ["", "%d figures, %d pass, %d fail%s" % (len(rows) - refs, len(rows) - refs - fails, fails,
                                                 ", %d for reference (no target)" % refs if refs else "")]
text = "\n".join(lines) + "\n"
open(out_path, "w").write(text)
print("\n" + text, end="")
sys.exit(1 if fails or not rows else 0)
PY
then :; else table_rc=1; fi
if [ $table_rc -eq 0 ] && [ $status -eq 0 ]; then echo "results: build/bench/results.txt"; exit 0; fi
echo "results: build/bench/results.txt (some figures failed)"
exit 1
