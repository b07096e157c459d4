#include "raild/migrate.h"
#include "core/db.h"
#include "core/log.h"
#include <stdio.h>
#include <string.h>

int migrate_known(const char *name)
{
    for (const struct migration *m = migrations; m->name; m++)
        if (!strcmp(m->name, name)) return 1;
    return 0;
}

int migrate_run(PGconn *db, int verbose, const char *upto)
{
    /* serialise concurrent `raild migrate` runs */
    if (db_cmd(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")) {
        fprintf(stderr, "raild migrate: cannot create schema_migrations: %s", PQerrorMessage(db));
        return -1;
    }
    int applied = 0;
    for (const struct migration *m = migrations; m->name; m++) {
        if (db_cmd(db, "BEGIN") || db_cmd(db, "SELECT pg_advisory_xact_lock(7236001)")) goto fail;
        PGresult *r = db_q(db, "SELECT 1 FROM schema_migrations WHERE name = $1", m->name);
        int done = !db_failed(r) && PQntuples(r) == 1;
        PQclear(r);
        if (done) {
            db_cmd(db, "ROLLBACK");
            if (upto && !strcmp(m->name, upto)) break;
            continue;
        }
        r = PQexec(db, m->sql);
        if (db_failed(r)) {
            fprintf(stderr, "raild migrate: %s failed: %s", m->name, PQerrorMessage(db));
            PQclear(r);
            db_cmd(db, "ROLLBACK");
            return -1;
        }
        PQclear(r);
        r = db_q(db, "INSERT INTO schema_migrations (name) VALUES ($1)", m->name);
        int bad = db_failed(r);
        PQclear(r);
        if (bad || db_cmd(db, "COMMIT")) goto fail;
        applied++;
        log_info("migrate.applied", "name=%s", m->name);
        if (verbose) printf("applied %s\n", m->name);
        if (upto && !strcmp(m->name, upto)) break;
    }
    return applied;
fail:
    fprintf(stderr, "raild migrate: %s", PQerrorMessage(db));
    db_cmd(db, "ROLLBACK");
    return -1;
}
