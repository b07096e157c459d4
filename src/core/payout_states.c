#include "core/payout_states.h"
#include <string.h>

static const char *const NAMES[POS__COUNT] = {
    "requested", "approved", "signed", "broadcast", "confirming", "confirmed", "finalized",
    "rejected", "canceled", "failed",
};

/* ALLOWED[from] is a bit set of the states it may move to */
#define B(s) (1u << (s))
static const unsigned ALLOWED[POS__COUNT] = {
    [POS_REQUESTED]  = B(POS_APPROVED) | B(POS_REJECTED) | B(POS_CANCELED),
    [POS_APPROVED]   = B(POS_SIGNED) | B(POS_CANCELED) | B(POS_FAILED),
    [POS_SIGNED]     = B(POS_BROADCAST) | B(POS_FAILED),
    [POS_BROADCAST]  = B(POS_CONFIRMING) | B(POS_FAILED),
    [POS_CONFIRMING] = B(POS_CONFIRMED) | B(POS_FINALIZED) | B(POS_BROADCAST),
    [POS_CONFIRMED]  = B(POS_FINALIZED) | B(POS_BROADCAST),
};

const char *payout_state_name(enum payout_state s)
{
    return (unsigned)s < POS__COUNT ? NAMES[s] : "?";
}

int payout_state_parse(const char *s, enum payout_state *out)
{
    for (int i = 0; i < POS__COUNT; i++)
        if (s && !strcmp(s, NAMES[i])) { *out = (enum payout_state)i; return 0; }
    return -1;
}

int payout_allowed(enum payout_state from, enum payout_state to)
{
    if ((unsigned)from >= POS__COUNT || (unsigned)to >= POS__COUNT) return 0;
    return (ALLOWED[from] & B(to)) != 0;
}

int payout_terminal(enum payout_state s)
{
    return s == POS_FINALIZED || s == POS_REJECTED || s == POS_CANCELED || s == POS_FAILED;
}

int payout_cancelable(enum payout_state s)
{
    return s == POS_REQUESTED || s == POS_APPROVED;
}

const char *payout_event_type(enum payout_state to)
{
    switch (to) {
    case POS_APPROVED:  return "payout.approved";
    case POS_REJECTED:  return "payout.rejected";
    case POS_BROADCAST: return "payout.broadcast";
    case POS_FINALIZED: return "payout.finalized";
    case POS_FAILED:    return "payout.failed";
    default:            return NULL;
    }
}
