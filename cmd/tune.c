/* ticketctl tune: index advice proven by measurement (lib/tune.c), and
 * --measure, the latency of the registry's queries (p50/p99/max). */
#include "commands.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/devstack.h"
#include "ticketctl/progress.h"
#include "ticketctl/queries.h"
#include "ticketctl/tune.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl tune [options]\n"
            "       ticketctl tune --measure [--query NAME] [--executions N] [options]\n\n"
            "Find the workload's full scans, filesorts and temporary tables (ANALYZE FORMAT=JSON\n"
            "with realistic parameters), propose indexes (equality columns, then ORDER BY or\n"
            "range columns), build each for real and time the query with it and with it\n"
            "IGNORED, alternating, on the same data; keep it only on a large median gain.\n"
            "Also lists redundant (left-prefix) and unused indexes. Advice only by default:\n"
            "every index built for the measurement is dropped again. The write-cost probe\n"
            "inserts rows in a transaction it rolls back (AUTO_INCREMENT values are consumed).\n\n"
            "workload:\n"
            "  --query NAME          one registry query (see --list)\n"
            "  --slow-log FILE       also the SELECTs of a MariaDB slow query log (grouped by\n"
            "                        normalised text)\n"
            "  --no-registry         only the slow log's queries\n"
            "  --list                print the registry (name, origin, SQL) and exit\n"
            "measurement:\n"
            "  --samples N           parameter sets per query (default 5, 1..64)\n"
            "  --repeats N           timing rounds per state (default 7)\n"
            "  --min-gain PCT        keep an index when the median time drops by at least\n"
            "                        PCT %% (default 50)\n"
            "  --min-rows N          a full scan matters from N rows examined (default 1000)\n"
            "  --max-per-table N     candidates built per table (default 3)\n"
            "  --write-rows N        rows per write-cost insert batch (default 2000, 0 = skip)\n"
            "  --seed S              parameter generator seed (default 1)\n"
            "changes:\n"
            "  --apply               keep the winning indexes\n"
            "  --drop-redundant      with --apply: also drop the redundant indexes\n"
            "measure mode:\n"
            "  --measure             p50/p99/max client latency of each registry query\n"
            "  --executions N        executions per query (default 200)\n"
            "output:\n"
            "  --json                print the results JSON instead of the text tables\n"
            "  --out FILE            also write the results JSON (ticketctl report renders it)\n"
            "  --no-progress         no progress bars on stderr\n"
            "  --mysql URL --state DIR   backend (default $TICKETCTL_MYSQL, else the dev stack)\n"
            "  -h, --help            this help\n");
}

enum {
    OPT_QUERY = 256, OPT_SLOW, OPT_NOREG, OPT_LIST, OPT_SAMPLES, OPT_REPEATS, OPT_GAIN, OPT_MINROWS, OPT_MAXPT,
    OPT_WROWS, OPT_SEED, OPT_APPLY, OPT_DROP, OPT_MEASURE, OPT_EXEC, OPT_JSON, OPT_OUT, OPT_NOPROG, OPT_MYSQL,
    OPT_STATE
};

