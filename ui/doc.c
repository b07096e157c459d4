/* doc — a scrolling document of styled lines, for the detail screens. */
#include "app.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void doc_clear(struct doc *d)
{
    for (int i = 0; i < d->nlines; i++) {
        for (int j = 0; j < d->lines[i].nsegs; j++) free(d->lines[i].segs[j].text);
        free(d->lines[i].segs);
    }
    d->nlines = 0;
}

PGresult *doc_one_begin(struct app *a, struct view *v, const char *what, const char *sql, int *top)
{
    if (top) *top = v->d.top;
    doc_clear(&v->d);
    PGresult *r = cq(a, sql, v->target);
    if (!r || PQntuples(r)) return r;
    doc_nl(&v->d);
    doc_add(&v->d, S_STATUS_ERR, " no %s%s", what, v->target);
    PQclear(r);
    return NULL;
}

void doc_fields(struct doc *d, PGresult *r, const struct doc_field *f, int n)
{
    for (int i = 0; i < n; i++) doc_kv(d, f[i].label, f[i].st, PQgetvalue(r, 0, f[i].col));
}

int doc_one_end(struct view *v, int top)
{
    v->d.top = top;
    return 0;
}

static struct doc_line *cur_line(struct doc *d)
{
    if (!d->nlines) doc_nl(d);
    return &d->lines[d->nlines - 1];
}

void doc_nl(struct doc *d)
{
    if (d->nlines == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->lines = realloc(d->lines, d->cap * sizeof *d->lines);
        if (!d->lines) abort();
    }
    d->lines[d->nlines++] = (struct doc_line){ 0 };
}

void doc_add(struct doc *d, enum style st, const char *fmt, ...)
{
    char buf[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    /* embedded newlines (JSON bodies) become new lines */
    char *s = buf;
    for (;;) {
        char *nl = strchr(s, '\n');
        if (nl) *nl = 0;
        struct doc_line *l = cur_line(d);
        l->segs = realloc(l->segs, (l->nsegs + 1) * sizeof *l->segs);
        if (!l->segs) abort();
        l->segs[l->nsegs++] = (struct doc_seg){ st, strdup(s) };
        if (!nl) break;
        doc_nl(d);
        s = nl + 1;
    }
}

void doc_kv(struct doc *d, const char *label, enum style st, const char *value)
{
    doc_nl(d);
    doc_add(d, S_LABEL, "  %-16s ", label);
    doc_add(d, st, "%s", value && *value ? value : "-");
}

void doc_draw(struct app *a, struct view *v, int y, int h)
{
    struct doc *d = &v->d;
    if (d->top > d->nlines - h) d->top = d->nlines - h;
    if (d->top < 0) d->top = 0;
    for (int r = 0; r < h && d->top + r < d->nlines; r++) {
        struct doc_line *l = &d->lines[d->top + r];
        int x = 0;
        for (int j = 0; j < l->nsegs && x < a->cols; j++) {
            int w = text_width(l->segs[j].text);
            if (x + w > a->cols) w = a->cols - x;
            draw_text(y + r, x, w, l->segs[j].st, l->segs[j].text);
            x += w;
        }
    }
    if (d->nlines > h) {
        char m[64];
        snprintf(m, sizeof m, " %d-%d/%d ", d->top + 1, d->top + h < d->nlines ? d->top + h : d->nlines, d->nlines);
        draw_text(y + h - 1, a->cols - text_width(m), text_width(m), S_DIM, m);
    }
}

int doc_request(struct app *a, struct view *v, enum req r)
{
    struct doc *d = &v->d;
    int h = a->rows - 4;
    switch (r) {
    case REQ_DOWN: d->top++; break;
    case REQ_UP: d->top--; break;
    case REQ_PGDN: d->top += h - 1; break;
    case REQ_PGUP: d->top -= h - 1; break;
    case REQ_TOP: d->top = 0; break;
    case REQ_BOTTOM: d->top = d->nlines; break;
    default: return 0;
    }
    if (d->top > d->nlines - h) d->top = d->nlines - h;
    if (d->top < 0) d->top = 0;
    return 1;
}
