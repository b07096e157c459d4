/* api_webhooks — webhook endpoints (merchant keys) and delivery operations (support).
 * Merchant (own merchant + environment):
 *   POST   /v1/webhook-endpoints                    {url, event_types?, description?} → secret, once
 *   GET    /v1/webhook-endpoints                    list (with health)
 *   GET    /v1/webhook-endpoints/{id}
 *   PATCH  /v1/webhook-endpoints/{id}               {url?, event_types?, description?}
 *   DELETE /v1/webhook-endpoints/{id}               pending deliveries are canceled
 *   POST   /v1/webhook-endpoints/{id}/rotate-secret {overlap_seconds?} → new secret, once; the old
 *          one keeps signing alongside until the overlap ends (default 24 h)
 * Operators (reads: any operator role; changes: support/admin, audited):
 *   GET  /v1/webhook-endpoints/{id}/health          endpoint with health, any merchant
 *   POST /v1/webhook-endpoints/{id}/disable|enable  {reason?}
 *   GET  /v1/webhook-endpoints/{id}/recover-preview?since=&until=   → {count}
 *   POST /v1/webhook-endpoints/{id}/recover         {since, until, reason?} → 202 job
 *   GET  /v1/webhook-recover-jobs/{id}
 *   GET  /v1/webhook-deliveries?endpoint=&status=&event_type=&since=&until=&limit=&cursor=
 *   GET  /v1/webhook-deliveries/{id}                with payload and attempts
 *   POST /v1/webhook-deliveries/{id}/retry          {reason?} → next dispatcher pass sends it */
#include "raild/audit.h"
#include "raild/http.h"
#include "raild/webhook_netguard.h"
#include "raild/query.h"
#include "raild/webhook_sign.h"
#include "core/db.h"
#include "core/util.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 2048
#define MAX_ENDPOINTS 20
#define OVERLAP_MAX (7 * 86400)
#define WINDOW_MAX_DAYS "90"

#define EVENT_TYPES webhook_event_types     /* the catalogue's (core/catalog.h) */
static const char *const DELIVERY_STATUSES[] = { "pending", "in_flight", "succeeded", "failed", "canceled", NULL };

static int in_list(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(s, *list)) return 1;
    return 0;
}

/* ------------------------------------------------------------------ JSON from SQL */

#define ENDPOINT_JSON(ops)                                                                                      \
    "json_build_object('id', e.public_id, 'url', e.url, 'description', e.description,"                          \
    " 'event_types', to_json(e.event_types), 'status', e.status, 'disabled_reason', e.disabled_reason,"         \
    " 'disabled_by', e.disabled_by, 'rate_limit_per_s', e.rate_limit_per_s,"                                    \
    " 'disabled_at', " SQL_TS("e.disabled_at") ", 'created_at', " SQL_TS("e.created_at") ","                            \
    " 'updated_at', " SQL_TS("e.updated_at") ", 'secret_rotated_at', " SQL_TS("e.secret_rotated_at") ","                \
    " 'previous_secret_expires_at', CASE WHEN e.old_secret_expires_at > now() THEN "                           \
    SQL_TS("e.old_secret_expires_at") " END," ops                                                                   \
    " 'health', json_build_object('success_rate_24h', h.success_rate_24h, 'attempts_24h', h.attempts_24h,"      \
    "   'successes_24h', h.successes_24h, 'consecutive_failures', h.consecutive_failures,"                      \
    "   'failing_since', " SQL_TS("h.failing_since") ", 'last_error', h.last_error,"                                \
    "   'last_attempt_at', " SQL_TS("h.last_attempt_at") ", 'last_success_at', " SQL_TS("h.last_success_at") "))::text" \
    " FROM webhook_endpoints e JOIN webhook_endpoint_health h ON h.endpoint_id = e.id "

#define MERCHANT_ENDPOINT_SQL "SELECT " ENDPOINT_JSON("")
#define OPS_ENDPOINT_SQL "SELECT " ENDPOINT_JSON(" 'merchant_id', e.merchant_id, 'environment', e.environment,")

#define DELIVERY_JSON                                                                                           \
    "json_build_object('id', 'whd_' || d.id, 'endpoint', e.public_id, 'merchant_id', d.merchant_id,"           \
    " 'environment', d.environment, 'event_id', d.event_id, 'event_type', d.event_type, 'status', d.status,"   \
    " 'attempt_count', d.attempts, 'next_attempt_at', CASE WHEN d.status = 'pending' THEN "                          \
    SQL_TS("d.next_attempt_at") " END, 'in_flight_until', CASE WHEN d.status = 'in_flight' THEN "                   \
    SQL_TS("d.in_flight_until") " END, 'trigger', d.trigger, 'operator', d.operator,"                               \
    " 'last_http_status', d.last_http_status, 'last_error', d.last_error, 'created_at', " SQL_TS("d.created_at") "," \
    " 'updated_at', " SQL_TS("d.updated_at") ", 'finished_at', " SQL_TS("d.finished_at") ")"

#define JOB_JSON                                                                                                \
    "json_build_object('id', 'wrj_' || j.id, 'endpoint', e.public_id, 'since', " SQL_TS("j.since") ","            \
    " 'until', " SQL_TS("j.until") ", 'status', j.status, 'total', j.total, 'requeued', j.requeued,"              \
    " 'requested_by', j.requested_by, 'error', j.error, 'created_at', " SQL_TS("j.created_at") ","                \
    " 'started_at', " SQL_TS("j.started_at") ", 'finished_at', " SQL_TS("j.finished_at") ")::text"                    \
    " FROM webhook_recover_jobs j JOIN webhook_endpoints e ON e.id = j.endpoint_id "

