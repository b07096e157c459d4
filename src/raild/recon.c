/* recon — the break engine: one run = one REPEATABLE READ transaction of set-based SQL.
 * See recon.h for the contract and db/migrations/0021_recon_breaks.sql for the tables.
 *
 * Shape of a run:
 *   1. claim the dirty keys this snapshot can see (DELETE … RETURNING) into temp tables,
 *      add the keys whose grace period expired since the last run (incremental only);
 *   2. aggregate the three planes per key and evaluate the seven rules → recon_found;
 *   3. upsert recon_found into recon_breaks (open/reopen/update only what changed),
 *      resolve open breaks of the examined keys that were not found, age new → persisting;
 *   4. record the run and the per-plane checkpoints. */
#include "raild/recon.h"
#include "raild/audit.h"
#include "raild/cli.h"
#include "raild/worker.h"
#include "core/db.h"
#include "core/log.h"
#include "core/catalog.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>



int recon_class_valid(const char *cls)
{
    for (int i = 0; recon_break_classes[i]; i++)
        if (!strcmp(cls, recon_break_classes[i])) return 1;
    return 0;
}

/* ---------------------------------------------------------------- SQL: key sets */

static const char SQL_TEMP[] =
    "CREATE TEMP TABLE IF NOT EXISTS recon_k (merchant_id bigint, environment text, reference text)"
    "  ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS recon_kt (transfer_id bigint) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS recon_found ("
    "  public_id text, class text, class_rank smallint, severity smallint, merchant_id bigint,"
    "  environment text, reference text, transfer_id bigint, planes text,"
    "  c_status text, c_amount numeric, c_updated_at timestamptz,"
    "  p_state text, p_payment text, p_payments integer, p_amount numeric, p_finalized_at timestamptz,"
    "  f_transactions integer, f_amount numeric, f_refunded numeric) ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS recon_claimed (plane text, n bigint, last_at timestamptz)"
    "  ON COMMIT DELETE ROWS";

/* Claims every dirty row this snapshot sees; keys to recon_k, transfers to recon_kt,
 * a per-plane tally to recon_claimed (for the checkpoints). */
static const char SQL_CLAIM_FULL[] =
    "WITH d AS (DELETE FROM recon_dirty RETURNING plane, merchant_id, environment, reference, transfer_id, at)"
    " INSERT INTO recon_claimed SELECT plane, count(*), max(at) FROM d GROUP BY plane";
/* incremental: mark instead of delete, so a quiet run changes no row counts ($1 run id) */
static const char SQL_CLAIM[] =
    "WITH d AS (UPDATE recon_dirty SET run_id = $1::bigint WHERE run_id IS NULL"
    "           RETURNING plane, merchant_id, environment, reference, transfer_id, at),"
    " k AS (INSERT INTO recon_k SELECT DISTINCT merchant_id, environment, reference FROM d"
    "        WHERE reference IS NOT NULL AND merchant_id IS NOT NULL AND environment IS NOT NULL),"
    " t AS (INSERT INTO recon_kt SELECT DISTINCT transfer_id FROM d WHERE transfer_id IS NOT NULL)"
    " INSERT INTO recon_claimed SELECT plane, count(*), max(at) FROM d GROUP BY plane";

/* Keys whose grace period ran out in (previous run's clock, this run's clock]. */
static const char SQL_GRACE_KEYS[] =
    "INSERT INTO recon_k"
    " SELECT p.merchant_id, p.environment, coalesce(m.reference, p.reference)"
    "   FROM payments p LEFT JOIN recon_matches m ON m.payment_id = p.id"
    "  WHERE p.state = 'finalized'"
    "    AND ((p.finalized_at > $1::timestamptz - $3::interval AND p.finalized_at <= $2::timestamptz - $3::interval)"
    "      OR (p.finalized_at > $1::timestamptz - $4::interval AND p.finalized_at <= $2::timestamptz - $4::interval))";

/* ---------------------------------------------------------------- SQL: the planes */

/* Rail scale to order units (10^-18 USDT). */
#define RS "rs AS (SELECT id AS rail, environment, network, lower(contract) AS contract," \
           " power(10::numeric, 18 - decimals) AS scale FROM rails)"

#define PAY_AGG \
    " count(*) AS n_any, count(*) FILTER (WHERE x.state = 'finalized') AS n_final," \
    " coalesce(sum(x.received * rs.scale) FILTER (WHERE x.state = 'finalized'), 0) AS p_amount," \
    " min(x.finalized_at) FILTER (WHERE x.state = 'finalized') AS p_finalized_at," \
    " max(CASE x.state WHEN 'finalized' THEN 6 WHEN 'confirmed' THEN 5 WHEN 'confirming' THEN 4" \
    "   WHEN 'detected' THEN 3 WHEN 'awaiting_payment' THEN 2 WHEN 'expired' THEN 1 ELSE 0 END) AS best," \
    " max(x.public_id) AS p_payment"

