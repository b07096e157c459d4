/* run_flags — `railsim run` options: parsing, validation (every message says what to
 * fix) and --help. Keys come only from files or the environment, never argv. */
#include "railsim/run.h"
#include "core/address.h"
#include "core/util.h"
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* Real block times; --speed scales them. Depths mirror the rails table (0001_core.sql). */
const struct sim_net sim_nets[SIM_NNET] = {
    { "tron-nile", "tron", 3000 }, { "sepolia", "evm", 12000 }, { "bsc-testnet", "evm", 3000 },
    { "polygon-amoy", "evm", 2000 },
    { "tron", "tron", 3000 }, { "ethereum", "evm", 12000 }, { "bsc", "evm", 3000 }, { "polygon", "evm", 2000 },
};
/* sandbox first (sim_rail_find answers those), then production; GET /v1/rails overrides */
struct sim_rail sim_rails[] = {
    { "tron:usdt",     "sandbox", 0, "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf",         6, 19, 20 },
    { "ethereum:usdt", "sandbox", 1, "0xaa8e23fb1079ea71e0a56f48a2aa51851d8433d0", 6, 12, 64 },
    { "bsc:usdt",      "sandbox", 2, "0x337610d27c682e347c9cd60bd4b3b107c9d34ddd", 18, 15, 30 },
    { "polygon:usdt",  "sandbox", 3, "0x1616d425cd540b256475cbfb604586c8598ec0fb", 6, 64, 256 },
    { "tron:usdt",     "production", 4, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",         6, 19, 20 },
    { "ethereum:usdt", "production", 5, "0xdac17f958d2ee523a2206206994597c13d831ec7", 6, 12, 64 },
    { "bsc:usdt",      "production", 6, "0x55d398326f99059ff775485246999027b3197955", 18, 15, 30 },
    { "polygon:usdt",  "production", 7, "0xc2132d05d31c914a87c6611c10748aeb04b58e8f", 6, 64, 256 },
};
const int sim_nrails = (int)(sizeof sim_rails / sizeof sim_rails[0]);

const char *const fate_names[F__COUNT] = {
    "exact", "underpay", "overpay", "split", "late", "abandon", "cancel", "unknown-address",
    "wrong-token", "duplicate", "reorg", "reorg-confirmed", "stuck", "sweep", "internal",
};
/* default mix in basis points: a busy but believable day */
static const unsigned default_mix[F__COUNT] = {
    0, 400, 300, 500, 300, 500, 300, 200, 200, 200, 300, 200, 100, 1500, 100,
};

int sim_rail_find(const char *id)
{
    for (int i = 0; i < sim_nrails; i++) if (!strcmp(sim_rails[i].id, id)) return i;
    return -1;
}

int sim_rail_env(int rail, const char *env)
{
    for (int i = 0; rail >= 0 && i < sim_nrails; i++)
        if (!strcmp(sim_rails[i].id, sim_rails[rail].id) && !strcmp(sim_rails[i].env, env)) return i;
    return -1;
}

void run_resolve_rails(struct sim_cfg *c)
{
    for (int m = 0; m < c->nmerchants; m++) {
        struct sim_merchant *mc = &c->merchants[m];
        if (!mc->env) mc->env = mc->key && !strncmp(mc->key, "rk_live_", 8) ? "production" : "sandbox";
        if (!mc->nrails) {
            memcpy(mc->rails, c->rails, sizeof mc->rails);
            mc->nrails = c->nrails;
        }
        for (int i = 0; i < mc->nrails; i++) mc->rails[i] = sim_rail_env(mc->rails[i], mc->env);
    }
}

int sim_net_find(const char *name)
{
    for (int i = 0; i < SIM_NNET; i++) if (!strcmp(sim_nets[i].name, name)) return i;
    return -1;
}

void run_usage(FILE *f)
{
    fprintf(f,
"railsim run — merchants, one simulated chain per network, and the mistakes real\n"
"customers and chains make, driven through raild's API. Deterministic for a seed.\n"
"\n"
"usage: railsim run --api URL --merchant-key-file FILE --watcher-key-file FILE [options]\n"
"       railsim run --print-plan --max-payments N [options]\n"
"\n"
"Gateway\n"
"  --api URL                 raild's base URL, e.g. http://127.0.0.1:8080\n"
"  --merchant-key-file F[=RAILS]\n"
"                            a merchant API key in file F (mode 600); repeat for each\n"
"                            merchant (up to 16). '=tron:usdt,bsc:usdt' lists the rails\n"
"                            enabled for it (default: --rails). Without the flag the key\n"
"                            is read from RAILSIM_MERCHANT_KEY.\n"
"  --watcher-key-file F      a chain watcher's key (or RAILSIM_WATCHER_KEY); a watcher key\n"
"                            posts for one network, so repeat it for every network used\n"
"  --hot-wallet NET=ADDR     our hot wallet on network NET (e.g. tron-nile): sweeps go to it\n"
"                            and 'internal' moves\n"
"                            leave it (repeat per network; without it those are skipped)\n"
"Traffic\n"
"  --rails LIST              rails merchants use (default tron:usdt,bsc:usdt); known:\n"
"                            tron:usdt ethereum:usdt bsc:usdt (18 decimals) polygon:usdt\n"
"  --rate N                  payments created per second, all merchants (default 2;\n"
"                            0.001 to 1000, up to 3 decimals)\n"
"  --expires-in S            expiry of regular payments in seconds (default 900; the\n"
"                            gateway accepts 60 to 604800)\n"
"  --short-expiry S          expiry of payments meant to lapse or be paid late (default 60;\n"
"                            10 to 59 only against a sandbox with RAILD_SANDBOX_MIN_EXPIRY_S)\n"
"  --mix NAME=PCT,...        share of payment slots with each outcome, in percent (up to\n"
"                            2 decimals, total <= 100); the rest are paid exactly. 'none'\n"
"                            sets all to 0. Outcomes (default %%):\n"
"                              underpay 4   overpay 3   split 5 (two transfers, exact)\n"
"                              late 3 (paid after expiry)   abandon 5 (never paid)\n"
"                              cancel 3 (merchant cancels)   unknown-address 2\n"
"                              wrong-token 2 (look-alike contract, then the real one)\n"
"                              duplicate 2 (paid twice)   reorg 3 (before confirmation)\n"
"                              reorg-confirmed 2 (after confirmation, half re-included)\n"
"                              stuck 1 (never leaves the mempool)   sweep 15 (paid, then\n"
"                              swept to the hot wallet after finality)\n"
"                              internal 1 (unmarked move out of the hot wallet)\n"
"  --orders early=PCT,lag=PCT\n"
"                            merchants report order status through PUT /v1/orders/{ref}:\n"
"                            'early' fulfil at detection (before finality), 'lag' never\n"
"                            report payment; the rest report paid then fulfilled after\n"
"                            finality (default early=5,lag=5). Skipped quietly when the\n"
"                            gateway has no orders endpoint.\n"
"  --no-orders               do not report orders\n"
"Chain\n"
"  --speed X                 chain speed as a multiple of real block times (tron 3 s,\n"
"                            ethereum 12 s, bsc 3 s, polygon 2 s); default 1, 0.01 to 1000\n"
"  --start-height H          first block height of every simulated chain (default 1000000);\n"
"                            must be above the gateway's current head on each network\n"
"Run\n"
"  --seed N                  PRNG seed, 0 to 2^63-1 (default 1): same seed, same requests\n"
"  --tag STR                 in references and idempotency keys, so reruns with one seed\n"
"                            against one database do not collide (default s<seed>)\n"
"  --duration S              stop after S seconds (default: when --max-payments are done,\n"
"                            else at SIGINT/SIGTERM)\n"
"  --max-payments N          create at most N payment slots, finish their stories, stop\n"
"  --concurrency N           merchant requests in flight (default 8, 1 to 256)\n"
"  --print-plan              contact nothing: print every request the run would make with\n"
"                            its virtual time in ms, then exit (needs --duration or\n"
"                            --max-payments)\n"
"  --trace FILE              append every request as it is issued (the --print-plan format\n"
"                            without times; deposit addresses are the real ones)\n"
"  --quiet                   no per-event log lines, only the summary\n"
"\n"
"Output: logfmt lines on stderr; a summary on stdout at the end. Exit 0 when the run\n"
"completed, 1 when the gateway could not be reached or rejected the keys, 2 on bad flags.\n");
}

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "railsim run: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n(see railsim run --help)\n");
    va_end(ap);
    return 2;
}

