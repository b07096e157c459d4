/* view_recon — three-plane reconciliation (DESIGN §6): open breaks, most severe class
 * first (keyset on (class_rank, first_seen_at, id), the recon_breaks_open index), with the
 * commerce, provider and finance planes side by side and the disagreeing fields
 * (recon_break_fields()) highlighted; "reconciled through" per plane in the title. One break
 * in detail. Finance acts through raild: acknowledge, match to a payment, escalate to an
 * exception, export the open breaks as CSV. Amounts are 10^-18 USDT. */
#include "app.h"
#include "core/catalog.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RECON_DECIMALS 18
enum { B_PUB, B_SEV, B_CLASS, B_STATE, B_MERCHANT, B_REF, B_CST, B_CAMT, B_PST, B_PAMT, B_FTX, B_FAMT, B_FIRST,
       B_FIELDS, B_ACK, B_EXC, B_MID, B_RECV };

static char g_through[200];
static char g_one[6][128];   /* break on screen: public id, class, state, reference, exception, merchant id */

/* classes and states are the catalogue's (core/catalog.h); "open" (new or persisting) and
 * "all" are the console's */
#define CLASSES recon_break_classes
static const char *g_states[8];
#define STATES filter_values("open", recon_break_states, "all", g_states, 8)

static void build(struct app *a, struct view *v, struct qb *q)
{
    qb_init(q, "SELECT b.public_id, b.severity, b.class, b.state, coalesce(m.name, ''), b.reference,"
               " coalesce(b.c_status, ''), coalesce(b.c_amount::text, ''), coalesce(b.p_state, ''),"
               " coalesce(b.p_amount::text, ''), coalesce(b.f_transactions::text, ''), coalesce(b.f_amount::text, ''),"
               " extract(epoch from b.first_seen_at)::bigint,"
               " coalesce(array_to_string(recon_break_fields(b.class, b.planes), ','), ''),"
               " coalesce(b.acknowledged_by, ''), coalesce(b.exception_id::text, ''), coalesce(b.merchant_id::text, ''),"
               " coalesce((SELECT (pp.received * power(10::numeric, 18 - rr.decimals))::numeric(78,0)::text"
               "   FROM payments pp JOIN rails rr ON rr.id = pp.rail AND rr.environment = pp.environment"
               "  WHERE pp.public_id = b.p_payment), ''),"
               " b.class_rank, b.first_seen_at, b.id"
               " FROM recon_breaks b LEFT JOIN merchants m ON m.id = b.merchant_id WHERE true");
    const char *st = view_arg(v, "state"), *x;
    if (!st || !strcmp(st, "open")) qb_add(q, " AND b.state <> 'resolved'");     /* recon_breaks_open */
    else if (strcmp(st, "all")) qb_and(q, " AND b.state = $%d", st);
    qb_and(q, " AND (b.environment = $%d OR b.environment IS NULL)", a->cfg.env);
    if ((x = view_arg(v, "class"))) qb_and(q, " AND b.class = $%d", x);
    if ((x = view_arg(v, "merchant"))) qb_and(q, " AND b.merchant_id IN (SELECT id FROM merchants WHERE name = $%d)", x);
    if ((x = view_arg(v, "reference"))) qb_and(q, " AND b.reference = $%d", x);
    view_filter_sql(v, q, "concat_ws(' ', b.public_id, b.class, b.state, m.name, b.reference, b.p_payment)");
}

static int load(struct app *a, struct view *v)
{
    PGresult *r = cq0(a, "SELECT string_agg(plane || ' ' || to_char(through, 'HH24:MI:SS'), '  ' ORDER BY plane)"
                         " FROM recon_checkpoints");
    snprintf(g_through, sizeof g_through, "%s", r && PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "no run yet");
    if (r) PQclear(r);
    return grid_load(a, v);
}

static int disagrees(const char *fields, const char *a, const char *b)
{
    char f[300];
    snprintf(f, sizeof f, ",%s,", fields);
    char x[40], y[40];
    snprintf(x, sizeof x, ",%s,", a);
    snprintf(y, sizeof y, ",%s,", b ? b : "-");
    return strstr(f, x) || strstr(f, y);
}

static const char *const SEVN[] = { "", "low", "med", "high", "crit" };

static enum style sev_style(int s)
{
    return s >= 4 ? S_SEV4 : s == 3 ? S_SEV3 : s == 2 ? S_SEV2 : S_SEV1;
}

