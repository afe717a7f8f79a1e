/* Scenario results ("kind": "scenario", lib/scenario.c): the lock
 * strategies side by side. */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_scenario(const json_t *root)
{
    const char *k = rpt_jstr(root, "kind");
    return k && !strcmp(k, "scenario");
}

/* The metrics a scenario page charts, one bar chart each. */
typedef struct scn_metric {
    const char *title;
    const char *path; /* in one result object */
    int dec;
} scn_metric;

static const scn_metric scn_metrics[] = {
    {"Throughput (attempts/s)", "throughput", 0},
    {"p50 latency (ms)", "latency_ms.p50", 2},
    {"p99 latency (ms)", "latency_ms.p99", 2},
    {"max latency (ms)", "latency_ms.max", 2},
    {"Successes", "successes", 0},
    {"Double bookings", "double_bookings", 0},
    {"Balance drift (points)", "balance_drift", 0},
    {"Retries", "retries", 0},
    {"Lock waits", "lock_waits", 0},
    {"Lock timeouts", "lock_timeouts", 0},
};

/* Horizontal bar chart: one bar per strategy; unsafe strategies in red.
 * Skipped when no result has the metric. */
static void svg_bars(FILE *f, const scn_metric *m, json_t *results)
{
    size_t n = json_array_size(results), i;
    double max = 0;
    int any = 0;
    json_t *r;
    json_array_foreach(results, i, r) {
        double v = rpt_jnum(r, m->path);
        if (isfinite(v)) {
            any = 1;
            max = v > max ? v : max;
        }
    }
    if (!any)
        return;
    const int lw = 200, bw = 600, rh = 24, top = 30;
    int h = top + (int)n * rh + 10;
    char a[64];
    fprintf(f, "<div class=\"panel\"><svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", lw + bw + 120, h);
    rpt_html_esc(f, m->title);
    fputs("\"><title>", f);
    rpt_html_esc(f, m->title);
    fprintf(f, "</title>\n<text x=\"4\" y=\"18\" class=\"ct\">");
    rpt_html_esc(f, m->title);
    fputs("</text>\n", f);
    json_array_foreach(results, i, r) {
        double v = rpt_jnum(r, m->path);
        double y = top + (double)i * rh;
        int unsafe = json_is_true(json_object_get(r, "unsafe"));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"yl\">", lw - 8, y + 15);
        rpt_html_esc(f, rpt_jstr(r, "strategy"));
        fputs("</text>", f);
        double w = isfinite(v) && max > 0 ? v / max * bw : 0;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", lw, y + 3, w, rh - 6,
                unsafe ? "#dc2626" : "#2563eb");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lw + w + 6, y + 15, rpt_fmt_num(a, sizeof a, v, m->dec));
    }
    fputs("</svg></div>\n", f);
}

/* A column of the strategies tables: header, path in a result, decimals
 * (-1: a latency in ms). */
typedef struct scn_col {
    const char *head, *path;
    int dec;
} scn_col;

static const scn_col scn_correct[] = {
    {"attempts", "attempts", 0},           {"successes", "successes", 0},
    {"seat taken", "outcomes.SEAT_TAKEN", 0}, {"conflict", "outcomes.CONFLICT", 0},
    {"busy", "outcomes.BUSY", 0},          {"stale", "outcomes.STALE", 0},
    {"errors", "outcomes.ERROR", 0},       {"double bookings", "double_bookings", 0},
    {"oversold seats", "oversold_seats", 0}, {"balance drift", "balance_drift", 0},
};
static const scn_col scn_cost[] = {
    {"attempts/s", "throughput", 0}, {"p50 ms", "latency_ms.p50", -1}, {"p99 ms", "latency_ms.p99", -1},
    {"max ms", "latency_ms.max", -1}, {"retries", "retries", 0},      {"lock waits", "lock_waits", 0},
    {"lock timeouts", "lock_timeouts", 0}, {"deadlocks", "deadlocks", 0},
};

static int scn_inv_state(json_t *r, int *total);

