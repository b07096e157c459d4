/* webhook_outbox — webhook events written with the change that caused them (webhook_outbox.h).
 * The envelope is serialized exactly once, here; webhook_outbox.payload holds those
 * bytes and the dispatcher signs and sends them unchanged, so a redelivery is
 * byte-identical to the first attempt. */
#include "raild/webhook_outbox.h"
#include "core/db.h"
#include "core/log.h"
#include "core/util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* now as RFC 3339 UTC with milliseconds: 2026-11-26T12:00:00.123Z */
static void now_rfc3339(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(tv.tv_usec / 1000));
}

int outbox_write(PGconn *db, long long merchant_id, const char *environment, const char *type,
                 long long payment_id, long long exception_id, int sequence, json_t *data,
                 char *event_id_out)
{
    char evt[48], created[32];
    util_random_id("evt_", evt, sizeof evt);
    now_rfc3339(created);
    /* jansson keeps insertion order: the field order below is the wire order */
    json_t *env = json_object();
    json_object_set_new(env, "id", json_string(evt));
    json_object_set_new(env, "type", json_string(type));
    json_object_set_new(env, "created_at", json_string(created));
    json_object_set_new(env, "environment", json_string(environment));
    json_object_set_new(env, "sequence", json_integer(sequence));
    json_object_set(env, "data", data ? data : json_object());
    if (!data) json_decref(json_object_get(env, "data"));
    char *payload = json_dumps(env, JSON_COMPACT);
    json_decref(env);
    if (!payload) return -1;

    char mid[32], pid[32], xid[32], seq[16];
    snprintf(mid, sizeof mid, "%lld", merchant_id);
    snprintf(pid, sizeof pid, "%lld", payment_id);
    snprintf(xid, sizeof xid, "%lld", exception_id);
    snprintf(seq, sizeof seq, "%d", sequence);
    PGresult *r = db_q(db, "INSERT INTO webhook_outbox (event_id, merchant_id, environment, type, payment_id,"
                           " exception_id, sequence, payload, created_at)"
                           " VALUES ($1, $2, $3, $4, NULLIF($5::bigint, 0), NULLIF($6::bigint, 0), $7, $8, $9)",
                       evt, mid, environment, type, pid, xid, seq, payload, created);
    int rc = db_failed(r) ? -1 : 0;
    if (rc) log_error("outbox.write_failed", "type=%s sqlstate=%s", type, db_sqlstate(r));
    PQclear(r);
    free(payload);
    if (!rc && event_id_out) memcpy(event_id_out, evt, strlen(evt) + 1 < 40 ? strlen(evt) + 1 : 40);
    return rc;
}
