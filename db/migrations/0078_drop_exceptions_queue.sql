-- exceptions_queue (severity DESC, sla_due, id over live exceptions) orders exactly as
-- exceptions_console_queue ((5 - severity), sla_due, id, the same rows), which the console
-- already pages by; the API's list now orders by (5 - severity) too and uses that index
-- (or exceptions_console_all when it lists every state). One index entry fewer for every
-- exception opened: the watcher's catch-up opens thousands a second.
DROP INDEX exceptions_queue;
