-- 0040: a network serves exactly one environment, rails are configured per environment,
-- watcher keys belong to one network, and the chain watcher keeps its state here
-- (DESIGN §2, §7, §10). Before this, sandbox and production shared the four networks, so
-- a sandbox watcher key could move production payments.

-- ------------------------------------------------------------------ networks
ALTER TABLE networks
    ADD COLUMN environment   text REFERENCES environments(name),
    ADD COLUMN chain_id      bigint,
    -- expected block interval: the console flags a network with no new head for 3x this
    ADD COLUMN block_time_ms integer NOT NULL DEFAULT 3000 CHECK (block_time_ms BETWEEN 100 AND 600000),
    -- the HTTP ingest refuses a head more than this many blocks past the last one
    ADD COLUMN max_head_jump bigint NOT NULL DEFAULT 10000 CHECK (max_head_jump BETWEEN 1 AND 100000000),
    ADD COLUMN created_at    timestamptz NOT NULL DEFAULT now();
-- eth_chainId as each chain's JSON-RPC answers it (Tron: 0x2b6653dc mainnet, 0xcd8690dc Nile)
UPDATE networks SET environment = 'production',
       chain_id = CASE name WHEN 'tron' THEN 728126428 WHEN 'ethereum' THEN 1 WHEN 'bsc' THEN 56 WHEN 'polygon' THEN 137 END,
       block_time_ms = CASE name WHEN 'ethereum' THEN 12000 WHEN 'polygon' THEN 2000 ELSE 3000 END;
INSERT INTO networks (name, address_kind, environment, chain_id, block_time_ms) VALUES
    ('tron-nile',    'tron', 'sandbox', 3448148188, 3000),
    ('sepolia',      'evm',  'sandbox', 11155111,   12000),
    ('bsc-testnet',  'evm',  'sandbox', 97,         3000),
    ('polygon-amoy', 'evm',  'sandbox', 80002,      2000);
ALTER TABLE networks ALTER COLUMN environment SET NOT NULL, ALTER COLUMN chain_id SET NOT NULL;
ALTER TABLE networks ADD CONSTRAINT networks_chain_id_positive CHECK (chain_id > 0),
    ADD CONSTRAINT networks_name_form CHECK (name ~ '^[a-z0-9][a-z0-9-]{0,31}$'),
    ADD CONSTRAINT networks_chain_id_key UNIQUE (chain_id),
    ADD CONSTRAINT networks_name_environment_key UNIQUE (name, environment);

-- ------------------------------------------------------------------ rails per environment
ALTER TABLE payments DROP CONSTRAINT payments_rail_fkey;
ALTER TABLE merchant_rails DROP CONSTRAINT merchant_rails_rail_fkey;
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_rail_fkey;
ALTER TABLE ledger_transactions DROP CONSTRAINT ledger_transactions_rail_fkey;
ALTER TABLE rails DROP CONSTRAINT rails_network_fkey;
ALTER TABLE rails DROP CONSTRAINT rails_pkey;
ALTER TABLE rails ADD COLUMN environment text NOT NULL DEFAULT 'production' REFERENCES environments(name);
ALTER TABLE rails ALTER COLUMN environment DROP DEFAULT;
-- finality from the node's `finalized` block where it has one; finality_depth stays the
-- rule where it has not (and for the HTTP ingest when a watcher sends no finalized height)
ALTER TABLE rails ADD COLUMN finality_tag boolean NOT NULL DEFAULT false;
-- a sandbox rail may wait for the deployment to name its test token (NULL: not usable)
ALTER TABLE rails ALTER COLUMN contract DROP NOT NULL;
ALTER TABLE rails ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE rails ADD PRIMARY KEY (environment, id);
ALTER TABLE rails ADD FOREIGN KEY (network, environment) REFERENCES networks (name, environment);
UPDATE rails SET finality_tag = true WHERE id IN ('ethereum:usdt', 'bsc:usdt', 'polygon:usdt');
-- Sandbox rails on the testnets. Tron Nile and BSC testnet have the faucet USDT tokens
-- their foundations publish; Sepolia and Amoy have no well-known USDT, so the deployment
-- must name one (`raild admin set-rail --contract`) before those rails take payments.
INSERT INTO rails (id, environment, network, asset, standard, contract, decimals, confirm_depth, finality_depth,
                   finality_tag) VALUES
 ('tron:usdt',     'sandbox', 'tron-nile',    'usdt', 'TRC20', 'TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf', 6, 19, 20, false),
 ('ethereum:usdt', 'sandbox', 'sepolia',      'usdt', 'ERC20', NULL, 6, 12, 64, true),
 ('bsc:usdt',      'sandbox', 'bsc-testnet',  'usdt', 'BEP20', '0x337610d27c682e347c9cd60bd4b3b107c9d34ddd', 18, 15, 30, true),
 ('polygon:usdt',  'sandbox', 'polygon-amoy', 'usdt', 'ERC20', NULL, 6, 64, 256, true);
