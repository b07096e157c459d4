/* view_payouts — money out (DESIGN §11): the payout queue by state and age with amount,
 * rail, destination (shortened; in full in the detail), requester and approvals; one payout
 * in detail with its timeline, every transaction sent (hash, nonce, fee) and its ledger
 * lines. Treasury approves (A) and rejects (R) through raild; the confirmation shows the
 * whole destination, EIP-55 checksummed and grouped for reading, and the amount, and says
 * so under production. Whoever requested a payout sees approve disabled with the reason;
 * raild and the database refuse it anyway. */
#include "app.h"
#include "core/keccak.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { P_PUB, P_STATE, P_KIND, P_RAIL, P_AMOUNT, P_DEC, P_TO, P_REQ, P_APPR, P_NEED, P_AGE, P_MERCHANT, P_VER,
       P_NONCE, P_ENV };

static const char *const STATES[] = { "open", "requested", "approved", "signed", "broadcast", "confirming",
                                      "confirmed", "finalized", "rejected", "canceled", "failed", "all", NULL };
static const char *const KINDS[] = { "refund", "settlement", NULL };

static void build(struct app *a, struct view *v, struct qb *q)
{
    char keys[200], sel[1400];
    view_key_list(v, keys, sizeof keys);   /* the select list ends with the active sort's keys */
    snprintf(sel, sizeof sel, "SELECT p.public_id, p.state, p.kind, p.rail, p.amount::text, r.decimals, p.to_address,"
             " p.requested_by_name, (SELECT count(*) FROM payout_approvals x WHERE x.payout_id = p.id"
             "  AND x.decision = 'approve'), p.approvals_needed, extract(epoch from p.created_at)::bigint,"
             " coalesce(m.name, ''), p.version, coalesce(p.nonce::text, ''), p.environment, %s"
             " FROM payouts p JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
             " LEFT JOIN merchants m ON m.id = p.merchant_id WHERE true", keys);
    qb_init(q, sel);
    const char *st = view_arg(v, "state"), *x;
    if (!st || !strcmp(st, "open"))
        qb_add(q, " AND p.state IN ('requested','approved','signed','broadcast','confirming','confirmed')");
    else if (strcmp(st, "all")) qb_and(q, " AND p.state = $%d", st);
    qb_and(q, " AND p.environment = $%d", a->cfg.env);
    if ((x = view_arg(v, "kind"))) qb_and(q, " AND p.kind = $%d", x);
    if ((x = view_arg(v, "rail"))) qb_and(q, " AND p.rail = $%d", x);
    view_filter_sql(v, q, "concat_ws(' ', p.public_id, p.state, p.kind, p.rail, p.to_address, p.requested_by_name, m.name)");
}

/* "0x5aAe…BeAed": what fits a column; the detail and the confirmation show it whole */
static void short_addr(const char *canon, char *out, size_t n)
{
    char sum[48];
    if (eip55_checksum(canon, sum, sizeof sum)) snprintf(sum, sizeof sum, "%s", canon);
    if (strlen(sum) > 14) snprintf(out, n, "%.6s…%s", sum, sum + strlen(sum) - 5);
    else snprintf(out, n, "%s", sum);
}

/* "0x5aAe b605 3F3E 94C9 …": the checksummed address in groups of four, for reading aloud */
static void grouped_addr(const char *canon, char *out, size_t n)
{
    char sum[48];
    if (eip55_checksum(canon, sum, sizeof sum)) { snprintf(out, n, "%s", canon); return; }
    size_t k = (size_t)snprintf(out, n, "0x");
    for (int i = 2; sum[i] && k + 2 < n; i++) {
        if (i > 2 && (i - 2) % 4 == 0) out[k++] = ' ';
        out[k++] = sum[i];
    }
    out[k] = 0;
}

static enum style payout_style(const char *st)
{
    if (!strcmp(st, "finalized")) return S_ST_FINALIZED;
    if (!strcmp(st, "confirmed")) return S_ST_CONFIRMED;
    if (!strcmp(st, "broadcast") || !strcmp(st, "confirming") || !strcmp(st, "signed")) return S_ST_CONFIRMING;
    if (!strcmp(st, "approved")) return S_ST_DETECTED;
    if (!strcmp(st, "requested")) return S_WARN;
    if (!strcmp(st, "failed")) return S_BAD;
    return S_ST_CANCELED;
}

