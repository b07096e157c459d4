/* payout_worker — sends approved payouts (DESIGN §11), one worker per network across raild
 * copies (a lease, as the watcher's), for every network with a signer.
 *
 *   approved   → take a nonce (committed before anything is signed), fees from
 *                eth_feeHistory within the network's cap, eth_signTransaction at the signer,
 *                record the signed bytes and their hash → signed
 *   signed     → eth_sendRawTransaction → broadcast
 *   broadcast  → the watcher ingests the hot wallet's Transfer with our hash (classified
 *                `payout`) → confirming → confirmed → finalized on the rail's depths and the
 *                node's finality; not mined within replace_after_blocks → replaced (same
 *                nonce, fees +25 % within the cap) or, when the node forgot it, sent again
 *   confirming/confirmed and the transfer left the chain → broadcast, the same bytes again
 *
 * Never sent twice: a payout's nonce is fixed before the signer is asked, so a crash at any
 * point re-signs or re-sends the *same nonce*, and a nonce can be mined once. A signer that
 * is down leaves the payout `approved` with the error and a backoff; one that refuses (a
 * JSON-RPC error) fails it, and its nonce goes back to the wallet's free list so the
 * sequence has no gap. raild holds no key: the signer signs, raild checks that what was
 * signed carries our calldata (destination and amount) before it records it. */
#include "raild/chain_rpc.h"
#include "raild/payouts.h"
#include "raild/webhook_sign.h"
#include "raild/worker.h"
#include "core/amount.h"
#include "core/db.h"
#include "core/keccak.h"
#include "core/log.h"
#include "core/util.h"
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LL(buf, v) snprintf(buf, sizeof buf, "%lld", (long long)(v))
#define RAW_MAX (64 * 1024)

struct pw {
    struct worker_ctx *w;
    PGconn *db;
    char net[40], holder[96];
    struct rpc node, signer;
    int have_node, have_signer;
    char node_stamp[64], signer_stamp[64];
    long long chain_id, wallet_id, head, fin;
    int replace_after, gas_limit, confirm_depth_default;
    u128 max_fee;
    char hot[64];
    time_t checked_at;
};

/* ------------------------------------------------------------ small helpers */

