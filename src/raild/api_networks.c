/* api_networks — what the caller's environment runs on (DESIGN §2, §10):
 *   GET /v1/rails     every rail of the key's environment: network, token contract,
 *                     decimals, depths; for a merchant key also whether it is enabled
 *   GET /v1/networks  every network of the key's environment: chain id, head, finalized,
 *                     and what its watcher is doing (state, lag, last error; host only)
 * Any valid key may ask, and only about its own environment. */
#include "raild/http.h"
#include "raild/payments.h"
#include "core/db.h"
#include "raild/pgjson.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void list_rails(struct req *q, struct resp *r)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
    enum { R_ID, R_NETWORK, R_KIND, R_CHAIN_ID, R_CONTRACT, R_DECIMALS, R_CONFIRMATIONS, R_FINALITY_DEPTH,
           R_FINALITY_TAG, R_BLOCK_MS, R_ENABLED };
    PGresult *res = db_q(q->db,
        "SELECT r.id, r.network, n.address_kind, n.chain_id, r.contract, r.decimals, r.confirm_depth,"
        "       r.finality_depth, r.finality_tag, n.block_time_ms, coalesce(m.enabled, false)"
        "  FROM rails r JOIN networks n ON n.name = r.network"
        "  LEFT JOIN merchant_rails m ON m.rail = r.id AND m.environment = r.environment AND m.merchant_id = $2"
        " WHERE r.environment = $1 ORDER BY r.id", q->who.env, mid);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "rails");
        PQclear(res);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
#define V(c) PQgetvalue(res, i, c)
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:i,s:i,s:i,s:b,s:i}", "rail", V(R_ID),
                              "environment", q->who.env, "network", V(R_NETWORK), "address_kind", V(R_KIND),
                              "chain_id", pgj_int(res, i, R_CHAIN_ID), "contract", pgj_str(res, i, R_CONTRACT),
                              "decimals", atoi(V(R_DECIMALS)), "confirmations", atoi(V(R_CONFIRMATIONS)),
                              "finality_depth", atoi(V(R_FINALITY_DEPTH)), "finality_tag", V(R_FINALITY_TAG)[0] == 't',
                              "block_time_ms", atoi(V(R_BLOCK_MS)));
        if (q->who.merchant_id) json_object_set_new(o, "enabled", json_boolean(V(R_ENABLED)[0] == 't'));
#undef V
        json_array_append_new(arr, o);
    }
    PQclear(res);
    resp_json(r, 200, json_pack("{s:O, s:o}", "data", arr, "rails", arr));      /* `rails`: round one's name */
}

static void list_networks(struct req *q, struct resp *r)
{
    enum { N_NAME, N_KIND, N_CHAIN_ID, N_BLOCK_MS, N_HEAD, N_FINALIZED, N_HEAD_AT, N_W_STATE, N_W_REASON, N_W_HOST,
           N_W_CHECKPOINT, N_W_RANGE, N_W_REORGS, N_W_ERROR, N_W_ERROR_AT, N_W_RPC_ERRORS, N_STALE };
    PGresult *res = db_q(q->db,
        "SELECT n.name, n.address_kind, n.chain_id, n.block_time_ms, h.head, h.finalized,"
        "       " SQL_TS("h.updated_at") ", coalesce(w.state, CASE WHEN rpc.network IS NULL THEN 'external'"
        "       ELSE 'starting' END), w.reason, w.rpc_host, w.checkpoint, w.range_size, w.reorgs, w.last_error,"
        "       " SQL_TS("w.last_error_at") ", w.rpc_errors::text,"
        "       (h.updated_at IS NULL OR h.updated_at < now() - 3 * n.block_time_ms * interval '1 millisecond')"
        "  FROM networks n LEFT JOIN chain_heads h ON h.network = n.name"
        "  LEFT JOIN watcher_status w ON w.network = n.name LEFT JOIN network_rpc rpc ON rpc.network = n.name"
        " WHERE n.environment = $1 ORDER BY n.name", q->who.env);
    if (db_failed(res)) {
        resp_db_error(r, q->db, res, "networks");
        PQclear(res);
        return;
    }
    json_t *arr = json_array();
    for (int i = 0; i < PQntuples(res); i++) {
        json_error_t err;
#define V(c) PQgetvalue(res, i, c)
        json_t *codes = PQgetisnull(res, i, N_W_RPC_ERRORS) ? json_object() : json_loads(V(N_W_RPC_ERRORS), 0, &err);
        json_t *o = json_pack("{s:s,s:s,s:o,s:i,s:o,s:o,s:o,s:o}", "network", V(N_NAME), "address_kind", V(N_KIND),
                              "chain_id", pgj_int(res, i, N_CHAIN_ID), "block_time_ms", atoi(V(N_BLOCK_MS)),
                              "head", pgj_int(res, i, N_HEAD), "finalized", pgj_int(res, i, N_FINALIZED),
                              "head_updated_at", pgj_str(res, i, N_HEAD_AT), "stale",
                              json_boolean(V(N_STALE)[0] == 't'));
        json_object_set_new(o, "watcher",
                            json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "state", V(N_W_STATE),
                                      "reason", pgj_str(res, i, N_W_REASON),
                                      "rpc_host", pgj_str(res, i, N_W_HOST),
                                      "checkpoint", pgj_int(res, i, N_W_CHECKPOINT),
                                      "range_size", pgj_int(res, i, N_W_RANGE),
                                      "reorgs", pgj_int(res, i, N_W_REORGS),
                                      "last_error", pgj_str(res, i, N_W_ERROR),
                                      "last_error_at", pgj_str(res, i, N_W_ERROR_AT), "rpc_errors",
                                      codes ? codes : json_object()));
#undef V
        json_array_append_new(arr, o);
    }
    PQclear(res);
    resp_json(r, 200, json_pack("{s:O, s:o}", "data", arr, "networks", arr));   /* `networks`: round one's name */
}

const struct route network_routes[] = {
    { "GET", "/v1/rails", CAP_ANY_KEY, list_rails },
    { "GET", "/v1/networks", CAP_ANY_KEY, list_networks },
    { 0 }
};
