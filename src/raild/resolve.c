/* resolve — the effects of resolving an exception (see resolve.h for the table).
 * Design notes:
 * - The chain engine owns "where should this payment be": after a resolution counts a
 *   transfer toward a payment it calls ingest_eval_payment(), which recomputes received /
 *   confirmed_amount from the counted transfers (never increments, so nothing counts
 *   twice), makes the chain's moves (awaiting → detected/confirming → confirmed at depth)
 *   and opens underpaid/overpaid exactly as it would for any transfer.
 * - The one move the chain may not make — leaving `expired` — is made here, via
 *   VIA_RESOLUTION, to detected (transfer in the mempool) or confirming (in a block); the
 *   evaluation then confirms it if the depth is already reached. accept_partial is
 *   confirming → confirmed via VIA_RESOLUTION.
 * - A transfer counted by a resolution is classified `payment` (the effects record that
 *   it was late / attached), so reorg and re-inclusion treat it like any counted transfer.
 * - attach_to_payment targets: awaiting_payment, detected, confirming (money still
 *   expected) or expired (the late case). Never confirmed/finalized — adding money to a
 *   settled payment is an overpayment, resolved with `accept` — and never canceled.
 *   Unmatched and internal transfers have no merchant: the target must be on the same
 *   network with the rail's contract; a duplicate also needs the same merchant+environment. */
#include "raild/resolve.h"
#include "raild/exceptions.h"
#include "raild/ingest.h"
#include "raild/payouts.h"
#include "core/db.h"
#include "core/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ pure parts */

enum pay_state resolve_reentry_state(int in_block)
{
    return in_block ? PS_CONFIRMING : PS_DETECTED;
}

int resolve_attach_target_ok(enum pay_state st)
{
    return st == PS_AWAITING || st == PS_DETECTED || st == PS_CONFIRMING || st == PS_EXPIRED;
}

int resolve_path(enum pay_state from, enum pay_state to, enum transition_via via, enum pay_state *path, int max)
{
    int prev[PS__COUNT], seen[PS__COUNT] = { 0 }, queue[PS__COUNT], qh = 0, qt = 0;
    if (from == to) return 0;
    seen[from] = 1;
    queue[qt++] = from;
    while (qh < qt) {
        int s = queue[qh++];
        for (int t = 0; t < PS__COUNT; t++) {
            if (seen[t] || !lifecycle_allowed((enum pay_state)s, (enum pay_state)t, via)) continue;
            seen[t] = 1;
            prev[t] = s;
            queue[qt++] = t;
        }
    }
    if (!seen[to]) return -1;
    int n = 0, rev[PS__COUNT];
    for (int s = to; s != (int)from; s = prev[s]) rev[n++] = s;
    if (n > max) return -1;
    for (int i = 0; i < n; i++) path[i] = (enum pay_state)rev[n - 1 - i];
    return n;
}

/* ------------------------------------------------------------ database parts */

struct xfer {
    long long id, block, payment_id;
    char network[32], contract[128], status[16], classification[32], value[96], tx_hash[160];
    int counted;
};

struct fx {
    PGconn *db;
    const struct resolve_in *in;
    struct resolve_out *out;
};

static int reject(struct fx *f, int status, const char *code, const char *fmt, const char *arg)
{
    f->out->status = status;
    snprintf(f->out->code, sizeof f->out->code, "%s", code);
    snprintf(f->out->message, sizeof f->out->message, fmt, arg ? arg : "");
    return 1;
}

static void ll(char *buf, size_t n, long long v) { snprintf(buf, n, "%lld", v); }

