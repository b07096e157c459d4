-- 0050: money out (DESIGN §11). Payouts (refunds and settlements) from our hot wallets,
-- four-eyes approval by treasury, a payout address whitelist with cooling-off, the
-- signer endpoints, nonces per hot wallet, and the ledger movements of a payout.
-- The rules that keep anyone from moving money alone live here as well as in raild: the
-- approval triggers refuse a requester approving, and an approval short of the quorum.

-- ------------------------------------------------------------------ roles
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check
  CHECK (role IN ('merchant','watcher','viewer','support','ops','finance','treasury','admin'));

-- ------------------------------------------------------------------ policy
-- per rail: above this amount two distinct approvers (NULL: one is enough), and the most
-- that may be requested per merchant in 24 h (NULL: no limit)
ALTER TABLE rails ADD COLUMN payout_dual_above numeric(78,0) CHECK (payout_dual_above >= 0),
                  ADD COLUMN payout_velocity_24h numeric(78,0) CHECK (payout_velocity_24h > 0);
-- per network: the fee cap (wei per gas), how many blocks a broadcast may wait before it is
-- replaced, and the gas limit of an ERC-20 transfer
ALTER TABLE networks ADD COLUMN max_fee_per_gas numeric(78,0) NOT NULL DEFAULT 300000000000
                         CHECK (max_fee_per_gas > 0),
                     ADD COLUMN replace_after_blocks integer NOT NULL DEFAULT 12
                         CHECK (replace_after_blocks BETWEEN 1 AND 10000),
                     ADD COLUMN payout_gas_limit integer NOT NULL DEFAULT 100000
                         CHECK (payout_gas_limit BETWEEN 21000 AND 10000000);

-- the signer (eth_signTransaction) per network: sealed like RPC endpoints
CREATE TABLE network_signer (
    network     text PRIMARY KEY REFERENCES networks(name),
    urls        text NOT NULL,
    hosts       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);

-- the next nonce per hot wallet; nonces of payouts that failed before broadcast are
-- handed out again first, so the wallet's sequence never has a gap
ALTER TABLE wallets ADD COLUMN next_nonce bigint CHECK (next_nonce >= 0);
CREATE TABLE wallet_free_nonces (
    wallet_id  bigint NOT NULL REFERENCES wallets(id),
    nonce      bigint NOT NULL,
    PRIMARY KEY (wallet_id, nonce)
);

