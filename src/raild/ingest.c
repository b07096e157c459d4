/* ingest — chain transfers and heads into payments, see ingest.h.
 *
 * Classification of a transfer (chain_transfers.classification), first match wins:
 *   value 0                                   → ignored  (address-poisoning spam: stored, never counted)
 *   a payout's transaction (tx hash we sent,
 *      from its hot wallet, to its destination) → payout   (DESIGN §11; no exception)
 *   from our wallet or a deposit address
 *      to our hot/sweep wallet                 → sweep    (internal, never revenue, no exception)
 *      to anywhere else                        → unclassified_internal + exception
 *   to a deposit address, contract ≠ its rail  → wrong_asset + exception (look-alike tokens:
 *                                                match by contract, never by symbol)
 *   to the deposit address of a payment in
 *      awaiting/detected/confirming            → payment (counted toward received)
 *      expired/canceled                        → late + late_payment
 *      confirmed/finalized                     → duplicate + duplicate_payment
 *   anything else (unassigned/unknown address) → unmatched + unmatched_transfer
 * A removed transfer (reorg) is uncounted: the payment moves back (detected/confirming →
 * awaiting) or, when already confirmed/finalized, a `reorged` exception opens (money we
 * treated as confirmed left the chain; finalization is held while it is live). Re-reported
 * without `removed`, it is counted again and `reorged` auto-closes; other transfers are
 * re-classified from scratch, except one an operator attached to a payment, which keeps
 * it. Exceptions about a transfer that left the chain auto-close.
 * Non-payment transfers still record the payment whose address they hit (payment_id, with
 * counted = false) so ops and reconciliation see the context. */
#include "raild/ingest.h"
#include "raild/exceptions.h"
#include "raild/lifecycle.h"
#include "core/db.h"
#include "core/log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LL(buf, v) snprintf(buf, sizeof buf, "%lld", (long long)(v))

