/* conn — the console's one PostgreSQL connection: connect with the read-only role and a
 * statement timeout, LISTEN on the change feed (or poll change_log by id on a hot standby,
 * where LISTEN is refused), and turn a lost connection into a stale banner plus
 * reconnection with backoff instead of an error. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int conn_socket(struct app *a)
{
    return a->db_ok ? PQsocket(a->db) : -1;
}

int view_watches(struct view *v, const char *table)
{
    for (const char *const *t = v->ops->tables; t && *t; t++)
        if (!strcmp(*t, table)) return 1;
    return 0;
}

static void note_change(struct app *a, const char *table)
{
    if (view_watches(app_view(a), table)) a->pending_reload = 1;
    if (!strcmp(table, "watcher_status") || !strcmp(table, "payments")) {   /* the network strip */
        a->nets_dirty = 1;
        a->pending_reload = 1;
    }
}

void conn_lost(struct app *a, const char *why)
{
    if (a->db) PQfinish(a->db);
    a->db = NULL;
    a->db_ok = 0;
    if (!a->db_stale_since) a->db_stale_since = time(NULL);
    a->db_backoff = a->db_backoff ? (a->db_backoff * 2 > 5000 ? 5000 : a->db_backoff * 2) : 250;
    a->db_retry_at = now_ms() + a->db_backoff;
    if (why && *why) app_status(a, 1, "database: %s", why);
    a->pending_paint = 1;
}

static void first_line(char *s)
{
    char *nl = strchr(s, '\n');
    if (nl) *nl = 0;
}

int conn_open(struct app *a)
{
    const char *keys[] = { "dbname", "application_name", "options", "connect_timeout", NULL };
    char opts[160];
    snprintf(opts, sizeof opts, "-c statement_timeout=%d -c default_transaction_read_only=on", STATEMENT_TIMEOUT_MS);
    const char *vals[] = { a->cfg.conninfo, "railtop", opts, "3", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char err[300];
        snprintf(err, sizeof err, "%s", c ? PQerrorMessage(c) : "out of memory");
        first_line(err);
        if (c) PQfinish(c);
        a->db = NULL;
        conn_lost(a, err);
        return -1;
    }
    a->db = c;
    a->db_ok = 1;
    a->db_stale_since = 0;
    a->db_backoff = 0;
    snprintf(a->dbname, sizeof a->dbname, "%s@%s", PQuser(c), PQdb(c));
    PQsetnonblocking(c, 0);
    PGresult *r = PQexec(c, "LISTEN railtop_changes");
    a->listen_ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    char *id = db_val(c, "SELECT coalesce(max(id), 0) FROM change_log");
    a->change_id = id ? atoll(id) : 0;
    free(id);
    a->next_poll_at = now_ms() + POLL_INTERVAL_MS;
    return 0;
}

static void drain_notifies(struct app *a)
{
    PGnotify *n;
    while (a->db && (n = PQnotifies(a->db))) {
        note_change(a, n->extra);
        PQfreemem(n);
    }
}

PGresult *conn_query(struct app *a, const char *sql, int n, const char *const *params)
{
    if (!a->db_ok) return NULL;
    PGresult *r = PQexecParams(a->db, sql, n, NULL, params, NULL, NULL, 0);
    if (!db_failed(r)) {
        drain_notifies(a);
        return r;
    }
    char err[300];
    snprintf(err, sizeof err, "%s", PQerrorMessage(a->db));
    first_line(err);
    char st[8];     /* the SQLSTATE lives in the result: copied before it is freed */
    snprintf(st, sizeof st, "%s", db_sqlstate(r));
    PQclear(r);
    if (PQstatus(a->db) != CONNECTION_OK) {
        conn_lost(a, err);
    } else if (!strcmp(st, "57014")) {
        app_status(a, 1, "query took longer than %d ms (statement_timeout): narrow the filter", STATEMENT_TIMEOUT_MS);
    } else if (!strcmp(st, "42P01")) {
        app_status(a, 1, "not installed in this database yet: %s", err);
    } else {
        app_status(a, 1, "query failed: %s", err);
    }
    return NULL;
}

void conn_consume(struct app *a)
{
    if (!a->db_ok) return;
    if (!PQconsumeInput(a->db) || PQstatus(a->db) != CONNECTION_OK) {
        char err[300];
        snprintf(err, sizeof err, "%s", PQerrorMessage(a->db));
        first_line(err);
        conn_lost(a, err[0] ? err : "connection lost");
        return;
    }
    drain_notifies(a);
}

/* Hot standby: no LISTEN, so ask change_log what happened since the last id seen. */
void conn_poll_changes(struct app *a)
{
    char last[32];
    snprintf(last, sizeof last, "%lld", a->change_id);
    enum { CH_ID, CH_TABLE };
    PGresult *r = cq(a, "SELECT id, tbl FROM change_log WHERE id > $1::bigint ORDER BY id LIMIT 1000", last);
    if (!r) return;
    for (int i = 0; i < PQntuples(r); i++) {
        a->change_id = atoll(PQgetvalue(r, i, CH_ID));
        note_change(a, PQgetvalue(r, i, CH_TABLE));
    }
    PQclear(r);
}