-- one payout worker per network across raild copies (as the watcher's lease)
CREATE TABLE payout_leases (
    network     text PRIMARY KEY REFERENCES networks(name),
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- ------------------------------------------------------------------ whitelist
CREATE TABLE payout_addresses (
    id            bigserial PRIMARY KEY,
    public_id     text NOT NULL UNIQUE,                -- 'pad_…'
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    environment   text NOT NULL REFERENCES environments(name),
    network       text NOT NULL,
    address       text NOT NULL,                       -- canonical (lower-case hex for EVM)
    label         text NOT NULL CHECK (length(label) BETWEEN 1 AND 200),
    state         text NOT NULL DEFAULT 'pending_approval'
                  CHECK (state IN ('pending_approval','cooling_off','active','rejected','revoked')),
    version       integer NOT NULL DEFAULT 1,
    requested_by  bigint NOT NULL REFERENCES api_keys(id),
    requested_by_name text NOT NULL,
    approved_by   bigint REFERENCES api_keys(id),
    approved_by_name text,
    note          text,
    active_from   timestamptz,                         -- approval + cooling-off
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (network, environment) REFERENCES networks (name, environment),
    CHECK (approved_by IS NULL OR approved_by <> requested_by),
    CHECK ((state IN ('cooling_off','active')) = (active_from IS NOT NULL))
);
CREATE UNIQUE INDEX payout_addresses_one_live ON payout_addresses (merchant_id, environment, network, address)
  WHERE state IN ('pending_approval','cooling_off','active');

-- ------------------------------------------------------------------ payouts
CREATE TABLE payout_transitions (
    from_state text NOT NULL,
    to_state   text NOT NULL,
    PRIMARY KEY (from_state, to_state)
);
-- the same table as src/core/payout_states.c (tests/api/95_payouts.py compares them)
INSERT INTO payout_transitions VALUES
 ('requested','approved'), ('requested','rejected'), ('requested','canceled'),
 ('approved','signed'), ('approved','canceled'), ('approved','failed'),
 ('signed','broadcast'), ('signed','failed'),
 ('broadcast','confirming'), ('broadcast','failed'),
 ('confirming','confirmed'), ('confirming','broadcast'), ('confirming','finalized'),
 ('confirmed','finalized'), ('confirmed','broadcast');

CREATE TABLE payouts (
    id             bigserial PRIMARY KEY,
    public_id      text NOT NULL UNIQUE,               -- 'po_…'
    kind           text NOT NULL CHECK (kind IN ('refund','settlement')),
    merchant_id    bigint REFERENCES merchants(id),    -- NULL: a refund of money no merchant owned
    environment    text NOT NULL REFERENCES environments(name),
    rail           text NOT NULL,
    network        text NOT NULL REFERENCES networks(name),
    amount         numeric(78,0) NOT NULL CHECK (amount > 0),
    to_address     text NOT NULL,
    -- where the money is owed from in the ledger: the merchant's payable, or unapplied
    source         text NOT NULL CHECK (source IN ('payable','unapplied')),
    state          text NOT NULL DEFAULT 'requested' CHECK (state IN ('requested','approved','signed','broadcast',
                   'confirming','confirmed','finalized','rejected','canceled','failed')),
    version        integer NOT NULL DEFAULT 1,
    reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    payment_id     bigint REFERENCES payments(id),
    exception_id   bigint REFERENCES exceptions(id),
    transfer_id    bigint REFERENCES chain_transfers(id),
    payout_address_id bigint REFERENCES payout_addresses(id),
    approvals_needed integer NOT NULL CHECK (approvals_needed BETWEEN 1 AND 2),
    requested_by   bigint NOT NULL REFERENCES api_keys(id),
    requested_by_name text NOT NULL,
    requested_role text NOT NULL,
    idempotency_key text,
    request_hash   text,                               -- sha256 of the canonical request body
    wallet_id      bigint REFERENCES wallets(id),      -- the hot wallet, once signing starts
    nonce          bigint,
    tx_hash        text,                               -- the transaction in force
    block_number   bigint,
    broadcast_head bigint,                             -- the chain head when last (re)sent
    attempts       integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error     text,
    fee_native     numeric(78,0),                      -- gas used x price, native units
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    finalized_at   timestamptz,
    FOREIGN KEY (environment, rail) REFERENCES rails (environment, id),
    UNIQUE (wallet_id, nonce),
    CHECK ((kind = 'settlement') = (payout_address_id IS NOT NULL)),
    CHECK (kind = 'refund' OR merchant_id IS NOT NULL)
);
CREATE UNIQUE INDEX payouts_idempotency ON payouts (merchant_id, environment, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX payouts_queue ON payouts (state, id);
CREATE INDEX payouts_work ON payouts (network, next_attempt_at)
  WHERE state IN ('approved','signed','broadcast','confirming','confirmed');
CREATE INDEX payouts_merchant ON payouts (merchant_id, environment, rail, created_at);
CREATE INDEX payouts_payment ON payouts (payment_id) WHERE payment_id IS NOT NULL;
CREATE INDEX payouts_exception ON payouts (exception_id) WHERE exception_id IS NOT NULL;

CREATE TABLE payout_approvals (
    id         bigserial PRIMARY KEY,
    payout_id  bigint NOT NULL REFERENCES payouts(id),
    key_id     bigint NOT NULL REFERENCES api_keys(id),
    key_name   text NOT NULL,
    decision   text NOT NULL CHECK (decision IN ('approve','reject')),
    note       text NOT NULL CHECK (length(note) BETWEEN 1 AND 2000),
    at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (payout_id, key_id)
);

-- every transaction sent for a payout: the first, each replacement, each re-send
CREATE TABLE payout_transactions (
    id           bigserial PRIMARY KEY,
    payout_id    bigint NOT NULL REFERENCES payouts(id),
    network      text NOT NULL,
    nonce        bigint NOT NULL,
    tx_hash      text NOT NULL,
    raw          text NOT NULL,                       -- the signed transaction, 0x hex
    max_fee_per_gas numeric(78,0) NOT NULL,
    max_priority_fee_per_gas numeric(78,0) NOT NULL,
    gas_limit    integer NOT NULL,
    state        text NOT NULL DEFAULT 'signed' CHECK (state IN ('signed','broadcast','replaced','mined')),
    sends        integer NOT NULL DEFAULT 0,          -- eth_sendRawTransaction calls
    last_error   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    UNIQUE (network, tx_hash)
);
CREATE INDEX payout_transactions_payout ON payout_transactions (payout_id, id);

-- the timeline the console shows
CREATE TABLE payout_events (
    id          bigserial PRIMARY KEY,
    payout_id   bigint NOT NULL REFERENCES payouts(id),
    from_state  text,
    to_state    text NOT NULL,
    actor       text NOT NULL,
    data        jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX payout_events_payout ON payout_events (payout_id, id);

-- a transfer that is one of our payouts (matched by tx hash) is expected, never an exception
ALTER TABLE chain_transfers DROP CONSTRAINT chain_transfers_classification_check;
ALTER TABLE chain_transfers ADD CONSTRAINT chain_transfers_classification_check
  CHECK (classification IN ('payment','late','unmatched','wrong_asset','duplicate','sweep',
                            'internal','unclassified_internal','ignored','payout'));

-- ------------------------------------------------------------------ the rules, in the database
CREATE FUNCTION payouts_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n int;
BEGIN
    IF NEW.state IS DISTINCT FROM OLD.state THEN
        IF NOT EXISTS (SELECT 1 FROM payout_transitions WHERE from_state = OLD.state AND to_state = NEW.state) THEN
            RAISE EXCEPTION 'payout % cannot move from % to %', OLD.public_id, OLD.state, NEW.state
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.state = 'canceled' AND OLD.nonce IS NOT NULL THEN
            RAISE EXCEPTION 'payout % is being signed (nonce %): too late to cancel', OLD.public_id, OLD.nonce
                USING ERRCODE = 'check_violation';
        END IF;
        IF NEW.state = 'approved' THEN
            SELECT count(DISTINCT key_id) INTO n FROM payout_approvals
             WHERE payout_id = NEW.id AND decision = 'approve' AND key_id <> NEW.requested_by;
            IF n < NEW.approvals_needed THEN
                RAISE EXCEPTION 'payout % needs % approvals, has %', NEW.public_id, NEW.approvals_needed, n
                    USING ERRCODE = 'check_violation';
            END IF;
        END IF;
    END IF;
    IF (NEW.amount, NEW.to_address, NEW.requested_by, NEW.approvals_needed, NEW.rail, NEW.environment)
       IS DISTINCT FROM (OLD.amount, OLD.to_address, OLD.requested_by, OLD.approvals_needed, OLD.rail, OLD.environment)
    THEN
        RAISE EXCEPTION 'payout % : amount, destination, requester, quorum, rail and environment are fixed',
            OLD.public_id USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payouts_guard BEFORE UPDATE ON payouts FOR EACH ROW EXECUTE FUNCTION payouts_guard();

-- A new payout is checked again here, whatever wrote it: never to one of our own addresses,
-- a refund never above what its payment received minus live refunds, the merchant's 24 h
-- velocity limit, a settlement only to its merchant's active whitelist entry. (raild checks
-- the same first, under an advisory lock, and answers with the precise 4xx.)
CREATE FUNCTION payouts_insert_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE lim numeric; used numeric; got numeric;
BEGIN
    IF NEW.state <> 'requested' OR NEW.version <> 1 THEN
        RAISE EXCEPTION 'a payout starts requested' USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM deposit_addresses WHERE network = NEW.network AND lower(address) = lower(NEW.to_address))
       OR EXISTS (SELECT 1 FROM wallets WHERE network = NEW.network AND lower(address) = lower(NEW.to_address)) THEN
        RAISE EXCEPTION 'payout %: % is one of our own addresses', NEW.public_id, NEW.to_address
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.kind = 'refund' AND NEW.source = 'payable' AND NEW.payment_id IS NOT NULL THEN
        SELECT received INTO got FROM payments WHERE id = NEW.payment_id;
        SELECT coalesce(sum(amount), 0) INTO used FROM payouts WHERE payment_id = NEW.payment_id AND kind = 'refund'
           AND source = 'payable' AND state NOT IN ('rejected','canceled','failed');
        IF used + NEW.amount > got THEN
            RAISE EXCEPTION 'payout %: more than is refundable (% received, % refunded)', NEW.public_id, got, used
                USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    SELECT payout_velocity_24h INTO lim FROM rails WHERE id = NEW.rail AND environment = NEW.environment;
    IF lim IS NOT NULL AND NEW.merchant_id IS NOT NULL THEN
        SELECT coalesce(sum(amount), 0) INTO used FROM payouts WHERE merchant_id = NEW.merchant_id
           AND environment = NEW.environment AND rail = NEW.rail AND created_at > now() - interval '24 hours'
           AND state NOT IN ('rejected','canceled','failed');
        IF used + NEW.amount > lim THEN
            RAISE EXCEPTION 'payout %: over the 24 h velocity limit', NEW.public_id USING ERRCODE = 'check_violation';
        END IF;
    END IF;
    IF NEW.kind = 'settlement' AND NOT EXISTS (SELECT 1 FROM payout_addresses a WHERE a.id = NEW.payout_address_id
           AND a.merchant_id = NEW.merchant_id AND a.environment = NEW.environment AND a.network = NEW.network
           AND lower(a.address) = lower(NEW.to_address)
           AND (a.state = 'active' OR (a.state = 'cooling_off' AND a.active_from <= now()))) THEN
        RAISE EXCEPTION 'payout %: a settlement goes only to an active whitelist entry of its merchant', NEW.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payouts_insert_guard BEFORE INSERT ON payouts FOR EACH ROW EXECUTE FUNCTION payouts_insert_guard();

CREATE FUNCTION payout_approvals_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE p payouts;
BEGIN
    SELECT * INTO p FROM payouts WHERE id = NEW.payout_id;
    IF p.requested_by = NEW.key_id THEN
        RAISE EXCEPTION 'four eyes: the requester of payout % cannot decide on it', p.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    IF p.state <> 'requested' THEN
        RAISE EXCEPTION 'payout % is % : no more decisions', p.public_id, p.state USING ERRCODE = 'check_violation';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM api_keys WHERE id = NEW.key_id AND role = 'treasury' AND revoked_at IS NULL
                     AND environment = p.environment) THEN
        RAISE EXCEPTION 'only a treasury key of the payout''s environment decides on payout %', p.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payout_approvals_guard BEFORE INSERT ON payout_approvals
  FOR EACH ROW EXECUTE FUNCTION payout_approvals_guard();
CREATE TRIGGER payout_approvals_append_only BEFORE UPDATE OR DELETE ON payout_approvals
  FOR EACH ROW EXECUTE FUNCTION ledger_append_only();

CREATE FUNCTION payout_addresses_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.approved_by IS NOT NULL AND OLD.approved_by IS NULL AND NOT EXISTS (
        SELECT 1 FROM api_keys WHERE id = NEW.approved_by AND role = 'treasury' AND revoked_at IS NULL
           AND environment = NEW.environment) THEN
        RAISE EXCEPTION 'only a treasury key approves payout address %', NEW.public_id USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.address, NEW.network, NEW.merchant_id, NEW.requested_by) IS DISTINCT FROM
       (OLD.address, OLD.network, OLD.merchant_id, OLD.requested_by) THEN
        RAISE EXCEPTION 'payout address % : address, network, merchant and requester are fixed', OLD.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER payout_addresses_guard BEFORE UPDATE ON payout_addresses
  FOR EACH ROW EXECUTE FUNCTION payout_addresses_guard();

