/* grid — keyset-paginated lists. Only the page on screen is ever queried: the view
 * builds "SELECT … WHERE <filters>" and the grid adds the key condition, ORDER BY the
 * indexed key columns and LIMIT page+1. Scrolling moves the anchor (the first row's
 * key); nothing is OFFSET, nothing loads a whole table. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* q is zeroed or was initialised before (a view's build() starts the query again): the
 * buffer is kept */
void qb_init(struct qb *q, const char *sql)
{
    q->len = 0;
    q->n = 0;
    q->broken = 0;
    if (q->sql) q->sql[0] = 0;
    qb_add(q, sql);
}

void qb_add(struct qb *q, const char *sql)
{
    size_t n = strlen(sql);
    if (q->broken) return;
    if (q->len + n + 1 > q->cap) {
        size_t cap = (q->len + n + 1) * 2 < 1024 ? 1024 : (q->len + n + 1) * 2;
        char *s = realloc(q->sql, cap);
        if (!s) { q->broken = 1; return; }
        q->sql = s;
        q->cap = cap;
    }
    memcpy(q->sql + q->len, sql, n + 1);
    q->len += n;
}

void qb_free(struct qb *q)
{
    free(q->sql);
    q->sql = NULL;
    q->len = q->cap = 0;
}

void qb_and(struct qb *q, const char *frag, const char *val)
{
    if (q->n >= QB_MAXPARAMS) { q->broken = 1; return; }
    char buf[1024];
    q->p[q->n++] = val;
    snprintf(buf, sizeof buf, frag, q->n);
    qb_add(q, buf);
}

const char *view_arg(struct view *v, const char *key)
{
    for (int i = 0; i < v->nargs; i++)
        if (!strcmp(v->args[i][0], key)) return v->args[i][1];
    return NULL;
}

void view_filter_sql(struct view *v, struct qb *q, const char *text_expr)
{
    if (!v->filter[0]) return;
    char frag[1024];
    snprintf(frag, sizeof frag, " AND %s(strpos(lower(%s), lower($%%d)) > 0)", v->filter_not ? "NOT " : "", text_expr);
    qb_and(q, frag, v->filter);
}

const char *const *view_keys(const struct view *v)
{
    return v->ops->sorts ? v->ops->sorts[v->sort].key_cols : v->ops->key_cols;
}

const char *const *view_key_types(const struct view *v)
{
    return v->ops->sorts ? v->ops->sorts[v->sort].key_types : v->ops->key_types;
}

int view_key_desc(const struct view *v)
{
    return v->ops->sorts ? v->ops->sorts[v->sort].desc ^ v->sort_rev : v->ops->key_desc;
}

void view_key_list(const struct view *v, char *out, size_t n)
{
    const char *const *k = view_keys(v);
    size_t l = 0;
    out[0] = 0;
    for (int i = 0; k[i] && l < n; i++) l += (size_t)snprintf(out + l, n - l, "%s%s", i ? ", " : "", k[i]);
}

int sort_request(struct app *a, struct view *v, enum req r)
{
    if (!v->ops->sorts) { app_status(a, 1, "this list has one order"); return 1; }
    if (r == REQ_SORT) {
        v->sort = v->ops->sorts[v->sort + 1].label ? v->sort + 1 : 0;
        v->sort_rev = 0;
    } else v->sort_rev = !v->sort_rev;
    v->g.has_anchor = 0;
    v->g.cur = 0;
    v->g.sel_id[0] = 0;
    app_reload(a);
    app_status(a, 0, "sorted by %s %s", v->ops->sorts[v->sort].label,
               view_key_desc(v) ^ v->ops->sorts[v->sort].arrow_flip ? "(descending)" : "(ascending)");
    return 1;
}

void grid_free(struct grid *g)
{
    if (g->res) PQclear(g->res);
    g->res = NULL;
    g->nrows = 0;
}

static int nkeys(struct view *v)
{
    int n = 0;
    while (view_keys(v)[n]) n++;
    return n;
}

