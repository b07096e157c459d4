/* migrate — applies the db/migrations SQL files (embedded at build time) in order,
 * each in its own transaction, recorded in schema_migrations. Idempotent. */
#ifndef RAILD_MIGRATE_H
#define RAILD_MIGRATE_H
#include <libpq-fe.h>
struct migration { const char *name; const char *sql; };
extern const struct migration migrations[];
/* returns the number applied (>= 0) or -1 on error (message on stderr) */
int migrate_run(PGconn *db, int verbose);
#endif