-- ------------------------------------------------------------------ ledger
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_kind_check;
ALTER TABLE ledger_transactions ADD CONSTRAINT ledger_transactions_kind_check
  CHECK (kind IN ('finality','attach','refund','refund_unapplied','write_off','sweep','sweep_reversal',
                  'adjustment','unapplied_in','unapplied_in_reversal','payout_reserve','payout_release',
                  'payout','network_fee'));

CREATE FUNCTION ledger_in_flight(p_rail text, p_env text) RETURNS bigint LANGUAGE sql AS $$
    SELECT ledger_account('liability', 'liability:payouts_in_flight:' || p_env || ':' || p_rail, p_rail, p_env, NULL)
$$;
CREATE FUNCTION ledger_unapplied(p_rail text, p_env text) RETURNS bigint LANGUAGE sql AS $$
    SELECT ledger_custody('unapplied', p_rail, p_env)
$$;
CREATE FUNCTION ledger_payout_source(p payouts) RETURNS bigint LANGUAGE sql AS $$
    SELECT CASE WHEN p.source = 'payable' THEN ledger_payable(p.merchant_id, p.rail, p.environment)
                ELSE ledger_unapplied(p.rail, p.environment) END
$$;

-- approval reserves (owed → in flight); finality pays out of the hot wallet's custody; a
-- payout that ends without leaving releases what it reserved. Network fees are booked in
-- the native asset (wei) by their own transaction.
CREATE FUNCTION ledger_on_payout() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE memo text;
BEGIN
    memo := NEW.kind || ' ' || NEW.public_id || ' ' || NEW.state;
    IF NEW.state = 'approved' THEN
        PERFORM ledger_post('payout_reserve', NEW.rail, NEW.environment, NEW.merchant_id, NULL, NEW.payment_id, NULL,
            NEW.exception_id, NEW.amount, 'payout', NEW.id, memo,
            ARRAY[ledger_payout_source(NEW), ledger_in_flight(NEW.rail, NEW.environment)],
            ARRAY['debit', 'credit'], ARRAY[NEW.amount, NEW.amount]);
    ELSIF NEW.state = 'finalized' THEN
        PERFORM ledger_post('payout', NEW.rail, NEW.environment, NEW.merchant_id, NULL, NEW.payment_id, NEW.transfer_id,
            NEW.exception_id, NEW.amount, 'payout', NEW.id, memo || ' ' || coalesce(NEW.tx_hash, ''),
            ARRAY[ledger_in_flight(NEW.rail, NEW.environment), ledger_custody('hot', NEW.rail, NEW.environment)],
            ARRAY['debit', 'credit'], ARRAY[NEW.amount, NEW.amount]);
        IF coalesce(NEW.fee_native, 0) > 0 THEN
            PERFORM ledger_post('network_fee', NEW.rail, NEW.environment, NULL, NULL, NULL, NULL, NULL, NEW.fee_native,
                'payout', NEW.id, 'network fee of ' || NEW.public_id || ' in ' || NEW.network || ' native units',
                ARRAY[ledger_account('expense', 'expense:network_fees:' || NEW.environment || ':' || NEW.network,
                                     NEW.rail, NEW.environment, NULL),
                      ledger_account('asset', 'asset:native:hot:' || NEW.environment || ':' || NEW.network,
                                     NEW.rail, NEW.environment, NULL)],
                ARRAY['debit', 'credit'], ARRAY[NEW.fee_native, NEW.fee_native]);
        END IF;
    ELSIF NEW.state IN ('rejected', 'canceled', 'failed') AND EXISTS (
            SELECT 1 FROM ledger_transactions WHERE source_type = 'payout' AND source_id = NEW.id
               AND kind = 'payout_reserve') THEN
        PERFORM ledger_post('payout_release', NEW.rail, NEW.environment, NEW.merchant_id, NULL, NEW.payment_id, NULL,
            NEW.exception_id, NEW.amount, 'payout', NEW.id, memo,
            ARRAY[ledger_in_flight(NEW.rail, NEW.environment), ledger_payout_source(NEW)],
            ARRAY['debit', 'credit'], ARRAY[NEW.amount, NEW.amount]);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER payouts_ledger AFTER UPDATE OF state ON payouts
  FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state) EXECUTE FUNCTION ledger_on_payout();

