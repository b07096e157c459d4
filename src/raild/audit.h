/* audit — who did what, when, why, before and after. Call inside the transaction
 * that makes the change, so the audit row commits with it or not at all. */
#ifndef RAILD_AUDIT_H
#define RAILD_AUDIT_H
#include <jansson.h>
#include <libpq-fe.h>
#include "raild/http.h"

/* before/after may be NULL; they are not stolen. Returns 0 or -1. */
int audit_write(PGconn *db, const struct principal *who, const char *action,
                const char *object_type, const char *object_id, const char *reason,
                json_t *before, json_t *after);
/* The same for the admin CLI: actor is "cli:<unix user>", role admin. */
int audit_write_cli(PGconn *db, const char *action, const char *object_type,
                    const char *object_id, const char *reason, json_t *before, json_t *after);
#endif