static int hex_u128(const char *s, u128 *out)
{
    if (!s || strncmp(s, "0x", 2) || !s[2] || strlen(s) > 34) return -1;
    u128 v = 0;
    for (const char *p = s + 2; *p; p++) {
        int d = isdigit((unsigned char)*p) ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10
                : (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + (u128)d;
    }
    *out = v;
    return 0;
}

static void u128_hex(u128 v, char *out, size_t n)
{
    char tmp[40];
    int i = 0;
    do { tmp[i++] = "0123456789abcdef"[(int)(v & 0xf)]; v >>= 4; } while (v && i < 39);
    size_t k = 0;
    if (n < (size_t)i + 3) { if (n) out[0] = 0; return; }
    out[k++] = '0', out[k++] = 'x';
    while (i) out[k++] = tmp[--i];
    out[k] = 0;
}

static void u128_dec(u128 v, char *out) { amount_units_str(v, out); }

/* raw "0x…" hex → bytes (malloc'd), *n its length. NULL if not even-length hex. */
static unsigned char *unhex(const char *s, size_t *n)
{
    if (strncmp(s, "0x", 2)) return NULL;
    size_t len = strlen(s + 2);
    if (len % 2 || len == 0 || len > RAW_MAX) return NULL;
    unsigned char *b = malloc(len / 2);
    if (!b) return NULL;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned hi, lo;
        if (sscanf(s + 2 + 2 * i, "%1x%1x", &hi, &lo) != 2) { free(b); return NULL; }
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    *n = len / 2;
    return b;
}

/* the ERC-20 transfer(to, amount) calldata, "0x" + 8 + 64 + 64 hex (out >= 140) */
static int calldata(const char *to, const char *units, char *out, size_t n)
{
    u128 v;
    if (strlen(to) != 42 || amount_parse_units(units, &v) || n < 140) return -1;
    char amt[40];
    u128_hex(v, amt, sizeof amt);
    snprintf(out, n, "0xa9059cbb%024d%s%0*d%s", 0, to + 2, (int)(64 - strlen(amt + 2)), 0, amt + 2);
    return 0;
}

/* ------------------------------------------------------------ configuration */

/* table_sql selects (urls, stamp) for the network $1 */
static int load_endpoints(struct pw *p, const char *table_sql, struct rpc *c, int *have, char *stamp, size_t sn)
{
    enum { E_URLS, E_STAMP };
    PGresult *r = db_q(p->db, table_sql, p->net);
    if (db_failed(r)) { PQclear(r); return -1; }
    if (PQntuples(r) != 1) {
        PQclear(r);
        if (*have) rpc_free(c);
        *have = 0;
        stamp[0] = 0;
        return -1;
    }
    if (strcmp(stamp, PQgetvalue(r, 0, E_STAMP))) {
        char *urls = secret_open_text(PQgetvalue(r, 0, E_URLS));
        if (*have) rpc_free(c);
        *have = urls && !rpc_init(c, urls, 10000);
        if (urls) { memset(urls, 0, strlen(urls)); free(urls); }
        snprintf(stamp, sn, "%s", *have ? PQgetvalue(r, 0, E_STAMP) : "");
        if (!*have) log_error("payout.endpoints_unreadable", "network=%s reason=\"cannot open the stored URLs\"", p->net);
    }
    PQclear(r);
    return *have ? 0 : -1;
}

static int load_config(struct pw *p)
{
    if (load_endpoints(p, "SELECT urls, updated_at::text FROM network_rpc WHERE network = $1", &p->node, &p->have_node,
                       p->node_stamp, sizeof p->node_stamp) ||
        load_endpoints(p, "SELECT urls, updated_at::text FROM network_signer WHERE network = $1", &p->signer,
                       &p->have_signer, p->signer_stamp, sizeof p->signer_stamp))
        return -1;
    enum { N_CHAIN_ID, N_MAX_FEE, N_REPLACE_AFTER, N_GAS_LIMIT, N_HEAD, N_FINALIZED, N_WALLET_ID, N_HOT };
    PGresult *r = db_q(p->db, "SELECT n.chain_id, n.max_fee_per_gas::text, n.replace_after_blocks, n.payout_gas_limit,"
                              " coalesce(h.head, -1), coalesce(h.finalized, -1),"
                              " coalesce((SELECT id FROM wallets WHERE network = n.name AND kind = 'hot' ORDER BY id LIMIT 1), 0),"
                              " coalesce((SELECT address FROM wallets WHERE network = n.name AND kind = 'hot' ORDER BY id LIMIT 1), '')"
                              " FROM networks n LEFT JOIN chain_heads h ON h.network = n.name WHERE n.name = $1", p->net);
    if (db_failed(r) || PQntuples(r) != 1) { PQclear(r); return -1; }
    p->chain_id = atoll(PQgetvalue(r, 0, N_CHAIN_ID));
    amount_parse_units(PQgetvalue(r, 0, N_MAX_FEE), &p->max_fee);
    p->replace_after = atoi(PQgetvalue(r, 0, N_REPLACE_AFTER));
    p->gas_limit = atoi(PQgetvalue(r, 0, N_GAS_LIMIT));
    p->head = atoll(PQgetvalue(r, 0, N_HEAD));
    p->fin = atoll(PQgetvalue(r, 0, N_FINALIZED));
    p->wallet_id = atoll(PQgetvalue(r, 0, N_WALLET_ID));
    snprintf(p->hot, sizeof p->hot, "%s", PQgetvalue(r, 0, N_HOT));
    PQclear(r);
    return 0;
}

/* ------------------------------------------------------------ bookkeeping */

/* A failed attempt that may succeed later: the payout keeps its state, with the error. */
static void retry_later(struct pw *p, long long id, const char *why)
{
    char pid[32];
    LL(pid, id);
    PQclear(db_q(p->db, "UPDATE payouts SET attempts = attempts + 1, last_error = $2, updated_at = now(),"
                        " next_attempt_at = now() + make_interval(secs => least(300, power(2, least(attempts, 8)))::int)"
                        " WHERE id = $1::bigint", pid, why));
    log_warn("payout.retry", "network=%s payout_id=%lld reason=\"%s\"", p->net, id, why);
}

/* Fails a payout that never reached the chain; its nonce goes back to the free list. */
static int fail_unsent(struct pw *p, long long id, const char *why)
{
    char pid[32];
    LL(pid, id);
    if (db_cmd(p->db, "BEGIN")) return -1;
    PGresult *r = db_q(p->db, "WITH o AS (SELECT wallet_id, nonce FROM payouts WHERE id = $1::bigint FOR UPDATE)"
                              " INSERT INTO wallet_free_nonces (wallet_id, nonce) SELECT wallet_id, nonce FROM o"
                              " WHERE nonce IS NOT NULL ON CONFLICT DO NOTHING", pid);
    int bad = db_failed(r);
    PQclear(r);
    if (!bad) {
        r = db_q(p->db, "UPDATE payouts SET nonce = NULL WHERE id = $1::bigint", pid);
        bad = db_failed(r);
        PQclear(r);
    }
    json_t *d = json_pack("{s:s}", "reason", why);
    if (!bad) bad = payout_move(p->db, id, POS_FAILED, "payout-worker", d, why) != 0;
    json_decref(d);
    if (bad || db_cmd(p->db, "COMMIT")) { db_cmd(p->db, "ROLLBACK"); return -1; }
    log_warn("payout.failed", "network=%s payout_id=%lld reason=\"%s\"", p->net, id, why);
    return 0;
}

/* The nonce of a payout, taken once and committed before signing. -1 on error. */
static long long take_nonce(struct pw *p, long long id)
{
    char pid[32], wid[32];
    LL(pid, id);
    LL(wid, p->wallet_id);
    char *have = db_val(p->db, "SELECT coalesce(nonce::text, '') FROM payouts WHERE id = $1::bigint", pid);
    if (!have) return -1;
    if (have[0]) { long long n = atoll(have); free(have); return n; }
    free(have);
    char *nx = db_val(p->db, "SELECT coalesce(next_nonce::text, '') FROM wallets WHERE id = $1::bigint", wid);
    if (!nx) return -1;
    char node_next[32] = "";
    if (!nx[0]) {   /* first use of this wallet here: the node says where its sequence is */
        struct rpc_err e;
        json_t *res = rpc_call(&p->node, "eth_getTransactionCount", json_pack("[s,s]", p->hot, "pending"), &e);
        long long n;
        if (!res || rpc_quantity(res, &n)) { json_decref(res); free(nx); return -1; }
        json_decref(res);
        LL(node_next, n);
    }
    free(nx);
    if (db_cmd(p->db, "BEGIN")) return -1;
    PGresult *r = db_q(p->db,
        "WITH w AS (SELECT id, coalesce(next_nonce, $3::bigint) AS next FROM wallets WHERE id = $2::bigint FOR UPDATE),"
        " f AS (DELETE FROM wallet_free_nonces WHERE (wallet_id, nonce) = (SELECT wallet_id, min(nonce)"
        "        FROM wallet_free_nonces WHERE wallet_id = $2::bigint GROUP BY wallet_id) RETURNING nonce),"
        " pick AS (SELECT coalesce((SELECT nonce FROM f), (SELECT next FROM w)) AS n),"
        " upd AS (UPDATE wallets SET next_nonce = greatest(coalesce(next_nonce, $3::bigint),"
        "          (SELECT n FROM pick) + 1) WHERE id = $2::bigint)"
        " UPDATE payouts SET wallet_id = $2::bigint, nonce = (SELECT n FROM pick), updated_at = now()"
        " WHERE id = $1::bigint AND state = 'approved' AND nonce IS NULL RETURNING nonce",
        pid, wid, node_next[0] ? node_next : "0");
    long long n = (!db_failed(r) && PQntuples(r) == 1) ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (n < 0 || db_cmd(p->db, "COMMIT")) { db_cmd(p->db, "ROLLBACK"); return -1; }
    log_info("payout.nonce", "network=%s payout_id=%lld nonce=%lld", p->net, id, n);
    return n;
}

/* EIP-1559 fees: priority = the median tip of recent blocks (at least 1 gwei), max fee =
 * 2 × the next base fee + priority, both within the cap. `bump` > 0 raises a previous
 * transaction's fees by 25 % (a replacement must pay at least 10 % more). -1 no fees, -2
 * the base fee alone is above the cap. */
static int fees(struct pw *p, u128 prev_max, u128 prev_tip, int bump, u128 *max_fee, u128 *tip)
{
    struct rpc_err e;
    json_t *h = rpc_call(&p->node, "eth_feeHistory", json_pack("[s,s,[i]]", "0x5", "latest", 50), &e);
    if (!h) return -1;
    json_t *bases = json_object_get(h, "baseFeePerGas"), *rewards = json_object_get(h, "reward");
    u128 base = 0, t = 1000000000;   /* 1 gwei floor for the tip */
    size_t nb = json_array_size(bases);
    int bad = !nb || hex_u128(json_string_value(json_array_get(bases, nb - 1)), &base);
    size_t nr = json_array_size(rewards);
    if (!bad && nr) {
        u128 r;
        if (!hex_u128(json_string_value(json_array_get(json_array_get(rewards, nr - 1), 0)), &r) && r > t) t = r;
    }
    json_decref(h);
    if (bad) return -1;
    u128 m = 2 * base + t;
    if (bump) {
        u128 bm = prev_max + prev_max / 4 + 1, bt = prev_tip + prev_tip / 4 + 1;
        if (bm > m) m = bm;
        if (bt > t) t = bt;
    }
    if (base >= p->max_fee) return -2;
    if (m > p->max_fee) m = p->max_fee;
    if (t > m) t = m;
    *max_fee = m, *tip = t;
    return 0;
}

/* ------------------------------------------------------------ the steps */

struct po {
    long long id, nonce;
    char state[16], to[64], amount[96], contract[64], tx_hash[72];
    int confirm_depth;
    long long broadcast_head;
};

static int load_po(struct pw *p, long long id, struct po *o)
{
    char pid[32];
    LL(pid, id);
    enum { O_STATE, O_TO, O_AMOUNT, O_CONTRACT, O_TX_HASH, O_CONFIRM_DEPTH, O_NONCE, O_BROADCAST_HEAD };
    PGresult *r = db_q(p->db, "SELECT p.state, p.to_address, p.amount::text, lower(r.contract), coalesce(p.tx_hash, ''),"
                              " r.confirm_depth, coalesce(p.nonce, -1), coalesce(p.broadcast_head, -1)"
                              " FROM payouts p JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
                              " WHERE p.id = $1::bigint", pid);
    if (db_failed(r) || PQntuples(r) != 1) { PQclear(r); return -1; }
    o->id = id;
    snprintf(o->state, sizeof o->state, "%s", PQgetvalue(r, 0, O_STATE));
    snprintf(o->to, sizeof o->to, "%s", PQgetvalue(r, 0, O_TO));
    snprintf(o->amount, sizeof o->amount, "%s", PQgetvalue(r, 0, O_AMOUNT));
    snprintf(o->contract, sizeof o->contract, "%s", PQgetvalue(r, 0, O_CONTRACT));
    snprintf(o->tx_hash, sizeof o->tx_hash, "%s", PQgetvalue(r, 0, O_TX_HASH));
    o->confirm_depth = atoi(PQgetvalue(r, 0, O_CONFIRM_DEPTH));
    o->nonce = atoll(PQgetvalue(r, 0, O_NONCE));
    o->broadcast_head = atoll(PQgetvalue(r, 0, O_BROADCAST_HEAD));
    PQclear(r);
    return 0;
}

/* Signs (nonce fixed) and records the transaction. replace: a replacement of the one in
 * force (fees bumped). 0 done, 1 retry later / failed (recorded), -1 db. */
static int sign_and_record(struct pw *p, struct po *o, int replace)
{
    char data[160], err[300];
    if (calldata(o->to, o->amount, data, sizeof data)) return fail_unsent(p, o->id, "destination or amount unusable");
    u128 prev_max = 0, prev_tip = 0;
    if (replace) {
        char pid[32];
        LL(pid, o->id);
        enum { F_MAX_FEE, F_TIP };
        PGresult *r = db_q(p->db, "SELECT max_fee_per_gas::text, max_priority_fee_per_gas::text FROM payout_transactions"
                                  " WHERE payout_id = $1::bigint ORDER BY id DESC LIMIT 1", pid);
        if (!db_failed(r) && PQntuples(r) == 1) {
            amount_parse_units(PQgetvalue(r, 0, F_MAX_FEE), &prev_max);
            amount_parse_units(PQgetvalue(r, 0, F_TIP), &prev_tip);
        }
        PQclear(r);
        if (prev_max >= p->max_fee) return 1;   /* at the cap already: resending is all we can do */
    }
    u128 mf, tip;
    int fr = fees(p, prev_max, prev_tip, replace, &mf, &tip);
    if (fr) {
        if (!replace) retry_later(p, o->id, fr == -2 ? "the base fee is above the network's fee cap" : "no fee data from the node");
        return 1;
    }
    char smf[40], stip[40], snonce[40], sgas[24], schain[24], dmf[AMOUNT_STR_MAX], dtip[AMOUNT_STR_MAX];
    u128_hex(mf, smf, sizeof smf);
    u128_hex(tip, stip, sizeof stip);
    u128_hex((u128)o->nonce, snonce, sizeof snonce);
    u128_hex((u128)p->gas_limit, sgas, sizeof sgas);
    u128_hex((u128)p->chain_id, schain, sizeof schain);
    u128_dec(mf, dmf);
    u128_dec(tip, dtip);
    json_t *tx = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "from", p->hot, "to", o->contract, "gas", sgas,
                           "maxFeePerGas", smf, "maxPriorityFeePerGas", stip, "value", "0x0", "data", data, "nonce",
                           snonce, "chainId", schain, "type", "0x2");
    struct rpc_err e;
    json_t *res = rpc_call(&p->signer, "eth_signTransaction", json_pack("[o]", tx), &e);
    if (!res) {
        snprintf(err, sizeof err, "signer %s: %s", rpc_host(&p->signer), e.msg);
        if (e.fail == RPC_ERROR && !replace) return fail_unsent(p, o->id, err) ? -1 : 1;   /* refused outright */
        if (!replace) retry_later(p, o->id, err);
        else log_warn("payout.replace_unsigned", "network=%s payout_id=%lld reason=\"%s\"", p->net, o->id, err);
        return 1;
    }
    const char *raw = json_is_string(res) ? json_string_value(res)
                      : json_string_value(json_object_get(res, "raw"));
    size_t n = 0;
    unsigned char *bytes = raw ? unhex(raw, &n) : NULL;
    /* the signed bytes must carry exactly our calldata: destination and amount */
    int ours = bytes && strcasestr(raw, data + 2) != NULL;
    if (!ours) {
        free(bytes);
        json_decref(res);
        snprintf(err, sizeof err, "signer %s returned something that is not our transaction", rpc_host(&p->signer));
        return replace ? 1 : (fail_unsent(p, o->id, err) ? -1 : 1);
    }
    unsigned char h[32];
    char hash[67];
    keccak256(bytes, n, h);
    free(bytes);
    hash[0] = '0', hash[1] = 'x';
    util_hex(h, 32, hash + 2);
    char pid[32], gl[16];
    LL(pid, o->id);
    LL(gl, p->gas_limit);
    snprintf(snonce, sizeof snonce, "%lld", o->nonce);
    if (db_cmd(p->db, "BEGIN")) { json_decref(res); return -1; }
    PGresult *r = db_q(p->db, "INSERT INTO payout_transactions (payout_id, network, nonce, tx_hash, raw, max_fee_per_gas,"
                              " max_priority_fee_per_gas, gas_limit) VALUES ($1::bigint, $2, $3::bigint, $4, $5,"
                              " $6::numeric, $7::numeric, $8::int) ON CONFLICT (network, tx_hash) DO NOTHING",
                       pid, p->net, snonce, hash, raw, dmf, dtip, gl);
    int bad = db_failed(r);
    PQclear(r);
    json_decref(res);
    if (!bad && replace) {
        r = db_q(p->db, "UPDATE payout_transactions SET state = 'replaced' WHERE payout_id = $1::bigint AND tx_hash <> $2"
                        " AND state <> 'mined'", pid, hash);
        bad = db_failed(r);
        PQclear(r);
    }
    if (!bad) {
        r = db_q(p->db, "UPDATE payouts SET tx_hash = $2, last_error = NULL, updated_at = now() WHERE id = $1::bigint",
                 pid, hash);
        bad = db_failed(r);
        PQclear(r);
    }
    json_t *d = json_pack("{s:s,s:I,s:s}", "tx_hash", hash, "nonce", (json_int_t)o->nonce, "max_fee_per_gas", dmf);
    if (!bad && !replace) bad = payout_move(p->db, o->id, POS_SIGNED, "payout-worker", d, NULL) != 0;
    json_decref(d);
    if (bad || db_cmd(p->db, "COMMIT")) { db_cmd(p->db, "ROLLBACK"); return -1; }
    snprintf(o->tx_hash, sizeof o->tx_hash, "%s", hash);
    log_info(replace ? "payout.replaced" : "payout.signed", "network=%s payout_id=%lld nonce=%lld tx=%s max_fee=%s",
             p->net, o->id, o->nonce, hash, dmf);
    return 0;
}

