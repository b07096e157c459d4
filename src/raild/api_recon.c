/* The finance API over reconciliation breaks (DESIGN §6, §7): any operator reads; the
 * finance role (and admin) acts — acknowledge, match, escalate, run, export — and every
 * action writes its audit row in the same transaction as the change. */
#include "raild/recon.h"
#include "raild/audit.h"
#include "raild/exceptions.h"
#include "raild/http.h"
#include "raild/query.h"
#include "core/db.h"
#include "raild/pgjson.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTE_MAX 2000

/* the columns every break query selects, in this order: BK_* below names them (break_from_row) */
#define BREAK_COLS \
    "b.public_id, b.class, b.severity, b.state, b.merchant_id::text, b.environment, b.reference," \
    " b.transfer_id::text, b.planes, b.c_status, recon_fmt(b.c_amount), " SQL_TS("b.c_updated_at") "," \
    " b.p_state, b.p_payment, b.p_payments::text, recon_fmt(b.p_amount), " SQL_TS("b.p_finalized_at") "," \
    " b.f_transactions::text, recon_fmt(b.f_amount), recon_fmt(b.f_refunded), " SQL_TS("b.first_seen_at") "," \
    " floor(extract(epoch FROM now() - b.first_seen_at))::bigint::text, " SQL_TS("b.resolved_at") ", b.resolution," \
    " " SQL_TS("b.acknowledged_at") ", b.acknowledged_by, b.ack_note," \
    " (SELECT e.public_id FROM exceptions e WHERE e.id = b.exception_id)," \
    " " SQL_TS("b.matched_at") ", b.matched_by, b.match_note, " SQL_TS("b.updated_at") ", b.class_rank::text"
enum { BK_ID, BK_CLASS, BK_SEVERITY, BK_STATE, BK_MERCHANT, BK_ENV, BK_REFERENCE, BK_TRANSFER, BK_PLANES, BK_C_STATUS,
       BK_C_AMOUNT, BK_C_UPDATED, BK_P_STATE, BK_P_PAYMENT, BK_P_PAYMENTS, BK_P_AMOUNT, BK_P_FINALIZED, BK_F_TXNS,
       BK_F_AMOUNT, BK_F_REFUNDED, BK_FIRST_SEEN, BK_AGE, BK_RESOLVED_AT, BK_RESOLUTION, BK_ACK_AT, BK_ACK_BY,
       BK_ACK_NOTE, BK_EXCEPTION, BK_MATCH_AT, BK_MATCH_BY, BK_MATCH_NOTE, BK_UPDATED, BK_CLASS_RANK };

/* a break with the three planes side by side; amounts are USDT decimal strings */
static json_t *break_from_row(PGresult *r, int i)
{
    json_t *planes = json_null();
    if (!PQgetisnull(r, i, BK_PLANES)) {
        planes = json_array();
        char buf[64];
        snprintf(buf, sizeof buf, "%s", PQgetvalue(r, i, BK_PLANES));
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            json_array_append_new(planes, json_string(t));
    }
    json_t *ack = PQgetisnull(r, i, BK_ACK_AT) ? json_null()
        : json_pack("{s:o, s:o, s:o}", "at", pgj_str(r, i, BK_ACK_AT), "by", pgj_str(r, i, BK_ACK_BY),
                    "note", pgj_str(r, i, BK_ACK_NOTE));
    json_t *match = PQgetisnull(r, i, BK_MATCH_AT) ? json_null()
        : json_pack("{s:o, s:o, s:o}", "at", pgj_str(r, i, BK_MATCH_AT), "by", pgj_str(r, i, BK_MATCH_BY),
                    "note", pgj_str(r, i, BK_MATCH_NOTE));
    return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
                     " s:{s:o, s:o, s:o}, s:{s:o, s:o, s:o, s:o, s:o}, s:{s:o, s:o, s:o},"
                     " s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}",
        "id", pgj_str(r, i, BK_ID), "class", pgj_str(r, i, BK_CLASS), "class_rank", pgj_int(r, i, BK_CLASS_RANK),
        "severity", pgj_int(r, i, BK_SEVERITY), "state", pgj_str(r, i, BK_STATE),
        "merchant_id", pgj_int(r, i, BK_MERCHANT), "environment", pgj_str(r, i, BK_ENV),
        "reference", pgj_str(r, i, BK_REFERENCE), "transfer_id", pgj_int(r, i, BK_TRANSFER), "planes", planes,
        "commerce", "status", pgj_str(r, i, BK_C_STATUS), "amount", pgj_str(r, i, BK_C_AMOUNT),
                    "updated_at", pgj_str(r, i, BK_C_UPDATED),
        "provider", "state", pgj_str(r, i, BK_P_STATE), "payment", pgj_str(r, i, BK_P_PAYMENT),
                    "payments", pgj_int(r, i, BK_P_PAYMENTS), "amount", pgj_str(r, i, BK_P_AMOUNT),
                    "finalized_at", pgj_str(r, i, BK_P_FINALIZED),
        "finance", "transactions", pgj_int(r, i, BK_F_TXNS), "amount", pgj_str(r, i, BK_F_AMOUNT),
                   "refunded", pgj_str(r, i, BK_F_REFUNDED),
        "first_seen_at", pgj_str(r, i, BK_FIRST_SEEN), "age_seconds", pgj_int(r, i, BK_AGE),
        "resolved_at", pgj_str(r, i, BK_RESOLVED_AT), "resolution", pgj_str(r, i, BK_RESOLUTION),
        "acknowledged", ack, "exception", pgj_str(r, i, BK_EXCEPTION), "match", match,
        "updated_at", pgj_str(r, i, BK_UPDATED));
}

