#include "raild/audit.h"
#include "core/db.h"
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int audit_insert(PGconn *db, const char *actor, const char *key_id, const char *role,
                        const char *action, const char *otype, const char *oid, const char *reason,
                        json_t *before, json_t *after)
{
    char *b = before ? json_dumps(before, JSON_COMPACT) : NULL;
    char *a = after ? json_dumps(after, JSON_COMPACT) : NULL;
    PGresult *r = db_q(db,
        "INSERT INTO audit_log (actor, actor_key_id, role, action, object_type, object_id, reason, before, after)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)",
        actor, key_id, role, action, otype, oid, reason, b, a);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    free(b);
    free(a);
    return rc;
}

int audit_write(PGconn *db, const struct principal *who, const char *action, const char *object_type,
                const char *object_id, const char *reason, json_t *before, json_t *after)
{
    char kid[32];
    snprintf(kid, sizeof kid, "%lld", who->key_id);
    return audit_insert(db, who->name, kid, who->role, action, object_type, object_id, reason, before, after);
}

int audit_write_cli(PGconn *db, const char *action, const char *object_type, const char *object_id,
                    const char *reason, json_t *before, json_t *after)
{
    char actor[300];
    struct passwd *pw = getpwuid(getuid());
    snprintf(actor, sizeof actor, "cli:%s", pw ? pw->pw_name : "unknown");
    return audit_insert(db, actor, NULL, "admin", action, object_type, object_id, reason, before, after);
}
