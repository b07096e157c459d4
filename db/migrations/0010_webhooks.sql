-- 0010: signed webhook delivery (DESIGN §5).
--   webhook_endpoints    merchant-registered URLs, secrets, health counters
--   webhook_deliveries   one row per (outbox event, subscribed endpoint): the work queue
--   webhook_attempts     one row per HTTP attempt, written when it starts and finished after
--   webhook_recover_jobs operator "re-queue failed deliveries in a window" jobs
--
-- Secrets at rest: the dispatcher must sign, so it needs the key itself (HMAC — a hash
-- would not do). `secret` / `old_secret` hold "aes:<base64 iv|tag|ciphertext>" sealed with
-- AES-256-GCM under RAILD_SECRETS_KEY when raild has that key, otherwise "plain:whsec_…"
-- (raild warns at start). Either way the console role cannot SELECT these columns and
-- raild never logs them.

CREATE TABLE webhook_endpoints (
    id                    bigserial PRIMARY KEY,
    public_id             text NOT NULL UNIQUE,                  -- 'we_…'
    merchant_id           bigint NOT NULL REFERENCES merchants(id),
    environment           text NOT NULL REFERENCES environments(name),
    url                   text NOT NULL CHECK (length(url) BETWEEN 10 AND 2048),
    description           text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    event_types           text[] NOT NULL DEFAULT '{}',          -- empty: every event
    status                text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled','disabled','deleted')),
    disabled_reason       text,
    disabled_at           timestamptz,
    secret                text NOT NULL,                         -- SECRET: never granted to the console
    old_secret            text,                                  -- SECRET: still signs until old_secret_expires_at
    old_secret_expires_at timestamptz,
    secret_rotated_at     timestamptz,
    consecutive_failures  integer NOT NULL DEFAULT 0,
    failing_since         timestamptz,
    last_error            text,
    last_attempt_at       timestamptz,
    last_success_at       timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    deleted_at            timestamptz
);
CREATE INDEX webhook_endpoints_merchant ON webhook_endpoints (merchant_id, environment, id DESC) WHERE status <> 'deleted';

-- status: pending (due at next_attempt_at) → in_flight (leased until in_flight_until; an
-- expired lease is claimable again, so a killed dispatcher's work is redelivered) →
-- succeeded | failed (dead; operators retry or recover) | canceled (endpoint deleted).
CREATE TABLE webhook_deliveries (
    id               bigserial PRIMARY KEY,
    endpoint_id      bigint NOT NULL REFERENCES webhook_endpoints(id),
    outbox_id        bigint NOT NULL REFERENCES webhook_outbox(id),
    event_id         text NOT NULL,
    event_type       text NOT NULL,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    environment      text NOT NULL REFERENCES environments(name),
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending','in_flight','succeeded','failed','canceled')),
    attempts         integer NOT NULL DEFAULT 0,   -- attempts started (the lease token)
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    in_flight_until  timestamptz,
    leased_by        text,
    trigger          text NOT NULL DEFAULT 'scheduled' CHECK (trigger IN ('scheduled','manual')),
    operator         text,                          -- who asked for the pending manual attempt
    last_http_status integer,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    UNIQUE (endpoint_id, outbox_id)
);
-- the claim scans due work only
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status IN ('pending','in_flight');
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_recent ON webhook_deliveries (created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (endpoint_id, created_at) WHERE status = 'failed';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

CREATE TABLE webhook_attempts (
    id             bigserial PRIMARY KEY,
    delivery_id    bigint NOT NULL REFERENCES webhook_deliveries(id),
    endpoint_id    bigint NOT NULL REFERENCES webhook_endpoints(id),
    attempt_no     integer NOT NULL,
    trigger        text NOT NULL CHECK (trigger IN ('scheduled','manual')),
    operator       text,
    dispatcher     text NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,                       -- NULL while in flight
    duration_ms    integer,
    http_status    integer,
    response_body  text CHECK (length(response_body) <= 2048),  -- first 2 KiB
    error          text,                              -- timeout, refused, TLS, lease expired…
    success        boolean,
    signature      text,                              -- the webhook-signature header sent (not secret)
    webhook_timestamp bigint,
    UNIQUE (delivery_id, attempt_no)                  -- one attempt in flight once, ever
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, started_at DESC);

CREATE TABLE webhook_recover_jobs (
    id            bigserial PRIMARY KEY,
    endpoint_id   bigint NOT NULL REFERENCES webhook_endpoints(id),
    since         timestamptz NOT NULL,
    until         timestamptz NOT NULL,
    status        text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued','running','done','failed')),
    total         integer,          -- failed deliveries found in the window
    requeued      integer NOT NULL DEFAULT 0,
    last_delivery_id bigint NOT NULL DEFAULT 0,   -- keyset position, so a job resumes after a crash
    lease_until   timestamptz,                    -- a running job whose lease lapsed is picked up again
    requested_by  text NOT NULL,
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    finished_at   timestamptz,
    CHECK (until > since)
);
CREATE INDEX webhook_recover_jobs_queued ON webhook_recover_jobs (id) WHERE status IN ('queued','running');

-- Health as operators read it (API and console): success rate over 24 h from attempts,
-- streak counters from the endpoint row. No secret columns.
CREATE VIEW webhook_endpoint_health AS
SELECT e.id AS endpoint_id,
       coalesce(a.attempts, 0) AS attempts_24h,
       coalesce(a.successes, 0) AS successes_24h,
       CASE WHEN coalesce(a.attempts, 0) = 0 THEN NULL
            ELSE round(a.successes::numeric / a.attempts, 4) END AS success_rate_24h,
       e.consecutive_failures, e.failing_since, e.last_error, e.last_attempt_at, e.last_success_at
FROM webhook_endpoints e
LEFT JOIN LATERAL (
    SELECT count(*) FILTER (WHERE finished_at IS NOT NULL) AS attempts,
           count(*) FILTER (WHERE success) AS successes
    FROM webhook_attempts w
    WHERE w.endpoint_id = e.id AND w.started_at > now() - interval '24 hours'
) a ON true;

CREATE TRIGGER webhook_endpoints_changes AFTER INSERT OR UPDATE ON webhook_endpoints
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER webhook_deliveries_changes AFTER INSERT OR UPDATE ON webhook_deliveries
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER webhook_attempts_changes AFTER INSERT OR UPDATE ON webhook_attempts
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER webhook_recover_jobs_changes AFTER INSERT OR UPDATE ON webhook_recover_jobs
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_endpoints, webhook_deliveries, webhook_attempts,
             webhook_recover_jobs TO railtop_app';
    EXECUTE 'GRANT SELECT ON webhook_endpoint_health TO railtop_app';
    EXECUTE 'GRANT USAGE, SELECT ON webhook_endpoints_id_seq, webhook_deliveries_id_seq, webhook_attempts_id_seq,
             webhook_recover_jobs_id_seq TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT ON webhook_deliveries, webhook_attempts, webhook_recover_jobs, webhook_endpoint_health
             TO railtop_console';
    -- every column but secret and old_secret
    EXECUTE 'GRANT SELECT (id, public_id, merchant_id, environment, url, description, event_types, status,
             disabled_reason, disabled_at, old_secret_expires_at, secret_rotated_at, consecutive_failures,
             failing_since, last_error, last_attempt_at, last_success_at, created_at, updated_at, deleted_at)
             ON webhook_endpoints TO railtop_console';
  END IF;
END $$;