static void plane(char *buf, size_t n, const char *what, const char *amount)
{
    char amt[64] = "";
    if (*amount) fmt_amount(amount, RECON_DECIMALS, amt, sizeof amt);
    snprintf(buf, n, "%s%s%s", *what ? what : "-", *amt ? " " : "", amt);
}

static const struct gcol COLS_WIDE[] = {
    { "SEV", 4, 0 }, { "CLASS", 20, 0 }, { "STATE", 7, 0 }, { "MERCHANT", 10, 0 }, { "REFERENCE", 0, 0 },
    { "COMMERCE", 19, 0 }, { "PROVIDER", 20, 0 }, { "FINANCE", 14, 0 }, { "AGE", 5, 1 },
};
/* 140 columns and more: room for the provider's state beside received and final */
static const struct gcol COLS_XWIDE[] = {
    { "SEV", 4, 0 }, { "CLASS", 20, 0 }, { "STATE", 7, 0 }, { "MERCHANT", 10, 0 }, { "REFERENCE", 0, 0 },
    { "COMMERCE", 19, 0 }, { "PROVIDER", 30, 0 }, { "FINANCE", 14, 0 }, { "AGE", 5, 1 },
};
static const struct gcol COLS_NARROW[] = {
    { "SEV", 4, 0 }, { "CLASS", 22, 0 }, { "REFERENCE", 0, 0 }, { "COMMERCE", 13, 0 }, { "PROVIDER", 15, 0 },
    { "FINANCE", 11, 0 },
};

static enum style cell_of(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    int sev = atoi(grid_val(v, r, B_SEV));
    const char *f = grid_val(v, r, B_FIELDS);
    switch (c) {
    case 0: snprintf(buf, n, "%s", sev >= 1 && sev <= 4 ? SEVN[sev] : "?"); return sev_style(sev);
    case 1: snprintf(buf, n, "%s", grid_val(v, r, B_CLASS)); return S_NORMAL;
    case 2:
        snprintf(buf, n, "%.7s%s", grid_val(v, r, B_STATE), grid_val(v, r, B_ACK)[0] ? "+ack" : "");
        return !strcmp(grid_val(v, r, B_STATE), "new") ? S_WARN : S_DIM;
    case 3: snprintf(buf, n, "%s", grid_val(v, r, B_MERCHANT)); return S_NORMAL;
    case 4: snprintf(buf, n, "%s", grid_val(v, r, B_REF)); return S_NORMAL;
    case 5: plane(buf, n, grid_val(v, r, B_CST), grid_val(v, r, B_CAMT));
        return disagrees(f, "c_status", "c_amount") ? S_BAD : S_DIM;
    case 6:
        /* a payment not final yet: what it received and what of it is final, labelled (the
         * plane's amount is the finalized part, "confirming 0.00" read as nothing received) */
        if (grid_val(v, r, B_PST)[0] && strcmp(grid_val(v, r, B_PST), "finalized") && grid_val(v, r, B_RECV)[0] &&
            strcmp(grid_val(v, r, B_RECV), "0")) {
            char rec[64], fin[64];
            fmt_amount(grid_val(v, r, B_RECV), RECON_DECIMALS, rec, sizeof rec);
            fmt_amount(grid_val(v, r, B_PAMT)[0] ? grid_val(v, r, B_PAMT) : "0", RECON_DECIMALS, fin, sizeof fin);
            if (a->cols >= 140) snprintf(buf, n, "%s recv %s final %s", grid_val(v, r, B_PST), rec, fin);
            else snprintf(buf, n, "recv %s fin %s", rec, fin);
        } else plane(buf, n, grid_val(v, r, B_PST), grid_val(v, r, B_PAMT));
        return disagrees(f, "p_state", "p_amount") || disagrees(f, "p_payments", NULL) ? S_BAD : S_DIM;
    case 7: {
        char tx[32];
        snprintf(tx, sizeof tx, "%s%s", grid_val(v, r, B_FTX), grid_val(v, r, B_FTX)[0] ? " tx" : "");
        plane(buf, n, tx, grid_val(v, r, B_FAMT));
        return disagrees(f, "f_transactions", "f_amount") ? S_BAD : S_DIM;
    }
    case 8: fmt_since(grid_val(v, r, B_FIRST), buf, n); return S_DIM;
    }
    buf[0] = 0;
    return S_NORMAL;
}

