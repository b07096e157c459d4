/* tags — tagged rows of a list and the keys that make them (DESIGN §9): Space tags or
 * untags the row under the cursor and moves down, V tags a range (one end, then the
 * other), * tags every row the current filter matches (up to TAGS_MAX, the count said), u
 * clears. The view's mutating requests apply to the tagged rows when there are any. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int find(const struct view *v, const char *id)
{
    for (int i = 0; i < v->tags.n; i++)
        if (!strcmp(v->tags.id[i], id)) return i;
    return -1;
}

int tags_has(const struct view *v, const char *id) { return v->tags.n && find(v, id) >= 0; }

void tags_clear(struct view *v)
{
    free(v->tags.id);
    free(v->tags.ver);
    v->tags.id = NULL;
    v->tags.ver = NULL;
    v->tags.n = 0;
    v->tags.mark = 0;
}

void tags_remove(struct view *v, const char *id)
{
    int i = find(v, id);
    if (i < 0) return;
    v->tags.n--;
    memmove(v->tags.id[i], v->tags.id[i + 1], sizeof v->tags.id[0] * (size_t)(v->tags.n - i));
    memmove(v->tags.ver[i], v->tags.ver[i + 1], sizeof v->tags.ver[0] * (size_t)(v->tags.n - i));
}

/* 1 added, 0 already there, -1 full */
static int add(struct view *v, const char *id, const char *ver)
{
    if (find(v, id) >= 0) return 0;
    if (v->tags.n >= TAGS_MAX) return -1;
    if (!v->tags.id) {
        v->tags.id = calloc(TAGS_MAX, sizeof *v->tags.id);
        v->tags.ver = calloc(TAGS_MAX, sizeof *v->tags.ver);
        if (!v->tags.id || !v->tags.ver) { tags_clear(v); return -1; }
    }
    snprintf(v->tags.id[v->tags.n], sizeof v->tags.id[0], "%s", id);
    snprintf(v->tags.ver[v->tags.n], sizeof v->tags.ver[0], "%s", ver);
    v->tags.n++;
    return 1;
}

static const char *ver_of(struct view *v, int row)
{
    return v->ops->tag_ver_col ? grid_val(v, row, v->ops->tag_ver_col) : "";
}

char *tags_array(const struct view *v)
{
    size_t n = 3;
    for (int i = 0; i < v->tags.n; i++) n += strlen(v->tags.id[i]) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    size_t k = 0;
    s[k++] = '{';
    for (int i = 0; i < v->tags.n; i++) k += (size_t)sprintf(s + k, "%s%s", i ? "," : "", v->tags.id[i]);
    s[k++] = '}';
    s[k] = 0;
    return s;
}

/* every row the view's query (filter and arguments) matches, from the top, up to TAGS_MAX */
static void tag_all(struct app *a, struct view *v)
{
    PGresult *r = grid_query_top(a, v, TAGS_MAX + 1);
    if (!r) return;
    int added = 0, full = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int rc = i < TAGS_MAX ? add(v, PQgetvalue(r, i, 0),
                                    v->ops->tag_ver_col ? PQgetvalue(r, i, v->ops->tag_ver_col) : "") : -1;
        if (rc < 0) { full = 1; break; }
        added += rc;
    }
    PQclear(r);
    app_status(a, full, full ? "tagged %d more: %d tagged, the cap (%d) — more rows match" : "tagged %d more: %d tagged",
               added, v->tags.n, TAGS_MAX);
}

int tags_request(struct app *a, struct view *v, enum req r)
{
    struct grid *g = &v->g;
    if (r == REQ_UNTAG) {
        int n = v->tags.n;
        tags_clear(v);
        app_status(a, 0, "%d untagged", n);
        return 1;
    }
    if (r == REQ_TAGALL) { tag_all(a, v); return 1; }
    if (!g->nrows) return 1;
    const char *id = grid_val(v, g->cur, 0);
    if (r == REQ_TAG) {
        if (tags_has(v, id)) tags_remove(v, id);
        else if (add(v, id, ver_of(v, g->cur)) < 0) app_status(a, 1, "at most %d tagged rows", TAGS_MAX);
        grid_request(a, v, REQ_DOWN);
        return 1;
    }
    if (r == REQ_TAGRANGE) {
        if (!v->tags.mark || v->tags.mark > g->nrows) {
            v->tags.mark = g->cur + 1;
            app_status(a, 0, "range from this row: move, then V again");
            return 1;
        }
        int m = v->tags.mark - 1, lo = m < g->cur ? m : g->cur, hi = m < g->cur ? g->cur : m;
        for (int i = lo; i <= hi; i++) add(v, grid_val(v, i, 0), ver_of(v, i));
        v->tags.mark = 0;
        app_status(a, 0, "tagged %d rows: %d tagged", hi - lo + 1, v->tags.n);
        return 1;
    }
    return 0;
}
