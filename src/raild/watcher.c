/* watcher — raild reads the chains itself (DESIGN §10), worker "watch" and `raild watch`.
 *
 * One watcher per network across every raild copy: a lease row in watcher_leases, renewed
 * while it works; a copy that dies stops renewing and another takes over when it lapses
 * (RAILD_WATCH_LEASE_S, default 6 s). The console role cannot write leases.
 *
 * A tick, for the network whose lease this thread holds:
 *   1. once per start: eth_chainId must equal networks.chain_id, else the watcher refuses
 *      (watcher_status.state = refused, the reason in the log and /metrics) and re-checks
 *      every 30 s — a wrong URL must never feed another chain's transfers in;
 *   2. head (eth_blockNumber) and finality: the node's `finalized` block where a rail of the
 *      network asks for it (finality_tag) and the node has one, else head minus the depth;
 *   3. reorg check: the checkpoint block's hash must still be the node's. If not, walk
 *      back over the stored unfinalized window (chain_blocks) to the common ancestor, report
 *      the transfers of orphaned blocks as removed — the same ingest path as a watcher's
 *      `removed: true` — and rescan from there. A fork below our recorded finality is an
 *      incident: a chain_incident exception opens and this network stops until an operator
 *      resolves it (resume_watching);
 *   4. scan checkpoint+1 .. head in ranges: eth_getLogs for Transfer with `to` in our
 *      deposit addresses and wallets (any contract: look-alikes become wrong_asset) and
 *      `from` in our wallets, address lists chunked; unfinalized blocks' headers are fetched
 *      and chained by parentHash. Each range's transfers, headers and the new checkpoint
 *      commit in one transaction, so a kill -9 anywhere resumes with no gap and, ingest
 *      being idempotent on (network, tx_hash, log_index), nothing counted twice. The
 *      next range is fetched on a thread of its own while one is stored (scan_to): the
 *      fetch reads only the node, the store only the database, and the next range's
 *      headers chain onto the stored one's last hash as they would onto the checkpoint;
 *   5. the head goes to ingest_head (at most the checkpoint: never confirm depth we did
 *      not scan).
 * Ranges adapt: halve on a range/result-count error or a timeout, double after 3
 * successes up to the network's cap (Tron 5,000). A 429 waits its Retry-After; other errors
 * back off with jitter and fail over to the next URL. */
#include "raild/chain_rpc.h"
#include "raild/cli.h"
#include "raild/exceptions.h"
#include "raild/ingest.h"
#include "raild/webhook_sign.h"
#include "raild/worker.h"
#include "core/address.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static unsigned random_u32(void)
{
    unsigned v;
    util_random_bytes((unsigned char *)&v, sizeof v);
    return v;
}

#define LL(buf, v) snprintf(buf, sizeof buf, "%lld", (long long)(v))

struct watch_cfg {
    int poll_ms, lease_s, timeout_ms, range_max_evm, addr_chunk;
};

struct watch {
    struct worker_ctx *w;
    struct watch_cfg cfg;
    char net[40], kind[8], holder[96];
    long long chain_id;
    int verified;              /* eth_chainId checked since the lease was taken */
    time_t refused_until;
    PGconn *db;
    struct rpc rpc;
    int have_rpc;
    char rpc_stamp[64];        /* network_rpc.updated_at the client was built from */
    int range, range_cap, successes, backoff_ms;
    int range_bad, bad_age;    /* smallest range a provider refused, and successes since */
    enum rpc_fail last_fail;   /* of the last failed call */
    long long rep_head, rep_fin;   /* last head reported to ingest (-1: report the next) */
    int no_tag_ticks;          /* the node refused the `finalized` tag: ticks until asking again */
    /* the status row as last written, to write only on change */
    char st_state[16], st_reason[200], st_err[200];
    long long st_head, st_fin, st_cp;
    int st_range;
    long long head_seen, head_seen_at;
    json_t *errors;            /* label -> count since start, flushed into the status row */
    int errors_dirty;
    int in_prefetch;           /* a fetch runs on another thread beside store_range (scan_to) */
    char deferred_err[200];    /* its last RPC error, for the status row after the join */
};

static int env_int(const char *name, int def, int lo, int hi)
{
    const char *v = getenv(name);
    long long x;
    if (!v || !*v || util_parse_i64(v, lo, hi, &x)) return def;
    return (int)x;
}

static void cfg_load(struct watch_cfg *c)
{
    c->poll_ms = env_int("RAILD_WATCH_POLL_MS", 1000, 50, 600000);
    c->lease_s = env_int("RAILD_WATCH_LEASE_S", 6, 2, 600);
    c->timeout_ms = env_int("RAILD_WATCH_RPC_TIMEOUT_MS", 10000, 100, 120000);
    c->range_max_evm = env_int("RAILD_WATCH_MAX_RANGE", 2000, 1, 100000);
    c->addr_chunk = env_int("RAILD_WATCH_ADDRESS_CHUNK", 1000, 1, 10000);
}

/* ------------------------------------------------------------ status, lease */

