/* api_chain — chain ingest for watcher keys (DESIGN §3):
 *   POST /v1/chain/transfers  {network, transfers:[…]}   idempotent on (network, tx_hash, log_index)
 *   POST /v1/chain/heads      {network, head, finalized?}
 * The whole batch is validated before anything is written (one bad transfer → 422 naming
 * its index, nothing stored), then applied in one transaction, serialized per network.
 * A watcher key posts for its one network (403 wrong_network otherwise), and a network
 * serves one environment, so sandbox traffic never moves a production payment. */
#include "raild/http.h"
#include "raild/ingest.h"
#include "core/address.h"
#include "core/amount.h"
#include "core/db.h"
#include "core/log.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BATCH 1000

/* "evm" | "tron" for a known network, else resp 422 and -1 */
static int network_kind(struct req *q, struct resp *r, const char *network, char kind[8])
{
    PGresult *res = db_q(q->db, "SELECT address_kind FROM networks WHERE name = $1", network);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "network lookup");
        PQclear(res);
        return -1;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        resp_error(r, 422, "unknown_network", "unknown network '%.40s'", network);
        return -1;
    }
    snprintf(kind, 8, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return 0;
}

/* tx/block hash: EVM 0x + 64 hex; tron 64 hex, 0x optional. Canonical: lower-case, EVM with
 * 0x, tron without. 0 ok. */
static int hash_canonical(const char *kind, const char *in, char out[72])
{
    int evm = !strcmp(kind, "evm");
    const char *h = in;
    if (!strncmp(h, "0x", 2) || !strncmp(h, "0X", 2)) h += 2;
    else if (evm) return -1;
    if (strlen(h) != 64) return -1;
    char *o = out;
    if (evm) *o++ = '0', *o++ = 'x';
    for (int i = 0; i < 64; i++) {
        if (!isxdigit((unsigned char)h[i])) return -1;
        *o++ = (char)tolower((unsigned char)h[i]);
    }
    *o = 0;
    return 0;
}

static int bad_xfer(struct resp *r, size_t i, const char *what)
{
    resp_error(r, 422, "invalid_transfer", "transfers[%zu]: %s", i, what);
    return -1;
}

static int str_field(json_t *t, const char *k, const char **out)
{
    json_t *v = json_object_get(t, k);
    if (!json_is_string(v)) return -1;
    *out = json_string_value(v);
    return 0;
}

static int int_field(json_t *t, const char *k, long long max, long long *out, int nullable)
{
    json_t *v = json_object_get(t, k);
    if (nullable && (!v || json_is_null(v))) {
        *out = -1;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > max) return -1;
    *out = json_integer_value(v);
    return 0;
}

static int parse_xfer(const char *kind, json_t *t, size_t i, struct xfer_in *x, struct resp *r)
{
    static const char *const allowed[] = { "tx_hash", "log_index", "block_number", "block_hash", "contract",
                                           "from", "to", "value", "removed", NULL };
    if (!json_is_object(t)) return bad_xfer(r, i, "must be an object");
    const char *k, *s;
    json_t *v;
    json_object_foreach(t, k, v) {
        int known = 0;
        for (int a = 0; allowed[a]; a++) known |= !strcmp(allowed[a], k);
        if (!known) return bad_xfer(r, i, "unknown field");
    }
    memset(x, 0, sizeof *x);
    if (str_field(t, "tx_hash", &s) || hash_canonical(kind, s, x->tx_hash)) return bad_xfer(r, i, "invalid tx_hash");
    if (int_field(t, "log_index", 2147483647LL, &x->log_index, 0)) return bad_xfer(r, i, "invalid log_index");
    if (int_field(t, "block_number", 9007199254740991LL, &x->block_number, 1))
        return bad_xfer(r, i, "block_number must be a non-negative integer or null");
    json_t *bh = json_object_get(t, "block_hash");
    if (bh && !json_is_null(bh)) {
        if (!json_is_string(bh) || hash_canonical(kind, json_string_value(bh), x->block_hash))
            return bad_xfer(r, i, "invalid block_hash");
        if (x->block_number < 0) return bad_xfer(r, i, "block_hash given without block_number");
    }
    if (str_field(t, "contract", &s) || address_canonical(kind, s, x->contract, sizeof x->contract))
        return bad_xfer(r, i, "invalid contract address");
    if (str_field(t, "from", &s) || address_canonical(kind, s, x->from, sizeof x->from))
        return bad_xfer(r, i, "invalid from address");
    if (str_field(t, "to", &s) || address_canonical(kind, s, x->to, sizeof x->to))
        return bad_xfer(r, i, "invalid to address");
    u128 units;
    if (str_field(t, "value", &s) || amount_parse_units(s, &units))
        return bad_xfer(r, i, "value must be base units as a string of digits");
    amount_units_str(units, x->value);
    json_t *rm = json_object_get(t, "removed");
    if (rm && !json_is_null(rm) && !json_is_boolean(rm)) return bad_xfer(r, i, "removed must be true or false");
    x->removed = json_is_true(rm);
    return 0;
}

