#include "core/db.h"
#include "core/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

PGconn *db_connect(const char *conninfo, const char *appname, int statement_timeout_ms,
                   char *err, size_t errlen)
{
    /* jit=off: every statement here is short OLTP work; a plan whose estimated cost crosses
     * jit_above_cost (stale statistics on a fresh partition are enough) would spend more
     * milliseconds compiling than running */
    char opts[160];
    snprintf(opts, sizeof opts, "-c statement_timeout=%d -c idle_in_transaction_session_timeout=60000 -c jit=off",
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

PGconn *db_connect_logged(const char *conninfo, const char *who)
{
    char err[512];
    PGconn *c = db_connect(conninfo, who, 15000, err, sizeof err);
    if (!c) log_error("db.connect_failed", "who=%s msg=\"%s\"", who, err);
    return c;
}

/* Statement cache. Every db_q names a fixed SQL text, so each connection prepares a
 * text once and then only executes it: parse and plan once, not per call (the API's
 * hot paths run a dozen statements a request). The cache is per thread because raild's
 * connections are per thread; it belongs to one session at a time (connection and
 * backend pid) and is dropped when the thread moves to another connection or the
 * session is replaced (the server forgets prepared statements then). Texts that cannot be prepared (several commands in
 * one string) are remembered and run unprepared. */
#define STMT_CACHE 256

struct stmt {
    uint64_t hash;
    int nparams;
    int preparable;
    char *sql;
    char name[24];
};

struct stmt_cache {
    PGconn *conn;
    int pid;          /* backend pid: a new session (reset, reconnect) has another */
    int n;
    struct stmt e[STMT_CACHE];
};

static __thread struct stmt_cache *tl_cache;
static _Atomic unsigned long stmt_seq;
static pthread_key_t cache_key;       /* frees a thread's cache when the thread exits */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void cache_clear(struct stmt_cache *sc)
{
    for (int i = 0; i < sc->n; i++) free(sc->e[i].sql);
    sc->n = 0;
}

static void cache_free(void *p)
{
    struct stmt_cache *sc = p;
    cache_clear(sc);
    free(sc);
    if (tl_cache == sc) tl_cache = NULL;
}

static void cache_key_init(void) { pthread_key_create(&cache_key, cache_free); }

void db_forget_statements(PGconn *c)
{
    if (tl_cache && (!c || tl_cache->conn == c)) {
        cache_clear(tl_cache);
        tl_cache->conn = NULL;
    }
}

void db_reset(PGconn *c)
{
    db_forget_statements(c);
    PQreset(c);
}

static struct stmt *stmt_lookup(PGconn *c, const char *sql, int n)
{
    if (!tl_cache) {
        tl_cache = calloc(1, sizeof *tl_cache);
        if (!tl_cache) return NULL;
        pthread_once(&cache_once, cache_key_init);
        pthread_setspecific(cache_key, tl_cache);
    }
    struct stmt_cache *sc = tl_cache;
    int pid = PQbackendPID(c);
    if (sc->conn != c || sc->pid != pid) {
        cache_clear(sc);
        sc->conn = c;
        sc->pid = pid;
    }
    uint64_t h = fnv1a(sql);
    for (int i = 0; i < sc->n; i++)
        if (sc->e[i].hash == h && sc->e[i].nparams == n && !strcmp(sc->e[i].sql, sql)) return &sc->e[i];
    if (sc->n == STMT_CACHE) return NULL;             /* full: run unprepared */
    /* never prepare inside a failed transaction: the PREPARE would fail too and be
     * remembered as unpreparable */
    if (PQtransactionStatus(c) == PQTRANS_INERROR) return NULL;
    struct stmt *e = &sc->e[sc->n];
    e->sql = strdup(sql);
    if (!e->sql) return NULL;
    e->hash = h;
    e->nparams = n;
    snprintf(e->name, sizeof e->name, "rt_%lu", ++stmt_seq);
    PGresult *r = PQprepare(c, e->name, sql, n, NULL);
    e->preparable = !db_failed(r);
    PQclear(r);
    sc->n++;
    return e;
}

/* SQLSTATE of this thread's last statement through db_exec/db_cmd ("" when it succeeded).
 * A transaction aborted by a deadlock or serialization failure keeps that state rather than
 * the "current transaction is aborted" (25P02) of any statement a caller ran after it. */
static __thread char tl_sqlstate[6];

static void note_state(const PGresult *r)
{
    /* a failure libpq reports without a SQLSTATE is its own (the server went away mid-
     * statement): recorded as 08006 connection_failure, so callers answer 503, not 500 */
    const char *s = db_failed(r) ? (*db_sqlstate(r) ? db_sqlstate(r) : "08006") : "";
    /* "in failed transaction" says nothing: the statement that failed first is the cause (a
     * deadlock, a serialization failure, a cancelled statement) and decides the answer */
    if (!strcmp(s, "25P02") && *tl_sqlstate) return;
    snprintf(tl_sqlstate, sizeof tl_sqlstate, "%s", s);
}

const char *db_last_sqlstate(void) { return tl_sqlstate; }

PGresult *db_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
    struct stmt *e = stmt_lookup(c, sql, n);
    PGresult *r = e && e->preparable ? PQexecPrepared(c, e->name, n, params, NULL, NULL, 0)
                                     : PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    note_state(r);
    return r;
}

void db_thread_done(void)
{
    if (tl_cache) {
        pthread_setspecific(cache_key, NULL);
        cache_free(tl_cache);
    }
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
    note_state(r);
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

/* ------------------------------------------------------------ array literals */

static void arr_room(struct db_array *a, size_t more)
{
    if (a->len + more + 2 <= a->cap) return;   /* + the closing brace and NUL */
    size_t cap = a->cap ? a->cap : 256;
    while (a->len + more + 2 > cap) cap *= 2;
    char *b = realloc(a->buf, cap);
    if (!b) abort();
    a->buf = b, a->cap = cap;
}

/* a separator (or the opening brace), then raw text */
static void arr_put(struct db_array *a, const char *s, size_t n)
{
    arr_room(a, n + 1);
    char sep = a->len ? ',' : '{';
    a->buf[a->len++] = sep;
    memcpy(a->buf + a->len, s, n);
    a->len += n;
}

void db_array_str(struct db_array *a, const char *s)
{
    if (!s) {
        arr_put(a, "NULL", 4);
        return;
    }
    size_t n = strlen(s);
    arr_room(a, 2 * n + 3);
    char sep = a->len ? ',' : '{';
    a->buf[a->len++] = sep;
    a->buf[a->len++] = '"';
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') a->buf[a->len++] = '\\';
        a->buf[a->len++] = s[i];
    }
    a->buf[a->len++] = '"';
}

void db_array_ll(struct db_array *a, long long v)
{
    char t[24];
    arr_put(a, t, (size_t)snprintf(t, sizeof t, "%lld", v));
}

void db_array_bool(struct db_array *a, int v)
{
    arr_put(a, v ? "t" : "f", 1);
}

const char *db_array_text(struct db_array *a)
{
    if (!a->len) {
        arr_room(a, 1);
        memcpy(a->buf, "{}", 3);
        return a->buf;
    }
    a->buf[a->len] = '}';
    a->buf[a->len + 1] = 0;
    return a->buf;
}

void db_array_free(struct db_array *a)
{
    free(a->buf);
    memset(a, 0, sizeof *a);
}
