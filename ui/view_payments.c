/* view_payments — the lifecycle board: counts per state across the top (the open states
 * exactly, the terminal ones reached today or since= a time), then the live table (newest
 * first, keyset on payments.id). Filters: state, rail, merchant, since, and `/` text (a
 * substring matched through trigram indexes). */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include "core/catalog.h"
#include <string.h>
#include <time.h>

#define STATES payment_states      /* the catalogue's (core/catalog.h) */
static const char *const SHORT[] = { "awaiting", "detected", "confirming", "confirmed",
                                     "finalized", "expired", "canceled" };
#define N_OPEN PAYMENT_OPEN_STATES /* STATES[0..3] are counted exactly, the rest since a time */
#define COUNTS_EVERY_MS 1000      /* the board's counts refresh at most once a second */
static long long g_counts[7];
static int g_counts_ok;
static int64_t g_counts_at;
static char g_counts_since[32];   /* the period of the terminal counts the board shows */

/* columns of build()'s SELECT */
enum { C_PUB, C_REF, C_MERCHANT, C_RAIL, C_AMOUNT, C_RECEIVED, C_DEC, C_STATE, C_CONF, C_DEPTH, C_CREATED, C_REORGED };

/* LIKE's pattern for a substring, as a qb_and() fragment (printf: %% and $%1$d): '%' + the
 * text with \ % _ escaped, lower-cased + '%' */
#define LIKE_PAT(n) "('%%' || lower(replace(replace(replace($%" n "$d, '\\', '\\\\'), '%%', '\\%%'), '_', '\\_')) || '%%')"

/* The `/` filter: a substring of the payment's text (the trigram index of 0071) or of its
 * merchant's name. The merchants that match are looked up first (once per filter text), so
 * the payments query is either the bare LIKE, which the trigram index answers, or LIKE OR
 * those merchant ids — never an OR over a subquery, which the planner cannot see through
 * and answers by reading payments in id order (a second at 1M for a rare substring). */
static void filter_sql(struct app *a, struct view *v, struct qb *q)
{
    static char for_text[128], ids[2048];
    if (strcmp(for_text, v->filter)) {
        PGresult *r = cq(a, "SELECT coalesce(array_agg(id ORDER BY id)::text, '{}') FROM merchants WHERE lower(name)"
                            " LIKE ('%' || lower(replace(replace(replace($1, '\\', '\\\\'), '%', '\\%'), '_', '\\_')) || '%')",
                         v->filter);
        snprintf(ids, sizeof ids, "%s", r && PQntuples(r) ? PQgetvalue(r, 0, 0) : "{}");
        if (r) { PQclear(r); snprintf(for_text, sizeof for_text, "%s", v->filter); }
    }
    const char *text = "payment_search_text(p.public_id, p.reference, p.rail, p.state, p.deposit_address) LIKE "
                       LIKE_PAT("1");
    char frag[900];
    if (!strcmp(ids, "{}")) {
        snprintf(frag, sizeof frag, " AND %s(%s)", v->filter_not ? "NOT " : "", text);
        qb_and(q, frag, v->filter);
        return;
    }
    snprintf(frag, sizeof frag, " AND %s(%s", v->filter_not ? "NOT " : "", text);
    qb_and(q, frag, v->filter);
    qb_and(q, " OR p.merchant_id = ANY ($%d::bigint[]))", ids);
}

static void build(struct app *a, struct view *v, struct qb *q)
{
    char keys[200], sel[1200];
    view_key_list(v, keys, sizeof keys);   /* the select list ends with the active sort's keys */
    snprintf(sel, sizeof sel, "SELECT p.public_id, p.reference, m.name, p.rail, p.amount, p.received, r.decimals, p.state,"
             " p.confirmations, r.confirm_depth, extract(epoch from p.created_at)::bigint,"
             /* a correlated lookup per row shown (exceptions_payment), never EXISTS: the planner
              * would hash every open reorged exception for each page (17 ms at 11k) */
             " (SELECT true FROM exceptions x WHERE x.payment_id = p.id AND x.type = 'reorged'"
             "  AND x.state IN ('open','claimed') LIMIT 1) IS NOT NULL, %s"
             " FROM payments p JOIN merchants m ON m.id = p.merchant_id JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
             " WHERE true", keys);
    qb_init(q, sel);
    const char *x = view_arg(v, "env");
    qb_and(q, " AND p.environment = $%d", x ? x : a->cfg.env);
    if ((x = view_arg(v, "state"))) qb_and(q, " AND p.state = $%d", x);
    if ((x = view_arg(v, "rail"))) qb_and(q, " AND p.rail = $%d", x);
    if ((x = view_arg(v, "merchant"))) qb_and(q, " AND p.merchant_id IN (SELECT id FROM merchants WHERE name = $%d)", x);
    static char since[24];
    if (view_arg(v, "since") && since_epoch(view_arg(v, "since"), since, sizeof since) == 0)
        qb_and(q, " AND p.created_at >= to_timestamp($%d::bigint)", since);
    if (v->filter[0]) filter_sql(a, v, q);
}

