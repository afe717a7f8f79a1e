/* ticketctl dev: start, stop and inspect the private local stack.
 * All the work is in lib/devstack.c; this file parses and prints. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/devstack.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "ticketctl/common.h"

typedef struct dev_opts {
    const char *state;
    int json;
    int purge;
    int instances; /* -1: not given */
    int port;      /* nginx port, 0: free or kept */
    const char *serve_args;
    int durable;
    int redis_cluster; /* masters, 0: a single redis-server */
} dev_opts;

typedef struct dev_sub {
    const char *name;
    int (*fn)(const dev_opts *o);
    const struct tk_optset *set; /* its options and help */
} dev_sub;

static int print_env(const tk_dev_env *env)
{
    char buf[8192];
    if (tk_dev_env_format(env, 1, buf, sizeof buf) < 0) {
        fprintf(stderr, "dev: environment too long\n");
        return 1;
    }
    fputs(buf, stdout);
    return 0;
}

static int dev_up(const dev_opts *o)
{
    char err[1024];
    tk_dev_env env;
    int started;
    if (o->durable && tk_dev_durable(o->state, err, sizeof err) != 0) {
        fprintf(stderr, "dev up --durable: %s\n", err);
        return 1;
    }
    if (o->redis_cluster && tk_dev_redis_cluster(o->state, o->redis_cluster, err, sizeof err) != 0) {
        fprintf(stderr, "dev up --redis-cluster: %s\n", err);
        return 1;
    }
    if (o->instances >= 0) {
        tk_dev_instances_opts io = {.instances = o->instances, .port = o->port, .serve_args = o->serve_args};
        started = tk_dev_instances_up(o->state, &io, &env, err, sizeof err);
    } else {
        started = tk_dev_up(o->state, &env, err, sizeof err);
    }
    if (started < 0) {
        fprintf(stderr, "dev up: %s\n", err);
        return 1;
    }
    if (o->instances > 0)
        fprintf(stderr, "dev stack: %d serve instance(s) behind nginx at %s\n", env.instances, env.target);
    else if (o->instances == 0)
        fprintf(stderr, "dev stack: no serve instances\n");
    if (started == 0)
        fprintf(stderr, "dev stack already running in %s\n", env.state_dir);
    else
        fprintf(stderr, "dev stack: started %d component(s) in %s\n", started, env.state_dir);
    return print_env(&env);
}

static int dev_down(const dev_opts *o)
{
    char err[1024], st[TK_URL_MAX];
    if (tk_dev_state_dir(o->state, st, sizeof st, err, sizeof err) != 0 ||
        tk_dev_down(o->state, o->purge, err, sizeof err) != 0) {
        fprintf(stderr, "dev down: %s\n", err);
        return 1;
    }
    fprintf(stderr, "dev stack stopped%s in %s\n", o->purge ? " and purged" : "", st);
    return 0;
}

static json_t *comp_json(const tk_dev_comp *c)
{
    return json_pack("{s:b, s:I, s:s, s:b, s:b}", "running", c->running, "pid", (json_int_t)c->pid, "address",
                     c->addr, "pid_alive", c->pid_alive, "port_open", c->port_open);
}