enum gmode { G_AT, G_BEFORE, G_BOTTOM };

/* Appends the key condition and ORDER BY/LIMIT for a mode. */
static void add_keyset(struct view *v, struct qb *q, enum gmode m, int limit)
{
    int k = nkeys(v), desc = view_key_desc(v);
    const char *const *cols = view_keys(v), *const *types = view_key_types(v);
    int reverse = m != G_AT;
    if (m != G_BOTTOM && v->g.has_anchor) {
        const char *cmp = m == G_AT ? (desc ? "<=" : ">=") : (desc ? ">" : "<");
        char frag[1024] = " AND (";
        for (int i = 0; i < k; i++) {
            strcat(frag, cols[i]);
            strcat(frag, i < k - 1 ? ", " : ") ");
        }
        strcat(frag, cmp);
        strcat(frag, " (");
        qb_add(q, frag);
        for (int i = 0; i < k; i++) {
            snprintf(frag, sizeof frag, "$%%d::%s%s", types[i], i < k - 1 ? ", " : ")");
            qb_and(q, frag, v->g.anchor[i]);
        }
    } else if (m == G_BEFORE) {
        qb_add(q, " AND false");      /* nothing is before the top */
    }
    qb_add(q, " ORDER BY ");
    for (int i = 0; i < k; i++) {
        qb_add(q, cols[i]);
        qb_add(q, (desc != reverse) ? " DESC" : " ASC");
        if (i < k - 1) qb_add(q, ", ");
    }
    char lim[32];
    snprintf(lim, sizeof lim, " LIMIT %d", limit);
    qb_add(q, lim);
}

static PGresult *gquery(struct app *a, struct view *v, enum gmode m, int limit)
{
    struct qb q = { 0 };
    qb_init(&q, "");
    v->ops->build(a, v, &q);
    add_keyset(v, &q, m, limit);
    if (q.broken) {
        app_status(a, 1, "this filter needs more than %d conditions; narrow it", QB_MAXPARAMS);
        qb_free(&q);
        return NULL;
    }
    int64_t t0 = a->trace ? now_us() : 0;
    PGresult *r = conn_query(a, q.sql, q.n, q.p);
    qb_free(&q);
    if (a->trace) {
        char what[64];
        snprintf(what, sizeof what, "query %s %lld", v->ops->name, (long long)(now_us() - t0));
        app_trace(a, what);
    }
    return r;
}

PGresult *grid_query_top(struct app *a, struct view *v, int limit)
{
    int had = v->g.has_anchor;
    v->g.has_anchor = 0;
    PGresult *r = gquery(a, v, G_AT, limit);
    v->g.has_anchor = had;
    return r;
}

static void set_anchor(struct view *v, PGresult *r, int row)
{
    int k = nkeys(v), nf = PQnfields(r);
    for (int i = 0; i < k; i++)
        snprintf(v->g.anchor[i], sizeof v->g.anchor[i], "%s", PQgetvalue(r, row, nf - k + i));
    v->g.has_anchor = 1;
}

static int fetch(struct app *a, struct view *v, int follow)
{
    struct grid *g = &v->g;
    g->page = a->rows - 4 - v->ops->chrome;
    if (g->page < 1) g->page = 1;
    PGresult *r = gquery(a, v, G_AT, g->page + 1);
    if (!r) return -1;
    if (g->res) PQclear(g->res);
    g->res = r;
    int n = PQntuples(r);
    g->more_below = n > g->page;
    g->nrows = n > g->page ? g->page : n;
    if (follow && g->sel_id[0])
        for (int i = 0; i < g->nrows; i++)
            if (!strcmp(PQgetvalue(r, i, 0), g->sel_id)) { g->cur = i; break; }
    if (g->cur >= g->nrows) g->cur = g->nrows ? g->nrows - 1 : 0;
    if (g->cur < 0) g->cur = 0;
    snprintf(g->sel_id, sizeof g->sel_id, "%s", g->nrows ? PQgetvalue(r, g->cur, 0) : "");
    return 0;
}

