/* The ticketctl command table: one row per command, one file per command. */
#ifndef TICKETCTL_COMMANDS_H
#define TICKETCTL_COMMANDS_H

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

#endif
