/* run — `railsim run`: the scheduler. Payment "slots" arrive at --rate; each draws an
 * outcome from --mix and becomes a short story of events (create, pay into the mempool,
 * get mined, maybe reorged, duplicated, swept…). One simulated chain per network mines
 * blocks at its block time / --speed and reports transfers, then the head, through the
 * watcher API. Every random choice comes from a stream keyed by (seed, slot), so the
 * requests of a run depend only on the seed and flags — --print-plan shows them
 * without a gateway. */
#include "railsim/run.h"
#include "railsim/rng.h"
#include "core/address.h"
#include "core/log.h"
#include "core/util.h"
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum ev_kind { EV_CREATE, EV_PAY, EV_CANCEL, EV_BLOCK, EV_LOOSE };
enum trig_kind { T_REORG_OUT, T_DUPLICATE, T_SWEEP, T_ORDER };
enum tag { TAG_HEALTH, TAG_CREATE, TAG_CANCEL, TAG_ORDER, TAG_TRANSFERS, TAG_HEAD, TAG__COUNT };
static const char *const tag_names[TAG__COUNT] = { "health", "create", "cancel", "order", "transfers", "head" };
enum pay_status { P_PENDING, P_CREATED, P_FAILED };
enum xstate { X_MEMPOOL, X_BLOCK, X_REMOVED, X_REMINE };
enum xrole { XR_PAY, XR_WRONG, XR_DUP, XR_SWEEP, XR_UNKNOWN, XR_INTERNAL };
/* payment parts: what EV_PAY b= means */
enum part { PART_MAIN, PART_SECOND, PART_WRONG };

struct ev { int64_t due; uint64_t seq; int kind; long a, b; };

struct pay {
    long slot;
    int merchant, rail, fate, order_mode, reinclude, expires_in;
    char ref[80], idem[96], amount[AMOUNT_STR_MAX], units_s[AMOUNT_STR_MAX];
    u128 units, v[2], paid;
    int status;
    char id[64], addr[80], from[80];
};

struct xfer {
    int net, role, state, stuck, reorged, last, log_index;
    long pay;
    long long block;
    char tx[72], bhash[72], contract[80], from[80], to[80];
    u128 value;
};

struct trig { long long height; int net, kind; long a, b; };

struct sim {
    struct sim_cfg *c;
    uint64_t hseed;                      /* seed mixed with --tag: tx/block hashes differ per run tag */
    int plan;
    int64_t now, t0, start_epoch_ms;
    struct ev *q; size_t nq, capq; uint64_t seq;
    long nonblock;                       /* queued events other than blocks */
    struct pay *pays; long npays, cappays;
    struct xfer *xs; long nxs, capxs;
    struct trig *ts; long nts, capts;
    long long height[SIM_NNET];
    int epoch[SIM_NNET], used[SIM_NNET], block_ms[SIM_NNET];
    char lookalike[SIM_NNET][80];
    struct client *cl;
    FILE *trace;
    long slots;
    int orders_off;
    long fates[F__COUNT], created, failed, xfers_posted, blocks[SIM_NNET], mismatches;
    long ok[TAG__COUNT], errs[TAG__COUNT], auth_errs, transport_errs, block_waits;
    int health;
};

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { (void)sig; stop_signal++; if (stop_signal > 1) _exit(130); }

/* ------------------------------------------------------------ event queue (min-heap) */
static int ev_less(const struct ev *x, const struct ev *y)
{
    return x->due < y->due || (x->due == y->due && x->seq < y->seq);
}

static void push(struct sim *s, int64_t due, int kind, long a, long b)
{
    if (s->nq == s->capq) {
        s->capq = s->capq ? s->capq * 2 : 256;
        s->q = realloc(s->q, s->capq * sizeof *s->q);
        if (!s->q) abort();
    }
    struct ev e = { due, s->seq++, kind, a, b };
    size_t i = s->nq++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_less(&e, &s->q[p])) break;
        s->q[i] = s->q[p];
        i = p;
    }
    s->q[i] = e;
    if (kind != EV_BLOCK) s->nonblock++;
}

static struct ev pop(struct sim *s)
{
    struct ev top = s->q[0], last = s->q[--s->nq];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct ev *best = &last;
        if (l < s->nq && ev_less(&s->q[l], best)) { m = l; best = &s->q[l]; }
        if (r < s->nq && ev_less(&s->q[r], best)) m = r;
        if (m == i) break;
        s->q[i] = s->q[m];
        i = m;
    }
    if (s->nq) s->q[i] = last;
    if (top.kind != EV_BLOCK) s->nonblock--;
    return top;
}

