#include "core/catalog.h"
#include <stddef.h>
#include <string.h>

const char *const payment_states[] = {
    "awaiting_payment", "detected", "confirming", "confirmed",          /* open */
    "finalized", "expired", "canceled", NULL,
};
const char *const exception_states[] = { "open", "claimed", "resolved", "dismissed", NULL };
const char *const recon_break_classes[] = {
    "fulfilled_before_finality", "missing_in_finance", "orphan_posting", "amount_mismatch",
    "missing_in_provider", "commerce_lagging", "unapplied_transfer", "wallet_balance_mismatch", NULL,
};
const char *const recon_break_states[] = { "new", "persisting", "resolved", NULL };
const char *const webhook_event_types[] = {
    "payment.detected", "payment.confirming", "payment.confirmed", "payment.finalized", "payment.expired",
    "payment.canceled", "exception.opened", "exception.resolved",
    "payout.requested", "payout.approved", "payout.rejected", "payout.broadcast", "payout.finalized", "payout.failed",
    "endpoint.disabled", "delivery.exhausted", NULL,
};
const char *const roles[] = { "merchant", "watcher", "viewer", "support", "ops", "finance", "treasury", "admin", NULL };

int catalog_index(const char *const *list, const char *s)
{
    for (int i = 0; s && list[i]; i++)
        if (!strcmp(list[i], s)) return i;
    return -1;
}

int role_valid(const char *role) { return catalog_index(roles, role) >= 0; }

int role_can(const char *role, enum cap cap)
{
    int is = role_valid(role);
    int op = is && strcmp(role, "merchant") && strcmp(role, "watcher");
    int admin = is && !strcmp(role, "admin");
    switch (cap) {
    case CAP_PUBLIC:   return 1;
    case CAP_MERCHANT: return is && !strcmp(role, "merchant");
    case CAP_INGEST:   return is && !strcmp(role, "watcher");
    case CAP_READ:     return op;
    case CAP_SUPPORT:  return admin || (is && !strcmp(role, "support"));
    case CAP_OPS:      return admin || (is && !strcmp(role, "ops"));
    case CAP_FINANCE:  return admin || (is && !strcmp(role, "finance"));
    case CAP_TREASURY: return is && !strcmp(role, "treasury");   /* never admin: treasury requests nothing */
    case CAP_ADMIN:    return admin;
    case CAP_ANY_KEY:  return is;
    }
    return 0;
}