/* 1 when the node knows the transaction (pending or mined), 0 not, -1 could not ask;
 * *mined (may be NULL) says whether it is in a block */
static int node_knows_tx(struct pw *p, const char *hash, int *mined)
{
    struct rpc_err e;
    json_t *r = rpc_call(&p->node, "eth_getTransactionByHash", json_pack("[s]", hash), &e);
    if (!r) return -1;
    int k = !json_is_null(r);
    if (mined) *mined = k && json_is_string(json_object_get(r, "blockNumber"));
    json_decref(r);
    return k;
}

static int node_knows(struct pw *p, const char *hash) { return node_knows_tx(p, hash, NULL); }

/* eth_sendRawTransaction of the transaction in force. 0 sent (or already known), 1 retry
 * or failed (recorded), -1 db. */
static int broadcast(struct pw *p, struct po *o)
{
    char pid[32], hd[32];
    LL(pid, o->id);
    LL(hd, p->head);
    char *raw = db_val(p->db, "SELECT raw FROM payout_transactions WHERE payout_id = $1::bigint AND tx_hash = $2", pid,
                       o->tx_hash);
    if (!raw) return -1;
    struct rpc_err e;
    json_t *r = rpc_call(&p->node, "eth_sendRawTransaction", json_pack("[s]", raw), &e);
    free(raw);
    char err[300] = "";
    if (!r) {
        snprintf(err, sizeof err, "eth_sendRawTransaction: %s", e.msg);
        if (e.fail != RPC_ERROR) { retry_later(p, o->id, err); return 1; }
        int known = node_knows(p, o->tx_hash);   /* "already known", "nonce too low" after a crash */
        if (known < 0) { retry_later(p, o->id, err); return 1; }
        if (!known) {
            if (!strcmp(o->state, "signed")) return fail_unsent(p, o->id, err) ? -1 : 1;
            retry_later(p, o->id, err);
            return 1;
        }
    }
    json_decref(r);
    if (db_cmd(p->db, "BEGIN")) return -1;
    PGresult *q = db_q(p->db, "UPDATE payout_transactions SET state = CASE WHEN state = 'signed' THEN 'broadcast' ELSE state END,"
                              " sends = sends + 1, sent_at = now(), last_error = NULLIF($3, '')"
                              " WHERE payout_id = $1::bigint AND tx_hash = $2", pid, o->tx_hash, err);
    int bad = db_failed(q);
    PQclear(q);
    if (!bad) {
        q = db_q(p->db, "UPDATE payouts SET broadcast_head = $2::bigint, attempts = 0, next_attempt_at = now(),"
                        " last_error = NULL, updated_at = now() WHERE id = $1::bigint", pid, hd);
        bad = db_failed(q);
        PQclear(q);
    }
    json_t *d = json_pack("{s:s}", "tx_hash", o->tx_hash);
    if (!bad && strcmp(o->state, "broadcast")) bad = payout_move(p->db, o->id, POS_BROADCAST, "payout-worker", d, NULL) != 0;
    json_decref(d);
    if (bad || db_cmd(p->db, "COMMIT")) { db_cmd(p->db, "ROLLBACK"); return -1; }
    log_info("payout.broadcast", "network=%s payout_id=%lld tx=%s head=%lld", p->net, o->id, o->tx_hash, p->head);
    return 0;
}

