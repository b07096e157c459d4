/* /healthz and /metrics: no key needed. */
#include "raild/http.h"
#include "raild/metrics.h"
#include "core/db.h"
#include <stdlib.h>

static void healthz(struct req *q, struct resp *r)
{
    resp_json(r, 200, json_pack("{s:s}", "status", "ok"));
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
    { "GET", "/metrics", CAP_PUBLIC, metrics },
    { 0 }
};
