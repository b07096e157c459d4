/* view_exceptions — the ops queue, most severe and most overdue first (keyset on
 * (5 - severity, sla_due, id), the partial index of migration 0030), and one exception in
 * detail. Claim, resolve (menu of the type's resolutions, a required note, attach to a
 * payment found by search), reopen and dismiss go through raild with optimistic versions:
 * a concurrent change comes back as 409 in the status line, never a silent overwrite. */
#include "app.h"
#include "core/catalog.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_PUB, C_SEV, C_SLA, C_TYPE, C_STATE, C_MERCHANT, C_AMOUNT, C_DEC, C_ASSIGNEE, C_OPENED,
       C_VERSION, C_PAYPUB, C_PAYREF, C_MID,
       /* the detail view's columns after EXC_SELECT's */
       X_RAIL, X_NETWORK, X_RESOLUTION, X_NOTE, X_RESOLVED_BY, X_SLA_TEXT, X_OPENED_TEXT, X_DETAILS, X_TRANSFER,
       X_BLOCK };

#define EXC_SELECT \
    "SELECT e.public_id, e.severity, extract(epoch from e.sla_due)::bigint, e.type, e.state," \
    " coalesce(m.name, ''), coalesce(e.amount::text, '')," \
    " coalesce(r.decimals, (SELECT x.decimals FROM rails x WHERE x.network = e.network ORDER BY x.id LIMIT 1), 6)," \
    " coalesce(e.assignee, ''), extract(epoch from e.opened_at)::bigint, e.version," \
    " coalesce(p.public_id, ''), coalesce(p.reference, ''), coalesce(e.merchant_id::text, '')"

/* what an action needs to know about one exception */
struct exc {
    char pub[64], type[32], state[16], version[16], merchant[200], amount[64], assignee[200], paypub[64],
        mid[24];
    int sev;
};
static struct exc g_one;           /* the exception open in the detail view */

/* states and types come from the one catalogue raild enforces (core/catalog.h), plus "all" */
static const char *g_states[8];
#define STATES filter_values(NULL, exception_states, "all", g_states, 8)
#define TYPES exc_types

static void build(struct app *a, struct view *v, struct qb *q)
{
    char keys[200], sel[2400];
    view_key_list(v, keys, sizeof keys);   /* the select list ends with the active sort's keys */
    snprintf(sel, sizeof sel, "%s, %s%s", EXC_SELECT, keys,
             " FROM exceptions e LEFT JOIN merchants m ON m.id = e.merchant_id"
             " LEFT JOIN rails r ON r.id = e.rail AND r.environment = e.environment LEFT JOIN payments p ON p.id = e.payment_id WHERE true");
    qb_init(q, sel);
    const char *st = view_arg(v, "state"), *x;
    if (!st) qb_add(q, " AND e.state IN ('open', 'claimed')");          /* the queue: partial index */
    else if (strcmp(st, "all")) qb_and(q, " AND e.state = $%d", st);
    qb_and(q, " AND (e.environment = $%d OR e.environment IS NULL)", a->cfg.env);
    if ((x = view_arg(v, "type"))) qb_and(q, " AND e.type = $%d", x);
    if ((x = view_arg(v, "merchant"))) qb_and(q, " AND e.merchant_id IN (SELECT id FROM merchants WHERE name = $%d)", x);
    if ((x = view_arg(v, "assignee"))) qb_and(q, " AND e.assignee = $%d", x);
    if ((x = view_arg(v, "severity"))) qb_and(q, " AND e.severity = $%d::int", x);
    if ((x = view_arg(v, "payment"))) qb_and(q, " AND p.public_id = $%d", x);
    view_filter_sql(v, q, "concat_ws(' ', e.public_id, e.type, e.state, m.name, e.assignee, p.public_id, p.reference)");
}

static enum style sev_style(int s)
{
    return s >= 4 ? S_SEV4 : s == 3 ? S_SEV3 : s == 2 ? S_SEV2 : S_SEV1;
}

