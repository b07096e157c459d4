/* view_recon — the slot for three-plane reconciliation (DESIGN §6). The reconciliation
 * issue brings the breaks table; until then this view says so instead of guessing. */
#include "app.h"
#include <stdio.h>

static int load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    doc_clear(d);
    doc_nl(d);
    doc_add(d, S_TITLE, " Reconciliation");
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_DIM, "   Breaks with the commerce, provider and finance planes side by side arrive with");
    doc_nl(d);
    doc_add(d, S_DIM, "   the reconciliation issue: acknowledge, match, escalate and export will live here.");
    return 0;
}

const struct view_ops recon_ops = {
    .name = "recon", .title = "Recon", .mask = VM_RECON, .tab = 5, .tables = NULL,
    .load = load, .draw = doc_draw,
};
