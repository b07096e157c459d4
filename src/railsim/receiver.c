/* railsim receiver — a merchant's webhook endpoint, done right, that can misbehave on purpose.
 * What a merchant should copy: verify the Standard Webhooks signature on the raw body before
 * parsing it (constant-time, any of the space-separated v1 signatures), reject timestamps more
 * than 5 minutes off, dedupe by webhook-id, answer 2xx quickly.
 * What tests use: --fail-rate, --hang-ms/--hang-rate (answer 503 after hanging), --delay-ms (slow
 * but successful), --status 410|429|502|503|504 with --retry-after, and POST /_control {"fail_rate":…,
 * "hang_ms":…, "hang_rate":…, "delay_ms":…, "status":…, "retry_after":…, "down_ms":…}
 * (down_ms closes the listening socket and every connection for that long).
 * GET /_stats gives counters. Secrets come from --secret-file (one whsec_ per line, re-read
 * when the file changes) or RAILSIM_WEBHOOK_SECRET — never from argv.
 * --log FILE gets one JSON line per accepted delivery:
 *   {"webhook_id","timestamp","signature","type","duplicate","body"}  (body: the raw bytes) */
#include "railsim/sim.h"
#include "core/util.h"
#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_BODY (1 << 20)
#define MAX_SECRETS 8
#define TOLERANCE_S 300

struct mode {
    double fail_rate, hang_rate;
    int hang_ms, status, retry_after;
    int delay_ms;                  /* slow but successful */
};

static struct {
    pthread_mutex_t mu;
    struct mode mode;
    const char *secret_file;
    struct timespec secret_mtime;
    unsigned char keys[MAX_SECRETS][64];
    size_t keylen[MAX_SECRETS];
    int nkeys;
    char **seen;                   /* open-addressing set of webhook-ids */
    size_t seen_cap, seen_n;
    FILE *log;
    long long accepted, duplicates, rejected, injected;
    int64_t down_until_ms;         /* set by /_control; the main loop acts on it */
    int down_ms;
} R = { .mu = PTHREAD_MUTEX_INITIALIZER };

static volatile sig_atomic_t g_stop;
static void on_signal(int s) { (void)s; g_stop = 1; }

/* ------------------------------------------------------------------ secrets */

static int add_secret(const char *s)
{
    size_t n;
    if (strncmp(s, "whsec_", 6) || R.nkeys == MAX_SECRETS) return -1;
    unsigned char *k = util_base64_decode(s + 6, &n);
    if (!k || n < 24 || n > 64) { free(k); return -1; }
    memcpy(R.keys[R.nkeys], k, n);
    R.keylen[R.nkeys++] = n;
    free(k);
    return 0;
}

/* (Re)loads the secret file when it changed. Called with R.mu held. */
static int load_secrets(int force)
{
    if (!R.secret_file) return 0;
    struct stat st;
    if (stat(R.secret_file, &st)) return -1;
    if (!force && st.st_mtim.tv_sec == R.secret_mtime.tv_sec && st.st_mtim.tv_nsec == R.secret_mtime.tv_nsec)
        return 0;
    FILE *f = fopen(R.secret_file, "r");
    if (!f) return -1;
    char line[256];
    R.nkeys = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n \t")] = 0;
        if (line[0] && add_secret(line)) {
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    R.secret_mtime = st.st_mtim;
    return R.nkeys ? 0 : -1;
}

/* 0 when any "v1,<sig>" in header matches any secret (constant-time per comparison). */
static int verify(const char *id, const char *ts, const char *body, size_t len, const char *header)
{
    size_t plen = strlen(id) + strlen(ts) + 2;
    char *msg = malloc(plen + len + 1);
    if (!msg) return -1;
    int off = sprintf(msg, "%s.%s.", id, ts);
    memcpy(msg + off, body, len);
    int found = 0;
    pthread_mutex_lock(&R.mu);
    load_secrets(0);
    for (int k = 0; k < R.nkeys; k++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t maclen = 0;
        if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, R.keys[k], R.keylen[k], (unsigned char *)msg,
                       (size_t)off + len, mac, sizeof mac, &maclen))
            continue;
        char *want = util_base64(mac, maclen);
        if (want && util_sig_header_has(header, want)) found = 1;
        free(want);
    }
    pthread_mutex_unlock(&R.mu);
    free(msg);
    return found ? 0 : -1;
}

