/* chain_rpc parsers and Tron address conversion: what a node answers is untrusted input.
 * Tables of good and malformed replies (DESIGN §10); nothing malformed becomes a transfer. */
#include "tap.h"
#include "raild/chain_rpc.h"
#include "core/address.h"
#include <jansson.h>
#include <stdlib.h>

#define H32(c) "0x" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define TO_TOPIC "0x000000000000000000000000a614f803b6fd780986a42c78ec9c7f77e6ded13c"
#define FROM_TOPIC "0x00000000000000000000000070997970c51812dc3a010c7d01b50e0d17dc79c8"
#define VALUE_1E6 "0x00000000000000000000000000000000000000000000000000000000000f4240"

static json_t *log_json(const char *patch)
{
    json_error_t e;
    json_t *base = json_pack("{s:s,s:[s,s,s],s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "address",
                             "0xdAC17F958D2ee523a2206206994597C13D831ec7", "topics", RPC_TRANSFER_TOPIC, FROM_TOPIC,
                             TO_TOPIC, "data", VALUE_1E6, "blockNumber", "0x1b4", "blockHash", H32("b"),
                             "transactionHash", H32("a"), "logIndex", "0x3", "transactionIndex", "0x0", "removed", 0);
    if (patch) {
        json_t *p = json_loads(patch, 0, &e);
        if (!p) { printf("# bad patch %s\n", patch); exit(2); }
        json_object_update(base, p);
        json_decref(p);
    }
    return base;
}

