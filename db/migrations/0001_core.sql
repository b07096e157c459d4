-- 0001: gateway core. Semantics: ../shared/DESIGN.md §2-§4, §7, §8.
-- Amounts are numeric(78,0) in base units of the rail's token.

CREATE TABLE environments (
    name text PRIMARY KEY CHECK (name IN ('sandbox', 'production'))
);
INSERT INTO environments VALUES ('sandbox'), ('production');

CREATE TABLE merchants (
    id            bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    -- accepted difference between received and expected before under/overpaid opens
    tolerance_bps integer NOT NULL DEFAULT 0 CHECK (tolerance_bps BETWEEN 0 AND 10000),
    fee_bps       integer NOT NULL DEFAULT 0 CHECK (fee_bps BETWEEN 0 AND 10000),
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Networks and the rail catalogue (DESIGN §2). Depths are data, not code.
CREATE TABLE networks (
    name          text PRIMARY KEY,
    address_kind  text NOT NULL CHECK (address_kind IN ('tron', 'evm'))
);
INSERT INTO networks VALUES ('tron', 'tron'), ('ethereum', 'evm'), ('bsc', 'evm'), ('polygon', 'evm');

CREATE TABLE rails (
    id              text PRIMARY KEY,                 -- e.g. 'tron:usdt'
    network         text NOT NULL REFERENCES networks(name),
    asset           text NOT NULL,
    standard        text NOT NULL,
    contract        text NOT NULL,                    -- matched case-insensitively for EVM
    decimals        integer NOT NULL CHECK (decimals BETWEEN 0 AND 36),
    confirm_depth   integer NOT NULL CHECK (confirm_depth > 0),
    finality_depth  integer NOT NULL CHECK (finality_depth >= confirm_depth),
    stuck_after     interval NOT NULL DEFAULT '30 minutes',
    UNIQUE (network, contract)
);
INSERT INTO rails (id, network, asset, standard, contract, decimals, confirm_depth, finality_depth) VALUES
 ('tron:usdt',     'tron',     'usdt', 'TRC20', 'TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t',         6, 19, 20),
 ('ethereum:usdt', 'ethereum', 'usdt', 'ERC20', '0xdac17f958d2ee523a2206206994597c13d831ec7', 6, 12, 64),
 ('bsc:usdt',      'bsc',      'usdt', 'BEP20', '0x55d398326f99059ff775485246999027b3197955', 18, 15, 30),
 ('polygon:usdt',  'polygon',  'usdt', 'ERC20', '0xc2132d05d31c914a87c6611c10748aeb04b58e8f', 6, 64, 256);

CREATE TABLE merchant_rails (
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    environment  text NOT NULL REFERENCES environments(name),
    rail         text NOT NULL REFERENCES rails(id),
    enabled      boolean NOT NULL DEFAULT true,
    changed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, environment, rail)
);

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    role         text NOT NULL CHECK (role IN ('merchant','watcher','viewer','support','ops','finance','admin')),
    merchant_id  bigint REFERENCES merchants(id),
    environment  text NOT NULL REFERENCES environments(name),
    prefix       text NOT NULL,                 -- first characters, for display only
    hash         bytea NOT NULL UNIQUE,         -- sha256 of the whole key
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK ((role = 'merchant') = (merchant_id IS NOT NULL))
);

-- Deposit addresses: each is assigned to at most one payment, ever, so a late
-- transfer still finds the payment it was meant for.
CREATE TABLE deposit_addresses (
    id           bigserial PRIMARY KEY,
    network      text NOT NULL REFERENCES networks(name),
    address      text NOT NULL,                -- canonical: lower-case hex for EVM
    payment_id   bigint,
    added_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (network, address)
);
CREATE INDEX deposit_addresses_free ON deposit_addresses (network, id) WHERE payment_id IS NULL;

CREATE TABLE wallets (
    id        bigserial PRIMARY KEY,
    network   text NOT NULL REFERENCES networks(name),
    address   text NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('hot', 'sweep')),
    added_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (network, address)
);