/* First column of the first row parsed as JSON; NULL when there is no row (or an error:
 * *failed says which). */
static json_t *json_row(PGresult *res, int *failed)
{
    *failed = db_failed(res);
    json_t *o = NULL;
    if (!*failed && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
        o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    return o;
}

/* ------------------------------------------------------------------ input */

/* The body as a JSON object of allowed fields; an empty body is {}. */
static json_t *body_or_empty(struct req *q, struct resp *r, const char *const *allowed)
{
    if (!q->body_len) return json_object();
    return req_json_object(q, r, allowed);
}

/* http/https, parseable, a host, no credentials, no whitespace or control characters. */
static int url_check(const char *url, struct resp *r)
{
    size_t n = strlen(url);
    if (n < 10 || n > URL_MAX) {
        resp_error(r, 422, "invalid_url", "url must be 10 to %d characters", URL_MAX);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p == 0x7f) {
            resp_error(r, 422, "invalid_url", "url must not contain spaces or control characters");
            return -1;
        }
    if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) {
        resp_error(r, 422, "invalid_url", "url must start with http:// or https://");
        return -1;
    }
    const char *auth = strstr(url, "://") + 3;
    if (*auth == '/' || *auth == '?' || *auth == '#') {
        resp_error(r, 422, "invalid_url", "url has no host");
        return -1;
    }
    CURLU *h = curl_url();
    char *host = NULL, *user = NULL, *pass = NULL;
    int bad = !h || curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK;
    const char *why = "url is not a valid URL";
    if (!bad && (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !host || !*host)) bad = 1, why = "url has no host";
    if (!bad && (curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
                 curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK))
        bad = 1, why = "url must not contain credentials (user:password@)";
    char net[160];
    int private_host = !bad && netguard_blocked_host(host, net, sizeof net);
    curl_free(host);
    curl_free(user);
    curl_free(pass);
    curl_url_cleanup(h);
    if (bad) resp_error(r, 422, "invalid_url", "%s", why);
    else if (private_host)
        resp_error(r, 422, "url_not_allowed", "webhooks may not go to private networks: %s "
                   "(the gateway's RAILD_WEBHOOK_ALLOW_NETS can allow a range)", net);
    return bad || private_host ? -1 : 0;
}

/* event_types: an array of distinct known types; fills a JSON text for SQL. */
static int event_types_check(json_t *v, char **out, struct resp *r)
{
    if (!json_is_array(v) || json_array_size(v) > 8) {
        resp_error(r, 422, "invalid_event_types", "event_types must be an array of at most 8 event types");
        return -1;
    }
    size_t i, k;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!json_is_string(x) || !in_list(json_string_value(x), EVENT_TYPES)) {
            resp_error(r, 422, "invalid_event_types", "unknown event type at position %zu", i);
            return -1;
        }
        for (k = 0; k < i; k++)
            if (json_equal(json_array_get(v, k), x)) {
                resp_error(r, 422, "invalid_event_types", "event type '%s' is listed twice", json_string_value(x));
                return -1;
            }
    }
    *out = json_dumps(v, JSON_COMPACT);
    return 0;
}

static int description_check(json_t *o, const char **desc, struct resp *r)
{
    return jget_str(o, "description", 0, 500, desc, r);
}

/* "whd_123" → 123; 0 when malformed */
static long long prefixed_id(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    long long v;
    if (strncmp(s, prefix, n) || util_parse_i64(s + n, 1, (1LL << 62), &v)) return 0;
    return v;
}

