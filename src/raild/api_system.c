/* /healthz, /readyz and /metrics: no key needed.
 *   /healthz  liveness: the process answers HTTP; it never touches the database, so a
 *             stalled or stopped database does not get raild restarted by its supervisor
 *   /readyz   readiness: the database answers a read of the keys table within 1 s, and no
 *             request has waited more than 1 s for a request worker (a stopped server, a
 *             saturated pool or a lock on api_keys all make it 503)
 * All three run on MHD's own threads (http.c), never behind the request workers; /readyz
 * and /metrics use one probe connection of their own. */
#include "raild/http.h"
#include "raild/metrics.h"
#include "core/db.h"
#include <stdlib.h>

static void healthz(struct req *q, struct resp *r)
{
    resp_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void readyz(struct req *q, struct resp *r)
{
    if (!q->db) {       /* no probe connection could be made (or another probe holds it) */
        resp_error(r, 503, "not_ready", "no connection to the database");
        return;
    }
    if (db_cmd(q->db, "BEGIN") || db_cmd(q->db, "SET LOCAL statement_timeout = 1000")) {
        db_cmd(q->db, "ROLLBACK");
        resp_error(r, 503, "not_ready", "the database does not answer");
        return;
    }
    char *v = db_val(q->db, "SELECT count(*) FROM (SELECT 1 FROM api_keys LIMIT 1) k");
    db_cmd(q->db, "ROLLBACK");
    if (!v) {
        resp_error(r, 503, "not_ready", "the database did not answer a read of api_keys within 1 s");
        return;
    }
    free(v);
    resp_json(r, 200, json_pack("{s:s,s:s}", "status", "ready", "database", "ok"));
}

static void metrics(struct req *q, struct resp *r)
{
    r->raw = metrics_render(q->db);
    r->content_type = "text/plain; version=0.0.4";
    r->status = r->raw ? 200 : 500;
    if (!r->raw) resp_error(r, 500, "internal", "metrics rendering failed");
}

const struct route system_routes[] = {
    { "GET", "/healthz", CAP_PUBLIC, healthz },
    { "GET", "/readyz", CAP_PUBLIC, readyz },
    { "GET", "/metrics", CAP_PUBLIC, metrics },
    { 0 }
};