/* gas used × effective price of a mined transaction, decimal (out >= AMOUNT_STR_MAX); "" unknown */
static void fee_of(struct pw *p, const char *hash, char *out)
{
    out[0] = 0;
    struct rpc_err e;
    json_t *r = rpc_call(&p->node, "eth_getTransactionReceipt", json_pack("[s]", hash), &e);
    if (!r) return;
    u128 gas, price;
    if (!hex_u128(json_string_value(json_object_get(r, "gasUsed")), &gas) &&
        !hex_u128(json_string_value(json_object_get(r, "effectiveGasPrice")), &price))
        u128_dec(gas * price, out);
    json_decref(r);
}

/* Follows a sent payout through the transfers the watcher ingested. 0 or -1. */
static int follow(struct pw *p, struct po *o)
{
    char pid[32];
    LL(pid, o->id);
    enum { T_ID, T_TX_HASH, T_BLOCK, T_STATUS };
    PGresult *r = db_q(p->db, "SELECT t.id, t.tx_hash, coalesce(t.block_number, -1), t.status FROM chain_transfers t"
                              " WHERE t.network = $1 AND t.classification = 'payout' AND t.tx_hash IN"
                              " (SELECT tx_hash FROM payout_transactions WHERE payout_id = $2::bigint)"
                              " ORDER BY (t.status = 'seen') DESC, t.id DESC LIMIT 1", p->net, pid);
    if (db_failed(r)) { PQclear(r); return -1; }
    int seen = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, T_STATUS), "seen") && atoll(PQgetvalue(r, 0, T_BLOCK)) >= 0;
    long long tid = seen ? atoll(PQgetvalue(r, 0, T_ID)) : 0, blk = seen ? atoll(PQgetvalue(r, 0, T_BLOCK)) : -1;
    char mined[72] = "";
    if (seen) snprintf(mined, sizeof mined, "%s", PQgetvalue(r, 0, T_TX_HASH));
    PQclear(r);
    enum payout_state st = POS_BROADCAST;
    payout_state_parse(o->state, &st);
    if (!seen) {
        if (st == POS_CONFIRMING || st == POS_CONFIRMED) {   /* a reorg dropped it: the same bytes again */
            if (db_cmd(p->db, "BEGIN")) return -1;
            json_t *d = json_pack("{s:s}", "reason", "the transfer left the canonical chain; sending it again");
            int bad = payout_move(p->db, o->id, POS_BROADCAST, "payout-worker", d, NULL) != 0;
            json_decref(d);
            PGresult *u = bad ? NULL : db_q(p->db, "UPDATE payouts SET block_number = NULL, transfer_id = NULL"
                                                   " WHERE id = $1::bigint", pid);
            bad = bad || db_failed(u);
            PQclear(u);
            if (bad || db_cmd(p->db, "COMMIT")) { db_cmd(p->db, "ROLLBACK"); return -1; }
            snprintf(o->state, sizeof o->state, "broadcast");
            log_warn("payout.reorged", "network=%s payout_id=%lld tx=%s", p->net, o->id, o->tx_hash);
            return broadcast(p, o) < 0 ? -1 : 0;
        }
        if (o->broadcast_head >= 0 && p->head - o->broadcast_head >= p->replace_after) {
            int mined = 0, known = node_knows_tx(p, o->tx_hash, &mined);
            if (known < 0 || mined) return 0;   /* cannot ask, or mined and the watcher will see it */
            /* pending too long, or dropped (a node evicts what pays less than the base fee):
             * the same nonce with more fee; at the cap, the same bytes again */
            int rc = sign_and_record(p, o, 1);
            if (rc < 0) return -1;
            return broadcast(p, o) < 0 ? -1 : 0;
        }
        return 0;
    }
    enum payout_state target = (p->fin >= 0 && blk <= p->fin) ? POS_FINALIZED
                               : (p->head - blk + 1 >= o->confirm_depth) ? POS_CONFIRMED : POS_CONFIRMING;
    if (target <= st && st != POS_BROADCAST) return 0;
    char fee[AMOUNT_STR_MAX] = "", t[32], b[32];
    if (target == POS_FINALIZED) fee_of(p, mined, fee);
    LL(t, tid);
    LL(b, blk);
    if (db_cmd(p->db, "BEGIN")) return -1;
    PGresult *u = db_q(p->db, "UPDATE payouts SET transfer_id = $2::bigint, block_number = $3::bigint, tx_hash = $4,"
                              " fee_native = coalesce(NULLIF($5, '')::numeric, fee_native) WHERE id = $1::bigint",
                       pid, t, b, mined, fee);
    int bad = db_failed(u);
    PQclear(u);
    if (!bad) {
        u = db_q(p->db, "UPDATE payout_transactions SET state = CASE WHEN tx_hash = $2 THEN 'mined' ELSE 'replaced' END"
                        " WHERE payout_id = $1::bigint", pid, mined);
        bad = db_failed(u);
        PQclear(u);
    }
    json_t *d = json_pack("{s:s,s:I}", "tx_hash", mined, "block_number", (json_int_t)blk);
    /* one legal step at a time: broadcast → confirming → confirmed → finalized */
    while (!bad && st != target) {
        enum payout_state next = st == POS_BROADCAST ? POS_CONFIRMING
                                 : (st == POS_CONFIRMING && target == POS_FINALIZED) ? POS_FINALIZED
                                 : st == POS_CONFIRMING ? POS_CONFIRMED : POS_FINALIZED;
        bad = payout_move(p->db, o->id, next, "payout-worker", d, NULL) != 0;
        st = next;
    }
    json_decref(d);
    if (bad || db_cmd(p->db, "COMMIT")) { db_cmd(p->db, "ROLLBACK"); return -1; }
    return 0;
}

