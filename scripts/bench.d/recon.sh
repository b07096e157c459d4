#!/usr/bin/env bash
# bench.d/recon.sh — the break engine over the seeded data set (1M orders, 1M payments,
# 1M ledger transactions by default):
#   1. `raild recon --full` (median of 3 runs) against, in the same run, the bare SQL a
#      hand-written reconciliation would run in psql: the three planes aggregated per key
#      (merchant, environment, reference), full-outer-joined, the disagreements counted.
#      Targets: <= 10 s, and <= 1.5x the bare joins.
#   2. An incremental run after one change (an order update through its trigger), the
#      engine's own time for the run (median of 5). Target: <= 50 ms.
# Env from bench.sh: PG*, RAILD, BENCH_DIR.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=${BENCH_DIR:?run from scripts/bench.sh}/recon
mkdir -p "$D"
median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ms_of() { sed -n 's/.* \([0-9][0-9]*\) ms$/\1/p'; }

counts=$(psql -X -At -F ' ' -c "SELECT (SELECT count(*) FROM orders), (SELECT count(*) FROM payments),
                                       (SELECT count(*) FROM ledger_transactions)")
echo "orders payments ledger_transactions: $counts" >&2

# 1. full runs against the bare joins, interleaved so both see the same machine load.
#    A first, unmeasured full run writes the breaks the seed contains.
cat >"$D/bare.sql" <<'SQL'
SET work_mem = '1GB';
\timing on
WITH rs AS (SELECT id AS rail, environment, power(10::numeric, 18 - decimals) AS scale FROM rails),
p AS (SELECT merchant_id, environment, reference, count(*) AS n_any,
             count(*) FILTER (WHERE state = 'finalized') AS n_final,
             coalesce(sum(received * scale) FILTER (WHERE state = 'finalized'), 0) AS p_amount
        FROM payments JOIN rs USING (rail, environment) GROUP BY 1, 2, 3),
f AS (SELECT merchant_id, environment, reference, count(*) AS n_booked, sum(amount * scale) AS f_amount
        FROM ledger_transactions JOIN rs USING (rail, environment)
       WHERE kind IN ('finality', 'attach', 'refund') AND reference IS NOT NULL GROUP BY 1, 2, 3)
SELECT count(*) FROM orders o FULL JOIN p USING (merchant_id, environment, reference)
                              FULL JOIN f USING (merchant_id, environment, reference)
 WHERE (o.status = 'fulfilled' AND coalesce(p.n_final, 0) = 0)
    OR (p.n_final > 0 AND f.n_booked IS NULL)
    OR (f.n_booked > 0 AND coalesce(p.n_final, 0) = 0)
    OR (p.n_final > 0 AND (o.amount <> p.p_amount OR p.p_amount <> f.f_amount))
    OR (o.status IN ('paid', 'fulfilled') AND p.n_any IS NULL)
    OR (p.n_final > 0 AND o.status = 'pending');
SQL
"$RAILD" recon --full >&2 2>>"$D/recon.log"
: >"$D/full.txt"; : >"$D/bare.txt"
for i in 1 2 3; do
  out=$("$RAILD" recon --full 2>>"$D/recon.log")
  echo "$out" >&2
  echo "$out" | ms_of >>"$D/full.txt"
  psql -X -q -f "$D/bare.sql" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | tail -1 | tee -a "$D/bare.txt" | sed 's/^/bare joins ms: /' >&2
done

# 2. incremental after one change
ref=$(psql -X -At -c "SELECT merchant_id || ' ' || environment || ' ' || reference FROM orders ORDER BY id DESC LIMIT 1")
read -r mid env oref <<<"$ref"
: >"$D/inc.txt"
for i in 1 2 3 4 5; do
  psql -X -q -v mid="$mid" -v env="$env" -v ref="$oref" >/dev/null <<'SQL'
UPDATE orders SET updated_at = updated_at + interval '1 second', received_at = now()
 WHERE merchant_id = :'mid' AND environment = :'env' AND reference = :'ref';
SQL
  out=$("$RAILD" recon --incremental 2>>"$D/recon.log")
  echo "$out" >&2
  echo "$out" | ms_of >>"$D/inc.txt"
done

full=$(median <"$D/full.txt"); bare=$(median <"$D/bare.txt"); inc=$(median <"$D/inc.txt")
python3 - "$full" "$bare" "$inc" <<'PY'
import sys
full, bare, inc = (float(x) for x in sys.argv[1:])
ratio = full / bare if bare else float("inf")
ok = full <= 10000 and ratio <= 1.5
print("ROW|recon full run (1M orders/payments/ledger)|%.2f|s|bare SQL joins in psql|%.2f s|%.2f|<= 10 s and <= 1.50|%s"
      % (full / 1000, bare / 1000, ratio, "PASS" if ok else "FAIL"))
print("ROW|recon incremental run after one change|%.0f|ms|-|-|-|<= 50 ms|%s" % (inc, "PASS" if inc <= 50 else "FAIL"))
PY