/* "12", "2.5", "0.001": a non-negative decimal with at most `scale` fractional digits,
 * returned multiplied by 10^scale. 0 ok, -1 malformed or above max (scaled). */
static int parse_fixed(const char *s, int scale, long long max, long long *out)
{
    long long v = 0;
    int frac = -1;
    if (!*s) return -1;
    for (const char *p = s; *p; p++) {
        if (*p == '.') { if (frac >= 0 || p == s || !p[1]) return -1; frac = 0; continue; }
        if (*p < '0' || *p > '9') return -1;
        if (frac >= 0 && ++frac > scale) return -1;
        v = v * 10 + (*p - '0');
        if (v > max * 1000) return -1;
    }
    for (int i = frac < 0 ? 0 : frac; i < scale; i++) v *= 10;
    if (v > max) return -1;
    *out = v;
    return 0;
}

/* A key from a file: a regular file, not readable by group or others, one token. */
static char *read_key_file(const char *path, const char *flag, int *err)
{
    *err = 2;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "railsim run: %s: cannot open '%s': %s\n", flag, path, strerror(errno));
        return NULL;
    }
    struct stat st;
    char buf[1024];
    ssize_t n = -1;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & 077) && st.st_size < (off_t)sizeof buf)
        n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        if (stat(path, &st) == 0 && (st.st_mode & 077))
            fprintf(stderr, "railsim run: %s: '%s' is readable by other users (mode %04o); run: chmod 600 %s\n",
                    flag, path, (unsigned)(st.st_mode & 07777), path);
        else
            fprintf(stderr, "railsim run: %s: '%s' must be a regular file under 1 KiB holding one key\n", flag, path);
        return NULL;
    }
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ')) buf[--n] = 0;
    if (n == 0 || strpbrk(buf, " \t\r\n")) {
        fprintf(stderr, "railsim run: %s: '%s' must hold exactly one key on one line\n", flag, path);
        return NULL;
    }
    *err = 0;
    return strdup(buf);
}

