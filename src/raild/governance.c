/* governance — governed changes (DESIGN §11): in production, a rail's contract, decimals
 * and depths, and a network's RPC and signer endpoints, change only through a proposal that
 * another admin or treasury key approves, effective from a stated time. `raild admin`
 * proposes (set-rail / set-rpc / set-signer with --key-file naming the proposer) and
 * decides (approve-change / reject-change); the sweeper applies approved changes when their
 * time comes, so "effective from" holds even when nobody is at a terminal.
 * What is applied is exactly what was shown when it was approved: args and the sealed URLs
 * are fixed by a trigger once proposed. */
#include "raild/governance.h"
#include "raild/audit.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int gov_rail_write(PGconn *db, int exists, const char *env, const char *rail, const char *net, const char *contract,
                   long long decimals, long long confirmations, long long finality, int tag, int finality_given,
                   json_t **after, char *msg, size_t msglen)
{
    char ds[24], cs[24], fs[24];
    snprintf(ds, sizeof ds, "%lld", decimals);
    snprintf(cs, sizeof cs, "%lld", confirmations);
    snprintf(fs, sizeof fs, "%lld", finality);
    /* --finality tag keeps the depth as the rule where the node has no finalized block;
     * the CHECKs see an INSERT's row before ON CONFLICT would, so insert and update apart */
    enum { RR_DECIMALS, RR_CONFIRMATIONS, RR_FINALITY_DEPTH, RR_FINALITY_TAG };
    static const char *const upd =
        "UPDATE rails SET network = $3, contract = $4,"
        "   decimals = CASE WHEN $5::int >= 0 THEN $5::int ELSE decimals END,"
        "   confirm_depth = CASE WHEN $6::int > 0 THEN $6::int ELSE confirm_depth END,"
        "   finality_depth = CASE WHEN $7::int > 0 THEN $7::int ELSE finality_depth END,"
        "   finality_tag = CASE WHEN $9 THEN $8::boolean ELSE finality_tag END, updated_at = now()"
        " WHERE environment = $1 AND id = $2"
        " RETURNING decimals, confirm_depth, finality_depth, finality_tag";
    static const char *const ins =
        "INSERT INTO rails (id, environment, network, asset, standard, contract, decimals, confirm_depth,"
        "                   finality_depth, finality_tag)"
        " SELECT $2, $1, $3, split_part($2, ':', 2),"
        "        CASE (SELECT address_kind FROM networks WHERE name = $3) WHEN 'tron' THEN 'TRC20' ELSE 'ERC20' END,"
        "        $4, $5::int, $6::int, CASE WHEN $7::int > 0 THEN $7::int ELSE $6::int END, $8::boolean"
        "  WHERE $9 OR true"
        " RETURNING decimals, confirm_depth, finality_depth, finality_tag";
    PGresult *r = db_q(db, exists ? upd : ins, env, rail, net, contract, ds, cs, fs, tag ? "true" : "false",
                       finality_given ? "true" : "false");
    if (db_failed(r)) {
        const char *st = db_sqlstate(r);
        int user = !strcmp(st, SQLSTATE_UNIQUE_VIOLATION) || !strcmp(st, "23514");
        snprintf(msg, msglen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        return user ? 1 : -1;
    }
    if (after)
        *after = json_pack("{s:s,s:s,s:i,s:i,s:i,s:b}", "network", net, "contract", contract, "decimals",
                           atoi(PQgetvalue(r, 0, RR_DECIMALS)), "confirmations", atoi(PQgetvalue(r, 0, RR_CONFIRMATIONS)), "finality_depth",
                           atoi(PQgetvalue(r, 0, RR_FINALITY_DEPTH)), "finality_tag", PQgetvalue(r, 0, RR_FINALITY_TAG)[0] == 't');
    PQclear(r);
    return 0;
}

int gov_endpoints_write(PGconn *db, int signer, const char *net, const char *sealed, const char *hosts,
                        const char *by)
{
    PGresult *r = signer
        ? db_q(db, "INSERT INTO network_signer (network, urls, hosts, updated_by) VALUES ($1, $2, $3, $4)"
                   " ON CONFLICT (network) DO UPDATE SET urls = $2, hosts = $3, updated_by = $4,"
                   " updated_at = now()", net, sealed, hosts, by)
        : db_q(db, "INSERT INTO network_rpc (network, urls, hosts, updated_by) VALUES ($1, $2, $3, $4)"
                   " ON CONFLICT (network) DO UPDATE SET urls = $2, hosts = $3, updated_by = $4,"
                   " updated_at = now()", net, sealed, hosts, by);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

long long gov_propose(PGconn *db, const struct principal *who, const char *command, const char *env,
                      const char *target, json_t *args, const char *sealed, json_t *before, json_t *after,
                      const char *effective_at, const char *reason, char *pub, size_t publen)
{
    char kid[32];
    snprintf(kid, sizeof kid, "%lld", who->key_id);
    util_random_id("chg_", pub, publen);
    char *a = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS), *b = before ? json_dumps(before, JSON_COMPACT) : NULL;
    char *f = json_dumps(after, JSON_COMPACT);
    PGresult *r = db_q(db, "INSERT INTO governed_changes (public_id, command, environment, target, args, sealed, before,"
                           " after, reason, proposed_by, proposed_by_key, effective_at)"
                           " VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::jsonb, $8::jsonb, $9, $10, $11::bigint,"
                           " $12::timestamptz) RETURNING id",
                       pub, command, env, target, a, sealed, b, f, reason, who->name, kid, effective_at);
    free(a), free(b), free(f);
    long long id = (!db_failed(r) && PQntuples(r) == 1) ? atoll(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (id > 0) {
        json_t *au = json_pack("{s:s,s:s,s:O,s:s*}", "command", command, "target", target, "after", after,
                               "effective_at", effective_at);
        if (audit_write(db, who, "change.propose", "governed_change", pub, reason, before, au)) id = -1;
        json_decref(au);
    }
    return id;
}

/* Applies one approved change the caller holds locked. 0 applied, 1 refused (msg), -1 db. */
static int apply_one(PGconn *db, const char *pub, const char *command, json_t *args, const char *sealed,
                     const char *approver, char *msg, size_t msglen)
{
    if (!strcmp(command, "set-rail")) {
        const char *env = json_string_value(json_object_get(args, "env"));
        const char *rail = json_string_value(json_object_get(args, "rail"));
        char *exists = db_val(db, "SELECT count(*) FROM rails WHERE environment = $1 AND id = $2", env, rail);
        if (!exists) return -1;
        int ex = atoi(exists);
        free(exists);
        return gov_rail_write(db, ex, env, rail, json_string_value(json_object_get(args, "network")),
                              json_string_value(json_object_get(args, "contract")),
                              json_integer_value(json_object_get(args, "decimals")),
                              json_integer_value(json_object_get(args, "confirmations")),
                              json_integer_value(json_object_get(args, "finality")),
                              json_is_true(json_object_get(args, "finality_tag")),
                              json_is_true(json_object_get(args, "finality_given")), NULL, msg, msglen);
    }
    char by[300];
    snprintf(by, sizeof by, "%s (approved by %s)", pub, approver);
    return gov_endpoints_write(db, !strcmp(command, "set-signer"), json_string_value(json_object_get(args, "network")),
                               sealed, json_string_value(json_object_get(args, "hosts")), by) ? -1 : 0;
}

int gov_apply_due(PGconn *db)
{
    /* the sweeper asks every second: one indexed look before any transaction */
    char *due = db_val(db, "SELECT count(*) FROM (SELECT 1 FROM governed_changes WHERE state = 'approved'"
                           " AND (effective_at IS NULL OR effective_at <= now()) LIMIT 1) x");
    if (!due) return -1;
    int none = !strcmp(due, "0");
    free(due);
    if (none) return 0;
    int applied = 0;
    for (;;) {
        if (db_cmd(db, "BEGIN")) return -1;
        enum { AP_ID, AP_PUBLIC_ID, AP_COMMAND, AP_ARGS, AP_SEALED, AP_DECIDED_BY, AP_BEFORE, AP_AFTER };
        PGresult *r = db_q0(db, "SELECT id, public_id, command, args::text, sealed, coalesce(decided_by, ''), before::text,"
                                " after::text FROM governed_changes WHERE state = 'approved'"
                                " AND (effective_at IS NULL OR effective_at <= now()) ORDER BY id LIMIT 1"
                                " FOR UPDATE SKIP LOCKED");
        if (db_failed(r)) { PQclear(r); db_cmd(db, "ROLLBACK"); return -1; }
        if (PQntuples(r) == 0) { PQclear(r); db_cmd(db, "ROLLBACK"); return applied; }
        char id[32], pub[64], msg[400] = "";
        snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, AP_ID));
        snprintf(pub, sizeof pub, "%s", PQgetvalue(r, 0, AP_PUBLIC_ID));
        json_t *args = json_loads(PQgetvalue(r, 0, AP_ARGS), 0, NULL), *before = json_loads(PQgetvalue(r, 0, AP_BEFORE), 0, NULL);
        json_t *after = json_loads(PQgetvalue(r, 0, AP_AFTER), 0, NULL);
        int rc = args ? apply_one(db, pub, PQgetvalue(r, 0, AP_COMMAND), args, PQgetisnull(r, 0, AP_SEALED) ? NULL : PQgetvalue(r, 0, AP_SEALED),
                                  PQgetvalue(r, 0, AP_DECIDED_BY), msg, sizeof msg) : -1;
        PQclear(r);
        json_decref(args);
        if (rc < 0) { json_decref(before); json_decref(after); db_cmd(db, "ROLLBACK"); return -1; }
        if (rc > 0) {   /* the world moved (a contract now used elsewhere): record why, never half-apply */
            db_cmd(db, "ROLLBACK");
            if (db_cmd(db, "BEGIN")) { json_decref(before); json_decref(after); return -1; }
            PGresult *u = db_q(db, "UPDATE governed_changes SET state = 'rejected', decision_note = $2"
                                   " WHERE id = $1::bigint AND state = 'approved'", id, msg);
            PQclear(u);
        } else {
            PGresult *u = db_q(db, "UPDATE governed_changes SET state = 'applied', applied_at = now() WHERE id = $1::bigint",
                               id);
            int bad = db_failed(u);
            PQclear(u);
            struct principal sys = { .key_id = 0 };
            snprintf(sys.name, sizeof sys.name, "raild");
            snprintf(sys.role, sizeof sys.role, "admin");
            if (bad || audit_write(db, &sys, "change.apply", "governed_change", pub, NULL, before, after)) {
                json_decref(before);
                json_decref(after);
                db_cmd(db, "ROLLBACK");
                return -1;
            }
        }
        json_decref(before);
        json_decref(after);
        if (db_cmd(db, "COMMIT")) return -1;
        log_info(rc ? "change.refused" : "change.applied", "change=%s%s%s", pub, rc ? " reason=" : "", rc ? "refused" : "");
        applied++;
    }
}