#define FIN_AGG \
    " count(*) FILTER (WHERE x.kind IN ('finality','attach')) AS n_booked," \
    " coalesce(sum(x.amount * rs.scale) FILTER (WHERE x.kind IN ('finality','attach')), 0) AS f_amount," \
    " coalesce(sum(x.amount * rs.scale) FILTER (WHERE x.kind = 'refund'), 0) AS f_refunded"

/* full: every key, in one pass — the three planes as one stream of rows grouped once by
 * key (cheaper than aggregating two planes and full-joining three 1M-row sets). A manual
 * match files a payment / ledger transaction under its key. Produces the same j as
 * SQL_PLANES_KEYED + SQL_JOIN_KEYED (NULL where a plane has no rows for the key). */
static const char SQL_PLANES_FULL[] =
    "u AS (SELECT merchant_id, environment, reference, 1 AS src, status AS c_status, amount AS c_amount,"
    "             updated_at AS c_updated_at, NULL::text AS state, NULL::numeric AS val,"
    "             NULL::timestamptz AS fin_at, NULL::text AS pid, NULL::text AS kind FROM orders"
    "      UNION ALL"
    "      SELECT p.merchant_id, p.environment, coalesce(m.reference, p.reference), 2, NULL, NULL, NULL, p.state,"
    "             p.received * rs.scale, p.finalized_at, p.public_id, NULL"
    "        FROM payments p JOIN rs ON rs.rail = p.rail AND rs.environment = p.environment LEFT JOIN recon_matches m ON m.payment_id = p.id"
    "      UNION ALL"
    "      SELECT t.merchant_id, t.environment, coalesce(mt.reference, mp.reference, t.reference), 3, NULL, NULL,"
    "             NULL, NULL, t.amount * rs.scale, NULL, NULL, t.kind"
    "        FROM ledger_transactions t JOIN rs ON rs.rail = t.rail AND rs.environment = t.environment"
    "        LEFT JOIN recon_matches mt ON mt.ledger_txn_id = t.id"
    "        LEFT JOIN recon_matches mp ON mp.payment_id = t.payment_id"
    "       WHERE t.kind IN ('finality','attach','refund') AND t.merchant_id IS NOT NULL"
    "         AND t.reference IS NOT NULL),"
    " j AS (SELECT merchant_id, environment, reference, max(c_status) AS c_status, max(c_amount) AS c_amount,"
    "        max(c_updated_at) AS c_updated_at, count(*) FILTER (WHERE src = 2) AS n_any,"
    "        count(*) FILTER (WHERE state = 'finalized') AS n_final,"
    "        CASE WHEN count(*) FILTER (WHERE src = 2) > 0"
    "             THEN coalesce(sum(val) FILTER (WHERE state = 'finalized'), 0) END AS p_amount,"
    "        min(fin_at) FILTER (WHERE state = 'finalized') AS p_finalized_at,"
    "        max(CASE WHEN src = 2 THEN CASE state WHEN 'finalized' THEN 6 WHEN 'confirmed' THEN 5"
    "          WHEN 'confirming' THEN 4 WHEN 'detected' THEN 3 WHEN 'awaiting_payment' THEN 2"
    "          WHEN 'expired' THEN 1 ELSE 0 END END) AS best,"
    "        max(pid) AS p_payment,"
    "        count(*) FILTER (WHERE kind IN ('finality','attach')) AS n_booked,"
    "        CASE WHEN count(*) FILTER (WHERE src = 3) > 0"
    "             THEN coalesce(sum(val) FILTER (WHERE kind IN ('finality','attach')), 0) END AS f_amount,"
    "        coalesce(sum(val) FILTER (WHERE kind = 'refund'), 0) AS f_refunded,"
    "        CASE WHEN max(c_status) IN ('paid','fulfilled') THEN max(c_amount)"
    "             WHEN max(c_status) IN ('canceled','refunded') THEN 0 END AS c_eff"
    "       FROM u GROUP BY 1, 2, 3),";