/* ------------------------------------------------------------ helpers */
#define GROW(arr, n, cap) do { if ((n) == (cap)) { (cap) = (cap) ? (cap) * 2 : 64; \
    (arr) = realloc((arr), (size_t)(cap) * sizeof *(arr)); if (!(arr)) abort(); } } while (0)

static void gen_address(struct rng *r, int net, char *out, size_t n)
{
    if (!strcmp(sim_nets[net].kind, "tron")) {
        unsigned char payload[21];
        payload[0] = 0x41;
        for (int i = 1; i < 21; i++) payload[i] = (unsigned char)rng_next(r);
        address_tron_encode(payload, out, n);
    } else {
        char hex[41];
        rng_hex(r, hex, 40);
        snprintf(out, n, "0x%s", hex);
    }
}

static void gen_hash(struct rng *r, int net, char *out, size_t n)
{
    char hex[65];
    rng_hex(r, hex, 64);
    snprintf(out, n, "%s%s", strcmp(sim_nets[net].kind, "tron") ? "0x" : "", hex);
}

static const char *units_str(u128 v, char *buf) { amount_units_str(v, buf); return buf; }

static void iso_time(struct sim *s, char *out, size_t n)
{
    /* plan mode has no wall clock: a fixed epoch keeps the plan identical across runs */
    int64_t ms = s->start_epoch_ms + s->now;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%03dZ", b, (int)(ms % 1000));
}

/* ------------------------------------------------------------ requests */
static void on_done(void *ctx, int tag, long a, long b, const struct http_result *r);

static void request(struct sim *s, int lane, const char *who, const char *method, const char *path,
                    const char *key, const char *idem, json_t *body, int tag, long a, long b)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    if (body) json_decref(body);
    if (s->plan) {
        printf("t=%lld %s %s %s%s%s\n", (long long)s->now, who, method, path, text ? " " : "", text ? text : "");
        char fake[160] = "{}";
        long status = tag == TAG_CREATE ? 201 : 200;
        if (tag == TAG_CREATE) snprintf(fake, sizeof fake, "{\"id\":\"pay@%ld\",\"deposit_address\":\"@pay:%ld\"}", a, a);
        struct http_result res = { status, fake, NULL };
        free(text);
        on_done(s, tag, a, b, &res);
        return;
    }
    if (s->trace) fprintf(s->trace, "%s %s %s%s%s\n", who, method, path, text ? " " : "", text ? text : "");
    client_send(s->cl, lane, method, path, key, idem, text, tag, a, b);
    free(text);
}

static json_t *xfer_json(const struct xfer *x, int removed)
{
    char v[AMOUNT_STR_MAX];
    json_t *o = json_object();
    json_object_set_new(o, "tx_hash", json_string(x->tx));
    json_object_set_new(o, "log_index", json_integer(x->log_index));
    json_object_set_new(o, "block_number", x->state == X_MEMPOOL ? json_null() : json_integer(x->block));
    json_object_set_new(o, "block_hash", x->state == X_MEMPOOL ? json_null() : json_string(x->bhash));
    json_object_set_new(o, "contract", json_string(x->contract));
    json_object_set_new(o, "from", json_string(x->from));
    json_object_set_new(o, "to", json_string(x->to));
    json_object_set_new(o, "value", json_string(units_str(x->value, v)));
    json_object_set_new(o, "removed", json_boolean(removed));
    return o;
}

static void post_transfers(struct sim *s, int net, json_t *list)
{
    char who[32];
    snprintf(who, sizeof who, "watcher:%s", sim_nets[net].name);
    s->xfers_posted += (long)json_array_size(list);
    json_t *body = json_object();
    json_object_set_new(body, "network", json_string(sim_nets[net].name));
    json_object_set_new(body, "transfers", list);
    request(s, net, who, "POST", "/v1/chain/transfers", s->c->wkey[net], NULL, body, TAG_TRANSFERS, net, 0);
}

static void post_order(struct sim *s, struct pay *p, const char *status)
{
    if (!s->c->orders || s->orders_off || p->status != P_CREATED) return;
    struct sim_merchant *m = &s->c->merchants[p->merchant];
    char path[160], ts[40];
    snprintf(path, sizeof path, "/v1/orders/%s", p->ref);
    iso_time(s, ts, sizeof ts);
    json_t *body = json_pack("{s:s, s:s, s:s}", "amount", p->amount, "status", status, "updated_at", ts);
    request(s, -1, m->label, "PUT", path, m->key, NULL, body, TAG_ORDER, p->slot, 0);
}

