/* The payment state machine: every (from, to, via) triple against DESIGN §3, written
 * out here independently of lifecycle.c's table. */
#include "raild/lifecycle.h"
#include "tap.h"

struct move { const char *from, *to, *via; };

/* the complete list of legal moves; anything not here must be rejected */
static const struct move legal[] = {
    { "awaiting_payment", "detected", "chain" },
    { "awaiting_payment", "confirming", "chain" },
    { "awaiting_payment", "expired", "sweeper" },
    { "awaiting_payment", "canceled", "merchant" },
    { "detected", "confirming", "chain" },
    { "detected", "awaiting_payment", "chain" },
    { "confirming", "confirmed", "chain" },
    { "confirming", "confirmed", "resolution" },
    { "confirming", "awaiting_payment", "chain" },
    { "confirmed", "finalized", "chain" },
    { "expired", "detected", "resolution" },
    { "expired", "confirming", "resolution" },
    { "expired", "confirmed", "resolution" },
};

int main(void)
{
    static const char *const states[] = { "awaiting_payment", "detected", "confirming", "confirmed",
                                          "finalized", "expired", "canceled" };
    static const enum transition_via vias[] = { VIA_CHAIN, VIA_MERCHANT, VIA_SWEEPER, VIA_RESOLUTION };
    static const char *const via_names[] = { "chain", "merchant", "sweeper", "resolution" };

    for (int i = 0; i < 7; i++) {
        enum pay_state s;
        ok(pay_state_parse(states[i], &s) == 0 && (int)s == i, "parse %s", states[i]);
        is_str(pay_state_name(s), states[i], "name round-trips for %s", states[i]);
    }
    enum pay_state dummy;
    ok(pay_state_parse("paid", &dummy) == -1, "unknown state name rejected");
    ok(pay_state_parse(NULL, &dummy) == -1, "NULL state name rejected");

    int allowed_count = 0;
    for (int f = 0; f < 7; f++)
        for (int t = 0; t < 7; t++)
            for (int v = 0; v < 4; v++) {
                int want = 0;
                for (size_t k = 0; k < sizeof legal / sizeof legal[0]; k++)
                    if (!strcmp(legal[k].from, states[f]) && !strcmp(legal[k].to, states[t]) &&
                        !strcmp(legal[k].via, via_names[v]))
                        want = 1;
                int got = lifecycle_allowed((enum pay_state)f, (enum pay_state)t, vias[v]);
                allowed_count += got;
                ok(got == want, "%s -> %s via %s is %s", states[f], states[t], via_names[v],
                   want ? "allowed" : "rejected");
            }
    is_int(allowed_count, (long long)(sizeof legal / sizeof legal[0]), "exactly the legal moves are allowed");
    ok(!lifecycle_allowed(PS__COUNT, PS_DETECTED, VIA_CHAIN), "out-of-range from rejected");
    ok(!lifecycle_allowed(PS_AWAITING, PS__COUNT, VIA_CHAIN), "out-of-range to rejected");
    ok(!lifecycle_allowed(PS_AWAITING, PS_DETECTED, (enum transition_via)7), "unknown via rejected");
    ok(!lifecycle_to_webhook(PS_AWAITING), "a back-move to awaiting_payment sends no webhook");
    ok(lifecycle_to_webhook(PS_CONFIRMED) && lifecycle_to_webhook(PS_EXPIRED), "forward moves send webhooks");
    return tap_done();
}
