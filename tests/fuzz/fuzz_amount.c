/* amounts: the parser never accepts what the formatter would not give back, and every
 * accepted amount survives format → parse unchanged (human decimals and base units). */
#include "fuzz.h"
#include "core/amount.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    int dec = d[0] % 31;                       /* rails have 6 or 18; the parser takes any */
    char *s = fuzz_str(d + 1, n - 1);
    u128 v, w;
    char out[AMOUNT_STR_MAX];
    if (amount_parse(s, dec, &v) == 0) {
        FUZZ_CHECK(v > 0, "'%s' parsed to zero", s);
        amount_format(v, dec, out);
        FUZZ_CHECK(amount_parse(out, dec, &w) == 0 && w == v, "'%s' -> '%s' does not parse back", s, out);
        amount_units_str(v, out);
        FUZZ_CHECK(amount_parse_units(out, &w) == 0 && w == v, "units of '%s' -> '%s' do not parse back", s, out);
    }
    if (amount_parse_units(s, &v) == 0) {
        amount_units_str(v, out);
        FUZZ_CHECK(amount_parse_units(out, &w) == 0 && w == v, "'%s' -> '%s'", s, out);
        FUZZ_CHECK(strspn(s, "0123456789") == strlen(s) && *s, "non-digits accepted as units: '%s'", s);
    }
    free(s);
    return 0;
}
