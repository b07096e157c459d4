/* exceptions — the ops queue engine (DESIGN §4), see exceptions.h.
 *
 * Decisions:
 * - "One live exception per (type, transfer) or (type, payment)" is enforced by unique
 *   partial indexes, so exc_open is race-free with INSERT … ON CONFLICT DO NOTHING.
 * - Severity comes from the amount at stake in whole tokens; the two types that mean our
 *   own books may be wrong (reorged: counted money left the chain; unclassified_internal:
 *   our wallet moved funds nobody marked) start one level higher. SLA due follows.
 * - Webhook events for exceptions carry the exception JSON as data and the exception's
 *   version as `sequence` (per object, like payments), and go out only when the merchant
 *   is known (an unmatched transfer to an unassigned address belongs to nobody yet).
 * - Auto-close is a resolution too: state resolved, resolution `auto_closed`, the reason
 *   as note, resolved_by `system`, and an `exception.resolved` event. */
#include "raild/exceptions.h"
#include "core/exc_catalog.h"
#include "raild/webhook_outbox.h"
#include "raild/payments.h"
#include "core/db.h"
#include "raild/pgjson.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int exc_severity(const char *type, const char *amount_units, int decimals)
{
    int sev = 1;
    if (amount_units && *amount_units) {
        const char *d = amount_units;
        while (*d == '0' && d[1]) d++;
        size_t n = strlen(d), dec = decimals > 0 ? (size_t)decimals : 0;
        size_t wl = n > dec ? n - dec : 0;        /* digits of the whole-token part */
        long long whole = 0;
        if (wl > 12) whole = 1000000000000LL;
        else for (size_t i = 0; i < wl; i++) whole = whole * 10 + (d[i] - '0');
        sev = whole < 100 ? 1 : whole < 10000 ? 2 : whole < 100000 ? 3 : 4;
    }
    if (type && (!strcmp(type, "reorged") || !strcmp(type, "unclassified_internal")) && sev < 4) sev++;
    return sev;
}

int exc_sla_hours(int severity)
{
    switch (severity) {
    case 4: return 1;
    case 3: return 4;
    case 2: return 24;
    default: return 72;
    }
}

/* an exception's columns for exc_from_row, in the order EX_* names them */
#define EXC_SELECT                                                                                   \
    "SELECT e.public_id, e.type, e.state, e.severity, " SQL_TS("e.sla_due") ", e.merchant_id,"      \
    " e.environment, e.network, e.rail, p.public_id, e.amount::text, r.decimals, e.assignee,"        \
    " e.version, e.resolution, e.note, e.resolved_by, e.details::text, " SQL_TS("e.opened_at") ","  \
    " " SQL_TS("e.updated_at") ", " SQL_TS("e.resolved_at") ","                                      \
    " t.tx_hash, t.log_index, t.block_number, t.from_address, t.to_address, t.contract,"            \
    " t.value::text, t.status, t.id"                                                                 \
    " FROM exceptions e LEFT JOIN payments p ON p.id = e.payment_id"                                 \
    " LEFT JOIN rails r ON r.id = e.rail AND r.environment = e.environment LEFT JOIN chain_transfers t ON t.id = e.transfer_id "
enum { EX_ID, EX_TYPE, EX_STATE, EX_SEVERITY, EX_SLA_DUE, EX_MERCHANT, EX_ENV, EX_NETWORK, EX_RAIL, EX_PAYMENT, EX_AMOUNT,
       EX_DECIMALS, EX_ASSIGNEE, EX_VERSION, EX_RESOLUTION, EX_NOTE, EX_RESOLVED_BY, EX_DETAILS, EX_OPENED, EX_UPDATED,
       EX_RESOLVED_AT, EX_TX_HASH, EX_LOG_INDEX, EX_BLOCK, EX_FROM, EX_TO, EX_CONTRACT, EX_VALUE, EX_T_STATUS,
       EX_TRANSFER };

/* plain columns: the JSON key, the column, and whether it is an integer */
struct exc_field { const char *key; int col, is_int; };

static void set_fields(json_t *j, PGresult *r, int row, const struct exc_field *f, size_t n)
{
    for (size_t i = 0; i < n; i++)
        json_object_set_new(j, f[i].key, f[i].is_int ? pgj_int(r, row, f[i].col) : pgj_str(r, row, f[i].col));
}

#define SET_FIELDS(j, r, row, f) set_fields((j), (r), (row), (f), sizeof (f) / sizeof (f)[0])

