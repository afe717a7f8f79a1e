/* Capacity curves ("kind": "capacity", scripts/bench-capacity): the booking
 * flow at rising open-model rates, and the knee.
 *
 * {"kind": "capacity", "config": {"p95_limit_ms", "max_errors", ...},
 *  "points": [{"offered_rps", "achieved_rps", "p50_ms", "p95_ms", "p99_ms",
 *              "errors", "valid", "ok", "cpu_ms_per_flow": {...}, "file"}],
 *  "knee": {the point with the highest achieved_rps among the ok ones} | null}
 * A point is ok when p95 <= p95_limit_ms, errors <= max_errors and the load
 * generator judged itself valid. Charts use offered req/s as the x axis. */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_capacity(const json_t *root)
{
    const char *k = rpt_jstr(root, "kind");
    return k && !strcmp(k, "capacity");
}

enum { C_OFF, C_ACH, C_P50, C_P95, C_P99, C_ERR, C_LIMIT, C_IDEAL, C_SERVE, C_MYSQL, C_REDIS, C_BENCH, C_TOTAL, C_N };
static const char *const cpu_keys[] = {"serve", "mariadbd", "redis", "bench", "backend_total"};

typedef struct curve {
    size_t n;
    double *col[C_N];
} curve;

static void curve_free(curve *c)
{
    for (int k = 0; k < C_N; k++)
        free(c->col[k]);
    memset(c, 0, sizeof *c);
}

static int curve_load(const json_t *root, curve *c)
{
    memset(c, 0, sizeof *c);
    json_t *pts = rpt_jget(root, "points");
    size_t n = json_is_array(pts) ? json_array_size(pts) : 0;
    if (n == 0)
        return 0;
    for (int k = 0; k < C_N; k++)
        if (!(c->col[k] = malloc(n * sizeof(double)))) {
            curve_free(c);
            return -1;
        }
    double limit = rpt_jnum(root, "config.p95_limit_ms");
    for (size_t i = 0; i < n; i++) {
        json_t *p = json_array_get(pts, i);
        c->col[C_OFF][i] = rpt_jnum(p, "offered_rps");
        c->col[C_ACH][i] = rpt_jnum(p, "achieved_rps");
        c->col[C_P50][i] = rpt_jnum(p, "p50_ms");
        c->col[C_P95][i] = rpt_jnum(p, "p95_ms");
        c->col[C_P99][i] = rpt_jnum(p, "p99_ms");
        c->col[C_ERR][i] = rpt_jnum(p, "errors");
        c->col[C_LIMIT][i] = limit;
        c->col[C_IDEAL][i] = c->col[C_OFF][i];
        for (int k = 0; k < 5; k++) {
            char path[48];
            snprintf(path, sizeof path, "cpu_ms_per_flow.%s", cpu_keys[k]);
            c->col[C_SERVE + k][i] = rpt_jnum(p, path);
        }
    }
    c->n = n;
    return 0;
}

/* A rpt series whose x axis is the offered rate. */
static series curve_axis(const curve *c)
{
    series s = {0};
    s.n = c->n;
    s.t = c->col[C_OFF];
    s.x_label = "offered (req/s)";
    return s;
}

static int point_ok(json_t *p) { return json_is_true(json_object_get(p, "ok")); }

static void point_cells(json_t *p, char b[9][64])
{
    rpt_fmt_num(b[0], 64, rpt_jnum(p, "offered_rps"), 0);
    rpt_fmt_num(b[1], 64, rpt_jnum(p, "achieved_rps"), 0);
    rpt_fmt_ms(b[2], 64, rpt_jnum(p, "p50_ms"));
    rpt_fmt_ms(b[3], 64, rpt_jnum(p, "p95_ms"));
    rpt_fmt_ms(b[4], 64, rpt_jnum(p, "p99_ms"));
    rpt_fmt_num(b[5], 64, rpt_jnum(p, "errors"), 0);
    rpt_fmt_num(b[6], 64, rpt_jnum(p, "cpu_ms_per_flow.backend_total"), 3);
    rpt_fmt_num(b[7], 64, rpt_jnum(p, "cpu_ms_per_flow.bench"), 3);
    json_t *v = json_object_get(p, "valid");
    snprintf(b[8], 64, "%s", json_is_true(v) ? "yes" : json_is_false(v) ? "no" : DASH);
}

