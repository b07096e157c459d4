/* cmd — the `/` filter and `:` command mode, edited on the status line like vi. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

/* 1 if appending c to w still fits in n bytes of the locale's multibyte encoding */
static int fits(const wchar_t *w, wchar_t c, size_t n)
{
    char mb[16];
    mbstate_t st = { 0 };
    size_t k = wcrtomb(mb, c, &st), cur = wcstombs(NULL, w, 0);
    return k != (size_t)-1 && cur != (size_t)-1 && cur + k < n;
}

static const struct { const char *name; int tab; } VIEWS[] = {
    { "overview", 0 }, { "ov", 0 }, { "payments", 1 }, { "pay", 1 }, { "exceptions", 2 }, { "exc", 2 },
    { "webhooks", 3 }, { "wh", 3 }, { "audit", 4 }, { "recon", 5 }, { "reconciliation", 5 }, { "payouts", 6 }, { "po", 6 },
};

/* ------------------------------------------------------------------ history
 * The command lines run, newest last, kept in $XDG_STATE_HOME/railtop/history (default
 * ~/.local/state/railtop/history, 0600), at most HIST_MAX. */
#define HIST_MAX 500
static char *g_hist[HIST_MAX];
static int g_nhist, g_hist_loaded;

static int hist_path(char *out, size_t n, int make_dirs)
{
    const char *st = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
    char dir[900];
    if (st && *st) snprintf(dir, sizeof dir, "%s/railtop", st);
    else if (home && *home) snprintf(dir, sizeof dir, "%s/.local/state/railtop", home);
    else return -1;
    if (make_dirs) {   /* mkdir -p, private */
        for (char *p = dir + 1; *p; p++)
            if (*p == '/') { *p = 0; mkdir(dir, 0700); *p = '/'; }
        mkdir(dir, 0700);
    }
    snprintf(out, n, "%s/history", dir);
    return 0;
}

static void hist_push(const char *line)
{
    if (!*line || (g_nhist && !strcmp(g_hist[g_nhist - 1], line))) return;
    if (g_nhist == HIST_MAX) { free(g_hist[0]); memmove(g_hist, g_hist + 1, sizeof g_hist[0] * (HIST_MAX - 1)); g_nhist--; }
    g_hist[g_nhist++] = strdup(line);
    if (!g_hist[g_nhist - 1]) g_nhist--;
}

static void hist_load(void)
{
    char path[1000], line[500];
    g_hist_loaded = 1;
    if (hist_path(path, sizeof path, 0)) return;
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        hist_push(line);
    }
    fclose(f);
}

static void hist_save(void)
{
    char path[1000], tmp[1010];
    if (hist_path(path, sizeof path, 1)) return;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) { if (fd >= 0) close(fd); return; }
    for (int i = 0; i < g_nhist; i++) fprintf(f, "%s\n", g_hist[i]);
    if (fclose(f) == 0) rename(tmp, path);
}

/* ------------------------------------------------------------------ completion */

#define CAND_MAX 64
struct cands { int n; char v[CAND_MAX][96]; };
static char g_cand_line[600];   /* the candidates of the last Tab, shown above the input line */

static void cand_add(struct cands *c, const char *prefix, const char *v, const char *suffix)
{
    if (c->n < CAND_MAX && !strncmp(v, prefix, strlen(prefix))) snprintf(c->v[c->n++], sizeof c->v[0], "%s%s", v, suffix);
}

static const struct view_ops *view_for(struct app *a, const char *cmd)
{
    for (size_t i = 0; i < sizeof VIEWS / sizeof VIEWS[0]; i++)
        if (!strcmp(cmd, VIEWS[i].name)) return a->tabs[VIEWS[i].tab].ops;
    return NULL;
}

/* values of key=… from the database: merchant names, rails of the environment */
static void db_values(struct app *a, const char *key, const char *prefix, struct cands *c)
{
    PGresult *r = NULL;
    char like[120];
    snprintf(like, sizeof like, "%s%%", prefix);
    if (!strcmp(key, "merchant"))
        r = cq(a, "SELECT name FROM merchants WHERE name LIKE $1 ORDER BY name LIMIT 64", like);
    else if (!strcmp(key, "rail"))
        r = cq(a, "SELECT DISTINCT id FROM rails WHERE id LIKE $1 ORDER BY id LIMIT 64", like);
    for (int i = 0; r && i < PQntuples(r); i++) cand_add(c, prefix, PQgetvalue(r, i, 0), " ");
    if (r) PQclear(r);
}