static int dev_status(const dev_opts *o)
{
    char err[1024];
    tk_dev_report st;
    if (tk_dev_status(o->state, &st, err, sizeof err) != 0) {
        fprintf(stderr, "dev status: %s\n", err);
        return 1;
    }
    if (o->json) {
        json_t *root = json_object(), *comps = json_object();
        json_object_set_new(root, "state_dir", json_string(st.state_dir));
        json_object_set_new(root, "all_running", json_boolean(st.all_running));
        for (int i = 0; i < TK_DEV_NCOMP; i++) {
            const tk_dev_comp *c = &st.comp[i];
            json_object_set_new(comps, c->name, comp_json(c));
        }
        json_object_set_new(root, "components", comps);
        json_t *inst = json_array();
        for (int i = 0; i < st.instances; i++)
            json_array_append_new(inst, comp_json(&st.inst[i]));
        json_object_set_new(root, "instances", inst);
        json_object_set_new(root, "nginx", st.nginx.pid ? comp_json(&st.nginx) : json_null());
        json_object_set_new(root, "all_instances_running", json_boolean(st.all_instances_running));
        tk_dev_comp rn[TK_DEV_MAX_RNODES];
        int ok = 0, nn = tk_dev_redis_cluster_status(o->state, rn, TK_DEV_MAX_RNODES, &ok);
        if (nn > 0) {
            json_t *nodes = json_array();
            for (int i = 0; i < nn; i++)
                json_array_append_new(nodes, comp_json(&rn[i]));
            json_object_set_new(root, "redis_cluster", json_pack("{s:b, s:o}", "state_ok", ok, "nodes", nodes));
        }
        json_dumpf(root, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(root);
    } else {
        printf("state %s%s\n", st.state_dir, st.have_env ? "" : " (no stack.env)");
        for (int i = 0; i < TK_DEV_NCOMP; i++) {
            const tk_dev_comp *c = &st.comp[i];
            printf("%-6s %-8s pid %-8ld %s\n", c->name, c->running ? "running" : "stopped", c->pid,
                   c->addr[0] ? c->addr : "-");
        }
        for (int i = 0; i < st.instances; i++) {
            const tk_dev_comp *c = &st.inst[i];
            char name[16];
            snprintf(name, sizeof name, "serve%d", i + 1);
            printf("%-6s %-8s pid %-8ld %s\n", name, c->running ? "running" : "stopped", c->pid,
                   c->addr[0] ? c->addr : "-");
        }
        tk_dev_comp rn[TK_DEV_MAX_RNODES];
        int ok = 0, nn = tk_dev_redis_cluster_status(o->state, rn, TK_DEV_MAX_RNODES, &ok);
        for (int i = 0; i < nn; i++)
            printf("rnode%-2d %-8s pid %-8ld %s%s\n", i + 1, rn[i].running ? "running" : "stopped", rn[i].pid,
                   rn[i].addr[0] ? rn[i].addr : "-", i == nn - 1 ? (ok ? "  (cluster_state:ok)" : "  (cluster down)") : "");
        if (st.nginx.pid)
            printf("%-6s %-8s pid %-8ld %s (TICKETCTL_TARGET=http://%s)\n", "nginx",
                   st.nginx.running ? "running" : "stopped", st.nginx.pid, st.nginx.addr[0] ? st.nginx.addr : "-",
                   st.nginx.addr);
    }
    return st.all_running && st.all_instances_running ? 0 : 3;
}

static int dev_env(const dev_opts *o)
{
    char err[1024];
    tk_dev_env env;
    int rc = tk_dev_env_read(o->state, &env, err, sizeof err);
    if (rc != 0) {
        if (rc > 0)
            fprintf(stderr, "dev env: no stack.env in %s: run 'ticketctl dev up'\n", env.state_dir);
        else
            fprintf(stderr, "dev env: %s\n", err);
        return 1;
    }
    return print_env(&env);
}

static int dev_kafka_broker(const dev_opts *o)
{
    char err[1024];
    if (tk_dev_kafka_broker_run(o->state, err, sizeof err) != 0) {
        fprintf(stderr, "dev kafka-broker: %s\n", err);
        return 1;
    }
    return 0;
}

static int dev_kafka_fault(const dev_opts *o, int down)
{
    char err[1024];
    if (tk_dev_kafka_fault(o->state, down, err, sizeof err) != 0) {
        fprintf(stderr, "dev kafka-%s: %s\n", down ? "down" : "up", err);
        return 1;
    }
    return 0;
}

static int dev_restart(const dev_opts *o)
{
    char err[1024];
    tk_dev_env env;
    if (tk_dev_instances_restart(o->state, &env, err, sizeof err) != 0) {
        fprintf(stderr, "dev restart: %s\n", err);
        return 1;
    }
    fprintf(stderr, "dev restart: %d serve instance(s) replaced one at a time behind %s\n", env.instances,
            env.target);
    return print_env(&env);
}

static int dev_kafka_down(const dev_opts *o) { return dev_kafka_fault(o, 1); }
static int dev_kafka_up(const dev_opts *o) { return dev_kafka_fault(o, 0); }

/* The ranges the help text states. */
_Static_assert(TK_DEV_MAX_INSTANCES == 16 && TK_DEV_MAX_RNODES / 2 == 8, "dev up --help states 0-16 and 3-8");

enum { OPT_STATE = 256, OPT_JSON, OPT_PURGE, OPT_INSTANCES, OPT_PORT, OPT_SERVE_ARGS, OPT_DURABLE, OPT_RCLUSTER };

#define STATE_ROW                                                                                                  \
    {.id = OPT_STATE, .name = "state", .type = TK_OPT_STR, .arg = "DIR",                                            \
     .help = "state dir (default $TICKETCTL_STATE or ./.ticketctl)"}

static const tk_opt state_rows[] = {STATE_ROW, TK_OPT_ROW_END};

static const tk_opt up_rows[] = {
    STATE_ROW,
    {.id = OPT_INSTANCES, .name = "instances", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = TK_DEV_MAX_INSTANCES,
     .help = "also run N `ticketctl serve` instances (0-16) on free loopback\n"
             "ports behind nginx (Debian nginx-light, config generated in\n<state>/nginx/); again on a running "
             "stack it scales (0: stop them)"},
    {.id = OPT_PORT, .name = "port", .type = TK_OPT_INT, .arg = "P", .min = 1, .max = 65535,
     .help = "with --instances: nginx's port on 127.0.0.1 (default: a free one)"},
    {.id = OPT_SERVE_ARGS, .name = "serve-args", .type = TK_OPT_STR, .arg = "'FLAGS'",
     .help = "with --instances: extra serve flags, split on blanks (e.g.\n'--workers 4 --loops 1'); recorded, and "
             "reused when scaling\nwithout it; running instances keep theirs (scale to 0 to\nchange them)"},
    {.id = OPT_DURABLE, .name = "durable", .type = TK_OPT_FLAG,
     .help = "MariaDB commits durably until `dev down`:\ninnodb_flush_log_at_trx_commit=1, binary log on with\n"
             "sync_binlog=1 (a running default-mode MariaDB restarts)"},
    {.id = OPT_RCLUSTER, .name = "redis-cluster", .type = TK_OPT_INT, .arg = "N", .min = 3,
     .max = TK_DEV_MAX_RNODES / 2,
     .help = "Redis is a Redis Cluster of N masters (3-8) with one replica\n"
             "each on loopback until `dev down` (cluster-node-timeout 1000\nms, created with redis-cli --cluster "
             "create);\nTICKETCTL_REDIS=redis-cluster://h:p,..."},
    TK_OPT_ROW_END,
};

static const tk_opt down_rows[] = {
    STATE_ROW,
    {.id = OPT_PURGE, .name = "purge", .type = TK_OPT_FLAG, .help = "also delete data and logs"},
    TK_OPT_ROW_END,
};

static const tk_opt status_rows[] = {
    STATE_ROW,
    {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG, .help = "machine-readable output"},
    TK_OPT_ROW_END,
};

static const tk_optset up_set = {
    .cmd = "dev up",
    .synopsis = "dev up [--state DIR] [--durable]\ndev up --instances N [--port P] [--serve-args 'FLAGS'] [--state DIR]\n"
                "dev up --redis-cluster 3 [--state DIR]",
    .about = "Start the stack (a no-op if it runs); print its env as export lines.\n"
             "With --instances N, also N serve instances behind nginx.",
    .opts = up_rows,
    .epilog = "Use it from a shell with: eval \"$(ticketctl dev up)\"\n"
              "With instances, the env has TICKETCTL_TARGET (nginx): bench --target \"$TICKETCTL_TARGET\"",
};
static const tk_optset down_set = {
    .cmd = "dev down",
    .synopsis = "dev down [--purge] [--state DIR]",
    .about = "Stop the processes the stack started (--purge: also delete data).",
    .opts = down_rows,
};
static const tk_optset status_set = {
    .cmd = "dev status",
    .synopsis = "dev status [--json] [--state DIR]",
    .about = "Per component running/stopped; exit 3 unless all run.",
    .opts = status_rows,
};
/* The subcommands whose only option is --state. */
#define STATE_ONLY_SET(VAR, NAME, ABOUT)                                                                        \
    static const tk_optset VAR = {                                                                              \
        .cmd = "dev " NAME, .synopsis = "dev " NAME " [--state DIR]", .about = ABOUT, .opts = state_rows}
STATE_ONLY_SET(env_set, "env", "Print the stack's settings as shell export lines.");
STATE_ONLY_SET(restart_set, "restart", "Rolling restart of the --instances serves behind nginx (0 failed requests).");
STATE_ONLY_SET(kafka_down_set, "kafka-down", "Fault injection: the Kafka broker refuses connections.");
STATE_ONLY_SET(kafka_up_set, "kafka-up", "End the kafka-down fault.");
/* internal: the mock broker process (started by `dev up`), not listed */
STATE_ONLY_SET(kafka_broker_set, "kafka-broker", "The dev stack's mock Kafka broker process (started by `dev up`).");

static const tk_optset *const dev_subs[] = {&up_set,         &down_set,     &status_set, &env_set, &restart_set,
                                            &kafka_down_set, &kafka_up_set, NULL};

const tk_optset tk_optset_dev = {
    .cmd = "dev",
    .synopsis = "dev up|down|status|env|restart|kafka-down|kafka-up [options]",
    .about = "The private local stack: MariaDB, Redis and a mock Kafka on free loopback\n"
             "ports, with its state (data, logs, stack.env) in one directory.",
    .opts = tk_opt_no_rows,
    .subs = dev_subs,
};

static const dev_sub subs[] = {
    {"up", dev_up, &up_set},
    {"down", dev_down, &down_set},
    {"status", dev_status, &status_set},
    {"env", dev_env, &env_set},
    {"restart", dev_restart, &restart_set},
    {"kafka-down", dev_kafka_down, &kafka_down_set},
    {"kafka-up", dev_kafka_up, &kafka_up_set},
    {"kafka-broker", dev_kafka_broker, &kafka_broker_set},
};

int cmd_dev(int argc, char **argv)
{
    if (argc < 2)
        return tk_opt_error(&tk_optset_dev, "missing subcommand");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        tk_opt_help(&tk_optset_dev, stdout);
        return 0;
    }
    const dev_sub *sub = NULL;
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name))
            sub = &subs[i];
    if (!sub)
        return tk_opt_error(&tk_optset_dev, "unknown subcommand '%s'", argv[1]);
    dev_opts o = {.instances = -1};
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, sub->set, argc - 1, argv + 1, &v)) > 0) {
        switch (c) {
        case OPT_STATE: o.state = v.str; break;
        case OPT_JSON: o.json = 1; break;
        case OPT_PURGE: o.purge = 1; break;
        case OPT_INSTANCES: o.instances = (int)v.i; break;
        case OPT_PORT: o.port = (int)v.i; break;
        case OPT_SERVE_ARGS: o.serve_args = v.str; break;
        case OPT_DURABLE: o.durable = 1; break;
        case OPT_RCLUSTER: o.redis_cluster = (int)v.i; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc - 1)
        return tk_opt_error(sub->set, "takes no arguments, not '%s'", argv[optind + 1]);
    if ((o.port || o.serve_args) && o.instances < 1)
        return tk_opt_error(sub->set, "--port and --serve-args need --instances N (N >= 1)");
    return sub->fn(&o);
}
