/* GET /v1/whoami — the caller's identity as raild sees it, for any key. The console cannot
 * read key hashes, so it asks here which operator and role its key belongs to; a watcher
 * (railsim's, an external one) learns the one network its key posts for. */
#include "raild/http.h"

static void whoami(struct req *q, struct resp *r)
{
    json_t *o = json_pack("{s:s,s:s,s:s}", "name", q->who.name, "role", q->who.role,
                          "environment", q->who.env);
    if (q->who.merchant_id)
        json_object_set_new(o, "merchant_id", json_integer(q->who.merchant_id));
    else
        json_object_set_new(o, "merchant_id", json_null());
    json_object_set_new(o, "network", q->who.network[0] ? json_string(q->who.network) : json_null());
    resp_json(r, 200, o);
}

const struct route whoami_routes[] = {
    { "GET", "/v1/whoami", CAP_ANY_KEY, whoami },
    { 0 }
};
