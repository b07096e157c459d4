/* api — the console's only way to change anything: raild's HTTP API with the
 * operator's own key, so every action is authorised, validated and audited there.
 * Errors come back as {"error":{"code","message"}} and go to the status line. */
#include "app.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct buf { char *p; size_t n; };

static size_t on_data(char *d, size_t sz, size_t nm, void *u)
{
    struct buf *b = u;
    size_t n = sz * nm;
    if (b->n + n > 1 << 20) return 0;       /* a console needs no megabyte replies */
    char *np = realloc(b->p, b->n + n + 1);
    if (!np) return 0;
    memcpy(np + b->n, d, n);
    b->n += n;
    np[b->n] = 0;
    b->p = np;
    return n;
}

void api_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
void api_cleanup(void) { curl_global_cleanup(); }

static void api_lost(struct app *a, const char *why)
{
    if (!a->api_stale_since) a->api_stale_since = time(NULL);
    a->api_backoff = a->api_backoff ? (a->api_backoff * 2 > 10000 ? 10000 : a->api_backoff * 2) : 500;
    a->api_retry_at = now_ms() + a->api_backoff;
    snprintf(a->who.err, sizeof a->who.err, "raild: %s", why);
    a->pending_paint = 1;
}

static void error_message(int status, json_t *j, const char *body, char *msg, size_t n)
{
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *m = json_string_value(json_object_get(e, "message"));
    if (code) snprintf(msg, n, "%s: %s (HTTP %d)", code, m ? m : "", status);
    else snprintf(msg, n, "HTTP %d: %.120s", status, body ? body : "");
}

/* One HTTP exchange with raild. Returns the status, 0 on a transport failure (msg set,
 * API marked stale). b gets the body. */
static int perform(struct app *a, const char *method, const char *path, const char *payload, struct buf *b,
                   char *msg, size_t msglen)
{
    msg[0] = 0;
    if (!a->cfg.api[0]) { snprintf(msg, msglen, "no raild URL (--api or RAILTOP_API)"); return 0; }
    CURL *c = curl_easy_init();
    if (!c) { snprintf(msg, msglen, "out of memory"); return 0; }
    char url[1024], auth[200];
    snprintf(url, sizeof url, "%s%s", a->cfg.api, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", a->cfg.key);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    h = curl_slist_append(h, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (payload) curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload);
    else if (strcmp(method, "GET")) curl_easy_setopt(c, CURLOPT_POSTFIELDS, "{}");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "railtop/" RAILTOP_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    curl_slist_free_all(h);
    if (rc != CURLE_OK) {
        snprintf(msg, msglen, "cannot reach raild at %s: %s", a->cfg.api, curl_easy_strerror(rc));
        api_lost(a, curl_easy_strerror(rc));
        return 0;
    }
    if (a->api_stale_since) { a->api_stale_since = 0; a->api_backoff = 0; a->pending_paint = 1; }
    return (int)status;
}

int api_call(struct app *a, const char *method, const char *path, json_t *body, json_t **out,
             char *msg, size_t msglen)
{
    if (out) *out = NULL;
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct buf b = { 0 };
    int status = perform(a, method, path, payload, &b, msg, msglen);
    free(payload);
    if (!status) { free(b.p); return 0; }
    json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
    if (status < 200 || status > 299) error_message(status, j, b.p, msg, msglen);
    if (out) *out = j;
    else if (j) json_decref(j);
    free(b.p);
    return status;
}

int api_fetch(struct app *a, const char *path, char **body, size_t *len, char *msg, size_t msglen)
{
    struct buf b = { 0 };
    *body = NULL;
    *len = 0;
    int status = perform(a, "GET", path, NULL, &b, msg, msglen);
    if (status >= 200 && status <= 299) {
        *body = b.p ? b.p : strdup("");
        *len = b.n;
        return status;
    }
    if (status) {
        json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
        error_message(status, j, b.p, msg, msglen);
        if (j) json_decref(j);
    }
    free(b.p);
    return status;
}

/* Asks raild who the key belongs to (the console cannot read key hashes). */
void api_whoami(struct app *a)
{
    json_t *j = NULL;
    char msg[300];
    int st = api_call(a, "GET", "/v1/whoami", NULL, &j, msg, sizeof msg);
    if (st == 200) {
        snprintf(a->who.name, sizeof a->who.name, "%s", json_string_value(json_object_get(j, "name")) ?: "?");
        snprintf(a->who.role, sizeof a->who.role, "%s", json_string_value(json_object_get(j, "role")) ?: "?");
        snprintf(a->who.env, sizeof a->who.env, "%s", json_string_value(json_object_get(j, "environment")) ?: "?");
        a->who.known = 1;
        a->who.err[0] = 0;
    } else if (st) {
        snprintf(a->who.err, sizeof a->who.err, "your key was refused: %.200s", msg);
        if (st == 401 || st == 403) a->who.known = 0;
    }
    if (j) json_decref(j);
    a->pending_paint = 1;
}