static json_t *exc_from_row(PGresult *r, int row)
{
    static const struct exc_field who[] = {
        { "id", EX_ID, 0 }, { "type", EX_TYPE, 0 }, { "state", EX_STATE, 0 }, { "severity", EX_SEVERITY, 1 },
        { "sla_due", EX_SLA_DUE, 0 }, { "merchant_id", EX_MERCHANT, 1 }, { "environment", EX_ENV, 0 },
        { "network", EX_NETWORK, 0 }, { "rail", EX_RAIL, 0 }, { "payment_id", EX_PAYMENT, 0 },
    };
    static const struct exc_field work[] = {
        { "amount_units", EX_AMOUNT, 0 }, { "assignee", EX_ASSIGNEE, 0 }, { "version", EX_VERSION, 1 },
        { "resolution", EX_RESOLUTION, 0 }, { "note", EX_NOTE, 0 }, { "resolved_by", EX_RESOLVED_BY, 0 },
    };
    static const struct exc_field times[] = {
        { "opened_at", EX_OPENED, 0 }, { "updated_at", EX_UPDATED, 0 }, { "resolved_at", EX_RESOLVED_AT, 0 },
    };
    json_t *j = json_object();
    SET_FIELDS(j, r, row, who);
    if (PQgetisnull(r, row, EX_TRANSFER)) {
        json_object_set_new(j, "transfer", json_null());
    } else {
        json_object_set_new(j, "transfer",
                            json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "tx_hash", pgj_str(r, row, EX_TX_HASH),
                                      "log_index", pgj_int(r, row, EX_LOG_INDEX),
                                      "block_number", pgj_int(r, row, EX_BLOCK), "from", pgj_str(r, row, EX_FROM),
                                      "to", pgj_str(r, row, EX_TO), "contract", pgj_str(r, row, EX_CONTRACT),
                                      "value", pgj_str(r, row, EX_VALUE), "status", pgj_str(r, row, EX_T_STATUS)));
    }
    if (!PQgetisnull(r, row, EX_AMOUNT) && !PQgetisnull(r, row, EX_DECIMALS)) {
        char amt[128];
        units_format(PQgetvalue(r, row, EX_AMOUNT), atoi(PQgetvalue(r, row, EX_DECIMALS)), amt, sizeof amt);
        json_object_set_new(j, "amount", json_string(amt));
    } else {
        json_object_set_new(j, "amount", json_null());
    }
    SET_FIELDS(j, r, row, work);
    json_t *res = json_array();
    for (const char *const *p = exc_resolutions(PQgetvalue(r, row, EX_TYPE)); p && *p; p++)
        json_array_append_new(res, json_string(*p));
    json_object_set_new(j, "resolutions", res);
    json_t *details = json_loads(PQgetvalue(r, row, EX_DETAILS), 0, NULL);
    json_object_set_new(j, "details", details ? details : json_object());
    SET_FIELDS(j, r, row, times);
    return j;
}

json_t *exc_json(PGconn *db, long long exception_id)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", exception_id);
    PGresult *r = db_q(db, EXC_SELECT "WHERE e.id = $1", id);
    json_t *j = (!db_failed(r) && PQntuples(r) == 1) ? exc_from_row(r, 0) : NULL;
    PQclear(r);
    return j;
}

json_t *exc_json_many(PGconn *db, const char *ids)
{
    PGresult *r = db_q(db, EXC_SELECT "WHERE e.id = ANY($1::bigint[]) ORDER BY array_position($1::bigint[], e.id)",
                       ids);
    json_t *a = db_failed(r) ? NULL : json_array();
    for (int i = 0; a && i < PQntuples(r); i++) json_array_append_new(a, exc_from_row(r, i));
    PQclear(r);
    return a;
}

/* exception.opened / exception.resolved to the merchant, when there is one */
static int exc_event(PGconn *db, long long exc_id, const char *type)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", exc_id);
    enum { EV_MERCHANT, EV_ENV, EV_PAYMENT, EV_VERSION };
    PGresult *r = db_q(db, "SELECT merchant_id, environment, coalesce(payment_id, 0), version FROM exceptions"
                           " WHERE id = $1", id);
    if (db_failed(r) || PQntuples(r) != 1) {
        PQclear(r);
        return -1;
    }
    int rc = 0;
    if (!PQgetisnull(r, 0, EV_MERCHANT) && !PQgetisnull(r, 0, EV_ENV)) {
        json_t *j = exc_json(db, exc_id);
        rc = (!j || outbox_write(db, atoll(PQgetvalue(r, 0, EV_MERCHANT)), PQgetvalue(r, 0, EV_ENV), type,
                                 atoll(PQgetvalue(r, 0, EV_PAYMENT)), exc_id, atoi(PQgetvalue(r, 0, EV_VERSION)), j, NULL)) ? -1 : 0;
        json_decref(j);
    }
    PQclear(r);
    return rc;
}