int ingest_lock_network(PGconn *db, const char *network)
{
    PGresult *r = db_q(db, "SELECT pg_advisory_xact_lock(hashtext('raild.ingest.' || $1))", network);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

static json_t *xfer_details(const char *network, const struct xfer_in *in)
{
    return json_pack("{s:s,s:s,s:I,s:o,s:s,s:s,s:s,s:s}", "network", network, "tx_hash", in->tx_hash, "log_index",
                     (json_int_t)in->log_index, "block_number",
                     in->block_number >= 0 ? json_integer(in->block_number) : json_null(), "from", in->from, "to",
                     in->to, "contract", in->contract, "value", in->value);
}

struct klass {
    const char *name;            /* classification */
    const char *exc;             /* exception to open, or NULL */
    long long payment_id;        /* payment whose address was hit (0 none) */
    int counted;
    char pay_state[32];
};

/* What classification needs of a transfer: whether we hold it already, and what its
 * addresses and contract are to us. */
struct facts {
    int stored, from_ours, to_wallet, to_deposit, known_contract, our_payout;
    long long payment_id;          /* payment whose deposit address was hit (0 none) */
};

/* facts for xs[0..n) in one statement, the batch passed as one array per column. 0 or -1. */
static int facts_load(PGconn *db, const char *network, const struct xfer_in *xs, size_t n, struct facts *f)
{
    enum { A_TX, A_LI, A_FR, A_TO, A_CONTRACT, A_N };
    struct db_array a[A_N] = { 0 };
    for (size_t i = 0; i < n; i++) {
        db_array_str(&a[A_TX], xs[i].tx_hash);
        db_array_ll(&a[A_LI], xs[i].log_index);
        db_array_str(&a[A_FR], xs[i].from);
        db_array_str(&a[A_TO], xs[i].to);
        db_array_str(&a[A_CONTRACT], xs[i].contract);
    }
    enum { F_I, F_STORED, F_FROM_OURS, F_TO_WALLET, F_TO_DEPOSIT, F_PAYMENT, F_KNOWN_CONTRACT, F_OUR_PAYOUT };
    PGresult *r = db_q(db,
        "SELECT u.i - 1,"
        " EXISTS (SELECT 1 FROM chain_transfers t WHERE t.network = $1 AND t.tx_hash = u.tx AND t.log_index = u.li),"
        " EXISTS (SELECT 1 FROM wallets WHERE network = $1 AND address = u.fr)"
        "    OR EXISTS (SELECT 1 FROM deposit_addresses WHERE network = $1 AND address = u.fr),"
        " EXISTS (SELECT 1 FROM wallets WHERE network = $1 AND address = u.\"to\"),"
        " EXISTS (SELECT 1 FROM deposit_addresses WHERE network = $1 AND address = u.\"to\"),"
        " (SELECT payment_id FROM deposit_addresses WHERE network = $1 AND address = u.\"to\"),"
        " EXISTS (SELECT 1 FROM rails WHERE network = $1 AND contract = u.contract),"
        " EXISTS (SELECT 1 FROM payout_transactions pt JOIN payouts p ON p.id = pt.payout_id"
        "          JOIN wallets w ON w.id = p.wallet_id JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
        "          WHERE pt.network = $1 AND pt.tx_hash = lower(u.tx) AND w.address = u.fr AND p.to_address = u.\"to\""
        "            AND lower(r.contract) = lower(u.contract))"
        " FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY"
        "      AS u(tx, li, fr, \"to\", contract, i)",
        network, db_array_text(&a[A_TX]), db_array_text(&a[A_LI]), db_array_text(&a[A_FR]), db_array_text(&a[A_TO]),
        db_array_text(&a[A_CONTRACT]));
    for (int c = 0; c < A_N; c++) db_array_free(&a[c]);
    int rc = (db_failed(r) || (size_t)PQntuples(r) != n) ? -1 : 0;
    for (int k = 0; !rc && k < PQntuples(r); k++) {
        long long i = atoll(PQgetvalue(r, k, F_I));
        if (i < 0 || (size_t)i >= n) { rc = -1; break; }
        f[i] = (struct facts){
            .stored = PQgetvalue(r, k, F_STORED)[0] == 't',
            .from_ours = PQgetvalue(r, k, F_FROM_OURS)[0] == 't',
            .to_wallet = PQgetvalue(r, k, F_TO_WALLET)[0] == 't',
            .to_deposit = PQgetvalue(r, k, F_TO_DEPOSIT)[0] == 't',
            .known_contract = PQgetvalue(r, k, F_KNOWN_CONTRACT)[0] == 't',
            .our_payout = PQgetvalue(r, k, F_OUR_PAYOUT)[0] == 't',
            .payment_id = PQgetisnull(r, k, F_PAYMENT) ? 0 : atoll(PQgetvalue(r, k, F_PAYMENT)),
        };
    }
    PQclear(r);
    return rc;
}

/* Decides the classification from the facts. Locks the payment row whose address was hit
 * (with no payment, no statement runs). 0 or -1. */
static int classify(PGconn *db, const struct xfer_in *in, const struct facts *f, struct klass *k)
{
    memset(k, 0, sizeof *k);
    int from_ours = f->from_ours, to_wallet = f->to_wallet, to_deposit = f->to_deposit;
    int known_contract = f->known_contract, our_payout = f->our_payout;
    long long pid = f->payment_id;
    int contract_ok = known_contract;
    if (pid) {
        char id[32];
        LL(id, pid);
        enum { P_STATE, P_CONTRACT_OK, P_OVERDUE };
        PGresult *r = db_q(db, "SELECT p.state, r.contract = $2, p.state = 'awaiting_payment' AND p.expires_at <= now()"
                     " FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment WHERE p.id = $1 FOR UPDATE OF p", id, in->contract);
        if (db_failed(r) || PQntuples(r) != 1) {
            PQclear(r);
            return -1;
        }
        snprintf(k->pay_state, sizeof k->pay_state, "%s", PQgetvalue(r, 0, P_STATE));
        contract_ok = PQgetvalue(r, 0, P_CONTRACT_OK)[0] == 't';
        int overdue = PQgetvalue(r, 0, P_OVERDUE)[0] == 't';
        PQclear(r);
        k->payment_id = pid;
        /* DESIGN §4: a transfer after expires_at is late, even if the sweeper has not run yet
         * (it runs every second). Enforce the expiry first, as the sweeper would. */
        if (overdue && contract_ok && strcmp(in->value, "0") && !in->removed) {
            json_t *why = json_pack("{s:s}", "reason", "expired");
            int rc = lifecycle_transition(db, pid, PS_EXPIRED, VIA_SWEEPER, -1, why);
            json_decref(why);
            if (rc) return -1;
            snprintf(k->pay_state, sizeof k->pay_state, "expired");
        }
    }
    if (!strcmp(in->value, "0")) k->name = "ignored";
    else if (our_payout) k->name = "payout";   /* one of our payouts: the payout worker follows it */
    else if (from_ours && to_wallet) k->name = "sweep";
    else if (from_ours) k->name = "unclassified_internal", k->exc = "unclassified_internal";
    else if (to_deposit && !contract_ok) k->name = "wrong_asset", k->exc = "wrong_asset";
    else if (pid && (!strcmp(k->pay_state, "awaiting_payment") || !strcmp(k->pay_state, "detected") ||
                     !strcmp(k->pay_state, "confirming")))
        k->name = "payment", k->counted = 1;
    else if (pid && (!strcmp(k->pay_state, "expired") || !strcmp(k->pay_state, "canceled")))
        k->name = "late", k->exc = "late_payment";
    else if (pid && (!strcmp(k->pay_state, "confirmed") || !strcmp(k->pay_state, "finalized")))
        k->name = "duplicate", k->exc = "duplicate_payment";
    else k->name = "unmatched", k->exc = "unmatched_transfer";
    if (!strcmp(k->name, "sweep") || !strcmp(k->name, "unclassified_internal")) {
        if (!to_deposit) k->payment_id = 0;
    }
    return 0;
}

/* The exception a classification opens for a transfer (k->exc set), to exc_open_many. */
static struct exc_new exc_for_class(const char *network, const struct xfer_in *in, const struct klass *k,
                                    long long tid)
{
    json_t *d = xfer_details(network, in);
    if (k->pay_state[0]) json_object_set_new(d, "payment_state", json_string(k->pay_state));
    return (struct exc_new){ .type = k->exc, .payment_id = k->payment_id, .transfer_id = tid, .amount = in->value,
                             .details = d };
}

/* Opens the classification's exception for a transfer. 0 or -1. */
static int open_for_class(PGconn *db, const char *network, const struct xfer_in *in, const struct klass *k,
                          long long tid)
{
    if (!k->exc) return 0;
    struct exc_new e = exc_for_class(network, in, k, tid);
    int rc = exc_open_many(db, &e, 1);
    json_decref(e.details);
    return rc;
}

static const char *const transfer_exc_types[] = { "late_payment", "duplicate_payment", "unmatched_transfer",
                                                  "wrong_asset", "unclassified_internal", NULL };

static int fill_out(PGconn *db, long long pid, const char *klass, struct xfer_out *out)
{
    snprintf(out->classification, sizeof out->classification, "%s", klass);
    out->payment_id = pid;
    out->payment_public_id[0] = 0;
    if (!pid) return 0;
    char id[32];
    LL(id, pid);
    char *pub = db_val(db, "SELECT public_id FROM payments WHERE id = $1", id);
    if (!pub) return -1;
    snprintf(out->payment_public_id, sizeof out->payment_public_id, "%s", pub);
    free(pub);
    return 0;
}

static int cmp_key(const void *a, const void *b)
{
    const struct xfer_in *x = *(const struct xfer_in *const *)a, *y = *(const struct xfer_in *const *)b;
    int c = strcmp(x->tx_hash, y->tx_hash);
    return c ? c : x->log_index < y->log_index ? -1 : x->log_index > y->log_index;
}

/* Stores xs[i] for every pick[i] with its classification k[i], in one INSERT, and puts each
 * new row's id in tid[i]. by_key: the n transfers sorted by (tx_hash, log_index) (cmp_key),
 * to find each returned row's transfer; the picked ones are once each. A transfer reported
 * removed is kept for the record, not counted. 0 or -1. */
static int transfers_insert(PGconn *db, const char *network, const struct xfer_in *xs, const struct klass *k,
                            const unsigned char *pick, size_t n, const struct xfer_in *const *by_key, long long *tid)
{
    enum { A_TX, A_LI, A_BLK, A_BH, A_CONTRACT, A_FR, A_TO, A_VALUE, A_STATUS, A_CLASS, A_PID, A_COUNTED, A_N };
    struct db_array a[A_N] = { 0 };
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pick[i]) continue;
        db_array_str(&a[A_TX], xs[i].tx_hash);
        db_array_ll(&a[A_LI], xs[i].log_index);
        if (xs[i].block_number >= 0) db_array_ll(&a[A_BLK], xs[i].block_number);
        else db_array_str(&a[A_BLK], NULL);
        db_array_str(&a[A_BH], xs[i].block_hash[0] ? xs[i].block_hash : NULL);
        db_array_str(&a[A_CONTRACT], xs[i].contract);
        db_array_str(&a[A_FR], xs[i].from);
        db_array_str(&a[A_TO], xs[i].to);
        db_array_str(&a[A_VALUE], xs[i].value);
        db_array_str(&a[A_STATUS], xs[i].removed ? "removed" : "seen");
        db_array_str(&a[A_CLASS], k[i].name);
        if (k[i].payment_id) db_array_ll(&a[A_PID], k[i].payment_id);
        else db_array_str(&a[A_PID], NULL);
        db_array_bool(&a[A_COUNTED], k[i].counted && !xs[i].removed);
        m++;
    }
    enum { T_ID, T_TX, T_LI };
    PGresult *r = !m ? NULL : db_q(db,
        "INSERT INTO chain_transfers (network, tx_hash, log_index, block_number, block_hash, contract, from_address,"
        " to_address, value, status, classification, payment_id, counted)"
        " SELECT $1, u.tx, u.li, u.blk, u.bh, u.contract, u.fr, u.\"to\", u.value, u.status, u.class, u.pid, u.counted"
        " FROM unnest($2::text[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[],"
        "             $9::numeric[], $10::text[], $11::text[], $12::bigint[], $13::boolean[]) WITH ORDINALITY"
        "      AS u(tx, li, blk, bh, contract, fr, \"to\", value, status, class, pid, counted, i)"
        " ORDER BY u.i RETURNING id, tx_hash, log_index",
        network, db_array_text(&a[A_TX]), db_array_text(&a[A_LI]), db_array_text(&a[A_BLK]),
        db_array_text(&a[A_BH]), db_array_text(&a[A_CONTRACT]), db_array_text(&a[A_FR]), db_array_text(&a[A_TO]),
        db_array_text(&a[A_VALUE]), db_array_text(&a[A_STATUS]), db_array_text(&a[A_CLASS]),
        db_array_text(&a[A_PID]), db_array_text(&a[A_COUNTED]));
    for (int c = 0; c < A_N; c++) db_array_free(&a[c]);
    if (!m) return 0;
    int rc = 0;
    if (db_failed(r) || (size_t)PQntuples(r) != m) {
        log_error("ingest.insert_failed", "network=%s n=%zu sqlstate=%s", network, m, db_sqlstate(r));
        rc = -1;
    }
    for (int row = 0; !rc && row < PQntuples(r); row++) {
        struct xfer_in key;
        snprintf(key.tx_hash, sizeof key.tx_hash, "%s", PQgetvalue(r, row, T_TX));
        key.log_index = atoll(PQgetvalue(r, row, T_LI));
        const struct xfer_in *kp = &key, *const *at = bsearch(&kp, by_key, n, sizeof *by_key, cmp_key);
        if (!at) { rc = -1; break; }
        tid[*at - xs] = atoll(PQgetvalue(r, row, T_ID));
    }
    PQclear(r);
    return rc;
}

