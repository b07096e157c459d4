/* view_webhooks — endpoints with health (success rate over 24 h, consecutive failures,
 * failing since); an endpoint's deliveries (or all recent ones) with attempts; one
 * delivery with every attempt, the response excerpts, the raw body and the signature
 * header. Retry one, recover a window (after a confirmation that states how many
 * deliveries it re-queues), disable and enable — all through raild. Secrets are never
 * selected: the console role cannot read them anyway. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ endpoints */
enum { E_PUB, E_MERCHANT, E_URL, E_STATUS, E_RATE, E_ATTEMPTS, E_FAILS, E_FAILSINCE, E_LASTERR, E_ID, E_DISBY,
       E_DISWHY, E_RATELIMIT };

static void ep_build(struct app *a, struct view *v, struct qb *q)
{
    /* health over 24 h from the hourly counters (webhook_endpoint_health: ~24 rows per endpoint) */
    qb_init(q, "SELECT e.public_id, m.name, e.url, e.status, coalesce(h.success_rate_24h::text, ''),"
               " h.attempts_24h, e.consecutive_failures,"
               " coalesce(extract(epoch from e.failing_since)::bigint::text, ''), coalesce(e.last_error, ''), e.id,"
               " coalesce(e.disabled_by, ''), coalesce(e.disabled_reason, ''), coalesce(e.rate_limit_per_s::text, '')"
               " FROM webhook_endpoints e JOIN merchants m ON m.id = e.merchant_id"
               " JOIN webhook_endpoint_health h ON h.endpoint_id = e.id"
               " WHERE e.status <> 'deleted'");
    qb_and(q, " AND e.environment = $%d", a->cfg.env);
    const char *x;
    if ((x = view_arg(v, "status"))) qb_and(q, " AND e.status = $%d", x);
    if ((x = view_arg(v, "merchant"))) qb_and(q, " AND e.merchant_id IN (SELECT id FROM merchants WHERE name = $%d)", x);
    view_filter_sql(v, q, "concat_ws(' ', e.public_id, m.name, e.url, e.status, e.last_error)");
}

static const struct gcol EP_COLS[] = {
    { "URL", 0, 0 }, { "MERCHANT", 14, 0 }, { "STATUS", 9, 0 }, { "OK 24H", 7, 1 }, { "OF", 6, 1 },
    { "FAILS", 5, 1 }, { "FAILING", 8, 1 },
};

static enum style ep_cell(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    switch (c) {
    case 0: snprintf(buf, n, "%s", grid_val(v, r, E_URL)); return S_NORMAL;
    case 1: snprintf(buf, n, "%s", grid_val(v, r, E_MERCHANT)); return S_NORMAL;
    case 2: snprintf(buf, n, "%s", grid_val(v, r, E_STATUS));
        return !strcmp(buf, "enabled") ? S_GOOD : S_BAD;
    case 3: {
        const char *rate = grid_val(v, r, E_RATE);
        if (!*rate) { snprintf(buf, n, "-"); return S_DIM; }
        /* rate is numeric(…,4) text like 0.9731: show per-mille as a percentage */
        int pm = 0;
        const char *dot = strchr(rate, '.');
        if (rate[0] == '1') pm = 1000;
        else if (dot) { char d[4] = "000"; for (int i = 0; i < 3 && dot[1 + i]; i++) d[i] = dot[1 + i]; pm = atoi(d); }
        snprintf(buf, n, "%d.%d%%", pm / 10, pm % 10);
        return pm >= 990 ? S_GOOD : pm >= 900 ? S_WARN : S_BAD;
    }
    case 4: snprintf(buf, n, "%s", grid_val(v, r, E_ATTEMPTS)); return S_DIM;
    case 5: snprintf(buf, n, "%s", grid_val(v, r, E_FAILS)); return atoi(buf) ? S_BAD : S_DIM;
    case 6:
        if (grid_val(v, r, E_FAILSINCE)[0]) { fmt_since(grid_val(v, r, E_FAILSINCE), buf, n); return S_BAD; }
        snprintf(buf, n, "-");
        return S_DIM;
    }
    buf[0] = 0;
    return S_NORMAL;
}