/* since=: today | yesterday | YYYY-MM-DD (local midnight) | Nh | Nd (the last N hours or
 * days) → unix seconds as text. 0 ok, -1 not a period. */
int since_epoch(const char *txt, char *out, size_t n)
{
    time_t now = time(NULL), t;
    struct tm tm;
    localtime_r(&now, &tm);
    char *end = NULL;
    long k = strtol(txt, &end, 10);
    int y, mo, d;
    char extra;
    if (!strcmp(txt, "today") || !strcmp(txt, "yesterday")) {
        tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
        tm.tm_isdst = -1;
        if (txt[0] == 'y') tm.tm_mday--;
        t = mktime(&tm);
    } else if (end != txt && k >= 1 && k <= 999 && (!strcmp(end, "h") || !strcmp(end, "d")) && txt[0] != '+') {
        t = now - (time_t)k * (*end == 'h' ? 3600 : 86400);
    } else if (sscanf(txt, "%4d-%2d-%2d%c", &y, &mo, &d, &extra) == 3 && strlen(txt) == 10 && mo >= 1 && mo <= 12 &&
               d >= 1 && d <= 31 && y >= 2000 && y <= 2999) {
        struct tm want = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_isdst = -1 };
        t = mktime(&want);
        if (want.tm_mday != d || want.tm_mon != mo - 1) return -1;   /* 2026-02-31 */
    } else {
        return -1;
    }
    snprintf(out, n, "%lld", (long long)t);
    return 0;
}

/* the open states exactly; the terminal ones reached since the board's period (today by
 * default) — index-only counts (0071_console_counts_search.sql) */
static void load_counts(struct app *a, struct view *v)
{
    const char *env = view_arg(v, "env") ? view_arg(v, "env") : a->cfg.env;
    char since[24];
    if (since_epoch(view_arg(v, "since") ? view_arg(v, "since") : "today", since, sizeof since)) since_epoch("today", since, sizeof since);
    enum { SC_STATE, SC_COUNT };
    PGresult *r = cq(a, "SELECT s, CASE WHEN n <= 4 THEN (SELECT count(*) FROM payments p WHERE p.environment = $1 AND p.state = s)"
                        " ELSE (SELECT count(*) FROM payments p WHERE p.environment = $1 AND p.state = s"
                        "   AND p.state IN ('finalized', 'expired', 'canceled')"
                        "   AND coalesce(p.finalized_at, p.updated_at) >= to_timestamp($2::bigint)) END"
                        " FROM unnest(ARRAY['awaiting_payment','detected','confirming','confirmed','finalized',"
                        "'expired','canceled']) WITH ORDINALITY AS t(s, n) ORDER BY n",
                     env, since);
    g_counts_ok = r != NULL;
    for (int i = 0; r && i < PQntuples(r) && i < 7; i++) g_counts[i] = atoll(PQgetvalue(r, i, SC_COUNT));
    if (r) PQclear(r);
}

/* The page follows every change (<= 30/s); the counts cost more and move slowly, so under a
 * burst they refresh once a second, with a follow-up reload so they settle when it ends. */
static int load(struct app *a, struct view *v)
{
    int64_t now = now_ms();
    const char *env = view_arg(v, "env") ? view_arg(v, "env") : a->cfg.env;
    char key[64];
    snprintf(key, sizeof key, "%.15s %.40s", env, view_arg(v, "since") ? view_arg(v, "since") : "today");
    if (!g_counts_ok || now - g_counts_at >= COUNTS_EVERY_MS || strcmp(key, g_counts_since)) {
        load_counts(a, v);
        g_counts_at = now;
        snprintf(g_counts_since, sizeof g_counts_since, "%s", key);
    } else if (!a->reload_at) {
        a->reload_at = g_counts_at + COUNTS_EVERY_MS;
    }
    return grid_load(a, v);
}