static json_t *break_load(PGconn *db, const char *public_id)
{
    PGresult *r = db_q(db, "SELECT " BREAK_COLS " FROM recon_breaks b WHERE b.public_id = $1", public_id);
    json_t *o = (!db_failed(r) && PQntuples(r) == 1) ? break_from_row(r, 0) : NULL;
    PQclear(r);
    return o;
}

/* ------------------------------------------------------------------ reads */

static int list_filter(struct req *q, struct resp *r, const char **state, char *classes, size_t clen,
                       const char **cls, const char **merchant, const char **env)
{
    *state = req_query(q, "state");
    if (!*state) *state = "open";
    if (strcmp(*state, "open") && strcmp(*state, "new") && strcmp(*state, "persisting") &&
        strcmp(*state, "resolved") && strcmp(*state, "all")) {
        resp_error(r, 400, "invalid_request", "'state' is open, new, persisting, resolved or all");
        return -1;
    }
    const char *c = req_query(q, "class");
    *cls = NULL;
    if (c) {
        char buf[512];
        if (!*c || strlen(c) >= sizeof buf || strlen(c) + 3 > clen) {
            resp_error(r, 400, "invalid_request", "'class' is a comma-separated list of break classes");
            return -1;
        }
        snprintf(buf, sizeof buf, "%s", c);
        size_t n = snprintf(classes, clen, "{");
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (!recon_class_valid(t)) {
                resp_error(r, 400, "invalid_request", "unknown break class '%.64s'", t);
                return -1;
            }
            n += snprintf(classes + n, clen - n, "%s%s", n > 1 ? "," : "", t);
        }
        snprintf(classes + n, clen - n, "}");
        *cls = classes;
    }
    long long v;
    *merchant = req_query(q, "merchant_id");
    if (*merchant && util_parse_i64(*merchant, 1, 1LL << 62, &v)) {
        resp_error(r, 400, "invalid_request", "'merchant_id' must be a merchant id");
        return -1;
    }
    *env = req_query(q, "environment");
    if (*env && strcmp(*env, "sandbox") && strcmp(*env, "production")) {
        resp_error(r, 400, "invalid_request", "'environment' is sandbox or production");
        return -1;
    }
    return 0;
}

#define FILTER_SQL \
    " (CASE $1 WHEN 'open' THEN b.state <> 'resolved' WHEN 'all' THEN true ELSE b.state = $1 END)" \
    " AND ($2::text[] IS NULL OR b.class = ANY($2::text[]))" \
    " AND ($3::bigint IS NULL OR b.merchant_id = $3::bigint)" \
    " AND ($4::text IS NULL OR b.environment = $4)"

static void breaks_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "state", "class", "merchant_id", "environment", "severity", "reference",
                                           "acknowledged", "limit", "cursor", NULL };
    if (query_check(q, r, allowed)) return;
    const char *state, *cls, *merchant, *env;
    char classes[600];
    if (list_filter(q, r, &state, classes, sizeof classes, &cls, &merchant, &env)) return;
    const char *sev = req_query(q, "severity"), *ref = req_query(q, "reference"),
               *ack = req_query(q, "acknowledged"), *lim = req_query(q, "limit"), *cursor = req_query(q, "cursor");
    long long v, limit = 100;
    if (sev && util_parse_i64(sev, 1, 4, &v)) { resp_error(r, 400, "invalid_request", "'severity' is 1 to 4 (minimum)"); return; }
    if (ack && strcmp(ack, "true") && strcmp(ack, "false")) { resp_error(r, 400, "invalid_request", "'acknowledged' is true or false"); return; }
    if (lim && util_parse_i64(lim, 1, 500, &limit)) { resp_error(r, 400, "invalid_request", "'limit' is 1 to 500"); return; }
    if (ref && strlen(ref) > 300) { resp_error(r, 400, "invalid_request", "'reference' is too long"); return; }
    if (cursor && strncmp(cursor, "brk_", 4)) { resp_error(r, 400, "invalid_request", "'cursor' is not a cursor this endpoint returned"); return; }
    char lims[16];
    snprintf(lims, sizeof lims, "%lld", limit);
    PGresult *res = db_q(q->db,
        "SELECT " BREAK_COLS " FROM recon_breaks b WHERE" FILTER_SQL
        " AND ($5::int IS NULL OR b.severity >= $5::int)"
        " AND ($6::text IS NULL OR b.reference = $6)"
        " AND ($7::boolean IS NULL OR (b.acknowledged_at IS NOT NULL) = $7::boolean)"
        " AND ($8::text IS NULL OR (b.class_rank, b.first_seen_at, b.id) >"
        "      (SELECT class_rank, first_seen_at, id FROM recon_breaks WHERE public_id = $8))"
        " ORDER BY b.class_rank, b.first_seen_at, b.id LIMIT $9::int",
        state, cls, merchant, env, sev, ref, ack, cursor, lims);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.list"); PQclear(res); return; }
    json_t *items = json_array();
    int n = PQntuples(res);
    for (int i = 0; i < n; i++) json_array_append_new(items, break_from_row(res, i));
    json_t *next = (n == limit && n > 0) ? json_string(PQgetvalue(res, n - 1, BK_ID)) : json_null();
    PQclear(res);
    /* every list answers `data`; `breaks` stays for clients written against round one */
    resp_json(r, 200, json_pack("{s:O, s:o, s:o}", "data", items, "breaks", items, "next_cursor", next));
}