-- A refund resolution that creates a payout books nothing itself: the payout does, when
-- it is approved and when it leaves. Money never booked to anyone (an unmatched, late or
-- duplicate transfer) is first booked as held for the payer (unapplied), so the payout has
-- something to draw on; reopening before signing reverses that.
CREATE OR REPLACE FUNCTION ledger_on_exception_resolved() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    pay payments; tr chain_transfers; rail text; env text; amt numeric; booked boolean; memo text; po payouts;
BEGIN
    SELECT * INTO pay FROM payments WHERE id = NEW.payment_id;
    SELECT * INTO tr FROM chain_transfers WHERE id = NEW.transfer_id;
    booked := tr.id IS NULL OR (tr.counted AND tr.classification = 'payment');
    rail := coalesce(pay.rail, CASE WHEN tr.id IS NOT NULL THEN ledger_transfer_rail(tr) END, NEW.rail);
    env := coalesce(pay.environment, NEW.environment, CASE WHEN tr.id IS NOT NULL THEN ledger_transfer_env(tr) END);
    IF rail IS NULL OR NOT EXISTS (SELECT 1 FROM rails WHERE id = rail AND environment = env) THEN RETURN NULL; END IF;
    memo := NEW.type || ' ' || NEW.public_id || ' resolved ' || NEW.resolution;
    SELECT * INTO po FROM payouts WHERE exception_id = NEW.id AND state NOT IN ('rejected','canceled','failed')
     ORDER BY id DESC LIMIT 1;

    IF NEW.resolution IN ('refund', 'refund_excess') AND po.id IS NOT NULL THEN
        IF po.source = 'unapplied' AND tr.id IS NOT NULL AND tr.value > 0 THEN
            PERFORM ledger_post('unapplied_in', rail, env, pay.merchant_id, pay.reference, pay.id, tr.id, NEW.id,
                tr.value, 'exception', NEW.id, memo || ': held for the payer',
                ARRAY[ledger_custody('deposits', rail, env), ledger_unapplied(rail, env)],
                ARRAY['debit', 'credit'], ARRAY[tr.value, tr.value]);
        END IF;
    ELSIF NEW.resolution IN ('refund', 'refund_excess') THEN
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
            PERFORM ledger_post('refund_unapplied', rail, env, pay.merchant_id, pay.reference, pay.id, tr.id, NEW.id,
                tr.value, 'exception', NEW.id, memo,
                ARRAY[ledger_custody('deposits', rail, env), ledger_custody('unapplied', rail, env),
                      ledger_custody('unapplied', rail, env), ledger_custody('deposits', rail, env)],
                ARRAY['debit', 'credit', 'debit', 'credit'], ARRAY[tr.value, tr.value, tr.value, tr.value]);
        END IF;
    ELSIF NEW.resolution = 'write_off' THEN
        IF NEW.type = 'underpaid' AND pay.id IS NOT NULL THEN
            amt := coalesce(NEW.amount, pay.amount - pay.received);
            IF amt > 0 THEN
                PERFORM ledger_post('write_off', rail, env, pay.merchant_id, pay.reference, pay.id, NULL, NEW.id,
                    amt, 'exception', NEW.id, memo,
                    ARRAY[ledger_write_offs(rail, env), ledger_payable(pay.merchant_id, rail, env)],
                    ARRAY['debit', 'credit'], ARRAY[amt, amt]);
            END IF;
        ELSIF NEW.type = 'reorged' AND tr.id IS NOT NULL AND pay.state = 'finalized' THEN
            amt := coalesce(NEW.amount, tr.value);
            PERFORM ledger_post('write_off', rail, env, pay.merchant_id, pay.reference, pay.id, tr.id, NEW.id,
                amt, 'exception', NEW.id, memo,
                ARRAY[ledger_write_offs(rail, env), ledger_custody('deposits', rail, env)],
                ARRAY['debit', 'credit'], ARRAY[amt, amt]);
        END IF;
    ELSIF NEW.resolution = 'attach_to_payment' AND pay.id IS NOT NULL AND pay.state = 'finalized'
          AND tr.id IS NOT NULL THEN
        PERFORM ledger_post_receipt('attach', pay, tr.value, 'deposits', tr.id, NEW.id, 'exception', NEW.id, memo);
    END IF;
    RETURN NULL;
