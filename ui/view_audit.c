/* view_audit — who did what, when, why: the audit log newest first (keyset on id), and
 * one entry with its before/after documents. Filters: actor, action, object, role. */
#include "app.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { A_ID, A_AT, A_ACTOR, A_ROLE, A_ACTION, A_OTYPE, A_OID, A_REASON };

static void build(struct app *a, struct view *v, struct qb *q)
{
    qb_init(q, "SELECT a.id, to_char(a.at, 'MM-DD HH24:MI:SS'), a.actor, a.role, a.action, a.object_type,"
               " a.object_id, coalesce(a.reason, ''), a.id FROM audit_log a WHERE true");
    const char *x;
    if ((x = view_arg(v, "actor"))) qb_and(q, " AND a.actor = $%d", x);
    if ((x = view_arg(v, "action"))) qb_and(q, " AND a.action = $%d", x);
    if ((x = view_arg(v, "role"))) qb_and(q, " AND a.role = $%d", x);
    if ((x = view_arg(v, "object"))) qb_and(q, " AND a.object_id = $%d", x);
    view_filter_sql(v, q, "concat_ws(' ', a.actor, a.role, a.action, a.object_type, a.object_id, a.reason)");
}

static const struct gcol AUDIT_COLS[] = {
    { "WHEN", 14, 0 }, { "ACTOR", 16, 0 }, { "ROLE", 8, 0 }, { "ACTION", 24, 0 }, { "OBJECT", 0, 0 }, { "WHY", 22, 0 },
};

static enum style cell(struct app *a, struct view *v, int r, int c, char *buf, size_t n)
{
    switch (c) {
    case 0: snprintf(buf, n, "%s", grid_val(v, r, A_AT)); return S_DIM;
    case 1: snprintf(buf, n, "%s", grid_val(v, r, A_ACTOR)); return S_NORMAL;
    case 2: snprintf(buf, n, "%s", grid_val(v, r, A_ROLE)); return S_DIM;
    case 3: snprintf(buf, n, "%s", grid_val(v, r, A_ACTION)); return S_LABEL;
    case 4: snprintf(buf, n, "%s %s", grid_val(v, r, A_OTYPE), grid_val(v, r, A_OID)); return S_NORMAL;
    case 5: snprintf(buf, n, "%s", grid_val(v, r, A_REASON)); return S_DIM;
    }
    buf[0] = 0;
    return S_NORMAL;
}

static void draw(struct app *a, struct view *v, int y, int h)
{
    char t[300] = " Audit log: every operator and admin action";
    for (int i = 0; i < v->nargs; i++) {
        size_t l = strlen(t);
        snprintf(t + l, sizeof t - l, "  %s=%s", v->args[i][0], v->args[i][1]);
    }
    if (v->filter[0]) { size_t l = strlen(t); snprintf(t + l, sizeof t - l, "  /%s%s", v->filter_not ? "!" : "", v->filter); }
    draw_text(y, 0, a->cols, S_TITLE, t);
    grid_draw(a, v, y + 1, h - 1, AUDIT_COLS, 6, cell);
}

static reaction request(struct app *a, struct view *v, enum req r)
{
    if (r != REQ_ENTER) return 0;
    const char *id = grid_sel(v, A_ID);
    if (id) app_push(a, &audit_entry_ops, id, NULL);
    return 1;
}

static const char *unavailable(struct app *a, struct view *v, enum req r)
{
    return r == REQ_ENTER && !grid_sel(v, 0) ? "no entry selected" : NULL;
}

static int command(struct app *a, struct view *v, int argc, char **argv, char *err, size_t errlen)
{
    static const char *const keys[] = { "actor", "action", "role", "object", NULL };
    return cmd_args(v, argc, argv, keys, err, errlen);
}

static const char *const TABLES[] = { "audit_log", NULL };
static const char *const KEYS[] = { "a.id", NULL };
static const char *const TYPES[] = { "bigint", NULL };

const struct view_ops audit_ops = {
    .name = "audit", .title = "Audit", .mask = VM_AUDIT, .tab = 4, .tables = TABLES,
    .key_cols = KEYS, .key_types = TYPES, .key_desc = 1, .build = build, .chrome = 2,
    .load = grid_load, .draw = draw, .request = request, .command = command, .unavailable = unavailable,
};

/* the columns of one_load's query, in order */
enum { A1_AT, A1_ACTOR, A1_ROLE, A1_ACTION, A1_OBJECT_TYPE, A1_OBJECT_ID, A1_REASON, A1_BEFORE,
       A1_AFTER, A1_KEY_ID };

static int one_load(struct app *a, struct view *v)
{
    struct doc *d = &v->d;
    PGresult *r = doc_one_begin(a, v, "audit entry ",
                        "SELECT to_char(at, 'YYYY-MM-DD HH24:MI:SS TZ'), actor, role, action, object_type, object_id,"
                        " coalesce(reason, ''), coalesce(jsonb_pretty(before), ''), coalesce(jsonb_pretty(after), ''),"
                        " coalesce(actor_key_id::text, '')"
                        " FROM audit_log WHERE id = $1::bigint", NULL);
    if (!r) return -1;
#define F(i) PQgetvalue(r, 0, i)
    doc_nl(d);
    doc_add(d, S_TITLE, " Audit entry %s  %s", v->target, F(A1_ACTION));
    static const struct doc_field fields[] = {
        { "when", S_NORMAL, A1_AT }, { "actor", S_NORMAL, A1_ACTOR }, { "role", S_NORMAL, A1_ROLE },
        { "key id", S_DIM, A1_KEY_ID }, { "object", S_NORMAL, A1_OBJECT_TYPE },
        { "object id", S_NORMAL, A1_OBJECT_ID }, { "why", S_NORMAL, A1_REASON },
    };
    doc_fields(d, r, fields, (int)(sizeof fields / sizeof fields[0]));
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_TITLE, " Before");
    doc_nl(d);
    doc_add(d, S_DIM, "%s", F(A1_BEFORE)[0] ? F(A1_BEFORE) : "  -");
    doc_nl(d);
    doc_nl(d);
    doc_add(d, S_TITLE, " After");
    doc_nl(d);
    doc_add(d, S_NORMAL, "%s", F(A1_AFTER)[0] ? F(A1_AFTER) : "  -");
#undef F
    PQclear(r);
    return 0;
}

const struct view_ops audit_entry_ops = {
    .name = "audit entry", .title = "Audit entry", .mask = VM_AUDIT_ONE, .tables = NULL,
    .load = one_load, .draw = doc_draw,
};
