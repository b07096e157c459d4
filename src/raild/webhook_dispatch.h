/* dispatcher — at-least-once webhook delivery (DESIGN §5).
 * One loop per dispatcher (the `dispatch` worker in `raild serve`, or `raild dispatch`):
 *   fan-out   webhook_outbox rows (fanned_out_at IS NULL) → webhook_deliveries, one per
 *             subscribed endpoint of the event's merchant + environment
 *   claim     due deliveries FOR UPDATE SKIP LOCKED → status in_flight with a lease
 *             (in_flight_until). A dispatcher that dies leaves the lease to lapse and
 *             another one re-claims: redelivery, never loss; the re-claim writes the lost
 *             attempt's row, as abandoned.
 *   deliver   libcurl multi, keep-alive, bounded concurrency per endpoint and overall,
 *             Standard Webhooks signature over the exact payload bytes
 *   record    batched: each attempt's one row (written when it ends, never updated),
 *             next try (retry schedule with jitter) or
 *             succeeded / failed, endpoint health; 410 disables the endpoint, 429/503
 *             honour Retry-After
 *   recover   operator recover jobs, in chunks, with progress
 * Fan-out, claim and record each have their own connection, used through libpq's async
 * interface: the statements run side by side and the loop keeps driving libcurl meanwhile.
 * Configuration: flags of `raild dispatch`, or the environment for the serve worker:
 *   RAILD_WEBHOOK_RETRY_SCHEDULE  "5s,5m,30m,2h,5h,10h,10h" (plain numbers are seconds)
 *   RAILD_WEBHOOK_CONCURRENCY     overall in-flight requests (default 256)
 *   RAILD_WEBHOOK_PER_ENDPOINT    in-flight requests per endpoint (default 32)
 *   RAILD_WEBHOOK_TIMEOUT_MS      attempt timeout (default 15000)
 *   RAILD_WEBHOOK_LEASE_S         how long a claim stays in flight before another dispatcher may
 *                                 take it over (default 4 × timeout + 30 s; at least 2 × timeout + 1,
 *                                 which claims less work ahead: see lease_seconds) */
#ifndef RAILD_WEBHOOK_DISPATCH_H
#define RAILD_WEBHOOK_DISPATCH_H
#include <signal.h>

#define DISPATCH_MAX_RETRIES 32

struct dispatch_opts {
    const char *conninfo;
    volatile sig_atomic_t *stop;
    int schedule[DISPATCH_MAX_RETRIES];   /* seconds after attempt 1, 2, … */
    int nschedule;
    int max_inflight;
    int per_endpoint;
    int timeout_ms;
    int lease_s;                           /* > claim_depth × timeout: covers a claim's wait for a slot */
    int claim_depth;                       /* claimed ahead per endpoint, in multiples of per_endpoint */
    long long disable_after_s;             /* every attempt failing this long disables the endpoint */
    char name[96];                         /* dispatcher identity, recorded on attempts */
};

/* Defaults, then the RAILD_WEBHOOK_* environment. Returns 0, or -1 with a message on stderr. */
int dispatch_opts_init(struct dispatch_opts *o, const char *conninfo, volatile sig_atomic_t *stop);
/* "5s,5m,30m,2h" → seconds; returns the count, or -1 when malformed. */
int dispatch_parse_schedule(const char *s, int *out, int max);
/* one duration "90s", "30m", "12h", "5d" or plain seconds, 1 minute to 90 days; -1 when not */
long long dispatch_parse_duration(const char *s);
/* Runs until *stop. Returns 0. */
int dispatch_run(struct dispatch_opts *o);
/* worker_table entry (`raild serve --no-dispatch` turns it off) */
void *dispatch_worker(void *ctx);
/* `raild dispatch` */
int cmd_dispatch(int argc, char **argv);
#endif
