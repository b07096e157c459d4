/* amount — money as integers. Base units in unsigned 128-bit; decimal strings at the edges.
 * Never floating point: 18-decimal rails overflow int64 at 9.2 tokens. */
#ifndef CORE_AMOUNT_H
#define CORE_AMOUNT_H
#include <stddef.h>

typedef unsigned __int128 u128;

#define AMOUNT_STR_MAX 48   /* 39 digits of u128 + sign/point/NUL with room */

/* Parses a human decimal ("125.50") into base units for `decimals`.
 * Rejects: empty, sign, exponent, spaces, more fractional digits than `decimals`,
 * zero, and values that do not fit. Returns 0 or -1. */
int amount_parse(const char *s, int decimals, u128 *out);

/* Parses base units ("125500000", digits only, may be 0). Returns 0 or -1. */
int amount_parse_units(const char *s, u128 *out);

/* Base units as digits. */
void amount_units_str(u128 v, char out[AMOUNT_STR_MAX]);

/* Base units as a decimal with exactly `decimals` fractional digits ("125.500000"). */
void amount_format(u128 v, int decimals, char out[AMOUNT_STR_MAX]);

#endif
