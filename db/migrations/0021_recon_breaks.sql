-- 0021: the break engine's state (DESIGN §6). The engine itself is set-based SQL run by
-- src/raild/recon.c; these are its inputs (dirty keys, manual matches, settings) and
-- outputs (breaks, runs, per-plane checkpoints).

-- Grace periods and other knobs, changed with `raild recon --set NAME=VALUE` (audited).
CREATE TABLE recon_settings (
    name        text PRIMARY KEY,
    value       interval NOT NULL CHECK (value >= '0'::interval),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO recon_settings (name, value) VALUES
    ('missing_in_finance_grace', '5 minutes'),
    ('commerce_lagging_grace',   '30 minutes');

-- Keys whose inputs changed, written by triggers on the three planes. An incremental run
-- deletes (and so claims) the rows it can see; rows committed later wait for the next run.
CREATE TABLE recon_dirty (
    seq          bigserial PRIMARY KEY,
    plane        text NOT NULL CHECK (plane IN ('commerce','provider','finance','match')),
    merchant_id  bigint,
    environment  text,
    reference    text,
    transfer_id  bigint,
    at           timestamptz NOT NULL DEFAULT now()
);

-- Manual matches: an operator links a payment, a ledger transaction or a transfer to a
-- commerce key (merchant + environment + reference); the engine then reads the linked
-- record under that key.
CREATE TABLE recon_matches (
    id            bigserial PRIMARY KEY,
    break_id      text NOT NULL,
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    environment   text NOT NULL REFERENCES environments(name),
    reference     text NOT NULL,
    payment_id    bigint UNIQUE REFERENCES payments(id),
    ledger_txn_id bigint UNIQUE REFERENCES ledger_transactions(id),
    transfer_id   bigint UNIQUE REFERENCES chain_transfers(id),
    note          text NOT NULL,
    matched_by    text NOT NULL,
    matched_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (num_nonnulls(payment_id, ledger_txn_id, transfer_id) = 1)
);
CREATE INDEX recon_matches_key ON recon_matches (merchant_id, environment, reference);

CREATE TABLE recon_runs (
    id            bigserial PRIMARY KEY,
    mode          text NOT NULL CHECK (mode IN ('full','incremental')),
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    as_of         timestamptz NOT NULL,            -- the clock the grace periods used
    keys_examined bigint NOT NULL,
    opened        integer NOT NULL,
    updated       integer NOT NULL,
    resolved      integer NOT NULL,
    duration_ms   integer NOT NULL
);

-- "Reconciled through T" per plane: every change of that plane committed before the run
-- that wrote this row is reflected in recon_breaks.
CREATE TABLE recon_checkpoints (
    plane          text PRIMARY KEY CHECK (plane IN ('commerce','provider','finance')),
    through        timestamptz NOT NULL,     -- the run's snapshot time
    last_change_at timestamptz,              -- newest change of this plane the run consumed
    changes        bigint NOT NULL,          -- dirty keys of this plane the run consumed
    run_id         bigint NOT NULL REFERENCES recon_runs(id)
);

CREATE TABLE recon_breaks (
    id               bigserial PRIMARY KEY,            -- for the change log
    public_id        text NOT NULL UNIQUE,             -- 'brk_' + hash(rule, merchant, env, reference)
    class            text NOT NULL CHECK (class IN ('fulfilled_before_finality','missing_in_finance',
                        'orphan_posting','amount_mismatch','missing_in_provider','commerce_lagging',
                        'unapplied_transfer')),
    class_rank       smallint NOT NULL,                -- 1 = most severe class
    severity         smallint NOT NULL CHECK (severity BETWEEN 1 AND 4),   -- 4 = critical
    state            text NOT NULL CHECK (state IN ('new','persisting','resolved')),
    merchant_id      bigint REFERENCES merchants(id),
    environment      text,
    reference        text NOT NULL,
    transfer_id      bigint REFERENCES chain_transfers(id),
    planes           text,                             -- amount_mismatch: which planes disagree
    -- the three planes side by side, as of the last run that saw the break
    c_status         text,
    c_amount         numeric(78,0),                    -- 10^-18 USDT
    c_updated_at     timestamptz,
    p_state          text,
    p_payment        text,                             -- a payment public_id for the key
    p_payments       integer,
    p_amount         numeric(78,0),                    -- received by finalized payments, 10^-18 USDT
    p_finalized_at   timestamptz,
    f_transactions   integer,
    f_amount         numeric(78,0),                    -- booked (finality + attach), 10^-18 USDT
    f_refunded       numeric(78,0),
    first_seen_at    timestamptz NOT NULL,
    first_run_id     bigint NOT NULL,
    resolved_at      timestamptz,
    resolution       text,                             -- 'auto' (condition cleared)
    matched_at       timestamptz,                      -- last manual match
    matched_by       text,
    match_note       text,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    ack_note         text,
    exception_id     bigint REFERENCES exceptions(id), -- escalated to
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recon_breaks_open ON recon_breaks (class_rank, first_seen_at, id) WHERE state <> 'resolved';
CREATE INDEX recon_breaks_key ON recon_breaks (merchant_id, environment, reference);
CREATE INDEX recon_breaks_transfer ON recon_breaks (transfer_id) WHERE transfer_id IS NOT NULL;
CREATE INDEX recon_breaks_new ON recon_breaks (id) WHERE state = 'new';

CREATE TRIGGER recon_breaks_changes AFTER INSERT OR UPDATE ON recon_breaks
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER recon_runs_changes AFTER INSERT ON recon_runs
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER orders_changes AFTER INSERT OR UPDATE ON orders
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER ledger_transactions_changes AFTER INSERT ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();

-- Finalized payments by time, for the incremental run's grace-period window.
CREATE INDEX payments_finalized_at ON payments (finalized_at) WHERE state = 'finalized';

-- ------------------------------------------------------------------ dirty-key triggers
CREATE FUNCTION recon_mark_dirty() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER orders_recon_dirty AFTER INSERT OR UPDATE ON orders
  FOR EACH ROW EXECUTE FUNCTION recon_mark_dirty();
CREATE TRIGGER payments_recon_dirty_ins AFTER INSERT ON payments
  FOR EACH ROW EXECUTE FUNCTION recon_mark_dirty();
CREATE TRIGGER payments_recon_dirty_upd AFTER UPDATE ON payments
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.received IS DISTINCT FROM NEW.received
                     OR OLD.reference IS DISTINCT FROM NEW.reference OR OLD.finalized_at IS DISTINCT FROM NEW.finalized_at)
  EXECUTE FUNCTION recon_mark_dirty();
CREATE TRIGGER ledger_transactions_recon_dirty AFTER INSERT ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION recon_mark_dirty();
CREATE TRIGGER chain_transfers_recon_dirty_ins AFTER INSERT ON chain_transfers
  FOR EACH ROW WHEN (NEW.classification IN ('unmatched','late','duplicate'))
  EXECUTE FUNCTION recon_mark_dirty();
CREATE TRIGGER chain_transfers_recon_dirty_upd AFTER UPDATE ON chain_transfers
  FOR EACH ROW WHEN (OLD.classification IS DISTINCT FROM NEW.classification OR OLD.status IS DISTINCT FROM NEW.status
                     OR OLD.payment_id IS DISTINCT FROM NEW.payment_id OR OLD.counted IS DISTINCT FROM NEW.counted)
  EXECUTE FUNCTION recon_mark_dirty();
CREATE TRIGGER recon_matches_recon_dirty AFTER INSERT ON recon_matches
  FOR EACH ROW EXECUTE FUNCTION recon_mark_dirty();

-- Amounts in 10^-18 USDT as a human decimal ("125.5"), for the console and the export.
CREATE FUNCTION recon_fmt(v numeric) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN v IS NULL THEN NULL
                ELSE rtrim(rtrim(to_char(div(v, 1000000000000000000), 'FM999999999999999999999999999999999999999999999999999999999990')
                     || '.' || lpad(mod(v, 1000000000000000000)::text, 18, '0'), '0'), '.') END
$$;

-- Escalation: a break becomes an exception of type 'recon_break' (the nine operational
-- types describe chain events; a three-plane disagreement is none of them).
ALTER TABLE exceptions DROP CONSTRAINT IF EXISTS exceptions_type_check;
ALTER TABLE exceptions ADD CONSTRAINT exceptions_type_check CHECK (type IN ('underpaid','overpaid',
    'late_payment','unmatched_transfer','wrong_asset','duplicate_payment','reorged','unclassified_internal',
    'stuck_unconfirmed','recon_break'));

-- ------------------------------------------------------------------ grants
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON orders, recon_settings, recon_dirty, recon_matches,
             recon_runs, recon_checkpoints, recon_breaks TO railtop_app';
    EXECUTE 'GRANT SELECT, INSERT ON ledger_accounts, ledger_transactions, ledger_postings TO railtop_app';
    EXECUTE 'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT ON orders, ledger_accounts, ledger_transactions, ledger_postings, recon_settings,
             recon_matches, recon_runs, recon_checkpoints, recon_breaks TO railtop_console';
  END IF;
END $$;
