-- 0075: partitioned, retained history (issue 13 §1, DESIGN §8.4).
-- The six history tables become range-partitioned on the time a row was written:
--   change_log (at, daily), payment_events (at, monthly), audit_log (at, monthly),
--   webhook_deliveries (created_at, weekly), webhook_attempts (started_at, weekly),
--   webhook_endpoint_hourly (hour, monthly).
-- raild's "history" worker (and `raild admin maintain-history`) creates partitions ahead and
-- drops whole partitions whose retention has ended (never a row-by-row DELETE) through the
-- history_* functions below. history_tables holds each table's period, how far ahead to
-- create and its retention; the audit log (and the ledger, which is not here at all) can
-- never be given one.
--
-- What partitioning costs, and why it is acceptable:
--   * a unique key must contain the partition key, so (id) becomes (id, time) and the
--     natural keys that do not contain the time — payment_events (payment_id, sequence) and
--     event_id, webhook_attempts (delivery_id, attempt_no), webhook_deliveries
--     (endpoint_id, outbox_id) — become plain indexes. Each was already guaranteed by the
--     writer: an event's sequence is taken under its payment's row lock, an attempt number is
--     the delivery's attempt counter bumped under the claim's row lock, and the fan-out
--     locks its outbox rows and marks them fanned out in the same statement.
--   * webhook_attempts.delivery_id no longer has a foreign key (a key can only reference a
--     unique constraint, and deliveries' is now (id, created_at)); attempts are inserted
--     only by the claim, for the deliveries it has just locked.
--   * each table gets a DEFAULT partition. It catches a row whose partition was not created
--     in time (the maintenance worker stopped for longer than the premade periods), so an
--     insert never fails for want of a partition; and it keeps the rows of a dropped
--     partition that are still live (a delivery still pending or in flight, and its
--     attempts). history_create_ahead moves rows out of it when it creates the partition they
--     belong to.
--   * row-level triggers on a partitioned table run with the partition's name as
--     TG_TABLE_NAME, so payment_events and audit_log feed the change log per statement now
--     (change_log_notify_batch, as the webhook tables already did): same rows, same order.
-- Rows already in the tables are copied into the new layout, ids and sequences kept.

CREATE TABLE history_tables (
    tbl          text PRIMARY KEY,
    time_column  text NOT NULL,
    period       text NOT NULL CHECK (period IN ('day', 'week', 'month')),
    premake      integer NOT NULL CHECK (premake BETWEEN 1 AND 90),   -- periods created ahead
    retention    interval CHECK (retention IS NULL OR retention >= interval '1 day'),  -- NULL: kept for ever
    droppable    boolean NOT NULL,
    CHECK (droppable OR retention IS NULL)
);
INSERT INTO history_tables VALUES
    ('change_log',              'at',         'day',   14, interval '7 days',  true),
    ('payment_events',          'at',         'month',  3, NULL,               true),
    ('audit_log',               'at',         'month',  3, NULL,               false),
    ('webhook_deliveries',      'created_at', 'week',   4, interval '90 days', true),
    ('webhook_attempts',        'started_at', 'week',   4, interval '90 days', true),
    ('webhook_endpoint_hourly', 'hour',       'month',  3, interval '90 days', true);

-- The rows of a partition about to be dropped that must outlive it.
CREATE FUNCTION history_keep_predicate(p_tbl text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_tbl
        WHEN 'webhook_deliveries' THEN 'status IN (''pending'', ''in_flight'')'
        WHEN 'webhook_attempts' THEN 'delivery_id IN (SELECT id FROM webhook_deliveries'
                                     ' WHERE status IN (''pending'', ''in_flight''))'
        ELSE 'false' END
$$;

-- Creates one partition [lo, hi) of p_tbl named p_part, moving into it any rows the default
-- partition holds for that range. Returns the number of rows moved.
CREATE FUNCTION history_create_partition(p_tbl text, p_col text, p_part text, p_lo timestamptz, p_hi timestamptz)
RETURNS bigint LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE n bigint := 0; has boolean;
BEGIN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)', p_tbl || '_default', p_col, p_col)
        INTO has USING p_lo, p_hi;
    IF NOT has THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', p_part, p_tbl, p_lo, p_hi);
        RETURN 0;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', p_part, p_tbl);
    EXECUTE format('WITH m AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM m',
                   p_tbl || '_default', p_col, p_col, p_part) USING p_lo, p_hi;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', p_tbl, p_part, p_lo, p_hi);
    RETURN n;
END $$;

-- Partitions of p_tbl covering [p_from, p_to), created where missing. One row per partition made.
CREATE FUNCTION history_ensure(p_tbl text, p_from timestamptz, p_to timestamptz)
RETURNS TABLE (part text, moved bigint) LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE h history_tables; lo timestamptz; hi timestamptz; step interval; pname text;
BEGIN
    SELECT * INTO STRICT h FROM history_tables WHERE tbl = p_tbl;
    step := ('1 ' || h.period)::interval;
    lo := date_trunc(h.period, p_from);
    WHILE lo < p_to LOOP
        hi := lo + step;
        pname := p_tbl || '_p' || to_char(lo, 'YYYYMMDD');
        IF to_regclass(pname) IS NULL THEN
            part := pname;
            moved := history_create_partition(p_tbl, h.time_column, pname, lo, hi);
            RETURN NEXT;
        END IF;
        lo := hi;
    END LOOP;
END $$;

-- A table's partitions with their bounds (the default partition excluded), oldest first.
CREATE FUNCTION history_partitions(p_tbl text)
RETURNS TABLE (part text, lo timestamptz, hi timestamptz) LANGUAGE sql STABLE SET timezone = 'UTC' AS $$
    SELECT c.relname::text,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
           (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = p_tbl::regclass AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
    ORDER BY 2
$$;

-- Maintenance is run by raild (history.c) one step per transaction, so no step holds a
-- table's lock longer than its own work: per table, history_create_ahead; per partition past
-- retention, history_drop_partition; per table, history_prune_default. One copy at a time
-- (raild takes an advisory lock only railtop_app may take, 0072). p_now is the clock (tests
-- move it). The functions run as their owner (DDL needs ownership); raild's role may call
-- them, the console's may not, and each checks its arguments itself.

-- The partitions of p_tbl from p_now's period through `premake` periods ahead — from the
-- newest partition's end when that is behind (the worker was stopped: the rows that went to
-- the default partition meanwhile move to their own). A lock not granted within 500 ms
-- (CREATE ... PARTITION OF locks the parent) leaves the rest for the next pass.
CREATE FUNCTION history_create_ahead(p_tbl text, p_now timestamptz)
RETURNS TABLE (action text, part text, nrows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET timezone = 'UTC' AS $$
DECLARE h history_tables; e record;
BEGIN
    SELECT * INTO h FROM history_tables WHERE tbl = p_tbl;
    IF NOT FOUND THEN RAISE EXCEPTION 'not a history table: %', p_tbl USING ERRCODE = '22023'; END IF;
    PERFORM set_config('lock_timeout', '500ms', true);
    BEGIN
        FOR e IN SELECT * FROM history_ensure(h.tbl, least(p_now, (SELECT max(x.hi) FROM history_partitions(h.tbl) x)),
                                              date_trunc(h.period, p_now)
                                              + (h.premake + 1) * ('1 ' || h.period)::interval) LOOP
            action := 'created'; part := e.part; nrows := e.moved; RETURN NEXT;
        END LOOP;
    EXCEPTION WHEN lock_not_available THEN
        action := 'create_deferred'; part := NULL; nrows := NULL; RETURN NEXT;
    END;
END $$;

-- Partitions wholly older than their table's retention at p_now, oldest first.
CREATE FUNCTION history_expired(p_now timestamptz)
RETURNS TABLE (tbl text, part text) LANGUAGE sql STABLE SET timezone = 'UTC' AS $$
    SELECT h.tbl, x.part FROM history_tables h CROSS JOIN LATERAL history_partitions(h.tbl) x
    WHERE h.droppable AND h.retention IS NOT NULL AND x.hi <= p_now - h.retention
    ORDER BY h.tbl, x.lo
$$;

-- Drops one partition past retention, keeping its live rows in the default partition. The
-- parent's exclusive lock is taken first (within 500 ms, or the drop waits for the next
-- pass), so nothing changes between choosing the rows to keep and the drop; what runs under
-- the lock is an index lookup of the live rows, the DROP and their re-insert.
CREATE FUNCTION history_drop_partition(p_tbl text, p_part text, p_now timestamptz)
RETURNS TABLE (action text, part text, nrows bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET timezone = 'UTC' AS $$
DECLARE kept bigint; total bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM history_expired(p_now) x WHERE x.tbl = p_tbl AND x.part = p_part) THEN
        RAISE EXCEPTION '% is not a partition of % past its retention', p_part, p_tbl USING ERRCODE = '22023';
    END IF;
    PERFORM set_config('lock_timeout', '500ms', true);
    BEGIN
        EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', p_tbl);
    EXCEPTION WHEN lock_not_available THEN
        action := 'drop_deferred'; part := p_part; nrows := NULL; RETURN NEXT;
        RETURN;
    END;
    IF to_regclass('pg_temp.history_keep') IS NOT NULL THEN DROP TABLE pg_temp.history_keep; END IF;
    EXECUTE format('CREATE TEMP TABLE history_keep AS SELECT * FROM %I WHERE %s', p_part, history_keep_predicate(p_tbl));
    GET DIAGNOSTICS kept = ROW_COUNT;
    SELECT c.reltuples::bigint INTO total FROM pg_class c WHERE c.oid = p_part::regclass;
    EXECUTE format('DROP TABLE %I', p_part);
    IF kept > 0 THEN
        EXECUTE format('INSERT INTO %I SELECT * FROM pg_temp.history_keep', p_tbl || '_default');
        action := 'kept'; part := p_tbl || '_default'; nrows := kept; RETURN NEXT;
    END IF;
    DROP TABLE pg_temp.history_keep;
    action := 'dropped'; part := p_part; nrows := greatest(total, 0); RETURN NEXT;
END $$;

-- Rows kept from dropped partitions, once no longer live and past retention. The default
-- partition holds only these few (and strays from a stopped worker), so a DELETE is cheap.
CREATE FUNCTION history_prune_default(p_tbl text, p_now timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp SET timezone = 'UTC' AS $$
DECLARE h history_tables; n bigint;
BEGIN
    SELECT * INTO h FROM history_tables WHERE tbl = p_tbl;
    IF NOT FOUND THEN RAISE EXCEPTION 'not a history table: %', p_tbl USING ERRCODE = '22023'; END IF;
    IF h.retention IS NULL OR NOT h.droppable THEN RETURN 0; END IF;
    EXECUTE format('DELETE FROM %I WHERE %I < $1 AND NOT (%s)', h.tbl || '_default', h.time_column,
                   history_keep_predicate(h.tbl)) USING p_now - h.retention;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Per table: partitions, how many lie wholly ahead of p_now, the oldest one's start, and the
-- rows in the default partition (kept live rows, or rows whose partition was missing — a
-- number that grows means maintenance has stopped). For /metrics and list-history.
CREATE FUNCTION history_status(p_now timestamptz DEFAULT now())
RETURNS TABLE (tbl text, period text, retention interval, partitions bigint, ahead bigint, oldest timestamptz,
               default_rows bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp SET timezone = 'UTC' AS $$
DECLARE h history_tables;
BEGIN
    FOR h IN SELECT * FROM history_tables ORDER BY history_tables.tbl LOOP
        tbl := h.tbl; period := h.period; retention := h.retention;
        SELECT count(*), count(*) FILTER (WHERE x.lo > p_now), min(x.lo) INTO partitions, ahead, oldest
        FROM history_partitions(h.tbl) x;
        EXECUTE format('SELECT count(*) FROM %I', h.tbl || '_default') INTO default_rows;
        RETURN NEXT;
    END LOOP;
END $$;

-- Moves one table to the partitioned layout: the old table is renamed away (its indexes
-- too, so their names are free), the new one is created LIKE it (columns, defaults, CHECKs),
-- partitioned on its time column, with a default partition and partitions covering the old
-- rows through the premade periods; the rows are copied and the id sequence handed over.
-- Statement triggers are made again from their own definitions (row triggers would see the
-- partition's name, so the caller makes those per statement). Keys, indexes and grants are
-- the caller's.
CREATE FUNCTION history_convert(p_tbl text, p_has_id boolean) RETURNS void LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE h history_tables; ix record; oldest timestamptz; trig text[];
BEGIN
    SELECT * INTO STRICT h FROM history_tables WHERE tbl = p_tbl;
    SELECT coalesce(array_agg(pg_get_triggerdef(t.oid) ORDER BY t.tgname), '{}') INTO trig FROM pg_trigger t
    WHERE t.tgrelid = p_tbl::regclass AND NOT t.tgisinternal AND (t.tgtype & 1) = 0;   -- bit 0: FOR EACH ROW
    EXECUTE format('ALTER TABLE %I RENAME TO %I', p_tbl, p_tbl || '_old');
    FOR ix IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
              WHERE i.indrelid = (p_tbl || '_old')::regclass LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', ix.relname, ix.relname || '_old');
    END LOOP;
    IF p_has_id THEN
        EXECUTE format('ALTER TABLE %I ALTER COLUMN id DROP DEFAULT', p_tbl || '_old');
        EXECUTE format('ALTER SEQUENCE %I OWNED BY NONE', p_tbl || '_id_seq');
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) PARTITION BY RANGE (%I)',
                   p_tbl, p_tbl || '_old', h.time_column);
    IF p_has_id THEN
        EXECUTE format('ALTER TABLE %I ALTER COLUMN id SET DEFAULT nextval(%L)', p_tbl, p_tbl || '_id_seq');
        EXECUTE format('ALTER SEQUENCE %I OWNED BY %I.id', p_tbl || '_id_seq', p_tbl);
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', p_tbl || '_default', p_tbl);
    EXECUTE format('SELECT min(%I) FROM %I', h.time_column, p_tbl || '_old') INTO oldest;
    PERFORM history_ensure(p_tbl, least(coalesce(oldest, now()), now()),
                           date_trunc(h.period, now()) + (h.premake + 1) * ('1 ' || h.period)::interval);
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', p_tbl, p_tbl || '_old');
    FOR i IN 1 .. coalesce(array_length(trig, 1), 0) LOOP
        EXECUTE trig[i];
    END LOOP;
END $$;

-- the one view over a history table is made again from its own definition after the swap
CREATE TEMP TABLE history_views ON COMMIT DROP AS
SELECT 'webhook_endpoint_health'::text AS name, pg_get_viewdef('webhook_endpoint_health'::regclass) AS def;
DROP VIEW webhook_endpoint_health;

SELECT history_convert('webhook_attempts', true);
SELECT history_convert('webhook_deliveries', true);
SELECT history_convert('webhook_endpoint_hourly', false);
SELECT history_convert('payment_events', true);
SELECT history_convert('audit_log', true);
SELECT history_convert('change_log', true);
DROP TABLE webhook_attempts_old, webhook_deliveries_old, webhook_endpoint_hourly_old, payment_events_old,
           audit_log_old, change_log_old;
DROP FUNCTION history_convert(text, boolean);
DO $$
DECLARE v record;
BEGIN
    FOR v IN SELECT * FROM history_views LOOP
        EXECUTE format('CREATE VIEW %I AS %s', v.name, v.def);
    END LOOP;
END $$;

-- keys and indexes (each is created on every partition, the default one included). Two of the
-- old indexes are not made again, as every write of the dispatcher paid for them and no query
-- needs them: webhook_deliveries_recent (created_at, id) — the console lists deliveries by
-- endpoint or by environment (webhook_deliveries_endpoint, _console_env) and the API by id —
-- and webhook_attempts_endpoint (endpoint_id, started_at), unused since endpoint health reads
-- the hourly counters (0014).
ALTER TABLE change_log ADD PRIMARY KEY (id, at);

ALTER TABLE payment_events ADD PRIMARY KEY (id, at),
    ADD FOREIGN KEY (payment_id) REFERENCES payments(id);
CREATE INDEX payment_events_payment ON payment_events (payment_id, sequence);
CREATE INDEX payment_events_event ON payment_events (event_id);

ALTER TABLE audit_log ADD PRIMARY KEY (id, at);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id DESC);
CREATE INDEX audit_log_at ON audit_log (at DESC);

ALTER TABLE webhook_deliveries ADD PRIMARY KEY (id, created_at),
    ADD FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints(id),
    ADD FOREIGN KEY (outbox_id) REFERENCES webhook_outbox(id);
CREATE INDEX webhook_deliveries_due_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at)
    WHERE status IN ('pending', 'in_flight');
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_console_env ON webhook_deliveries (environment, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_failed ON webhook_deliveries (endpoint_id, created_at) WHERE status = 'failed';
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);

