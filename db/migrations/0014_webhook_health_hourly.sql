-- 0014: endpoint health over 24 h from hourly counters instead of counting attempts.
-- The view used to count an endpoint's attempts of the last 24 h row by row: hundreds of
-- thousands for a busy endpoint, too slow for the console's endpoint list (which showed the
-- last 200 attempts instead). The dispatcher now adds each batch's outcomes to one row per
-- (endpoint, hour) in the same statement that records them; health sums the current hour
-- and the 23 before it. Only recorded HTTP outcomes count: an attempt abandoned by a
-- dispatcher that stopped is not the endpoint's failure.
CREATE TABLE webhook_endpoint_hourly (
    endpoint_id bigint NOT NULL REFERENCES webhook_endpoints(id),
    hour        timestamptz NOT NULL,                 -- date_trunc('hour', when recorded)
    attempts    integer NOT NULL DEFAULT 0,
    successes   integer NOT NULL DEFAULT 0,
    PRIMARY KEY (endpoint_id, hour)
);

INSERT INTO webhook_endpoint_hourly (endpoint_id, hour, attempts, successes)
SELECT endpoint_id, date_trunc('hour', finished_at), count(*), count(*) FILTER (WHERE success)
FROM webhook_attempts
WHERE finished_at >= date_trunc('hour', now()) - interval '23 hours'
  AND coalesce(error, '') NOT LIKE 'abandoned%'
GROUP BY 1, 2;

CREATE OR REPLACE VIEW webhook_endpoint_health AS
SELECT e.id AS endpoint_id,
       coalesce(a.attempts, 0) AS attempts_24h,
       coalesce(a.successes, 0) AS successes_24h,
       CASE WHEN coalesce(a.attempts, 0) = 0 THEN NULL
            ELSE round(a.successes::numeric / a.attempts, 4) END AS success_rate_24h,
       e.consecutive_failures, e.failing_since, e.last_error, e.last_attempt_at, e.last_success_at
FROM webhook_endpoints e
LEFT JOIN LATERAL (
    SELECT sum(h.attempts)::bigint AS attempts, sum(h.successes)::bigint AS successes
    FROM webhook_endpoint_hourly h
    WHERE h.endpoint_id = e.id AND h.hour >= date_trunc('hour', now()) - interval '23 hours'
) a ON true;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE ON webhook_endpoint_hourly TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT ON webhook_endpoint_hourly TO railtop_console';
  END IF;
END $$;