/* the records behind a break, plane by plane */
static json_t *break_records(PGconn *db, const char *mid, const char *env, const char *ref, const char *tid)
{
    json_t *out = json_object();
    enum { O_REF, O_AMOUNT, O_STATUS, O_UPDATED, O_SOURCE };
    PGresult *r = db_q(db, "SELECT reference, recon_fmt(amount), status, " SQL_TS("updated_at") ", source"
                           "  FROM orders WHERE merchant_id = $1::bigint AND environment = $2 AND reference = $3",
                       mid, env, ref);
    json_object_set_new(out, "order", (!db_failed(r) && PQntuples(r) == 1)
        ? json_pack("{s:o, s:o, s:o, s:o, s:o}", "reference", pgj_str(r, 0, O_REF), "amount", pgj_str(r, 0, O_AMOUNT),
                    "status", pgj_str(r, 0, O_STATUS), "updated_at", pgj_str(r, 0, O_UPDATED), "source", pgj_str(r, 0, O_SOURCE))
        : json_null());
    PQclear(r);
    enum { P_ID, P_RAIL, P_STATE, P_AMOUNT, P_RECEIVED, P_FINALIZED, P_REFERENCE, P_MATCHED };
    r = db_q(db, "SELECT p.public_id, p.rail, p.state, p.amount::text, p.received::text, " SQL_TS("p.finalized_at") ","
                 "       p.reference, (m.id IS NOT NULL)"
                 "  FROM payments p LEFT JOIN recon_matches m ON m.payment_id = p.id"
                 " WHERE p.merchant_id = $1::bigint AND p.environment = $2"
                 "   AND coalesce(m.reference, p.reference) = $3 ORDER BY p.id",
             mid, env, ref);
    json_t *pays = json_array();
    for (int i = 0; !db_failed(r) && i < PQntuples(r); i++)
        json_array_append_new(pays, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
            "id", pgj_str(r, i, P_ID), "rail", pgj_str(r, i, P_RAIL), "state", pgj_str(r, i, P_STATE), "amount_units", pgj_str(r, i, P_AMOUNT),
            "received_units", pgj_str(r, i, P_RECEIVED), "finalized_at", pgj_str(r, i, P_FINALIZED), "reference", pgj_str(r, i, P_REFERENCE),
            "matched", PQgetvalue(r, i, P_MATCHED)[0] == 't'));
    PQclear(r);
    json_object_set_new(out, "payments", pays);
    enum { T_ID, T_KIND, T_RAIL, T_AMOUNT, T_POSTED, T_MEMO, T_MATCHED };
    r = db_q(db, "SELECT t.id::text, t.kind, t.rail, t.amount::text, " SQL_TS("t.posted_at") ", t.memo, (m.id IS NOT NULL)"
                 "  FROM ledger_transactions t LEFT JOIN recon_matches m ON m.ledger_txn_id = t.id"
                 " WHERE (t.merchant_id = $1::bigint AND t.environment = $2 AND coalesce(m.reference, t.reference) = $3)"
                 "    OR t.transfer_id = $4::bigint ORDER BY t.id",
             mid, env, ref, tid);
    json_t *txns = json_array();
    for (int i = 0; !db_failed(r) && i < PQntuples(r); i++)
        json_array_append_new(txns, json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:b}",
            "id", pgj_int(r, i, T_ID), "kind", pgj_str(r, i, T_KIND), "rail", pgj_str(r, i, T_RAIL), "amount_units", pgj_str(r, i, T_AMOUNT),
            "posted_at", pgj_str(r, i, T_POSTED), "memo", pgj_str(r, i, T_MEMO), "matched", PQgetvalue(r, i, T_MATCHED)[0] == 't'));
    PQclear(r);
    json_object_set_new(out, "ledger_transactions", txns);
    return out;
}