static void status_write(struct watch *s, const char *state, const char *reason, const char *err, long long head,
                         long long fin, long long cp)
{
    int changed = strcmp(s->st_state, state) || strcmp(s->st_reason, reason ? reason : "") ||
                  (err && strcmp(s->st_err, err)) || head != s->st_head || fin != s->st_fin || cp != s->st_cp ||
                  s->range != s->st_range || s->errors_dirty;
    if (!changed) return;
    char h[32], f[32], c[32], rg[32];
    LL(h, head);
    LL(f, fin);
    LL(c, cp);
    LL(rg, s->range);
    char *codes = json_dumps(s->errors, JSON_COMPACT | JSON_SORT_KEYS);
    PGresult *r = db_q(s->db,
        "INSERT INTO watcher_status (network, state, holder, reason, rpc_host, head, finalized, checkpoint,"
        "                            head_seen_at, range_size, rpc_errors, last_error, last_error_at)"
        " VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), nullif($6, '-1')::bigint, nullif($7, '-1')::bigint,"
        "         nullif($8, '-1')::bigint, now(), $9::int, $10::jsonb, $11::text,"
        "         CASE WHEN $11::text IS NOT NULL THEN now() END)"
        " ON CONFLICT (network) DO UPDATE SET state = $2, holder = $3, reason = nullif($4, ''),"
        "   rpc_host = nullif($5, ''), head = coalesce(nullif($6, '-1')::bigint, watcher_status.head),"
        "   finalized = coalesce(nullif($7, '-1')::bigint, watcher_status.finalized),"
        "   checkpoint = coalesce(nullif($8, '-1')::bigint, watcher_status.checkpoint),"
        "   head_seen_at = CASE WHEN nullif($6, '-1')::bigint IS DISTINCT FROM watcher_status.head"
        "                        AND $6 <> '-1' THEN now() ELSE watcher_status.head_seen_at END,"
        "   range_size = $9::int, rpc_errors = $10::jsonb,"
        "   last_error = coalesce($11::text, watcher_status.last_error),"
        "   last_error_at = CASE WHEN $11::text IS NOT NULL THEN now() ELSE watcher_status.last_error_at END,"
        "   updated_at = now()",
        s->net, state, s->holder, reason ? reason : "", s->have_rpc ? rpc_host(&s->rpc) : "", h, f, c, rg,
        codes ? codes : "{}", err);
    free(codes);
    if (db_failed(r)) log_warn("watch.status_write_failed", "network=%s sqlstate=%s", s->net, db_sqlstate(r));
    else {
        snprintf(s->st_state, sizeof s->st_state, "%s", state);
        snprintf(s->st_reason, sizeof s->st_reason, "%s", reason ? reason : "");
        if (err) snprintf(s->st_err, sizeof s->st_err, "%s", err);
        s->st_head = head, s->st_fin = fin, s->st_cp = cp, s->st_range = s->range;
        s->errors_dirty = 0;
    }
    PQclear(r);
}

