#include "raild/metrics.h"
#include "core/db.h"
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
    pthread_mutex_unlock(&mu);
    if (db) {
        PGresult *r = db_q0(db, "SELECT t, count(e.id) FROM unnest(ARRAY['underpaid','overpaid','late_payment',"
                                "'unmatched_transfer','wrong_asset','duplicate_payment','reorged',"
                                "'unclassified_internal','stuck_unconfirmed','recon_break']) t"
                                " LEFT JOIN exceptions e ON e.type = t AND e.state IN ('open','claimed')"
                                " GROUP BY t ORDER BY t");
        if (!db_failed(r)) {
            fprintf(f, "# HELP raild_exceptions_open Open (or claimed) exceptions by type.\n"
                       "# TYPE raild_exceptions_open gauge\n");
            for (int i = 0; i < PQntuples(r); i++)
                fprintf(f, "raild_exceptions_open{type=\"%s\"} %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
        }
        PQclear(r);
    }
    fclose(f);
    return buf;
}
