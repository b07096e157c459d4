/* webhook_dispatch — at-least-once webhook delivery. The loop and its SQL; see webhook_dispatch.h. */
#include "raild/webhook_dispatch.h"
#include "raild/metrics.h"
#include "raild/cli.h"
#include "raild/webhook_netguard.h"
#include "raild/webhook_sign.h"
#include "raild/worker.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BODY_KEEP 2048
#define CLAIM_MAX 256
#define FLUSH_AT 128
#define FANOUT_BATCH 1000
#define RECOVER_CHUNK "500"
/* With nothing to do the dispatcher sleeps until a notification (railtop_webhooks) says an event, a delivery
 * (operator retry, recover) or an endpoint changed; this safety net also catches scheduled
 * retries coming due and leases lapsing elsewhere. */
#define IDLE_POLL_MS 1000

struct job {
    long long delivery, endpoint;
    long long created_us;       /* the delivery's created_at (µs since the epoch): its partition key */
    int n, manual;
    int state;                  /* 0 queued, 1 running, 2 done, 3 being recorded */
    char *payload, *url;
    char *operator;             /* who asked for a manual attempt, NULL when scheduled */
    char event_id[64];
    char sig[2 * WH_SIG_MAX];
    long long ts;
    CURL *easy;
    struct curl_slist *hdrs;
    char body[BODY_KEEP + 1];
    size_t blen;
    char errbuf[CURL_ERROR_SIZE];
    char blocked[160];          /* why the guard refused to connect (netguard), or empty */
    int64_t started_ms;
    /* result */
    long http;
    int ok, ms;
    long retry_after;           /* seconds, -1 when absent */
    char err[400];
};

struct ep {
    long long id;
    int active;                 /* jobs in memory: queued, running, done, being recorded */
    int settled;                /* of those, done or being recorded: no longer need a slot */
    int running;
};

/* A database connection with at most one statement outstanding (libpq's async interface):
 * while PostgreSQL works, the loop keeps driving libcurl. */
struct dbc {
    PGconn *db;
    unsigned prepared;          /* bit per hot statement prepared on this connection */
    int op;                     /* the statement outstanding, or -1 */
    int64_t op_t0;
    PGresult *res;
};

/* A connection per step, so fan-out, claim and recording run side by side on their own
 * PostgreSQL backends (one connection made the database a single serial lane: the
 * dispatcher waited on it with a third of the machine idle). */
enum { C_FANOUT, C_CLAIM, C_RECORD, NCONN };

struct disp {
    struct dispatch_opts *o;
    struct dbc c[NCONN];        /* C_CLAIM also runs the rare recover and release statements */
    CURLM *multi;
    struct job **jobs;
    int njobs, cap;
    struct ep *eps;
    int neps, epcap;
    int ndone;
    int nsettled;               /* jobs done or being recorded */
    int64_t first_done_ms;
    CURL **idle;                /* finished easy handles kept for reuse (curl_easy_reset): no */
    int nidle, idlecap;         /* handle set-up and teardown per request */
    long long delivered, failed, retried;
    char recover_job[32];       /* the recover job this dispatcher is working through, if any */
    long long ms_fanout, ms_claim, ms_flush, n_claim, n_flush;   /* time in the database, for the stop line */
    int claim_want, claim_full, fanout_full;
    /* set by notifications (LISTEN railtop_webhooks on the fan-out connection) and by our own
     * steps: work may be waiting, so run that step now instead of at the idle safety net */
    int wake_fanout, wake_claim, wake_recover;
    /* when this dispatcher's own retries come due (ms, unsorted), so the claim runs on time
     * rather than at the next safety-net tick; other dispatchers' retries wait for that tick */
    int64_t *due;
    int ndue, duecap;
    int64_t last_fanout, last_claim;
    long long finished_at_claim;
};

/* ------------------------------------------------------------------ options */

int dispatch_parse_schedule(const char *s, int *out, int max)
{
    int n = 0;
    const char *p = s;
    if (!s || !*s) return -1;
    while (*p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0) return -1;
        long long mult = 1;
        if (*end == 's') end++;
        else if (*end == 'm') mult = 60, end++;
        else if (*end == 'h') mult = 3600, end++;
        if (*end && *end != ',') return -1;
        if (n == max || v * mult > 7 * 86400) return -1;
        out[n++] = (int)(v * mult);
        p = *end ? end + 1 : end;
        if (*end == ',' && !*p) return -1;
    }
    return n;
}

long long dispatch_parse_duration(const char *s)
{
    char *end;
    if (!s || !*s) return -1;
    long long v = strtoll(s, &end, 10);
    if (end == s || v <= 0) return -1;
    long long mult = *end == 'd' ? 86400 : *end == 'h' ? 3600 : *end == 'm' ? 60 : *end == 's' ? 1 : *end ? 0 : 1;
    if (!mult || (*end && end[1])) return -1;
    return v <= 90LL * 86400 / mult && v * mult >= 60 ? v * mult : -1;
}

static int env_int(const char *name, long long min, long long max, int *out)
{
    const char *v = getenv(name);
    long long x;
    if (!v || !*v) return 0;
    if (util_parse_i64(v, min, max, &x)) {
        fprintf(stderr, "raild: %s must be an integer from %lld to %lld\n", name, min, max);
        return -1;
    }
    *out = (int)x;
    return 0;
}

int dispatch_opts_init(struct dispatch_opts *o, const char *conninfo, volatile sig_atomic_t *stop)
{
    memset(o, 0, sizeof *o);
    o->conninfo = conninfo ? conninfo : "";
    o->stop = stop;
    o->nschedule = dispatch_parse_schedule("5s,5m,30m,2h,5h,10h,10h", o->schedule, DISPATCH_MAX_RETRIES);
    o->max_inflight = 256;
    o->per_endpoint = 32;
    o->timeout_ms = 15000;
    if (netguard_init()) return -1;
    const char *s = getenv("RAILD_WEBHOOK_RETRY_SCHEDULE");
    if (s && *s && (o->nschedule = dispatch_parse_schedule(s, o->schedule, DISPATCH_MAX_RETRIES)) < 0) {
        fprintf(stderr, "raild: RAILD_WEBHOOK_RETRY_SCHEDULE must look like '5s,5m,30m,2h' (at most %d steps)\n",
                DISPATCH_MAX_RETRIES);
        return -1;
    }
    o->disable_after_s = 5 * 86400;          /* Svix's 5 days */
    s = getenv("RAILD_WEBHOOK_DISABLE_AFTER");
    if (s && *s && (o->disable_after_s = dispatch_parse_duration(s)) < 0) {
        fprintf(stderr, "raild: RAILD_WEBHOOK_DISABLE_AFTER must be a duration from 1 minute to 90 days, like 5d, "
                        "120h or 3600 (seconds), not '%.40s'\n", s);
        return -1;
    }
    if (env_int("RAILD_WEBHOOK_CONCURRENCY", 1, 4096, &o->max_inflight) ||
        env_int("RAILD_WEBHOOK_PER_ENDPOINT", 1, 4096, &o->per_endpoint) ||
        env_int("RAILD_WEBHOOK_TIMEOUT_MS", 100, 120000, &o->timeout_ms))
        return -1;
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    char rnd[40];
    util_random_id("", rnd, sizeof rnd);
    snprintf(o->name, sizeof o->name, "%.40s:%d:%.6s", host, (int)getpid(), rnd);
    return 0;
}

/* Claimed work queues for a per-endpoint slot: with depth D × per_endpoint jobs claimed, the
 * last one waits at most D - 1 timeouts, then runs one, so the lease must outlast D timeouts.
 * The default lease allows the full CLAIM_DEPTH; a shorter one (at least 2 timeouts + 1 s)
 * claims less far ahead. Depth beyond 1 lets the next batch be claimed while one is in flight;
 * 4 keeps claims large enough (~50 rows) that their fixed cost stays small. */
#define CLAIM_DEPTH 4

