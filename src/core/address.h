/* address — deposit/wallet address formats per network kind.
 * tron: base58check, 25 bytes, version 0x41.  evm: 0x + 40 hex (stored lower-case). */
#ifndef CORE_ADDRESS_H
#define CORE_ADDRESS_H
#include <stddef.h>
/* kind "tron" or "evm". Writes the canonical form into out (>= 64). 0 ok, -1 invalid. */
int address_canonical(const char *kind, const char *in, char *out, size_t outlen);
/* tron base58check encoder for tests and the simulator: 21 bytes (0x41 + 20) -> address */
int address_tron_encode(const unsigned char payload[21], char *out, size_t outlen);
/* Tron's JSON-RPC speaks 20-byte hex: "T…" -> "0x" + 40 hex (out >= 43), and back from
 * 40 hex (with or without "0x" / "41") to "T…" (out >= 35). 0 ok, -1 invalid. */
int address_tron_to_hex(const char *b58, char *out, size_t outlen);
int address_tron_from_hex(const char *hex, char *out, size_t outlen);
/* A payout destination: canonical as above, and for EVM a mixed-case address must carry a
 * valid EIP-55 checksum; the zero address is refused. 0 ok, -1 malformed, -2 checksum. */
int address_destination(const char *kind, const char *in, char *out, size_t outlen);
#endif