/* 1 held (taken or renewed), 0 another copy holds it, -1 database error */
static int lease_take(struct watch *s)
{
    char ttl[16];
    LL(ttl, s->cfg.lease_s);
    PGresult *r = db_q(s->db,
        "INSERT INTO watcher_leases (network, holder, expires_at) VALUES ($1, $2, now() + $3::int * interval '1 s')"
        " ON CONFLICT (network) DO UPDATE SET holder = $2, expires_at = EXCLUDED.expires_at"
        "  WHERE watcher_leases.holder = $2 OR watcher_leases.expires_at < now() RETURNING holder",
        s->net, s->holder, ttl);
    int rc = db_failed(r) ? -1 : PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

static void lease_release(struct watch *s)
{
    PQclear(db_q(s->db, "DELETE FROM watcher_leases WHERE network = $1 AND holder = $2", s->net, s->holder));
}

/* the status row gets an RPC error, its state and reason as they were */
static void status_error(struct watch *s, const char *msg)
{
    status_write(s, s->st_state[0] ? s->st_state : "starting", s->st_reason, msg, -1, -1, -1);
}

static void count_error(struct watch *s, const struct rpc_err *e, const char *what)
{
    char label[32], msg[200];
    rpc_err_label(e, label, sizeof label);
    json_t *v = json_object_get(s->errors, label);
    json_object_set_new(s->errors, label, json_integer((v ? json_integer_value(v) : 0) + 1));
    s->errors_dirty = 1;
    snprintf(msg, sizeof msg, "%s: %s (%s) via %s", what, e->msg, label, rpc_host(&s->rpc));
    log_warn("watch.rpc_error", "network=%s call=%s code=%s host=%s msg=\"%s\"", s->net, what, label,
             rpc_host(&s->rpc), e->msg);
    snprintf(s->st_err, sizeof s->st_err, "%s", "");   /* force the write of the new error */
    if (s->in_prefetch) {   /* the connection is the storing thread's: scan_to writes it after the join */
        snprintf(s->deferred_err, sizeof s->deferred_err, "%s", msg);
        return;
    }
    status_error(s, msg);
}

/* ------------------------------------------------------------ RPC helpers */

/* A call; on failure counts the error and backs off. A 429 waits its Retry-After and asks
 * again (up to 3 times: a rate limit is not a reason to give up the tick); a transport
 * error fails over to the next URL and asks it once. */
static json_t *call(struct watch *s, const char *method, json_t *params, struct rpc_err *e)
{
    for (int attempt = 0;; attempt++) {
        json_t *r = rpc_call(&s->rpc, method, params ? json_incref(params) : NULL, e);
        if (r) {
            s->backoff_ms = 0;
            json_decref(params);
            return r;
        }
        count_error(s, e, method);
        s->last_fail = e->fail;
        if (e->fail == RPC_HTTP && e->code == 429 && attempt < 3 && !*s->w->stop) {
            int wait = e->retry_after_s > 0 ? e->retry_after_s : 1;
            worker_sleep(s->w, (wait > 60 ? 60 : wait) * 1000);
            continue;
        }
        if (e->fail == RPC_TRANSPORT && !e->timeout && s->rpc.nurls > 1 && attempt == 0) {
            rpc_failover(&s->rpc);
            continue;
        }
        break;
    }
    json_decref(params);
    if (!rpc_err_is_range(e) && !(e->fail == RPC_HTTP && e->code == 429)) {
        if (e->fail == RPC_TRANSPORT || e->fail == RPC_HTTP) rpc_failover(&s->rpc);
        s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : 250;
        if (s->backoff_ms > 30000) s->backoff_ms = 30000;
        worker_sleep(s->w, s->backoff_ms / 2 + (int)(random_u32() % (unsigned)(s->backoff_ms / 2 + 1)));
    }
    return NULL;
}

static int get_block(struct watch *s, const char *tag_or_num, struct rpc_block *b, int *missing)
{
    struct rpc_err e;
    *missing = 0;
    json_t *r = call(s, "eth_getBlockByNumber", json_pack("[s,b]", tag_or_num, 0), &e);
    if (!r) return -1;
    const char *why;
    int rc = 0;
    if (json_is_null(r)) *missing = 1, rc = -1;
    else if (rpc_parse_block(r, b, &why)) {
        struct rpc_err m = { .fail = RPC_MALFORMED };
        snprintf(m.msg, sizeof m.msg, "%s", why);
        count_error(s, &m, "eth_getBlockByNumber");
        rc = -1;
    }
    json_decref(r);
    return rc;
}

static int get_block_n(struct watch *s, long long n, struct rpc_block *b, int *missing)
{
    char q[32];
    snprintf(q, sizeof q, "0x%llx", (unsigned long long)n);
    return get_block(s, q, b, missing);
}

/* ------------------------------------------------------------ set-up */

static int load_network(struct watch *s)
{
    enum { N_KIND, N_CHAIN_ID, N_URLS, N_STAMP, N_FINALITY_DEPTH, N_FINALITY_TAG };
    PGresult *r = db_q(s->db, "SELECT n.address_kind, n.chain_id, rpc.urls, rpc.updated_at::text,"
                              " coalesce(max(r.finality_depth), 0), bool_or(r.finality_tag)"
                              " FROM networks n JOIN network_rpc rpc ON rpc.network = n.name"
                              " LEFT JOIN rails r ON r.network = n.name WHERE n.name = $1"
                              " GROUP BY 1, 2, 3, 4", s->net);
    if (db_failed(r) || PQntuples(r) != 1) { PQclear(r); return -1; }
    snprintf(s->kind, sizeof s->kind, "%s", PQgetvalue(r, 0, N_KIND));
    s->chain_id = atoll(PQgetvalue(r, 0, N_CHAIN_ID));
    if (strcmp(s->rpc_stamp, PQgetvalue(r, 0, N_STAMP))) {   /* new or changed endpoints */
        char *urls = secret_open_text(PQgetvalue(r, 0, N_URLS));
        if (s->have_rpc) rpc_free(&s->rpc);
        s->have_rpc = urls && !rpc_init(&s->rpc, urls, s->cfg.timeout_ms);
        if (urls) { memset(urls, 0, strlen(urls)); free(urls); }
        snprintf(s->rpc_stamp, sizeof s->rpc_stamp, "%s", s->have_rpc ? PQgetvalue(r, 0, N_STAMP) : "");
        s->verified = 0;
        if (!s->have_rpc) log_error("watch.rpc_unreadable", "network=%s reason=\"cannot open the stored RPC URLs"
                                    " (is RAILD_SECRETS_KEY the one they were sealed with?)\"", s->net);
    }
    PQclear(r);
    s->range_cap = !strcmp(s->kind, "tron") ? (s->cfg.range_max_evm < 5000 ? s->cfg.range_max_evm : 5000)
                                             : s->cfg.range_max_evm;
    /* start at the cap: a provider's lower limit costs one -32005 and a halving, while
     * starting low costs a catch-up many small ranges */
    if (s->range <= 0 || s->range > s->range_cap) s->range = s->range_cap;
    return s->have_rpc ? 0 : -1;
}

static int verify_chain(struct watch *s)
{
    struct rpc_err e;
    json_t *r = call(s, "eth_chainId", NULL, &e);
    if (!r) return -1;
    long long id;
    int bad = rpc_quantity(r, &id);
    json_decref(r);
    char reason[200];
    if (bad) snprintf(reason, sizeof reason, "eth_chainId answered something that is not a chain id");
    else if (id != s->chain_id)
        snprintf(reason, sizeof reason, "chain id mismatch: the node at %s is chain %lld, network %s is chain %lld",
                 rpc_host(&s->rpc), id, s->net, s->chain_id);
    else {
        s->verified = 1;
        log_info("watch.chain_verified", "network=%s chain_id=%lld host=%s", s->net, id, rpc_host(&s->rpc));
        return 0;
    }
    log_error("watch.refused", "network=%s reason=\"%s\"", s->net, reason);
    status_write(s, "refused", reason, NULL, -1, -1, -1);
    s->refused_until = time(NULL) + 30;
    return -1;
}

/* ------------------------------------------------------------ checkpoint and reorgs */

struct cp {
    long long number;
    char hash[72];
};

static int cp_load(struct watch *s, struct cp *c, long long node_fin)
{
    char *v = db_val(s->db, "SELECT block_number || ' ' || block_hash FROM chain_checkpoints WHERE network = $1",
                     s->net);
    if (v) {
        c->number = atoll(v);
        const char *sp = strchr(v, ' ');
        snprintf(c->hash, sizeof c->hash, "%s", sp ? sp + 1 : "");
        free(v);
        return 0;
    }
    /* first start: from the node's finalized block (`set-rpc --from-block` starts earlier) */
    c->number = node_fin;
    c->hash[0] = 0;
    return 0;
}

/* the transfers above `ancestor` are reported removed, the window and checkpoint move back */
static int orphan_above(struct watch *s, long long ancestor, const char *ancestor_hash)
{
    char a[32];
    LL(a, ancestor);
    if (db_cmd(s->db, "BEGIN")) return -1;
    enum { T_TX_HASH, T_LOG_INDEX, T_BLOCK, T_BLOCK_HASH, T_CONTRACT, T_FROM, T_TO, T_VALUE };
    PGresult *r = db_q(s->db, "SELECT tx_hash, log_index, block_number, coalesce(block_hash, ''), contract,"
                              " from_address, to_address, value::text FROM chain_transfers"
                              " WHERE network = $1 AND block_number > $2::bigint AND status = 'seen'"
                              " ORDER BY block_number, log_index", s->net, a);
    int rc = db_failed(r) ? -1 : 0;
    int n = rc ? 0 : PQntuples(r);
    struct xfer_in *xs = calloc(n ? (size_t)n : 1, sizeof *xs);
    for (int i = 0; i < n && xs; i++) {
        struct xfer_in *x = &xs[i];
        snprintf(x->tx_hash, sizeof x->tx_hash, "%s", PQgetvalue(r, i, T_TX_HASH));
        x->log_index = atoll(PQgetvalue(r, i, T_LOG_INDEX));
        x->block_number = atoll(PQgetvalue(r, i, T_BLOCK));
        snprintf(x->block_hash, sizeof x->block_hash, "%s", PQgetvalue(r, i, T_BLOCK_HASH));
        snprintf(x->contract, sizeof x->contract, "%s", PQgetvalue(r, i, T_CONTRACT));
        snprintf(x->from, sizeof x->from, "%s", PQgetvalue(r, i, T_FROM));
        snprintf(x->to, sizeof x->to, "%s", PQgetvalue(r, i, T_TO));
        snprintf(x->value, sizeof x->value, "%s", PQgetvalue(r, i, T_VALUE));
        x->removed = 1;
    }
    PQclear(r);
    if (!xs) rc = -1;
    if (!rc && n && ingest_batch(s->db, s->net, xs, (size_t)n, NULL, NULL)) rc = -1;
    free(xs);
    if (!rc) {
        r = db_q(s->db, "DELETE FROM chain_blocks WHERE network = $1 AND number > $2::bigint", s->net, a);
        rc = db_failed(r) ? -1 : 0;
        PQclear(r);
    }
    if (!rc) {
        r = db_q(s->db, "INSERT INTO chain_checkpoints (network, block_number, block_hash) VALUES ($1, $2::bigint, $3)"
                        " ON CONFLICT (network) DO UPDATE SET block_number = $2::bigint, block_hash = $3,"
                        " updated_at = now()", s->net, a, ancestor_hash);
        rc = db_failed(r) ? -1 : 0;
        PQclear(r);
    }
    if (!rc) {
        r = db_q(s->db, "UPDATE watcher_status SET reorgs = reorgs + 1 WHERE network = $1", s->net);
        PQclear(r);
    }
    if (rc || db_cmd(s->db, "COMMIT")) {
        db_cmd(s->db, "ROLLBACK");
        return -1;
    }
    log_warn("watch.reorg", "network=%s common_ancestor=%lld orphaned_transfers=%d", s->net, ancestor, n);
    return 0;
}

static int open_incident(struct watch *s, long long at, const char *why)
{
    json_t *d = json_pack("{s:s,s:I,s:s}", "network", s->net, "block", (json_int_t)at, "reason", why);
    if (db_cmd(s->db, "BEGIN")) { json_decref(d); return -1; }
    PGresult *r = db_q(s->db, "SELECT environment FROM networks WHERE name = $1", s->net);
    int rc = db_failed(r) || PQntuples(r) != 1 ? -1 : exc_open_network(s->db, "chain_incident", s->net,
                                                                         PQgetvalue(r, 0, 0), d);
    PQclear(r);
    json_decref(d);
    if (rc < 0 || db_cmd(s->db, "COMMIT")) { db_cmd(s->db, "ROLLBACK"); return -1; }
    log_error("watch.incident", "network=%s block=%lld reason=\"%s\"", s->net, at, why);
    status_write(s, "incident", why, NULL, -1, -1, -1);
    return 0;
}

/* 1 while a chain_incident is live for this network (the watcher waits for an operator) */
static int incident_live(struct watch *s)
{
    char *v = db_val(s->db, "SELECT 1 FROM exceptions WHERE type = 'chain_incident' AND network = $1"
                            " AND state IN ('open','claimed')", s->net);
    free(v);
    return v != NULL;
}

/* 1 when the node's block n is not the one we stored (or n is gone), 0 same, -1 RPC error */
static int block_differs(struct watch *s, long long n, const char *stored, struct rpc_block *b)
{
    int missing;
    if (get_block_n(s, n, b, &missing)) return missing ? 1 : -1;
    return strcmp(stored, b->hash) != 0;
}

/* Deep walk, after an operator resumed an incident: the lowest block whose hash we know
 * (the stored window, and the block hash recorded with each transfer of the last 100,000
 * blocks) and the node no longer has. Returns it, or -1 (-2 on RPC error). */
static long long lowest_changed(struct watch *s, const struct cp *c)
{
    char top[32];
    LL(top, c->number);
    enum { B_NUMBER, B_HASH };
    PGresult *r = db_q(s->db,
        "SELECT number, hash FROM chain_blocks WHERE network = $1 AND number <= $2::bigint"
        " UNION SELECT DISTINCT block_number, block_hash FROM chain_transfers"
        "  WHERE network = $1 AND status = 'seen' AND block_hash IS NOT NULL"
        "    AND block_number BETWEEN $2::bigint - 100000 AND $2::bigint ORDER BY 1", s->net, top);
    if (db_failed(r)) { PQclear(r); return -2; }
    long long low = -1;
    for (int i = 0; i < PQntuples(r) && low < 0; i++) {
        struct rpc_block b;
        char h[72];
        /* tron stores hashes without 0x; the node speaks 0x */
        snprintf(h, sizeof h, "%s%s", strncmp(PQgetvalue(r, i, B_HASH), "0x", 2) ? "0x" : "", PQgetvalue(r, i, B_HASH));
        int d = block_differs(s, atoll(PQgetvalue(r, i, B_NUMBER)), h, &b);
        if (d < 0) { PQclear(r); return -2; }
        if (d) low = atoll(PQgetvalue(r, i, 0));
    }
    PQclear(r);
    return low;
}

/* The checkpoint block must still be canonical. 0 ok, 1 a reorg was unwound (the
 * checkpoint moved back), -1 retry later, -2 incident. Walks back over the stored window (every block above our recorded finality
 * is there) to the first block the node still has: the common ancestor. A fork at or
 * below the recorded finalized height is an incident. deep: an operator resumed after an
 * incident, so finality is no limit. */
static int check_reorg(struct watch *s, struct cp *c, long long recorded_fin, int deep)
{
    if (!c->hash[0] || c->number < 0) return 0;
    struct rpc_block b;
    int d = block_differs(s, c->number, c->hash, &b);
    if (d <= 0) return d;
    long long ancestor = -1;
    if (deep) {
        long long low = lowest_changed(s, c);
        if (low == -2) return -1;
        ancestor = (low >= 0 ? low : c->number) - 1;
    } else {
        for (long long n = c->number - 1; n >= 0 && n >= recorded_fin; n--) {
            char nn[32];
            LL(nn, n);
            char *stored = db_val(s->db, "SELECT hash FROM chain_blocks WHERE network = $1 AND number = $2::bigint",
                                  s->net, nn);
            if (!stored) break;   /* below the window: cannot tell */
            d = block_differs(s, n, stored, &b);
            free(stored);
            if (d < 0) return -1;
            if (!d) { ancestor = n; break; }
        }
    }
    if (ancestor >= 0 || (deep && ancestor == -1)) {
        int missing;
        if (ancestor < 0) ancestor = 0;
        if (get_block_n(s, ancestor, &b, &missing)) return -1;
        return orphan_above(s, ancestor, b.hash) ? -1 : 1;
    }
    char why[200];
    snprintf(why, sizeof why, "reorg deeper than finality: block %lld is no longer canonical and the fork reaches"
             " the finalized height %lld", c->number, recorded_fin);
    open_incident(s, c->number, why);
    return -2;
}

/* ------------------------------------------------------------ scanning */

struct addrs {
    char **hex;                /* 0x + 64 hex topic forms */
    int n;
};

static void addrs_free(struct addrs *a)
{
    for (int i = 0; i < a->n; i++) free(a->hex[i]);
    free(a->hex);
    a->hex = NULL;
    a->n = 0;
}

static int addrs_load(struct watch *s, const char *sql, struct addrs *a)
{
    PGresult *r = db_q(s->db, sql, s->net);
    if (db_failed(r)) { PQclear(r); return -1; }
    a->n = 0;
    a->hex = calloc((size_t)PQntuples(r) + 1, sizeof *a->hex);
    for (int i = 0; i < PQntuples(r) && a->hex; i++) {
        char h[48];
        const char *addr = PQgetvalue(r, i, 0);
        if (!strcmp(s->kind, "tron") ? address_tron_to_hex(addr, h, sizeof h) : address_canonical("evm", addr, h, sizeof h))
            continue;
        char *t = malloc(67);
        if (!t) break;
        snprintf(t, 67, "0x000000000000000000000000%s", h + 2);
        a->hex[a->n++] = t;
    }
    PQclear(r);
    return a->hex ? 0 : -1;
}

struct found {
    struct xfer_in *x;
    char (*bhash)[72];
    size_t n, cap;
};

static int found_add(struct found *f, const struct xfer_in *x, const char *bh)
{
    for (size_t i = 0; i < f->n; i++)   /* wallet to wallet matches both filters */
        if (!strcmp(f->x[i].tx_hash, x->tx_hash) && f->x[i].log_index == x->log_index) return 0;
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        struct xfer_in *nx = realloc(f->x, cap * sizeof *nx);
        if (!nx) return -1;
        f->x = nx;
        char (*nb)[72] = realloc(f->bhash, cap * sizeof *nb);
        if (!nb) return -1;
        f->bhash = nb;
        f->cap = cap;
    }
    f->x[f->n] = *x;
    snprintf(f->bhash[f->n], 72, "%s", bh);
    f->n++;
    return 0;
}