/* RFC 3339 window [since, until): both required, since < until, at most 90 days, since not in the future. */
static int window_check(PGconn *db, const char *since, const char *until, struct resp *r)
{
    if (!since || !until) {
        resp_error(r, 400, "invalid_request", "since and until are required (RFC 3339)");
        return -1;
    }
    if (!util_rfc3339_valid(since) || !util_rfc3339_valid(until)) {
        resp_error(r, 422, "invalid_window", "since and until must be RFC 3339 date-times");
        return -1;
    }
    char *ok = db_val(db,
        "SELECT CASE WHEN $1::timestamptz >= $2::timestamptz THEN 'order'"
        "            WHEN $2::timestamptz - $1::timestamptz > make_interval(days => $3::int) THEN 'long'"
        "            WHEN $1::timestamptz > now() THEN 'future' ELSE 'ok' END", since, until, WINDOW_MAX_DAYS);
    const char *why = !ok ? "since and until must be valid times"
                    : !strcmp(ok, "order") ? "since must be before until"
                    : !strcmp(ok, "long") ? "the window may span at most " WINDOW_MAX_DAYS " days"
                    : !strcmp(ok, "future") ? "since is in the future" : NULL;
    if (!ok && PQstatus(db) != CONNECTION_OK) {
        resp_db_error(r, db, NULL, "window");
        return -1;
    }
    free(ok);
    if (why) {
        resp_error(r, 422, "invalid_window", "%s", why);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ merchant: endpoints */

static void mid_str(struct req *q, char *mid)
{
    snprintf(mid, 32, "%lld", q->who.merchant_id);
}

static json_t *merchant_endpoint(struct req *q, const char *public_id, int *failed)
{
    char mid[32];
    mid_str(q, mid);
    PGresult *res = db_q(q->db, MERCHANT_ENDPOINT_SQL
        "WHERE e.public_id = $1 AND e.merchant_id = $2 AND e.environment = $3 AND e.status <> 'deleted'",
        public_id, mid, q->who.env);
    json_t *o = json_row(res, failed);
    PQclear(res);
    return o;
}

static void reply_endpoint(struct req *q, struct resp *r, const char *public_id, int status, const char *secret)
{
    int failed;
    json_t *o = merchant_endpoint(q, public_id, &failed);
    if (!o) {
        if (failed) resp_db_error(r, q->db, NULL, "endpoint read");
        else resp_error(r, 404, "not_found", "no such webhook endpoint");
        return;
    }
    if (secret) json_object_set_new(o, "secret", json_string(secret));
    resp_json(r, status, o);
}

/* Production webhook secrets are never stored in plain text (issue 14): a raild without
 * RAILD_SECRETS_KEY refuses to create or rotate one (sandbox ones are stored plain, with the
 * warning raild gives at start). */
static int plain_production_refused(struct req *q, struct resp *r)
{
    if (wh_sealing_enabled() || strcmp(q->who.env, "production")) return 0;
    resp_error(r, 503, "secrets_unsealed", "this raild has no RAILD_SECRETS_KEY and production webhook secrets are "
               "never stored in plain text; the operator must set it (base64 of 32 random bytes)");
    return 1;
}

static void ep_create(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "url", "event_types", "description", NULL };
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    const char *url = NULL, *desc = "";
    char *types = NULL;
    json_t *tv = json_object_get(b, "event_types");
    if (jget_str(b, "url", 1, 4096, &url, r) || url_check(url, r) || description_check(b, &desc, r) ||
        (tv && !json_is_null(tv) && event_types_check(tv, &types, r))) {
        json_decref(b);
        return;
    }
    char secret[WH_SECRET_MAX], sealed[WH_STORED_MAX], pid[48], mid[32];
    if (plain_production_refused(q, r)) {
        json_decref(b);
        free(types);
        return;
    }
    wh_secret_new(secret);
    if (wh_secret_seal(secret, sealed)) {
        resp_error(r, 500, "internal", "cannot seal the secret");
        json_decref(b);
        free(types);
        return;
    }
    util_random_id("we_", pid, sizeof pid);
    mid_str(q, mid);
    if (tx_begin(q, r)) goto out;
    /* serialise creations per merchant so the limit holds under concurrency */
    PGresult *res = db_q(q->db, "SELECT id FROM merchants WHERE id = $1 FOR UPDATE", mid);
    PQclear(res);
    char *n = db_val(q->db, "SELECT count(*) FROM webhook_endpoints WHERE merchant_id = $1 AND environment = $2"
                            " AND status <> 'deleted'", mid, q->who.env);
    if (n && atoi(n) >= MAX_ENDPOINTS) {
        resp_error(r, 409, "too_many_endpoints", "at most %d webhook endpoints per merchant and environment",
                   MAX_ENDPOINTS);
        free(n);
        goto out;
    }
    free(n);
    res = db_q(q->db,
        "INSERT INTO webhook_endpoints (public_id, merchant_id, environment, url, description, event_types, secret)"
        " VALUES ($1, $2, $3, $4, $5, coalesce(ARRAY(SELECT json_array_elements_text($6::json)), '{}'), $7)",
        pid, mid, q->who.env, url, desc, types, sealed);
    int failed = db_failed(res);
    PQclear(res);
    json_t *after = json_pack("{ss ss ss?}", "url", url, "description", desc, "event_types", types);
    if (failed || audit_write(q->db, &q->who, "webhook_endpoint.create", "webhook_endpoint", pid, NULL, NULL, after)) {
        json_decref(after);
        resp_db_error(r, q->db, NULL, "endpoint create");
        goto out;
    }
    json_decref(after);
    if (tx_commit(q, r)) goto out;
    reply_endpoint(q, r, pid, 201, secret);
out:
    memset(secret, 0, sizeof secret);
    json_decref(b);
    free(types);
}

static void ep_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { NULL };
    if (query_check(q, r, allowed)) return;
    char mid[32];
    mid_str(q, mid);
    PGresult *res = db_q(q->db, MERCHANT_ENDPOINT_SQL
        "WHERE e.merchant_id = $1 AND e.environment = $2 AND e.status <> 'deleted' ORDER BY e.id", mid, q->who.env);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "endpoint list");
        PQclear(res);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++) json_array_append_new(arr, json_loads(PQgetvalue(res, i, 0), 0, NULL));
    PQclear(res);
    resp_json(r, 200, json_pack("{so}", "data", arr));
}

static void ep_get(struct req *q, struct resp *r)
{
    reply_endpoint(q, r, q->params[0], 200, NULL);
}

/* Locks the caller's endpoint inside a transaction; fills resp 404 when absent. */
static int lock_merchant_endpoint(struct req *q, struct resp *r, json_t **before)
{
    char mid[32];
    mid_str(q, mid);
    PGresult *res = db_q(q->db,
        "SELECT json_build_object('url', url, 'description', description, 'event_types', event_types,"
        "  'status', status)::text FROM webhook_endpoints"
        " WHERE public_id = $1 AND merchant_id = $2 AND environment = $3 AND status <> 'deleted' FOR UPDATE",
        q->params[0], mid, q->who.env);
    int failed;
    *before = json_row(res, &failed);
    PQclear(res);
    if (!*before) {
        if (failed) resp_db_error(r, q->db, NULL, "endpoint lock");
        else resp_error(r, 404, "not_found", "no such webhook endpoint");
        return -1;
    }
    return 0;
}