static void scn_table(FILE *f, json_t *results, const char *title, const scn_col *cols, size_t ncols, int with_inv)
{
    char a[64];
    fprintf(f, "<h3>%s</h3>\n<table><tr><th>strategy</th>", title);
    for (size_t c = 0; c < ncols; c++)
        fprintf(f, "<th>%s</th>", cols[c].head);
    fputs(with_inv ? "<th>invariants</th></tr>\n" : "</tr>\n", f);
    size_t i;
    json_t *res;
    json_array_foreach(results, i, res) {
        int unsafe = json_is_true(json_object_get(res, "unsafe"));
        fputs("<tr><td class=\"l\">", f);
        rpt_html_esc(f, rpt_jstr(res, "strategy"));
        if (unsafe)
            fputs(" <span class=\"muted\">(unsafe)</span>", f);
        fputs("</td>", f);
        for (size_t c = 0; c < ncols; c++) {
            double v = rpt_jnum(res, cols[c].path);
            fprintf(f, "<td>%s</td>", cols[c].dec < 0 ? rpt_fmt_ms(a, sizeof a, v) : rpt_fmt_num(a, sizeof a, v, 0));
        }
        if (!with_inv) {
            fputs("</tr>\n", f);
            continue;
        }
        int total, bad = scn_inv_state(res, &total);
        if (!total)
            fputs("<td>" DASH "</td></tr>\n", f);
        else if (!bad)
            fprintf(f, "<td><span class=\"ok\">OK</span></td></tr>\n");
        else
            fprintf(f, "<td><span class=\"fail\">%d FAIL</span>%s</td></tr>\n", bad, unsafe ? " expected" : "");
    }
    fputs("</table>\n", f);
}

static int scn_inv_state(json_t *r, int *total)
{
    int bad = 0;
    size_t j;
    json_t *iv;
    *total = 0;
    json_array_foreach(json_object_get(r, "invariants"), j, iv) {
        (*total)++;
        bad += !json_is_true(json_object_get(iv, "ok"));
    }
    return bad;
}

static int scenario_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    json_t *results = rpt_jget(root, "results");
    const char *name = rpt_jstr(root, "scenario");
    char title[320], h1[300];
    snprintf(title, sizeof title, "ticketctl scenario report: %s", name ? name : r->name);
    snprintf(h1, sizeof h1, "Scenario %s", name ? name : r->name);
    rpt_html_open(f, title, h1);
    fputs("<div class=\"sub\">", f);
    rpt_html_esc(f, rpt_jstr(root, "config.description"));
    fputs(" &middot; ", f);
    rpt_html_esc(f, r->name);
    const char *started = rpt_jstr(root, "started_at");
    if (started) {
        fputs(" &middot; started ", f);
        rpt_html_esc(f, started);
    }
    fputs("</div>\n", f);
    inv_count ic = rpt_count_invariants(root);
    if (ic.failed)
        fprintf(f, "<div class=\"banner fail\">%zu of %zu invariants FAILED</div>\n", ic.failed, ic.total);
    else if (ic.total)
        fprintf(f, "<div class=\"banner ok\">All %zu invariants hold (strategies marked unsafe excluded)</div>\n", ic.total);
    const char *verdict = rpt_jstr(root, "verdict");
    if (verdict) {
        fputs("<div class=\"panel\"><b>Verdict.</b> ", f);
        rpt_html_esc(f, verdict);
        fputs("</div>\n", f);
    }

    fputs("<h2>Strategies</h2>\n", f);
    if (!json_is_array(results) || json_array_size(results) == 0) {
        fputs("<p class=\"muted\">no strategy results in this file</p>\n", f);
    } else {
        /* two tables of at most 12 columns, so the page reads at 1280 px */
        scn_table(f, results, "Correctness", scn_correct, sizeof scn_correct / sizeof scn_correct[0], 1);
        scn_table(f, results, "Cost", scn_cost, sizeof scn_cost / sizeof scn_cost[0], 0);
        fputs("<h2>Comparison</h2>\n", f);
        for (size_t m = 0; m < sizeof scn_metrics / sizeof scn_metrics[0]; m++)
            svg_bars(f, &scn_metrics[m], results);

        fputs("<h2>Invariants</h2>\n<table><tr><th>strategy</th><th>invariant</th><th>result</th>"
              "<th style=\"text-align:left\">detail</th></tr>\n", f);
        size_t i;
        json_t *res;
        json_array_foreach(results, i, res) {
            size_t j;
            json_t *iv;
            json_array_foreach(json_object_get(res, "invariants"), j, iv) {
                int ok = json_is_true(json_object_get(iv, "ok"));
                fputs("<tr><td>", f);
                rpt_html_esc(f, rpt_jstr(res, "strategy"));
                fputs("</td><td class=\"l\">", f);
                rpt_html_esc(f, rpt_jstr(iv, "name"));
                fprintf(f, "</td><td><span class=\"%s\">%s</span>%s</td><td class=\"l\">", ok ? "ok" : "fail",
                        ok ? "OK" : "FAIL", !ok && json_is_true(json_object_get(iv, "expected_to_fail")) ? " expected" : "");
                rpt_html_esc(f, rpt_jstr(iv, "detail"));
                fputs("</td></tr>\n", f);
            }
        }
        fputs("</table>\n", f);
    }
    json_t *rb = rpt_jget(root, "redis_benchmark");
    fputs("<div class=\"grid2\">\n", f);
    if (json_is_object(rb))
        rpt_html_kv(f, "redis-benchmark (same EVAL)", rb);
    rpt_html_kv(f, "Config", rpt_jget(root, "config"));
    rpt_html_kv(f, "Machine", rpt_jget(root, "machine"));
    return rpt_html_close(f, r->name, err, errlen);
}

