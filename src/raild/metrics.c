#include "raild/metrics.h"
#include "core/db.h"
#include "core/exc_catalog.h"
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fixed-size tables: routes are a small static set, so a linear scan is fine. */
#define MAX_SERIES 256
static const double BUCKETS_MS[] = { 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500 };
#define NB (sizeof BUCKETS_MS / sizeof BUCKETS_MS[0])

struct req_series { const char *route; int status; unsigned long long n; };
struct lat_series { const char *route; unsigned long long b[NB + 1]; unsigned long long n; unsigned long long sum_us; };
struct tr_series { char state[24]; unsigned long long n; };

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct req_series reqs[MAX_SERIES];
static struct lat_series lats[MAX_SERIES];
static struct tr_series trs[16];
static int nreqs, nlats, ntrs;
static unsigned long long wh_exhausted, wh_disabled, hist_created, hist_dropped;

void metrics_history(int created, int dropped)
{
    pthread_mutex_lock(&mu);
    hist_created += (unsigned long long)created;
    hist_dropped += (unsigned long long)dropped;
    pthread_mutex_unlock(&mu);
}

void metrics_webhook_outcomes(int exhausted, int disabled)
{
    pthread_mutex_lock(&mu);
    wh_exhausted += (unsigned long long)exhausted;
    wh_disabled += (unsigned long long)disabled;
    pthread_mutex_unlock(&mu);
}

void metrics_request(const char *route, int status, int64_t usec)
{
    pthread_mutex_lock(&mu);
    int i;
    for (i = 0; i < nreqs; i++)
        if (reqs[i].route == route && reqs[i].status == status) break;
    if (i == nreqs && nreqs < MAX_SERIES) reqs[nreqs++] = (struct req_series){ route, status, 0 };
    if (i < MAX_SERIES) reqs[i].n++;
    for (i = 0; i < nlats; i++)
        if (lats[i].route == route) break;
    if (i == nlats && nlats < MAX_SERIES) { memset(&lats[i], 0, sizeof lats[i]); lats[nlats++].route = route; }
    if (i < MAX_SERIES) {
        size_t b = 0;
        while (b < NB && (double)usec / 1000.0 > BUCKETS_MS[b]) b++;
        lats[i].b[b]++;
        lats[i].n++;
        lats[i].sum_us += (unsigned long long)usec;
    }
    pthread_mutex_unlock(&mu);
}

void metrics_transition(const char *to_state)
{
    pthread_mutex_lock(&mu);
    int i;
    for (i = 0; i < ntrs; i++)
        if (!strcmp(trs[i].state, to_state)) break;
    if (i == ntrs && ntrs < 16) snprintf(trs[ntrs++].state, sizeof trs[0].state, "%s", to_state);
    if (i < 16) trs[i].n++;
    pthread_mutex_unlock(&mu);
}

/* Per network, from watcher_status (any raild copy answers the same, whichever holds the
 * watcher lease) and chain_heads (also fed by external watchers). */
static void chain_metrics(PGconn *db, FILE *f)
{
    enum { W_NETWORK, W_HEAD, W_FINALIZED, W_STATE, W_LAG_BLOCKS, W_LAG_S, W_RANGE, W_REORGS, W_RPC_ERRORS };
    PGresult *r = db_q0(db,
        "SELECT n.name, coalesce(h.head, -1), coalesce(h.finalized, -1), coalesce(w.state, 'none'),"
        "       coalesce(w.head - w.checkpoint, 0), coalesce(extract(epoch FROM now() - w.head_seen_at)::bigint, -1),"
        "       coalesce(w.range_size, 0), coalesce(w.reorgs, 0), coalesce(w.rpc_errors::text, '{}')"
        "  FROM networks n LEFT JOIN chain_heads h ON h.network = n.name"
        "  LEFT JOIN watcher_status w ON w.network = n.name ORDER BY n.name");
    if (db_failed(r)) { PQclear(r); return; }
    /* skip_unset: a network with no head yet has none to report (-1) */
    static const struct { const char *name, *help, *type; int col, skip_unset; } g[] = {
        { "raild_chain_head", "Latest head ingested, by network.", "gauge", W_HEAD, 1 },
        { "raild_chain_finalized", "Finalized height ingested, by network.", "gauge", W_FINALIZED, 1 },
        { "raild_watcher_lag_blocks", "Node head minus the watcher's checkpoint.", "gauge", W_LAG_BLOCKS, 0 },
        { "raild_watcher_lag_seconds", "Seconds since the node last showed a new head (-1: never).", "gauge", W_LAG_S, 0 },
        { "raild_watcher_range_blocks", "eth_getLogs block range in use.", "gauge", W_RANGE, 0 },
        { "raild_watcher_reorgs_total", "Reorgs the watcher detected and unwound.", "counter", W_REORGS, 0 },
    };
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", g[k].name, g[k].help, g[k].name, g[k].type);
        for (int i = 0; i < PQntuples(r); i++)
            if (!g[k].skip_unset || strcmp(PQgetvalue(r, i, g[k].col), "-1"))
                fprintf(f, "%s{network=\"%s\"} %s\n", g[k].name, PQgetvalue(r, i, W_NETWORK), PQgetvalue(r, i, g[k].col));
    }
    fprintf(f, "# HELP raild_watcher_up 1 for the state each network's watcher is in.\n# TYPE raild_watcher_up gauge\n");
    for (int i = 0; i < PQntuples(r); i++)
        fprintf(f, "raild_watcher_up{network=\"%s\",state=\"%s\"} 1\n", PQgetvalue(r, i, W_NETWORK), PQgetvalue(r, i, W_STATE));
    fprintf(f, "# HELP raild_watcher_rpc_errors_total RPC errors by network and code.\n"
               "# TYPE raild_watcher_rpc_errors_total counter\n");
    for (int i = 0; i < PQntuples(r); i++) {
        json_error_t e;
        json_t *o = json_loads(PQgetvalue(r, i, W_RPC_ERRORS), 0, &e), *v;
        const char *k;
        json_object_foreach(o, k, v)
            if (json_is_integer(v))
                fprintf(f, "raild_watcher_rpc_errors_total{network=\"%s\",code=\"%s\"} %lld\n", PQgetvalue(r, i, W_NETWORK),
                        k, (long long)json_integer_value(v));
        json_decref(o);
    }
    PQclear(r);
}

