/* jump — one key from an object to the ones related to it (DESIGN §9): from a payment to its
 * exceptions (x), its webhook deliveries (w) and the breaks under its reference (b); from a
 * delivery or a break to its payment (P); from a break to the exception it was escalated to
 * (E). Each opens the ordinary view with a filter, so Esc / Tab behave as usual. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the first column of a one-row query, or "" */
static void one(struct app *a, const char *sql, const char *arg, char *out, size_t n)
{
    out[0] = 0;
    PGresult *r = cq(a, sql, arg);
    if (r && PQntuples(r) && !PQgetisnull(r, 0, 0)) snprintf(out, n, "%s", PQgetvalue(r, 0, 0));
    if (r) PQclear(r);
}

static void open_payment(struct app *a, const char *pub)
{
    if (!pub[0]) { app_status(a, 1, "no payment is linked to this"); return; }
    app_push(a, &detail_ops, pub, NULL);
}

int jump_request(struct app *a, struct view *v, enum req r)
{
    char line[400], x[128], y[256];
    switch (r) {
    case REQ_JUMP_EXC:
        snprintf(line, sizeof line, "exceptions state=all payment=%s", v->target);
        cmd_run(a, line);
        return 1;
    case REQ_JUMP_BREAK:
        one(a, "SELECT reference FROM payments WHERE public_id = $1", v->target, x, sizeof x);
        one(a, "SELECT m.name FROM payments p JOIN merchants m ON m.id = p.merchant_id WHERE p.public_id = $1",
            v->target, y, sizeof y);
        if (!x[0] || strchr(x, ' ') || strchr(y, ' ')) {   /* command words are space-separated */
            app_status(a, 1, "the reference or merchant name has a space: use :recon and / to find its breaks");
            return 1;
        }
        snprintf(line, sizeof line, "recon state=all merchant=%s reference=%s", y, x);
        cmd_run(a, line);
        return 1;
    case REQ_JUMP_DELIV: {
        char pub[96];
        snprintf(pub, sizeof pub, "%s", v->target);
        app_push(a, &deliveries_ops, "all", "");
        struct view *d = app_view(a);
        snprintf(d->args[0][0], sizeof d->args[0][0], "payment");
        snprintf(d->args[0][1], sizeof d->args[0][1], "%s", pub);
        d->nargs = 1;
        app_reload(a);
        return 1;
    }
    case REQ_JUMP_PAY:
        if (v->ops == &delivery_ops)
            one(a, "SELECT p.public_id FROM webhook_deliveries d JOIN webhook_outbox o ON o.event_id = d.event_id"
                   " JOIN payments p ON p.id = o.payment_id WHERE d.id = $1::bigint", v->target, x, sizeof x);
        else
            one(a, "SELECT coalesce(b.p_payment, (SELECT public_id FROM payments p WHERE p.merchant_id = b.merchant_id"
                   " AND p.environment = b.environment AND p.reference = b.reference ORDER BY p.id DESC LIMIT 1))"
                   " FROM recon_breaks b WHERE b.public_id = $1", v->target, x, sizeof x);
        open_payment(a, x);
        return 1;
    case REQ_JUMP_EXCONE:
        one(a, "SELECT e.public_id FROM recon_breaks b JOIN exceptions e ON e.id = b.exception_id WHERE b.public_id = $1",
            v->target, x, sizeof x);
        if (!x[0]) { app_status(a, 1, "this break was not escalated to an exception (x escalates)"); return 1; }
        app_push(a, &exception_ops, x, NULL);
        return 1;
    default:
        return 0;
    }
}