static const struct gcol PAYOUT_COLS[] = {
    { "STATE", 10, 0 }, { "KIND", 10, 0 }, { "AMOUNT", 14, 1 }, { "RAIL", 14, 0 }, { "DESTINATION", 14, 0 },
    { "REQUESTED BY", 0, 0 }, { "APPROVALS", 9, 0 }, { "AGE", 5, 1 },
};

static enum style cell(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    switch (c) {
    case 0: snprintf(buf, n, "%s", grid_val(v, r, P_STATE)); return payout_style(grid_val(v, r, P_STATE));
    case 1: snprintf(buf, n, "%s", grid_val(v, r, P_KIND)); return S_NORMAL;
    case 2: fmt_amount(grid_val(v, r, P_AMOUNT), atoi(grid_val(v, r, P_DEC)), buf, n); return S_NORMAL;
    case 3: snprintf(buf, n, "%s", grid_val(v, r, P_RAIL)); return S_DIM;
    case 4: short_addr(grid_val(v, r, P_TO), buf, n); return S_NORMAL;
    case 5: snprintf(buf, n, "%s%s%s", grid_val(v, r, P_REQ), grid_val(v, r, P_MERCHANT)[0] ? "  · " : "",
                     grid_val(v, r, P_MERCHANT));
        return S_NORMAL;
    case 6: snprintf(buf, n, "%s/%s", grid_val(v, r, P_APPR), grid_val(v, r, P_NEED));
        return atoi(grid_val(v, r, P_APPR)) >= atoi(grid_val(v, r, P_NEED)) ? S_GOOD : S_WARN;
    case 7: fmt_since(grid_val(v, r, P_AGE), buf, n); return S_DIM;
    }
    buf[0] = 0;
    return S_NORMAL;
}

static void draw(struct app *a, struct view *v, int y, int h)
{
    char t[400];
    snprintf(t, sizeof t, " Payouts  %s", view_arg(v, "state") ? view_arg(v, "state") : "open (requested … confirmed)");
    for (int i = 0; i < v->nargs; i++) {
        size_t l = strlen(t);
        if (strcmp(v->args[i][0], "state")) snprintf(t + l, sizeof t - l, "  %s=%s", v->args[i][0], v->args[i][1]);
    }
    if (v->filter[0]) { size_t l = strlen(t); snprintf(t + l, sizeof t - l, "  /%s%s", v->filter_not ? "!" : "", v->filter); }
    draw_text(y, 0, a->cols, S_TITLE, t);
    grid_draw(a, v, y + 1, h - 1, PAYOUT_COLS, 8, cell);
}

/* ------------------------------------------------------------------ decisions */

struct po {
    char pub[64], state[16], kind[16], rail[40], amount[64], to[64], req[256], env[16], version[16], merchant[256];
    int approvals, needed, nonce_taken;
};

static const char *why_not(struct app *a, const struct po *p, enum req r)
{
    if (!p->pub[0]) return "no payout selected";
    if (strcmp(p->state, "requested")) return "only a requested payout is decided on";
    if (a->who.known && !strcmp(a->who.name, p->req)) return "you requested this";
    (void)r;
    return NULL;
}