static void ep_update(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "url", "event_types", "description", NULL };
    json_t *b = req_json_object(q, r, allowed), *before = NULL;
    if (!b) return;
    const char *url = NULL, *desc = NULL;
    char *types = NULL;
    json_t *tv = json_object_get(b, "event_types");
    if (jget_str(b, "url", 0, 4096, &url, r) || (url && url_check(url, r)) || description_check(b, &desc, r) ||
        (tv && !json_is_null(tv) && event_types_check(tv, &types, r)))
        goto out;
    if (!url && !desc && !types) {
        resp_error(r, 400, "invalid_request", "give at least one of url, event_types, description");
        goto out;
    }
    if (tx_begin(q, r) || lock_merchant_endpoint(q, r, &before)) goto out;
    PGresult *res = db_q(q->db,
        "UPDATE webhook_endpoints SET url = coalesce($2, url), description = coalesce($3, description),"
        " event_types = CASE WHEN $4::json IS NULL THEN event_types"
        "                    ELSE coalesce(ARRAY(SELECT json_array_elements_text($4::json)), '{}') END,"
        " updated_at = now() WHERE public_id = $1", q->params[0], url, desc, types);
    int failed = db_failed(res);
    PQclear(res);
    json_t *after = json_pack("{ss? ss? ss?}", "url", url, "description", desc, "event_types", types);
    failed = failed || audit_write(q->db, &q->who, "webhook_endpoint.update", "webhook_endpoint", q->params[0], NULL,
                                   before, after);
    json_decref(after);
    if (failed) {
        resp_db_error(r, q->db, NULL, "endpoint update");
        goto out;
    }
    if (!tx_commit(q, r)) reply_endpoint(q, r, q->params[0], 200, NULL);
out:
    json_decref(b);
    json_decref(before);
    free(types);
}

static void ep_delete(struct req *q, struct resp *r)
{
    json_t *before = NULL;
    if (q->body_len) {
        resp_error(r, 400, "invalid_request", "DELETE takes no body");
        return;
    }
    if (tx_begin(q, r) || lock_merchant_endpoint(q, r, &before)) goto out;
    PGresult *res = db_q(q->db,
        "WITH e AS (UPDATE webhook_endpoints SET status = 'deleted', deleted_at = now(), updated_at = now()"
        "           WHERE public_id = $1 RETURNING id)"
        " UPDATE webhook_deliveries d SET status = 'canceled', last_error = 'endpoint deleted', finished_at = now(),"
        "   updated_at = now() FROM e WHERE d.endpoint_id = e.id AND d.status = 'pending'", q->params[0]);
    int failed = db_failed(res);
    const char *canceled = failed ? "0" : PQcmdTuples(res);
    json_t *after = json_pack("{ss ss}", "status", "deleted", "pending_canceled", canceled);
    PQclear(res);
    if (failed || audit_write(q->db, &q->who, "webhook_endpoint.delete", "webhook_endpoint", q->params[0], NULL,
                              before, after)) {
        json_decref(after);
        resp_db_error(r, q->db, NULL, "endpoint delete");
        goto out;
    }
    json_decref(after);
    if (!tx_commit(q, r)) resp_json(r, 200, json_pack("{ss sb}", "id", q->params[0], "deleted", 1));
out:
    json_decref(before);
}

static int default_overlap(void)
{
    long long v;
    const char *e = getenv("RAILD_WEBHOOK_ROTATION_OVERLAP_S");
    if (e && !util_parse_i64(e, 0, OVERLAP_MAX, &v)) return (int)v;
    return 86400;
}

static void ep_rotate(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "overlap_seconds", NULL };
    json_t *b = body_or_empty(q, r, allowed), *before = NULL;
    if (!b) return;
    long long overlap = default_overlap();
    char secret[WH_SECRET_MAX] = "", sealed[WH_STORED_MAX], ov[24];
    if (jget_int(b, "overlap_seconds", 0, 0, OVERLAP_MAX, &overlap, r) || plain_production_refused(q, r)) goto out;
    wh_secret_new(secret);
    if (wh_secret_seal(secret, sealed)) {
        resp_error(r, 500, "internal", "cannot seal the secret");
        goto out;
    }
    snprintf(ov, sizeof ov, "%lld", overlap);
    if (tx_begin(q, r) || lock_merchant_endpoint(q, r, &before)) goto out;
    /* the current secret becomes the previous one; an older previous one is dropped */
    PGresult *res = db_q(q->db,
        "UPDATE webhook_endpoints SET old_secret = CASE WHEN $3::int > 0 THEN secret END,"
        " old_secret_expires_at = CASE WHEN $3::int > 0 THEN now() + make_interval(secs => $3::int) END,"
        " secret = $2, secret_rotated_at = now(), updated_at = now() WHERE public_id = $1",
        q->params[0], sealed, ov);
    int failed = db_failed(res);
    PQclear(res);
    json_t *after = json_pack("{sI}", "overlap_seconds", (json_int_t)overlap);
    failed = failed || audit_write(q->db, &q->who, "webhook_endpoint.rotate_secret", "webhook_endpoint",
                                   q->params[0], NULL, NULL, after);
    json_decref(after);
    if (failed) {
        resp_db_error(r, q->db, NULL, "endpoint rotate");
        goto out;
    }
    if (!tx_commit(q, r)) reply_endpoint(q, r, q->params[0], 200, secret);
