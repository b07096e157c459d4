#include "raild/http.h"
#include "raild/auth.h"
#include "raild/csv.h"
#include "raild/metrics.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include "raild/ratelimit.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char *g_conninfo = "";
/* MHD's own threads: they read requests and write replies, the request workers do the rest */
#define HTTP_IO_THREADS 2
static __thread PGconn *tl_db;
static pthread_key_t db_key;          /* closes a pool thread's connection when it exits */
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;
static void db_key_free(void *c)
{
    db_thread_done();
    PQfinish(c);
}
static void db_key_init(void) { pthread_key_create(&db_key, db_key_free); }

struct conn_state {
    char *buf;
    size_t len, cap;
    size_t limit;               /* body bytes this route accepts */
    int too_large;
    /* while queued for a request worker (the connection is suspended meanwhile) */
    struct MHD_Connection *c;
    const char *method, *url;
    int64_t queued_ms;
    struct conn_state *next;
    int done;                   /* a worker filled `reply`: send it when MHD resumes us */
    struct resp reply;
};

/* Every open connection, for the whole-request deadline: from the moment a connection is
 * waiting for a request (opened, or its last reply sent) until that request's body is in,
 * at most RAILD_HTTP_REQUEST_DEADLINE_MS. MHD's idle timeout alone is reset by every byte,
 * so a client dripping one header line every few seconds would hold its socket for ever. */
struct tracked {
    int fd;
    int64_t since_ms;
    int busy;                   /* the request is complete and being answered: no deadline */
    struct tracked *prev, *next;
};
static pthread_mutex_t track_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tracked *track_head;
static long long g_deadline_cut;

static size_t body_limit(const char *method, const char *url)
{
    return !strcmp(method, "POST") && !strcmp(url, "/v1/chain/transfers") ? HTTP_MAX_INGEST_BODY : HTTP_MAX_BODY;
}

/* ---------------------------------------------------------------- replies */

void resp_json(struct resp *r, int status, json_t *body)
{
    if (r->json) json_decref(r->json);
    free(r->raw);
    r->raw = NULL;
    r->status = status;
    r->json = body;
}