static int lease_seconds(struct dispatch_opts *o)
{
    int t = (o->timeout_ms + 999) / 1000;
    o->lease_s = CLAIM_DEPTH * t + 30;
    if (env_int("RAILD_WEBHOOK_LEASE_S", 2 * t + 1, 3600, &o->lease_s)) return -1;
    o->claim_depth = (o->lease_s - 1) / t < CLAIM_DEPTH ? (o->lease_s - 1) / t : CLAIM_DEPTH;
    return 0;
}

/* ------------------------------------------------------------------ endpoints in memory */

static struct ep *ep_get(struct disp *d, long long id)
{
    for (int i = 0; i < d->neps; i++)
        if (d->eps[i].id == id) return &d->eps[i];
    if (d->neps == d->epcap) {
        int ncap = d->epcap ? d->epcap * 2 : 32;
        struct ep *n = realloc(d->eps, (size_t)ncap * sizeof *n);
        if (!n) abort();
        d->eps = n;
        d->epcap = ncap;
    }
    d->eps[d->neps] = (struct ep){ .id = id };
    return &d->eps[d->neps++];
}

/* drops idle endpoints so the table stays small */
static void ep_compact(struct disp *d)
{
    int w = 0;
    for (int i = 0; i < d->neps; i++)
        if (d->eps[i].active) d->eps[w++] = d->eps[i];
    d->neps = w;
}

/* ------------------------------------------------------------------ jobs */

static void job_free(struct job *j)
{
    if (!j) return;
    free(j->payload);
    free(j->url);
    free(j->operator);
    curl_slist_free_all(j->hdrs);
    free(j);
}

static void jobs_push(struct disp *d, struct job *j)
{
    if (d->njobs == d->cap) {
        int ncap = d->cap ? d->cap * 2 : 256;
        struct job **n = realloc(d->jobs, (size_t)ncap * sizeof *n);
        if (!n) abort();
        d->jobs = n;
        d->cap = ncap;
    }
    d->jobs[d->njobs++] = j;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *u)
{
    struct job *j = u;
    size_t n = size * nmemb, room = BODY_KEEP - j->blen;
    size_t take = n < room ? n : room;
    memcpy(j->body + j->blen, p, take);
    j->blen += take;
    return n;    /* read and discard the rest so the connection stays reusable */
}

/* Every new connection's address passes the guard first: a hostname that resolves to a
 * private or loopback address is refused here, whatever it resolved to at registration. */
static curl_socket_t open_guarded(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
    struct job *j = clientp;
    (void)purpose;
    if (netguard_blocked_addr(&a->addr, j->blocked, sizeof j->blocked)) return CURL_SOCKET_BAD;
    return socket(a->family, a->socktype, a->protocol);
}

static void job_start(struct disp *d, struct job *j)
{
    struct dispatch_opts *o = d->o;
    CURL *e = d->nidle ? d->idle[--d->nidle] : curl_easy_init();
    if (!e) abort();
    j->easy = e;
    char h[3 * WH_SIG_MAX + 64];
    snprintf(h, sizeof h, "webhook-id: %s", j->event_id);
    j->hdrs = curl_slist_append(j->hdrs, "Content-Type: application/json");
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof h, "webhook-timestamp: %lld", j->ts);
    j->hdrs = curl_slist_append(j->hdrs, h);
    snprintf(h, sizeof h, "webhook-signature: %s", j->sig);
    j->hdrs = curl_slist_append(j->hdrs, h);
    j->hdrs = curl_slist_append(j->hdrs, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->payload);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(j->payload));
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->hdrs);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "railtop-raild-webhooks/1");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(o->timeout_ms < 10000 ? o->timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    /* never through a proxy from the environment (http_proxy, HTTPS_PROXY…): the guard below
     * would then judge only the proxy's address, and the proxy would reach anything */
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j);
    j->blocked[0] = 0;
    j->started_ms = util_now_ms();
    j->state = 1;
    ep_get(d, j->endpoint)->running++;
    curl_multi_add_handle(d->multi, e);
}

/* Starts queued jobs while their endpoint has a free slot. */
static void jobs_start_queued(struct disp *d)
{
    for (int i = 0; i < d->njobs; i++) {
        struct job *j = d->jobs[i];
        if (j->state != 0) continue;
        if (ep_get(d, j->endpoint)->running >= d->o->per_endpoint) continue;
        job_start(d, j);
    }
}

static const char *classify(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT: return "timeout";
    case CURLE_COULDNT_CONNECT: return "connection refused";
    case CURLE_COULDNT_RESOLVE_HOST: return "dns";
    case CURLE_SSL_CONNECT_ERROR: case CURLE_PEER_FAILED_VERIFICATION: case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER: case CURLE_SSL_CACERT_BADFILE: return "tls";
    case CURLE_GOT_NOTHING: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: return "connection reset";
    default: return "transport";
    }
}

/* Keeps a finished handle for the next request, reset to defaults (the connection cache
 * is the multi handle's, so keep-alive does not depend on this). */
static void easy_release(struct disp *d, CURL *e)
{
    if (d->nidle == d->o->max_inflight) {
        curl_easy_cleanup(e);
        return;
    }
    if (d->nidle == d->idlecap) {
        int ncap = d->idlecap ? d->idlecap * 2 : 64;
        CURL **n = realloc(d->idle, (size_t)ncap * sizeof *n);
        if (!n) abort();
        d->idle = n;
        d->idlecap = ncap;
    }
    curl_easy_reset(e);
    d->idle[d->nidle++] = e;
}

static void job_finish(struct disp *d, struct job *j, CURLcode rc)
{
    j->ms = (int)(util_now_ms() - j->started_ms);
    j->retry_after = -1;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &j->http);
        j->ok = j->http >= 200 && j->http < 300;
        if (!j->ok) snprintf(j->err, sizeof j->err, "HTTP %ld", j->http);
        struct curl_header *h;
        /* 502 and 504 back off like 503 (Standard Webhooks): a gateway in front of the
         * endpoint is as overloaded as the endpoint itself */
        if ((j->http == 429 || j->http == 502 || j->http == 503 || j->http == 504) &&
            curl_easy_header(j->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) == CURLHE_OK) {
            long long secs;
            if (!util_parse_i64(h->value, 0, 86400, &secs)) {
                j->retry_after = (long)secs;
            } else {
                time_t t = curl_getdate(h->value, NULL);
                if (t > 0) j->retry_after = t > time(NULL) ? (long)(t - time(NULL)) : 0;
            }
        }
    } else if (j->blocked[0]) {
        j->http = 0;
        snprintf(j->err, sizeof j->err, "blocked: %s; webhooks may not go to private networks "
                 "(RAILD_WEBHOOK_ALLOW_NETS)", j->blocked);
    } else {
        j->http = 0;
        snprintf(j->err, sizeof j->err, "%s: %s", classify(rc), j->errbuf[0] ? j->errbuf : curl_easy_strerror(rc));
    }
    curl_multi_remove_handle(d->multi, j->easy);
    easy_release(d, j->easy);
    j->easy = NULL;
    j->state = 2;
    ep_get(d, j->endpoint)->running--;
    ep_get(d, j->endpoint)->settled++;
    d->nsettled++;
    if (d->ndone++ == 0) d->first_done_ms = util_now_ms();
}

static void harvest(struct disp *d)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(d->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        struct job *j;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
        job_finish(d, j, m->data.result);
    }
}

/* ------------------------------------------------------------------ database steps */

/* The hot statements run many times a second: prepared once per connection, so each
 * execution skips parsing and planning. Parameters stay parameters.
 * Row re-checks on webhook_deliveries by id say "status NOT IN (the other statuses)" rather
 * than "status = 'in_flight'" / "IN ('pending','in_flight')": the equal form matches the
 * predicate of the partial index webhook_deliveries_due_endpoint, and after a quiet spell
 * (statistics from a table with no due rows) the planner walked that whole index for every
 * batch instead of fetching the batch's rows by primary key — 30-900 ms a statement behind a
 * 20,000-delivery burst. The CHECK on status makes both forms mean the same. */
enum { ST_FANOUT, ST_CLAIM, ST_RECORD };
static const char *const ST_NAMES[] = { "wh_fanout", "wh_claim", "wh_record" };