int main(void)
{
    /* quantities */
    struct { const char *in; long long want; int ok; } q[] = {
        { "\"0x0\"", 0, 1 }, { "\"0x1b4\"", 436, 1 }, { "\"0x1fffffffffffff\"", 9007199254740991LL, 1 },
        { "\"0x20000000000000\"", 0, 0 },         /* 2^53: past what the gateway stores */
        { "\"0x10000000000000000\"", 0, 0 },      /* beyond 2^63 */
        { "\"0x\"", 0, 0 }, { "\"0x01\"", 0, 0 }, /* empty, leading zero */
        { "\"1b4\"", 0, 0 }, { "\"0xzz\"", 0, 0 }, { "436", 0, 0 }, { "null", 0, 0 }, { "\"0X1\"", 0, 0 },
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        json_error_t e;
        json_t *v = json_loads(q[i].in, JSON_DECODE_ANY, &e);
        long long out = -1;
        int rc = rpc_quantity(v, &out);
        ok((rc == 0) == q[i].ok && (!q[i].ok || out == q[i].want), "quantity %s %s", q[i].in,
           q[i].ok ? "parses" : "is refused");
        json_decref(v);
    }
    /* data */
    char out[80];
    json_t *v = json_string("0xABcd");
    ok(rpc_data(v, 2, out) == 0 && !strcmp(out, "0xabcd"), "data of 2 bytes, lower-cased");
    json_decref(v);
    const char *bad_data[] = { "0xabc", "abcd", "0xabcdef", "0xgg00", "" };
    for (size_t i = 0; i < sizeof bad_data / sizeof bad_data[0]; i++) {
        v = json_string(bad_data[i]);
        ok(rpc_data(v, 2, out) != 0, "data '%s' (odd length, no 0x, wrong size, not hex) is refused", bad_data[i]);
        json_decref(v);
    }
    /* uint256 → decimal, beyond 128 bits */
    rpc_u256_decimal("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", out);
    is_str(out, "115792089237316195423570985008687907853269984665640564039457584007913129639935", "2^256-1 in decimal");
    rpc_u256_decimal("0000000000000000000000000000000000000000000000000000000000000000", out);
    is_str(out, "0", "zero");

    /* a good log, both address kinds */
    struct xfer_in x;
    char bh[80];
    const char *why;
    json_t *l = log_json(NULL);
    is_int(rpc_parse_transfer_log(l, "evm", &x, bh, &why), 0, "a Transfer log parses");
    is_str(x.contract, "0xdac17f958d2ee523a2206206994597c13d831ec7", "contract, lower-case");
    is_str(x.to, "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c", "to from topic 2");
    is_str(x.from, "0x70997970c51812dc3a010c7d01b50e0d17dc79c8", "from from topic 1");
    is_str(x.value, "1000000", "value from data");
    ok(x.block_number == 436 && x.log_index == 3 && !x.removed, "block 436, log index 3");
    ok(!strncmp(x.tx_hash, "0xaaaa", 6), "EVM tx hash keeps 0x");
    json_decref(l);
    /* a look-alike token can log any uint256: 78 digits did not fit the 48-byte value and
     * overran the watcher's stack (found by tests/fuzz/fuzz_rpc_reply) */
    l = log_json("{\"data\": \"0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}");
    is_int(rpc_parse_transfer_log(l, "evm", &x, bh, &why), 0, "a Transfer of 2^256-1 parses");
    is_str(x.value, "115792089237316195423570985008687907853269984665640564039457584007913129639935",
           "…to its full 78 digits");
    json_decref(l);
    l = log_json("{\"address\": \"0xa614f803b6fd780986a42c78ec9c7f77e6ded13c\"}");
    is_int(rpc_parse_transfer_log(l, "tron", &x, bh, &why), 0, "a log on a tron network (hex addresses)");
    is_str(x.contract, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "tron: the contract in base58check (USDT)");
    is_str(x.to, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", "tron: to in base58check");
    ok(!strncmp(x.tx_hash, "aaaa", 4) && strlen(x.tx_hash) == 64, "tron: hash without 0x");
    json_decref(l);

    /* not an ERC-20 Transfer: skipped, not an error */
    l = log_json("{\"topics\": [\"" RPC_TRANSFER_TOPIC "\", \"" FROM_TOPIC "\", \"" TO_TOPIC "\", \"" VALUE_1E6 "\"]}");
    is_int(rpc_parse_transfer_log(l, "evm", &x, bh, &why), 1, "four topics (ERC-721 Transfer) is skipped");
    json_decref(l);
    l = log_json("{\"topics\": [\"" H32("c") "\", \"" FROM_TOPIC "\", \"" TO_TOPIC "\"]}");
    is_int(rpc_parse_transfer_log(l, "evm", &x, bh, &why), 1, "another event is skipped");
    json_decref(l);

    /* malformed: refused with the reason */
    struct { const char *patch, *what; } bad[] = {
        { "{\"topics\": []}", "no topics" },
        { "{\"topics\": \"x\"}", "topics not an array" },
        { "{\"topics\": [\"0x12\", \"" FROM_TOPIC "\", \"" TO_TOPIC "\"]}", "topic 0 not 32 bytes" },
        { "{\"topics\": [\"" RPC_TRANSFER_TOPIC "\", \"" H32("f") "\", \"" TO_TOPIC "\"]}", "from topic not an address" },
        { "{\"topics\": [\"" RPC_TRANSFER_TOPIC "\", \"" FROM_TOPIC "\", \"0x1234\"]}", "to topic short" },
        { "{\"data\": \"0x01\"}", "data not 32 bytes" },
        { "{\"data\": \"" VALUE_1E6 "00\"}", "data 33 bytes" },
        { "{\"data\": null}", "data missing" },
        { "{\"blockNumber\": \"0x10000000000000000\"}", "block number beyond 2^63" },
        { "{\"blockNumber\": 436}", "block number not hex" },
        { "{\"blockHash\": \"0xabc\"}", "block hash odd length" },
        { "{\"transactionHash\": null}", "no tx hash" },
        { "{\"logIndex\": \"0x100000000\"}", "log index too large" },
        { "{\"address\": \"0x1234\"}", "contract not 20 bytes" },
        { "{\"removed\": \"yes\"}", "removed not a boolean" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        l = log_json(bad[i].patch);
        int rc = rpc_parse_transfer_log(l, "evm", &x, bh, &why);
        ok(rc == -1 && why && *why, "malformed log (%s) refused: %s", bad[i].what, why ? why : "");
        json_decref(l);
    }
    json_t *notobj = json_string("x");
    ok(rpc_parse_transfer_log(notobj, "evm", &x, bh, &why) == -1, "a log that is not an object");
    json_decref(notobj);

    /* block headers */
    struct rpc_block b;
    json_t *blk = json_pack("{s:s,s:s,s:s,s:s}", "number", "0x10", "timestamp", "0x6553f100", "hash", H32("1"),
                            "parentHash", H32("2"));
    ok(rpc_parse_block(blk, &b, &why) == 0 && b.number == 16 && b.hash[2] == '1' && b.parent[2] == '2',
       "a block header parses");
    json_object_set_new(blk, "parentHash", json_string("0x12"));
    ok(rpc_parse_block(blk, &b, &why) == -1, "a header with a short parentHash is refused: %s", why);
    json_decref(blk);

    /* Tron base58check <-> hex, both ways (DESIGN §10) */
    char hex[64], t[64];
    ok(address_tron_to_hex("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", hex, sizeof hex) == 0 &&
           !strcmp(hex, "0xa614f803b6fd780986a42c78ec9c7f77e6ded13c"),
       "USDT TR7NHqje… is hex 41a614f8…13c");
    ok(address_tron_from_hex("41a614f803b6fd780986a42c78ec9c7f77e6ded13c", t, sizeof t) == 0 &&
           !strcmp(t, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
       "and back from 41-prefixed hex");
    ok(address_tron_from_hex("0xa614f803b6fd780986a42c78ec9c7f77e6ded13c", t, sizeof t) == 0 &&
           !strcmp(t, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
       "and from 0x + 20 bytes, as the JSON-RPC writes it");
    ok(address_tron_to_hex("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", hex, sizeof hex) != 0, "a broken checksum is refused");
    ok(address_tron_from_hex("0xa614f803b6fd780986a42c78ec9c7f77e6ded1", t, sizeof t) != 0, "19 bytes are refused");
    ok(address_tron_from_hex("0xa614f803b6fd780986a42c78ec9c7f77e6ded1zz", t, sizeof t) != 0, "non-hex is refused");

    /* range errors: what halves the eth_getLogs range */
    struct rpc_err e = { .fail = RPC_ERROR, .code = -32005 };
    ok(rpc_err_is_range(&e), "-32005 halves the range");
    e.code = -32000;
    snprintf(e.msg, sizeof e.msg, "query returned more than 10000 results");
    ok(rpc_err_is_range(&e), "'returned more than 10000 results' halves the range");
    snprintf(e.msg, sizeof e.msg, "execution reverted");
    ok(!rpc_err_is_range(&e), "another error does not");
    struct rpc_err to = { .fail = RPC_TRANSPORT, .timeout = 1 };
    ok(rpc_err_is_range(&to), "a timeout halves the range");
    struct rpc_err rl = { .fail = RPC_HTTP, .code = 429 };
    char label[32];
    rpc_err_label(&rl, label, sizeof label);
    ok(!rpc_err_is_range(&rl) && !strcmp(label, "http-429"), "429 is counted as http-429 and waits instead");
    return tap_done();
}
