/* chain_rpc — see chain_rpc.h. */
#include "raild/chain_rpc.h"
#include "core/address.h"
#include "core/util.h"
#include <curl/curl.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPLY_MAX (64u << 20)   /* a getLogs reply beyond 64 MiB is a range to halve */

static void url_host(const char *u, char *host, size_t n)
{
    const char *p = strstr(u, "://");
    p = p ? p + 3 : u;
    const char *end = p + strcspn(p, "/?#"), *at = memchr(p, '@', (size_t)(end - p));
    if (at) p = at + 1;
    size_t len = (size_t)(end - p);
    if (len >= n) len = n - 1;
    memcpy(host, p, len);
    host[len] = 0;
}

int rpc_init(struct rpc *c, const char *url_lines, int timeout_ms)
{
    memset(c, 0, sizeof *c);
    c->timeout_ms = timeout_ms;
    c->next_id = 1;
    const char *p = url_lines;
    while (p && *p && c->nurls < 8) {
        size_t n = strcspn(p, "\n");
        if (n) {
            c->urls[c->nurls] = strndup(p, n);
            url_host(c->urls[c->nurls], c->hosts[c->nurls], sizeof c->hosts[0]);
            c->nurls++;
        }
        p += n;
        if (*p) p++;
    }
    c->curl = curl_easy_init();
    return c->nurls && c->curl ? 0 : -1;
}

void rpc_free(struct rpc *c)
{
    for (int i = 0; i < c->nurls; i++) {
        memset(c->urls[i], 0, strlen(c->urls[i]));
        free(c->urls[i]);
    }
    if (c->curl) curl_easy_cleanup(c->curl);
    memset(c, 0, sizeof *c);
}

const char *rpc_host(const struct rpc *c) { return c->nurls ? c->hosts[c->cur] : ""; }

void rpc_failover(struct rpc *c)
{
    if (c->nurls > 1) c->cur = (c->cur + 1) % c->nurls;
}

struct buf {
    char *p;
    size_t n;
    int too_big;
};

static size_t on_body(char *d, size_t sz, size_t nm, void *u)
{
    struct buf *b = u;
    size_t n = sz * nm;
    if (b->n + n > REPLY_MAX) { b->too_big = 1; return 0; }
    char *q = realloc(b->p, b->n + n + 1);
    if (!q) return 0;
    memcpy(q + b->n, d, n);
    b->p = q;
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

static size_t on_header(char *d, size_t sz, size_t nm, void *u)
{
    size_t n = sz * nm;
    int *retry = u;
    if (n > 12 && !strncasecmp(d, "Retry-After:", 12)) {
        long long v;
        char tmp[32];
        size_t k = 0;
        for (size_t i = 12; i < n && k + 1 < sizeof tmp; i++)
            if (isdigit((unsigned char)d[i])) tmp[k++] = d[i];
        tmp[k] = 0;
        if (k && !util_parse_i64(tmp, 0, 3600, &v)) *retry = (int)v;
    }
    return n;
}

static json_t *fail(struct rpc_err *e, enum rpc_fail f, long code, const char *fmt, const char *arg)
{
    e->fail = f;
    e->code = code;
    snprintf(e->msg, sizeof e->msg, fmt, arg ? arg : "");
    return NULL;
}

json_t *rpc_call(struct rpc *c, const char *method, json_t *params, struct rpc_err *e)
{
    memset(e, 0, sizeof *e);
    long long id = c->next_id++;
    json_t *req = json_pack("{s:s,s:I,s:s,s:o}", "jsonrpc", "2.0", "id", (json_int_t)id, "method", method, "params",
                            params ? params : json_array());
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    if (!body) return fail(e, RPC_TRANSPORT, 0, "out of memory%s", NULL);
    CURL *h = c->curl;
    struct buf b = { 0 };
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, c->urls[c->cur]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)(c->timeout_ms < 3000 ? c->timeout_ms : 3000));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &e->retry_after_s);
    CURLcode cc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    free(body);
    json_t *out = NULL;
    if (b.too_big) {
        fail(e, RPC_ERROR, -32005, "reply larger than 64 MiB%s", NULL);
    } else if (cc != CURLE_OK) {
        e->timeout = cc == CURLE_OPERATION_TIMEDOUT;
        fail(e, RPC_TRANSPORT, 0, "%s", curl_easy_strerror(cc));
    } else if (status != 200) {
        char s[16];
        snprintf(s, sizeof s, "%ld", status);
        fail(e, RPC_HTTP, status, "HTTP %s", s);
    } else {
        json_error_t je;
        json_t *r = b.p ? json_loadb(b.p, b.n, 0, &je) : NULL;
        json_t *rid = json_object_get(r, "id"), *err = json_object_get(r, "error");
        if (!json_is_object(r)) fail(e, RPC_MALFORMED, 0, "reply is not a JSON object%s", NULL);
        else if (!json_is_string(json_object_get(r, "jsonrpc")) ||
                 strcmp(json_string_value(json_object_get(r, "jsonrpc")), "2.0"))
            fail(e, RPC_MALFORMED, 0, "reply is not JSON-RPC 2.0%s", NULL);
        else if (!json_is_integer(rid) || json_integer_value(rid) != id)
            fail(e, RPC_MALFORMED, 0, "reply id does not match the request%s", NULL);
        else if (err) {
            json_t *code = json_object_get(err, "code"), *m = json_object_get(err, "message");
            fail(e, RPC_ERROR, json_is_integer(code) ? (long)json_integer_value(code) : 0, "%s",
                 json_is_string(m) ? json_string_value(m) : "error without message");
        } else if (!json_object_get(r, "result"))
            fail(e, RPC_MALFORMED, 0, "reply has neither result nor error%s", NULL);
        else
            out = json_incref(json_object_get(r, "result"));
        json_decref(r);
    }
    free(b.p);
    return out;
}

