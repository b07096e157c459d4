/* api_payments — the merchant payments API (DESIGN §2–§3):
 *   POST /v1/payments                 create (Idempotency-Key aware)
 *   GET  /v1/payments/{id}            one payment
 *   GET  /v1/payments                 list: state, rail, reference, created_after/before, limit, cursor
 *   POST /v1/payments/{id}/cancel     awaiting_payment → canceled
 * Scope: a merchant key sees only its merchant AND environment; anything else is 404
 * (never 403: the existence of another merchant's payment is not disclosed).
 *
 * Idempotency decisions: the key is scoped to merchant+environment; the request hash is
 * sha256 of the body in canonical JSON (sorted keys, compact), so formatting differences do
 * not count as a different request. Only successful creations are stored — a request that
 * failed (422, 503 pool exhausted) created nothing and may be retried with the same key.
 * The key row is inserted in the same transaction as the payment; a concurrent request with
 * the same key blocks on the unique index, then finds the winner's row and replays it, and
 * its own payment is rolled back. Keys are kept (no expiry yet). */
#include "raild/http.h"
#include "raild/query.h"
#include "raild/lifecycle.h"
#include "raild/payments.h"
#include "core/amount.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REF_MAX_CHARS 200
#define IDEM_KEY_MAX 200
#define METADATA_MAX 4096

static void not_found(struct resp *r)
{
    resp_error(r, 404, "not_found", "no such payment");
}

/* 1..200 code points of valid UTF-8 (jansson already validated), no control characters
 * (C0, DEL, C1): references end up in CSV exports, logs and terminals. */
static int reference_ok(const char *s)
{
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x20 || c == 0x7f) return 0;
        if (c == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) return 0;   /* U+0080–U+009F */
        p++;
        while ((*p & 0xc0) == 0x80) p++;
        chars++;
    }
    return chars >= 1 && chars <= REF_MAX_CHARS;
}

static int idem_key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n < 1 || n > IDEM_KEY_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)k[i] < 0x21 || (unsigned char)k[i] > 0x7e) return 0;
    return 1;
}

static void body_hash(json_t *body, char out[2 * 32 + 3])
{
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char h[32];
    util_sha256(canon ? canon : "", canon ? strlen(canon) : 0, h);
    free(canon);
    out[0] = '\\', out[1] = 'x';
    util_hex(h, 32, out + 2);
}

/* Looks up a stored idempotent response. 1 = replied (replay or conflict), 0 = none,
 * -1 = database error (resp filled). */
static int idem_replay(struct req *q, struct resp *r, const char *key, const char *hash)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
    enum { ID_SAME, ID_STATUS, ID_BODY };
    PGresult *res = db_q(q->db, "SELECT request_hash = $4::bytea, status, response FROM idempotency_keys"
                                " WHERE merchant_id = $1 AND environment = $2 AND key = $3",
                         mid, q->who.env, key, hash);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "idempotency lookup");
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return 0;
    }
    if (strcmp(PQgetvalue(res, 0, ID_SAME), "t")) {
        resp_error(r, 409, "idempotency_conflict",
                   "Idempotency-Key was already used with a different request body");
    } else {
        r->status = atoi(PQgetvalue(res, 0, ID_STATUS));
        r->raw = strdup(PQgetvalue(res, 0, ID_BODY));
        r->content_type = "application/json";
        resp_header(r, "Idempotent-Replayed", "true");
    }
    PQclear(res);
    return 1;
}

struct create_in {
    const char *reference, *rail, *amount_str;
    long long expires_in;
    char *metadata;              /* compact JSON, malloc'd */
    char units[AMOUNT_STR_MAX];
    char network[32];
};

/* The shortest expires_in a payment may ask for: 60 s, or in sandbox RAILD_SANDBOX_MIN_EXPIRY_S
 * (10-60), so a demo or a merchant's integration test sees expiries and late payments
 * within a minute. Production is never below 60 s. */
static long long min_expiry_s(const char *env)
{
    static long long sandbox = -1;
    if (sandbox < 0) sandbox = util_env_i64("RAILD_SANDBOX_MIN_EXPIRY_S", 60, 10, 60, "payments.bad_min_expiry");
    return strcmp(env, "sandbox") ? 60 : sandbox;
}