int gov_decide(PGconn *db, const struct principal *who, const char *pub, int approve, const char *note,
               char *code, size_t codelen, char *msg, size_t msglen)
{
    enum { GC_ID, GC_STATE, GC_PROPOSER, GC_ENV, GC_ROW };
    PGresult *r = db_q(db, "SELECT id, state, proposed_by_key, environment, to_jsonb(c) - 'sealed' - 'args'"
                           " FROM governed_changes c WHERE public_id = $1 FOR UPDATE", pub);
    if (db_failed(r)) { PQclear(r); return -1; }
    if (PQntuples(r) != 1) {
        PQclear(r);
        snprintf(code, codelen, "not_found");
        snprintf(msg, msglen, "no change '%.64s'", pub);
        return 404;
    }
    char id[32], state[16], env[16];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, GC_ID));
    snprintf(state, sizeof state, "%s", PQgetvalue(r, 0, GC_STATE));
    long long proposer = atoll(PQgetvalue(r, 0, GC_PROPOSER));
    snprintf(env, sizeof env, "%s", PQgetvalue(r, 0, GC_ENV));
    json_t *before = json_loads(PQgetvalue(r, 0, GC_ROW), 0, NULL);
    PQclear(r);
    int rc = 0;
    const char *c = "";
    if (strcmp(env, who->env)) snprintf(msg, msglen, "no change '%.64s' in %s", pub, who->env), rc = 404, c = "not_found";
    else if (strcmp(who->role, "admin") && strcmp(who->role, "treasury"))
        snprintf(msg, msglen, "only an admin or treasury key decides on a governed change"), rc = 403, c = "forbidden";
    else if (proposer == who->key_id)
        snprintf(msg, msglen, "four eyes: you proposed this change; another admin or treasury key must decide"),
            rc = 403, c = "four_eyes";
    else if (strcmp(state, "proposed"))
        snprintf(msg, msglen, "the change is %s, not proposed", state), rc = 409, c = "invalid_state";
    snprintf(code, codelen, "%s", c);
    if (rc) { json_decref(before); return rc; }
    char kid[32];
    snprintf(kid, sizeof kid, "%lld", who->key_id);
    r = db_q(db, "UPDATE governed_changes SET state = $2, decided_by = $3, decided_by_key = $4::bigint,"
                 " decision_note = $5, decided_at = now() WHERE id = $1::bigint RETURNING to_jsonb(governed_changes)"
                 " - 'sealed' - 'args'", id, approve ? "approved" : "rejected", who->name, kid, note);
    json_t *after = !db_failed(r) && PQntuples(r) == 1 ? json_loads(PQgetvalue(r, 0, 0), 0, NULL) : NULL;
    PQclear(r);
    rc = after && !audit_write(db, who, approve ? "change.approve" : "change.reject", "governed_change", pub, note,
                               before, after) ? 0 : -1;
    json_decref(before);
    json_decref(after);
    return rc;
}
