/* The exceptions API (DESIGN §4): the ops queue, read by any operator, acted on by ops
 * (and admin). Every action is optimistic-versioned — the caller sends the version it
 * saw, the second writer gets 409 version_conflict — and writes its audit row (who,
 * what, why = note, before and after) in the same transaction as the change. */
#include "raild/audit.h"
#include "raild/exceptions.h"
#include "raild/http.h"
#include "raild/payouts.h"
#include "raild/ingest.h"
#include "raild/webhook_outbox.h"
#include "raild/payments.h"
#include "raild/query.h"
#include "raild/resolve.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX_CHARS 2000

/* One exception as the API shows it: the engine's exc_json() (the same object the
 * exception.* webhooks carry, so the two never drift) plus `allowed_resolutions` and the
 * transfer's network inside `transfer` (a transfer is identified by network, tx, log). */
/* what the API adds to an exception's JSON */
static json_t *exc_dress(json_t *o)
{
    json_object_set(o, "allowed_resolutions", json_object_get(o, "resolutions"));
    json_t *t = json_object_get(o, "transfer");
    if (json_is_object(t)) json_object_set(t, "network", json_object_get(o, "network"));
    return o;
}

static json_t *exc_load(PGconn *db, long long id)
{
    json_t *o = exc_json(db, id);
    return o ? exc_dress(o) : NULL;
}

/* ------------------------------------------------------------- GET list */

/* "a,b,c" → "{a,b,c}" after checking each item against `valid`; NULL param when absent. */
static int list_param(struct req *q, struct resp *r, const char *name, int (*valid)(const char *),
                      char *out, size_t outlen, const char **param)
{
    const char *v = req_query(q, name);
    *param = NULL;
    if (!v) return 0;
    char buf[512];
    if (strlen(v) == 0 || strlen(v) >= sizeof buf || strlen(v) + 3 > outlen) {
        resp_error(r, 400, "invalid_request", "'%s' must be a comma-separated list of values", name);
        return -1;
    }
    snprintf(buf, sizeof buf, "%s", v);
    size_t n = snprintf(out, outlen, "{");
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (!valid(tok)) {
            resp_error(r, 400, "invalid_request", "unknown %s '%.64s'", name, tok);
            return -1;
        }
        n += snprintf(out + n, outlen - n, "%s%s", n > 1 ? "," : "", tok);
    }
    if (n == 1) {
        resp_error(r, 400, "invalid_request", "'%s' must name at least one value", name);
        return -1;
    }
    snprintf(out + n, outlen - n, "}");
    *param = out;
    return 0;
}

static int exc_state_valid(const char *s)
{
    return !strcmp(s, "open") || !strcmp(s, "claimed") || !strcmp(s, "resolved") || !strcmp(s, "dismissed");
}

/* cursor = "<severity>.<sla_due in epoch microseconds>.<id>" of the last row returned */
static int parse_cursor(const char *c, char sev[8], char us[24], char id[24])
{
    long long a, b, d;
    char tmp[96];
    if (strlen(c) >= sizeof tmp) return -1;
    snprintf(tmp, sizeof tmp, "%s", c);
    char *p1 = strchr(tmp, '.'), *p2 = p1 ? strchr(p1 + 1, '.') : NULL;
    if (!p1 || !p2) return -1;
    *p1++ = 0;
    *p2++ = 0;
    if (util_parse_i64(tmp, 1, 4, &a) || util_parse_i64(p1, -(1LL << 62), 1LL << 62, &b) ||
        util_parse_i64(p2, 1, 1LL << 62, &d))
        return -1;
    snprintf(sev, 8, "%lld", a);
    snprintf(us, 24, "%lld", b);
    snprintf(id, 24, "%lld", d);
    return 0;
}