/* Field validation and rail checks; all before any write. 0 ok, -1 resp filled. */
static int create_validate(struct req *q, struct resp *r, json_t *b, struct create_in *in)
{
    in->expires_in = 3600;
    if (jget_str(b, "reference", 1, 4 * REF_MAX_CHARS, &in->reference, r) ||
        jget_str(b, "rail", 1, 64, &in->rail, r) ||
        jget_int(b, "expires_in", 0, min_expiry_s(q->who.env), 604800, &in->expires_in, r))
        return -1;
    if (!reference_ok(in->reference)) {
        resp_error(r, 400, "invalid_request", "reference must be 1-%d characters without control characters",
                   REF_MAX_CHARS);
        return -1;
    }
    json_t *meta = json_object_get(b, "metadata");
    if (meta && !json_is_null(meta)) {
        if (!json_is_object(meta)) {
            resp_error(r, 400, "invalid_request", "field 'metadata' must be an object");
            return -1;
        }
        in->metadata = json_dumps(meta, JSON_COMPACT);
        if (!in->metadata || strlen(in->metadata) > METADATA_MAX) {
            resp_error(r, 400, "invalid_request", "field 'metadata' must be at most %d bytes as JSON", METADATA_MAX);
            return -1;
        }
    }
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
    enum { RL_DECIMALS, RL_NETWORK, RL_ENABLED, RL_CONFIGURED };
    PGresult *res = db_q(q->db, "SELECT r.decimals, r.network, coalesce(m.enabled, false), r.contract IS NOT NULL FROM rails r"
                                " LEFT JOIN merchant_rails m ON m.rail = r.id AND m.merchant_id = $2"
                                " AND m.environment = r.environment WHERE r.id = $1 AND r.environment = $3",
                         in->rail, mid, q->who.env);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "rail lookup");
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        resp_error(r, 422, "unknown_rail", "unknown rail '%.64s'", in->rail);
        return -1;
    }
    int decimals = atoi(PQgetvalue(res, 0, RL_DECIMALS)), enabled = !strcmp(PQgetvalue(res, 0, RL_ENABLED), "t");
    int configured = !strcmp(PQgetvalue(res, 0, RL_CONFIGURED), "t");
    snprintf(in->network, sizeof in->network, "%s", PQgetvalue(res, 0, RL_NETWORK));
    PQclear(res);
    if (!enabled) {
        resp_error(r, 422, "rail_not_enabled", "rail '%s' is not enabled for this merchant in %s", in->rail,
                   q->who.env);
        return -1;
    }
    if (!configured) {   /* a sandbox rail whose test token the deployment has not named yet */
        resp_error(r, 422, "rail_not_configured", "rail '%s' has no token contract configured in %s yet", in->rail,
                   q->who.env);
        return -1;
    }
    json_t *amt = json_object_get(b, "amount");
    u128 units;
    if (!json_is_string(amt) || amount_parse(json_string_value(amt), decimals, &units)) {
        resp_error(r, 422, "invalid_amount",
                   "amount must be a positive decimal string with at most %d fractional digits", decimals);
        return -1;
    }
    amount_units_str(units, in->units);
    return 0;
}

/* Inserts the payment with a fresh deposit address (never reused) in one statement.
 * Returns the payment id, 0 when the pool is empty, -1 on a database error. */
static long long create_insert(struct req *q, struct resp *r, const struct create_in *in)
{
    char pub[48], mid[32], exp[32];
    util_random_id("pay_", pub, sizeof pub);
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
    snprintf(exp, sizeof exp, "%lld", in->expires_in);
    PGresult *res = db_q(q->db,
        /* network as a range, ordered by (network, id): only the partial index
         * deposit_addresses_free gives that order. With `network = $1 ORDER BY id` the planner
         * walks the primary key from the oldest (long assigned) address: 300 ms a claim
         * after a million payments (make bench). */
        "WITH a AS (SELECT id, address FROM deposit_addresses WHERE network >= $1 AND network <= $1"
        "           AND payment_id IS NULL ORDER BY network, id LIMIT 1 FOR UPDATE SKIP LOCKED),"
        " p AS (INSERT INTO payments (public_id, merchant_id, environment, rail, reference, amount, state,"
        "       deposit_address, metadata, expires_at)"
        "       SELECT $2, $3, $4, $5, $6, $7, 'awaiting_payment', a.address, coalesce($8::jsonb, '{}'),"
        "              now() + make_interval(secs => $9::int) FROM a RETURNING id)"
        " UPDATE deposit_addresses d SET payment_id = p.id FROM p, a WHERE d.id = a.id RETURNING p.id",
        in->network, pub, mid, q->who.env, in->rail, in->reference, in->units, in->metadata, exp);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "create payment");
        PQclear(res);
        return -1;
    }
    long long id = PQntuples(res) ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    return id;
}