static int num(const char *flag, const char *v, long long min, long long max, long long *out)
{
    int64_t x;
    if (tk_parse_i64(v, min, max, &x) != 0) {
        fprintf(stderr, "tune: %s wants a whole number in %lld..%lld, got '%s'\n", flag, min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

int cmd_tune(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"query", required_argument, NULL, OPT_QUERY},
        {"slow-log", required_argument, NULL, OPT_SLOW},
        {"no-registry", no_argument, NULL, OPT_NOREG},
        {"list", no_argument, NULL, OPT_LIST},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"repeats", required_argument, NULL, OPT_REPEATS},
        {"min-gain", required_argument, NULL, OPT_GAIN},
        {"min-rows", required_argument, NULL, OPT_MINROWS},
        {"max-per-table", required_argument, NULL, OPT_MAXPT},
        {"write-rows", required_argument, NULL, OPT_WROWS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"apply", no_argument, NULL, OPT_APPLY},
        {"drop-redundant", no_argument, NULL, OPT_DROP},
        {"measure", no_argument, NULL, OPT_MEASURE},
        {"executions", required_argument, NULL, OPT_EXEC},
        {"json", no_argument, NULL, OPT_JSON},
        {"out", required_argument, NULL, OPT_OUT},
        {"no-progress", no_argument, NULL, OPT_NOPROG},
        {"mysql", required_argument, NULL, OPT_MYSQL},
        {"state", required_argument, NULL, OPT_STATE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tk_tune_opts o;
    tk_tune_opts_default(&o);
    const char *mysql = NULL, *state = NULL, *out_path = NULL;
    int json = 0, measure = 0, list = 0, progress = 1;
    long long v, executions = 200;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_QUERY: o.only = optarg; break;
        case OPT_SLOW: o.slow_log = optarg; break;
        case OPT_NOREG: o.no_registry = 1; break;
        case OPT_LIST: list = 1; break;
        case OPT_SAMPLES: if (num("--samples", optarg, 1, 64, &v)) return 2; o.samples = (int)v; break;
        case OPT_REPEATS: if (num("--repeats", optarg, 1, 1000, &v)) return 2; o.repeats = (int)v; break;
        case OPT_GAIN: if (num("--min-gain", optarg, 0, 99, &v)) return 2; o.min_gain = (double)v / 100.0; break;
        case OPT_MINROWS: if (num("--min-rows", optarg, 0, 1000000000000LL, &v)) return 2; o.min_rows = (long)v; break;
        case OPT_MAXPT: if (num("--max-per-table", optarg, 1, 64, &v)) return 2; o.max_per_table = (int)v; break;
        case OPT_WROWS: if (num("--write-rows", optarg, 0, 1000000, &v)) return 2; o.write_rows = (int)v; break;
        case OPT_SEED: if (num("--seed", optarg, 0, INT64_MAX, &v)) return 2; o.seed = (unsigned long long)v; break;
        case OPT_APPLY: o.apply = 1; break;
        case OPT_DROP: o.drop_redundant = 1; break;
        case OPT_MEASURE: measure = 1; break;
        case OPT_EXEC: if (num("--executions", optarg, 1, 10000000, &executions)) return 2; break;
        case OPT_JSON: json = 1; break;
        case OPT_OUT: out_path = optarg; break;
        case OPT_NOPROG: progress = 0; break;
        case OPT_MYSQL: mysql = optarg; break;
        case OPT_STATE: state = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "tune: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (o.drop_redundant && !o.apply) {
        fprintf(stderr, "tune: --drop-redundant changes the schema, so it needs --apply\n");
        return 2;
    }
    if (o.no_registry && !o.slow_log) {
        fprintf(stderr, "tune: --no-registry needs --slow-log FILE\n");
        return 2;
    }
    if (o.only && !tk_query_find(o.only)) {
        fprintf(stderr, "tune: no registry query named '%s' (see ticketctl tune --list)\n", o.only);
        return 2;
    }
    if (list) {
        size_t n;
        const tk_query *q = tk_queries(&n);
        for (size_t i = 0; i < n; i++)
            printf("%-28s %s\n    %s\n", q[i].name, q[i].origin, q[i].sql);
        return 0;
    }

    char err[1024];
    tk_backend b;
    if (tk_backend_resolve_some(&b, TK_NEED_MYSQL, mysql, NULL, NULL, state, 1, err, sizeof err) != 0) {
        fprintf(stderr, "tune: %s\n", err);
        return 1;
    }
    MYSQL *db = tk_db_connect(b.mysql, err, sizeof err);
    if (!db) {
        fprintf(stderr, "tune: %s\n", err);
        return 1;
    }
    tk_progress *pg = progress ? tk_progress_new(stderr, measure ? "queries" : "queries") : NULL;
    o.progress = pg;
    json_t *res = NULL;
    int rc = measure ? tk_tune_measure(db, o.only, (int)executions, o.seed, pg, &res, err, sizeof err)
                     : tk_tune_run(db, &o, &res, err, sizeof err);
    if (pg) {
        tk_progress_finish(pg);
        tk_progress_free(pg);
    }
    mysql_close(db);
    if (rc != 0) {
        fprintf(stderr, "tune: %s\n", err);
        return 1;
    }
    int exit_code = 0;
    if (out_path && json_dump_file(res, out_path, JSON_INDENT(2) | JSON_REAL_PRECISION(6)) != 0) {
        fprintf(stderr, "tune: cannot write %s\n", out_path);
        exit_code = 1;
    }
    if (json) {
        json_dumpf(res, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
        fputc('\n', stdout);
    } else {
        tk_tune_print(res, stdout);
    }
    json_decref(res);
    return exit_code;
}