/* Who each exception concerns (CX_* names the columns), one row per u.i (from 0): merchant/
 * environment/rail from the payment, network and (for USDT-contract transfers) rail from
 * the transfer. wrong_asset keeps rail NULL unless the token is a rail we know: its amount
 * is in another token's units. The exceptions go in as one array per column. */
enum { CX_I, CX_MERCHANT, CX_ENV, CX_RAIL, CX_NETWORK, CX_DECIMALS };
static PGresult *exc_context(PGconn *db, const struct exc_new *e, size_t n)
{
    enum { A_PID, A_TID, A_TYPE, A_N };
    struct db_array a[A_N] = { 0 };
    for (size_t i = 0; i < n; i++) {
        db_array_ll(&a[A_PID], e[i].payment_id);
        db_array_ll(&a[A_TID], e[i].transfer_id);
        db_array_str(&a[A_TYPE], e[i].type);
    }
    PGresult *r = db_q(db,
                "SELECT u.i - 1, c.* FROM unnest($1::bigint[], $2::bigint[], $3::text[]) WITH ORDINALITY"
                "  AS u(pid, tid, type, i)"
                " CROSS JOIN LATERAL ("
                /* the environment: the payment's, else the network's (a network belongs to
                 * one environment): an unmatched transfer is not environment-less */
                "SELECT p.merchant_id, coalesce(p.environment,"
                "   (SELECT n.environment FROM networks n WHERE n.name = coalesce(t.network, pr.network))),"
                " CASE WHEN u.type = 'wrong_asset' THEN tr.id ELSE coalesce(p.rail, tr.id) END,"
                " coalesce(t.network, pr.network),"
                " coalesce(CASE WHEN u.type = 'wrong_asset' THEN tr.decimals ELSE coalesce(pr.decimals, tr.decimals) END,"
                "          nr.decimals, 6)"
                " FROM (SELECT 1) x"
                " LEFT JOIN payments p ON p.id = NULLIF(u.pid, 0)"
                " LEFT JOIN rails pr ON pr.id = p.rail AND pr.environment = p.environment"
                " LEFT JOIN chain_transfers t ON t.id = NULLIF(u.tid, 0)"
                " LEFT JOIN rails tr ON tr.network = t.network AND tr.contract = t.contract"
                " LEFT JOIN LATERAL (SELECT decimals FROM rails WHERE network = coalesce(t.network, pr.network)"
                "                    ORDER BY id LIMIT 1) nr ON true) c",
                db_array_text(&a[A_PID]), db_array_text(&a[A_TID]), db_array_text(&a[A_TYPE]));
    for (int c = 0; c < A_N; c++) db_array_free(&a[c]);
    return r;
}

struct pub_at {
    char pub[48];
    size_t i;
    int severity;
};

static int cmp_pub(const void *a, const void *b)
{
    return strcmp(((const struct pub_at *)a)->pub, ((const struct pub_at *)b)->pub);
}

/* the context row's column as an array element: SQL NULL stays NULL */
static void ctx_elem(struct db_array *a, PGresult *c, int row, int col)
{
    db_array_str(a, PQgetisnull(c, row, col) ? NULL : PQgetvalue(c, row, col));
}

/* The INSERT's columns (one array each, EXC_A_*), with severity and SLA from each context
 * row; pubs[i] gets each one's public id. -1 when a context row is missing or doubled. */
enum { EXC_A_PUB, EXC_A_TYPE, EXC_A_SEV, EXC_A_SLA, EXC_A_MERCHANT, EXC_A_ENV, EXC_A_NETWORK, EXC_A_RAIL, EXC_A_PID,
       EXC_A_TID, EXC_A_AMOUNT, EXC_A_DETAILS, EXC_A_N };
