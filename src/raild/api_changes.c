/* api_changes — governed changes over HTTP (DESIGN §11): the list, and a decision by an
 * admin or treasury key that did not propose it (proposals come from `raild admin`).
 *   GET  /v1/changes?state=                   operators of the environment
 *   POST /v1/changes/{id}/approve|reject      {note}; admin or treasury, never the proposer */
#include "raild/governance.h"
#include "raild/http.h"
#include "raild/query.h"
#include "core/db.h"
#include "core/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void changes_list(struct req *q, struct resp *r)
{
    static const char *const allowed[] = { "state", NULL };
    if (query_check(q, r, allowed)) return;
    const char *state = req_query(q, "state");
    if (state && strcmp(state, "proposed") && strcmp(state, "approved") && strcmp(state, "applied") &&
        strcmp(state, "rejected")) {
        resp_error(r, 400, "invalid_request", "state must be proposed, approved, applied or rejected");
        return;
    }
    PGresult *res = db_q(q->db, "SELECT coalesce(json_agg(x ORDER BY x.created_at DESC), '[]')::text FROM ("
                                " SELECT public_id AS id, command, target, state, before, after, reason, proposed_by,"
                                " decided_by, decision_note, effective_at, created_at, decided_at, applied_at"
                                " FROM governed_changes WHERE environment = $1 AND ($2::text IS NULL OR state = $2)"
                                " ORDER BY id DESC LIMIT 200) x", q->who.env, state);
    if (db_failed(res)) { resp_db_error(r, q->db, res, "changes.list"); PQclear(res); return; }
    json_t *data = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
    PQclear(res);
    resp_json(r, 200, json_pack("{s:o}", "data", data ? data : json_array()));
}

static void changes_decide(struct req *q, struct resp *r, int approve)
{
    static const char *const allowed[] = { "note", NULL };
    const char *note = NULL;
    json_t *b = req_json_object(q, r, allowed);
    if (!b) return;
    if (jget_str(b, "note", 1, 8000, &note, r)) goto out;
    if (!*note || strlen(note) > 2000) {
        resp_error(r, 422, "note_required", "a note of 1-2000 bytes is required");
        goto out;
    }
    if (tx_begin(q, r)) goto out;
    char code[32], msg[300];
    int rc = gov_decide(q->db, &q->who, q->params[0], approve, note, code, sizeof code, msg, sizeof msg);
    if (rc < 0) { resp_db_error(r, q->db, NULL, "changes.decide"); goto out; }
    if (rc) { resp_error(r, rc, code, "%s", msg); goto out; }
    if (tx_commit(q, r)) goto out;
    if (approve && gov_apply_due(q->db) < 0) log_warn("change.apply_deferred", "change=%s", q->params[0]);
    PGresult *res = db_q(q->db, "SELECT to_jsonb(c) - 'sealed' - 'args' - 'id' - 'proposed_by_key' - 'decided_by_key'"
                                " FROM governed_changes c WHERE public_id = $1", q->params[0]);
    json_t *j = !db_failed(res) && PQntuples(res) == 1 ? json_loads(PQgetvalue(res, 0, 0), 0, NULL) : NULL;
    PQclear(res);
    if (j) resp_json(r, 200, j);
    else resp_db_error(r, q->db, NULL, "changes.load");
out:
    json_decref(b);
}

static void changes_approve(struct req *q, struct resp *r) { changes_decide(q, r, 1); }
static void changes_reject(struct req *q, struct resp *r) { changes_decide(q, r, 0); }

const struct route change_routes[] = {
    { "GET", "/v1/changes", CAP_READ, changes_list },
    { "POST", "/v1/changes/{id}/approve", CAP_ANY_KEY, changes_approve },
    { "POST", "/v1/changes/{id}/reject", CAP_ANY_KEY, changes_reject },
    { 0 }
};
