/* outbox — webhook events (DESIGN §5), written in the same transaction as the change
 * that caused them. Envelope, exactly the bytes later signed and sent:
 *   {"id":"evt_…","type":"payment.confirmed","created_at":"2026-…Z","environment":"sandbox",
 *    "sequence":3,"data":{…}}
 * The dispatcher (webhooks) delivers rows of webhook_outbox; the console shows them. */
#ifndef RAILD_WEBHOOK_OUTBOX_H
#define RAILD_WEBHOOK_OUTBOX_H
#include <jansson.h>
#include <libpq-fe.h>

/* Writes one event. payment_id / exception_id may be 0. data is borrowed.
 * event_id_out (>= 40 bytes, may be NULL) receives the evt_ id. Returns 0 or -1. */
int outbox_write(PGconn *db, long long merchant_id, const char *environment, const char *type,
                 long long payment_id, long long exception_id, int sequence, json_t *data,
                 char *event_id_out);
#endif
