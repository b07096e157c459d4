/* rollup — the per-minute rollups the console's Overview draws (0070_console_overview.sql).
 * Run by the sweeper, under its singleton lock. */
#ifndef RAILD_ROLLUP_H
#define RAILD_ROLLUP_H
#include <libpq-fe.h>

/* One pass if the interval has passed since the last one (RAILD_ROLLUP_INTERVAL_MS, default
 * 10000, 200–600000): counters recomputed for the minutes since the last pass (26 hours back
 * on the first), gauges sampled into the current minute, rows past 26 hours deleted.
 * The caller holds the transaction and the lock. 0 ok (or not due), -1 error. */
int rollup_pass(PGconn *db);
#endif