static int exc_rows(PGresult *c, const struct exc_new *e, size_t n, struct pub_at *pubs, struct db_array *a)
{
    if ((size_t)PQntuples(c) != n) return -1;
    unsigned char *seen = calloc(n ? n : 1, 1);
    if (!seen) return -1;
    int rc = 0;
    for (int k = 0; k < PQntuples(c) && !rc; k++) {
        long long i = atoll(PQgetvalue(c, k, CX_I));
        if (i < 0 || (size_t)i >= n || seen[i]) {
            rc = -1;
            break;
        }
        seen[i] = 1;
        const struct exc_new *x = &e[i];
        int severity = exc_severity(x->type, x->amount, atoi(PQgetvalue(c, k, CX_DECIMALS)));
        char sla[16];
        snprintf(sla, sizeof sla, "%d hours", exc_sla_hours(severity));
        util_random_id("exc_", pubs[i].pub, sizeof pubs[i].pub);
        pubs[i].i = (size_t)i;
        pubs[i].severity = severity;
        char *details = x->details ? json_dumps(x->details, JSON_COMPACT) : NULL;
        if (x->details && !details) {
            rc = -1;
            break;
        }
        db_array_str(&a[EXC_A_PUB], pubs[i].pub);
        db_array_str(&a[EXC_A_TYPE], x->type);
        db_array_ll(&a[EXC_A_SEV], severity);
        db_array_str(&a[EXC_A_SLA], sla);
        ctx_elem(&a[EXC_A_MERCHANT], c, k, CX_MERCHANT);
        ctx_elem(&a[EXC_A_ENV], c, k, CX_ENV);
        ctx_elem(&a[EXC_A_NETWORK], c, k, CX_NETWORK);
        ctx_elem(&a[EXC_A_RAIL], c, k, CX_RAIL);
        db_array_ll(&a[EXC_A_PID], x->payment_id);
        db_array_ll(&a[EXC_A_TID], x->transfer_id);
        db_array_str(&a[EXC_A_AMOUNT], x->amount);
        db_array_str(&a[EXC_A_DETAILS], details);
        free(details);
    }
    free(seen);
    return rc;
}

int exc_open_many(PGconn *db, struct exc_new *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!exc_type_valid(e[i].type)) return -1;
    if (!n) return 0;
    PGresult *c = exc_context(db, e, n);
    struct pub_at *pubs = calloc(n, sizeof *pubs);
    struct db_array a[EXC_A_N] = { 0 };
    if (db_failed(c) || !pubs || exc_rows(c, e, n, pubs, a)) {
        log_error("exception.context_failed", "type=%s n=%zu sqlstate=%s", e[0].type, n, db_sqlstate(c));
        PQclear(c);
        free(pubs);
        for (int k = 0; k < EXC_A_N; k++) db_array_free(&a[k]);
        return -1;
    }
    PQclear(c);
    enum { NE_ID, NE_PUB, NE_EVENT };
    /* the rows go in the order of e[] (ORDINALITY), so ids follow it */
    PGresult *r = db_q(db,
        "INSERT INTO exceptions (public_id, type, severity, sla_due, merchant_id, environment, network, rail,"
        " payment_id, transfer_id, amount, details)"
        " SELECT u.pub, u.type, u.sev, now() + u.sla::interval, u.merchant, u.env, u.network, u.rail,"
        "        NULLIF(u.pid, 0), NULLIF(u.tid, 0), u.amount, coalesce(u.details, '{}')"
        " FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bigint[], $6::text[], $7::text[],"
        "             $8::text[], $9::bigint[], $10::bigint[], $11::numeric[], $12::jsonb[]) WITH ORDINALITY"
        "      AS u(pub, type, sev, sla, merchant, env, network, rail, pid, tid, amount, details, i)"
        " ORDER BY u.i ON CONFLICT DO NOTHING"
        " RETURNING id, public_id, merchant_id IS NOT NULL AND environment IS NOT NULL",
        db_array_text(&a[EXC_A_PUB]), db_array_text(&a[EXC_A_TYPE]), db_array_text(&a[EXC_A_SEV]),
        db_array_text(&a[EXC_A_SLA]), db_array_text(&a[EXC_A_MERCHANT]), db_array_text(&a[EXC_A_ENV]),
        db_array_text(&a[EXC_A_NETWORK]), db_array_text(&a[EXC_A_RAIL]), db_array_text(&a[EXC_A_PID]),
        db_array_text(&a[EXC_A_TID]), db_array_text(&a[EXC_A_AMOUNT]), db_array_text(&a[EXC_A_DETAILS]));
    for (int k = 0; k < EXC_A_N; k++) db_array_free(&a[k]);
    if (db_failed(r)) {
        log_error("exception.open_failed", "type=%s n=%zu sqlstate=%s", e[0].type, n, db_sqlstate(r));
        PQclear(r);
        free(pubs);
        return -1;
    }
    for (size_t i = 0; i < n; i++) e[i].id = 0;   /* 0: one is already live */
    qsort(pubs, n, sizeof *pubs, cmp_pub);
    int rc = 0;
    for (int k = 0; k < PQntuples(r) && !rc; k++) {
        struct pub_at key, *at;
        snprintf(key.pub, sizeof key.pub, "%s", PQgetvalue(r, k, NE_PUB));
        at = bsearch(&key, pubs, n, sizeof *pubs, cmp_pub);
        if (!at) { rc = -1; break; }
        struct exc_new *x = &e[at->i];
        x->id = atoll(PQgetvalue(r, k, NE_ID));
        /* exception.opened goes to the merchant, when there is one */
        if (PQgetvalue(r, k, NE_EVENT)[0] == 't' && exc_event(db, x->id, "exception.opened")) rc = -1;
        else log_info("exception.opened", "exception=%s type=%s severity=%d payment_id=%lld transfer_id=%lld", key.pub,
                      x->type, at->severity, x->payment_id, x->transfer_id);
    }
    PQclear(r);
    free(pubs);
    return rc;
}