static int step(struct pw *p, long long id)
{
    struct po o;
    if (load_po(p, id, &o)) return -1;
    if (!strcmp(o.state, "approved")) {
        if (!p->wallet_id) {
            retry_later(p, id, "no hot wallet on this network (raild admin add-wallet --kind hot)");
            return 0;
        }
        if ((o.nonce = take_nonce(p, id)) < 0) {
            retry_later(p, id, "could not take a nonce (node or database unavailable)");
            return 0;
        }
        int rc = sign_and_record(p, &o, 0);
        if (rc) return rc < 0 ? -1 : 0;
        snprintf(o.state, sizeof o.state, "signed");
    }
    if (!strcmp(o.state, "signed")) return broadcast(p, &o) < 0 ? -1 : 0;
    return follow(p, &o);
}

/* ------------------------------------------------------------ wallet balances */

/* balanceOf(wallet) of a token at a block, decimal (out >= AMOUNT_STR_MAX). 0 or -1. */
static int balance_at(struct pw *p, const char *token, long long block, char *out)
{
    char data[80], blk[24];
    snprintf(data, sizeof data, "0x70a08231%024d%s", 0, p->hot + 2);
    snprintf(blk, sizeof blk, "0x%llx", (unsigned long long)block);
    struct rpc_err e;
    json_t *r = rpc_call(&p->node, "eth_call", json_pack("[{s:s,s:s},s]", "to", token, "data", data, blk), &e);
    const char *hex = r ? json_string_value(r) : NULL;
    int rc = -1;
    if (hex && strlen(hex) == 66) {
        char v[80];
        rpc_u256_decimal(hex + 2, v);
        snprintf(out, AMOUNT_STR_MAX, "%s", v);
        rc = strlen(v) < AMOUNT_STR_MAX ? 0 : -1;
    }
    json_decref(r);
    return rc;
}