/* the narrow layout drops state, merchant and age */
static enum style cell_narrow(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    static const int MAP[] = { 0, 1, 4, 5, 6, 7 };
    return cell_of(a, v, r, MAP[c], buf, n);
}

static void draw(struct app *a, struct view *v, int y, int h)
{
    char t[500];
    char tagged[32] = "";
    if (v->tags.n) snprintf(tagged, sizeof tagged, "%d tagged · ", v->tags.n);   /* first: the title may be cut */
    snprintf(t, sizeof t, " Reconciliation  %s%s breaks · reconciled through: %s", tagged,
             view_arg(v, "state") ? view_arg(v, "state") : "open", g_through);
    for (int i = 0; i < v->nargs; i++) {
        size_t l = strlen(t);
        if (strcmp(v->args[i][0], "state")) snprintf(t + l, sizeof t - l, "  %s=%s", v->args[i][0], v->args[i][1]);
    }
    if (v->filter[0]) { size_t l = strlen(t); snprintf(t + l, sizeof t - l, "  /%s%s", v->filter_not ? "!" : "", v->filter); }
    draw_text(y, 0, a->cols, S_TITLE, t);
    if (a->cols >= 140) grid_draw(a, v, y + 1, h - 1, COLS_XWIDE, 9, cell_of);
    else if (a->cols >= 110) grid_draw(a, v, y + 1, h - 1, COLS_WIDE, 9, cell_of);
    else grid_draw(a, v, y + 1, h - 1, COLS_NARROW, 6, cell_narrow);
}

/* ------------------------------------------------------------------ actions */

static reaction post(struct app *a, const char *pub, const char *verb, const char *done, json_t *body)
{
    char path[200], msg[600];
    json_t *out = NULL;
    snprintf(path, sizeof path, "/v1/recon/breaks/%s/%s", pub, verb);
    int st = api_call(a, "POST", path, body, &out, msg, sizeof msg);
    if (st >= 200 && st < 300) app_status(a, 0, "%s %s", done, pub);
    else app_status(a, 1, "%s %s failed: %s", verb, pub, msg);
    if (out) json_decref(out);
    return RX_RELOAD;
}

static reaction act(struct app *a, const char *pub_, const char *cls, const char *state, const char *ref, const char *mid,
                enum req r)
{
    char pub[128], note[400] = "", pay[96] = "", l0[300], l1[300], l2[500];
    const char *lines[3] = { l0, l1, l2 };
    snprintf(pub, sizeof pub, "%s", pub_);
    snprintf(l0, sizeof l0, "Break      %s  %s (%s)", pub, cls, state);
    const char *title = r == REQ_ACK ? "Acknowledge break?" : r == REQ_MATCH ? "Match break?" : "Escalate break?";
    if (r == REQ_MATCH && !search_payment(a, "Match to a payment", mid, pay, sizeof pay)) {
        if (!a->status_err) app_status(a, 0, "match canceled — nothing changed");
        return RX_HANDLED;
    }
    if (!dlg_prompt(a, "Note", "why (required, goes to the audit log):", note, sizeof note, 1)) {
        app_status(a, 0, "canceled — nothing changed");
        return RX_HANDLED;
    }
    if (r == REQ_ACK) snprintf(l1, sizeof l1, "Change     acknowledged by you; the break stays until its condition clears");
    else if (r == REQ_MATCH) snprintf(l1, sizeof l1, "Change     read payment %s under reference %s", pay, ref);
    else snprintf(l1, sizeof l1, "Change     open an exception for this break (the ops queue)");
    snprintf(l2, sizeof l2, "Note       %s", note);
    if (!dlg_confirm(a, title, lines, 3, r == REQ_ACK ? "Acknowledge" : r == REQ_MATCH ? "Match" : "Escalate")) {
        app_status(a, 0, "canceled — nothing changed");
        return RX_HANDLED;
    }
    json_t *body = json_pack("{s:s}", "note", note);
    if (r == REQ_MATCH) json_object_set_new(body, "payment_id", json_string(pay));
    reaction rx = post(a, pub, r == REQ_ACK ? "acknowledge" : r == REQ_MATCH ? "match" : "escalate",
                       r == REQ_ACK ? "acknowledged" : r == REQ_MATCH ? "matched" : "escalated", body);
    json_decref(body);
    return rx;
}

