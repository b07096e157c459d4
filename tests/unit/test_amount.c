/* Amount parsing and formatting on 6- and 18-decimal rails, with overflow. */
#include "core/amount.h"
#include "tap.h"

static const char *fmt(u128 v, int d)
{
    static char buf[AMOUNT_STR_MAX];
    amount_format(v, d, buf);
    return buf;
}

static const char *units(u128 v)
{
    static char buf[AMOUNT_STR_MAX];
    amount_units_str(v, buf);
    return buf;
}

int main(void)
{
    struct { const char *in; int dec; const char *units; } good[] = {
        { "125.50", 6, "125500000" },
        { "1", 6, "1000000" },
        { "0.000001", 6, "1" },
        { "0.000001000000000000", 18, "1000000000000" },
        { "9.3", 18, "9300000000000000000" },                 /* > int64 max */
        { "1000000", 18, "1000000000000000000000000" },
        { "123456789012345678901.5", 6, "123456789012345678901500000" },
        { "007", 6, "7000000" },
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        u128 v = 0;
        int rc = amount_parse(good[i].in, good[i].dec, &v);
        ok(rc == 0, "parse '%s' at %d decimals", good[i].in, good[i].dec);
        is_str(units(v), good[i].units, "'%s' is %s base units", good[i].in, good[i].units);
    }
    struct { const char *in; int dec; } bad[] = {
        { "", 6 }, { "-1", 6 }, { "0", 6 }, { "0.000000", 6 }, { "1e6", 6 }, { "1.0000001", 6 },
        { "NaN", 6 }, { "inf", 6 }, { " 1", 6 }, { "1 ", 6 }, { "+1", 6 }, { ".5", 6 }, { "5.", 6 },
        { "1.2.3", 6 }, { "1,5", 6 }, { "0x10", 6 },
        { "12345678901234567890123456789012345678901234567890123456789012345678901234567890", 6 },
        { "340282366920938463463.374607431768211456", 18 },  /* 2^128 base units: overflow */
        { "1.0000000000000000001", 18 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        u128 v = 0;
        ok(amount_parse(bad[i].in, bad[i].dec, &v) == -1, "reject '%s' at %d decimals", bad[i].in, bad[i].dec);
    }
    u128 max = ~(u128)0;
    is_str(units(max), "340282366920938463463374607431768211455", "u128 max prints exactly");
    u128 v;
    ok(amount_parse_units("340282366920938463463374607431768211455", &v) == 0 && v == max, "u128 max parses");
    ok(amount_parse_units("340282366920938463463374607431768211456", &v) == -1, "u128 max + 1 overflows");
    ok(amount_parse_units("12a", &v) == -1, "base units reject non-digits");
    ok(amount_parse_units("0", &v) == 0 && v == 0, "base units accept 0 (a zero-value transfer)");
    is_str(fmt(125500000, 6), "125.500000", "format 6 decimals");
    is_str(fmt(1, 18), "0.000000000000000001", "format smallest 18-decimal unit");
    is_str(fmt(0, 6), "0.000000", "format zero");
    is_str(fmt((u128)9300000000000000000ULL, 18), "9.300000000000000000", "format beyond int64 on 18 decimals");
    return tap_done();
}