void resp_error(struct resp *r, int status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* messages quote what the client sent (a field name, a parser's complaint about its
     * bytes) and are cut at 512 bytes, possibly inside a character: anything that is not
     * UTF-8 becomes '?', or jansson refuses the string and the client got a 500, not its 4xx
     * (found by tests/fuzz/fuzz_json_body) */
    size_t bad;
    while (!csv_utf8_valid(msg, strlen(msg), &bad)) msg[bad] = '?';
    resp_json(r, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

void resp_header(struct resp *r, const char *name, const char *value)
{
    for (int i = 0; i < 2; i++) {
        if (!r->extra_header[i][0][0]) {
            snprintf(r->extra_header[i][0], 128, "%s", name);
            snprintf(r->extra_header[i][1], 128, "%s", value);
            return;
        }
    }
}

void resp_db_error(struct resp *r, PGconn *db, PGresult *res, const char *what)
{
    const char *st = res ? db_sqlstate(res) : db_last_sqlstate();
    if (res && !*st && db_failed(res)) st = "08006";      /* libpq's own failure: the connection */
    log_error("db.error", "what=%s sqlstate=%s msg=\"%.200s\"", what, st, db ? PQerrorMessage(db) : "");
    /* class 08: the connection failed (libpq's own failures are recorded as 08006); 57P01-
     * 57P03: the server is shutting down or not yet up */
    if ((db && PQstatus(db) != CONNECTION_OK) || !strncmp(st, "08", 2) || !strncmp(st, "57P0", 4)) {
        resp_error(r, 503, "db_unavailable", "the database is unavailable, try again");
        resp_header(r, "Retry-After", "1");
    } else if (!strcmp(st, "40P01") || !strcmp(st, "40001")) {
        /* the whole transaction was rolled back; the same request again will normally succeed */
        resp_error(r, 409, "concurrent_update", "the request collided with a concurrent change and its "
                   "transaction was rolled back; retry it");
        resp_header(r, "Retry-After", "1");
    } else if (!strcmp(st, "57014") || !strcmp(st, "55P03")) {
        resp_error(r, 503, "db_timeout", "the database did not answer in time (%s); retry it", what);
        resp_header(r, "Retry-After", "1");
    } else {
        resp_error(r, 500, "internal", "internal error (%s)", what);
    }
}

/* ---------------------------------------------------------------- requests */

const char *req_query(struct req *q, const char *name)
{
    return MHD_lookup_connection_value(q->mhd, MHD_GET_ARGUMENT_KIND, name);
}

const char *req_header(struct req *q, const char *name)
{
    return MHD_lookup_connection_value(q->mhd, MHD_HEADER_KIND, name);
}

json_t *req_json_object(struct req *q, struct resp *r, const char *const *allowed)
{
    json_error_t err;
    if (!q->body || q->body_len == 0) {
        resp_error(r, 400, "invalid_json", "request body must be a JSON object");
        return NULL;
    }
    json_t *o = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        resp_error(r, 400, "invalid_json", "malformed JSON at line %d column %d: %s", err.line,
                   err.column, err.text);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        resp_error(r, 400, "invalid_json", "request body must be a JSON object");
        return NULL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (const char *const *a = allowed; a && *a; a++)
            if (!strcmp(*a, k)) { ok = 1; break; }
        if (!ok) {
            resp_error(r, 400, "unknown_field", "unknown field '%.64s'", k);
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

int jget_str(json_t *o, const char *k, int required, size_t maxlen, const char **out, struct resp *r)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        resp_error(r, 400, "invalid_request", "field '%s' is required", k);
        return -1;
    }
    if (!json_is_string(v)) {
        resp_error(r, 400, "invalid_request", "field '%s' must be a string", k);
        return -1;
    }
    size_t n = json_string_length(v);
    if (n > maxlen || strlen(json_string_value(v)) != n) {
        resp_error(r, 400, "invalid_request", "field '%s' must be at most %zu characters, without NUL", k, maxlen);
        return -1;
    }
    long long at = util_text_control(json_string_value(v));
    if (at >= 0) {   /* stored raw they reach CSV exports, logs and other clients unescaped */
        resp_error(r, 400, "invalid_request", "field '%s' holds a control character (U+%04llX); only newline and tab"
                   " are allowed", k, at);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

int jget_int(json_t *o, const char *k, int required, long long min, long long max, long long *out, struct resp *r)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        resp_error(r, 400, "invalid_request", "field '%s' is required", k);
        return -1;
    }
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
        resp_error(r, 400, "invalid_request", "field '%s' must be an integer from %lld to %lld", k, min, max);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

int jget_bool(json_t *o, const char *k, int required, int *out, struct resp *r)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) {
        if (!required) return 0;
        resp_error(r, 400, "invalid_request", "field '%s' is required", k);
        return -1;
    }
    if (!json_is_boolean(v)) {
        resp_error(r, 400, "invalid_request", "field '%s' must be true or false", k);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

int tx_begin(struct req *q, struct resp *r)
{
    if (db_cmd(q->db, "BEGIN")) {
        resp_db_error(r, q->db, NULL, "begin");
        return -1;
    }
    return 0;
}

int tx_commit(struct req *q, struct resp *r)
{
    PGresult *res = PQexec(q->db, "COMMIT");
    int failed = db_failed(res);
    if (failed) {
        if (!strcmp(db_sqlstate(res), SQLSTATE_SERIALIZATION))
            resp_error(r, 409, "conflict", "a concurrent change won; retry");
        else
            resp_db_error(r, q->db, res, "commit");
    }
    PQclear(res);
    return failed ? -1 : 0;
}

/* ---------------------------------------------------------------- routing */

/* Matches url against pattern; {x} segments capture into q->params. */
static int route_match(const char *pattern, const char *url, struct req *q, char *scratch, size_t scratchlen)
{
    const char *p = pattern, *u = url;
    size_t used = 0;
    q->nparams = 0;
    while (*p && *u) {
        if (*p != '/' || *u != '/') return 0;
        p++, u++;
        const char *pe = strchr(p, '/'), *ue = strchr(u, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), ul = ue ? (size_t)(ue - u) : strlen(u);
        if (pl >= 2 && p[0] == '{') {
            if (ul == 0 || ul > 200 || q->nparams == HTTP_MAX_PARAMS || used + ul + 1 > scratchlen) return 0;
            memcpy(scratch + used, u, ul);
            scratch[used + ul] = 0;
            q->params[q->nparams++] = scratch + used;
            used += ul + 1;
        } else if (pl != ul || memcmp(p, u, pl)) {
            return 0;
        }
        p += pl, u += ul;
    }
    return *p == 0 && *u == 0;
}

static const struct route *route_find(const char *method, const char *url, struct req *q,
                                      char *scratch, size_t n, int *path_matched)
{
    *path_matched = 0;
    for (int t = 0; route_tables[t]; t++) {
        for (const struct route *rt = route_tables[t]; rt->method; rt++) {
            if (!route_match(rt->pattern, url, q, scratch, n)) continue;
            *path_matched = 1;
            if (!strcmp(rt->method, method)) return rt;
        }
    }
    return NULL;
}


static PGconn *thread_db(void)
{
    if (tl_db && PQstatus(tl_db) != CONNECTION_OK) {
        db_reset(tl_db);
        if (PQstatus(tl_db) != CONNECTION_OK) {
            db_forget_statements(tl_db);
            PQfinish(tl_db);
            tl_db = NULL;
            pthread_setspecific(db_key, NULL);
        }
    }
    if (!tl_db) {
        tl_db = db_connect_logged(g_conninfo, "raild");
        pthread_once(&db_key_once, db_key_init);
        pthread_setspecific(db_key, tl_db);
    }
    return tl_db;
}

/* "ip:a.b.c.d" of the client, for the failed-authentication bucket */
static void client_bucket(struct req *q, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(q->mhd, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ci->client_addr)->sin_addr, ip, sizeof ip);
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ci->client_addr)->sin6_addr, ip, sizeof ip);
    snprintf(out, n, "ip:%s", ip);
}