static void export_csv(struct app *a)
{
    char path[400], url[200], msg[600];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    snprintf(path, sizeof path, "recon-breaks-%s-%s.csv", a->cfg.env, stamp);
    if (!dlg_prompt(a, "Export open breaks", "write the CSV to (a new file):", path, sizeof path, 1)) {
        app_status(a, 0, "export canceled");
        return;
    }
    snprintf(url, sizeof url, "/v1/recon/export.csv?environment=%s", a->cfg.env);
    char *body;
    size_t len;
    int st = api_fetch(a, url, &body, &len, msg, sizeof msg);
    if (st < 200 || st > 299) { app_status(a, 1, "export failed: %s", msg); return; }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);     /* never overwrite */
    if (fd < 0) { app_status(a, 1, "cannot create %s: %s", path, strerror(errno)); free(body); return; }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, body + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd);
    int rows = 0;
    for (size_t i = 0; i < len; i++) rows += body[i] == '\n';
    free(body);
    if (off < len) app_status(a, 1, "writing %s failed", path);
    else app_status(a, 0, "exported %d open breaks to %s", rows > 0 ? rows - 1 : 0, path);
}

static const char *why_not(const char *state, const char *exc, enum req r)
{
    if ((r == REQ_ACK || r == REQ_MATCH || r == REQ_ESCALATE) && !strcmp(state, "resolved")) return "the break is resolved";
    if (r == REQ_ESCALATE && exc && *exc) return "already escalated to an exception";
    return NULL;
}

static const char *unavailable(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_ENTER && r != REQ_ACK && r != REQ_MATCH && r != REQ_ESCALATE) return NULL;
    if (r == REQ_ACK && v->tags.n) return NULL;   /* the tagged rows: raild judges each */
    if (!grid_sel(v, 0)) return "no break selected";
    return why_not(grid_sel(v, B_STATE), grid_sel(v, B_EXC), r);
}

/* acknowledge every tagged break (POST /v1/recon/breaks/bulk-acknowledge) */
static reaction ack_tagged(struct app *a, struct view *v)
{
    static const struct tags_bulk b = { "Note for all", "why (required, goes to the audit log of each):", "note", 1,
                                        "Acknowledge tagged breaks?", "Acknowledge all", "acknowledge",
                                        "/v1/recon/breaks/bulk-acknowledge", NULL };
    char what[200];
    snprintf(what, sizeof what, "Acknowledge %d tagged breaks; each stays until its condition clears", v->tags.n);
    return tags_bulk_confirm(a, v, &b, what);
}

static reaction request(struct app *a, struct view *v, enum req r)
{
    if (r == REQ_ENTER) { app_push(a, &break_ops, grid_sel(v, B_PUB), NULL); return 1; }
    if (r == REQ_TAG || r == REQ_TAGRANGE || r == REQ_TAGALL || r == REQ_UNTAG) return tags_request(a, v, r);
    if (r == REQ_ACK && v->tags.n) return RX_HANDLED | ack_tagged(a, v);
    if (r == REQ_EXPORT) { export_csv(a); return 1; }
    if (r != REQ_ACK && r != REQ_MATCH && r != REQ_ESCALATE) return 0;
    char pub[128], cls[64], st[32], ref[128], mid[32];
    snprintf(pub, sizeof pub, "%s", grid_sel(v, B_PUB));
    snprintf(cls, sizeof cls, "%s", grid_sel(v, B_CLASS));
    snprintf(st, sizeof st, "%s", grid_sel(v, B_STATE));
    snprintf(ref, sizeof ref, "%s", grid_sel(v, B_REF));
    snprintf(mid, sizeof mid, "%s", grid_sel(v, B_MID));
    return RX_HANDLED | act(a, pub, cls, st, ref, mid, r);
}

static const char *const ARG_KEYS[] = { "state", "class", "merchant", "reference", NULL };

static const char *const *arg_values(const char *key)
{
    return !strcmp(key, "state") ? STATES : !strcmp(key, "class") ? CLASSES : NULL;
}

static int command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    const char *const *keys = ARG_KEYS;
    if (cmd_args(v, argc, argv, keys, err, errlen)) return -1;
    const char *x;
    if (((x = view_arg(v, "state")) && check_value("state", x, STATES, err, errlen)) ||
        ((x = view_arg(v, "class")) && check_value("class", x, CLASSES, err, errlen))) {
        v->nargs = 0;
        return -1;
    }
    return 0;
}

