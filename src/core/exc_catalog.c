#include "core/exc_catalog.h"
#include <stddef.h>
#include <string.h>

const char *const exc_types[] = {
    "underpaid", "overpaid", "late_payment", "unmatched_transfer", "wrong_asset",
    "duplicate_payment", "reorged", "unclassified_internal", "stuck_unconfirmed",
    "recon_break", "chain_incident", NULL,
};

struct exc_rule {
    const char *type;
    const char *resolutions[5];
};

/* DESIGN §4 (auto_closed is the engine's own, never an operator's choice).
 * recon_break: the disagreement is fixed where it arose (an order corrected, a posting
 * made); the break itself then clears on the next reconciliation run. */
static const struct exc_rule rules[] = {
    { "underpaid", { "accept_partial", "request_topup", "refund", "write_off", NULL } },
    { "overpaid", { "accept", "refund_excess", NULL } },
    { "late_payment", { "accept_late", "refund", NULL } },
    { "unmatched_transfer", { "attach_to_payment", "refund", "mark_internal_sweep", NULL } },
    { "wrong_asset", { "refund", "write_off", NULL } },
    { "duplicate_payment", { "refund", "attach_to_payment", "accept", NULL } },
    { "reorged", { "write_off", NULL } },
    { "unclassified_internal", { "mark_internal_sweep", "attach_to_payment", NULL } },
    { "stuck_unconfirmed", { "refund", "write_off", NULL } },
    { "recon_break", { "fixed_at_source", NULL } },
    /* a reorg deeper than finality stopped a network's watcher (DESIGN §10): an operator
     * checks the node and the books, then lets it resume from the common ancestor */
    { "chain_incident", { "resume_watching", NULL } },
};

int exc_type_valid(const char *type)
{
    for (int i = 0; type && exc_types[i]; i++)
        if (!strcmp(type, exc_types[i])) return 1;
    return 0;
}

const char *const *exc_resolutions(const char *type)
{
    for (size_t i = 0; type && i < sizeof rules / sizeof rules[0]; i++)
        if (!strcmp(rules[i].type, type)) return rules[i].resolutions;
    return NULL;
}

int exc_resolution_allowed(const char *type, const char *resolution)
{
    const char *const *r = exc_resolutions(type);
    for (; r && resolution && *r; r++)
        if (!strcmp(*r, resolution)) return 1;
    return 0;
}