int grid_load(struct app *a, struct view *v)
{
    return fetch(a, v, 1);
}

/* moves the anchor `n` rows up (toward the top); returns rows moved */
static int scroll_up(struct app *a, struct view *v, int n)
{
    if (!v->g.has_anchor) return 0;
    PGresult *r = gquery(a, v, G_BEFORE, n);
    if (!r) return 0;
    int got = PQntuples(r);
    if (got) set_anchor(v, r, got - 1);
    else v->g.has_anchor = 0;
    PQclear(r);
    return got;
}

int grid_request(struct app *a, struct view *v, enum req req)
{
    struct grid *g = &v->g;
    switch (req) {
    case REQ_DOWN:
        if (g->cur < g->nrows - 1) g->cur++;
        else if (g->more_below && g->nrows > 1) { set_anchor(v, g->res, 1); fetch(a, v, 0); g->cur = g->nrows - 1; }
        else if (g->more_below) { set_anchor(v, g->res, 1); fetch(a, v, 0); }
        break;
    case REQ_UP:
        if (g->cur > 0) g->cur--;
        else if (scroll_up(a, v, 1)) { fetch(a, v, 0); g->cur = 0; }
        break;
    case REQ_PGDN:
        if (g->more_below) { set_anchor(v, g->res, g->nrows); fetch(a, v, 0); }
        else g->cur = g->nrows ? g->nrows - 1 : 0;
        break;
    case REQ_PGUP:
        if (scroll_up(a, v, g->page)) fetch(a, v, 0);
        else g->cur = 0;
        break;
    case REQ_TOP:
        g->has_anchor = 0;
        g->cur = 0;
        fetch(a, v, 0);
        break;
    case REQ_BOTTOM: {
        PGresult *r = gquery(a, v, G_BOTTOM, g->page);
        if (!r) break;
        if (PQntuples(r)) set_anchor(v, r, PQntuples(r) - 1);
        PQclear(r);
        fetch(a, v, 0);
        g->cur = g->nrows ? g->nrows - 1 : 0;
        break;
    }
    default:
        return 0;
    }
    if (g->res && g->nrows) snprintf(g->sel_id, sizeof g->sel_id, "%s", PQgetvalue(g->res, g->cur, 0));
    return 1;
}

const char *grid_val(struct view *v, int row, int col)
{
    if (!v->g.res || row >= v->g.nrows || col >= PQnfields(v->g.res)) return "";
    return PQgetvalue(v->g.res, row, col);
}

int grid_isnull(struct view *v, int row, int col)
{
    return !v->g.res || row >= v->g.nrows || PQgetisnull(v->g.res, row, col);
}

const char *grid_sel(struct view *v, int col)
{
    if (!v->g.res || !v->g.nrows) return NULL;
    return grid_val(v, v->g.cur, col);
}

/* Widths of the fill columns (width 0) from what they hold on this page: each gets what
 * its widest cell needs and the first one the rest; when they do not all fit, the room is
 * shared in proportion (never below 8). */
#define GRID_MAXCOLS 16
static void fill_widths(struct app *a, struct view *v, const struct gcol *cols, int ncols, cell_fn cell, int *wid)
{
    int fixed = 0, want[GRID_MAXCOLS] = { 0 }, sum = 0, first = -1;
    for (int i = 0; i < ncols; i++) {
        fixed += cols[i].width + 1;
        wid[i] = cols[i].width;
        if (cols[i].width) continue;
        if (first < 0) first = i;
        want[i] = text_width(cols[i].head) + 2;
        for (int r = 0; r < v->g.nrows; r++) {
            char buf[512];
            cell(a, v, r, i, buf, sizeof buf);
            int tw = text_width(buf);
            if (tw > want[i]) want[i] = tw;
        }
        sum += want[i];
    }
    int room = a->cols - fixed;
    if (first < 0) return;
    for (int i = 0; i < ncols; i++) {
        if (cols[i].width) continue;
        wid[i] = sum <= room ? want[i] : (int)((long long)room * want[i] / (sum ? sum : 1));
        if (wid[i] < 8) wid[i] = 8;
    }
    if (sum <= room) wid[first] += room - sum;
}

