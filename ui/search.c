/* search — find a payment by its id or by the merchant's reference (within one merchant
 * when known, so the (merchant_id, environment, reference) index serves it); several
 * matches become a menu. Used to attach an exception's transfer and to match a break. */
#include "app.h"
#include <stdio.h>
#include <string.h>

/* Prompts under `title`; 1 with the chosen payment's public id in out, 0 if canceled or
 * nothing matched (the status line says which). mid: merchant id, or NULL/"" for any. */
int search_payment(struct app *a, const char *title, const char *mid, char *out, size_t n)
{
    char q[200] = "";
    if (!dlg_prompt(a, title, "payment id (pay_…) or merchant reference:", q, sizeof q, 1)) return 0;
    enum { SR_ID, SR_REFERENCE, SR_STATE, SR_MERCHANT };
    PGresult *r = mid && mid[0]
        ? cq(a, "SELECT p.public_id, p.reference, p.state, m.name FROM payments p JOIN merchants m ON m.id = p.merchant_id"
                " WHERE p.environment = $2 AND ((p.merchant_id = $3::bigint AND p.reference = $1) OR p.public_id = $1)"
                " ORDER BY p.id DESC LIMIT 9", q, a->cfg.env, mid)
        : cq(a, "SELECT p.public_id, p.reference, p.state, m.name FROM payments p JOIN merchants m ON m.id = p.merchant_id"
                " WHERE p.environment = $2 AND (p.public_id = $1 OR p.reference = $1) ORDER BY p.id DESC LIMIT 9",
             q, a->cfg.env);
    if (!r) return 0;
    int n_ = PQntuples(r), pick = 0;
    if (!n_) { app_status(a, 1, "no payment matches '%s' in %s", q, a->cfg.env); PQclear(r); return 0; }
    if (n_ > 1) {
        char items[9][200];
        const char *ptr[9];
        for (int i = 0; i < n_; i++) {
            snprintf(items[i], sizeof items[i], "%s  %s  %s  %s", PQgetvalue(r, i, SR_ID), PQgetvalue(r, i, SR_REFERENCE),
                     PQgetvalue(r, i, SR_STATE), PQgetvalue(r, i, SR_MERCHANT));
            ptr[i] = items[i];
        }
        pick = dlg_menu(a, "Which payment?", ptr, n_);
    }
    if (pick >= 0) snprintf(out, n, "%s", PQgetvalue(r, pick, 0));
    PQclear(r);
    return pick >= 0;
}

