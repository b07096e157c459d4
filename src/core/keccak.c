#include "core/keccak.h"
#include <ctype.h>
#include <nettle/sha3.h>
#include <string.h>

#define RATE 136   /* 1088-bit rate of Keccak-256 */

static void absorb_block(struct sha3_state *st, const unsigned char *blk)
{
    for (int i = 0; i < RATE / 8; i++) {
        unsigned long long w = 0;
        for (int b = 7; b >= 0; b--) w = (w << 8) | blk[i * 8 + b];   /* lanes are little-endian */
        st->a[i] ^= w;
    }
    sha3_permute(st);
}

void keccak256(const void *data, size_t len, unsigned char out[32])
{
    struct sha3_state st;
    const unsigned char *p = data;
    unsigned char last[RATE];
    memset(&st, 0, sizeof st);
    for (; len >= RATE; p += RATE, len -= RATE) absorb_block(&st, p);
    memset(last, 0, sizeof last);
    memcpy(last, p, len);
    last[len] ^= 0x01;
    last[RATE - 1] ^= 0x80;
    absorb_block(&st, last);
    for (int i = 0; i < 32; i++) out[i] = (unsigned char)(st.a[i / 8] >> (8 * (i % 8)));
}

int eip55_checksum(const char *addr, char *out, size_t outlen)
{
    char lower[41];
    unsigned char h[32];
    if (!addr || strlen(addr) != 42 || addr[0] != '0' || (addr[1] != 'x' && addr[1] != 'X') || outlen < 43) return -1;
    for (int i = 0; i < 40; i++) {
        if (!isxdigit((unsigned char)addr[2 + i])) return -1;
        lower[i] = (char)tolower((unsigned char)addr[2 + i]);
    }
    lower[40] = 0;
    keccak256(lower, 40, h);
    out[0] = '0', out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        int nib = (h[i / 2] >> (i % 2 ? 0 : 4)) & 0xf;
        out[2 + i] = (char)(isalpha((unsigned char)lower[i]) && nib >= 8 ? toupper((unsigned char)lower[i]) : lower[i]);
    }
    out[42] = 0;
    return 0;
}

int eip55_ok(const char *addr)
{
    char sum[43];
    if (eip55_checksum(addr, sum, sizeof sum)) return 0;
    int upper = 0, lower = 0;
    for (int i = 2; i < 42; i++) {
        if (isupper((unsigned char)addr[i])) upper = 1;
        if (islower((unsigned char)addr[i])) lower = 1;
    }
    if (!(upper && lower)) return 1;
    return memcmp(sum + 2, addr + 2, 40) == 0;
}
