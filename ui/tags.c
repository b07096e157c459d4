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

reaction tags_request(struct app *a, struct view *v, enum req r)
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

/* 1 when Esc was pressed (without waiting) */
static int esc_pressed(void)
{
    nodelay(stdscr, TRUE);
    int ch, esc = 0;
    while ((ch = getch()) != ERR) esc |= ch == 27;
    nodelay(stdscr, FALSE);
    return esc;
}

#define BULK_CHUNK 50
#define FAILS_SHOWN 12

reaction tags_bulk_run(struct app *a, struct view *v, const char *path, json_t *base, int with_version,
                       const char *id_prefix, const char *verb)
{
    size_t pl = id_prefix ? strlen(id_prefix) : 0;
    int total = v->tags.n, done = 0, good = 0, stopped = 0, nfail = 0, nok = 0;
    char fails[FAILS_SHOWN][200], (*ok_ids)[64] = calloc((size_t)total + 1, sizeof *ok_ids);
    if (!ok_ids) return RX_HANDLED;
    for (int off = 0; off < total && !stopped; off += BULK_CHUNK) {
        json_t *items = json_array();
        for (int i = off; i < total && i < off + BULK_CHUNK; i++) {
            char id[80];
            snprintf(id, sizeof id, "%s%s", id_prefix ? id_prefix : "", v->tags.id[i]);
            json_t *it = json_pack("{s:s}", "id", id);
            if (with_version) json_object_set_new(it, "version", json_integer(atoll(v->tags.ver[i])));
            json_array_append_new(items, it);
        }
        json_t *body = json_deep_copy(base), *out = NULL;
        json_object_set_new(body, "items", items);
        char msg[600];
        int st = api_call(a, "POST", path, body, &out, msg, sizeof msg);
        json_decref(body);
        if (st != 200) {
            app_status(a, 1, "%s stopped after %d of %d: %s", verb, done, total, msg);
            if (out) json_decref(out);
            stopped = 1;
            break;
        }
        size_t i;
        json_t *res;
        json_array_foreach(json_object_get(out, "results"), i, res) {
            done++;
            const char *id = json_string_value(json_object_get(res, "id"));
            if (json_is_true(json_object_get(res, "ok"))) {
                good++;
                if (id && strlen(id) >= pl) snprintf(ok_ids[nok++], sizeof ok_ids[0], "%s", id + pl);
            } else if (nfail++ < FAILS_SHOWN) {
                json_t *e = json_object_get(res, "error");
                const char *code = json_string_value(json_object_get(e, "code")), *m = json_string_value(json_object_get(e, "message"));
                snprintf(fails[nfail - 1], sizeof fails[0], "%s  %lld %s: %s", id ? id : "?",
                         (long long)json_integer_value(json_object_get(res, "status")), code ? code : "", m ? m : "");
            }
        }
        json_decref(out);
        app_status(a, 0, "%s: %d of %d done (Esc stops)", verb, done, total);
        draw_all(a);
        refresh();
        if (done < total && esc_pressed()) stopped = 1;
    }
    for (int i = 0; i < nok; i++) tags_remove(v, ok_ids[i]);
    free(ok_ids);
    char head[200], buf[FAILS_SHOWN + 2][220];
    const char *lines[FAILS_SHOWN + 2];
    int nl = 0;
    snprintf(head, sizeof head, "%d succeeded, %d failed%s", good, done - good,
             stopped && done < total ? ", stopped before the rest" : "");
    lines[nl++] = head;
    for (int i = 0; i < nfail && i < FAILS_SHOWN; i++) {
        snprintf(buf[nl], sizeof buf[0], "  %s", fails[i]);
        lines[nl] = buf[nl];
        nl++;
    }
    if (nfail > FAILS_SHOWN) {
        snprintf(buf[nl], sizeof buf[0], "  … and %d more (still tagged)", nfail - FAILS_SHOWN);
        lines[nl] = buf[nl];
        nl++;
    }
    app_status(a, done - good ? 1 : 0, "%s: %s", verb, head);
    dlg_confirm(a, "Bulk result", lines, nl, "OK");
    return RX_RELOAD;
}

reaction tags_bulk_confirm(struct app *a, struct view *v, const struct tags_bulk *b, const char *what)
{
    char note[400] = "";
    const char *lines[1] = { what };
    if (!dlg_prompt(a, b->prompt_title, b->prompt, note, sizeof note, b->required) ||
        !dlg_confirm(a, b->confirm_title, lines, 1, b->button)) {
        app_status(a, 0, "%s canceled — nothing changed", b->verb);
        return RX_HANDLED;
    }
    json_t *base = note[0] ? json_pack("{s:s}", b->field, note) : json_object();
    reaction rx = tags_bulk_run(a, v, b->path, base, 0, b->id_prefix, b->verb);
    json_decref(base);
    return rx;
}
