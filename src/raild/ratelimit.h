/* ratelimit — token buckets in memory, per raild process (DESIGN §7, issue 14):
 *   per client IP, for failed authentications: a flood of bogus keys is answered 429 before
 *     any database lookup (RAILD_AUTH_FAILURES_PER_S, default 20/s, bursts of 10x);
 *   per API key, for every request (RAILD_RATE_PER_KEY, default 5000/s, bursts of 2x;
 *     0 turns it off).
 * Each copy of raild counts alone: the limits are per process, a safety net, not billing. */
#ifndef RAILD_RATELIMIT_H
#define RAILD_RATELIMIT_H

/* 1 if bucket `key` has a token (taken when take=1); else 0 and *retry_ms until it has. */
int rl_check(const char *key, double per_s, double burst, int take, long long *retry_ms);
/* a token taken from `key` whatever is left (failures are counted even when limited) */
void rl_charge(const char *key, double per_s, double burst);
double rl_auth_failures_per_s(void);
double rl_per_key_per_s(void);
#endif