static void ep_draw(struct app *a, struct view *v, int y, int h)
{
    char t[300];
    snprintf(t, sizeof t, " Webhook endpoints (%s)  Enter: deliveries  D: all recent deliveries", a->cfg.env);
    draw_text(y, 0, a->cols, S_TITLE, t);
    grid_draw(a, v, y + 1, h - 2, EP_COLS, 7, ep_cell);
    const char *err = grid_sel(v, E_LASTERR), *st = grid_sel(v, E_STATUS), *by = grid_sel(v, E_DISBY);
    if (st && !strcmp(st, "disabled") && by) {     /* who or what disabled it, and why */
        char l[700];
        const char *why = grid_sel(v, E_DISWHY);
        if (!strncmp(why, "disabled by ", 12)) snprintf(l, sizeof l, " %s", why);   /* an operator's: says who */
        else snprintf(l, sizeof l, " disabled by %s: %s", *by ? by : "?", why);
        draw_text(y + h - 1, 0, a->cols, S_BAD, l);
    } else if (err && *err) {
        char l[400];
        snprintf(l, sizeof l, " last error: %s", err);
        draw_text(y + h - 1, 0, a->cols, S_BAD, l);
    }
}

/* re-queue failed deliveries of endpoint `pub` (numeric id `eid`) in a window */
static reaction recover(struct app *a, const char *pub, const char *eid, const char *url)
{
    char since[64] = "", until[64] = "";
    enum { W_SINCE, W_UNTIL };
    PGresult *r = cq(a, "SELECT to_char(coalesce(min(created_at), now() - interval '24 hours'), 'YYYY-MM-DD HH24:MI:SS'),"
                        " to_char(now(), 'YYYY-MM-DD HH24:MI:SS') FROM webhook_deliveries"
                        " WHERE endpoint_id = $1::bigint AND status = 'failed'"
                        " AND created_at > now() - interval '7 days'", eid);
    if (!r) return RX_HANDLED;
    snprintf(since, sizeof since, "%s", PQgetvalue(r, 0, W_SINCE));
    snprintf(until, sizeof until, "%s", PQgetvalue(r, 0, W_UNTIL));
    PQclear(r);
    if (!dlg_prompt(a, "Recover: window start", "since (YYYY-MM-DD HH:MM:SS, the database session time zone):", since, sizeof since, 1) ||
        !dlg_prompt(a, "Recover: window end", "until (YYYY-MM-DD HH:MM:SS):", until, sizeof until, 1)) {
        app_status(a, 0, "recover canceled — nothing changed");
        return RX_HANDLED;
    }
    /* normalise to RFC 3339 in the database (it parses what an operator types), then ask
     * raild's preview how many deliveries the window holds: the same count the job uses */
    enum { W3_SINCE, W3_UNTIL };
    r = cq(a, "SELECT to_char($1::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
              " to_char($2::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')", since, until);
    if (!r) return RX_HANDLED;
    char n[32] = "?", s3339[64], u3339[64], path[300], msg[600];
    snprintf(s3339, sizeof s3339, "%s", PQgetvalue(r, 0, W3_SINCE));
    snprintf(u3339, sizeof u3339, "%s", PQgetvalue(r, 0, W3_UNTIL));
    PQclear(r);
    snprintf(path, sizeof path, "/v1/webhook-endpoints/%s/recover-preview?since=%s&until=%s", pub, s3339, u3339);
    json_t *pv = NULL;
    int st = api_call(a, "GET", path, NULL, &pv, msg, sizeof msg);
    if (st != 200) {
        app_status(a, 1, "recover preview for %s failed: %s", pub, msg);
        if (pv) json_decref(pv);
        return RX_HANDLED;
    }
    snprintf(n, sizeof n, "%lld", (long long)json_integer_value(json_object_get(pv, "count")));
    json_decref(pv);
    char l0[300], l1[200], l2[200];
    const char *lines[3] = { l0, l1, l2 };
    snprintf(l0, sizeof l0, "Endpoint   %s  %s", pub, url);
    snprintf(l1, sizeof l1, "Window     %s  to  %s", since, until);
    snprintf(l2, sizeof l2, "Change     re-queue %s failed deliveries (a background job)", n);
    if (!dlg_confirm(a, "Recover failed deliveries?", lines, 3, "Recover")) {
        app_status(a, 0, "recover canceled — nothing changed");
        return RX_HANDLED;
    }
    snprintf(path, sizeof path, "/v1/webhook-endpoints/%s/recover", pub);
    json_t *body = json_pack("{s:s,s:s}", "since", s3339, "until", u3339), *out = NULL;
    st = api_call(a, "POST", path, body, &out, msg, sizeof msg);
    json_decref(body);
    if (st >= 200 && st < 300) app_status(a, 0, "recover queued for %s: %s deliveries in the window", pub, n);
    else app_status(a, 1, "recover %s failed: %s", pub, msg);
    if (out) json_decref(out);
    return RX_RELOAD;
}