/* incremental: the keys in recon_k, through the (merchant, environment, reference) indexes */
static const char SQL_PLANES_KEYED[] =
    "kk AS (SELECT DISTINCT merchant_id, environment, reference FROM recon_k),"
    " o AS (SELECT o.merchant_id, o.environment, o.reference, o.amount AS c_amount, o.status AS c_status,"
    "             o.updated_at AS c_updated_at FROM kk JOIN orders o USING (merchant_id, environment, reference)),"
    " p AS (SELECT x.merchant_id, x.environment, x.kref AS reference," PAY_AGG
    "       FROM (SELECT p.merchant_id, p.environment, p.reference AS kref, p.rail, p.state, p.received,"
    "                    p.finalized_at, p.public_id"
    "               FROM kk JOIN payments p USING (merchant_id, environment, reference)"
    "              WHERE NOT EXISTS (SELECT 1 FROM recon_matches m WHERE m.payment_id = p.id)"
    "             UNION ALL"
    "             SELECT m.merchant_id, m.environment, m.reference, p.rail, p.state, p.received,"
    "                    p.finalized_at, p.public_id"
    "               FROM kk JOIN recon_matches m USING (merchant_id, environment, reference)"
    "               JOIN payments p ON p.id = m.payment_id) x"
    "       JOIN rs ON rs.rail = x.rail AND rs.environment = x.environment GROUP BY 1, 2, 3),"
    " f AS (SELECT x.merchant_id, x.environment, x.kref AS reference," FIN_AGG
    "       FROM (SELECT t.merchant_id, t.environment, t.reference AS kref, t.rail, t.kind, t.amount"
    "               FROM kk JOIN ledger_transactions t USING (merchant_id, environment, reference)"
    "              WHERE t.kind IN ('finality','attach','refund')"
    "                AND NOT EXISTS (SELECT 1 FROM recon_matches m WHERE m.ledger_txn_id = t.id)"
    "                AND NOT EXISTS (SELECT 1 FROM recon_matches m WHERE m.payment_id = t.payment_id)"
    "             UNION ALL"
    "             SELECT m.merchant_id, m.environment, m.reference, t.rail, t.kind, t.amount"
    "               FROM kk JOIN recon_matches m USING (merchant_id, environment, reference)"
    "               JOIN ledger_transactions t ON t.id = m.ledger_txn_id"
    "              WHERE t.kind IN ('finality','attach','refund')"
    "             UNION ALL"  /* a matched payment brings its postings along */
    "             SELECT m.merchant_id, m.environment, m.reference, t.rail, t.kind, t.amount"
    "               FROM kk JOIN recon_matches m USING (merchant_id, environment, reference)"
    "               JOIN ledger_transactions t ON t.payment_id = m.payment_id"
    "              WHERE t.kind IN ('finality','attach','refund')"
    "                AND NOT EXISTS (SELECT 1 FROM recon_matches m2 WHERE m2.ledger_txn_id = t.id)) x"
    "       JOIN rs ON rs.rail = x.rail AND rs.environment = x.environment GROUP BY 1, 2, 3)";

/* The rules. $1 clock, $2 missing_in_finance grace, $3 commerce_lagging grace.
 * c_eff: what commerce says we should net for the key (pending: no claim yet). */
static const char SQL_JOIN_KEYED[] =
    " j AS (SELECT merchant_id, environment, reference, o.c_status, o.c_amount, o.c_updated_at,"
    "        coalesce(p.n_any, 0) AS n_any, coalesce(p.n_final, 0) AS n_final, p.p_amount, p.p_finalized_at,"
    "        p.best, p.p_payment, coalesce(f.n_booked, 0) AS n_booked, f.f_amount,"
    "        coalesce(f.f_refunded, 0) AS f_refunded,"
    "        CASE WHEN o.c_status IN ('paid','fulfilled') THEN o.c_amount"
    "             WHEN o.c_status IN ('canceled','refunded') THEN 0 END AS c_eff"
    "       FROM o FULL JOIN p USING (merchant_id, environment, reference)"
    "              FULL JOIN f USING (merchant_id, environment, reference)),";

