/* payouts — see payouts.h. Design notes:
 * - Every check that depends on other payouts (velocity, refundable, available balance)
 *   runs under one advisory lock per (merchant or exception scope, environment, rail), taken
 *   before the sums are read, so two concurrent requests cannot both pass a limit that
 *   only one of them fits.
 * - A refund's ceiling is what was received minus live refunds (not rejected, canceled or
 *   failed); a settlement's is the merchant's payable balance in the ledger minus the
 *   settlements and refunds still waiting for approval (approved ones are already reserved
 *   out of the payable by the ledger trigger).
 * - Destinations are stored canonical (lower-case hex) and shown EIP-55 checksummed. */
#include "raild/payouts.h"
#include "raild/webhook_outbox.h"
#include "raild/payments.h"
#include "core/address.h"
#include "core/amount.h"
#include "core/db.h"
#include "core/keccak.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LL(buf, v) snprintf(buf, sizeof buf, "%lld", (long long)(v))

static long long refuse(struct payout_err *e, int status, const char *code, const char *fmt, const char *a,
                        const char *b)
{
    e->status = status;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->message, sizeof e->message, fmt, a ? a : "", b ? b : "");
    return 0;
}

long long payout_cooling_off_s(void)
{
    const char *v = getenv("RAILD_PAYOUT_COOLING_OFF_S");
    if (!v || !*v) return 86400;
    char *end;
    long long s = strtoll(v, &end, 10);
    return (*end || s < 0 || s > 30LL * 86400) ? -1 : s;
}

struct rail_info {
    char network[40], kind[8], dual_above[80], velocity[80];
    int decimals, has_contract;
};

/* 0 ok, 1 refused, -1 db */
static int rail_load(PGconn *db, const char *rail, const char *env, struct rail_info *ri, struct payout_err *e)
{
    enum { RI_NETWORK, RI_KIND, RI_DECIMALS, RI_HAS_CONTRACT, RI_DUAL_ABOVE, RI_VELOCITY };
    PGresult *r = db_q(db, "SELECT r.network, n.address_kind, r.decimals, r.contract IS NOT NULL,"
                           " coalesce(r.payout_dual_above::text, ''), coalesce(r.payout_velocity_24h::text, '')"
                           " FROM rails r JOIN networks n ON n.name = r.network WHERE r.id = $1 AND r.environment = $2",
                       rail, env);
    if (db_failed(r)) { PQclear(r); return -1; }
    if (PQntuples(r) != 1) {
        PQclear(r);
        refuse(e, 422, "unknown_rail", "unknown rail '%.64s' in %s", rail, env);
        return 1;
    }
    snprintf(ri->network, sizeof ri->network, "%s", PQgetvalue(r, 0, RI_NETWORK));
    snprintf(ri->kind, sizeof ri->kind, "%s", PQgetvalue(r, 0, RI_KIND));
    ri->decimals = atoi(PQgetvalue(r, 0, RI_DECIMALS));
    ri->has_contract = PQgetvalue(r, 0, RI_HAS_CONTRACT)[0] == 't';
    snprintf(ri->dual_above, sizeof ri->dual_above, "%s", PQgetvalue(r, 0, RI_DUAL_ABOVE));
    snprintf(ri->velocity, sizeof ri->velocity, "%s", PQgetvalue(r, 0, RI_VELOCITY));
    PQclear(r);
    if (strcmp(ri->kind, "evm")) {
        refuse(e, 422, "rail_payouts_unsupported",
               "payouts on %s are not supported yet (EVM networks only; see the README)", rail, NULL);
        return 1;
    }
    if (!ri->has_contract) {
        refuse(e, 422, "rail_not_configured", "rail '%s' has no token contract configured in %s", rail, env);
        return 1;
    }
    return 0;
}