static void exceptions_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "type", "state", "severity", "merchant_id", "payment_id", "environment",
                                           "assignee", "limit", "cursor", NULL };
    char types[512], states[64], sev[8] = "", mid[24] = "", csev[8], cus[24], cid[24];
    const char *ptypes, *pstates, *pcur = req_query(q, "cursor"), *pay = req_query(q, "payment_id");
    long long v;
    int limit, has;
    if (query_check(q, r, allowed) || query_limit(q, r, 50, 200, &limit)) return;
    if (list_param(q, r, "type", exc_type_valid, types, sizeof types, &ptypes) ||
        list_param(q, r, "state", exc_state_valid, states, sizeof states, &pstates))
        return;
    if (query_int(q, r, "severity", 1, 4, &v, &has)) return;
    if (has) snprintf(sev, sizeof sev, "%lld", v);
    if (query_int(q, r, "merchant_id", 1, 1LL << 62, &v, &has)) return;
    if (has) snprintf(mid, sizeof mid, "%lld", v);
    if (pay && (!*pay || strlen(pay) > 64)) {
        resp_error(r, 400, "invalid_request", "'payment_id' must be a payment id (pay_…)");
        return;
    }
    const char *env = req_query(q, "environment"), *who = req_query(q, "assignee");
    if (env && strcmp(env, "sandbox") && strcmp(env, "production")) {
        resp_error(r, 400, "invalid_request", "'environment' must be sandbox or production");
        return;
    }
    if (who && (!*who || strlen(who) > 200)) {
        resp_error(r, 400, "invalid_request", "'assignee' must be an operator key name (1-200 characters)");
        return;
    }
    if (pcur && parse_cursor(pcur, csev, cus, cid)) {
        resp_error(r, 400, "invalid_request", "'cursor' is not a cursor this endpoint returned");
        return;
    }
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    enum { P_ID, P_SEVERITY, P_SLA_US, P_CURSOR_ID };
    PGresult *res = db_q(q->db,
        "SELECT e.id, e.severity, (extract(epoch FROM e.sla_due) * 1000000)::bigint, e.id"
        " FROM exceptions e LEFT JOIN payments p ON p.id = e.payment_id"
        " WHERE ($1::text[] IS NULL OR e.type = ANY($1::text[]))"
        "   AND ($2::text[] IS NULL OR e.state = ANY($2::text[]))"
        "   AND ($3::int IS NULL OR e.severity >= $3::int)"
        "   AND ($4::bigint IS NULL OR e.merchant_id = $4::bigint)"
        "   AND ($5::text IS NULL OR p.public_id = $5)"
        "   AND ($6::int IS NULL OR (-e.severity, (extract(epoch FROM e.sla_due) * 1000000)::bigint, e.id)"
        "                           > (-$6::int, $7::bigint, $8::bigint))"
        "   AND ($10::text IS NULL OR e.environment = $10) AND ($11::text IS NULL OR e.assignee = $11)"
        " ORDER BY 5 - e.severity, e.sla_due, e.id LIMIT $9::int",   /* = severity DESC: exceptions_console_queue */
        ptypes, pstates, sev[0] ? sev : NULL, mid[0] ? mid : NULL, pay, pcur ? csev : NULL, pcur ? cus : NULL,
        pcur ? cid : NULL, lim, env, who);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "exceptions.list"); PQclear(res); return; }
    int n = PQntuples(res), shown = n > limit ? limit : n;
    /* the page's rows in one more query (not one per row) */
    struct db_array ids = { 0 };
    for (int i = 0; i < shown; i++) db_array_ll(&ids, atoll(PQgetvalue(res, i, P_ID)));
    json_t *data = exc_json_many(q->db, db_array_text(&ids));
    db_array_free(&ids);
    if (!data) {
        PQclear(res);
        resp_db_error(r, q->db, NULL, "exceptions.list_rows");
        return;
    }
    size_t k;
    json_t *o;
    json_array_foreach(data, k, o) exc_dress(o);
    json_t *next = json_null();
    if (n > limit) {
        char c[96];
        snprintf(c, sizeof c, "%s.%s.%s", PQgetvalue(res, shown - 1, P_SEVERITY), PQgetvalue(res, shown - 1, P_SLA_US),
                 PQgetvalue(res, shown - 1, P_CURSOR_ID));
        next = json_string(c);
    }
    PQclear(res);
    resp_json(r, 200, json_pack("{s:o,s:o}", "data", data, "next_cursor", next));
}

/* ------------------------------------------------------------- GET one */

