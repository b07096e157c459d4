-- 0070: the console's Overview tab (DESIGN §9) reads per-minute rollups, never history.
-- One narrow table, one row per (environment, metric, minute, subject, bucket):
--   counters, recomputed by the sweeper from the rows themselves for the last minutes (so a
--   late commit or a second raild copy changes nothing): payments_created and
--   payments_finalized per rail; finality per rail and bucket (seconds from detection to
--   finality, 8 buckets per doubling, see rollup_finality_bucket below);
--   counters added by the dispatcher in the statement that records a batch of attempts:
--   webhook_attempts and webhook_successes per endpoint (subject = endpoint id);
--   gauges sampled by the sweeper every pass into the current minute (last sample wins):
--   exceptions_open, exceptions_overdue (past their SLA), breaks_open per class,
--   chain_lag per network (blocks between the node's head and raild's checkpoint).
-- The sweeper deletes rows older than 26 hours: `:overview 24h` is the longest window.
CREATE TABLE console_rollup (
    environment text NOT NULL,
    metric      text NOT NULL CHECK (metric IN ('payments_created', 'payments_finalized', 'finality',
                    'webhook_attempts', 'webhook_successes', 'exceptions_open', 'exceptions_overdue',
                    'breaks_open', 'chain_lag')),
    minute      timestamptz NOT NULL CHECK (minute = date_trunc('minute', minute)),
    subject     text NOT NULL DEFAULT '',
    bucket      smallint NOT NULL DEFAULT 0,
    value       bigint NOT NULL,
    -- (environment, minute) first: the Overview reads one environment's window, and the
    -- sweeper's retention and recomputed windows go environment by environment, range scans
    PRIMARY KEY (environment, minute, metric, subject, bucket)
);

-- Finality buckets: bucket b holds durations in [2^(b/8), 2^((b+1)/8)) seconds (1 s and
-- below in bucket 0): about 9 % wide, so a p95 read from them is within 9 % of the truth.
CREATE FUNCTION rollup_finality_bucket(secs double precision) RETURNS smallint
    LANGUAGE sql IMMUTABLE AS $$ SELECT floor(8 * log(2, greatest(secs, 1)::numeric))::smallint $$;
CREATE FUNCTION rollup_bucket_upper_s(b smallint) RETURNS double precision
    LANGUAGE sql IMMUTABLE AS $$ SELECT power(2::float8, (b + 1)::float8 / 8) $$;   -- float8: numeric power is slow

-- payments per minute: the sweeper counts by creation time
CREATE INDEX payments_created_at ON payments (created_at);

-- what the dispatcher recorded before this migration: the last 26 hours of attempts
INSERT INTO console_rollup (environment, metric, minute, subject, value)
SELECT e.environment, m.metric, date_trunc('minute', a.finished_at), a.endpoint_id::text,
       count(*) FILTER (WHERE m.metric = 'webhook_attempts' OR a.success)
FROM webhook_attempts a JOIN webhook_endpoints e ON e.id = a.endpoint_id
CROSS JOIN (VALUES ('webhook_attempts'), ('webhook_successes')) AS m(metric)
WHERE a.finished_at >= now() - interval '26 hours' AND coalesce(a.error, '') NOT LIKE 'abandoned%'
GROUP BY 1, 2, 3, 4;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON console_rollup TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT ON console_rollup TO railtop_console';
  END IF;
END $$;