static void breaks_get(struct req *q, struct resp *r)
{
    enum { G_MERCHANT, G_ENV, G_REFERENCE, G_TRANSFER };
    PGresult *res = db_q(q->db, "SELECT merchant_id::text, environment, reference, transfer_id::text"
                                "  FROM recon_breaks WHERE public_id = $1", q->params[0]);
    if (db_failed(res) || PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 404, "not_found", "no break with id '%.64s'", q->params[0]);
        return;
    }
    json_t *b = break_load(q->db, q->params[0]);
    json_t *rec = break_records(q->db, PQgetisnull(res, 0, G_MERCHANT) ? NULL : PQgetvalue(res, 0, G_MERCHANT),
                                PQgetisnull(res, 0, G_ENV) ? NULL : PQgetvalue(res, 0, G_ENV), PQgetvalue(res, 0, G_REFERENCE),
                                PQgetisnull(res, 0, G_TRANSFER) ? NULL : PQgetvalue(res, 0, G_TRANSFER));
    PQclear(res);
    if (!b) { json_decref(rec); resp_db_error(r, q->db, NULL, "recon.break_load"); return; }
    json_object_set_new(b, "records", rec);
    resp_json(r, 200, b);
}

static void recon_summary(struct req *q, struct resp *r)
{
    enum { S_CLASS, S_SEVERITY, S_NEW, S_PERSISTING, S_ACK, S_OLDEST };
    PGresult *res = db_q0(q->db,
        "SELECT class, min(severity)::text, count(*) FILTER (WHERE state = 'new')::text,"
        "       count(*) FILTER (WHERE state = 'persisting')::text,"
        "       count(*) FILTER (WHERE acknowledged_at IS NOT NULL)::text, " SQL_TS("min(first_seen_at)")
        "  FROM recon_breaks WHERE state <> 'resolved' GROUP BY class, class_rank ORDER BY class_rank");
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.summary"); PQclear(res); return; }
    json_t *by = json_array();
    long long total = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        long long n = atoll(PQgetvalue(res, i, S_NEW)) + atoll(PQgetvalue(res, i, S_PERSISTING));
        total += n;
        json_array_append_new(by, json_pack("{s:o, s:o, s:I, s:o, s:o, s:o, s:o}", "class", pgj_str(res, i, S_CLASS),
            "severity", pgj_int(res, i, S_SEVERITY), "open", (json_int_t)n, "new", pgj_int(res, i, S_NEW),
            "persisting", pgj_int(res, i, S_PERSISTING), "acknowledged", pgj_int(res, i, S_ACK), "oldest_first_seen_at", pgj_str(res, i, S_OLDEST)));
    }
    PQclear(res);
    enum { CP_PLANE, CP_THROUGH, CP_LAST_CHANGE, CP_RUN };
    res = db_q0(q->db, "SELECT plane, " SQL_TS("through") ", " SQL_TS("last_change_at") ", run_id::text FROM recon_checkpoints ORDER BY plane");
    json_t *cps = json_object();
    for (int i = 0; !db_failed(res) && i < PQntuples(res); i++)
        json_object_set_new(cps, PQgetvalue(res, i, CP_PLANE), json_pack("{s:o, s:o, s:o}", "reconciled_through",
            pgj_str(res, i, CP_THROUGH), "last_change_at", pgj_str(res, i, CP_LAST_CHANGE), "run_id", pgj_int(res, i, CP_RUN)));
    PQclear(res);
    enum { RUN_ID, RUN_MODE, RUN_FINISHED, RUN_KEYS, RUN_OPENED, RUN_UPDATED, RUN_RESOLVED, RUN_DURATION };
    res = db_q0(q->db, "SELECT id::text, mode, " SQL_TS("finished_at") ", keys_examined::text, opened::text, updated::text,"
                       " resolved::text, duration_ms::text FROM recon_runs ORDER BY id DESC LIMIT 1");
    json_t *last = (!db_failed(res) && PQntuples(res) == 1)
        ? json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", pgj_int(res, 0, RUN_ID), "mode", pgj_str(res, 0, RUN_MODE),
                    "finished_at", pgj_str(res, 0, RUN_FINISHED), "keys_examined", pgj_int(res, 0, RUN_KEYS), "opened", pgj_int(res, 0, RUN_OPENED),
                    "updated", pgj_int(res, 0, RUN_UPDATED), "resolved", pgj_int(res, 0, RUN_RESOLVED), "duration_ms", pgj_int(res, 0, RUN_DURATION))
        : json_null();
    PQclear(res);
    enum { ST_NAME, ST_VALUE };
    res = db_q0(q->db, "SELECT name, value::text FROM recon_settings ORDER BY name");
    json_t *set = json_object();
    for (int i = 0; !db_failed(res) && i < PQntuples(res); i++)
        json_object_set_new(set, PQgetvalue(res, i, ST_NAME), json_string(PQgetvalue(res, i, ST_VALUE)));
    PQclear(res);
    resp_json(r, 200, json_pack("{s:I, s:o, s:o, s:o, s:o}", "open_total", (json_int_t)total, "by_class", by,
                                "checkpoints", cps, "last_run", last, "settings", set));
}

/* ------------------------------------------------------------------ actions */

static int get_note(json_t *b, struct resp *r, const char **note)
{
    *note = NULL;   /* jget_str leaves it untouched when absent */
    if (jget_str(b, "note", 0, 100000, note, r)) return -1;
    if (!*note || !**note) { resp_error(r, 422, "note_required", "a note saying why is required"); return -1; }
    if (strlen(*note) > NOTE_MAX) { resp_error(r, 422, "note_too_long", "the note must be at most %d characters", NOTE_MAX); return -1; }
    return 0;
}

