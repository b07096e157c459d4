/* orders — the commerce plane (DESIGN §6): what a merchant says about its orders.
 * Shared by `PUT /v1/orders/{reference}` (api_orders.c) and `raild import-orders`
 * (orders_import.c) so both accept exactly the same input. Amounts are integers in
 * order units, 10^-18 USDT (ORDER_DECIMALS): the finest rail, so any rail compares exactly. */
#ifndef RAILD_ORDERS_H
#define RAILD_ORDERS_H
#include <libpq-fe.h>

#define ORDER_DECIMALS 18
#define ORDER_REF_MAX 200

/* 1 if valid: 1-200 code points of UTF-8 without control characters (as payments) */
int orders_reference_valid(const char *s);
/* 1 for pending|paid|fulfilled|canceled|refunded */
int orders_status_valid(const char *s);
/* "125.50" → order units as digits; 0 or -1 (empty, sign, exponent, zero, > 18 decimals) */
int orders_amount_units(const char *s, char *out, size_t outlen);

enum order_put { ORDER_CREATED, ORDER_UPDATED, ORDER_UNCHANGED, ORDER_STALE, ORDER_CONFLICT, ORDER_BAD_TIME, ORDER_DB_ERROR };
/* Applies one order change inside the caller's transaction: newer updated_at wins, an
 * older one never overwrites; the same updated_at with the same content is a replay
 * (UNCHANGED), with different content a CONFLICT. */
enum order_put orders_put(PGconn *db, long long merchant_id, const char *env, const char *reference,
                          const char *units, const char *status, const char *updated_at, const char *source);

/* `raild import-orders` (orders_import.c) */
int cmd_import_orders(int argc, char **argv);
#endif