static reaction endpoint_toggle(struct app *a, struct view *v, int enable)
{
    const char *pub = grid_sel(v, E_PUB), *url = grid_sel(v, E_URL), *st = grid_sel(v, E_STATUS);
    char l0[300], l1[200], p[96], u[400];
    snprintf(p, sizeof p, "%s", pub);
    snprintf(u, sizeof u, "%s", url);
    char reason[300] = "", l2[340];
    const char *lines[3] = { l0, l1, l2 };
    if (!enable && !dlg_prompt(a, "Disable endpoint", "reason (optional, goes to the audit log):", reason, sizeof reason, 0)) {
        app_status(a, 0, "disable canceled — nothing changed");
        return RX_HANDLED;
    }
    snprintf(l2, sizeof l2, "Reason     %s", reason[0] ? reason : "-");
    snprintf(l0, sizeof l0, "Endpoint   %.60s  %.200s", p, u);
    snprintf(l1, sizeof l1, "Change     status %s → %s%s", st, enable ? "enabled" : "disabled",
             enable ? "" : " (no deliveries until enabled)");
    if (!dlg_confirm(a, enable ? "Enable endpoint?" : "Disable endpoint?", lines, enable ? 2 : 3,
                     enable ? "Enable" : "Disable")) {
        app_status(a, 0, "%s canceled — nothing changed", enable ? "enable" : "disable");
        return RX_HANDLED;
    }
    char path[200], msg[600];
    snprintf(path, sizeof path, "/v1/webhook-endpoints/%s/%s", p, enable ? "enable" : "disable");
    json_t *out = NULL, *body = reason[0] ? json_pack("{s:s}", "reason", reason) : NULL;
    int rc = api_call(a, "POST", path, body, &out, msg, sizeof msg);
    if (body) json_decref(body);
    if (rc >= 200 && rc < 300) app_status(a, 0, "%s %s", enable ? "enabled" : "disabled", p);
    else app_status(a, 1, "%s %s failed: %s", enable ? "enable" : "disable", p, msg);
    if (out) json_decref(out);
    return RX_RELOAD;
}

