/* sweeper — the singleton housekeeping loop (DESIGN §3, §4, §8), worker "sweeper":
 *   1. expire awaiting payments past expires_at (through lifecycle_transition, VIA_SWEEPER),
 *   2. open `stuck_unconfirmed` for payments detected (mempool only) longer than their rail's
 *      stuck_after — once per detection: after ops resolve it, it is not reopened until the
 *      payment is detected again (auto-closed by ingest when the payment confirms or drops),
 *   3. escalate live exceptions past their SLA: severity + 1 (capped at 4), once, with
 *      sla_breached_at / severity_before in details. The version is not bumped: severity
 *      is the system's annotation, not an operator's edit, so an operator resolving at
 *      that moment should not get a spurious 409.
 *   4. delete idempotency keys older than 7 days (a retry after a week is a new request),
 *   5. apply governed changes whose time has come, and the console's rollups (rollup.c).
 * Several raild copies may run: each batch takes pg_try_advisory_xact_lock and skips the
 * tick when another copy holds it; payment rows are claimed with SKIP LOCKED so a merchant
 * cancel or an ingest in flight is never waited on.
 * Interval: RAILD_SWEEP_INTERVAL_MS (default 1000, 20–60000) — tests make it short. */
#include "raild/exceptions.h"
#include "raild/lifecycle.h"
#include "raild/worker.h"
#include "raild/governance.h"
#include "raild/rollup.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SWEEP_BATCH "200"
#define SWEEP_BATCH_N 200

/* BEGIN + the singleton lock. 1 got it (transaction open), 0 another copy has it, -1 error. */
static int sweep_begin(PGconn *db)
{
    if (db_cmd(db, "BEGIN")) return -1;
    char *v = db_val(db, "SELECT pg_try_advisory_xact_lock(hashtext($1))", "raild.sweeper");
    int got = v && !strcmp(v, "t");
    int failed = !v;
    free(v);
    if (!got) db_cmd(db, "ROLLBACK");
    return failed ? -1 : got;
}

static int sweep_end(PGconn *db, int ok)
{
    if (ok && db_cmd(db, "COMMIT") == 0) return 0;
    db_cmd(db, "ROLLBACK");
    return -1;
}

/* One batch of expiries. Returns the number expired, or -1. */
static int expire_batch(PGconn *db)
{
    int got = sweep_begin(db);
    if (got <= 0) return got;
    PGresult *r = db_q(db, "SELECT id FROM payments WHERE state = 'awaiting_payment' AND expires_at <= now()"
                           " ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED", SWEEP_BATCH);
    int n = db_failed(r) ? -1 : PQntuples(r), ok = n >= 0;
    json_t *why = json_pack("{s:s}", "reason", "expired");
    for (int i = 0; ok && i < n; i++)
        ok = lifecycle_transition(db, atoll(PQgetvalue(r, i, 0)), PS_EXPIRED, VIA_SWEEPER, -1, why) == 0;
    json_decref(why);
    PQclear(r);
    if (sweep_end(db, ok)) return -1;
    return n;
}

static int stuck_batch(PGconn *db)
{
    int got = sweep_begin(db);
    if (got <= 0) return got;
    enum { SU_ID, SU_RECEIVED, SU_DETECTED, SU_STUCK_AFTER };
    PGresult *r = db_q(db,
        "SELECT p.id, p.received::text, " SQL_TS("p.detected_at") ","
        "       r.stuck_after::text"
        "  FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
        " WHERE p.state = 'detected' AND p.detected_at < now() - r.stuck_after"
        "   AND NOT EXISTS (SELECT 1 FROM exceptions e WHERE e.payment_id = p.id AND e.type = 'stuck_unconfirmed'"
        "                    AND e.opened_at >= p.detected_at)"
        " ORDER BY p.id LIMIT $1 FOR UPDATE OF p SKIP LOCKED", SWEEP_BATCH);
    int n = db_failed(r) ? -1 : PQntuples(r), ok = n >= 0;
    for (int i = 0; ok && i < n; i++) {
        json_t *d = json_pack("{s:s,s:s}", "detected_at", PQgetvalue(r, i, SU_DETECTED), "stuck_after", PQgetvalue(r, i, SU_STUCK_AFTER));
        ok = exc_open(db, "stuck_unconfirmed", atoll(PQgetvalue(r, i, SU_ID)), 0, PQgetvalue(r, i, SU_RECEIVED), d) >= 0;
        json_decref(d);
    }
    PQclear(r);
    if (sweep_end(db, ok)) return -1;
    return n;
}

