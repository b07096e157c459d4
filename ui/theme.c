/* theme — colours as data. A theme file (format: themes/README.md) gives each style a
 * foreground, a background and attributes; colours may be names, xterm indexes or
 * #rrggbb, mapped down to what the terminal has: truecolor (direct), 256, or 8 colours. */
#include "app.h"
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const style_names[S__COUNT] = {
    "normal", "dim", "header", "header_prod", "tab", "tab_active", "title", "colhead",
    "selected", "border", "hint", "hint_key", "hint_off", "status_ok", "status_err",
    "stale", "paused", "dialog", "dialog_title", "button", "button_focus", "prod_warn",
    "state_awaiting", "state_detected", "state_confirming", "state_confirmed", "state_finalized",
    "state_expired", "state_canceled", "sev1", "sev2", "sev3", "sev4", "overdue", "good", "bad",
    "warn", "label", "match",
};

/* a colour: kind 0 = terminal default, 1 = index 0..255, 2 = rgb */
struct color { int kind; int v; };
struct sdef { struct color fg, bg; int attrs; int set; };
static struct sdef g_theme[S__COUNT];
static int g_attr[S__COUNT];

static const char *const NAMES[16] = {
    "black", "red", "green", "yellow", "blue", "magenta", "cyan", "white",
    "bright-black", "bright-red", "bright-green", "bright-yellow", "bright-blue",
    "bright-magenta", "bright-cyan", "bright-white",
};

static int parse_color(const char *s, struct color *c)
{
    if (!strcmp(s, "default")) { c->kind = 0; return 0; }
    for (int i = 0; i < 16; i++)
        if (!strcmp(s, NAMES[i])) { c->kind = 1; c->v = i; return 0; }
    if (s[0] == '#' && strlen(s) == 7) {
        char *end;
        long v = strtol(s + 1, &end, 16);
        if (*end) return -1;
        c->kind = 2; c->v = (int)v;
        return 0;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*s && !*end && v >= 0 && v <= 255) { c->kind = 1; c->v = (int)v; return 0; }
    return -1;
}

static int parse_attr(const char *s, int *a)
{
    static const struct { const char *n; int a; } T[] = {
        { "bold", A_BOLD }, { "dim", A_DIM }, { "underline", A_UNDERLINE }, { "reverse", A_REVERSE },
        { "blink", A_BLINK }, { "italic", A_ITALIC }, { "standout", A_STANDOUT }, { "normal", 0 },
    };
    for (size_t i = 0; i < sizeof T / sizeof T[0]; i++)
        if (!strcmp(s, T[i].n)) { *a |= T[i].a; return 0; }
    return -1;
}

static int parse_line(char *l, const char *where, char *err, size_t errlen)
{
    char *tok[8];
    int n = 0;
    for (char *t = strtok(l, " \t"); t && n < 8; t = strtok(NULL, " \t")) tok[n++] = t;
    if (n < 3) { snprintf(err, errlen, "%s: expected 'style fg bg [attrs]'", where); return -1; }
    int s = -1;
    for (int i = 0; i < S__COUNT; i++)
        if (!strcmp(tok[0], style_names[i])) s = i;
    if (s < 0) { snprintf(err, errlen, "%s: unknown style '%.40s' (see themes/README.md)", where, tok[0]); return -1; }
    struct sdef d = { .set = 1 };
    if (parse_color(tok[1], &d.fg) || parse_color(tok[2], &d.bg)) {
        snprintf(err, errlen, "%s: bad colour in '%.20s %.20s' (name, 0-255 or #rrggbb)", where, tok[1], tok[2]);
        return -1;
    }
    for (int i = 3; i < n; i++)
        if (parse_attr(tok[i], &d.attrs)) {
            snprintf(err, errlen, "%s: unknown attribute '%.30s'", where, tok[i]);
            return -1;
        }
    g_theme[s] = d;
    return 0;
}

static int load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) return 1;
    char line[512];
    int no = 0, rc = 0;
    memset(g_theme, 0, sizeof g_theme);
    while (!rc && fgets(line, sizeof line, f)) {
        no++;
        char *p = line;
        while (isspace((unsigned char)*p)) p++;
        if (*p == '#' || !*p) continue;          /* full-line comment */
        char *h = strstr(p, " # ");              /* trailing comment; #rrggbb has no space after # */
        if (!h) h = strstr(p, "\t# ");
        if (h) *h = 0;
        p[strcspn(p, "\r\n")] = 0;
        char where[600];
        snprintf(where, sizeof where, "%.500s:%d", path, no);
        rc = parse_line(p, where, err, errlen);
    }
    fclose(f);
    return rc ? -1 : 0;
}