/* L: how fast every dispatcher together may send to the endpoint; empty lifts the limit */
static reaction endpoint_rate_limit(struct app *a, struct view *v)
{
    const char *pub = grid_sel(v, E_PUB), *url = grid_sel(v, E_URL), *cur = grid_sel(v, E_RATELIMIT);
    char p[96], u[400], val[16] = "", reason[300] = "", l0[300], l1[200], l2[340];
    snprintf(p, sizeof p, "%s", pub);
    snprintf(u, sizeof u, "%s", url);
    char label[120];
    snprintf(label, sizeof label, "deliveries a second, 1-10000 (now %s; empty: no limit):", *cur ? cur : "none");
    if (!dlg_prompt(a, "Rate limit", label, val, sizeof val, 0)) {
        app_status(a, 0, "rate limit canceled — nothing changed");
        return RX_HANDLED;
    }
    long long n = 0;
    char *end = NULL;
    if (val[0] && ((n = strtoll(val, &end, 10)) < 1 || n > 10000 || *end)) {
        app_status(a, 1, "'%s' is not a rate: a whole number from 1 to 10000, or empty for none", val);
        return RX_HANDLED;
    }
    if (!dlg_prompt(a, "Rate limit", "reason (optional, goes to the audit log):", reason, sizeof reason, 0)) {
        app_status(a, 0, "rate limit canceled — nothing changed");
        return RX_HANDLED;
    }
    snprintf(l0, sizeof l0, "Endpoint   %.60s  %.200s", p, u);
    snprintf(l1, sizeof l1, "Change     rate limit %s → %s", *cur ? cur : "none", val[0] ? val : "none");
    snprintf(l2, sizeof l2, "Reason     %s", reason[0] ? reason : "-");
    const char *lines[3] = { l0, l1, l2 };
    if (!dlg_confirm(a, "Set the rate limit?", lines, 3, "Set")) {
        app_status(a, 0, "rate limit canceled — nothing changed");
        return RX_HANDLED;
    }
    char path[200], msg[600];
    snprintf(path, sizeof path, "/v1/webhook-endpoints/%s/rate-limit", p);
    json_t *out = NULL, *body = json_pack("{s:o}", "per_second", val[0] ? json_integer(n) : json_null());
    if (reason[0]) json_object_set_new(body, "reason", json_string(reason));
    int rc = api_call(a, "POST", path, body, &out, msg, sizeof msg);
    json_decref(body);
    if (rc >= 200 && rc < 300) app_status(a, 0, "rate limit of %s: %s", p, val[0] ? val : "none");
    else app_status(a, 1, "rate limit %s failed: %s", p, msg);
    if (out) json_decref(out);
    return RX_RELOAD;
}

static reaction ep_request(struct app *a, struct view *v, enum req r)
{
    switch (r) {
    case REQ_ENTER: {
        char id[32], pub[64];
        snprintf(id, sizeof id, "%s", grid_sel(v, E_ID));
        snprintf(pub, sizeof pub, "%s", grid_sel(v, E_PUB));
        app_push(a, &deliveries_ops, pub, id);
        return 1;
    }
    case REQ_ALLDELIV: app_push(a, &deliveries_ops, "all", ""); return 1;
    case REQ_DISABLE: return RX_HANDLED | endpoint_toggle(a, v, 0);
    case REQ_ENABLE: return RX_HANDLED | endpoint_toggle(a, v, 1);
    case REQ_RATELIMIT: return RX_HANDLED | endpoint_rate_limit(a, v);
    case REQ_RECOVER: {
        char pub[64], id[32], url[400];
        snprintf(pub, sizeof pub, "%s", grid_sel(v, E_PUB));
        snprintf(id, sizeof id, "%s", grid_sel(v, E_ID));
        snprintf(url, sizeof url, "%s", grid_sel(v, E_URL));
        return RX_HANDLED | recover(a, pub, id, url);
    }
    default: return 0;
    }
}

static const char *ep_unavailable(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_ENTER && r != REQ_DISABLE && r != REQ_ENABLE && r != REQ_RECOVER && r != REQ_RATELIMIT) return NULL;
    const char *st = grid_sel(v, E_STATUS);
    if (!st) return "no endpoint selected";
    if (r == REQ_DISABLE && strcmp(st, "enabled")) return "the endpoint is already disabled";
    if (r == REQ_ENABLE && !strcmp(st, "enabled")) return "the endpoint is already enabled";
    return NULL;
}

static int ep_command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    static const char *const keys[] = { "status", "merchant", NULL };
    static const char *const sts[] = { "enabled", "disabled", NULL };
    if (cmd_args(v, argc, argv, keys, err, errlen)) return -1;
    const char *x = view_arg(v, "status");
    if (x && check_value("status", x, sts, err, errlen)) { v->nargs = 0; return -1; }
    return 0;
}

/* not webhook_attempts: under load they change constantly, and the endpoint row already
 * carries the streak counters; the 24 h rate refreshes with any endpoint change */