static const struct gcol COLS_WIDE[] = {
    { "SEV", 4, 0 }, { "SLA", 9, 1 }, { "TYPE", 21, 0 }, { "STATE", 9, 0 }, { "MERCHANT", 14, 0 },
    { "AMOUNT", 12, 1 }, { "ASSIGNEE", 14, 0 }, { "OPENED", 7, 1 }, { "PAYMENT / EXCEPTION", 0, 0 },
};
static const struct gcol COLS_NARROW[] = {
    { "SEV", 4, 0 }, { "SLA", 8, 1 }, { "TYPE", 21, 0 }, { "STATE", 9, 0 }, { "MERCHANT", 10, 0 },
    { "AMOUNT", 10, 1 }, { "ASSIGNEE", 0, 0 },
};

static const char *SEVN[] = { "", "low", "med", "high", "crit" };

static enum style cell(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    int sev = atoi(grid_val(v, r, C_SEV));
    const char *state = grid_val(v, r, C_STATE);
    int live = !strcmp(state, "open") || !strcmp(state, "claimed");
    switch (c) {
    case 0: snprintf(buf, n, "%s", sev >= 1 && sev <= 4 ? SEVN[sev] : "?"); return sev_style(sev);
    case 1: {
        long long left = atoll(grid_val(v, r, C_SLA)) - time(NULL);
        if (!live) { snprintf(buf, n, "-"); return S_DIM; }
        char t[32];
        fmt_age(left < 0 ? -left : left, t, sizeof t);
        snprintf(buf, n, left < 0 ? "-%s" : "%s", t);
        return left < 0 ? S_OVERDUE : S_NORMAL;
    }
    case 2: snprintf(buf, n, "%s", grid_val(v, r, C_TYPE)); return S_NORMAL;
    case 3: snprintf(buf, n, "%s", state); return !strcmp(state, "open") ? S_WARN : !strcmp(state, "claimed") ? S_LABEL : S_DIM;
    case 4: snprintf(buf, n, "%s", grid_val(v, r, C_MERCHANT)); return S_NORMAL;
    case 5:
        if (grid_val(v, r, C_AMOUNT)[0]) fmt_amount(grid_val(v, r, C_AMOUNT), atoi(grid_val(v, r, C_DEC)), buf, n);
        else snprintf(buf, n, "-");
        return S_NORMAL;
    case 6: snprintf(buf, n, "%s", grid_val(v, r, C_ASSIGNEE)); return S_NORMAL;
    case 7: fmt_since(grid_val(v, r, C_OPENED), buf, n); return S_DIM;
    case 8:
        snprintf(buf, n, "%s", grid_val(v, r, C_PAYREF)[0] ? grid_val(v, r, C_PAYREF) : grid_val(v, r, C_PUB));
        return S_DIM;
    }
    buf[0] = 0;
    return S_NORMAL;
}

static void draw(struct app *a, struct view *v, int y, int h)
{
    char t[400];
    snprintf(t, sizeof t, " Exceptions  %s", view_arg(v, "state") ? "" : "queue: open + claimed, by severity and SLA");
    for (int i = 0; i < v->nargs; i++) {
        size_t l = strlen(t);
        snprintf(t + l, sizeof t - l, " %s=%s", v->args[i][0], v->args[i][1]);
    }
    if (v->filter[0]) { size_t l = strlen(t); snprintf(t + l, sizeof t - l, "  /%s%s", v->filter_not ? "!" : "", v->filter); }
    if (v->tags.n) { size_t l = strlen(t); snprintf(t + l, sizeof t - l, "  · %d tagged", v->tags.n); }
    draw_text(y, 0, a->cols, S_TITLE, t);
    if (a->cols >= 110) grid_draw(a, v, y + 1, h - 1, COLS_WIDE, 9, cell);
    else grid_draw(a, v, y + 1, h - 1, COLS_NARROW, 7, cell);
}

/* ------------------------------------------------------------------ actions */

