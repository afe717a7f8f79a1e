/* ticketctl scenario: run contention scenarios that compare lock strategies
 * (lib/scenario.c, lib/strategy.c); list the scenario files; list the
 * strategies. Parses, calls lib/, prints. */
#include "commands.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"
#include "ticketctl/scenario.h"
#include "ticketctl/strategy.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl scenario run FILE [options]\n"
            "       ticketctl scenario list [--dir DIR]\n"
            "       ticketctl scenario strategies\n"
            "\n"
            "Contention scenarios (scenarios/*.json) played on real parallel connections\n"
            "(one thread per connection, each with its own MariaDB and Redis connection,\n"
            "all started together behind a barrier), comparing the lock strategies.\n"
            "Double bookings, oversell and balances are counted in MariaDB after each run.\n"
            "Run 'ticketctl scenario run --help' for the options of a run.\n");
}

static void run_usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl scenario run FILE [options]\n"
            "\n"
            "FILE is a scenario file, or a name found as scenarios/NAME.json.\n"
            "Prints one comparison table (attempts, outcomes, double bookings, oversold\n"
            "seats, retries, lock waits/timeouts/deadlocks, attempts/s, p50/p99/max) and\n"
            "writes the results JSON, which `ticketctl report` renders.\n"
            "Exit status: 0 every invariant held (violations by strategies marked unsafe\n"
            "are expected and do not count), 1 an invariant failed or the run failed,\n"
            "2 usage.\n"
            "\n"
            "  -s, --strategy NAME   one strategy, or 'all' (default: the file's list)\n"
            "  -n, --repeat N        runs per strategy (default 1)\n"
            "      --scale F         multiply users and seats by F, 0 < F <= 1 (default 1)\n"
            "  -c, --connections N   worker connections (default: the file's)\n"
            "      --no-redis-benchmark  skip the file's redis-benchmark comparison\n"
            "      --json            print the results JSON instead of the table\n"
            "  -o, --out FILE        results JSON (default reports/out/scenario-<name>-<UTC>.json)\n"
            "  -q, --quiet           no per-run progress on stderr\n"
            "      --mysql URL --redis URL --state DIR   backends (default: the dev stack)\n"
            "  -h, --help            this help\n");
}

enum { OPT_SCALE = 1000, OPT_NORB, OPT_JSON, OPT_MYSQL, OPT_REDIS, OPT_STATE, OPT_DIR };

static int find_file(const char *arg, char *path, size_t len)
{
    struct stat st;
    if (stat(arg, &st) == 0) {
        snprintf(path, len, "%s", arg);
        return 0;
    }
    if (!strchr(arg, '/')) {
        snprintf(path, len, "scenarios/%s%s", arg, strstr(arg, ".json") ? "" : ".json");
        if (stat(path, &st) == 0)
            return 0;
    }
    snprintf(path, len, "%s", arg);
    return -1;
}

static int write_json(const json_t *root, const char *path, char *err, size_t errlen)
{
    char dir[2048];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) { /* mkdir -p of the parent */
        *slash = '\0';
        for (char *p = dir + 1; *p; p++)
            if (*p == '/') {
                *p = '\0';
                mkdir(dir, 0755);
                *p = '/';
            }
        mkdir(dir, 0755);
    }
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

