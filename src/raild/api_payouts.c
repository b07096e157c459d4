/* api_payouts — money out (DESIGN §11):
 *   POST /v1/refunds                          merchant: refund one of its finalized/confirmed payments
 *   POST /v1/payouts                          finance: a settlement to an active whitelist entry
 *   GET  /v1/payouts, /v1/payouts/{id}        list (state, kind, rail, merchant_id, limit, cursor) / detail
 *   POST /v1/payouts/{id}/approve|reject      treasury, {note, version}
 *   POST /v1/payouts/{id}/cancel              the requester or treasury, before signing
 *   POST /v1/merchants/{id}/payout-addresses  finance: a whitelist entry → pending_approval
 *   GET  /v1/payout-addresses                 the whitelist (merchant_id, state)
 *   POST /v1/payout-addresses/{id}/approve|reject   treasury → cooling_off (→ active) / rejected
 * Every write is one transaction with its audit row; a payout belongs to its requester's
 * environment and is invisible (404) from any other, and to any other merchant. */
#include "raild/audit.h"
#include "raild/http.h"
#include "raild/payouts.h"
#include "raild/query.h"
#include "core/address.h"
#include "core/db.h"
#include "core/keccak.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LL(buf, v) snprintf(buf, sizeof buf, "%lld", (long long)(v))
#define NOTE_MAX 2000

#define public_view payout_public

static void reply_err(struct resp *r, const struct payout_err *e)
{
    resp_error(r, e->status, e->code, "%s", e->message);
}

static int note_ok(const char *note, struct resp *r)
{
    if (!note || !*note || strlen(note) > NOTE_MAX) {
        resp_error(r, 422, "note_required", "a note of 1-%d bytes is required", NOTE_MAX);
        return 0;
    }
    return 1;
}

static void body_hash(json_t *body, char out[67])
{
    char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
    unsigned char h[32];
    util_sha256(canon ? canon : "", canon ? strlen(canon) : 0, h);
    free(canon);
    util_hex(h, 32, out);
}

/* A stored refund under this Idempotency-Key: replays it (200) or 409 for another body.
 * 1 replied, 0 none, -1 resp filled with an error. */
static int idem_replay(struct req *q, struct resp *r, const char *key, const char *hash)
{
    char mid[32];
    LL(mid, q->who.merchant_id);
    enum { I_ID, I_SAME };
    PGresult *res = db_q(q->db, "SELECT id, request_hash = $4 FROM payouts WHERE merchant_id = $1::bigint"
                                " AND environment = $2 AND idempotency_key = $3", mid, q->who.env, key, hash);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "payouts.idempotency"); PQclear(res); return -1; }
    if (PQntuples(res) == 0) { PQclear(res); return 0; }
    long long id = atoll(PQgetvalue(res, 0, I_ID));
    int same = PQgetvalue(res, 0, I_SAME)[0] == 't';
    PQclear(res);
    if (!same) {
        resp_error(r, 409, "idempotency_conflict", "Idempotency-Key was already used with a different request body");
        return 1;
    }
    json_t *j = payout_json(q->db, id, 0);
    if (!j) { resp_db_error(r, q->db, NULL, "payouts.replay"); return 1; }
    resp_json(r, 200, public_view(j));
    resp_header(r, "Idempotent-Replayed", "true");
    return 1;
}

/* The end of every write here: the audit row in the transaction, the commit, then `status`
 * with `after` (stolen; NULL means it could not be loaded). 0 answered, -1 resp filled. */
static int audit_commit_reply(struct req *q, struct resp *r, int status, const char *action, const char *type,
                              const char *id, const char *why, json_t *before, json_t *after)
{
    int rc = -1;
    if (!after) resp_db_error(r, q->db, NULL, "payouts.load");
    else if (audit_write(q->db, &q->who, action, type, id, why, before, after)) resp_db_error(r, q->db, NULL, "payouts.audit");
    else if (!tx_commit(q, r)) {
        resp_json(r, status, after);
        return 0;
    }
    json_decref(after);
    return rc;
}

/* Commits a new payout and answers 201 with it, its audit row in the same transaction. */
static void created(struct req *q, struct resp *r, long long id, const char *action)
{
    json_t *j = payout_json(q->db, id, 0);
    if (j) public_view(j);
    const char *pub = j ? json_string_value(json_object_get(j, "id")) : "";
    audit_commit_reply(q, r, 201, action, "payout", pub, j ? json_string_value(json_object_get(j, "reason")) : NULL,
                       NULL, j);
}

