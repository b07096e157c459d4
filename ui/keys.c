/* keys — dispatch through the request table, the hint line and availability rules.
 * The same table (requests.h) produces the `?` help screen (dialog.c). */
#include "app.h"
#include "core/catalog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct request_def request_table[REQ__COUNT] = {
#define X(id, label, shrt, help, views, flags, role, k1, k2, k3) \
    { id, #id, label, shrt, help, views, flags, role, { k1, k2, k3 } },
    REQUESTS(X)
#undef X
};

const char *role_name(int rr)
{
    return rr == RR_OPS ? "ops" : rr == RR_SUPPORT ? "support" : rr == RR_FINANCE ? "finance"
         : rr == RR_TREASURY ? "treasury" : "any";
}

int role_ok(struct app *a, int rr, const char **need)
{
    static char msg[64];
    if (rr == RR_ANY) return 1;
    snprintf(msg, sizeof msg, "needs role %s", role_name(rr));
    *need = msg;
    if (!a->cfg.key[0]) { *need = "no API key (RAILTOP_KEY)"; return 0; }
    if (!a->who.known) { *need = "role unknown: raild did not confirm the key"; return 0; }
    /* what raild enforces, from the same table (core/catalog.h): the console only greys out */
    enum cap c = rr == RR_OPS ? CAP_OPS : rr == RR_SUPPORT ? CAP_SUPPORT : rr == RR_FINANCE ? CAP_FINANCE : CAP_TREASURY;
    return role_can(a->who.role, c);
}

/* 1 if the request can run now; otherwise *why says why not (shown disabled). */
static int available(struct app *a, const struct request_def *d, const char **why)
{
    *why = NULL;
    if ((d->flags & RF_MUT) && !app_can_mutate(a, why)) return 0;
    return role_ok(a, d->role, why);      /* role-gated reads too (export) */
}

/* Mutating requests do not exist at all under --read-only (or without a key). */
static int exists(struct app *a, const struct request_def *d, unsigned vm)
{
    if (!(d->views & vm)) return 0;
    if ((d->flags & RF_MUT) && a->cfg.read_only) return 0;
    return 1;
}

static const struct request_def *lookup(struct app *a, int ch, int is_key)
{
    unsigned vm = app_view(a)->ops->mask;
    for (int i = 0; i < REQ__COUNT; i++) {
        const struct request_def *d = &request_table[i];
        if (!exists(a, d, vm)) continue;
        for (int k = 0; k < 3; k++) {
            int code = d->keys[k];
            if (!code) continue;
            int code_is_key = code >= KEY_MIN;
            if (code == ch && code_is_key == !!is_key) return d;
            if (!is_key && ch == '\r' && code == K_ENTER) return d;
        }
    }
    return NULL;
}

static void generic(struct app *a, struct view *v, enum req r)
{
    switch (r) {
    case REQ_QUIT: a->quit = 1; break;
    case REQ_HELP: dlg_help(a); a->pending_paint = 1; break;
    case REQ_NEXTVIEW: app_switch_tab(a, a->tab + 1); break;
    case REQ_PREVVIEW: app_switch_tab(a, a->tab - 1); break;
    case REQ_VIEW0: case REQ_VIEW1: case REQ_VIEW2: case REQ_VIEW3: case REQ_VIEW4: case REQ_VIEW5: case REQ_VIEW6:
        app_switch_tab(a, r - REQ_VIEW0);
        break;
    case REQ_BACK: app_pop(a); break;
    case REQ_FILTER: cmd_filter(a); break;
    case REQ_COMMAND: cmd_prompt(a); break;
    case REQ_PAUSE:
        a->paused = !a->paused;
        app_status(a, 0, a->paused ? "live updates paused (p resumes)" : "live updates resumed");
        if (!a->paused && a->pending_reload) app_reload(a);
        break;
    case REQ_REDRAW: clearok(curscr, TRUE); a->pending_paint = 1; break;
    case REQ_COPYID: case REQ_COPYROW: copy_request(a, v, r); break;
    case REQ_SORT: case REQ_SORTREV: sort_request(a, v, r); break;
    case REQ_JUMP_EXC: case REQ_JUMP_DELIV: case REQ_JUMP_BREAK: case REQ_JUMP_PAY: case REQ_JUMP_EXCONE:
        jump_request(a, v, r);
        break;
    default:
        if (v->g.res) grid_request(a, v, r);
        else doc_request(a, v, r);
        a->pending_paint = 1;
    }
}

static void key_desc(int ch, int is_key, char *out, size_t n)
{
    if (is_key) snprintf(out, n, "%s", keyname(ch) ? keyname(ch) : "?");
    else if (ch < 32) snprintf(out, n, "^%c", ch + 64);
    else if (ch < 127) snprintf(out, n, "%c", ch);
    else snprintf(out, n, "U+%04X", ch);
}