static void too_many(struct resp *r, const char *code, long long retry_ms, const char *msg)
{
    char ra[24];
    snprintf(ra, sizeof ra, "%lld", (retry_ms + 999) / 1000);
    resp_error(r, 429, code, "%s; retry after %s s", msg, ra);
    resp_header(r, "Retry-After", ra);
}

/* what our keys look like (auth_new_key): anything else is refused without a lookup */
static int key_shaped(const char *k)
{
    if (strncmp(k, "rk_live_", 8) && strncmp(k, "rk_test_", 8)) return 0;
    size_t n = strlen(k + 8);
    return n == 24 && strspn(k + 8, "abcdefghijklmnopqrstuvwxyz234567") == n;
}

static int authenticate(struct req *q, struct resp *r)
{
    char ipb[64];
    long long retry = 0;
    double fail_rate = rl_auth_failures_per_s();
    client_bucket(q, ipb, sizeof ipb);
    /* a client that keeps presenting bad keys is turned away before the database */
    if (!rl_check(ipb, fail_rate, fail_rate * 10, 0, &retry)) {
        too_many(r, "too_many_failed_keys", retry, "too many requests with unknown keys from this address");
        return -1;
    }
    const char *h = req_header(q, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) || !h[7]) {   /* the scheme is case-insensitive (RFC 9110 §11.1) */
        rl_charge(ipb, fail_rate, fail_rate * 10);
        resp_error(r, 401, "unauthorized", "missing API key: send 'Authorization: Bearer <key>'");
        return -1;
    }
    int rc = key_shaped(h + 7) ? auth_lookup(q->db, h + 7, &q->who) : -1;
    if (rc == -2 && PQstatus(q->db) != CONNECTION_OK && (q->db = thread_db())) {
        /* this thread's connection died since its last request (a database restart): the
         * key lookup is the request's first statement, so it is safe to run again on a
         * fresh one instead of failing the request */
        rc = auth_lookup(q->db, h + 7, &q->who);
    }
    if (rc == -2) {
        resp_db_error(r, q->db, NULL, "auth");
        return -1;
    }
    if (rc) {
        rl_charge(ipb, fail_rate, fail_rate * 10);
        resp_error(r, 401, "unauthorized", "unknown or revoked API key");
        return -1;
    }
    char kb[40];
    double per_key = rl_per_key_per_s();
    snprintf(kb, sizeof kb, "key:%lld", q->who.key_id);
    if (!rl_check(kb, per_key, per_key * 2, 1, &retry)) {
        too_many(r, "rate_limited", retry, "this key sends more requests than its limit");
        return -1;
    }
    return 0;
}

/* The URL as MHD hands it over, decoded by unescape() below: a %00 in the path (it arrives
 * as DEL, see there) or a control character in a query value is refused before routing —
 * `PUT /v1/orders/a%00b` must not store the reference "a". So is a query with more
 * parameters than any endpoint takes. */
#define QUERY_ARGS_MAX 64

static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f) return 1;
    return 0;
}

struct arg_scan { int n, bad; char bad_key[64]; };

static enum MHD_Result scan_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    struct arg_scan *a = cls;
    (void)kind;
    a->n++;
    if (!a->bad && ((key && has_control(key)) || (value && has_control(value)))) {
        a->bad = 1;
        snprintf(a->bad_key, sizeof a->bad_key, "%s", key && !has_control(key) ? key : "?");
    }
    return MHD_YES;
}