static void from_grid(struct view *v, struct exc *e)
{
    memset(e, 0, sizeof *e);
    int r = v->g.cur;
    snprintf(e->pub, sizeof e->pub, "%s", grid_val(v, r, C_PUB));
    snprintf(e->type, sizeof e->type, "%s", grid_val(v, r, C_TYPE));
    snprintf(e->state, sizeof e->state, "%s", grid_val(v, r, C_STATE));
    snprintf(e->version, sizeof e->version, "%s", grid_val(v, r, C_VERSION));
    snprintf(e->merchant, sizeof e->merchant, "%s", grid_val(v, r, C_MERCHANT));
    snprintf(e->assignee, sizeof e->assignee, "%s", grid_val(v, r, C_ASSIGNEE));
    snprintf(e->paypub, sizeof e->paypub, "%s", grid_val(v, r, C_PAYPUB));
    snprintf(e->mid, sizeof e->mid, "%s", grid_val(v, r, C_MID));
    e->sev = atoi(grid_val(v, r, C_SEV));
    if (grid_val(v, r, C_AMOUNT)[0]) fmt_amount(grid_val(v, r, C_AMOUNT), atoi(grid_val(v, r, C_DEC)), e->amount, sizeof e->amount);
    else snprintf(e->amount, sizeof e->amount, "-");
}

static reaction call(struct app *a, const char *what, struct exc *e, const char *verb, json_t *body)
{
    char path[200], msg[600];
    json_t *out = NULL;
    snprintf(path, sizeof path, "/v1/exceptions/%s/%s", e->pub, verb);
    int st = api_call(a, "POST", path, body, &out, msg, sizeof msg);
    if (st >= 200 && st < 300) {
        json_t *ver = json_object_get(out, "version");
        if (json_is_integer(ver)) app_status(a, 0, "%s %s (version %lld)", what, e->pub, (long long)json_integer_value(ver));
        else app_status(a, 0, "%s %s", what, e->pub);
    } else {
        app_status(a, 1, "%s %s failed: %s", verb, e->pub, msg);
    }
    if (out) json_decref(out);
    return RX_RELOAD;
}

/* A refund on an EVM rail becomes a payout (DESIGN §11): ask where to. The transfer's sender
 * is shown as a suggestion only (exchanges pay from shared wallets), never filled in.
 * 1 asked (to, amount filled; amount may stay blank = raild's default), 0 no payout on this
 * rail (Tron, another token: the decision is recorded only), -1 canceled. */
static int refund_destination(struct app *a, const struct exc *e, char *to, size_t ton, char *amt, size_t amtn)
{
    enum { RD_KIND, RD_PAYER, RD_TOKEN_OK };
    PGresult *r = cq(a, "SELECT coalesce(n.address_kind, ''), coalesce(t.from_address, (SELECT c.from_address"
                        "  FROM chain_transfers c WHERE c.payment_id = e.payment_id AND c.counted ORDER BY c.id DESC"
                        "  LIMIT 1), ''), t.id IS NULL OR EXISTS (SELECT 1 FROM rails x WHERE x.network = t.network"
                        "  AND lower(x.contract) = lower(t.contract))"
                        " FROM exceptions e LEFT JOIN chain_transfers t ON t.id = e.transfer_id"
                        " LEFT JOIN payments p ON p.id = e.payment_id"
                        " LEFT JOIN networks n ON n.name = coalesce(e.network, t.network,"
                        "  (SELECT x.network FROM rails x WHERE x.id = p.rail AND x.environment = p.environment))"
                        " WHERE e.public_id = $1", e->pub);
    if (!r) return -1;
    int evm = PQntuples(r) && !strcmp(PQgetvalue(r, 0, RD_KIND), "evm") && PQgetvalue(r, 0, RD_TOKEN_OK)[0] == 't';
    char label[300];
    snprintf(label, sizeof label, "payer's address%s%s", PQntuples(r) && PQgetvalue(r, 0, RD_PAYER)[0]
             ? " (suggestion only: it came from " : "", PQntuples(r) ? PQgetvalue(r, 0, RD_PAYER) : "");
    if (PQntuples(r) && PQgetvalue(r, 0, RD_PAYER)[0]) strncat(label, ")", sizeof label - strlen(label) - 1);
    PQclear(r);
    if (!evm) return 0;
    if (!dlg_prompt(a, "Refund to", label, to, ton, 1)) return -1;
    if (!dlg_prompt(a, "Refund amount", "blank = the default (the excess, or what was received):", amt, amtn, 0))
        return -1;
    return 1;
}

