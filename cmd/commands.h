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

/* The command table (main.c): name, entry, one-line summary. Help text,
 * completions and the man page are all derived from it and from each
 * command's own --help (docgen.c). */
typedef struct tk_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} tk_command;

/* The top-level usage text (main.c). */
void tk_usage(FILE *out);

const tk_command *tk_commands(size_t *n);

#endif
