/* ratelimit — see ratelimit.h. A fixed open-addressing table of buckets under one mutex:
 * a bucket is found by hash and a short probe; when the probe finds no free slot the one
 * seen longest ago is reused (a forgotten bucket starts full, which only errs generous). */
#include "raild/ratelimit.h"
#include "core/log.h"
#include "core/util.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOTS 4096
#define PROBE 8

struct bucket { char key[72]; double tokens; double at; };
static struct bucket table[SLOTS];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* the bucket for key, refilled to now (caller holds mu) */
static struct bucket *find(const char *key, double per_s, double burst, double now)
{
    unsigned h = hash(key);
    struct bucket *oldest = NULL;
    for (int i = 0; i < PROBE; i++) {
        struct bucket *b = &table[(h + (unsigned)i) % SLOTS];
        if (!strcmp(b->key, key)) {
            b->tokens += (now - b->at) * per_s;
            if (b->tokens > burst) b->tokens = burst;
            b->at = now;
            return b;
        }
        if (!b->key[0] || !oldest || b->at < oldest->at) oldest = b;
        if (!b->key[0]) break;
    }
    snprintf(oldest->key, sizeof oldest->key, "%s", key);
    oldest->tokens = burst;
    oldest->at = now;
    return oldest;
}

int rl_check(const char *key, double per_s, double burst, int take, long long *retry_ms)
{
    if (per_s <= 0) return 1;
    pthread_mutex_lock(&mu);
    struct bucket *b = find(key, per_s, burst, now_s());
    int ok = b->tokens >= 1;
    if (ok && take) b->tokens -= 1;
    if (!ok && retry_ms) *retry_ms = (long long)((1 - b->tokens) / per_s * 1000) + 1;
    pthread_mutex_unlock(&mu);
    return ok;
}

void rl_charge(const char *key, double per_s, double burst)
{
    if (per_s <= 0) return;
    pthread_mutex_lock(&mu);
    struct bucket *b = find(key, per_s, burst, now_s());
    b->tokens -= 1;
    if (b->tokens < -burst) b->tokens = -burst;   /* a flood keeps it shut, within bounds */
    pthread_mutex_unlock(&mu);
}

static double setting(const char *name, long long def, long long max)
{
    return (double)util_env_i64(name, def, 0, max, "ratelimit.bad_setting");
}

double rl_auth_failures_per_s(void)
{
    static double v = -1;
    if (v < 0) v = setting("RAILD_AUTH_FAILURES_PER_S", 20, 100000);
    return v;
}

double rl_per_key_per_s(void)
{
    static double v = -1;
    if (v < 0) v = setting("RAILD_RATE_PER_KEY", 5000, 1000000);
    return v;
}
