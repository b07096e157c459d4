/* railsim — chain, merchants and a flaky webhook receiver, for the demo, tests and
 * benchmarks. `railsim <command> --help` for each command. */
#include "railsim/sim.h"
#include "railsim/run.h"
#include <stdio.h>
#include <string.h>

/* one line per subcommand, e.g.  { "receiver", receiver_main, "…" }, */
int receiver_main(int argc, char **argv);   /* receiver.c */
int blast_main(int argc, char **argv);      /* blast.c */
static const struct sim_command commands[] = {
    { "receiver", receiver_main, "reference webhook endpoint: verifies signatures, dedupes, fails on purpose" },
    { "blast", blast_main, "signed webhook POSTs through libcurl, no database: a sender's ceiling, for benchmarks" },
    { "run", run_main, "merchants and simulated chains driving raild: payments, transfers, mistakes" },
    { 0 }
};

static void usage(FILE *f)
{
    fprintf(f, "railsim — simulated chain, merchants and webhook receiver\n\nusage: railsim <command> [options]\n\n");
    for (const struct sim_command *c = commands; c->name; c++) fprintf(f, "  %-10s %s\n", c->name, c->help);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { usage(stderr); return 2; }
    if (!strcmp(argv[1], "--help")) { usage(stdout); return 0; }
    for (const struct sim_command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->fn(argc - 1, argv + 1);
    fprintf(stderr, "railsim: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
