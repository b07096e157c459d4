/* lifecycle — the payment state machine (DESIGN §3), see lifecycle.h.
 *
 * Decisions:
 * - ONE table, state × state → the set of actors allowed to make that move.
 * - Back-moves (detected → awaiting when a mempool transfer is dropped, confirming →
 *   awaiting when the block is reorged out) are recorded in payment_events as
 *   `payment.awaiting_payment` with the reason, but are NOT sent as webhooks: DESIGN §5
 *   fixes the merchant-facing event types and neither detected nor confirming is a state a
 *   merchant may act on (only confirmed/finalized are). The next event the merchant gets
 *   (detected again, expired, …) carries a higher sequence and the full payment, so a
 *   consumer that keeps the highest-sequence copy converges on the truth.
 * - Every webhook carries the payment JSON after the move and sequence = the payment's new
 *   sequence, so consumers can drop stale, out-of-order updates.
 * - Entering detected/confirming stamps detected_at (kept across detected → confirming);
 *   a back-move to awaiting clears it so the stuck-unconfirmed window restarts. */
#include "raild/lifecycle.h"
#include "raild/metrics.h"
#include "raild/webhook_outbox.h"
#include "raild/payments.h"
#include "core/catalog.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the catalogue's names, in enum pay_state order (tests/unit/test_catalog.c checks both) */
#define state_names payment_states

#define B(v) (1u << (v))
#define CH B(VIA_CHAIN)
#define ME B(VIA_MERCHANT)
#define SW B(VIA_SWEEPER)
#define RE B(VIA_RESOLUTION)

/* allowed[from][to] = bit set of transition_via that may make the move */
static const unsigned allowed[PS__COUNT][PS__COUNT] = {
    [PS_AWAITING] = {
        [PS_DETECTED] = CH,        /* transfer seen in the mempool */
        [PS_CONFIRMING] = CH,      /* transfer first seen already in a block */
        [PS_EXPIRED] = SW,         /* nothing arrived before expires_at */
        [PS_CANCELED] = ME,        /* merchant canceled before any transfer */
    },
    [PS_DETECTED] = {
        [PS_CONFIRMING] = CH,      /* the transfer was mined */
        [PS_AWAITING] = CH,        /* dropped from the mempool */
    },
    [PS_CONFIRMING] = {
        [PS_CONFIRMED] = CH | RE,  /* depth reached (chain) or accept_partial (operator) */
        [PS_AWAITING] = CH,        /* reorged out before confirmation */
    },
    [PS_CONFIRMED] = {
        [PS_FINALIZED] = CH,       /* finality reached; a later reorg opens `reorged` instead */
    },
    [PS_EXPIRED] = {
        /* only an audited accept_late resolution brings an expired payment back */
        [PS_DETECTED] = RE,
        [PS_CONFIRMING] = RE,
        [PS_CONFIRMED] = RE,
    },
    /* finalized and canceled are terminal */
};

const char *pay_state_name(enum pay_state s)
{
    return (s >= 0 && s < PS__COUNT) ? state_names[s] : "unknown";
}

int pay_state_parse(const char *s, enum pay_state *out)
{
    for (int i = 0; s && i < PS__COUNT; i++)
        if (!strcmp(s, state_names[i])) {
            *out = (enum pay_state)i;
            return 0;
        }
    return -1;
}

const char *transition_via_name(enum transition_via via)
{
    switch (via) {
    case VIA_CHAIN: return "chain";
    case VIA_MERCHANT: return "merchant";
    case VIA_SWEEPER: return "sweeper";
    case VIA_RESOLUTION: return "resolution";
    }
    return "unknown";
}

int lifecycle_allowed(enum pay_state from, enum pay_state to, enum transition_via via)
{
    if (from < 0 || from >= PS__COUNT || to < 0 || to >= PS__COUNT) return 0;
    if ((unsigned)via > VIA_RESOLUTION) return 0;
    return (allowed[from][to] & B(via)) != 0;
}

int lifecycle_to_webhook(enum pay_state to)
{
    return to != PS_AWAITING;
}