static int wide(struct app *a) { return a->cols >= 110; }

static const struct gcol COLS_WIDE[] = {
    { "REFERENCE", 0, 0 }, { "MERCHANT", 0, 0 }, { "RAIL", 13, 0 }, { "EXPECTED", 12, 1 },
    { "RECEIVED", 12, 1 }, { "STATE", 10, 0 }, { "CONF", 7, 1 }, { "AGE", 7, 1 },
};
static const struct gcol COLS_NARROW[] = {
    { "REFERENCE", 0, 0 }, { "MERCHANT", 10, 0 }, { "RAIL", 13, 0 }, { "EXPECTED", 10, 1 },
    { "RECEIVED", 10, 1 }, { "STATE", 10, 0 }, { "CONF", 5, 1 },
};

static enum style cell(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    int dec = atoi(grid_val(v, r, C_DEC));
    const char *state = grid_val(v, r, C_STATE);
    switch (c) {
    case 0: snprintf(buf, n, "%s", grid_val(v, r, C_REF)); return S_NORMAL;
    case 1: snprintf(buf, n, "%s", grid_val(v, r, C_MERCHANT)); return S_NORMAL;
    case 2: snprintf(buf, n, "%s", grid_val(v, r, C_RAIL)); return S_DIM;
    case 3: fmt_amount(grid_val(v, r, C_AMOUNT), dec, buf, n); return S_NORMAL;
    case 4: {
        fmt_amount(grid_val(v, r, C_RECEIVED), dec, buf, n);
        const char *amt = grid_val(v, r, C_AMOUNT), *rec = grid_val(v, r, C_RECEIVED);
        if (!strcmp(rec, "0")) return S_DIM;
        /* numeric strings without leading zeros compare by length, then digits */
        int cmp = strlen(rec) != strlen(amt) ? (strlen(rec) > strlen(amt) ? 1 : -1) : strcmp(rec, amt);
        return cmp == 0 ? S_GOOD : S_WARN;
    }
    case 5:
        for (int i = 0; STATES[i]; i++) if (!strcmp(STATES[i], state)) snprintf(buf, n, "%s", SHORT[i]);
        return state_style(state);
    case 6:
        /* a counted transfer left the chain after confirmation: say so, not "0/15" */
        if (grid_val(v, r, C_REORGED)[0] == 't') {
            snprintf(buf, n, "%s", "reorged");
            return S_BAD;
        }
        /* confirming at full depth only happens when the money is short (DESIGN §4: the
         * payment waits for the underpaid exception's resolution): say so, not "29/19" */
        if (!strcmp(state, "confirming") && atoll(grid_val(v, r, C_CONF)) >= atoll(grid_val(v, r, C_DEPTH))) {
            snprintf(buf, n, "%s", "short");
            return S_WARN;
        }
        if (!strcmp(state, "confirming") || !strcmp(state, "detected") || !strcmp(state, "confirmed"))
            snprintf(buf, n, "%s/%s", grid_val(v, r, C_CONF), grid_val(v, r, C_DEPTH));
        else snprintf(buf, n, "%s", "");
        return S_NORMAL;
    case 7: fmt_since(grid_val(v, r, C_CREATED), buf, n); return S_DIM;
    }
    buf[0] = 0;
    return S_NORMAL;
}

/* "awaiting 12  detected 3  confirming 4  confirmed 1 │ today: finalized 1,204  expired 7  canceled 0" */
static int draw_board(struct app *a, struct view *v, int y)
{
    int x = 1;
    draw_text(y, 0, a->cols, S_NORMAL, "");
    for (int i = 0; STATES[i]; i++) {
        char label[64], num[32];
        if (i == N_OPEN) {   /* the terminal states are counted over a period: say which */
            const char *since = view_arg(v, "since");
            snprintf(label, sizeof label, "%s %s: ", a->unicode ? "│" : "|", since ? since : "today");
            if (x + text_width(label) > a->cols) break;
            draw_text(y, x, text_width(label), S_DIM, label);
            x += text_width(label);
        }
        snprintf(label, sizeof label, "%s ", SHORT[i]);
        if (!g_counts_ok) snprintf(num, sizeof num, "?");
        else snprintf(num, sizeof num, "%lld", g_counts[i]);
        int w = text_width(label) + text_width(num) + 2;
        if (x + w > a->cols) break;
        draw_text(y, x, text_width(label), S_LABEL, label);
        draw_text(y, x + text_width(label), text_width(num), state_style(STATES[i]), num);
        x += w;
    }
    return x;
}

