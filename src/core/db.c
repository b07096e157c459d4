#include "core/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

PGconn *db_connect(const char *conninfo, const char *appname, int statement_timeout_ms,
                   char *err, size_t errlen)
{
    char opts[128];
    snprintf(opts, sizeof opts, "-c statement_timeout=%d -c idle_in_transaction_session_timeout=60000",
             statement_timeout_ms);
    const char *keys[] = { "dbname", "application_name", "options", NULL };
    const char *vals[] = { conninfo ? conninfo : "", appname, opts, NULL };
    /* expand_dbname=1: the first dbname may be a full conninfo string or URI */
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        snprintf(err, errlen, "%s", c ? PQerrorMessage(c) : "out of memory");
        char *nl = strchr(err, '\n');
        if (nl) *nl = 0;
        if (c) PQfinish(c);
        return NULL;
    }
    return c;
}

PGresult *db_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
    return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
}

int db_failed(const PGresult *r)
{
    ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    return !(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK);
}

const char *db_sqlstate(const PGresult *r)
{
    const char *s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return s ? s : "";
}

int db_cmd(PGconn *c, const char *sql)
{
    PGresult *r = PQexec(c, sql);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

char *db_scalar(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = db_exec(c, sql, n, params);
    char *v = NULL;
    if (!db_failed(r) && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}