static reaction act(struct app *a, struct exc *e, enum req r)
{
    reaction rx = RX_HANDLED;
    char l0[300], l1[300], l2[400], l3[300], l4[300];
    const char *lines[5] = { l0, l1, l2, l3, l4 };
    int nl = 4;
    snprintf(l0, sizeof l0, "Exception  %s  (%s, %s)", e->pub, e->type, e->sev >= 1 && e->sev <= 4 ? SEVN[e->sev] : "?");
    snprintf(l1, sizeof l1, "Merchant   %s   amount %s", e->merchant[0] ? e->merchant : "-", e->amount);
    json_t *body = json_pack("{s:I}", "version", (json_int_t)atoll(e->version));
    const char *who = a->who.known ? a->who.name : "you";
    if (r == REQ_CLAIM) {
        snprintf(l2, sizeof l2, "Change     state %s → claimed, assignee → %s", e->state, who);
        if (dlg_confirm(a, "Claim exception?", lines, 3, "Claim")) rx = call(a, "claimed", e, "claim", body);
        else app_status(a, 0, "claim canceled — nothing changed");
    } else if (r == REQ_RESOLVE) {
        const char *const *res = exc_resolutions(e->type);
        int n = 0;
        while (res && res[n]) n++;
        int pick = n ? dlg_menu(a, "Resolve as", res, n) : -1;
        char note[400] = "", pay[64] = "";
        if (pick < 0) { app_status(a, 0, "resolve canceled — nothing changed"); goto out; }
        if (!strcmp(res[pick], "attach_to_payment") &&
            !search_payment(a, "Attach to payment", e->mid, pay, sizeof pay)) {
            if (!a->status_err) app_status(a, 0, "resolve canceled — nothing changed");
            goto out;
        }
        char to[128] = "", amt[64] = "";
        int refund = !strcmp(res[pick], "refund") || !strcmp(res[pick], "refund_excess");
        if (refund && refund_destination(a, e, to, sizeof to, amt, sizeof amt) < 0) {
            app_status(a, 0, "resolve canceled — nothing changed");
            goto out;
        }
        if (!dlg_prompt(a, "Resolution note", "why (required, goes to the audit log):", note, sizeof note, 1)) {
            app_status(a, 0, "resolve canceled — nothing changed");
            goto out;
        }
        if (to[0]) {
            snprintf(l2, sizeof l2, "Change     resolved as %s: a payout for treasury to approve", res[pick]);
            snprintf(l4, sizeof l4, "Payout     %s to %s", amt[0] ? amt : "the default amount", to);
            nl = 5;
            json_object_set_new(body, "to_address", json_string(to));
            if (amt[0]) json_object_set_new(body, "amount", json_string(amt));
        } else
        snprintf(l2, sizeof l2, "Change     state %s → resolved as %s%s%s", e->state, res[pick],
                 pay[0] ? ", attach to " : "", pay);
        snprintf(l3, sizeof l3, "Note       %s", note);
        json_object_set_new(body, "resolution", json_string(res[pick]));
        json_object_set_new(body, "note", json_string(note));
        if (pay[0]) json_object_set_new(body, "payment_id", json_string(pay));
        if (nl == 5) {   /* the payout line before the note */
            const char *t = lines[3];
            lines[3] = lines[4];
            lines[4] = t;
        }
        if (dlg_confirm(a, "Resolve exception?", lines, nl, "Resolve")) rx = call(a, "resolved", e, "resolve", body);
        else app_status(a, 0, "resolve canceled — nothing changed");
    } else if (r == REQ_REOPEN || r == REQ_DISMISS) {
        int reopen = r == REQ_REOPEN;
        char note[400] = "";
        if (!dlg_prompt(a, reopen ? "Reopen note" : "Dismiss note", "why (required, goes to the audit log):", note,
                        sizeof note, 1)) {
            app_status(a, 0, "%s canceled — nothing changed", reopen ? "reopen" : "dismiss");
            goto out;
        }
        snprintf(l2, sizeof l2, "Change     state %s → %s", e->state, reopen ? "open" : "dismissed");
        snprintf(l3, sizeof l3, "Note       %s", note);
        json_object_set_new(body, "note", json_string(note));
        if (dlg_confirm(a, reopen ? "Reopen exception?" : "Dismiss exception?", lines, 4, reopen ? "Reopen" : "Dismiss"))
            rx = call(a, reopen ? "reopened" : "dismissed", e, reopen ? "reopen" : "dismiss", body);
        else app_status(a, 0, "%s canceled — nothing changed", reopen ? "reopen" : "dismiss");
    }
out:
    json_decref(body);
    return rx;
}

