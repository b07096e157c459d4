/* view_networks — the chains of the environment the console looks at (DESIGN §2, §10):
 * the strip on the tabs line ("ethereum: anvil 1234/1232", flags for stale, RPC errors,
 * a refused or stopped watcher) and `:networks`, one block per network with head,
 * finalized, lag, the watcher's state, the RPC host (never the URL) and the last error.
 * A network with no new head for 3x its block time is stale; the age is measured in the
 * database when loaded and advanced by the local clock when drawn, so flagging it costs
 * no query. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nets_load(struct app *a)
{
    const char *env = a->cfg.env[0] ? a->cfg.env : a->who.env;
    a->nets_dirty = 0;
    a->nets_loaded_at = now_ms();
    enum { NI_NAME, NI_RAILS, NI_STATE, NI_HEAD, NI_FINALIZED, NI_LAG, NI_AGE_MS, NI_BLOCK_MS, NI_RPC_ERROR };
    PGresult *r = cq(a, "SELECT n.name, coalesce((SELECT string_agg(split_part(id, ':', 1), ',' ORDER BY id) FROM rails"
                        "   WHERE network = n.name AND environment = n.environment), ''),"
                        " coalesce(w.state, ''), coalesce(h.head, -1), coalesce(h.finalized, -1),"
                        " coalesce(w.head - w.checkpoint, -1),"
                        " coalesce((extract(epoch FROM now() - h.updated_at) * 1000)::bigint, -1), n.block_time_ms,"
                        " coalesce(w.last_error_at > now() - interval '5 minutes', false)"
                        " FROM networks n LEFT JOIN chain_heads h ON h.network = n.name"
                        " LEFT JOIN watcher_status w ON w.network = n.name"
                        " WHERE n.environment = $1 AND (h.network IS NOT NULL OR w.network IS NOT NULL)"
                        " ORDER BY (w.network IS NULL), n.name", env[0] ? env : "sandbox");
    a->nnets = 0;
    if (!r) return;
    for (int i = 0; i < PQntuples(r) && a->nnets < NETS_MAX; i++) {
        struct net_info *n = &a->nets[a->nnets++];
        snprintf(n->name, sizeof n->name, "%s", PQgetvalue(r, i, NI_NAME));
        snprintf(n->rail, sizeof n->rail, "%s", PQgetvalue(r, i, NI_RAILS));
        snprintf(n->state, sizeof n->state, "%s", PQgetvalue(r, i, NI_STATE));
        n->head = atoll(PQgetvalue(r, i, NI_HEAD));
        n->fin = atoll(PQgetvalue(r, i, NI_FINALIZED));
        n->lag = atoll(PQgetvalue(r, i, NI_LAG));
        n->age_ms = atoll(PQgetvalue(r, i, NI_AGE_MS));
        n->block_ms = atoi(PQgetvalue(r, i, NI_BLOCK_MS));
        n->rpc_error = PQgetvalue(r, i, NI_RPC_ERROR)[0] == 't';
    }
    PQclear(r);
}

static int net_stale(struct app *a, const struct net_info *n)
{
    return n->age_ms < 0 || n->age_ms + (now_ms() - a->nets_loaded_at) > 3LL * n->block_ms;
}

/* the worst thing to say about a network, or NULL when it is fine */
static const char *net_flag(struct app *a, const struct net_info *n)
{
    if (!strcmp(n->state, "incident")) return "INCIDENT";
    if (!strcmp(n->state, "refused")) return "REFUSED";
    if (!strcmp(n->state, "stopped")) return "STOPPED";
    if (net_stale(a, n)) return "stale";
    if (n->rpc_error) return "rpc err";
    return NULL;
}

/* Networks raild watches itself in full ("ethereum: anvil 1234/1232"), the ones fed by
 * external watchers only when something is wrong, then how many are fine — as many as fit
 * in maxw columns, the rest counted ("+3 more"): a busy cluster must never push it off. */
void nets_strip(struct app *a, char *out, size_t cap, int maxw, int *alarm)
{
    char seg[NETS_MAX + 1][160];
    int nseg = 0, fine = 0;
    *out = 0;
    *alarm = 0;
    for (int i = 0; i < a->nnets; i++) {
        const struct net_info *n = &a->nets[i];
        const char *flag = net_flag(a, n);
        if (n->state[0])   /* the rail, the network, head/finalized */
            snprintf(seg[nseg++], sizeof seg[0], "%s%s%s %lld/%lld%s%s", n->rail, n->rail[0] ? ": " : "", n->name,
                     n->head, n->fin, flag ? " " : "", flag ? flag : "");
        else if (flag)
            snprintf(seg[nseg++], sizeof seg[0], "%s %s", n->name, flag);
        else { fine++; continue; }
        if (flag && (n->state[0] || (strcmp(flag, "stale") && strcmp(flag, "rpc err")))) *alarm = 1;
    }
    if (fine) snprintf(seg[nseg++], sizeof seg[0], "%d chain%s ok", fine, fine == 1 ? "" : "s");
    const char *sep = a->unicode ? " · " : " | ";
    size_t len = 0;
    for (int i = 0; i < nseg; i++) {
        char more[32] = "";
        if (i + 1 < nseg) snprintf(more, sizeof more, "%s+%d more", sep, nseg - i - 1);
        char trial[800];
        snprintf(trial, sizeof trial, "%s%s%s%s ", out, i ? sep : " ", seg[i], more);
        if (text_width(trial) > maxw) {   /* this one does not fit: count it and the rest */
            if (i) snprintf(out + len, cap - len, "%s+%d more ", sep, nseg - i);
            else snprintf(out, cap, " %d chains ", nseg);
            return;
        }
        len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s", i ? sep : " ", seg[i]);
        if (len >= cap) len = cap - 1;
    }
    if (len && len + 1 < cap) strcat(out, " ");
}