static void log_transfer(const char *network, const struct xfer_in *in, const struct klass *k)
{
    log_info("chain.transfer", "network=%s tx=%s log_index=%lld block=%lld class=%s payment_id=%lld removed=%d",
             network, in->tx_hash, in->log_index, in->block_number, k->name, k->payment_id, in->removed);
}

/* A transfer never seen before, with its facts (facts_load). 0 or -1. */
static int insert_new(PGconn *db, const char *network, const struct xfer_in *in, const struct facts *f,
                      struct xfer_out *out)
{
    struct klass k;
    if (classify(db, in, f, &k)) return -1;
    const unsigned char pick = 1;
    long long tid = 0;
    if (transfers_insert(db, network, in, &k, &pick, 1, &in, &tid)) return -1;
    /* a log first reported as removed is kept for the record: no exception */
    if (!in->removed && open_for_class(db, network, in, &k, tid)) return -1;
    log_transfer(network, in, &k);
    return fill_out(db, k.payment_id, k.name, out);
}

struct stored {
    long long id, block, payment_id;
    char status[16], block_hash[72], klass[32];
    int counted, same_data;
};

/* The stored row, locked. 1 found, 0 new, -1 error. */
static int load_stored(PGconn *db, const char *network, const struct xfer_in *in, struct stored *s)
{
    char li[32];
    LL(li, in->log_index);
    enum { S_ID, S_BLOCK, S_BLOCK_HASH, S_STATUS, S_CLASS, S_PAYMENT, S_COUNTED, S_SAME_DATA };
    PGresult *r = db_q(db,
        "SELECT id, coalesce(block_number, -1), coalesce(block_hash, ''), status, classification,"
        " coalesce(payment_id, 0), counted, (contract, from_address, to_address, value) = ($4, $5, $6, $7::numeric)"
        " FROM chain_transfers WHERE network = $1 AND tx_hash = $2 AND log_index = $3 FOR UPDATE",
        network, in->tx_hash, li, in->contract, in->from, in->to, in->value);
    if (db_failed(r)) {
        PQclear(r);
        return -1;
    }
    int found = PQntuples(r) == 1;
    if (found) {
        s->id = atoll(PQgetvalue(r, 0, S_ID));
        s->block = atoll(PQgetvalue(r, 0, S_BLOCK));
        snprintf(s->block_hash, sizeof s->block_hash, "%s", PQgetvalue(r, 0, S_BLOCK_HASH));
        snprintf(s->status, sizeof s->status, "%s", PQgetvalue(r, 0, S_STATUS));
        snprintf(s->klass, sizeof s->klass, "%s", PQgetvalue(r, 0, S_CLASS));
        s->payment_id = atoll(PQgetvalue(r, 0, S_PAYMENT));
        s->counted = PQgetvalue(r, 0, S_COUNTED)[0] == 't';
        s->same_data = PQgetvalue(r, 0, S_SAME_DATA)[0] == 't';
    }
    PQclear(r);
    return found;
}