END $$;

-- the console wakes on payouts and whitelist changes
CREATE TRIGGER payouts_changes AFTER INSERT OR UPDATE ON payouts FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER payout_addresses_changes AFTER INSERT OR UPDATE ON payout_addresses
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON network_signer, wallet_free_nonces, payout_leases, payout_addresses, payouts,
             payout_transactions, payout_events TO railtop_app';
    EXECUTE 'GRANT SELECT, INSERT ON payout_approvals TO railtop_app';
    EXECUTE 'GRANT SELECT ON payout_transitions TO railtop_app';
    EXECUTE 'GRANT USAGE, SELECT ON payout_addresses_id_seq, payouts_id_seq, payout_approvals_id_seq,
             payout_transactions_id_seq, payout_events_id_seq TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT ON payout_addresses, payouts, payout_approvals, payout_events, payout_transitions
             TO railtop_console';
    -- the console sees what was sent (hashes, fees), never the signed bytes
    EXECUTE 'GRANT SELECT (id, payout_id, network, nonce, tx_hash, max_fee_per_gas, max_priority_fee_per_gas,
             gas_limit, state, sends, last_error, created_at, sent_at) ON payout_transactions TO railtop_console';
    EXECUTE 'REVOKE ALL ON network_signer, wallet_free_nonces, payout_leases FROM railtop_console';
  END IF;
