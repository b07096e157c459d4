-- 0020: three-plane reconciliation (DESIGN §6) — commerce plane (orders), finance plane
-- (double-entry ledger), the break engine's tables, and the triggers that keep the
-- ledger in step with the provider plane without coupling to the gateway's C code.
--
-- Units. Ledger amounts are base units of the transaction's rail (numeric(78,0)).
-- Orders carry no rail (a merchant prices an order in USDT before the customer picks a
-- network), so order amounts are integers in ORDER units = 10^-18 USDT, the finest rail;
-- the engine scales rail amounts by 10^(18 - decimals) to compare exactly.

-- ------------------------------------------------------------------ commerce plane
CREATE TABLE orders (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    environment  text NOT NULL REFERENCES environments(name),
    reference    text NOT NULL CHECK (reference ~ '^[A-Za-z0-9._:~-]{1,200}$'),
    amount       numeric(78,0) NOT NULL CHECK (amount > 0),     -- 10^-18 USDT
    status       text NOT NULL CHECK (status IN ('pending','paid','fulfilled','canceled','refunded')),
    updated_at   timestamptz NOT NULL,                          -- the merchant's clock
    source       text NOT NULL CHECK (source IN ('api','csv')),
    received_at  timestamptz NOT NULL DEFAULT now(),            -- ours: last applied change
    UNIQUE (merchant_id, environment, reference)
);

-- ------------------------------------------------------------------ finance plane
CREATE TABLE ledger_accounts (
    id           bigserial PRIMARY KEY,
    code         text NOT NULL UNIQUE,     -- e.g. 'asset:custody:deposits:sandbox:tron:usdt'
    type         text NOT NULL CHECK (type IN ('asset','liability','revenue','expense')),
    rail         text NOT NULL REFERENCES rails(id),
    environment  text NOT NULL REFERENCES environments(name),
    merchant_id  bigint REFERENCES merchants(id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One business event = one transaction; `amount` is its gross in rail base units (for
-- reporting and reconciliation; the postings are the books). (source_type, source_id,
-- kind) makes every automatic posting idempotent.
CREATE TABLE ledger_transactions (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('finality','attach','refund','refund_unapplied',
                                               'write_off','sweep','sweep_reversal','adjustment')),
    rail         text NOT NULL REFERENCES rails(id),
    environment  text NOT NULL REFERENCES environments(name),
    merchant_id  bigint REFERENCES merchants(id),
    reference    text,                       -- the commerce key (merchant + reference)
    payment_id   bigint REFERENCES payments(id),
    transfer_id  bigint REFERENCES chain_transfers(id),
    exception_id bigint REFERENCES exceptions(id),
    amount       numeric(78,0) NOT NULL CHECK (amount >= 0),
    source_type  text NOT NULL,              -- payment | exception | transfer | manual
    source_id    bigint NOT NULL,
    memo         text NOT NULL DEFAULT '',
    posted_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source_type, source_id, kind)
);
CREATE INDEX ledger_transactions_key ON ledger_transactions (merchant_id, environment, reference);
CREATE INDEX ledger_transactions_payment ON ledger_transactions (payment_id);
CREATE INDEX ledger_transactions_transfer ON ledger_transactions (transfer_id) WHERE transfer_id IS NOT NULL;

CREATE TABLE ledger_postings (
    id          bigserial PRIMARY KEY,
    txn_id      bigint NOT NULL REFERENCES ledger_transactions(id),
    account_id  bigint NOT NULL REFERENCES ledger_accounts(id),
    side        text NOT NULL CHECK (side IN ('debit','credit')),
    amount      numeric(78,0) NOT NULL CHECK (amount > 0)
);
CREATE INDEX ledger_postings_txn ON ledger_postings (txn_id);
CREATE INDEX ledger_postings_account ON ledger_postings (account_id, id);

-- The books are append-only: corrections are new transactions.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

-- Every transaction balances, checked at commit (deferred), so a transaction's postings
-- can be written one by one. Also: at least two postings, all on the transaction's rail
-- and environment (one unit of account per transaction).
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE tid bigint; d numeric; c numeric; n int; bad int;
BEGIN
    IF TG_TABLE_NAME = 'ledger_transactions' THEN tid := NEW.id; ELSE tid := NEW.txn_id; END IF;
    SELECT coalesce(sum(p.amount) FILTER (WHERE p.side = 'debit'), 0),
           coalesce(sum(p.amount) FILTER (WHERE p.side = 'credit'), 0),
           count(*),
           count(*) FILTER (WHERE a.rail <> t.rail OR a.environment <> t.environment)
      INTO d, c, n, bad
      FROM ledger_transactions t
      LEFT JOIN ledger_postings p ON p.txn_id = t.id
      LEFT JOIN ledger_accounts a ON a.id = p.account_id
     WHERE t.id = tid;
    IF d <> c OR n < 2 OR bad > 0 THEN
        RAISE EXCEPTION 'ledger transaction % does not balance (debits %, credits %, postings %, foreign accounts %)',
            tid, d, c, n, bad USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_postings_balanced AFTER INSERT ON ledger_postings
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();
CREATE CONSTRAINT TRIGGER ledger_transactions_balanced AFTER INSERT ON ledger_transactions
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

