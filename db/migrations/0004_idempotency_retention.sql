-- 0004: idempotency keys are kept 7 days (the sweeper deletes older ones in batches);
-- a retry after that creates a new payment, as with the usual 24 h of card APIs.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