/* ------------------------------------------------------------ POST /v1/refunds */

static void refunds_create(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "payment_id", "amount", "to_address", "reason", NULL };
    const char *key = req_header(q, "Idempotency-Key"), *pay, *amount, *to, *reason;
    if (key && (!*key || strlen(key) > 200)) {
        resp_error(r, 400, "invalid_request", "Idempotency-Key must be 1-200 characters");
        return;
    }
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    char hash[67];
    body_hash(b, hash);
    if (jget_str(b, "payment_id", 1, 64, &pay, r) || jget_str(b, "amount", 1, 80, &amount, r) ||
        jget_str(b, "to_address", 1, 128, &to, r) || jget_str(b, "reason", 1, 4 * NOTE_MAX, &reason, r))
        goto out;
    if (!*reason || strlen(reason) > NOTE_MAX) {
        resp_error(r, 422, "reason_required", "a reason of 1-%d bytes is required", NOTE_MAX);
        goto out;
    }
    if ((key && idem_replay(q, r, key, hash)) || tx_begin(q, r)) goto out;
    char mid[32];
    LL(mid, q->who.merchant_id);
    enum { P_ID, P_STATE, P_RAIL, P_RECEIVED };
    PGresult *res = db_q(q->db, "SELECT id, state, rail, received::text FROM payments WHERE public_id = $1"
                                " AND merchant_id = $2::bigint AND environment = $3 FOR UPDATE", pay, mid, q->who.env);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "refunds.payment"); PQclear(res); goto out; }
    if (PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 404, "not_found", "no such payment");
        goto out;
    }
    const char *st = PQgetvalue(res, 0, P_STATE);
    if (strcmp(st, "finalized") && strcmp(st, "confirmed")) {
        resp_error(r, 422, "invalid_payment_state", "only a confirmed or finalized payment can be refunded (this one is %s)",
                   st);
        PQclear(res);
        goto out;
    }
    char rail[64], received[80];
    snprintf(rail, sizeof rail, "%s", PQgetvalue(res, 0, P_RAIL));
    snprintf(received, sizeof received, "%s", PQgetvalue(res, 0, P_RECEIVED));
    struct payout_req in = { .kind = "refund", .merchant_id = q->who.merchant_id, .env = q->who.env, .rail = rail,
                             .amount = amount, .to_address = to, .reason = reason, .source = "payable",
                             .payment_id = atoll(PQgetvalue(res, 0, P_ID)), .max_units = received,
                             .idem_key = key, .req_hash = key ? hash : NULL };
    PQclear(res);
    struct payout_err e = { 0 };
    long long id = payout_create(q->db, &q->who, &in, &e);
    if (id < 0) resp_db_error(r, q->db, NULL, "refunds.create");
    else if (id == 0 && !strcmp(e.code, "idempotency_conflict") && key) {
        db_cmd(q->db, "ROLLBACK");   /* a concurrent request with this key won: answer as it did */
        idem_replay(q, r, key, hash);
    } else if (id == 0) reply_err(r, &e);
    else created(q, r, id, "payout.request");
out:
    json_decref(b);
}

/* ------------------------------------------------------------ POST /v1/payouts */

/* the active whitelist entry for (merchant, env, network, address), flipping an entry whose
 * cooling-off ended to active. id > 0, 0 none (resp filled), -1 db */
