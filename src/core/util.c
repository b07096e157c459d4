#include "core/util.h"
#include "core/log.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

void util_random_bytes(unsigned char *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1) {
        fprintf(stderr, "fatal: CSPRNG failure\n");
        abort();
    }
}

void util_random_id(const char *prefix, char *out, size_t outlen)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    unsigned char r[24];
    size_t p = strlen(prefix);
    if (outlen < p + 25) { if (outlen) out[0] = 0; return; }
    util_random_bytes(r, sizeof r);
    memcpy(out, prefix, p);
    for (size_t i = 0; i < 24; i++) out[p + i] = b32[r[i] & 31];
    out[p + 24] = 0;
}

void util_sha256(const void *data, size_t n, unsigned char out[32])
{
    SHA256(data, n, out);
}

void util_hex(const unsigned char *in, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[in[i] >> 4];
        out[2 * i + 1] = hx[in[i] & 15];
    }
    out[2 * n] = 0;
}

char *util_base64(const unsigned char *in, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (!out) return NULL;
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    return out;
}

unsigned char *util_base64_decode(const char *in, size_t *outlen)
{
    size_t n = strlen(in);
    if (n == 0 || n % 4) return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 1);
    if (!out) return NULL;
    int r = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (r < 0) { free(out); return NULL; }
    size_t len = (size_t)r;
    if (in[n - 1] == '=') len--;
    if (in[n - 2] == '=') len--;
    *outlen = len;
    return out;
}

int util_ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n);
}

int64_t util_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int util_parse_i64(const char *s, long long min, long long max, long long *out)
{
    char *end;
    if (!s || !*s) return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

int util_parse_hostport(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(s, ':');
    long long p;
    if (!colon || colon == s || (size_t)(colon - s) >= hostlen) return -1;
    if (util_parse_i64(colon + 1, 0, 65535, &p)) return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = 0;
    *port = (int)p;
    return 0;
}

int util_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

unsigned util_divmod_be(unsigned char *num, size_t len, unsigned d, int *zero)
{
    unsigned rem = 0;
    *zero = 1;
    for (size_t i = 0; i < len; i++) {
        unsigned cur = rem * 256 + num[i];
        num[i] = (unsigned char)(cur / d);
        rem = cur % d;
        if (num[i]) *zero = 0;
    }
    return rem;
}

long long util_text_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) return *p;
        if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) return p[1];   /* U+0080-U+009F */
    }
    return -1;
}

long long util_env_i64(const char *name, long long def, long long lo, long long hi, const char *event)
{
    const char *e = getenv(name);
    long long v = def;
    if (e && util_parse_i64(e, lo, hi, &v)) {
        log_warn(event, "name=%s value=\"%.20s\" using=%lld", name, e, def);
        v = def;
    }
    return v;
}

int util_sig_header_has(const char *header, const char *sig_b64)
{
    size_t wl = strlen(sig_b64);
    int found = 0;
    for (const char *p = header ? header : ""; *p;) {
        while (*p == ' ') p++;
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == wl + 3 && !strncmp(p, "v1,", 3) && util_ct_equal(p + 3, sig_b64, wl) == 0) found = 1;
        p += n;
    }
    return found;
}

/* n decimal digits at s into *out; -1 unless they are all digits */
static int rfc_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int util_rfc3339_valid(const char *s)
{
    static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int y, mo, d, h, mi, se, oh, om;
    if (strlen(s) < 20) return 0;
    if (rfc_digits(s, 4, &y) || s[4] != '-' || rfc_digits(s + 5, 2, &mo) || s[7] != '-' || rfc_digits(s + 8, 2, &d))
        return 0;
    if ((s[10] != 'T' && s[10] != 't') || rfc_digits(s + 11, 2, &h) || s[13] != ':' || rfc_digits(s + 14, 2, &mi) ||
        s[16] != ':' || rfc_digits(s + 17, 2, &se))
        return 0;
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 59) return 0;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 0;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; isdigit((unsigned char)*p); p++) n++;
        if (n < 1 || n > 9) return 0;
    }
    if ((*p == 'Z' || *p == 'z') && p[1] == 0) return 1;
    if ((*p != '+' && *p != '-') || strlen(p) != 6 || rfc_digits(p + 1, 2, &oh) || p[3] != ':' || rfc_digits(p + 4, 2, &om))
        return 0;
    return oh <= 23 && om <= 59;
}
