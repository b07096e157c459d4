/* lifecycle — the payment state machine (DESIGN §3). One transition table; every
 * move goes through lifecycle_transition(), which appends the payment event, writes
 * the webhook outbox row and (by trigger) the change-log row in the caller's
 * transaction. Nothing else may UPDATE payments.state. */
#ifndef RAILD_LIFECYCLE_H
#define RAILD_LIFECYCLE_H
#include <jansson.h>
#include <libpq-fe.h>

enum pay_state {
    PS_AWAITING,     /* awaiting_payment */
    PS_DETECTED,
    PS_CONFIRMING,
    PS_CONFIRMED,
    PS_FINALIZED,
    PS_EXPIRED,
    PS_CANCELED,
    PS__COUNT
};

/* Who makes the move. Some moves are legal only one way: leaving `expired`
 * happens only through an audited exception resolution. */
enum transition_via {
    VIA_CHAIN,        /* ingest: transfers and heads */
    VIA_MERCHANT,     /* merchant API: cancel */
    VIA_SWEEPER,      /* expiry sweeper */
    VIA_RESOLUTION,   /* operator resolving an exception (accept_late, accept_partial, attach…) */
};

const char *pay_state_name(enum pay_state s);             /* "awaiting_payment", … */
int pay_state_parse(const char *s, enum pay_state *out);  /* 0 ok, -1 unknown */
/* 1 if from -> to is allowed when made via `via` */
int lifecycle_allowed(enum pay_state from, enum pay_state to, enum transition_via via);

/* Moves payment `payment_id` to `to`. The caller holds the row lock
 * (SELECT … FOR UPDATE) and the transaction. block_number < 0 means none;
 * data (borrowed, may be NULL) is merged into the event's data.
 * Returns 0, -1 if the move is illegal (nothing written), -2 on a database error. */
int lifecycle_transition(PGconn *db, long long payment_id, enum pay_state to, enum transition_via via,
                         long long block_number, json_t *data);

/* Appends the `payment.created` event (sequence 0, no webhook: the merchant made the
 * payment and has the response). Returns 0 or -1. */
int lifecycle_record_created(PGconn *db, long long payment_id, json_t *data);

/* 1 if moving into `to` sends a webhook (DESIGN §5 types only; back-moves to
 * awaiting_payment are recorded in payment_events but not sent — see lifecycle.c). */
int lifecycle_to_webhook(enum pay_state to);
const char *transition_via_name(enum transition_via via);
#endif
