/* ticketctl tune: index advice proven by measurement (lib/tune.c), and
 * --measure, the latency of the registry's queries (p50/p99/max). */
#include "commands.h"
#include "opt.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/devstack.h"
#include "ticketctl/progress.h"
#include "ticketctl/queries.h"
#include "ticketctl/tune.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_QUERY = 256, OPT_SLOW, OPT_NOREG, OPT_LIST, OPT_SAMPLES, OPT_REPEATS, OPT_GAIN, OPT_MINROWS, OPT_MAXPT,
    OPT_WROWS, OPT_SEED, OPT_APPLY, OPT_DROP, OPT_MEASURE, OPT_EXEC, OPT_JSON, OPT_OUT, OPT_NOPROG, OPT_MYSQL,
    OPT_STATE
};

static const tk_opt tune_rows[] = {
    {.id = OPT_QUERY, .name = "query", .type = TK_OPT_STR, .arg = "NAME", .group = "workload:",
     .help = "one registry query (see --list)"},
    {.id = OPT_SLOW, .name = "slow-log", .type = TK_OPT_STR, .arg = "FILE",
     .help = "also the SELECTs of a MariaDB slow query log (grouped by\nnormalised text)"},
    {.id = OPT_NOREG, .name = "no-registry", .type = TK_OPT_FLAG, .help = "only the slow log's queries"},
    {.id = OPT_LIST, .name = "list", .type = TK_OPT_FLAG, .help = "print the registry (name, origin, SQL) and exit"},
    {.id = OPT_SAMPLES, .name = "samples", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 64,
     .group = "measurement:", .help = "parameter sets per query (default 5)"},
    {.id = OPT_REPEATS, .name = "repeats", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1000,
     .help = "timing rounds per state (default 7)"},
    {.id = OPT_GAIN, .name = "min-gain", .type = TK_OPT_INT, .arg = "PCT", .min = 0, .max = 99,
     .help = "keep an index when the median time drops by at least\nPCT % (default 50)"},
    {.id = OPT_MINROWS, .name = "min-rows", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = 1000000000000LL,
     .help = "a full scan matters from N rows examined (default 1000)"},
    {.id = OPT_MAXPT, .name = "max-per-table", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 64,
     .help = "candidates built per table (default 3)"},
    {.id = OPT_WROWS, .name = "write-rows", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = 1000000,
     .help = "rows per write-cost insert batch (default 2000, 0 = skip)"},
    {.id = OPT_SEED, .name = "seed", .type = TK_OPT_INT, .arg = "S", .min = 0, .max = INT64_MAX,
     .help = "parameter generator seed (default 1)"},
    {.id = OPT_APPLY, .name = "apply", .type = TK_OPT_FLAG, .group = "changes:", .help = "keep the winning indexes"},
    {.id = OPT_DROP, .name = "drop-redundant", .type = TK_OPT_FLAG,
     .help = "with --apply: also drop the redundant indexes"},
    {.id = OPT_MEASURE, .name = "measure", .type = TK_OPT_FLAG, .group = "measure mode:",
     .help = "p50/p99/max client latency of each registry query"},
    {.id = OPT_EXEC, .name = "executions", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000000,
     .help = "executions per query (default 200)"},
    {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG, .group = "output:",
     .help = "print the results JSON instead of the text tables"},
    {.id = OPT_OUT, .name = "out", .type = TK_OPT_STR, .arg = "FILE",
     .help = "also write the results JSON (ticketctl report renders it)"},
    {.id = OPT_NOPROG, .name = "no-progress", .type = TK_OPT_FLAG, .help = "no progress bars on stderr"},
    TK_OPT_ROW_MYSQL(OPT_MYSQL),
    TK_OPT_ROW_STATE(OPT_STATE),
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_tune = {
    .cmd = "tune",
    .synopsis = "tune [options]\ntune --measure [--query NAME] [--executions N] [options]",
    .about = "Find the workload's full scans, filesorts and temporary tables (ANALYZE FORMAT=JSON\n"
             "with realistic parameters), propose indexes (equality columns, then ORDER BY or\n"
             "range columns), build each for real and time the query with it and with it\n"
             "IGNORED, alternating, on the same data; keep it only on a large median gain.\n"
             "Also lists redundant (left-prefix) and unused indexes. Advice only by default:\n"
             "every index built for the measurement is dropped again. The write-cost probe\n"
             "inserts rows in a transaction it rolls back (AUTO_INCREMENT values are consumed).",
    .opts = tune_rows,
};

int cmd_tune(int argc, char **argv)
{
    tk_tune_opts o;
    tk_tune_opts_default(&o);
    const char *mysql = NULL, *state = NULL, *out_path = NULL;
    int json = 0, measure = 0, list = 0, progress = 1;
    long long executions = 200;
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, &tk_optset_tune, argc, argv, &v)) > 0) {
        switch (c) {
        case OPT_QUERY: o.only = v.str; break;
        case OPT_SLOW: o.slow_log = v.str; break;
        case OPT_NOREG: o.no_registry = 1; break;
        case OPT_LIST: list = 1; break;
        case OPT_SAMPLES: o.samples = (int)v.i; break;
        case OPT_REPEATS: o.repeats = (int)v.i; break;
        case OPT_GAIN: o.min_gain = (double)v.i / 100.0; break;
        case OPT_MINROWS: o.min_rows = (long)v.i; break;
        case OPT_MAXPT: o.max_per_table = (int)v.i; break;
        case OPT_WROWS: o.write_rows = (int)v.i; break;
        case OPT_SEED: o.seed = (unsigned long long)v.i; break;
        case OPT_APPLY: o.apply = 1; break;
        case OPT_DROP: o.drop_redundant = 1; break;
        case OPT_MEASURE: measure = 1; break;
        case OPT_EXEC: executions = v.i; break;
        case OPT_JSON: json = 1; break;
        case OPT_OUT: out_path = v.str; break;
        case OPT_NOPROG: progress = 0; break;
        case OPT_MYSQL: mysql = v.str; break;
        case OPT_STATE: state = v.str; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc)
        return tk_opt_error(&tk_optset_tune, "unexpected argument '%s'", argv[optind]);
    if (o.drop_redundant && !o.apply) {
        return tk_opt_error(&tk_optset_tune, "--drop-redundant changes the schema, so it needs --apply");
    }
    if (o.no_registry && !o.slow_log) {
        return tk_opt_error(&tk_optset_tune, "--no-registry needs --slow-log FILE");
    }
    if (o.only && !tk_query_find(o.only)) {
        return tk_opt_error(&tk_optset_tune, "--query: no registry query named '%s' (see --list)", o.only);
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
