-- 0002: least-privilege database roles.
--   railtop_app     — what raild serve needs: DML on the gateway's tables, no DDL.
--   railtop_console — the console: read-only, and never the key hashes.
-- Roles are cluster-wide; creating them needs CREATEROLE. Without it the
-- migration only warns, so raild can be migrated by a plain database owner.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    BEGIN CREATE ROLE railtop_app LOGIN;
    EXCEPTION WHEN insufficient_privilege THEN RAISE WARNING 'cannot create role railtop_app: ask a DBA'; END;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    BEGIN CREATE ROLE railtop_console LOGIN;
    EXCEPTION WHEN insufficient_privilege THEN RAISE WARNING 'cannot create role railtop_console: ask a DBA'; END;
  END IF;
END $$;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT USAGE ON SCHEMA public TO railtop_app';
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO railtop_app';
    EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO railtop_app';
    -- the history tables are append-only for the application
    EXECUTE 'REVOKE UPDATE, DELETE ON audit_log, change_log, payment_events FROM railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT USAGE ON SCHEMA public TO railtop_console';
    EXECUTE 'GRANT SELECT ON ALL TABLES IN SCHEMA public TO railtop_console';
    EXECUTE 'REVOKE SELECT ON api_keys, idempotency_keys FROM railtop_console';
    EXECUTE 'GRANT SELECT (id, name, role, merchant_id, environment, prefix, created_at, revoked_at, last_used_at)
             ON api_keys TO railtop_console';
    EXECUTE 'ALTER ROLE railtop_console SET default_transaction_read_only = on';
  END IF;
END $$;