static const char SQL_RULES[] =
    " b AS (SELECT j.*,"
    "        (c_status = 'fulfilled' AND n_any > 0 AND n_final = 0) AS x1,"
    "        (n_final > 0 AND n_booked = 0 AND p_finalized_at <= $1::timestamptz - $2::interval) AS x2,"
    "        (n_booked > 0 AND n_final = 0) AS x3,"
    "        (n_final > 0 AND c_eff IS NOT NULL AND c_eff <> p_amount - f_refunded) AS x4c,"
    "        (n_final > 0 AND n_booked > 0 AND p_amount <> f_amount) AS x4f,"
    "        (c_status IN ('paid','fulfilled') AND n_any = 0) AS x5,"
    "        (n_final > 0 AND c_status = 'pending' AND p_finalized_at <= $1::timestamptz - $3::interval) AS x6"
    "       FROM j)"
    " INSERT INTO recon_found"
    " SELECT 'brk_' || left(md5(c.cls || '|' || b.merchant_id || '|' || b.environment || '|' || b.reference), 24),"
    "        c.cls, c.rnk, c.sev, b.merchant_id, b.environment, b.reference, NULL, c.planes,"
    "        b.c_status, b.c_amount, b.c_updated_at,"
    "        CASE b.best WHEN 6 THEN 'finalized' WHEN 5 THEN 'confirmed' WHEN 4 THEN 'confirming'"
    "          WHEN 3 THEN 'detected' WHEN 2 THEN 'awaiting_payment' WHEN 1 THEN 'expired'"
    "          WHEN 0 THEN 'canceled' END,"
    "        b.p_payment, b.n_any, b.p_amount, b.p_finalized_at, b.n_booked, b.f_amount, b.f_refunded"
    "   FROM b CROSS JOIN LATERAL (VALUES"
    "        ('fulfilled_before_finality', 1, 4, NULL::text, b.x1),"
    "        ('missing_in_finance', 2, 3, NULL, b.x2),"
    "        ('orphan_posting', 3, 3, NULL, b.x3),"
    "        ('amount_mismatch', 4, 3, CASE WHEN b.x4c AND b.x4f THEN 'commerce,provider,finance'"
    "                                      WHEN b.x4c THEN 'commerce,provider' ELSE 'provider,finance' END,"
    "                                 b.x4c OR b.x4f),"
    "        ('missing_in_provider', 5, 2, NULL, b.x5),"
    "        ('commerce_lagging', 6, 1, NULL, b.x6)) AS c(cls, rnk, sev, planes, hit)"
    "  WHERE (b.x1 OR b.x2 OR b.x3 OR b.x4c OR b.x4f OR b.x5 OR b.x6) AND c.hit";

/* unapplied_transfer: USDT that reached one of our addresses and is neither counted
 * toward a payment, nor booked (refund, write-off), nor matched by an operator. */
static const char SQL_UNAPPLIED[] =
    "WITH " RS
    " INSERT INTO recon_found"
    " SELECT 'brk_' || left(md5('unapplied_transfer|' || t.network || '|' || t.tx_hash || '|' || t.log_index), 24),"
    "        'unapplied_transfer', 7, 2, pay.merchant_id, pay.environment,"
    "        'transfer:' || t.network || ':' || t.tx_hash || ':' || t.log_index, t.id, NULL,"
    "        NULL, NULL, NULL, t.classification, pay.public_id, NULL, t.value * rs.scale, NULL, NULL, NULL, NULL"
    "   FROM chain_transfers t"
    "   JOIN rs ON rs.network = t.network AND rs.contract = lower(t.contract)"
    "   LEFT JOIN deposit_addresses d ON d.network = t.network AND d.address = t.to_address"
    "   LEFT JOIN payments pay ON pay.id = coalesce(t.payment_id, d.payment_id)"
    "  WHERE t.classification IN ('unmatched','late','duplicate') AND t.status = 'seen' AND t.value > 0"
    "    AND NOT EXISTS (SELECT 1 FROM ledger_transactions l WHERE l.transfer_id = t.id)"
    "    AND NOT EXISTS (SELECT 1 FROM recon_matches m WHERE m.transfer_id = t.id)";
static const char SQL_UNAPPLIED_KEYED[] = " AND t.id IN (SELECT transfer_id FROM recon_kt)";

/* ---------------------------------------------------------------- SQL: apply */

#define FOUND_COLS "planes, c_status, c_amount, c_updated_at, p_state, p_payment, p_payments, p_amount," \
                   " p_finalized_at, f_transactions, f_amount, f_refunded"

