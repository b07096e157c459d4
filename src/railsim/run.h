/* run — `railsim run`: merchants creating payments, one simulated chain per network,
 * and the mistakes real customers and chains make. Shared by run_flags.c (options),
 * run.c (the scheduler and chain) and client.c (HTTP through libcurl multi). */
#ifndef RAILSIM_RUN_H
#define RAILSIM_RUN_H
#include "core/amount.h"
#include <stdint.h>
#include <stdio.h>

#define SIM_MAX_MERCHANTS 16
#define SIM_NNET 8

struct sim_net {             /* a simulated chain */
    const char *name;
    const char *kind;        /* "tron" or "evm": address formats */
    int block_ms;            /* real block time at --speed 1 */
};
struct sim_rail {            /* a rail of one environment (DESIGN §2), as in the rails table */
    const char *id;
    const char *env;         /* sandbox | production */
    int net;                 /* index in sim_nets; -1: a network railsim does not simulate */
    char contract[80];       /* the defaults; the gateway's GET /v1/rails overrides them */
    int decimals, confirm, final;
};
extern const struct sim_net sim_nets[SIM_NNET];
extern struct sim_rail sim_rails[];
extern const int sim_nrails;
int sim_rail_find(const char *id);     /* the sandbox rail's index, or -1 */
int sim_rail_env(int rail, const char *env);   /* the same rail in env: index, or -1 */
int sim_net_find(const char *name);    /* index or -1 */

/* What happens to one payment slot. `exact` is whatever the mix leaves over. */
enum fate {
    F_EXACT, F_UNDERPAY, F_OVERPAY, F_SPLIT, F_LATE, F_ABANDON, F_CANCEL, F_UNKNOWN,
    F_WRONG_TOKEN, F_DUPLICATE, F_REORG, F_REORG_CONFIRMED, F_STUCK, F_SWEEP, F_INTERNAL,
    F__COUNT
};
extern const char *const fate_names[F__COUNT];
enum order_mode { O_ONTIME, O_EARLY, O_LAG };

struct sim_merchant {
    char *key;               /* from a file or the environment, never argv */
    char label[32];          /* m0, m1… : in references and logs */
    const char *env;         /* from the key: rk_live_ → production, else sandbox */
    int rails[8], nrails;    /* indexes in sim_rails, of the merchant's environment */
    unsigned dropped;        /* rails the gateway said are not enabled (bit per index) */
};

struct sim_cfg {
    const char *api;
    struct sim_merchant merchants[SIM_MAX_MERCHANTS];
    int nmerchants;
    char *watcher_keys[SIM_NNET];   /* one per network: the gateway says which (GET /v1/whoami) */
    int nwatcher_keys;
    const char *wkey[SIM_NNET];     /* by network index */
    uint64_t seed;
    char tag[48];
    int rate_mpps;           /* payments per 1000 s, so rates like 0.5/s stay integers */
    int speed_pct;           /* chain speed in percent of real block times */
    int64_t duration_ms;     /* 0: unbounded */
    long max_payments;       /* 0: unbounded */
    unsigned mix_bp[F__COUNT];
    unsigned order_early_bp, order_lag_bp;
    int orders;              /* report orders via PUT /v1/orders/{reference} */
    int rails[8], nrails;    /* default rails for merchants without their own list */
    char hot[SIM_NNET][80];  /* our hot wallet per network ("" = unknown) */
    long long start_height;
    int expires_in, short_expiry;
    int concurrency;
    int print_plan;
    const char *trace_path;
    int quiet;
};

int run_main(int argc, char **argv);     /* `railsim run` */
int run_parse(int argc, char **argv, struct sim_cfg *c);   /* 0 ok, 2 usage error (printed) */
void run_usage(FILE *f);
void run_cfg_free(struct sim_cfg *c);
/* Learns from the gateway which network each watcher key posts for and how each
 * merchant's rails are configured in its environment (sync.c). 0, or 2 (printed). */
int run_sync_gateway(struct sim_cfg *c);
/* Resolves merchants' rails to their environment (no gateway: the plan). */
void run_resolve_rails(struct sim_cfg *c);

/* ---- HTTP client (client.c) ---- */
struct client;
struct http_result {
    long status;             /* 0 when the request failed below HTTP */
    const char *body;        /* response body, NUL-terminated */
    const char *error;       /* transport error text when status == 0 */
};
typedef void (*client_done_fn)(void *ctx, int tag, long a, long b, const struct http_result *r);
/* lane: requests in one lane go out strictly one after another (a watcher per network);
 * lane -1 is the shared merchant pool limited by `concurrency`. */
struct client *client_new(const char *base, int nlanes, int concurrency, client_done_fn done, void *ctx);
void client_send(struct client *cl, int lane, const char *method, const char *path, const char *key,
                 const char *idem, const char *body, int tag, long a, long b);
/* runs transfers for at most timeout_ms; returns the number of requests still queued or in flight */
int client_poll(struct client *cl, int timeout_ms);
int client_pending(struct client *cl);
/* requests queued or in flight in one lane */
int client_lane_pending(struct client *cl, int lane);
void client_free(struct client *cl);
#endif
