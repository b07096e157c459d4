/* view_detail — one payment: summary, state timeline with block heights and times,
 * transfers, exceptions, webhook deliveries with their attempts, ledger lines with their
 * postings, and reconciliation breaks under the payment's commerce key.
 * Every query is by primary key or an indexed foreign key, each bounded. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *val(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? "" : PQgetvalue(r, row, col);
}

static void section(struct doc *d, const char *title)
{
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_TITLE, " %s", title);
}

static int summary(struct app *a, struct doc *d, const char *pub, char *pid, size_t n, int *dec)
{
    PGresult *r = cq(a, "SELECT p.public_id, p.reference, m.name, p.environment, p.rail, p.amount, p.received,"
                        " p.confirmed_amount, r.decimals, p.state, p.confirmations, r.confirm_depth,"
                        " r.finality_depth, p.deposit_address, to_char(p.created_at, 'YYYY-MM-DD HH24:MI:SS'),"
                        " to_char(p.expires_at, 'YYYY-MM-DD HH24:MI:SS'), p.id, p.sequence, p.metadata::text"
                        " FROM payments p JOIN merchants m ON m.id = p.merchant_id JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
                        " WHERE p.public_id = $1", pub);
    if (!r) return -1;
    if (!PQntuples(r)) {
        doc_nl(d);
        doc_add(d, S_STATUS_ERR, " no payment %s", pub);
        PQclear(r);
        return -1;
    }
    *dec = atoi(val(r, 0, 8));
    char amt[64], rec[64], conf[64], cf[64];
    fmt_amount(val(r, 0, 5), *dec, amt, sizeof amt);
    fmt_amount(val(r, 0, 6), *dec, rec, sizeof rec);
    fmt_amount(val(r, 0, 7), *dec, cf, sizeof cf);
    snprintf(conf, sizeof conf, "%s / %s to confirm, %s to finalize", val(r, 0, 10), val(r, 0, 11), val(r, 0, 12));
    doc_nl(d);
    doc_add(d, S_TITLE, " Payment %s", val(r, 0, 0));
    doc_add(d, S_NORMAL, "   ");
    doc_add(d, state_style(val(r, 0, 9)), "%s", val(r, 0, 9));
    doc_kv(d, "reference", S_NORMAL, val(r, 0, 1));
    doc_kv(d, "merchant", S_NORMAL, val(r, 0, 2));
    doc_kv(d, "environment", S_NORMAL, val(r, 0, 3));
    doc_kv(d, "rail", S_NORMAL, val(r, 0, 4));
    doc_kv(d, "expected", S_NORMAL, amt);
    doc_kv(d, "received", S_NORMAL, rec);
    doc_kv(d, "confirmed amount", S_NORMAL, cf);
    doc_kv(d, "confirmations", S_NORMAL, conf);
    doc_kv(d, "deposit address", S_NORMAL, val(r, 0, 13));
    doc_kv(d, "created", S_DIM, val(r, 0, 14));
    doc_kv(d, "expires", S_DIM, val(r, 0, 15));
    doc_kv(d, "metadata", S_DIM, val(r, 0, 18));
    snprintf(pid, n, "%s", val(r, 0, 16));
    PQclear(r);
    return 0;
}

static void timeline(struct app *a, struct doc *d, const char *pid)
{
    section(d, "Timeline");
    PGresult *r = cq(a, "SELECT sequence, type, coalesce(from_state, ''), coalesce(to_state, ''),"
                        " coalesce(block_number::text, ''), to_char(at, 'YYYY-MM-DD HH24:MI:SS'), event_id"
                        " FROM payment_events WHERE payment_id = $1::bigint ORDER BY sequence LIMIT 200", pid);
    if (!r) return;
    if (!PQntuples(r)) { doc_nl(d); doc_add(d, S_DIM, "   no events"); }
    for (int i = 0; i < PQntuples(r); i++) {
        doc_nl(d);
        doc_add(d, S_DIM, "  %3s  %s  ", val(r, i, 0), val(r, i, 5));
        doc_add(d, S_NORMAL, "%-22s ", val(r, i, 1));
        if (*val(r, i, 2)) {
            doc_add(d, state_style(val(r, i, 2)), "%s", val(r, i, 2));
            doc_add(d, S_DIM, " → ");
        }
        doc_add(d, state_style(val(r, i, 3)), "%-16s", val(r, i, 3));
        if (*val(r, i, 4)) doc_add(d, S_DIM, "  block %s", val(r, i, 4));
    }
    PQclear(r);
}

static void transfers(struct app *a, struct doc *d, const char *pid, int dec)
{
    section(d, "Transfers");
    PGresult *r = cq(a, "SELECT tx_hash, log_index, coalesce(block_number::text, 'mempool'), value, status,"
                        " classification, counted, to_char(first_seen_at, 'YYYY-MM-DD HH24:MI:SS'), from_address"
                        " FROM chain_transfers WHERE payment_id = $1::bigint ORDER BY id LIMIT 100", pid);
    if (!r) return;
    if (!PQntuples(r)) { doc_nl(d); doc_add(d, S_DIM, "   no transfers"); }
    for (int i = 0; i < PQntuples(r); i++) {
        char v[64];
        fmt_amount(val(r, i, 3), dec, v, sizeof v);
        doc_nl(d);
        doc_add(d, S_DIM, "  %s  ", val(r, i, 7));
        doc_add(d, S_NORMAL, "%12s  block %-9s ", v, val(r, i, 2));
        doc_add(d, !strcmp(val(r, i, 4), "removed") ? S_BAD : S_GOOD, "%-7s ", val(r, i, 4));
        doc_add(d, S_NORMAL, "%-10s %s", val(r, i, 5), val(r, i, 6)[0] == 't' ? "counted" : "not counted");
        doc_nl(d);
        doc_add(d, S_DIM, "      tx %s:%s  from %s", val(r, i, 0), val(r, i, 1), val(r, i, 8));
    }
    PQclear(r);
}

static void exceptions(struct app *a, struct doc *d, const char *pid)
{
    section(d, "Exceptions");
    PGresult *r = cq(a, "SELECT public_id, type, state, severity, coalesce(assignee, ''), coalesce(resolution, '')"
                        " FROM exceptions WHERE payment_id = $1::bigint ORDER BY id LIMIT 50", pid);
    if (!r) return;
    if (!PQntuples(r)) { doc_nl(d); doc_add(d, S_DIM, "   none"); }
    for (int i = 0; i < PQntuples(r); i++) {
        doc_nl(d);
        int sev = atoi(val(r, i, 3));
        doc_add(d, sev >= 4 ? S_SEV4 : sev == 3 ? S_SEV3 : sev == 2 ? S_SEV2 : S_SEV1, "  sev%s ", val(r, i, 3));
        doc_add(d, S_NORMAL, "%-20s %-9s %s %s %s", val(r, i, 1), val(r, i, 2), val(r, i, 0), val(r, i, 4), val(r, i, 5));
    }
    PQclear(r);
}

static void webhooks(struct app *a, struct doc *d, const char *pid)
{
    section(d, "Webhook deliveries");
    /* by event id: payment_events (payment_id, sequence) → webhook_deliveries_event index */
    PGresult *r = cq(a, "SELECT d.id, d.event_type, d.status, d.attempts, coalesce(d.last_http_status::text, '-'),"
                        " e.url, to_char(d.created_at, 'YYYY-MM-DD HH24:MI:SS')"
                        " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                        " WHERE d.event_id IN (SELECT event_id FROM payment_events WHERE payment_id = $1::bigint)"
                        " ORDER BY d.id LIMIT 50", pid);
    if (!r) { doc_nl(d); doc_add(d, S_DIM, "   (webhook tables not available)"); return; }
    if (!PQntuples(r)) { doc_nl(d); doc_add(d, S_DIM, "   none"); }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *st = val(r, i, 2);
        doc_nl(d);
        doc_add(d, S_DIM, "  %s  #%s ", val(r, i, 6), val(r, i, 0));
        doc_add(d, S_NORMAL, "%-20s ", val(r, i, 1));
        doc_add(d, !strcmp(st, "succeeded") ? S_GOOD : !strcmp(st, "failed") ? S_BAD : S_WARN, "%-10s", st);
        doc_add(d, S_NORMAL, " attempts %s  last HTTP %s  %s", val(r, i, 3), val(r, i, 4), val(r, i, 5));
        PGresult *t = cq(a, "SELECT attempt_no, to_char(started_at, 'HH24:MI:SS'), coalesce(duration_ms::text, '…'),"
                            " coalesce(http_status::text, '-'), coalesce(error, ''), trigger, coalesce(operator, '')"
                            " FROM webhook_attempts WHERE delivery_id = $1::bigint ORDER BY attempt_no LIMIT 20",
                         val(r, i, 0));
        for (int j = 0; t && j < PQntuples(t); j++) {
            doc_nl(d);
            doc_add(d, S_DIM, "      attempt %s at %s  %s ms  HTTP %s  %s %s %s", val(t, j, 0), val(t, j, 1),
                    val(t, j, 2), val(t, j, 3), val(t, j, 5), val(t, j, 6), val(t, j, 4));
        }
        if (t) PQclear(t);
    }
    PQclear(r);
}