/* Per rail of this network: the hot wallet's token balance at the finalized block against
 * the ledger's custody of it (plus the baseline recorded at the first check, minus payouts
 * mined but not yet final in the books). A difference is a wallet_balance_mismatch break;
 * a break whose difference is gone resolves. Skipped while a payout is between signing and
 * its block being known. 0 or -1. */
static int wallet_check(struct pw *p)
{
    if (!p->wallet_id || p->fin < 0) return 0;
    char wid[32], fin[32];
    LL(wid, p->wallet_id);
    LL(fin, p->fin);
    char *busy = db_val(p->db, "SELECT count(*) FROM payouts WHERE wallet_id = $1::bigint AND state IN ('signed','broadcast')",
                        wid);
    if (!busy) return -1;
    int skip = atoi(busy) > 0;
    free(busy);
    if (skip) return 0;
    enum { B_RAIL, B_ENV, B_CONTRACT, B_DECIMALS, B_BOOKS, B_BASELINE, B_ADDRESS };
    PGresult *r = db_q(p->db,
        "SELECT r.id, r.environment, lower(r.contract), r.decimals,"
        " (SELECT coalesce(sum(CASE x.side WHEN 'debit' THEN x.amount ELSE -x.amount END), 0) FROM ledger_postings x"
        "   JOIN ledger_accounts a ON a.id = x.account_id WHERE a.code = 'asset:custody:hot:' || r.environment || ':' || r.id)"
        " - (SELECT coalesce(sum(amount), 0) FROM payouts o WHERE o.wallet_id = $2::bigint AND o.rail = r.id"
        "     AND o.environment = r.environment AND o.state IN ('confirming','confirmed') AND o.block_number <= $3::bigint),"
        " w.baseline->>r.id, w.address"
        " FROM rails r JOIN wallets w ON w.id = $2::bigint WHERE r.network = $1 AND r.contract IS NOT NULL",
        p->net, wid, fin);
    if (db_failed(r)) { PQclear(r); return -1; }
    int rc = 0;
    for (int i = 0; i < PQntuples(r) && !rc; i++) {
        char chain[AMOUNT_STR_MAX];
        if (balance_at(p, PQgetvalue(r, i, B_CONTRACT), p->fin, chain)) continue;   /* the node will answer next time */
        const char *rail = PQgetvalue(r, i, B_RAIL), *env = PQgetvalue(r, i, B_ENV), *books = PQgetvalue(r, i, B_BOOKS);
        char scale[24];
        snprintf(scale, sizeof scale, "%d", 18 - atoi(PQgetvalue(r, i, B_DECIMALS)));
        PGresult *u;
        if (PQgetisnull(r, i, B_BASELINE)) {   /* first look: what the wallet already held is the baseline */
            u = db_q(p->db, "UPDATE wallets SET baseline = baseline || jsonb_build_object($2::text,"
                            " ($3::numeric - $4::numeric)::text) WHERE id = $1::bigint", wid, rail, chain, books);
        } else {
            u = db_q(p->db,
                "WITH v AS (SELECT $4::numeric AS chain, $5::numeric + $6::numeric AS books),"
                " up AS (INSERT INTO recon_breaks AS b (public_id, class, class_rank, severity, state, environment,"
                "   reference, planes, p_state, p_amount, f_amount, first_seen_at, first_run_id)"
                "  SELECT 'brk_' || left(md5('wallet_balance_mismatch|' || $1 || '|' || $7 || '|' || $3), 24),"
                "   'wallet_balance_mismatch', 0, 4, 'new', $2, 'wallet:' || $1 || ':' || $7 || ':' || $3,"
                "   'provider,finance', 'balanceOf at block ' || $8, v.chain * power(10::numeric, $9::int), v.books * power(10::numeric, $9::int),"
                "   now(), 0 FROM v WHERE v.chain <> v.books"
                "  ON CONFLICT (public_id) DO UPDATE SET p_amount = EXCLUDED.p_amount, f_amount = EXCLUDED.f_amount,"
                "   p_state = EXCLUDED.p_state, updated_at = now(),"
                "   state = CASE WHEN b.state = 'resolved' THEN 'new' ELSE b.state END,"
                "   first_seen_at = CASE WHEN b.state = 'resolved' THEN now() ELSE b.first_seen_at END,"
                "   resolved_at = NULL, resolution = NULL"
                "  WHERE (b.p_amount, b.f_amount, b.state) IS DISTINCT FROM (EXCLUDED.p_amount, EXCLUDED.f_amount, 'new')"
                "    AND (b.state = 'resolved' OR (b.p_amount, b.f_amount) IS DISTINCT FROM (EXCLUDED.p_amount, EXCLUDED.f_amount))"
                "  RETURNING 1)"
                " UPDATE recon_breaks SET state = 'resolved', resolved_at = now(), resolution = 'auto', updated_at = now()"
                "  WHERE public_id = 'brk_' || left(md5('wallet_balance_mismatch|' || $1 || '|' || $7 || '|' || $3), 24)"
                "    AND state <> 'resolved' AND (SELECT chain = books FROM v)",
                p->net, env, rail, chain, books, PQgetvalue(r, i, B_BASELINE), PQgetvalue(r, i, B_ADDRESS), fin, scale);
        }
        if (db_failed(u)) rc = -1;
        PQclear(u);
    }
    PQclear(r);
    return rc;
}

