/* sync — what railsim asks the gateway before it starts (DESIGN §2, §7): a network serves
 * one environment and a watcher key posts for one network, so railsim learns from
 * GET /v1/whoami which network each watcher key is for, and from GET /v1/rails where each
 * merchant's rails live in its environment (network, token contract, decimals, depths).
 * A rail on a network railsim does not simulate (a real node raild watches itself, e.g.
 * anvil in the demo) is left to that chain: railsim creates no payments on it. */
#include "railsim/run.h"
#include "core/log.h"
#include "core/util.h"
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct body {
    char *p;
    size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *u)
{
    struct body *b = u;
    size_t n = sz * nm;
    if (b->n + n > (4u << 20)) return 0;
    char *q = realloc(b->p, b->n + n + 1);
    if (!q) return 0;
    memcpy(q + b->n, d, n);
    b->p = q;
    b->n += n;
    q[b->n] = 0;
    return n;
}

/* GET api+path with key; the JSON reply (200 only) or NULL with *status set. Transport
 * errors are retried for up to 10 s (raild may still be starting). */
static json_t *get(const char *api, const char *path, const char *key, long *status)
{
    char url[1024], auth[256];
    snprintf(url, sizeof url, "%s%s", api, path);
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", key);
    int64_t end = util_now_ms() + 10000;
    for (;;) {
        CURL *h = curl_easy_init();
        struct body b = { 0 };
        struct curl_slist *hd = curl_slist_append(NULL, auth);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
        CURLcode cc = curl_easy_perform(h);
        *status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
        curl_slist_free_all(hd);
        curl_easy_cleanup(h);
        if (cc == CURLE_OK) {
            json_error_t e;
            json_t *j = *status == 200 && b.p ? json_loads(b.p, 0, &e) : NULL;
            free(b.p);
            return j;
        }
        free(b.p);
        if (util_now_ms() > end) return NULL;
        struct timespec ts = { 0, 200 * 1000000L };
        nanosleep(&ts, NULL);
    }
}

static int watcher_networks(struct sim_cfg *c)
{
    for (int i = 0; i < c->nwatcher_keys; i++) {
        long st;
        json_t *w = get(c->api, "/v1/whoami", c->watcher_keys[i], &st);
        const char *net = json_string_value(json_object_get(w, "network"));
        const char *role = json_string_value(json_object_get(w, "role"));
        int n = net ? sim_net_find(net) : -1;
        if (!w && st == 0) {
            fprintf(stderr, "railsim run: raild at %s is not healthy (cannot reach it); start it or fix --api\n", c->api);
            return 1;
        }
        if (!w || !role || strcmp(role, "watcher") || !net) {
            fprintf(stderr, "railsim run: watcher key %d was not accepted as a watcher key by the gateway (HTTP %ld)\n",
                    i + 1, st);
            json_decref(w);
            return 2;
        }
        if (n < 0) {
            log_warn("sim.watcher_unused", "network=%s reason=not_simulated", net);
        } else {
            c->wkey[n] = c->watcher_keys[i];
        }
        json_decref(w);
    }
    return 0;
}

/* the gateway's configuration of one merchant's environment overrides sim_rails */
static int merchant_rails(struct sim_cfg *c, struct sim_merchant *m)
{
    long st;
    json_t *r = get(c->api, "/v1/rails", m->key, &st);
    json_t *arr = json_object_get(r, "rails"), *o;
    if (!json_is_array(arr)) {
        fprintf(stderr, "railsim run: merchant %s: GET /v1/rails failed (HTTP %ld); is the key a merchant key?\n",
                m->label, st);
        json_decref(r);
        return 2;
    }
    size_t i;
    json_array_foreach(arr, i, o) {
        int idx = sim_rail_env(sim_rail_find(json_string_value(json_object_get(o, "rail")) ?: ""), m->env);
        if (idx < 0) continue;
        struct sim_rail *rl = &sim_rails[idx];
        const char *net = json_string_value(json_object_get(o, "network"));
        const char *contract = json_string_value(json_object_get(o, "contract"));
        rl->net = net ? sim_net_find(net) : -1;
        if (contract) snprintf(rl->contract, sizeof rl->contract, "%s", contract);
        else rl->net = -1;   /* no token configured: nothing to pay with */
        rl->decimals = (int)json_integer_value(json_object_get(o, "decimals"));
        rl->confirm = (int)json_integer_value(json_object_get(o, "confirmations"));
        rl->final = (int)json_integer_value(json_object_get(o, "finality_depth"));
        if (rl->net < 0)
            log_info("sim.rail_not_simulated", "merchant=%s env=%s rail=%s network=%s", m->label, m->env, rl->id,
                     net ? net : "?");
    }
    json_decref(r);
    /* keep only the rails railsim can drive */
    int k = 0;
    for (int j = 0; j < m->nrails; j++)
        if (m->rails[j] >= 0 && sim_rails[m->rails[j]].net >= 0) m->rails[k++] = m->rails[j];
    m->nrails = k;
    return 0;
}

int run_sync_gateway(struct sim_cfg *c)
{
    run_resolve_rails(c);
    int rc = watcher_networks(c);
    for (int m = 0; !rc && m < c->nmerchants; m++) rc = merchant_rails(c, &c->merchants[m]);
    for (int m = 0; !rc && m < c->nmerchants; m++)
        for (int i = 0; !rc && i < c->merchants[m].nrails; i++) {
            const struct sim_rail *rl = &sim_rails[c->merchants[m].rails[i]];
            if (!c->wkey[rl->net]) {
                fprintf(stderr, "railsim run: no watcher key for network %s (rail %s in %s): give a\n"
                                "  --watcher-key-file made with `raild admin create-key --role watcher --network %s`\n",
                        sim_nets[rl->net].name, rl->id, rl->env, sim_nets[rl->net].name);
                rc = 2;
            }
        }
    return rc;
}
