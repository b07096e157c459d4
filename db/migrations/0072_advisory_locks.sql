-- 0072: only raild takes raild's advisory locks (issue 14: the read-only console role took
-- pg_advisory_lock(hashtext('raild.ingest.tron')) and stalled ingest for everyone).
-- PostgreSQL lets every role call the advisory-lock functions; here PUBLIC loses them and
-- railtop_app keeps them. Superusers (migrations, the admin CLI) are not affected. Without
-- ownership of the functions (a managed database) the revoke is skipped with a warning for a
-- DBA; unlocking stays open (a lock one does not hold cannot be released).
DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY[
      'pg_advisory_lock(bigint)', 'pg_advisory_lock(integer, integer)',
      'pg_advisory_lock_shared(bigint)', 'pg_advisory_lock_shared(integer, integer)',
      'pg_try_advisory_lock(bigint)', 'pg_try_advisory_lock(integer, integer)',
      'pg_try_advisory_lock_shared(bigint)', 'pg_try_advisory_lock_shared(integer, integer)',
      'pg_advisory_xact_lock(bigint)', 'pg_advisory_xact_lock(integer, integer)',
      'pg_advisory_xact_lock_shared(bigint)', 'pg_advisory_xact_lock_shared(integer, integer)',
      'pg_try_advisory_xact_lock(bigint)', 'pg_try_advisory_xact_lock(integer, integer)',
      'pg_try_advisory_xact_lock_shared(bigint)', 'pg_try_advisory_xact_lock_shared(integer, integer)'] LOOP
    BEGIN
      EXECUTE 'REVOKE EXECUTE ON FUNCTION pg_catalog.' || f || ' FROM PUBLIC';
      IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
        EXECUTE 'GRANT EXECUTE ON FUNCTION pg_catalog.' || f || ' TO railtop_app';
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'cannot revoke % from PUBLIC (not its owner): ask a DBA, or any role can take raild''s locks', f;
    END;
  END LOOP;
END $$;