static const char *const TABLES[] = { "recon_breaks", "recon_runs", NULL };
static const char *const KEYS[] = { "b.class_rank", "b.first_seen_at", "b.id", NULL };
static const char *const KTYPES[] = { "smallint", "timestamptz", "bigint", NULL };

const struct view_ops recon_ops = {
    .name = "recon", .title = "Recon", .mask = VM_RECON, .tab = 5, .tables = TABLES,
    .key_cols = KEYS, .key_types = KTYPES, .key_desc = 0, .build = build, .chrome = 2,
    .load = load, .draw = draw, .request = request, .command = command, .unavailable = unavailable,
    .arg_keys = ARG_KEYS, .arg_values = arg_values,
};

/* ------------------------------------------------------------------ one break */

static void side(struct doc *d, const char *label, const char *c, int hc, const char *p, int hp, const char *f, int hf)
{
    doc_nl(d);
    doc_add(d, S_LABEL, "  %-14s", label);
    doc_add(d, hc ? S_BAD : S_NORMAL, "%-26.26s", *c ? c : "-");
    doc_add(d, hp ? S_BAD : S_NORMAL, "%-34.34s", *p ? p : "-");
    doc_add(d, hf ? S_BAD : S_NORMAL, "%s", *f ? f : "-");
}

/* the columns of one_load's query, in order */
enum { B1_PUB, B1_CLASS, B1_SEV, B1_STATE, B1_MERCHANT, B1_ENV, B1_REF,
       B1_PLANES, B1_C_STATUS, B1_C_AMOUNT, B1_C_UPDATED, B1_P_STATE, B1_P_PAYMENT, B1_P_PAYMENTS,
       B1_P_AMOUNT, B1_P_FINALIZED, B1_F_TXNS, B1_F_AMOUNT, B1_F_REFUNDED, B1_FIRST_SEEN, B1_ACKED_BY,
       B1_ACK_NOTE, B1_MATCHED_BY, B1_MATCH_NOTE, B1_EXCEPTION, B1_RESOLUTION, B1_FIELDS, B1_MID };

static int one_load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    int top;
    PGresult *r = doc_one_begin(a, v, "break ",
                        "SELECT b.public_id, b.class, b.severity, b.state, coalesce(m.name, ''), coalesce(b.environment, ''),"
                        " b.reference, coalesce(b.planes, ''), coalesce(b.c_status, ''), coalesce(b.c_amount::text, ''),"
                        " coalesce(to_char(b.c_updated_at, 'YYYY-MM-DD HH24:MI:SS'), ''), coalesce(b.p_state, ''),"
                        " coalesce(b.p_payment, ''), coalesce(b.p_payments::text, ''), coalesce(b.p_amount::text, ''),"
                        " coalesce(to_char(b.p_finalized_at, 'YYYY-MM-DD HH24:MI:SS'), ''),"
                        " coalesce(b.f_transactions::text, ''), coalesce(b.f_amount::text, ''),"
                        " coalesce(b.f_refunded::text, ''), to_char(b.first_seen_at, 'YYYY-MM-DD HH24:MI:SS'),"
                        " coalesce(b.acknowledged_by, ''), coalesce(b.ack_note, ''), coalesce(b.matched_by, ''),"
                        " coalesce(b.match_note, ''), coalesce(e.public_id, ''), coalesce(b.resolution, ''),"
                        " coalesce(array_to_string(recon_break_fields(b.class, b.planes), ','), ''),"
                        " coalesce(b.merchant_id::text, '')"
                        " FROM recon_breaks b LEFT JOIN merchants m ON m.id = b.merchant_id"
                        " LEFT JOIN exceptions e ON e.id = b.exception_id WHERE b.public_id = $1", &top);
    if (!r) return -1;
