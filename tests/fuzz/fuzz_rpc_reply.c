/* JSON-RPC replies as the watcher reads them: quantities, data, eth_getLogs entries and
 * block headers from any JSON (or none). A parsed log always yields a well-formed
 * transfer; a parsed block a hash and parent of 32 bytes. */
#include "fuzz.h"
#include "raild/chain_rpc.h"
#include "raild/ingest.h"
#include <jansson.h>

static int hexish(const char *s, size_t n)
{
    if (strncmp(s, "0x", 2) || strlen(s) != n + 2) return 0;
    return strspn(s + 2, "0123456789abcdef") == n;
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)d, n, 0, &e);
    if (!j) return 0;
    json_t *items = json_is_array(j) ? j : NULL;
    size_t cnt = items ? json_array_size(items) : 1;
    for (size_t i = 0; i < cnt && i < 64; i++) {
        json_t *v = items ? json_array_get(items, i) : j;
        long long q;
        if (rpc_quantity(v, &q) == 0) FUZZ_CHECK(q >= 0 && q <= (1LL << 53) - 1, "quantity %lld", q);
        char data[80];
        if (rpc_data(v, 32, data) == 0) FUZZ_CHECK(hexish(data, 64), "data '%s'", data);
        for (int k = 0; k < 2; k++) {
            struct xfer_in x;
            char bh[80];
            const char *why = NULL;
            memset(&x, 0, sizeof x);
            int rc = rpc_parse_transfer_log(v, k ? "tron" : "evm", &x, bh, &why);
            FUZZ_CHECK(rc >= -1 && rc <= 1, "rc %d", rc);
            if (rc == -1) FUZZ_CHECK(why && *why, "malformed without a reason");
            if (rc == 0) {
                FUZZ_CHECK(x.value[0] && strspn(x.value, "0123456789") == strlen(x.value), "value '%s'", x.value);
                FUZZ_CHECK(x.value[0] != '0' || !x.value[1], "leading zero in '%s'", x.value);
                FUZZ_CHECK(x.log_index >= 0 && x.block_number >= -1, "index %lld block %lld", x.log_index,
                           x.block_number);
                FUZZ_CHECK(x.to[0] && x.from[0] && x.contract[0], "empty address");
            }
        }
        struct rpc_block b;
        const char *why = NULL;
        if (rpc_parse_block(v, &b, &why) == 0) {
            FUZZ_CHECK(hexish(b.hash, 64) && hexish(b.parent, 64), "block hash '%s' parent '%s'", b.hash, b.parent);
            FUZZ_CHECK(b.number >= 0, "block number %lld", b.number);
        }
    }
    json_decref(j);
    return 0;
}