static int payment_state_locked(PGconn *db, long long pid, char *state, size_t n)
{
    char id[32];
    LL(id, pid);
    PGresult *r = db_q(db, "SELECT state FROM payments WHERE id = $1 FOR UPDATE", id);
    int rc = (db_failed(r) || PQntuples(r) != 1) ? -1 : 0;
    if (!rc) snprintf(state, n, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return rc;
}

static int set_row(PGconn *db, long long tid, const char *status, const struct xfer_in *in, int counted,
                   const char *klass, long long pid)
{
    char id[32], blk[32], p[32];
    LL(id, tid);
    LL(blk, in->block_number);
    LL(p, pid);
    PGresult *r = db_q(db, "UPDATE chain_transfers SET status = $2, block_number = $3, block_hash = NULLIF($4, ''),"
                           " counted = $5, classification = $6, payment_id = NULLIF($7::bigint, 0), updated_at = now()"
                           " WHERE id = $1",
                       id, status, in->block_number >= 0 ? blk : NULL, in->block_hash, counted ? "t" : "f", klass, p);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

/* removed=true for a transfer we hold as seen. 0 or -1. */
static int apply_removal(PGconn *db, const char *network, const struct xfer_in *in, struct stored *s)
{
    /* keep the last known block: it is where the transfer was before the reorg */
    struct xfer_in keep = *in;
    keep.block_number = s->block;
    snprintf(keep.block_hash, sizeof keep.block_hash, "%s", s->block_hash);
    if (set_row(db, s->id, "removed", &keep, 0, s->klass, s->payment_id)) return -1;
    log_info("chain.transfer_removed", "network=%s tx=%s log_index=%lld class=%s payment_id=%lld", network,
             in->tx_hash, in->log_index, s->klass, s->payment_id);
    if (s->counted && s->payment_id) {
        char state[32];
        if (payment_state_locked(db, s->payment_id, state, sizeof state)) return -1;
        if (!strcmp(state, "confirmed") || !strcmp(state, "finalized")) {
            json_t *d = xfer_details(network, &keep);
            json_object_set_new(d, "payment_state", json_string(state));
            long long rc = exc_open(db, "reorged", s->payment_id, s->id, in->value, d);
            json_decref(d);
            if (rc < 0) return -1;
        }
        return 0;   /* detected/confirming: the payment evaluation makes the back-move */
    }
    for (int i = 0; transfer_exc_types[i]; i++)
        if (exc_auto_close(db, transfer_exc_types[i], 0, s->id, "transfer removed from the canonical chain") < 0)
            return -1;
    return 0;
}

/* 1 when an operator's attach_to_payment resolution is what counts this transfer toward its
 * payment, 0 when not, -1 on a database error. */
static int attached_by_operator(PGconn *db, long long tid)
{
    char id[32];
    LL(id, tid);
    char *v = db_val(db, "SELECT EXISTS (SELECT 1 FROM exceptions WHERE transfer_id = $1::bigint"
                         " AND state = 'resolved' AND resolution = 'attach_to_payment')", id);
    int rc = v ? v[0] == 't' : -1;
    free(v);
    return rc;
}

/* A removed transfer reported again as seen, with its facts (facts_load). 0 or -1. */
static int apply_reinclusion(PGconn *db, const char *network, const struct xfer_in *in, const struct facts *f,
                             struct stored *s, struct xfer_out *out)
{
    char state[32] = "";
    if (!strcmp(s->klass, "payment") && s->payment_id &&
        payment_state_locked(db, s->payment_id, state, sizeof state))
        return -1;
    if (!strcmp(state, "confirmed") || !strcmp(state, "finalized")) {
        /* it counted toward a payment that stayed confirmed: count it again, close reorged */
        if (set_row(db, s->id, "seen", in, 1, "payment", s->payment_id)) return -1;
        char why[96];
        snprintf(why, sizeof why, "transfer re-included in block %lld", in->block_number);
        if (exc_auto_close(db, "reorged", 0, s->id, in->block_number >= 0 ? why : "transfer back in the mempool") < 0)
            return -1;
        return fill_out(db, s->payment_id, "payment", out);
    }
    struct klass k;   /* otherwise the world may have moved on (payment expired…): classify afresh */
    int attached = state[0] ? attached_by_operator(db, s->id) : 0;
    if (attached < 0) return -1;
    if (attached) {
        /* An operator attached this transfer to that payment (it was sent to another
         * address): afresh it would be unmatched again. The decision stands: it counts while
         * the payment still expects money, and is late for it once expired or canceled. */
        memset(&k, 0, sizeof k);
        k.payment_id = s->payment_id;
        snprintf(k.pay_state, sizeof k.pay_state, "%s", state);
        if (!strcmp(state, "expired") || !strcmp(state, "canceled")) k.name = "late", k.exc = "late_payment";
        else k.name = "payment", k.counted = 1;
    } else if (classify(db, in, f, &k)) {
        return -1;
    }
    if (set_row(db, s->id, "seen", in, k.counted, k.name, k.payment_id) || open_for_class(db, network, in, &k, s->id))
        return -1;
    log_info("chain.transfer_reincluded", "network=%s tx=%s log_index=%lld class=%s", network, in->tx_hash,
             in->log_index, k.name);
    return fill_out(db, k.payment_id, k.name, out);
}

/* Applies one transfer of a batch, with the facts the batch read for it (what they say does
 * not change within the batch; whether the row is stored may, so load_stored decides that).
 * 0, -1 database error, -3 the (tx_hash, log_index) is known with different
 * contract/from/to/value (the batch must be rejected). */
static int ingest_transfer(PGconn *db, const char *network, const struct xfer_in *in, const struct facts *f,
                           struct xfer_out *out)
{
    struct stored s;
    int found = load_stored(db, network, in, &s);
    if (found < 0) return -1;
    if (!found) return insert_new(db, network, in, f, out);
    if (!s.same_data) return -3;
    int was_removed = !strcmp(s.status, "removed");
    if (in->removed) {
        if (!was_removed && apply_removal(db, network, in, &s)) return -1;
        return fill_out(db, s.payment_id, s.klass, out);
    }
    if (was_removed) return apply_reinclusion(db, network, in, f, &s, out);
    /* seen → seen: a mempool transfer mined, or moved to another block; same data → nothing */
    if (s.block != in->block_number || strcmp(s.block_hash, in->block_hash)) {
        if (set_row(db, s.id, "seen", in, s.counted, s.klass, s.payment_id)) return -1;
        log_info("chain.transfer_block", "network=%s tx=%s log_index=%lld block=%lld was=%lld", network,
                 in->tx_hash, in->log_index, in->block_number, s.block);
    }
    return fill_out(db, s.payment_id, s.klass, out);
}

/* ------------------------------------------------------------ batches */

/* The transfers of a batch that take the set path: new (not stored), reported as on the
 * chain, hitting no payment's address, and once in the batch. Their classification needs
 * no payment, so no lock and no statement of its own. by_key: xs sorted by (tx_hash,
 * log_index), for finding a stored row's transfer again. */
static void mark_set_path(const struct xfer_in *xs, size_t n, const struct facts *f, const struct xfer_in **by_key,
                          unsigned char *set)
{
    for (size_t i = 0; i < n; i++) by_key[i] = &xs[i];
    qsort(by_key, n, sizeof *by_key, cmp_key);
    for (size_t i = 0; i < n; i++) {
        size_t x = (size_t)(by_key[i] - xs);
        int twice = (i > 0 && !cmp_key(&by_key[i - 1], &by_key[i])) || (i + 1 < n && !cmp_key(&by_key[i], &by_key[i + 1]));
        set[x] = !twice && !f[x].stored && !f[x].payment_id && !xs[x].removed;
    }
}

/* Stores the set path's transfers with one INSERT and opens their exceptions with one more
 * (exc_open_many): what insert_new does for each, without a round trip per transfer. 0 or -1. */
static int insert_set(PGconn *db, const char *network, const struct xfer_in *xs, size_t n, const struct facts *f,
                      const unsigned char *set, const struct xfer_in **by_key, struct xfer_out *outs)
{
    struct klass *k = calloc(n ? n : 1, sizeof *k);
    long long *tid = calloc(n ? n : 1, sizeof *tid);
    struct exc_new *ex = calloc(n ? n : 1, sizeof *ex);
    size_t ne = 0;
    int rc = (k && tid && ex) ? 0 : -1;
    for (size_t i = 0; i < n && !rc; i++)
        if (set[i] && classify(db, &xs[i], &f[i], &k[i])) rc = -1;   /* no payment: no statement */
    if (!rc && transfers_insert(db, network, xs, k, set, n, by_key, tid)) rc = -1;
    for (size_t i = 0; i < n && !rc; i++)
        if (set[i] && k[i].exc) ex[ne++] = exc_for_class(network, &xs[i], &k[i], tid[i]);
    if (!rc && ne && exc_open_many(db, ex, ne)) rc = -1;
    for (size_t i = 0; i < ne; i++) json_decref(ex[i].details);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!set[i]) continue;
        log_transfer(network, &xs[i], &k[i]);
        if (fill_out(db, 0, k[i].name, &outs[i])) rc = -1;
    }
    free(k);
    free(tid);
    free(ex);
    return rc;
}