void rpc_err_label(const struct rpc_err *e, char *out, size_t n)
{
    switch (e->fail) {
    case RPC_OK: snprintf(out, n, "ok"); break;
    case RPC_TRANSPORT: snprintf(out, n, "%s", e->timeout ? "timeout" : "transport"); break;
    case RPC_HTTP: snprintf(out, n, "http-%ld", e->code); break;
    case RPC_ERROR: snprintf(out, n, "%ld", e->code); break;
    case RPC_MALFORMED: snprintf(out, n, "malformed"); break;
    }
}

int rpc_err_is_range(const struct rpc_err *e)
{
    if (e->fail == RPC_TRANSPORT && e->timeout) return 1;
    if (e->fail != RPC_ERROR) return 0;
    if (e->code == -32005) return 1;
    /* providers' kin of -32005: "query returned more than 10000 results", "block range is
     * too large", "exceed maximum block range", "log response size exceeded" */
    static const char *const words[] = { "range", "more than", "too many", "limit", "exceed", "too large", NULL };
    char low[200];
    size_t i;
    for (i = 0; e->msg[i] && i + 1 < sizeof low; i++) low[i] = (char)tolower((unsigned char)e->msg[i]);
    low[i] = 0;
    for (int w = 0; words[w]; w++)
        if (strstr(low, words[w])) return 1;
    return 0;
}

/* ------------------------------------------------------------ parsers */

int rpc_quantity(json_t *v, long long *out)
{
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    if (strncmp(s, "0x", 2)) return -1;
    s += 2;
    size_t n = strlen(s);
    if (n == 0 || n > 14 || (n > 1 && s[0] == '0')) return -1;   /* 14 hex digits > 2^53 already */
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        int d = util_hexval(s[i]);
        if (d < 0) return -1;
        x = x * 16 + d;
    }
    if (x > 9007199254740991LL) return -1;
    *out = x;
    return 0;
}

int rpc_data(json_t *v, int nbytes, char *out)
{
    if (!json_is_string(v)) return -1;
    const char *s = json_string_value(v);
    if (strncmp(s, "0x", 2) || strlen(s) != (size_t)(2 + 2 * nbytes)) return -1;
    out[0] = '0', out[1] = 'x';
    for (int i = 0; i < 2 * nbytes; i++) {
        if (util_hexval(s[2 + i]) < 0) return -1;
        out[2 + i] = (char)tolower((unsigned char)s[2 + i]);
    }
    out[2 + 2 * nbytes] = 0;
    return 0;
}

void rpc_u256_decimal(const char *hex64, char *out)
{
    unsigned char n[32];
    for (int i = 0; i < 32; i++) n[i] = (unsigned char)(util_hexval(hex64[2 * i]) << 4 | util_hexval(hex64[2 * i + 1]));
    char tmp[80];
    int k = 0;
    for (int zero = 0; !zero;) tmp[k++] = (char)('0' + util_divmod_be(n, sizeof n, 10, &zero));
    for (int i = 0; i < k; i++) out[i] = tmp[k - 1 - i];
    out[k] = 0;
}

