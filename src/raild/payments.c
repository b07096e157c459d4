/* payments — loading a payment and rendering it as JSON (see payments.h). */
#include "raild/payments.h"
#include "core/db.h"
#include "raild/pgjson.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* a payment's columns for payment_from_row, in the order PM_* names them */
#define PAYMENT_SELECT                                                                          \
    "SELECT p.public_id, p.reference, p.rail, r.network, p.environment, p.amount::text,"        \
    " p.received::text, p.state, p.deposit_address, p.confirmations, r.confirm_depth,"          \
    " " SQL_TS("p.expires_at") ", " SQL_TS("p.created_at") ", " SQL_TS("p.updated_at") ","     \
    " " SQL_TS("p.detected_at") ", " SQL_TS("p.confirmed_at") ", " SQL_TS("p.finalized_at") "," \
    " p.metadata::text, p.sequence, r.decimals"                                                 \
    " FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment "
enum { PM_ID, PM_REFERENCE, PM_RAIL, PM_NETWORK, PM_ENV, PM_AMOUNT, PM_RECEIVED, PM_STATE, PM_DEPOSIT_ADDRESS,
       PM_CONFIRMATIONS, PM_CONFIRM_DEPTH, PM_EXPIRES, PM_CREATED, PM_UPDATED, PM_DETECTED, PM_CONFIRMED, PM_FINALIZED,
       PM_METADATA, PM_SEQUENCE, PM_DECIMALS };

void units_format(const char *digits, int decimals, char *out, size_t outlen)
{
    while (*digits == '0' && digits[1]) digits++;   /* numeric::text never pads, but be safe */
    size_t n = strlen(digits);
    if (decimals <= 0) {
        snprintf(out, outlen, "%s", digits);
        return;
    }
    size_t d = (size_t)decimals;
    if (n > d) {
        snprintf(out, outlen, "%.*s.%s", (int)(n - d), digits, digits + n - d);
        return;
    }
    /* "0." + (d - n) zeros + digits */
    size_t pos = 0;
    if (outlen < d + 3) { if (outlen) out[0] = 0; return; }
    out[pos++] = '0', out[pos++] = '.';
    for (size_t i = n; i < d; i++) out[pos++] = '0';
    snprintf(out + pos, outlen - pos, "%s", digits);
}

static json_t *payment_from_row(PGresult *r, int row)
{
#define V(c) PQgetvalue(r, row, c)
    int dec = atoi(V(PM_DECIMALS));
    char amount[128], received[128];
    units_format(V(PM_AMOUNT), dec, amount, sizeof amount);
    units_format(V(PM_RECEIVED), dec, received, sizeof received);
    json_t *meta = json_loads(V(PM_METADATA), 0, NULL);
    json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:i}",
        "id", V(PM_ID), "reference", V(PM_REFERENCE), "rail", V(PM_RAIL), "network", V(PM_NETWORK),
        "environment", V(PM_ENV), "amount", amount, "amount_units", V(PM_AMOUNT), "received", received,
        "received_units", V(PM_RECEIVED), "state", V(PM_STATE), "deposit_address", V(PM_DEPOSIT_ADDRESS),
        "confirmations", atoi(V(PM_CONFIRMATIONS)), "confirmations_required", atoi(V(PM_CONFIRM_DEPTH)),
        "expires_at", V(PM_EXPIRES), "created_at", V(PM_CREATED), "updated_at", V(PM_UPDATED),
        "detected_at", pgj_str(r, row, PM_DETECTED), "confirmed_at", pgj_str(r, row, PM_CONFIRMED),
        "finalized_at", pgj_str(r, row, PM_FINALIZED), "metadata", meta ? meta : json_object(),
        "sequence", atoi(V(PM_SEQUENCE)));
#undef V
    return j;
}

json_t *payment_json(PGconn *db, long long payment_id)
{
    char id[32];
    snprintf(id, sizeof id, "%lld", payment_id);
    PGresult *r = db_q(db, PAYMENT_SELECT "WHERE p.id = $1", id);
    json_t *j = (!db_failed(r) && PQntuples(r) == 1) ? payment_from_row(r, 0) : NULL;
    PQclear(r);
    return j;
}

json_t *payment_json_public(PGconn *db, const char *public_id, long long merchant_id, const char *env)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", merchant_id);
    PGresult *r = db_q(db, PAYMENT_SELECT "WHERE p.public_id = $1 AND p.merchant_id = $2 AND p.environment = $3",
                       public_id, mid, env);
    json_t *j = (!db_failed(r) && PQntuples(r) == 1) ? payment_from_row(r, 0) : NULL;
    PQclear(r);
    return j;
}

json_t *payments_query(PGconn *db, const char *tail, int n, const char *const *params)
{
    size_t need = strlen(PAYMENT_SELECT) + strlen(tail) + 1;
    char *q = malloc(need);
    if (!q) return NULL;
    snprintf(q, need, "%s%s", PAYMENT_SELECT, tail);
    PGresult *r = db_exec(db, q, n, params);
    free(q);
    if (db_failed(r)) {
        PQclear(r);
        return NULL;
    }
    json_t *a = json_array();
    for (int i = 0; i < PQntuples(r); i++) json_array_append_new(a, payment_from_row(r, i));
    PQclear(r);
    return a;
}