END $$;

-- ------------------------------------------------------------------ governed changes (DESIGN §11)
-- Production rail contract/decimals/depths and production RPC and signer endpoints change
-- only through a proposal another admin or treasury key approves, effective from a stated
-- time. The proposer can never approve (a CHECK and the trigger below).
CREATE TABLE governed_changes (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,              -- 'chg_…'
    command         text NOT NULL CHECK (command IN ('set-rail','set-rpc','set-signer')),
    environment     text NOT NULL REFERENCES environments(name),
    target          text NOT NULL,                     -- 'production/ethereum:usdt', a network
    args            jsonb NOT NULL,                    -- what the command applies (never a URL)
    sealed          text,                              -- set-rpc / set-signer: the URLs, sealed
    before          jsonb,
    after           jsonb NOT NULL,
    state           text NOT NULL DEFAULT 'proposed' CHECK (state IN ('proposed','approved','applied','rejected')),
    reason          text,
    proposed_by     text NOT NULL,
    proposed_by_key bigint NOT NULL REFERENCES api_keys(id),
    decided_by      text,
    decided_by_key  bigint REFERENCES api_keys(id),
    decision_note   text,
    effective_at    timestamptz,                       -- NULL: as soon as approved
    created_at      timestamptz NOT NULL DEFAULT now(),
    decided_at      timestamptz,
    applied_at      timestamptz,
    CHECK (decided_by_key IS NULL OR decided_by_key <> proposed_by_key)
);
CREATE INDEX governed_changes_due ON governed_changes (effective_at) WHERE state = 'approved';