/* ------------------------------------------------------------------ bulk (tagged rows) */

struct tagged {
    int n, live, open;
    char types[400], total[64], asset[16];
};

/* What the tagged exceptions are, read now: how many, their types, the total at stake. */
static int tagged_summary(struct app *a, struct view *v, struct tagged *t)
{
    char *arr = tags_array(v);
    if (!arr) return -1;
    enum { TS_COUNT, TS_TYPES, TS_TOTAL, TS_LIVE, TS_OPEN, TS_ASSET };
    PGresult *r = cq(a, "SELECT count(*), coalesce(string_agg(DISTINCT e.type, ','), ''),"
                        " coalesce(sum(e.amount / power(10::numeric, coalesce(r.decimals, 0))), 0)::numeric(40,2)::text,"
                        " count(*) FILTER (WHERE e.state IN ('open','claimed')), count(*) FILTER (WHERE e.state = 'open'),"
                        " coalesce(upper(split_part(min(e.rail), ':', 2)), '')"
                        " FROM exceptions e LEFT JOIN rails r ON r.id = e.rail AND r.environment = e.environment"
                        " WHERE e.public_id = ANY($1::text[])", arr);
    free(arr);
    if (!r) return -1;
    t->n = atoi(PQgetvalue(r, 0, TS_COUNT));
    snprintf(t->types, sizeof t->types, "%s", PQgetvalue(r, 0, TS_TYPES));
    snprintf(t->total, sizeof t->total, "%s", PQgetvalue(r, 0, TS_TOTAL));
    t->live = atoi(PQgetvalue(r, 0, TS_LIVE));
    t->open = atoi(PQgetvalue(r, 0, TS_OPEN));
    snprintf(t->asset, sizeof t->asset, "%s", PQgetvalue(r, 0, TS_ASSET)[0] ? PQgetvalue(r, 0, TS_ASSET) : "USDT");
    PQclear(r);
    return 0;
}

/* the resolutions every tagged type allows (menu items point into the catalogue) */
static int common_resolutions(const char *types, const char **out, int max)
{
    char copy[400], *save;
    int n = 0, first = 1;
    snprintf(copy, sizeof copy, "%s", types);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        const char *const *res = exc_resolutions(t);
        if (first) {
            for (int i = 0; res && res[i] && n < max; i++) out[n++] = res[i];
            first = 0;
            continue;
        }
        int k = 0;
        for (int i = 0; i < n; i++)
            if (exc_resolution_allowed(t, out[i])) out[k++] = out[i];
        n = k;
    }
    return n;
}