/* 0 ok, 1 none (rejected), -1 db */
static int load_transfer(struct fx *f, struct xfer *x)
{
    if (!f->in->transfer_id) return reject(f, 409, "no_transfer", "this exception has no transfer to act on%s", NULL);
    char id[32];
    ll(id, sizeof id, f->in->transfer_id);
    enum { X_NETWORK, X_CONTRACT, X_STATUS, X_CLASS, X_VALUE, X_BLOCK, X_PAYMENT, X_COUNTED, X_TX_HASH };
    PGresult *r = db_q(f->db, "SELECT network, contract, status, classification, value::text, coalesce(block_number, -1),"
                              " coalesce(payment_id, 0), counted, tx_hash FROM chain_transfers WHERE id = $1::bigint"
                              " FOR UPDATE", id);
    if (db_failed(r) || PQntuples(r) != 1) { PQclear(r); return -1; }
    x->id = f->in->transfer_id;
    snprintf(x->network, sizeof x->network, "%s", PQgetvalue(r, 0, X_NETWORK));
    snprintf(x->contract, sizeof x->contract, "%s", PQgetvalue(r, 0, X_CONTRACT));
    snprintf(x->status, sizeof x->status, "%s", PQgetvalue(r, 0, X_STATUS));
    snprintf(x->classification, sizeof x->classification, "%s", PQgetvalue(r, 0, X_CLASS));
    snprintf(x->value, sizeof x->value, "%s", PQgetvalue(r, 0, X_VALUE));
    x->block = atoll(PQgetvalue(r, 0, X_BLOCK));
    x->payment_id = atoll(PQgetvalue(r, 0, X_PAYMENT));
    x->counted = PQgetvalue(r, 0, X_COUNTED)[0] == 't';
    snprintf(x->tx_hash, sizeof x->tx_hash, "%s", PQgetvalue(r, 0, X_TX_HASH));
    PQclear(r);
    if (strcmp(x->status, "seen"))
        return reject(f, 409, "transfer_removed", "the transfer is no longer on the canonical chain%s", NULL);
    return 0;
}

/* Locks the payment and reads its state. 0 ok, -1 db. */
static int payment_state(struct fx *f, long long pid, enum pay_state *st)
{
    char id[32];
    ll(id, sizeof id, pid);
    PGresult *r = db_q(f->db, "SELECT state FROM payments WHERE id = $1::bigint FOR UPDATE", id);
    int rc = (db_failed(r) || PQntuples(r) != 1 || pay_state_parse(PQgetvalue(r, 0, 0), st)) ? -1 : 0;
    PQclear(r);
    return rc;
}

static int count_transfer(struct fx *f, long long tid, long long pid, const char *classification)
{
    char t[32], p[32];
    ll(t, sizeof t, tid);
    ll(p, sizeof p, pid);
    PGresult *r = db_q(f->db, "UPDATE chain_transfers SET payment_id = $2::bigint, counted = true,"
                              " classification = $3, updated_at = now() WHERE id = $1::bigint", t, p, classification);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

/* Walks the payment from → to by VIA_RESOLUTION moves. 0 ok, 1 no legal route, -1 db. */
static int walk(struct fx *f, long long pid, enum pay_state from, enum pay_state to, long long block)
{
    enum pay_state path[PS__COUNT];
    int n = resolve_path(from, to, VIA_RESOLUTION, path, PS__COUNT);
    if (n < 0) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s to %s", pay_state_name(from), pay_state_name(to));
        return reject(f, 409, "transition_not_allowed", "the payment cannot move from %s", msg);
    }
    json_t *data = json_pack("{s:s,s:s}", "reason", f->in->resolution, "resolution", f->in->resolution);
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        int t = lifecycle_transition(f->db, pid, path[i], VIA_RESOLUTION, block, data);
        rc = t == -2 ? -1 : t == -1 ? reject(f, 409, "transition_not_allowed", "%s", "the payment cannot make that move") : 0;
    }
    json_decref(data);
    return rc;
}

/* The newest block among the transfers counted toward the payment, -1 if all in the mempool,
 * -2 if none is counted; -3 on a database error. */
static long long counted_block(struct fx *f, long long pid)
{
    char id[32];
    ll(id, sizeof id, pid);
    enum { C_COUNT, C_MAX_BLOCK };
    PGresult *r = db_q(f->db, "SELECT count(*), coalesce(max(block_number), -1) FROM chain_transfers"
                              " WHERE payment_id = $1::bigint AND counted AND status = 'seen'", id);
    long long v = -3;
    if (!db_failed(r) && PQntuples(r) == 1) v = atoll(PQgetvalue(r, 0, C_COUNT)) == 0 ? -2 : atoll(PQgetvalue(r, 0, C_MAX_BLOCK));
    PQclear(r);
    return v;
}

/* After counting: bring an expired payment back (the resolution's move), then let the
 * chain engine make its moves and open under/overpaid. 0 ok, 1 rejected, -1 db. */
static int settle(struct fx *f, long long pid)
{
    enum pay_state st;
    if (payment_state(f, pid, &st)) return -1;
    if (st == PS_EXPIRED) {
        long long blk = counted_block(f, pid);
        if (blk == -3) return -1;
        int rc = walk(f, pid, st, resolve_reentry_state(blk >= 0), blk >= 0 ? blk : -1);
        if (rc) return rc;
    }
    if (ingest_eval_payment(f->db, pid) < 0 || payment_state(f, pid, &st)) return -1;
    json_object_set_new(f->out->effects, "payment_state", json_string(pay_state_name(st)));
    return 0;
}