static struct dbc *conn_of(struct disp *d, int st)
{
    return &d->c[st == ST_RECORD ? C_RECORD : st == ST_CLAIM ? C_CLAIM : C_FANOUT];
}

static int dsend(struct disp *d, int st, const char *sql, int n, const char *const *params)
{
    struct dbc *c = conn_of(d, st);
    if (!(c->prepared & (1u << st))) {
        PGresult *r = PQprepare(c->db, ST_NAMES[st], sql, n, NULL);
        int bad = db_failed(r);
        PQclear(r);
        if (bad) {
            log_error("webhook.prepare_failed", "statement=%s msg=\"%.200s\"", ST_NAMES[st], PQerrorMessage(c->db));
            return -1;
        }
        c->prepared |= 1u << st;
    }
    if (!PQsendQueryPrepared(c->db, ST_NAMES[st], n, params, NULL, NULL, 0)) {
        log_error("webhook.send_failed", "statement=%s msg=\"%.200s\"", ST_NAMES[st], PQerrorMessage(c->db));
        return -1;
    }
    c->op = st;
    c->op_t0 = util_now_ms();
    return 0;
}
#define dsend_(d, st, sql, ...) dsend((d), (st), (sql), DB_NARGS(__VA_ARGS__), (const char *const[]){ __VA_ARGS__ })

/* ------------------------------------------------------------------ retry timers */

static void due_add(struct disp *d, int64_t at)
{
    if (d->ndue == 4096) return;             /* the safety net covers the rest */
    if (d->ndue == d->duecap) {
        int ncap = d->duecap ? d->duecap * 2 : 64;
        int64_t *n = realloc(d->due, (size_t)ncap * sizeof *n);
        if (!n) abort();
        d->due = n;
        d->duecap = ncap;
    }
    d->due[d->ndue++] = at;
}

/* The earliest timer, or 0 when none. */
static int64_t due_next(struct disp *d)
{
    int64_t m = 0;
    for (int i = 0; i < d->ndue; i++)
        if (!m || d->due[i] < m) m = d->due[i];
    return m;
}

/* A claim sent now picks up everything due by now: those timers are done. */
static void due_drop_until(struct disp *d, int64_t now)
{
    int w = 0;
    for (int i = 0; i < d->ndue; i++)
        if (d->due[i] > now) d->due[w++] = d->due[i];
    d->ndue = w;
}

static void fanout_done(struct disp *d, PGresult *r);
static void claim_done(struct disp *d, PGresult *r);
static void record_done(struct disp *d, PGresult *r);

/* The statement's result is in (or the connection failed: r is NULL): hand it to its step. */
static void op_finish(struct disp *d, struct dbc *c, PGresult *r)
{
    int st = c->op;
    long long ms = util_now_ms() - c->op_t0;
    c->op = -1;
    if (st == ST_FANOUT) d->ms_fanout += ms, fanout_done(d, r);
    else if (st == ST_CLAIM) d->ms_claim += ms, d->n_claim++, claim_done(d, r);
    else d->ms_flush += ms, d->n_flush++, record_done(d, r);
    PQclear(r);
}

/* Collects a connection's outstanding result: without blocking (block = 0) only once it has
 * fully arrived, else waiting for it. */
static void db_poll(struct disp *d, struct dbc *c, int block)
{
    while (c->op >= 0) {
        if (!block && PQconsumeInput(c->db) && PQisBusy(c->db)) return;
        PGresult *r = PQgetResult(c->db);   /* a broken connection gives an error result, then NULL */
        if (r) {
            if (c->res) PQclear(r);
            else c->res = r;
            continue;
        }
        r = c->res;
        c->res = NULL;
        op_finish(d, c, r);
    }
}

/* Each outbox row is fanned out once: it is locked here (SKIP LOCKED) and marked in the same
 * statement, so a second dispatcher re-checks fanned_out_at and skips it. That is the whole
 * guarantee since deliveries are partitioned (0075): (endpoint_id, outbox_id) can no longer
 * be a unique key without the partition key. */
/* the fan-out answers (outbox rows fanned out, deliveries made) */
enum { FO_OUTBOX, FO_DELIVERIES };

static void fanout_send(struct disp *d)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", FANOUT_BATCH);
    if (dsend_(d, ST_FANOUT,
        "WITH o AS (SELECT id, event_id, merchant_id, environment, type, exclude_endpoint FROM webhook_outbox"
        "           WHERE fanned_out_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED),"
        " ins AS (INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_id, event_type, merchant_id,"
        "           environment, status, last_error, finished_at)"
        "         SELECT e.id, o.id, o.event_id, o.type, o.merchant_id, o.environment,"
        "                CASE WHEN e.status = 'enabled' THEN 'pending' ELSE 'failed' END,"
        "                CASE WHEN e.status = 'enabled' THEN NULL ELSE 'endpoint disabled' END,"
        "                CASE WHEN e.status = 'enabled' THEN NULL ELSE now() END"
        "         FROM o JOIN webhook_endpoints e ON e.merchant_id = o.merchant_id"
        "              AND e.environment = o.environment AND e.status <> 'deleted'"
        "              AND (cardinality(e.event_types) = 0 OR o.type = ANY (e.event_types))"
        "              AND e.id IS DISTINCT FROM o.exclude_endpoint"
        "         ORDER BY o.id, e.id RETURNING 1),"
        " up AS (UPDATE webhook_outbox w SET fanned_out_at = now() FROM o WHERE w.id = o.id RETURNING 1)"
        " SELECT (SELECT count(*) FROM up), (SELECT count(*) FROM ins)", lim))
        fanout_done(d, NULL);
    d->last_fanout = util_now_ms();
    d->wake_fanout = 0;
}

static void fanout_done(struct disp *d, PGresult *r)
{
    d->fanout_full = 0;
    if (db_failed(r)) {
        log_error("webhook.fanout_failed", "msg=\"%.200s\"", PQerrorMessage(d->c[C_FANOUT].db));
        return;
    }
    d->fanout_full = atoi(PQgetvalue(r, 0, FO_OUTBOX)) >= FANOUT_BATCH;
    if (atoi(PQgetvalue(r, 0, FO_DELIVERIES)) > 0) d->wake_claim = 1;   /* new deliveries to claim */
}

/* Room per busy endpoint as two parallel arrays for unnest: ids "{7,9}" and rooms "{0,12}"
 * (0: no room, left out of the claim). Idle endpoints get the full depth. */
static void claim_limits(struct disp *d, struct db_array *ids, struct db_array *room)
{
    int depth = d->o->claim_depth * d->o->per_endpoint;   /* see lease_seconds */
    for (int i = 0; i < d->neps; i++) {
        struct ep *e = &d->eps[i];
        int waiting = e->active - e->settled;   /* queued + running */
        if (waiting <= 0) continue;
        db_array_ll(ids, e->id);
        db_array_ll(room, waiting >= depth ? 0 : depth - waiting);
    }
}

/* a claimed job's columns, in claim_send's SELECT order */
enum { CL_DELIVERY, CL_OPERATOR, CL_N, CL_ENDPOINT, CL_URL, CL_SECRET, CL_OLD_SECRET, CL_EVENT_ID, CL_PAYLOAD,
       CL_TRIGGER, CL_ABANDONED, CL_CREATED_US };

