/* history — runs the database's history maintenance (see history.h). The worker runs a
 * pass at start and then every RAILD_HISTORY_INTERVAL_S (default 3600, 1–86400): partitions
 * are made weeks ahead, so an hourly pass leaves a wide margin, and a pass that finds
 * nothing to do is a catalogue lookup. */
#include "raild/history.h"
#include "raild/metrics.h"
#include "raild/worker.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int history_parse_keep(const char *s)
{
    if (!s) return -1;
    if (!strcmp(s, "never")) return 0;
    long long d;
    size_t n = strlen(s);
    if (n < 2 || s[n - 1] != 'd') return -1;
    char num[16];
    if (n - 1 >= sizeof num) return -1;
    memcpy(num, s, n - 1);
    num[n - 1] = 0;
    if (util_parse_i64(num, 1, 36500, &d)) return -1;
    return (int)d;
}

/* Logs (and prints) one thing a pass did: action, partition, rows. */
static void report(FILE *out, const char *tbl, const char *act, const char *part, const char *rows, long long ms)
{
    int deferred = strstr(act, "deferred") != NULL;
    log_event(deferred ? LOG_WARN : LOG_INFO, deferred ? "history.deferred" : "history.partition",
              "table=%s action=%s partition=%s rows=%s ms=%lld", tbl, act, *part ? part : "-", *rows ? rows : "-", ms);
    if (out) fprintf(out, "%-24s %-16s %-36s %s\n", tbl, act, *part ? part : "-", *rows ? rows : "-");
}

/* Runs one history_* call returning (action, part, nrows) in a transaction of its own. */
static int step(PGconn *db, FILE *out, const char *tbl, const char *sql, const char *a, const char *b,
                const char *now, int *created, int *dropped)
{
    long long t0 = util_now_ms();
    enum { ST_ACTION, ST_PART, ST_ROWS };
    PGresult *r = b ? db_q(db, sql, a, b, now) : db_q(db, sql, a, now);
    if (db_failed(r)) { PQclear(r); return -1; }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *act = PQgetvalue(r, i, ST_ACTION);
        *created += !strcmp(act, "created");
        *dropped += !strcmp(act, "dropped");
        report(out, tbl, act, PQgetvalue(r, i, ST_PART), PQgetvalue(r, i, ST_ROWS), util_now_ms() - t0);
    }
    PQclear(r);
    return 0;
}

int history_pass(PGconn *db, const char *now, FILE *out)
{
    char *got = db_val(db, "SELECT pg_try_advisory_lock(hashtext('raild.history'))");
    if (!got) return -1;
    if (strcmp(got, "t")) {
        free(got);
        log_info("history.busy", "msg=\"another raild copy is maintaining history\"");
        if (out) fprintf(out, "another raild copy is maintaining history; nothing done\n");
        return 0;
    }
    free(got);
    char *clock = now ? strdup(now) : db_val(db, "SELECT now()::text");
    PGresult *t = clock ? db_q0(db, "SELECT tbl FROM history_tables ORDER BY tbl") : NULL;
    int created = 0, dropped = 0, rc = db_failed(t) ? -1 : 0;
    for (int i = 0; !rc && i < PQntuples(t); i++)
        rc = step(db, out, PQgetvalue(t, i, 0), "SELECT * FROM history_create_ahead($1, $2::timestamptz)",
                  PQgetvalue(t, i, 0), NULL, clock, &created, &dropped);
    enum { EX_TABLE, EX_PART };
    PGresult *x = rc ? NULL : db_q(db, "SELECT tbl, part FROM history_expired($1::timestamptz)", clock);
    if (!rc && db_failed(x)) rc = -1;
    for (int i = 0; !rc && i < PQntuples(x); i++)
        rc = step(db, out, PQgetvalue(x, i, EX_TABLE), "SELECT * FROM history_drop_partition($1, $2, $3::timestamptz)",
                  PQgetvalue(x, i, EX_TABLE), PQgetvalue(x, i, EX_PART), clock, &created, &dropped);
    for (int i = 0; !rc && i < PQntuples(t); i++) {
        char *n = db_val(db, "SELECT history_prune_default($1, $2::timestamptz)", PQgetvalue(t, i, 0), clock);
        if (!n) { rc = -1; break; }
        if (strcmp(n, "0")) report(out, PQgetvalue(t, i, 0), "pruned", "(default partition)", n, 0);
        free(n);
    }
    PQclear(x);
    PQclear(t);
    free(clock);
    /* an error leaves the connection usable for the unlock (each step was its own transaction) */
    PQclear(db_q0(db, "SELECT pg_advisory_unlock(hashtext('raild.history'))"));
    metrics_history(created, dropped);
    return rc ? -1 : dropped;
}

void *history_worker(void *arg)
{
    struct worker_ctx *w = arg;
    int every_s = (int)util_env_i64("RAILD_HISTORY_INTERVAL_S", 3600, 1, 86400, "history.bad_interval");
    log_info("history.start", "interval_s=%d", every_s);
    while (!*w->stop) {
        PGconn *db = db_connect_logged(w->conninfo, "raild-history");
        int ok = db && history_pass(db, NULL, NULL) >= 0;
        if (db && !ok) {
            char msg[200];
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(db));
            for (char *c = msg; *c; c++)
                if (*c == '\n' || *c == '"') *c = ' ';
            log_warn("history.pass_failed", "msg=\"%s\"", msg);
        }
        if (db) PQfinish(db);
        /* after a failure, again in a minute rather than an hour */
        worker_sleep(w, (ok ? every_s : (every_s < 60 ? every_s : 60)) * 1000);
    }
    return NULL;
}
