-- 0074: the webhook last mile (DESIGN §5, issue 13).
--   webhook_endpoints.disabled_by   who or what disabled it: an operator's key name, or
--                                   'raild' (410 Gone, every attempt failing for
--                                   RAILD_WEBHOOK_DISABLE_AFTER)
--   webhook_outbox.exclude_endpoint an event about one endpoint (endpoint.disabled,
--                                   delivery.exhausted) goes to the merchant's *other*
--                                   endpoints: fan-out skips this one
ALTER TABLE webhook_endpoints ADD COLUMN disabled_by text;
UPDATE webhook_endpoints SET disabled_by = 'raild'
  WHERE status = 'disabled' AND disabled_reason = 'the endpoint answered 410 Gone';
ALTER TABLE webhook_outbox ADD COLUMN exclude_endpoint bigint REFERENCES webhook_endpoints(id);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT (disabled_by) ON webhook_endpoints TO railtop_console';
  END IF;
END $$;