/* eth_getLogs over [from, to] for one address chunk in topic position `pos` (2 to, 1 from).
 * 0 ok, -1 error (*e), -3 malformed log (skipped range would lose money: retry) */
static int logs_chunk(struct watch *s, long long from, long long to, struct addrs *a, int off, int n, int pos,
                      struct found *f, struct rpc_err *e)
{
    char fb[32], tb[32];
    snprintf(fb, sizeof fb, "0x%llx", (unsigned long long)from);
    snprintf(tb, sizeof tb, "0x%llx", (unsigned long long)to);
    json_t *list = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(list, json_string(a->hex[off + i]));
    json_t *topics = pos == 2 ? json_pack("[s,n,o]", RPC_TRANSFER_TOPIC, list) : json_pack("[s,o]", RPC_TRANSFER_TOPIC, list);
    json_t *filter = json_pack("{s:s,s:s,s:o}", "fromBlock", fb, "toBlock", tb, "topics", topics);
    json_t *r = call(s, "eth_getLogs", json_pack("[o]", filter), e);
    if (!r) return -1;
    int rc = 0;
    if (!json_is_array(r)) {
        e->fail = RPC_MALFORMED;
        snprintf(e->msg, sizeof e->msg, "eth_getLogs result is not an array");
        count_error(s, e, "eth_getLogs");
        rc = -3;
    }
    size_t i;
    json_t *log;
    json_array_foreach(r, i, log) {
        if (rc) break;
        struct xfer_in x;
        char bh[72];
        const char *why;
        int p = rpc_parse_transfer_log(log, s->kind, &x, bh, &why);
        if (p == 1) continue;
        if (p < 0 || x.block_number < from || x.block_number > to) {
            e->fail = RPC_MALFORMED;
            snprintf(e->msg, sizeof e->msg, "log %zu: %s", i, p < 0 ? why : "blockNumber outside the range asked");
            count_error(s, e, "eth_getLogs");
            rc = -3;
            break;
        }
        if (found_add(f, &x, bh)) rc = -1;
    }
    json_decref(r);
    return rc;
}