out:
    memset(secret, 0, sizeof secret);
    json_decref(b);
    json_decref(before);
}

/* ------------------------------------------------------------------ operators: endpoints */

static void ops_ep_health(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { NULL };
    if (query_check(q, r, allowed)) return;
    PGresult *res = db_q(q->db, OPS_ENDPOINT_SQL "WHERE e.public_id = $1", q->params[0]);
    int failed;
    json_t *o = json_row(res, &failed);
    PQclear(res);
    if (o) resp_json(r, 200, o);
    else if (failed) resp_db_error(r, q->db, NULL, "endpoint health");
    else resp_error(r, 404, "not_found", "no such webhook endpoint");
}

/* Locks any merchant's endpoint; returns its status (malloc'd) and internal id, or NULL with resp filled. */
static char *lock_endpoint(struct req *q, struct resp *r, char *id_out)
{
    enum { EP_ID, EP_STATUS, EP_ENV };
    PGresult *res = db_q(q->db, "SELECT id, status, environment FROM webhook_endpoints WHERE public_id = $1 FOR UPDATE",
                         q->params[0]);
    char *st = NULL;
    if (db_failed(res)) resp_db_error(r, q->db, res, "endpoint lock");
    else if (!PQntuples(res) || !strcmp(PQgetvalue(res, 0, EP_STATUS), "deleted"))
        resp_error(r, 404, "not_found", "no such webhook endpoint");
    else if (q->who.env[0] && strcmp(PQgetvalue(res, 0, EP_ENV), q->who.env))   /* DESIGN §7: own environment only */
        resp_error(r, 403, "wrong_environment", "the endpoint is in %s; this key acts in %s only", PQgetvalue(res, 0, EP_ENV),
                   q->who.env);
    else {
        snprintf(id_out, 32, "%s", PQgetvalue(res, 0, EP_ID));
        st = strdup(PQgetvalue(res, 0, EP_STATUS));
    }
    PQclear(res);
    return st;
}

/* The end of a support action on an endpoint: the change's result, its audit row, commit,
 * and the endpoint's health as the answer. Frees res, before and after. */
static void ops_finish(struct req *q, struct resp *r, PGresult *res, const char *action, const char *reason,
                       json_t *before, json_t *after)
{
    int failed = db_failed(res);
    PQclear(res);
    failed = failed || audit_write(q->db, &q->who, action, "webhook_endpoint", q->params[0], reason, before, after);
    json_decref(before);
    json_decref(after);
    if (failed) resp_db_error(r, q->db, NULL, action);
    else if (!tx_commit(q, r)) ops_ep_health(q, r);
}

static void ops_set_enabled(struct req *q, struct resp *r, int enable)
{
    static const char *const allowed[] = { "reason", NULL };
    json_t *b = body_or_empty(q, r, allowed);
    if (!b) return;
    const char *reason = NULL;
    char id[32], *st = NULL;
    if (jget_str(b, "reason", 0, 500, &reason, r) || tx_begin(q, r) || !(st = lock_endpoint(q, r, id))) goto out;
    if (!strcmp(st, enable ? "enabled" : "disabled")) {
        resp_error(r, 409, "invalid_state", "the endpoint is already %s", st);
        goto out;
    }
    PGresult *res;
    if (enable) {
        res = db_q(q->db, "UPDATE webhook_endpoints SET status = 'enabled', disabled_reason = NULL,"
                          " disabled_at = NULL, disabled_by = NULL, failing_since = NULL, updated_at = now()"
                          " WHERE id = $1", id);
    } else {
        char why[600];
        snprintf(why, sizeof why, "disabled by %s%s%s", q->who.name, reason ? ": " : "", reason ? reason : "");
        res = db_q(q->db,
            "WITH e AS (UPDATE webhook_endpoints SET status = 'disabled', disabled_reason = $2, disabled_at = now(),"
            "           disabled_by = $3, updated_at = now() WHERE id = $1 RETURNING id)"
            " UPDATE webhook_deliveries d SET status = 'failed', last_error = 'endpoint disabled', finished_at = now(),"
            "   updated_at = now() FROM e WHERE d.endpoint_id = e.id AND d.status = 'pending'", id, why, q->who.name);
    }
    json_t *before = json_pack("{ss}", "status", st), *after = json_pack("{ss}", "status", enable ? "enabled" : "disabled");
    ops_finish(q, r, res, enable ? "webhook_endpoint.enable" : "webhook_endpoint.disable", reason, before, after);
out:
    free(st);
    json_decref(b);
}

/* POST /v1/webhook-endpoints/{id}/rate-limit {"per_second": 1-10000 | null, "reason": …}:
 * support caps how fast every dispatcher together sends to an endpoint (null: no cap) */