static reaction decide(struct app *a, const struct po *p, enum req r)
{
    int approve = r == REQ_APPROVE;
    char note[400] = "", l[6][300], dest[80];
    const char *lines[6] = { l[0], l[1], l[2], l[3], l[4], l[5] };
    grouped_addr(p->to, dest, sizeof dest);
    snprintf(l[0], sizeof l[0], "Payout     %s  %s on %s", p->pub, p->kind, p->rail);
    snprintf(l[1], sizeof l[1], "Amount     %s", p->amount);
    snprintf(l[2], sizeof l[2], "To         %s", dest);
    snprintf(l[3], sizeof l[3], "Requested  by %s%s%s   approvals %d of %d", p->req, p->merchant[0] ? " for " : "",
             p->merchant, p->approvals, p->needed);
    snprintf(l[4], sizeof l[4], "%s", !strcmp(p->env, "production")
             ? "PRODUCTION: approving sends real money once the quorum is reached"
             : "sandbox: test tokens");
    if (!dlg_prompt(a, approve ? "Approval note" : "Rejection note", "why (required, goes to the audit log):", note,
                    sizeof note, 1)) {
        app_status(a, 0, "canceled — nothing changed");
        return RX_HANDLED;
    }
    snprintf(l[5], sizeof l[5], "Note       %s", note);
    if (!dlg_confirm(a, approve ? "Approve payout?" : "Reject payout?", lines, 6, approve ? "Approve" : "Reject")) {
        app_status(a, 0, "canceled — nothing changed");
        return RX_HANDLED;
    }
    json_t *body = json_pack("{s:s,s:I}", "note", note, "version", (json_int_t)atoll(p->version)), *out = NULL;
    char path[200], msg[600];
    snprintf(path, sizeof path, "/v1/payouts/%s/%s", p->pub, approve ? "approve" : "reject");
    int st = api_call(a, "POST", path, body, &out, msg, sizeof msg);
    if (st >= 200 && st < 300)
        app_status(a, 0, "%s %s: now %s", approve ? "approved" : "rejected", p->pub,
                   json_string_value(json_object_get(out, "state")) ? json_string_value(json_object_get(out, "state")) : "?");
    else app_status(a, 1, "%s %s failed: %s", approve ? "approve" : "reject", p->pub, msg);
    json_decref(body);
    if (out) json_decref(out);
    return RX_RELOAD;
}

/* "1.25 USDT": the amount with the rail's asset (the part after the colon) */
static void with_asset(char *amount, size_t n, const char *rail)
{
    const char *c = strchr(rail, ':');
    size_t l = strlen(amount);
    snprintf(amount + l, n - l, " ");
    for (const char *x = c ? c + 1 : ""; *x && l + 2 < n; x++) amount[++l] = (char)(*x >= 'a' && *x <= 'z' ? *x - 32 : *x);
    amount[l + 1] = 0;
}

static void from_grid(struct view *v, struct po *p)
{
    memset(p, 0, sizeof *p);
    if (!grid_sel(v, 0)) return;
    snprintf(p->pub, sizeof p->pub, "%s", grid_sel(v, P_PUB));
    snprintf(p->state, sizeof p->state, "%s", grid_sel(v, P_STATE));
    snprintf(p->kind, sizeof p->kind, "%s", grid_sel(v, P_KIND));
    snprintf(p->rail, sizeof p->rail, "%s", grid_sel(v, P_RAIL));
    fmt_amount(grid_sel(v, P_AMOUNT), atoi(grid_sel(v, P_DEC)), p->amount, sizeof p->amount);
    with_asset(p->amount, sizeof p->amount, p->rail);
    snprintf(p->to, sizeof p->to, "%s", grid_sel(v, P_TO));
    snprintf(p->req, sizeof p->req, "%s", grid_sel(v, P_REQ));
    snprintf(p->env, sizeof p->env, "%s", grid_sel(v, P_ENV));
    snprintf(p->version, sizeof p->version, "%s", grid_sel(v, P_VER));
    snprintf(p->merchant, sizeof p->merchant, "%s", grid_sel(v, P_MERCHANT));
    p->approvals = atoi(grid_sel(v, P_APPR));
    p->needed = atoi(grid_sel(v, P_NEED));
}

static const char *unavailable(struct app *a, struct view *v, enum req r)
{
    if (r == REQ_ENTER) return grid_sel(v, 0) ? NULL : "no payout selected";
    if (r != REQ_APPROVE && r != REQ_REJECT) return NULL;
    static struct po p;
    from_grid(v, &p);
    return why_not(a, &p, r);
}

