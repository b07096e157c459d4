/* db — thin libpq helpers. Parameterised SQL only: there is no way here to
 * splice a value into SQL text. */
#ifndef CORE_DB_H
#define CORE_DB_H
#include <libpq-fe.h>

/* A timestamp as every API answer writes it: RFC 3339 UTC with milliseconds
 * ("2026-12-01T10:00:00.123Z"); SQL_TS_US keeps microseconds, for values a client sends back
 * to compare (an order's updated_at). The one place the format is written. */
#define SQL_TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
#define SQL_TS_US(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"

/* A daemon's connection (15 s statement timeout); a failure is logged as db.connect_failed
 * with who. NULL then: the caller retries later. */
PGconn *db_connect_logged(const char *conninfo, const char *who);
/* Connects (conninfo may be "" to use PG* variables), sets application_name, a statement
 * timeout and jit=off. Returns NULL and fills err on failure. */
PGconn *db_connect(const char *conninfo, const char *appname, int statement_timeout_ms,
                   char *err, size_t errlen);

/* Runs a parameterised statement, prepared once per connection (see db.c). */
PGresult *db_exec(PGconn *c, const char *sql, int n, const char *const *params);
/* PQreset that also forgets the statements prepared on the old session. */
void db_reset(PGconn *c);
/* Forget this thread's prepared statements for c (call before PQfinish/reuse elsewhere). */
void db_forget_statements(PGconn *c);
/* Frees this thread's statement cache (thread exit). */
void db_thread_done(void);
#define DB_NARGS(...) ((int)(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *)))
/* db_q(conn, "SELECT $1", a) — params are text, NULL for SQL NULL */
#define db_q(c, sql, ...) db_exec((c), (sql), DB_NARGS(__VA_ARGS__), (const char *const[]){ __VA_ARGS__ })
#define db_q0(c, sql) db_exec((c), (sql), 0, NULL)

/* true when the result is an error (and logs nothing: callers decide) */
int db_failed(const PGresult *r);
/* SQLSTATE of a failed result, "" if none */
const char *db_sqlstate(const PGresult *r);
/* SQLSTATE of the calling thread's last db_exec/db_cmd statement, "" if it succeeded; a
 * deadlock (40P01) or serialization failure (40001) outlives the 25P02 that follows it. */
const char *db_last_sqlstate(void);
/* runs a command and returns 0, or -1 (result cleared either way) */
int db_cmd(PGconn *c, const char *sql);
/* first row, first column as a malloc'd string or NULL */
char *db_scalar(PGconn *c, const char *sql, int n, const char *const *params);
#define db_val(c, sql, ...) db_scalar((c), (sql), DB_NARGS(__VA_ARGS__), (const char *const[]){ __VA_ARGS__ })

/* A column of a batch as one PostgreSQL array literal ("{a,\"b c\",NULL}"), for
 * unnest($1::text[], $2::bigint[], …) WITH ORDINALITY: n rows in one statement with one
 * parameter per column. Cheaper to build and to parse than a JSON document of n objects
 * (jsonb_to_recordset), which matters on batches of thousands (the watcher's catch-up).
 * Elements are always quoted and escaped, so any text is safe; out of memory aborts. */
struct db_array { char *buf; size_t len, cap; };
void db_array_str(struct db_array *a, const char *s);   /* NULL: an SQL NULL element */
void db_array_ll(struct db_array *a, long long v);
void db_array_bool(struct db_array *a, int v);
/* the literal so far, closed ("{}" when empty); valid until the next add or free */
const char *db_array_text(struct db_array *a);
void db_array_free(struct db_array *a);

#define SQLSTATE_UNIQUE_VIOLATION "23505"
#define SQLSTATE_SERIALIZATION    "40001"
#define SQLSTATE_DEADLOCK         "40P01"
#endif
