/* ticketctl report: render a bench results JSON as HTML + Markdown. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/common.h"
#include "ticketctl/compare.h"
#include "ticketctl/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OPT_JUNIT = 256, OPT_COMPARE };

static const tk_opt report_rows[] = {
    {.id = 'o', .name = "out-dir", .short_name = 'o', .type = TK_OPT_STR, .arg = "DIR",
     .help = "write the two files into DIR (must exist)"},
    {.id = OPT_JUNIT, .name = "junit", .type = TK_OPT_STR, .arg = "FILE",
     .help = "also write the thresholds, invariants and generator\nself-check as JUnit XML for CI ('-': stdout); exit 3\n"
             "when one of them failed"},
    {.id = OPT_COMPARE, .name = "compare", .type = TK_OPT_FLAG,
     .help = "compare BASELINE with CANDIDATE runs: each a results\nfile, a directory of them or a quoted glob, "
             ">= 5 runs\neach; Mann-Whitney U per metric, exit 3 on a regression"},
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_report = {
    .cmd = "report",
    .synopsis = "report RESULTS.json [--out-dir DIR] [--junit FILE]\n"
                "report --compare BASELINE CANDIDATE",
    .about = "Render a bench results file (docs/RESULTS.md) as a self-contained HTML page\n"
             "(charts of throughput, virtual users and latency over time, per-step latency,\n"
             "the response-time distribution and errors by status over time; step, error\n"
             "and invariant tables) and a Markdown summary. Writes <name>.html and <name>.md\n"
             "beside the JSON, or in DIR, and prints both paths.",
    .opts = report_rows,
};

/* ticketctl report --compare BASELINE CANDIDATE: each a results file, a
 * directory of them or a glob; the statistics are in lib/compare.c.
 * Exit 0 nothing regressed, 3 a metric regressed, 1 unreadable input, 2 usage. */
static int report_compare(int argc, char **argv)
{
    const char *side[2] = {NULL, NULL};
    int ns = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--compare") == 0)
            continue;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            tk_opt_help(&tk_optset_report, stdout);
            return 0;
        }
        if (argv[i][0] == '-')
            return tk_opt_error(&tk_optset_report, "--compare takes no option '%s'", argv[i]);
        if (ns == 2)
            return tk_opt_error(&tk_optset_report, "--compare takes two sides, BASELINE and CANDIDATE; '%s' is a third",
                                argv[i]);
        side[ns++] = argv[i];
    }
    if (ns != 2)
        return tk_opt_error(&tk_optset_report, "--compare needs BASELINE and CANDIDATE (>= %d runs each)",
                            TK_CMP_MIN_RUNS);
    char **paths[2] = {NULL, NULL}, err[1024];
    size_t n[2] = {0, 0};
    int rc = 1;
    tk_cmp_metric m[TK_CMP_NMETRICS];
    for (int k = 0; k < 2; k++)
        if (tk_compare_expand(side[k], &paths[k], &n[k], err, sizeof err) < 0) {
            fprintf(stderr, "report: %s\n", err);
            goto done;
        }
    if (tk_compare_files(paths[0], n[0], paths[1], n[1], m, err, sizeof err) != 0) {
        fprintf(stderr, "report: %s\n", err);
        goto done;
    }
    printf("baseline: %zu run%s (%s)\ncandidate: %zu run%s (%s)\n", n[0], n[0] == 1 ? "" : "s", side[0], n[1],
           n[1] == 1 ? "" : "s", side[1]);
    printf("%-29s %12s %12s %9s %9s %8s  %s\n", "metric", "base median", "cand median", "change", "min eff.", "p",
           "verdict");
    rc = 0;
    for (int k = 0; k < TK_CMP_NMETRICS; k++) {
        char ch[16];
        if (m[k].absent) {
            printf("%-29s %12s %12s %9s %9s %8s  not in every file\n", m[k].name, "-", "-", "-", "-", "-");
            continue;
        }
        if (isinf(m[k].change))
            snprintf(ch, sizeof ch, "%s", m[k].change > 0 ? "+inf" : "-inf");
        else
            snprintf(ch, sizeof ch, "%+.1f%%", m[k].change * 100.0);
        printf("%-29s %12.4g %12.4g %9s %8.1f%% %8.4f  %s\n", m[k].name, m[k].base_median, m[k].cand_median, ch,
               m[k].min_effect * 100.0, m[k].p, tk_cmp_verdict_name(m[k].verdict));
        if (m[k].verdict == TK_CMP_REGRESSED)
            rc = 3;
    }
    if (m[0].verdict == TK_CMP_INSUFFICIENT)
        printf("insufficient runs: at least %d per side are needed to decide anything\n", TK_CMP_MIN_RUNS);
done:
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < n[k]; i++)
            free(paths[k][i]);
        free(paths[k]);
    }
    return rc;
}

/* --junit FILE: 0 when every gate held, 3 when one failed, 1 on I/O errors. */
static int write_junit(const char *results, const char *path)
{
    char err[1024];
    tk_report *r = tk_report_load(results, err, sizeof err);
    if (!r) {
        fprintf(stderr, "report: %s\n", err);
        return 1;
    }
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "report: --junit %s: %s\n", path, strerror(errno));
        tk_report_free(r);
        return 1;
    }
    size_t failed = 0;
    int rc = tk_report_junit(r, f, &failed, err, sizeof err);
    if (f != stdout && fclose(f) != 0 && rc == 0)
        rc = tk_err(err, sizeof err, "closing %s: %s", path, strerror(errno));
    tk_report_free(r);
    if (rc != 0) {
        fprintf(stderr, "report: --junit %s: %s\n", path, err);
        return 1;
    }
    return failed ? 3 : 0;
}

int cmd_report(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--compare") == 0)
            return report_compare(argc, argv);

    const char *out_dir = NULL, *junit = NULL;
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, &tk_optset_report, argc, argv, &v)) > 0) {
        switch (c) {
        case 'o': out_dir = v.str; break;
        case OPT_JUNIT: junit = v.str; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (argc - optind != 1)
        return tk_opt_error(&tk_optset_report, optind < argc ? "one results file, please" : "missing RESULTS.json");
    char html[8192], md[8192], err[1024];
    if (tk_report_write_files(argv[optind], out_dir, html, sizeof html, md, sizeof md, err, sizeof err) != 0) {
        fprintf(stderr, "report: %s\n", err);
        return 1;
    }
    printf("%s\n%s\n", html, md);
    return junit ? write_junit(argv[optind], junit) : 0;
}
