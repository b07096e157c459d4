/* app — the services every view calls: the view stack and tabs, reloads, the status line,
 * whether a mutating action may run, timing and the RAILTOP_TRACE milestones. The event
 * loop that drives them is in main.c. */
#include "app.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

/* RAILTOP_TRACE=file: one line per milestone, for `make bench`:
 *   <unix-µs> <ms since start> <what>
 * what: start, first-complete-screen, reload, repaint, "query <view> <µs>", exit */
void app_trace(struct app *a, const char *what)
{
    if (!a->trace) return;
    fprintf(a->trace, "%lld %lld %s\n", (long long)wall_us(), (long long)(now_ms() - a->t_start), what);
    fflush(a->trace);
}

struct view *app_view(struct app *a)
{
    return a->depth ? &a->stack[a->depth - 1] : &a->tabs[a->tab];
}

void view_release(struct view *v)
{
    grid_free(&v->g);
    tags_clear(v);
    doc_clear(&v->d);
    free(v->d.lines);
    v->d.lines = NULL;
    v->d.cap = 0;
    if (v->ops && v->ops->leave) v->ops->leave(v);
}

void app_push(struct app *a, const struct view_ops *ops, const char *target, const char *target2)
{
    if (a->depth == STACK_MAX) app_pop(a);
    struct view *v = &a->stack[a->depth++];
    memset(v, 0, sizeof *v);
    v->ops = ops;
    snprintf(v->target, sizeof v->target, "%s", target ? target : "");
    snprintf(v->target2, sizeof v->target2, "%s", target2 ? target2 : "");
    app_reload(a);
}

void app_pop(struct app *a)
{
    if (!a->depth) return;
    view_release(&a->stack[--a->depth]);
    app_reload(a);
}

void app_switch_tab(struct app *a, int tab)
{
    a->reload_at = 0;
    while (a->depth) view_release(&a->stack[--a->depth]);
    a->tab = (tab + NTABS) % NTABS;
    app_reload(a);
}

void app_status(struct app *a, int err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->status, sizeof a->status, fmt, ap);
    va_end(ap);
    a->status_err = err;
    a->pending_paint = 1;
}

/* Queries what the current view shows. Without a database the old rows stay on screen
 * (marked stale by the banner) and the reload happens after reconnecting. */
void app_reload(struct app *a)
{
    struct view *v = app_view(a);
    a->pending_paint = 1;
    if (!a->db_ok) { a->pending_reload = 1; return; }
    a->pending_reload = 0;
    a->nchanged = 0;
    if (a->nets_dirty || !a->nets_loaded_at) nets_load(a);
    if (v->ops->load) v->ops->load(a, v);
}

int app_can_mutate(struct app *a, const char **why)
{
    if (a->cfg.read_only) { *why = "read-only"; return 0; }
    if (!a->cfg.key[0]) { *why = "no API key (RAILTOP_KEY)"; return 0; }
    if (a->who.known && strcmp(a->who.env, a->cfg.env)) {
        *why = "the key is for another environment";
        return 0;
    }
    return 1;
}