/* validates and canonicalizes the destination; never one of our own addresses. 0/1/-1 */
static int destination(PGconn *db, const struct rail_info *ri, const char *in, char *canon, size_t n,
                       struct payout_err *e)
{
    int v = address_destination(ri->kind, in, canon, n);
    if (v == -2) {
        refuse(e, 422, "invalid_destination", "to_address '%.64s' fails its EIP-55 checksum (check every character)",
               in, NULL);
        return 1;
    }
    if (v) {
        refuse(e, 422, "invalid_destination", "to_address '%.64s' is not a valid %s address", in,
               !strcmp(ri->kind, "evm") ? "0x + 40 hex" : "base58check");
        return 1;
    }
    char *ours = db_val(db, "SELECT EXISTS (SELECT 1 FROM deposit_addresses WHERE network = $1 AND lower(address) = lower($2))"
                            " OR EXISTS (SELECT 1 FROM wallets WHERE network = $1 AND lower(address) = lower($2))",
                        ri->network, canon);
    if (!ours) return -1;
    int mine = ours[0] == 't';
    free(ours);
    if (mine) {
        refuse(e, 422, "invalid_destination", "to_address %.64s is one of our own addresses on %s", canon, ri->network);
        return 1;
    }
    return 0;
}

/* 1 when a <= b as numerics; -1 db */
static int num_le(PGconn *db, const char *a, const char *b)
{
    char *v = db_val(db, "SELECT $1::numeric <= $2::numeric", a, b);
    int rc = v ? v[0] == 't' : -1;
    free(v);
    return rc;
}

/* Whether units fit in `left` (takes and frees left), with left formatted for a message
 * (never below zero). 1 fits, 0 not, -1 db. */
static int fits_in(PGconn *db, const char *units, char *left, int decimals, char *shown, size_t n)
{
    if (!left) return -1;
    int fits = num_le(db, units, left);
    units_format(left[0] == '-' ? "0" : left, decimals, shown, n);
    free(left);
    return fits;
}

static int velocity_ok(PGconn *db, const struct payout_req *in, const struct rail_info *ri, const char *units,
                       struct payout_err *e)
{
    if (!ri->velocity[0] || !in->merchant_id) return 0;
    char mid[32];
    LL(mid, in->merchant_id);
    char *used = db_val(db, "SELECT coalesce(sum(amount), 0)::text FROM payouts WHERE merchant_id = $1::bigint"
                            " AND environment = $2 AND rail = $3 AND created_at > now() - interval '24 hours'"
                            " AND state NOT IN ('rejected','canceled','failed')", mid, in->env, in->rail);
    if (!used) return -1;
    char *left = db_val(db, "SELECT ($1::numeric - $2::numeric)::text", ri->velocity, used);
    free(used);
    char shown[AMOUNT_STR_MAX + 8];
    int fits = fits_in(db, units, left, ri->decimals, shown, sizeof shown);
    if (fits < 0) return -1;
    if (!fits) {
        refuse(e, 422, "velocity_limit", "over the 24 h payout limit of this merchant on %s: %s left", in->rail, shown);
        return 1;
    }
    return 0;
}

/* The ceiling of this payout after what is already live. 0 ok, 1 refused, -1 db. */
static int balance_ok(PGconn *db, const struct payout_req *in, const struct rail_info *ri, const char *units,
                      struct payout_err *e)
{
    char mid[32], pid[32], tid[32];
    LL(mid, in->merchant_id);
    LL(pid, in->payment_id);
    LL(tid, in->transfer_id);
    char *left;
    if (!strcmp(in->kind, "settlement")) {
        left = db_val(db,
            "SELECT ((SELECT coalesce(sum(CASE WHEN p.side = 'credit' THEN p.amount ELSE -p.amount END), 0)"
            "           FROM ledger_postings p JOIN ledger_accounts a ON a.id = p.account_id"
            "          WHERE a.code = 'liability:payable:' || $1 || ':' || $2 || ':' || $3)"
            "      - (SELECT coalesce(sum(amount), 0) FROM payouts WHERE merchant_id = $1::bigint AND environment = $2"
            "          AND rail = $3 AND source = 'payable' AND state = 'requested'))::text",
            mid, in->env, in->rail);
    } else {
        left = db_val(db,
            "SELECT ($1::numeric - (SELECT coalesce(sum(amount), 0) FROM payouts WHERE kind = 'refund'"
            "   AND state NOT IN ('rejected','canceled','failed')"
            "   AND ((source = 'payable' AND $2 = 'payable' AND payment_id = $3::bigint)"
            "     OR (source = 'unapplied' AND $2 = 'unapplied' AND transfer_id = $4::bigint))))::text",
            in->max_units ? in->max_units : "0", in->source, pid, tid);
    }
    char shown[AMOUNT_STR_MAX + 8];
    int fits = fits_in(db, units, left, ri->decimals, shown, sizeof shown);
    if (fits < 0) return -1;
    if (!fits) {
        refuse(e, 422, "insufficient_balance", !strcmp(in->kind, "settlement")
                   ? "more than the merchant's available finalized balance (%s)%s"
                   : "more than is refundable (%s left)%s", shown, NULL);
        return 1;
    }
    return 0;
}