static const char *const EP_TABLES[] = { "webhook_endpoints", NULL };
static const char *const EP_KEYS[] = { "e.id", NULL };
static const char *const BIGINT[] = { "bigint", NULL };

const struct view_ops webhooks_ops = {
    .name = "webhooks", .title = "Webhooks", .mask = VM_WEBHOOKS, .tab = 3, .tables = EP_TABLES,
    .key_cols = EP_KEYS, .key_types = BIGINT, .key_desc = 1, .build = ep_build, .chrome = 3,
    .load = grid_load, .draw = ep_draw, .request = ep_request, .command = ep_command, .unavailable = ep_unavailable,
};

/* ------------------------------------------------------------------ deliveries */
enum { D_ID, D_TYPE, D_EVENT, D_STATUS, D_ATTEMPTS, D_HTTP, D_ERR, D_CREATED, D_NEXT, D_URL, D_EPPUB, D_EPID };

static void dl_build(struct app *a, struct view *v, struct qb *q)
{
    qb_init(q, "SELECT d.id, d.event_type, d.event_id, d.status, d.attempts, coalesce(d.last_http_status::text, ''),"
               " coalesce(d.last_error, ''), extract(epoch from d.created_at)::bigint,"
               " extract(epoch from d.next_attempt_at)::bigint, e.url, e.public_id, e.id, d.created_at, d.id"
               " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE true");
    if (v->target2[0]) qb_and(q, " AND d.endpoint_id = $%d::bigint", v->target2);
    else qb_and(q, " AND d.environment = $%d", a->cfg.env);
    const char *x;
    if ((x = view_arg(v, "status"))) qb_and(q, " AND d.status = $%d", x);
    if ((x = view_arg(v, "payment")))
        qb_and(q, " AND d.event_id IN (SELECT o.event_id FROM webhook_outbox o JOIN payments p ON p.id = o.payment_id"
                  " WHERE p.public_id = $%d)", x);
    view_filter_sql(v, q, "concat_ws(' ', d.event_type, d.event_id, d.status, d.last_error, e.url)");
}

static const struct gcol DL_COLS[] = {
    { "#", 8, 1 }, { "EVENT", 19, 0 }, { "STATUS", 9, 0 }, { "TRIES", 5, 1 }, { "HTTP", 4, 1 },
    { "AGE", 6, 1 }, { "LAST ERROR / URL", 0, 0 },
};

static enum style dl_cell(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    const char *st = grid_val(v, r, D_STATUS);
    switch (c) {
    case 0: snprintf(buf, n, "%s", grid_val(v, r, D_ID)); return S_DIM;
    case 1: snprintf(buf, n, "%s", grid_val(v, r, D_TYPE)); return S_NORMAL;
    case 2: snprintf(buf, n, "%s", st);
        return !strcmp(st, "succeeded") ? S_GOOD : !strcmp(st, "failed") ? S_BAD : !strcmp(st, "canceled") ? S_DIM : S_WARN;
    case 3: snprintf(buf, n, "%s", grid_val(v, r, D_ATTEMPTS)); return S_NORMAL;
    case 4: snprintf(buf, n, "%s", grid_val(v, r, D_HTTP)); return buf[0] == '2' ? S_GOOD : S_BAD;
    case 5: fmt_since(grid_val(v, r, D_CREATED), buf, n); return S_DIM;
    case 6:
        snprintf(buf, n, "%s", grid_val(v, r, D_ERR)[0] ? grid_val(v, r, D_ERR) : grid_val(v, r, D_URL));
        return grid_val(v, r, D_ERR)[0] ? S_BAD : S_DIM;
    }
    buf[0] = 0;
    return S_NORMAL;
}

