/* draw — the frame around every view: header (environment, database, operator, role;
 * production as a banner), tabs or the stale banner, status line and hint line, plus
 * width-aware text helpers. Views draw only their body. */
#include "app.h"
#include "core/amount.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

int text_width(const char *s)
{
    wchar_t w[1024];
    size_t n = mbstowcs(w, s, 1023);
    if (n == (size_t)-1) return (int)strlen(s);
    int tw = 0;
    for (size_t i = 0; i < n; i++) { int cw = wcwidth(w[i]); tw += cw > 0 ? cw : 0; }
    return tw;
}

void draw_text(int y, int x, int w, enum style st, const char *s)
{
    if (w <= 0) return;
    wchar_t ws[1024];
    size_t n = mbstowcs(ws, s, 1023);
    if (n == (size_t)-1) {              /* not valid in the locale: show bytes safely */
        n = 0;
        for (const char *p = s; *p && n < 1023; p++) ws[n++] = (*p >= 32 && *p < 127) ? (wchar_t)*p : L'?';
    }
    attrset(style_attr(st));
    move(y, x);
    int used = 0;
    for (size_t i = 0; i < n; i++) {
        wchar_t c = ws[i] < 32 ? L' ' : ws[i];
        int cw = wcwidth(c);
        if (cw < 0) { c = L'?'; cw = 1; }
        if (used + cw > w) break;
        addnwstr(&c, 1);
        used += cw;
    }
    while (used++ < w) addch(' ');
}

void draw_hline(struct app *a, int y, int x, int w, enum style st)
{
    attrset(style_attr(st));
    move(y, x);
    for (int i = 0; i < w; i++) {
        if (a->unicode) addwstr(L"─");
        else addch('-');
    }
}

void draw_box(struct app *a, int y, int x, int h, int w, enum style st)
{
    attrset(style_attr(st));
    const wchar_t *u[] = { L"┌", L"┐", L"└", L"┘", L"─", L"│" };
    const char *asc = "++++-|";
    for (int r = 0; r < h; r++) {
        move(y + r, x);
        for (int c = 0; c < w; c++) {
            int k = -1;
            if (r == 0 && c == 0) k = 0;
            else if (r == 0 && c == w - 1) k = 1;
            else if (r == h - 1 && c == 0) k = 2;
            else if (r == h - 1 && c == w - 1) k = 3;
            else if (r == 0 || r == h - 1) k = 4;
            else if (c == 0 || c == w - 1) k = 5;
            if (k < 0) addch(' ');
            else if (a->unicode) addwstr(u[k]);
            else addch(asc[k]);
        }
    }
}

void fmt_age(long long s, char *out, size_t n)
{
    const char *sign = s < 0 ? "-" : "";
    if (s < 0) s = -s;
    if (s < 60) snprintf(out, n, "%s%llds", sign, s);
    else if (s < 3600) snprintf(out, n, "%s%lldm", sign, s / 60);
    else if (s < 86400) snprintf(out, n, "%s%lldh%02lldm", sign, s / 3600, (s % 3600) / 60);
    else snprintf(out, n, "%s%lldd%02lldh", sign, s / 86400, (s % 86400) / 3600);
}

/* time since a unix epoch (text), never negative: the database clock may run a little ahead */
void fmt_since(const char *epoch, char *out, size_t n)
{
    long long d = (long long)time(NULL) - atoll(epoch);
    fmt_age(d < 0 ? 0 : d, out, n);
}

/* base units → "125.50": at least two fractional digits, trailing zeros trimmed */
void fmt_amount(const char *units, int decimals, char *out, size_t n)
{
    u128 v;
    char buf[AMOUNT_STR_MAX];
    if (!units || amount_parse_units(units, &v)) { snprintf(out, n, "%s", units ? units : "-"); return; }
    amount_format(v, decimals, buf);
    char *dot = strchr(buf, '.');
    if (dot) {
        char *e = buf + strlen(buf);
        while (e > dot + 3 && e[-1] == '0') *--e = 0;
        if (strlen(dot) < 3) strcat(buf, strlen(dot) == 1 ? "00" : "0");
    }
    snprintf(out, n, "%s", buf);
}

enum style state_style(const char *s)
{
    if (!strcmp(s, "awaiting_payment")) return S_ST_AWAITING;
    if (!strcmp(s, "detected")) return S_ST_DETECTED;
    if (!strcmp(s, "confirming")) return S_ST_CONFIRMING;
    if (!strcmp(s, "confirmed")) return S_ST_CONFIRMED;
    if (!strcmp(s, "finalized")) return S_ST_FINALIZED;
    if (!strcmp(s, "expired")) return S_ST_EXPIRED;
    if (!strcmp(s, "canceled")) return S_ST_CANCELED;
    return S_NORMAL;
}