static void draw(struct app *a, struct view *v, int y, int h)
{
    int used = draw_board(a, v, y);
    if (v->nargs || v->filter[0]) {
        char f[400] = " filter:";
        for (int i = 0; i < v->nargs; i++) {
            size_t l = strlen(f);
            snprintf(f + l, sizeof f - l, " %s=%s", v->args[i][0], v->args[i][1]);
        }
        if (v->filter[0]) { size_t l = strlen(f); snprintf(f + l, sizeof f - l, " /%s%s", v->filter_not ? "!" : "", v->filter); }
        int w = text_width(f) + 1;
        if (used + w > a->cols) w = a->cols - used;
        if (w > 8) draw_text(y, a->cols - w, w, S_MATCH, f);
    }
    if (wide(a)) grid_draw(a, v, y + 1, h - 1, COLS_WIDE, 8, cell);
    else grid_draw(a, v, y + 1, h - 1, COLS_NARROW, 7, cell);
}

static reaction request(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_ENTER) return 0;
    const char *id = grid_sel(v, C_PUB);
    if (id) app_push(a, &detail_ops, id, NULL);
    return 1;
}

static const char *const ARG_KEYS[] = { "state", "rail", "merchant", "env", "since", NULL };

static const char *const *arg_values(const char *key)
{
    static const char *const envs[] = { "sandbox", "production", NULL };
    return !strcmp(key, "state") ? STATES : !strcmp(key, "env") ? envs : NULL;
}

static int command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    const char *const *keys = ARG_KEYS;
    static const char *const envs[] = { "sandbox", "production", NULL };
    if (cmd_args(v, argc, argv, keys, err, errlen)) return -1;
    const char *s = view_arg(v, "state"), *e = view_arg(v, "env");
    char epoch[24];
    const char *since = view_arg(v, "since");
    if ((s && check_value("state", s, STATES, err, errlen)) || (e && check_value("env", e, envs, err, errlen))) {
        v->nargs = 0;
        return -1;
    }
    if (since && since_epoch(since, epoch, sizeof epoch)) {
        snprintf(err, errlen, "since=%s: use today, yesterday, YYYY-MM-DD, or the last hours or days as 6h or 7d", since);
        v->nargs = 0;
        return -1;
    }
    return 0;
}

static const char *unavailable(struct app *a, struct view *v, enum req r)
{
    return r == REQ_ENTER && !grid_sel(v, 0) ? "no payment selected" : NULL;
}

static const char *const TABLES[] = { "payments", NULL };
static const char *const KEYS[] = { "p.id", NULL };
static const char *const TYPES[] = { "bigint", NULL };

/* each served by an index on (environment, key…): 0001, 0030 and 0060_console_sorts.sql */
static const char *const K_NEW[] = { "p.id", NULL }, *const T_NEW[] = { "bigint", NULL };
static const char *const K_AMT[] = { "p.amount", "p.id", NULL }, *const T_AMT[] = { "numeric", "bigint", NULL };
static const char *const K_REF[] = { "p.reference", "p.id", NULL }, *const T_REF[] = { "text", "bigint", NULL };
static const char *const K_ST[] = { "p.state", "p.id", NULL }, *const T_ST[] = { "text", "bigint", NULL };
static const struct sort_opt SORTS[] = {
    { "newest", "AGE", K_NEW, T_NEW, 1, 0 }, { "expected amount", "EXPECTED", K_AMT, T_AMT, 1, 0 },
    { "reference", "REFERENCE", K_REF, T_REF, 0, 0 }, { "state", "STATE", K_ST, T_ST, 0, 0 }, { NULL, NULL, NULL, NULL, 0, 0 },
};

const struct view_ops payments_ops = {
    .name = "payments", .title = "Payments", .mask = VM_PAYMENTS, .tab = 1, .tables = TABLES,
    .key_cols = KEYS, .key_types = TYPES, .key_desc = 1, .build = build, .chrome = 2,
    .load = load, .draw = draw, .request = request, .command = command, .unavailable = unavailable,
    .arg_keys = ARG_KEYS, .arg_values = arg_values, .sorts = SORTS,
};
