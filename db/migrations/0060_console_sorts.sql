-- 0060: the console's sort orders (DESIGN §9): `s` offers only orders an index serves, so a
-- sorted page is an index range scan at any depth (keyset paging), never a sort of the table.
CREATE INDEX payments_env_amount ON payments (environment, amount DESC, id DESC);
CREATE INDEX payments_env_reference ON payments (environment, reference, id);
CREATE INDEX payments_env_state ON payments (environment, state, id);
CREATE INDEX exceptions_live_opened ON exceptions (opened_at, id) WHERE state IN ('open','claimed');
CREATE INDEX exceptions_opened ON exceptions (opened_at, id);
CREATE INDEX exceptions_live_amount ON exceptions ((coalesce(amount, 0)), id) WHERE state IN ('open','claimed');
CREATE INDEX exceptions_amount ON exceptions ((coalesce(amount, 0)), id);
CREATE INDEX payouts_env_amount ON payouts (environment, amount DESC, id DESC);