static int scenario_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char a[64];
    const char *name = rpt_jstr(root, "scenario");
    fputs("# ticketctl scenario report: ", f);
    rpt_md_esc(f, name ? name : r->name);
    fputs("\n\n", f);
    const char *desc = rpt_jstr(root, "config.description");
    if (desc) {
        rpt_md_esc(f, desc);
        fputs("\n\n", f);
    }
    const char *verdict = rpt_jstr(root, "verdict");
    if (verdict) {
        fputs("**Verdict.** ", f);
        rpt_md_esc(f, verdict);
        fputs("\n\n", f);
    }
    json_t *results = rpt_jget(root, "results");
    fputs("| strategy | attempts | successes | busy | conflict | stale | errors | double bookings | oversold seats "
          "| balance drift | retries | lock waits | lock timeouts | deadlocks | attempts/s | p50 ms | p99 ms | max ms "
          "| invariants |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n",
          f);
    size_t i;
    json_t *res;
    json_array_foreach(results, i, res) {
        static const char *const cols[] = {"attempts", "successes", "outcomes.BUSY", "outcomes.CONFLICT",
                                           "outcomes.STALE", "outcomes.ERROR", "double_bookings", "oversold_seats",
                                           "balance_drift", "retries", "lock_waits", "lock_timeouts", "deadlocks"};
        int unsafe = json_is_true(json_object_get(res, "unsafe"));
        fputs("| ", f);
        rpt_md_esc(f, rpt_jstr(res, "strategy"));
        if (unsafe)
            fputs(" (unsafe)", f);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
            fprintf(f, " | %s", rpt_fmt_num(a, sizeof a, rpt_jnum(res, cols[c]), 0));
        fprintf(f, " | %s", rpt_fmt_num(a, sizeof a, rpt_jnum(res, "throughput"), 0));
        fprintf(f, " | %s", rpt_fmt_ms(a, sizeof a, rpt_jnum(res, "latency_ms.p50")));
        fprintf(f, " | %s", rpt_fmt_ms(a, sizeof a, rpt_jnum(res, "latency_ms.p99")));
        fprintf(f, " | %s", rpt_fmt_ms(a, sizeof a, rpt_jnum(res, "latency_ms.max")));
        int total, bad = scn_inv_state(res, &total);
        if (!total)
            fputs(" | " DASH " |\n", f);
        else if (!bad)
            fputs(" | OK |\n", f);
        else
            fprintf(f, " | **%d FAIL**%s |\n", bad, unsafe ? " (expected)" : "");
    }
    json_t *rb = rpt_jget(root, "redis_benchmark");
    if (json_is_object(rb) && isfinite(rpt_jnum(rb, "rps")))
        fprintf(f, "\nredis-benchmark, same EVAL: %s req/s; redis-atomic reached %.2f of it.\n",
                rpt_fmt_num(a, sizeof a, rpt_jnum(rb, "rps"), 0), rpt_jnum(rb, "ratio"));
    rpt_md_kv(f, "Config", rpt_jget(root, "config"));
    rpt_md_kv(f, "Machine", rpt_jget(root, "machine"));
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}


const rpt_kind rpt_kind_scenario = {"scenario", is_scenario, scenario_html, scenario_markdown};
