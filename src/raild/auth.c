#include "raild/auth.h"
#include "core/db.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void auth_hash_key(const char *key, char *hash_bytea)
{
    unsigned char h[32];
    util_sha256(key, strlen(key), h);
    hash_bytea[0] = '\\';
    hash_bytea[1] = 'x';
    util_hex(h, 32, hash_bytea + 2);
}

void auth_new_key(const char *env, char *key, char *prefix, char *hash_bytea)
{
    char id[64];
    util_random_id(!strcmp(env, "production") ? "rk_live_" : "rk_test_", id, sizeof id);
    snprintf(key, KEY_MAX, "%s", id);
    snprintf(prefix, 16, "%.12s", key);
    auth_hash_key(key, hash_bytea);
}

int auth_lookup(PGconn *db, const char *key, struct principal *who)
{
    char hash[80];
    if (strlen(key) > KEY_MAX) return -1;
    auth_hash_key(key, hash);
    enum { K_ID, K_NAME, K_ROLE, K_MERCHANT, K_ENV, K_TOUCH, K_NETWORK };
    PGresult *r = db_q(db,
        "SELECT id, name, role, coalesce(merchant_id, 0), environment,"
        "       (last_used_at IS NULL OR last_used_at < now() - interval '1 minute'), coalesce(network, '')"
        "  FROM api_keys WHERE hash = $1::bytea AND revoked_at IS NULL", hash);
    if (db_failed(r)) { PQclear(r); return -2; }
    if (PQntuples(r) != 1) { PQclear(r); return -1; }
    who->key_id = atoll(PQgetvalue(r, 0, K_ID));
    snprintf(who->name, sizeof who->name, "%s", PQgetvalue(r, 0, K_NAME));
    snprintf(who->role, sizeof who->role, "%s", PQgetvalue(r, 0, K_ROLE));
    who->merchant_id = atoll(PQgetvalue(r, 0, K_MERCHANT));
    snprintf(who->env, sizeof who->env, "%s", PQgetvalue(r, 0, K_ENV));
    int touch = PQgetvalue(r, 0, K_TOUCH)[0] == 't';
    snprintf(who->network, sizeof who->network, "%s", PQgetvalue(r, 0, K_NETWORK));
    char id[32];
    snprintf(id, sizeof id, "%lld", who->key_id);
    PQclear(r);
    if (touch)   /* at most one write a minute per key */
        PQclear(db_q(db, "UPDATE api_keys SET last_used_at = now() WHERE id = $1", id));
    return 0;
}
