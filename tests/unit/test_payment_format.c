/* units_format: base-unit digits → decimal strings for any length (no u128 limit). */
#include "raild/payments.h"
#include "tap.h"

int main(void)
{
    struct { const char *digits; int dec; const char *want; } cases[] = {
        { "125500000", 6, "125.500000" }, { "0", 6, "0.000000" }, { "1", 6, "0.000001" },
        { "999999", 6, "0.999999" }, { "1000000", 6, "1.000000" }, { "25123456789012345678", 18, "25.123456789012345678" },
        { "1", 18, "0.000000000000000001" }, { "5", 0, "5" },
        { "123456789012345678901234567890123456789012345678901234567890", 18,
          "123456789012345678901234567890123456789012.345678901234567890" },
        { "000123", 2, "1.23" },
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        units_format(cases[i].digits, cases[i].dec, out, sizeof out);
        is_str(out, cases[i].want, "%s at %d decimals", cases[i].digits, cases[i].dec);
    }
    char small[8];
    units_format("123456789", 6, small, sizeof small);
    ok(strlen(small) < sizeof small, "a short buffer truncates, never overflows");
    return tap_done();
}