static struct job *job_from_row(struct disp *d, PGresult *r, int i)
{
    struct job *j = calloc(1, sizeof *j);
    if (!j) abort();
    j->delivery = atoll(PQgetvalue(r, i, CL_DELIVERY));
    j->operator = PQgetisnull(r, i, CL_OPERATOR) ? NULL : strdup(PQgetvalue(r, i, CL_OPERATOR));
    j->n = atoi(PQgetvalue(r, i, CL_N));
    j->endpoint = atoll(PQgetvalue(r, i, CL_ENDPOINT));
    j->url = strdup(PQgetvalue(r, i, CL_URL));
    snprintf(j->event_id, sizeof j->event_id, "%s", PQgetvalue(r, i, CL_EVENT_ID));
    j->payload = strdup(PQgetvalue(r, i, CL_PAYLOAD));
    j->manual = !strcmp(PQgetvalue(r, i, CL_TRIGGER), "manual");
    j->created_us = atoll(PQgetvalue(r, i, CL_CREATED_US));
    j->ts = (long long)time(NULL);
    char secret[WH_SECRET_MAX], old[WH_SECRET_MAX];
    int has_old = !PQgetisnull(r, i, CL_OLD_SECRET) && !wh_secret_open(PQgetvalue(r, i, CL_OLD_SECRET), old);
    if (wh_secret_open(PQgetvalue(r, i, CL_SECRET), secret) ||
        wh_signature_header(secret, has_old ? old : NULL, j->event_id, j->ts, j->payload, strlen(j->payload),
                            j->sig, sizeof j->sig)) {
        /* cannot sign (sealing key missing or wrong): record it as a failed attempt, never send unsigned */
        j->state = 2;
        j->ok = 0;
        j->retry_after = -1;
        snprintf(j->err, sizeof j->err, "signing: cannot open the endpoint secret (is RAILD_SECRETS_KEY set?)");
        j->started_ms = util_now_ms();
        if (d->ndone++ == 0) d->first_done_ms = j->started_ms;
    }
    memset(secret, 0, sizeof secret);
    memset(old, 0, sizeof old);
    struct ep *e = ep_get(d, j->endpoint);
    e->active++;
    if (j->state == 2) e->settled++, d->nsettled++;
    return j;
}

static void claim_send(struct disp *d, int want)
{
    char lim[16], per[16], lease[16];
    snprintf(lim, sizeof lim, "%d", want);
    snprintf(per, sizeof per, "%d", d->o->claim_depth * d->o->per_endpoint);
    snprintf(lease, sizeof lease, "%d", d->o->lease_s);
    struct db_array ids = { 0 }, room = { 0 };
    claim_limits(d, &ids, &room);
    /* per enabled endpoint with room: its oldest due deliveries (index webhook_deliveries_due_endpoint),
     * then the oldest of those overall; an endpoint without room is never scanned */
    d->claim_want = want;
    d->last_claim = util_now_ms();
    d->wake_claim = 0;
    due_drop_until(d, d->last_claim);
    d->finished_at_claim = d->delivered + d->failed + d->retried;
    int bad = dsend_(d, ST_CLAIM,
        "WITH rm AS (SELECT * FROM unnest($2::bigint[], $3::int[]) AS r(id, room)),"
        /* rate-limited endpoints with due work: their counters locked, so dispatchers take
         * turns and each sees what the others claimed this second (0074) */
        " rl AS (SELECT t.endpoint_id, en.rate_limit_per_s - CASE WHEN t.window_start = date_trunc('second', now())"
        "                THEN t.used ELSE 0 END AS left_now"
        "        FROM webhook_endpoint_rate t JOIN webhook_endpoints en ON en.id = t.endpoint_id"
        "        WHERE en.rate_limit_per_s IS NOT NULL AND en.status = 'enabled'"
        "          AND EXISTS (SELECT 1 FROM webhook_deliveries w WHERE w.endpoint_id = en.id"
        "                        AND w.status IN ('pending', 'in_flight') AND w.next_attempt_at <= now())"
        "        ORDER BY t.endpoint_id FOR UPDATE OF t),"
        " cand AS ("
        "  SELECT c.id, c.created_at, en.id AS ep FROM webhook_endpoints en LEFT JOIN rm ON rm.id = en.id"
        "  LEFT JOIN rl ON rl.endpoint_id = en.id"
        "  CROSS JOIN LATERAL (SELECT w.id, w.next_attempt_at, w.created_at FROM webhook_deliveries w"
        "     WHERE w.endpoint_id = en.id AND w.status IN ('pending', 'in_flight') AND w.next_attempt_at <= now()"
        "     ORDER BY w.next_attempt_at"
        "     LIMIT least(coalesce(rm.room, $4::int), CASE WHEN en.rate_limit_per_s IS NULL THEN $4::int"
        "                                                 ELSE greatest(coalesce(rl.left_now, 0), 0) END)) c"
        "  WHERE en.status = 'enabled' AND coalesce(rm.room, 1) > 0"
        "  ORDER BY c.next_attempt_at LIMIT $1::int),"
        /* by (id, created_at) here and below: the partition key prunes the partitioned table (0075) */
        " lk AS (SELECT d.id, d.created_at, d.status AS was, d.attempts AS n_was, d.endpoint_id AS ep, d.trigger AS tg,"
        "          d.operator AS op, d.leased_by AS lb, d.updated_at AS leased_at FROM webhook_deliveries d"
        "        JOIN cand c ON c.id = d.id AND d.created_at = c.created_at"
        "        JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.status = 'enabled'"
        "        WHERE d.status NOT IN ('succeeded', 'failed', 'canceled') AND d.next_attempt_at <= now()"
        "        FOR UPDATE OF d SKIP LOCKED),"
        /* an attempt's row is written once, when it ends (record_send); one whose lease ran out
         * ended unseen, so the dispatcher that takes the delivery over writes it */
        " ab AS (INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, operator, dispatcher,"
        "          started_at, finished_at, success, error)"
        "        SELECT id, ep, n_was, tg, op, coalesce(lb, ''), leased_at, now(), false,"
        "               'abandoned: the dispatcher holding the lease stopped; redelivering'"
        "        FROM lk WHERE lk.was = 'in_flight' AND lk.n_was > 0 RETURNING 1),"
        " up AS (UPDATE webhook_deliveries d SET status = 'in_flight', attempts = d.attempts + 1,"
        "          next_attempt_at = now() + make_interval(secs => $5::int),"
        "          in_flight_until = now() + make_interval(secs => $5::int), leased_by = $6, updated_at = now()"
        "        FROM lk WHERE d.id = lk.id AND d.created_at = lk.created_at"
        "        RETURNING d.id, d.endpoint_id, d.outbox_id, d.event_id, d.attempts, d.trigger, d.operator,"
        "          (extract(epoch FROM d.created_at) * 1000000)::bigint AS created_us),"
        " rc AS (UPDATE webhook_endpoint_rate t SET"
        "          used = CASE WHEN t.window_start = date_trunc('second', now()) THEN t.used ELSE 0 END + u.n,"
        "          window_start = date_trunc('second', now())"
        "        FROM (SELECT endpoint_id, count(*) AS n FROM up GROUP BY 1) u"
        "        WHERE t.endpoint_id = u.endpoint_id AND t.endpoint_id IN (SELECT endpoint_id FROM rl) RETURNING 1)"
        " SELECT up.id, up.operator, up.attempts, up.endpoint_id, e.url, e.secret,"
        "        CASE WHEN e.old_secret_expires_at > now() THEN e.old_secret END, up.event_id, o.payload,"
        "        up.trigger, (SELECT count(*) FROM ab), up.created_us"
        " FROM up JOIN webhook_endpoints e ON e.id = up.endpoint_id"
        " JOIN webhook_outbox o ON o.id = up.outbox_id ORDER BY up.id",
        lim, db_array_text(&ids), db_array_text(&room), per, lease, d->o->name);
    db_array_free(&ids);
    db_array_free(&room);
    if (bad) claim_done(d, NULL);
}

static void claim_done(struct disp *d, PGresult *r)
{
    d->claim_full = 0;
    if (db_failed(r)) {
        log_error("webhook.claim_failed", "msg=\"%.200s\"", PQerrorMessage(d->c[C_CLAIM].db));
        return;
    }
    int n = PQntuples(r);
    if (n && atoi(PQgetvalue(r, 0, CL_ABANDONED)))
        log_warn("webhook.lease_expired", "reclaimed=%s dispatcher=%s", PQgetvalue(r, 0, CL_ABANDONED), d->o->name);
    for (int i = 0; i < n; i++) jobs_push(d, job_from_row(d, r, i));
    d->claim_full = n == d->claim_want;
}

