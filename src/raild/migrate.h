/* migrate — applies the db/migrations SQL files (embedded at build time) in order,
 * each in its own transaction, recorded in schema_migrations. Idempotent. */
#ifndef RAILD_MIGRATE_H
#define RAILD_MIGRATE_H
#include <libpq-fe.h>
struct migration { const char *name; const char *sql; };
extern const struct migration migrations[];
/* Applies the pending migrations up to and including `upto` (a name such as
 * 0074_webhook_last_mile, or NULL for all). Returns the number applied (>= 0) or -1 on
 * error (message on stderr). */
int migrate_run(PGconn *db, int verbose, const char *upto);
/* 1 if `name` is one of the embedded migrations */
int migrate_known(const char *name);
#endif