static json_t *related_transfer(PGconn *db, const char *tid)
{
    PGresult *res = db_q(db,
        "SELECT json_build_object('network', t.network, 'tx_hash', t.tx_hash, 'log_index', t.log_index,"
        " 'block_number', t.block_number, 'block_hash', t.block_hash, 'contract', t.contract,"
        " 'from', t.from_address, 'to', t.to_address, 'value', t.value::text, 'status', t.status,"
        " 'classification', t.classification, 'payment_id', p.public_id, 'counted', t.counted,"
        " 'first_seen_at', " SQL_TS("t.first_seen_at") ")::text"
        " FROM chain_transfers t LEFT JOIN payments p ON p.id = t.payment_id WHERE t.id = $1::bigint", tid);
    json_t *o = NULL;
    if (!db_failed(res) && PQntuples(res) == 1) o = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    return o ? o : json_null();
}

static void exceptions_get(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { NULL };
    if (query_check(q, r, allowed)) return;
    PGresult *res = db_q(q->db, "SELECT e.id, e.payment_id, e.transfer_id FROM exceptions e"
                                " WHERE e.public_id = $1", q->params[0]);
    enum { G_ID, G_PAYMENT, G_TRANSFER };
    if (db_failed(res)) { resp_db_error(r, q->db, res, "exceptions.get"); PQclear(res); return; }
    if (PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 404, "not_found", "no exception with id '%.64s'", q->params[0]);
        return;
    }
    json_t *o = exc_load(q->db, atoll(PQgetvalue(res, 0, G_ID))), *pj = NULL;
    if (!o) { PQclear(res); resp_db_error(r, q->db, NULL, "exceptions.get_row"); return; }
    if (!PQgetisnull(res, 0, G_PAYMENT)) pj = payment_json(q->db, atoll(PQgetvalue(res, 0, G_PAYMENT)));
    json_object_set_new(o, "related", json_pack("{s:o,s:o}",
        "payment", pj ? pj : json_null(),
        "transfer", PQgetisnull(res, 0, G_TRANSFER) ? json_null() : related_transfer(q->db, PQgetvalue(res, 0, G_TRANSFER))));
    PQclear(res);
    resp_json(r, 200, o);
}

/* ------------------------------------------------------------- actions */

enum exc_action { ACT_CLAIM, ACT_RESOLVE, ACT_REOPEN, ACT_DISMISS };

struct action_req {
    enum exc_action act;
    long long version;
    const char *note;
    const char *resolution;
    const char *payment_id;   /* attach target */
    const char *to_address;   /* refund / refund_excess: the payout's destination */
    const char *amount;       /* refund / refund_excess: optional */
};

/* the exception row as locked for an action */
struct exc_row {
    long long id, payment_id, transfer_id, merchant_id;
    int version;
    char state[16], type[32], env[16], public_id[64];
};

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) n++;
    return n;
}

/* note: required for everything but claim; 1–2000 characters, not only blanks. */
static int check_note(const char *note, int required, struct resp *r)
{
    if (!note) {
        if (!required) return 0;
        resp_error(r, 422, "note_required", "a note saying why is required");
        return -1;
    }
    if (strspn(note, " \t\r\n") == strlen(note)) {
        resp_error(r, 422, "note_required", "the note must not be empty");
        return -1;
    }
    if (utf8_chars(note) > NOTE_MAX_CHARS) {
        resp_error(r, 422, "note_too_long", "the note must be at most %d characters", NOTE_MAX_CHARS);
        return -1;
    }
    return 0;
}

