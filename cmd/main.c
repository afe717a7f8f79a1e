/* ticketctl: parse the command name, dispatch through the table, nothing more. */
#include "commands.h"

#include <stdio.h>
#include <string.h>

static const tk_command commands[] = {
    {"dev", cmd_dev, "start/stop/inspect the private local stack (MariaDB, Redis, Kafka)"},
    {"migrate", cmd_migrate, "apply the versioned schema migrations"},
    {"serve", cmd_serve, "run the reservation HTTP API"},
    {"seed", cmd_seed, "bulk-load users, concerts, schedules and seats"},
    {"bench", cmd_bench, "run virtual users through the booking flow"},
    {"report", cmd_report, "render a results JSON as HTML + Markdown"},
    {"scenario", cmd_scenario, "contention scenarios comparing lock strategies"},
    {"notify", cmd_notify, "deliver reservation/payment events to a webhook"},
    {"anomaly", cmd_anomaly, "anomaly detection on the metrics stream and NAB series"},
    {"tune", cmd_tune, "index advice proven by measurement; query latency (--measure)"},
    {"queue", cmd_queue, "waiting room: simulate many waiting users (simulate)"},
    {"version", cmd_version, "version, commit, build type and library versions"},
    {"completion", cmd_completion, "print a shell completion script (bash or zsh)"},
    {"man", cmd_man, "print the manual page (troff), made from every command's --help"},
    {"openapi", cmd_openapi, "print the HTTP API as OpenAPI 3.0.3 (docs/openapi.json)"},
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
                 "TICKETCTL_STATE (default ./.ticketctl) is used and started if needed.\n");
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
