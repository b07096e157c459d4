/* resolve — what resolving an exception does beyond recording the decision (DESIGN §4).
 * api_exceptions.c validates the request, locks the exception and calls resolve_effects()
 * inside the same transaction; anything that changes a payment goes through
 * lifecycle_transition(…, VIA_RESOLUTION, …), never a direct write of payments.state.
 *
 * Effects by resolution:
 *   accept_late          late_payment: count the late transfer toward its payment, move the
 *                        payment out of `expired` (to detected/confirming; the chain engine
 *                        confirms it in the same transaction when the depth is reached).
 *   accept_partial       underpaid: confirming → confirmed (no-op if already confirmed).
 *   attach_to_payment    unmatched_transfer / duplicate_payment / unclassified_internal: move
 *                        the transfer to a target payment (same network and rail contract;
 *                        same merchant+environment when the exception has one; target in
 *                        awaiting_payment, detected, confirming or expired), count it, and
 *                        move the payment as the chain would.
 *   mark_internal_sweep  classify the transfer as an internal sweep (never revenue).
 *   refund, refund_excess on an EVM rail, for the rail's own token: creates a payout
 *                        (DESIGN §11) to the operator's `to_address` — required; the
 *                        transfer's sender is offered as a suggestion, never used — for
 *                        `amount` (default: the excess, the received total, or the
 *                        transfer's value, and never more). The ledger moves when the
 *                        payout is approved and again when it is final (0050_payouts.sql).
 *                        Tron rails and look-alike tokens have no payouts yet: there the
 *                        decision is recorded only (and `to_address` is refused with
 *                        rail_payouts_unsupported), as before this issue.
 *   accept, write_off, request_topup: recorded; the ledger trigger books their effects. */
#ifndef RAILD_RESOLVE_H
#define RAILD_RESOLVE_H
#include "raild/http.h"
#include "raild/lifecycle.h"
#include <jansson.h>
#include <libpq-fe.h>

struct resolve_in {
    long long exc_id;
    const char *type;
    const char *resolution;
    long long payment_id;          /* the exception's payment, 0 if none */
    long long transfer_id;         /* the exception's transfer, 0 if none */
    long long merchant_id;         /* 0 if none */
    const char *environment;       /* NULL if none */
    const char *target;            /* attach_to_payment: the target's pay_ public id */
    const struct principal *who;   /* the operator resolving (a refund payout's requester) */
    const char *note;
    const char *to_address;        /* refund / refund_excess: the payout's destination */
    const char *amount;            /* refund / refund_excess: optional, at most the default */
};

struct resolve_out {
    int status;                    /* on rejection: HTTP status, code, message */
    char code[48];
    char message[256];
    json_t *effects;               /* what changed (owned by the caller after the call) */
    long long notify_merchant_id;  /* who gets exception.resolved (0: nobody known) */
    char notify_env[16];
    long long notify_payment_id;
};

/* Applies the effects of `in->resolution` in the caller's transaction.
 * Returns 0 done, 1 rejected (out->status/code/message set; caller rolls back),
 * -1 database error. */
int resolve_effects(PGconn *db, const struct resolve_in *in, struct resolve_out *out);

/* ---- pure parts (unit-tested) ------------------------------------------ */

/* Where an expired payment re-enters when a resolution counts a transfer toward it:
 * confirming if a counted transfer is in a block, else detected. The chain engine then
 * confirms it if the depth is already reached. */
enum pay_state resolve_reentry_state(int in_block);

/* Shortest chain of legal moves from → to made via `via` (BFS over lifecycle_allowed).
 * Writes the states after `from` into path; returns their number, 0 if from == to,
 * -1 if there is no legal route. */
int resolve_path(enum pay_state from, enum pay_state to, enum transition_via via,
                 enum pay_state *path, int max);

/* 1 if a payment in `state` may receive an attached transfer. */
int resolve_attach_target_ok(enum pay_state state);
#endif