static const char *const head[9] = {"offered req/s", "achieved req/s", "p50 ms", "p95 ms", "p99 ms", "errors",
                                    "server CPU-ms/flow", "bench CPU-ms/flow", "generator valid"};

static int capacity_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char a[64], sub[160], b[9][64], title[320];
    curve c;
    if (curve_load(root, &c) != 0)
        return tk_err(err, errlen, "out of memory");
    snprintf(title, sizeof title, "ticketctl capacity: %s", r->name);
    rpt_html_open(f, title, "Capacity: the booking flow at rising rates");
    fputs("<div class=\"sub\">", f);
    rpt_html_esc(f, r->name);
    const char *target = rpt_jstr(root, "config.target");
    if (target) {
        fputs(" &middot; target ", f);
        rpt_html_esc(f, target);
    }
    fprintf(f, " &middot; a point is ok at p95 &le; %s ms, errors &le; %s and a valid generator</div>\n",
            rpt_fmt_num(a, sizeof a, rpt_jnum(root, "config.p95_limit_ms"), 0),
            rpt_fmt_num(sub, sizeof sub, rpt_jnum(root, "config.max_errors"), 0));

    json_t *knee = rpt_jget(root, "knee");
    fputs("<div class=\"cards\">\n", f);
    if (json_is_object(knee)) {
        snprintf(sub, sizeof sub, "offered %s req/s", rpt_fmt_num(a, sizeof a, rpt_jnum(knee, "offered_rps"), 0));
        rpt_card(f, "knee (req/s)", rpt_fmt_num(b[0], 64, rpt_jnum(knee, "achieved_rps"), 0), sub, "good");
        snprintf(sub, sizeof sub, "p99 %s ms", rpt_fmt_ms(a, sizeof a, rpt_jnum(knee, "p99_ms")));
        rpt_card(f, "p95 at the knee (ms)", rpt_fmt_ms(b[1], 64, rpt_jnum(knee, "p95_ms")), sub, NULL);
        snprintf(sub, sizeof sub, "bench %s",
                 rpt_fmt_num(a, sizeof a, rpt_jnum(knee, "cpu_ms_per_flow.bench"), 3));
        rpt_card(f, "server CPU-ms / flow", rpt_fmt_num(b[2], 64, rpt_jnum(knee, "cpu_ms_per_flow.backend_total"), 3),
                 sub, NULL);
    } else {
        rpt_card(f, "knee", "none", "no point met the limits", "bad");
    }
    rpt_card(f, "points", rpt_fmt_num(a, sizeof a, (double)c.n, 0), NULL, NULL);
    fputs("</div>\n", f);

    if (c.n > 0) {
        series s = curve_axis(&c);
        line tl[] = {
            {"achieved", "#2563eb", c.col[C_ACH], 0, 0, 1},
            {"offered", "#9ca3af", c.col[C_IDEAL], 0, 1, 0},
            {"errors", "#dc2626", c.col[C_ERR], 1, 0, 0},
        };
        fputs("<h2>Curve</h2>\n<div class=\"panel\">\n", f);
        rpt_svg_chart(f, "Achieved against offered", &s, tl, 3, "achieved (req/s)", "errors");
        fputs("</div>\n<div class=\"panel\">\n", f);
        line ll[] = {
            {"p50", "#16a34a", c.col[C_P50], 0, 0, 0},
            {"p95", "#f59e0b", c.col[C_P95], 0, 0, 0},
            {"p99", "#dc2626", c.col[C_P99], 0, 0, 0},
            {"p95 limit", "#6b7280", c.col[C_LIMIT], 0, 1, 0},
        };
        rpt_svg_chart(f, "Latency against offered rate", &s, ll, 4, "latency (ms)", NULL);
        fputs("</div>\n<div class=\"panel\">\n", f);
        line cl[] = {
            {"serve", "#2563eb", c.col[C_SERVE], 0, 0, 0},
            {"mariadbd", "#f59e0b", c.col[C_MYSQL], 0, 0, 0},
            {"redis", "#dc2626", c.col[C_REDIS], 0, 0, 0},
            {"bench", "#6b7280", c.col[C_BENCH], 0, 1, 0},
            {"server total", "#111827", c.col[C_TOTAL], 0, 0, 0},
        };
        int have_cpu = 0;
        for (int k = C_SERVE; k <= C_TOTAL; k++)
            have_cpu |= isfinite(rpt_series_max(c.col[k], c.n));
        if (have_cpu)
            rpt_svg_chart(f, "CPU per completed flow", &s, cl, 5, "CPU-ms / flow", NULL);
        else
            fputs("<p class=\"muted\">no CPU per flow in these runs (bench could not see the server's "
                  "processes)</p>\n", f);
        fputs("</div>\n", f);
    }

    fputs("<h2>Points</h2>\n<table><tr>", f);
    for (int k = 0; k < 9; k++)
        fprintf(f, "<th>%s</th>", head[k]);
    fputs("<th>ok</th></tr>\n", f);
    size_t i;
    json_t *p;
    json_array_foreach(rpt_jget(root, "points"), i, p) {
        point_cells(p, b);
        fputs("<tr>", f);
        for (int k = 0; k < 9; k++)
            fprintf(f, "<td>%s</td>", b[k]);
        fprintf(f, "<td class=\"%s\">%s</td></tr>\n", point_ok(p) ? "good" : "bad", point_ok(p) ? "✓" : "✗");
    }
    fputs("</table>\n<div class=\"grid2\">\n", f);
    rpt_html_kv(f, "Config", rpt_jget(root, "config"));
    rpt_html_kv(f, "Machine", rpt_jget(root, "machine"));
    curve_free(&c);
    return rpt_html_close(f, r->name, err, errlen);
}