void keys_dispatch(struct app *a, int ch, int is_key)
{
    if (a->rows < MIN_ROWS || a->cols < MIN_COLS) {     /* the too-small screen takes q */
        if (!is_key && ch == 'q') a->quit = 1;
        return;
    }
    if (is_key && ch == KEY_MOUSE) {
        if (a->cfg.mouse) mouse_event(a);
        return;
    }
    const struct request_def *d = lookup(a, ch, is_key);
    struct view *v = app_view(a);
    if (!d) {
        char k[24];
        key_desc(ch, is_key, k, sizeof k);
        if (!(is_key && ch == KEY_MOUSE)) app_status(a, 0, "%s: no action here — press ? for the keys", k);
        return;
    }
    const char *why;
    if (!available(a, d, &why)) {
        app_status(a, 1, "%s is not available: %s", d->shrt, why);
        return;
    }
    if (v->ops->unavailable && (why = v->ops->unavailable(a, v, d->id))) {
        app_status(a, 1, "%s: %s", d->shrt, why);
        return;
    }
    reaction rx = v->ops->request ? v->ops->request(a, v, d->id) : RX_UNHANDLED;
    if (rx & RX_RELOAD) app_reload(a);
    if (rx) { a->pending_paint = 1; return; }
    generic(a, v, d->id);
}

/* The bottom line: the keys that work in this view; mutating ones the operator cannot
 * use are marked ✗ and the reason is kept visible at the right. */
void keys_draw_hints(struct app *a, int y)
{
    unsigned vm = app_view(a)->ops->mask;
    const char *reason = NULL, *why;
    for (int i = 0; i < REQ__COUNT && !reason; i++) {
        const struct request_def *d = &request_table[i];
        if ((d->flags & RF_HINT) && exists(a, d, vm) && !available(a, d, &why)) reason = why;
    }
    char rtxt[160] = "";
    if (reason) snprintf(rtxt, sizeof rtxt, " %s %s ", a->unicode ? "✗" : "(x)", reason);
    int limit = a->cols - text_width(rtxt);
    move(y, 0);
    attrset(style_attr(S_HINT));
    for (int i = 0; i < a->cols; i++) addch(' ');
    int x = 0;
    for (int i = 0; i < REQ__COUNT; i++) {
        const struct request_def *d = &request_table[i];
        if (!(d->flags & RF_HINT) || !exists(a, d, vm)) continue;
        int on = available(a, d, &why);
        char txt[96];
        snprintf(txt, sizeof txt, "%s%s", d->shrt, on ? "" : a->unicode ? "✗" : "(x)");
        int lw = text_width(d->label), need = lw + 1 + text_width(txt) + 2;
        if (x + need > limit) break;
        draw_text(y, x, lw, on ? S_HINT_KEY : S_HINT_OFF, d->label);
        draw_text(y, x + lw + 1, text_width(txt), on ? S_HINT : S_HINT_OFF, txt);
        x += need;
    }
    if (reason) draw_text(y, limit, text_width(rtxt), S_HINT_OFF, rtxt);
}

/* ------------------------------------------------------------------ bindings */

static struct request_def *by_name(const char *name)
{
    if (!strncasecmp(name, "REQ_", 4)) name += 4;
    for (int i = 0; i < REQ__COUNT; i++)
        if (!strcasecmp(request_table[i].name + 4, name)) return &request_table[i];
    return NULL;
}

/* "C", "^X", "F5", "Enter", "Tab", "Esc", "Space", "Up", "Down", "Left", "Right", "Home",
 * "End", "PgUp", "PgDn", "Backspace" -> the code keys_dispatch sees; 0 if not a key */
static int key_code(const char *k)
{
    static const struct { const char *n; int code; } NAMED[] = {
        { "Enter", K_ENTER }, { "Tab", K_TAB }, { "Esc", K_ESC }, { "Space", ' ' }, { "Up", KEY_UP },
        { "Down", KEY_DOWN }, { "Left", KEY_LEFT }, { "Right", KEY_RIGHT }, { "Home", KEY_HOME }, { "End", KEY_END },
        { "PgUp", KEY_PPAGE }, { "PgDn", KEY_NPAGE }, { "Backspace", KEY_BACKSPACE },
    };
    size_t n = strlen(k);
    if (n == 1 && k[0] > ' ' && k[0] < 127) return k[0];
    if (n == 2 && k[0] == '^' && ((k[1] >= 'a' && k[1] <= 'z') || (k[1] >= 'A' && k[1] <= 'Z'))) return CTRL_(k[1]);
    if ((n == 2 || n == 3) && (k[0] == 'F' || k[0] == 'f') && atoi(k + 1) >= 1 && atoi(k + 1) <= 12) return KEY_F(atoi(k + 1));
    for (size_t i = 0; i < sizeof NAMED / sizeof NAMED[0]; i++)
        if (!strcasecmp(k, NAMED[i].n)) return NAMED[i].code;
    return 0;
}

