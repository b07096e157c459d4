/* exceptions — the ops queue (DESIGN §4): which exceptions exist, when the engine opens
 * and auto-closes them, severity and SLA, and which resolutions each type allows.
 * The HTTP API over them is api_exceptions.c. */
#ifndef RAILD_EXCEPTIONS_H
#define RAILD_EXCEPTIONS_H
#include <jansson.h>
#include <libpq-fe.h>

/* types and their resolutions: src/core/exc_catalog.h (shared with the console) */
#include "core/exc_catalog.h"

/* Opens an exception inside the caller's transaction, unless a live (open/claimed) one
 * of the same type exists for the same transfer (or, when transfer_id is 0, the same
 * payment). Severity and SLA come from the amount at stake and the rail; writes the
 * `exception.opened` outbox event when the merchant is known.
 * amount_units: base units as digits, or NULL. details: borrowed, may be NULL.
 * Returns the new exception id, 0 if one was already live, -1 on a database error. */
long long exc_open(PGconn *db, const char *type, long long payment_id, long long transfer_id,
                   const char *amount_units, json_t *details);

/* One exception to open (exc_open_many): what exc_open takes, and `id` for the answer. */
struct exc_new {
    const char *type;
    long long payment_id, transfer_id;
    const char *amount;            /* base units as digits, or NULL */
    json_t *details;               /* borrowed, may be NULL */
    long long id;                  /* out: the new exception's id, 0 if one was already live */
};

/* exc_open for n exceptions in two statements: one context query and one INSERT, the
 * opened events and log lines per exception. 0, or -1 on a database error (the caller's
 * transaction is then to be rolled back). */
int exc_open_many(PGconn *db, struct exc_new *e, size_t n);

/* Opens a network-wide exception (chain_incident): critical, no merchant, no payment;
 * at most one live per network. Returns the id, 0 if one is live, -1 on a database error. */
long long exc_open_network(PGconn *db, const char *type, const char *network, const char *environment,
                           json_t *details);

/* Closes live exceptions of `type` for the transfer (or payment when transfer_id is 0)
 * as resolved with resolution 'auto_closed' and the reason in the note (e.g. reorged
 * transfer re-included, stuck transfer confirmed). Returns the number closed or -1. */
int exc_auto_close(PGconn *db, const char *type, long long payment_id, long long transfer_id,
                   const char *why);

/* Severity 1-4 from the amount at stake in whole tokens (<100 → 1, <10k → 2, <100k → 3,
 * else 4; reorged and unclassified_internal one higher, capped at 4). amount_units may be
 * NULL (→ the type's base severity). */
int exc_severity(const char *type, const char *amount_units, int decimals);
/* SLA in hours for a severity: 4 → 1, 3 → 4, 2 → 24, 1 → 72 */
int exc_sla_hours(int severity);

/* The exception object as the API and webhooks show it (NULL if missing / db error):
 * {"id":"exc_…","type":"underpaid","state":"open","severity":2,"sla_due":"…Z",
 *  "merchant_id":12|null,"environment":"sandbox"|null,"network":"tron"|null,"rail":"tron:usdt"|null,
 *  "payment_id":"pay_…"|null,"transfer":{"tx_hash":"…","log_index":0,"block_number":N|null,
 *  "from":"…","to":"…","contract":"…","value":"digits","status":"seen"}|null,
 *  "amount":"12.500000"|null (null when the token's decimals are unknown),"amount_units":"12500000"|null,
 *  "assignee":null,"version":1,"resolution":null,"note":null,"resolved_by":null,
 *  "resolutions":["accept_partial",…],"details":{…},"opened_at":"…Z","updated_at":"…Z","resolved_at":null} */
json_t *exc_json(PGconn *db, long long exception_id);
/* the exceptions whose ids are in the array literal ids ("{3,1,2}"), in that order, in one
 * query (a list page); NULL on a database error */
json_t *exc_json_many(PGconn *db, const char *ids);
#endif