static int lock_scope(PGconn *db, const struct payout_req *in)
{
    char scope[200];
    snprintf(scope, sizeof scope, "raild.payout.%lld.%s.%s", in->merchant_id, in->env, in->rail);
    PGresult *r = db_q(db, "SELECT pg_advisory_xact_lock(hashtext($1))", scope);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

static int event_row(PGconn *db, long long id, const char *from, const char *to, const char *actor, json_t *data)
{
    char pid[32];
    LL(pid, id);
    char *d = data ? json_dumps(data, JSON_COMPACT) : NULL;
    PGresult *r = db_q(db, "INSERT INTO payout_events (payout_id, from_state, to_state, actor, data)"
                           " VALUES ($1::bigint, $2, $3, $4, coalesce($5::jsonb, '{}'))", pid, from, to, actor, d);
    free(d);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

json_t *payout_public(json_t *j)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(j, tmp, k, v) if (k[0] == '_') json_object_del(j, k);
    return j;
}

/* the webhook for a move into `type`, to the payout's merchant (none for ownerless refunds) */
static int webhook(PGconn *db, long long id, const char *type)
{
    json_t *j = payout_json(db, id, 0);
    if (!j) return -1;
    long long mid = json_integer_value(json_object_get(j, "merchant_id"));
    int rc = 0;
    if (mid) {
        long long pay = json_integer_value(json_object_get(j, "_payment_row"));
        payout_public(j);
        rc = outbox_write(db, mid, json_string_value(json_object_get(j, "environment")), type, pay, 0,
                          (int)json_integer_value(json_object_get(j, "version")), j, NULL);
    }
    json_decref(j);
    return rc;
}

long long payout_create(PGconn *db, const struct principal *who, const struct payout_req *in, struct payout_err *e)
{
    struct rail_info ri;
    char canon[80], units[AMOUNT_STR_MAX];
    int rc = rail_load(db, in->rail, in->env, &ri, e);
    if (rc) return rc < 0 ? -1 : 0;
    u128 v = 0;
    int bad_amount = in->amount ? amount_parse(in->amount, ri.decimals, &v) != 0
                                : (amount_parse_units(in->amount_units, &v) != 0 || v == 0);
    if (bad_amount) {
        char d[8];
        snprintf(d, sizeof d, "%d", ri.decimals);
        return refuse(e, 422, "invalid_amount", "amount must be a positive decimal string with at most %s fractional"
                      " digits%s", d, NULL);
    }
    amount_units_str(v, units);
    if ((rc = destination(db, &ri, in->to_address, canon, sizeof canon, e))) return rc < 0 ? -1 : 0;
    if (lock_scope(db, in)) return -1;
    if ((rc = velocity_ok(db, in, &ri, units, e)) || (rc = balance_ok(db, in, &ri, units, e))) return rc < 0 ? -1 : 0;
    int dual = 0;
    if (ri.dual_above[0]) {
        int le = num_le(db, units, ri.dual_above);
        if (le < 0) return -1;
        dual = !le;
    }
    char pub[48], mid[32], pid[32], eid[32], tid[32], aid[32], kid[32];
    util_random_id("po_", pub, sizeof pub);
    LL(mid, in->merchant_id);
    LL(pid, in->payment_id);
    LL(eid, in->exception_id);
    LL(tid, in->transfer_id);
    LL(aid, in->payout_address_id);
    LL(kid, who->key_id);
    PGresult *r = db_q(db,
        "INSERT INTO payouts (public_id, kind, merchant_id, environment, rail, network, amount, to_address, source,"
        " reason, payment_id, exception_id, transfer_id, payout_address_id, approvals_needed, requested_by,"
        " requested_by_name, requested_role, idempotency_key, request_hash)"
        " VALUES ($1, $2, NULLIF($3::bigint, 0), $4, $5, $6, $7::numeric, $8, $9, $10, NULLIF($11::bigint, 0),"
        " NULLIF($12::bigint, 0), NULLIF($13::bigint, 0), NULLIF($14::bigint, 0), $15::int, $16::bigint, $17, $18,"
        " $19, $20) RETURNING id",
        pub, in->kind, mid, in->env, in->rail, ri.network, units, canon, in->source, in->reason, pid, eid, tid, aid,
        dual ? "2" : "1", kid, who->name, who->role, in->idem_key, in->req_hash);
    if (db_failed(r)) {
        int dup = !strcmp(db_sqlstate(r), SQLSTATE_UNIQUE_VIOLATION);
        PQclear(r);
        if (dup) return refuse(e, 409, "idempotency_conflict", "Idempotency-Key %.64s is in use%s", in->idem_key, NULL);
        return -1;
    }
    long long id = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    json_t *d = json_pack("{s:s,s:i}", "reason", in->reason, "approvals_needed", dual ? 2 : 1);
    rc = event_row(db, id, NULL, "requested", who->name, d);
    json_decref(d);
    if (rc || webhook(db, id, "payout.requested")) return -1;
    log_info("payout.requested", "payout=%s kind=%s rail=%s env=%s amount=%s requester=\"%s\"", pub, in->kind,
             in->rail, in->env, units, who->name);
    return id;
}

int payout_move(PGconn *db, long long id, enum payout_state to, const char *actor, json_t *data, const char *last_error)
{
    char pid[32];
    LL(pid, id);
    char *cur = db_val(db, "SELECT state FROM payouts WHERE id = $1::bigint", pid);
    enum payout_state from;
    if (!cur) return -2;
    int known = payout_state_parse(cur, &from) == 0;
    free(cur);
    if (!known || !payout_allowed(from, to)) return -1;
    PGresult *r = db_q(db, "UPDATE payouts SET state = $2, version = version + 1, updated_at = now(),"
                           " last_error = coalesce($3, last_error),"
                           " finalized_at = CASE WHEN $2 = 'finalized' THEN now() ELSE finalized_at END"
                           " WHERE id = $1::bigint", pid, payout_state_name(to), last_error);
    int bad = db_failed(r);
    PQclear(r);
    if (bad || event_row(db, id, payout_state_name(from), payout_state_name(to), actor, data)) return -2;
    const char *type = payout_event_type(to);
    if (type && webhook(db, id, type)) return -2;
    log_info("payout.state", "payout_id=%lld from=%s to=%s actor=\"%s\"", id, payout_state_name(from),
             payout_state_name(to), actor);
    return 0;
}

/* ------------------------------------------------------------ JSON */

/* a payout's columns for row_json, in the order PO_* names them */
#define PAYOUT_COLS                                                                                          \
    "p.public_id, p.kind, coalesce(p.merchant_id, 0), p.environment, p.rail, p.network, p.amount::text,"     \
    " p.to_address, p.state, p.version, p.reason, coalesce(pay.public_id, ''), coalesce(e.public_id, ''),"  \
    " p.approvals_needed, p.requested_by_name, p.requested_role, coalesce(p.nonce::text, ''),"               \
    " coalesce(p.tx_hash, ''), coalesce(p.block_number::text, ''), coalesce(p.last_error, ''), p.attempts,"  \
    " coalesce(p.fee_native::text, ''), " SQL_TS("p.created_at") ", " SQL_TS("p.updated_at") ","            \
    " coalesce(" SQL_TS("p.finalized_at") ", ''), r.decimals, p.source, coalesce(p.payment_id, 0),"           \
    " coalesce(pa.public_id, ''), (SELECT count(*) FROM payout_approvals a WHERE a.payout_id = p.id"           \
    "  AND a.decision = 'approve'), p.id"
enum { PO_ID, PO_KIND, PO_MERCHANT, PO_ENV, PO_RAIL, PO_NETWORK, PO_AMOUNT, PO_TO, PO_STATE, PO_VERSION, PO_REASON,
       PO_PAYMENT, PO_EXCEPTION, PO_APPROVALS_NEEDED, PO_REQUESTED_BY, PO_REQUESTED_ROLE, PO_NONCE, PO_TX_HASH,
       PO_BLOCK, PO_LAST_ERROR, PO_ATTEMPTS, PO_FEE, PO_CREATED, PO_UPDATED, PO_FINALIZED, PO_DECIMALS, PO_SOURCE,
       PO_PAYMENT_ROW, PO_PAYOUT_ADDRESS, PO_APPROVALS, PO_ROW };

static json_t *str_or_null(const char *s) { return s[0] ? json_string(s) : json_null(); }

static json_t *row_json(PGresult *r, int i)
{
#define C(n) PQgetvalue(r, i, n)
    char amount[AMOUNT_STR_MAX + 8], shown[48];
    units_format(C(PO_AMOUNT), atoi(C(PO_DECIMALS)), amount, sizeof amount);
    if (eip55_checksum(C(PO_TO), shown, sizeof shown)) snprintf(shown, sizeof shown, "%s", C(PO_TO));
    json_t *j = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:o,s:o,s:i,s:I,s:s,s:s}",
        "id", C(PO_ID), "kind", C(PO_KIND), "merchant_id", (json_int_t)atoll(C(PO_MERCHANT)),
        "environment", C(PO_ENV), "rail", C(PO_RAIL), "network", C(PO_NETWORK), "amount", amount,
        "amount_units", C(PO_AMOUNT), "to_address", shown, "state", C(PO_STATE), "version", atoi(C(PO_VERSION)),
        "reason", C(PO_REASON), "payment_id", str_or_null(C(PO_PAYMENT)),
        "exception_id", str_or_null(C(PO_EXCEPTION)), "approvals_needed", atoi(C(PO_APPROVALS_NEEDED)),
        "approvals", (json_int_t)atoll(C(PO_APPROVALS)), "requested_by", C(PO_REQUESTED_BY),
        "requested_role", C(PO_REQUESTED_ROLE));
    json_object_set_new(j, "nonce", C(PO_NONCE)[0] ? json_integer(atoll(C(PO_NONCE))) : json_null());
    json_object_set_new(j, "tx_hash", str_or_null(C(PO_TX_HASH)));
    json_object_set_new(j, "block_number", C(PO_BLOCK)[0] ? json_integer(atoll(C(PO_BLOCK))) : json_null());
    json_object_set_new(j, "last_error", str_or_null(C(PO_LAST_ERROR)));
    json_object_set_new(j, "attempts", json_integer(atoi(C(PO_ATTEMPTS))));
    json_object_set_new(j, "fee_native_units", str_or_null(C(PO_FEE)));
    json_object_set_new(j, "created_at", json_string(C(PO_CREATED)));
    json_object_set_new(j, "updated_at", json_string(C(PO_UPDATED)));
    json_object_set_new(j, "finalized_at", str_or_null(C(PO_FINALIZED)));
    json_object_set_new(j, "source", json_string(C(PO_SOURCE)));
    json_object_set_new(j, "payout_address_id", str_or_null(C(PO_PAYOUT_ADDRESS)));
    json_object_set_new(j, "_payment_row", json_integer(atoll(C(PO_PAYMENT_ROW))));
    json_object_set_new(j, "_row", json_integer(atoll(C(PO_ROW))));