/* $1 clock, $2 run id. Returns one row per written break: inserted/reopened or updated. */
static const char SQL_UPSERT[] =
    "INSERT INTO recon_breaks AS b (public_id, class, class_rank, severity, state, merchant_id, environment,"
    "   reference, transfer_id, " FOUND_COLS ", first_seen_at, first_run_id)"
    " SELECT public_id, class, class_rank, severity, 'new', merchant_id, environment, reference, transfer_id, "
    FOUND_COLS ", $1::timestamptz, $2::bigint FROM recon_found"
    " ON CONFLICT (public_id) DO UPDATE SET"
    "   state = CASE WHEN b.state = 'resolved' THEN 'new' ELSE b.state END,"
    "   first_seen_at = CASE WHEN b.state = 'resolved' THEN EXCLUDED.first_seen_at ELSE b.first_seen_at END,"
    "   first_run_id = CASE WHEN b.state = 'resolved' THEN EXCLUDED.first_run_id ELSE b.first_run_id END,"
    "   resolved_at = NULL, resolution = NULL,"
    "   acknowledged_at = CASE WHEN b.state = 'resolved' THEN NULL ELSE b.acknowledged_at END,"
    "   acknowledged_by = CASE WHEN b.state = 'resolved' THEN NULL ELSE b.acknowledged_by END,"
    "   ack_note = CASE WHEN b.state = 'resolved' THEN NULL ELSE b.ack_note END,"
    "   exception_id = CASE WHEN b.state = 'resolved' THEN NULL ELSE b.exception_id END,"
    "   merchant_id = EXCLUDED.merchant_id, environment = EXCLUDED.environment,"
    "   planes = EXCLUDED.planes, c_status = EXCLUDED.c_status, c_amount = EXCLUDED.c_amount,"
    "   c_updated_at = EXCLUDED.c_updated_at, p_state = EXCLUDED.p_state, p_payment = EXCLUDED.p_payment,"
    "   p_payments = EXCLUDED.p_payments, p_amount = EXCLUDED.p_amount, p_finalized_at = EXCLUDED.p_finalized_at,"
    "   f_transactions = EXCLUDED.f_transactions, f_amount = EXCLUDED.f_amount, f_refunded = EXCLUDED.f_refunded,"
    "   updated_at = now()"
    " WHERE b.state = 'resolved'"
    "    OR (b.merchant_id, b.environment, b.planes, b.c_status, b.c_amount, b.c_updated_at, b.p_state,"
    "        b.p_payment, b.p_payments, b.p_amount, b.p_finalized_at, b.f_transactions, b.f_amount, b.f_refunded)"
    "       IS DISTINCT FROM"
    "       (EXCLUDED.merchant_id, EXCLUDED.environment, EXCLUDED.planes, EXCLUDED.c_status, EXCLUDED.c_amount,"
    "        EXCLUDED.c_updated_at, EXCLUDED.p_state, EXCLUDED.p_payment, EXCLUDED.p_payments, EXCLUDED.p_amount,"
    "        EXCLUDED.p_finalized_at, EXCLUDED.f_transactions, EXCLUDED.f_amount, EXCLUDED.f_refunded)"
    " RETURNING (b.first_run_id = $2::bigint)";

static const char SQL_RESOLVE_FULL[] =
    "UPDATE recon_breaks b SET state = 'resolved', resolved_at = $1::timestamptz, resolution = 'auto',"
    "       updated_at = now()"
    " WHERE b.state <> 'resolved' AND NOT EXISTS (SELECT 1 FROM recon_found f WHERE f.public_id = b.public_id)"
    "   AND b.class <> 'wallet_balance_mismatch'";   /* the payout worker's, against the node */
static const char SQL_RESOLVE_KEYED[] =
    "UPDATE recon_breaks b SET state = 'resolved', resolved_at = $1::timestamptz, resolution = 'auto',"
    "       updated_at = now()"
    " WHERE b.state <> 'resolved' AND NOT EXISTS (SELECT 1 FROM recon_found f WHERE f.public_id = b.public_id)"
    "   AND b.class <> 'wallet_balance_mismatch'"
    "   AND b.id IN (SELECT x.id FROM recon_k k JOIN recon_breaks x USING (merchant_id, environment, reference)"
    "                 WHERE x.transfer_id IS NULL"
    "                UNION ALL"
    "                SELECT x.id FROM recon_kt k JOIN recon_breaks x USING (transfer_id))";

static const char SQL_PERSIST[] =
    "UPDATE recon_breaks SET state = 'persisting', updated_at = now()"
    " WHERE state = 'new' AND first_run_id < $1::bigint";

static const char SQL_RECORD_RUN[] =
    "INSERT INTO recon_runs (id, mode, started_at, as_of, keys_examined, opened, updated, resolved, duration_ms)"
    " VALUES ($1::bigint, $2, $3::timestamptz, $3::timestamptz, $4::bigint, $5::int, $6::int, $7::int, $8::int)";

/* $1 clock, $2 run id; rows exist from migration 0022, so this never adds rows */
static const char SQL_CHECKPOINTS[] =
    "UPDATE recon_checkpoints k SET through = $1::timestamptz, run_id = $2::bigint,"
    "       last_change_at = coalesce(c.last_at, k.last_change_at), changes = coalesce(c.n, 0)"
    "  FROM (SELECT pl, x.n, x.last_at FROM unnest(ARRAY['commerce','provider','finance']) AS pl"
    "        LEFT JOIN (SELECT CASE plane WHEN 'match' THEN 'commerce' ELSE plane END AS plane,"
    "                          sum(n) AS n, max(last_at) AS last_at FROM recon_claimed GROUP BY 1) x"
    "               ON x.plane = pl) c"
    " WHERE k.plane = c.pl";

/* ---------------------------------------------------------------- the run */

static int q_ok(PGconn *db, PGresult *r, const char *what, long long *affected)
{
    if (db_failed(r)) {
        log_event(LOG_ERROR, "recon.sql_failed", "step=%s sqlstate=%s error=\"%s\"", what, db_sqlstate(r),
                  PQresultErrorMessage(r));
        PQclear(r);
        return -1;
    }
    if (affected) *affected = atoll(PQcmdTuples(r));
    PQclear(r);
    return 0;
}

