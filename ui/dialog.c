/* dialog — modal confirmation (focus starts on Cancel), menus, text prompts, and the
 * `?` help screen generated from the request table. */
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

static int modal_key(struct app *a, wint_t *wc)
{
    nodelay(stdscr, FALSE);
    int rc = get_wch(wc);
    nodelay(stdscr, TRUE);
    if (rc == KEY_CODE_YES && *wc == KEY_RESIZE) {
        getmaxyx(stdscr, a->rows, a->cols);
        draw_all(a);
    }
    return rc;
}

static int dlg_width(struct app *a, int want)
{
    int w = want < 56 ? 56 : want;
    if (w > a->cols - 4) w = a->cols - 4;
    return w;
}

static void draw_buttons(int y, int x, int w, const char *action, int focus)
{
    char c[32], b[96];
    snprintf(c, sizeof c, "[ Cancel ]");
    snprintf(b, sizeof b, "[ %s ]", action);
    int bw = text_width(b), cw = text_width(c);
    int bx = x + w - 2 - bw, cx = bx - 2 - cw;
    draw_text(y, cx, cw, focus == 0 ? S_BUTTON_FOCUS : S_BUTTON, c);
    draw_text(y, bx, bw, focus == 1 ? S_BUTTON_FOCUS : S_BUTTON, b);
}

int dlg_confirm(struct app *a, const char *title, const char *const *lines, int nlines, const char *action)
{
    int prod = !strcmp(a->cfg.env, "production");
    int focus = 0;          /* Cancel */
    for (;;) {
        draw_all(a);
        int longest = text_width(title) + 4;
        for (int i = 0; i < nlines; i++) if (text_width(lines[i]) + 6 > longest) longest = text_width(lines[i]) + 6;
        int w = dlg_width(a, longest), h = nlines + 6 + (prod ? 2 : 0);
        int y = (a->rows - h) / 2, x = (a->cols - w) / 2;
        draw_box(a, y, x, h, w, S_DIALOG);
        char t[200];
        snprintf(t, sizeof t, " %s ", title);
        draw_text(y, x + 2, text_width(t) < w - 4 ? text_width(t) : w - 4, S_DIALOG_TITLE, t);
        int r = y + 2;
        if (prod) {
            draw_text(r, x + 2, w - 4, S_PROD_WARN, " PRODUCTION: this changes live data for a real merchant ");
            r += 2;
        }
        for (int i = 0; i < nlines; i++) draw_text(r++, x + 3, w - 6, S_DIALOG, lines[i]);
        draw_buttons(y + h - 2, x, w, action, focus);
        refresh();
        wint_t wc;
        int rc = modal_key(a, &wc);
        if (rc == ERR) continue;
        if (rc == KEY_CODE_YES) {
            if (wc == KEY_LEFT || wc == KEY_RIGHT || wc == KEY_BTAB) focus = !focus;
            else if (wc == KEY_ENTER) return focus == 1;
            continue;
        }
        if (wc == '\t' || wc == 'h' || wc == 'l') focus = !focus;
        else if (wc == '\n' || wc == '\r') return focus == 1;
        else if (wc == 27 || wc == 'q' || wc == 'n') return 0;
    }
}

int dlg_menu(struct app *a, const char *title, const char *const *items, int n)
{
    int cur = 0;
    for (;;) {
        draw_all(a);
        int longest = text_width(title) + 4;
        for (int i = 0; i < n; i++) if (text_width(items[i]) + 8 > longest) longest = text_width(items[i]) + 8;
        int w = dlg_width(a, longest), h = n + 4;
        int y = (a->rows - h) / 2, x = (a->cols - w) / 2;
        draw_box(a, y, x, h, w, S_DIALOG);
        char t[200];
        snprintf(t, sizeof t, " %s ", title);
        draw_text(y, x + 2, text_width(t) < w - 4 ? text_width(t) : w - 4, S_DIALOG_TITLE, t);
        for (int i = 0; i < n; i++) {
            char l[200];
            snprintf(l, sizeof l, " %d  %s", i + 1, items[i]);
            draw_text(y + 2 + i, x + 2, w - 4, i == cur ? S_BUTTON_FOCUS : S_DIALOG, l);
        }
        draw_text(y + h - 1, x + 2, 28 < w - 4 ? 28 : w - 4, S_DIALOG, " Enter choose · Esc cancel ");
        refresh();
        wint_t wc;
        int rc = modal_key(a, &wc);
        if (rc == ERR) continue;
        if (rc == KEY_CODE_YES) {
            if (wc == KEY_UP && cur > 0) cur--;
            else if (wc == KEY_DOWN && cur < n - 1) cur++;
            else if (wc == KEY_ENTER) return cur;
            continue;
        }
        if (wc == 'k' && cur > 0) cur--;
        else if (wc == 'j' && cur < n - 1) cur++;
        else if (wc >= '1' && wc <= '9' && (int)wc - '1' < n) cur = wc - '1';
        else if (wc == '\n' || wc == '\r') return cur;
        else if (wc == 27 || wc == 'q') return -1;
    }
}