static int event_insert(PGconn *db, const char *evt, long long payment_id, int seq, const char *type,
                        const char *from, const char *to, long long block, json_t *data)
{
    char pid[32], sq[16], blk[32];
    snprintf(pid, sizeof pid, "%lld", payment_id);
    snprintf(sq, sizeof sq, "%d", seq);
    snprintf(blk, sizeof blk, "%lld", block);
    char *d = json_dumps(data, JSON_COMPACT);
    PGresult *r = db_q(db, "INSERT INTO payment_events (event_id, payment_id, sequence, type, from_state, to_state,"
                           " block_number, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)",
                       evt, pid, sq, type, from, to, block >= 0 ? blk : NULL, d ? d : "{}");
    int rc = db_failed(r) ? -1 : 0;
    if (rc) log_error("lifecycle.event_failed", "payment_id=%lld sqlstate=%s", payment_id, db_sqlstate(r));
    PQclear(r);
    free(d);
    return rc;
}

int lifecycle_record_created(PGconn *db, long long payment_id, json_t *data)
{
    char evt[48];
    util_random_id("evt_", evt, sizeof evt);
    json_t *d = data ? json_deep_copy(data) : json_object();
    int rc = event_insert(db, evt, payment_id, 0, "payment.created", NULL, "awaiting_payment", -1, d);
    json_decref(d);
    return rc;
}

int lifecycle_transition(PGconn *db, long long payment_id, enum pay_state to, enum transition_via via,
                         long long block_number, json_t *data)
{
    char pid[32];
    snprintf(pid, sizeof pid, "%lld", payment_id);
    enum { PS_STATE, PS_MERCHANT, PS_ENV, PS_PUBLIC_ID };
    PGresult *r = db_q(db, "SELECT state, merchant_id, environment, public_id FROM payments WHERE id = $1", pid);
    if (db_failed(r) || PQntuples(r) != 1) {
        PQclear(r);
        return -2;
    }
    enum pay_state from = PS_AWAITING;
    char env[16], pub[64];
    long long merchant = atoll(PQgetvalue(r, 0, PS_MERCHANT));
    snprintf(env, sizeof env, "%s", PQgetvalue(r, 0, PS_ENV));
    snprintf(pub, sizeof pub, "%s", PQgetvalue(r, 0, PS_PUBLIC_ID));
    int bad = pay_state_parse(PQgetvalue(r, 0, PS_STATE), &from);
    PQclear(r);
    if (bad || !lifecycle_allowed(from, to, via)) {
        log_warn("payment.transition_rejected", "payment=%s from=%s to=%s via=%s", pub, pay_state_name(from),
                 pay_state_name(to), transition_via_name(via));
        return -1;
    }

    r = db_q(db, "UPDATE payments SET state = $2, sequence = sequence + 1, updated_at = clock_timestamp(),"
                 " detected_at = CASE WHEN $2 IN ('detected','confirming','confirmed') THEN coalesce(detected_at, clock_timestamp())"
                 "                    WHEN $2 = 'awaiting_payment' THEN NULL ELSE detected_at END,"
                 " confirmed_at = CASE WHEN $2 = 'confirmed' THEN clock_timestamp() ELSE confirmed_at END,"
                 " finalized_at = CASE WHEN $2 = 'finalized' THEN clock_timestamp() ELSE finalized_at END,"
                 " confirmations = CASE WHEN $2 IN ('awaiting_payment','detected') THEN 0 ELSE confirmations END"
                 " WHERE id = $1 RETURNING sequence",
             pid, pay_state_name(to));
    if (db_failed(r) || PQntuples(r) != 1) {
        PQclear(r);
        return -2;
    }
    int seq = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);

    char type[64], evt[48];
    snprintf(type, sizeof type, "payment.%s", pay_state_name(to));
    json_t *ev = json_pack("{s:s,s:s}", "via", transition_via_name(via), "from", pay_state_name(from));
    if (data) json_object_update(ev, data);
    int rc = 0;
    if (lifecycle_to_webhook(to)) {
        json_t *pj = payment_json(db, payment_id);
        rc = (!pj || outbox_write(db, merchant, env, type, payment_id, 0, seq, pj, evt)) ? -2 : 0;
        json_decref(pj);
    } else {
        util_random_id("evt_", evt, sizeof evt);
    }
    if (!rc && event_insert(db, evt, payment_id, seq, type, pay_state_name(from), pay_state_name(to),
                            block_number, ev))
        rc = -2;
    json_t *reason = json_object_get(ev, "reason");
    if (!rc) {
        metrics_transition(pay_state_name(to));
        log_info("payment.transition", "payment=%s from=%s to=%s via=%s seq=%d block=%lld reason=%s", pub,
                 pay_state_name(from), pay_state_name(to), transition_via_name(via), seq, block_number,
                 json_is_string(reason) ? json_string_value(reason) : "-");
    }
    json_decref(ev);
    return rc;
}