/* Outcome of one finished job: succeeded, failed, or pending again after a delay. */
static const char *outcome(struct disp *d, struct job *j, double *next_in)
{
    *next_in = 0;
    if (j->ok) return "succeeded";
    if (j->http == 410 || j->manual || j->n > d->o->nschedule) return "failed";
    double base = d->o->schedule[j->n - 1];
    *next_in = base * (0.9 + 0.2 * ((double)random() / RAND_MAX));   /* ±10% jitter */
    if (j->retry_after >= 0) *next_in = (double)j->retry_after;
    return "pending";
}

/* Response bodies go into a text column: valid UTF-8, no NUL. */
static json_t *body_json(struct job *j)
{
    if (j->state != 2 || (j->http == 0 && j->blen == 0)) return json_null();
    for (size_t i = 0; i < j->blen; i++)
        if (!j->body[i]) j->body[i] = '?';
    for (size_t cut = 0; cut < 4 && cut <= j->blen; cut++) {
        json_t *s = json_stringn(j->body, j->blen - cut);
        if (s) return s;
    }
    for (size_t i = 0; i < j->blen; i++)
        if ((unsigned char)j->body[i] >= 0x80) j->body[i] = '?';
    return json_stringn(j->body, j->blen);
}

struct ep_result { long long id; int ok, tail, gone; const char *err; };

static void add_ep_result(struct ep_result *er, int *ner, struct job *j)
{
    int i;
    for (i = 0; i < *ner; i++)
        if (er[i].id == j->endpoint) break;
    if (i == *ner) er[(*ner)++] = (struct ep_result){ .id = j->endpoint };
    if (j->ok) {
        er[i].ok = 1;
        er[i].tail = 0;
    } else {
        er[i].tail++;
        er[i].err = j->err;
        if (j->http == 410) er[i].gone = 1;
    }
}

/* Sends the finished jobs' results; they stay in d->jobs (state 3) until the statement is
 * done, so their endpoint slots count as taken until then. */
/* the record's answer: rows touched per step (attempts, deliveries, endpoints, deliveries failed as their
 * endpoint went, hourly rows, rollup rows, delivery.exhausted events, endpoints disabled) */
enum { RC_ATTEMPTS, RC_DELIVERIES, RC_ENDPOINTS, RC_GONE, RC_HOURLY, RC_ROLLUP, RC_EXHAUSTED, RC_DISABLED };

