/* ticketctl scenario: run contention scenarios that compare lock strategies
 * (lib/scenario.c, lib/strategy.c); list the scenario files; list the
 * strategies. Parses, calls lib/, prints. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"
#include "ticketctl/scenario.h"
#include "ticketctl/strategy.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

enum { OPT_SCALE = 1000, OPT_NORB, OPT_JSON, OPT_MYSQL, OPT_REDIS, OPT_STATE, OPT_DIR };

static const tk_opt run_rows[] = {
    {.id = 's', .name = "strategy", .short_name = 's', .type = TK_OPT_STR, .arg = "NAME",
     .help = "one strategy, or 'all' (default: the file's list)"},
    {.id = 'n', .name = "repeat", .short_name = 'n', .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1000,
     .help = "runs per strategy (default 1)"},
    {.id = OPT_SCALE, .name = "scale", .type = TK_OPT_REAL, .arg = "F", .lo = 0, .hi = 1, .lo_open = 1,
     .help = "multiply users and seats by F, 0 < F <= 1 (default 1)"},
    {.id = 'c', .name = "connections", .short_name = 'c', .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 900,
     .help = "worker connections (default: the file's)"},
    {.id = OPT_NORB, .name = "no-redis-benchmark", .type = TK_OPT_FLAG,
     .help = "skip the file's redis-benchmark comparison"},
    {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG, .help = "print the results JSON instead of the table"},
    {.id = 'o', .name = "out", .short_name = 'o', .type = TK_OPT_STR, .arg = "FILE",
     .help = "results JSON (default\nreports/out/scenario-<name>-<UTC>.json)"},
    {.id = 'q', .name = "quiet", .short_name = 'q', .type = TK_OPT_FLAG, .help = "no per-run progress on stderr"},
    TK_OPT_ROW_MYSQL(OPT_MYSQL),
    TK_OPT_ROW_REDIS(OPT_REDIS),
    TK_OPT_ROW_STATE(OPT_STATE),
    TK_OPT_ROW_END,
};

static const tk_optset run_set = {
    .cmd = "scenario run",
    .synopsis = "scenario run FILE [options]",
    .about = "Play one scenario file (or scenarios/NAME.json) and compare its strategies.\n"
             "Prints one comparison table (attempts, outcomes, double bookings, oversold\n"
             "seats, retries, lock waits/timeouts/deadlocks, attempts/s, p50/p99/max) and\n"
             "writes the results JSON, which `ticketctl report` renders.",
    .opts = run_rows,
    .epilog = "Exit status: 0 every invariant held (violations by strategies marked unsafe\n"
              "are expected and do not count), 1 an invariant failed or the run failed,\n"
              "2 usage.",
};

static const tk_opt list_rows[] = {
    {.id = OPT_DIR, .name = "dir", .type = TK_OPT_STR, .arg = "DIR", .help = "where the files are (default ./scenarios)"},
    TK_OPT_ROW_END,
};

static const tk_optset list_set = {
    .cmd = "scenario list",
    .synopsis = "scenario list [--dir DIR]",
    .about = "One line per scenario file in DIR: name, kind, users, data, description.",
    .opts = list_rows,
};

static const tk_optset strategies_set = {
    .cmd = "scenario strategies",
    .synopsis = "scenario strategies",
    .about = "The lock strategy table: each strategy, whether it applies to seats and to\n"
             "points, and what it does (unsafe ones exist only to show the race).",
    .opts = tk_opt_no_rows,
};

static const tk_optset *const scenario_subs[] = {&run_set, &list_set, &strategies_set, NULL};

const tk_optset tk_optset_scenario = {
    .cmd = "scenario",
    .synopsis = "scenario run FILE [options]\nscenario list [--dir DIR]\nscenario strategies",
    .about = "Contention scenarios (scenarios/*.json) played on real parallel connections\n"
             "(one thread per connection, each with its own MariaDB and Redis connection,\n"
             "all started together behind a barrier), comparing the lock strategies.\n"
             "Double bookings, oversell and balances are counted in MariaDB after each run.",
    .opts = tk_opt_no_rows,
    .subs = scenario_subs,
};

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
    tk_scenario_opts o = {.repeat = 1, .scale = 1.0, .progress = stderr};
    const char *out = NULL, *mysql = NULL, *redis = NULL, *state = NULL;
    int json = 0, c;
    tk_optparse p = {0};
    tk_optval v;
    while ((c = tk_opt_next(&p, &run_set, argc, argv, &v)) > 0) {
        switch (c) {
        case 's': o.strategy = v.str; break;
        case 'n': o.repeat = (int)v.i; break;
        case OPT_SCALE: o.scale = v.d; break;
        case 'c': o.connections = (int)v.i; break;
        case OPT_NORB: o.redis_benchmark = -1; break;
        case OPT_JSON: json = 1; break;
        case 'o': out = v.str; break;
        case 'q': o.progress = NULL; break;
        case OPT_MYSQL: mysql = v.str; break;
        case OPT_REDIS: redis = v.str; break;
        case OPT_STATE: state = v.str; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (argc - optind != 1)
        return tk_opt_error(&run_set, optind < argc ? "one scenario file, please" : "missing FILE");
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
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int cmd_list(int argc, char **argv)
{
    const char *dir = "scenarios";
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, &list_set, argc, argv, &v)) > 0)
        if (c == OPT_DIR)
            dir = v.str;
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc)
        return tk_opt_error(&list_set, "unexpected argument '%s'", argv[optind]);
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
    int rc = tk_opt_only(&strategies_set, argc, argv);
    if (rc >= 0)
        return rc;
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
    if (argc < 2)
        return tk_opt_error(&tk_optset_scenario, "which one: run, list or strategies?");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        tk_opt_help(&tk_optset_scenario, stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
        if (!strcmp(argv[1], subs[i].name))
            return subs[i].fn(argc - 1, argv + 1);
    return tk_opt_error(&tk_optset_scenario, "unknown subcommand '%s' (run, list or strategies)", argv[1]);
}