/* ------------------------------------------------------------------ dedupe */

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Inserts id; returns 1 if it was already there. Called with R.mu held. */
static int seen_insert(const char *id)
{
    if (R.seen_n * 2 >= R.seen_cap) {
        size_t ncap = R.seen_cap ? R.seen_cap * 2 : 4096;
        char **n = calloc(ncap, sizeof *n);
        if (!n) abort();
        for (size_t i = 0; i < R.seen_cap; i++)
            if (R.seen[i]) {
                size_t h = hash_str(R.seen[i]) & (ncap - 1);
                while (n[h]) h = (h + 1) & (ncap - 1);
                n[h] = R.seen[i];
            }
        free(R.seen);
        R.seen = n;
        R.seen_cap = ncap;
    }
    size_t h = hash_str(id) & (R.seen_cap - 1);
    while (R.seen[h]) {
        if (!strcmp(R.seen[h], id)) return 1;
        h = (h + 1) & (R.seen_cap - 1);
    }
    R.seen[h] = strdup(id);
    R.seen_n++;
    return 0;
}

/* ------------------------------------------------------------------ HTTP */

struct conn { char *buf; size_t len, cap; int too_big; };

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *body, int retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (retry_after >= 0) {
        char v[16];
        snprintf(v, sizeof v, "%d", retry_after);
        MHD_add_response_header(r, "Retry-After", v);
    }
    enum MHD_Result ok = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ok;
}

static double rnd(void) { return (double)random() / RAND_MAX; }

static enum MHD_Result control(struct MHD_Connection *c, struct conn *st)
{
    json_error_t e;
    json_t *o = json_loadb(st->buf ? st->buf : "", st->len, 0, &e);
    if (!json_is_object(o)) {
        json_decref(o);
        return reply(c, 400, "{\"error\":{\"code\":\"invalid_json\",\"message\":\"expected a JSON object\"}}", -1);
    }
    pthread_mutex_lock(&R.mu);
    json_t *v;
    if ((v = json_object_get(o, "fail_rate"))) R.mode.fail_rate = json_number_value(v);
    if ((v = json_object_get(o, "hang_rate"))) R.mode.hang_rate = json_number_value(v);
    if ((v = json_object_get(o, "hang_ms"))) R.mode.hang_ms = (int)json_integer_value(v);
    if ((v = json_object_get(o, "status"))) R.mode.status = (int)json_integer_value(v);
    if ((v = json_object_get(o, "retry_after"))) R.mode.retry_after = (int)json_integer_value(v);
    if ((v = json_object_get(o, "down_ms"))) R.down_ms = (int)json_integer_value(v);
    if ((v = json_object_get(o, "delay_ms"))) R.mode.delay_ms = (int)json_integer_value(v);
    pthread_mutex_unlock(&R.mu);
    json_decref(o);
    return reply(c, 200, "{\"ok\":true}", -1);
}

static enum MHD_Result stats(struct MHD_Connection *c)
{
    char b[256];
    pthread_mutex_lock(&R.mu);
    snprintf(b, sizeof b, "{\"accepted\":%lld,\"duplicates\":%lld,\"rejected\":%lld,\"injected\":%lld,\"unique\":%zu}",
             R.accepted, R.duplicates, R.rejected, R.injected, R.seen_n);
    pthread_mutex_unlock(&R.mu);
    return reply(c, 200, b, -1);
}

static enum MHD_Result reject(struct MHD_Connection *c, unsigned status, const char *code, const char *msg)
{
    char b[256];
    pthread_mutex_lock(&R.mu);
    R.rejected++;
    pthread_mutex_unlock(&R.mu);
    snprintf(b, sizeof b, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", code, msg);
    return reply(c, status, b, -1);
}

/* Misbehaviour on purpose; returns MHD_NO-or-YES via *out when it answered. */
static int inject(struct MHD_Connection *c, enum MHD_Result *out)
{
    pthread_mutex_lock(&R.mu);
    struct mode m = R.mode;
    pthread_mutex_unlock(&R.mu);
    int hang = m.hang_ms > 0 && (m.hang_rate <= 0 || rnd() < m.hang_rate);
    int fail = !hang && m.fail_rate > 0 && rnd() < m.fail_rate;
    if (!hang && !fail && !m.status) return 0;
    pthread_mutex_lock(&R.mu);
    R.injected++;
    pthread_mutex_unlock(&R.mu);
    if (hang) {
        usleep((useconds_t)m.hang_ms * 1000);
        *out = reply(c, 503, "{\"error\":{\"code\":\"hung\",\"message\":\"simulated hang\"}}", -1);
    } else if (fail) {
        *out = reply(c, 500, "{\"error\":{\"code\":\"simulated\",\"message\":\"simulated failure\"}}", -1);
    } else {
        *out = reply(c, (unsigned)m.status, "{\"error\":{\"code\":\"simulated\",\"message\":\"simulated status\"}}",
                     m.status == 429 || m.status == 502 || m.status == 503 || m.status == 504 ? m.retry_after : -1);
    }
    return 1;
}

static void log_line(const char *id, const char *ts, const char *sig, const char *type, int dup, const char *body,
                     size_t len)
{
    if (!R.log) return;
    /* at_ms: when it arrived here (rate limits are measured at the receiver) */
    json_t *o = json_pack("{ss ss ss ss sb s:s% sI}", "webhook_id", id, "timestamp", ts, "signature", sig, "type", type,
                          "duplicate", dup, "body", body, len, "at_ms", (json_int_t)util_now_ms());
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s) fprintf(R.log, "%s\n", s);
    free(s);
    json_decref(o);
}

