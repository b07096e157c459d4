-- 0012: the claim takes due work per enabled endpoint (at most that endpoint's free room),
-- so an endpoint with a large backlog and no room costs one empty index probe instead of a
-- walk over its whole backlog (the old global (next_attempt_at) scan filtered such rows one
-- by one: 75-150 ms a claim behind a 20,000-delivery backlog). The new index replaces the
-- old one (nothing else scans due work across endpoints): one index to maintain per write.
CREATE INDEX webhook_deliveries_due_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at)
  WHERE status IN ('pending','in_flight');
DROP INDEX webhook_deliveries_due;