char *metrics_render(PGconn *db)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    pthread_mutex_lock(&mu);
    fprintf(f, "# HELP raild_http_requests_total HTTP requests by route and status.\n"
               "# TYPE raild_http_requests_total counter\n");
    for (int i = 0; i < nreqs; i++)
        fprintf(f, "raild_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", reqs[i].route, reqs[i].status,
                reqs[i].n);
    fprintf(f, "# HELP raild_http_request_duration_seconds Request latency.\n"
               "# TYPE raild_http_request_duration_seconds histogram\n");
    for (int i = 0; i < nlats; i++) {
        unsigned long long cum = 0;
        for (size_t b = 0; b < NB; b++) {
            cum += lats[i].b[b];
            fprintf(f, "raild_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", lats[i].route,
                    BUCKETS_MS[b] / 1000.0, cum);
        }
        fprintf(f, "raild_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", lats[i].route,
                lats[i].n);
        fprintf(f, "raild_http_request_duration_seconds_sum{route=\"%s\"} %llu.%06llu\n", lats[i].route,
                lats[i].sum_us / 1000000, lats[i].sum_us % 1000000);
        fprintf(f, "raild_http_request_duration_seconds_count{route=\"%s\"} %llu\n", lats[i].route, lats[i].n);
    }
    fprintf(f, "# HELP raild_payment_transitions_total Payment state transitions made by this process.\n"
               "# TYPE raild_payment_transitions_total counter\n");
    for (int i = 0; i < ntrs; i++)
        fprintf(f, "raild_payment_transitions_total{to=\"%s\"} %llu\n", trs[i].state, trs[i].n);
    fprintf(f, "# HELP raild_webhook_deliveries_exhausted_total Deliveries whose retry schedule ran out"
               " (delivery.exhausted sent).\n# TYPE raild_webhook_deliveries_exhausted_total counter\n"
               "raild_webhook_deliveries_exhausted_total %llu\n"
               "# HELP raild_webhook_endpoints_disabled_total Endpoints the dispatcher disabled (410, or failing"
               " past RAILD_WEBHOOK_DISABLE_AFTER).\n# TYPE raild_webhook_endpoints_disabled_total counter\n"
               "raild_webhook_endpoints_disabled_total %llu\n", wh_exhausted, wh_disabled);
    fprintf(f, "# HELP raild_history_partitions_created_total History partitions this process created.\n"
               "# TYPE raild_history_partitions_created_total counter\nraild_history_partitions_created_total %llu\n"
               "# HELP raild_history_partitions_dropped_total History partitions this process dropped past retention.\n"
               "# TYPE raild_history_partitions_dropped_total counter\nraild_history_partitions_dropped_total %llu\n",
            hist_created, hist_dropped);
    pthread_mutex_unlock(&mu);
    if (db) {
        /* every type of the catalogue, zeros included */
        struct db_array types = { 0 };
        for (int i = 0; exc_types[i]; i++) db_array_str(&types, exc_types[i]);
        enum { XO_TYPE, XO_COUNT };
        PGresult *r = db_q(db, "SELECT t, count(e.id) FROM unnest($1::text[]) t"
                               " LEFT JOIN exceptions e ON e.type = t AND e.state IN ('open','claimed')"
                               " GROUP BY t ORDER BY t", db_array_text(&types));
        db_array_free(&types);
        if (!db_failed(r)) {
            fprintf(f, "# HELP raild_exceptions_open Open (or claimed) exceptions by type.\n"
                       "# TYPE raild_exceptions_open gauge\n");
            for (int i = 0; i < PQntuples(r); i++)
                fprintf(f, "raild_exceptions_open{type=\"%s\"} %s\n", PQgetvalue(r, i, XO_TYPE), PQgetvalue(r, i, XO_COUNT));
        }
        PQclear(r);
        enum { HS_TABLE, HS_AHEAD, HS_DEFAULT_ROWS };
        r = db_q0(db, "SELECT tbl, ahead, default_rows FROM history_status()");
        if (!db_failed(r)) {
            fprintf(f, "# HELP raild_history_partitions_ahead History partitions made ahead of now (0: rows will"
                       " fall into the default partition).\n# TYPE raild_history_partitions_ahead gauge\n");
            for (int i = 0; i < PQntuples(r); i++)
                fprintf(f, "raild_history_partitions_ahead{table=\"%s\"} %s\n", PQgetvalue(r, i, HS_TABLE), PQgetvalue(r, i, HS_AHEAD));
            fprintf(f, "# HELP raild_history_default_rows Rows in a history table's default partition (kept live rows,"
                       " or rows whose partition was missing).\n# TYPE raild_history_default_rows gauge\n");
            for (int i = 0; i < PQntuples(r); i++)
                fprintf(f, "raild_history_default_rows{table=\"%s\"} %s\n", PQgetvalue(r, i, HS_TABLE), PQgetvalue(r, i, HS_DEFAULT_ROWS));
        }
        PQclear(r);
        chain_metrics(db, f);
    }
    fclose(f);
    return buf;
}
