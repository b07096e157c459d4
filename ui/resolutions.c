/* resolutions — which resolutions each exception type offers (DESIGN §4). raild
 * validates them again; the console only uses this to build the menu. */
#include "app.h"
#include <string.h>

static const struct { const char *type; const char *const res[5]; } TABLE[] = {
    { "underpaid", { "accept_partial", "request_topup", "refund", "write_off", NULL } },
    { "overpaid", { "accept", "refund_excess", NULL } },
    { "late_payment", { "accept_late", "refund", NULL } },
    { "unmatched_transfer", { "attach_to_payment", "refund", "mark_internal_sweep", NULL } },
    { "wrong_asset", { "refund", "write_off", NULL } },
    { "duplicate_payment", { "refund", "attach_to_payment", "accept", NULL } },
    { "reorged", { "write_off", NULL } },
    { "unclassified_internal", { "mark_internal_sweep", "attach_to_payment", NULL } },
    { "stuck_unconfirmed", { "refund", "write_off", NULL } },
};

const char *const *resolutions_for(const char *type)
{
    for (size_t i = 0; i < sizeof TABLE / sizeof TABLE[0]; i++)
        if (!strcmp(TABLE[i].type, type)) return TABLE[i].res;
    return NULL;
}
