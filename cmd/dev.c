/* ticketctl dev: start, stop and inspect the private local stack.
 * All the work is in lib/devstack.c; this file parses and prints. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/devstack.h"

#include <getopt.h>
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
    const char *summary; /* NULL: hidden */
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

static const dev_sub subs[] = {
    {"up", dev_up, "start the stack (no-op if running); prints the env (--instances N: also N serve + nginx)"},
    {"down", dev_down, "stop the processes the stack started (--purge: delete data)"},
    {"status", dev_status, "per component running/stopped; exit 3 unless all run (--json)"},
    {"env", dev_env, "print the stack's settings as shell export lines"},
    {"restart", dev_restart, "rolling restart of the --instances serves behind nginx (0 failed requests)"},
    {"kafka-down", dev_kafka_down, "fault injection: the Kafka broker refuses connections"},
    {"kafka-up", dev_kafka_up, "end the kafka-down fault"},
    {"kafka-broker", dev_kafka_broker, NULL}, /* internal: the broker process */
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ticketctl dev <up|down|status|env|kafka-down|kafka-up> [--state DIR] [--json] [--purge]\n"
                 "       ticketctl dev up --instances N [--port P] [--serve-args 'FLAGS'] [--state DIR]\n"
                 "       ticketctl dev up --redis-cluster 3 [--state DIR]\n\n");
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (subs[i].summary)
            fprintf(out, "  %-10s %s\n", subs[i].name, subs[i].summary);
    fprintf(out, "\noptions:\n"
                 "  --state DIR  state dir (default $TICKETCTL_STATE or ./.ticketctl)\n"
                 "  --json       status: machine-readable output\n"
                 "  --purge      down: also delete data and logs\n"
                 "  --instances N\n"
                 "               up: also run N `ticketctl serve` instances (0-%d) on free loopback\n"
                 "               ports behind nginx (Debian nginx-light, config generated in\n"
                 "               <state>/nginx/); again on a running stack it scales (0: stop them)\n"
                 "  --port P     up --instances: nginx's port on 127.0.0.1 (default: a free one)\n"
                 "  --serve-args 'FLAGS'\n"
                 "               up --instances: extra serve flags, split on blanks (e.g. '--workers 4\n"
                 "               --loops 1'); recorded, and reused when scaling without it; running\n"
                 "               instances keep theirs (scale to 0 to change them)\n"
                 "  --durable    up: MariaDB commits durably until `dev down`: innodb_flush_log_at_trx_commit=1,\n"
                 "               binary log on with sync_binlog=1 (a running default-mode MariaDB restarts)\n"
                 "  --redis-cluster N\n"
                 "               up: Redis is a Redis Cluster of N masters (3-%d) with one replica each\n"
                 "               on loopback until `dev down` (cluster-node-timeout 1000 ms, created with\n"
                 "               redis-cli --cluster create); TICKETCTL_REDIS=redis-cluster://h:p,...\n"
                 "  -h, --help   this text\n\n"
                 "Use it from a shell with: eval \"$(ticketctl dev up)\"\n"
                 "With instances, the env has TICKETCTL_TARGET (nginx): bench --target \"$TICKETCTL_TARGET\"\n",
            TK_DEV_MAX_INSTANCES, TK_DEV_MAX_RNODES / 2);
}

int cmd_dev(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"state", required_argument, NULL, 's'},
        {"json", no_argument, NULL, 'j'},
        {"purge", no_argument, NULL, 'p'},
        {"instances", required_argument, NULL, 'i'},
        {"port", required_argument, NULL, 'P'},
        {"serve-args", required_argument, NULL, 'a'},
        {"durable", no_argument, NULL, 'D'},
        {"redis-cluster", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    dev_opts o = {.instances = -1};
    int c;
    int64_t v;
    optind = 1;
    opterr = 0; /* one line of ours instead (tk_opt_getopt_hint) */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o.state = optarg; break;
        case 'j': o.json = 1; break;
        case 'p': o.purge = 1; break;
        case 'i':
            if (tk_parse_i64(optarg, 0, TK_DEV_MAX_INSTANCES, &v) != 0) {
                fprintf(stderr, "ticketctl dev: --instances must be 0 to %d, not '%s'\n", TK_DEV_MAX_INSTANCES, optarg);
                return 2;
            }
            o.instances = (int)v;
            break;
        case 'P':
            if (tk_parse_i64(optarg, 1, 65535, &v) != 0) {
                fprintf(stderr, "ticketctl dev: --port must be 1 to 65535, not '%s'\n", optarg);
                return 2;
            }
            o.port = (int)v;
            break;
        case 'a': o.serve_args = optarg; break;
        case 'D': o.durable = 1; break;
        case 'R':
            if (tk_parse_i64(optarg, 3, TK_DEV_MAX_RNODES / 2, &v) != 0) {
                fprintf(stderr, "ticketctl dev: --redis-cluster must be 3 to %d masters, not '%s'\n",
                        TK_DEV_MAX_RNODES / 2, optarg);
                return 2;
            }
            o.redis_cluster = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default: return tk_opt_getopt_hint("dev", longopts, argv);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ticketctl dev: %s (try --help)\n", optind >= argc ? "missing subcommand" : "too many arguments");
        return 2;
    }
    const char *name = argv[optind];
    if ((o.json && strcmp(name, "status") != 0) || (o.purge && strcmp(name, "down") != 0)) {
        fprintf(stderr, "ticketctl dev %s: %s does not apply\n", name, o.json ? "--json" : "--purge");
        return 2;
    }
    if ((o.instances >= 0 || o.port || o.serve_args || o.durable || o.redis_cluster) && strcmp(name, "up") != 0) {
        fprintf(stderr, "ticketctl dev %s: --instances, --port, --serve-args, --durable and --redis-cluster apply to up only\n",
                name);
        return 2;
    }
    if ((o.port || o.serve_args) && o.instances < 1) {
        fprintf(stderr, "ticketctl dev up: --port and --serve-args need --instances N (N >= 1)\n");
        return 2;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(name, subs[i].name))
            return subs[i].fn(&o);
    fprintf(stderr, "ticketctl dev: unknown subcommand '%s' (try --help)\n", name);
    return 2;
}
