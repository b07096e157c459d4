/* payouts — money out (DESIGN §11): creating a payout with every rule checked in the
 * same transaction that reserves its place (destination, rail support, velocity, balance
 * or refundable amount, quorum), moving it through the state table with its event,
 * webhook and change-log rows, and the JSON the API and webhooks show.
 * The database enforces the same rules again (0050_payouts.sql): a requester can never
 * approve, a quorum short of its count can never be `approved`. */
#ifndef RAILD_PAYOUTS_H
#define RAILD_PAYOUTS_H
#include "raild/http.h"
#include "core/payout_states.h"
#include <jansson.h>
#include <libpq-fe.h>

struct payout_req {
    const char *kind;              /* refund | settlement */
    long long merchant_id;         /* 0: a refund of money no merchant owned */
    const char *env;
    const char *rail;
    const char *amount;            /* human decimal ("12.5"), or NULL with amount_units */
    const char *amount_units;      /* base units, or NULL */
    const char *to_address;        /* as entered */
    const char *reason;
    const char *source;            /* payable | unapplied */
    long long payment_id, exception_id, transfer_id, payout_address_id;
    const char *max_units;         /* refunds: the most this refund may be (base units), or NULL */
    const char *idem_key, *req_hash;
};

struct payout_err {
    int status;
    char code[48];
    char message[300];
};

/* In the caller's transaction. Returns the payout id (> 0), 0 when refused (err filled:
 * status, code, message), -1 on a database error. */
long long payout_create(PGconn *db, const struct principal *who, const struct payout_req *in,
                        struct payout_err *err);

/* Moves a payout the caller holds locked (FOR UPDATE) to `to`: state, version + 1, a
 * payout_events row, the webhook when the state has one. last_error may be NULL.
 * Returns 0, -1 illegal move (nothing written), -2 database error. */
int payout_move(PGconn *db, long long id, enum payout_state to, const char *actor, json_t *data,
                const char *last_error);

/* The payout as the API shows it; detail adds approvals, transactions, events and ledger
 * lines. NULL when not found or on a database error. */
json_t *payout_json(PGconn *db, long long id, int detail);

/* drops the internal fields (leading '_') before a payout leaves raild; returns j */
json_t *payout_public(json_t *j);
/* rows of the payout SELECT followed by `tail` (p = payouts), as a JSON array */
json_t *payouts_rows(PGconn *db, const char *tail, int n, const char *const *params);

/* A refund resolution being reopened (DESIGN §4): a payout still unsigned is canceled and
 * its reservation released; one already signed makes the reopen impossible. 0 ok (or no
 * payout), 1 refused (err filled: 409 effects_irreversible), -1 database error. */
int payout_on_reopen(PGconn *db, const struct principal *who, long long exception_id, struct payout_err *err);

/* the `cooling_off` seconds of a new whitelist entry (RAILD_PAYOUT_COOLING_OFF_S, default
 * 86400); -1 when the variable is malformed */
long long payout_cooling_off_s(void);
#endif
