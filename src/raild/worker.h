/* worker — background loops that run inside `raild serve` (expiry sweeper,
 * webhook dispatcher, recon runner). Each opens its own database connection,
 * checks *stop at least once a second, and coordinates with other raild copies
 * through the database (advisory locks or SKIP LOCKED), never in memory. */
#ifndef RAILD_WORKER_H
#define RAILD_WORKER_H
#include <signal.h>

struct worker_ctx {
    const char *conninfo;
    volatile sig_atomic_t *stop;
};

struct worker {
    const char *name;                 /* `raild serve --no-<name>` turns it off */
    void *(*run)(void *ctx);          /* gets a struct worker_ctx * */
};

extern const struct worker worker_table[];   /* routes.c, terminated by {0} */

/* sleeps up to ms, waking early when *stop is set; returns *stop */
int worker_sleep(struct worker_ctx *w, int ms);

/* Runs fn(w, network) in a thread of its own for every network `sql` (no parameters, one
 * column) lists, looking again every 5 s, until *stop; then joins them. For the workers
 * that run one loop per network (the chain watcher, the payout worker). */
void worker_per_network(struct worker_ctx *w, const char *appname, const char *sql,
                        void (*fn)(struct worker_ctx *, const char *));
#endif
