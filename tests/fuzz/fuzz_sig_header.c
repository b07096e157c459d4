/* the webhook-signature header (raild's verifier and railsim's receiver share one parser):
 * a header verifies exactly when one of its entries is the right signature — whatever else
 * it holds around it — and never otherwise. */
#include "fuzz.h"
#include "core/util.h"
#include "raild/webhook_sign.h"

static const char SECRET[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    char *h = fuzz_str(d, n);
    static const char body[] = "{\"type\":\"payment.finalized\"}";
    char good[WH_SIG_MAX];
    FUZZ_CHECK(wh_sign(SECRET, "msg_1", 1700000000, body, sizeof body - 1, good) == 0, "signing failed");
    int has = strstr(h, good) != NULL;     /* the fuzzer found the signature itself: fine */
    int v = wh_verify(SECRET, "msg_1", 1700000000, body, sizeof body - 1, h);
    if (v == 0) FUZZ_CHECK(has, "'%s' verified without the signature", h);
    /* the right signature among the fuzz input's entries always verifies */
    size_t cap = n + 2 * WH_SIG_MAX + 4;
    char *with = malloc(cap);
    snprintf(with, cap, "%s %s %s", h, good, h);
    FUZZ_CHECK(wh_verify(SECRET, "msg_1", 1700000000, body, sizeof body - 1, with) == 0, "'%s' did not verify", with);
    FUZZ_CHECK(util_sig_header_has(with, good + 3), "parser missed it");
    /* and a signature with one character changed never does */
    char bad[WH_SIG_MAX];
    memcpy(bad, good, sizeof bad);
    bad[5] = bad[5] == 'A' ? 'B' : 'A';
    snprintf(with, cap, "%s %s", h, bad);
    if (!has) FUZZ_CHECK(wh_verify(SECRET, "msg_1", 1700000000, body, sizeof body - 1, with) != 0, "tampered verified");
    free(with);
    free(h);
    return 0;
}