struct run_ctx {
    char as_of[64], prev[64], g_fin[64], g_lag[64], run_id[32];
    int have_prev;
};

static int run_prepare(PGconn *db, struct run_ctx *c)
{
    enum { CX_AS_OF, CX_PREV, CX_GRACE_FIN, CX_GRACE_LAG, CX_RUN_ID };
    PGresult *r = db_q0(db,
        "SELECT now()::text, (SELECT min(through)::text FROM recon_checkpoints WHERE through > '-infinity'),"
        "  (SELECT value::text FROM recon_settings WHERE name = 'missing_in_finance_grace'),"
        "  (SELECT value::text FROM recon_settings WHERE name = 'commerce_lagging_grace'),"
        "  nextval('recon_runs_id_seq')::text");
    if (db_failed(r) || PQntuples(r) != 1) return q_ok(db, r, "prepare", NULL) ? -1 : -1;
    snprintf(c->as_of, sizeof c->as_of, "%s", PQgetvalue(r, 0, CX_AS_OF));
    c->have_prev = !PQgetisnull(r, 0, CX_PREV);
    snprintf(c->prev, sizeof c->prev, "%s", PQgetvalue(r, 0, CX_PREV));
    snprintf(c->g_fin, sizeof c->g_fin, "%s", PQgetisnull(r, 0, CX_GRACE_FIN) ? "5 minutes" : PQgetvalue(r, 0, CX_GRACE_FIN));
    snprintf(c->g_lag, sizeof c->g_lag, "%s", PQgetisnull(r, 0, CX_GRACE_LAG) ? "30 minutes" : PQgetvalue(r, 0, CX_GRACE_LAG));
    snprintf(c->run_id, sizeof c->run_id, "%s", PQgetvalue(r, 0, CX_RUN_ID));
    PQclear(r);
    return 0;
}

/* Steps 1-2: which keys, and what is wrong with them. */
static int run_find(PGconn *db, int full, struct run_ctx *c, long long *keys)
{
    long long n = 0;
    if (q_ok(db, PQexec(db, SQL_TEMP), "temp", NULL)) return -1;   /* several statements, no parameters */
    if (q_ok(db, full ? db_q0(db, SQL_CLAIM_FULL) : db_q(db, SQL_CLAIM, c->run_id), "claim", NULL)) return -1;
    char sql[sizeof SQL_PLANES_KEYED + sizeof SQL_PLANES_FULL + sizeof SQL_JOIN_KEYED + sizeof SQL_RULES + 512];
    if (full) {
        snprintf(sql, sizeof sql, "WITH %s, %s %s", RS, SQL_PLANES_FULL, SQL_RULES);
    } else {
        if (q_ok(db, db_q(db, SQL_GRACE_KEYS, c->prev, c->as_of, c->g_fin, c->g_lag), "grace_keys", NULL))
            return -1;
        /* the planner needs real row counts to pick index lookups for a handful of keys */
        if (q_ok(db, db_q0(db, "ANALYZE recon_k"), "analyze", NULL)) return -1;
        if (q_ok(db, db_q0(db, "ANALYZE recon_kt"), "analyze", NULL)) return -1;
        snprintf(sql, sizeof sql, "WITH %s, %s, %s %s", RS, SQL_PLANES_KEYED, SQL_JOIN_KEYED, SQL_RULES);
    }
    if (q_ok(db, db_q(db, sql, c->as_of, c->g_fin, c->g_lag), "rules", NULL)) return -1;
    char usql[sizeof SQL_UNAPPLIED + sizeof SQL_UNAPPLIED_KEYED];
    snprintf(usql, sizeof usql, "%s%s", SQL_UNAPPLIED, full ? "" : SQL_UNAPPLIED_KEYED);
    if (q_ok(db, db_q0(db, usql), "unapplied", NULL)) return -1;
    if (full) {
        /* the planner's row estimates: counting 1M-row tables exactly would cost more than it tells */
        char *v = db_val(db, "SELECT greatest(sum(reltuples), 0)::bigint + $1::int FROM pg_class"
                             " WHERE oid IN ('orders'::regclass, 'payments'::regclass)", "0");
        n = v ? atoll(v) : 0;
        free(v);
    } else {
        char *v = db_val(db, "SELECT (SELECT count(*) FROM (SELECT DISTINCT * FROM recon_k) x)"
                             " + (SELECT count(DISTINCT transfer_id) FROM recon_kt) + $1::int", "0");
        n = v ? atoll(v) : 0;
        free(v);
    }
    *keys = n;
    return 0;
}