int keys_bind(const char *name, const char *key, char *err, size_t errlen)
{
    struct request_def *d = by_name(name);
    if (!d) { snprintf(err, errlen, "unknown request '%.40s' (the names are in the ? help)", name); return -1; }
    int code = key_code(key);
    if (!code) { snprintf(err, errlen, "'%.20s' is not a key (a character, ^X, F1-F12, Enter, Tab, Esc, Space, Up, …)", key); return -1; }
    for (int i = 0; i < REQ__COUNT; i++) {
        struct request_def *o = &request_table[i];
        if (o == d || !(o->views & d->views)) continue;
        for (int k = 0; k < 3; k++)
            if (o->keys[k] == code) {
                snprintf(err, errlen, "'%s' is already %s's key (unbind = %s first)", key, o->name + 4, o->name + 4);
                return -1;
            }
    }
    static char labels[REQ__COUNT][16];
    snprintf(labels[d->id], sizeof labels[0], "%s", key);
    d->label = labels[d->id];
    d->keys[0] = code;
    d->keys[1] = d->keys[2] = 0;
    return 0;
}

int keys_unbind(const char *name, char *err, size_t errlen)
{
    struct request_def *d = by_name(name);
    if (!d) { snprintf(err, errlen, "unknown request '%.40s' (the names are in the ? help)", name); return -1; }
    d->keys[0] = d->keys[1] = d->keys[2] = 0;
    d->label = "-";
    return 0;
}

/* ------------------------------------------------------------------ for people */

const char *view_names(unsigned m)
{
    static char s[300];
    static const char *const N[] = { "payments", "payment", "exceptions", "exception", "webhooks", "deliveries",
                                     "delivery", "audit", "audit entry", "recon", "break", "networks/changes",
                                     "payouts", "payout" };
    if (m == VM_ALL) return "everywhere";
    s[0] = 0;
    for (unsigned i = 0; i < sizeof N / sizeof N[0]; i++)
        if (m & (1u << i)) { if (s[0]) strcat(s, ", "); strcat(s, N[i]); }
    return s;
}

void keys_text(const struct request_def *r, char *out, size_t n)
{
    out[0] = 0;
    for (int k = 0; k < 3; k++) {
        int c = r->keys[k];
        if (!c) continue;
        char one[24];
        if (c >= KEY_MIN && c >= KEY_F(1) && c <= KEY_F(12)) snprintf(one, sizeof one, "F%d", c - KEY_F0);
        else if (c >= KEY_MIN) snprintf(one, sizeof one, "%s", c == KEY_UP ? "Up" : c == KEY_DOWN ? "Down" :
                 c == KEY_LEFT ? "Left" : c == KEY_RIGHT ? "Right" : c == KEY_NPAGE ? "PgDn" : c == KEY_PPAGE ? "PgUp" :
                 c == KEY_HOME ? "Home" : c == KEY_END ? "End" : c == KEY_BTAB ? "S-Tab" : c == KEY_ENTER ? "Enter" :
                 c == KEY_BACKSPACE ? "Backspace" : "key");
        else if (c == '\t') snprintf(one, sizeof one, "Tab");
        else if (c == '\n') snprintf(one, sizeof one, "Enter");
        else if (c == 27) snprintf(one, sizeof one, "Esc");
        else if (c == ' ') snprintf(one, sizeof one, "Space");
        else if (c < 32) snprintf(one, sizeof one, "^%c", c + 64);
        else snprintf(one, sizeof one, "%c", c);
        if (strstr(out, one)) continue;           /* Enter and keypad Enter read alike */
        size_t l = strlen(out);
        snprintf(out + l, n - l, "%s%s", l ? " " : "", one);
    }
}

void keys_markdown(FILE *f)
{
    fprintf(f, "| keys | name (for `bind`) | what it does | where | role |\n|---|---|---|---|---|\n");
    for (int i = 0; i < REQ__COUNT; i++) {
        const struct request_def *r = &request_table[i];
        char keys[64], name[32];
        keys_text(r, keys, sizeof keys);
        size_t k = 0;
        for (const char *p = r->name + 4; *p && k + 1 < sizeof name; p++) name[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        name[k] = 0;
        fprintf(f, "| `%s` | %s | %s%s | %s | %s |\n", keys, name, r->help, (r->flags & RF_MUT) ? " (asks to confirm)" : "",
                view_names(r->views), role_name(r->role));
    }
}
