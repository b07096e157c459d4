#include "core/amount.h"
#include <string.h>

static const u128 U128_MAX = ~(u128)0;

static int mul10_add(u128 *v, unsigned d)
{
    if (*v > (U128_MAX - d) / 10) return -1;
    *v = *v * 10 + d;
    return 0;
}

int amount_parse_units(const char *s, u128 *out)
{
    u128 v = 0;
    if (!s || !*s || strlen(s) > 40) return -1;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9') return -1;
        if (mul10_add(&v, (unsigned)(*p - '0'))) return -1;
    }
    *out = v;
    return 0;
}

int amount_parse(const char *s, int decimals, u128 *out)
{
    u128 v = 0;
    int int_digits = 0, frac_digits = 0, seen_point = 0;
    if (!s || !*s || decimals < 0 || decimals > 36 || strlen(s) > 80) return -1;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (seen_point) return -1;
            seen_point = 1;
            continue;
        }
        if (*p < '0' || *p > '9') return -1;
        if (seen_point) {
            if (++frac_digits > decimals) return -1;
        } else {
            int_digits++;
        }
        if (mul10_add(&v, (unsigned)(*p - '0'))) return -1;
    }
    if (int_digits == 0 || (seen_point && frac_digits == 0)) return -1;  /* ".5", "5." */
    for (int i = frac_digits; i < decimals; i++)
        if (mul10_add(&v, 0)) return -1;
    if (v == 0) return -1;
    *out = v;
    return 0;
}

void amount_units_str(u128 v, char out[AMOUNT_STR_MAX])
{
    char tmp[AMOUNT_STR_MAX];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++) out[i] = tmp[n - 1 - i];
    out[n] = 0;
}

void amount_format(u128 v, int decimals, char out[AMOUNT_STR_MAX])
{
    char digits[AMOUNT_STR_MAX];
    amount_units_str(v, digits);
    int n = (int)strlen(digits), o = 0;
    if (decimals <= 0) { memcpy(out, digits, (size_t)n + 1); return; }
    if (n <= decimals) {                       /* 0.000123 */
        out[o++] = '0';
        out[o++] = '.';
        for (int i = n; i < decimals; i++) out[o++] = '0';
        memcpy(out + o, digits, (size_t)n + 1);
        return;
    }
    memcpy(out, digits, (size_t)(n - decimals));
    o = n - decimals;
    out[o++] = '.';
    memcpy(out + o, digits + n - decimals, (size_t)decimals + 1);
}