static void dl_draw(struct app *a, struct view *v, int y, int h)
{
    char t[300];
    if (v->target2[0]) snprintf(t, sizeof t, " Deliveries to %s", v->target);
    else snprintf(t, sizeof t, " All recent deliveries (%s)", a->cfg.env);
    for (int i = 0; i < v->nargs; i++) {
        size_t l = strlen(t);
        snprintf(t + l, sizeof t - l, "  %s=%s", v->args[i][0], v->args[i][1]);
    }
    if (v->tags.n) { size_t l = strlen(t); snprintf(t + l, sizeof t - l, "  · %d tagged", v->tags.n); }
    draw_text(y, 0, a->cols, S_TITLE, t);
    grid_draw(a, v, y + 1, h - 1, DL_COLS, 7, dl_cell);
}

static reaction retry(struct app *a, const char *id, const char *type, const char *url, const char *status)
{
    char l0[300], l1[300], l2[200], i[32];
    snprintf(i, sizeof i, "%s", id);
    const char *lines[3] = { l0, l1, l2 };
    snprintf(l0, sizeof l0, "Delivery   #%s  %s", i, type);
    snprintf(l1, sizeof l1, "Endpoint   %s", url);
    snprintf(l2, sizeof l2, "Change     %s → pending: one manual attempt now", status);
    if (!dlg_confirm(a, "Retry delivery?", lines, 3, "Retry")) {
        app_status(a, 0, "retry canceled — nothing changed");
        return RX_HANDLED;
    }
    char path[200], msg[600];
    snprintf(path, sizeof path, "/v1/webhook-deliveries/whd_%s/retry", i);
    json_t *out = NULL;
    int st = api_call(a, "POST", path, NULL, &out, msg, sizeof msg);
    if (st >= 200 && st < 300) app_status(a, 0, "retry of delivery #%s queued", i);
    else app_status(a, 1, "retry #%s failed: %s", i, msg);
    if (out) json_decref(out);
    return RX_RELOAD;
}

/* retry every tagged delivery (POST /v1/webhook-deliveries/bulk-retry) */
static reaction retry_tagged(struct app *a, struct view *v)
{
    static const struct tags_bulk b = { "Reason", "why (goes to the audit log of each):", "reason", 0,
                                        "Retry tagged deliveries?", "Retry all", "retry",
                                        "/v1/webhook-deliveries/bulk-retry", "whd_" };
    char what[200];
    snprintf(what, sizeof what, "Retry %d tagged deliveries now (one manual attempt each)", v->tags.n);
    return tags_bulk_confirm(a, v, &b, what);
}

static reaction dl_request(struct app *a, struct view *v, enum req r)
{
    if (r == REQ_ENTER) { app_push(a, &delivery_ops, grid_sel(v, D_ID), NULL); return 1; }
    if (r == REQ_TAG || r == REQ_TAGRANGE || r == REQ_TAGALL || r == REQ_UNTAG) return tags_request(a, v, r);
    if (r == REQ_RETRY && v->tags.n) return RX_HANDLED | retry_tagged(a, v);
    if (r == REQ_RETRY) {
        char id[32], type[64], url[400], st[32];
        snprintf(id, sizeof id, "%s", grid_sel(v, D_ID));
        snprintf(type, sizeof type, "%s", grid_sel(v, D_TYPE));
        snprintf(url, sizeof url, "%s", grid_sel(v, D_URL));
        snprintf(st, sizeof st, "%s", grid_sel(v, D_STATUS));
        return RX_HANDLED | retry(a, id, type, url, st);
    }
    if (r == REQ_RECOVER) {
        char pub[64], id[32], url[400];
        snprintf(pub, sizeof pub, "%s", grid_sel(v, D_EPPUB));
        snprintf(id, sizeof id, "%s", grid_sel(v, D_EPID));
        snprintf(url, sizeof url, "%s", grid_sel(v, D_URL));
        return RX_HANDLED | recover(a, pub, id, url);
    }
    return 0;
}

static const char *dl_unavailable(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_ENTER && r != REQ_RETRY && r != REQ_RECOVER) return NULL;
    if (r == REQ_RETRY && v->tags.n) return NULL;   /* the tagged rows: raild judges each */
    const char *st = grid_sel(v, D_STATUS);
    if (!st) return "no delivery selected";
    if (r == REQ_RETRY && (!strcmp(st, "pending") || !strcmp(st, "in_flight"))) return "the delivery is already queued";
    return NULL;
}