static int fx_accept_late(struct fx *f)
{
    struct xfer x;
    enum pay_state st;
    int rc = load_transfer(f, &x);
    if (rc) return rc;
    if (!f->in->payment_id) return reject(f, 409, "no_payment", "this exception has no payment%s", NULL);
    if (payment_state(f, f->in->payment_id, &st)) return -1;
    if (st == PS_FINALIZED || st == PS_CANCELED || st == PS_AWAITING)
        return reject(f, 409, "invalid_payment_state", "cannot accept a late transfer for a %s payment",
                      pay_state_name(st));
    if (x.counted && x.payment_id != f->in->payment_id)
        return reject(f, 409, "already_counted", "the transfer already counts toward another payment%s", NULL);
    if (count_transfer(f, x.id, f->in->payment_id, "payment")) return -1;
    json_object_set_new(f->out->effects, "counted_transfer", json_string(x.tx_hash));
    json_object_set_new(f->out->effects, "was", json_string(x.classification));
    return settle(f, f->in->payment_id);
}

static int fx_accept_partial(struct fx *f)
{
    enum pay_state st;
    if (!f->in->payment_id) return reject(f, 409, "no_payment", "this exception has no payment%s", NULL);
    if (payment_state(f, f->in->payment_id, &st)) return -1;
    if (st == PS_CONFIRMED || st == PS_FINALIZED) {
        json_object_set_new(f->out->effects, "payment_state", json_string(pay_state_name(st)));
        return 0;   /* topped up meanwhile: nothing left to accept */
    }
    if (st != PS_CONFIRMING)
        return reject(f, 409, "invalid_payment_state", "cannot accept a partial payment that is %s",
                      pay_state_name(st));
    int rc = walk(f, f->in->payment_id, st, PS_CONFIRMED, -1);
    if (!rc) json_object_set_new(f->out->effects, "payment_state", json_string("confirmed"));
    return rc;
}

/* the target of attach_to_payment: locked, checked against the transfer. 0 ok, 1 rejected, -1 db */
static int attach_target(struct fx *f, const struct xfer *x, long long *pid, long long *mid, char env[16])
{
    enum { A_ID, A_STATE, A_MERCHANT, A_ENV, A_SAME_RAIL };
    PGresult *r = db_q(f->db,
        "SELECT p.id, p.state, p.merchant_id, p.environment, r.network = $2 AND"
        "       (r.contract = $3 OR (n.address_kind = 'evm' AND lower(r.contract) = lower($3)))"
        "  FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment JOIN networks n ON n.name = r.network"
        " WHERE p.public_id = $1 FOR UPDATE OF p", f->in->target, x->network, x->contract);
    if (db_failed(r)) { PQclear(r); return -1; }
    if (PQntuples(r) != 1) {
        PQclear(r);
        return reject(f, 422, "payment_not_found", "no payment with id '%.64s'", f->in->target);
    }
    enum pay_state st = PS_CANCELED;
    *pid = atoll(PQgetvalue(r, 0, A_ID));
    pay_state_parse(PQgetvalue(r, 0, A_STATE), &st);
    *mid = atoll(PQgetvalue(r, 0, A_MERCHANT));
    snprintf(env, 16, "%s", PQgetvalue(r, 0, A_ENV));
    int same_rail = PQgetvalue(r, 0, A_SAME_RAIL)[0] == 't';
    PQclear(r);
    if (!same_rail)
        return reject(f, 422, "target_mismatch", "the payment is on another network or token than the transfer%s", NULL);
    if (f->in->merchant_id && (*mid != f->in->merchant_id || strcmp(env, f->in->environment ? f->in->environment : "")))
        return reject(f, 422, "target_mismatch", "the payment belongs to another merchant or environment%s", NULL);
    if (!resolve_attach_target_ok(st))
        return reject(f, 409, "invalid_target_state",
                      "cannot attach to a %s payment (awaiting_payment, detected, confirming or expired only)",
                      pay_state_name(st));
    return 0;
}

