-- 0076: a leaner delivery record (issue 13 §2): the queue state the claim searches lives in a
-- narrow table, so the delivery row's own updates can be HOT.
--
-- Every claim and every record updates a delivery's status and next_attempt_at. Both were in
-- index definitions — webhook_deliveries_due_endpoint (endpoint_id, next_attempt_at) WHERE
-- status IN ('pending','in_flight'), and webhook_deliveries_failed WHERE status = 'failed' —
-- so PostgreSQL wrote a new entry into every index of the table, twice per delivery. Now:
--   * webhook_due holds one small row per live delivery (pending or in flight): its id, its
--     partition key, its endpoint and when it is next due. The claim searches it instead.
--   * a statement trigger on webhook_deliveries keeps it exact for every writer (the
--     dispatcher, the API's retries, recover jobs, cancels), set-based per statement.
--   * the two indexes that named status or next_attempt_at go. No remaining index of
--     webhook_deliveries names a column an update changes, and its partitions keep 30 % of
--     each page free (fillfactor 70), so the claim's and the record's updates stay on the
--     page: HOT, with no index writes at all.
--   * the recover job walks an endpoint's deliveries by id (webhook_deliveries_endpoint_id).
CREATE TABLE webhook_due (
    delivery_id     bigint PRIMARY KEY,
    created_at      timestamptz NOT NULL,        -- the delivery's partition key
    endpoint_id     bigint NOT NULL,
    next_attempt_at timestamptz NOT NULL
);
CREATE INDEX webhook_due_endpoint ON webhook_due (endpoint_id, next_attempt_at);

CREATE FUNCTION webhook_due_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM webhook_due q USING changed_rows c
        WHERE q.delivery_id = c.id AND c.status NOT IN ('pending', 'in_flight');
    END IF;
    INSERT INTO webhook_due AS q (delivery_id, created_at, endpoint_id, next_attempt_at)
    SELECT id, created_at, endpoint_id, next_attempt_at FROM changed_rows
    WHERE status IN ('pending', 'in_flight') ORDER BY id
    ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at, created_at = excluded.created_at
    WHERE q.next_attempt_at IS DISTINCT FROM excluded.next_attempt_at OR q.created_at <> excluded.created_at;
    RETURN NULL;
END $$;

INSERT INTO webhook_due (delivery_id, created_at, endpoint_id, next_attempt_at)
SELECT id, created_at, endpoint_id, next_attempt_at FROM webhook_deliveries WHERE status IN ('pending', 'in_flight');

CREATE TRIGGER webhook_deliveries_due_ins AFTER INSERT ON webhook_deliveries
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_due_sync();
CREATE TRIGGER webhook_deliveries_due_upd AFTER UPDATE ON webhook_deliveries
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION webhook_due_sync();

DROP INDEX webhook_deliveries_due_endpoint;
DROP INDEX webhook_deliveries_failed;
CREATE INDEX webhook_deliveries_endpoint_id ON webhook_deliveries (endpoint_id, id);

-- room on each page for HOT updates: partitions made from now on, and the existing ones
-- (their pages written from now on)
ALTER TABLE history_tables ADD COLUMN fillfactor integer NOT NULL DEFAULT 100 CHECK (fillfactor BETWEEN 50 AND 100);
UPDATE history_tables SET fillfactor = 70 WHERE tbl = 'webhook_deliveries';
DO $$
DECLARE p record;
BEGIN
    FOR p IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'webhook_deliveries'::regclass LOOP
        EXECUTE format('ALTER TABLE %I SET (fillfactor = 70)', p.relname);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION history_create_partition(p_tbl text, p_col text, p_part text, p_lo timestamptz,
                                                    p_hi timestamptz)
RETURNS bigint LANGUAGE plpgsql SET timezone = 'UTC' AS $$
DECLARE n bigint := 0; has boolean; ff integer;
BEGIN
    SELECT fillfactor INTO ff FROM history_tables WHERE tbl = p_tbl;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I WHERE %I >= $1 AND %I < $2)', p_tbl || '_default', p_col, p_col)
        INTO has USING p_lo, p_hi;
    IF NOT has THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L) WITH (fillfactor = %s)',
                       p_part, p_tbl, p_lo, p_hi, coalesce(ff, 100));
        RETURN 0;
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) WITH (fillfactor = %s)',
                   p_part, p_tbl, coalesce(ff, 100));
    EXECUTE format('WITH m AS (DELETE FROM %I WHERE %I >= $1 AND %I < $2 RETURNING *) INSERT INTO %I SELECT * FROM m',
                   p_tbl || '_default', p_col, p_col, p_part) USING p_lo, p_hi;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', p_tbl, p_part, p_lo, p_hi);
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION history_create_partition(text, text, text, timestamptz, timestamptz) FROM PUBLIC;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON webhook_due TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT ON webhook_due TO railtop_console';
  END IF;
END $$;

-- the live rows of a partition about to be dropped, found through webhook_due (not a scan)
CREATE OR REPLACE FUNCTION history_keep_predicate(p_tbl text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_tbl
        WHEN 'webhook_deliveries' THEN '(id, created_at) IN (SELECT delivery_id, created_at FROM webhook_due)'
        WHEN 'webhook_attempts' THEN 'delivery_id IN (SELECT delivery_id FROM webhook_due)'
        ELSE 'false' END
$$;