static reaction bulk_act(struct app *a, struct view *v, enum req r)
{
    struct tagged t;
    if (tagged_summary(a, v, &t)) return RX_HANDLED;
    char what[500], l0[600], l1[300], note[400] = "";
    const char *lines[3] = { l0, l1, what };
    if (strchr(t.types, ',')) snprintf(what, sizeof what, "%d exceptions (%s)", t.n, t.types);
    else snprintf(what, sizeof what, "%d %s exception%s", t.n, t.types, t.n == 1 ? "" : "s");
    const char *resolution = NULL, *verb = r == REQ_CLAIM ? "claim" : r == REQ_RESOLVE ? "resolve" : "dismiss";
    if (r == REQ_RESOLVE) {
        const char *res[16];
        int n = common_resolutions(t.types, res, 16);
        if (!n) { app_status(a, 1, "resolve: the tagged types (%s) share no resolution", t.types); return RX_HANDLED; }
        int pick = dlg_menu(a, "Resolve all tagged as", res, n);
        if (pick < 0) { app_status(a, 0, "resolve canceled — nothing changed"); return RX_HANDLED; }
        resolution = res[pick];
        if (!strcmp(resolution, "attach_to_payment") || !strcmp(resolution, "refund") ||
            !strcmp(resolution, "refund_excess")) {
            app_status(a, 1, "%s needs a target or destination per exception: resolve them one by one", resolution);
            return RX_HANDLED;
        }
    }
    if (r != REQ_CLAIM && !dlg_prompt(a, "Note for all", "why (required, goes to the audit log of each):", note,
                                      sizeof note, 1)) {
        app_status(a, 0, "%s canceled — nothing changed", verb);
        return RX_HANDLED;
    }
    snprintf(l0, sizeof l0, "%s %s%s%s — %s %s", r == REQ_CLAIM ? "Claim" : r == REQ_RESOLVE ? "Resolve" : "Dismiss",
             what, resolution ? " as " : "", resolution ? resolution : "", t.total, t.asset);
    snprintf(l1, sizeof l1, "Each its own change and audit row%s%s", note[0] ? "; note: " : "", note);
    snprintf(what, sizeof what, "A row changed since you tagged it is refused (409) and reported, never retried.");
    char title[64];
    snprintf(title, sizeof title, "%s %d tagged?", r == REQ_CLAIM ? "Claim" : r == REQ_RESOLVE ? "Resolve" : "Dismiss", t.n);
    if (!dlg_confirm(a, title, lines, 3, r == REQ_CLAIM ? "Claim all" : r == REQ_RESOLVE ? "Resolve all" : "Dismiss all")) {
        app_status(a, 0, "%s canceled — nothing changed", verb);
        return RX_HANDLED;
    }
    json_t *base = json_pack("{s:s}", "action", verb);
    if (resolution) json_object_set_new(base, "resolution", json_string(resolution));
    if (note[0]) json_object_set_new(base, "note", json_string(note));
    reaction rx = tags_bulk_run(a, v, "/v1/exceptions/bulk", base, 1, NULL, verb);
    json_decref(base);
    return rx;
}

static const char *why_not(struct exc *e, enum req r)
{
    int live = !strcmp(e->state, "open") || !strcmp(e->state, "claimed");
    if (r == REQ_CLAIM && strcmp(e->state, "open")) return "only an open exception can be claimed";
    if ((r == REQ_RESOLVE || r == REQ_DISMISS) && !live) return "the exception is already closed";
    if (r == REQ_REOPEN && live) return "only a resolved or dismissed exception can be reopened";
    return NULL;
}

static const char *unavailable(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_CLAIM && r != REQ_RESOLVE && r != REQ_REOPEN && r != REQ_DISMISS && r != REQ_ENTER) return NULL;
    if (v->tags.n && r == REQ_REOPEN) return "reopen acts on one exception: untag (u) first";
    if (v->tags.n && r != REQ_ENTER) return NULL;   /* the tagged rows: raild judges each */
    if (!grid_sel(v, 0)) return "no exception selected";
    if (r == REQ_ENTER) return NULL;
    static struct exc e;
    from_grid(v, &e);
    return why_not(&e, r);
}

static reaction request(struct app *a, struct view *v, enum req r)
{
    if (r == REQ_ENTER) { app_push(a, &exception_ops, grid_sel(v, C_PUB), NULL); return 1; }
    if (r == REQ_TAG || r == REQ_TAGRANGE || r == REQ_TAGALL || r == REQ_UNTAG) return tags_request(a, v, r);
    if (r != REQ_CLAIM && r != REQ_RESOLVE && r != REQ_REOPEN && r != REQ_DISMISS) return 0;
    if (v->tags.n) return RX_HANDLED | bulk_act(a, v, r);
    struct exc e;
    from_grid(v, &e);
    return RX_HANDLED | act(a, &e, r);
}

static const char *const ARG_KEYS[] = { "state", "type", "merchant", "assignee", "severity", "payment", NULL };

static const char *const *arg_values(const char *key)
{
    static const char *const sevs[] = { "1", "2", "3", "4", NULL };
    return !strcmp(key, "state") ? STATES : !strcmp(key, "type") ? exc_types : !strcmp(key, "severity") ? sevs : NULL;
}

