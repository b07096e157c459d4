/* util — small helpers every program shares: random ids, hashing, encoding. */
#ifndef CORE_UTIL_H
#define CORE_UTIL_H
#include <stddef.h>
#include <stdint.h>

/* prefix + 24 lowercase base32 chars of randomness, e.g. "pay_3k…". out >= strlen(prefix)+25 */
void util_random_id(const char *prefix, char *out, size_t outlen);
/* n random bytes; aborts if the CSPRNG fails (nothing sensible to do then). */
void util_random_bytes(unsigned char *buf, size_t n);
void util_sha256(const void *data, size_t n, unsigned char out[32]);
void util_hex(const unsigned char *in, size_t n, char *out);     /* out >= 2n+1 */
int util_hexval(char c);                                          /* 0-15, or -1 */
/* The first C0 control (other than tab and newline), DEL or C1 control (U+0080-U+009F) in a
 * UTF-8 string, as its code point; -1 when there is none. For free text that is stored. */
long long util_text_control(const char *s);
/* The webhook-signature header (Standard Webhooks): space-separated "v1,<base64>" entries.
 * 1 if one of them is exactly "v1," + sig_b64 (every candidate compared in constant time, so
 * timing does not tell which matched), else 0. Shared by raild's verifier and the receiver. */
int util_sig_header_has(const char *header, const char *sig_b64);
/* RFC 3339 date-time with a zone: YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±HH:MM), a real calendar
 * date (Feb 29 only in leap years), T not a space. The one validator every endpoint, the
 * CSV import and the admin CLI use. */
int util_rfc3339_valid(const char *s);
/* An integer setting from the environment: getenv(name) within [lo, hi], else def — and a
 * value that is set but out of range or not a number is logged as `event name=… value=…
 * using=def` (the daemon keeps running on the default). */
long long util_env_i64(const char *name, long long def, long long lo, long long hi, const char *event);
/* Divides the big-endian number num[len] by d in place; returns the remainder, *zero says
 * whether the quotient is 0 (base conversion: base58, decimal). */
unsigned util_divmod_be(unsigned char *num, size_t len, unsigned d, int *zero);
/* standard base64 (with padding); returns malloc'd string */
char *util_base64(const unsigned char *in, size_t n);
/* decodes standard base64; returns malloc'd bytes and sets *outlen, or NULL */
unsigned char *util_base64_decode(const char *in, size_t *outlen);
/* constant-time comparison of equal-length buffers; 0 when equal */
int util_ct_equal(const void *a, const void *b, size_t n);
int64_t util_now_ms(void);
/* strtoll with full validation; returns 0 on success */
int util_parse_i64(const char *s, long long min, long long max, long long *out);
/* Strict "host:port" parsing for --listen. Returns 0 or -1. */
int util_parse_hostport(const char *s, char *host, size_t hostlen, int *port);

#endif