static int cmd_run(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"strategy", required_argument, NULL, 's'},
        {"repeat", required_argument, NULL, 'n'},
        {"scale", required_argument, NULL, OPT_SCALE},
        {"connections", required_argument, NULL, 'c'},
        {"no-redis-benchmark", no_argument, NULL, OPT_NORB},
        {"json", no_argument, NULL, OPT_JSON},
        {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"mysql", required_argument, NULL, OPT_MYSQL},
        {"redis", required_argument, NULL, OPT_REDIS},
        {"state", required_argument, NULL, OPT_STATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tk_scenario_opts o = {.repeat = 1, .scale = 1.0, .progress = stderr};
    const char *out = NULL, *mysql = NULL, *redis = NULL, *state = NULL;
    int json = 0, c;
    int64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "s:n:c:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 's': o.strategy = optarg; break;
        case 'n':
            if (tk_parse_i64(optarg, 1, 1000, &v) != 0)
                goto bad;
            o.repeat = (int)v;
            break;
        case OPT_SCALE: {
            char *end;
            errno = 0;
            o.scale = strtod(optarg, &end);
            if (errno || *end || !(o.scale > 0 && o.scale <= 1))
                goto bad;
            break;
        }
        case 'c':
            if (tk_parse_i64(optarg, 1, 900, &v) != 0)
                goto bad;
            o.connections = (int)v;
            break;
        case OPT_NORB: o.redis_benchmark = -1; break;
        case OPT_JSON: json = 1; break;
        case 'o': out = optarg; break;
        case 'q': o.progress = NULL; break;
        case OPT_MYSQL: mysql = optarg; break;
        case OPT_REDIS: redis = optarg; break;
        case OPT_STATE: state = optarg; break;
        case 'h': run_usage(stdout); return 0;
        default: run_usage(stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "scenario run: %s\n", optind < argc ? "one scenario file, please" : "missing FILE");
        run_usage(stderr);
        return 2;
    }
    char path[1024], err[1024];
    find_file(argv[optind], path, sizeof path);
    tk_scenario *sc = tk_scenario_load(path, err, sizeof err);
    if (!sc) {
        fprintf(stderr, "scenario: %s\n", err);
        return 1;
    }
    tk_backend b;
    if (tk_backend_resolve_some(&b, TK_NEED_MYSQL | TK_NEED_REDIS, mysql, redis, NULL, state, 1, err, sizeof err) != 0) {
        fprintf(stderr, "scenario: %s\n", err);
        tk_scenario_free(sc);
        return 1;
    }
    json_t *res = tk_scenario_run(sc, &o, &b, err, sizeof err);
    if (!res) {
        fprintf(stderr, "scenario: %s\n", err);
        tk_scenario_free(sc);
        return 1;
    }
    char outp[1200];
    if (out) {
        snprintf(outp, sizeof outp, "%s", out);
    } else {
        char ts[32];
        time_t now = time(NULL);
        strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", gmtime(&now));
        snprintf(outp, sizeof outp, "reports/out/scenario-%s-%s.json", tk_scenario_name(sc), ts);
    }
    int rc = tk_scenario_failed(res) ? 1 : 0;
    if (write_json(res, outp, err, sizeof err) != 0) {
        fprintf(stderr, "scenario: %s\n", err);
        rc = 1;
    }
    if (json) {
        char *text = json_dumps(res, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        tk_scenario_print(res, stdout);
        printf("results: %s  (render: ticketctl report %s)\n", outp, outp);
    }
    json_decref(res);
    tk_scenario_free(sc);
    return rc;
bad:
    fprintf(stderr, "scenario run: bad value for %s: '%s'\n", argv[optind - 1], optarg);
    run_usage(stderr);
    return 2;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmd_list(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, OPT_DIR},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = "scenarios";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_DIR: dir = optarg; break;
        case 'h':
            printf("usage: ticketctl scenario list [--dir DIR]\n\nOne line per scenario file in DIR "
                   "(default ./scenarios): name, kind, users, data, description.\n");
            return 0;
        default: return 2;
        }
    }
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "scenario list: cannot open %s: %s\n", dir, strerror(errno));
        return 1;
    }
    char *names[512];
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 512) {
        size_t l = strlen(de->d_name);
        if (l > 5 && !strcmp(de->d_name + l - 5, ".json"))
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[2048], line[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (tk_scenario_summary(path, line, sizeof line) != 0)
            rc = 1;
        printf("%s\n", line);
        free(names[i]);
    }
    return rc;
}

static int cmd_strategies(int argc, char **argv)
{
    if (argc > 1) {
        int help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
        fprintf(help ? stdout : stderr,
                "%susage: ticketctl scenario strategies\n\nThe lock strategy table: each strategy, whether it "
                "applies to seats and to points,\nand what it does (unsafe ones exist only to show the race).\n",
                help ? "" : "scenario strategies: takes no arguments\n");
        return help ? 0 : 2;
    }
    printf("%-24s %-6s %-6s %s\n", "strategy", "seats", "points", "what it does");
    for (size_t i = 0; i < tk_strategy_count(); i++) {
        const tk_strategy *s = tk_strategy_at(i);
        printf("%-24s %-6s %-6s %s%s\n", s->name, s->reserve ? "yes" : "-", s->charge ? "yes" : "-", s->summary,
               s->flags & TK_STRAT_UNSAFE ? " [UNSAFE: for comparison]" : "");
    }
    return 0;
}

typedef struct sub {
    const char *name;
    int (*fn)(int, char **);
} sub;

static const sub subs[] = {{"run", cmd_run}, {"list", cmd_list}, {"strategies", cmd_strategies}};

int cmd_scenario(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "scenario: unknown subcommand '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