struct brk {
    char id[32], cls[40], state[16], mid[24], env[16], ref[256], tid[24], payment[64], sev[4];
    int has_mid, has_tid, has_payment, live_exception;
};

/* locks the break for the action; 404 when absent */
static int brk_lock(struct req *q, struct resp *r, struct brk *k)
{
    enum { L_ID, L_CLASS, L_STATE, L_MERCHANT, L_ENV, L_REFERENCE, L_TRANSFER, L_PAYMENT, L_SEVERITY, L_LIVE_EXC };
    PGresult *res = db_q(q->db,
        "SELECT b.public_id, b.class, b.state, b.merchant_id::text, b.environment, b.reference, b.transfer_id::text,"
        "       b.p_payment, b.severity::text,"
        "       EXISTS (SELECT 1 FROM exceptions e WHERE e.id = b.exception_id AND e.state IN ('open','claimed'))"
        "  FROM recon_breaks b WHERE b.public_id = $1 FOR UPDATE", q->params[0]);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.lock"); PQclear(res); return -1; }
    if (PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 404, "not_found", "no break with id '%.64s'", q->params[0]);
        return -1;
    }
    memset(k, 0, sizeof *k);
    snprintf(k->id, sizeof k->id, "%s", PQgetvalue(res, 0, L_ID));
    snprintf(k->cls, sizeof k->cls, "%s", PQgetvalue(res, 0, L_CLASS));
    snprintf(k->state, sizeof k->state, "%s", PQgetvalue(res, 0, L_STATE));
    k->has_mid = !PQgetisnull(res, 0, L_MERCHANT);
    snprintf(k->mid, sizeof k->mid, "%s", PQgetvalue(res, 0, L_MERCHANT));
    snprintf(k->env, sizeof k->env, "%s", PQgetvalue(res, 0, L_ENV));
    snprintf(k->ref, sizeof k->ref, "%s", PQgetvalue(res, 0, L_REFERENCE));
    k->has_tid = !PQgetisnull(res, 0, L_TRANSFER);
    snprintf(k->tid, sizeof k->tid, "%s", PQgetvalue(res, 0, L_TRANSFER));
    k->has_payment = !PQgetisnull(res, 0, L_PAYMENT);
    snprintf(k->payment, sizeof k->payment, "%s", PQgetvalue(res, 0, L_PAYMENT));
    snprintf(k->sev, sizeof k->sev, "%s", PQgetvalue(res, 0, L_SEVERITY));
    k->live_exception = PQgetvalue(res, 0, L_LIVE_EXC)[0] == 't';
    PQclear(res);
    /* a finance key acts only in its own environment (DESIGN §7) */
    if (q->who.env[0] && k->env[0] && strcmp(k->env, q->who.env)) {
        resp_error(r, 403, "wrong_environment", "break %s is in %s; this key acts in %s only", k->id, k->env, q->who.env);
        return -1;
    }
    return 0;
}

static void finish(struct req *q, struct resp *r, const char *action, const char *id, const char *note,
                   json_t *before, int status)
{
    json_t *after = break_load(q->db, id);
    if (audit_write(q->db, &q->who, action, "recon_break", id, note, before, after)) {
        resp_db_error(r, q->db, NULL, "recon.audit");
    } else if (!tx_commit(q, r)) {
        resp_json(r, status, json_incref(after));
    }
    json_decref(after);
}

static void breaks_acknowledge(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "note", NULL };
    json_t *b = req_json_object(q, r, allowed), *before = NULL;
    const char *note;
    struct brk k;
    if (!b || get_note(b, r, &note) || tx_begin(q, r) || brk_lock(q, r, &k)) goto done;
    if (!strcmp(k.state, "resolved")) {
        resp_error(r, 409, "invalid_state", "break %s is resolved; nothing to acknowledge", k.id);
        goto done;
    }
    before = break_load(q->db, k.id);
    PGresult *res = db_q(q->db, "UPDATE recon_breaks SET acknowledged_at = now(), acknowledged_by = $2, ack_note = $3,"
                                " updated_at = now() WHERE public_id = $1", k.id, q->who.name, note);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.ack"); PQclear(res); goto done; }
    PQclear(res);
    finish(q, r, "recon.acknowledge", k.id, note, before, 200);
done:
    json_decref(before);
    json_decref(b);
}

