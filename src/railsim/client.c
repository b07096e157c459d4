/* client — the simulator's HTTP side: libcurl multi, one ordered lane per chain
 * watcher (a block's transfers must reach the gateway before its head) and one pool
 * of concurrent merchant requests. Transport errors, 429 and 5xx are retried with
 * backoff; a lane waits for its head request, so order survives retries. */
#include "railsim/run.h"
#include "core/util.h"
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct creq {
    struct creq *next;
    struct creq *iprev, *inext;   /* in-flight pool requests, so client_free finds them */
    int lane, tag, tries;
    long a, b;
    char method[8];
    char *url, *body;
    int64_t not_before;
    CURL *h;
    struct curl_slist *hdrs;
    char *resp;
    size_t resp_len;
    char errbuf[CURL_ERROR_SIZE];
};

struct queue { struct creq *head, *tail; };

struct client {
    CURLM *m;
    char *base;
    int nlanes, conc, pool_busy, total;
    struct queue *lanes;
    int *lane_busy;
    struct queue pool;
    struct creq *inflight;
    client_done_fn done;
    void *ctx;
};

static void q_push(struct queue *q, struct creq *r)
{
    r->next = NULL;
    if (q->tail) q->tail->next = r; else q->head = r;
    q->tail = r;
}

static struct creq *q_pop(struct queue *q)
{
    struct creq *r = q->head;
    if (r) { q->head = r->next; if (!q->head) q->tail = NULL; r->next = NULL; }
    return r;
}

struct client *client_new(const char *base, int nlanes, int concurrency, client_done_fn done, void *ctx)
{
    struct client *cl = calloc(1, sizeof *cl);
    if (!cl) return NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    cl->m = curl_multi_init();
    cl->base = strdup(base);
    size_t bl = strlen(cl->base);
    while (bl && cl->base[bl - 1] == '/') cl->base[--bl] = 0;   /* "http://h:p/" + "/v1/…" */
    cl->nlanes = nlanes;
    cl->conc = concurrency;
    cl->lanes = calloc((size_t)nlanes, sizeof *cl->lanes);
    cl->lane_busy = calloc((size_t)nlanes, sizeof *cl->lane_busy);
    cl->done = done;
    cl->ctx = ctx;
    curl_multi_setopt(cl->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)(concurrency + nlanes));
    return cl;
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct creq *r = ud;
    size_t len = sz * n;
    if (r->resp_len + len > (1u << 20)) return len;       /* keep at most 1 MiB: errors are short */
    char *nb = realloc(r->resp, r->resp_len + len + 1);
    if (!nb) return 0;
    r->resp = nb;
    memcpy(r->resp + r->resp_len, p, len);
    r->resp_len += len;
    r->resp[r->resp_len] = 0;
    return len;
}

void client_send(struct client *cl, int lane, const char *method, const char *path, const char *key,
                 const char *idem, const char *body, int tag, long a, long b)
{
    struct creq *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->lane = lane; r->tag = tag; r->a = a; r->b = b;
    snprintf(r->method, sizeof r->method, "%s", method);
    if (asprintf(&r->url, "%s%s", cl->base, path) < 0) abort();
    r->body = body ? strdup(body) : NULL;
    char *h = NULL;
    if (key) {
        if (asprintf(&h, "Authorization: Bearer %s", key) < 0) abort();
        r->hdrs = curl_slist_append(r->hdrs, h);
        free(h);
    }
    if (idem) {
        if (asprintf(&h, "Idempotency-Key: %s", idem) < 0) abort();
        r->hdrs = curl_slist_append(r->hdrs, h);
        free(h);
    }
    r->hdrs = curl_slist_append(r->hdrs, "Content-Type: application/json");
    r->hdrs = curl_slist_append(r->hdrs, "Expect:");
    cl->total++;
    q_push(lane >= 0 ? &cl->lanes[lane] : &cl->pool, r);
}