static enum MHD_Result webhook(struct MHD_Connection *c, struct conn *st)
{
    const char *id = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-id");
    const char *ts = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-timestamp");
    const char *sig = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "webhook-signature");
    if (!id || !ts || !sig || strlen(id) > 200)
        return reject(c, 400, "missing_headers", "webhook-id, webhook-timestamp and webhook-signature are required");
    long long t;
    if (util_parse_i64(ts, 0, 1LL << 40, &t) || llabs(t - (long long)time(NULL)) > TOLERANCE_S)
        return reject(c, 400, "bad_timestamp", "webhook-timestamp is more than 5 minutes off");
    const char *body = st->buf ? st->buf : "";
    if (verify(id, ts, body, st->len, sig))
        return reject(c, 401, "bad_signature", "no signature verifies");
    /* only now is the body trusted enough to parse */
    json_error_t e;
    json_t *o = json_loadb(body, st->len, 0, &e);
    const char *type = json_string_value(json_object_get(o, "type"));
    if (!type) {
        json_decref(o);
        return reject(c, 400, "bad_body", "body is not a webhook envelope");
    }
    enum MHD_Result res;
    pthread_mutex_lock(&R.mu);
    int delay = R.mode.delay_ms;
    pthread_mutex_unlock(&R.mu);
    if (delay > 0) usleep((useconds_t)delay * 1000);
    if (inject(c, &res)) {
        json_decref(o);
        return res;
    }
    pthread_mutex_lock(&R.mu);
    int dup = seen_insert(id);
    if (dup) R.duplicates++;
    else R.accepted++;
    log_line(id, ts, sig, type, dup, body, st->len);
    pthread_mutex_unlock(&R.mu);
    json_decref(o);
    return reply(c, 200, dup ? "{\"ok\":true,\"duplicate\":true}" : "{\"ok\":true}", -1);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    struct conn *st = *con_cls;
    if (!st) {
        if (!(st = calloc(1, sizeof *st))) return MHD_NO;
        *con_cls = st;
        return MHD_YES;
    }
    if (*upload_size) {
        if (st->len + *upload_size > MAX_BODY) st->too_big = 1;
        if (!st->too_big) {
            if (st->len + *upload_size + 1 > st->cap) {
                size_t n = (st->len + *upload_size + 1) * 2;
                char *b = realloc(st->buf, n);
                if (!b) return MHD_NO;
                st->buf = b;
                st->cap = n;
            }
            memcpy(st->buf + st->len, upload, *upload_size);
            st->len += *upload_size;
            st->buf[st->len] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->too_big) return reject(c, 413, "body_too_large", "body over 1 MiB");
    if (!strcmp(url, "/_stats") && !strcmp(method, "GET")) return stats(c);
    if (!strcmp(url, "/_control") && !strcmp(method, "POST")) return control(c, st);
    if (strcmp(method, "POST")) return reject(c, 405, "method_not_allowed", "POST webhooks here");
    return webhook(c, st);
}

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode tc)
{
    struct conn *st = *con_cls;
    if (st) {
        free(st->buf);
        free(st);
        *con_cls = NULL;
    }
}

static struct MHD_Daemon *start(struct sockaddr_in *sa)
{
    return MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL,
                            0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
                            MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_END);
}

static const char USAGE[] =
    "usage: railsim receiver --listen 127.0.0.1:PORT (--secret-file F | env RAILSIM_WEBHOOK_SECRET)\n"
    "                        [--log FILE] [--fail-rate P] [--hang-ms N [--hang-rate P]]\n"
    "                        [--delay-ms N] [--status 410|429|502|503|504 [--retry-after S]]\n"
    "  A reference webhook endpoint: verifies Standard Webhooks signatures on the raw body,\n"
    "  rejects timestamps more than 5 minutes off, dedupes by webhook-id, logs what it accepted.\n"
    "  POST /_control {fail_rate, hang_ms, hang_rate, delay_ms, status, retry_after, down_ms}; GET /_stats.\n";