/* Which record the operator links, resolved to an id; fills resp on bad input. */
static int match_target(struct req *q, struct resp *r, json_t *b, struct brk *k, char *col, char *id,
                        char *mid, char *env, char *ref)
{
    const char *pay = NULL;
    long long txn = 0;
    if (jget_str(b, "payment_id", 0, 64, &pay, r) ||
        jget_int(b, "ledger_transaction_id", 0, 1, 1LL << 62, &txn, r)) return -1;
    if ((pay != NULL) == (txn != 0)) {
        resp_error(r, 422, "target_required", "give exactly one of 'payment_id' (pay_…) or 'ledger_transaction_id'");
        return -1;
    }
    enum { M_ID, M_MERCHANT, M_ENV, M_REFERENCE, M_TAKEN };
    PGresult *res;
    if (pay) {
        res = db_q(q->db, "SELECT id::text, merchant_id::text, environment, reference,"
                          " EXISTS (SELECT 1 FROM recon_matches m WHERE m.payment_id = p.id)"
                          " FROM payments p WHERE public_id = $1", pay);
        strcpy(col, "payment_id");
    } else {
        char t[32];
        snprintf(t, sizeof t, "%lld", txn);
        res = db_q(q->db, "SELECT id::text, merchant_id::text, environment, reference,"
                          " EXISTS (SELECT 1 FROM recon_matches m WHERE m.ledger_txn_id = t.id)"
                          " FROM ledger_transactions t WHERE id = $1::bigint"
                          "  AND kind IN ('finality','attach','refund') AND merchant_id IS NOT NULL", t);
        strcpy(col, "ledger_txn_id");
    }
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.match"); PQclear(res); return -1; }
    if (PQntuples(res) != 1) {
        PQclear(res);
        resp_error(r, 422, "unknown_target", "no such %s", pay ? "payment" : "merchant ledger transaction");
        return -1;
    }
    int taken = PQgetvalue(res, 0, M_TAKEN)[0] == 't';
    snprintf(id, 32, "%s", PQgetvalue(res, 0, M_ID));
    snprintf(mid, 24, "%s", PQgetvalue(res, 0, M_MERCHANT));
    snprintf(env, 16, "%s", PQgetvalue(res, 0, M_ENV));
    snprintf(ref, 256, "%s", PQgetvalue(res, 0, M_REFERENCE));
    PQclear(res);
    if (taken) { resp_error(r, 409, "already_matched", "that record is already matched to a key"); return -1; }
    if (!strcmp(k->cls, "unapplied_transfer")) {
        /* the transfer goes under the target payment's key */
        if (!pay) { resp_error(r, 422, "target_required", "an unapplied transfer is matched to a 'payment_id'"); return -1; }
        strcpy(col, "transfer_id");
        snprintf(id, 32, "%s", k->tid);
        return 0;
    }
    if (!k->has_mid || strcmp(mid, k->mid) || strcmp(env, k->env)) {
        resp_error(r, 422, "merchant_mismatch", "the record belongs to another merchant or environment");
        return -1;
    }
    if (!strcmp(ref, k->ref)) {
        resp_error(r, 422, "already_under_key", "the record already has reference '%.200s'", k->ref);
        return -1;
    }
    snprintf(ref, 256, "%s", k->ref);
    return 0;
}

static void breaks_match(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "note", "payment_id", "ledger_transaction_id", NULL };
    json_t *b = req_json_object(q, r, allowed), *before = NULL;
    const char *note;
    struct brk k;
    char colname[24], id[32], mid[24], env[16], ref[256];
    if (!b || get_note(b, r, &note) || tx_begin(q, r) || brk_lock(q, r, &k)) goto done;
    if (!strcmp(k.state, "resolved")) {
        resp_error(r, 409, "invalid_state", "break %s is resolved; nothing to match", k.id);
        goto done;
    }
    if (match_target(q, r, b, &k, colname, id, mid, env, ref)) goto done;
    if (!strcmp(colname, "transfer_id")) {
        char *dup = db_val(q->db, "SELECT 1 FROM recon_matches WHERE transfer_id = $1::bigint", id);
        if (dup) {
            free(dup);
            resp_error(r, 409, "already_matched", "that transfer is already matched to a key");
            goto done;
        }
    }
    before = break_load(q->db, k.id);
    /* the column name comes from a fixed set above, never from input */
    char sql[512];
    snprintf(sql, sizeof sql, "INSERT INTO recon_matches (break_id, merchant_id, environment, reference, %s, note,"
                              " matched_by) VALUES ($1, $2::bigint, $3, $4, $5::bigint, $6, $7)", colname);
    PGresult *res = db_q(q->db, sql, k.id, mid, env, ref, id, note, q->who.name);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.match"); PQclear(res); goto done; }
    PQclear(res);
    res = db_q(q->db, "UPDATE recon_breaks SET matched_at = now(), matched_by = $2, match_note = $3, updated_at = now()"
                      " WHERE public_id = $1", k.id, q->who.name, note);
    PQclear(res);
    json_t *after = break_load(q->db, k.id);
    if (audit_write(q->db, &q->who, "recon.match", "recon_break", k.id, note, before, after) || tx_commit(q, r)) {
        json_decref(after);
        if (!r->status) resp_db_error(r, q->db, NULL, "recon.audit");
        goto done;
    }
    json_decref(after);
    /* re-reconcile the affected keys now, so the answer shows the effect */
    struct recon_result rr;
    recon_run(q->db, 0, 1, &rr);
    resp_json(r, 200, break_load(q->db, k.id));
done:
    json_decref(before);
    json_decref(b);
}