static int url_refused(struct req *q, struct resp *r)
{
    /* %00 (and %7f) arrive as DEL: refused here. Other control characters reach the routes,
     * whose validators answer for them (an order's reference: 422 invalid_reference; an id
     * never matches: 404) */
    if (strchr(q->url, 0x7f)) {
        q->route = "invalid_path";
        resp_error(r, 400, "invalid_path", "the path holds %%00 or %%7f; remove it");
        return 1;
    }
    struct arg_scan a = { 0 };
    MHD_get_connection_values(q->mhd, MHD_GET_ARGUMENT_KIND, scan_arg, &a);
    if (a.n > QUERY_ARGS_MAX) {
        q->route = "too_many_parameters";
        resp_error(r, 414, "too_many_parameters", "at most %d query parameters (got %d)", QUERY_ARGS_MAX, a.n);
        return 1;
    }
    if (a.bad) {
        q->route = "invalid_query";
        resp_error(r, 400, "invalid_request", "query parameter '%s' holds a control character; remove it", a.bad_key);
        return 1;
    }
    return 0;
}

static void dispatch(struct req *q, struct resp *r)
{
    char scratch[1024];
    int path_matched;
    if (url_refused(q, r)) return;
    const struct route *rt = route_find(q->method, q->url, q, scratch, sizeof scratch, &path_matched);
    if (!rt) {
        q->route = path_matched ? "method_not_allowed" : "not_found";
        if (path_matched)
            resp_error(r, 405, "method_not_allowed", "%s is not allowed on this path", q->method);
        else
            resp_error(r, 404, "not_found", "no such endpoint");
        return;
    }
    q->route = rt->pattern;
    if (rt->cap != CAP_PUBLIC || strcmp(rt->pattern, "/healthz")) {
        q->db = thread_db();
        if (!q->db) {
            resp_error(r, 503, "db_unavailable", "the database is unavailable, try again");
            return;
        }
    }
    if (rt->cap != CAP_PUBLIC) {
        if (authenticate(q, r)) return;
        if (!role_can(q->who.role, rt->cap)) {
            resp_error(r, 403, "forbidden", "role '%s' may not call %s %s", q->who.role, rt->method, rt->pattern);
            return;
        }
    }
    rt->fn(q, r);
    /* a handler that returned mid-transaction (error path) gets rolled back here */
    if (q->db && PQtransactionStatus(q->db) != PQTRANS_IDLE) db_cmd(q->db, "ROLLBACK");
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct resp *r)
{
    char *body;
    size_t len;
    const char *ctype = "application/json";
    if (r->raw) {
        body = r->raw;
        r->raw = NULL;
        len = strlen(body);
        ctype = r->content_type ? r->content_type : "text/plain";
    } else {
        if (!r->json) resp_error(r, 500, "internal", "handler produced no response");
        body = json_dumps(r->json, JSON_COMPACT);
        if (!body) {
            body = strdup("{\"error\":{\"code\":\"internal\",\"message\":\"encoding failed\"}}");
            r->status = 500;
        }
        len = strlen(body);
    }
    struct MHD_Response *mr = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(mr, "Content-Type", ctype);
    for (int i = 0; i < 2; i++)
        if (r->extra_header[i][0][0]) MHD_add_response_header(mr, r->extra_header[i][0], r->extra_header[i][1]);
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ok;
}

static void handle(struct conn_state *st, const char *method, const char *url, struct MHD_Connection *c,
                   struct resp *r, int inline_db);

/* ---------------------------------------------------------------- request workers
 * MHD's threads only read requests and write replies. A request that needs the database is
 * suspended and queued for one of the request workers, each holding its own connection. So
 * a stalled table can hold the workers, but never MHD's threads: /healthz, /readyz and
 * /metrics are answered on MHD's threads themselves (/readyz and /metrics through one probe
 * connection of their own, bounded by a short statement timeout), and a request that waits
 * for a worker longer than RAILD_HTTP_QUEUE_WAIT_MS is answered 503 busy instead of hanging. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct conn_state *head, *tail;
    int len, max, wait_ms, stopping;
    pthread_t *threads;
    int n;
} g_workers = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static int inline_route(const char *method, const char *url)
{
    return !strcmp(method, "GET") && (!strcmp(url, "/healthz") || !strcmp(url, "/readyz") || !strcmp(url, "/metrics"));
}

/* 0: queued (the connection is suspended until a worker resumes it); -1: refused (full or
 * stopping) — the caller answers 503 */