static int sla_batch(PGconn *db)
{
    int got = sweep_begin(db);
    if (got <= 0) return got;
    enum { SB_PUBLIC_ID, SB_TYPE, SB_SEVERITY };
    PGresult *r = db_q(db,
        "UPDATE exceptions SET severity = least(severity + 1, 4), updated_at = now(),"
        "       details = details || jsonb_build_object('sla_breached_at',"
        "                 " SQL_TS("now()") ", 'severity_before', severity)"
        " WHERE id IN (SELECT id FROM exceptions WHERE state IN ('open','claimed') AND sla_due < now()"
        "                AND NOT details ? 'sla_breached_at' ORDER BY sla_due LIMIT $1 FOR UPDATE SKIP LOCKED)"
        " RETURNING public_id, type, severity", SWEEP_BATCH);
    int n = db_failed(r) ? -1 : PQntuples(r);
    for (int i = 0; i < n; i++)
        log_warn("exception.sla_breached", "exception=%s type=%s severity=%s", PQgetvalue(r, i, SB_PUBLIC_ID),
                 PQgetvalue(r, i, SB_TYPE), PQgetvalue(r, i, SB_SEVERITY));
    PQclear(r);
    if (sweep_end(db, n >= 0)) return -1;
    return n;
}

static int idem_batch(PGconn *db)
{
    int got = sweep_begin(db);
    if (got <= 0) return got;
    PGresult *r = db_q(db, "DELETE FROM idempotency_keys WHERE ctid IN (SELECT ctid FROM idempotency_keys"
                           " WHERE created_at < now() - interval '7 days' LIMIT $1)", SWEEP_BATCH);
    int n = db_failed(r) ? -1 : atoi(PQcmdTuples(r));
    PQclear(r);
    if (sweep_end(db, n >= 0)) return -1;
    return n;
}

/* One pass: drain expiries in batches, then stuck, SLA and old idempotency keys. */
static int sweep_once(PGconn *db)
{
    int n, total = 0;
    while ((n = expire_batch(db)) == SWEEP_BATCH_N) total += n;
    if (n < 0) return -1;
    total += n;
    if (total) log_info("sweeper.expired", "count=%d", total);
    while ((n = stuck_batch(db)) == SWEEP_BATCH_N) {}
    if (n < 0) return -1;
    while ((n = sla_batch(db)) == SWEEP_BATCH_N) {}
    if (n < 0) return -1;
    while ((n = idem_batch(db)) == SWEEP_BATCH_N) {}
    if (n < 0) return -1;
    if (gov_apply_due(db) < 0) return -1;   /* governed changes whose time has come */
    return rollup_pass(db);                 /* the console's Overview, every 10 s */
}

static int sweep_interval_ms(void)
{
    return (int)util_env_i64("RAILD_SWEEP_INTERVAL_MS", 1000, 20, 60000, "sweeper.bad_interval");
}

void *sweeper_run(void *arg)
{
    struct worker_ctx *w = arg;
    int interval = sweep_interval_ms();
    PGconn *db = NULL;
    log_info("sweeper.start", "interval_ms=%d", interval);
    while (!*w->stop) {
        if (db && PQstatus(db) != CONNECTION_OK) {
            PQfinish(db);
            db = NULL;
        }
        if (!db) db = db_connect_logged(w->conninfo, "raild-sweeper");
        if (db && sweep_once(db)) {
            char msg[200];
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(db));
            for (char *c = msg; *c; c++)
                if (*c == '\n' || *c == '"') *c = ' ';
            log_warn("sweeper.pass_failed", "msg=\"%s\"", msg);
        }
        worker_sleep(w, db ? interval : 2000);
    }
    if (db) PQfinish(db);
    return NULL;
}
