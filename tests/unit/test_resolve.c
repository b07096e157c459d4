/* resolve: the pure parts of exception resolution effects (routes through the transition
 * table, attach targets, re-entry from expired), and strict RFC 3339 checks
 * for the audit API's time window. */
#include "tap.h"
#include "core/util.h"
#include "raild/query.h"
#include "raild/resolve.h"

int main(void)
{
    /* where an expired payment re-enters */
    is_int(resolve_reentry_state(1), PS_CONFIRMING, "late transfer in a block: back to confirming");
    is_int(resolve_reentry_state(0), PS_DETECTED, "late transfer in the mempool: back to detected");
    ok(lifecycle_allowed(PS_EXPIRED, resolve_reentry_state(1), VIA_RESOLUTION) &&
       lifecycle_allowed(PS_EXPIRED, resolve_reentry_state(0), VIA_RESOLUTION),
       "both re-entries are legal moves for a resolution");
    ok(!lifecycle_allowed(PS_EXPIRED, resolve_reentry_state(1), VIA_CHAIN), "and not for the chain");

    /* legal routes through the transition table, as the resolution makes them */
    enum pay_state path[PS__COUNT];
    int n = resolve_path(PS_EXPIRED, PS_CONFIRMED, VIA_RESOLUTION, path, PS__COUNT);
    ok(n >= 1 && path[n - 1] == PS_CONFIRMED, "expired → confirmed has a route via resolution");
    n = resolve_path(PS_EXPIRED, PS_DETECTED, VIA_RESOLUTION, path, PS__COUNT);
    ok(n >= 1 && path[n - 1] == PS_DETECTED, "expired → detected has a route via resolution");
    n = resolve_path(PS_CONFIRMING, PS_CONFIRMED, VIA_RESOLUTION, path, PS__COUNT);
    ok(n == 1 && path[0] == PS_CONFIRMED, "confirming → confirmed is one move (accept_partial)");
    is_int(resolve_path(PS_CONFIRMED, PS_CONFIRMED, VIA_RESOLUTION, path, PS__COUNT), 0, "same state: no moves");
    is_int(resolve_path(PS_CANCELED, PS_CONFIRMED, VIA_RESOLUTION, path, PS__COUNT), -1,
           "canceled is terminal: no route");
    is_int(resolve_path(PS_FINALIZED, PS_CONFIRMED, VIA_CHAIN, path, PS__COUNT), -1, "finalized is terminal");
    is_int(resolve_path(PS_EXPIRED, PS_CONFIRMED, VIA_CHAIN, path, PS__COUNT), -1,
           "the chain alone never brings back an expired payment");
    n = resolve_path(PS_AWAITING, PS_CONFIRMED, VIA_CHAIN, path, PS__COUNT);
    ok(n >= 1 && path[n - 1] == PS_CONFIRMED, "awaiting → confirmed by chain moves");
    for (int i = 0, from = PS_AWAITING; i < n; from = path[i++])
        ok(lifecycle_allowed((enum pay_state)from, path[i], VIA_CHAIN), "step %d of that route is legal", i + 1);
    is_int(resolve_path(PS_AWAITING, PS_CONFIRMED, VIA_CHAIN, path, 0), -1, "a route longer than max is refused");

    /* attach targets */
    ok(resolve_attach_target_ok(PS_AWAITING) && resolve_attach_target_ok(PS_DETECTED) &&
       resolve_attach_target_ok(PS_CONFIRMING) && resolve_attach_target_ok(PS_EXPIRED),
       "attach targets: awaiting, detected, confirming, expired");
    ok(!resolve_attach_target_ok(PS_CONFIRMED) && !resolve_attach_target_ok(PS_FINALIZED) &&
       !resolve_attach_target_ok(PS_CANCELED), "never confirmed, finalized or canceled");

    /* RFC 3339 */
    static const char *const good[] = { "2026-01-31T09:00:00Z", "2026-01-31t09:00:00z", "2024-02-29T00:00:00Z",
                                        "2026-11-26T12:00:00.123456Z", "2026-11-26T12:00:00+01:00",
                                        "2026-11-26T12:00:00.5-05:30" };
    static const char *const bad[] = { "", "yesterday", "now", "2026-01-31", "2026-01-31 09:00:00Z",
                                       "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
                                       "2026-01-31T24:00:00Z", "2026-01-31T09:00:00", "2026-01-31T09:00:00+0100",
                                       "2026-01-31T09:00:00.Z", "2026-01-31T09:00:00Z junk", "1700000000",
                                       "2026-01-31T09:00:00 01:00", "0000-01-01T00:00:00Z" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) ok(util_rfc3339_valid(good[i]), "valid: %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) ok(!util_rfc3339_valid(bad[i]), "invalid: '%s'", bad[i]);
    return tap_done();
}
