/* The commerce plane's intake (DESIGN §6): PUT /v1/orders/{reference} and GET, merchant
 * keys only, scoped to the key's merchant and environment. Idempotent: replaying a
 * request changes nothing; an older updated_at never overwrites a newer one. */
#include "raild/orders.h"
#include "raild/http.h"
#include "core/amount.h"
#include "core/util.h"
#include "core/db.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ------------------------------------------------------------------ HTTP */

static json_t *order_json(PGconn *db, const struct principal *who, const char *reference)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", who->merchant_id);
    enum { O_REFERENCE, O_ENV, O_AMOUNT, O_AMOUNT_UNITS, O_STATUS, O_UPDATED, O_SOURCE, O_RECEIVED };
    PGresult *r = db_q(db,
        "SELECT reference, environment, recon_fmt(amount), amount::text, status, " SQL_TS_US("updated_at") ","
        "       source, " SQL_TS_US("received_at")
        "  FROM orders WHERE merchant_id = $1::bigint AND environment = $2 AND reference = $3",
        mid, who->env, reference);
    json_t *o = NULL;
    if (!db_failed(r) && PQntuples(r) == 1)
        o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
                      "reference", PQgetvalue(r, 0, O_REFERENCE), "environment", PQgetvalue(r, 0, O_ENV),
                      "amount", PQgetvalue(r, 0, O_AMOUNT), "amount_units", PQgetvalue(r, 0, O_AMOUNT_UNITS),
                      "status", PQgetvalue(r, 0, O_STATUS), "updated_at", PQgetvalue(r, 0, O_UPDATED),
                      "source", PQgetvalue(r, 0, O_SOURCE), "received_at", PQgetvalue(r, 0, O_RECEIVED));
    PQclear(r);
    return o;
}

static int check_reference(struct req *q, struct resp *r)
{
    if (orders_reference_valid(q->params[0])) return 0;
    resp_error(r, 422, "invalid_reference",
               "a reference is 1-%d characters of UTF-8 without control characters", ORDER_REF_MAX);
    return -1;
}

static void orders_put_handler(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "amount", "status", "updated_at", NULL };
    if (check_reference(q, r)) return;
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    const char *amount = NULL, *status = NULL, *updated_at = NULL;
    char units[AMOUNT_STR_MAX];
    if (json_object_get(b, "amount") && !json_is_string(json_object_get(b, "amount"))) {
        resp_error(r, 422, "invalid_amount", "'amount' must be a decimal string such as \"125.50\"");
        goto done;
    }
    if (jget_str(b, "amount", 1, 64, &amount, r) || jget_str(b, "status", 1, 32, &status, r) ||
        jget_str(b, "updated_at", 1, 64, &updated_at, r))
        goto done;
    if (orders_amount_units(amount, units, sizeof units)) {
        resp_error(r, 422, "invalid_amount", "'amount' must be a positive decimal string with at most %d "
                   "fractional digits (no sign, no exponent)", ORDER_DECIMALS);
        goto done;
    }
    if (!orders_status_valid(status)) {
        resp_error(r, 422, "invalid_status", "'status' must be pending, paid, fulfilled, canceled or refunded");
        goto done;
    }
    if (!util_rfc3339_valid(updated_at)) {
        resp_error(r, 422, "invalid_updated_at", "'updated_at' must be an RFC 3339 time with a zone, "
                   "e.g. 2026-11-26T12:00:00Z");
        goto done;
    }
    if (tx_begin(q, r)) goto done;
    enum order_put res = orders_put(q->db, q->who.merchant_id, q->who.env, q->params[0], units, status,
                                    updated_at, "api");
    if (res == ORDER_BAD_TIME) {
        resp_error(r, 422, "invalid_updated_at", "'updated_at' is not a real point in time");
        goto done;
    }
    if (res == ORDER_CONFLICT) {
        resp_error(r, 409, "order_conflict", "an order change with the same updated_at and different content "
                   "was already applied; send a newer updated_at");
        goto done;
    }
    if (res == ORDER_DB_ERROR) {
        resp_db_error(r, q->db, NULL, "orders.put");      /* 503 for a timeout, 409 a conflict */
        goto done;
    }
    if (tx_commit(q, r)) goto done;
    json_t *o = order_json(q->db, &q->who, q->params[0]);
    if (!o) { resp_db_error(r, q->db, NULL, "orders.read_back"); goto done; }
    json_object_set_new(o, "applied", json_boolean(res == ORDER_CREATED || res == ORDER_UPDATED));
    if (res == ORDER_STALE)
        json_object_set_new(o, "ignored", json_string("older than the stored updated_at"));
    resp_json(r, res == ORDER_CREATED ? 201 : 200, o);
done:
    json_decref(b);
}

static void orders_get_handler(struct req *q, struct resp *r)
{
    if (check_reference(q, r)) return;
    json_t *o = order_json(q->db, &q->who, q->params[0]);
    if (!o) { resp_error(r, 404, "not_found", "no order with reference '%s'", q->params[0]); return; }
    resp_json(r, 200, o);
}

const struct route orders_routes[] = {
    { "PUT", "/v1/orders/{reference}", CAP_MERCHANT, orders_put_handler },
    { "GET", "/v1/orders/{reference}", CAP_MERCHANT, orders_get_handler },
    { 0 }
};
