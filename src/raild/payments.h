/* payments — the payment object as the API, webhooks and the console see it.
 * One SELECT column list and one JSON builder, so the REST response and the webhook
 * `data` can never drift apart. */
#ifndef RAILD_PAYMENTS_H
#define RAILD_PAYMENTS_H
#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>

/* RFC 3339 UTC with milliseconds, as SQL over a timestamptz expression */

/* Payment JSON (what GET /v1/payments/{id} returns and webhooks carry as data):
 * {"id":"pay_…","reference":"…","rail":"tron:usdt","network":"tron","environment":"sandbox",
 *  "amount":"125.500000","amount_units":"125500000","received":"0.000000","received_units":"0",
 *  "state":"awaiting_payment","deposit_address":"T…","confirmations":0,"confirmations_required":19,
 *  "expires_at":"…Z","created_at":"…Z","updated_at":"…Z","detected_at":null,"confirmed_at":null,
 *  "finalized_at":null,"metadata":{},"sequence":0}
 * Returns a new reference, or NULL (not found / database error). */
json_t *payment_json(PGconn *db, long long payment_id);
/* the same, by public id scoped to a merchant and environment (NULL if not theirs) */
json_t *payment_json_public(PGconn *db, const char *public_id, long long merchant_id, const char *env);

/* Runs the payment SELECT followed by `tail` (WHERE … ORDER BY … LIMIT, with $n params,
 * tables aliased p = payments, r = rails) and returns a JSON array of payment objects,
 * or NULL on a database error (the caller inspects the connection). */
json_t *payments_query(PGconn *db, const char *tail, int n, const char *const *params);

/* Base-unit digits as a decimal string with exactly `decimals` fractional digits,
 * for any length (string arithmetic, no overflow): ("1500", 6) -> "0.001500". */
void units_format(const char *digits, int decimals, char *out, size_t outlen);
#endif
