-- 0030: indexes the console's keyset pages walk (DESIGN §9 "every query indexed and bounded").
-- The exceptions queue pages by (5 - severity, sla_due, id) ascending = most severe, most
-- overdue first; one row comparison on this index serves every page at any depth.
CREATE INDEX exceptions_console_queue ON exceptions ((5 - severity), sla_due, id)
  WHERE state IN ('open', 'claimed');
-- :exceptions state=resolved (or any single state) pages the same way
CREATE INDEX exceptions_console_state ON exceptions (state, (5 - severity), sla_due, id);
-- payments filtered by environment page by id (the board's default)
CREATE INDEX payments_console_env ON payments (environment, id DESC);
-- payments filtered by state within an environment
CREATE INDEX payments_console_env_state ON payments (environment, state, id DESC);
