-- 0003: gateway core engine (lifecycle, ingest, exceptions, sweeper).

-- Zero-value token transfers are address-poisoning spam: stored for the record,
-- never counted toward a payment and never an exception.
ALTER TABLE chain_transfers DROP CONSTRAINT chain_transfers_classification_check;
ALTER TABLE chain_transfers ADD CONSTRAINT chain_transfers_classification_check
  CHECK (classification IN ('payment','late','unmatched','wrong_asset','duplicate','sweep',
                            'internal','unclassified_internal','ignored'));

-- At most one live exception of a type for one payment when no transfer is involved
-- (underpaid, overpaid, stuck_unconfirmed): exc_open relies on it being race-free.
CREATE UNIQUE INDEX exceptions_one_live_payment ON exceptions (type, payment_id)
  WHERE state IN ('open','claimed') AND transfer_id IS NULL AND payment_id IS NOT NULL;

-- the sweeper's stuck scan: detected payments by age
CREATE INDEX payments_detected_at ON payments (detected_at) WHERE state = 'detected';
-- SLA escalation scan
CREATE INDEX exceptions_sla ON exceptions (sla_due) WHERE state IN ('open','claimed');
-- payment list filters: keyset by id within merchant+environment already exists;
-- state filter within a merchant
CREATE INDEX payments_merchant_state ON payments (merchant_id, environment, state, id DESC);