static long long whitelisted(struct req *q, struct resp *r, const char *mid, const char *rail, const char *to)
{
    PGresult *res = db_q(q->db,
        "UPDATE payout_addresses SET state = 'active', version = version + 1, updated_at = now()"
        " WHERE state = 'cooling_off' AND active_from <= now() AND merchant_id = $1::bigint AND environment = $2", mid,
        q->who.env);
    PQclear(res);
    enum { WL_ID, WL_STATE, WL_ACTIVE_FROM };
    res = db_q(q->db,
        "SELECT a.id, a.state, " SQL_TS("a.active_from")
        " FROM payout_addresses a JOIN rails r ON r.network = a.network AND r.environment = a.environment"
        " WHERE a.merchant_id = $1::bigint AND a.environment = $2 AND r.id = $3 AND lower(a.address) = lower($4)"
        " AND a.state IN ('pending_approval','cooling_off','active') FOR UPDATE OF a", mid, q->who.env, rail, to);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "payouts.whitelist"); PQclear(res); return -1; }
    long long id = 0;
    if (PQntuples(res) == 0)
        resp_error(r, 422, "destination_not_whitelisted", "%.64s is not on this merchant's payout whitelist for %s",
                   to, rail);
    else if (strcmp(PQgetvalue(res, 0, WL_STATE), "active"))
        resp_error(r, 422, "destination_not_active", "the whitelist entry for %.64s is %s%s%s", to, PQgetvalue(res, 0, WL_STATE),
                   PQgetisnull(res, 0, WL_ACTIVE_FROM) ? "" : " until ", PQgetvalue(res, 0, WL_ACTIVE_FROM));
    else id = atoll(PQgetvalue(res, 0, WL_ID));
    PQclear(res);
    return id;
}

static void payouts_create(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "kind", "merchant_id", "rail", "amount", "to_address", "reason", NULL };
    const char *kind, *rail, *amount, *to, *reason = NULL;
    long long merchant;
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    if (jget_str(b, "kind", 1, 32, &kind, r) || jget_int(b, "merchant_id", 1, 1, (1LL << 62), &merchant, r) ||
        jget_str(b, "rail", 1, 64, &rail, r) || jget_str(b, "amount", 1, 80, &amount, r) ||
        jget_str(b, "to_address", 1, 128, &to, r) || jget_str(b, "reason", 0, 4 * NOTE_MAX, &reason, r))
        goto out;
    if (strcmp(kind, "settlement")) {
        resp_error(r, 422, "invalid_kind", "kind must be 'settlement' (refunds: POST /v1/refunds or an exception resolution)");
        goto out;
    }
    if (reason && (!*reason || strlen(reason) > NOTE_MAX)) {
        resp_error(r, 422, "reason_required", "reason must be 1-%d bytes", NOTE_MAX);
        goto out;
    }
    if (tx_begin(q, r)) goto out;
    char mid[32];
    LL(mid, merchant);
    char *known = db_val(q->db, "SELECT 1 FROM merchants WHERE id = $1::bigint", mid);
    if (!known) {
        resp_error(r, 422, "unknown_merchant", "no merchant %lld", merchant);
        goto out;
    }
    free(known);
    /* validate the address before the whitelist lookup so a typo says what it is */
    char canon[80];
    int v = address_destination("evm", to, canon, sizeof canon);
    char *kindnet = db_val(q->db, "SELECT n.address_kind FROM rails r JOIN networks n ON n.name = r.network"
                                  " WHERE r.id = $1 AND r.environment = $2", rail, q->who.env);
    if (kindnet && !strcmp(kindnet, "evm") && v) {
        resp_error(r, 422, "invalid_destination", v == -2 ? "to_address '%.64s' fails its EIP-55 checksum"
                                                          : "to_address '%.64s' is not a valid address", to);
        free(kindnet);
        goto out;
    }
    long long wl = kindnet && !strcmp(kindnet, "evm") ? whitelisted(q, r, mid, rail, canon) : 1;
    free(kindnet);
    if (wl <= 0) goto out;
    char reason_buf[256];
    snprintf(reason_buf, sizeof reason_buf, "settlement to merchant %lld", merchant);
    struct payout_req in = { .kind = "settlement", .merchant_id = merchant, .env = q->who.env, .rail = rail,
                             .amount = amount, .to_address = to, .reason = reason ? reason : reason_buf,
                             .source = "payable", .payout_address_id = wl };
    struct payout_err e = { 0 };
    long long id = payout_create(q->db, &q->who, &in, &e);
    if (id < 0) resp_db_error(r, q->db, NULL, "payouts.create");
    else if (id == 0) reply_err(r, &e);
    else created(q, r, id, "payout.request");
out:
    json_decref(b);
}

/* ------------------------------------------------------------ reads */

/* 1 when the caller may see payouts at all (operators and merchants) */
static int reader_ok(struct req *q, struct resp *r)
{
    if (!strcmp(q->who.role, "watcher")) {
        resp_error(r, 403, "forbidden", "watcher keys may not read payouts");
        return 0;
    }
    return 1;
}

