/* ticketctl: parse the command name, dispatch through the table, nothing more. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static const tk_command commands[] = {
    {"dev", cmd_dev, "start/stop/inspect the private local stack (MariaDB, Redis, Kafka)", &tk_optset_dev},
    {"migrate", cmd_migrate, "apply the versioned schema migrations", &tk_optset_migrate},
    {"serve", cmd_serve, "run the reservation HTTP API", &tk_optset_serve},
    {"seed", cmd_seed, "bulk-load users, concerts, schedules and seats", &tk_optset_seed},
    {"admin", cmd_admin, "the admin API: concerts, schedules, seats, waiting room, cache purge", &tk_optset_admin},
    {"bench", cmd_bench, "run virtual users through the booking flow", &tk_optset_bench},
    {"report", cmd_report, "render a results JSON as HTML + Markdown", &tk_optset_report},
    {"scenario", cmd_scenario, "contention scenarios comparing lock strategies", &tk_optset_scenario},
    {"notify", cmd_notify, "deliver reservation/payment events to a webhook", &tk_optset_notify},
    {"anomaly", cmd_anomaly, "anomaly detection on the metrics stream and NAB series", &tk_optset_anomaly},
    {"tune", cmd_tune, "index advice proven by measurement; query latency (--measure)", &tk_optset_tune},
    {"queue", cmd_queue, "waiting room: simulate many waiting users (simulate)", &tk_optset_queue},
    {"version", cmd_version, "version, commit, build type and library versions", &tk_optset_version},
    {"completion", cmd_completion, "print a shell completion script (bash or zsh)", &tk_optset_completion},
    {"man", cmd_man, "print the manual page (troff), made from every command's options", &tk_optset_man},
    {"openapi", cmd_openapi, "print the HTTP API as OpenAPI 3.0.3 (docs/openapi.json)", &tk_optset_openapi},
};

const tk_command *tk_commands(size_t *n)
{
    *n = sizeof commands / sizeof commands[0];
    return commands;
}

void tk_usage(FILE *out)
{
    fprintf(out, "usage: ticketctl <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'ticketctl <command> --help' for a command's options.\n"
                 "Backends: --mysql URL, --redis URL, --kafka-brokers LIST, or TICKETCTL_MYSQL,\n"
                 "TICKETCTL_REDIS, TICKETCTL_KAFKA_BROKERS; with none, the dev stack in\n"
                 "TICKETCTL_STATE (default ./.ticketctl) is used and started if needed.\n"
                 "A Redis Cluster: --redis redis-cluster://host:port[,host:port...] (any nodes as\n"
                 "seeds; commands route by key slot; `ticketctl dev up --redis-cluster 3` starts one).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        tk_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        tk_usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(1, argv + 1);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ticketctl: unknown command '%s'\n", argv[1]);
    tk_usage(stderr);
    return 2;
}