static json_t *parse_action(struct req *q, struct resp *r, struct action_req *a)
{
    static const char *const f_claim[] = { "version", "note", NULL };
    static const char *const f_resolve[] = { "version", "note", "resolution", "payment_id", "to_address", "amount",
                                             NULL };
    json_t *o = req_json_object(q, r, a->act == ACT_RESOLVE ? f_resolve : f_claim);
    if (!o) return NULL;
    if (jget_int(o, "version", 1, 1, 2147483647, &a->version, r) ||
        jget_str(o, "note", 0, 64 * 1024, &a->note, r))
        goto bad;
    if (a->act == ACT_RESOLVE) {
        if (jget_str(o, "resolution", 1, 64, &a->resolution, r) ||
            jget_str(o, "payment_id", 0, 64, &a->payment_id, r) ||
            jget_str(o, "to_address", 0, 128, &a->to_address, r) || jget_str(o, "amount", 0, 80, &a->amount, r))
            goto bad;
    }
    if (check_note(a->note, a->act != ACT_CLAIM, r)) goto bad;
    if (a->act == ACT_RESOLVE) {
        if (!strcmp(a->resolution, "attach_to_payment") && (!a->payment_id || !*a->payment_id)) {
            resp_error(r, 422, "payment_id_required", "attach_to_payment needs the target 'payment_id'");
            goto bad;
        }
        if (strcmp(a->resolution, "attach_to_payment") && a->payment_id) {
            resp_error(r, 400, "invalid_request", "'payment_id' is only for attach_to_payment");
            goto bad;
        }
        int refund = !strcmp(a->resolution, "refund") || !strcmp(a->resolution, "refund_excess");
        if (!refund && (a->to_address || a->amount)) {
            resp_error(r, 400, "invalid_request", "'to_address' and 'amount' are only for refund and refund_excess");
            goto bad;
        }
    }
    return o;
bad:
    json_decref(o);
    return NULL;
}

/* Locks the exception. A resolution may move payments and transfers, so it first takes
 * what chain ingest takes, in ingest's order — the network's ingest lock, then the
 * payment row — and the two never deadlock. 0 ok, -1 resp filled. */
static int lock_exception(struct req *q, struct resp *r, struct exc_row *e, int for_resolve)
{
    enum { L_PAYMENT, L_NETWORK };
    PGresult *res = db_q(q->db, "SELECT e.payment_id, coalesce(e.network, rl.network)"
                                "  FROM exceptions e LEFT JOIN payments p ON p.id = e.payment_id"
                                "  LEFT JOIN rails rl ON rl.id = p.rail AND rl.environment = p.environment WHERE e.public_id = $1", q->params[0]);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "exceptions.lock"); PQclear(res); return -1; }
    if (PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 404, "not_found", "no exception with id '%.64s'", q->params[0]);
        return -1;
    }
    if (for_resolve && !PQgetisnull(res, 0, L_NETWORK) && ingest_lock_network(q->db, PQgetvalue(res, 0, L_NETWORK))) {
        PQclear(res);
        resp_db_error(r, q->db, NULL, "exceptions.lock_network");
        return -1;
    }
    if (for_resolve && !PQgetisnull(res, 0, L_PAYMENT)) {
        PGresult *l = db_q(q->db, "SELECT 1 FROM payments WHERE id = $1::bigint FOR UPDATE", PQgetvalue(res, 0, L_PAYMENT));
        int bad = db_failed(l);
        if (bad) resp_db_error(r, q->db, l, "exceptions.lock_payment");
        PQclear(l);
        if (bad) { PQclear(res); return -1; }
    }
    PQclear(res);
    enum { X_ID, X_PAYMENT, X_TRANSFER, X_MERCHANT, X_VERSION, X_STATE, X_TYPE, X_ENV, X_PUBLIC_ID };
    res = db_q(q->db, "SELECT id, coalesce(payment_id, 0), coalesce(transfer_id, 0), coalesce(merchant_id, 0),"
                      " version, state, type,"
                      " coalesce(environment, (SELECT n.environment FROM networks n WHERE n.name = exceptions.network), ''),"
                      " public_id FROM exceptions WHERE public_id = $1 FOR UPDATE", q->params[0]);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "exceptions.lock"); PQclear(res); return -1; }
    if (PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 404, "not_found", "no exception with id '%.64s'", q->params[0]);
        return -1;
    }
    e->id = atoll(PQgetvalue(res, 0, X_ID));
    e->payment_id = atoll(PQgetvalue(res, 0, X_PAYMENT));
    e->transfer_id = atoll(PQgetvalue(res, 0, X_TRANSFER));
    e->merchant_id = atoll(PQgetvalue(res, 0, X_MERCHANT));
    e->version = atoi(PQgetvalue(res, 0, X_VERSION));
    snprintf(e->state, sizeof e->state, "%s", PQgetvalue(res, 0, X_STATE));
    snprintf(e->type, sizeof e->type, "%s", PQgetvalue(res, 0, X_TYPE));
    snprintf(e->env, sizeof e->env, "%s", PQgetvalue(res, 0, X_ENV));
    snprintf(e->public_id, sizeof e->public_id, "%s", PQgetvalue(res, 0, X_PUBLIC_ID));
    PQclear(res);
    return 0;
}

