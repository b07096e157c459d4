/* railsim blast — signed Standard Webhooks POSTs through libcurl as fast as they go, with no
 * database behind them. It is the HTTP half of a dispatcher alone (the same library, multi
 * interface, keep-alive connections, easy handles reset and reused, a unique webhook-id and
 * an HMAC per request, the same headers), so `make bench` can show how much of wrk's raw rate
 * any libcurl-based sender reaches on this machine before durable recording costs anything.
 * Loopback or any URL you give it; nothing else. */
#include "railsim/sim.h"
#include "core/util.h"
#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CONNS 1024

struct slot {
    CURL *easy;
    struct curl_slist *hdrs;
    char body[512];
};

static const char USAGE[] =
    "usage: railsim blast --url URL (--secret-file F | env RAILSIM_WEBHOOK_SECRET)\n"
    "                     [--connections N] [--seconds S]\n"
    "  Posts correctly signed Standard Webhooks requests (unique webhook-id each) with libcurl\n"
    "  multi over N keep-alive connections (default 32) for S seconds (default 5), then prints\n"
    "  requests/s. A sender's ceiling without a database, for benchmarks.\n";

static size_t sink(char *p, size_t size, size_t nmemb, void *u) { (void)p; (void)u; return size * nmemb; }

static int read_secret(const char *path, unsigned char *key, size_t *keylen)
{
    char line[256] = "";
    const char *s = getenv("RAILSIM_WEBHOOK_SECRET");
    if (path) {
        FILE *f = fopen(path, "r");
        if (!f || !fgets(line, sizeof line, f)) {
            if (f) fclose(f);
            return -1;
        }
        fclose(f);
        line[strcspn(line, "\r\n \t")] = 0;
        s = line;
    }
    if (!s || strncmp(s, "whsec_", 6)) return -1;
    size_t n;
    unsigned char *k = util_base64_decode(s + 6, &n);
    if (!k || n < 24 || n > 64) {
        free(k);
        return -1;
    }
    memcpy(key, k, n);
    *keylen = n;
    free(k);
    return 0;
}

/* A fresh event with its own id, signed over id.timestamp.body, on a reset handle. */
static void prepare(struct slot *s, const char *url, const unsigned char *key, size_t keylen, long long seq)
{
    char id[48], msg[640], h[160];
    long long ts = (long long)time(NULL);
    snprintf(id, sizeof id, "evt_blast_%lld", seq);
    snprintf(s->body, sizeof s->body,
             "{\"id\":\"%s\",\"type\":\"payment.confirmed\",\"created_at\":\"2026-01-01T00:00:00.000Z\","
             "\"environment\":\"sandbox\",\"sequence\":1,\"data\":{\"id\":\"pay_blast_%lld\",\"state\":\"confirmed\"}}",
             id, seq);
    int mlen = snprintf(msg, sizeof msg, "%s.%lld.%s", id, ts, s->body);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, (unsigned char *)msg, (size_t)mlen, mac, sizeof mac,
              &maclen);
    char *sig = util_base64(mac, maclen);
    curl_slist_free_all(s->hdrs);
    s->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    snprintf(h, sizeof h, "webhook-id: %s", id);
    s->hdrs = curl_slist_append(s->hdrs, h);
    snprintf(h, sizeof h, "webhook-timestamp: %lld", ts);
    s->hdrs = curl_slist_append(s->hdrs, h);
    snprintf(h, sizeof h, "webhook-signature: v1,%s", sig);
    s->hdrs = curl_slist_append(s->hdrs, h);
    s->hdrs = curl_slist_append(s->hdrs, "Expect:");
    free(sig);
    curl_easy_reset(s->easy);
    curl_easy_setopt(s->easy, CURLOPT_URL, url);
    curl_easy_setopt(s->easy, CURLOPT_POST, 1L);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, s->body);
    curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(s->body));
    curl_easy_setopt(s->easy, CURLOPT_HTTPHEADER, s->hdrs);
    curl_easy_setopt(s->easy, CURLOPT_USERAGENT, "railsim-blast/1");
    curl_easy_setopt(s->easy, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(s->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s->easy, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(s->easy, CURLOPT_PRIVATE, s);
}

int blast_main(int argc, char **argv)
{
    const char *url = NULL, *secret_file = NULL;
    long long conns = 32, secs = 5;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help")) { fputs(USAGE, stdout); return 0; }
        if (i + 1 >= argc) { fprintf(stderr, "railsim blast: '%s' needs a value\n%s", a, USAGE); return 2; }
        const char *v = argv[++i];
        if (!strcmp(a, "--url") && (!strncmp(v, "http://", 7) || !strncmp(v, "https://", 8))) url = v;
        else if (!strcmp(a, "--secret-file")) secret_file = v;
        else if (!strcmp(a, "--connections") && !util_parse_i64(v, 1, MAX_CONNS, &conns)) continue;
        else if (!strcmp(a, "--seconds") && !util_parse_i64(v, 1, 600, &secs)) continue;
        else {
            fprintf(stderr, "railsim blast: bad option or value '%s %s' (--url takes an http(s) URL, "
                    "--connections 1-%d, --seconds 1-600)\n%s", a, v, MAX_CONNS, USAGE);
            return 2;
        }
    }
    unsigned char key[64];
    size_t keylen;
    if (!url) {
        fprintf(stderr, "railsim blast: --url is required\n%s", USAGE);
        return 2;
    }
    if (read_secret(secret_file, key, &keylen)) {
        fprintf(stderr, "railsim blast: need a whsec_ secret in --secret-file (first line) or RAILSIM_WEBHOOK_SECRET\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)conns);
    struct slot *slots = calloc((size_t)conns, sizeof *slots);
    if (!slots) abort();
    long long seq = 0, ok = 0, bad = 0;
    for (long long i = 0; i < conns; i++) {
        slots[i].easy = curl_easy_init();
        prepare(&slots[i], url, key, keylen, ++seq);
        curl_multi_add_handle(m, slots[i].easy);
    }
    int64_t t0 = util_now_ms(), end = t0 + secs * 1000;
    while (util_now_ms() < end) {
        int running, left;
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(m, &left))) {
            if (msg->msg != CURLMSG_DONE) continue;
            struct slot *s;
            long code = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
            if (msg->data.result == CURLE_OK && code >= 200 && code < 300) ok++;
            else bad++;
            curl_multi_remove_handle(m, s->easy);
            prepare(s, url, key, keylen, ++seq);
            curl_multi_add_handle(m, s->easy);
        }
        curl_multi_poll(m, NULL, 0, 10, NULL);
    }
    double el = (double)(util_now_ms() - t0) / 1000.0;
    printf("blast: %lld requests in %.2f s = %.0f requests/s (2xx %lld, other %lld)\n", ok + bad, el,
           (double)ok / el, ok, bad);
    for (long long i = 0; i < conns; i++) {
        curl_multi_remove_handle(m, slots[i].easy);
        curl_easy_cleanup(slots[i].easy);
        curl_slist_free_all(slots[i].hdrs);
    }
    free(slots);
    curl_multi_cleanup(m);
    curl_global_cleanup();
    memset(key, 0, sizeof key);
    return bad && !ok ? 1 : 0;
}
