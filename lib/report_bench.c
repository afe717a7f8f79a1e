/* The bench report ("kind": "bench", lib/bench.c): headline cards, charts
 * over time, steps, invariants, errors, and the same as Markdown. */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const lat_keys[] = {"p50", "p90", "p95", "p99", "max"};
#define NLAT 5

static void html_steps(FILE *f, json_t *steps)
{
    char b[64];
    fputs("<h2>Steps</h2>\n", f);
    if (!json_is_array(steps) || json_array_size(steps) == 0) {
        fputs("<p class=\"muted\">no per-step data in this file</p>\n", f);
        return;
    }
    fputs("<table><tr><th>step</th><th>requests</th><th>TPS</th><th>p50 ms</th><th>p90 ms</th>"
          "<th>p95 ms</th><th>p99 ms</th><th>max ms</th><th>errors</th><th>error %</th></tr>\n", f);
    size_t i;
    json_t *st;
    json_array_foreach(steps, i, st) {
        double req = rpt_jnum(st, "requests"), errs = rpt_jnum(st, "errors");
        fputs("<tr><td>", f);
        rpt_html_esc(f, rpt_jstr(st, "name"));
        fprintf(f, "</td><td>%s</td>", rpt_fmt_num(b, sizeof b, req, 0));
        fprintf(f, "<td>%s</td>", rpt_fmt_num(b, sizeof b, rpt_jnum(st, "tps"), 1));
        for (int k = 0; k < NLAT; k++) {
            char path[32];
            snprintf(path, sizeof path, "latency_ms.%s", lat_keys[k]);
            fprintf(f, "<td>%s</td>", rpt_fmt_ms(b, sizeof b, rpt_jnum(st, path)));
        }
        fprintf(f, "<td>%s</td>", rpt_fmt_num(b, sizeof b, errs, 0));
        fprintf(f, "<td>%s</td></tr>\n", rpt_fmt_pct(b, sizeof b, req > 0 ? errs / req : NAN));
    }
    fputs("</table>\n", f);
}