/* 409 unless the exception is in one of `states` (space-separated) at the caller's version. */
static int check_version_state(const struct exc_row *e, const struct action_req *a, const char *states,
                               const char *verb, struct resp *r)
{
    if (e->version != a->version) {
        resp_error(r, 409, "version_conflict",
                   "the exception changed (now version %d, you sent %lld); reload and retry", e->version,
                   a->version);
        return -1;
    }
    char all[64], pat[24];
    snprintf(all, sizeof all, " %s ", states);
    snprintf(pat, sizeof pat, " %s ", e->state);
    if (!strstr(all, pat)) {
        resp_error(r, 409, "invalid_state", "cannot %s an exception that is %s", verb, e->state);
        return -1;
    }
    return 0;
}

/* The versioned write: 0 rows means someone else won (cannot happen while we hold the
 * row lock, but the version in WHERE is the contract, not the lock). */
static int versioned_update(struct req *q, struct resp *r, const struct exc_row *e, const struct action_req *a,
                            json_t *effects)
{
    char id[32], ver[16];
    snprintf(id, sizeof id, "%lld", e->id);
    snprintf(ver, sizeof ver, "%lld", a->version);
    char *fx = effects ? json_dumps(effects, JSON_COMPACT) : NULL;
    PGresult *res = NULL;
    switch (a->act) {
    case ACT_CLAIM:
        res = db_q(q->db, "UPDATE exceptions SET state = 'claimed', assignee = $3, version = version + 1,"
                          " updated_at = now() WHERE id = $1::bigint AND version = $2::int RETURNING 1",
                   id, ver, q->who.name);
        break;
    case ACT_RESOLVE:
        res = db_q(q->db, "UPDATE exceptions SET state = 'resolved', resolution = $3, note = $4, resolved_by = $5,"
                          " resolved_at = now(), assignee = coalesce(assignee, $5), version = version + 1,"
                          " updated_at = now(),"
                          " details = CASE WHEN $6::jsonb IS NULL THEN details"
                          "           ELSE details || jsonb_build_object('resolution_effects', $6::jsonb) END"
                          " WHERE id = $1::bigint AND version = $2::int RETURNING 1",
                   id, ver, a->resolution, a->note, q->who.name, fx);
        break;
    case ACT_REOPEN:
        res = db_q(q->db, "UPDATE exceptions SET state = 'open', assignee = NULL, resolution = NULL, note = $3,"
                          " resolved_by = NULL, resolved_at = NULL, version = version + 1, updated_at = now()"
                          " WHERE id = $1::bigint AND version = $2::int RETURNING 1",
                   id, ver, a->note);
        break;
    case ACT_DISMISS:
        res = db_q(q->db, "UPDATE exceptions SET state = 'dismissed', note = $3, resolved_by = $4,"
                          " resolved_at = now(), version = version + 1, updated_at = now()"
                          " WHERE id = $1::bigint AND version = $2::int RETURNING 1",
                   id, ver, a->note, q->who.name);
        break;
    }
    free(fx);
    if (db_failed(res)) {
        if (!strcmp(db_sqlstate(res), SQLSTATE_UNIQUE_VIOLATION))
            resp_error(r, 409, "already_open", "another live exception of this type exists for the same transfer");
        else
            resp_db_error(r, q->db, res, "exceptions.update");
        PQclear(res);
        return -1;
    }
    int n = PQntuples(res);
    PQclear(res);
    if (n != 1) {
        resp_error(r, 409, "version_conflict", "the exception changed; reload and retry");
        return -1;
    }
    return 0;
}

