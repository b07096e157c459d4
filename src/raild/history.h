/* history — partitioned, retained history tables (DESIGN §8.4, migration 0075).
 * The database does the work (history_create_ahead, history_drop_partition,
 * history_prune_default: partitions created ahead, whole partitions dropped past retention,
 * live rows kept); this module runs it, one step per transaction: the "history" worker of
 * `raild serve` (one copy at a time, an advisory lock only railtop_app can take) and the
 * `raild admin maintain-history | set-retention | list-history` commands. */
#ifndef RAILD_HISTORY_H
#define RAILD_HISTORY_H
#include <libpq-fe.h>

/* One maintenance pass at `now` (RFC 3339, or NULL for the database's now()).
 * Each action is logged; when `out` is set it is also printed there. Returns the number of
 * partitions dropped (>= 0), or -1 (message in the connection). */
int history_pass(PGconn *db, const char *now, FILE *out);

/* "90d" → 90 (days, 1..36500); "never" → 0; anything else → -1 */
int history_parse_keep(const char *s);

void *history_worker(void *ctx);
#endif
