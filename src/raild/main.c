/* raild — the gateway daemon. `raild <command> --help` for each command. */
#include "raild/cli.h"
#include "raild/webhook_dispatch.h"
#include "raild/orders.h"
#include "raild/recon.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAILD_VERSION "0.1.0"

struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
};

static const struct command commands[] = {
    { "migrate", cmd_migrate, "apply pending database migrations" },
    { "serve",   cmd_serve,   "run the HTTP API and background workers" },
    { "admin",   cmd_admin,   "reviewed onboarding: merchants, rails, addresses, wallets, keys" },
    { "dispatch", cmd_dispatch, "deliver signed webhooks (also runs inside serve)" },
    { "watch",   cmd_watch,   "watch one network's chain through its RPC endpoints (also runs inside serve)" },
    { "recon",   cmd_recon,   "reconcile commerce, provider and finance planes (also runs inside serve)" },
    { "import-orders", cmd_import_orders, "import a merchant's orders from CSV (the commerce plane)" },
    { 0 }
};

static void usage(FILE *f)
{
    fprintf(f, "raild %s — railtop's payment gateway daemon\n\nusage: raild <command> [options]\n\n", RAILD_VERSION);
    for (const struct command *c = commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->help);
    fprintf(f, "\nThe database is any libpq connection string given with --db; without it the\n"
               "PG* environment variables apply. `raild <command> --help` for details.\n");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) { usage(stdout); return 0; }
    if (!strcmp(argv[1], "--version")) { printf("raild %s\n", RAILD_VERSION); return 0; }
    for (const struct command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "raild: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