static int dl_command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    static const char *const keys[] = { "status", "payment", NULL };
    static const char *const sts[] = { "pending", "in_flight", "succeeded", "failed", "canceled", NULL };
    if (cmd_args(v, argc, argv, keys, err, errlen)) return -1;
    const char *x = view_arg(v, "status");
    if (x && check_value("status", x, sts, err, errlen)) { v->nargs = 0; return -1; }
    return 0;
}

static const char *const DL_TABLES[] = { "webhook_deliveries", NULL };
static const char *const DL_KEYS[] = { "d.created_at", "d.id", NULL };
static const char *const DL_TYPES[] = { "timestamptz", "bigint", NULL };

const struct view_ops deliveries_ops = {
    .name = "deliveries", .title = "Deliveries", .mask = VM_DELIVERIES, .tables = DL_TABLES,
    .key_cols = DL_KEYS, .key_types = DL_TYPES, .key_desc = 1, .build = dl_build, .chrome = 2,
    .load = grid_load, .draw = dl_draw, .request = dl_request, .command = dl_command, .unavailable = dl_unavailable,
};

/* ------------------------------------------------------------------ one delivery */
/* the columns of one_load's first query, in order */
enum { W1_ID, W1_TYPE, W1_EVENT, W1_STATUS, W1_ATTEMPTS, W1_URL, W1_ENDPOINT, W1_CREATED,
       W1_NEXT, W1_ERROR, W1_HTTP, W1_PAYLOAD, W1_TRIGGER, W1_OPERATOR, W1_LEASED_BY, W1_LEASE_UNTIL };
/* the attempts' columns */
enum { AT_NO, AT_STARTED, AT_MS, AT_HTTP, AT_ERROR, AT_TRIGGER, AT_OPERATOR, AT_SIG, AT_TS, AT_BODY, AT_OK };

static char g_dl[4][400];   /* id, type, url, status of the delivery on screen */

static int one_load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    int top;
    PGresult *r = doc_one_begin(a, v, "delivery #",
                        "SELECT d.id, d.event_type, d.event_id, d.status, d.attempts, e.url, e.public_id,"
                        " to_char(d.created_at, 'YYYY-MM-DD HH24:MI:SS'), to_char(d.next_attempt_at, 'YYYY-MM-DD HH24:MI:SS'),"
                        " coalesce(d.last_error, ''), coalesce(d.last_http_status::text, ''), o.payload, d.trigger,"
                        " coalesce(d.operator, ''), coalesce(d.leased_by, ''),"
                        " coalesce(to_char(d.in_flight_until, 'YYYY-MM-DD HH24:MI:SS'), '')"
                        " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                        " JOIN webhook_outbox o ON o.id = d.outbox_id WHERE d.id = $1::bigint", &top);
    if (!r) return -1;
#define F(i) PQgetvalue(r, 0, i)
    snprintf(g_dl[0], 400, "%s", F(W1_ID));
    snprintf(g_dl[1], 400, "%s", F(W1_TYPE));
    snprintf(g_dl[2], 400, "%s", F(W1_URL));
    snprintf(g_dl[3], 400, "%s", F(W1_STATUS));
    doc_nl(d);
    doc_add(d, S_TITLE, " Delivery #%s  %s  ", F(W1_ID), F(W1_TYPE));
    const char *st = F(W1_STATUS);
    doc_add(d, !strcmp(st, "succeeded") ? S_GOOD : !strcmp(st, "failed") ? S_BAD : S_WARN, "%s", st);
    static const struct doc_field fields[] = {
        { "event id", S_NORMAL, W1_EVENT }, { "endpoint", S_NORMAL, W1_ENDPOINT }, { "url", S_NORMAL, W1_URL },
        { "created", S_DIM, W1_CREATED }, { "next attempt", S_DIM, W1_NEXT }, { "attempts", S_NORMAL, W1_ATTEMPTS },
        { "last status", S_NORMAL, W1_HTTP }, { "last error", S_BAD, W1_ERROR }, { "trigger", S_DIM, W1_TRIGGER },
        { "operator", S_DIM, W1_OPERATOR },
    };
    doc_fields(d, r, fields, (int)(sizeof fields / sizeof fields[0]));
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_TITLE, " Body (the exact bytes signed and sent)");
    doc_nl(d);
    doc_add(d, S_NORMAL, "  %s", F(W1_PAYLOAD));
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_TITLE, " Attempts");
    /* an attempt's row is written when it ends: the one in flight is the delivery's own */
    int in_flight = !strcmp(st, "in_flight");
    if (in_flight) {
        doc_nl(d);
        doc_nl(d);
        doc_add(d, S_WARN, "  #%s", F(W1_ATTEMPTS));
        doc_add(d, S_NORMAL, "  in flight: sent by %s, lease until %s", F(W1_LEASED_BY), F(W1_LEASE_UNTIL));
    }