/* ------------------------------------------------------------ transfers */
static struct xfer *new_xfer(struct sim *s, int net, int role, long pay, const char *contract,
                             const char *from, const char *to, u128 value, uint64_t stream_index)
{
    GROW(s->xs, s->nxs, s->capxs);
    struct xfer *x = &s->xs[s->nxs++];
    memset(x, 0, sizeof *x);
    struct rng r;
    rng_stream(&r, s->hseed, 'T', stream_index);
    x->net = net; x->role = role; x->pay = pay; x->value = value;
    x->state = X_MEMPOOL;
    x->log_index = (int)rng_below(&r, 200);
    gen_hash(&r, net, x->tx, sizeof x->tx);
    snprintf(x->contract, sizeof x->contract, "%s", contract);
    snprintf(x->from, sizeof x->from, "%s", from);
    snprintf(x->to, sizeof x->to, "%s", to);
    return x;
}

/* a transfer enters the mempool: the watcher reports it with no block */
static void broadcast(struct sim *s, struct xfer *x)
{
    json_t *list = json_array();
    json_array_append_new(list, xfer_json(x, 0));
    post_transfers(s, x->net, list);
}

static void add_trig(struct sim *s, int net, long long height, int kind, long a, long b)
{
    GROW(s->ts, s->nts, s->capts);
    s->ts[s->nts++] = (struct trig){ height, net, kind, a, b };
}

/* ------------------------------------------------------------ payment slots */
static int pick_fate(struct sim *s, struct rng *r)
{
    uint64_t x = rng_below(r, 10000), acc = 0;
    for (int f = 1; f < F__COUNT; f++) {
        acc += s->c->mix_bp[f];
        if (x < acc) return f;
    }
    return F_EXACT;
}

static int pick_rail(struct sim *s, struct sim_merchant *m, struct rng *r)
{
    const int *rails = m->rails;   /* resolved to the merchant's environment (sync.c) */
    int n = m->nrails, live[8], nl = 0;
    for (int i = 0; i < n; i++) if (!(m->dropped & (1u << rails[i]))) live[nl++] = rails[i];
    if (nl == 0) return -1;
    return live[rng_below(r, (uint64_t)nl)];
}

static void slot_loose(struct sim *s, long slot, int fate, int rail, struct rng *r)
{
    /* unknown-address and internal moves are transfers without a payment */
    int64_t delay = rng_range(r, 300, 3000);
    push(s, s->now + delay, EV_LOOSE, slot, fate * 16 + rail);
}