static void payouts_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "state", "kind", "rail", "merchant_id", "limit", "cursor", NULL };
    int limit;
    long long cursor = 0, merchant = 0;
    int has_cursor = 0, has_merchant = 0;
    if (!reader_ok(q, r) || query_check(q, r, allowed) || query_limit(q, r, 50, 200, &limit) ||
        query_int(q, r, "cursor", 1, (1LL << 62), &cursor, &has_cursor) ||
        query_int(q, r, "merchant_id", 1, (1LL << 62), &merchant, &has_merchant))
        return;
    const char *state = req_query(q, "state"), *kind = req_query(q, "kind"), *rail = req_query(q, "rail");
    enum payout_state ps;
    if (state && payout_state_parse(state, &ps)) {
        resp_error(r, 400, "invalid_request", "state must be a payout state (requested, approved, …)");
        return;
    }
    if (kind && strcmp(kind, "refund") && strcmp(kind, "settlement")) {
        resp_error(r, 400, "invalid_request", "kind must be refund or settlement");
        return;
    }
    if (!strcmp(q->who.role, "merchant")) merchant = q->who.merchant_id, has_merchant = 1;
    char lim[16], cur[32], mid[32];
    LL(lim, limit + 1);
    LL(cur, has_cursor ? cursor : (1LL << 62));
    LL(mid, merchant);
    const char *params[] = { q->who.env, state, kind, rail, has_merchant ? mid : NULL, cur, lim };
    json_t *rows = payouts_rows(q->db,
        "WHERE p.environment = $1 AND ($2::text IS NULL OR p.state = $2) AND ($3::text IS NULL OR p.kind = $3)"
        " AND ($4::text IS NULL OR p.rail = $4) AND ($5::bigint IS NULL OR p.merchant_id = $5::bigint)"
        " AND p.id < $6::bigint ORDER BY p.id DESC LIMIT $7::int", 7, params);
    if (!rows) { resp_db_error(r, q->db, NULL, "payouts.list"); return; }
    json_t *next = json_null();
    if ((int)json_array_size(rows) > limit) {
        json_array_remove(rows, (size_t)limit);
        json_t *last = json_array_get(rows, (size_t)limit - 1);
        char c[32];
        LL(c, json_integer_value(json_object_get(last, "_row")));
        next = json_string(c);
    }
    size_t i;
    json_t *v;
    json_array_foreach(rows, i, v) public_view(v);
    resp_json(r, 200, json_pack("{s:o,s:o}", "data", rows, "next_cursor", next));
}

/* The payout by public id in the caller's scope, locked when for_update. id > 0, 0 (404 filled), -1 */
static long long find(struct req *q, struct resp *r, int for_update)
{
    char mid[32];
    LL(mid, !strcmp(q->who.role, "merchant") ? q->who.merchant_id : 0);
    PGresult *res = db_q(q->db, for_update
        ? "SELECT id FROM payouts WHERE public_id = $1 AND environment = $2 AND ($3::bigint = 0 OR merchant_id = $3::bigint) FOR UPDATE"
        : "SELECT id FROM payouts WHERE public_id = $1 AND environment = $2 AND ($3::bigint = 0 OR merchant_id = $3::bigint)",
        q->params[0], q->who.env, mid);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "payouts.find"); PQclear(res); return -1; }
    long long id = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : 0;
    PQclear(res);
    if (!id) resp_error(r, 404, "not_found", "no payout with id '%.64s'", q->params[0]);
    return id;
}

static void payouts_get(struct req *q, struct resp *r)
{
    if (!reader_ok(q, r)) return;
    long long id = find(q, r, 0);
    if (id <= 0) return;
    json_t *j = payout_json(q->db, id, 1);
    if (!j) { resp_db_error(r, q->db, NULL, "payouts.get"); return; }
    resp_json(r, 200, public_view(j));
}

/* ------------------------------------------------------------ decisions */

enum decision { DEC_APPROVE, DEC_REJECT, DEC_CANCEL };