/* Step 3: bring recon_breaks in line with recon_found. */
static int run_apply(PGconn *db, int full, struct run_ctx *c, struct recon_result *out)
{
    PGresult *r = db_q(db, SQL_UPSERT, c->as_of, c->run_id);
    if (db_failed(r)) return q_ok(db, r, "upsert", NULL);
    for (int i = 0; i < PQntuples(r); i++) {
        if (PQgetvalue(r, i, 0)[0] == 't') out->opened++;
        else out->updated++;
    }
    PQclear(r);
    if (q_ok(db, db_q(db, full ? SQL_RESOLVE_FULL : SQL_RESOLVE_KEYED, c->as_of), "resolve", &out->resolved))
        return -1;
    if (q_ok(db, db_q(db, SQL_PERSIST, c->run_id), "persist", &out->persisted)) return -1;
    return 0;
}

static int run_once(PGconn *db, int full, struct recon_result *out)
{
    struct run_ctx c;
    int64_t t0 = util_now_ms();
    memset(out, 0, sizeof *out);
    if (db_cmd(db, "BEGIN ISOLATION LEVEL REPEATABLE READ")) return -1;
    /* quiet "already exists" notices of the temp tables */
    if (db_cmd(db, "SET LOCAL statement_timeout = '300s'") || db_cmd(db, "SET LOCAL client_min_messages = warning") ||
        run_prepare(db, &c))
        goto fail;
    if (!c.have_prev && full == 0) full = 1;   /* nothing to be incremental from */
    if (!c.have_prev && full < 0)                /* worker: no grace window before its first run */
        snprintf(c.prev, sizeof c.prev, "%s", c.as_of);
    if (full < 0) full = 0;
    /* a full run groups ~1M keys in one hash table (~1 GB at 1M orders/payments/postings):
     * in memory, never spilled */
    if (db_cmd(db, full ? "SET LOCAL work_mem = '1GB'" : "SET LOCAL work_mem = '64MB'")) goto fail;
    out->full = full;
    out->run_id = atoll(c.run_id);
    if (run_find(db, full, &c, &out->keys) || run_apply(db, full, &c, out)) goto fail;
    out->duration_ms = (int)(util_now_ms() - t0);
    char k[32], o[32], u[32], rs[32], ms[32];
    snprintf(k, sizeof k, "%lld", out->keys);
    snprintf(o, sizeof o, "%lld", out->opened);
    snprintf(u, sizeof u, "%lld", out->updated);
    snprintf(rs, sizeof rs, "%lld", out->resolved);
    snprintf(ms, sizeof ms, "%d", out->duration_ms);
    /* a run that changed nothing leaves no row behind (see migration 0022) */
    int record = full || out->opened || out->updated || out->resolved || out->persisted;
    if (record && q_ok(db, db_q(db, SQL_RECORD_RUN, c.run_id, full ? "full" : "incremental", c.as_of, k, o, u, rs, ms),
                       "record", NULL))
        goto fail;
    if (q_ok(db, db_q(db, SQL_CHECKPOINTS, c.as_of, c.run_id), "checkpoints", NULL)) goto fail;
    if (db_cmd(db, "COMMIT")) goto fail;
    char *v = db_val(db, "SELECT count(*) FROM recon_breaks WHERE state <> $1", "resolved");
    out->open_total = v ? atoll(v) : 0;
    free(v);
    out->duration_ms = (int)(util_now_ms() - t0);
    return 0;
fail:
    db_cmd(db, "ROLLBACK");
    return -1;
}

int recon_run(PGconn *db, int full, int wait, struct recon_result *out)
{
    /* a session lock taken before the snapshot, so a run never starts from a snapshot
     * older than the previous run's commit */
    char *got = wait ? db_val(db, "SELECT pg_advisory_lock($1::bigint)::text || 't'", RECON_LOCK_KEY)
                     : db_val(db, "SELECT pg_try_advisory_lock($1::bigint)::text", RECON_LOCK_KEY);
    if (!got) return -1;
    int locked = got[0] == 't';
    free(got);
    if (!locked) return 1;
    int rc = -1;
    for (int attempt = 0; attempt < 3 && rc; attempt++) {
        rc = run_once(db, full, out);   /* retried: operator actions may race a REPEATABLE READ run */
    }
    char *u = db_val(db, "SELECT pg_advisory_unlock($1::bigint)::text", RECON_LOCK_KEY);
    free(u);
    if (!rc)
        log_info("recon.run", "run=%lld mode=%s keys=%lld opened=%lld updated=%lld resolved=%lld open=%lld ms=%d",
                 out->run_id, out->full ? "full" : "incremental", out->keys, out->opened, out->updated,
                 out->resolved, out->open_total, out->duration_ms);
    return rc;
}

