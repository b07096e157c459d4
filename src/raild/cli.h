/* cli — shared option handling for raild's subcommands. */
#ifndef RAILD_CLI_H
#define RAILD_CLI_H
#include <libpq-fe.h>

/* Connects for a CLI command (conninfo NULL → PG* variables); prints why on failure. */
PGconn *cli_db(const char *conninfo);
/* prints "raild <cmd>: <message>\n" to stderr and returns 2 (usage error exit code) */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* subcommands; each returns the process exit code */
int cmd_migrate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_admin(int argc, char **argv);
#endif
