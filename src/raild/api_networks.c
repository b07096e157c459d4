/* api_networks — what the caller's environment runs on (DESIGN §2, §10):
 *   GET /v1/rails     every rail of the key's environment: network, token contract,
 *                     decimals, depths; for a merchant key also whether it is enabled
 *   GET /v1/networks  every network of the key's environment: chain id, head, finalized,
 *                     and what its watcher is doing (state, lag, last error; host only)
 * Any valid key may ask, and only about its own environment. */
#include "raild/http.h"
#include "raild/payments.h"
#include "core/db.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *int_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_integer(atoll(PQgetvalue(r, row, col)));
}

static json_t *str_or_null(PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static void list_rails(struct req *q, struct resp *r)
{
    char mid[32];
    snprintf(mid, sizeof mid, "%lld", q->who.merchant_id);
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
        json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:i,s:i,s:i,s:b,s:i}", "rail", PQgetvalue(res, i, 0),
                              "environment", q->who.env, "network", PQgetvalue(res, i, 1), "address_kind",
                              PQgetvalue(res, i, 2), "chain_id", int_or_null(res, i, 3), "contract",
                              str_or_null(res, i, 4), "decimals", atoi(PQgetvalue(res, i, 5)), "confirmations",
                              atoi(PQgetvalue(res, i, 6)), "finality_depth", atoi(PQgetvalue(res, i, 7)),
                              "finality_tag", PQgetvalue(res, i, 8)[0] == 't', "block_time_ms",
                              atoi(PQgetvalue(res, i, 9)));
        if (q->who.merchant_id) json_object_set_new(o, "enabled", json_boolean(PQgetvalue(res, i, 10)[0] == 't'));
        json_array_append_new(arr, o);
    }
    PQclear(res);
    resp_json(r, 200, json_pack("{s:O, s:o}", "data", arr, "rails", arr));      /* `rails`: round one's name */
}

static void list_networks(struct req *q, struct resp *r)
{
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
        json_t *codes = PQgetisnull(res, i, 15) ? json_object() : json_loads(PQgetvalue(res, i, 15), 0, &err);
        json_t *o = json_pack("{s:s,s:s,s:o,s:i,s:o,s:o,s:o,s:o}", "network", PQgetvalue(res, i, 0), "address_kind",
                              PQgetvalue(res, i, 1), "chain_id", int_or_null(res, i, 2), "block_time_ms",
                              atoi(PQgetvalue(res, i, 3)), "head", int_or_null(res, i, 4), "finalized",
                              int_or_null(res, i, 5), "head_updated_at", str_or_null(res, i, 6), "stale",
                              json_boolean(PQgetvalue(res, i, 16)[0] == 't'));
        json_object_set_new(o, "watcher",
                            json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "state", PQgetvalue(res, i, 7),
                                      "reason", str_or_null(res, i, 8), "rpc_host", str_or_null(res, i, 9),
                                      "checkpoint", int_or_null(res, i, 10), "range_size", int_or_null(res, i, 11),
                                      "reorgs", int_or_null(res, i, 12), "last_error", str_or_null(res, i, 13),
                                      "last_error_at", str_or_null(res, i, 14), "rpc_errors",
                                      codes ? codes : json_object()));
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
