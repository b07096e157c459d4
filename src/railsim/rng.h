/* rng — the simulator's own PRNG (xoshiro256** seeded by splitmix64), so a seed
 * gives the same run on every machine and libc. Never rand(). */
#ifndef RAILSIM_RNG_H
#define RAILSIM_RNG_H
#include <stdint.h>

struct rng { uint64_t s[4]; };

/* splitmix64 step: also used to derive independent streams from (seed, index). */
uint64_t rng_mix(uint64_t x);
void rng_seed(struct rng *r, uint64_t seed);
/* a stream that depends only on (seed, domain, index): event order cannot shift it */
void rng_stream(struct rng *r, uint64_t seed, uint64_t domain, uint64_t index);
uint64_t rng_next(struct rng *r);
/* uniform in [0, n) without modulo bias; n > 0 */
uint64_t rng_below(struct rng *r, uint64_t n);
/* uniform in [lo, hi] */
int64_t rng_range(struct rng *r, int64_t lo, int64_t hi);
/* 1 with probability bp / 10000 (basis points) */
int rng_chance_bp(struct rng *r, unsigned bp);
/* n random lowercase hex characters into out (out >= n + 1) */
void rng_hex(struct rng *r, char *out, int n);
#endif
