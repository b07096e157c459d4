-- 0076: chain_transfers_to leads with the address, not the network.
--
-- As (network, to_address) it matched `network = $1` alone, and with no statistics yet (a new
-- network, a fresh database, the first minutes of a catch-up) the planner costed it the same as
-- the unique (network, tx_hash, log_index) index and picked it for ingest's per-transfer lookup
-- (ingest.c load_stored): a scan of every transfer of the network, filtered, for each transfer
-- ingested — quadratic in a catch-up. The statement is prepared once per connection, so that plan
-- stayed for the watcher's life. Led by the address, the index still serves lookups by address
-- and can no longer stand in for the unique key.
DROP INDEX IF EXISTS chain_transfers_to;
CREATE INDEX chain_transfers_to ON chain_transfers (to_address, network);