/* Stores the response under the key. 1 stored, 0 someone else's won (replay theirs), -1 error. */
static int idem_store(struct req *q, struct resp *r, const char *key, const char *hash, const char *bytes)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
    PGresult *res = db_q(q->db, "INSERT INTO idempotency_keys (merchant_id, environment, key, request_hash, status,"
                                " response) VALUES ($1, $2, $3, $4::bytea, 201, $5) ON CONFLICT DO NOTHING RETURNING 1",
                         mid, q->who.env, key, hash, bytes);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "idempotency store");
        PQclear(res);
        return -1;
    }
    int stored = PQntuples(res) == 1;
    PQclear(res);
    return stored;
}

static void payments_create(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "reference", "amount", "rail", "expires_in", "metadata", NULL };
    const char *key = req_header(q, "Idempotency-Key");
    if (key && !idem_key_ok(key)) {
        resp_error(r, 400, "invalid_request", "Idempotency-Key must be 1-%d printable ASCII characters", IDEM_KEY_MAX);
        return;
    }
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    char hash[2 * 32 + 3];
    body_hash(b, hash);
    struct create_in in = { 0 };
    if ((key && idem_replay(q, r, key, hash)) || create_validate(q, r, b, &in) || tx_begin(q, r)) goto out;
    long long id = create_insert(q, r, &in);
    if (id == 0) {
        resp_error(r, 503, "address_pool_exhausted", "no free deposit address on %s; try again later", in.network);
        log_warn("payment.address_pool_exhausted", "network=%s merchant_id=%lld", in.network, q->who.merchant_id);
    }
    if (id <= 0 || lifecycle_record_created(q->db, id, NULL)) {
        if (id > 0) resp_db_error(r, q->db, NULL, "payment event");
        goto out;
    }
    json_t *pj = payment_json(q->db, id);
    char *bytes = pj ? json_dumps(pj, JSON_COMPACT) : NULL;
    json_decref(pj);
    if (!bytes) {
        resp_db_error(r, q->db, NULL, "payment load");
        goto out;
    }
    int stored = key ? idem_store(q, r, key, hash, bytes) : 1;
    if (stored == 0) {                    /* a concurrent request with this key won */
        db_cmd(q->db, "ROLLBACK");
        idem_replay(q, r, key, hash);
    } else if (stored == 1 && tx_commit(q, r) == 0) {
        r->status = 201;
        r->raw = bytes;
        bytes = NULL;
        r->content_type = "application/json";
        log_info("payment.created", "payment_id=%lld rail=%s merchant_id=%lld env=%s", id, in.rail,
                 q->who.merchant_id, q->who.env);
    }
    free(bytes);
out:
    free(in.metadata);
    json_decref(b);
}

static void payments_get(struct req *q, struct resp *r)
{
    json_t *j = payment_json_public(q->db, q->params[0], q->who.merchant_id, q->who.env);
    if (j) resp_json(r, 200, j);
    else if (PQstatus(q->db) != CONNECTION_OK) resp_db_error(r, q->db, NULL, "payment load");
    else not_found(r);
}


