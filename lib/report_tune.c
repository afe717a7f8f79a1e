/* Index tuner results ("kind": "tune", lib/tune.c). */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_tune(const json_t *root)
{
    const char *k = rpt_jstr(root, "kind");
    return k && !strcmp(k, "tune");
}

/* One tuner row's numbers, "–" when absent. */
static void tune_cells(json_t *c, char b[5][64])
{
    rpt_fmt_ms(b[0], 64, rpt_jnum(c, "before_ms"));
    rpt_fmt_ms(b[1], 64, rpt_jnum(c, "after_ms"));
    double ratio = rpt_jnum(c, "ratio");
    if (isfinite(ratio))
        snprintf(b[2], 64, "%.1fx", ratio);
    else
        snprintf(b[2], 64, "–");
    rpt_fmt_num(b[3], 64, rpt_jnum(c, "rows_before"), 0);
    rpt_fmt_num(b[4], 64, rpt_jnum(c, "rows_after"), 0);
}

static const char *tune_cols(json_t *c, char *buf, size_t cap)
{
    size_t i, o = 0;
    json_t *x;
    buf[0] = '\0';
    json_array_foreach(json_object_get(c, "columns"), i, x) if (o < cap) o +=
        (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", json_string_value(x) ? json_string_value(x) : "?");
    return buf;
}

static int tune_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char b[5][64], cols[512];
    char title[320];
    snprintf(title, sizeof title, "ticketctl tune report: %s", r->name);
    rpt_html_open(f, title, "Index tuning");
    fputs("<div class=\"sub\">", f);
    rpt_html_esc(f, r->name);
    fputs(" &middot; MariaDB ", f);
    rpt_html_esc(f, rpt_jstr(root, "server.version"));
    fprintf(f, " &middot; %s</div>\n",
            json_is_true(rpt_jget(root, "applied")) ? "applied (winners kept)" : "advice only (built indexes dropped)");
    fputs("<h2>Queries</h2>\n<table><tr><th>query</th><th>findings</th><th>candidate</th><th>status</th>"
          "<th>before</th><th>after</th><th>ratio</th><th>rows before</th><th>rows after</th><th>DDL</th></tr>\n", f);
    size_t i, k;
    json_t *q, *x;
    json_array_foreach(rpt_jget(root, "queries"), i, q) {
        json_t *c = json_object_get(q, "candidate");
        tune_cells(c, b);
        fputs("<tr><td>", f);
        rpt_html_esc(f, rpt_jstr(q, "name"));
        fputs("</td><td class=\"l\">", f);
        json_array_foreach(json_object_get(q, "findings"), k, x) {
            if (k)
                fputs(", ", f);
            rpt_html_esc(f, json_string_value(x));
        }
        if (json_object_get(q, "error"))
            rpt_html_esc(f, rpt_jstr(q, "error"));
        fputs("</td><td class=\"l\">", f);
        if (json_is_object(c)) {
            rpt_html_esc(f, rpt_jstr(c, "table"));
            fputs("(", f);
            rpt_html_esc(f, tune_cols(c, cols, sizeof cols));
            fputs(")", f);
        }
        const char *st = rpt_jstr(c, "status");
        fprintf(f, "</td><td class=\"l\"><span class=\"%s\">", st && !strcmp(st, "kept") ? "ok" : "muted");
        rpt_html_esc(f, st ? st : "–");
        fputs("</span> ", f);
        rpt_html_esc(f, rpt_jstr(c, "reason"));
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"l\"><code>", b[0], b[1],
                b[2], b[3], b[4]);
        rpt_html_esc(f, rpt_jstr(c, "ddl"));
        fputs("</code></td></tr>\n", f);
    }
    fputs("</table>\n<h2>Redundant indexes</h2>\n<table><tr><th>table</th><th>index</th><th>covered by</th><th>DDL</th></tr>\n", f);
    json_array_foreach(rpt_jget(root, "redundant"), i, x) {
        fputs("<tr><td>", f);
        rpt_html_esc(f, rpt_jstr(x, "table"));
        fputs("</td><td class=\"l\">", f);
        rpt_html_esc(f, rpt_jstr(x, "index"));
        fputs("</td><td class=\"l\">", f);
        rpt_html_esc(f, rpt_jstr(x, "covered_by"));
        fputs("</td><td class=\"l\"><code>", f);
        rpt_html_esc(f, rpt_jstr(x, "ddl"));
        fputs("</code></td></tr>\n", f);
    }
    fputs("</table>\n<h2>Unused indexes (source: ", f);
    rpt_html_esc(f, rpt_jstr(root, "unused_source"));
    fputs(")</h2>\n<table><tr><th>table</th><th>index</th></tr>\n", f);
    json_array_foreach(rpt_jget(root, "unused"), i, x) {
        fputs("<tr><td>", f);
        rpt_html_esc(f, rpt_jstr(x, "table"));
        fputs("</td><td class=\"l\">", f);
        rpt_html_esc(f, rpt_jstr(x, "index"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<div class=\"grid2\">\n", f);
    rpt_html_kv(f, "Config", rpt_jget(root, "config"));
    rpt_html_kv(f, "Server", rpt_jget(root, "server"));
    return rpt_html_close(f, r->name, err, errlen);
}

static int tune_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char b[5][64], cols[512];
    fputs("# ticketctl tune report: ", f);
    rpt_md_esc(f, r->name);
    fprintf(f, "\n\nMariaDB %s; %s.\n\n", rpt_jstr(root, "server.version") ? rpt_jstr(root, "server.version") : "?",
            json_is_true(rpt_jget(root, "applied")) ? "applied (winners kept)" : "advice only (built indexes dropped)");
    fputs("| query | findings | candidate | status | before | after | ratio | rows before | rows after | DDL |\n"
          "|---|---|---|---|---:|---:|---:|---:|---:|---|\n", f);
    size_t i, k;
    json_t *q, *x;
    json_array_foreach(rpt_jget(root, "queries"), i, q) {
        json_t *c = json_object_get(q, "candidate");
        tune_cells(c, b);
        fputs("| ", f);
        rpt_md_esc(f, rpt_jstr(q, "name"));
        fputs(" | ", f);
        json_array_foreach(json_object_get(q, "findings"), k, x) {
            if (k)
                fputs(", ", f);
            rpt_md_esc(f, json_string_value(x));
        }
        if (json_object_get(q, "error"))
            rpt_md_esc(f, rpt_jstr(q, "error"));
        fputs(" | ", f);
        if (json_is_object(c)) {
            rpt_md_esc(f, rpt_jstr(c, "table"));
            fputs("(", f);
            rpt_md_esc(f, tune_cols(c, cols, sizeof cols));
            fputs(")", f);
        }
        fputs(" | ", f);
        rpt_md_esc(f, rpt_jstr(c, "status"));
        fprintf(f, " | %s | %s | %s | %s | %s | ", b[0], b[1], b[2], b[3], b[4]);
        rpt_md_esc(f, rpt_jstr(c, "ddl")); /* not a code span: the DDL's backticks would end it */
        fputs(" |\n", f);
    }
    fputs("\n## Redundant indexes\n\n", f);
    json_array_foreach(rpt_jget(root, "redundant"), i, x) {
        fputs("- ", f);
        rpt_md_esc(f, rpt_jstr(x, "ddl"));
        fputs(" (covered by ", f);
        rpt_md_esc(f, rpt_jstr(x, "covered_by"));
        fputs(")\n", f);
    }
    if (!json_array_size(rpt_jget(root, "redundant")))
        fputs("none\n", f);
    fputs("\n## Unused indexes (source: ", f);
    rpt_md_esc(f, rpt_jstr(root, "unused_source"));
    fputs(")\n\n", f);
    json_array_foreach(rpt_jget(root, "unused"), i, x) {
        fputs("- ", f);
        rpt_md_esc(f, rpt_jstr(x, "table"));
        fputs(".", f);
        rpt_md_esc(f, rpt_jstr(x, "index"));
        fputs("\n", f);
    }
    if (!json_array_size(rpt_jget(root, "unused")))
        fputs("none\n", f);
    rpt_md_kv(f, "Config", rpt_jget(root, "config"));
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}


const rpt_kind rpt_kind_tune = {"tune", is_tune, tune_html, tune_markdown};