static int apply_batch(struct req *q, struct resp *r, const char *network, struct xfer_in *xs, size_t n,
                       json_t *results)
{
    size_t bad = 0;
    int t = ingest_batch(q->db, network, xs, n, results, &bad);
    if (t == -3) {
        resp_error(r, 409, "transfer_conflict",
                   "transfers[%zu]: tx_hash/log_index already recorded with a different contract, from, to or value", bad);
        return 1;
    }
    if (t == -2) {
        resp_error(r, 503, "overloaded", "out of memory, try again");
        return 1;
    }
    if (t) resp_db_error(r, q->db, NULL, "ingest");
    return t ? -1 : 0;
}

/* DESIGN §7: a watcher key posts for its own network only. 0 ok, -1 resp filled. */
static int own_network(struct req *q, struct resp *r, const char *network)
{
    if (!strcmp(q->who.network, network)) return 0;
    resp_error(r, 403, "wrong_network", "this watcher key posts for network '%s' only, not '%.40s'", q->who.network,
               network);
    return -1;
}

static void chain_transfers(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "network", "transfers", NULL };
    json_t *b = req_json_object(q, r, allowed), *arr;
    const char *network;
    char kind[8];
    struct xfer_in *xs = NULL;
    if (!b) return;
    if (jget_str(b, "network", 1, 32, &network, r) || network_kind(q, r, network, kind) ||
        own_network(q, r, network))
        goto out;
    arr = json_object_get(b, "transfers");
    if (!json_is_array(arr)) {
        resp_error(r, 400, "invalid_request", "field 'transfers' must be an array");
        goto out;
    }
    size_t n = json_array_size(arr);
    if (n > MAX_BATCH) {
        resp_error(r, 422, "batch_too_large", "at most %d transfers per request", MAX_BATCH);
        goto out;
    }
    xs = calloc(n ? n : 1, sizeof *xs);
    if (!xs) {
        resp_error(r, 503, "overloaded", "out of memory, try again");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        if (parse_xfer(kind, json_array_get(arr, i), i, &xs[i], r)) goto out;
    json_t *results = json_array();
    if (tx_begin(q, r) || apply_batch(q, r, network, xs, n, results) || tx_commit(q, r)) {
        json_decref(results);
        goto out;
    }
    resp_json(r, 200, json_pack("{s:I,s:o}", "accepted", (json_int_t)n, "transfers", results));
out:
    free(xs);
    json_decref(b);
}

static void chain_heads(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "network", "head", "finalized", NULL };
    json_t *b = req_json_object(q, r, allowed), *out = NULL;
    const char *network;
    char kind[8];
    long long head = 0, fin = -1;
    if (!b) return;
    if (jget_str(b, "network", 1, 32, &network, r) || jget_int(b, "head", 1, 0, 9007199254740991LL, &head, r) ||
        jget_int(b, "finalized", 0, 0, 9007199254740991LL, &fin, r) || network_kind(q, r, network, kind) ||
        own_network(q, r, network))
        goto done;
    if (fin > head) {
        resp_error(r, 400, "invalid_request", "finalized must not be above head");
        goto done;
    }
    if (tx_begin(q, r)) goto done;
    int rc = ingest_head(q->db, network, head, fin, 1, &out);
    if (rc == -4) {
        resp_error(r, 409, "head_below_finalized", "head %lld is below the finalized height already recorded", head);
    } else if (rc == -5) {
        resp_error(r, 422, "head_jump_too_large",
                   "head %lld is more blocks past the last head than this network allows (networks.max_head_jump);"
                   " an admin can repair a wrong head with `raild admin reset-head`", head);
    } else if (rc) {
        resp_db_error(r, q->db, NULL, "chain head");
    } else if (!tx_commit(q, r)) {
        resp_json(r, 200, out);
        out = NULL;
    }
done:
    json_decref(out);
    json_decref(b);
}

const struct route chain_routes[] = {
    { "POST", "/v1/chain/transfers", CAP_INGEST, chain_transfers },
    { "POST", "/v1/chain/heads", CAP_INGEST, chain_heads },
    { 0 }
};