/* a 32-byte topic holding an address: 12 zero bytes, then 20 */
static int topic_address(json_t *t, const char *kind, char *out, size_t n)
{
    char hex[70];
    if (rpc_data(t, 32, hex)) return -1;
    for (int i = 2; i < 26; i++)
        if (hex[i] != '0') return -1;
    char a[44] = "0x";
    memcpy(a + 2, hex + 26, 40);
    a[42] = 0;
    if (!strcmp(kind, "tron")) return address_tron_from_hex(a, out, n);
    return address_canonical("evm", a, out, n);
}

static void hash_form(const char *kind, const char *hex66, char *out)
{
    snprintf(out, 72, "%s", strcmp(kind, "tron") ? hex66 : hex66 + 2);
}

int rpc_parse_transfer_log(json_t *log, const char *kind, struct xfer_in *x, char *block_hash_out,
                           const char **why)
{
    *why = "";
    if (!json_is_object(log)) return *why = "log is not an object", -1;
    json_t *topics = json_object_get(log, "topics");
    if (!json_is_array(topics) || json_array_size(topics) < 1) return *why = "log has no topics", -1;
    char t0[70];
    if (rpc_data(json_array_get(topics, 0), 32, t0)) return *why = "topic 0 is not 32 bytes of hex", -1;
    if (strcmp(t0, RPC_TRANSFER_TOPIC)) return 1;
    if (json_array_size(topics) != 3) return 1;   /* 4 topics: ERC-721 Transfer (the id is indexed) */
    memset(x, 0, sizeof *x);
    char h[70], contract[44];
    long long v;
    if (rpc_data(json_object_get(log, "transactionHash"), 32, h)) return *why = "transactionHash is not 32 bytes", -1;
    hash_form(kind, h, x->tx_hash);
    if (rpc_data(json_object_get(log, "blockHash"), 32, h)) return *why = "blockHash is not 32 bytes", -1;
    hash_form(kind, h, x->block_hash);
    snprintf(block_hash_out, 67, "%s", h);
    if (rpc_quantity(json_object_get(log, "blockNumber"), &v)) return *why = "blockNumber is not a quantity", -1;
    x->block_number = v;
    if (rpc_quantity(json_object_get(log, "logIndex"), &v) || v > 2147483647LL)
        return *why = "logIndex is not a quantity", -1;
    x->log_index = v;
    if (rpc_data(json_object_get(log, "address"), 20, contract)) return *why = "address is not 20 bytes", -1;
    int bad = !strcmp(kind, "tron") ? address_tron_from_hex(contract, x->contract, sizeof x->contract)
                                    : address_canonical("evm", contract, x->contract, sizeof x->contract);
    if (bad) return *why = "address is not an address", -1;
    if (topic_address(json_array_get(topics, 1), kind, x->from, sizeof x->from))
        return *why = "topic 1 (from) is not an address", -1;
    if (topic_address(json_array_get(topics, 2), kind, x->to, sizeof x->to))
        return *why = "topic 2 (to) is not an address", -1;
    char data[70];
    if (rpc_data(json_object_get(log, "data"), 32, data)) return *why = "data is not 32 bytes (a uint256)", -1;
    rpc_u256_decimal(data + 2, x->value);
    json_t *rm = json_object_get(log, "removed");
    if (rm && !json_is_boolean(rm)) return *why = "removed is not a boolean", -1;
    x->removed = json_is_true(rm);
    return 0;
}

int rpc_parse_block(json_t *b, struct rpc_block *out, const char **why)
{
    *why = "";
    if (!json_is_object(b)) return *why = "block is not an object", -1;
    if (rpc_quantity(json_object_get(b, "number"), &out->number)) return *why = "block number is not a quantity", -1;
    if (rpc_quantity(json_object_get(b, "timestamp"), &out->timestamp))
        return *why = "block timestamp is not a quantity", -1;
    if (rpc_data(json_object_get(b, "hash"), 32, out->hash)) return *why = "block hash is not 32 bytes", -1;
    if (rpc_data(json_object_get(b, "parentHash"), 32, out->parent)) return *why = "parentHash is not 32 bytes", -1;
    return 0;
}