static int enqueue(struct conn_state *st, struct MHD_Connection *c, const char *method, const char *url)
{
    pthread_mutex_lock(&g_workers.mu);
    if (g_workers.stopping || g_workers.len >= g_workers.max) {
        pthread_mutex_unlock(&g_workers.mu);
        return -1;
    }
    /* suspended before a worker can see it: a resume must never come before the suspend */
    MHD_suspend_connection(c);
    st->c = c;
    st->method = method;
    st->url = url;
    st->queued_ms = util_now_ms();
    st->next = NULL;
    if (g_workers.tail) g_workers.tail->next = st;
    else g_workers.head = st;
    g_workers.tail = st;
    g_workers.len++;
    pthread_cond_signal(&g_workers.cv);
    pthread_mutex_unlock(&g_workers.mu);
    return 0;
}

/* Requests that waited longer than RAILD_HTTP_QUEUE_WAIT_MS are answered 503 busy from
 * here (the serve loop), not when a worker frees up: with every worker stuck on a stalled
 * table that could be much later. */
static void queue_expire(void)
{
    struct conn_state *expired = NULL;
    int64_t now = util_now_ms();
    pthread_mutex_lock(&g_workers.mu);
    struct conn_state **pp = &g_workers.head, *prev = NULL;
    while (*pp) {
        struct conn_state *st = *pp;
        if (now - st->queued_ms > g_workers.wait_ms) {
            *pp = st->next;
            if (g_workers.tail == st) g_workers.tail = prev;
            g_workers.len--;
            st->next = expired;
            expired = st;
        } else {
            prev = st;
            pp = &st->next;
        }
    }
    pthread_mutex_unlock(&g_workers.mu);
    while (expired) {
        struct conn_state *st = expired;
        expired = st->next;
        memset(&st->reply, 0, sizeof st->reply);
        resp_error(&st->reply, 503, "busy", "waited %lld ms for a request worker (the database is slow or "
                   "stalled); retry", (long long)(now - st->queued_ms));
        resp_header(&st->reply, "Retry-After", "1");
        metrics_request("busy", 503, (now - st->queued_ms) * 1000);
        log_warn("http.busy", "method=%s url=%.100s waited_ms=%lld", st->method, st->url,
                 (long long)(now - st->queued_ms));
        st->done = 1;
        MHD_resume_connection(st->c);
    }
}

/* ms the oldest queued request has waited (0 when none): /readyz is 503 past a second */
static int64_t queue_age_ms(void)
{
    pthread_mutex_lock(&g_workers.mu);
    int64_t age = g_workers.head ? util_now_ms() - g_workers.head->queued_ms : 0;
    pthread_mutex_unlock(&g_workers.mu);
    return age;
}

static void *worker_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&g_workers.mu);
        while (!g_workers.head && !g_workers.stopping) pthread_cond_wait(&g_workers.cv, &g_workers.mu);
        struct conn_state *st = g_workers.head;
        if (!st) {                      /* stopping, and the queue is drained */
            pthread_mutex_unlock(&g_workers.mu);
            break;
        }
        g_workers.head = st->next;
        if (!g_workers.head) g_workers.tail = NULL;
        g_workers.len--;
        pthread_mutex_unlock(&g_workers.mu);
        memset(&st->reply, 0, sizeof st->reply);
        st->reply.status = 200;
        int64_t waited = util_now_ms() - st->queued_ms;
        if (waited > g_workers.wait_ms) {
            resp_error(&st->reply, 503, "busy", "waited %lld ms for a request worker (the database is slow or "
                       "stalled); retry", (long long)waited);
            resp_header(&st->reply, "Retry-After", "1");
            metrics_request("busy", 503, waited * 1000);
            log_warn("http.busy", "method=%s url=%.100s waited_ms=%lld", st->method, st->url, (long long)waited);
        } else {
            handle(st, st->method, st->url, st->c, &st->reply, 0);
        }
        st->done = 1;
        MHD_resume_connection(st->c);
    }
    return NULL;
}

/* the probe connection /readyz and /metrics use from MHD's threads; one at a time (a second
 * caller meanwhile gets no database: metrics without the gauges, readiness 503) */
static pthread_mutex_t probe_mu = PTHREAD_MUTEX_INITIALIZER;
static PGconn *g_probe;

