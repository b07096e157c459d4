/* cli — shared option handling for raild's subcommands. */
#ifndef RAILD_CLI_H
#define RAILD_CLI_H
#include <libpq-fe.h>

/* Connects for a CLI command (conninfo NULL → PG* variables); prints why on failure. */
PGconn *cli_db(const char *conninfo);
/* prints "raild <cmd>: <message>\n" to stderr and returns 2 (usage error exit code) */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Fails fast (message, returns 1) unless the database is reachable and `table` exists,
 * i.e. `raild migrate` has run; 0 when ready. */
/* Without RAILD_SECRETS_KEY a daemon starts only if the database holds no production secret
 * (which it could neither seal nor open); it says so and returns 1, else logs a warning. */
int cli_require_sealing(const char *cmd, const char *conninfo);
int cli_require_migrated(const char *cmd, const char *conninfo, const char *table);
/* SIGINT/SIGTERM → fn, SIGPIPE ignored: the long-running commands' signal set-up. */
void cli_on_stop_signals(void (*fn)(int));

/* subcommands; each returns the process exit code */
int cmd_migrate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_admin(int argc, char **argv);
/* raild watch (watcher.c) */
int cmd_watch(int argc, char **argv);
#endif