static void payouts_decide(struct req *q, struct resp *r, enum decision d)
{
    static const char *const allowed[] = { "note", "version", NULL };
    static const char *const ACTION[] = { "payout.approve", "payout.reject", "payout.cancel" };
    const char *note = NULL;
    long long version;
    json_t *b = req_json_object(q, r, allowed), *before = NULL, *after = NULL;
    if (!b) return;
    if (jget_int(b, "version", 1, 1, 2147483647, &version, r) || jget_str(b, "note", 0, 4 * NOTE_MAX, &note, r) ||
        !note_ok(note, r) || tx_begin(q, r))
        goto out;
    long long id = find(q, r, 1);
    if (id <= 0) goto out;
    char pid[32], kid[32];
    LL(pid, id);
    LL(kid, q->who.key_id);
    enum { D_STATE, D_VERSION, D_MINE, D_SIGNING, D_DECIDED, D_NEEDED, D_HAVE, D_KIND, D_WHITELIST };
    PGresult *res = db_q(q->db, "SELECT state, version, requested_by = $2::bigint, nonce IS NOT NULL,"
                                " EXISTS (SELECT 1 FROM payout_approvals WHERE payout_id = $1::bigint AND key_id = $2::bigint),"
                                " approvals_needed, (SELECT count(*) FROM payout_approvals WHERE payout_id = $1::bigint"
                                "  AND decision = 'approve'), kind, coalesce(payout_address_id, 0)"
                                " FROM payouts WHERE id = $1::bigint", pid, kid);
    if (db_failed(res) || PQntuples(res) != 1) { resp_db_error(r, q->db, res, "payouts.lock"); PQclear(res); goto out; }
    enum payout_state st = POS_FAILED;
    payout_state_parse(PQgetvalue(res, 0, D_STATE), &st);
    int ver = atoi(PQgetvalue(res, 0, D_VERSION)), mine = PQgetvalue(res, 0, D_MINE)[0] == 't';
    int signing = PQgetvalue(res, 0, D_SIGNING)[0] == 't', decided = PQgetvalue(res, 0, D_DECIDED)[0] == 't';
    int needed = atoi(PQgetvalue(res, 0, D_NEEDED)), have = atoi(PQgetvalue(res, 0, D_HAVE));
    int settlement = !strcmp(PQgetvalue(res, 0, D_KIND), "settlement");
    long long wl = atoll(PQgetvalue(res, 0, D_WHITELIST));
    PQclear(res);
    if (ver != version) {
        resp_error(r, 409, "version_conflict", "the payout changed (now version %d, you sent %lld); reload and retry",
                   ver, version);
        goto out;
    }
    if (d == DEC_CANCEL && !mine && strcmp(q->who.role, "treasury")) {
        resp_error(r, 403, "forbidden", "only the requester or treasury may cancel a payout");
        goto out;
    }
    if (d != DEC_CANCEL && mine) {
        resp_error(r, 403, "four_eyes", "you requested this payout: another treasury operator must decide");
        goto out;
    }
    if (d == DEC_CANCEL ? (!payout_cancelable(st) || signing) : st != POS_REQUESTED) {
        resp_error(r, 409, "invalid_state", "cannot %s a payout that is %s", d == DEC_CANCEL ? "cancel"
                   : d == DEC_APPROVE ? "approve" : "reject", signing && st == POS_APPROVED ? "being signed"
                   : payout_state_name(st));
        goto out;
    }
    if (d != DEC_CANCEL && decided) {
        resp_error(r, 409, "already_decided", "you already approved this payout: a second approver must be someone else");
        goto out;
    }
    if (d == DEC_APPROVE && settlement) {   /* the whitelist entry must still be active */
        char w[32];
        LL(w, wl);
        char *ok = db_val(q->db, "SELECT state = 'active' OR (state = 'cooling_off' AND active_from <= now())"
                                 " FROM payout_addresses WHERE id = $1::bigint", w);
        int good = ok && ok[0] == 't';
        free(ok);
        if (!good) {
            resp_error(r, 422, "destination_not_active", "the destination's whitelist entry is no longer active");
            goto out;
        }
    }
    if (!(before = payout_json(q->db, id, 0))) { resp_db_error(r, q->db, NULL, "payouts.before"); goto out; }
    if (d != DEC_CANCEL) {
        res = db_q(q->db, "INSERT INTO payout_approvals (payout_id, key_id, key_name, decision, note)"
                          " VALUES ($1::bigint, $2::bigint, $3, $4, $5)", pid, kid, q->who.name,
                   d == DEC_APPROVE ? "approve" : "reject", note);
        int bad = db_failed(res);
        if (bad) resp_db_error(r, q->db, res, "payouts.approval");
        PQclear(res);
        if (bad) goto out;
    }
    json_t *data = json_pack("{s:s}", "note", note);
    int m = 0;
    if (d == DEC_REJECT) m = payout_move(q->db, id, POS_REJECTED, q->who.name, data, NULL);
    else if (d == DEC_CANCEL) m = payout_move(q->db, id, POS_CANCELED, q->who.name, data, NULL);
    else if (have + 1 >= needed) m = payout_move(q->db, id, POS_APPROVED, q->who.name, data, NULL);
    else {   /* the first of two approvals: recorded, version moves so others reload */
        res = db_q(q->db, "UPDATE payouts SET version = version + 1, updated_at = now() WHERE id = $1::bigint", pid);
        m = db_failed(res) ? -2 : 0;
        PQclear(res);
    }
    json_decref(data);
    if (m) { resp_db_error(r, q->db, NULL, "payouts.move"); goto out; }
    after = payout_json(q->db, id, 0);
    public_view(before);
    if (after) public_view(after);
    audit_commit_reply(q, r, 200, ACTION[d], "payout", q->params[0], note, before, after);
    after = NULL;
out:
    json_decref(before);
    json_decref(after);
    json_decref(b);
}