static PGconn *probe_take(void)
{
    if (pthread_mutex_trylock(&probe_mu)) return NULL;
    if (g_probe && PQstatus(g_probe) != CONNECTION_OK) {
        db_forget_statements(g_probe);
        PQfinish(g_probe);
        g_probe = NULL;
    }
    if (!g_probe) {
        char err[256];
        g_probe = db_connect(g_conninfo, "raild-probe", 1000, err, sizeof err);
    }
    if (!g_probe) pthread_mutex_unlock(&probe_mu);
    return g_probe;
}

static void probe_give(PGconn *c)
{
    if (c) {
        if (PQtransactionStatus(c) != PQTRANS_IDLE) db_cmd(c, "ROLLBACK");
        /* the statement cache is per thread and MHD's threads take turns on this
         * connection: nothing prepared may outlive one use */
        db_forget_statements(c);
        db_cmd(c, "DEALLOCATE ALL");
        pthread_mutex_unlock(&probe_mu);
    }
}

/* /healthz, /readyz, /metrics on an MHD thread */
static void dispatch_inline(struct req *q, struct resp *r)
{
    char scratch[1];
    int path_matched = 0;
    if (url_refused(q, r)) return;
    const struct route *rt = route_find(q->method, q->url, q, scratch, sizeof scratch, &path_matched);
    if (!rt) {                          /* cannot happen: inline_route() matched these */
        resp_error(r, 404, "not_found", "no such endpoint");
        return;
    }
    q->route = rt->pattern;
    if (!strcmp(rt->pattern, "/healthz")) {
        rt->fn(q, r);
        return;
    }
    int64_t age = queue_age_ms();
    if (!strcmp(rt->pattern, "/readyz") && age > 1000) {
        resp_error(r, 503, "not_ready", "requests have waited %lld ms for a request worker", (long long)age);
        return;
    }
    q->db = probe_take();
    rt->fn(q, r);
    probe_give(q->db);
    q->db = NULL;
}

static void track_busy(struct MHD_Connection *c, int busy)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    struct tracked *t = ci ? (struct tracked *)ci->socket_context : NULL;
    if (!t) return;
    pthread_mutex_lock(&track_mu);
    t->busy = busy;
    t->since_ms = util_now_ms();
    pthread_mutex_unlock(&track_mu);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct tracked *t = calloc(1, sizeof *t);
        if (!t || !ci) { free(t); return; }
        t->fd = ci->connect_fd;
        t->since_ms = util_now_ms();
        pthread_mutex_lock(&track_mu);
        t->next = track_head;
        if (track_head) track_head->prev = t;
        track_head = t;
        pthread_mutex_unlock(&track_mu);
        *socket_context = t;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct tracked *t = *socket_context;
        pthread_mutex_lock(&track_mu);
        if (t->prev) t->prev->next = t->next;
        else track_head = t->next;
        if (t->next) t->next->prev = t->prev;
        pthread_mutex_unlock(&track_mu);
        free(t);
        *socket_context = NULL;
    }
}

/* shuts down the sockets past their deadline; MHD then sees the connection end and closes
 * it (the fd stays ours to touch until MHD's CLOSED notification, under the same lock) */
static void deadline_sweep(int64_t deadline_ms)
{
    int64_t now = util_now_ms();
    int cut = 0;
    pthread_mutex_lock(&track_mu);
    for (struct tracked *t = track_head; t; t = t->next)
        if (!t->busy && t->fd >= 0 && now - t->since_ms > deadline_ms) {
            shutdown(t->fd, SHUT_RDWR);
            t->fd = -1;
            cut++;
        }
    pthread_mutex_unlock(&track_mu);
    if (cut) {
        g_deadline_cut += cut;
        log_warn("http.deadline", "cut=%d total=%lld deadline_ms=%lld", cut, g_deadline_cut, (long long)deadline_ms);
    }
}

/* One request, start to finish: route, run, count, log. `inline_db` says it runs on an MHD
 * thread (health, readiness, metrics), which must never use a worker's connection. */
