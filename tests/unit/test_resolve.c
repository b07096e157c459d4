/* resolve: the pure parts of exception resolution effects, and strict RFC 3339 checks
 * for the audit API's time window. */
#include "tap.h"
#include "raild/query.h"
#include "raild/resolve.h"

static enum pay_state settle(u128 amount, u128 received, u128 confirmed, int in_block, int tol)
{
    struct settle_in s = { amount, received, confirmed, in_block, tol };
    return resolve_settle_state(&s);
}

int main(void)
{
    /* depth */
    is_int(resolve_depth(100, -1), 0, "a mempool transfer has no confirmations");
    is_int(resolve_depth(100, 100), 1, "a transfer in the head block has 1 confirmation");
    is_int(resolve_depth(118, 100), 19, "head 118, block 100: 19 confirmations (tron's depth)");
    is_int(resolve_depth(99, 100), 0, "a block above the head (head not yet seen) counts 0");

    /* short of the expected amount, with tolerance */
    u128 m = 1000000;  /* 1 USDT on a 6-decimal rail */
    ok(resolve_short(m, m - 1, 0), "one base unit short is short with 0 tolerance");
    ok(!resolve_short(m, m, 0), "exact is not short");
    ok(!resolve_short(m, m + 5, 0), "over is not short");
    ok(!resolve_short(m, m - 100, 1), "1 bps of 1 USDT tolerates 100 base units");
    ok(resolve_short(m, m - 101, 1), "but not 101");
    ok(!resolve_short(m, 0, 10000), "10000 bps tolerates anything");
    u128 big = ~(u128)0;
    ok(!resolve_short(big, big, 50), "no overflow near u128 max");
    ok(resolve_short(big, big / 2, 50), "half of u128 max is short");

    /* where the chain would put a payment */
    is_int(settle(m, 0, 0, 0, 0), PS_AWAITING, "nothing counted: awaiting_payment");
    is_int(settle(m, m, 0, 0, 0), PS_DETECTED, "counted but only in the mempool: detected");
    is_int(settle(m, m, 0, 1, 0), PS_CONFIRMING, "in a block, not deep enough: confirming");
    is_int(settle(m, m, m, 1, 0), PS_CONFIRMED, "fully paid at depth: confirmed");
    is_int(settle(m, m / 2, m / 2, 1, 0), PS_CONFIRMING, "half paid at depth: confirming (underpaid)");
    is_int(settle(m, 2 * m, 2 * m, 1, 0), PS_CONFIRMED, "overpaid at depth: confirmed");
    is_int(settle(m, m - 50, m - 50, 1, 1), PS_CONFIRMED, "short within tolerance: confirmed");

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
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) ok(query_rfc3339_valid(good[i]), "valid: %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) ok(!query_rfc3339_valid(bad[i]), "invalid: '%s'", bad[i]);
    return tap_done();
}
