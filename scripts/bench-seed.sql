-- bench-seed.sql — the large data set for `make bench`, set-based (generate_series), on a
-- freshly migrated database. psql variables (defaults in scripts/bench.sh):
--   payments (1M, with their events and transfers), exceptions (100k open),
--   attempts (2M webhook attempts, 2 per delivery), orders (1M), ledger (1M transactions),
--   pool (free deposit addresses per network, for the API benchmark).
-- Row triggers (change log, recon dirty marks, ledger posting, balance checks, foreign
-- keys) are skipped with session_replication_role = replica: this is a bulk load of data
-- that is consistent by construction, not live traffic. Tables of later migrations
-- (webhooks, orders, ledger) are seeded only when they exist.
\set ON_ERROR_STOP 1
\timing off
SET session_replication_role = replica;
SET synchronous_commit = off;
SET maintenance_work_mem = '512MB';
SET work_mem = '256MB';

SELECT to_regclass('webhook_attempts') IS NOT NULL AS has_webhooks,
       to_regclass('orders') IS NOT NULL AS has_orders,
       to_regclass('ledger_postings') IS NOT NULL AS has_ledger \gset

-- pseudo-random but reproducible: a bijective-ish hash of the row number
CREATE FUNCTION pg_temp.h(i bigint, salt int) RETURNS int LANGUAGE sql IMMUTABLE AS
  $$ SELECT (((i * 2654435761 + salt * 40503) # (i >> 7)) % 1000)::int $$;
-- 24 characters of base32 (a-z, 2-7) like util_random_id, from md5
CREATE FUNCTION pg_temp.b32(t text) RETURNS text LANGUAGE sql IMMUTABLE AS
  $$ SELECT translate(substr(md5(t), 1, 24), '0189', 'wxyz') $$;

-- Secondary indexes of the tables loaded below are dropped and rebuilt after the load:
-- one sorted build beats a million incremental inserts. Indexes backing constraints
-- (primary keys, UNIQUE) stay, so the load is still checked for duplicates.
CREATE TEMP TABLE bench_idx AS
SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = 'public' AND NOT i.indisprimary
   AND c.relname IN ('payments', 'payment_events', 'chain_transfers', 'exceptions', 'deposit_addresses',
                     'webhook_outbox', 'webhook_deliveries', 'webhook_attempts', 'orders',
                     'ledger_transactions', 'ledger_postings')
   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid);
DO $$ DECLARE r record;
BEGIN FOR r IN SELECT name FROM bench_idx LOOP EXECUTE 'DROP INDEX ' || r.name; END LOOP; END $$;

\echo '   merchants, rails'
INSERT INTO merchants (name, tolerance_bps)
SELECT 'Bench Merchant ' || m, (m % 3) * 25 FROM generate_series(1, 50) m;
INSERT INTO merchant_rails (merchant_id, environment, rail)
SELECT m.id, e.name, r.id FROM merchants m CROSS JOIN environments e JOIN rails r ON r.environment = e.name
 WHERE m.name LIKE 'Bench Merchant %';

\echo '   payments'
CREATE TEMP TABLE bp AS
SELECT i,
       (SELECT min(id) FROM merchants WHERE name LIKE 'Bench Merchant %') + (i % 50) AS merchant_id,
       CASE WHEN pg_temp.h(i, 1) < 800 THEN 'production' ELSE 'sandbox' END AS environment,
       CASE WHEN i % 20 < 10 THEN 'tron:usdt' WHEN i % 20 < 15 THEN 'bsc:usdt'
            WHEN i % 20 < 18 THEN 'ethereum:usdt' ELSE 'polygon:usdt' END AS rail,
       CASE WHEN pg_temp.h(i, 2) < 700 THEN 'finalized' WHEN pg_temp.h(i, 2) < 780 THEN 'expired'
            WHEN pg_temp.h(i, 2) < 810 THEN 'canceled'  WHEN pg_temp.h(i, 2) < 890 THEN 'awaiting_payment'
            WHEN pg_temp.h(i, 2) < 910 THEN 'detected'  WHEN pg_temp.h(i, 2) < 950 THEN 'confirming'
            ELSE 'confirmed' END AS state,
       ((i::bigint * 7919) % 500000 + 1000)::numeric AS cents,
       now() - (:payments - i) * interval '7 seconds' AS created_at
  FROM generate_series(1, :payments) i;
-- payments still open are recent (the last hour), so raild's sweeper finds nothing to
-- expire or call stuck the moment a benchmark starts it
UPDATE bp SET created_at = now() - (i % 3000) * interval '1 second'
 WHERE state IN ('awaiting_payment', 'detected', 'confirming', 'confirmed');

INSERT INTO payments (id, public_id, merchant_id, environment, rail, reference, amount, received, confirmed_amount,
                      state, deposit_address, confirmations, metadata, sequence, expires_at, created_at, updated_at,
                      detected_at, confirmed_at, finalized_at)
SELECT i, 'pay_' || pg_temp.b32('p' || i), merchant_id, bp.environment, rail, 'INV-' || lpad(i::text, 8, '0'),
       cents * 10::numeric ^ (r.decimals - 2),
       CASE WHEN state IN ('detected','confirming','confirmed','finalized') THEN cents * 10::numeric ^ (r.decimals - 2) ELSE 0 END,
       CASE WHEN state IN ('confirmed','finalized') THEN cents * 10::numeric ^ (r.decimals - 2) ELSE 0 END,
       state,
       CASE WHEN r.network LIKE 'tron%' THEN 'TBench' || lpad(i::text, 28, 'z') ELSE '0x' || lpad(to_hex(i), 40, '0') END,
       CASE state WHEN 'confirming' THEN 3 WHEN 'confirmed' THEN r.confirm_depth WHEN 'finalized' THEN r.finality_depth
                  ELSE 0 END,
       jsonb_build_object('order', i),
       CASE state WHEN 'awaiting_payment' THEN 0 WHEN 'expired' THEN 1 WHEN 'canceled' THEN 1 WHEN 'detected' THEN 1
                  WHEN 'confirming' THEN 2 WHEN 'confirmed' THEN 3 ELSE 4 END,
       created_at + interval '1 hour', created_at, created_at + interval '3 minutes',
       CASE WHEN state IN ('detected','confirming','confirmed','finalized') THEN created_at + interval '1 minute' END,
       CASE WHEN state IN ('confirmed','finalized') THEN created_at + interval '2 minutes' END,
       CASE WHEN state = 'finalized' THEN created_at + interval '3 minutes' END
  FROM bp JOIN rails r ON r.id = bp.rail AND r.environment = bp.environment;
SELECT setval(pg_get_serial_sequence('payments', 'id'), (SELECT max(id) FROM payments)) AS _seq \gset

\echo '   deposit addresses (assigned, and a free pool for the API benchmark)'
INSERT INTO deposit_addresses (network, address, payment_id, added_at)
SELECT r.network, p.deposit_address, p.id, p.created_at - interval '1 day'
  FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment;
INSERT INTO deposit_addresses (network, address)
SELECT n.name, CASE WHEN n.name LIKE 'tron%' THEN 'TPool' || lpad(i::text, 29, 'z')
                    ELSE '0x' || lpad(to_hex(i), 32, '0') || 'fafafafa' END
  FROM networks n CROSS JOIN generate_series(1, :pool) i WHERE n.name IN ('tron-nile', 'bsc-testnet');

\echo '   payment events'
INSERT INTO payment_events (event_id, payment_id, sequence, type, from_state, to_state, block_number, at, data)
SELECT 'evt_' || pg_temp.b32('e' || p.id || ':' || s.seq), p.id, s.seq, s.type, s.from_state, s.to_state,
       CASE WHEN s.seq >= 2 THEN 50000000 + p.id END, p.created_at + s.seq * interval '1 minute', '{}'
  FROM payments p
  CROSS JOIN LATERAL (
      SELECT x.seq, x.from_state, x.to_state, x.type FROM (VALUES
          (0, NULL, 'awaiting_payment', 'payment.created'), (1, 'awaiting_payment', 'detected', 'payment.detected'),
          (2, 'detected', 'confirming', 'payment.confirming'), (3, 'confirming', 'confirmed', 'payment.confirmed'),
          (4, 'confirmed', 'finalized', 'payment.finalized')) AS x(seq, from_state, to_state, type)
       WHERE x.seq <= p.sequence AND (x.seq = 0 OR p.state IN ('detected','confirming','confirmed','finalized'))
      UNION ALL
      SELECT 1, 'awaiting_payment', p.state, 'payment.' || p.state WHERE p.state IN ('expired','canceled')) s;

\echo '   chain transfers (one per paid payment)'
INSERT INTO chain_transfers (network, tx_hash, log_index, block_number, block_hash, contract, from_address, to_address,
                             value, status, classification, payment_id, counted, first_seen_at, updated_at)
SELECT r.network, '0x' || md5('tx' || p.id) || md5('tx2' || p.id), (p.id % 50)::int,
       CASE WHEN p.state = 'detected' THEN NULL ELSE 50000000 + p.id END,
       CASE WHEN p.state = 'detected' THEN NULL ELSE '0x' || md5('b' || p.id) || md5('b2' || p.id) END,
       r.contract, '0x' || lpad(to_hex(p.id * 7), 40, 'c'), p.deposit_address, p.received, 'seen', 'payment',
       p.id, true, p.detected_at, p.updated_at
  FROM payments p JOIN rails r ON r.id = p.rail AND r.environment = p.environment
 WHERE p.state IN ('detected','confirming','confirmed','finalized');

\echo '   exceptions (open)'
INSERT INTO exceptions (public_id, type, state, severity, sla_due, merchant_id, environment, network, payment_id,
                        amount, rail, details, opened_at, updated_at)
SELECT 'exc_' || pg_temp.b32('x' || p.id), t.type, 'open', 1 + (p.id % 4)::int,
       p.created_at + interval '10 minutes' + (4 - p.id % 4) * interval '2 hours',
       p.merchant_id, p.environment, split_part(p.rail, ':', 1),
       CASE WHEN t.type IN ('unmatched_transfer', 'unclassified_internal') THEN NULL ELSE p.id END,
       div(p.amount, 1 + p.id % 5), p.rail,
       CASE WHEN p.created_at + interval '10 minutes' + (4 - p.id % 4) * interval '2 hours' < now()
            THEN jsonb_build_object('seed', true, 'sla_breached_at', p.created_at, 'severity_before', 1 + p.id % 4)
            ELSE jsonb_build_object('seed', true) END,   -- overdue ones as the SLA sweeper leaves them
       p.created_at + interval '5 minutes',
       p.created_at + interval '5 minutes'
  FROM (SELECT * FROM payments WHERE id % 10 = 3 ORDER BY id DESC LIMIT :exceptions) p
  CROSS JOIN LATERAL (SELECT (ARRAY['underpaid','overpaid','late_payment','unmatched_transfer','wrong_asset',
                                    'duplicate_payment','reorged','unclassified_internal','stuck_unconfirmed'])
                             [1 + ((p.id / 10) % 9)::int] AS type) t;

\if :has_webhooks
\echo '   webhook endpoints, outbox, deliveries, attempts'
INSERT INTO webhook_endpoints (public_id, merchant_id, environment, url, secret, last_attempt_at, last_success_at)
SELECT 'we_' || pg_temp.b32('we' || m.id), m.id, 'production', 'http://127.0.0.1:9/merchant-' || m.id,
       'plain:whsec_' || encode(sha256(('bench' || m.id)::bytea), 'base64'), now(), now()
  FROM merchants m WHERE m.name LIKE 'Bench Merchant %';
CREATE TEMP TABLE bd AS
SELECT p.id AS payment_id, p.merchant_id, p.environment, p.sequence, e.event_id, e.type, e.at,
       pg_temp.h(p.id, 9) AS r
  FROM (SELECT * FROM payments ORDER BY id DESC LIMIT (:attempts / 2)) p
  JOIN payment_events e ON e.payment_id = p.id AND e.sequence = p.sequence;
INSERT INTO webhook_outbox (event_id, merchant_id, environment, type, payment_id, sequence, payload, created_at,
                            fanned_out_at)
SELECT event_id, merchant_id, environment, type, payment_id, sequence,
       '{"id":"' || event_id || '","type":"' || type || '","created_at":"' || at || '","environment":"'
       || environment || '","sequence":' || sequence || ',"data":{"id":"pay_' || pg_temp.b32('p' || payment_id) || '"}}',
       at, at
  FROM bd;
INSERT INTO webhook_deliveries (endpoint_id, outbox_id, event_id, event_type, merchant_id, environment, status,
                                attempts, next_attempt_at, last_http_status, last_error, created_at, updated_at,
                                finished_at)
SELECT w.id, o.id, o.event_id, o.type, o.merchant_id, 'production',
       CASE WHEN bd.r < 950 THEN 'succeeded' WHEN bd.r < 980 THEN 'failed' ELSE 'pending' END, 2,
       o.created_at + interval '5 seconds', CASE WHEN bd.r < 950 THEN 200 ELSE 503 END,
       CASE WHEN bd.r < 950 THEN NULL ELSE 'HTTP 503' END, o.created_at, o.created_at + interval '5 seconds',
       CASE WHEN bd.r < 980 THEN o.created_at + interval '5 seconds' END
  FROM webhook_outbox o JOIN bd ON bd.event_id = o.event_id
  JOIN webhook_endpoints w ON w.merchant_id = o.merchant_id AND w.public_id LIKE 'we_%';
INSERT INTO webhook_attempts (delivery_id, endpoint_id, attempt_no, trigger, dispatcher, started_at, finished_at,
                              duration_ms, http_status, response_body, error, success, signature, webhook_timestamp)
SELECT d.id, d.endpoint_id, a.n, 'scheduled', 'bench-seed', d.created_at + (a.n - 1) * interval '5 seconds',
       d.created_at + (a.n - 1) * interval '5 seconds' + interval '80 milliseconds', 80 + (d.id % 200)::int,
       CASE WHEN a.n = 2 AND d.status = 'succeeded' THEN 200 ELSE 503 END,
       CASE WHEN a.n = 2 AND d.status = 'succeeded' THEN '{"ok":true}' ELSE 'Service Unavailable' END,
       NULL, a.n = 2 AND d.status = 'succeeded', 'v1,' || encode(sha256(d.event_id::bytea), 'base64'),
       extract(epoch FROM d.created_at)::bigint
  FROM webhook_deliveries d CROSS JOIN generate_series(1, 2) a(n);
\else
\echo '   (no webhook tables: skipped)'
\endif

\if :has_orders
\echo '   orders (commerce plane)'
INSERT INTO orders (merchant_id, environment, reference, amount, status, updated_at, source, received_at)
SELECT p.merchant_id, p.environment, p.reference, p.amount * 10::numeric ^ (18 - r.decimals),
       CASE WHEN p.state = 'finalized' THEN (CASE WHEN pg_temp.h(p.id, 5) < 900 THEN 'fulfilled'
                                                  WHEN pg_temp.h(p.id, 5) < 950 THEN 'paid' ELSE 'pending' END)
            WHEN p.state IN ('expired', 'canceled') THEN 'canceled'
            WHEN p.state IN ('confirming', 'confirmed') AND pg_temp.h(p.id, 5) < 50 THEN 'fulfilled'
            ELSE 'pending' END,
       p.updated_at, 'api', p.updated_at
  FROM (SELECT * FROM payments ORDER BY id DESC LIMIT :orders) p JOIN rails r ON r.id = p.rail AND r.environment = p.environment;
\else
\echo '   (no orders table: skipped — reconciliation migrations not present)'
\endif

\if :has_ledger
\echo '   ledger (finality postings and sweeps)'
CREATE TEMP TABLE bl AS
SELECT p.id, p.merchant_id, p.environment, p.rail, p.reference, p.received, p.finalized_at,
       row_number() OVER (ORDER BY p.id DESC) AS rn
  FROM payments p WHERE p.state = 'finalized';
CREATE TEMP TABLE bacct AS
SELECT DISTINCT merchant_id, environment, rail,
       ledger_custody('deposits', rail, environment) AS deposits,
       ledger_custody('hot', rail, environment) AS hot,
       ledger_payable(merchant_id, rail, environment) AS payable
  FROM (SELECT DISTINCT merchant_id, environment, rail FROM bl) k;
-- finality for every finalized payment, then sweeps (deposits -> hot) up to :ledger in all
INSERT INTO ledger_transactions (kind, rail, environment, merchant_id, reference, payment_id, amount, source_type,
                                 source_id, memo, posted_at)
SELECT 'finality', rail, environment, merchant_id, reference, id, received, 'payment', id,
       'payment finalized', finalized_at
  FROM bl WHERE rn <= :ledger
UNION ALL
SELECT 'sweep', rail, environment, merchant_id, NULL, NULL, received, 'payment', id, 'sweep to hot wallet',
       finalized_at + interval '1 hour'
  FROM bl WHERE rn <= greatest(:ledger - (SELECT count(*) FROM bl), 0);
INSERT INTO ledger_postings (txn_id, account_id, side, amount)
SELECT t.id, x.account, x.side, t.amount
  FROM ledger_transactions t JOIN bl ON bl.id = t.source_id
  JOIN bacct a ON a.merchant_id = bl.merchant_id AND a.environment = bl.environment AND a.rail = bl.rail
  CROSS JOIN LATERAL (VALUES (CASE t.kind WHEN 'finality' THEN a.deposits ELSE a.hot END, 'debit'),
                             (CASE t.kind WHEN 'finality' THEN a.payable ELSE a.deposits END, 'credit')) x(account, side)
 WHERE t.source_type = 'payment';
\else
\echo '   (no ledger tables: skipped — reconciliation migrations not present)'
\endif

\echo '   rebuilding secondary indexes'
DO $$ DECLARE r record;
-- (a partitioned table's index is defined ON ONLY the parent; made on the parent without
-- ONLY, it is made on every partition again, as the migration made it)
BEGIN FOR r IN SELECT def FROM bench_idx LOOP EXECUTE replace(r.def, ' ON ONLY ', ' ON '); END LOOP; END $$;

RESET session_replication_role;
\echo '   analyze'
ANALYZE;

-- the Overview's rollups as a busy day leaves them: 26 hours of minutes for both
-- environments, every rail, 10 finality buckets a rail, up to 50 webhook endpoints, every
-- break class, the networks (what the sweeper and the dispatcher would have written)
\if :{?skip_rollups}
\else
SELECT to_regclass('console_rollup') IS NOT NULL AS has_rollups \gset
\if :has_rollups
\echo '   console rollups (26 h)'
INSERT INTO console_rollup (environment, metric, minute, subject, bucket, value)
SELECT e.name, x.metric, date_trunc('minute', now()) - make_interval(mins => g), x.subject, x.bucket,
       1 + (g * 7 + x.bucket + length(x.subject)) % x.top
  FROM environments e CROSS JOIN generate_series(0, 1559) g
  CROSS JOIN LATERAL (
    SELECT m.metric, r.id AS subject, 0::smallint AS bucket, 40 AS top
      FROM rails r CROSS JOIN (VALUES ('payments_created'), ('payments_finalized')) m(metric) WHERE r.environment = e.name
    UNION ALL
    SELECT 'finality', r.id, (30 + b * 3)::smallint, 5 FROM rails r CROSS JOIN generate_series(0, 9) b
     WHERE r.environment = e.name
    UNION ALL
    SELECT m.metric, w.id::text, 0::smallint, 60
      FROM (SELECT id FROM webhook_endpoints WHERE environment = e.name ORDER BY id LIMIT 50) w
      CROSS JOIN (VALUES ('webhook_attempts'), ('webhook_successes')) m(metric)
    UNION ALL
    SELECT m.metric, '', 0::smallint, 300 FROM (VALUES ('exceptions_open'), ('exceptions_overdue')) m(metric)
    UNION ALL
    SELECT 'breaks_open', c.cls, 0::smallint, 20
      FROM unnest(ARRAY['fulfilled_before_finality','missing_in_finance','orphan_posting','amount_mismatch',
                        'missing_in_provider','commerce_lagging','unapplied_transfer']) c(cls)
    UNION ALL
    SELECT 'chain_lag', n.name, 0::smallint, 12 FROM networks n WHERE n.environment = e.name) x
ON CONFLICT DO NOTHING;
ANALYZE console_rollup;
\endif
\endif
