/* orders — the commerce plane's rules (DESIGN §6), one set for `PUT /v1/orders/{reference}`
 * (api_orders.c) and `raild import-orders` (orders_import.c): which references, statuses
 * and amounts are valid, and how one order change is applied. No HTTP here. */
#include "raild/orders.h"
#include "raild/csv.h"
#include "core/amount.h"
#include "core/db.h"
#include "core/util.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the same rule as payment references (api_payments.c), so every payment can have its
 * order: 1-200 code points of UTF-8, no control characters (C0, DEL, C1) */
int orders_reference_valid(const char *s)
{
    size_t bad, chars = 0;
    if (!csv_utf8_valid(s, strlen(s), &bad)) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        if (*p < 0x20 || *p == 0x7f) return 0;
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) return 0;
        p++;
        while ((*p & 0xc0) == 0x80) p++;
        chars++;
    }
    return chars >= 1 && chars <= ORDER_REF_MAX;
}

int orders_status_valid(const char *s)
{
    static const char *const ok[] = { "pending", "paid", "fulfilled", "canceled", "refunded", NULL };
    for (int i = 0; ok[i]; i++)
        if (!strcmp(s, ok[i])) return 1;
    return 0;
}


int orders_amount_units(const char *s, char *out, size_t outlen)
{
    u128 v;
    if (amount_parse(s, ORDER_DECIMALS, &v)) return -1;
    char buf[AMOUNT_STR_MAX];
    amount_units_str(v, buf);
    if (strlen(buf) >= outlen) return -1;
    snprintf(out, outlen, "%s", buf);
    return 0;
}

enum order_put orders_put(PGconn *db, long long merchant_id, const char *env, const char *reference,
                          const char *units, const char *status, const char *updated_at, const char *source)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", merchant_id);
    PGresult *r = db_q(db,
        "INSERT INTO orders AS o (merchant_id, environment, reference, amount, status, updated_at, source)"
        " VALUES ($1::bigint, $2, $3, $4::numeric, $5, $6::timestamptz, $7)"
        " ON CONFLICT (merchant_id, environment, reference) DO UPDATE SET amount = EXCLUDED.amount,"
        "   status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, source = EXCLUDED.source,"
        "   received_at = now()"
        " WHERE o.updated_at < EXCLUDED.updated_at"
        " RETURNING (xmax = 0)", mid, env, reference, units, status, updated_at, source);
    if (db_failed(r)) {
        /* 22007/22008: a date the format allowed but the calendar does not (Feb 30); the
         * SQLSTATE lives in the result, so it is read before the result is freed */
        enum order_put res = !strncmp(db_sqlstate(r), "2200", 4) ? ORDER_BAD_TIME : ORDER_DB_ERROR;
        PQclear(r);
        return res;
    }
    if (PQntuples(r) == 1) {
        enum order_put res = PQgetvalue(r, 0, 0)[0] == 't' ? ORDER_CREATED : ORDER_UPDATED;
        PQclear(r);
        return res;
    }
    PQclear(r);
    /* not applied: a replay, an older change, or the same instant with other content */
    enum { OS_SAME_TIME, OS_SAME };
    r = db_q(db, "SELECT updated_at = $4::timestamptz, amount = $5::numeric AND status = $6"
                 "  FROM orders WHERE merchant_id = $1::bigint AND environment = $2 AND reference = $3",
             mid, env, reference, updated_at, units, status);
    if (db_failed(r) || PQntuples(r) != 1) { PQclear(r); return ORDER_DB_ERROR; }
    int same_time = PQgetvalue(r, 0, OS_SAME_TIME)[0] == 't', same = PQgetvalue(r, 0, OS_SAME)[0] == 't';
    PQclear(r);
    if (!same_time) return ORDER_STALE;
    return same ? ORDER_UNCHANGED : ORDER_CONFLICT;
}