static void draw_header(struct app *a)
{
    int prod = !strcmp(a->cfg.env, "production");
    enum style st = prod ? S_HEADER_PROD : S_HEADER;
    char op[300], left[900];
    if (a->who.known) snprintf(op, sizeof op, "%s (%s)", a->who.name, a->who.role);
    else if (a->cfg.key[0]) snprintf(op, sizeof op, "key not confirmed (role unknown)");
    else snprintf(op, sizeof op, "no key (viewer)");
    const char *bar = a->unicode ? "│" : "|";
    snprintf(left, sizeof left, " railtop %s %s %s db %s %s operator %s%s", bar,
             prod ? (a->unicode ? "▌PRODUCTION▐" : "!! PRODUCTION !!") : "env sandbox", bar,
             a->dbname[0] ? a->dbname : "(not connected)", bar, op, a->cfg.read_only ? "  [read-only]" : "");
    const char *live = a->paused ? " PAUSED " : !a->db_ok ? " STALE " : a->listen_ok ? " LIVE " : " LIVE (polling) ";
    int lw = text_width(live);
    draw_text(0, 0, a->cols - lw, st, left);
    draw_text(0, a->cols - lw, lw, a->paused ? S_PAUSED : !a->db_ok ? S_STALE : st, live);
}

/* " 2 Exceptions " — or, when the names of every tab would leave less than 30 columns for
 * the crumb and the chains, the number alone for tabs other than the current one. Mouse
 * clicks (mouse.c) use the same labels. Returns the label's width. */
int tab_label(struct app *a, int i, char *out, size_t n)
{
    int full = 0;
    for (int k = 0; k < NTABS; k++) full += text_width(a->tabs[k].ops->title) + 4;
    if (i == a->tab || full <= a->cols - 30) snprintf(out, n, " %d %s ", i, a->tabs[i].ops->title);
    else snprintf(out, n, " %d ", i);
    return text_width(out);
}

static void draw_tabs(struct app *a)
{
    char when[32], msg[400];
    if (!a->db_ok || a->api_stale_since) {
        time_t t = a->db_stale_since ? a->db_stale_since : a->api_stale_since;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%H:%M:%S", &tm);
        snprintf(msg, sizeof msg, " %s stale since %s %s reconnecting  (%s)", a->unicode ? "⚠" : "!!", when,
                 a->unicode ? "—" : "--",
                 !a->db_ok && a->api_stale_since ? "database and raild API" : !a->db_ok ? "database" : "raild API");
        draw_text(1, 0, a->cols, S_STALE, msg);
        return;
    }
    int x = 0;
    move(1, 0);
    attrset(style_attr(S_TAB));
    for (int i = 0; i < a->cols; i++) addch(' ');
    for (int i = 0; i < NTABS; i++) {
        char t[64];
        int w = tab_label(a, i, t, sizeof t);
        draw_text(1, x, w, i == a->tab ? S_TAB_ACTIVE : S_TAB, t);
        x += w + 1;
    }
    char crumb[200] = "";
    if (a->depth)
        snprintf(crumb, sizeof crumb, "%s %s %s ", a->unicode ? "›" : ">", app_view(a)->ops->title, app_view(a)->target);
    int cw = crumb[0] ? text_width(crumb) : 0;
    if (crumb[0]) draw_text(1, x, a->cols - x, S_TITLE, crumb);
    /* the chains, right-aligned where the crumb leaves room (:networks for more) */
    char strip[400];
    int alarm = 0;
    nets_strip(a, strip, sizeof strip, a->cols - x - cw - 1, &alarm);
    int sw = text_width(strip);
    if (strip[0] && x + cw + sw + 1 <= a->cols) draw_text(1, a->cols - sw, sw, alarm ? S_STATUS_ERR : S_TAB, strip);
}

static void draw_too_small(struct app *a)
{
    erase();
    char m1[120], m2[80];
    snprintf(m1, sizeof m1, "terminal too small: %dx%d", a->cols, a->rows);
    snprintf(m2, sizeof m2, "railtop needs at least %dx%d  -  press q to quit", MIN_COLS, MIN_ROWS);
    int y = a->rows / 2 - 1;
    if (y < 0) y = 0;
    int w1 = text_width(m1), w2 = text_width(m2);
    draw_text(y, w1 < a->cols ? (a->cols - w1) / 2 : 0, w1 < a->cols ? w1 : a->cols, S_STATUS_ERR, m1);
    if (y + 1 < a->rows)
        draw_text(y + 1, w2 < a->cols ? (a->cols - w2) / 2 : 0, w2 < a->cols ? w2 : a->cols, S_NORMAL, m2);
}

void draw_all(struct app *a)
{
    getmaxyx(stdscr, a->rows, a->cols);
    if (a->rows < MIN_ROWS || a->cols < MIN_COLS) {
        draw_too_small(a);
        refresh();
        return;
    }
    erase();
    bkgdset(' ' | style_attr(S_NORMAL));
    draw_header(a);
    draw_tabs(a);
    struct view *v = app_view(a);
    attrset(style_attr(S_NORMAL));
    for (int y = 2; y < a->rows - 2; y++) { move(y, 0); clrtoeol(); }
    if (v->ops->draw) v->ops->draw(a, v, 2, a->rows - 4);
    draw_text(a->rows - 2, 0, a->cols, a->status_err ? S_STATUS_ERR : S_STATUS_OK, a->status);
    keys_draw_hints(a, a->rows - 1);
    refresh();
}