static reaction request(struct app *a, struct view *v, enum req r)
{
    if (r == REQ_ENTER) { app_push(a, &payout_ops, grid_sel(v, P_PUB), NULL); return 1; }
    if (r != REQ_APPROVE && r != REQ_REJECT) return 0;
    struct po p;
    from_grid(v, &p);
    return RX_HANDLED | decide(a, &p, r);
}

static const char *const ARG_KEYS[] = { "state", "kind", "rail", NULL };

static const char *const *arg_values(const char *key)
{
    return !strcmp(key, "state") ? STATES : !strcmp(key, "kind") ? KINDS : NULL;
}

static int command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    const char *const *keys = ARG_KEYS;
    if (cmd_args(v, argc, argv, keys, err, errlen)) return -1;
    const char *x;
    if (((x = view_arg(v, "state")) && check_value("state", x, STATES, err, errlen)) ||
        ((x = view_arg(v, "kind")) && check_value("kind", x, KINDS, err, errlen))) {
        v->nargs = 0;
        return -1;
    }
    return 0;
}

static const char *const TABLES[] = { "payouts", NULL };
static const char *const KEYS[] = { "p.id", NULL };
static const char *const KTYPES[] = { "bigint", NULL };

static const char *const K_AMT[] = { "p.amount", "p.id", NULL }, *const T_AMT[] = { "numeric", "bigint", NULL };
static const struct sort_opt SORTS[] = {
    { "newest", "AGE", KEYS, KTYPES, 1, 0 }, { "amount", "AMOUNT", K_AMT, T_AMT, 1, 0 }, { NULL, NULL, NULL, NULL, 0, 0 },
};

const struct view_ops payouts_ops = {
    .name = "payouts", .title = "Payouts", .mask = VM_PAYOUTS, .tab = 6, .tables = TABLES,
    .key_cols = KEYS, .key_types = KTYPES, .key_desc = 1, .build = build, .chrome = 2,
    .load = grid_load, .draw = draw, .request = request, .command = command, .unavailable = unavailable,
    .arg_keys = ARG_KEYS, .arg_values = arg_values,
    .sorts = SORTS,
};

/* ------------------------------------------------------------------ one payout */

static struct po g_one;

static void section(struct doc *d, const char *title)
{
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_COLHEAD, " %s", title);
}

/* the columns of one_load's query, in order */
enum { P1_PUB, P1_STATE, P1_KIND, P1_RAIL, P1_AMOUNT, P1_DECIMALS, P1_TO,
       P1_REQUESTED_BY, P1_APPROVALS, P1_NEEDED, P1_ENV, P1_VERSION, P1_MERCHANT, P1_REASON,
       P1_PAYMENT, P1_EXCEPTION, P1_NONCE, P1_TX, P1_BLOCK, P1_ERROR, P1_ATTEMPTS,
       P1_FEE, P1_NETWORK, P1_CREATED, P1_SOURCE, P1_ID, P1_CONFIRMS };

static int one_load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    int top;
    memset(&g_one, 0, sizeof g_one);
    PGresult *r = doc_one_begin(a, v, "payout ",
                        "SELECT p.public_id, p.state, p.kind, p.rail, p.amount::text, r.decimals, p.to_address,"
                        " p.requested_by_name, (SELECT count(*) FROM payout_approvals x WHERE x.payout_id = p.id"
                        "  AND x.decision = 'approve'), p.approvals_needed, p.environment, p.version,"
                        " coalesce(m.name, ''), p.reason, coalesce(pay.public_id, ''), coalesce(e.public_id, ''),"
                        " coalesce(p.nonce::text, ''), coalesce(p.tx_hash, ''), coalesce(p.block_number::text, ''),"
                        " coalesce(p.last_error, ''), p.attempts, coalesce(p.fee_native::text, ''), p.network,"
                        " to_char(p.created_at, 'YYYY-MM-DD HH24:MI:SS'), p.source, p.id,"
                        " coalesce((SELECT (h.head - p.block_number + 1)::text || ' of ' || r.confirm_depth"
                        "   || CASE WHEN p.block_number <= h.finalized THEN ', final' ELSE '' END"
                        "   FROM chain_heads h WHERE h.network = p.network AND p.block_number IS NOT NULL), '')"
                        " FROM payouts p JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
                        " LEFT JOIN merchants m ON m.id = p.merchant_id LEFT JOIN payments pay ON pay.id = p.payment_id"
                        " LEFT JOIN exceptions e ON e.id = p.exception_id WHERE p.public_id = $1", &top);
    if (!r) return -1;