static int tick(struct pw *p)
{
    if (load_config(p)) return -1;
    PGresult *r = db_q(p->db, "SELECT id FROM payouts WHERE network = $1 AND state IN ('approved','signed','broadcast',"
                              "'confirming','confirmed') AND next_attempt_at <= now() ORDER BY id LIMIT 200", p->net);
    if (db_failed(r)) { PQclear(r); return -1; }
    int n = PQntuples(r), rc = 0;
    long long ids[200];
    for (int i = 0; i < n; i++) ids[i] = atoll(PQgetvalue(r, i, 0));
    PQclear(r);
    for (int i = 0; i < n && !*p->w->stop && rc == 0; i++) rc = step(p, ids[i]);
    time_t now = time(NULL);
    if (rc == 0 && now - p->checked_at >= 2) {   /* the books against the chain, every 2 s */
        p->checked_at = now;
        rc = wallet_check(p);
    }
    return rc;
}

/* ------------------------------------------------------------ loops */

static int lease_take(struct pw *p)
{
    PGresult *r = db_q(p->db,
        "INSERT INTO payout_leases (network, holder, expires_at) VALUES ($1, $2, now() + interval '10 s')"
        " ON CONFLICT (network) DO UPDATE SET holder = $2, expires_at = EXCLUDED.expires_at"
        "  WHERE payout_leases.holder = $2 OR payout_leases.expires_at < now() RETURNING holder", p->net, p->holder);
    int rc = db_failed(r) ? -1 : PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

static int poll_ms(void)
{
    const char *v = getenv("RAILD_PAYOUT_POLL_MS");
    int ms = v ? atoi(v) : 250;
    return ms < 20 ? 20 : ms > 60000 ? 60000 : ms;
}

static void payout_network(struct worker_ctx *w, const char *net)
{
    struct pw p = { .w = w };
    snprintf(p.net, sizeof p.net, "%s", net);
    char host[64] = "", err[256];
    gethostname(host, sizeof host - 1);
    snprintf(p.holder, sizeof p.holder, "%s:%d:%lx", host, (int)getpid(), (unsigned long)pthread_self() & 0xffffff);
    int held = 0, ms = poll_ms();
    while (!*w->stop) {
        if (!p.db || PQstatus(p.db) != CONNECTION_OK) {
            if (p.db) { db_forget_statements(p.db); PQfinish(p.db); }
            p.db = db_connect(w->conninfo, "raild-payout", 30000, err, sizeof err);
            if (!p.db) { worker_sleep(w, 2000); continue; }
        }
        int l = lease_take(&p);
        if (l != 1) {
            held = 0;
            worker_sleep(w, 1000);
            continue;
        }
        if (!held) log_info("payout.lease_taken", "network=%s holder=%s", net, p.holder);
        held = 1;
        int rc = tick(&p);
        if (rc < 0) db_cmd(p.db, "ROLLBACK");
        worker_sleep(w, rc < 0 ? ms * 4 : ms);
    }
    if (p.db) {
        if (held) PQclear(db_q(p.db, "DELETE FROM payout_leases WHERE network = $1 AND holder = $2", p.net, p.holder));
        db_forget_statements(p.db);
        PQfinish(p.db);
    }
    if (p.have_node) rpc_free(&p.node);
    if (p.have_signer) rpc_free(&p.signer);
    db_thread_done();
}

/* Worker "payout": a thread for every network with a signer. */
void *payout_worker(void *ctx)
{
    worker_per_network(ctx, "raild-payout", "SELECT network FROM network_signer ORDER BY network", payout_network);
    return NULL;
}
