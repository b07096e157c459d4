/* addresses: canonical forms are fixed points, tron base58check ↔ hex round-trips, and a
 * payout destination is always a valid canonical address. */
#include "fuzz.h"
#include "core/address.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    const char *kind = d[0] & 1 ? "tron" : "evm";
    char *s = fuzz_str(d + 1, n - 1);
    char c1[128], c2[128], hex[128], back[128];
    if (address_canonical(kind, s, c1, sizeof c1) == 0) {
        FUZZ_CHECK(address_canonical(kind, c1, c2, sizeof c2) == 0 && !strcmp(c1, c2),
                   "canonical '%s' of '%s' is not a fixed point", c1, s);
        if (!strcmp(kind, "tron")) {
            FUZZ_CHECK(address_tron_to_hex(c1, hex, sizeof hex) == 0, "valid '%s' has no hex form", c1);
            FUZZ_CHECK(address_tron_from_hex(hex, back, sizeof back) == 0 && !strcmp(back, c1),
                       "'%s' -> '%s' -> '%s'", c1, hex, back);
        }
    }
    int rc = address_destination(kind, s, c1, sizeof c1);
    FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2, "rc %d", rc);
    if (rc == 0) FUZZ_CHECK(address_canonical(kind, c1, c2, sizeof c2) == 0, "destination '%s' not canonical", c1);
    if (address_tron_from_hex(s, back, sizeof back) == 0)
        FUZZ_CHECK(address_canonical("tron", back, c2, sizeof c2) == 0, "hex '%s' gave invalid '%s'", s, back);
    /* a short output buffer is refused, never overrun */
    char tiny[8];
    address_canonical(kind, s, tiny, sizeof tiny);
    free(s);
    return 0;
}
