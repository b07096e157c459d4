-- 0031: two more console pages that must stay indexed at any depth.
-- "D: all recent deliveries" pages one environment by (created_at, id) descending.
CREATE INDEX webhook_deliveries_console_env ON webhook_deliveries (environment, created_at DESC, id DESC);
-- :exceptions state=all pages the whole table in queue order.
CREATE INDEX exceptions_console_all ON exceptions ((5 - severity), sla_due, id);
