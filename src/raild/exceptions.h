/* exceptions — the ops queue (DESIGN §4): which exceptions exist, when the engine opens
 * and auto-closes them, severity and SLA, and which resolutions each type allows.
 * The HTTP API over them is api_exceptions.c. */
#ifndef RAILD_EXCEPTIONS_H
#define RAILD_EXCEPTIONS_H
#include <jansson.h>
#include <libpq-fe.h>

/* the nine types, NULL-terminated */
extern const char *const exc_types[];
int exc_type_valid(const char *type);
/* resolutions allowed for a type, NULL-terminated (NULL for an unknown type) */
const char *const *exc_resolutions(const char *type);
int exc_resolution_allowed(const char *type, const char *resolution);

/* Opens an exception inside the caller's transaction, unless a live (open/claimed) one
 * of the same type exists for the same transfer (or, when transfer_id is 0, the same
 * payment). Severity and SLA come from the amount at stake and the rail; writes the
 * `exception.opened` outbox event when the merchant is known.
 * amount_units: base units as digits, or NULL. details: borrowed, may be NULL.
 * Returns the new exception id, 0 if one was already live, -1 on a database error. */
long long exc_open(PGconn *db, const char *type, long long payment_id, long long transfer_id,
                   const char *amount_units, json_t *details);

/* Closes live exceptions of `type` for the transfer (or payment when transfer_id is 0)
 * as resolved with resolution 'auto_closed' and the reason in the note (e.g. reorged
 * transfer re-included, stuck transfer confirmed). Returns the number closed or -1. */
int exc_auto_close(PGconn *db, const char *type, long long payment_id, long long transfer_id,
                   const char *why);
#endif