static void ledger(struct app *a, struct doc *d, const char *pid, int dec)
{
    section(d, "Ledger");
    PGresult *r = cq(a, "SELECT t.id, t.kind, t.amount, to_char(t.posted_at, 'YYYY-MM-DD HH24:MI:SS'), t.memo"
                        " FROM ledger_transactions t WHERE t.payment_id = $1::bigint ORDER BY t.id LIMIT 50", pid);
    if (!r) { doc_nl(d); doc_add(d, S_DIM, "   (ledger not available)"); return; }
    if (!PQntuples(r)) { doc_nl(d); doc_add(d, S_DIM, "   no postings yet (posted at finality)"); }
    for (int i = 0; i < PQntuples(r); i++) {
        char amt[64];
        fmt_amount(val(r, i, 2), dec, amt, sizeof amt);
        doc_nl(d);
        doc_add(d, S_DIM, "  %s  #%s ", val(r, i, 3), val(r, i, 0));
        doc_add(d, S_NORMAL, "%-10s %12s  %s", val(r, i, 1), amt, val(r, i, 4));
        PGresult *p = cq(a, "SELECT p.side, a.code, p.amount FROM ledger_postings p JOIN ledger_accounts a"
                            " ON a.id = p.account_id WHERE p.txn_id = $1::bigint ORDER BY p.id LIMIT 20", val(r, i, 0));
        for (int j = 0; p && j < PQntuples(p); j++) {
            fmt_amount(val(p, j, 2), dec, amt, sizeof amt);
            doc_nl(d);
            doc_add(d, S_DIM, "      %-6s %12s  %s", val(p, j, 0), amt, val(p, j, 1));
        }
        if (p) PQclear(p);
    }
    PQclear(r);
}