static void payouts_approve(struct req *q, struct resp *r) { payouts_decide(q, r, DEC_APPROVE); }
static void payouts_reject(struct req *q, struct resp *r) { payouts_decide(q, r, DEC_REJECT); }
static void payouts_cancel(struct req *q, struct resp *r) { payouts_decide(q, r, DEC_CANCEL); }

/* ------------------------------------------------------------ whitelist */

#define PAD_COLS                                                                                              \
    "a.public_id, a.merchant_id, a.environment, a.network, a.address, a.label, a.state, a.version,"          \
    " a.requested_by_name, coalesce(a.approved_by_name, ''), coalesce(a.note, ''),"                          \
    " coalesce(" SQL_TS("a.active_from") ", ''), " SQL_TS("a.created_at") ", n.address_kind"
enum { PAD_ID, PAD_MERCHANT, PAD_ENV, PAD_NETWORK, PAD_ADDRESS, PAD_LABEL, PAD_STATE, PAD_VERSION, PAD_REQUESTED_BY,
       PAD_APPROVED_BY, PAD_NOTE, PAD_ACTIVE_FROM, PAD_CREATED, PAD_KIND };

static json_t *pad_row(PGresult *res, int i)
{
#define C(n) PQgetvalue(res, i, n)
    char shown[48];
    if (strcmp(C(PAD_KIND), "evm") || eip55_checksum(C(PAD_ADDRESS), shown, sizeof shown))
        snprintf(shown, sizeof shown, "%s", C(PAD_ADDRESS));
    json_t *j = json_pack("{s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:i,s:s}", "id", C(PAD_ID),
                          "merchant_id", (json_int_t)atoll(C(PAD_MERCHANT)), "environment", C(PAD_ENV),
                          "network", C(PAD_NETWORK), "address", shown, "label", C(PAD_LABEL), "state", C(PAD_STATE),
                          "version", atoi(C(PAD_VERSION)), "requested_by", C(PAD_REQUESTED_BY));
    json_object_set_new(j, "approved_by", C(PAD_APPROVED_BY)[0] ? json_string(C(PAD_APPROVED_BY)) : json_null());
    json_object_set_new(j, "note", C(PAD_NOTE)[0] ? json_string(C(PAD_NOTE)) : json_null());
    json_object_set_new(j, "active_from", C(PAD_ACTIVE_FROM)[0] ? json_string(C(PAD_ACTIVE_FROM)) : json_null());
    json_object_set_new(j, "created_at", json_string(C(PAD_CREATED)));
#undef C
    return j;
}

static json_t *pad_load(PGconn *db, long long id)
{
    char s[32];
    LL(s, id);
    PGresult *res = db_q(db, "SELECT " PAD_COLS " FROM payout_addresses a JOIN networks n ON n.name = a.network"
                             " WHERE a.id = $1::bigint", s);
    json_t *j = !db_failed(res) && PQntuples(res) == 1 ? pad_row(res, 0) : NULL;
    PQclear(res);
    return j;
}

