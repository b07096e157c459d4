/* mouse — opt-in (`mouse = on` in the config file): a click on the tabs line switches tab, a
 * click on a row of a list selects it, the wheel moves three rows (a list) or lines (a
 * document). Everything else stays on the keyboard. */
#include "app.h"
#include <stdio.h>
#include <string.h>

/* the tab under column x of the tabs line (as draw.c lays it out), or -1 */
static int tab_at(struct app *a, int x)
{
    int at = 0;
    for (int i = 0; i < NTABS; i++) {
        char t[64];
        int w = tab_label(a, i, t, sizeof t);
        if (x >= at && x < at + w) return i;
        at += w + 1;
    }
    return -1;
}

static void wheel(struct app *a, struct view *v, enum req r)
{
    for (int i = 0; i < 3; i++) {
        if (v->g.res) grid_request(a, v, r);
        else doc_request(a, v, r);
    }
}

void mouse_event(struct app *a)
{
    MEVENT ev;
    if (getmouse(&ev) != OK) return;
    struct view *v = app_view(a);
    if (ev.bstate & BUTTON4_PRESSED) wheel(a, v, REQ_UP);
#ifdef BUTTON5_PRESSED
    else if (ev.bstate & BUTTON5_PRESSED) wheel(a, v, REQ_DOWN);
#endif
    else if (ev.bstate & (BUTTON1_CLICKED | BUTTON1_PRESSED)) {
        int t = ev.y == 1 ? tab_at(a, ev.x) : -1;
        if (t >= 0) app_switch_tab(a, t);
        else if (v->g.res && ev.y >= v->g.row0 && ev.y < v->g.row0 + v->g.nrows) {
            v->g.cur = ev.y - v->g.row0;
            snprintf(v->g.sel_id, sizeof v->g.sel_id, "%s", grid_val(v, v->g.cur, 0));
        }
    }
    a->pending_paint = 1;
}
