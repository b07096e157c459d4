/* recon — the three-plane break engine (DESIGN §6). A run compares the commerce plane
 * (orders), the provider plane (payments, transfers) and the finance plane (ledger) per
 * key (merchant + environment + reference) with set-based SQL and brings recon_breaks
 * up to date: new breaks open, breaks whose condition cleared resolve ('auto'), breaks
 * still present after a later run become 'persisting'.
 *
 * A full run examines every key. An incremental run examines only the keys recorded in
 * recon_dirty by the planes' triggers since the last run, plus the keys whose grace
 * period ran out since the last run; it gives the same result as a full run.
 * Runs are serialised across raild copies by an advisory lock. */
#ifndef RAILD_RECON_H
#define RAILD_RECON_H
#include <libpq-fe.h>

#define RECON_LOCK_KEY "7236020"

struct recon_result {
    long long run_id;
    int full;               /* the mode actually run (incremental falls back to full once) */
    long long keys;         /* keys examined */
    long long opened, updated, resolved, persisted;
    long long open_total;   /* open breaks after the run */
    int duration_ms;
};

/* Runs once. full: 1 full, 0 incremental (a full run when there was never a run before),
 * -1 incremental even then (the worker: the first full run comes on its schedule).
 * wait: block on the lock (CLI, API) or give up when another copy holds it (worker).
 * Returns 0, 1 when skipped because the lock is held, -1 on error (logged). */
int recon_run(PGconn *db, int full, int wait, struct recon_result *out);

/* the 7 classes, most severe first, NULL-terminated */
/* the break classes are the catalogue's: recon_break_classes (core/catalog.h) */
int recon_class_valid(const char *cls);

/* `raild recon` and the background worker (routes.c) */
int cmd_recon(int argc, char **argv);
void *recon_worker(void *ctx);
#endif