void grid_draw(struct app *a, struct view *v, int y, int h, const struct gcol *cols, int ncols, cell_fn cell)
{
    int wid[GRID_MAXCOLS];
    if (ncols > GRID_MAXCOLS) ncols = GRID_MAXCOLS;
    fill_widths(a, v, cols, ncols, cell, wid);
    int x = 0;
    for (int i = 0; i < ncols && x < a->cols; i++) {
        int w = wid[i];
        if (x + w > a->cols) w = a->cols - x;
        char head[64], hd[48];
        const struct sort_opt *so = v->ops->sorts ? &v->ops->sorts[v->sort] : NULL;
        if (so && !strcmp(so->col_head, cols[i].head))   /* the active sort's arrow */
            snprintf(hd, sizeof hd, "%s%s", cols[i].head, view_key_desc(v) ^ so->arrow_flip ? (a->unicode ? "↓" : "v")
                                                                                           : (a->unicode ? "↑" : "^"));
        else snprintf(hd, sizeof hd, "%s", cols[i].head);
        if (cols[i].right) snprintf(head, sizeof head, "%*s", w + (int)(strlen(hd) - (size_t)text_width(hd)), hd);
        else snprintf(head, sizeof head, "%s", hd);
        draw_text(y, x, w + 1 < a->cols - x ? w + 1 : a->cols - x, S_COLHEAD, head);
        x += w + 1;
    }
    if (x < a->cols) draw_text(y, x, a->cols - x, S_COLHEAD, "");
    if (!v->g.nrows) {
        draw_text(y + 2, 2, a->cols - 4, S_DIM,
                  v->g.res ? (v->filter[0] || v->nargs ? "no rows match the filter  (:" "name with no arguments clears it)"
                                                       : "nothing here yet")
                           : a->db_ok ? "no data" : "waiting for the database…");
        return;
    }
    v->g.row0 = y + 1;
    for (int r = 0; r < v->g.nrows && r < h - 1; r++) {
        int sel = r == v->g.cur;
        x = 0;
        for (int i = 0; i < ncols && x < a->cols; i++) {
            int w = wid[i];
            if (x + w > a->cols) w = a->cols - x;
            char buf[512], out[600];
            enum style st = cell(a, v, r, i, buf, sizeof buf);
            if (cols[i].right && w > 1 && text_width(buf) > w) {
                /* a number wider than its column (amounts are right-aligned) must not read as
                 * a smaller one: cut it and say so */
                int keep = w - 1;
                snprintf(out, sizeof out, "%.*s%s", keep, buf, a->unicode ? "…" : "+");
            } else if (cols[i].right) {
                int pad = w - text_width(buf);
                snprintf(out, sizeof out, "%*s%s", pad > 0 ? pad : 0, "", buf);
            } else snprintf(out, sizeof out, "%s", buf);
            draw_text(y + 1 + r, x, w, sel ? S_SELECTED : st, out);
            if (x + w < a->cols) draw_text(y + 1 + r, x + w, 1, sel ? S_SELECTED : S_NORMAL, " ");
            x += w + 1;
        }
        if (x < a->cols) draw_text(y + 1 + r, x, a->cols - x, sel ? S_SELECTED : S_NORMAL, "");
        if (tags_has(v, grid_val(v, r, 0))) draw_text(y + 1 + r, 0, 1, S_MATCH, a->unicode ? "●" : "*");
    }
    if (v->g.more_below && h - 1 > v->g.nrows)
        draw_text(y + 1 + v->g.nrows, 0, a->cols, S_DIM, "  … more below (PgDn)");
}