long long exc_open(PGconn *db, const char *type, long long payment_id, long long transfer_id,
                   const char *amount_units, json_t *details)
{
    struct exc_new e = { .type = type, .payment_id = payment_id, .transfer_id = transfer_id, .amount = amount_units,
                         .details = details };
    return exc_open_many(db, &e, 1) ? -1 : e.id;
}

long long exc_open_network(PGconn *db, const char *type, const char *network, const char *environment,
                           json_t *details)
{
    if (!exc_type_valid(type)) return -1;
    char pub[48], sla[16];
    snprintf(sla, sizeof sla, "%d hours", exc_sla_hours(4));
    util_random_id("exc_", pub, sizeof pub);
    char *d = details ? json_dumps(details, JSON_COMPACT) : NULL;
    PGresult *r = db_q(db, "INSERT INTO exceptions (public_id, type, severity, sla_due, environment, network, details)"
                           " VALUES ($1, $2, 4, now() + $3::interval, $4, $5, coalesce($6::jsonb, '{}'))"
                           " ON CONFLICT DO NOTHING RETURNING id", pub, type, sla, environment, network, d);
    free(d);
    if (db_failed(r)) {
        log_error("exception.open_failed", "type=%s sqlstate=%s", type, db_sqlstate(r));
        PQclear(r);
        return -1;
    }
    long long id = PQntuples(r) ? atoll(PQgetvalue(r, 0, 0)) : 0;
    PQclear(r);
    if (id) log_info("exception.opened", "exception=%s type=%s severity=4 network=%s", pub, type, network);
    return id;
}

int exc_auto_close(PGconn *db, const char *type, long long payment_id, long long transfer_id,
                   const char *why)
{
    char pid[32], tid[32];
    snprintf(pid, sizeof pid, "%lld", payment_id);
    snprintf(tid, sizeof tid, "%lld", transfer_id);
    enum { AC_ID, AC_PUBLIC_ID };
    PGresult *r = db_q(db, "UPDATE exceptions SET state = 'resolved', resolution = 'auto_closed', note = $4,"
                           " resolved_by = 'system', resolved_at = now(), updated_at = now(), version = version + 1"
                           " WHERE type = $1 AND state IN ('open','claimed')"
                           " AND CASE WHEN $3::bigint <> 0 THEN transfer_id = $3::bigint"
                           "          ELSE payment_id = $2::bigint AND transfer_id IS NULL END"
                           " RETURNING id, public_id",
                       type, pid, tid, why);
    if (db_failed(r)) {
        log_error("exception.auto_close_failed", "type=%s sqlstate=%s", type, db_sqlstate(r));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r), rc = n;
    for (int i = 0; i < n; i++) {
        if (exc_event(db, atoll(PQgetvalue(r, i, AC_ID)), "exception.resolved")) rc = -1;
        log_info("exception.auto_closed", "exception=%s type=%s why=\"%s\"", PQgetvalue(r, i, AC_PUBLIC_ID), type, why);
    }
    PQclear(r);
    return rc;
}
