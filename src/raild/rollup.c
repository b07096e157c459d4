/* rollup — per-minute counters and gauges for the console's Overview (DESIGN §9).
 *
 * Counters are recomputed from the rows they count (payments by creation and finality time),
 * the window's minutes replaced whole, not incremented: a pass that fails, a transaction that commits late, or a second raild copy
 * taking over just recomputes the same minutes to the same values. Each pass covers the
 * minutes since two minutes before the previous pass started, so anything committed within
 * that margin is counted; the first pass of a process covers 26 hours (the longest window
 * the console asks for, plus slack), which also fills a gap left while raild was down.
 * Webhook counters are added by the dispatcher as it records attempts (webhook_dispatch.c).
 * Gauges (backlogs, lag) cannot be recomputed for the past: each pass samples them into the
 * current minute, the last sample of a minute wins. */
#include "raild/rollup.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char COUNTERS_SQL[] =
    "INSERT INTO console_rollup AS c (environment, metric, minute, subject, bucket, value)"
    " SELECT environment, 'payments_created', date_trunc('minute', created_at), rail, 0, count(*)"
    "   FROM payments WHERE created_at >= $1::timestamptz GROUP BY 1, 3, 4"
    " UNION ALL"
    " SELECT environment, 'payments_finalized', date_trunc('minute', finalized_at), rail, 0, count(*)"
    "   FROM payments WHERE state = 'finalized' AND finalized_at >= $1::timestamptz GROUP BY 1, 3, 4"
    " UNION ALL"
    /* time to finality from the first sight of the money, not from creation: how long the
     * chain took, not how long the payer took to pay */
    " SELECT environment, 'finality', date_trunc('minute', finalized_at), rail,"
    "        rollup_finality_bucket(extract(epoch FROM finalized_at - coalesce(detected_at, created_at))::float8),"
    "        count(*)"
    "   FROM payments WHERE state = 'finalized' AND finalized_at >= $1::timestamptz GROUP BY 1, 3, 4, 5"
    " ON CONFLICT (environment, metric, minute, subject, bucket) DO UPDATE SET value = excluded.value";

static const char GAUGES_SQL[] =
    "INSERT INTO console_rollup AS c (environment, metric, minute, subject, bucket, value)"
    " SELECT en.name, g.metric, date_trunc('minute', now()), g.subject, 0, g.value FROM environments en"
    " CROSS JOIN LATERAL ("
    "   SELECT 'exceptions_open' AS metric, '' AS subject, count(*) AS value FROM exceptions x"
    "    WHERE x.state IN ('open','claimed') AND x.environment = en.name"
    "   UNION ALL SELECT 'exceptions_overdue', '', count(*) FROM exceptions x"
    "    WHERE x.state IN ('open','claimed') AND x.environment = en.name AND x.sla_due < now()"
    "   UNION ALL SELECT 'breaks_open', b.class, count(*) FROM recon_breaks b"
    "    WHERE b.state <> 'resolved' AND b.environment = en.name GROUP BY b.class"
    "   UNION ALL SELECT 'chain_lag', w.network, greatest(w.head - w.checkpoint, 0) FROM watcher_status w"
    "    JOIN networks n ON n.name = w.network WHERE n.environment = en.name AND w.head IS NOT NULL"
    "     AND w.checkpoint IS NOT NULL) g"
    " ON CONFLICT (environment, metric, minute, subject, bucket) DO UPDATE SET value = excluded.value";

/* "YYYY-MM-DDTHH:MI:SS+00" of a timestamptz expression, into out; 0 ok */
static int db_time(PGconn *db, const char *expr_sql, char *out, size_t n)
{
    char *v = db_val(db, expr_sql);
    if (!v) return -1;
    snprintf(out, n, "%s", v);
    free(v);
    return 0;
}

int rollup_pass(PGconn *db)
{
    static long long last_ms, every_ms;
    static char from[40];                 /* where the next pass starts counting */
    long long now = util_now_ms();
    if (!every_ms) every_ms = util_env_i64("RAILD_ROLLUP_INTERVAL_MS", 10000, 200, 600000, "rollup.bad_interval");
    if (last_ms && now - last_ms < every_ms) return 0;
    last_ms = now;
    char start[40], next[40];
    if (!from[0] && db_time(db, "SELECT to_char(date_trunc('minute', now() - interval '26 hours'), 'YYYY-MM-DD\"T\"HH24:MI:SSOF')",
                            from, sizeof from))
        return -1;
    snprintf(start, sizeof start, "%s", from);
    if (db_time(db, "SELECT to_char(date_trunc('minute', now()) - interval '2 minutes', 'YYYY-MM-DD\"T\"HH24:MI:SSOF')",
                next, sizeof next) || db_cmd(db, "BEGIN"))
        return -1;
    /* one copy at a time; another copy holding it does the same work */
    char *got = db_val(db, "SELECT pg_try_advisory_xact_lock(hashtext($1))", "raild.rollup");
    int ok = got != NULL, mine = got && !strcmp(got, "t");
    free(got);
    if (ok && mine) {
        /* the minutes of the window are replaced whole: a minute whose rows are gone (or that
         * something else wrote) does not keep a count */
        PGresult *r = db_q(db, "DELETE FROM console_rollup WHERE environment IN (SELECT name FROM environments)"
                               " AND minute >= $1::timestamptz AND metric IN"
                               " ('payments_created', 'payments_finalized', 'finality')", start);
        ok = !db_failed(r);
        PQclear(r);
        if (ok) { r = db_q(db, COUNTERS_SQL, start); ok = !db_failed(r); PQclear(r); }
        if (ok) ok = db_cmd(db, GAUGES_SQL) == 0;
        if (ok) ok = db_cmd(db, "DELETE FROM console_rollup WHERE environment IN (SELECT name FROM environments)"
                                " AND minute < now() - interval '26 hours'") == 0;
    }
    if (!ok || !mine || db_cmd(db, "COMMIT")) {
        db_cmd(db, "ROLLBACK");
        return ok ? 0 : -1;
    }
    snprintf(from, sizeof from, "%s", next);   /* only once committed */
    return 0;
}