#undef F
    PQclear(r);
    r = cq(a, "SELECT attempt_no, to_char(started_at, 'YYYY-MM-DD HH24:MI:SS'), coalesce(duration_ms::text, 'in flight'),"
              " coalesce(http_status::text, '-'), coalesce(error, ''), trigger, coalesce(operator, ''),"
              " coalesce(signature, ''), coalesce(webhook_timestamp::text, ''), coalesce(response_body, ''), success"
              " FROM webhook_attempts WHERE delivery_id = $1::bigint ORDER BY attempt_no DESC LIMIT 50", v->target);
    for (int i = 0; r && i < PQntuples(r); i++) {
#define G(c) PQgetvalue(r, i, c)
        doc_nl(d);
        doc_nl(d);
        doc_add(d, G(AT_OK)[0] == 't' ? S_GOOD : S_BAD, "  #%s", G(AT_NO));
        doc_add(d, S_NORMAL, "  %s  %s ms  HTTP %s  %s%s%s", G(AT_STARTED), G(AT_MS), G(AT_HTTP), G(AT_TRIGGER),
                G(AT_OPERATOR)[0] ? " by " : "", G(AT_OPERATOR));
        if (G(AT_ERROR)[0]) { doc_nl(d); doc_add(d, S_BAD, "     error: %s", G(AT_ERROR)); }
        doc_nl(d);
        doc_add(d, S_DIM, "     webhook-timestamp: %s", G(AT_TS));
        doc_nl(d);
        doc_add(d, S_DIM, "     webhook-signature: %s", G(AT_SIG));
        if (G(AT_BODY)[0]) {
            doc_nl(d);
            doc_add(d, S_LABEL, "     response: ");
            doc_add(d, S_NORMAL, "%s", G(AT_BODY));
        }
#undef G
    }
    if (r && !PQntuples(r) && !in_flight) { doc_nl(d); doc_add(d, S_DIM, "   no attempts yet"); }
    if (r) PQclear(r);
    return doc_one_end(v, top);
}

static reaction one_request(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_RETRY) return 0;
    char id[32], type[64], url[400], st[32];
    snprintf(id, sizeof id, "%.30s", g_dl[0]);
    snprintf(type, sizeof type, "%.60s", g_dl[1]);
    snprintf(url, sizeof url, "%s", g_dl[2]);
    snprintf(st, sizeof st, "%.30s", g_dl[3]);
    return RX_HANDLED | retry(a, id, type, url, st);
}

static const char *one_unavailable(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_RETRY) return NULL;
    if (!g_dl[0][0]) return "delivery not loaded";
    if (!strcmp(g_dl[3], "pending") || !strcmp(g_dl[3], "in_flight")) return "the delivery is already queued";
    return NULL;
}

static const char *const ONE_TABLES[] = { "webhook_deliveries", "webhook_attempts", NULL };

const struct view_ops delivery_ops = {
    .name = "delivery", .title = "Delivery", .mask = VM_DELIVERY, .tables = ONE_TABLES,
    .load = one_load, .draw = doc_draw, .request = one_request, .unavailable = one_unavailable,
};
