-- 0011: the webhook tables feed the change log per statement, not per row. The dispatcher
-- writes deliveries and attempts in batches of hundreds; a row trigger would run the
-- change_log insert and pg_notify once per row. These statement triggers write the same
-- change_log rows (one per changed row, same tbl/op/row_id) with one set-based insert and
-- send one NOTIFY per statement, so the console sees exactly what it saw before.
CREATE FUNCTION change_log_notify_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_log (tbl, op, row_id) SELECT TG_TABLE_NAME, TG_OP, id FROM changed_rows ORDER BY id;
    IF FOUND THEN
        PERFORM pg_notify('railtop_changes', TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END $$;

DROP TRIGGER webhook_deliveries_changes ON webhook_deliveries;
DROP TRIGGER webhook_attempts_changes ON webhook_attempts;
CREATE TRIGGER webhook_deliveries_changes_ins AFTER INSERT ON webhook_deliveries
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();
CREATE TRIGGER webhook_deliveries_changes_upd AFTER UPDATE ON webhook_deliveries
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();
CREATE TRIGGER webhook_attempts_changes_ins AFTER INSERT ON webhook_attempts
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();
CREATE TRIGGER webhook_attempts_changes_upd AFTER UPDATE ON webhook_attempts
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();
