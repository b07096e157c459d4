/* keccak — Ethereum's Keccak-256 (the original padding 0x01, not SHA3-256's 0x06), on
 * nettle's Keccak-f[1600] permutation; and the EIP-55 mixed-case address checksum. */
#ifndef CORE_KECCAK_H
#define CORE_KECCAK_H
#include <stddef.h>
void keccak256(const void *data, size_t len, unsigned char out[32]);
/* "0x" + 40 hex (any case) -> EIP-55 checksummed form (out >= 43). 0 ok, -1 not an address. */
int eip55_checksum(const char *addr, char *out, size_t outlen);
/* 1 if addr is all lower-case, all upper-case (no checksum) or a valid EIP-55 checksum */
int eip55_ok(const char *addr);
#endif