static int command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    const char *const *keys = ARG_KEYS;
    static const char *const sevs[] = { "1", "2", "3", "4", NULL };
    if (cmd_args(v, argc, argv, keys, err, errlen)) return -1;
    const char *x;
    if (((x = view_arg(v, "state")) && check_value("state", x, STATES, err, errlen)) ||
        ((x = view_arg(v, "type")) && check_value("type", x, TYPES, err, errlen)) ||
        ((x = view_arg(v, "severity")) && check_value("severity", x, sevs, err, errlen))) {
        v->nargs = 0;
        return -1;
    }
    return 0;
}

static const char *const TABLES[] = { "exceptions", NULL };
static const char *const KEYS[] = { "5 - e.severity", "e.sla_due", "e.id", NULL };
static const char *const KTYPES[] = { "int", "timestamptz", "bigint", NULL };

static const char *const K_OPEN[] = { "e.opened_at", "e.id", NULL }, *const T_OPEN[] = { "timestamptz", "bigint", NULL };
static const char *const K_AMT[] = { "coalesce(e.amount, 0)", "e.id", NULL }, *const T_AMT[] = { "numeric", "bigint", NULL };
static const struct sort_opt SORTS[] = {
    { "severity and SLA", "SEV", KEYS, KTYPES, 0, 1 }, { "opened", "OPENED", K_OPEN, T_OPEN, 1, 0 },
    { "amount", "AMOUNT", K_AMT, T_AMT, 1, 0 }, { NULL, NULL, NULL, NULL, 0, 0 },
};

const struct view_ops exceptions_ops = {
    .name = "exceptions", .title = "Exceptions", .mask = VM_EXC, .tab = 2, .tables = TABLES,
    .key_cols = KEYS, .key_types = KTYPES, .key_desc = 0, .build = build, .chrome = 2,
    .load = grid_load, .draw = draw, .request = request, .command = command, .unavailable = unavailable,
    .tag_ver_col = C_VERSION, .sorts = SORTS,
    .arg_keys = ARG_KEYS, .arg_values = arg_values,
};

/* ------------------------------------------------------------------ one exception */

static int one_load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    int top;
    PGresult *r = doc_one_begin(a, v, "exception ",
                        EXC_SELECT ", e.rail, coalesce(e.network, ''), coalesce(e.resolution, ''), coalesce(e.note, ''),"
                        " coalesce(e.resolved_by, ''), to_char(e.sla_due, 'YYYY-MM-DD HH24:MI:SS'),"
                        " to_char(e.opened_at, 'YYYY-MM-DD HH24:MI:SS'), e.details::text,"
                        " coalesce(t.tx_hash || ':' || t.log_index, ''), coalesce(t.block_number::text, '')"
                        " FROM exceptions e LEFT JOIN merchants m ON m.id = e.merchant_id"
                        " LEFT JOIN rails r ON r.id = e.rail AND r.environment = e.environment LEFT JOIN payments p ON p.id = e.payment_id"
                        " LEFT JOIN chain_transfers t ON t.id = e.transfer_id WHERE e.public_id = $1", &top);
    if (!r) return -1;
    struct exc *e = &g_one;
    memset(e, 0, sizeof *e);
