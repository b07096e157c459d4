/* The payout state machine (every (from, to) pair against DESIGN §11, written out here
 * independently of payout_states.c), Keccak-256 and EIP-55 against published vectors,
 * and payout destinations. */
#include "core/address.h"
#include "core/keccak.h"
#include "core/payout_states.h"
#include "core/util.h"
#include "tap.h"

static const char *const legal[][2] = {
    { "requested", "approved" },   { "requested", "rejected" },   { "requested", "canceled" },
    { "approved", "signed" },      { "approved", "canceled" },    { "approved", "failed" },
    { "signed", "broadcast" },     { "signed", "failed" },
    { "broadcast", "confirming" }, { "broadcast", "failed" },
    { "confirming", "confirmed" }, { "confirming", "finalized" }, { "confirming", "broadcast" },
    { "confirmed", "finalized" },  { "confirmed", "broadcast" },
};
static const char *const states[] = { "requested", "approved", "signed", "broadcast", "confirming", "confirmed",
                                      "finalized", "rejected", "canceled", "failed" };

static void hex32(const unsigned char *h, char *out) { util_hex(h, 32, out); }

int main(void)
{
    int n = (int)(sizeof states / sizeof *states), nl = (int)(sizeof legal / sizeof *legal);
    is_int(n, POS__COUNT, "ten payout states");
    for (int i = 0; i < n; i++) {
        enum payout_state s;
        ok(payout_state_parse(states[i], &s) == 0 && !strcmp(payout_state_name(s), states[i]), "parse/name %s",
           states[i]);
        for (int j = 0; j < n; j++) {
            int want = 0;
            for (int k = 0; k < nl; k++) want |= !strcmp(legal[k][0], states[i]) && !strcmp(legal[k][1], states[j]);
            enum payout_state a, b;
            payout_state_parse(states[i], &a);
            payout_state_parse(states[j], &b);
            is_int(payout_allowed(a, b), want, "%s -> %s %s", states[i], states[j], want ? "allowed" : "refused");
        }
    }
    enum payout_state x;
    ok(payout_state_parse("Approved", &x) == -1 && payout_state_parse("", &x) == -1, "unknown states are refused");
    ok(payout_terminal(POS_FINALIZED) && payout_terminal(POS_FAILED) && !payout_terminal(POS_BROADCAST),
       "terminal states");
    ok(payout_cancelable(POS_APPROVED) && !payout_cancelable(POS_SIGNED), "cancel only before signing");
    is_str(payout_event_type(POS_FINALIZED), "payout.finalized", "finalized sends payout.finalized");
    ok(payout_event_type(POS_CONFIRMING) == NULL, "confirming sends nothing");

    unsigned char h[32];
    char hx[65];
    keccak256("", 0, h);
    hex32(h, hx);
    is_str(hx, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470", "keccak256(\"\")");
    keccak256("Transfer(address,address,uint256)", 33, h);
    hex32(h, hx);
    is_str(hx, "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef", "keccak256 of the Transfer event");
    keccak256("transfer(address,uint256)", 25, h);
    hex32(h, hx);
    ok(!strncmp(hx, "a9059cbb", 8), "keccak256 gives ERC-20 transfer's selector a9059cbb");
    char big[300];
    memset(big, 'a', sizeof big);
    keccak256(big, 136, h);   /* exactly one rate block: the padding goes into a second block */
    hex32(h, hx);
    /* expected values from js-sha3 (npm), an independent implementation */
    is_str(hx, "a6c4d403279fe3e0af03729caada8374b5ca54d8065329a3ebcaeb4b60aa386e", "keccak256 of 136 bytes");
    keccak256(big, 135, h);   /* the padding bytes 0x01 and 0x80 fall on the same byte */
    hex32(h, hx);
    is_str(hx, "34367dc248bbd832f4e3e69dfaac2f92638bd0bbd18f2912ba4ef454919cf446", "keccak256 of 135 bytes");

    static const char *const eip55[] = { "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                                         "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                                         "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
                                         "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
                                         "0xdAC17F958D2ee523a2206206994597C13D831ec7" };
    for (size_t i = 0; i < sizeof eip55 / sizeof *eip55; i++) {
        char lower[43], sum[43];
        for (int k = 0; k < 42; k++) lower[k] = (char)(k < 2 ? eip55[i][k] : (eip55[i][k] | 0x20));
        lower[42] = 0;
        ok(eip55_checksum(lower, sum, sizeof sum) == 0, "checksum of %s", lower);
        is_str(sum, eip55[i], "EIP-55 vector %zu", i);
        ok(eip55_ok(eip55[i]) && eip55_ok(lower), "checksummed and all-lower both accepted (%zu)", i);
    }
    ok(!eip55_ok("0xdAC17F958D2ee523a2206206994597C13D831eC7"), "one flipped case fails the checksum");
    ok(!eip55_ok("0xdAC17F958D2ee523a2206206994597C13D831ec"), "41 hex digits is not an address");

    char canon[64];
    is_int(address_destination("evm", "0xdAC17F958D2ee523a2206206994597C13D831ec7", canon, sizeof canon), 0,
           "a checksummed destination is valid");
    is_str(canon, "0xdac17f958d2ee523a2206206994597c13d831ec7", "stored lower-case");
    is_int(address_destination("evm", "0xdAC17F958D2ee523a2206206994597C13D831eC7", canon, sizeof canon), -2,
           "a destination failing its checksum is refused as such");
    is_int(address_destination("evm", "0x0000000000000000000000000000000000000000", canon, sizeof canon), -1,
           "the zero address is never a destination");
    is_int(address_destination("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", canon, sizeof canon), 0,
           "a base58check Tron address is valid");
    is_int(address_destination("tron", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u", canon, sizeof canon), -1,
           "a Tron address failing base58check is refused");
    return tap_done();
}
