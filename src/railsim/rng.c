/* rng — xoshiro256** (Blackman & Vigna) seeded through splitmix64. */
#include "railsim/rng.h"

uint64_t rng_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void rng_seed(struct rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9e3779b97f4a7c15ULL;
        r->s[i] = rng_mix(x);
    }
}

void rng_stream(struct rng *r, uint64_t seed, uint64_t domain, uint64_t index)
{
    rng_seed(r, rng_mix(seed ^ rng_mix(domain * 0x100000001b3ULL) ^ rng_mix(index + 0x5851f42d4c957f2dULL)));
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next(struct rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t rng_below(struct rng *r, uint64_t n)
{
    /* rejection sampling: drop the top partial range so every value is equally likely */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do v = rng_next(r); while (v >= limit);
    return v % n;
}

int64_t rng_range(struct rng *r, int64_t lo, int64_t hi)
{
    if (hi <= lo) return lo;
    return lo + (int64_t)rng_below(r, (uint64_t)(hi - lo) + 1);
}

int rng_chance_bp(struct rng *r, unsigned bp)
{
    return rng_below(r, 10000) < bp;
}

void rng_hex(struct rng *r, char *out, int n)
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        if (i % 16 == 0) v = rng_next(r);
        out[i] = hex[v & 15];
        v >>= 4;
    }
    out[n] = 0;
}