static void payments_list(struct req *q, struct resp *r)
{
    /* a misspelt filter must not silently widen the list */
    static const char *const allowed[] = { "state", "rail", "reference", "created_after", "created_before", "limit",
                                           "cursor", NULL };
    if (query_check(q, r, allowed)) return;
    const char *state = req_query(q, "state"), *rail = req_query(q, "rail"), *ref = req_query(q, "reference");
    const char *after = req_query(q, "created_after"), *before = req_query(q, "created_before");
    const char *lim = req_query(q, "limit"), *cursor = req_query(q, "cursor");
    long long limit = 50;
    enum pay_state ps;
    if (lim && util_parse_i64(lim, 1, 200, &limit)) {
        resp_error(r, 400, "invalid_request", "limit must be an integer from 1 to 200");
        return;
    }
    if (state && pay_state_parse(state, &ps)) {
        resp_error(r, 400, "invalid_request", "unknown state '%.40s'", state);
        return;
    }
    if ((after && !util_rfc3339_valid(after)) || (before && !util_rfc3339_valid(before))) {
        resp_error(r, 400, "invalid_request", "created_after/created_before must be RFC 3339 date-times");
        return;
    }
    char mid[32], lim1[24];
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
    snprintf(lim1, sizeof lim1, "%lld", limit + 1);
    char *cur_id = NULL;
    if (cursor) {
        cur_id = db_val(q->db, "SELECT id FROM payments WHERE public_id = $1 AND merchant_id = $2 AND environment = $3",
                        cursor, mid, q->who.env);
        if (!cur_id) {
            resp_error(r, 400, "invalid_request", "invalid cursor");
            return;
        }
    }
    const char *params[] = { mid, q->who.env, state, rail, ref, after, before, cur_id, lim1 };
    json_t *rows = payments_query(q->db,
        "WHERE p.merchant_id = $1 AND p.environment = $2 AND ($3::text IS NULL OR p.state = $3)"
        " AND ($4::text IS NULL OR p.rail = $4) AND ($5::text IS NULL OR p.reference = $5)"
        " AND ($6::timestamptz IS NULL OR p.created_at > $6::timestamptz)"
        " AND ($7::timestamptz IS NULL OR p.created_at < $7::timestamptz)"
        " AND ($8::bigint IS NULL OR p.id < $8::bigint)"
        " ORDER BY p.id DESC LIMIT $9", 9, params);
    free(cur_id);
    if (!rows) {
        PGresult *probe = PQexec(q->db, "SELECT 1");
        int db_ok = !db_failed(probe);
        PQclear(probe);
        if (db_ok) resp_error(r, 400, "invalid_request", "created_after/created_before is not a valid time");
        else resp_db_error(r, q->db, NULL, "payment list");
        return;
    }
    json_t *next = json_null();
    if (json_array_size(rows) > (size_t)limit) {
        json_array_remove(rows, (size_t)limit);
        json_t *last = json_array_get(rows, (size_t)limit - 1);
        json_decref(next);
        next = json_incref(json_object_get(last, "id"));
    }
    resp_json(r, 200, json_pack("{s:o,s:o}", "data", rows, "next_cursor", next));
}

static void payments_cancel(struct req *q, struct resp *r)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
    if (tx_begin(q, r)) return;
    enum { CP_ID, CP_STATE };
    PGresult *res = db_q(q->db, "SELECT id, state FROM payments WHERE public_id = $1 AND merchant_id = $2"
                                " AND environment = $3 FOR UPDATE",
                         q->params[0], mid, q->who.env);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "cancel lookup");
        PQclear(res);
        return;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        not_found(r);
        return;
    }
    long long id = atoll(PQgetvalue(res, 0, CP_ID));
    char state[32];
    snprintf(state, sizeof state, "%s", PQgetvalue(res, 0, CP_STATE));
    PQclear(res);
    if (strcmp(state, "awaiting_payment")) {
        resp_error(r, 409, "invalid_state", "only a payment awaiting payment can be canceled; this one is %s", state);
        return;
    }
    json_t *why = json_pack("{s:s}", "reason", "merchant_canceled");
    int rc = lifecycle_transition(q->db, id, PS_CANCELED, VIA_MERCHANT, -1, why);
    json_decref(why);
    if (rc) {
        resp_db_error(r, q->db, NULL, "cancel");
        return;
    }
    json_t *pj = payment_json(q->db, id);
    if (!pj) {
        resp_db_error(r, q->db, NULL, "payment load");
        return;
    }
    if (tx_commit(q, r)) {
        json_decref(pj);
        return;
    }
    resp_json(r, 200, pj);
}

const struct route payments_routes[] = {
    { "POST", "/v1/payments", CAP_MERCHANT, payments_create },
    { "GET", "/v1/payments", CAP_MERCHANT, payments_list },
    { "GET", "/v1/payments/{id}", CAP_MERCHANT, payments_get },
    { "POST", "/v1/payments/{id}/cancel", CAP_MERCHANT, payments_cancel },
    { 0 }
};