CREATE TABLE payments (
    id              bigserial PRIMARY KEY,
    public_id       text NOT NULL UNIQUE,        -- 'pay_…', what the API shows
    merchant_id     bigint NOT NULL REFERENCES merchants(id),
    environment     text NOT NULL REFERENCES environments(name),
    rail            text NOT NULL REFERENCES rails(id),
    reference       text NOT NULL,
    amount          numeric(78,0) NOT NULL CHECK (amount > 0),
    received        numeric(78,0) NOT NULL DEFAULT 0,   -- counted transfers, any depth
    confirmed_amount numeric(78,0) NOT NULL DEFAULT 0,  -- counted transfers at confirm depth
    state           text NOT NULL CHECK (state IN ('awaiting_payment','detected','confirming',
                                         'confirmed','finalized','expired','canceled')),
    deposit_address text NOT NULL,
    confirmations   integer NOT NULL DEFAULT 0,
    metadata        jsonb NOT NULL DEFAULT '{}',
    sequence        integer NOT NULL DEFAULT 0,          -- last event sequence
    expires_at      timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    detected_at     timestamptz,
    confirmed_at    timestamptz,
    finalized_at    timestamptz
);
ALTER TABLE deposit_addresses ADD FOREIGN KEY (payment_id) REFERENCES payments(id);
CREATE INDEX payments_merchant_keyset ON payments (merchant_id, environment, id DESC);
CREATE INDEX payments_state ON payments (state, id DESC);
CREATE INDEX payments_reference ON payments (merchant_id, environment, reference);
CREATE INDEX payments_expiry ON payments (expires_at) WHERE state = 'awaiting_payment';
CREATE INDEX payments_open_by_rail ON payments (rail) WHERE state IN ('detected','confirming','confirmed');
CREATE INDEX payments_updated ON payments (updated_at DESC);

CREATE TABLE idempotency_keys (
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    environment   text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status        integer NOT NULL,
    response      text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, environment, key)
);

CREATE TABLE chain_heads (
    network     text PRIMARY KEY REFERENCES networks(name),
    head        bigint NOT NULL,
    finalized   bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chain_transfers (
    id            bigserial PRIMARY KEY,
    network       text NOT NULL REFERENCES networks(name),
    tx_hash       text NOT NULL,
    log_index     integer NOT NULL,
    block_number  bigint,                    -- null while in the mempool
    block_hash    text,
    contract      text NOT NULL,
    from_address  text NOT NULL,
    to_address    text NOT NULL,
    value         numeric(78,0) NOT NULL CHECK (value >= 0),
    -- seen: in mempool/block; removed: reorged out or dropped
    status        text NOT NULL DEFAULT 'seen' CHECK (status IN ('seen','removed')),
    -- what the engine made of it
    classification text NOT NULL CHECK (classification IN ('payment','late','unmatched','wrong_asset',
                                        'duplicate','sweep','internal','unclassified_internal')),
    payment_id    bigint REFERENCES payments(id),
    counted       boolean NOT NULL DEFAULT false,  -- contributes to payment.received
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (network, tx_hash, log_index)
);
CREATE INDEX chain_transfers_payment ON chain_transfers (payment_id);
CREATE INDEX chain_transfers_to ON chain_transfers (network, to_address);
CREATE INDEX chain_transfers_class ON chain_transfers (classification, id DESC);

CREATE TABLE payment_events (
    id           bigserial PRIMARY KEY,
    event_id     text NOT NULL UNIQUE,        -- 'evt_…', shared with the outbox
    payment_id   bigint NOT NULL REFERENCES payments(id),
    sequence     integer NOT NULL,
    type         text NOT NULL,
    from_state   text,
    to_state     text,
    block_number bigint,
    at           timestamptz NOT NULL DEFAULT now(),
    data         jsonb NOT NULL DEFAULT '{}',
    UNIQUE (payment_id, sequence)
);

CREATE TABLE exceptions (
    id           bigserial PRIMARY KEY,
    public_id    text NOT NULL UNIQUE,                 -- 'exc_…'
    type         text NOT NULL CHECK (type IN ('underpaid','overpaid','late_payment','unmatched_transfer',
                   'wrong_asset','duplicate_payment','reorged','unclassified_internal','stuck_unconfirmed')),
    state        text NOT NULL DEFAULT 'open' CHECK (state IN ('open','claimed','resolved','dismissed')),
    severity     integer NOT NULL CHECK (severity BETWEEN 1 AND 4),   -- 4 = critical
    sla_due      timestamptz NOT NULL,
    merchant_id  bigint REFERENCES merchants(id),
    environment  text REFERENCES environments(name),
    network      text,
    payment_id   bigint REFERENCES payments(id),
    transfer_id  bigint REFERENCES chain_transfers(id),
    amount       numeric(78,0),          -- base units at stake
    rail         text,
    assignee     text,
    version      integer NOT NULL DEFAULT 1,
    resolution   text,
    note         text,
    resolved_by  text,
    details      jsonb NOT NULL DEFAULT '{}',
    opened_at    timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz
);
CREATE INDEX exceptions_queue ON exceptions (severity DESC, sla_due, id) WHERE state IN ('open','claimed');
CREATE INDEX exceptions_type_state ON exceptions (type, state, id DESC);
CREATE INDEX exceptions_payment ON exceptions (payment_id);
CREATE INDEX exceptions_transfer ON exceptions (transfer_id);
-- at most one live exception of a type for one transfer / payment
CREATE UNIQUE INDEX exceptions_one_live_transfer ON exceptions (type, transfer_id)
  WHERE state IN ('open','claimed') AND transfer_id IS NOT NULL;

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,          -- key name, or 'cli:<unix user>'
    actor_key_id bigint,
    role        text NOT NULL,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL,
    reason      text,
    before      jsonb,
    after       jsonb
);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id DESC);
CREATE INDEX audit_log_at ON audit_log (at DESC);

