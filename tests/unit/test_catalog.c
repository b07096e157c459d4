/* The one catalogue (core/catalog.h) against the database the migrations build: every CHECK
 * list of a state, type, class or role column holds exactly the catalogue's names (issue 15).
 * Runs against the PostgreSQL `make check` started (PG* variables); without one it fails.
 * Also: raild's lifecycle names its states from the same list, in enum order. */
#include "tap.h"
#include "core/catalog.h"
#include "raild/lifecycle.h"
#include <libpq-fe.h>
#include <stdlib.h>

/* the quoted names of the CHECK on table.column, as one sorted-by-appearance list */
static int check_names(PGconn *db, const char *table, const char *col, char names[64][64])
{
    const char *p[2] = { table, col };
    PGresult *r = PQexecParams(db,
        "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
        " WHERE t.relname = $1 AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE"
        " '%(' || $2 || ' = ANY (ARRAY[%'", 2, NULL, p, NULL, NULL, 0);
    int n = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        n = 0;
        for (const char *s = PQgetvalue(r, 0, 0); (s = strchr(s, '\'')) && n < 64; n++) {
            const char *e = strchr(s + 1, '\'');
            if (!e) break;
            snprintf(names[n], 64, "%.*s", (int)(e - s - 1), s + 1);
            s = e + 1;
        }
    } else {
        printf("# %s.%s: %s (%d constraints)\n", table, col, PQresultErrorMessage(r), PQntuples(r));
    }
    PQclear(r);
    return n;
}

static void same(PGconn *db, const char *table, const char *col, const char *const *cat)
{
    char names[64][64];
    int n = check_names(db, table, col, names), k = 0, missing = 0, extra = 0;
    while (cat[k]) k++;
    for (int i = 0; n > 0 && i < k; i++) {
        int found = 0;
        for (int j = 0; j < n; j++) found |= !strcmp(cat[i], names[j]);
        if (!found) { missing++; printf("#   %s is in the catalogue, not in the CHECK\n", cat[i]); }
    }
    for (int j = 0; n > 0 && j < n; j++)
        if (catalog_index(cat, names[j]) < 0) { extra++; printf("#   %s is in the CHECK, not in the catalogue\n", names[j]); }
    ok(n == k && !missing && !extra, "%s.%s: the CHECK list and the catalogue agree (%d names)", table, col, k);
}

int main(void)
{
    PGconn *db = PQconnectdb("");
    ok(PQstatus(db) == CONNECTION_OK, "connected to the migrated database (PG* variables)");
    if (PQstatus(db) != CONNECTION_OK) {
        printf("# %s", PQerrorMessage(db));
        return tap_done();
    }
    same(db, "payments", "state", payment_states);
    same(db, "exceptions", "type", exc_types);
    same(db, "exceptions", "state", exception_states);
    same(db, "recon_breaks", "class", recon_break_classes);
    same(db, "recon_breaks", "state", recon_break_states);
    same(db, "api_keys", "role", roles);
    const char *po[POS__COUNT + 1];
    for (int i = 0; i < POS__COUNT; i++) po[i] = payout_state_name((enum payout_state)i);
    po[POS__COUNT] = NULL;
    same(db, "payouts", "state", po);
    PQfinish(db);

    int k = 0;
    while (payment_states[k]) k++;
    is_int(k, PS__COUNT, "the catalogue has one name per lifecycle state");
    int agree = 1;
    for (int i = 0; i < PS__COUNT; i++) agree &= !strcmp(pay_state_name((enum pay_state)i), payment_states[i]);
    ok(agree, "lifecycle names its states from the catalogue, in enum order");
    ok(role_can("admin", CAP_OPS) && !role_can("admin", CAP_TREASURY) && role_can("treasury", CAP_TREASURY) &&
       !role_can("viewer", CAP_OPS) && role_can("viewer", CAP_READ) && !role_can("nobody", CAP_ANY_KEY),
       "role_can: admin configures but approves no money; viewers read; unknown roles nothing");
    return tap_done();
}
