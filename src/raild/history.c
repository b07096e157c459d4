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

int history_pass(PGconn *db, const char *now, FILE *out)
{
    PGresult *r = now ? db_q(db, "SELECT tbl, action, part, nrows FROM history_maintain($1::timestamptz)", now)
                      : db_q0(db, "SELECT tbl, action, part, nrows FROM history_maintain()");
    if (db_failed(r)) { PQclear(r); return -1; }
    int dropped = 0, created = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        const char *tbl = PQgetvalue(r, i, 0), *act = PQgetvalue(r, i, 1), *part = PQgetvalue(r, i, 2),
                   *rows = PQgetvalue(r, i, 3);
        if (!strcmp(act, "busy")) {
            log_info("history.busy", "msg=\"another raild copy is maintaining history\"");
            if (out) fprintf(out, "another raild copy is maintaining history; nothing done\n");
            continue;
        }
        dropped += !strcmp(act, "dropped");
        created += !strcmp(act, "created");
        int deferred = strstr(act, "deferred") != NULL;
        log_event(deferred ? LOG_WARN : LOG_INFO, deferred ? "history.deferred" : "history.partition",
                  "table=%s action=%s partition=%s rows=%s", tbl, act, *part ? part : "-", *rows ? rows : "-");
        if (out) fprintf(out, "%-24s %-16s %-36s %s\n", tbl, act, *part ? part : "-", *rows ? rows : "-");
    }
    PQclear(r);
    metrics_history(created, dropped);
    return dropped;
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