static int fx_attach(struct fx *f)
{
    struct xfer x;
    long long pid, mid;
    char env[16];
    int rc = load_transfer(f, &x);
    if (rc) return rc;
    if (x.counted) return reject(f, 409, "already_counted", "the transfer already counts toward a payment%s", NULL);
    if ((rc = attach_target(f, &x, &pid, &mid, env))) return rc;
    if (count_transfer(f, x.id, pid, "payment")) return -1;
    json_object_set_new(f->out->effects, "attached_to", json_string(f->in->target));
    json_object_set_new(f->out->effects, "counted_transfer", json_string(x.tx_hash));
    json_object_set_new(f->out->effects, "was", json_string(x.classification));
    f->out->notify_merchant_id = mid;
    snprintf(f->out->notify_env, sizeof f->out->notify_env, "%s", env);
    f->out->notify_payment_id = pid;
    return settle(f, pid);
}

static int fx_sweep(struct fx *f)
{
    struct xfer x;
    int rc = load_transfer(f, &x);
    if (rc) return rc;
    if (x.counted) return reject(f, 409, "already_counted", "the transfer counts toward a payment%s", NULL);
    char id[32];
    ll(id, sizeof id, x.id);
    PGresult *r = db_q(f->db, "UPDATE chain_transfers SET classification = 'sweep', updated_at = now()"
                              " WHERE id = $1::bigint", id);
    rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    if (!rc) json_object_set_new(f->out->effects, "transfer_classification", json_string("sweep"));
    return rc;
}

/* Resolutions whose effect is the decision itself until reconciliation adds the ledger
 * postings (refund, refund_excess, write_off, request_topup, accept): extend here. */
static int fx_record(struct fx *f)
{
    json_object_set_new(f->out->effects, "recorded", json_true());
    return 0;
}

/* What a refund resolution refunds: rail, environment, how much at most, from which
 * ledger source, and whether a payout can carry it. 0 ok, -1 db. */
struct refund_plan {
    char rail[64], env[16], kind[8], max_units[96], source[16], suggestion[128];
    int payable, token_ok;
    long long payment_id, transfer_id, merchant_id;
};

static int refund_plan(struct fx *f, struct refund_plan *p)
{
    char eid[32];
    ll(eid, sizeof eid, f->in->exc_id);
    enum { R_RAIL, R_ENV, R_KIND, R_MAX_UNITS, R_PAYABLE, R_PAYMENT, R_TRANSFER, R_MERCHANT, R_SUGGESTION, R_TOKEN_OK };
    PGresult *r = db_q(f->db,
        "SELECT coalesce(pay.rail, ledger_transfer_rail(t), e.rail, ''),"
        "       coalesce(pay.environment, e.environment, CASE WHEN t.id IS NOT NULL THEN ledger_transfer_env(t) END, ''),"
        "       coalesce(n.address_kind, ''),"
        "       CASE WHEN $2 = 'refund_excess' THEN greatest(pay.received - pay.amount, 0)"
        "            WHEN t.id IS NOT NULL AND NOT (t.counted AND t.classification = 'payment') THEN t.value"
        "            WHEN e.type = 'underpaid' OR t.id IS NULL THEN pay.received"
        "            ELSE t.value END::text,"
        "       t.id IS NULL OR (t.counted AND t.classification = 'payment'),"
        "       coalesce(e.payment_id, 0), coalesce(e.transfer_id, 0), coalesce(pay.merchant_id, e.merchant_id, 0),"
        "       coalesce(t.from_address, (SELECT c.from_address FROM chain_transfers c WHERE c.payment_id = pay.id"
        "                AND c.counted ORDER BY c.id DESC LIMIT 1), ''),"
        "       t.id IS NULL OR EXISTS (SELECT 1 FROM rails rr WHERE rr.network = t.network"
        "            AND lower(rr.contract) = lower(t.contract))"
        "  FROM exceptions e LEFT JOIN payments pay ON pay.id = e.payment_id"
        "  LEFT JOIN chain_transfers t ON t.id = e.transfer_id"
        "  LEFT JOIN rails rl ON rl.id = coalesce(pay.rail, ledger_transfer_rail(t), e.rail)"
        "       AND rl.environment = coalesce(pay.environment, e.environment, CASE WHEN t.id IS NOT NULL THEN ledger_transfer_env(t) END)"
        "  LEFT JOIN networks n ON n.name = rl.network WHERE e.id = $1::bigint", eid, f->in->resolution);
    if (db_failed(r) || PQntuples(r) != 1) { PQclear(r); return -1; }
    snprintf(p->rail, sizeof p->rail, "%s", PQgetvalue(r, 0, R_RAIL));
    snprintf(p->env, sizeof p->env, "%s", PQgetvalue(r, 0, R_ENV));
    snprintf(p->kind, sizeof p->kind, "%s", PQgetvalue(r, 0, R_KIND));
    snprintf(p->max_units, sizeof p->max_units, "%s", PQgetisnull(r, 0, R_MAX_UNITS) ? "0" : PQgetvalue(r, 0, R_MAX_UNITS));
    p->payable = PQgetvalue(r, 0, R_PAYABLE)[0] == 't';
    snprintf(p->source, sizeof p->source, "%s", p->payable ? "payable" : "unapplied");
    p->payment_id = atoll(PQgetvalue(r, 0, R_PAYMENT));
    p->transfer_id = atoll(PQgetvalue(r, 0, R_TRANSFER));
    p->merchant_id = atoll(PQgetvalue(r, 0, R_MERCHANT));
    snprintf(p->suggestion, sizeof p->suggestion, "%s", PQgetvalue(r, 0, R_SUGGESTION));
    p->token_ok = PQgetvalue(r, 0, R_TOKEN_OK)[0] == 't';
    PQclear(r);
    if (!p->payable && !p->payment_id) p->merchant_id = f->in->merchant_id;
    return 0;
}