static void pad_create(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "network", "address", "label", NULL };
    const char *net, *addr, *label;
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    char *end;
    long long merchant = strtoll(q->params[0], &end, 10);
    if (*end || merchant <= 0) {
        resp_error(r, 404, "not_found", "no merchant '%.32s'", q->params[0]);
        goto out;
    }
    if (jget_str(b, "network", 1, 40, &net, r) || jget_str(b, "address", 1, 128, &addr, r) ||
        jget_str(b, "label", 1, 800, &label, r))
        goto out;
    if (!*label || strlen(label) > 200) {
        resp_error(r, 422, "invalid_label", "label must be 1-200 bytes");
        goto out;
    }
    if (tx_begin(q, r)) goto out;
    char mid[32];
    LL(mid, merchant);
    char *m = db_val(q->db, "SELECT 1 FROM merchants WHERE id = $1::bigint", mid);
    if (!m) { resp_error(r, 404, "not_found", "no merchant %lld", merchant); goto out; }
    free(m);
    char *kind = db_val(q->db, "SELECT address_kind FROM networks WHERE name = $1 AND environment = $2", net, q->who.env);
    if (!kind) {
        resp_error(r, 422, "unknown_network", "no network '%.40s' in %s", net, q->who.env);
        goto out;
    }
    char canon[80];
    int v = address_destination(kind, addr, canon, sizeof canon);
    free(kind);
    if (v) {
        resp_error(r, 422, "invalid_destination", v == -2 ? "address '%.64s' fails its EIP-55 checksum"
                                                          : "address '%.64s' is not a valid address for this network", addr);
        goto out;
    }
    char *ours = db_val(q->db, "SELECT EXISTS (SELECT 1 FROM deposit_addresses WHERE network = $1 AND lower(address) = lower($2))"
                               " OR EXISTS (SELECT 1 FROM wallets WHERE network = $1 AND lower(address) = lower($2))", net, canon);
    int mine = ours && ours[0] == 't';
    free(ours);
    if (mine) {
        resp_error(r, 422, "invalid_destination", "%.64s is one of our own addresses", canon);
        goto out;
    }
    char pub[48], kid[32];
    util_random_id("pad_", pub, sizeof pub);
    LL(kid, q->who.key_id);
    PGresult *res = db_q(q->db, "INSERT INTO payout_addresses (public_id, merchant_id, environment, network, address, label,"
                                " requested_by, requested_by_name) VALUES ($1, $2::bigint, $3, $4, $5, $6, $7::bigint, $8)"
                                " RETURNING id", pub, mid, q->who.env, net, canon, label, kid, q->who.name);
    if (db_failed(res)) {
        if (!strcmp(db_sqlstate(res), SQLSTATE_UNIQUE_VIOLATION))
            resp_error(r, 409, "already_listed", "this address is already on the merchant's whitelist for %s", net);
        else resp_db_error(r, q->db, res, "payout_addresses.insert");
        PQclear(res);
        goto out;
    }
    long long id = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    audit_commit_reply(q, r, 201, "payout_address.request", "payout_address", pub, label, NULL, pad_load(q->db, id));
out:
    json_decref(b);
}

static void pad_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "merchant_id", "state", NULL };
    long long merchant = 0;
    int has = 0;
    if (query_check(q, r, allowed) || query_int(q, r, "merchant_id", 1, (1LL << 62), &merchant, &has)) return;
    const char *state = req_query(q, "state");
    char mid[32];
    LL(mid, merchant);
    PGresult *res = db_q(q->db, "SELECT " PAD_COLS " FROM payout_addresses a JOIN networks n ON n.name = a.network"
                                " WHERE a.environment = $1 AND ($2::bigint IS NULL OR a.merchant_id = $2::bigint)"
                                " AND ($3::text IS NULL OR a.state = $3) ORDER BY a.id DESC LIMIT 500",
                         q->who.env, has ? mid : NULL, state);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "payout_addresses.list"); PQclear(res); return; }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(res); i++) json_array_append_new(a, pad_row(res, i));
    PQclear(res);
    resp_json(r, 200, json_pack("{s:o}", "data", a));
}

