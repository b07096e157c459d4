/* Exception rules: types, the resolution table of DESIGN §4, severity and SLA. */
#include "raild/exceptions.h"
#include "tap.h"

int main(void)
{
    static const char *const types[] = { "underpaid", "overpaid", "late_payment", "unmatched_transfer",
                                         "wrong_asset", "duplicate_payment", "reorged",
                                         "unclassified_internal", "stuck_unconfirmed", "recon_break",
                                         "chain_incident" };
    int n = 0;
    while (exc_types[n]) n++;
    is_int(n, 11, "nine exception types of DESIGN §4 plus recon_break and chain_incident");
    for (int i = 0; i < 11; i++) ok(exc_type_valid(types[i]), "%s is a type", types[i]);
    ok(!exc_type_valid("fraud") && !exc_type_valid(NULL), "unknown types rejected");

    struct { const char *type, *res; int want; } cases[] = {
        { "underpaid", "accept_partial", 1 }, { "underpaid", "request_topup", 1 }, { "underpaid", "refund", 1 },
        { "underpaid", "write_off", 1 }, { "underpaid", "accept", 0 }, { "underpaid", "accept_late", 0 },
        { "overpaid", "accept", 1 }, { "overpaid", "refund_excess", 1 }, { "overpaid", "refund", 0 },
        { "late_payment", "accept_late", 1 }, { "late_payment", "refund", 1 }, { "late_payment", "write_off", 0 },
        { "unmatched_transfer", "attach_to_payment", 1 }, { "unmatched_transfer", "refund", 1 },
        { "unmatched_transfer", "mark_internal_sweep", 1 }, { "unmatched_transfer", "accept", 0 },
        { "wrong_asset", "refund", 1 }, { "wrong_asset", "write_off", 1 }, { "wrong_asset", "accept", 0 },
        { "duplicate_payment", "refund", 1 }, { "duplicate_payment", "attach_to_payment", 1 },
        { "duplicate_payment", "accept", 1 }, { "duplicate_payment", "write_off", 0 },
        { "reorged", "write_off", 1 }, { "reorged", "refund", 0 }, { "reorged", "auto_closed", 0 },
        { "unclassified_internal", "mark_internal_sweep", 1 }, { "unclassified_internal", "attach_to_payment", 1 },
        { "unclassified_internal", "refund", 0 },
        { "stuck_unconfirmed", "refund", 1 }, { "stuck_unconfirmed", "write_off", 1 },
        { "stuck_unconfirmed", "accept", 0 }, { "recon_break", "fixed_at_source", 1 },
        { "chain_incident", "resume_watching", 1 }, { "chain_incident", "write_off", 0 },
        { "recon_break", "write_off", 0 }, { "nope", "refund", 0 }, { "underpaid", NULL, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ok(exc_resolution_allowed(cases[i].type, cases[i].res) == cases[i].want, "%s / %s %s", cases[i].type,
           cases[i].res ? cases[i].res : "(null)", cases[i].want ? "allowed" : "rejected");
    ok(exc_resolutions("nope") == NULL, "no resolutions for an unknown type");

    /* severity: whole tokens <100 → 1, <10k → 2, <100k → 3, else 4 */
    is_int(exc_severity("underpaid", "99999999", 6), 1, "99.999999 tokens (6 dp) → 1");
    is_int(exc_severity("underpaid", "100000000", 6), 2, "100 tokens (6 dp) → 2");
    is_int(exc_severity("underpaid", "9999999999", 6), 2, "9999.999999 → 2");
    is_int(exc_severity("underpaid", "10000000000", 6), 3, "10000 → 3");
    is_int(exc_severity("underpaid", "100000000000", 6), 4, "100000 → 4");
    is_int(exc_severity("late_payment", "5000000000000000000000", 18), 2, "5000 tokens at 18 dp → 2");
    is_int(exc_severity("late_payment", "123456789012345678901234567890", 18), 4, "1.2e11 tokens at 18 dp → 4");
    is_int(exc_severity("overpaid", "1", 18), 1, "dust → 1");
    is_int(exc_severity("reorged", "1", 6), 2, "reorged is one higher");
    is_int(exc_severity("unclassified_internal", "50000000000", 6), 4, "unclassified_internal 50k → 4");
    is_int(exc_severity("reorged", "500000000000", 6), 4, "reorged stays capped at 4");
    is_int(exc_severity("stuck_unconfirmed", NULL, 6), 1, "no amount → base severity");
    is_int(exc_sla_hours(4), 1, "sev 4 SLA 1h");
    is_int(exc_sla_hours(3), 4, "sev 3 SLA 4h");
    is_int(exc_sla_hours(2), 24, "sev 2 SLA 24h");
    is_int(exc_sla_hours(1), 72, "sev 1 SLA 72h");
    return tap_done();
}