static int apply_effects(struct req *q, struct resp *r, const struct exc_row *e, const struct action_req *a,
                         struct resolve_out *out)
{
    if (!exc_resolution_allowed(e->type, a->resolution)) {
        char list[256] = "";
        size_t n = 0;
        for (const char *const *s = exc_resolutions(e->type); s && *s && n < sizeof list; s++)
            n += snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *s);
        resp_error(r, 422, "resolution_not_allowed", "'%.64s' is not a resolution for %s (allowed: %s)",
                   a->resolution, e->type, list);
        return -1;
    }
    struct resolve_in in = { .exc_id = e->id, .type = e->type, .resolution = a->resolution,
                             .payment_id = e->payment_id, .transfer_id = e->transfer_id,
                             .merchant_id = e->merchant_id, .environment = e->env[0] ? e->env : NULL,
                             .target = a->payment_id, .who = &q->who, .note = a->note,
                             .to_address = a->to_address, .amount = a->amount };
    int rc = resolve_effects(q->db, &in, out);
    if (rc < 0) {
        resp_db_error(r, q->db, NULL, "exceptions.resolve_effects");
        return -1;
    }
    if (rc > 0) {
        resp_error(r, out->status, out->code, "%s", out->message);
        return -1;
    }
    return 0;
}

/* exception.resolved to the merchant concerned (for an attached transfer: the target's
 * merchant), carrying the engine's exception JSON and its version as sequence, exactly
 * like exception.opened. Nobody to tell when no merchant is known. */
static int resolved_event(struct req *q, const struct exc_row *e, const struct resolve_out *out)
{
    if (!out->notify_merchant_id) return 0;
    json_t *j = exc_json(q->db, e->id);
    if (!j) return -1;
    int seq = (int)json_integer_value(json_object_get(j, "version"));
    int rc = outbox_write(q->db, out->notify_merchant_id, out->notify_env, "exception.resolved",
                          out->notify_payment_id, e->id, seq, j, NULL);
    json_decref(j);
    return rc;
}

static const char *const ACTION_NAME[] = { "exception.claim", "exception.resolve", "exception.reopen",
                                           "exception.dismiss" };

static void exceptions_act(struct req *q, struct resp *r, enum exc_action act)
{
    static const char *const FROM[] = { "open", "open claimed", "resolved dismissed", "open claimed" };
    static const char *const VERB[] = { "claim", "resolve", "reopen", "dismiss" };
    struct action_req a = { .act = act };
    struct exc_row e;
    struct resolve_out out = { 0 };
    json_t *body = parse_action(q, r, &a), *before = NULL, *after = NULL;
    if (!body) return;
    if (tx_begin(q, r)) goto done;
    if (lock_exception(q, r, &e, act == ACT_RESOLVE)) goto done;
    /* an operator key acts only in its own environment (DESIGN §7): a sandbox key must not
     * claim or resolve a production exception, whatever the console allows */
    if (q->who.env[0] && e.env[0] && strcmp(e.env, q->who.env)) {
        resp_error(r, 403, "wrong_environment", "exception %s is in %s; this key acts in %s only", e.public_id, e.env,
                   q->who.env);
        goto done;
    }
    if (check_version_state(&e, &a, FROM[act], VERB[act], r)) goto done;
    if (!(before = exc_load(q->db, e.id))) { resp_db_error(r, q->db, NULL, "exceptions.before"); goto done; }
    if (act == ACT_RESOLVE && apply_effects(q, r, &e, &a, &out)) goto done;
    if (act == ACT_REOPEN) {   /* a refund's payout: canceled if still unsigned, else irreversible */
        struct payout_err pe = { 0 };
        int rc = payout_on_reopen(q->db, &q->who, e.id, &pe);
        if (rc < 0) { resp_db_error(r, q->db, NULL, "exceptions.reopen_payout"); goto done; }
        if (rc > 0) { resp_error(r, pe.status, pe.code, "%s", pe.message); goto done; }
    }
    if (versioned_update(q, r, &e, &a, out.effects)) goto done;
    if (!(after = exc_load(q->db, e.id))) { resp_db_error(r, q->db, NULL, "exceptions.after"); goto done; }
    if (audit_write(q->db, &q->who, ACTION_NAME[act], "exception", e.public_id, a.note, before, after)) {
        resp_db_error(r, q->db, NULL, "exceptions.audit");
        goto done;
    }
    if (act == ACT_RESOLVE && resolved_event(q, &e, &out)) {
        resp_db_error(r, q->db, NULL, "exceptions.outbox");
        goto done;
    }
    if (tx_commit(q, r)) goto done;
    log_info("exception.action", "exception=%s action=%s actor=\"%s\" resolution=%s", e.public_id, VERB[act],
             q->who.name, a.resolution ? a.resolution : "-");
    resp_json(r, 200, after);
    after = NULL;
done:
    if (out.effects) json_decref(out.effects);
    if (before) json_decref(before);
    if (after) json_decref(after);
    json_decref(body);
}