static int parse_rail_list(const char *list, int *rails, int *n, const char *flag)
{
    char tmp[256];
    if (strlen(list) >= sizeof tmp) return bad("%s: list too long: '%s'", flag, list);
    snprintf(tmp, sizeof tmp, "%s", list);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int r = sim_rail_find(t);
        if (r < 0) return bad("%s: unknown rail '%s' (tron:usdt, ethereum:usdt, bsc:usdt, polygon:usdt)", flag, t);
        for (int i = 0; i < *n; i++) if (rails[i] == r) return bad("%s: rail '%s' listed twice", flag, t);
        rails[(*n)++] = r;
    }
    if (*n == 0) return bad("%s: give at least one rail, e.g. tron:usdt,bsc:usdt", flag);
    return 0;
}

static int parse_mix(const char *s, struct sim_cfg *c)
{
    char tmp[512];
    if (strlen(s) >= sizeof tmp) return bad("--mix: too long");
    snprintf(tmp, sizeof tmp, "%s", s);
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "none")) { memset(c->mix_bp, 0, sizeof c->mix_bp); continue; }
        char *eq = strchr(t, '=');
        if (!eq) return bad("--mix: '%s' is not NAME=PCT (e.g. underpay=5)", t);
        *eq = 0;
        int f = -1;
        for (int i = 1; i < F__COUNT; i++) if (!strcmp(fate_names[i], t)) f = i;
        if (f < 0) return bad("--mix: unknown outcome '%s' (see --help for the list)", t);
        long long bp;
        if (parse_fixed(eq + 1, 2, 10000, &bp)) return bad("--mix: %s=%s is not a percentage from 0 to 100 with up to 2 decimals", t, eq + 1);
        c->mix_bp[f] = (unsigned)bp;
    }
    unsigned sum = 0;
    for (int i = 1; i < F__COUNT; i++) sum += c->mix_bp[i];
    if (sum > 10000) {
        char b[32];
        snprintf(b, sizeof b, "%u.%02u", sum / 100, sum % 100);
        return bad("--mix: the shares add up to %s%%; they must total 100 or less", b);
    }
    return 0;
}

static int parse_orders(const char *s, struct sim_cfg *c)
{
    char tmp[128];
    if (strlen(s) >= sizeof tmp) return bad("--orders: too long");
    snprintf(tmp, sizeof tmp, "%s", s);
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        long long bp;
        if (!eq) return bad("--orders: '%s' is not early=PCT or lag=PCT", t);
        *eq = 0;
        if (parse_fixed(eq + 1, 2, 10000, &bp)) return bad("--orders: %s=%s is not a percentage from 0 to 100", t, eq + 1);
        if (!strcmp(t, "early")) c->order_early_bp = (unsigned)bp;
        else if (!strcmp(t, "lag")) c->order_lag_bp = (unsigned)bp;
        else return bad("--orders: unknown behaviour '%s' (early, lag)", t);
    }
    if (c->order_early_bp + c->order_lag_bp > 10000) return bad("--orders: early + lag exceed 100%%");
    return 0;
}