/* the columns of load()'s query, in order */
enum { N_NAME, N_KIND, N_CHAIN_ID, N_BLOCK_MS, N_RAILS, N_HEAD, N_FINAL, N_HEAD_AT, N_WATCHER,
       N_RPC_HOST, N_CHECKPOINT, N_LAG, N_RANGE, N_REORGS, N_WHY, N_LAST_ERROR, N_LAST_ERROR_AT, N_RPC_ERRORS };

static int load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    const char *env = a->cfg.env[0] ? a->cfg.env : a->who.env;
    doc_clear(d);
    nets_load(a);
    PGresult *r = cq(a, "SELECT n.name, n.address_kind, n.chain_id::text, n.block_time_ms::text,"
                        " coalesce((SELECT string_agg(id || ' ' || coalesce(contract, '(no token configured)'), ', ')"
                        "   FROM rails WHERE network = n.name), '-'),"
                        " coalesce(h.head::text, '-'), coalesce(h.finalized::text, '-'),"
                        " coalesce(to_char(h.updated_at, 'YYYY-MM-DD HH24:MI:SS') || ', '"
                        "   || round(extract(epoch FROM now() - h.updated_at)::numeric, 1) || ' s ago', 'never'),"
                        " coalesce(w.state, 'no raild watcher (fed by an external watcher key)'),"
                        " coalesce(w.rpc_host, '-'), coalesce(w.checkpoint::text, '-'),"
                        " coalesce((w.head - w.checkpoint)::text, '-'), coalesce(w.range_size::text, '-'),"
                        " coalesce(w.reorgs::text, '-'), coalesce(w.reason, ''), coalesce(w.last_error, ''),"
                        " coalesce(to_char(w.last_error_at, 'YYYY-MM-DD HH24:MI:SS'), ''), coalesce(w.rpc_errors::text, '')"
                        " FROM networks n LEFT JOIN chain_heads h ON h.network = n.name"
                        " LEFT JOIN watcher_status w ON w.network = n.name WHERE n.environment = $1"
                        " ORDER BY (w.network IS NULL), n.name", env[0] ? env : "sandbox");
    if (!r) return -1;
    doc_nl(d);
    doc_add(d, S_TITLE, " Networks of %s: heads, finality and the watchers", env[0] ? env : "sandbox");
    for (int i = 0; i < PQntuples(r); i++) {
#define F(c) PQgetvalue(r, i, c)
        const struct net_info *n = NULL;
        for (int k = 0; k < a->nnets; k++)
            if (!strcmp(a->nets[k].name, F(N_NAME))) n = &a->nets[k];
        const char *flag = n ? net_flag(a, n) : NULL;
        doc_nl(d);
        doc_nl(d);
        doc_add(d, S_TITLE, " %s", F(N_NAME));
        doc_add(d, S_DIM, "  %s, chain id %s, a block every %s ms", F(N_KIND), F(N_CHAIN_ID), F(N_BLOCK_MS));
        if (flag) doc_add(d, S_STATUS_ERR, "  %s", flag);
        doc_kv(d, "rails", S_NORMAL, F(N_RAILS));
        char hf[160];
        snprintf(hf, sizeof hf, "%s / %s   (head updated %s)", F(N_HEAD), F(N_FINAL), F(N_HEAD_AT));
        doc_kv(d, "head / final", S_NORMAL, hf);
        doc_kv(d, "watcher", !strcmp(F(N_WATCHER), "running") ? S_NORMAL : S_STATUS_ERR, F(N_WATCHER));
        if (F(N_WHY)[0]) doc_kv(d, "why", S_STATUS_ERR, F(N_WHY));
        if (strcmp(F(N_RPC_HOST), "-")) {   /* raild watches it: where it is and how */
            doc_kv(d, "rpc host", S_DIM, F(N_RPC_HOST));
            char cp[200];
            snprintf(cp, sizeof cp, "%s (lag %s blocks), range %s blocks, %s reorgs", F(N_CHECKPOINT), F(N_LAG), F(N_RANGE), F(N_REORGS));
            doc_kv(d, "checkpoint", S_NORMAL, cp);
        }
        if (F(N_LAST_ERROR)[0]) {
            char le[400];
            snprintf(le, sizeof le, "%s  %s", F(N_LAST_ERROR_AT), F(N_LAST_ERROR));
            doc_kv(d, "last error", S_STATUS_ERR, le);
            doc_kv(d, "errors", S_DIM, F(N_RPC_ERRORS));
        }
#undef F
    }
    PQclear(r);
    return 0;
}

static const char *const TABLES[] = { "watcher_status", "payments", NULL };

const struct view_ops networks_ops = {
    .name = "networks", .title = "Networks", .mask = VM_NETWORKS, .tables = TABLES,
    .load = load, .draw = doc_draw,
};