static int capacity_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char a[64], b[9][64];
    fputs("# ticketctl capacity: ", f);
    rpt_md_esc(f, r->name);
    fprintf(f, "\n\nA point is ok at p95 <= %s ms, errors <= %s and a valid generator.\n\n",
            rpt_fmt_num(a, sizeof a, rpt_jnum(root, "config.p95_limit_ms"), 0),
            rpt_fmt_num(b[0], 64, rpt_jnum(root, "config.max_errors"), 0));
    json_t *knee = rpt_jget(root, "knee");
    if (json_is_object(knee)) {
        point_cells(knee, b);
        fprintf(f, "**Knee: %s req/s** (offered %s), p95 %s ms, server %s CPU-ms per flow.\n\n", b[1], b[0], b[3],
                b[6]);
    } else {
        fputs("**No point met the limits.**\n\n", f);
    }
    fputs("|", f);
    for (int k = 0; k < 9; k++)
        fprintf(f, " %s |", head[k]);
    fputs(" ok |\n|", f);
    for (int k = 0; k < 10; k++)
        fputs("---:|", f);
    fputs("\n", f);
    size_t i;
    json_t *p;
    json_array_foreach(rpt_jget(root, "points"), i, p) {
        point_cells(p, b);
        fputs("|", f);
        for (int k = 0; k < 9; k++)
            fprintf(f, " %s |", b[k]);
        fprintf(f, " %s |\n", point_ok(p) ? "✓" : "✗");
    }
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

const rpt_kind rpt_kind_capacity = {"capacity", is_capacity, capacity_html, capacity_markdown};
