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

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int query_rfc3339_valid(const char *s)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, se, oh, om;
    if (strlen(s) < 20) return 0;
    if (digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d))
        return 0;
    if ((s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) ||
        s[16] != ':' || digits(s + 17, 2, &se))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59) return 0;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 0;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++) n++;
        if (n < 1 || n > 9) return 0;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == 0) return 1;
    if ((*p != '+' && *p != '-') || strlen(p) != 6 || digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om))
        return 0;
    return oh <= 23 && om <= 59;
}
