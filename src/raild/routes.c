/* routes — every HTTP route table and background worker raild has.
 * A module adds one line here; the tables themselves live beside their handlers. */
#include "raild/http.h"
#include "raild/worker.h"
#include "raild/webhook_dispatch.h"
#include "raild/history.h"

extern const struct route system_routes[];
extern const struct route webhook_routes[];
extern const struct route whoami_routes[];
extern const struct route exception_routes[];
extern const struct route audit_routes[];
extern const struct route payments_routes[];
extern const struct route chain_routes[];
extern const struct route orders_routes[];   /* api_orders.c */
extern const struct route recon_routes[];    /* api_recon.c */
extern const struct route network_routes[];  /* api_networks.c */
extern const struct route payout_routes[];   /* api_payouts.c */
extern const struct route change_routes[];   /* api_changes.c */

const struct route *const route_tables[] = {
    system_routes,
    webhook_routes,
    whoami_routes,
    exception_routes,
    audit_routes,
    payments_routes,
    chain_routes,
    orders_routes,
    recon_routes,
    network_routes,
    payout_routes,
    change_routes,
    0
};

void *sweeper_run(void *ctx);   /* sweeper.c */
void *recon_worker(void *ctx);  /* recon.c */
void *watch_worker(void *ctx);  /* watcher.c */
void *payout_worker(void *ctx); /* payout_worker.c */

const struct worker worker_table[] = {
    { "dispatch", dispatch_worker },
    { "sweeper", sweeper_run },
    { "recon", recon_worker },
    { "watch", watch_worker },
    { "payout", payout_worker },
    { "history", history_worker },
    { 0 }
};