static void slot_new(struct sim *s)
{
    long slot = s->slots++;
    struct rng r;
    rng_stream(&r, s->c->seed, 'P', (uint64_t)slot);
    int mi = (int)rng_below(&r, (uint64_t)s->c->nmerchants);
    struct sim_merchant *m = &s->c->merchants[mi];
    int rail = pick_rail(s, m, &r);
    int fate = pick_fate(s, &r);
    int64_t cents = rng_range(&r, 1000, 250000);
    unsigned omode = (unsigned)rng_below(&r, 10000);
    int pct = (int)rng_range(&r, 0, 1000);
    int64_t d1 = rng_range(&r, 500, 3000), d2 = rng_range(&r, 1500, 5000);
    int coin = (int)rng_below(&r, 2);
    if (rail < 0) { log_warn("sim.slot_skipped", "slot=%ld merchant=%s reason=no_enabled_rail", slot, m->label); return; }
    const struct sim_rail *rl = &sim_rails[rail];
    int net = rl->net;
    if ((fate == F_SWEEP || fate == F_INTERNAL) && !s->c->hot[net][0]) fate = F_EXACT;  /* no hot wallet known */
    s->fates[fate]++;
    if (fate == F_UNKNOWN || fate == F_INTERNAL) { slot_loose(s, slot, fate, rail, &r); return; }

    GROW(s->pays, s->npays, s->cappays);
    struct pay *p = &s->pays[s->npays++];
    memset(p, 0, sizeof *p);
    p->slot = slot; p->merchant = mi; p->rail = rail; p->fate = fate;
    p->order_mode = omode < s->c->order_early_bp ? O_EARLY
                  : omode < s->c->order_early_bp + s->c->order_lag_bp ? O_LAG : O_ONTIME;
    p->reinclude = coin;
    p->expires_in = (fate == F_LATE || fate == F_ABANDON) ? s->c->short_expiry : s->c->expires_in;
    /* below a minute only in sandbox (RAILD_SANDBOX_MIN_EXPIRY_S): production never allows it */
    if (p->expires_in < 60 && strcmp(m->env, "sandbox")) p->expires_in = 60;
    snprintf(p->ref, sizeof p->ref, "INV-%s-%s-%06ld", s->c->tag, m->label, slot);
    snprintf(p->idem, sizeof p->idem, "railsim-%s-%ld", s->c->tag, slot);
    snprintf(p->amount, sizeof p->amount, "%lld.%02lld", (long long)(cents / 100), (long long)(cents % 100));
    if (amount_parse(p->amount, rl->decimals, &p->units)) abort();   /* cents always fit */
    amount_units_str(p->units, p->units_s);
    gen_address(&r, net, p->from, sizeof p->from);
    /* what the customer sends; pct in tenths of a percent */
    u128 u = p->units;
    p->v[0] = u;
    if (fate == F_UNDERPAY) p->v[0] = u / 1000 * (u128)(500 + pct * 45 / 100);     /* 50–95 % */
    if (fate == F_OVERPAY) p->v[0] = u + u / 1000 * (u128)(10 + pct / 10);         /* +1–11 % */
    if (fate == F_SPLIT) { p->v[0] = u / 1000 * (u128)(300 + pct * 4 / 10); p->v[1] = u - p->v[0]; }

    struct sim_merchant *mm = &s->c->merchants[mi];
    json_t *meta = json_pack("{s:s, s:s, s:I}", "source", "railsim", "scenario", fate_names[fate], "slot", (json_int_t)slot);
    json_t *body = json_pack("{s:s, s:s, s:s, s:i, s:o}", "reference", p->ref, "amount", p->amount,
                             "rail", rl->id, "expires_in", p->expires_in, "metadata", meta);
    long idx = s->npays - 1;
    request(s, -1, mm->label, "POST", "/v1/payments", mm->key, p->idem, body, TAG_CREATE, idx, 0);
    p = &s->pays[idx];

    switch (fate) {
    case F_ABANDON: break;
    case F_CANCEL: push(s, s->now + d1, EV_CANCEL, idx, 0); break;
    case F_LATE: push(s, s->now + (int64_t)p->expires_in * 1000 + d2, EV_PAY, idx, PART_MAIN); break;
    case F_SPLIT:
        push(s, s->now + d1, EV_PAY, idx, PART_MAIN);
        push(s, s->now + d1 + d2, EV_PAY, idx, PART_SECOND);
        break;
    case F_WRONG_TOKEN:
        push(s, s->now + d1, EV_PAY, idx, PART_WRONG);
        push(s, s->now + d1 + d2, EV_PAY, idx, PART_MAIN);
        break;
    default: push(s, s->now + d1, EV_PAY, idx, PART_MAIN); break;
    }
}

static void ev_pay(struct sim *s, long idx, int part)
{
    struct pay *p = &s->pays[idx];
    if (p->status == P_PENDING) { push(s, s->now + 50, EV_PAY, idx, part); return; }   /* address not known yet */
    if (p->status == P_FAILED) return;
    const struct sim_rail *rl = &sim_rails[p->rail];
    int wrong = part == PART_WRONG;
    u128 value = wrong ? p->units : p->v[part == PART_SECOND];
    struct xfer *x = new_xfer(s, rl->net, wrong ? XR_WRONG : XR_PAY, idx,
                              wrong ? s->lookalike[rl->net] : rl->contract, p->from, p->addr, value,
                              (uint64_t)p->slot * 8 + (uint64_t)part);
    x->stuck = p->fate == F_STUCK;
    x->last = !wrong && (p->fate != F_SPLIT || part == PART_SECOND);
    if (!wrong) p->paid += value;
    if (!s->c->quiet && (wrong || p->fate != F_EXACT))
        log_info("sim.pay", "ref=%s payment=%s rail=%s scenario=%s part=%d", p->ref, p->id, rl->id, fate_names[p->fate], part);
    broadcast(s, x);
}

static void ev_cancel(struct sim *s, long idx)
{
    struct pay *p = &s->pays[idx];
    if (p->status == P_PENDING) { push(s, s->now + 50, EV_CANCEL, idx, 0); return; }
    if (p->status == P_FAILED) return;
    struct sim_merchant *m = &s->c->merchants[p->merchant];
    char path[128];
    snprintf(path, sizeof path, "/v1/payments/%s/cancel", p->id);
    request(s, -1, m->label, "POST", path, m->key, NULL, json_object(), TAG_CANCEL, idx, 0);
    post_order(s, p, "canceled");
}

