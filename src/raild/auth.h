/* auth — API keys (hashed at rest) and what each role may do (DESIGN §7). */
#ifndef RAILD_AUTH_H
#define RAILD_AUTH_H
#include "raild/http.h"

#define KEY_MAX 80

/* roles and what each may do are the catalogue's: role_valid(), role_can() (core/catalog.h) */
/* Looks up a presented key. 0 ok (fills who), -1 unknown/revoked, -2 database error. */
int auth_lookup(PGconn *db, const char *key, struct principal *who);
/* Makes a new key for env: "rk_live_…" (production) or "rk_test_…" (sandbox).
 * Fills key (>= KEY_MAX), its display prefix (>= 16) and sha256 as "\\x<hex>" (>= 67). */
void auth_new_key(const char *env, char *key, char *prefix, char *hash_bytea);
void auth_hash_key(const char *key, char *hash_bytea);
#endif