static int cmp_xfer(const void *a, const void *b)
{
    const struct xfer_in *x = a, *y = b;
    if (x->block_number != y->block_number) return x->block_number < y->block_number ? -1 : 1;
    return x->log_index < y->log_index ? -1 : x->log_index > y->log_index;
}

/* One range as read from the node: its transfers and the headers of its unfinalized blocks
 * (at least its last block's). */
struct fetched {
    long long from, to;
    struct found f;
    struct rpc_block *hs;
    int nh;
    long long rpc_ms;
};

static void fetched_free(struct fetched *x)
{
    free(x->hs);
    free(x->f.x);
    free(x->f.bhash);
    memset(x, 0, sizeof *x);
}

/* Reads [from, to] from the node: logs, then the headers of its unfinalized blocks chained
 * by parentHash from prev_hash (the hash of block from - 1 as we hold it, "" unknown).
 * RPC only, no database: it may run beside store_range. 0 ok, 1 range error (halve), -1
 * other error, 2 the chain moved under us (recheck). */
static int fetch_range(struct watch *s, long long from, long long to, long long fin, const char *prev_hash,
                       struct addrs *to_addrs, struct addrs *from_addrs, struct fetched *out)
{
    memset(out, 0, sizeof *out);
    out->from = from, out->to = to;
    struct found *f = &out->f;
    struct rpc_err e;
    int rc = 0;
    int64_t t0 = util_now_ms();
    for (int pos = 2; pos >= 1 && !rc; pos--) {
        struct addrs *a = pos == 2 ? to_addrs : from_addrs;
        for (int off = 0; off < a->n && !rc; off += s->cfg.addr_chunk) {
            int n = a->n - off < s->cfg.addr_chunk ? a->n - off : s->cfg.addr_chunk;
            int k = logs_chunk(s, from, to, a, off, n, pos, f, &e);
            if (k == -1) rc = rpc_err_is_range(&e) ? 1 : -1;
            else if (k) rc = -1;
        }
    }
    /* headers: every unfinalized block (parent-hash chain), else only the last */
    long long hfrom = to > fin ? (from > fin + 1 ? from : fin + 1) : to;
    int nh = (int)(to - hfrom + 1);
    struct rpc_block *hs = rc ? NULL : calloc((size_t)nh, sizeof *hs);
    if (!rc && !hs) rc = -1;
    for (int i = 0; !rc && i < nh; i++) {
        int missing;
        if (get_block_n(s, hfrom + i, &hs[i], &missing)) rc = missing ? 2 : -1;
        else if (hs[i].number != hfrom + i) rc = -1;
        else {
            const char *prev = i ? hs[i - 1].hash : (hfrom == from ? prev_hash : "");
            if (prev[0] && strcmp(hs[i].parent, prev)) rc = 2;   /* a reorg between calls */
        }
    }
    for (size_t i = 0; !rc && i < f->n; i++)   /* every log must be on the chain we chained */
        if (f->x[i].block_number >= hfrom && strcmp(f->bhash[i], hs[f->x[i].block_number - hfrom].hash)) rc = 2;
    out->hs = hs, out->nh = nh;
    out->rpc_ms = util_now_ms() - t0;
    if (rc) fetched_free(out);
    return rc;
}