/* breaks under this payment's commerce key (merchant + environment + reference) */
static void recon(struct app *a, struct doc *d, const char *pid)
{
    section(d, "Reconciliation");
    PGresult *r = cq(a, "SELECT b.public_id, b.class, b.state, coalesce(b.planes, ''),"
                        " to_char(b.first_seen_at, 'YYYY-MM-DD HH24:MI:SS')"
                        " FROM payments p JOIN recon_breaks b ON b.merchant_id = p.merchant_id"
                        " AND b.environment = p.environment AND b.reference = p.reference"
                        " WHERE p.id = $1::bigint ORDER BY b.class_rank, b.id LIMIT 20", pid);
    if (!r) { doc_nl(d); doc_add(d, S_DIM, "   (reconciliation not available)"); return; }
    if (!PQntuples(r)) { doc_nl(d); doc_add(d, S_GOOD, "   no breaks for this reference"); }
    for (int i = 0; i < PQntuples(r); i++) {
        int open = strcmp(val(r, i, 2), "resolved");
        doc_nl(d);
        doc_add(d, S_DIM, "  %s  ", val(r, i, 4));
        doc_add(d, open ? S_BAD : S_DIM, "%-26s %-10s", val(r, i, 1), val(r, i, 2));
        doc_add(d, S_DIM, " %s %s", val(r, i, 0), val(r, i, 3));
    }
    PQclear(r);
}

static int load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    int top = d->top;
    doc_clear(d);
    char pid[32];
    int dec = 6;
    if (summary(a, d, v->target, pid, sizeof pid, &dec)) return -1;
    timeline(a, d, pid);
    transfers(a, d, pid, dec);
    exceptions(a, d, pid);
    webhooks(a, d, pid);
    ledger(a, d, pid, dec);
    recon(a, d, pid);
    d->top = top;
    return 0;
}

static const char *const TABLES[] = { "payments", "payment_events", "chain_transfers", "exceptions",
                                      "webhook_deliveries", "webhook_attempts", "ledger_transactions",
                                      "recon_breaks", NULL };

const struct view_ops detail_ops = {
    .name = "payment", .title = "Payment", .mask = VM_DETAIL, .tables = TABLES,
    .load = load, .draw = doc_draw,
};