static void ev_loose(struct sim *s, long slot, int fate, int rail)
{
    const struct sim_rail *rl = &sim_rails[rail];
    struct rng r;
    rng_stream(&r, s->hseed, 'L', (uint64_t)slot);
    char from[80], to[80];
    gen_address(&r, rl->net, to, sizeof to);
    if (fate == F_INTERNAL) snprintf(from, sizeof from, "%s", s->c->hot[rl->net]);
    else gen_address(&r, rl->net, from, sizeof from);
    u128 value;
    char amt[32];
    snprintf(amt, sizeof amt, "%lld.%02lld", (long long)rng_range(&r, 5, 3000), (long long)rng_range(&r, 0, 99));
    if (amount_parse(amt, rl->decimals, &value)) abort();
    struct xfer *x = new_xfer(s, rl->net, fate == F_INTERNAL ? XR_INTERNAL : XR_UNKNOWN, -1, rl->contract, from, to,
                              value, (uint64_t)slot * 8 + 5);
    if (!s->c->quiet) log_info("sim.loose_transfer", "scenario=%s network=%s tx=%s", fate_names[fate], sim_nets[rl->net].name, x->tx);
    broadcast(s, x);
}

/* ------------------------------------------------------------ chain */
static void on_included(struct sim *s, struct xfer *x)
{
    if (x->role != XR_PAY || !x->last || x->reorged) return;
    struct pay *p = &s->pays[x->pay];
    const struct sim_rail *rl = &sim_rails[p->rail];
    long long b = x->block;
    long xi = x - s->xs;
    switch (p->fate) {
    case F_REORG: add_trig(s, rl->net, b + 2, T_REORG_OUT, xi, 1); break;
    case F_REORG_CONFIRMED:
        /* The gateway counts head - block + 1 confirmations and finalizes at head - finality
         * >= block: after head b + confirm the payment is confirmed and, as every rail has
         * finality > confirmation depth, not yet final — the window for this reorg. */
        add_trig(s, rl->net, b + rl->confirm, T_REORG_OUT, xi, p->reinclude);
        break;
    case F_DUPLICATE: add_trig(s, rl->net, b + rl->confirm + 2, T_DUPLICATE, x->pay, 0); break;
    case F_SWEEP: add_trig(s, rl->net, b + rl->final + 2, T_SWEEP, x->pay, 0); break;
    default: break;
    }
    if (p->order_mode == O_EARLY) add_trig(s, rl->net, b, T_ORDER, x->pay, 1);
    if (p->order_mode == O_ONTIME) {
        add_trig(s, rl->net, b + rl->final + 1, T_ORDER, x->pay, 0);
        add_trig(s, rl->net, b + rl->final + 3, T_ORDER, x->pay, 1);
    }
}

static void fire(struct sim *s, const struct trig *t)
{
    if (t->kind == T_REORG_OUT) {
        struct xfer *x = &s->xs[t->a];
        if (x->state != X_BLOCK) return;
        json_t *list = json_array();
        json_array_append_new(list, xfer_json(x, 1));
        post_transfers(s, x->net, list);
        x->reorged = 1;
        x->state = t->b ? X_REMINE : X_REMOVED;
        if (!s->c->quiet) log_info("sim.reorg", "network=%s tx=%s block=%lld reincluded=%s", sim_nets[x->net].name,
                                   x->tx, x->block, t->b ? "next_block" : "never");
    } else if (t->kind == T_DUPLICATE || t->kind == T_SWEEP) {
        struct pay *p = &s->pays[t->a];
        const struct sim_rail *rl = &sim_rails[p->rail];
        int dup = t->kind == T_DUPLICATE;
        struct xfer *x = new_xfer(s, rl->net, dup ? XR_DUP : XR_SWEEP, t->a, rl->contract,
                                  dup ? p->from : p->addr, dup ? p->addr : s->c->hot[rl->net],
                                  dup ? p->units : p->paid, (uint64_t)p->slot * 8 + (dup ? 3 : 4));
        if (!s->c->quiet) log_info(dup ? "sim.duplicate" : "sim.sweep", "ref=%s payment=%s tx=%s", p->ref, p->id, x->tx);
        broadcast(s, x);
    } else if (t->kind == T_ORDER) {
        post_order(s, &s->pays[t->a], t->b ? "fulfilled" : "paid");
    }
}

/* A watcher reports no faster than the gateway takes it: while a network's lane still
 * holds a few reports, its next block waits (else a slow gateway means an ever-growing
 * backlog and a chain far ahead of what the gateway knows). Plan mode has no lanes. */
#define LANE_BACKLOG_MAX 4