/* A fetched range into the database in one transaction: transfers, unfinalized headers
 * and the checkpoint, which then moves to its end. Database only. 0 or -1. */
static int store_range(struct watch *s, struct cp *c, struct fetched *x, long long fin)
{
    int64_t t0 = util_now_ms();
    struct found *f = &x->f;
    if (f->n) qsort(f->x, f->n, sizeof *f->x, cmp_xfer);   /* bhash no longer aligned: not used below */
    char tn[32], ph[72];
    LL(tn, x->to);
    snprintf(ph, sizeof ph, "%s", x->hs[x->nh - 1].hash);
    size_t bad = 0;
    int t = db_cmd(s->db, "BEGIN");
    if (!t && f->n) t = ingest_batch(s->db, s->net, f->x, f->n, NULL, &bad);
    for (int i = 0; !t && i < x->nh; i++) {
        if (x->hs[i].number <= fin) continue;
        char num[32];
        LL(num, x->hs[i].number);
        PGresult *r = db_q(s->db, "INSERT INTO chain_blocks (network, number, hash, parent_hash)"
                                  " VALUES ($1, $2::bigint, $3, $4) ON CONFLICT (network, number)"
                                  " DO UPDATE SET hash = $3, parent_hash = $4", s->net, num, x->hs[i].hash,
                           x->hs[i].parent);
        t = db_failed(r);
        PQclear(r);
    }
    if (!t) {
        PGresult *r = db_q(s->db, "INSERT INTO chain_checkpoints (network, block_number, block_hash)"
                                  " VALUES ($1, $2::bigint, $3) ON CONFLICT (network) DO UPDATE SET"
                                  " block_number = $2::bigint, block_hash = $3, updated_at = now()", s->net, tn, ph);
        t = db_failed(r);
        PQclear(r);
    }
    if (t || db_cmd(s->db, "COMMIT")) {
        db_cmd(s->db, "ROLLBACK");
        if (t == -3) log_error("watch.transfer_conflict", "network=%s tx=%s", s->net, f->x[bad].tx_hash);
        return -1;
    }
    c->number = x->to;
    snprintf(c->hash, sizeof c->hash, "%s", ph);
    log_info("watch.range", "network=%s from=%lld to=%lld transfers=%zu rpc_ms=%lld db_ms=%lld", s->net, x->from,
             x->to, f->n, (long long)x->rpc_ms, (long long)(util_now_ms() - t0));
    return 0;
}

/* The next range's fetch, on a thread of its own while the current one is stored. */
struct prefetch {
    struct watch *s;
    long long from, to, fin;
    char prev_hash[72];
    struct addrs *to_a, *from_a;
    struct fetched out;
    int rc;
};

static void *prefetch_main(void *arg)
{
    struct prefetch *p = arg;
    p->rc = fetch_range(p->s, p->from, p->to, p->fin, p->prev_hash, p->to_a, p->from_a, &p->out);
    return NULL;
}

/* After a fetch: the range size adapts (halve on a range error; grow back after 3
 * successes, but not onto the size the provider refused until 30 good ranges suggest its
 * limit may have changed). */
