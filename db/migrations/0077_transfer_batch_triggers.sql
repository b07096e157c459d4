-- 0077: chain transfers and exceptions feed the change log and the reconciliation's dirty set
-- once per statement, not once per row.
--
-- The watcher now stores a range's new transfers, and their exceptions, with one INSERT each
-- (ingest.c ingest_batch). Row triggers made that one INSERT, one change-log INSERT and one
-- pg_notify per row: at 5,000 transfers, 300 ms of a catch-up's 470 ms transfer insert was the
-- triggers. Per statement, over the transition table, the same rows reach the same tables
-- (change-log rows in id order) and one notification goes per table, as before (NOTIFY folded
-- identical payloads within a transaction anyway). Updates stay per row: they come one
-- transfer at a time, and recon_dirty's UPDATE rule compares OLD with NEW.
DROP TRIGGER chain_transfers_changes ON chain_transfers;
CREATE TRIGGER chain_transfers_changes_ins AFTER INSERT ON chain_transfers
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();
CREATE TRIGGER chain_transfers_changes_upd AFTER UPDATE ON chain_transfers
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();

DROP TRIGGER exceptions_changes ON exceptions;
CREATE TRIGGER exceptions_changes_ins AFTER INSERT ON exceptions
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION change_log_notify_batch();
CREATE TRIGGER exceptions_changes_upd AFTER UPDATE ON exceptions
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();

-- the transfers reconciliation must look at again (recon_mark_dirty's chain_transfers branch,
-- with the classifications of 0021's WHEN clause)
CREATE FUNCTION recon_mark_dirty_transfers_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO recon_dirty (plane, transfer_id)
    SELECT 'provider', id FROM changed_rows WHERE classification IN ('unmatched', 'late', 'duplicate') ORDER BY id;
    RETURN NULL;
END $$;
DROP TRIGGER chain_transfers_recon_dirty_ins ON chain_transfers;
CREATE TRIGGER chain_transfers_recon_dirty_ins AFTER INSERT ON chain_transfers
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION recon_mark_dirty_transfers_batch();