static void handle(struct conn_state *st, const char *method, const char *url, struct MHD_Connection *c,
                   struct resp *r, int inline_db)
{
    struct timespec ts0, ts1;
    clock_gettime(CLOCK_MONOTONIC, &ts0);
    struct req q = { .method = method, .url = url, .body = st->buf ? st->buf : "", .body_len = st->len, .mhd = c };
    if (st->too_large) {
        q.route = "body_too_large";
        resp_error(r, 413, "body_too_large", "request body exceeds %zu bytes", st->limit);
    } else if (inline_db) {
        dispatch_inline(&q, r);
    } else {
        dispatch(&q, r);
    }
    clock_gettime(CLOCK_MONOTONIC, &ts1);
    int64_t usec = (ts1.tv_sec - ts0.tv_sec) * 1000000LL + (ts1.tv_nsec - ts0.tv_nsec) / 1000;
    metrics_request(q.route ? q.route : "unknown", r->status, usec);
    log_event(r->status >= 500 ? LOG_ERROR : LOG_INFO, "http.request",
              "method=%s route=%s status=%d us=%lld actor=\"%s\"", method, q.route ? q.route : "-", r->status,
              (long long)usec, q.who.name[0] ? q.who.name : "-");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct conn_state *st = *con_cls;
    if (!st) {
        st = calloc(1, sizeof *st);
        if (!st) return MHD_NO;
        st->limit = body_limit(method, url);
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!st->too_large) {
            if (st->len + *upload_size > st->limit) {
                st->too_large = 1;
                free(st->buf);
                st->buf = NULL;
                st->len = 0;
            } else {
                if (st->len + *upload_size + 1 > st->cap) {
                    size_t ncap = (st->len + *upload_size + 1) * 2;
                    char *nb = realloc(st->buf, ncap);
                    if (!nb) return MHD_NO;
                    st->buf = nb;
                    st->cap = ncap;
                }
                memcpy(st->buf + st->len, upload, *upload_size);
                st->len += *upload_size;
                st->buf[st->len] = 0;
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }

    if (st->done) {                               /* a worker answered; MHD resumed us */
        enum MHD_Result ok = send_reply(c, &st->reply);
        if (st->reply.json) json_decref(st->reply.json);
        free(st->reply.raw);
        memset(&st->reply, 0, sizeof st->reply);
        st->done = 0;
        return ok;
    }
    track_busy(c, 1);
    struct resp r = { .status = 200 };
    if (!st->too_large && !inline_route(method, url)) {
        if (enqueue(st, c, method, url) == 0) return MHD_YES;    /* suspended until a worker is done */
        resp_error(&r, 503, g_workers.stopping ? "shutting_down" : "busy", g_workers.stopping
                   ? "raild is shutting down; retry on another copy" : "every request worker is busy; retry");
        resp_header(&r, "Retry-After", "1");
        log_warn("http.refused", "method=%s url=%.100s why=%s", method, url, r.json ? "queue" : "-");
    } else {
        handle(st, method, url, c, &r, inline_route(method, url));
    }
    enum MHD_Result ok = send_reply(c, &r);
    if (r.json) json_decref(r.json);
    free(r.raw);
    return ok;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode tc)
{
    track_busy(c, 0);             /* the deadline for the next request starts now */
    struct conn_state *st = *con_cls;
    if (st) {
        if (st->reply.json) json_decref(st->reply.json);
        free(st->reply.raw);
        free(st->buf);
        free(st);
        *con_cls = NULL;
    }
}

/* MHD's %-decoding, except that %00 becomes DEL (0x7f) instead of ending the string early:
 * url_refused() then sees a control character where the default would silently cut the id. */
static size_t unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *p = s; *p; p++) {
        int hi, lo;
        if (*p == '%' && p[1] && p[2] && (hi = util_hexval(p[1])) >= 0 && (lo = util_hexval(p[2])) >= 0) {
            int v = hi * 16 + lo;
            *w++ = (char)(v ? v : 0x7f);
            p += 2;
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    return (size_t)(w - s);
}

static volatile sig_atomic_t g_stop;
void http_stop(void) { g_stop = 1; }

int http_serve(const struct server_opts *o)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)o->port) };
    if (inet_pton(AF_INET, o->host, &sa.sin_addr) != 1) {
        if (!strcmp(o->host, "localhost")) {
            inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        } else {
            fprintf(stderr, "raild: --listen host '%s' must be an IPv4 address (e.g. 127.0.0.1)\n", o->host);
            return 2;
        }
    }
    g_conninfo = o->conninfo ? o->conninfo : "";
    g_workers.max = (int)util_env_i64("RAILD_HTTP_QUEUE_MAX", 4096, 1, 1000000, "http.bad_queue_max");
    g_workers.wait_ms = (int)util_env_i64("RAILD_HTTP_QUEUE_WAIT_MS", 10000, 10, 600000, "http.bad_queue_wait");
    int64_t deadline_ms = util_env_i64("RAILD_HTTP_REQUEST_DEADLINE_MS", 20000, 500, 3600000, "http.bad_deadline");
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL,
        &on_request, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)HTTP_IO_THREADS, MHD_OPTION_NOTIFY_COMPLETED, &on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, &on_connection, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)30, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000, MHD_OPTION_UNESCAPE_CALLBACK, &unescape, NULL,
        /* room for a long query, so it reaches url_refused() and gets a 414 rather than MHD
         * dropping the connection; no address reuse: a second raild on the same address must
         * fail to start, not take half the requests */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
        /* one address may hold at most a quarter of the connections: a slow-header flood from
         * one client cannot take them all */
        MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned)util_env_i64("RAILD_HTTP_PER_IP", 250, 1, 1000, "http.bad_per_ip"), MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "raild: cannot listen on %s:%d (in use, or not a local address?)\n", o->host, o->port);
        return 1;
    }
    g_workers.threads = calloc((size_t)o->threads, sizeof *g_workers.threads);
    for (int i = 0; g_workers.threads && i < o->threads; i++)
        if (!pthread_create(&g_workers.threads[i], NULL, worker_main, NULL)) g_workers.n++;
    log_info("raild.listening", "addr=%s:%d threads=%d io_threads=%d deadline_ms=%lld", o->host, o->port,
             g_workers.n, HTTP_IO_THREADS, (long long)deadline_ms);
    int64_t last_sweep = util_now_ms();
    while (!g_stop) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
        if (util_now_ms() - last_sweep >= 250) {
            deadline_sweep(deadline_ms);
            queue_expire();
            last_sweep = util_now_ms();
        }
    }
    /* stop taking connections, let the workers finish what is queued (every suspended
     * connection is resumed and answered), then stop MHD */
    MHD_socket ls = MHD_quiesce_daemon(d);
    pthread_mutex_lock(&g_workers.mu);
    g_workers.stopping = 1;
    pthread_cond_broadcast(&g_workers.cv);
    pthread_mutex_unlock(&g_workers.mu);
    for (int i = 0; i < g_workers.n; i++) pthread_join(g_workers.threads[i], NULL);
    free(g_workers.threads);
    MHD_stop_daemon(d);
    if (ls != MHD_INVALID_SOCKET) close(ls);
    pthread_mutex_lock(&probe_mu);
    if (g_probe) PQfinish(g_probe);
    g_probe = NULL;
    pthread_mutex_unlock(&probe_mu);
    log_info("raild.stopped", "addr=%s:%d", o->host, o->port);
    return 0;
}