static int cmp_id(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

/* Every touched payment once, in id order (a consistent lock order). 0 or -1. */
static int eval_touched(PGconn *db, const struct xfer_out *outs, size_t n)
{
    long long *ids = calloc(n ? n : 1, sizeof *ids);
    size_t na = 0;
    if (!ids) return -1;
    for (size_t i = 0; i < n; i++)
        if (outs[i].payment_id) ids[na++] = outs[i].payment_id;
    qsort(ids, na, sizeof *ids, cmp_id);
    int rc = 0;
    for (size_t i = 0; i < na && !rc; i++)
        if ((i == 0 || ids[i] != ids[i - 1]) && ingest_eval_payment(db, ids[i]) < 0) rc = -1;
    free(ids);
    return rc;
}

int ingest_batch(PGconn *db, const char *network, const struct xfer_in *xs, size_t n, json_t *results,
                 size_t *bad_index)
{
    struct facts *f = calloc(n ? n : 1, sizeof *f);
    struct xfer_out *outs = calloc(n ? n : 1, sizeof *outs);
    const struct xfer_in **by_key = calloc(n ? n : 1, sizeof *by_key);
    unsigned char *set = calloc(n ? n : 1, 1);
    int rc = (f && outs && by_key && set) ? 0 : -2;
    if (!rc && ingest_lock_network(db, network)) rc = -1;
    if (!rc && n && facts_load(db, network, xs, n, f)) rc = -1;
    if (!rc) {
        mark_set_path(xs, n, f, by_key, set);
        if (insert_set(db, network, xs, n, f, set, by_key, outs)) rc = -1;
    }
    /* the rest one by one, in the batch's order: rows we hold, payments' transfers, removals */
    for (size_t i = 0; i < n && !rc; i++) {
        if (set[i]) continue;
        int t = ingest_transfer(db, network, &xs[i], &f[i], &outs[i]);
        if (t == -3 && bad_index) *bad_index = i;
        if (t) rc = t == -3 ? -3 : -1;
    }
    for (size_t i = 0; i < n && !rc && results; i++)
        json_array_append_new(results, json_pack("{s:s,s:I,s:s,s:o}", "tx_hash", xs[i].tx_hash, "log_index",
                                                 (json_int_t)xs[i].log_index, "classification", outs[i].classification,
                                                 "payment_id", outs[i].payment_public_id[0]
                                                                   ? json_string(outs[i].payment_public_id) : json_null()));
    if (!rc && eval_touched(db, outs, n)) rc = -1;
    free(f);
    free(outs);
    free(by_key);
    free(set);
    return rc;
}

/* ------------------------------------------------------------ evaluation */

struct eval {
    char state[32];
    long long n, n_block, max_block, confs, depth, finalized;
    int shortfall, over;
    char received[96], confirmed[96], short_by[96], excess[96];
};

static int eval_load(PGconn *db, const char *id, struct eval *e)
{
    enum { E_STATE, E_N, E_N_BLOCK, E_MAX_BLOCK, E_CONFS, E_DEPTH, E_FINALIZED, E_SHORTFALL, E_OVER,
           E_RECEIVED, E_CONFIRMED, E_SHORT_BY, E_EXCESS };
    PGresult *r = db_q(db,
        "WITH p AS (SELECT p.id, p.state, p.amount, r.network, r.confirm_depth,"
        "                  floor(p.amount * m.tolerance_bps / 10000) AS tol"
        "             FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment JOIN merchants m ON m.id = p.merchant_id"
        "            WHERE p.id = $1 FOR UPDATE OF p),"
        " t AS (SELECT value, block_number FROM chain_transfers WHERE payment_id = $1 AND counted AND status = 'seen'),"
        " a AS (SELECT coalesce(sum(value), 0) AS received, count(*) AS n, count(block_number) AS nb,"
        "              max(block_number) AS mb FROM t),"
        " h AS (SELECT greatest(coalesce(ch.head, 0), coalesce(a.mb, 0)) AS head, coalesce(ch.finalized, -1) AS fin"
        "         FROM p CROSS JOIN a LEFT JOIN chain_heads ch ON ch.network = p.network),"
        " c AS (SELECT coalesce(sum(t.value) FILTER (WHERE t.block_number IS NOT NULL"
        "                 AND h.head - t.block_number + 1 >= p.confirm_depth), 0) AS conf FROM p CROSS JOIN h LEFT JOIN t ON true)"
        " SELECT p.state, a.n, a.nb, coalesce(a.mb, -1), CASE WHEN a.nb > 0 THEN h.head - a.mb + 1 ELSE 0 END,"
        "        p.confirm_depth, h.fin, c.conf < p.amount - p.tol, c.conf > p.amount + p.tol,"
        "        a.received::text, c.conf::text, greatest(p.amount - c.conf, 0)::text, greatest(c.conf - p.amount, 0)::text"
        "   FROM p, a, h, c",
        id);
    if (db_failed(r) || PQntuples(r) != 1) {
        log_error("ingest.eval_failed", "payment_id=%s sqlstate=%s", id, db_sqlstate(r));
        PQclear(r);
        return -1;
    }
    snprintf(e->state, sizeof e->state, "%s", PQgetvalue(r, 0, E_STATE));
    e->n = atoll(PQgetvalue(r, 0, E_N));
    e->n_block = atoll(PQgetvalue(r, 0, E_N_BLOCK));
    e->max_block = atoll(PQgetvalue(r, 0, E_MAX_BLOCK));
    e->confs = atoll(PQgetvalue(r, 0, E_CONFS));
    e->depth = atoll(PQgetvalue(r, 0, E_DEPTH));
    e->finalized = atoll(PQgetvalue(r, 0, E_FINALIZED));
    e->shortfall = PQgetvalue(r, 0, E_SHORTFALL)[0] == 't';
    e->over = PQgetvalue(r, 0, E_OVER)[0] == 't';
    snprintf(e->received, sizeof e->received, "%s", PQgetvalue(r, 0, E_RECEIVED));
    snprintf(e->confirmed, sizeof e->confirmed, "%s", PQgetvalue(r, 0, E_CONFIRMED));
    snprintf(e->short_by, sizeof e->short_by, "%s", PQgetvalue(r, 0, E_SHORT_BY));
    snprintf(e->excess, sizeof e->excess, "%s", PQgetvalue(r, 0, E_EXCESS));
    PQclear(r);
    return 0;
}

/* Opens under/overpaid once per confirmed total: re-evaluations on every head must not
 * reopen what ops already resolved, but a new transfer that changes the total may. */
static int open_amount_exc(PGconn *db, const char *id, long long pid, const char *type, const struct eval *e)
{
    char *seen = db_val(db, "SELECT 1 FROM exceptions WHERE payment_id = $1 AND type = $2 AND transfer_id IS NULL"
                            " AND (state IN ('open','claimed') OR details->>'confirmed_total' = $3) LIMIT 1",
                        id, type, e->confirmed);
    if (seen) {
        free(seen);
        return 0;
    }
    if (PQtransactionStatus(db) == PQTRANS_INERROR) return -1;
    json_t *d = json_pack("{s:s,s:s}", "confirmed_total", e->confirmed, "received", e->received);
    long long rc = exc_open(db, type, pid, 0, !strcmp(type, "underpaid") ? e->short_by : e->excess, d);
    json_decref(d);
    return rc < 0 ? -1 : 0;
}

static int live_reorged(PGconn *db, const char *id)
{
    char *v = db_val(db, "SELECT count(*) FROM exceptions WHERE payment_id = $1 AND type = 'reorged'"
                         " AND state IN ('open','claimed')", id);
    int n = v ? atoi(v) : -1;
    free(v);
    return n;
}

static int move(PGconn *db, long long pid, enum pay_state to, const char *reason, const struct eval *e)
{
    json_t *d = json_pack("{s:s,s:I,s:s}", "reason", reason, "confirmations", (json_int_t)e->confs, "received_units",
                          e->received);
    int rc = lifecycle_transition(db, pid, to, VIA_CHAIN, e->max_block, d);
    json_decref(d);
    return rc;
}

/* The next chain move for the payment, or -1 for none. */
static int next_move(PGconn *db, const char *id, const struct eval *e, enum pay_state s, const char **why)
{
    switch (s) {
    case PS_AWAITING:
        if (!e->n) return -1;
        *why = e->n_block ? "transfer_in_block" : "transfer_in_mempool";
        return e->n_block ? PS_CONFIRMING : PS_DETECTED;
    case PS_DETECTED:
        if (!e->n) return *why = "dropped", PS_AWAITING;
        return e->n_block ? (*why = "transfer_in_block", PS_CONFIRMING) : -1;
    case PS_CONFIRMING:
        /* no counted transfer left in a block: reorged out (a mempool re-report then
         * re-detects it from awaiting — confirming → detected is not a legal move) */
        if (!e->n_block) return *why = "reorged_out", PS_AWAITING;
        if (e->confs >= e->depth && !e->shortfall) return *why = "confirmations_reached", PS_CONFIRMED;
        return -1;
    case PS_CONFIRMED:
        if (e->n_block && e->finalized >= e->max_block && live_reorged(db, id) == 0)
            return *why = "finality_reached", PS_FINALIZED;
        return -1;
    default:
        return -1;
    }
}

/* Exceptions that follow from the state reached. 0 or -1. */
static int after_moves(PGconn *db, const char *id, long long pid, enum pay_state s, const struct eval *e,
                       enum pay_state from)
{
    if (s == PS_CONFIRMING && e->n_block && e->confs >= e->depth && e->shortfall)
        return open_amount_exc(db, id, pid, "underpaid", e);
    if ((s == PS_CONFIRMED || s == PS_FINALIZED) && e->over && open_amount_exc(db, id, pid, "overpaid", e)) return -1;
    if (s == PS_CONFIRMED && from != PS_CONFIRMED) {
        if (exc_auto_close(db, "underpaid", pid, 0, "confirmed total reached the amount") < 0) return -1;
        if (exc_auto_close(db, "stuck_unconfirmed", pid, 0, "payment confirmed") < 0) return -1;
    }
    if (s == PS_AWAITING && from == PS_DETECTED &&
        exc_auto_close(db, "stuck_unconfirmed", pid, 0, "transfer dropped from the mempool") < 0)
        return -1;
    return 0;
}

static int store_totals(PGconn *db, const char *id, const struct eval *e)
{
    char confs[32];
    LL(confs, e->confs);
    /* only write when something changed: every payments UPDATE is a change-log row */
    PGresult *r = db_q(db,
        "UPDATE payments SET received = $2, confirmed_amount = $3, confirmations = c.v, updated_at = now()"
        "  FROM (SELECT CASE WHEN state IN ('confirming','confirmed') THEN $4::int ELSE confirmations END AS v"
        "          FROM payments WHERE id = $1) c"
        " WHERE id = $1 AND (received, confirmed_amount, confirmations) IS DISTINCT FROM ($2::numeric, $3::numeric, c.v)",
        id, e->received, e->confirmed, confs);
    int rc = db_failed(r) ? -1 : 0;
    PQclear(r);
    return rc;
}

int ingest_eval_payment(PGconn *db, long long pid)
{
    char id[32];
    LL(id, pid);
    struct eval e;   /* eval_load takes the row lock */
    if (eval_load(db, id, &e) || store_totals(db, id, &e)) return -1;
    enum pay_state s, from;
    if (pay_state_parse(e.state, &s)) return -1;
    from = s;
    int moves = 0;
    for (int i = 0; i < 6; i++) {
        const char *why = "";
        int to = next_move(db, id, &e, s, &why);
        if (to < 0) break;
        if (move(db, pid, (enum pay_state)to, why, &e)) return -1;
        if (after_moves(db, id, pid, (enum pay_state)to, &e, s)) return -1;
        s = (enum pay_state)to;
        moves++;
    }
    if (!moves && after_moves(db, id, pid, s, &e, from)) return -1;
    /* lifecycle zeroes confirmations on awaiting/detected; set them for the state reached */
    if (moves && (s == PS_CONFIRMING || s == PS_CONFIRMED) && store_totals(db, id, &e)) return -1;
    return moves;
}

/* ------------------------------------------------------------ heads */

/* Decision on a head lower than the stored one: chains do shrink (a reorg onto a shorter
 * fork) and watcher replicas lag, and confirmations should show the truth, so a lower head
 * is accepted — but never below the stored finalized height (finality does not go back;
 * that report is wrong or from another chain: 409). The finalized height itself only ever
 * rises. Payments are never moved backwards by heads: removed transfers do that. */
int ingest_head(PGconn *db, const char *network, long long head, long long finalized, int check_jump, json_t **out)
{
    char h[32], f[32];
    LL(h, head);
    LL(f, finalized);
    if (ingest_lock_network(db, network)) return -1;
    enum { H_STORED_FIN, H_FIN, H_JUMP };
    PGresult *r = db_q(db,
        "SELECT coalesce((SELECT finalized FROM chain_heads WHERE network = $1), -1),"
        "       CASE WHEN $3::bigint >= 0 THEN $3::bigint"
        "            ELSE $2::bigint - coalesce((SELECT max(finality_depth) FROM rails WHERE network = $1), 0) END,"
        "       coalesce((SELECT $2::bigint > h.head + n.max_head_jump FROM chain_heads h JOIN networks n"
        "                  ON n.name = h.network WHERE h.network = $1), false)",
        network, h, f);
    if (db_failed(r)) {
        PQclear(r);
        return -1;
    }
    long long stored_fin = atoll(PQgetvalue(r, 0, H_STORED_FIN)), fin = atoll(PQgetvalue(r, 0, H_FIN));
    int jump = PQgetvalue(r, 0, H_JUMP)[0] == 't';
    PQclear(r);
    if (head < stored_fin) return -4;
    if (jump && check_jump) return -5;
    if (fin > head) fin = head;
    if (fin < stored_fin) fin = stored_fin;
    LL(f, fin);
    r = db_q(db, "INSERT INTO chain_heads (network, head, finalized) VALUES ($1, $2, $3)"
                 " ON CONFLICT (network) DO UPDATE SET head = $2, finalized = $3, updated_at = now()",
             network, h, f);
    int bad = db_failed(r);
    PQclear(r);
    if (bad) return -1;

    /* open payments in a block on this network (index payments_open_by_rail), locked in id
     * order; only those that can move get the full evaluation, the rest get their
     * confirmation count refreshed in one statement. Decision: that refresh is for
     * confirming payments only — a confirmed payment's count is refreshed when it
     * finalizes, not on each of the (up to ~200) blocks between: every payments UPDATE is a
     * change-log row and a console wake-up, and nothing depends on the count after
     * confirmation. */
    enum { O_ID, O_CAN_MOVE };
    r = db_q(db,
        "WITH o AS (SELECT p.id, p.state, p.confirmations, r.confirm_depth FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment"
        "            WHERE r.network = $1 AND p.state IN ('confirming','confirmed') ORDER BY p.id FOR UPDATE OF p),"
        " a AS (SELECT t.payment_id, max(t.block_number) AS mb FROM chain_transfers t JOIN o ON o.id = t.payment_id"
        "        WHERE t.counted AND t.status = 'seen' AND t.block_number IS NOT NULL GROUP BY t.payment_id)"
        " SELECT o.id, (o.state = 'confirming' AND a.mb IS NOT NULL AND $2::bigint - a.mb + 1 >= o.confirm_depth)"
        "           OR (o.state = 'confirmed' AND a.mb IS NOT NULL AND a.mb <= $3::bigint)"
        "           OR (o.state = 'confirming' AND a.mb IS NULL)"
        " FROM o LEFT JOIN a ON a.payment_id = o.id ORDER BY o.id",
        network, h, f);
    if (db_failed(r)) {
        log_error("ingest.head_scan_failed", "network=%s sqlstate=%s", network, db_sqlstate(r));
        PQclear(r);
        return -1;
    }
    int n = PQntuples(r), transitions = 0, evaluated = 0;
    for (int i = 0; i < n; i++) {
        if (PQgetvalue(r, i, O_CAN_MOVE)[0] != 't') continue;
        int m = ingest_eval_payment(db, atoll(PQgetvalue(r, i, O_ID)));
        if (m < 0) {
            PQclear(r);
            return -1;
        }
        evaluated++;
        transitions += m;
    }
    PQclear(r);
    r = db_q(db,
        "UPDATE payments p SET confirmations = greatest($2::bigint - x.mb + 1, 1), updated_at = now()"
        "  FROM (SELECT t.payment_id, max(t.block_number) AS mb FROM chain_transfers t"
        "          JOIN payments q ON q.id = t.payment_id JOIN rails r ON r.id = q.rail AND r.environment = q.environment"
        "         WHERE r.network = $1 AND q.state = 'confirming' AND t.counted AND t.status = 'seen'"
        "           AND t.block_number IS NOT NULL GROUP BY t.payment_id) x"
        " WHERE p.id = x.payment_id AND p.confirmations IS DISTINCT FROM greatest($2::bigint - x.mb + 1, 1)::int",
        network, h);
    bad = db_failed(r);
    PQclear(r);
    if (bad) return -1;
    log_info("chain.head", "network=%s head=%lld finalized=%lld open=%d evaluated=%d transitions=%d", network, head,
             fin, n, evaluated, transitions);
    *out = json_pack("{s:s,s:I,s:I,s:i,s:i}", "network", network, "head", (json_int_t)head, "finalized",
                     (json_int_t)fin, "evaluated", evaluated, "transitions", transitions);
    return 0;
}