static void pad_decide(struct req *q, struct resp *r, int approve)
{
    static const char *const allowed[] = { "note", "version", NULL };
    const char *note = NULL;
    long long version;
    json_t *b = req_json_object(q, r, allowed), *before = NULL, *after = NULL;
    if (!b) return;
    if (jget_int(b, "version", 1, 1, 2147483647, &version, r) || jget_str(b, "note", 0, 4 * NOTE_MAX, &note, r) ||
        !note_ok(note, r) || tx_begin(q, r))
        goto out;
    enum { W_ID, W_STATE, W_VERSION, W_REQUESTER };
    PGresult *res = db_q(q->db, "SELECT id, state, version, requested_by FROM payout_addresses WHERE public_id = $1"
                                " AND environment = $2 FOR UPDATE", q->params[0], q->who.env);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "payout_addresses.lock"); PQclear(res); goto out; }
    if (PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 404, "not_found", "no payout address '%.64s'", q->params[0]);
        goto out;
    }
    long long id = atoll(PQgetvalue(res, 0, W_ID)), requester = atoll(PQgetvalue(res, 0, W_REQUESTER));
    int ver = atoi(PQgetvalue(res, 0, W_VERSION));
    int pending = !strcmp(PQgetvalue(res, 0, W_STATE), "pending_approval");
    char state[32];
    snprintf(state, sizeof state, "%s", PQgetvalue(res, 0, W_STATE));
    PQclear(res);
    if (ver != version) {
        resp_error(r, 409, "version_conflict", "the entry changed (now version %d); reload and retry", ver);
        goto out;
    }
    if (requester == q->who.key_id) {
        resp_error(r, 403, "four_eyes", "you requested this entry: another treasury operator must decide");
        goto out;
    }
    if (!pending) {
        resp_error(r, 409, "invalid_state", "cannot decide on an entry that is %s", state);
        goto out;
    }
    long long cool = payout_cooling_off_s();
    char sid[32], kid[32], cs[32];
    LL(sid, id);
    LL(kid, q->who.key_id);
    LL(cs, cool < 0 ? 86400 : cool);
    before = pad_load(q->db, id);
    res = db_q(q->db, approve
        ? "UPDATE payout_addresses SET state = 'cooling_off', approved_by = $2::bigint, approved_by_name = $3, note = $4,"
          " active_from = now() + make_interval(secs => $5::int), version = version + 1, updated_at = now()"
          " WHERE id = $1::bigint"
        : "UPDATE payout_addresses SET state = 'rejected', note = $4, version = version + 1, updated_at = now()"
          " WHERE id = $1::bigint AND $2::bigint > 0 AND $3 <> '' AND $5::int >= 0",
        sid, kid, q->who.name, note, cs);
    int bad = db_failed(res);
    if (bad) resp_db_error(r, q->db, res, "payout_addresses.decide");
    PQclear(res);
    if (bad) goto out;
    audit_commit_reply(q, r, 200, approve ? "payout_address.approve" : "payout_address.reject", "payout_address",
                       q->params[0], note, before, pad_load(q->db, id));
out:
    json_decref(before);
    json_decref(after);
    json_decref(b);
}

static void pad_approve(struct req *q, struct resp *r) { pad_decide(q, r, 1); }
static void pad_reject(struct req *q, struct resp *r) { pad_decide(q, r, 0); }

const struct route payout_routes[] = {
    { "POST", "/v1/refunds", CAP_MERCHANT, refunds_create },
    { "POST", "/v1/payouts", CAP_FINANCE, payouts_create },
    { "GET", "/v1/payouts", CAP_ANY_KEY, payouts_list },
    { "GET", "/v1/payouts/{id}", CAP_ANY_KEY, payouts_get },
    { "POST", "/v1/payouts/{id}/approve", CAP_TREASURY, payouts_approve },
    { "POST", "/v1/payouts/{id}/reject", CAP_TREASURY, payouts_reject },
    { "POST", "/v1/payouts/{id}/cancel", CAP_ANY_KEY, payouts_cancel },
    { "POST", "/v1/merchants/{id}/payout-addresses", CAP_FINANCE, pad_create },
    { "GET", "/v1/payout-addresses", CAP_READ, pad_list },
    { "POST", "/v1/payout-addresses/{id}/approve", CAP_TREASURY, pad_approve },
    { "POST", "/v1/payout-addresses/{id}/reject", CAP_TREASURY, pad_reject },
    { 0 }
};