/* ---------------------------------------------------------------- raild recon */

static int recon_set(PGconn *db, const char *assign)
{
    char name[64];
    const char *eq = strchr(assign, '=');
    if (!eq || eq == assign || (size_t)(eq - assign) >= sizeof name)
        return cli_usage_error("recon", "--set wants NAME=INTERVAL, got '%s'", assign);
    snprintf(name, sizeof name, "%.*s", (int)(eq - assign), assign);
    PGresult *r = db_q(db, "SELECT value::text FROM recon_settings WHERE name = $1", name);
    if (db_failed(r) || PQntuples(r) != 1) {
        PQclear(r);
        return cli_usage_error("recon", "unknown setting '%s' (missing_in_finance_grace, commerce_lagging_grace)", name);
    }
    json_t *before = json_pack("{s:s}", name, PQgetvalue(r, 0, 0));
    PQclear(r);
    db_cmd(db, "BEGIN");
    r = db_q(db, "UPDATE recon_settings SET value = $2::interval, updated_at = now() WHERE name = $1"
                 " AND $2::interval >= '0'::interval RETURNING value::text", name, eq + 1);
    int bad = db_failed(r) || PQntuples(r) != 1;
    json_t *after = bad ? NULL : json_pack("{s:s}", name, PQgetvalue(r, 0, 0));
    PQclear(r);
    if (bad || audit_write_cli(db, "recon.settings", "recon_settings", name, "raild recon --set", before, after)
        || db_cmd(db, "COMMIT")) {
        db_cmd(db, "ROLLBACK");
        json_decref(before);
        json_decref(after);
        return cli_usage_error("recon", "'%s' is not a non-negative interval (e.g. '10 minutes')", eq + 1);
    }
    printf("recon: %s = %s\n", name, json_string_value(json_object_get(after, name)));
    json_decref(before);
    json_decref(after);
    return 0;
}

int cmd_recon(int argc, char **argv)
{
    const char *db = NULL, *set = NULL;
    int full = 0;
    static const char usage[] =
        "usage: raild recon [--full|--incremental] [--db CONNINFO]\n"
        "       raild recon --set NAME=INTERVAL   (missing_in_finance_grace, commerce_lagging_grace)\n"
        "  --full         compare every key of the three planes\n"
        "  --incremental  only the keys changed since the last run (default)\n"
        "A changed grace period applies to every key at the next full run.\n";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) { fputs(usage, stdout); return 0; }
        else if (!strcmp(a, "--full")) full = 1;
        else if (!strcmp(a, "--incremental")) full = 0;
        else if (!strcmp(a, "--db") || !strcmp(a, "--set")) {
            if (i + 1 >= argc) return cli_usage_error("recon", "%s needs a value", a);
            if (!strcmp(a, "--db")) db = argv[++i];
            else set = argv[++i];
        } else return cli_usage_error("recon", "unknown option '%s'\n%s", a, usage);
    }
    PGconn *conn = cli_db(db);
    if (!conn) return 1;
    int rc;
    if (set) {
        rc = recon_set(conn, set);
    } else {
        struct recon_result res;
        rc = recon_run(conn, full, 1, &res) ? 1 : 0;
        if (!rc)
            printf("recon: run %lld %s: %lld keys, %lld opened, %lld updated, %lld resolved, %lld open, %d ms\n",
                   res.run_id, res.full ? "full" : "incremental", res.keys, res.opened, res.updated,
                   res.resolved, res.open_total, res.duration_ms);
        else fprintf(stderr, "raild recon: the run failed (see the log above)\n");
    }
    PQfinish(conn);
    return rc;
}

/* ---------------------------------------------------------------- worker */

/* Incremental every 2 s, a full run every 10 minutes (which also applies changed grace
 * periods everywhere); one copy at a time through the advisory lock. */
void *recon_worker(void *arg)
{
    struct worker_ctx *w = arg;
    PGconn *db = NULL;
    int64_t last_full = util_now_ms();   /* the first full run comes after 10 minutes (or at once with no history) */
    while (!*w->stop) {
        if (!db || PQstatus(db) != CONNECTION_OK) {
            if (db) PQfinish(db);
            db = db_connect_logged(w->conninfo, "raild-recon");
            if (!db) { worker_sleep(w, 2000); continue; }
        }
        int64_t now = util_now_ms();
        /* never a surprise full run at start-up (it would compete with whatever starts
         * with it): incremental from the dirty keys, a full run every 10 minutes */
        int full = now - last_full >= 600000 ? 1 : -1;
        struct recon_result res;
        int rc = recon_run(db, full, 0, &res);
        if (rc == 0 && res.full) last_full = now;
        worker_sleep(w, 2000);
    }
    if (db) PQfinish(db);
    return NULL;
}