/* ------------------------------------------------------------------ bulk */

int http_bulk_items(json_t *items, int max, int with_version, struct resp *r)
{
    if (!json_is_array(items) || json_array_size(items) == 0 || (int)json_array_size(items) > max) {
        resp_error(r, 400, "invalid_request", "'items' must be an array of 1-%d items", max);
        return -1;
    }
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) {
        json_t *id = json_object_get(it, "id"), *ver = json_object_get(it, "version");
        if (!json_is_object(it) || json_object_size(it) != (size_t)(with_version ? 2 : 1) || !json_is_string(id) ||
            strlen(json_string_value(id)) > 64 || (with_version && !json_is_integer(ver))) {
            resp_error(r, 400, "invalid_request", with_version ? "items[%zu] must be {\"id\": …, \"version\": N}"
                                                               : "items[%zu] must be {\"id\": …}", i);
            return -1;
        }
    }
    return 0;
}

json_t *http_bulk(struct req *q, handler_fn fn, json_t *items, char *(*body_of)(json_t *item, void *ctx), void *ctx,
                  int *succeeded)
{
    json_t *results = json_array();
    size_t i;
    json_t *it;
    *succeeded = 0;
    json_array_foreach(items, i, it) {
        char *body = body_of(it, ctx);
        struct req sub = *q;
        struct resp sr = { 0 };
        sub.params[0] = json_string_value(json_object_get(it, "id"));
        sub.nparams = 1;
        sub.body = body;
        sub.body_len = body ? strlen(body) : 0;
        fn(&sub, &sr);
        if (PQtransactionStatus(q->db) != PQTRANS_IDLE) db_cmd(q->db, "ROLLBACK");   /* this item only */
        free(body);
        int ok = sr.status >= 200 && sr.status < 300;
        *succeeded += ok;
        json_t *res = json_pack("{s:s,s:i,s:b}", "id", sub.params[0], "status", sr.status, "ok", ok);
        json_t *ej = sr.json ? json_object_get(sr.json, "error") : NULL;
        if (ok && json_object_get(sr.json, "version")) json_object_set(res, "version", json_object_get(sr.json, "version"));
        else if (!ok && ej) json_object_set(res, "error", ej);
        json_array_append_new(results, res);
        json_decref(sr.json);
        free(sr.raw);
    }
    return results;
}
