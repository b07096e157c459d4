-- 0022: a routine incremental run must not change row counts when nothing happened
-- (other suites compare whole-database row counts around bad-input calls while raild's
-- recon worker runs). Dirty keys are claimed by marking them (pruned by full runs);
-- checkpoints are updated in place; recon_runs holds runs that changed something, and
-- every full run.
ALTER TABLE recon_dirty ADD COLUMN run_id bigint;
CREATE INDEX recon_dirty_unclaimed ON recon_dirty (seq) WHERE run_id IS NULL;
ALTER TABLE recon_checkpoints DROP CONSTRAINT recon_checkpoints_run_id_fkey;
INSERT INTO recon_checkpoints (plane, through, last_change_at, changes, run_id)
SELECT p, '-infinity', NULL, 0, 0 FROM unnest(ARRAY['commerce','provider','finance']) AS p
ON CONFLICT (plane) DO NOTHING;

-- A ledger transaction of a manually matched payment belongs to the match's key too.
CREATE OR REPLACE FUNCTION recon_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'orders' THEN
        INSERT INTO recon_dirty (plane, merchant_id, environment, reference)
        VALUES ('commerce', NEW.merchant_id, NEW.environment, NEW.reference);
    ELSIF TG_TABLE_NAME = 'payments' THEN
        INSERT INTO recon_dirty (plane, merchant_id, environment, reference)
        VALUES ('provider', NEW.merchant_id, NEW.environment, NEW.reference);
        IF TG_OP = 'UPDATE' AND OLD.reference IS DISTINCT FROM NEW.reference THEN
            INSERT INTO recon_dirty (plane, merchant_id, environment, reference)
            VALUES ('provider', OLD.merchant_id, OLD.environment, OLD.reference);
        END IF;
        INSERT INTO recon_dirty (plane, merchant_id, environment, reference)
        SELECT 'provider', m.merchant_id, m.environment, m.reference FROM recon_matches m WHERE m.payment_id = NEW.id;
    ELSIF TG_TABLE_NAME = 'ledger_transactions' THEN
        IF NEW.merchant_id IS NOT NULL AND NEW.reference IS NOT NULL THEN
            INSERT INTO recon_dirty (plane, merchant_id, environment, reference)
            VALUES ('finance', NEW.merchant_id, NEW.environment, NEW.reference);
        END IF;
        IF NEW.transfer_id IS NOT NULL THEN
            INSERT INTO recon_dirty (plane, transfer_id) VALUES ('finance', NEW.transfer_id);
        END IF;
        IF NEW.payment_id IS NOT NULL THEN
            INSERT INTO recon_dirty (plane, merchant_id, environment, reference)
            SELECT 'finance', m.merchant_id, m.environment, m.reference FROM recon_matches m
             WHERE m.payment_id = NEW.payment_id;
        END IF;
    ELSIF TG_TABLE_NAME = 'chain_transfers' THEN
        INSERT INTO recon_dirty (plane, transfer_id) VALUES ('provider', NEW.id);
    ELSIF TG_TABLE_NAME = 'recon_matches' THEN
        INSERT INTO recon_dirty (plane, merchant_id, environment, reference, transfer_id)
        VALUES ('match', NEW.merchant_id, NEW.environment, NEW.reference, NEW.transfer_id);
        INSERT INTO recon_dirty (plane, merchant_id, environment, reference)
        SELECT 'match', p.merchant_id, p.environment, p.reference FROM payments p WHERE p.id = NEW.payment_id
        UNION ALL
        SELECT 'match', t.merchant_id, t.environment, t.reference FROM ledger_transactions t
         WHERE t.id = NEW.ledger_txn_id AND t.merchant_id IS NOT NULL AND t.reference IS NOT NULL;
    END IF;
    RETURN NULL;
END $$;

-- Order references follow the payment reference rule (any UTF-8 text of 1-200
-- characters without control characters), so every payment can have its order.
ALTER TABLE orders DROP CONSTRAINT orders_reference_check;
ALTER TABLE orders ADD CONSTRAINT orders_reference_check
  CHECK (char_length(reference) BETWEEN 1 AND 200 AND reference !~ '[[:cntrl:]]');

-- A sweep leaves a deposit address: its environment is that of the address's payment
-- whichever side the deposit address is on.
CREATE OR REPLACE FUNCTION ledger_transfer_env(t chain_transfers) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT p.environment FROM payments p WHERE p.id = t.payment_id),
                    (SELECT p.environment FROM deposit_addresses d JOIN payments p ON p.id = d.payment_id
                      WHERE d.network = t.network AND d.address IN (t.to_address, t.from_address)
                      ORDER BY d.address = t.to_address DESC LIMIT 1),
                    'production')
$$;