#define F(i) PQgetvalue(r, 0, i)
    snprintf(g_one[0], 128, "%s", F(B1_PUB));
    snprintf(g_one[1], 128, "%s", F(B1_CLASS));
    snprintf(g_one[2], 128, "%s", F(B1_STATE));
    snprintf(g_one[3], 128, "%s", F(B1_REF));
    snprintf(g_one[4], 128, "%s", F(B1_EXCEPTION));
    snprintf(g_one[5], 128, "%s", F(B1_MID));
    int sev = atoi(F(B1_SEV));
    const char *fl = F(B1_FIELDS);
    doc_nl(d);
    doc_add(d, S_TITLE, " Break %s  ", F(B1_PUB));
    doc_add(d, sev_style(sev), "%s", sev >= 1 && sev <= 4 ? SEVN[sev] : "?");
    doc_add(d, S_NORMAL, "  %s  %s", F(B1_CLASS), F(B1_STATE));
    doc_kv(d, "merchant", S_NORMAL, F(B1_MERCHANT));
    doc_kv(d, "environment", S_NORMAL, F(B1_ENV));
    doc_kv(d, "reference", S_NORMAL, F(B1_REF));
    doc_kv(d, "planes", S_NORMAL, F(B1_PLANES));
    doc_kv(d, "first seen", S_DIM, F(B1_FIRST_SEEN));
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_COLHEAD, "  %-14s%-26s%-34s%-20s", "", "COMMERCE", "PROVIDER", "FINANCE");
    char ca[64] = "", pa[64] = "", fa[64] = "", fr[64] = "", pp[128];
    if (*F(B1_C_AMOUNT)) fmt_amount(F(B1_C_AMOUNT), RECON_DECIMALS, ca, sizeof ca);
    if (*F(B1_P_AMOUNT)) fmt_amount(F(B1_P_AMOUNT), RECON_DECIMALS, pa, sizeof pa);
    if (*F(B1_F_AMOUNT)) fmt_amount(F(B1_F_AMOUNT), RECON_DECIMALS, fa, sizeof fa);
    if (*F(B1_F_REFUNDED)) fmt_amount(F(B1_F_REFUNDED), RECON_DECIMALS, fr, sizeof fr);
    snprintf(pp, sizeof pp, "%s%s%s", F(B1_P_PAYMENTS), *F(B1_P_PAYMENT) ? "  " : "", F(B1_P_PAYMENT));
    side(d, "status", F(B1_C_STATUS), disagrees(fl, "c_status", NULL), F(B1_P_STATE), disagrees(fl, "p_state", NULL), F(B1_F_TXNS),
         disagrees(fl, "f_transactions", NULL));
    side(d, "amount", ca, disagrees(fl, "c_amount", NULL), pa, disagrees(fl, "p_amount", NULL), fa,
         disagrees(fl, "f_amount", NULL));
    side(d, "payments", "", 0, pp, disagrees(fl, "p_payments", NULL), "", 0);
    side(d, "when", F(B1_C_UPDATED), 0, F(B1_P_FINALIZED), 0, "", 0);
    side(d, "refunded", "", 0, "", 0, fr, 0);
    doc_nl(d);
    doc_kv(d, "acknowledged", S_NORMAL, *F(B1_ACKED_BY) ? F(B1_ACKED_BY) : "");
    doc_kv(d, "ack note", S_DIM, F(B1_ACK_NOTE));
    doc_kv(d, "matched by", S_NORMAL, F(B1_MATCHED_BY));
    doc_kv(d, "match note", S_DIM, F(B1_MATCH_NOTE));
    doc_kv(d, "exception", S_NORMAL, F(B1_EXCEPTION));
    doc_kv(d, "resolution", S_NORMAL, F(B1_RESOLUTION));
#undef F
    PQclear(r);
    return doc_one_end(v, top);
}

static const char *one_unavailable(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_ACK && r != REQ_MATCH && r != REQ_ESCALATE) return NULL;
    if (!g_one[0][0]) return "break not loaded";
    return why_not(g_one[2], g_one[4], r);
}

static reaction one_request(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_ACK && r != REQ_MATCH && r != REQ_ESCALATE) return 0;
    char pub[128], cls[128], st[128], ref[128], mid[128];
    memcpy(pub, g_one[0], 128);
    memcpy(cls, g_one[1], 128);
    memcpy(st, g_one[2], 128);
    memcpy(ref, g_one[3], 128);
    memcpy(mid, g_one[5], 128);
    return RX_HANDLED | act(a, pub, cls, st, ref, mid, r);
}

static const char *const ONE_TABLES[] = { "recon_breaks", NULL };

const struct view_ops break_ops = {
    .name = "break", .title = "Break", .mask = VM_BREAK, .tables = ONE_TABLES,
    .load = one_load, .draw = doc_draw, .request = one_request, .unavailable = one_unavailable,
};