#define F(i) PQgetvalue(r, 0, i)
    char amount[64], dest[80], id[32];
    fmt_amount(F(P1_AMOUNT), atoi(F(P1_DECIMALS)), amount, sizeof amount);
    grouped_addr(F(P1_TO), dest, sizeof dest);
    snprintf(g_one.pub, sizeof g_one.pub, "%s", F(P1_PUB));
    snprintf(g_one.state, sizeof g_one.state, "%s", F(P1_STATE));
    snprintf(g_one.kind, sizeof g_one.kind, "%s", F(P1_KIND));
    snprintf(g_one.rail, sizeof g_one.rail, "%s", F(P1_RAIL));
    snprintf(g_one.amount, sizeof g_one.amount, "%s", amount);
    with_asset(g_one.amount, sizeof g_one.amount, g_one.rail);
    snprintf(g_one.to, sizeof g_one.to, "%s", F(P1_TO));
    snprintf(g_one.req, sizeof g_one.req, "%s", F(P1_REQUESTED_BY));
    g_one.approvals = atoi(F(P1_APPROVALS));
    g_one.needed = atoi(F(P1_NEEDED));
    snprintf(g_one.env, sizeof g_one.env, "%s", F(P1_ENV));
    snprintf(g_one.version, sizeof g_one.version, "%s", F(P1_VERSION));
    snprintf(g_one.merchant, sizeof g_one.merchant, "%s", F(P1_MERCHANT));
    snprintf(id, sizeof id, "%s", F(P1_ID));
    doc_nl(d);
    doc_add(d, S_TITLE, " Payout %s  ", F(P1_PUB));
    doc_add(d, payout_style(F(P1_STATE)), "%s", F(P1_STATE));
    doc_add(d, S_NORMAL, "  %s %s on %s", F(P1_KIND), amount, F(P1_RAIL));
    doc_kv(d, "destination", S_NORMAL, dest);
    doc_kv(d, "merchant", S_NORMAL, F(P1_MERCHANT));
    doc_kv(d, "reason", S_NORMAL, F(P1_REASON));
    doc_kv(d, "payment", S_NORMAL, F(P1_PAYMENT));
    doc_kv(d, "exception", S_NORMAL, F(P1_EXCEPTION));
    doc_kv(d, "drawn from", S_DIM, F(P1_SOURCE));
    char appr[64];
    snprintf(appr, sizeof appr, "%s of %s needed", F(P1_APPROVALS), F(P1_NEEDED));
    doc_kv(d, "requested by", S_NORMAL, F(P1_REQUESTED_BY));
    doc_kv(d, "approvals", g_one.approvals >= g_one.needed ? S_GOOD : S_WARN, appr);
    doc_kv(d, "requested", S_DIM, F(P1_CREATED));
    doc_kv(d, "nonce", S_NORMAL, F(P1_NONCE));
    doc_kv(d, "transaction", S_NORMAL, F(P1_TX));
    doc_kv(d, "block", S_NORMAL, F(P1_BLOCK));
    doc_kv(d, "confirmations", S_NORMAL, F(P1_CONFIRMS));
    doc_kv(d, "network fee", S_DIM, *F(P1_FEE) ? F(P1_FEE) : "");
    doc_kv(d, "last error", S_BAD, F(P1_ERROR));
