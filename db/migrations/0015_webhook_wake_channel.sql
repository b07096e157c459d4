-- 0015: a channel of its own for waking dispatchers. They used to LISTEN on railtop_changes,
-- the console's feed, and so woke (process and backend) for every payment, exception and
-- audit change: ~1400 wake-ups a second under the payment-creation bench, for nothing.
-- railtop_webhooks carries only what a dispatcher acts on: new outbox events (fan-out),
-- changed deliveries and endpoints (an operator's retry, an endpoint enabled: claim) and new
-- recover jobs. Statement triggers with transition tables, so a statement that changed no
-- row (an empty claim) sends nothing and cannot wake the dispatcher in a loop.
CREATE FUNCTION webhook_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_rows) THEN
        PERFORM pg_notify('railtop_webhooks', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER webhook_outbox_wake AFTER INSERT ON webhook_outbox
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_wake();
CREATE TRIGGER webhook_deliveries_wake AFTER UPDATE ON webhook_deliveries
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_wake();
CREATE TRIGGER webhook_endpoints_wake AFTER UPDATE ON webhook_endpoints
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_wake();
CREATE TRIGGER webhook_recover_jobs_wake AFTER INSERT ON webhook_recover_jobs
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_wake();