static void breaks_escalate(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "note", NULL };
    json_t *b = req_json_object(q, r, allowed), *before = NULL, *details = NULL;
    const char *note;
    struct brk k;
    if (!b || get_note(b, r, &note) || tx_begin(q, r) || brk_lock(q, r, &k)) goto done;
    if (!strcmp(k.state, "resolved")) {
        resp_error(r, 409, "invalid_state", "break %s is resolved; nothing to escalate", k.id);
        goto done;
    }
    if (k.live_exception) {
        resp_error(r, 409, "already_escalated", "break %s already has a live exception", k.id);
        goto done;
    }
    before = break_load(q->db, k.id);
    details = json_pack("{s:s, s:s, s:s, s:s, s:O}", "break", k.id, "class", k.cls, "reference", k.ref,
                        "escalated_by", q->who.name, "planes", json_object_get(before, "planes"));
    json_object_set_new(details, "note", json_string(note));
    char *djs = json_dumps(details, JSON_COMPACT), pubid[64], hours[16];
    util_random_id("exc_", pubid, sizeof pubid);
    snprintf(hours, sizeof hours, "%d", exc_sla_hours(atoi(k.sev)));
    /* one live recon_break exception per payment/transfer: a second break on the same
     * record joins the live one */
    PGresult *res = db_q(q->db,
        "WITH pay AS (SELECT id FROM payments WHERE public_id = $5),"
        " live AS (SELECT e.id FROM exceptions e WHERE e.type = 'recon_break' AND e.state IN ('open','claimed')"
        "           AND ((e.transfer_id = $6::bigint) OR (e.transfer_id IS NULL AND $6::bigint IS NULL"
        "                AND e.payment_id = (SELECT id FROM pay))) LIMIT 1),"
        " ins AS (INSERT INTO exceptions (public_id, type, severity, sla_due, merchant_id, environment, payment_id,"
        "                                 transfer_id, details)"
        "         SELECT $1, 'recon_break', $2::int, now() + make_interval(hours => $7::int), $3::bigint, $4,"
        "                (SELECT id FROM pay), $6::bigint, $8::jsonb WHERE NOT EXISTS (SELECT 1 FROM live)"
        "         RETURNING id)"
        " UPDATE recon_breaks SET exception_id = coalesce((SELECT id FROM ins), (SELECT id FROM live)),"
        "        updated_at = now() WHERE public_id = $9",
        pubid, k.sev, k.has_mid ? k.mid : NULL, k.has_mid ? k.env : NULL, k.has_payment ? k.payment : NULL,
        k.has_tid ? k.tid : NULL, hours, djs, k.id);
    free(djs);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.escalate"); PQclear(res); goto done; }
    PQclear(res);
    finish(q, r, "recon.escalate", k.id, note, before, 200);
done:
    json_decref(details);
    json_decref(before);
    json_decref(b);
}

static void recon_run_now(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "mode", NULL };
    json_t *b = req_json_object(q, r, allowed);
    const char *mode = "incremental";
    if (!b || jget_str(b, "mode", 0, 16, &mode, r)) goto done;
    if (strcmp(mode, "full") && strcmp(mode, "incremental")) {
        resp_error(r, 422, "invalid_mode", "'mode' is full or incremental");
        goto done;
    }
    struct recon_result rr;
    if (recon_run(q->db, !strcmp(mode, "full"), 1, &rr)) { resp_db_error(r, q->db, NULL, "recon.run"); goto done; }
    json_t *out = json_pack("{s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:i}", "run_id", (json_int_t)rr.run_id,
                            "mode", rr.full ? "full" : "incremental", "keys_examined", (json_int_t)rr.keys,
                            "opened", (json_int_t)rr.opened, "updated", (json_int_t)rr.updated,
                            "resolved", (json_int_t)rr.resolved, "open_total", (json_int_t)rr.open_total,
                            "duration_ms", rr.duration_ms);
    char idbuf[32];
    snprintf(idbuf, sizeof idbuf, "%lld", rr.run_id);
    if (tx_begin(q, r) || audit_write(q->db, &q->who, "recon.run", "recon_run", idbuf, NULL, NULL, out) ||
        tx_commit(q, r)) {
        json_decref(out);
        if (!r->status) resp_db_error(r, q->db, NULL, "recon.audit");
        goto done;
    }
    resp_json(r, 200, out);
done:
    json_decref(b);
}

/* ------------------------------------------------------------------ export */

/* RFC 4180 quoting; text that a spreadsheet would run as a formula gets a leading ' */
static void csv_put(char **buf, size_t *len, size_t *cap, const char *s, int last)
{
    size_t need = *len + 2 * strlen(s) + 8;
    if (need > *cap) {
        while (need > *cap) *cap *= 2;
        *buf = realloc(*buf, *cap);
    }
    char *o = *buf + *len;
    int formula = s[0] && strchr("=+-@\t", s[0]);
    int quote = strpbrk(s, ",\"\r\n") != NULL || formula;
    if (quote) *o++ = '"';
    if (formula) *o++ = '\'';
    for (; *s; s++) {
        if (*s == '"') *o++ = '"';
        *o++ = *s;
    }
    if (quote) *o++ = '"';
    *o++ = last ? '\n' : ',';
    *len = o - *buf;
}

