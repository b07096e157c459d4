#include "raild/query.h"
#include "core/util.h"
#include <ctype.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

struct qscan {
    const char *const *allowed;
    char bad[96];
    int dup;
    const char *seen[16];
    int nseen;
};

static enum MHD_Result qscan_one(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    struct qscan *s = cls;
    if (s->bad[0]) return MHD_NO;
    int known = 0;
    for (const char *const *a = s->allowed; *a; a++)
        if (!strcmp(*a, k)) { known = 1; break; }
    if (!known) {
        snprintf(s->bad, sizeof s->bad, "%.64s", k);
        return MHD_NO;
    }
    for (int i = 0; i < s->nseen; i++)
        if (!strcmp(s->seen[i], k)) {
            snprintf(s->bad, sizeof s->bad, "%.64s", k);
            s->dup = 1;
            return MHD_NO;
        }
    if (s->nseen < 16) s->seen[s->nseen++] = k;
    return MHD_YES;
}

int query_check(struct req *q, struct resp *r, const char *const *allowed)
{
    struct qscan s = { .allowed = allowed };
    MHD_get_connection_values(q->mhd, MHD_GET_ARGUMENT_KIND, qscan_one, &s);
    if (!s.bad[0]) return 0;
    if (s.dup)
        resp_error(r, 400, "invalid_request", "query parameter '%s' given more than once", s.bad);
    else
        resp_error(r, 400, "unknown_parameter", "unknown query parameter '%s'", s.bad);
    return -1;
}

int query_int(struct req *q, struct resp *r, const char *name, long long min, long long max,
              long long *out, int *present)
{
    const char *v = req_query(q, name);
    if (present) *present = v != NULL;
    if (!v) return 0;
    if (util_parse_i64(v, min, max, out)) {
        resp_error(r, 400, "invalid_request", "'%s' must be an integer from %lld to %lld", name, min, max);
        return -1;
    }
    return 0;
}

int query_limit(struct req *q, struct resp *r, int def, int max, int *out)
{
    long long v = def;
    if (query_int(q, r, "limit", 1, max, &v, NULL)) return -1;
    *out = (int)v;
    return 0;
}