CREATE FUNCTION governed_changes_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.decided_by_key IS NOT NULL AND OLD.decided_by_key IS NULL AND NOT EXISTS (
        SELECT 1 FROM api_keys WHERE id = NEW.decided_by_key AND role IN ('admin','treasury')
           AND environment = NEW.environment AND revoked_at IS NULL) THEN
        RAISE EXCEPTION 'change %: only an admin or treasury key of % decides', NEW.public_id, NEW.environment
            USING ERRCODE = 'check_violation';
    END IF;
    IF (NEW.args, NEW.sealed, NEW.after, NEW.proposed_by_key, NEW.command, NEW.target)
       IS DISTINCT FROM (OLD.args, OLD.sealed, OLD.after, OLD.proposed_by_key, OLD.command, OLD.target) THEN
        RAISE EXCEPTION 'change %: what it changes and who proposed it are fixed', OLD.public_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER governed_changes_guard BEFORE UPDATE ON governed_changes
  FOR EACH ROW EXECUTE FUNCTION governed_changes_guard();
CREATE TRIGGER governed_changes_changes AFTER INSERT OR UPDATE ON governed_changes
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT, INSERT, UPDATE ON governed_changes TO railtop_app';
    EXECUTE 'GRANT USAGE, SELECT ON governed_changes_id_seq TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT (id, public_id, command, environment, target, before, after, state, reason, proposed_by,
             decided_by, decision_note, effective_at, created_at, decided_at, applied_at) ON governed_changes
             TO railtop_console';
  END IF;