static int parse_rate(const char *v, double *out)
{
    char *e;
    double d = strtod(v, &e);
    if (e == v || *e || d < 0 || d > 1) return -1;
    *out = d;
    return 0;
}

int receiver_main(int argc, char **argv)
{
    const char *listen = NULL, *logpath = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) { fputs(USAGE, stdout); return 0; }
        if (i + 1 >= argc) { fprintf(stderr, "railsim receiver: '%s' needs a value\n%s", a, USAGE); return 2; }
        const char *v = argv[++i];
        long long x;
        if (!strcmp(a, "--listen")) listen = v;
        else if (!strcmp(a, "--secret-file")) R.secret_file = v;
        else if (!strcmp(a, "--log")) logpath = v;
        else if (!strcmp(a, "--fail-rate") && !parse_rate(v, &R.mode.fail_rate)) continue;
        else if (!strcmp(a, "--hang-rate") && !parse_rate(v, &R.mode.hang_rate)) continue;
        else if (!strcmp(a, "--hang-ms") && !util_parse_i64(v, 0, 3600000, &x)) R.mode.hang_ms = (int)x;
        else if (!strcmp(a, "--status") && !util_parse_i64(v, 200, 599, &x)) R.mode.status = (int)x;
        else if (!strcmp(a, "--retry-after") && !util_parse_i64(v, 0, 86400, &x)) R.mode.retry_after = (int)x;
        else if (!strcmp(a, "--delay-ms") && !util_parse_i64(v, 0, 3600000, &x)) R.mode.delay_ms = (int)x;
        else { fprintf(stderr, "railsim receiver: bad option or value '%s %s'\n%s", a, v, USAGE); return 2; }
    }
    char host[64];
    int port;
    struct sockaddr_in sa = { .sin_family = AF_INET };
    if (!listen || util_parse_hostport(listen, host, sizeof host, &port) || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "railsim receiver: --listen IPv4:PORT is required\n%s", USAGE);
        return 2;
    }
    sa.sin_port = htons((uint16_t)port);
    const char *env = getenv("RAILSIM_WEBHOOK_SECRET");
    if (R.secret_file ? load_secrets(1) : (!env || add_secret(env))) {
        fprintf(stderr, "railsim receiver: need whsec_ secrets in --secret-file or RAILSIM_WEBHOOK_SECRET\n");
        return 2;
    }
    if (logpath && !(R.log = fopen(logpath, "a"))) {
        perror(logpath);
        return 1;
    }
    if (R.log) setvbuf(R.log, NULL, _IOLBF, 0);
    srandom((unsigned)time(NULL) ^ (unsigned)getpid());
    signal(SIGPIPE, SIG_IGN);
    struct sigaction s = { .sa_handler = on_signal };
    sigaction(SIGINT, &s, NULL);
    sigaction(SIGTERM, &s, NULL);
    struct MHD_Daemon *d = start(&sa);
    if (!d) {
        fprintf(stderr, "railsim receiver: cannot listen on %s\n", listen);
        return 1;
    }
    fprintf(stderr, "railsim receiver: listening on %s\n", listen);
    while (!g_stop) {
        pthread_mutex_lock(&R.mu);
        int down = R.down_ms;
        R.down_ms = 0;
        pthread_mutex_unlock(&R.mu);
        if (down > 0) {
            usleep(100 * 1000);     /* let the /_control reply go out first */
            MHD_stop_daemon(d);
            fprintf(stderr, "railsim receiver: down for %d ms\n", down);
            for (int64_t until = util_now_ms() + down; util_now_ms() < until && !g_stop;) usleep(20 * 1000);
            while (!(d = start(&sa)) && !g_stop) usleep(50 * 1000);
            fprintf(stderr, "railsim receiver: listening again\n");
            if (!d) break;
        }
        usleep(50 * 1000);
    }
    if (d) MHD_stop_daemon(d);
    fprintf(stderr, "railsim receiver: accepted=%lld duplicates=%lld rejected=%lld injected=%lld\n", R.accepted,
            R.duplicates, R.rejected, R.injected);
    if (R.log) fclose(R.log);
    for (size_t i = 0; i < R.seen_cap; i++) free(R.seen[i]);
    free(R.seen);
    return 0;
}
