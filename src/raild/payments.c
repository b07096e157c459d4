/* payments — loading a payment and rendering it as JSON (see payments.h). */
#include "raild/payments.h"
#include "core/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PAYMENT_SELECT                                                                          \
    "SELECT p.public_id, p.reference, p.rail, r.network, p.environment, p.amount::text,"        \
    " p.received::text, p.state, p.deposit_address, p.confirmations, r.confirm_depth,"          \
    " " SQL_TS("p.expires_at") ", " SQL_TS("p.created_at") ", " SQL_TS("p.updated_at") ","     \
    " " SQL_TS("p.detected_at") ", " SQL_TS("p.confirmed_at") ", " SQL_TS("p.finalized_at") "," \
    " p.metadata::text, p.sequence, r.decimals"                                                 \
    " FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment "

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

static json_t *ts_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static json_t *payment_from_row(PGresult *r, int row)
{
    int dec = atoi(PQgetvalue(r, row, 19));
    char amount[128], received[128];
    units_format(PQgetvalue(r, row, 5), dec, amount, sizeof amount);
    units_format(PQgetvalue(r, row, 6), dec, received, sizeof received);
    json_t *meta = json_loads(PQgetvalue(r, row, 17), 0, NULL);
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:i}",
                     "id", PQgetvalue(r, row, 0), "reference", PQgetvalue(r, row, 1), "rail", PQgetvalue(r, row, 2),
                     "network", PQgetvalue(r, row, 3), "environment", PQgetvalue(r, row, 4), "amount", amount,
                     "amount_units", PQgetvalue(r, row, 5), "received", received, "received_units",
                     PQgetvalue(r, row, 6), "state", PQgetvalue(r, row, 7), "deposit_address", PQgetvalue(r, row, 8),
                     "confirmations", atoi(PQgetvalue(r, row, 9)), "confirmations_required",
                     atoi(PQgetvalue(r, row, 10)), "expires_at", PQgetvalue(r, row, 11), "created_at",
                     PQgetvalue(r, row, 12), "updated_at", PQgetvalue(r, row, 13), "detected_at", ts_or_null(r, row, 14),
                     "confirmed_at", ts_or_null(r, row, 15), "finalized_at", ts_or_null(r, row, 16), "metadata",
                     meta ? meta : json_object(), "sequence", atoi(PQgetvalue(r, row, 18)));
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