#undef C
    return j;
}

json_t *payouts_rows(PGconn *db, const char *tail, int n, const char *const *params)
{
    char sql[2048];
    snprintf(sql, sizeof sql,
             "SELECT " PAYOUT_COLS " FROM payouts p JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
             " LEFT JOIN payments pay ON pay.id = p.payment_id LEFT JOIN exceptions e ON e.id = p.exception_id"
             " LEFT JOIN payout_addresses pa ON pa.id = p.payout_address_id %s", tail);
    PGresult *r = db_exec(db, sql, n, params);
    if (db_failed(r)) { PQclear(r); return NULL; }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) json_array_append_new(a, row_json(r, i));
    PQclear(r);
    return a;
}

static json_t *detail_list(PGconn *db, const char *sql, const char *pid)
{
    PGresult *r = db_q(db, sql, pid);
    if (db_failed(r)) { PQclear(r); return NULL; }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) {
        json_t *o = json_object();
        for (int c = 0; c < PQnfields(r); c++)
            json_object_set_new(o, PQfname(r, c), PQgetisnull(r, i, c) ? json_null() : json_string(PQgetvalue(r, i, c)));
        json_array_append_new(a, o);
    }
    PQclear(r);
    return a;
}

json_t *payout_json(PGconn *db, long long id, int detail)
{
    char pid[32];
    LL(pid, id);
    const char *params[] = { pid };
    json_t *a = payouts_rows(db, "WHERE p.id = $1::bigint", 1, params);
    if (!a || json_array_size(a) != 1) { json_decref(a); return NULL; }
    json_t *j = json_incref(json_array_get(a, 0));
    json_decref(a);
    if (!detail) return j;
    json_t *ap = detail_list(db, "SELECT key_name AS by, decision, note, " SQL_TS("at") " AS at FROM payout_approvals"
                                 " WHERE payout_id = $1::bigint ORDER BY id", pid);
    json_t *tx = detail_list(db, "SELECT tx_hash, nonce::text AS nonce, state, max_fee_per_gas::text AS max_fee_per_gas,"
                                 " max_priority_fee_per_gas::text AS max_priority_fee_per_gas, gas_limit::text AS gas_limit,"
                                 " sends::text AS sends, last_error, " SQL_TS("created_at") " AS created_at"
                                 " FROM payout_transactions WHERE payout_id = $1::bigint ORDER BY id", pid);
    json_t *ev = detail_list(db, "SELECT from_state, to_state, actor, data::text AS data, " SQL_TS("at") " AS at"
                                 " FROM payout_events WHERE payout_id = $1::bigint ORDER BY id", pid);
    json_t *lg = detail_list(db, "SELECT t.kind, a.code AS account, p.side, p.amount::text AS amount_units"
                                 " FROM ledger_transactions t JOIN ledger_postings p ON p.txn_id = t.id"
                                 " JOIN ledger_accounts a ON a.id = p.account_id"
                                 " WHERE t.source_type = 'payout' AND t.source_id = $1::bigint ORDER BY p.id", pid);
    if (!ap || !tx || !ev || !lg) {
        json_decref(ap), json_decref(tx), json_decref(ev), json_decref(lg), json_decref(j);
        return NULL;
    }
    json_object_set_new(j, "approval_list", ap);
    json_object_set_new(j, "transactions", tx);
    json_object_set_new(j, "events", ev);
    json_object_set_new(j, "ledger", lg);
    return j;
}