static void recon_export(struct req *q, struct resp *r)
{
    const char *state, *cls, *merchant, *env;
    char classes[600];
    static const char *const allowed[] = { "state", "class", "merchant_id", "environment", NULL };
    if (query_check(q, r, allowed)) return;
    if (list_filter(q, r, &state, classes, sizeof classes, &cls, &merchant, &env)) return;
    if (strcmp(state, "open")) { resp_error(r, 400, "invalid_request", "the export has open breaks only"); return; }
    PGresult *res = db_q(q->db,
        "SELECT b.public_id, b.class, b.severity::text, b.state,"
        "       floor(extract(epoch FROM now() - b.first_seen_at))::bigint::text, b.merchant_id::text, b.environment,"
        "       b.reference, replace(b.planes, ',', ' '),"
        "       b.c_status, recon_fmt(b.c_amount), " SQL_TS("b.c_updated_at") ","
        "       b.p_state, b.p_payment, b.p_payments::text, recon_fmt(b.p_amount), " SQL_TS("b.p_finalized_at") ","
        "       b.f_transactions::text, recon_fmt(b.f_amount), recon_fmt(b.f_refunded),"
        "       " SQL_TS("b.first_seen_at") ", b.acknowledged_by, b.ack_note,"
        "       (SELECT e.public_id FROM exceptions e WHERE e.id = b.exception_id)"
        "  FROM recon_breaks b WHERE" FILTER_SQL " ORDER BY b.class_rank, b.first_seen_at, b.id",
        state, cls, merchant, env);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "recon.export"); PQclear(res); return; }
    static const char *const head[] = { "break_id", "class", "severity", "state", "age_seconds", "merchant_id",
        "environment", "reference", "disagreeing_planes", "commerce_status", "commerce_amount", "commerce_updated_at",
        "provider_state", "provider_payment", "provider_payments", "provider_amount", "provider_finalized_at",
        "finance_transactions", "finance_amount", "finance_refunded", "first_seen_at", "acknowledged_by",
        "acknowledgement_note", "exception" };
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    int nc = (int)(sizeof head / sizeof head[0]);
    for (int c = 0; c < nc; c++) csv_put(&buf, &len, &cap, head[c], c == nc - 1);
    int n = PQntuples(res);
    for (int i = 0; i < n; i++)
        for (int c = 0; c < nc; c++) csv_put(&buf, &len, &cap, PQgetvalue(res, i, c), c == nc - 1);
    PQclear(res);
    buf[len] = 0;
    json_t *after = json_pack("{s:i, s:s*, s:s*, s:s*}", "rows", n, "class", cls, "merchant_id", merchant,
                              "environment", env);
    int bad = tx_begin(q, r) || audit_write(q->db, &q->who, "recon.export", "recon_breaks", "export.csv", NULL, NULL, after) ||
              tx_commit(q, r);
    json_decref(after);
    if (bad) {
        free(buf);
        if (!r->status) resp_db_error(r, q->db, NULL, "recon.audit");
        return;
    }
    r->status = 200;
    r->raw = buf;
    r->content_type = "text/csv; charset=utf-8";
    resp_header(r, "Content-Disposition", "attachment; filename=\"recon-breaks.csv\"");
}

/* POST /v1/recon/breaks/bulk-acknowledge {note, items: [{id}, …]} — the console's tagged rows, each item
 * through exactly breaks_acknowledge (http_bulk): its own transaction and audit row. */
static char *breaks_bulk_acknowledge_body(json_t *it, void *ctx)
{
    (void)it;
    const char *v = ctx;
    json_t *o = v ? json_pack("{s:s}", "note", v) : json_object();
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static void breaks_bulk_acknowledge(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "note", "items", NULL };
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    const char *v = NULL;
    json_t *items = json_object_get(b, "items");
    if (!jget_str(b, "note", 0, 8000, &v, r) && !http_bulk_items(items, 1000, 0, r)) {
        int good;
        json_t *results = http_bulk(q, breaks_acknowledge, items, breaks_bulk_acknowledge_body, (void *)v, &good);
        resp_json(r, 200, json_pack("{s:o,s:i,s:i}", "results", results, "succeeded", good, "failed",
                                    (int)json_array_size(items) - good));
    }
    json_decref(b);
}

const struct route recon_routes[] = {
    { "GET",  "/v1/recon/summary",                    CAP_READ,    recon_summary },
    { "GET",  "/v1/recon/breaks",                     CAP_READ,    breaks_list },
    { "GET",  "/v1/recon/breaks/{id}",                CAP_READ,    breaks_get },
    { "POST", "/v1/recon/breaks/{id}/acknowledge",    CAP_FINANCE, breaks_acknowledge },
    { "POST", "/v1/recon/breaks/bulk-acknowledge",    CAP_FINANCE, breaks_bulk_acknowledge },
    { "POST", "/v1/recon/breaks/{id}/match",          CAP_FINANCE, breaks_match },
    { "POST", "/v1/recon/breaks/{id}/escalate",       CAP_FINANCE, breaks_escalate },
    { "POST", "/v1/recon/runs",                       CAP_FINANCE, recon_run_now },
    { "GET",  "/v1/recon/export.csv",                 CAP_FINANCE, recon_export },
    { 0 }
};