#undef F
    PQclear(r);
    section(d, "DECISIONS");
    enum { DC_AT, DC_KEY, DC_DECISION, DC_NOTE };
    if ((r = cq(a, "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), key_name, decision, note FROM payout_approvals"
                   " WHERE payout_id = $1::bigint ORDER BY id", id))) {
        for (int i = 0; i < PQntuples(r); i++) {
            doc_nl(d);
            doc_add(d, S_DIM, "  %s  ", PQgetvalue(r, i, DC_AT));
            doc_add(d, !strcmp(PQgetvalue(r, i, DC_DECISION), "approve") ? S_GOOD : S_BAD, "%-8s", PQgetvalue(r, i, DC_DECISION));
            doc_add(d, S_NORMAL, " %s: %s", PQgetvalue(r, i, DC_KEY), PQgetvalue(r, i, DC_NOTE));
        }
        PQclear(r);
    }
    section(d, "TIMELINE");
    enum { TL_AT, TL_FROM, TL_TO, TL_ACTOR, TL_NOTE };
    if ((r = cq(a, "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), coalesce(from_state, ''), to_state, actor,"
                   " coalesce(data->>'note', data->>'reason', data->>'tx_hash', '') FROM payout_events"
                   " WHERE payout_id = $1::bigint ORDER BY id", id))) {
        for (int i = 0; i < PQntuples(r); i++) {
            doc_nl(d);
            doc_add(d, S_DIM, "  %s  ", PQgetvalue(r, i, TL_AT));
            doc_add(d, payout_style(PQgetvalue(r, i, TL_TO)), "%-10s", PQgetvalue(r, i, TL_TO));
            doc_add(d, S_NORMAL, " %s  %s", PQgetvalue(r, i, TL_ACTOR), PQgetvalue(r, i, TL_NOTE));
        }
        PQclear(r);
    }
    section(d, "TRANSACTIONS");
    enum { TX_HASH, TX_NONCE, TX_STATE, TX_MAX_FEE, TX_SENDS, TX_ERROR };
    if ((r = cq(a, "SELECT tx_hash, nonce, state, max_fee_per_gas::text, sends, coalesce(last_error, '')"
                   " FROM payout_transactions WHERE payout_id = $1::bigint ORDER BY id", id))) {
        for (int i = 0; i < PQntuples(r); i++) {
            doc_nl(d);
            doc_add(d, S_NORMAL, "  %s  nonce %s  ", PQgetvalue(r, i, TX_HASH), PQgetvalue(r, i, TX_NONCE));
            doc_add(d, !strcmp(PQgetvalue(r, i, TX_STATE), "mined") ? S_GOOD : S_DIM, "%-9s", PQgetvalue(r, i, TX_STATE));
            doc_add(d, S_DIM, " max fee %s wei/gas, sent %s×  %s", PQgetvalue(r, i, TX_MAX_FEE), PQgetvalue(r, i, TX_SENDS),
                    PQgetvalue(r, i, TX_ERROR));
        }
        PQclear(r);
    }
    section(d, "LEDGER");
    enum { LG_KIND, LG_ACCOUNT, LG_SIDE, LG_AMOUNT };
    if ((r = cq(a, "SELECT t.kind, a.code, p.side, p.amount::text FROM ledger_transactions t"
                   " JOIN ledger_postings p ON p.txn_id = t.id JOIN ledger_accounts a ON a.id = p.account_id"
                   " WHERE t.source_type = 'payout' AND t.source_id = $1::bigint ORDER BY p.id", id))) {
        for (int i = 0; i < PQntuples(r); i++) {
            doc_nl(d);
            doc_add(d, S_NORMAL, "  %-15s %-6s %s  %s", PQgetvalue(r, i, LG_KIND), PQgetvalue(r, i, LG_SIDE), PQgetvalue(r, i, LG_AMOUNT),
                    PQgetvalue(r, i, LG_ACCOUNT));
        }
        PQclear(r);
    }
    return doc_one_end(v, top);
}

static const char *one_unavailable(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_APPROVE && r != REQ_REJECT) return NULL;
    return why_not(a, &g_one, r);
}

static reaction one_request(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_APPROVE && r != REQ_REJECT) return 0;
    struct po p = g_one;
    return RX_HANDLED | decide(a, &p, r);
}

static const char *const ONE_TABLES[] = { "payouts", NULL };

const struct view_ops payout_ops = {
    .name = "payout", .title = "Payout", .mask = VM_PAYOUT, .tables = ONE_TABLES,
    .load = one_load, .draw = doc_draw, .request = one_request, .unavailable = one_unavailable,
};