static void exceptions_claim(struct req *q, struct resp *r) { exceptions_act(q, r, ACT_CLAIM); }
static void exceptions_resolve(struct req *q, struct resp *r) { exceptions_act(q, r, ACT_RESOLVE); }
static void exceptions_reopen(struct req *q, struct resp *r) { exceptions_act(q, r, ACT_REOPEN); }
static void exceptions_dismiss(struct req *q, struct resp *r) { exceptions_act(q, r, ACT_DISMISS); }

/* POST /v1/exceptions/bulk {action, resolution?, note?, items: [{id, version}, …]} — up to
 * BULK_MAX items in one call, each through exactly the single action's path (http_bulk):
 * its own transaction and audit row, a stale version that item's 409, reported, never
 * retried. Answers 200 with one result per item, in order. */
#define BULK_MAX 1000
struct bulk_ctx { const char *note, *resolution; int resolve; };

static char *bulk_body(json_t *it, void *p)
{
    struct bulk_ctx *c = p;
    json_t *one = json_pack("{s:O}", "version", json_object_get(it, "version"));
    if (c->note) json_object_set_new(one, "note", json_string(c->note));
    if (c->resolution && c->resolve) json_object_set_new(one, "resolution", json_string(c->resolution));
    char *s = json_dumps(one, JSON_COMPACT);
    json_decref(one);
    return s;
}

static void exceptions_bulk(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "action", "resolution", "note", "items", NULL };
    static const handler_fn FNS[] = { exceptions_claim, exceptions_resolve, exceptions_reopen, exceptions_dismiss };
    static const char *const ACTS[] = { "claim", "resolve", "reopen", "dismiss", NULL };
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    const char *action;
    struct bulk_ctx c = { 0 };
    json_t *items = json_object_get(b, "items");
    if (jget_str(b, "action", 1, 16, &action, r) || jget_str(b, "resolution", 0, 64, &c.resolution, r) ||
        jget_str(b, "note", 0, 64 * 1024, &c.note, r))
        goto out;
    int act = -1;
    for (int i = 0; ACTS[i]; i++)
        if (!strcmp(action, ACTS[i])) act = i;
    if (act < 0) {
        resp_error(r, 422, "invalid_action", "action must be claim, resolve, reopen or dismiss");
        goto out;
    }
    if (http_bulk_items(items, BULK_MAX, 1, r)) goto out;
    c.resolve = act == ACT_RESOLVE;
    int good;
    json_t *results = http_bulk(q, FNS[act], items, bulk_body, &c, &good);
    log_info("exception.bulk", "action=%s items=%zu ok=%d actor=\"%s\"", action, json_array_size(items), good, q->who.name);
    resp_json(r, 200, json_pack("{s:o,s:i,s:i}", "results", results, "succeeded", good, "failed",
                                (int)json_array_size(items) - good));
out:
    json_decref(b);
}

const struct route exception_routes[] = {
    { "POST", "/v1/exceptions/bulk", CAP_OPS, exceptions_bulk },
    { "GET", "/v1/exceptions", CAP_READ, exceptions_list },
    { "GET", "/v1/exceptions/{id}", CAP_READ, exceptions_get },
    { "POST", "/v1/exceptions/{id}/claim", CAP_OPS, exceptions_claim },
    { "POST", "/v1/exceptions/{id}/resolve", CAP_OPS, exceptions_resolve },
    { "POST", "/v1/exceptions/{id}/reopen", CAP_OPS, exceptions_reopen },
    { "POST", "/v1/exceptions/{id}/dismiss", CAP_OPS, exceptions_dismiss },
    { 0 }
};
