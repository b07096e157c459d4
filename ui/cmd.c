/* cmd — the `/` filter and `:` command mode, edited on the status line like vi. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

/* 1 if appending c to w still fits in n bytes of the locale's multibyte encoding */
static int fits(const wchar_t *w, wchar_t c, size_t n)
{
    char mb[16];
    mbstate_t st = { 0 };
    size_t k = wcrtomb(mb, c, &st), cur = wcstombs(NULL, w, 0);
    return k != (size_t)-1 && cur != (size_t)-1 && cur + k < n;
}

/* A one-line editor on the status line. Returns 1 on Enter, 0 on Esc. */
static int line_input(struct app *a, const char *prefix, char *buf, size_t n)
{
    wchar_t w[256];
    size_t len = mbstowcs(w, buf, 255);
    if (len == (size_t)-1) len = 0;
    w[len] = 0;
    curs_set(1);
    for (;;) {
        char u[1024], line[1100];
        wcstombs(u, w, sizeof u);
        snprintf(line, sizeof line, "%s%s", prefix, u);
        int y = a->rows - 2;
        draw_text(y, 0, a->cols, S_NORMAL, line);
        move(y, text_width(line) < a->cols ? text_width(line) : a->cols - 1);
        refresh();
        wint_t wc;
        nodelay(stdscr, FALSE);
        int rc = get_wch(&wc);
        nodelay(stdscr, TRUE);
        if (rc == ERR) continue;
        if (rc == KEY_CODE_YES) {
            if (wc == KEY_RESIZE) { getmaxyx(stdscr, a->rows, a->cols); draw_all(a); }
            else if (wc == KEY_BACKSPACE) { if (len) w[--len] = 0; else { curs_set(0); return 0; } }
            else if (wc == KEY_ENTER) break;
            continue;
        }
        if (wc == 27) { curs_set(0); return 0; }
        if (wc == '\n' || wc == '\r') break;
        if (wc == 127 || wc == 8) { if (len) w[--len] = 0; else { curs_set(0); return 0; } continue; }
        if (wc == CTRL_('u')) { len = 0; w[0] = 0; continue; }
        if (wc >= 32 && wc != 127 && len < 250 && fits(w, (wchar_t)wc, n)) { w[len++] = (wchar_t)wc; w[len] = 0; }
    }
    curs_set(0);
    wcstombs(buf, w, n);
    buf[n - 1] = 0;
    return 1;
}

static void reset_page(struct view *v)
{
    v->g.has_anchor = 0;
    v->g.cur = 0;
    v->g.sel_id[0] = 0;
}

void cmd_filter(struct app *a)
{
    struct view *v = app_view(a);
    char buf[128];
    snprintf(buf, sizeof buf, "%s%.120s", v->filter_not ? "!" : "", v->filter);
    if (!line_input(a, "/", buf, sizeof buf)) { a->pending_paint = 1; return; }
    v->filter_not = buf[0] == '!';
    snprintf(v->filter, sizeof v->filter, "%s", buf + v->filter_not);
    if (!v->filter[0]) v->filter_not = 0;
    reset_page(v);
    app_reload(a);
    if (v->filter[0]) app_status(a, 0, "filter: %s\"%s\"  (/ then Enter on an empty line clears)", v->filter_not ? "not " : "", v->filter);
    else app_status(a, 0, "filter cleared");
}

void cmd_prompt(struct app *a)
{
    char buf[400] = "";
    if (!line_input(a, ":", buf, sizeof buf)) { a->pending_paint = 1; return; }
    cmd_run(a, buf);
}

static const struct { const char *name; int tab; } VIEWS[] = {
    { "payments", 0 }, { "pay", 0 }, { "exceptions", 1 }, { "exc", 1 }, { "webhooks", 2 }, { "wh", 2 },
    { "audit", 3 }, { "recon", 4 }, { "reconciliation", 4 }, { "payouts", 5 }, { "po", 5 },
};

int cmd_run(struct app *a, const char *line)
{
    char copy[400], *argv[16];
    int argc = 0;
    snprintf(copy, sizeof copy, "%s", line);
    for (char *t = strtok(copy, " \t"); t && argc < 16; t = strtok(NULL, " \t")) argv[argc++] = t;
    if (!argc) return 0;
    if (!strcmp(argv[0], "q") || !strcmp(argv[0], "quit") || !strcmp(argv[0], "q!")) { a->quit = 1; return 0; }
    if (!strcmp(argv[0], "networks") || !strcmp(argv[0], "chains")) {
        app_push(a, &networks_ops, "", NULL);
        return 0;
    }
    if (!strcmp(argv[0], "changes")) {
        app_push(a, &changes_ops, "", NULL);
        return 0;
    }
    if ((!strcmp(argv[0], "payment") && argc == 2) || !strncmp(argv[0], "pay_", 4)) {
        app_push(a, &detail_ops, argc == 2 ? argv[1] : argv[0], NULL);
        return 0;
    }
    for (size_t i = 0; i < sizeof VIEWS / sizeof VIEWS[0]; i++) {
        if (strcmp(argv[0], VIEWS[i].name)) continue;
        struct view *v = &a->tabs[VIEWS[i].tab];
        char err[300] = "";
        if (argc > 1 && !v->ops->command) {
            app_status(a, 1, ":%s takes no arguments", argv[0]);
            return -1;
        }
        if (v->ops->command && v->ops->command(a, v, argc - 1, argv + 1, err, sizeof err)) {
            app_status(a, 1, "%s", err);
            return -1;
        }
        reset_page(v);
        app_switch_tab(a, VIEWS[i].tab);
        if (argc > 1) app_status(a, 0, "%s", line);
        return 0;
    }
    app_status(a, 1, "unknown command ':%s' — try :payments, :exceptions, :webhooks, :audit, :recon, :networks, :payment ID, :q",
               argv[0]);
    return -1;
}

/* Shared by views: key=value args with a list of allowed keys (and optional allowed values). */
int cmd_args(struct view *v, int argc, char **argv, const char *const *keys, char *err, size_t errlen)
{
    int n = 0;
    char tmp[VIEW_MAXARGS][2][96];
    for (int i = 0; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i] || !eq[1]) {
            snprintf(err, errlen, "'%s': filters are key=value (keys: ", argv[i]);
            goto keylist;
        }
        *eq = 0;
        int known = 0;
        for (const char *const *k = keys; *k; k++) if (!strcmp(*k, argv[i])) known = 1;
        if (!known) {
            snprintf(err, errlen, "unknown filter '%s' (keys: ", argv[i]);
            goto keylist;
        }
        if (n == VIEW_MAXARGS) { snprintf(err, errlen, "too many filters"); return -1; }
        snprintf(tmp[n][0], 96, "%s", argv[i]);
        snprintf(tmp[n][1], 96, "%s", eq + 1);
        n++;
    }
    memcpy(v->args, tmp, sizeof tmp);
    v->nargs = n;
    return 0;
keylist:
    for (const char *const *k = keys; *k; k++) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, "%s%s", *k, k[1] ? ", " : ")");
    }
    return -1;
}

int check_value(const char *key, const char *val, const char *const *allowed, char *err, size_t errlen)
{
    for (const char *const *x = allowed; *x; x++) if (!strcmp(*x, val)) return 0;
    snprintf(err, errlen, "%s=%s: not a %s (one of: ", key, val, key);
    for (const char *const *x = allowed; *x; x++) {
        size_t l = strlen(err);
        snprintf(err + l, errlen - l, "%s%s", *x, x[1] ? ", " : ")");
    }
    return -1;
}
