#include "core/address.h"
#include "core/keccak.h"
#include "core/util.h"
#include <ctype.h>
#include <string.h>

static const char B58[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

static int b58_decode(const char *s, unsigned char *out, size_t outlen)
{
    /* big-number base conversion into a fixed-size big-endian buffer */
    memset(out, 0, outlen);
    for (const char *p = s; *p; p++) {
        const char *d = strchr(B58, *p);
        if (!d || !*p) return -1;
        unsigned carry = (unsigned)(d - B58);
        for (size_t i = outlen; i-- > 0;) {
            carry += 58u * out[i];
            out[i] = (unsigned char)(carry & 0xff);
            carry >>= 8;
        }
        if (carry) return -1;   /* too long */
    }
    return 0;
}

int address_tron_encode(const unsigned char payload[21], char *out, size_t outlen)
{
    unsigned char buf[25], h1[32], h2[32];
    memcpy(buf, payload, 21);
    util_sha256(buf, 21, h1);
    util_sha256(h1, 32, h2);
    memcpy(buf + 21, h2, 4);
    char tmp[64];
    int n = 0;
    unsigned char num[25];
    memcpy(num, buf, 25);
    for (int zero = 0; !zero;) tmp[n++] = B58[util_divmod_be(num, sizeof num, 58, &zero)];
    for (int i = 0; i < 25 && buf[i] == 0; i++) tmp[n++] = '1';
    if ((size_t)n + 1 > outlen) return -1;
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
    return 0;
}

int address_canonical(const char *kind, const char *in, char *out, size_t outlen)
{
    size_t n = strlen(in);
    if (!strcmp(kind, "evm")) {
        if (n != 42 || in[0] != '0' || (in[1] != 'x' && in[1] != 'X') || outlen < 43) return -1;
        out[0] = '0', out[1] = 'x';
        for (size_t i = 2; i < 42; i++) {
            if (!isxdigit((unsigned char)in[i])) return -1;
            out[i] = (char)tolower((unsigned char)in[i]);
        }
        out[42] = 0;
        return 0;
    }
    if (!strcmp(kind, "tron")) {
        unsigned char buf[25], h1[32], h2[32];
        if (n != 34 || in[0] != 'T' || outlen < 35) return -1;
        if (b58_decode(in, buf, sizeof buf) || buf[0] != 0x41) return -1;
        util_sha256(buf, 21, h1);
        util_sha256(h1, 32, h2);
        if (memcmp(h2, buf + 21, 4)) return -1;
        memcpy(out, in, 35);
        return 0;
    }
    return -1;
}

int address_tron_to_hex(const char *b58, char *out, size_t outlen)
{
    char canon[64];
    unsigned char buf[25];
    if (outlen < 43 || address_canonical("tron", b58, canon, sizeof canon) || b58_decode(canon, buf, sizeof buf))
        return -1;
    static const char hx[] = "0123456789abcdef";
    out[0] = '0', out[1] = 'x';
    for (int i = 0; i < 20; i++) {
        out[2 + 2 * i] = hx[buf[1 + i] >> 4];
        out[3 + 2 * i] = hx[buf[1 + i] & 15];
    }
    out[42] = 0;
    return 0;
}

int address_tron_from_hex(const char *hex, char *out, size_t outlen)
{
    if (!strncmp(hex, "0x", 2) || !strncmp(hex, "0X", 2)) hex += 2;
    if (strlen(hex) == 42 && !strncmp(hex, "41", 2)) hex += 2;
    if (strlen(hex) != 40) return -1;
    unsigned char payload[21] = { 0x41 };
    for (int i = 0; i < 20; i++) {
        int hi = util_hexval(hex[2 * i]), lo = util_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        payload[1 + i] = (unsigned char)(hi << 4 | lo);
    }
    return address_tron_encode(payload, out, outlen);
}

int address_destination(const char *kind, const char *in, char *out, size_t outlen)
{
    if (address_canonical(kind, in, out, outlen)) return -1;
    if (!strcmp(kind, "evm")) {
        if (!strcmp(out, "0x0000000000000000000000000000000000000000")) return -1;
        if (!eip55_ok(in)) return -2;
    }
    return 0;
}