static int parse_hot(const char *s, struct sim_cfg *c)
{
    const char *eq = strchr(s, '=');
    char net[32];
    if (!eq || eq == s || (size_t)(eq - s) >= sizeof net) return bad("--hot-wallet: '%s' is not NET=ADDRESS", s);
    snprintf(net, sizeof net, "%.*s", (int)(eq - s), s);
    int n = sim_net_find(net);
    if (n < 0) return bad("--hot-wallet: unknown network '%s' (tron-nile, sepolia, bsc-testnet, polygon-amoy; in"
                          " production tron, ethereum, bsc, polygon)", net);
    if (address_canonical(sim_nets[n].kind, eq + 1, c->hot[n], sizeof c->hot[n]))
        return bad("--hot-wallet: '%s' is not a valid %s address", eq + 1, net);
    return 0;
}

static int add_merchant(const char *arg, struct sim_cfg *c)
{
    if (c->nmerchants >= SIM_MAX_MERCHANTS) return bad("--merchant-key-file: at most 16 merchants");
    struct sim_merchant *m = &c->merchants[c->nmerchants];
    char path[1024];
    const char *eq = strchr(arg, '=');
    snprintf(path, sizeof path, "%.*s", eq ? (int)(eq - arg) : (int)strlen(arg), arg);
    if (eq && parse_rail_list(eq + 1, m->rails, &m->nrails, "--merchant-key-file")) return 2;
    int err;
    if (!(m->key = read_key_file(path, "--merchant-key-file", &err))) return err;
    snprintf(m->label, sizeof m->label, "m%d", c->nmerchants);
    c->nmerchants++;
    return 0;
}

static int num(const char *flag, const char *v, long long min, long long max, long long *out)
{
    if (util_parse_i64(v, min, max, out)) {
        char range[64];
        snprintf(range, sizeof range, "a whole number from %lld to %lld", min, max);
        return bad("%s: '%s' is not %s", flag, v, range);
    }
    return 0;
}

static void defaults(struct sim_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->rate_mpps = 2000;
    c->speed_pct = 100;
    memcpy(c->mix_bp, default_mix, sizeof c->mix_bp);
    c->order_early_bp = 500;
    c->order_lag_bp = 500;
    c->orders = 1;
    c->rails[0] = sim_rail_find("tron:usdt");
    c->rails[1] = sim_rail_find("bsc:usdt");
    c->nrails = 2;
    c->start_height = 1000000;
    c->expires_in = 900;
    c->short_expiry = 60;
    c->concurrency = 8;
}

static int env_key(const char *var, char **out)
{
    const char *v = getenv(var);
    if (!v || !*v) return 0;
    if (strpbrk(v, " \t\r\n")) return bad("%s must hold exactly one key", var);
    *out = strdup(v);
    return 0;
}