ALTER TABLE webhook_attempts ADD PRIMARY KEY (id, started_at);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, attempt_no);

ALTER TABLE webhook_endpoint_hourly ADD PRIMARY KEY (endpoint_id, hour),
    ADD FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints(id);

-- payment_events and audit_log had row triggers into the change log: per statement now
-- (the webhook tables' statement triggers were made again by history_convert)
CREATE TRIGGER payment_events_changes AFTER INSERT ON payment_events
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();
CREATE TRIGGER audit_log_changes AFTER INSERT ON audit_log
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();

-- the same grants as before; maintenance is raild's alone
REVOKE ALL ON FUNCTION history_create_ahead(text, timestamptz), history_drop_partition(text, text, timestamptz),
       history_prune_default(text, timestamptz), history_status(timestamptz),
       history_ensure(text, timestamptz, timestamptz),
       history_create_partition(text, text, text, timestamptz, timestamptz) FROM PUBLIC;
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT ON change_log, payment_events, audit_log TO railtop_app';
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_deliveries, webhook_attempts TO railtop_app';
    EXECUTE 'GRANT SELECT, INSERT, UPDATE ON webhook_endpoint_hourly TO railtop_app';
    EXECUTE 'GRANT SELECT ON webhook_endpoint_health, history_tables TO railtop_app';
    EXECUTE 'GRANT EXECUTE ON FUNCTION history_create_ahead(text, timestamptz),
             history_drop_partition(text, text, timestamptz), history_prune_default(text, timestamptz),
             history_status(timestamptz) TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT ON change_log, payment_events, audit_log, webhook_deliveries, webhook_attempts,
             webhook_endpoint_hourly, webhook_endpoint_health, history_tables TO railtop_console';
  END IF;
END $$;