static void record_send(struct disp *d)
{
    if (!d->ndone) return;
    json_t *rows = json_array(), *eps = json_array();
    struct ep_result *er = calloc((size_t)d->ndone, sizeof *er);
    int ner = 0;
    for (int i = 0; i < d->njobs; i++)
        if (d->jobs[i]->state == 2) add_ep_result(er, &ner, d->jobs[i]);
    for (int i = 0; i < d->njobs; i++) {
        struct job *j = d->jobs[i];
        if (j->state != 2) continue;
        double nx;
        const char *oc = outcome(d, j, &nx);
        for (int k = 0; k < ner; k++)
            if (er[k].id == j->endpoint && er[k].gone && !strcmp(oc, "pending")) oc = "failed";
        /* the schedule ran out (not a 410, not an operator's manual attempt): the merchant's
         * other endpoints hear of it, unless this was itself such a notice (no echo) */
        int exhausted = !strcmp(oc, "failed") && !j->manual && j->http != 410 && j->n > d->o->nschedule;
        if (j->ok) d->delivered++;
        else if (!strcmp(oc, "failed")) d->failed++;
        else d->retried++, due_add(d, util_now_ms() + (int64_t)(nx * 1000) + 10);
        json_array_append_new(rows, json_pack("{sI ss s:s? si so so* so sb si sf ss sf ss sI sI sb sI}",
            "d", (json_int_t)j->delivery, "tg", j->manual ? "manual" : "scheduled", "op", j->operator, "n", j->n,
            "s", j->http ? json_integer(j->http) : json_null(), "b", body_json(j),
            "e", j->ok ? json_null() : json_string(j->err), "ok", j->ok, "ms", j->ms,
            "st", (double)j->started_ms, "o", oc, "nx", nx, "sig", j->sig, "ts", (json_int_t)j->ts,
            "ep", (json_int_t)j->endpoint, "x", exhausted, "c", (json_int_t)j->created_us));
        j->state = 3;
    }
    d->ndone = 0;
    for (int k = 0; k < ner; k++)
        json_array_append_new(eps, json_pack("{sI sb si ss? sb}", "id", (json_int_t)er[k].id, "ok", er[k].ok,
                                             "tail", er[k].tail, "e", er[k].err, "gone", er[k].gone));
    free(er);
    char *a = json_dumps(rows, JSON_COMPACT), *b = json_dumps(eps, JSON_COMPACT), dis_after[24];
    snprintf(dis_after, sizeof dis_after, "%lld", d->o->disable_after_s);
    json_decref(rows);
    json_decref(eps);
    int bad = dsend_(d, ST_RECORD,
        /* created: the delivery's partition key, from its µs (job_from_row) */
        "WITH r AS (SELECT x.*, timestamptz 'epoch' + x.c * interval '1 microsecond' AS created"
        "           FROM jsonb_to_recordset($1::jsonb) AS x(d bigint, tg text, op text, n int, s int, b text,"
        "             e text, ok boolean, ms int, st double precision, o text, nx double precision, sig text, ts bigint,"
        "             ep bigint, x boolean, c bigint)),"
        " x AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS y(id bigint, ok boolean, tail int, e text, gone boolean)),"
        /* endpoint rows are locked in id order so two dispatchers never deadlock on them */
        " lockep AS (SELECT id FROM webhook_endpoints WHERE id IN (SELECT id FROM x) ORDER BY id FOR NO KEY UPDATE),"
        /* the results whose lease is still ours: a batch re-sent after a lost connection, or one
         * whose lease ran out and was taken over, records nothing twice (d below re-checks) */
        " mine AS (SELECT r.* FROM r JOIN webhook_deliveries w ON w.id = r.d AND w.created_at = r.created"
        "          WHERE w.status = 'in_flight' AND w.attempts = r.n),"
        /* endpoints disabled by this batch: 410 Gone, or every attempt failing for longer than
         * RAILD_WEBHOOK_DISABLE_AFTER (failing_since as it was before this batch) */
        " dis AS (SELECT e0.id, e0.merchant_id, e0.environment, e0.public_id, e0.url,"
        "           CASE WHEN x.gone THEN 'the endpoint answered 410 Gone'"
        "                ELSE 'every attempt failed since ' || " SQL_TS("e0.failing_since") " || ' (more than '"
        "                     || $3::bigint || ' s: RAILD_WEBHOOK_DISABLE_AFTER)' END AS reason"
        "         FROM x JOIN webhook_endpoints e0 ON e0.id = x.id"
        "         WHERE e0.status = 'enabled' AND EXISTS (SELECT 1 FROM mine WHERE mine.ep = x.id)"
        "           AND (x.gone OR (NOT x.ok AND e0.failing_since <= now() - make_interval(secs => $3::bigint)))),"
        /* an endpoint disabled meanwhile gets no more retries: its deliveries wait as failed for a recover */
        " d AS (UPDATE webhook_deliveries d SET status = CASE WHEN r.o = 'pending' AND (en.status <> 'enabled'"
        "                                                   OR en.id IN (SELECT id FROM dis)) THEN 'failed' ELSE r.o END,"
        "         next_attempt_at = CASE WHEN r.o = 'pending' THEN now() + make_interval(secs => r.nx) ELSE now() END,"
        "         in_flight_until = NULL, leased_by = NULL, last_http_status = r.s, last_error = r.e,"
        "         trigger = 'scheduled', operator = NULL, updated_at = now(),"
        "         finished_at = CASE WHEN r.o = 'pending' AND en.status = 'enabled' AND en.id NOT IN (SELECT id FROM dis)"
        "                            THEN NULL ELSE now() END"
        "       FROM r, webhook_endpoints en"
        "       WHERE d.id = r.d AND d.created_at = r.created"
        "         AND d.status NOT IN ('pending', 'succeeded', 'failed', 'canceled') AND d.attempts = r.n"
        "         AND en.id = d.endpoint_id"
        "       RETURNING d.id, d.status, d.event_id, d.event_type, d.endpoint_id, d.merchant_id, d.environment,"
        "         d.attempts, d.last_http_status, d.last_error),"
        /* each attempt's one row, written now that it has ended (the claim wrote none) */
        " a AS (INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, operator, dispatcher,"
        "         started_at, finished_at, duration_ms, http_status, response_body, error, success, signature,"
        "         webhook_timestamp)"
        "       SELECT r.d, d.endpoint_id, r.n, r.tg, r.op, $4, to_timestamp(r.st / 1000.0), now(), r.ms, r.s, r.b, r.e,"
        "              r.ok, nullif(r.sig, ''), r.ts FROM r JOIN d ON d.id = r.d RETURNING delivery_id),"
        " ra AS (SELECT r.* FROM r JOIN a ON a.delivery_id = r.d),"
        " e AS (UPDATE webhook_endpoints e SET"
        "         consecutive_failures = CASE WHEN x.ok THEN x.tail ELSE e.consecutive_failures + x.tail END,"
        "         failing_since = CASE WHEN x.tail = 0 THEN NULL WHEN x.ok THEN now()"
        "                              ELSE coalesce(e.failing_since, now()) END,"
        "         last_error = coalesce(x.e, e.last_error), last_attempt_at = now(),"
        "         last_success_at = CASE WHEN x.ok THEN now() ELSE e.last_success_at END,"
        "         status = CASE WHEN dis.id IS NOT NULL THEN 'disabled' ELSE e.status END,"
        "         disabled_reason = CASE WHEN dis.id IS NOT NULL THEN dis.reason ELSE e.disabled_reason END,"
        "         disabled_at = CASE WHEN dis.id IS NOT NULL THEN now() ELSE e.disabled_at END,"
        "         disabled_by = CASE WHEN dis.id IS NOT NULL THEN 'raild' ELSE e.disabled_by END,"
        "         updated_at = now()"
        "       FROM x JOIN lockep l ON l.id = x.id LEFT JOIN dis ON dis.id = x.id"
        "       WHERE e.id = x.id AND EXISTS (SELECT 1 FROM ra WHERE ra.ep = x.id) RETURNING 1),"
        /* 24 h health: this batch's outcomes added to the endpoints' current hour (rows already
         * locked through lockep, so concurrent dispatchers take turns here too) */
        " hr AS (INSERT INTO webhook_endpoint_hourly AS h (endpoint_id, hour, attempts, successes)"
        "        SELECT r.ep, date_trunc('hour', now()), count(*), count(*) FILTER (WHERE r.ok) FROM ra r"
        "        JOIN lockep l ON l.id = r.ep GROUP BY r.ep ORDER BY r.ep"
        "        ON CONFLICT (endpoint_id, hour) DO UPDATE SET attempts = h.attempts + excluded.attempts,"
        "          successes = h.successes + excluded.successes RETURNING 1),"
        /* the console's Overview: the same outcomes per minute (0070_console_overview.sql) */
        " mr AS (INSERT INTO console_rollup AS c (environment, metric, minute, subject, value)"
        "        SELECT en.environment, m.metric, date_trunc('minute', now()), r.ep::text,"
        "               count(*) FILTER (WHERE m.metric = 'webhook_attempts' OR r.ok)"
        "        FROM ra r JOIN lockep l ON l.id = r.ep JOIN webhook_endpoints en ON en.id = r.ep"
        "        CROSS JOIN (VALUES ('webhook_attempts'), ('webhook_successes')) AS m(metric)"
        "        GROUP BY 1, 2, 3, 4"
        "        ON CONFLICT (environment, metric, minute, subject, bucket) DO UPDATE SET value = c.value + excluded.value"
        "        RETURNING 1),"
        " g AS (UPDATE webhook_deliveries d SET status = 'failed', last_error = 'endpoint disabled: ' || dis.reason,"
        "         finished_at = now(), updated_at = now()"
        "       FROM dis WHERE d.endpoint_id = dis.id AND d.status = 'pending' RETURNING 1),"
        /* the notices, to the merchant's other endpoints (fan-out skips exclude_endpoint) */
        " nt AS (SELECT 'evt_' || left(md5(random()::text || clock_timestamp()::text || k.kind || k.ref), 24) AS eid,"
        "               k.* FROM ("
        "          SELECT 'endpoint.disabled' AS kind, dis.id::text AS ref, dis.merchant_id, dis.environment,"
        "                 dis.id AS endpoint, json_build_object('endpoint', dis.public_id, 'url', dis.url,"
        "                   'reason', dis.reason, 'disabled_by', 'raild') AS data FROM dis"
        "          UNION ALL"
        "          SELECT 'delivery.exhausted', d.id::text, d.merchant_id, d.environment, d.endpoint_id,"
        "                 json_build_object('delivery_id', d.id, 'endpoint', en.public_id, 'event_id', d.event_id,"
        "                   'event_type', d.event_type, 'attempts', d.attempts, 'last_http_status', d.last_http_status,"
        "                   'last_error', d.last_error)"
        "          FROM d JOIN ra ON ra.d = d.id JOIN webhook_endpoints en ON en.id = d.endpoint_id"
        "          WHERE ra.x AND d.status = 'failed'"
        "            AND d.event_type NOT IN ('delivery.exhausted', 'endpoint.disabled')) k),"
        " ob AS (INSERT INTO webhook_outbox (event_id, merchant_id, environment, type, sequence, payload,"
        "          exclude_endpoint)"
        "        SELECT eid, merchant_id, environment, kind, 0, json_build_object('id', eid, 'type', kind,"
        "                 'created_at', " SQL_TS("now()") ", 'environment', environment, 'sequence', 0,"
        "                 'data', data)::text, endpoint FROM nt"
        "        RETURNING type)"
        " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM d), (SELECT count(*) FROM e), (SELECT count(*) FROM g),"
        "   (SELECT count(*) FROM hr), (SELECT count(*) FROM mr),"
        "   (SELECT count(*) FROM ob WHERE type = 'delivery.exhausted'), (SELECT count(*) FROM dis)",
        a, b, dis_after, d->o->name);
    free(a);
    free(b);
    if (bad) record_done(d, NULL);
}

static void record_done(struct disp *d, PGresult *r)
{
    PGconn *db = d->c[C_RECORD].db;
    if (db_failed(r) && (!db || PQstatus(db) != CONNECTION_OK)) {
        /* The connection was lost (a restart, a network blip): keep the results and record
         * them once reconnected, instead of letting the leases lapse into redeliveries. */
        log_warn("webhook.record_retry", "msg=\"%.200s\"", db ? PQerrorMessage(db) : "no connection");
        for (int i = 0; i < d->njobs; i++)
            if (d->jobs[i]->state == 3) {
                d->jobs[i]->state = 2;
                if (d->ndone++ == 0) d->first_done_ms = util_now_ms();
            }
        return;
    }
    if (db_failed(r)) {
        /* the leases lapse and the work is redelivered: at-least-once holds */
        log_error("webhook.record_failed", "msg=\"%.200s\"", PQerrorMessage(db));
    } else {
        if (atoi(PQgetvalue(r, 0, RC_GONE)))
            log_warn("webhook.endpoint_gone", "failed_pending=%s", PQgetvalue(r, 0, RC_GONE));
        int ex = atoi(PQgetvalue(r, 0, RC_EXHAUSTED)), dis = atoi(PQgetvalue(r, 0, RC_DISABLED));
        if (ex) log_warn("webhook.delivery_exhausted", "deliveries=%d", ex);
        if (dis) log_warn("webhook.endpoint_disabled", "endpoints=%d by=raild", dis);
        metrics_webhook_outcomes(ex, dis);
    }
    int w = 0;
    for (int i = 0; i < d->njobs; i++) {
        struct job *j = d->jobs[i];
        if (j->state == 3) {
            struct ep *e = ep_get(d, j->endpoint);
            e->active--;
            e->settled--;
            d->nsettled--;
            job_free(j);
        } else {
            d->jobs[w++] = j;
        }
    }
    d->njobs = w;
    ep_compact(d);
}

