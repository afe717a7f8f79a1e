/* The ticketctl command table: one row per command, one file per command. */
#ifndef TICKETCTL_COMMANDS_H
#define TICKETCTL_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

/* Every command: argv[0] is the command name; returns the process exit code
 * (0 ok, 1 failure, 2 usage error). Each prints its own --help. */
int cmd_dev(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_seed(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_notify(int argc, char **argv);
int cmd_scenario(int argc, char **argv);
int cmd_anomaly(int argc, char **argv);
int cmd_tune(int argc, char **argv);
int cmd_queue(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_completion(int argc, char **argv);
int cmd_man(int argc, char **argv);
int cmd_openapi(int argc, char **argv);

/* Simulated waiting users (cmd/queue.c, lib/waitload.c) for `queue
 * simulate` and `bench --queue redis --waiting N`: fills the key, Redis
 * and, when cfg->sale is 0, the lowest schedule id from the dev stack or
 * the given URLs, runs, prints a summary and writes outfile (may be NULL).
 * Returns the exit code (0 everyone admitted, 1 not or setup failed). */
struct tk_waitload_config;
int queue_waiting_run(struct tk_waitload_config *cfg, const char *keyfile, const char *state, const char *redis,
                      const char *mysql, const char *outfile, const char *who);

/* The command table (main.c): name, entry, one-line summary, option table.
 * Help text, completions and the man page are all derived from each
 * command's option table (opt.c, docgen.c). */
struct tk_optset;
typedef struct tk_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
    const struct tk_optset *opts; /* its option table (opt.h): parser, --help, man page, completions */
} tk_command;

/* Every command's option table (each in its file). */
extern const struct tk_optset tk_optset_report, tk_optset_seed, tk_optset_tune, tk_optset_scenario, tk_optset_notify,
    tk_optset_migrate, tk_optset_version, tk_optset_completion, tk_optset_man, tk_optset_openapi, tk_optset_bench,
    tk_optset_serve, tk_optset_dev, tk_optset_queue, tk_optset_admin, tk_optset_anomaly;

/* The top-level usage text (main.c). */
void tk_usage(FILE *out);

const tk_command *tk_commands(size_t *n);

#endif
