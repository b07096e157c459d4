/* ingest — chain data into payments (DESIGN §3–§4): classify each reported token
 * transfer, count the ones that pay a payment, drive the lifecycle from transfers and
 * chain heads, and open/close the exceptions the chain reveals. api_chain.c validates
 * requests and calls these inside one transaction. */
#ifndef RAILD_INGEST_H
#define RAILD_INGEST_H
#include <jansson.h>
#include <libpq-fe.h>

/* One validated, canonical transfer (addresses canonical, tx hash lower-case). */
struct xfer_in {
    char tx_hash[72];
    long long log_index;
    long long block_number;        /* -1: mempool */
    char block_hash[72];           /* "" when null */
    char contract[64], from[64], to[64];
    char value[80];                /* base units, digits, no leading zeros: a uint256 has up to 78 */
    int removed;
};

struct xfer_out {
    char classification[32];
    char payment_public_id[48];    /* "" when none */
    long long payment_id;          /* payment whose totals/state may have changed, 0 if none */
};

/* Serializes ingest per network (transaction-scoped advisory lock). 0 or -1. */
int ingest_lock_network(PGconn *db, const char *network);

/* Applies n transfers in the caller's transaction: takes the network lock, applies each,
 * then evaluates every touched payment once, in id order. The new transfers that hit no
 * payment's address (a catch-up's bulk: unmatched, wrong_asset, sweeps…) are stored with
 * one INSERT and their exceptions opened with one more; the rest (rows we hold, payments'
 * transfers, removals, a transfer listed twice) go one by one, with the facts the batch read.
 * Either way each is classified, stored and answered as it would be alone. results: NULL, or an array that
 * gets {tx_hash, log_index, classification, payment_id} per transfer. Returns 0, -1
 * database error, -2 out of memory, -3 conflict (transfer *bad_index; reject the batch). */
int ingest_batch(PGconn *db, const char *network, const struct xfer_in *xs, size_t n, json_t *results,
                 size_t *bad_index);

/* Re-evaluates one payment from its counted transfers and the network head: updates
 * received / confirmed_amount / confirmations and makes the chain's moves (VIA_CHAIN) —
 * awaiting → detected/confirming, back-moves when transfers left, confirming → confirmed
 * at depth (opening underpaid/overpaid), confirmed → finalized at finality. Takes the row
 * lock itself. Payments in expired/canceled/finalized only get their totals refreshed.
 * Returns the number of transitions made, or -1 on a database error. */
int ingest_eval_payment(PGconn *db, long long payment_id);

/* Stores a new head for `network` and re-evaluates open payments there.
 * finalized < 0 means "head minus the network's largest finality depth"; it never
 * exceeds head. check_jump: refuse a head more than networks.max_head_jump past the
 * stored one (the HTTP ingest; raild's own watcher reads the node and does not).
 * Returns 0, -1 database error, -4 head below the stored finalized height (rejected),
 * -5 head jump too large (rejected).
 * *out receives {"network","head","finalized","evaluated","transitions"}. */
int ingest_head(PGconn *db, const char *network, long long head, long long finalized, int check_jump,
                json_t **out);
#endif