#define F(i) PQgetvalue(r, 0, i)
    snprintf(e->pub, sizeof e->pub, "%s", F(C_PUB));
    snprintf(e->type, sizeof e->type, "%s", F(C_TYPE));
    snprintf(e->state, sizeof e->state, "%s", F(C_STATE));
    snprintf(e->version, sizeof e->version, "%s", F(C_VERSION));
    snprintf(e->merchant, sizeof e->merchant, "%s", F(C_MERCHANT));
    snprintf(e->assignee, sizeof e->assignee, "%s", F(C_ASSIGNEE));
    snprintf(e->paypub, sizeof e->paypub, "%s", F(C_PAYPUB));
    snprintf(e->mid, sizeof e->mid, "%s", F(C_MID));
    e->sev = atoi(F(C_SEV));
    if (F(C_AMOUNT)[0]) fmt_amount(F(C_AMOUNT), atoi(F(C_DEC)), e->amount, sizeof e->amount);
    else snprintf(e->amount, sizeof e->amount, "-");
    doc_nl(d);
    doc_add(d, S_TITLE, " Exception %s  ", e->pub);
    doc_add(d, sev_style(e->sev), "%s", e->sev >= 1 && e->sev <= 4 ? SEVN[e->sev] : "?");
    doc_add(d, S_NORMAL, "  %s  ", e->type);
    doc_add(d, !strcmp(e->state, "open") ? S_WARN : S_LABEL, "%s", e->state);
    doc_kv(d, "merchant", S_NORMAL, e->merchant);
    doc_kv(d, "amount", S_NORMAL, e->amount);
    doc_kv(d, "rail", S_NORMAL, F(X_RAIL));
    doc_kv(d, "payment", S_NORMAL, e->paypub[0] ? e->paypub : "-");
    doc_kv(d, "payment ref", S_NORMAL, F(C_PAYREF));
    doc_kv(d, "transfer", S_DIM, F(X_TRANSFER));
    doc_kv(d, "block", S_DIM, F(X_BLOCK));
    doc_kv(d, "assignee", S_NORMAL, e->assignee);
    doc_kv(d, "opened", S_DIM, F(X_OPENED_TEXT));
    doc_kv(d, "sla due", atoll(F(C_SLA)) < time(NULL) ? S_OVERDUE : S_NORMAL, F(X_SLA_TEXT));
    doc_kv(d, "version", S_DIM, e->version);
    doc_kv(d, "resolution", S_NORMAL, F(X_RESOLUTION));
    doc_kv(d, "note", S_NORMAL, F(X_NOTE));
    doc_kv(d, "resolved by", S_NORMAL, F(X_RESOLVED_BY));
    doc_kv(d, "details", S_DIM, F(X_DETAILS));
    const char *const *res = exc_resolutions(e->type);
    char rs[300] = "";
    for (int i = 0; res && res[i]; i++) { strcat(rs, res[i]); if (res[i + 1]) strcat(rs, ", "); }
    doc_kv(d, "resolutions", S_DIM, rs);
#undef F
    PQclear(r);
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_TITLE, " History (audit log)");
    enum { AH_AT, AH_ACTOR, AH_ROLE, AH_ACTION, AH_REASON };
    r = cq(a, "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS'), actor, role, action, coalesce(reason, '')"
              " FROM audit_log WHERE object_type = 'exception' AND object_id = $1 ORDER BY id DESC LIMIT 30", v->target);
    for (int i = 0; r && i < PQntuples(r); i++) {
        doc_nl(d);
        doc_add(d, S_DIM, "  %s  ", PQgetvalue(r, i, AH_AT));
        doc_add(d, S_NORMAL, "%-16s %-8s %-22s %s", PQgetvalue(r, i, AH_ACTOR), PQgetvalue(r, i, AH_ROLE), PQgetvalue(r, i, AH_ACTION),
                PQgetvalue(r, i, AH_REASON));
    }
    if (r && !PQntuples(r)) { doc_nl(d); doc_add(d, S_DIM, "   no operator actions yet"); }
    if (r) PQclear(r);
    return doc_one_end(v, top);
}

static const char *one_unavailable(struct app *a, struct view *v, enum req r)
{
    if (r == REQ_ENTER) return g_one.paypub[0] ? NULL : "this exception has no payment";
    if (r != REQ_CLAIM && r != REQ_RESOLVE && r != REQ_REOPEN && r != REQ_DISMISS) return NULL;
    if (!g_one.pub[0]) return "exception not loaded";
    return why_not(&g_one, r);
}

static reaction one_request(struct app *a, struct view *v, enum req r)
{
    if (r == REQ_ENTER) { app_push(a, &detail_ops, g_one.paypub, NULL); return 1; }
    if (r != REQ_CLAIM && r != REQ_RESOLVE && r != REQ_REOPEN && r != REQ_DISMISS) return 0;
    struct exc e = g_one;
    return RX_HANDLED | act(a, &e, r);
}

static const char *const ONE_TABLES[] = { "exceptions", "audit_log", NULL };

const struct view_ops exception_ops = {
    .name = "exception", .title = "Exception", .mask = VM_EXC_ONE, .tables = ONE_TABLES,
    .load = one_load, .draw = doc_draw, .request = one_request, .unavailable = one_unavailable,
};