static void ev_block(struct sim *s, int net)
{
    if (!s->plan && client_lane_pending(s->cl, net) > LANE_BACKLOG_MAX) {
        s->block_waits++;
        push(s, s->now + 10, EV_BLOCK, net, 0);
        return;
    }
    long long h = ++s->height[net];
    struct rng r;
    rng_stream(&r, s->hseed, 'B', ((uint64_t)net << 56) ^ ((uint64_t)h << 8) ^ (uint64_t)s->epoch[net]);
    char bhash[72];
    gen_hash(&r, net, bhash, sizeof bhash);
    json_t *list = json_array();
    long first_new = -1;
    for (long i = 0; i < s->nxs; i++) {
        struct xfer *x = &s->xs[i];
        if (x->net != net || x->stuck || (x->state != X_MEMPOOL && x->state != X_REMINE)) continue;
        x->state = X_BLOCK;
        x->block = h;
        snprintf(x->bhash, sizeof x->bhash, "%s", bhash);
        json_array_append_new(list, xfer_json(x, 0));
        if (first_new < 0) first_new = i;
    }
    if (json_array_size(list)) post_transfers(s, net, list); else json_decref(list);
    char who[32];
    snprintf(who, sizeof who, "watcher:%s", sim_nets[net].name);
    request(s, net, who, "POST", "/v1/chain/heads", s->c->wkey[net], NULL,
            json_pack("{s:s, s:I}", "network", sim_nets[net].name, "head", (json_int_t)h), TAG_HEAD, net, 0);
    s->blocks[net]++;
    if (first_new >= 0)
        for (long i = first_new; i < s->nxs; i++)
            if (s->xs[i].net == net && s->xs[i].state == X_BLOCK && s->xs[i].block == h) on_included(s, &s->xs[i]);
    /* fire due triggers in the order they were added; keep the rest in order */
    long keep = 0, n = s->nts;
    for (long i = 0; i < n; i++) {
        struct trig t = s->ts[i];
        if (t.net == net && t.height <= h) fire(s, &t);
        else s->ts[keep++] = t;
    }
    /* fire() may have appended triggers past n: keep them too */
    for (long i = n; i < s->nts; i++) s->ts[keep++] = s->ts[i];
    s->nts = keep;
    push(s, s->now + s->block_ms[net], EV_BLOCK, net, 0);
}

/* ------------------------------------------------------------ responses */
static const char *err_code(const char *body, char *out, size_t n)
{
    json_t *j = json_loads(body, 0, NULL);
    const char *c = j ? json_string_value(json_object_get(json_object_get(j, "error"), "code")) : NULL;
    snprintf(out, n, "%s", c ? c : "-");
    json_decref(j);
    return out;
}

static void on_create(struct sim *s, long idx, const struct http_result *r)
{
    struct pay *p = &s->pays[idx];
    char code[64];
    if (r->status == 200 || r->status == 201) {
        json_t *j = json_loads(r->body, 0, NULL);
        const char *id = json_string_value(json_object_get(j, "id"));
        const char *addr = json_string_value(json_object_get(j, "deposit_address"));
        const char *units = json_string_value(json_object_get(j, "amount_units"));
        if (id && addr) {
            snprintf(p->id, sizeof p->id, "%s", id);
            snprintf(p->addr, sizeof p->addr, "%s", addr);
            p->status = P_CREATED;
            s->created++;
            if (units && strcmp(units, p->units_s)) {
                s->mismatches++;
                log_error("sim.amount_mismatch", "ref=%s amount=%s expected_units=%s gateway_units=%s", p->ref,
                          p->amount, p->units_s, units);
            }
            post_order(s, p, "pending");       /* the merchant's order, once the payment exists */
            if (!s->c->quiet && !s->plan)
                log_info("sim.payment_created", "ref=%s payment=%s rail=%s amount=%s scenario=%s", p->ref, id,
                         sim_rails[p->rail].id, p->amount, fate_names[p->fate]);
        }
        json_decref(j);
        if (p->status == P_CREATED) return;
    }
    p->status = P_FAILED;
    s->failed++;
    err_code(r->body, code, sizeof code);
    if (r->status == 422 && !strcmp(code, "rail_not_enabled")) {
        struct sim_merchant *m = &s->c->merchants[p->merchant];
        if (!(m->dropped & (1u << p->rail)))
            log_warn("sim.rail_not_enabled", "merchant=%s rail=%s action=stop_using_rail", m->label, sim_rails[p->rail].id);
        m->dropped |= 1u << p->rail;
        return;
    }
    log_warn("sim.create_failed", "ref=%s status=%ld code=%s%s%s", p->ref, r->status, code,
             r->error ? " error=" : "", r->error ? r->error : "");
}