static void html_invariants(FILE *f, json_t *inv)
{
    fputs("<h2>Invariants</h2>\n", f);
    if (!json_is_array(inv) || json_array_size(inv) == 0) {
        fputs("<p class=\"muted\">no invariants checked in this run</p>\n", f);
        return;
    }
    fputs("<table><tr><th>invariant</th><th>result</th><th style=\"text-align:left\">detail</th></tr>\n", f);
    size_t i;
    json_t *it;
    json_array_foreach(inv, i, it) {
        int ok = json_is_true(json_object_get(it, "ok"));
        fputs("<tr><td class=\"l\">", f);
        rpt_html_esc(f, rpt_jstr(it, "name"));
        fprintf(f, "</td><td><span class=\"%s\">%s</span></td><td class=\"l\">", ok ? "ok" : "fail", ok ? "OK" : "FAIL");
        const char *d = rpt_jstr(it, "detail");
        rpt_html_esc(f, d ? d : "");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

/* The run's gates: one row per --threshold, pass/fail with its numbers. */
static void html_thresholds(FILE *f, json_t *th)
{
    if (!json_is_array(th) || json_array_size(th) == 0)
        return;
    char a[64], b[64];
    fputs("<h2>Thresholds</h2>\n<table><tr><th>threshold</th><th>result</th><th>actual</th><th>limit</th>"
          "<th style=\"text-align:left\">detail</th></tr>\n", f);
    size_t i;
    json_t *t;
    json_array_foreach(th, i, t) {
        int ok = json_is_true(json_object_get(t, "ok"));
        fputs("<tr><td class=\"l\">", f);
        rpt_html_esc(f, rpt_jstr(t, "threshold"));
        fprintf(f, "</td><td><span class=\"%s\">%s</span></td><td>%s</td><td>%s</td><td class=\"l\">",
                ok ? "ok" : "fail", ok ? "✓ pass" : "✗ FAIL", rpt_fmt_num(a, sizeof a, rpt_jnum(t, "actual"), 4),
                rpt_fmt_num(b, sizeof b, rpt_jnum(t, "limit"), 4));
        const char *d = rpt_jstr(t, "detail");
        rpt_html_esc(f, d ? d : "");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static void md_thresholds(FILE *f, json_t *th)
{
    if (!json_is_array(th) || json_array_size(th) == 0)
        return;
    char a[64], b[64];
    fputs("\n## Thresholds\n\n| threshold | result | actual | limit |\n|---|---|---:|---:|\n", f);
    size_t i;
    json_t *t;
    json_array_foreach(th, i, t) {
        int ok = json_is_true(json_object_get(t, "ok"));
        fputs("| ", f);
        rpt_md_esc(f, rpt_jstr(t, "threshold"));
        fprintf(f, " | %s | %s | %s |\n", ok ? "✓ pass" : "✗ **FAIL**",
                rpt_fmt_num(a, sizeof a, rpt_jnum(t, "actual"), 4), rpt_fmt_num(b, sizeof b, rpt_jnum(t, "limit"), 4));
    }
}

/* Corrected (from the intended send time) beside uncorrected (from the
 * actual send) latency, whole run and steady window, out to p99.99. */
static const char *const tail_keys[] = {"p50", "p90", "p95", "p99", "p999", "p9999", "max", "mean"};
static const char *const tail_head[] = {"p50", "p90", "p95", "p99", "p99.9", "p99.99", "max", "mean"};
#define NTAIL 8
static const struct {
    const char *label, *path;
} lat_rows[] = {
    {"whole run, corrected", "summary.latency_ms"},
    {"whole run, uncorrected", "summary.uncorrected_latency_ms"},
    {"steady window, corrected", "summary.steady_latency_ms"},
    {"steady window, uncorrected", "summary.steady_uncorrected_latency_ms"},
};

static void latency_table(FILE *f, const json_t *root, int md)
{
    int any = 0;
    for (size_t r = 0; r < 4; r++)
        any |= json_is_object(rpt_jget(root, lat_rows[r].path));
    if (!any)
        return;
    char a[64];
    if (md) {
        fputs("\n## Latency (ms): corrected for coordinated omission, and not\n\n| |", f);
        for (int k = 0; k < NTAIL; k++)
            fprintf(f, " %s |", tail_head[k]);
        fputs("\n|---|", f);
        for (int k = 0; k < NTAIL; k++)
            fputs("---:|", f);
        fputs("\n", f);
    } else {
        fputs("<h2>Latency (ms): corrected for coordinated omission, and not</h2>\n<table><tr><th></th>", f);
        for (int k = 0; k < NTAIL; k++)
            fprintf(f, "<th>%s</th>", tail_head[k]);
        fputs("</tr>\n", f);
    }
    for (size_t r = 0; r < 4; r++) {
        json_t *o = rpt_jget(root, lat_rows[r].path);
        if (!json_is_object(o))
            continue;
        fprintf(f, md ? "| %s |" : "<tr><td class=\"l\">%s</td>", lat_rows[r].label);
        for (int k = 0; k < NTAIL; k++)
            fprintf(f, md ? " %s |" : "<td>%s</td>", rpt_fmt_ms(a, sizeof a, rpt_jnum(o, tail_keys[k])));
        fputs(md ? "\n" : "</tr>\n", f);
    }
    if (!md)
        fputs("</table>\n<p class=\"muted\">Corrected latency counts from when a request should have been sent "
              "(the schedule), so a stalled server shows in it; uncorrected counts from the actual send, as a naive "
              "tool would.</p>\n", f);
}

/* valid == false: the load generator saturated, so its numbers describe
 * itself as much as the server. */
static void generator_banner(FILE *f, const json_t *root, int md)
{
    json_t *v = rpt_jget(root, "valid");
    if (!json_is_boolean(v))
        return;
    const char *why = rpt_jstr(root, "generator.invalid_reason");
    if (md) {
        if (json_is_true(v))
            fputs("\nLoad generator: valid (not saturated).\n", f);
        else {
            fputs("\n**Load generator saturated: these figures are not a measurement of the server** (", f);
            rpt_md_esc(f, why ? why : "no reason recorded");
            fputs(").\n", f);
        }
        return;
    }
    if (json_is_true(v))
        return;
    fputs("<div class=\"banner fail\">Load generator saturated: these figures are not a measurement of the server (",
          f);
    rpt_html_esc(f, why ? why : "no reason recorded");
    fputs(")</div>\n", f);
}

/* CPU per unit of work over the steady window, first among the cards: it is
 * the steadiest figure on a shared machine. summary.cpu_ms_per_flow (the
 * flow) or summary.cpu_ms_per_request (one endpoint, --url). */
static const char *cpu_obj(const json_t *root, const char **unit)
{
    *unit = "flow";
    if (json_is_object(rpt_jget(root, "summary.cpu_ms_per_flow")))
        return "summary.cpu_ms_per_flow";
    *unit = "request";
    if (json_is_object(rpt_jget(root, "summary.cpu_ms_per_request")))
        return "summary.cpu_ms_per_request";
    return NULL;
}

static double cpu_of(const json_t *root, const char *obj, const char *role)
{
    char path[96];
    snprintf(path, sizeof path, "%s.%s", obj, role);
    return rpt_jnum(root, path);
}

static void cpu_card(FILE *f, const json_t *root)
{
    const char *unit, *obj = cpu_obj(root, &unit);
    if (!obj)
        return;
    char a[64], b[4][32], key[64], sub[200];
    snprintf(sub, sizeof sub, "serve %s · mariadbd %s · redis %s · bench %s",
             rpt_fmt_num(b[0], sizeof b[0], cpu_of(root, obj, "serve"), 3),
             rpt_fmt_num(b[1], sizeof b[1], cpu_of(root, obj, "mariadbd"), 3),
             rpt_fmt_num(b[2], sizeof b[2], cpu_of(root, obj, "redis"), 3),
             rpt_fmt_num(b[3], sizeof b[3], cpu_of(root, obj, "bench"), 3));
    snprintf(key, sizeof key, "server CPU-ms / %s", unit);
    rpt_card(f, key, rpt_fmt_num(a, sizeof a, cpu_of(root, obj, "backend_total"), 3), sub, NULL);
}

static void cpu_md(FILE *f, const json_t *root)
{
    const char *unit, *obj = cpu_obj(root, &unit);
    if (!obj)
        return;
    static const char *const roles[] = {"backend_total", "serve", "mariadbd", "redis", "nginx", "bench"};
    char a[64];
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        double v = cpu_of(root, obj, roles[i]);
        if (isfinite(v) || i < 4)
            fprintf(f, "| CPU-ms per %s, %s | %s |\n", unit, i ? roles[i] : "server total",
                    rpt_fmt_num(a, sizeof a, v, 3));
    }
}

/* ---- per-step latency, errors by status, the distribution ---------------- */

static const char *const palette[] = {"#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2",
                                      "#db2777", "#65a30d", "#ea580c", "#4b5563", "#0f766e", "#a16207"};
#define NPALETTE (sizeof palette / sizeof palette[0])
#define MAX_COLS NPALETTE

/* Columns over the timeseries of one member of each point's `obj` object:
 * for obj "steps" the p95 (ms) of every step answered in some second (NAN
 * where it had no answers); for obj "status" the count of every error
 * status (0 = no answer, >= 400, "other"; 0 where absent). Names in first
 * seen order into names (borrowed from root), columns malloc'd into cols.
 * Returns how many (at most MAX_COLS). */
static size_t point_columns(const json_t *root, const char *obj, size_t n, const char **names, double **cols)
{
    json_t *ts = rpt_jget(root, "timeseries");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *key;
        json_t *v;
        json_object_foreach(json_object_get(json_array_get(ts, i), obj), key, v) {
            int is_status = !strcmp(obj, "status");
            if (is_status && strcmp(key, "0") && strcmp(key, "other") && atoi(key) < 400)
                continue; /* answers, not errors */
            size_t c;
            for (c = 0; c < k && strcmp(names[c], key); c++)
                ;
            if (c == k) {
                if (k == MAX_COLS || !(cols[k] = malloc(n * sizeof(double))))
                    continue;
                for (size_t j = 0; j < n; j++)
                    cols[k][j] = is_status ? 0 : NAN;
                names[k++] = key;
            }
            cols[c][i] = is_status ? json_number_value(v) : rpt_jnum(v, "p95");
        }
    }
    return k;
}

static void html_point_charts(FILE *f, const json_t *root, const series *s)
{
    const char *names[MAX_COLS];
    double *cols[MAX_COLS];
    line lines[MAX_COLS];
    size_t k = point_columns(root, "steps", s->n, names, cols);
    if (k > 0) {
        for (size_t c = 0; c < k; c++)
            lines[c] = (line){names[c], palette[c % NPALETTE], cols[c], 0, 0, 0};
        fputs("<div class=\"panel\">\n", f);
        rpt_svg_chart(f, "p95 latency by step", s, lines, k, "p95 latency (ms)", NULL);
        fputs("</div>\n", f);
    }
    for (size_t c = 0; c < k; c++)
        free(cols[c]);
    k = point_columns(root, "status", s->n, names, cols);
    if (k > 0) {
        char label[MAX_COLS][32];
        for (size_t c = 0; c < k; c++) {
            snprintf(label[c], sizeof label[c], "%s", !strcmp(names[c], "0") ? "no answer" : names[c]);
            lines[c] = (line){label[c], palette[(c + 3) % NPALETTE], cols[c], 0, 0, 0};
        }
        fputs("<div class=\"panel\">\n", f);
        rpt_svg_chart(f, "Errors by HTTP status", s, lines, k, "answers / s", NULL);
        fputs("</div>\n", f);
    } else if (json_is_object(json_object_get(json_array_get(rpt_jget(root, "timeseries"), 0), "status"))) {
        fputs("<p class=\"muted\">no error status in any second</p>\n", f);
    }
    for (size_t c = 0; c < k; c++)
        free(cols[c]);
}

/* The buckets of root.latency_distribution: labels "<= 0.1", ..., "> 10000". */
static size_t dist_buckets(const json_t *root, char labels[][24], double *counts, size_t max, double *total)
{
    json_t *d = rpt_jget(root, "latency_distribution");
    size_t n = 0;
    *total = 0;
    double prev = NAN;
    size_t i;
    json_t *b;
    json_array_foreach(d, i, b) {
        if (n == max)
            break;
        double le = rpt_jnum(b, "le_ms"), cnt = rpt_jnum(b, "count");
        char num[24];
        if (isfinite(le))
            snprintf(labels[n], 24, "%s", rpt_fmt_ms(num, sizeof num, le));
        else
            snprintf(labels[n], 24, "> %s", isfinite(prev) ? rpt_fmt_ms(num, sizeof num, prev) : "?");
        counts[n] = isfinite(cnt) ? cnt : 0;
        *total += counts[n++];
        prev = le;
    }
    return n;
}

static void html_distribution(FILE *f, const json_t *root)
{
    char labels[32][24];
    double counts[32], total;
    size_t n = dist_buckets(root, labels, counts, 32, &total);
    if (n == 0 || !(total > 0))
        return;
    /* drop empty buckets at both ends: the bars that matter fill the width */
    size_t lo = 0, hi = n;
    while (lo < hi && counts[lo] == 0)
        lo++;
    while (hi > lo && counts[hi - 1] == 0)
        hi--;
    const char *lp[32];
    for (size_t i = lo; i < hi; i++)
        lp[i - lo] = labels[i];
    fputs("<div class=\"panel\">\n", f);
    rpt_svg_bars(f, "Response-time distribution (corrected)", lp, counts + lo, hi - lo, "requests",
                 "answered within (ms): each bar counts the answers above the bar before it");
    fputs("</div>\n", f);
}

static void md_distribution(FILE *f, const json_t *root)
{
    char labels[32][24], a[64], b[64], c[64];
    double counts[32], total;
    size_t n = dist_buckets(root, labels, counts, 32, &total);
    if (n == 0 || !(total > 0))
        return;
    fputs("\n## Response-time distribution (corrected)\n\n| within ms | requests | share | cumulative |\n"
          "|---|---:|---:|---:|\n", f);
    double cum = 0;
    for (size_t i = 0; i < n; i++) {
        cum += counts[i];
        if (counts[i] == 0 && (cum == 0 || cum == total))
            continue; /* empty ends */
        fprintf(f, "| %s | %s | %s | %s |\n", labels[i], rpt_fmt_num(a, sizeof a, counts[i], 0),
                rpt_fmt_pct(b, sizeof b, counts[i] / total), rpt_fmt_pct(c, sizeof c, cum / total));
    }
}

static void md_status_over_time(FILE *f, const json_t *root)
{
    json_t *ts = rpt_jget(root, "timeseries");
    size_t n = json_array_size(ts);
    const char *names[MAX_COLS];
    double *cols[MAX_COLS];
    size_t k = point_columns(root, "status", n, names, cols);
    if (k > 0) {
        char a[64], b[64];
        fputs("\n## Errors by HTTP status over time\n\n| status | answers | seconds with it | peak per second | "
              "first second |\n|---|---:|---:|---:|---:|\n", f);
        for (size_t c = 0; c < k; c++) {
            double sum = 0, peak = 0;
            size_t secs = 0, first = 0;
            for (size_t i = 0; i < n; i++)
                if (cols[c][i] > 0) {
                    sum += cols[c][i];
                    peak = cols[c][i] > peak ? cols[c][i] : peak;
                    if (!secs++)
                        first = (size_t)rpt_jnum(json_array_get(ts, i), "t");
                }
            fprintf(f, "| %s | %s | %zu | %s | %zu |\n", !strcmp(names[c], "0") ? "no answer" : names[c],
                    rpt_fmt_num(a, sizeof a, sum, 0), secs, rpt_fmt_num(b, sizeof b, peak, 0), first);
        }
    }
    for (size_t c = 0; c < k; c++)
        free(cols[c]);
}

static int bench_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char a[64], b[64], c[64], sub[160];
    series s;
    if (rpt_series_load(root, &s) != 0)
        return tk_err(err, errlen, "out of memory");

    const char *kind = rpt_jstr(root, "kind");
    const char *started = rpt_jstr(root, "started_at");
    const char *target = rpt_jstr(root, "config.target");
    char title[320], h1[96];
    snprintf(title, sizeof title, "ticketctl %s report: %s", kind ? kind : "bench", r->name);
    snprintf(h1, sizeof h1, "ticketctl %s report", kind ? kind : "bench");
    rpt_html_open(f, title, h1);
    fputs("<div class=\"sub\">", f);
    rpt_html_esc(f, r->name);
    if (started) {
        fputs(" &middot; started ", f);
        rpt_html_esc(f, started);
    }
    if (target) {
        fputs(" &middot; target ", f);
        rpt_html_esc(f, target);
    }
    double schema = rpt_jnum(root, "schema");
    if (isfinite(schema) && schema > 1)
        fprintf(f, " &middot; schema %g (newer than this renderer: showing the fields it knows)", schema);
    fputs("</div>\n", f);

    /* invariants banner and headline cards */
    inv_count ic = rpt_count_invariants(root);
    if (ic.failed)
        fprintf(f, "<div class=\"banner fail\">%zu of %zu invariants FAILED</div>\n", ic.failed, ic.total);
    else if (ic.total)
        fprintf(f, "<div class=\"banner ok\">All %zu invariants hold</div>\n", ic.total);

    generator_banner(f, root, 0);
    fputs("<div class=\"cards\">\n", f);
    cpu_card(f, root);
    snprintf(sub, sizeof sub, "steady %s", rpt_fmt_num(b, sizeof b, rpt_jnum(root, "summary.steady_tps"), 1));
    rpt_card(f, "throughput (req/s)", rpt_fmt_num(a, sizeof a, rpt_jnum(root, "summary.tps"), 1),
         isfinite(rpt_jnum(root, "summary.steady_tps")) ? sub : NULL, NULL);
    snprintf(sub, sizeof sub, "p50 %s · p95 %s ms", rpt_fmt_ms(b, sizeof b, rpt_jnum(root, "summary.latency_ms.p50")),
             rpt_fmt_ms(c, sizeof c, rpt_jnum(root, "summary.latency_ms.p95")));
    rpt_card(f, "p99 latency (ms)", rpt_fmt_ms(a, sizeof a, rpt_jnum(root, "summary.latency_ms.p99")), sub, NULL);
    snprintf(sub, sizeof sub, "max %s ms", rpt_fmt_ms(b, sizeof b, rpt_jnum(root, "summary.latency_ms.max")));
    rpt_card(f, "mean latency (ms)", rpt_fmt_ms(a, sizeof a, rpt_jnum(root, "summary.latency_ms.mean")), sub, NULL);
    double req = rpt_jnum(root, "summary.requests"), errs = rpt_jnum(root, "summary.errors");
    double erate = rpt_jnum(root, "summary.error_rate");
    if (!isfinite(erate) && req > 0 && isfinite(errs))
        erate = errs / req;
    snprintf(sub, sizeof sub, "%s errors", rpt_fmt_num(b, sizeof b, errs, 0));
    rpt_card(f, "error rate", rpt_fmt_pct(a, sizeof a, erate), sub, erate > 0 ? "bad" : NULL);
    rpt_card(f, "requests", rpt_fmt_num(a, sizeof a, req, 0), NULL, NULL);
    rpt_card(f, "flows completed", rpt_fmt_num(a, sizeof a, rpt_jnum(root, "summary.flows_completed"), 0), NULL, NULL);
    double peak_vus = rpt_series_max(s.vus, s.n);
    if (!isfinite(peak_vus))
        peak_vus = rpt_jnum(root, "config.users");
    rpt_card(f, "peak virtual users", rpt_fmt_num(a, sizeof a, peak_vus, 0), NULL, NULL);
    const char *strategy = rpt_jstr(root, "strategy");
    if (strategy && *strategy) /* bench --strategy: the lock strategy of holds */
        rpt_card(f, "lock strategy", strategy, NULL, NULL);
    if (ic.total) {
        snprintf(a, sizeof a, "%zu/%zu", ic.total - ic.failed, ic.total);
        rpt_card(f, "invariants OK", a, ic.failed ? "some FAILED" : "all hold", ic.failed ? "bad" : "good");
    }
    fputs("</div>\n", f);

    /* charts */
    fputs("<h2>Over time</h2>\n", f);
    if (s.n > 0) {
        line tl[] = {
            {"req/s", "#2563eb", s.rps, 0, 0, 1},
            {"errors/s", "#dc2626", s.errors, 0, 0, 0},
            {"virtual users", "#6b7280", s.vus, 1, 1, 0},
        };
        fputs("<div class=\"panel\">\n", f);
        rpt_svg_chart(f, "Throughput and virtual users", &s, tl, 3, "requests / s", "virtual users");
        fputs("</div>\n<div class=\"panel\">\n", f);
        line ll[] = {
            {"p50", "#16a34a", s.p50, 0, 0, 0},
            {"p95", "#f59e0b", s.p95, 0, 0, 0},
            {"p99", "#dc2626", s.p99, 0, 0, 0},
        };
        rpt_svg_chart(f, "Latency percentiles", &s, ll, 3, "latency (ms)", NULL);
        fputs("</div>\n", f);
        html_point_charts(f, root, &s);
    } else {
        fputs("<p class=\"muted\">no time series in this file</p>\n", f);
    }

    html_distribution(f, root);
    html_thresholds(f, rpt_jget(root, "thresholds"));
    latency_table(f, root, 0);
    html_steps(f, rpt_jget(root, "steps"));
    html_invariants(f, rpt_jget(root, "invariants"));
    fputs("<div class=\"grid2\">\n", f);
    rpt_html_counts(f, "Errors by kind", "kind", rpt_jget(root, "errors.by_kind"));
    rpt_html_counts(f, "Errors by HTTP status", "status", rpt_jget(root, "errors.by_status"));
    rpt_html_counts(f, "Business outcomes", "outcome", rpt_jget(root, "outcomes"));
    rpt_html_kv(f, "Server", rpt_jget(root, "server"));
    rpt_html_kv(f, "Config", rpt_jget(root, "config"));
    rpt_html_kv(f, "Machine", rpt_jget(root, "machine"));
    rpt_series_free(&s);
    return rpt_html_close(f, r->name, err, errlen);
}


static int bench_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char a[64], b[64];
    const char *kind = rpt_jstr(root, "kind");
    fprintf(f, "# ticketctl %s report: ", kind ? kind : "bench");
    rpt_md_esc(f, r->name);
    fputs("\n\n", f);
    const char *started = rpt_jstr(root, "started_at"), *target = rpt_jstr(root, "config.target");
    if (started) {
        fputs("Started ", f);
        rpt_md_esc(f, started);
        fputs(target ? ", " : ".\n", f);
    }
    if (target) {
        fputs(started ? "target " : "Target ", f);
        rpt_md_esc(f, target);
        fputs(".\n", f);
    }

    inv_count ic = rpt_count_invariants(root);
    double req = rpt_jnum(root, "summary.requests"), errs = rpt_jnum(root, "summary.errors");
    double erate = rpt_jnum(root, "summary.error_rate");
    if (!isfinite(erate) && req > 0 && isfinite(errs))
        erate = errs / req;
    fputs("\n## Headline\n\n| metric | value |\n|---|---:|\n", f);
    cpu_md(f, root);
    fprintf(f, "| throughput (req/s) | %s |\n", rpt_fmt_num(a, sizeof a, rpt_jnum(root, "summary.tps"), 1));
    fprintf(f, "| steady throughput (req/s) | %s |\n", rpt_fmt_num(a, sizeof a, rpt_jnum(root, "summary.steady_tps"), 1));
    for (int k = 0; k < NLAT; k++) {
        char path[40];
        snprintf(path, sizeof path, "summary.latency_ms.%s", lat_keys[k]);
        fprintf(f, "| %s latency (ms) | %s |\n", lat_keys[k], rpt_fmt_ms(a, sizeof a, rpt_jnum(root, path)));
    }
    fprintf(f, "| requests | %s |\n", rpt_fmt_num(a, sizeof a, req, 0));
    fprintf(f, "| errors | %s (%s) |\n", rpt_fmt_num(a, sizeof a, errs, 0), rpt_fmt_pct(b, sizeof b, erate));
    fprintf(f, "| flows completed | %s |\n", rpt_fmt_num(a, sizeof a, rpt_jnum(root, "summary.flows_completed"), 0));
    if (ic.total)
        fprintf(f, "| invariants OK | %zu/%zu%s |\n", ic.total - ic.failed, ic.total, ic.failed ? " **FAILED**" : "");

    generator_banner(f, root, 1);
    md_thresholds(f, rpt_jget(root, "thresholds"));
    latency_table(f, root, 1);
    md_distribution(f, root);
    md_status_over_time(f, root);
    json_t *steps = rpt_jget(root, "steps");
    if (json_is_array(steps) && json_array_size(steps) > 0) {
        fputs("\n## Steps\n\n| step | requests | TPS | p50 ms | p90 ms | p95 ms | p99 ms | max ms | errors |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n", f);
        size_t i;
        json_t *st;
        json_array_foreach(steps, i, st) {
            fputs("| ", f);
            rpt_md_esc(f, rpt_jstr(st, "name"));
            fprintf(f, " | %s", rpt_fmt_num(a, sizeof a, rpt_jnum(st, "requests"), 0));
            fprintf(f, " | %s", rpt_fmt_num(a, sizeof a, rpt_jnum(st, "tps"), 1));
            for (int k = 0; k < NLAT; k++) {
                char path[32];
                snprintf(path, sizeof path, "latency_ms.%s", lat_keys[k]);
                fprintf(f, " | %s", rpt_fmt_ms(a, sizeof a, rpt_jnum(st, path)));
            }
            fprintf(f, " | %s |\n", rpt_fmt_num(a, sizeof a, rpt_jnum(st, "errors"), 0));
        }
    }

    json_t *inv = rpt_jget(root, "invariants");
    if (json_is_array(inv) && json_array_size(inv) > 0) {
        fputs("\n## Invariants\n\n| invariant | result | detail |\n|---|---|---|\n", f);
        size_t i;
        json_t *it;
        json_array_foreach(inv, i, it) {
            int ok = json_is_true(json_object_get(it, "ok"));
            fputs("| ", f);
            rpt_md_esc(f, rpt_jstr(it, "name"));
            fputs(ok ? " | OK | " : " | **FAIL** | ", f);
            const char *d = rpt_jstr(it, "detail");
            rpt_md_esc(f, d ? d : "");
            fputs(" |\n", f);
        }
    }
    rpt_md_counts(f, "Errors by kind", "kind", rpt_jget(root, "errors.by_kind"));
    rpt_md_counts(f, "Errors by HTTP status", "status", rpt_jget(root, "errors.by_status"));
    rpt_md_counts(f, "Business outcomes", "outcome", rpt_jget(root, "outcomes"));
    rpt_md_kv(f, "Server", rpt_jget(root, "server"));
    rpt_md_kv(f, "Config", rpt_jget(root, "config"));
    rpt_md_kv(f, "Machine", rpt_jget(root, "machine"));
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}


static int bench_match(const json_t *root)
{
    (void)root;
    return 1; /* the default kind */
}

const rpt_kind rpt_kind_bench = {"bench", bench_match, bench_html, bench_markdown};