static int fx_refund(struct fx *f)
{
    struct refund_plan p;
    if (refund_plan(f, &p)) return -1;
    /* a payout belongs to its requester's environment (DESIGN §7, §11) */
    if (f->in->who && p.env[0] && strcmp(p.env, f->in->who->env))
        return reject(f, 403, "wrong_environment", "this exception is in %s: refund it with a key of that environment",
                      p.env);
    int payable_rail = !strcmp(p.kind, "evm") && p.token_ok;
    if (!payable_rail) {
        if (f->in->to_address || f->in->amount)
            return reject(f, 422, "rail_payouts_unsupported",
                          "payouts are not supported for this money (%s): record the refund without to_address",
                          !p.token_ok ? "not the rail's token" : p.rail[0] ? p.rail : "unknown rail");
        json_object_set_new(f->out->effects, "recorded", json_true());
        json_object_set_new(f->out->effects, "payout", json_null());
        return 0;
    }
    if (!f->in->to_address) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", p.suggestion[0] ? p.suggestion : "none");
        return reject(f, 422, "to_address_required",
                      "a refund needs the payer's to_address (the transfer came from %s: a suggestion only, exchanges"
                      " pay from shared wallets)", msg);
    }
    struct payout_req in = { .kind = "refund", .merchant_id = p.payable ? p.merchant_id : 0, .env = p.env,
                             .rail = p.rail, .amount = f->in->amount, .amount_units = f->in->amount ? NULL : p.max_units,
                             .to_address = f->in->to_address, .reason = f->in->note ? f->in->note : f->in->resolution,
                             .source = p.source, .payment_id = p.payment_id, .exception_id = f->in->exc_id,
                             .transfer_id = p.transfer_id, .max_units = p.max_units };
    if (!p.payable && p.merchant_id) in.merchant_id = p.merchant_id;   /* the merchant hears of it */
    struct payout_err e = { 0 };
    long long id = payout_create(f->db, f->in->who, &in, &e);
    if (id < 0) return -1;
    if (id == 0) return reject(f, e.status, e.code, "%s", e.message);
    char pid[32];
    ll(pid, sizeof pid, id);
    char *pub = db_val(f->db, "SELECT public_id FROM payouts WHERE id = $1::bigint", pid);
    if (!pub) return -1;
    json_object_set_new(f->out->effects, "payout", json_string(pub));
    free(pub);
    return 0;
}

static const struct {
    const char *resolution;
    int (*fn)(struct fx *);
} EFFECTS[] = {
    { "refund", fx_refund },
    { "refund_excess", fx_refund },
    { "accept_late", fx_accept_late },
    { "accept_partial", fx_accept_partial },
    { "attach_to_payment", fx_attach },
    { "mark_internal_sweep", fx_sweep },
    { NULL, NULL },
};

int resolve_effects(PGconn *db, const struct resolve_in *in, struct resolve_out *out)
{
    struct fx f = { db, in, out };
    out->effects = json_object();
    out->notify_merchant_id = in->merchant_id;
    snprintf(out->notify_env, sizeof out->notify_env, "%s", in->environment ? in->environment : "");
    out->notify_payment_id = in->payment_id;
    int (*fn)(struct fx *) = fx_record;
    for (int i = 0; EFFECTS[i].resolution; i++)
        if (!strcmp(EFFECTS[i].resolution, in->resolution)) fn = EFFECTS[i].fn;
    int rc = fn(&f);
    if (rc < 0) log_error("exception.effects_failed", "resolution=%s msg=\"%.200s\"", in->resolution,
                          PQerrorMessage(db));
    return rc;
}