/* On shutdown: work not yet sent goes back to pending now, so nobody waits for a lease. */
static void release_unsent(struct disp *d)
{
    json_t *ids = json_array();
    for (int i = 0; i < d->njobs; i++)
        if (d->jobs[i]->state < 2)
            json_array_append_new(ids, json_pack("{sI si sI}", "d", (json_int_t)d->jobs[i]->delivery,
                                                 "n", d->jobs[i]->n, "c", (json_int_t)d->jobs[i]->created_us));
    if (json_array_size(ids)) {
        char *s = json_dumps(ids, JSON_COMPACT);
        PGresult *r = db_q(d->c[C_CLAIM].db,
            "WITH r AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS x(d bigint, n int, c bigint)),"
            " u AS (UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), in_flight_until = NULL,"
            "         leased_by = NULL, updated_at = now()"
            "       FROM r WHERE d.id = r.d AND d.created_at = timestamptz 'epoch' + r.c * interval '1 microsecond'"
            "         AND d.status = 'in_flight' AND d.attempts = r.n"
            "       RETURNING d.id, d.endpoint_id, d.attempts, d.trigger, d.operator)"
            /* never sent, but counted in attempts: its row says so (as a lapsed lease's would) */
            " INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, operator, dispatcher,"
            "   finished_at, success, error)"
            " SELECT id, endpoint_id, attempts, trigger, operator, $2, now(), false,"
            "        'abandoned: the dispatcher shut down; redelivering' FROM u", s, d->o->name);
        PQclear(r);
        free(s);
    }
    json_decref(ids);
}

/* Recover jobs: re-queue failed deliveries in the window, keyset by id, in chunks of
 * RECOVER_CHUNK, for at most ~50 ms per call so deliveries keep flowing; the job's lease is
 * renewed with every chunk and the next call carries on. */