int run_parse(int argc, char **argv, struct sim_cfg *c)
{
    defaults(c);
    int seed_set = 0, tag_set = 0, rc;
    long long v;
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help") || !strcmp(f, "-h")) { run_usage(stdout); return 1; }
        if (!strcmp(f, "--print-plan")) { c->print_plan = 1; continue; }
        if (!strcmp(f, "--no-orders")) { c->orders = 0; continue; }
        if (!strcmp(f, "--quiet")) { c->quiet = 1; continue; }
        if (!strcmp(f, "--key") || !strcmp(f, "--merchant-key") || !strcmp(f, "--watcher-key"))
            return bad("%s: keys are never taken on the command line; use --merchant-key-file / "
                       "--watcher-key-file (mode 600) or RAILSIM_MERCHANT_KEY / RAILSIM_WATCHER_KEY", f);
        if (strncmp(f, "--", 2)) return bad("unexpected argument '%s'", f);
        if (i + 1 >= argc) return bad("%s needs a value", f);
        const char *a = argv[++i];
        if (!strcmp(f, "--api")) {
            if (strncmp(a, "http://", 7) && strncmp(a, "https://", 8))
                return bad("--api: '%s' is not an http:// or https:// URL (e.g. http://127.0.0.1:8080)", a);
            if (strlen(a) > 200 || !a[strncmp(a, "http://", 7) ? 8 : 7] || strpbrk(a, " \t\r\n?#"))
                return bad("--api: '%s' must be a base URL like http://127.0.0.1:8080", a);
            c->api = a;
        } else if (!strcmp(f, "--merchant-key-file")) {
            if ((rc = add_merchant(a, c))) return rc;
        } else if (!strcmp(f, "--watcher-key-file")) {
            int err;
            if (c->nwatcher_keys == SIM_NNET) return bad("--watcher-key-file: at most %d (one per network)", SIM_NNET);
            if (!(c->watcher_keys[c->nwatcher_keys] = read_key_file(a, f, &err))) return err;
            c->nwatcher_keys++;
        } else if (!strcmp(f, "--hot-wallet")) {
            if ((rc = parse_hot(a, c))) return rc;
        } else if (!strcmp(f, "--rails")) {
            if ((rc = parse_rail_list(a, c->rails, &c->nrails, f))) return rc;
        } else if (!strcmp(f, "--rate")) {
            if (parse_fixed(a, 3, 1000000, &v) || v < 1)
                return bad("--rate: '%s' is not a rate from 0.001 to 1000 payments per second", a);
            c->rate_mpps = (int)v;
        } else if (!strcmp(f, "--speed")) {
            if (parse_fixed(a, 2, 100000, &v) || v < 1)
                return bad("--speed: '%s' is not a multiple from 0.01 to 1000 (e.g. 1, 10, 0.5)", a);
            c->speed_pct = (int)v;
        } else if (!strcmp(f, "--expires-in")) {
            if ((rc = num(f, a, 60, 604800, &v))) return rc;
            c->expires_in = (int)v;
        } else if (!strcmp(f, "--short-expiry")) {   /* below 60 only where the gateway allows it */
            if ((rc = num(f, a, 10, 604800, &v))) return rc;
            c->short_expiry = (int)v;
        } else if (!strcmp(f, "--mix")) {
            if ((rc = parse_mix(a, c))) return rc;
        } else if (!strcmp(f, "--orders")) {
            if ((rc = parse_orders(a, c))) return rc;
        } else if (!strcmp(f, "--start-height")) {
            if ((rc = num(f, a, 1, 1000000000000LL, &v))) return rc;
            c->start_height = v;
        } else if (!strcmp(f, "--seed")) {
            if ((rc = num(f, a, 0, INT64_MAX, &v))) return rc;
            c->seed = (uint64_t)v;
            seed_set = 1;
        } else if (!strcmp(f, "--tag")) {
            size_t n = strlen(a);
            if (n < 1 || n > 40 || strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n)
                return bad("--tag: '%s' must be 1 to 40 letters, digits, '-' or '_'", a);
            snprintf(c->tag, sizeof c->tag, "%s", a);
            tag_set = 1;
        } else if (!strcmp(f, "--duration")) {
            if ((rc = num(f, a, 1, 30LL * 86400, &v))) return rc;
            c->duration_ms = v * 1000;
        } else if (!strcmp(f, "--max-payments")) {
            if ((rc = num(f, a, 1, 10000000, &v))) return rc;
            c->max_payments = (long)v;
        } else if (!strcmp(f, "--concurrency")) {
            if ((rc = num(f, a, 1, 256, &v))) return rc;
            c->concurrency = (int)v;
        } else if (!strcmp(f, "--trace")) {
            c->trace_path = a;
        } else {
            return bad("unknown option '%s'", f);
        }
    }
    (void)seed_set;
    if (!tag_set) snprintf(c->tag, sizeof c->tag, "s%llu", (unsigned long long)c->seed);
    if (c->short_expiry > c->expires_in)
        return bad("--short-expiry %d must not exceed --expires-in %d", c->short_expiry, c->expires_in);
    if (c->print_plan) {
        if (!c->duration_ms && !c->max_payments)
            return bad("--print-plan needs --duration or --max-payments, or it would never end");
        if (c->nmerchants == 0) {               /* the plan needs merchants, not their keys */
            c->nmerchants = 1;
            snprintf(c->merchants[0].label, sizeof c->merchants[0].label, "m0");
        }
        return 0;
    }
    if (!c->api) return bad("--api is required (e.g. --api http://127.0.0.1:8080), or use --print-plan");
    if (c->nmerchants == 0) {
        if ((rc = env_key("RAILSIM_MERCHANT_KEY", &c->merchants[0].key))) return rc;
        if (!c->merchants[0].key)
            return bad("no merchant key: give --merchant-key-file FILE (mode 600) or set RAILSIM_MERCHANT_KEY");
        snprintf(c->merchants[0].label, sizeof c->merchants[0].label, "m0");
        c->nmerchants = 1;
    }
    if (!c->nwatcher_keys) {
        if ((rc = env_key("RAILSIM_WATCHER_KEY", &c->watcher_keys[0]))) return rc;
        if (c->watcher_keys[0]) c->nwatcher_keys = 1;
        if (!c->nwatcher_keys)
            return bad("no watcher key: give --watcher-key-file FILE (mode 600) or set RAILSIM_WATCHER_KEY");
    }
    return 0;
}

void run_cfg_free(struct sim_cfg *c)
{
    for (int i = 0; i < c->nmerchants; i++) free(c->merchants[i].key);
    for (int i = 0; i < c->nwatcher_keys; i++) free(c->watcher_keys[i]);
}