ALTER TABLE payments ADD FOREIGN KEY (environment, rail) REFERENCES rails (environment, id);
ALTER TABLE merchant_rails ADD FOREIGN KEY (environment, rail) REFERENCES rails (environment, id);
ALTER TABLE ledger_accounts ADD FOREIGN KEY (environment, rail) REFERENCES rails (environment, id);
ALTER TABLE ledger_transactions ADD FOREIGN KEY (environment, rail) REFERENCES rails (environment, id);

-- ------------------------------------------------------------------ existing sandbox data
-- Sandbox payments move to the sandbox twin of their network, with their deposit
-- addresses, transfers and exceptions; the chain heads are copied (it was one chain).
-- Unassigned pool addresses, wallets and transfers that hit no sandbox payment stay on the
-- production network: nothing says they were sandbox's. Add sandbox pools afresh.
CREATE TEMP TABLE net_twin (prod text PRIMARY KEY, sand text NOT NULL) ON COMMIT DROP;
INSERT INTO net_twin VALUES ('tron', 'tron-nile'), ('ethereum', 'sepolia'), ('bsc', 'bsc-testnet'),
                            ('polygon', 'polygon-amoy');
INSERT INTO chain_heads (network, head, finalized, updated_at)
    SELECT t.sand, h.head, h.finalized, h.updated_at FROM chain_heads h JOIN net_twin t ON t.prod = h.network;
UPDATE deposit_addresses d SET network = t.sand FROM payments p, net_twin t
 WHERE d.payment_id = p.id AND p.environment = 'sandbox' AND d.network = t.prod;
UPDATE chain_transfers c SET network = t.sand FROM payments p, net_twin t
 WHERE c.payment_id = p.id AND p.environment = 'sandbox' AND c.network = t.prod;
UPDATE exceptions e SET network = t.sand FROM net_twin t
 WHERE e.environment = 'sandbox' AND e.network = t.prod;
UPDATE exceptions e SET details = jsonb_set(e.details, '{network}', to_jsonb(t.sand)) FROM net_twin t
 WHERE e.environment = 'sandbox' AND e.details->>'network' = t.prod;

-- ------------------------------------------------------------------ watcher keys
-- A watcher key posts for one network only (and so one environment). Keys made before
-- this knew no network: they are revoked, with an audit row, rather than guessed.
ALTER TABLE api_keys ADD COLUMN network text;
ALTER TABLE api_keys ADD FOREIGN KEY (network, environment) REFERENCES networks (name, environment);
INSERT INTO audit_log (actor, role, action, object_type, object_id, reason, before, after)
    SELECT 'migration:0040', 'admin', 'key.revoke', 'api_key', id::text,
           'watcher keys are scoped to one network now; create one per network with --network',
           jsonb_build_object('revoked_at', NULL), jsonb_build_object('revoked_at', now())
      FROM api_keys WHERE role = 'watcher' AND revoked_at IS NULL;
UPDATE api_keys SET revoked_at = now() WHERE role = 'watcher' AND revoked_at IS NULL;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_watcher_network
    CHECK ((role = 'watcher') = (network IS NOT NULL) OR (role = 'watcher' AND revoked_at IS NOT NULL));