static void ops_rate_limit(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "per_second", "reason", NULL };
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    const char *reason = NULL;
    char id[32], *st = NULL, per[16] = "";
    json_t *v = json_object_get(b, "per_second");
    long long n = 0;
    if (!v) {
        resp_error(r, 400, "invalid_request", "field 'per_second' is required (1-10000, or null for no limit)");
        goto out;
    }
    if (!json_is_null(v) && jget_int(b, "per_second", 1, 1, 10000, &n, r)) goto out;
    if (!json_is_null(v)) snprintf(per, sizeof per, "%lld", n);
    if (jget_str(b, "reason", 0, 500, &reason, r) || tx_begin(q, r) || !(st = lock_endpoint(q, r, id))) goto out;
    PGresult *res = db_q(q->db,
        "WITH e AS (UPDATE webhook_endpoints SET rate_limit_per_s = $2::int, updated_at = now() WHERE id = $1::bigint"
        "           RETURNING id)"
        " INSERT INTO webhook_endpoint_rate (endpoint_id) SELECT id FROM e ON CONFLICT (endpoint_id) DO NOTHING",
        id, per[0] ? per : NULL);
    json_t *after = per[0] ? json_pack("{sI}", "rate_limit_per_s", (json_int_t)n) : json_pack("{sn}", "rate_limit_per_s");
    ops_finish(q, r, res, "webhook_endpoint.rate_limit", reason, NULL, after);
out:
    free(st);
    json_decref(b);
}

static void ops_disable(struct req *q, struct resp *r) { ops_set_enabled(q, r, 0); }
static void ops_enable(struct req *q, struct resp *r) { ops_set_enabled(q, r, 1); }

static const char *RECOVER_COUNT_SQL =
    "SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
    " WHERE e.public_id = $1 AND d.status = 'failed' AND d.created_at >= $2::timestamptz"
    " AND d.created_at < $3::timestamptz";

static void ops_recover_preview(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "since", "until", NULL };
    if (query_check(q, r, allowed)) return;
    const char *since = req_query(q, "since"), *until = req_query(q, "until");
    char *ex = db_val(q->db, "SELECT status FROM webhook_endpoints WHERE public_id = $1", q->params[0]);
    if (!ex || !strcmp(ex, "deleted")) {
        free(ex);
        resp_error(r, 404, "not_found", "no such webhook endpoint");
        return;
    }
    if (window_check(q->db, since, until, r)) {
        free(ex);
        return;
    }
    char *n = db_val(q->db, RECOVER_COUNT_SQL, q->params[0], since, until);
    if (!n) resp_db_error(r, q->db, NULL, "recover preview");
    else resp_json(r, 200, json_pack("{ss ss ss ss sI}", "endpoint", q->params[0], "endpoint_status", ex,
                                     "since", since, "until", until, "count", (json_int_t)atoll(n)));
    free(n);
    free(ex);
}

static void job_reply(struct req *q, struct resp *r, const char *jid, int status)
{
    PGresult *res = db_q(q->db, "SELECT " JOB_JSON "WHERE j.id = $1", jid);
    int failed;
    json_t *o = json_row(res, &failed);
    PQclear(res);
    if (o) resp_json(r, status, o);
    else if (failed) resp_db_error(r, q->db, NULL, "job read");
    else resp_error(r, 404, "not_found", "no such recover job");
}

static void ops_recover(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "since", "until", "reason", NULL };
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    const char *since = NULL, *until = NULL, *reason = NULL;
    char id[32], *st = NULL, *jid = NULL;
    if (jget_str(b, "since", 1, 40, &since, r) || jget_str(b, "until", 1, 40, &until, r) ||
        jget_str(b, "reason", 0, 500, &reason, r) || window_check(q->db, since, until, r))
        goto out;
    if (tx_begin(q, r) || !(st = lock_endpoint(q, r, id))) goto out;
    if (strcmp(st, "enabled")) {
        resp_error(r, 409, "endpoint_disabled", "enable the endpoint before recovering its deliveries");
        goto out;
    }
    jid = db_val(q->db,
        "INSERT INTO webhook_recover_jobs (endpoint_id, since, until, total, requested_by)"
        " SELECT $1, $2::timestamptz, $3::timestamptz, count(*), $4 FROM webhook_deliveries"
        " WHERE endpoint_id = $1 AND status = 'failed' AND created_at >= $2::timestamptz"
        " AND created_at < $3::timestamptz RETURNING id", id, since, until, q->who.name);
    char pub[40];
    snprintf(pub, sizeof pub, "wrj_%s", jid ? jid : "");
    json_t *after = json_pack("{ss ss ss}", "since", since, "until", until, "job", pub);
    int failed = !jid || audit_write(q->db, &q->who, "webhook_endpoint.recover", "webhook_endpoint", q->params[0],
                                     reason, NULL, after);
    json_decref(after);
    if (failed) {
        resp_db_error(r, q->db, NULL, "recover");
        goto out;
    }
    if (!tx_commit(q, r)) job_reply(q, r, jid, 202);
out:
    free(st);
    free(jid);
    json_decref(b);
}

static void ops_job_get(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { NULL };
    if (query_check(q, r, allowed)) return;
    long long id = prefixed_id(q->params[0], "wrj_");
    char s[24];
    snprintf(s, sizeof s, "%lld", id);
    if (!id) resp_error(r, 404, "not_found", "no such recover job");
    else job_reply(q, r, s, 200);
}

/* ------------------------------------------------------------------ operators: deliveries */

