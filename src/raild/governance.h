/* governance — governed changes (DESIGN §11): proposals for production rail settings and
 * RPC/signer endpoints, decided by another admin or treasury key, applied when effective. */
#ifndef RAILD_GOVERNANCE_H
#define RAILD_GOVERNANCE_H
#include "raild/http.h"
#include <jansson.h>
#include <libpq-fe.h>

/* Writes a rail (insert when !exists). 0 ok, 1 refused by a CHECK/UNIQUE (msg), -1 db.
 * *after (may be NULL) gets the rail as written. */
int gov_rail_write(PGconn *db, int exists, const char *env, const char *rail, const char *net, const char *contract,
                   long long decimals, long long confirmations, long long finality, int tag, int finality_given,
                   json_t **after, char *msg, size_t msglen);
/* Stores sealed endpoint URLs for a network (signer: network_signer, else network_rpc). 0 or -1. */
int gov_endpoints_write(PGconn *db, int signer, const char *net, const char *sealed, const char *hosts,
                        const char *by);
/* A proposal, audited, in the caller's transaction. effective_at: RFC 3339 or NULL (on
 * approval). Returns its id (pub gets chg_…), -1 on error. */
long long gov_propose(PGconn *db, const struct principal *who, const char *command, const char *env,
                      const char *target, json_t *args, const char *sealed, json_t *before, json_t *after,
                      const char *effective_at, const char *reason, char *pub, size_t publen);
/* Approves or rejects a proposal in the caller's transaction. 0 done, -1 db, or an HTTP
 * status (403/404/409) with code and msg filled: four_eyes, forbidden, not_found, invalid_state. */
int gov_decide(PGconn *db, const struct principal *who, const char *pub, int approve, const char *note,
               char *code, size_t codelen, char *msg, size_t msglen);
/* Applies every approved change whose time has come, each in its own transaction.
 * Returns how many, or -1. */
int gov_apply_due(PGconn *db);
#endif