static void range_adapt(struct watch *s, int x)
{
    if (x == 1) {
        if (!s->range_bad || s->range < s->range_bad) s->range_bad = s->range;
        s->bad_age = 0;
        s->range = s->range > 1 ? s->range / 2 : 1;
        s->successes = 0;
        log_info("watch.range_halved", "network=%s range=%d", s->net, s->range);
    } else if (x == 0) {
        if (s->range_bad && ++s->bad_age >= 30) s->range_bad = 0;
        int cap = s->range_bad ? s->range_bad - 1 : s->range_cap;
        if (cap > s->range_cap) cap = s->range_cap;
        if (++s->successes >= 3 && s->range < cap) {
            s->range = s->range * 2 > cap ? cap : s->range * 2;
            s->successes = 0;
        }
    }
}

/* the last block of the range that starts at `from`: the range size in use, not past head */
static long long range_end(const struct watch *s, long long from, long long head)
{
    return from + s->range - 1 > head ? head : from + s->range - 1;
}

/* Scans from the checkpoint to head. Each range is stored while the next is fetched, so a
 * catch-up costs about the larger of RPC and database time, not their sum; the checkpoint
 * still moves range by range, in order, each in one transaction. 0, 1 the chain moved (the
 * next tick checks for a reorg), -1 error. */
static int scan_to(struct watch *s, struct cp *c, long long head, long long fin, struct addrs *to_a,
                   struct addrs *from_a)
{
    struct fetched cur = { 0 };
    int have = 0, rc = 0;
    while (!rc && !*s->w->stop && (have || c->number < head)) {
        if (!have) {
            int x = fetch_range(s, c->number + 1, range_end(s, c->number + 1, head), fin, c->hash, to_a, from_a, &cur);
            range_adapt(s, x);
            if (x == 1) {   /* again, smaller; the lease renewed and the status written meanwhile */
                if (lease_take(s) != 1) rc = -1;
                status_write(s, "running", "", NULL, head, fin, c->number);
                continue;
            }
            if (x) { rc = x == 2 ? 1 : -1; break; }
            have = 1;
        }
        struct prefetch p = { .s = s, .from = cur.to + 1, .to = range_end(s, cur.to + 1, head), .fin = fin,
                              .to_a = to_a, .from_a = from_a, .rc = -1 };
        snprintf(p.prev_hash, sizeof p.prev_hash, "%s", cur.hs[cur.nh - 1].hash);
        pthread_t th;
        int ahead = cur.to < head && !*s->w->stop;
        s->deferred_err[0] = 0;
        if (ahead) {
            s->in_prefetch = 1;
            if (pthread_create(&th, NULL, prefetch_main, &p)) ahead = 0, s->in_prefetch = 0;   /* then in turn */
        }
        int st = store_range(s, c, &cur, fin);
        if (ahead) pthread_join(th, NULL);
        s->in_prefetch = 0;
        if (s->deferred_err[0]) status_error(s, s->deferred_err);   /* the prefetch's, now the connection is free */
        fetched_free(&cur);
        have = 0;
        if (ahead) {
            range_adapt(s, p.rc);
            if (st) fetched_free(&p.out);
            else if (p.rc == 0) cur = p.out, have = 1;
            else if (p.rc == 2) rc = 1;
            else if (p.rc != 1) rc = -1;
        }
        if (st) rc = -1;
        if (lease_take(s) != 1) rc = -1;   /* renew while catching up; lost it: stop */
        status_write(s, "running", "", NULL, head, fin, c->number);
    }
    if (have) fetched_free(&cur);
    return rc;
}

static int report_head(struct watch *s, long long head, long long fin)
{
    json_t *out = NULL;
    if (db_cmd(s->db, "BEGIN")) return -1;
    int rc = ingest_head(s->db, s->net, head, fin, 0, &out);
    json_decref(out);
    if (rc == -4) {   /* our finality went down: the node is behind what we recorded */
        db_cmd(s->db, "ROLLBACK");
        return 0;
    }
    if (rc || db_cmd(s->db, "COMMIT")) { db_cmd(s->db, "ROLLBACK"); return -1; }
    return 0;
}

/* ------------------------------------------------------------ the tick */

static int tick(struct watch *s, int *resume_deep)
{
    if (load_network(s)) {
        status_write(s, "stopped", "no readable RPC endpoints (raild admin set-rpc)", NULL, -1, -1, -1);
        return -1;
    }
    if (incident_live(s)) {
        status_write(s, "incident", s->st_reason[0] ? s->st_reason : "a chain_incident is open", NULL, -1, -1, -1);
        *resume_deep = 1;
        return 0;
    }
    if (!s->verified && (time(NULL) < s->refused_until || verify_chain(s))) return -1;
    struct rpc_err e;
    json_t *r = call(s, "eth_blockNumber", NULL, &e);
    long long head;
    if (!r) return -1;
    int bad = rpc_quantity(r, &head);
    json_decref(r);
    if (bad) {
        struct rpc_err m = { .fail = RPC_MALFORMED };
        snprintf(m.msg, sizeof m.msg, "eth_blockNumber result is not a block number");
        count_error(s, &m, "eth_blockNumber");
        return -1;
    }
    /* finality */
    char *v = db_val(s->db, "SELECT coalesce(max(finality_depth), 0) || ' ' || coalesce(bool_or(finality_tag), false)"
                            " || ' ' || coalesce((SELECT finalized FROM chain_heads WHERE network = $1), -1)"
                            " FROM rails WHERE network = $1", s->net);
    if (!v) return -1;
    long long depth = atoll(v), recorded_fin = atoll(strrchr(v, ' ') + 1);
    int want_tag = strstr(v, " t") != NULL;
    free(v);
    long long fin = head - depth;
    if (want_tag && s->no_tag_ticks > 0) s->no_tag_ticks--;
    else if (want_tag) {
        /* a node without the tag (older clients, Tron's JSON-RPC) answers null or an error:
         * the depth rule then, and the tag asked again in a while */
        struct rpc_block fb;
        int missing;
        s->last_fail = RPC_OK;
        if (!get_block(s, "finalized", &fb, &missing)) fin = fb.number;
        else if (missing || s->last_fail == RPC_ERROR) s->no_tag_ticks = 600;
        else return -1;
    }
    if (fin < 0) fin = 0;
    if (fin > head) fin = head;
    struct cp c;
    cp_load(s, &c, fin);
    int k = check_reorg(s, &c, recorded_fin, *resume_deep);
    if (k == -2) return 0;
    if (k < 0) return -1;
    *resume_deep = 0;
    if (k == 1) cp_load(s, &c, fin);
    /* the address lists only when there are blocks to scan: most polls find none */
    struct addrs to_a = { 0 }, from_a = { 0 };
    if (c.number < head &&
        (addrs_load(s, "SELECT address FROM deposit_addresses WHERE network = $1 UNION"
                       " SELECT address FROM wallets WHERE network = $1", &to_a) ||
         addrs_load(s, "SELECT address FROM wallets WHERE network = $1", &from_a))) {
        addrs_free(&to_a);
        addrs_free(&from_a);
        return -1;
    }
    int rc = c.number < head ? scan_to(s, &c, head, fin, &to_a, &from_a) : 0;
    addrs_free(&to_a);
    addrs_free(&from_a);
    /* a head only when it moved: ingest_head re-evaluates the network's open payments */
    long long rh = head < c.number ? head : c.number, rf = fin < rh ? fin : rh;
    if (c.number >= 0 && (rh != s->rep_head || rf != s->rep_fin)) {
        if (report_head(s, rh, rf)) {
            rc = -1;
        } else {
            s->rep_head = rh, s->rep_fin = rf;
            char fs[32];
            LL(fs, rf);
            PQclear(db_q(s->db, "DELETE FROM chain_blocks WHERE network = $1 AND number < $2::bigint - 1", s->net, fs));
        }
    }
    status_write(s, "running", "", NULL, head, fin, c.number);
    return rc < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ loops */

static void holder_id(char *out, size_t n)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    snprintf(out, n, "%s:%d:%08x", host, (int)getpid(), (unsigned)random_u32());
}