static void deliveries_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "endpoint", "status", "event_type", "since", "until", "limit", "cursor",
                                           NULL };
    if (query_check(q, r, allowed)) return;
    const char *ep = req_query(q, "endpoint"), *st = req_query(q, "status"), *et = req_query(q, "event_type");
    const char *since = req_query(q, "since"), *until = req_query(q, "until"), *cursor = req_query(q, "cursor");
    int limit;
    if (query_limit(q, r, 50, 500, &limit)) return;
    if (st && !in_list(st, DELIVERY_STATUSES)) {
        resp_error(r, 400, "invalid_parameter", "status must be one of pending, in_flight, succeeded, failed, canceled");
        return;
    }
    if (et && !in_list(et, EVENT_TYPES)) {
        resp_error(r, 400, "invalid_parameter", "unknown event_type");
        return;
    }
    if ((since && !util_rfc3339_valid(since)) || (until && !util_rfc3339_valid(until))) {
        resp_error(r, 400, "invalid_parameter", "since and until must be RFC 3339 date-times");
        return;
    }
    long long cur = 0;
    if (cursor && !(cur = prefixed_id(cursor, "whd_"))) {
        resp_error(r, 400, "invalid_parameter", "invalid cursor");
        return;
    }
    char curs[24], lim1[16];
    snprintf(curs, sizeof curs, "%lld", cur);
    snprintf(lim1, sizeof lim1, "%d", limit + 1);
    if (ep) {
        char *x = db_val(q->db, "SELECT 1 FROM webhook_endpoints WHERE public_id = $1", ep);
        if (!x) {
            resp_error(r, 400, "invalid_parameter", "no such endpoint");
            return;
        }
        free(x);
    }
    enum { DJ_JSON, DJ_ID };
    PGresult *res = db_q(q->db,
        "SELECT " DELIVERY_JSON "::text, d.id FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        " WHERE ($1::text IS NULL OR e.public_id = $1) AND ($2::text IS NULL OR d.status = $2)"
        " AND ($3::text IS NULL OR d.event_type = $3) AND ($4::timestamptz IS NULL OR d.created_at >= $4::timestamptz)"
        " AND ($5::timestamptz IS NULL OR d.created_at < $5::timestamptz) AND ($6::bigint = 0 OR d.id < $6::bigint)"
        " ORDER BY d.id DESC LIMIT $7::int", ep, st, et, since, until, curs, lim1);
    if (db_failed(res)) {
        /* a time that passed the pattern but is out of range (e.g. month 13) */
        if (!strncmp(db_sqlstate(res), "22", 2)) resp_error(r, 400, "invalid_parameter", "since/until is not a valid time");
        else resp_db_error(r, q->db, res, "delivery list");
        PQclear(res);
        return;
    }
    json_t *arr = json_array(), *next = json_null();
    int n = PQntuples(res);
    for (int i = 0; i < n && i < limit; i++) json_array_append_new(arr, json_loads(PQgetvalue(res, i, DJ_JSON), 0, NULL));
    if (n > limit) {
        json_decref(next);
        next = json_sprintf("whd_%s", PQgetvalue(res, limit - 1, DJ_ID));
    }
    PQclear(res);
    resp_json(r, 200, json_pack("{so so}", "data", arr, "next_cursor", next));
}

static void delivery_get(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { NULL };
    if (query_check(q, r, allowed)) return;
    long long id = prefixed_id(q->params[0], "whd_");
    char s[24];
    snprintf(s, sizeof s, "%lld", id);
    PGresult *res = db_q(q->db,
        "SELECT (" DELIVERY_JSON "::jsonb || jsonb_build_object('payload', o.payload, 'attempts',"
        "  coalesce((SELECT jsonb_agg(jsonb_build_object('attempt', a.attempt_no, 'trigger', a.trigger,"
        "     'operator', a.operator, 'dispatcher', a.dispatcher, 'started_at', " SQL_TS("a.started_at") ","
        "     'finished_at', " SQL_TS("a.finished_at") ", 'duration_ms', a.duration_ms, 'http_status', a.http_status,"
        "     'response_body', a.response_body, 'error', a.error, 'success', a.success, 'signature', a.signature,"
        "     'webhook_timestamp', a.webhook_timestamp) ORDER BY a.attempt_no)"
        "   FROM webhook_attempts a WHERE a.delivery_id = d.id), '[]'::jsonb)))::text"
        " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
        " JOIN webhook_outbox o ON o.id = d.outbox_id WHERE d.id = $1", s);
    int failed;
    json_t *o = id ? json_row(res, &failed) : NULL;
    if (!id) failed = 0;
    PQclear(res);
    if (o) resp_json(r, 200, o);
    else if (failed) resp_db_error(r, q->db, NULL, "delivery read");
    else resp_error(r, 404, "not_found", "no such delivery");
}

