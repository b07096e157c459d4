/* metrics — in-process Prometheus counters; /metrics adds database gauges. */
#ifndef RAILD_METRICS_H
#define RAILD_METRICS_H
#include <stdint.h>
#include <libpq-fe.h>
void metrics_request(const char *route, int status, int64_t usec);
void metrics_transition(const char *to_state);
/* deliveries whose schedule ran out, endpoints the dispatcher disabled (this process) */
void metrics_webhook_outcomes(int exhausted, int disabled);
/* history partitions created and dropped by this process's maintenance passes */
void metrics_history(int created, int dropped);
/* whole exposition text (malloc'd); db may be NULL */
char *metrics_render(PGconn *db);
#endif
