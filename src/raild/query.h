/* query — strict query-string handling for list endpoints: unknown parameters are
 * rejected (a typo in a filter must not silently widen the result), limits and
 * RFC 3339 times are validated before anything reaches SQL. */
#ifndef RAILD_QUERY_H
#define RAILD_QUERY_H
#include "raild/http.h"

/* 400 unknown_parameter if the query string has a name not in `allowed` (NULL-terminated)
 * or repeats one. Returns 0 or -1 (resp filled). */
int query_check(struct req *q, struct resp *r, const char *const *allowed);
/* ?limit=: absent → def; else an integer 1..max, or 400 invalid_parameter. */
int query_limit(struct req *q, struct resp *r, int def, int max, int *out);
/* ?name= as an integer in [min,max]; absent → 0 and *out untouched. 400 invalid_parameter. */
int query_int(struct req *q, struct resp *r, const char *name, long long min, long long max,
              long long *out, int *present);
#endif