static void start(struct client *cl, struct creq *r)
{
    free(r->resp); r->resp = NULL; r->resp_len = 0;
    r->errbuf[0] = 0;
    r->h = curl_easy_init();
    curl_easy_setopt(r->h, CURLOPT_URL, r->url);
    curl_easy_setopt(r->h, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(r->h, CURLOPT_HTTPHEADER, r->hdrs);
    if (r->body) curl_easy_setopt(r->h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(r->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(r->h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->h, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(r->h, CURLOPT_PRIVATE, r);
    curl_easy_setopt(r->h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(r->h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(r->h, CURLOPT_NOSIGNAL, 1L);
    curl_multi_add_handle(cl->m, r->h);
    if (r->lane >= 0) { cl->lane_busy[r->lane] = 1; return; }
    cl->pool_busy++;
    r->iprev = NULL; r->inext = cl->inflight;
    if (cl->inflight) cl->inflight->iprev = r;
    cl->inflight = r;
}

static void unlink_inflight(struct client *cl, struct creq *r)
{
    if (r->iprev) r->iprev->inext = r->inext; else cl->inflight = r->inext;
    if (r->inext) r->inext->iprev = r->iprev;
    r->iprev = r->inext = NULL;
}

static void pump(struct client *cl)
{
    int64_t now = util_now_ms();
    for (int i = 0; i < cl->nlanes; i++) {
        struct creq *r = cl->lanes[i].head;
        if (!cl->lane_busy[i] && r && r->not_before <= now) start(cl, r);
    }
    while (cl->pool_busy < cl->conc && cl->pool.head && cl->pool.head->not_before <= now)
        start(cl, q_pop(&cl->pool));
}

static void finish(struct client *cl, struct creq *r)
{
    cl->total--;
    if (r->resp == NULL) r->resp = strdup("");
    curl_slist_free_all(r->hdrs);
    free(r->url); free(r->body); free(r->resp);
    free(r);
}

static int retryable(long status) { return status == 0 || status == 429 || status >= 500; }

static void complete(struct client *cl, struct creq *r, CURLcode code)
{
    long status = 0;
    if (code == CURLE_OK) curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
    curl_multi_remove_handle(cl->m, r->h);
    curl_easy_cleanup(r->h);
    r->h = NULL;
    if (r->lane >= 0) cl->lane_busy[r->lane] = 0;
    else { cl->pool_busy--; unlink_inflight(cl, r); }
    int max_tries = r->lane >= 0 ? 8 : 3;
    if (retryable(status) && ++r->tries < max_tries) {
        int64_t backoff = 250LL << (r->tries < 4 ? r->tries : 4);
        r->not_before = util_now_ms() + backoff;
        if (r->lane < 0) q_push(&cl->pool, r);            /* lanes keep it at their head */
        return;
    }
    if (r->lane >= 0) q_pop(&cl->lanes[r->lane]);
    struct http_result res = { status, r->resp ? r->resp : "",
                               code == CURLE_OK ? NULL : (r->errbuf[0] ? r->errbuf : curl_easy_strerror(code)) };
    cl->done(cl->ctx, r->tag, r->a, r->b, &res);
    finish(cl, r);
}

int client_poll(struct client *cl, int timeout_ms)
{
    pump(cl);
    int running = 0;
    curl_multi_perform(cl->m, &running);
    curl_multi_poll(cl->m, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(cl->m, &running);
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(cl->m, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        struct creq *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        complete(cl, r, msg->data.result);
    }
    pump(cl);
    return cl->total;
}

int client_pending(struct client *cl) { return cl->total; }

int client_lane_pending(struct client *cl, int lane)
{
    int n = 0;
    for (struct creq *r = cl->lanes[lane].head; r; r = r->next) n++;
    return n;
}

void client_free(struct client *cl)
{
    if (!cl) return;
    for (int i = 0; i <= cl->nlanes; i++) {
        struct queue *q = i < cl->nlanes ? &cl->lanes[i] : &cl->pool;
        struct creq *r;
        while ((r = q_pop(q))) {
            if (r->h) { curl_multi_remove_handle(cl->m, r->h); curl_easy_cleanup(r->h); }
            finish(cl, r);
        }
    }
    while (cl->inflight) {
        struct creq *r = cl->inflight;
        unlink_inflight(cl, r);
        curl_multi_remove_handle(cl->m, r->h);
        curl_easy_cleanup(r->h);
        finish(cl, r);
    }
    curl_multi_cleanup(cl->m);
    free(cl->lanes); free(cl->lane_busy); free(cl->base);
    free(cl);
    curl_global_cleanup();
}
