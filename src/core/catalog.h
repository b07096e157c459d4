/* catalog — what raild, the console and the database must agree on, in one place:
 * payment states (DESIGN §3), exception states (§4), reconciliation break classes and
 * states (§6), roles and what each may do (§7). Exception types and resolutions live in
 * core/exc_catalog.h and the payout state machine in core/payout_states.h; this header
 * brings all three. The migrations' CHECK lists hold the same names, and
 * tests/unit/test_catalog.c fails when the migrated database and these lists disagree. */
#ifndef CORE_CATALOG_H
#define CORE_CATALOG_H
#include "core/exc_catalog.h"
#include "core/payout_states.h"

/* NULL-terminated. Payment states in lifecycle order: the first PAYMENT_OPEN_STATES are
 * open (not terminal). */
extern const char *const payment_states[];
#define PAYMENT_OPEN_STATES 4
extern const char *const exception_states[];
extern const char *const recon_break_classes[];
extern const char *const recon_break_states[];
extern const char *const roles[];
/* every webhook event type an endpoint may subscribe to (DESIGN §5) */
extern const char *const webhook_event_types[];

/* What a route needs; the roles map onto these in role_can(). */
enum cap {
    CAP_PUBLIC,      /* no key: healthz, metrics */
    CAP_MERCHANT,    /* merchant keys: payments, orders, webhook endpoints */
    CAP_INGEST,      /* watcher keys: chain ingest */
    CAP_READ,        /* any operator role: viewer support ops finance admin */
    CAP_SUPPORT,     /* webhook retry/recover, endpoint enable/disable */
    CAP_OPS,         /* exceptions, transfer classification */
    CAP_FINANCE,     /* reconciliation, export */
    CAP_TREASURY,    /* approves or rejects payouts and whitelist entries; requests nothing */
    CAP_ADMIN,       /* keys, rails, merchants */
    CAP_ANY_KEY,     /* any valid key: the rails and networks of its environment */
};

/* index of s in a NULL-terminated list, or -1 */
int catalog_index(const char *const *list, const char *s);
int role_valid(const char *role);
/* 1 if a key of this role may do what cap says (admin does everything but treasury's part:
 * the one who configures never approves money) */
int role_can(const char *role, enum cap cap);
#endif