-- Webhook outbox: one row per event, committed with the state change that caused it.
-- Delivered by the dispatcher (webhooks issue).
CREATE TABLE webhook_outbox (
    id           bigserial PRIMARY KEY,
    event_id     text NOT NULL UNIQUE,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    environment  text NOT NULL REFERENCES environments(name),
    type         text NOT NULL,
    payment_id   bigint REFERENCES payments(id),
    exception_id bigint REFERENCES exceptions(id),
    sequence     integer NOT NULL,
    payload      text NOT NULL,          -- the exact JSON envelope to send
    created_at   timestamptz NOT NULL DEFAULT now(),
    fanned_out_at timestamptz             -- set when deliveries were created
);
CREATE INDEX webhook_outbox_pending ON webhook_outbox (id) WHERE fanned_out_at IS NULL;

-- Change feed (DESIGN §8): append-only log, NOTIFY on commit.
CREATE TABLE change_log (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    tbl         text NOT NULL,
    op          text NOT NULL,
    row_id      bigint NOT NULL
);

CREATE FUNCTION change_log_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE rid bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN rid := OLD.id; ELSE rid := NEW.id; END IF;
    INSERT INTO change_log (tbl, op, row_id) VALUES (TG_TABLE_NAME, TG_OP, rid);
    -- one notification per table per transaction (NOTIFY folds identical payloads)
    PERFORM pg_notify('railtop_changes', TG_TABLE_NAME);
    RETURN NULL;
END $$;

CREATE TRIGGER payments_changes AFTER INSERT OR UPDATE ON payments
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER exceptions_changes AFTER INSERT OR UPDATE ON exceptions
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER chain_transfers_changes AFTER INSERT OR UPDATE ON chain_transfers
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER payment_events_changes AFTER INSERT ON payment_events
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER audit_log_changes AFTER INSERT ON audit_log
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
CREATE TRIGGER webhook_outbox_changes AFTER INSERT ON webhook_outbox
  FOR EACH ROW EXECUTE FUNCTION change_log_notify();
