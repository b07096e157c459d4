-- 0071: the payments board's counts and the `/` filter at 1M payments (DESIGN §9).
-- The `/` filter looks for a substring of the payment's id, reference, rail, state and
-- deposit address (or of its merchant's name): a trigram index answers a rare substring
-- from the index instead of reading every payment. The text is lower-cased once here, so
-- the console matches it with LIKE on a lower-cased pattern.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE FUNCTION payment_search_text(public_id text, reference text, rail text, state text, deposit_address text)
    RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT lower(public_id || ' ' || reference || ' ' || rail || ' ' || state || ' ' || deposit_address) $$;
CREATE INDEX payments_search ON payments
    USING gin (payment_search_text(public_id, reference, rail, state, deposit_address) gin_trgm_ops);
CREATE INDEX merchants_name_search ON merchants USING gin (lower(name) gin_trgm_ops);

-- The board counts the open states exactly (the (environment, state, id) indexes) and the
-- terminal ones since a time (today, or `:payments since=`) by when the payment got there:
-- finalized_at, or the last change for expired and canceled. An index-only count.
CREATE INDEX payments_env_terminal_at ON payments (environment, state, (coalesce(finalized_at, updated_at)))
    INCLUDE (finalized_at, updated_at) WHERE state IN ('finalized', 'expired', 'canceled');