-- Account by code, created on first use.
CREATE FUNCTION ledger_account(p_type text, p_code text, p_rail text, p_env text, p_merchant bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE aid bigint;
BEGIN
    SELECT id INTO aid FROM ledger_accounts WHERE code = p_code;
    IF aid IS NULL THEN
        INSERT INTO ledger_accounts (code, type, rail, environment, merchant_id)
        VALUES (p_code, p_type, p_rail, p_env, p_merchant)
        ON CONFLICT (code) DO NOTHING RETURNING id INTO aid;
        IF aid IS NULL THEN SELECT id INTO aid FROM ledger_accounts WHERE code = p_code; END IF;
    END IF;
    RETURN aid;
END $$;

-- Well-known accounts. Custody is where our USDT sits, by holder: deposits (deposit
-- addresses), hot, sweep (our wallets), unapplied (received but not yet attributed).
CREATE FUNCTION ledger_custody(p_holder text, p_rail text, p_env text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT ledger_account(CASE WHEN p_holder = 'unapplied' THEN 'liability' ELSE 'asset' END,
                          CASE WHEN p_holder = 'unapplied' THEN 'liability:unapplied:' ELSE 'asset:custody:' || p_holder || ':' END
                          || p_env || ':' || p_rail, p_rail, p_env, NULL)
$$;
CREATE FUNCTION ledger_payable(p_merchant bigint, p_rail text, p_env text) RETURNS bigint
LANGUAGE sql AS $$
    SELECT ledger_account('liability', 'liability:payable:' || p_merchant || ':' || p_env || ':' || p_rail,
                          p_rail, p_env, p_merchant)
$$;
CREATE FUNCTION ledger_fees(p_rail text, p_env text) RETURNS bigint LANGUAGE sql AS $$
    SELECT ledger_account('revenue', 'revenue:fees:' || p_env || ':' || p_rail, p_rail, p_env, NULL)
$$;
CREATE FUNCTION ledger_write_offs(p_rail text, p_env text) RETURNS bigint LANGUAGE sql AS $$
    SELECT ledger_account('expense', 'expense:write_offs:' || p_env || ':' || p_rail, p_rail, p_env, NULL)
$$;

-- Posts a transaction with its postings (arrays of account, side, amount; zero amounts
-- are skipped). Returns the id, or NULL when this (source, kind) was already posted.
CREATE FUNCTION ledger_post(p_kind text, p_rail text, p_env text, p_merchant bigint, p_reference text,
                            p_payment bigint, p_transfer bigint, p_exception bigint, p_amount numeric,
                            p_source_type text, p_source_id bigint, p_memo text,
                            p_accounts bigint[], p_sides text[], p_amounts numeric[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE tid bigint;
BEGIN
    INSERT INTO ledger_transactions (kind, rail, environment, merchant_id, reference, payment_id, transfer_id,
                                     exception_id, amount, source_type, source_id, memo)
    VALUES (p_kind, p_rail, p_env, p_merchant, p_reference, p_payment, p_transfer, p_exception, p_amount,
            p_source_type, p_source_id, p_memo)
    ON CONFLICT (source_type, source_id, kind) DO NOTHING RETURNING id INTO tid;
    IF tid IS NULL THEN RETURN NULL; END IF;
    INSERT INTO ledger_postings (txn_id, account_id, side, amount)
    SELECT tid, a, s, m FROM unnest(p_accounts, p_sides, p_amounts) AS x(a, s, m) WHERE m > 0;
    RETURN tid;
END $$;

-- Received funds booked for a merchant: our custody up, the merchant's payable up by the
-- net, fee revenue by the merchant's fee (basis points, rounded down).
CREATE FUNCTION ledger_post_receipt(p_kind text, p_pay payments, p_amount numeric, p_holder text,
                                    p_transfer bigint, p_exception bigint, p_source_type text, p_source_id bigint,
                                    p_memo text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE fee numeric; bps int;
BEGIN
    IF p_amount IS NULL OR p_amount <= 0 THEN RETURN NULL; END IF;
    SELECT fee_bps INTO bps FROM merchants WHERE id = p_pay.merchant_id;
    fee := div(p_amount * coalesce(bps, 0), 10000);
    RETURN ledger_post(p_kind, p_pay.rail, p_pay.environment, p_pay.merchant_id, p_pay.reference,
        p_pay.id, p_transfer, p_exception, p_amount, p_source_type, p_source_id, p_memo,
        ARRAY[ledger_custody(p_holder, p_pay.rail, p_pay.environment),
              ledger_payable(p_pay.merchant_id, p_pay.rail, p_pay.environment),
              ledger_fees(p_pay.rail, p_pay.environment)],
        ARRAY['debit', 'credit', 'credit'],
        ARRAY[p_amount, p_amount - fee, fee]);
END $$;

-- Finality (DESIGN §3): a payment reaching 'finalized' posts what it received.
CREATE FUNCTION ledger_on_payment_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_post_receipt('finality', NEW, NEW.received, 'deposits', NULL, NULL, 'payment', NEW.id,
                                'payment ' || NEW.public_id || ' finalized');
    RETURN NULL;
END $$;
CREATE TRIGGER payments_ledger_final_ins AFTER INSERT ON payments
  FOR EACH ROW WHEN (NEW.state = 'finalized') EXECUTE FUNCTION ledger_on_payment_final();
CREATE TRIGGER payments_ledger_final_upd AFTER UPDATE OF state ON payments
  FOR EACH ROW WHEN (NEW.state = 'finalized' AND OLD.state IS DISTINCT FROM 'finalized')
  EXECUTE FUNCTION ledger_on_payment_final();

-- Where one of our addresses sits: deposits (pool), hot/sweep (wallets), or NULL.
CREATE FUNCTION ledger_holder(p_network text, p_address text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT kind FROM wallets WHERE network = p_network AND lower(address) = lower(p_address) LIMIT 1),
                    (SELECT 'deposits' FROM deposit_addresses WHERE network = p_network
                        AND lower(address) = lower(p_address) LIMIT 1))
$$;

-- The USDT rail a transfer moved on (by contract, never by symbol), or NULL.
CREATE FUNCTION ledger_transfer_rail(t chain_transfers) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT id FROM rails WHERE network = t.network AND lower(contract) = lower(t.contract)
$$;

-- Environment of money at a deposit address: that of the payment it was assigned to.
CREATE FUNCTION ledger_transfer_env(t chain_transfers) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT p.environment FROM payments p WHERE p.id = t.payment_id),
                    (SELECT p.environment FROM deposit_addresses d JOIN payments p ON p.id = d.payment_id
                      WHERE d.network = t.network AND d.address = t.to_address),
                    'production')
$$;

-- Internal sweeps move between our own custody accounts; never revenue. A sweep that
-- leaves the canonical chain is reversed.
CREATE FUNCTION ledger_on_transfer() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE rail text; env text; src text; dst text;
BEGIN
    IF NEW.classification <> 'sweep' THEN RETURN NULL; END IF;
    rail := ledger_transfer_rail(NEW);
    IF rail IS NULL OR NEW.value = 0 THEN RETURN NULL; END IF;
    env := ledger_transfer_env(NEW);
    src := coalesce(ledger_holder(NEW.network, NEW.from_address), 'deposits');
    dst := coalesce(ledger_holder(NEW.network, NEW.to_address), 'sweep');
    IF NEW.status = 'seen' THEN
        PERFORM ledger_post('sweep', rail, env, NULL, NULL, NULL, NEW.id, NULL, NEW.value, 'transfer', NEW.id,
            'internal sweep ' || NEW.tx_hash,
            ARRAY[ledger_custody(dst, rail, env), ledger_custody(src, rail, env)],
            ARRAY['debit', 'credit'], ARRAY[NEW.value, NEW.value]);
    ELSIF EXISTS (SELECT 1 FROM ledger_transactions WHERE source_type = 'transfer' AND source_id = NEW.id
                     AND kind = 'sweep') THEN
        PERFORM ledger_post('sweep_reversal', rail, env, NULL, NULL, NULL, NEW.id, NULL, NEW.value, 'transfer', NEW.id,
            'sweep left the chain ' || NEW.tx_hash,
            ARRAY[ledger_custody(src, rail, env), ledger_custody(dst, rail, env)],
            ARRAY['debit', 'credit'], ARRAY[NEW.value, NEW.value]);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER chain_transfers_ledger_ins AFTER INSERT ON chain_transfers
  FOR EACH ROW WHEN (NEW.classification = 'sweep') EXECUTE FUNCTION ledger_on_transfer();
CREATE TRIGGER chain_transfers_ledger_upd AFTER UPDATE OF classification, status ON chain_transfers
  FOR EACH ROW WHEN (NEW.classification = 'sweep' AND (OLD.classification IS DISTINCT FROM 'sweep'
                     OR OLD.status IS DISTINCT FROM NEW.status))
  EXECUTE FUNCTION ledger_on_transfer();

-- Money movements implied by exception resolutions (DESIGN §4). Resolutions that only
-- change the lifecycle (accept, accept_partial, accept_late, request_topup) post nothing
-- here: the finality posting books what was received. mark_internal_sweep posts through
-- the transfer trigger when the transfer is reclassified.
CREATE FUNCTION ledger_on_exception_resolved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pay payments; tr chain_transfers; rail text; env text; amt numeric; booked boolean; memo text;
BEGIN
    SELECT * INTO pay FROM payments WHERE id = NEW.payment_id;
    SELECT * INTO tr FROM chain_transfers WHERE id = NEW.transfer_id;
    -- a transfer not counted towards a payment was never booked to anyone
    booked := tr.id IS NULL OR (tr.counted AND tr.classification = 'payment');
    rail := coalesce(pay.rail, CASE WHEN tr.id IS NOT NULL THEN ledger_transfer_rail(tr) END, NEW.rail);
    IF rail IS NULL OR NOT EXISTS (SELECT 1 FROM rails WHERE id = rail) THEN RETURN NULL; END IF;  -- not USDT
    env := coalesce(pay.environment, NEW.environment, CASE WHEN tr.id IS NOT NULL THEN ledger_transfer_env(tr) END);
    memo := NEW.type || ' ' || NEW.public_id || ' resolved ' || NEW.resolution;

    IF NEW.resolution IN ('refund', 'refund_excess') THEN
        IF booked AND pay.id IS NOT NULL THEN
            amt := CASE WHEN NEW.resolution = 'refund_excess' THEN coalesce(NEW.amount, pay.received - pay.amount)
                        WHEN NEW.type = 'underpaid' THEN pay.received
                        ELSE coalesce(NEW.amount, tr.value, pay.received) END;
            IF amt > 0 THEN
                PERFORM ledger_post('refund', rail, env, pay.merchant_id, pay.reference, pay.id, NEW.transfer_id, NEW.id,
                    amt, 'exception', NEW.id, memo,
                    ARRAY[ledger_payable(pay.merchant_id, rail, env), ledger_custody('deposits', rail, env)],
                    ARRAY['debit', 'credit'], ARRAY[amt, amt]);
            END IF;
        ELSIF tr.id IS NOT NULL AND tr.value > 0 THEN
            -- in and straight back out: recorded so finance sees the movement
            PERFORM ledger_post('refund_unapplied', rail, env, pay.merchant_id, pay.reference, pay.id, tr.id, NEW.id,
                tr.value, 'exception', NEW.id, memo,
                ARRAY[ledger_custody('deposits', rail, env), ledger_custody('unapplied', rail, env),
                      ledger_custody('unapplied', rail, env), ledger_custody('deposits', rail, env)],
                ARRAY['debit', 'credit', 'debit', 'credit'], ARRAY[tr.value, tr.value, tr.value, tr.value]);
        END IF;
    ELSIF NEW.resolution = 'write_off' THEN
        IF NEW.type = 'underpaid' AND pay.id IS NOT NULL THEN
            -- we absorb the shortfall; the merchant is owed the full amount
            amt := coalesce(NEW.amount, pay.amount - pay.received);
            IF amt > 0 THEN
                PERFORM ledger_post('write_off', rail, env, pay.merchant_id, pay.reference, pay.id, NULL, NEW.id,
                    amt, 'exception', NEW.id, memo,
                    ARRAY[ledger_write_offs(rail, env), ledger_payable(pay.merchant_id, rail, env)],
                    ARRAY['debit', 'credit'], ARRAY[amt, amt]);
            END IF;
        ELSIF NEW.type = 'reorged' AND tr.id IS NOT NULL AND pay.state = 'finalized' THEN
            -- booked at finality, gone from the chain: custody is short by the transfer
            amt := coalesce(NEW.amount, tr.value);
            PERFORM ledger_post('write_off', rail, env, pay.merchant_id, pay.reference, pay.id, tr.id, NEW.id,
                amt, 'exception', NEW.id, memo,
                ARRAY[ledger_write_offs(rail, env), ledger_custody('deposits', rail, env)],
                ARRAY['debit', 'credit'], ARRAY[amt, amt]);
        END IF;
    ELSIF NEW.resolution = 'attach_to_payment' AND pay.id IS NOT NULL AND pay.state = 'finalized'
          AND tr.id IS NOT NULL THEN
        -- attached after finality: the finality posting did not include it
        PERFORM ledger_post_receipt('attach', pay, tr.value, 'deposits', tr.id, NEW.id, 'exception', NEW.id, memo);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER exceptions_ledger_resolved AFTER UPDATE OF state ON exceptions
  FOR EACH ROW WHEN (NEW.state = 'resolved' AND OLD.state IS DISTINCT FROM 'resolved' AND NEW.resolution IS NOT NULL)
  EXECUTE FUNCTION ledger_on_exception_resolved();