/* ------------------------------------------------------------------ governed changes */

/* `:changes` — governed changes of the environment (DESIGN §11), pending first: what changes
 * (before → after), who proposed it and when it takes effect. Deciding is done with
 * `raild admin approve-change` or the API by an admin or treasury key that did not propose it. */
static int changes_load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    int top = d->top;
    doc_clear(d);
    enum { GC_ID, GC_STATE, GC_COMMAND, GC_TARGET, GC_PROPOSED_BY, GC_DECIDED_BY, GC_EFFECTIVE, GC_BEFORE, GC_AFTER,
           GC_REASON, GC_CREATED, GC_NOTE, GC_CHANGES };
    PGresult *r = cq(a, "SELECT public_id, state, command, target, proposed_by, coalesce(decided_by, ''),"
                        " coalesce(to_char(effective_at, 'YYYY-MM-DD HH24:MI:SS'), 'when approved'),"
                        " coalesce(before::text, '-'), after::text, coalesce(reason, ''),"
                        " to_char(created_at, 'YYYY-MM-DD HH24:MI:SS'), coalesce(decision_note, ''),"
                        " coalesce((SELECT string_agg(x.key || ': ' || coalesce(before->>x.key, '-') || ' → ' || x.value,"
                        "   ', ' ORDER BY x.key) FROM jsonb_each_text(after) x"
                        "   WHERE before IS NULL OR before->>x.key IS DISTINCT FROM x.value), 'nothing')"
                        " FROM governed_changes WHERE environment = $1"
                        " ORDER BY (state IN ('proposed','approved')) DESC, id DESC LIMIT 100",
                     a->cfg.env[0] ? a->cfg.env : a->who.env);
    if (!r) return -1;
    doc_nl(d);
    doc_add(d, S_TITLE, " Governed changes (%d shown; pending first)", PQntuples(r));
    if (!PQntuples(r)) {
        doc_nl(d);
        doc_add(d, S_DIM, "  none: production rails, RPC and signer endpoints change only by proposal");
    }
    for (int i = 0; i < PQntuples(r); i++) {
        const char *st = PQgetvalue(r, i, GC_STATE);
        int pending = !strcmp(st, "proposed") || !strcmp(st, "approved");
        doc_nl(d);
        doc_nl(d);
        doc_add(d, S_NORMAL, " %s  ", PQgetvalue(r, i, GC_ID));
        doc_add(d, pending ? S_WARN : !strcmp(st, "applied") ? S_GOOD : S_DIM, "%-9s", st);
        doc_add(d, S_NORMAL, " %s %s", PQgetvalue(r, i, GC_COMMAND), PQgetvalue(r, i, GC_TARGET));
        doc_kv(d, "changes", S_NORMAL, PQgetvalue(r, i, GC_CHANGES));
        doc_kv(d, "after", S_DIM, PQgetvalue(r, i, GC_AFTER));
        char who[600];
        snprintf(who, sizeof who, "%s at %s%s%s", PQgetvalue(r, i, GC_PROPOSED_BY), PQgetvalue(r, i, GC_CREATED),
                 PQgetvalue(r, i, GC_REASON)[0] ? " — " : "", PQgetvalue(r, i, GC_REASON));
        doc_kv(d, "proposed by", S_NORMAL, who);
        snprintf(who, sizeof who, "%s%s%s", PQgetvalue(r, i, GC_DECIDED_BY), PQgetvalue(r, i, GC_NOTE)[0] ? " — " : "",
                 PQgetvalue(r, i, GC_NOTE));
        doc_kv(d, "decided by", S_NORMAL, who);
        doc_kv(d, "effective", S_NORMAL, PQgetvalue(r, i, GC_EFFECTIVE));
    }
    PQclear(r);
    d->top = top;
    return 0;
}

static const char *const CHANGES_TABLES[] = { "governed_changes", NULL };

const struct view_ops changes_ops = {
    .name = "changes", .title = "Changes", .mask = VM_NETWORKS, .tables = CHANGES_TABLES,
    .load = changes_load, .draw = doc_draw,
};