static void recover_step(struct disp *d)
{
    if (!d->recover_job[0]) {
        PGresult *r = db_q0(d->c[C_CLAIM].db,
            "UPDATE webhook_recover_jobs SET status = 'running', started_at = coalesce(started_at, now()),"
            "  lease_until = now() + interval '60 seconds'"
            " WHERE id = (SELECT id FROM webhook_recover_jobs"
            "             WHERE status = 'queued' OR (status = 'running' AND lease_until < now())"
            "             ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id");
        if (db_failed(r) || PQntuples(r) == 0) {
            if (db_failed(r)) log_error("webhook.recover_claim_failed", "msg=\"%.200s\"", PQerrorMessage(d->c[C_CLAIM].db));
            PQclear(r);
            return;
        }
        snprintf(d->recover_job, sizeof d->recover_job, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    const char *id = d->recover_job;
    int64_t until = util_now_ms() + 50;
    while (!*d->o->stop && util_now_ms() < until) {
        enum { RV_STATUS, RV_REQUEUED };
        PGresult *r = db_q(d->c[C_CLAIM].db,
            "WITH j AS (SELECT * FROM webhook_recover_jobs WHERE id = $1),"
            " c AS (SELECT d.id FROM webhook_deliveries d, j"
            "       WHERE d.endpoint_id = j.endpoint_id AND d.status = 'failed' AND d.created_at >= j.since"
            "         AND d.created_at < j.until AND d.id > j.last_delivery_id"
            "       ORDER BY d.id LIMIT $2::int FOR UPDATE OF d),"
            " u AS (UPDATE webhook_deliveries d SET status = 'pending', next_attempt_at = now(), trigger = 'manual',"
            "         operator = (SELECT requested_by FROM j), finished_at = NULL, updated_at = now()"
            "       FROM c WHERE d.id = c.id RETURNING d.id)"
            " UPDATE webhook_recover_jobs x SET requeued = x.requeued + (SELECT count(*) FROM u),"
            "   last_delivery_id = coalesce((SELECT max(id) FROM c), x.last_delivery_id),"
            "   lease_until = now() + interval '60 seconds',"
            "   status = CASE WHEN (SELECT count(*) FROM c) < $2::int THEN 'done' ELSE 'running' END,"
            "   finished_at = CASE WHEN (SELECT count(*) FROM c) < $2::int THEN now() END"
            " WHERE x.id = $1 RETURNING x.status, x.requeued", id, RECOVER_CHUNK);
        int done = db_failed(r) || PQntuples(r) == 0 || !strcmp(PQgetvalue(r, 0, RV_STATUS), "done");
        if (db_failed(r)) log_error("webhook.recover_failed", "job=%s msg=\"%.200s\"", id, PQerrorMessage(d->c[C_CLAIM].db));
        else if (done && PQntuples(r)) log_info("webhook.recover_done", "job=%s requeued=%s", id, PQgetvalue(r, 0, RV_REQUEUED));
        PQclear(r);
        if (done) {
            d->recover_job[0] = 0;   /* finished, or failed: a lapsed lease lets any dispatcher resume it */
            break;
        }
    }
}

/* ------------------------------------------------------------------ the loop */

static int db_ready(struct disp *d, struct dbc *c)
{
    if (c->op >= 0 || (c->db && PQstatus(c->db) == CONNECTION_OK)) return 1;
    if (c->db) PQfinish(c->db);
    c->db = db_connect_logged(d->o->conninfo, "raild-dispatch");
    c->prepared = 0;
    if (!c->db) return 0;
    /* The hot statements' plans do not depend on their parameters (batch sizes, JSON arrays):
     * one generic plan per connection instead of re-planning (~2 ms a claim) on every execution. */
    PQclear(PQexec(c->db, "SET plan_cache_mode = force_generic_plan"));
    if (c == &d->c[C_FANOUT]) {
        PQclear(PQexec(c->db, "LISTEN railtop_webhooks"));
        d->wake_fanout = d->wake_claim = d->wake_recover = 1;   /* notifications missed while away */
    }
    return 1;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static int count_state(struct disp *d, int st)
{
    int n = 0;
    for (int i = 0; i < d->njobs; i++) n += d->jobs[i]->state == st;
    return n;
}

/* Starts the next statement on each idle connection that has work due. */
static void next_ops(struct disp *d, int running, int64_t now)
{
    struct dispatch_opts *o = d->o;
    if (d->c[C_RECORD].op < 0 && (d->ndone >= FLUSH_AT || (d->ndone && (running == 0 || now - d->first_done_ms >= 5))))
        record_send(d);
    if (d->c[C_FANOUT].op < 0 &&
        (d->wake_fanout || d->fanout_full || d->claim_full || now - d->last_fanout >= IDLE_POLL_MS))
        fanout_send(d);
    long long finished = d->delivered + d->failed + d->retried - d->finished_at_claim;
    int free_slots = o->max_inflight - (d->njobs - d->nsettled);
    int64_t due = due_next(d);
    if (d->c[C_CLAIM].op < 0 && free_slots > 0 &&
        (d->claim_full || d->wake_claim || finished >= 32 || (finished > 0 && now - d->last_claim >= 10) ||
         (due && now >= due) || now - d->last_claim >= IDLE_POLL_MS))
        claim_send(d, free_slots < CLAIM_MAX ? free_slots : CLAIM_MAX);
}

/* Wake-ups (channel railtop_webhooks, migration 0015) arrive on the fan-out connection;
 * the payload is the table. */
static void listen_drain(struct disp *d)
{
    struct dbc *c = &d->c[C_FANOUT];
    if (!c->db) return;
    if (c->op < 0) PQconsumeInput(c->db);   /* db_poll reads the socket while a statement runs */
    PGnotify *n;
    while ((n = PQnotifies(c->db))) {
        if (!strcmp(n->extra, "webhook_outbox")) d->wake_fanout = 1;
        else if (!strcmp(n->extra, "webhook_deliveries") || !strcmp(n->extra, "webhook_endpoints")) d->wake_claim = 1;
        else if (!strcmp(n->extra, "webhook_recover_jobs")) d->wake_recover = 1;
        PQfreemem(n);
    }
}

int dispatch_run(struct dispatch_opts *o)
{
    pthread_once(&curl_once, curl_init_once);
    if (lease_seconds(o)) return 1;
    struct disp d = { .o = o, .c = { { .op = -1 }, { .op = -1 }, { .op = -1 } } };
    d.multi = curl_multi_init();
    curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, (long)o->max_inflight);
    log_info("webhook.dispatcher_start", "dispatcher=%s concurrency=%d per_endpoint=%d timeout_ms=%d retries=%d "
             "secrets_sealed=%s", o->name, o->max_inflight, o->per_endpoint, o->timeout_ms, o->nschedule,
             wh_sealing_enabled() ? "yes" : "no");
    int64_t last_recover = 0, last_stats = util_now_ms();
    while (!*o->stop) {
        if (!db_ready(&d, &d.c[C_FANOUT]) || !db_ready(&d, &d.c[C_CLAIM]) || !db_ready(&d, &d.c[C_RECORD])) {
            struct worker_ctx w = { .stop = o->stop };
            worker_sleep(&w, 1000);
            continue;
        }
        int running = 0;
        curl_multi_perform(d.multi, &running);
        harvest(&d);
        for (int i = 0; i < NCONN; i++) db_poll(&d, &d.c[i], 0);
        listen_drain(&d);
        int64_t now = util_now_ms();
        if (d.c[C_CLAIM].op < 0 && (d.wake_recover || now - last_recover >= (d.recover_job[0] ? 20 : IDLE_POLL_MS))) {
            d.wake_recover = 0;
            recover_step(&d);   /* rare and bounded (~50 ms): synchronous */
            last_recover = now;
        }
        next_ops(&d, running, now);
        jobs_start_queued(&d);
        if (now - last_stats >= 10000) {
            log_info("webhook.dispatcher_stats", "delivered=%lld failed=%lld retried=%lld in_flight=%d", d.delivered,
                     d.failed, d.retried, running);
            last_stats = now;
        }
        /* wake for the network, a statement's answer, a notification, or the next timer */
        struct curl_waitfd w[NCONN];
        unsigned nw = 0, busy = 0;
        for (int i = 0; i < NCONN; i++) {
            busy += d.c[i].op >= 0;
            int fd = d.c[i].db ? PQsocket(d.c[i].db) : -1;
            if (fd >= 0 && (d.c[i].op >= 0 || i == C_FANOUT))
                w[nw++] = (struct curl_waitfd){ .fd = fd, .events = CURL_WAIT_POLLIN };
        }
        int64_t next = d.last_fanout < d.last_claim ? d.last_fanout : d.last_claim, due = due_next(&d);
        next += IDLE_POLL_MS;
        if (due && due < next) next = due;
        next -= util_now_ms();
        if (d.recover_job[0]) next = 20;
        int timeout = d.njobs || busy ? 5 : next < 1 ? 1 : next > IDLE_POLL_MS ? IDLE_POLL_MS : (int)next;
        curl_multi_poll(d.multi, w, nw, timeout, NULL);
    }
    for (int i = 0; i < NCONN; i++) db_poll(&d, &d.c[i], 1);
    /* graceful stop: let running requests finish for up to 2 s, record them, release the rest */
    int64_t until = util_now_ms() + 2000;
    while (count_state(&d, 1) && util_now_ms() < until) {
        int running;
        curl_multi_perform(d.multi, &running);
        harvest(&d);
        curl_multi_poll(d.multi, NULL, 0, 20, NULL);
    }
    if (d.c[C_RECORD].db && PQstatus(d.c[C_RECORD].db) == CONNECTION_OK) {
        record_send(&d);
        db_poll(&d, &d.c[C_RECORD], 1);
    }
    if (d.c[C_CLAIM].db && PQstatus(d.c[C_CLAIM].db) == CONNECTION_OK) release_unsent(&d);
    for (int i = 0; i < d.njobs; i++) {
        if (d.jobs[i]->easy) {
            curl_multi_remove_handle(d.multi, d.jobs[i]->easy);
            curl_easy_cleanup(d.jobs[i]->easy);
        }
        job_free(d.jobs[i]);
    }
    for (int i = 0; i < d.nidle; i++) curl_easy_cleanup(d.idle[i]);
    free(d.idle);
    free(d.due);
    free(d.jobs);
    free(d.eps);
    curl_multi_cleanup(d.multi);
    for (int i = 0; i < NCONN; i++)
        if (d.c[i].db) PQfinish(d.c[i].db);
    log_info("webhook.dispatcher_stop", "dispatcher=%s delivered=%lld failed=%lld db_ms_fanout=%lld db_ms_claim=%lld "
             "claims=%lld db_ms_record=%lld records=%lld", o->name, d.delivered, d.failed, d.ms_fanout, d.ms_claim,
             d.n_claim, d.ms_flush, d.n_flush);
    return 0;
}

void *dispatch_worker(void *ctx)
{
    struct worker_ctx *w = ctx;
    struct dispatch_opts o;
    if (dispatch_opts_init(&o, w->conninfo, w->stop) || dispatch_run(&o)) {
        /* a misconfigured dispatcher must not leave serve running without webhook delivery */
        log_error("webhook.config_invalid", "msg=\"see the line above; raild serve stops\"");
        exit(2);
    }
    return NULL;
}

/* ------------------------------------------------------------------ raild dispatch */

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

static const char USAGE[] =
    "usage: raild dispatch [--db CONNINFO] [--retry-schedule LIST] [--concurrency N] [--per-endpoint N]\n"
    "                      [--timeout-ms N]\n"
    "  Delivers webhooks until SIGINT/SIGTERM. Any number may run at once (SKIP LOCKED).\n"
    "  --retry-schedule  delays after attempt 1, 2, … (default 5s,5m,30m,2h,5h,10h,10h; plain numbers are seconds)\n"
    "  --concurrency     requests in flight overall (default 256)\n"
    "  --per-endpoint    requests in flight per endpoint (default 32)\n"
    "  --timeout-ms      attempt timeout (default 15000)\n"
    "  The same settings come from RAILD_WEBHOOK_RETRY_SCHEDULE, _CONCURRENCY, _PER_ENDPOINT, _TIMEOUT_MS;\n"
    "  RAILD_WEBHOOK_LEASE_S sets how long a claim stays in flight (default 4 x timeout + 30 s;\n"
    "  at least 2 x timeout + 1 s, which claims less work ahead).\n"
    "  Endpoint secrets sealed with RAILD_SECRETS_KEY need that key here too.\n";

int cmd_dispatch(int argc, char **argv)
{
    const char *db = NULL;
    struct dispatch_opts o;
    if (dispatch_opts_init(&o, NULL, &g_stop)) return 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) { fputs(USAGE, stdout); return 0; }
        if (i + 1 >= argc) return cli_usage_error("dispatch", "unknown option or missing value '%s'\n%s", a, USAGE);
        const char *v = argv[++i];
        long long x;
        if (!strcmp(a, "--db")) db = v;
        else if (!strcmp(a, "--retry-schedule")) {
            if ((o.nschedule = dispatch_parse_schedule(v, o.schedule, DISPATCH_MAX_RETRIES)) < 0)
                return cli_usage_error("dispatch", "--retry-schedule must look like '5s,5m,30m,2h', got '%s'", v);
        } else if (!strcmp(a, "--concurrency") || !strcmp(a, "--per-endpoint")) {
            if (util_parse_i64(v, 1, 4096, &x)) return cli_usage_error("dispatch", "%s must be 1-4096, got '%s'", a, v);
            if (a[2] == 'c') o.max_inflight = (int)x;
            else o.per_endpoint = (int)x;
        } else if (!strcmp(a, "--timeout-ms")) {
            if (util_parse_i64(v, 100, 120000, &x))
                return cli_usage_error("dispatch", "--timeout-ms must be 100-120000, got '%s'", v);
            o.timeout_ms = (int)x;
        } else {
            return cli_usage_error("dispatch", "unknown option '%s'\n%s", a, USAGE);
        }
    }
    o.conninfo = db ? db : "";
    if (cli_require_migrated("dispatch", db, "webhook_deliveries") || cli_require_sealing("dispatch", db)) return 1;
    cli_on_stop_signals(on_signal);
    return dispatch_run(&o);
}