static void on_done(void *ctx, int tag, long a, long b, const struct http_result *r)
{
    struct sim *s = ctx;
    (void)b;
    char code[64];
    int good = r->status >= 200 && r->status < 300;
    if (good) s->ok[tag]++; else s->errs[tag]++;
    if (r->status == 401 || r->status == 403) s->auth_errs++;
    if (r->status == 0) s->transport_errs++;
    switch (tag) {
    case TAG_HEALTH: s->health = good ? 1 : -1; return;
    case TAG_CREATE: on_create(s, a, r); return;
    case TAG_ORDER:
        if (r->status == 404 || r->status == 405) {
            if (!s->orders_off) log_info("sim.orders_unsupported", "status=%ld action=stop_reporting_orders", r->status);
            s->orders_off = 1;
            s->errs[tag]--;
            return;
        }
        break;
    default: break;
    }
    if (!good && s->errs[tag] <= 20)
        log_warn("sim.request_failed", "request=%s status=%ld code=%s%s%s", tag_names[tag], r->status,
                 err_code(r->body, code, sizeof code), r->error ? " error=" : "", r->error ? r->error : "");
}

/* ------------------------------------------------------------ main loop */
/* Stories still unfinished. Requests already issued are not counted: a busy gateway
 * always has a head report in flight; the drain after the loop waits for those. */
static int work_left(struct sim *s)
{
    if (s->nonblock || s->nts) return 1;
    for (long i = 0; i < s->nxs; i++)
        if (!s->xs[i].stuck && (s->xs[i].state == X_MEMPOOL || s->xs[i].state == X_REMINE)) return 1;
    return 0;
}

static void dispatch(struct sim *s, const struct ev *e)
{
    switch (e->kind) {
    case EV_CREATE:
        if (!s->c->max_payments || s->slots < s->c->max_payments) {
            slot_new(s);
            struct rng r;
            rng_stream(&r, s->c->seed, 'A', (uint64_t)s->slots);
            int64_t gap = 1000000 / s->c->rate_mpps;                  /* ms between payments */
            int64_t jit = gap / 5;
            int64_t next = gap + (jit ? rng_range(&r, -jit, jit) : 0);
            if (!s->c->max_payments || s->slots < s->c->max_payments) push(s, s->now + (next > 0 ? next : 1), EV_CREATE, 0, 0);
        }
        break;
    case EV_PAY: ev_pay(s, e->a, (int)e->b); break;
    case EV_CANCEL: ev_cancel(s, e->a); break;
    case EV_LOOSE: ev_loose(s, e->a, (int)(e->b / 16), (int)(e->b % 16)); break;
    case EV_BLOCK: ev_block(s, (int)e->a); break;
    }
}

static void setup(struct sim *s, struct sim_cfg *c)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    s->plan = c->print_plan;
    /* (network, tx_hash, log_index) is unique in the gateway: two runs with one seed
     * against one database must not reuse hashes, so the tag goes into them */
    s->hseed = c->seed;
    for (const char *t = c->tag; *t; t++) s->hseed = rng_mix(s->hseed ^ (unsigned char)*t);
    s->start_epoch_ms = s->plan ? 1767225600000LL /* 2026-01-01 */ : util_now_ms();
    for (int m = 0; m < c->nmerchants; m++)
        for (int i = 0; i < c->merchants[m].nrails; i++) s->used[sim_rails[c->merchants[m].rails[i]].net] = 1;
    for (int n = 0; n < SIM_NNET; n++) {
        struct rng r;
        rng_stream(&r, c->seed, 'W', (uint64_t)n);
        gen_address(&r, n, s->lookalike[n], sizeof s->lookalike[n]);   /* a look-alike "USDT" contract */
        s->height[n] = c->start_height - 1;
        s->block_ms[n] = (int)((int64_t)sim_nets[n].block_ms * 100 / c->speed_pct);
        if (s->block_ms[n] < 1) s->block_ms[n] = 1;
        if (s->used[n]) push(s, s->block_ms[n], EV_BLOCK, n, 0);
    }
    push(s, 0, EV_CREATE, 0, 0);
}