END $$;

-- ------------------------------------------------------------------ wallet balances (DESIGN §6, §11)
-- Per hot wallet and rail: the token's balanceOf at the finalized block against the ledger's
-- custody of the hot wallet. The payout worker (it has the node) checks; the first check
-- records the difference it found as the wallet's baseline (money the wallet held before
-- raild booked it), every later difference is a break.
ALTER TABLE wallets ADD COLUMN baseline jsonb NOT NULL DEFAULT '{}';   -- rail -> base units
ALTER TABLE recon_breaks DROP CONSTRAINT recon_breaks_class_check;
ALTER TABLE recon_breaks ADD CONSTRAINT recon_breaks_class_check CHECK (class IN ('fulfilled_before_finality',
    'missing_in_finance','orphan_posting','amount_mismatch','missing_in_provider','commerce_lagging',
    'unapplied_transfer','wallet_balance_mismatch'));
CREATE OR REPLACE FUNCTION recon_break_fields(p_class text, p_planes text) RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_class
        WHEN 'fulfilled_before_finality' THEN ARRAY['c_status', 'p_state']
        WHEN 'missing_in_finance'        THEN ARRAY['p_state', 'f_transactions']
        WHEN 'orphan_posting'            THEN ARRAY['f_transactions', 'p_state']
        WHEN 'amount_mismatch'           THEN
            CASE p_planes WHEN 'commerce,provider' THEN ARRAY['c_amount', 'p_amount']
                          WHEN 'provider,finance'  THEN ARRAY['p_amount', 'f_amount']
                          ELSE ARRAY['c_amount', 'p_amount', 'f_amount'] END
        WHEN 'missing_in_provider'       THEN ARRAY['c_status', 'p_payments']
        WHEN 'commerce_lagging'          THEN ARRAY['c_status', 'p_state']
        WHEN 'unapplied_transfer'        THEN ARRAY['p_state', 'f_transactions']
        WHEN 'wallet_balance_mismatch'   THEN ARRAY['p_amount', 'f_amount']
    END
$$;