-- ------------------------------------------------------------------ the watcher's state
-- RPC endpoints: secrets (URLs carry provider keys). `urls` is sealed like webhook secrets
-- when RAILD_SECRETS_KEY is set; `hosts` is what logs and the console may show.
CREATE TABLE network_rpc (
    network     text PRIMARY KEY REFERENCES networks(name),
    urls        text NOT NULL,
    hosts       text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    updated_by  text NOT NULL
);
-- where the watcher has scanned to: every block up to block_number is ingested
CREATE TABLE chain_checkpoints (
    network      text PRIMARY KEY REFERENCES networks(name),
    block_number bigint NOT NULL CHECK (block_number >= 0),
    block_hash   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
-- the unfinalized window: hashes of scanned blocks above finality, for parent-hash checks
CREATE TABLE chain_blocks (
    network      text NOT NULL REFERENCES networks(name),
    number       bigint NOT NULL,
    hash         text NOT NULL,
    parent_hash  text NOT NULL,
    PRIMARY KEY (network, number)
);
-- one watcher per network across raild copies; a copy that dies stops renewing
CREATE TABLE watcher_leases (
    network     text PRIMARY KEY REFERENCES networks(name),
    holder      text NOT NULL,
    expires_at  timestamptz NOT NULL
);
-- what the watcher of each network is doing: /metrics and the console read this
CREATE TABLE watcher_status (
    id             bigserial UNIQUE,           -- the change log's row id
    network        text PRIMARY KEY REFERENCES networks(name),
    state          text NOT NULL CHECK (state IN ('starting','running','refused','incident','stopped')),
    holder         text,
    reason         text,                       -- why refused / incident / the last error
    rpc_host       text,                       -- host only, never the URL
    head           bigint,
    finalized      bigint,
    checkpoint     bigint,
    head_seen_at   timestamptz,                -- when the node last showed a new head
    range_size     integer,
    reorgs         bigint NOT NULL DEFAULT 0,
    rpc_errors     jsonb NOT NULL DEFAULT '{}', -- code -> count
    last_error     text,
    last_error_at  timestamptz,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- the console's network panel wakes on it (the watcher writes a status row only when
-- something an operator would notice changed: head, state, an error)
CREATE TRIGGER watcher_status_changes AFTER INSERT OR UPDATE ON watcher_status FOR EACH ROW
  EXECUTE FUNCTION change_log_notify();

-- a reorg deeper than finality stops that network's watcher: an operator decides
ALTER TABLE exceptions DROP CONSTRAINT IF EXISTS exceptions_type_check;
ALTER TABLE exceptions ADD CONSTRAINT exceptions_type_check CHECK (type IN ('underpaid','overpaid',
    'late_payment','unmatched_transfer','wrong_asset','duplicate_payment','reorged','unclassified_internal',
    'stuck_unconfirmed','recon_break','chain_incident'));
CREATE UNIQUE INDEX exceptions_one_live_incident ON exceptions (network)
    WHERE type = 'chain_incident' AND state IN ('open','claimed');

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_app') THEN
    EXECUTE 'GRANT SELECT ON network_rpc TO railtop_app';
    EXECUTE 'GRANT SELECT, INSERT, UPDATE, DELETE ON chain_checkpoints, chain_blocks, watcher_leases,
             watcher_status TO railtop_app';
    EXECUTE 'GRANT USAGE, SELECT ON watcher_status_id_seq TO railtop_app';
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'railtop_console') THEN
    EXECUTE 'GRANT SELECT (network) ON api_keys TO railtop_console';
    EXECUTE 'GRANT SELECT ON chain_checkpoints, watcher_status TO railtop_console';
    EXECUTE 'REVOKE ALL ON network_rpc, watcher_leases FROM railtop_console';
  END IF;
END $$;

-- Money at an address no payment claimed belongs to the environment of its network
-- (was: 'production', when networks were shared).
CREATE OR REPLACE FUNCTION ledger_transfer_env(t chain_transfers) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT p.environment FROM payments p WHERE p.id = t.payment_id),
                    (SELECT p.environment FROM deposit_addresses d JOIN payments p ON p.id = d.payment_id
                      WHERE d.network = t.network AND d.address = t.to_address),
                    (SELECT environment FROM networks WHERE name = t.network))
$$;