static int check_gateway(struct sim *s)
{
    client_send(s->cl, -1, "GET", "/healthz", NULL, NULL, NULL, TAG_HEALTH, 0, 0);
    int64_t end = util_now_ms() + 10000;
    while (!s->health && util_now_ms() < end && !stop_signal) client_poll(s->cl, 100);
    s->ok[TAG_HEALTH] = s->errs[TAG_HEALTH] = 0;
    s->transport_errs = 0;
    if (s->health == 1) return 0;
    fprintf(stderr, "railsim run: raild at %s is not healthy (GET /healthz failed); start it or fix --api\n", s->c->api);
    return -1;
}

static void summary(struct sim *s)
{
    printf("railsim summary: seed=%llu tag=%s elapsed_ms=%lld slots=%ld payments_created=%ld payments_failed=%ld "
           "transfers_posted=%ld amount_mismatches=%ld", (unsigned long long)s->c->seed, s->c->tag,
           (long long)s->now, s->slots, s->created, s->failed, s->xfers_posted, s->mismatches);
    for (int n = 0; n < SIM_NNET; n++)
        if (s->used[n]) printf(" blocks_%s=%ld head_%s=%lld", sim_nets[n].name, s->blocks[n], sim_nets[n].name, s->height[n]);
    printf("\nrailsim requests:");
    for (int t = 1; t < TAG__COUNT; t++) printf(" %s_ok=%ld %s_failed=%ld", tag_names[t], s->ok[t], tag_names[t], s->errs[t]);
    printf(" orders=%s blocks_delayed_for_gateway=%ld\nrailsim scenarios:", !s->c->orders ? "off" : s->orders_off ? "unsupported" : "on", s->block_waits);
    for (int f = 0; f < F__COUNT; f++) printf(" %s=%ld", fate_names[f], s->fates[f]);
    printf("\n");
}

static void teardown(struct sim *s)
{
    free(s->q); free(s->pays); free(s->xs); free(s->ts);
    if (s->trace) fclose(s->trace);
    client_free(s->cl);
}

int run_main(int argc, char **argv)
{
    struct sim_cfg c;
    int rc = run_parse(argc, argv, &c);
    if (rc) { run_cfg_free(&c); return rc == 1 ? 0 : 2; }
    if (c.print_plan) run_resolve_rails(&c);
    else if ((rc = run_sync_gateway(&c))) { run_cfg_free(&c); return rc; }
    struct sim s;
    setup(&s, &c);
    if (!s.plan) {
        if (c.trace_path && !(s.trace = fopen(c.trace_path, "a"))) {
            fprintf(stderr, "railsim run: --trace: cannot open '%s' for appending\n", c.trace_path);
            teardown(&s); run_cfg_free(&c);
            return 2;
        }
        if (s.trace) setvbuf(s.trace, NULL, _IOLBF, 0);
        s.cl = client_new(c.api, SIM_NNET, c.concurrency, on_done, &s);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        signal(SIGPIPE, SIG_IGN);
        if (check_gateway(&s)) { teardown(&s); run_cfg_free(&c); return 1; }
        s.t0 = util_now_ms();
        log_info("sim.start", "api=%s seed=%llu tag=%s merchants=%d speed_pct=%d rate_per_1000s=%d", c.api,
                 (unsigned long long)c.seed, c.tag, c.nmerchants, c.speed_pct, c.rate_mpps);
    }
    for (;;) {
        if (!s.plan) s.now = util_now_ms() - s.t0;
        if (stop_signal || (c.duration_ms && s.now >= c.duration_ms)) break;
        while (s.nq && s.q[0].due <= s.now) { struct ev e = pop(&s); dispatch(&s, &e); }
        if (c.max_payments && s.slots >= c.max_payments && !work_left(&s)) break;
        if (s.plan) {
            if (!s.nq) break;
            s.now = s.q[0].due;
            if (c.duration_ms && s.now > c.duration_ms) { s.now = c.duration_ms; break; }
            continue;
        }
        int64_t wait = s.nq ? s.q[0].due - (util_now_ms() - s.t0) : 50;
        client_poll(s.cl, (int)(wait < 0 ? 0 : wait > 50 ? 50 : wait));
    }
    if (!s.plan) {   /* let requests already issued finish, briefly */
        int64_t end = util_now_ms() + 10000;
        while (client_pending(s.cl) && util_now_ms() < end && stop_signal < 2) client_poll(s.cl, 50);
        s.now = util_now_ms() - s.t0;
    }
    summary(&s);
    int fatal = !s.plan && (s.auth_errs > 0 || (s.transport_errs > 0 && s.created == 0));
    if (fatal) fprintf(stderr, "railsim run: the gateway rejected a key (%ld responses 401/403) or could not be reached\n", s.auth_errs);
    teardown(&s);
    run_cfg_free(&c);
    return fatal ? 1 : 0;
}
