/* GET /v1/audit — who did what, when, why (DESIGN §7, §9): any operator role may read.
 * Newest first, keyset-paginated by id; filters are exact matches and a time window. */
#include "raild/http.h"
#include "raild/query.h"
#include "core/db.h"
#include "core/util.h"
#include <stdio.h>
#include <string.h>


/* a text filter: absent → NULL; present → 1–200 bytes */
static int text_param(struct req *q, struct resp *r, const char *name, const char **out)
{
    *out = req_query(q, name);
    if (*out && (!**out || strlen(*out) > 200)) {
        resp_error(r, 400, "invalid_request", "'%s' must be 1 to 200 characters", name);
        return -1;
    }
    return 0;
}

static int time_param(struct req *q, struct resp *r, const char *name, const char **out)
{
    *out = req_query(q, name);
    if (*out && !util_rfc3339_valid(*out)) {
        resp_error(r, 400, "invalid_request",
                   "'%s' must be an RFC 3339 time such as 2026-01-31T09:00:00Z (encode '+' as %%2B)", name);
        return -1;
    }
    return 0;
}

static void audit_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "actor", "action", "object_type", "object_id", "since", "until",
                                           "limit", "cursor", NULL };
    const char *actor, *action, *otype, *oid, *since, *until;
    long long cur = 0;
    int limit, has_cur;
    if (query_check(q, r, allowed) || query_limit(q, r, 50, 200, &limit)) return;
    if (text_param(q, r, "actor", &actor) || text_param(q, r, "action", &action) ||
        text_param(q, r, "object_type", &otype) || text_param(q, r, "object_id", &oid) ||
        time_param(q, r, "since", &since) || time_param(q, r, "until", &until))
        return;
    const char *c = req_query(q, "cursor");
    if (c && util_parse_i64(c, 1, 1LL << 62, &cur)) {
        resp_error(r, 400, "invalid_request", "'cursor' is not a cursor this endpoint returned");
        return;
    }
    has_cur = cur > 0;
    char lim[16], cs[24];
    snprintf(lim, sizeof lim, "%d", limit + 1);
    snprintf(cs, sizeof cs, "%lld", cur);
    enum { AU_JSON, AU_ID };
    PGresult *res = db_q(q->db,
        "SELECT json_build_object('id', a.id, 'at', " SQL_TS("a.at") ", 'actor', a.actor,"
        " 'actor_key_id', a.actor_key_id, 'role', a.role, 'action', a.action, 'object_type', a.object_type,"
        " 'object_id', a.object_id, 'reason', a.reason, 'before', a.before, 'after', a.after)::text, a.id"
        " FROM audit_log a"
        " WHERE ($1::text IS NULL OR a.actor = $1) AND ($2::text IS NULL OR a.action = $2)"
        "   AND ($3::text IS NULL OR a.object_type = $3) AND ($4::text IS NULL OR a.object_id = $4)"
        "   AND ($5::timestamptz IS NULL OR a.at >= $5::timestamptz)"
        "   AND ($6::timestamptz IS NULL OR a.at < $6::timestamptz)"
        "   AND ($7::bigint IS NULL OR a.id < $7::bigint)"
        " ORDER BY a.id DESC LIMIT $8::int",
        actor, action, otype, oid, since, until, has_cur ? cs : NULL, lim);
    if (db_failed(res)) {
        /* a well-formed time PostgreSQL still refuses (year 0, say) is the caller's error */
        if (!strncmp(db_sqlstate(res), "22", 2))
            resp_error(r, 400, "invalid_request", "'since'/'until' is not a time PostgreSQL accepts");
        else
            resp_db_error(r, q->db, res, "audit.list");
        PQclear(res);
        return;
    }
    int n = PQntuples(res), shown = n > limit ? limit : n;
    json_t *data = json_array();
    for (int i = 0; i < shown; i++) {
        json_t *o = json_loads(PQgetvalue(res, i, AU_JSON), 0, NULL);
        if (o) json_array_append_new(data, o);
    }
    json_t *next = n > limit ? json_string(PQgetvalue(res, shown - 1, AU_ID)) : json_null();
    PQclear(res);
    resp_json(r, 200, json_pack("{s:o,s:o}", "data", data, "next_cursor", next));
}

const struct route audit_routes[] = {
    { "GET", "/v1/audit", CAP_READ, audit_list },
    { 0 }
};