static int exe_dir(char *out, size_t n)
{
    char buf[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (len <= 0) return -1;
    buf[len] = 0;
    snprintf(out, n, "%s", dirname(buf));
    return 0;
}

int theme_load(const char *name, char *err, size_t errlen)
{
    char dirs[5][PATH_MAX] = { "" };
    const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME"), *td = getenv("RAILTOP_THEMES");
    if (xdg && *xdg) snprintf(dirs[0], PATH_MAX, "%s/railtop/themes", xdg);
    else if (home && *home) snprintf(dirs[0], PATH_MAX, "%s/.config/railtop/themes", home);
    if (td && *td) snprintf(dirs[1], PATH_MAX, "%s", td);
    char ed[PATH_MAX - 32];
    if (!exe_dir(ed, sizeof ed)) {
        snprintf(dirs[2], PATH_MAX, "%s/../themes", ed);          /* bin/railtop */
        snprintf(dirs[3], PATH_MAX, "%s/../../themes", ed);       /* build/san-bin/railtop */
        snprintf(dirs[4], PATH_MAX, "%s/../share/railtop/themes", ed);
    }
    for (int i = 0; i < 5; i++) {
        if (!dirs[i][0]) continue;
        char path[PATH_MAX + 80];
        snprintf(path, sizeof path, "%.3000s/%.60s.theme", dirs[i], name);
        int rc = load_file(path, err, errlen);
        if (rc == 0) return 0;
        if (rc < 0) return -1;
    }
    if (!strcmp(name, "mono")) {      /* built in, so NO_COLOR always works */
        memset(g_theme, 0, sizeof g_theme);
        int rev[] = { S_HEADER, S_HEADER_PROD, S_TAB_ACTIVE, S_SELECTED, S_STALE, S_BUTTON_FOCUS, S_PROD_WARN };
        for (size_t i = 0; i < sizeof rev / sizeof rev[0]; i++) g_theme[rev[i]] = (struct sdef){ .attrs = A_REVERSE, .set = 1 };
        g_theme[S_HEADER_PROD].attrs |= A_BOLD;
        g_theme[S_STATUS_ERR] = g_theme[S_TITLE] = g_theme[S_HINT_KEY] = (struct sdef){ .attrs = A_BOLD, .set = 1 };
        g_theme[S_DIM] = g_theme[S_HINT_OFF] = (struct sdef){ .attrs = A_DIM, .set = 1 };
        return 0;
    }
    snprintf(err, errlen, "theme '%s' not found (looked for %s.theme in %s/railtop/themes and the themes/ "
             "directory beside railtop); built-in themes: default, light, high-contrast, mono",
             name, name, xdg && *xdg ? xdg : "~/.config");
    return -1;
}

/* xterm 256-colour cube and grey ramp → rgb */
static int idx_rgb(int i)
{
    static const int base[16] = { 0x000000, 0xcd0000, 0x00cd00, 0xcdcd00, 0x0000ee, 0xcd00cd, 0x00cdcd, 0xe5e5e5,
                                  0x7f7f7f, 0xff0000, 0x00ff00, 0xffff00, 0x5c5cff, 0xff00ff, 0x00ffff, 0xffffff };
    if (i < 16) return base[i];
    if (i >= 232) { int g = 8 + (i - 232) * 10; return g << 16 | g << 8 | g; }
    i -= 16;
    static const int lv[6] = { 0, 95, 135, 175, 215, 255 };
    return lv[i / 36] << 16 | lv[(i / 6) % 6] << 8 | lv[i % 6];
}

static int dist(int a, int b)
{
    int dr = (a >> 16) - (b >> 16), dg = ((a >> 8) & 255) - ((b >> 8) & 255), db = (a & 255) - (b & 255);
    return dr * dr * 3 + dg * dg * 4 + db * db * 2;
}

static int nearest(int rgb, int limit)
{
    int best = 0, bd = 1 << 30;
    for (int i = 0; i < limit; i++) {
        int d = dist(rgb, idx_rgb(i));
        if (d < bd) { bd = d; best = i; }
    }
    return best;
}

static int term_color(struct color c)
{
    if (c.kind == 0) return -1;
    int direct = COLORS >= 0x1000000;
    if (direct) return c.kind == 2 ? c.v : idx_rgb(c.v);
    int rgb = c.kind == 2 ? c.v : idx_rgb(c.v);
    if (COLORS >= 256) return c.kind == 1 ? c.v : nearest(rgb, 256);
    if (COLORS >= 16) return c.kind == 1 && c.v < 16 ? c.v : nearest(rgb, 16);
    return c.kind == 1 && c.v < 8 ? c.v : c.kind == 1 && c.v < 16 ? c.v - 8 : nearest(rgb, 8);
}

void theme_apply(int mono)
{
    for (int s = 0; s < S__COUNT; s++) {
        struct sdef d = g_theme[s].set ? g_theme[s] : g_theme[S_NORMAL];
        g_attr[s] = d.attrs;
        if (mono) continue;
        /* a bright index on an 8-colour terminal becomes bold */
        if (COLORS < 16 && d.fg.kind == 1 && d.fg.v >= 8 && d.fg.v < 16) g_attr[s] |= A_BOLD;
        init_extended_pair(s + 1, term_color(d.fg), term_color(d.bg));
        g_attr[s] |= COLOR_PAIR(s + 1);
    }
}

int style_attr(enum style s)
{
    return g_attr[s];
}