/* ------------------------------------------------------------ reopen */

int payout_on_reopen(PGconn *db, const struct principal *who, long long exception_id, struct payout_err *e)
{
    char eid[32];
    LL(eid, exception_id);
    enum { RO_ID, RO_STATE, RO_SIGNING, RO_PUBLIC_ID };
    PGresult *r = db_q(db, "SELECT id, state, nonce IS NOT NULL, public_id FROM payouts WHERE exception_id = $1::bigint"
                           " AND state NOT IN ('rejected','canceled','failed') FOR UPDATE", eid);
    if (db_failed(r)) { PQclear(r); return -1; }
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        enum payout_state st = POS_FAILED;
        payout_state_parse(PQgetvalue(r, i, RO_STATE), &st);
        if (!payout_cancelable(st) || PQgetvalue(r, i, RO_SIGNING)[0] == 't') {
            refuse(e, 409, "effects_irreversible", "payout %s is already %s: the refund cannot be undone",
                   PQgetvalue(r, i, RO_PUBLIC_ID), st == POS_APPROVED ? "being signed" : PQgetvalue(r, i, RO_STATE));
            rc = 1;
            break;
        }
        json_t *d = json_pack("{s:s}", "reason", "the exception's resolution was reopened");
        int m = payout_move(db, atoll(PQgetvalue(r, i, RO_ID)), POS_CANCELED, who->name, d, NULL);
        json_decref(d);
        if (m) rc = -1;
    }
    PQclear(r);
    if (rc) return rc;
    /* money booked as held for the payer goes back to where it was */
    r = db_q(db, "SELECT ledger_post('unapplied_in_reversal', t.rail, t.environment, t.merchant_id, t.reference,"
                 " t.payment_id, t.transfer_id, t.exception_id, t.amount, 'exception', t.exception_id,"
                 " 'reopened: ' || t.memo, ARRAY[ledger_unapplied(t.rail, t.environment),"
                 " ledger_custody('deposits', t.rail, t.environment)], ARRAY['debit','credit'], ARRAY[t.amount, t.amount])"
                 " FROM ledger_transactions t WHERE t.source_type = 'exception' AND t.source_id = $1::bigint"
                 " AND t.kind = 'unapplied_in' AND NOT EXISTS (SELECT 1 FROM ledger_transactions x"
                 "  WHERE x.source_type = 'exception' AND x.source_id = $1::bigint AND x.kind = 'unapplied_in_reversal')",
             eid);
    rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}
