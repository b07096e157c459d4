/* railsim — the simulator: subcommands share this header. Each subcommand lives in
 * its own file and is registered with one line in main.c's table. */
#ifndef RAILSIM_SIM_H
#define RAILSIM_SIM_H

struct sim_command {
    const char *name;
    int (*fn)(int argc, char **argv);   /* argv[0] is the subcommand name */
    const char *help;
};
#endif
