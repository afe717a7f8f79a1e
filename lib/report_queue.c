/* Waiting room runs side by side ("kind": "queue-compare").
 *
 * Written by scripts/bench-queue from one `bench --queue MODE` results file
 * per mode: {"kind": "queue-compare", "config": {...}, "runs": [{"mode",
 * "file", "summary" (the bench summary), "queue" (the bench's queue
 * object), "hold_p95_ms", "pay_p95_ms", "reference": {"tps",
 * "response_s"}}]}. One row per mode: TPS, p95, errors, hold and pay p95,
 * arrival -> admission p50/p95, fairness (normalised Kendall tau distance,
 * bench.h), and the reference figures of DESIGN.md beside them. */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


static int is_queue_compare(const json_t *root)
{
    const char *k = rpt_jstr(root, "kind");
    return k && !strcmp(k, "queue-compare");
}

#define QC_COLS 11
static const char *const qc_head[QC_COLS] = {
    "queue", "TPS", "p95 (ms)", "errors", "error rate", "flows", "hold p95 (ms)", "pay p95 (ms)",
    "arrival→admission p50 / p95 (ms)", "fairness (Kendall)", "reference TPS / response"};

/* The cells of one run; b[0] is the mode. */
static void qc_cells(json_t *run, char b[QC_COLS][96])
{
    char x[64], y[64];
    const char *mode = rpt_jstr(run, "mode");
    snprintf(b[0], 96, "%s", mode ? mode : "–");
    rpt_fmt_num(b[1], 96, rpt_jnum(run, "summary.tps"), 1);
    rpt_fmt_ms(b[2], 96, rpt_jnum(run, "summary.latency_ms.p95"));
    rpt_fmt_num(b[3], 96, rpt_jnum(run, "summary.errors"), 0);
    rpt_fmt_pct(b[4], 96, rpt_jnum(run, "summary.error_rate"));
    rpt_fmt_num(b[5], 96, rpt_jnum(run, "summary.flows_completed"), 0);
    rpt_fmt_ms(b[6], 96, rpt_jnum(run, "hold_p95_ms"));
    rpt_fmt_ms(b[7], 96, rpt_jnum(run, "pay_p95_ms"));
    double adm = rpt_jnum(run, "queue.admissions");
    if (mode && strcmp(mode, "none") && isfinite(adm) && adm > 0) {
        snprintf(b[8], 96, "%s / %s", rpt_fmt_ms(x, sizeof x, rpt_jnum(run, "queue.arrival_to_admission_ms.p50")),
                 rpt_fmt_ms(y, sizeof y, rpt_jnum(run, "queue.arrival_to_admission_ms.p95")));
        rpt_fmt_num(b[9], 96, rpt_jnum(run, "queue.fairness_kendall_distance"), 4);
    } else {
        snprintf(b[8], 96, "–");
        snprintf(b[9], 96, "–");
    }
    double rt = rpt_jnum(run, "reference.tps"), rs = rpt_jnum(run, "reference.response_s");
    if (isfinite(rt))
        snprintf(b[10], 96, "%s / %s s", rpt_fmt_num(x, sizeof x, rt, 0), rpt_fmt_num(y, sizeof y, rs, 0));
    else
        snprintf(b[10], 96, "–");
}

static int queue_compare_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char b[QC_COLS][96], x[64];
    char title[320];
    snprintf(title, sizeof title, "ticketctl waiting room: %s", r->name);
    rpt_html_open(f, title, "Waiting room: no queue, MySQL table, Redis");
    fputs("<div class=\"sub\">", f);
    rpt_html_esc(f, r->name);
    const char *started = rpt_jstr(root, "started_at");
    if (started) {
        fputs(" &middot; started ", f);
        rpt_html_esc(f, started);
    }
    fprintf(f, " &middot; %s users</div>\n", rpt_fmt_num(x, sizeof x, rpt_jnum(root, "config.users"), 0));
    fputs("<h2>Side by side</h2>\n<table><tr>", f);
    for (int c = 0; c < QC_COLS; c++) {
        fputs("<th>", f);
        rpt_html_esc(f, qc_head[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    size_t i;
    json_t *run;
    json_array_foreach(rpt_jget(root, "runs"), i, run) {
        qc_cells(run, b);
        fputs("<tr>", f);
        for (int c = 0; c < QC_COLS; c++) {
            fputs(c == 0 ? "<td class=\"l\">" : "<td>", f);
            rpt_html_esc(f, b[c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<p class=\"muted\">Fairness is the normalised Kendall tau distance between arrival order and"
          " admission order among users of the same schedule: 0 = admitted exactly in arrival order, 0.5 = random."
          " Reference figures: DESIGN.md (0&rarr;5,000 users over 5 min, Spring Boot on 2 vCPU + RDS).</p>\n",
          f);
    fputs("<div class=\"grid2\">\n", f);
    rpt_html_kv(f, "Config", rpt_jget(root, "config"));
    rpt_html_kv(f, "Machine", rpt_jget(root, "machine"));
    return rpt_html_close(f, r->name, err, errlen);
}

static int queue_compare_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char b[QC_COLS][96], x[64];
    fputs("# Waiting room: no queue, MySQL table, Redis\n\n", f);
    rpt_md_esc(f, r->name);
    fprintf(f, " · %s users\n\n|", rpt_fmt_num(x, sizeof x, rpt_jnum(root, "config.users"), 0));
    for (int c = 0; c < QC_COLS; c++) {
        fputc(' ', f);
        rpt_md_esc(f, qc_head[c]);
        fputs(" |", f);
    }
    fputs("\n|", f);
    for (int c = 0; c < QC_COLS; c++)
        fputs(c == 0 ? "---|" : "---:|", f);
    fputs("\n", f);
    size_t i;
    json_t *run;
    json_array_foreach(rpt_jget(root, "runs"), i, run) {
        qc_cells(run, b);
        fputs("|", f);
        for (int c = 0; c < QC_COLS; c++) {
            fputc(' ', f);
            rpt_md_esc(f, b[c]);
            fputs(" |", f);
        }
        fputs("\n", f);
    }
    fputs("\nFairness: normalised Kendall tau distance between arrival and admission order (0 = FIFO)."
          " Reference: DESIGN.md.\n",
          f);
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}


const rpt_kind rpt_kind_queue_compare = {"queue-compare", is_queue_compare, queue_compare_html, queue_compare_markdown};