/* Watches one network until *stop: takes the lease when it can, ticks while it holds it. */
static void watch_network(struct worker_ctx *w, const char *net)
{
    struct watch s = { .w = w };
    cfg_load(&s.cfg);
    snprintf(s.net, sizeof s.net, "%s", net);
    holder_id(s.holder, sizeof s.holder);
    s.errors = json_object();
    s.st_head = s.st_fin = s.st_cp = -2;
    int held = 0, deep = 0;
    char err[256];
    while (!*w->stop) {
        if (!s.db || PQstatus(s.db) != CONNECTION_OK) {
            if (s.db) { db_forget_statements(s.db); PQfinish(s.db); }
            s.db = db_connect(w->conninfo, "raild-watch", 30000, err, sizeof err);
            if (!s.db) {
                log_warn("watch.db_unavailable", "network=%s", net);
                worker_sleep(w, 2000);
                continue;
            }
        }
        int l = lease_take(&s);
        if (l != 1) {
            if (held) log_info("watch.lease_lost", "network=%s", net);
            held = 0;
            s.verified = 0;
            worker_sleep(w, l < 0 ? 2000 : 1000 + (int)((unsigned)random_u32() % 1000));
            continue;
        }
        if (!held) {
            log_info("watch.lease_taken", "network=%s holder=%s", net, s.holder);
            s.rep_head = s.rep_fin = -1;   /* another copy may have reported meanwhile */
        }
        held = 1;
        int rc = tick(&s, &deep);
        worker_sleep(w, rc < 0 && s.backoff_ms == 0 ? s.cfg.poll_ms * 2 : s.cfg.poll_ms);
    }
    if (s.db) {
        if (held) {
            status_write(&s, "stopped", "raild stopped", NULL, -1, -1, -1);
            lease_release(&s);
        }
        db_forget_statements(s.db);
        PQfinish(s.db);
    }
    if (s.have_rpc) rpc_free(&s.rpc);
    json_decref(s.errors);
    db_thread_done();
}

/* Worker "watch": a thread for every network that has RPC endpoints. */
void *watch_worker(void *ctx)
{
    worker_per_network(ctx, "raild-watch", "SELECT network FROM network_rpc ORDER BY network", watch_network);
    return NULL;
}

/* ------------------------------------------------------------ raild watch */

static volatile sig_atomic_t g_watch_stop;
static void on_stop(int sig) { (void)sig; g_watch_stop = 1; }

int cmd_watch(int argc, char **argv)
{
    const char *db = NULL, *net = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help")) {
            printf("usage: raild watch --network NAME [--db CONNINFO]\n"
                   "  watches one network alone (raild serve watches every network with RPC endpoints);\n"
                   "  takes the same lease, so it never runs beside another copy's watcher for NAME\n");
            return 0;
        }
        if ((!strcmp(argv[i], "--db") || !strcmp(argv[i], "--network")) && i + 1 < argc) {
            if (!strcmp(argv[i], "--db")) db = argv[++i];
            else net = argv[++i];
        } else {
            return cli_usage_error("watch", "unknown option '%s' (usage: raild watch --network NAME [--db CONNINFO])",
                                   argv[i]);
        }
    }
    if (!net) return cli_usage_error("watch", "--network is required");
    if (wh_secrets_key_status() < 0)
        return cli_usage_error("watch", "RAILD_SECRETS_KEY must be base64 of 32 random bytes, or unset");
    if (cli_require_migrated("watch", db, "network_rpc") || cli_require_sealing("watch", db)) return 1;
    PGconn *c = cli_db(db);
    if (!c) return 1;
    char *has = db_val(c, "SELECT 1 FROM network_rpc WHERE network = $1", net);
    char *known = db_val(c, "SELECT 1 FROM networks WHERE name = $1", net);
    PQfinish(c);
    int rc = !known ? cli_usage_error("watch", "unknown --network '%s' (see `raild admin list-networks`)", net)
             : !has ? cli_usage_error("watch", "network '%s' has no RPC endpoints (raild admin set-rpc)", net) : 0;
    free(has);
    free(known);
    if (rc) return rc;
    cli_on_stop_signals(on_stop);
    struct worker_ctx w = { .conninfo = db ? db : "", .stop = &g_watch_stop };
    watch_network(&w, net);
    return 0;
}
