/* payout_states — the payout state machine (DESIGN §11), one table for raild, the
 * console and the database (db/migrations/0050_payouts.sql holds the same pairs; a
 * test compares them).
 *   requested → approved → signed → broadcast → confirming → confirmed → finalized
 *   exits: rejected (treasury), canceled (before signing), failed (signer refused,
 *   broadcast rejected, dropped past policy). A reorg that drops a mined payout moves it
 *   from confirming/confirmed back to broadcast: the same signed transaction is sent again. */
#ifndef CORE_PAYOUT_STATES_H
#define CORE_PAYOUT_STATES_H

enum payout_state {
    POS_REQUESTED,
    POS_APPROVED,
    POS_SIGNED,
    POS_BROADCAST,
    POS_CONFIRMING,
    POS_CONFIRMED,
    POS_FINALIZED,
    POS_REJECTED,
    POS_CANCELED,
    POS_FAILED,
    POS__COUNT
};

const char *payout_state_name(enum payout_state s);
int payout_state_parse(const char *s, enum payout_state *out);   /* 0 ok, -1 unknown */
int payout_allowed(enum payout_state from, enum payout_state to);
/* 1 for finalized, rejected, canceled, failed */
int payout_terminal(enum payout_state s);
/* 1 while the payout can still be canceled (nothing signed yet) */
int payout_cancelable(enum payout_state s);
/* the webhook event a move into `to` sends ("payout.approved"), or NULL for none */
const char *payout_event_type(enum payout_state to);
#endif