static void candidates(struct app *a, const char *line, const char *word, struct cands *c)
{
    static const char *const CMDS[] = { "overview", "payments", "exceptions", "webhooks", "audit", "recon", "payouts", "networks",
                                        "changes", "payment", "quit", NULL };
    c->n = 0;
    if (word == line) {   /* the command itself */
        for (int i = 0; CMDS[i]; i++) cand_add(c, word, CMDS[i], " ");
        return;
    }
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%.*s", (int)strcspn(line, " "), line);
    const struct view_ops *ops = view_for(a, cmd);
    if (!ops || !ops->arg_keys) return;
    const char *eq = strchr(word, '=');
    if (!eq) {
        for (int i = 0; ops->arg_keys[i]; i++) cand_add(c, word, ops->arg_keys[i], "=");
        return;
    }
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(eq - word), word);
    const char *const *vals = ops->arg_values ? ops->arg_values(key) : NULL;
    for (int i = 0; vals && vals[i]; i++) cand_add(c, eq + 1, vals[i], " ");
    if (!vals) db_values(a, key, eq + 1, c);
}

/* Tab: completes the word at the end of buf (n bytes) as far as the candidates agree, and
 * lists them on the status line when they do not. */
static void complete(struct app *a, char *buf, size_t n)
{
    char *word = strrchr(buf, ' ');
    word = word ? word + 1 : buf;
    char *eq = strchr(word, '=');
    const char *part = eq ? eq + 1 : word;
    struct cands c;
    candidates(a, buf, word, &c);
    if (!c.n) { snprintf(g_cand_line, sizeof g_cand_line, " no completion for '%.80s'", word); return; }
    size_t common = strlen(c.v[0]);
    for (int i = 1; i < c.n; i++) {
        size_t k = 0;
        while (k < common && c.v[i][k] == c.v[0][k]) k++;
        common = k;
    }
    g_cand_line[0] = 0;
    if (c.n > 1)
        for (int i = 0; i < c.n && strlen(g_cand_line) < 500; i++) {
            strncat(g_cand_line, " ", sizeof g_cand_line - strlen(g_cand_line) - 1);
            strncat(g_cand_line, c.v[i], sizeof g_cand_line - strlen(g_cand_line) - 1);
        }
    if (common > strlen(part)) {
        size_t at = (size_t)(part - buf);
        snprintf(buf + at, n - at, "%.*s", (int)common, c.v[0]);
    }
}

/* A one-line editor on the status line. Returns 1 on Enter, 0 on Esc. With `command`, ↑/↓
 * walk the history and Tab completes. */
static int line_input_ex(struct app *a, const char *prefix, char *buf, size_t n, int command)
{
    int hpos = g_nhist;
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
        if (command && g_cand_line[0]) draw_text(y - 1, 0, a->cols, S_HINT, g_cand_line);
        draw_text(y, 0, a->cols, S_NORMAL, line);
        move(y, text_width(line) < a->cols ? text_width(line) : a->cols - 1);
        refresh();
        wint_t wc;
        nodelay(stdscr, FALSE);
        int rc = get_wch(&wc);
        nodelay(stdscr, TRUE);
        if (rc == ERR) continue;
        if (command) g_cand_line[0] = 0;   /* shown until the next key */
        if (command && (rc == KEY_CODE_YES ? (wc == KEY_UP || wc == KEY_DOWN) : wc == '\t')) {
            char cur[1024];
            wcstombs(cur, w, sizeof cur);
            if (wc == '\t') complete(a, cur, n < sizeof cur ? n : sizeof cur);
            else {
                hpos += wc == KEY_UP ? (hpos > 0 ? -1 : 0) : (hpos < g_nhist ? 1 : 0);
                snprintf(cur, sizeof cur, "%s", hpos < g_nhist ? g_hist[hpos] : "");
            }
            len = mbstowcs(w, cur, 255);
            if (len == (size_t)-1) len = 0;
            w[len] = 0;
            draw_all(a);
            continue;
        }
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

static int line_input(struct app *a, const char *prefix, char *buf, size_t n)
{
    return line_input_ex(a, prefix, buf, n, 0);
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
    if (!g_hist_loaded) hist_load();
    if (!line_input_ex(a, ":", buf, sizeof buf, 1)) { a->pending_paint = 1; return; }
    for (size_t l = strlen(buf); l && (buf[l - 1] == ' ' || buf[l - 1] == '\t'); l--) buf[l - 1] = 0;
    hist_push(buf);
    hist_save();
    cmd_run(a, buf);
}


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
    app_status(a, 1, "unknown command ':%s' — try :overview, :payments, :exceptions, :webhooks, :audit, :recon, :networks, :payment ID, :q",
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

const char *const *filter_values(const char *first, const char *const *catalog, const char *last, const char **out,
                                 size_t n)
{
    size_t k = 0;
    if (first && k + 1 < n) out[k++] = first;
    for (size_t i = 0; catalog[i] && k + 1 < n; i++) out[k++] = catalog[i];
    if (last && k + 1 < n) out[k++] = last;
    out[k] = NULL;
    return out;
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