static void delivery_retry(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "reason", NULL };
    json_t *b = body_or_empty(q, r, allowed);
    if (!b) return;
    const char *reason = NULL;
    long long id = prefixed_id(q->params[0], "whd_");
    char s[24];
    snprintf(s, sizeof s, "%lld", id);
    if (jget_str(b, "reason", 0, 500, &reason, r)) goto out;
    if (!id) {
        resp_error(r, 404, "not_found", "no such delivery");
        goto out;
    }
    if (tx_begin(q, r)) goto out;
    enum { DL_STATUS, DL_ENDPOINT_STATUS, DL_ATTEMPTS, DL_ENV };
    PGresult *res = db_q(q->db,
        "SELECT d.status, e.status, d.attempts, d.environment FROM webhook_deliveries d"
        " JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1 FOR UPDATE OF d", s);
    if (db_failed(res) || !PQntuples(res)) {
        if (db_failed(res)) resp_db_error(r, q->db, res, "delivery lock");
        else resp_error(r, 404, "not_found", "no such delivery");
        PQclear(res);
        goto out;
    }
    if (q->who.env[0] && strcmp(PQgetvalue(res, 0, DL_ENV), q->who.env)) {   /* DESIGN §7: own environment only */
        resp_error(r, 403, "wrong_environment", "the delivery is in %s; this key acts in %s only", PQgetvalue(res, 0, DL_ENV),
                   q->who.env);
        PQclear(res);
        goto out;
    }
    char dst[16], est[16];
    snprintf(dst, sizeof dst, "%s", PQgetvalue(res, 0, DL_STATUS));
    snprintf(est, sizeof est, "%s", PQgetvalue(res, 0, DL_ENDPOINT_STATUS));
    PQclear(res);
    if (!strcmp(dst, "in_flight") || !strcmp(dst, "canceled")) {
        resp_error(r, 409, "invalid_state", "the delivery is %s", dst);
        goto out;
    }
    if (strcmp(est, "enabled")) {
        resp_error(r, 409, "endpoint_disabled", "the endpoint is %s; enable it first", est);
        goto out;
    }
    res = db_q(q->db,
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), trigger = 'manual',"
        " operator = $2, finished_at = NULL, updated_at = now() WHERE id = $1", s, q->who.name);
    int failed = db_failed(res);
    PQclear(res);
    json_t *before = json_pack("{ss}", "status", dst), *after = json_pack("{ss ss}", "status", "pending", "trigger", "manual");
    failed = failed || audit_write(q->db, &q->who, "webhook_delivery.retry", "webhook_delivery", q->params[0], reason,
                                   before, after);
    json_decref(before);
    json_decref(after);
    if (failed) {
        resp_db_error(r, q->db, NULL, "delivery retry");
        goto out;
    }
    if (tx_commit(q, r)) goto out;
    res = db_q(q->db, "SELECT " DELIVERY_JSON "::text FROM webhook_deliveries d JOIN webhook_endpoints e"
                      " ON e.id = d.endpoint_id WHERE d.id = $1", s);
    json_t *o = json_row(res, &failed);
    PQclear(res);
    if (o) resp_json(r, 202, o);
    else resp_db_error(r, q->db, NULL, "delivery read");
out:
    json_decref(b);
}

/* POST /v1/webhook-deliveries/bulk-retry {reason, items: [{id}, …]} — the console's tagged rows, each item
 * through exactly delivery_retry (http_bulk): its own transaction and audit row. */
static char *deliveries_bulk_retry_body(json_t *it, void *ctx)
{
    (void)it;
    const char *v = ctx;
    json_t *o = v ? json_pack("{s:s}", "reason", v) : json_object();
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void deliveries_bulk_retry(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "reason", "items", NULL };
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    const char *v = NULL;
    json_t *items = json_object_get(b, "items");
    if (!jget_str(b, "reason", 0, 8000, &v, r) && !http_bulk_items(items, 1000, 0, r)) {
        int good;
        json_t *results = http_bulk(q, delivery_retry, items, deliveries_bulk_retry_body, (void *)v, &good);
        resp_json(r, 200, json_pack("{s:o,s:i,s:i}", "results", results, "succeeded", good, "failed",
                                    (int)json_array_size(items) - good));
    }
    json_decref(b);
}

const struct route webhook_routes[] = {
    { "POST", "/v1/webhook-endpoints", CAP_MERCHANT, ep_create },
    { "GET", "/v1/webhook-endpoints", CAP_MERCHANT, ep_list },
    { "GET", "/v1/webhook-endpoints/{id}", CAP_MERCHANT, ep_get },
    { "PATCH", "/v1/webhook-endpoints/{id}", CAP_MERCHANT, ep_update },
    { "DELETE", "/v1/webhook-endpoints/{id}", CAP_MERCHANT, ep_delete },
    { "POST", "/v1/webhook-endpoints/{id}/rotate-secret", CAP_MERCHANT, ep_rotate },
    { "GET", "/v1/webhook-endpoints/{id}/health", CAP_READ, ops_ep_health },
    { "POST", "/v1/webhook-endpoints/{id}/disable", CAP_SUPPORT, ops_disable },
    { "POST", "/v1/webhook-endpoints/{id}/enable", CAP_SUPPORT, ops_enable },
    { "POST", "/v1/webhook-endpoints/{id}/rate-limit", CAP_SUPPORT, ops_rate_limit },
    { "GET", "/v1/webhook-endpoints/{id}/recover-preview", CAP_READ, ops_recover_preview },
    { "POST", "/v1/webhook-endpoints/{id}/recover", CAP_SUPPORT, ops_recover },
    { "GET", "/v1/webhook-recover-jobs/{id}", CAP_READ, ops_job_get },
    { "GET", "/v1/webhook-deliveries", CAP_READ, deliveries_list },
    { "GET", "/v1/webhook-deliveries/{id}", CAP_READ, delivery_get },
    { "POST", "/v1/webhook-deliveries/{id}/retry", CAP_SUPPORT, delivery_retry },
    { "POST", "/v1/webhook-deliveries/bulk-retry", CAP_SUPPORT, deliveries_bulk_retry },
    { 0 }
};