int dlg_prompt(struct app *a, const char *title, const char *label, char *buf, size_t n, int required)
{
    wchar_t w[256];
    size_t len = mbstowcs(w, buf, 255);
    if (len == (size_t)-1) len = 0;
    w[len] = 0;
    const char *err = "";
    curs_set(1);
    for (;;) {
        draw_all(a);
        int lw = text_width(label) + 6;   /* a long label (an address to read) widens the dialog */
        int wd = dlg_width(a, lw > 70 ? lw : 70), h = 7;
        int y = (a->rows - h) / 2, x = (a->cols - wd) / 2;
        draw_box(a, y, x, h, wd, S_DIALOG);
        char t[200];
        snprintf(t, sizeof t, " %s ", title);
        draw_text(y, x + 2, text_width(t) < wd - 4 ? text_width(t) : wd - 4, S_DIALOG_TITLE, t);
        draw_text(y + 2, x + 3, wd - 6, S_DIALOG, label);
        char u[1024];
        wcstombs(u, w, sizeof u);
        int fw = wd - 6, uw = text_width(u);
        const char *shown = u;
        while (uw >= fw && *shown) { shown++; uw = text_width(shown); }   /* keep the end visible */
        draw_text(y + 3, x + 3, fw, S_BUTTON_FOCUS, shown);
        draw_text(y + 5, x + 3, wd - 6, *err ? S_STATUS_ERR : S_DIALOG, *err ? err : "Enter accept · Esc cancel");
        move(y + 3, x + 3 + uw);
        refresh();
        wint_t wc;
        int rc = modal_key(a, &wc);
        if (rc == ERR) continue;
        if (rc == KEY_CODE_YES) {
            if (wc == KEY_BACKSPACE && len) w[--len] = 0;
            else if (wc == KEY_ENTER) goto accept;
            continue;
        }
        if (wc == 27) { curs_set(0); return 0; }
        if (wc == '\n' || wc == '\r') goto accept;
        if ((wc == 127 || wc == 8) && len) { w[--len] = 0; continue; }
        if (wc == CTRL_('u')) { len = 0; w[0] = 0; continue; }
        if (wc >= 32 && wc != 127 && len < 250 && fits(w, (wchar_t)wc, n)) { w[len++] = (wchar_t)wc; w[len] = 0; }
        continue;
    accept:
        if (required && len == 0) { err = "required: type something, or Esc to cancel"; continue; }
        wcstombs(buf, w, n);
        buf[n - 1] = 0;
        curs_set(0);
        return 1;
    }
}


/* `?`: every request in the table, where it works, and whether this operator may use it */
void dlg_help(struct app *a)
{
    struct view hv = { .ops = app_view(a)->ops };
    struct doc *d = &hv.d;
    doc_nl(d);
    doc_add(d, S_TITLE, " railtop %s — keys (from the same table that dispatches them)", RAILTOP_VERSION);
    doc_nl(d);
    for (int i = 0; i < REQ__COUNT; i++) {
        const struct request_def *r = &request_table[i];
        if ((r->flags & RF_MUT) && a->cfg.read_only) continue;
        char keys[64];
        keys_text(r, keys, sizeof keys);
        doc_nl(d);
        char where[200];
        snprintf(where, sizeof where, "%s", view_names(r->views));
        if (text_width(where) > 30) snprintf(where + 27, sizeof where - 27, "...");
        char lname[32];   /* what `bind = NAME KEY` in the config file calls it */
        size_t k = 0;
        for (const char *p = r->name + 4; *p && k + 1 < sizeof lname; p++) lname[k++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        lname[k] = 0;
        doc_add(d, S_HINT_KEY, "  %-14s", keys);
        doc_add(d, S_DIM, "%-10s", lname);
        doc_add(d, S_NORMAL, " %-46s", r->help);
        doc_add(d, S_DIM, " %-30s", where);
        const char *why = NULL, *x = a->unicode ? "✗" : "(x)";
        if ((r->flags & RF_MUT) && !app_can_mutate(a, &why)) doc_add(d, S_HINT_OFF, " %s %s", x, why);
        else if (!role_ok(a, r->role, &why)) doc_add(d, S_HINT_OFF, " %s %s", x, why);
        else if (r->flags & RF_MUT) doc_add(d, S_GOOD, " asks to confirm");
    }
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_TITLE, "  Command mode");
    doc_nl(d);
    doc_add(d, S_NORMAL, "  :payments state=confirming rail=tron:usdt merchant=NAME env=sandbox");
    doc_nl(d);
    doc_add(d, S_NORMAL, "  :exceptions type=underpaid state=open    :webhooks   :audit   :q");
    doc_nl(d);
    doc_add(d, S_NORMAL, "  :recon class=amount_mismatch state=all merchant=NAME");
    doc_nl(d);
    doc_add(d, S_NORMAL, "  :payment pay_…  (open one)   a command with no arguments clears its filters");
    doc_nl(d);
    doc_add(d, S_DIM, "  Esc, q or ? closes this screen");
    for (;;) {
        erase();
        doc_draw(a, &hv, 0, a->rows);
        refresh();
        wint_t wc;
        int rc = modal_key(a, &wc);
        if (rc == ERR) continue;
        if (rc == KEY_CODE_YES) {
            if (wc == KEY_DOWN) doc_request(a, &hv, REQ_DOWN);
            else if (wc == KEY_UP) doc_request(a, &hv, REQ_UP);
            else if (wc == KEY_NPAGE) doc_request(a, &hv, REQ_PGDN);
            else if (wc == KEY_PPAGE) doc_request(a, &hv, REQ_PGUP);
            continue;
        }
        if (wc == 'j') doc_request(a, &hv, REQ_DOWN);
        else if (wc == 'k') doc_request(a, &hv, REQ_UP);
        else if (wc == 27 || wc == 'q' || wc == '?') break;
    }
    doc_clear(d);
    free(d->lines);
}
