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

-- Per-endpoint rate limit, set by support (POST /v1/webhook-endpoints/{id}/rate-limit):
-- at most rate_limit_per_s deliveries a second, across every dispatcher. The claim locks the
-- endpoint's row in webhook_endpoint_rate (FOR UPDATE) and adds what it claimed to the
-- current second's count, so two dispatchers take turns instead of each taking the limit.
ALTER TABLE webhook_endpoints ADD COLUMN rate_limit_per_s integer
  CHECK (rate_limit_per_s IS NULL OR rate_limit_per_s BETWEEN 1 AND 10000);
CREATE TABLE webhook_endpoint_rate (
    endpoint_id  bigint PRIMARY KEY REFERENCES webhook_endpoints(id),
    window_start timestamptz NOT NULL DEFAULT 'epoch',
    used         integer NOT NULL DEFAULT 0
);

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoint_rate TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT (rate_limit_per_s) ON webhook_endpoints TO railtop_console';
  END IF;
END $$;
