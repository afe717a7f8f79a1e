/* Bench and scenario results JSON -> self-contained HTML page (inline CSS, SVG charts
 * drawn here) and a Markdown summary.
 *
 * Everything is read through jnum()/jget() with dotted paths, which return
 * NAN/NULL for what is missing, so files from other versions render what
 * they have. Strings from the file are untrusted (a step name could carry
 * markup): every one goes through html_esc() or md_esc(). */
#include "ticketctl/report.h"
#include "ticketctl/common.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct tk_report {
    json_t *root;
    char name[256];
};

/* ---- loading ---------------------------------------------------------------- */

tk_report *tk_report_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    if (!root) {
        tk_err(err, errlen, "%s:%d:%d: malformed JSON: %s", name ? name : "results", je.line, je.column,
               je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        tk_err(err, errlen, "%s: not a results file (the top level is not a JSON object)", name ? name : "results");
        return NULL;
    }
    tk_report *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(root);
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    r->root = root;
    snprintf(r->name, sizeof r->name, "%s", name ? name : "results");
    return r;
}

tk_report *tk_report_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        tk_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 65536 * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                tk_err(err, errlen, "out of memory reading %s", path);
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        tk_err(err, errlen, "cannot read %s", path);
        return NULL;
    }
    const char *base = strrchr(path, '/');
    tk_report *r = tk_report_parse(buf, len, base ? base + 1 : path, err, errlen);
    free(buf);
    return r;
}

void tk_report_free(tk_report *r)
{
    if (!r)
        return;
    json_decref(r->root);
    free(r);
}

/* ---- field access ------------------------------------------------------------ */

/* Value at a dotted path ("summary.latency_ms.p99"), or NULL. */
static json_t *jget(const json_t *o, const char *path)
{
    char key[64];
    json_t *cur = (json_t *)o;
    while (cur && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);
        if (n >= sizeof key)
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        cur = json_is_object(cur) ? json_object_get(cur, key) : NULL;
        path += n + (dot ? 1 : 0);
    }
    return cur;
}

static double jnum(const json_t *o, const char *path)
{
    json_t *v = jget(o, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *jstr(const json_t *o, const char *path)
{
    json_t *v = jget(o, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- formatting --------------------------------------------------------------- */

#define DASH "\xe2\x80\x93" /* en dash: a missing value */

/* 1234567.8 -> "1,234,567.8" with `dec` decimals; NAN -> "–". */
static const char *fmt_num(char *buf, size_t cap, double v, int dec)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, DASH);
        return buf;
    }
    char raw[64];
    snprintf(raw, sizeof raw, "%.*f", dec, fabs(v));
    char *dot = strchr(raw, '.');
    size_t ilen = dot ? (size_t)(dot - raw) : strlen(raw);
    size_t o = 0;
    if (v < 0 && o + 1 < cap)
        buf[o++] = '-';
    for (size_t i = 0; i < ilen && o + 2 < cap; i++) {
        if (i > 0 && (ilen - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    for (const char *p = dot; p && *p && o + 1 < cap; p++)
        buf[o++] = *p;
    buf[o] = '\0';
    return buf;
}

/* Latency in ms with precision that suits its size. */
static const char *fmt_ms(char *buf, size_t cap, double v)
{
    double a = fabs(v);
    return fmt_num(buf, cap, v, a < 10 ? 2 : a < 100 ? 1 : 0);
}

static const char *fmt_bytes(char *buf, size_t cap, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, DASH);
        return buf;
    }
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (fabs(v) >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

static const char *fmt_pct(char *buf, size_t cap, double frac)
{
    if (!isfinite(frac)) {
        snprintf(buf, cap, DASH);
        return buf;
    }
    snprintf(buf, cap, "%.2f%%", frac * 100.0);
    return buf;
}

/* Scalar JSON value for a key/value table; _bytes keys as sizes. Nested
 * values as compact JSON (malloc'd into *owned, caller frees). */
static const char *fmt_value(char *buf, size_t cap, const char *key, json_t *v, char **owned)
{
    *owned = NULL;
    size_t kl = strlen(key);
    int bytes = kl > 6 && strcmp(key + kl - 6, "_bytes") == 0;
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_value(v);
    case JSON_INTEGER:
        return bytes ? fmt_bytes(buf, cap, (double)json_integer_value(v))
                     : fmt_num(buf, cap, (double)json_integer_value(v), 0);
    case JSON_REAL:
        if (bytes)
            return fmt_bytes(buf, cap, json_real_value(v));
        snprintf(buf, cap, "%g", json_real_value(v));
        return buf;
    case JSON_TRUE: return "yes";
    case JSON_FALSE: return "no";
    case JSON_NULL: return DASH;
    default:
        *owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        return *owned ? *owned : "";
    }
}

static void html_esc(FILE *f, const char *s)
{
    if (!s) {
        fputs(DASH, f);
        return;
    }
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* A Markdown table cell: '|' escaped, line breaks flattened, '<' '>' '&' as
 * entities so a renderer that allows raw HTML shows them as text. */
static void md_esc(FILE *f, const char *s)
{
    if (!s) {
        fputs(DASH, f);
        return;
    }
    for (; *s; s++) {
        switch (*s) {
        case '|': fputs("\\|", f); break;
        case '\n': case '\r': fputc(' ', f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '`': fputs("\\`", f); break;
        default: fputc(*s, f);
        }
    }
}

/* ---- the numbers both renderers show -------------------------------------------- */

typedef struct series {
    size_t n;
    double *t, *vus, *rps, *errors, *p50, *p95, *p99;
} series;

static void series_free(series *s)
{
    free(s->t);
    free(s->vus);
    free(s->rps);
    free(s->errors);
    free(s->p50);
    free(s->p95);
    free(s->p99);
    memset(s, 0, sizeof *s);
}

static int series_load(const json_t *root, series *s)
{
    memset(s, 0, sizeof *s);
    json_t *ts = jget(root, "timeseries");
    size_t n = json_is_array(ts) ? json_array_size(ts) : 0;
    if (n == 0)
        return 0;
    double **cols[] = {&s->t, &s->vus, &s->rps, &s->errors, &s->p50, &s->p95, &s->p99};
    static const char *keys[] = {"t", "vus", "rps", "errors", "p50", "p95", "p99"};
    for (size_t c = 0; c < 7; c++) {
        *cols[c] = malloc(n * sizeof(double));
        if (!*cols[c]) {
            series_free(s);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        json_t *pt = json_array_get(ts, i);
        for (size_t c = 0; c < 7; c++)
            (*cols[c])[i] = jnum(pt, keys[c]);
        if (!isfinite(s->t[i]))
            s->t[i] = (double)(i + 1);
    }
    s->n = n;
    return 0;
}

static double series_max(const double *v, size_t n)
{
    double m = NAN;
    for (size_t i = 0; v && i < n; i++)
        if (isfinite(v[i]) && (!isfinite(m) || v[i] > m))
            m = v[i];
    return m;
}

typedef struct inv_count {
    size_t total, failed;
} inv_count;

static inv_count count_invariants(const json_t *root)
{
    inv_count c = {0, 0};
    json_t *inv = jget(root, "invariants");
    size_t i;
    json_t *it;
    if (!json_is_array(inv))
        return c;
    json_array_foreach(inv, i, it) {
        c.total++;
        if (!json_is_true(json_object_get(it, "ok")))
            c.failed++;
    }
    return c;
}

static const char *const lat_keys[] = {"p50", "p90", "p95", "p99", "max"};
#define NLAT 5

/* ---- SVG charts --------------------------------------------------------------------- */

#define CW 960
#define CH 300
#define PL 70 /* plot margins */
#define PR 70
#define PT 34
#define PB 44

typedef struct line {
    const char *name;
    const char *color;
    const double *y;
    int right; /* on the right axis */
    int dashed;
    int fill;
} line;

static double nice_step(double range, int ticks)
{
    if (!(range > 0))
        return 1;
    double raw = range / ticks;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    double nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
    return nf * mag;
}

static const char *fmt_tick(char *buf, size_t cap, double v, double step)
{
    if (step >= 1 || v == 0)
        return fmt_num(buf, cap, v, 0);
    int dec = (int)ceil(-log10(step));
    return fmt_num(buf, cap, v, dec > 6 ? 6 : dec);
}

/* Path of one line; NAN values break it into segments. */
static void svg_path(FILE *f, const series *s, const double *y, double x0, double x1, double ymax, int fill)
{
    double w = CW - PL - PR, h = CH - PT - PB;
    int pen = 0;
    double first_x = 0, last_x = 0;
    fputs(" d=\"", f);
    for (size_t i = 0; i < s->n; i++) {
        if (!isfinite(y[i])) {
            pen = 0;
            continue;
        }
        double px = PL + (x1 > x0 ? (s->t[i] - x0) / (x1 - x0) : 0.5) * w;
        double py = PT + h - (y[i] / ymax) * h;
        if (py < PT)
            py = PT;
        if (!pen)
            first_x = px;
        fprintf(f, "%s%.1f %.1f ", pen ? "L" : "M", px, py);
        last_x = px;
        pen = 1;
    }
    if (fill && pen)
        fprintf(f, "L%.1f %.1f L%.1f %.1f Z", last_x, (double)(PT + h), first_x, (double)(PT + h));
    fputs("\"", f);
}

/* A line chart over the series' time axis. Left axis for lines with
 * right == 0, right axis (its own scale) for right == 1. */
static void svg_chart(FILE *f, const char *title, const series *s, const line *lines, size_t nlines,
                      const char *left_label, const char *right_label)
{
    char a[64];
    double w = CW - PL - PR, h = CH - PT - PB;
    double x0 = s->t[0], x1 = s->t[s->n - 1];
    double lmax = 0, rmax = 0;
    for (size_t l = 0; l < nlines; l++) {
        double m = series_max(lines[l].y, s->n);
        if (isfinite(m)) {
            if (lines[l].right)
                rmax = m > rmax ? m : rmax;
            else
                lmax = m > lmax ? m : lmax;
        }
    }
    double lstep = nice_step(lmax > 0 ? lmax : 1, 5), rstep = nice_step(rmax > 0 ? rmax : 1, 5);
    double ltop = ceil((lmax > 0 ? lmax : 1) / lstep) * lstep, rtop = ceil((rmax > 0 ? rmax : 1) / rstep) * rstep;
    int has_right = right_label != NULL;

    fprintf(f, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"", CW, CH);
    html_esc(f, title);
    fputs("\">\n<title>", f);
    html_esc(f, title);
    fputs("</title>\n", f);
    fprintf(f, "<text x=\"%d\" y=\"20\" class=\"ct\">", PL);
    html_esc(f, title);
    fputs("</text>\n", f);
    /* grid and left axis */
    for (double v = 0; v <= ltop + lstep / 2; v += lstep) {
        double y = PT + h - v / ltop * h;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", PL, y, PL + w, y);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"yl\">%s</text>\n", PL - 6, y + 4, fmt_tick(a, sizeof a, v, lstep));
    }
    if (has_right)
        for (double v = 0; v <= rtop + rstep / 2; v += rstep) {
            double y = PT + h - v / rtop * h;
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"yr\">%s</text>\n", PL + w + 6, y + 4,
                    fmt_tick(a, sizeof a, v, rstep));
        }
    /* x axis */
    double xstep = nice_step(x1 - x0 > 0 ? x1 - x0 : 1, 8);
    for (double v = ceil(x0 / xstep) * xstep; v <= x1 + xstep / 1000; v += xstep) {
        double x = PL + (x1 > x0 ? (v - x0) / (x1 - x0) : 0.5) * w;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"tick\"/>", x, PT + h, x, PT + h + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" class=\"xl\">%s</text>\n", x, PT + h + 18, fmt_tick(a, sizeof a, v, xstep));
    }
    fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"axis\"/>\n", PL, PT + h, PL + w, PT + h);
    fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"xt\">time (s)</text>\n", PL + w / 2, CH - 6);
    fprintf(f, "<text transform=\"translate(16 %.1f) rotate(-90)\" class=\"at\">", PT + h / 2);
    html_esc(f, left_label);
    fputs("</text>\n", f);
    if (has_right) {
        fprintf(f, "<text transform=\"translate(%d %.1f) rotate(90)\" class=\"at\">", CW - 14, PT + h / 2);
        html_esc(f, right_label);
        fputs("</text>\n", f);
    }
    /* lines */
    for (size_t l = 0; l < nlines; l++) {
        if (!isfinite(series_max(lines[l].y, s->n)))
            continue;
        double top = lines[l].right ? rtop : ltop;
        if (lines[l].fill) {
            fputs("<path", f);
            svg_path(f, s, lines[l].y, x0, x1, top, 1);
            fprintf(f, " fill=\"%s\" fill-opacity=\"0.12\" stroke=\"none\"/>\n", lines[l].color);
        }
        fputs("<path", f);
        svg_path(f, s, lines[l].y, x0, x1, top, 0);
        fprintf(f, " fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s stroke-linejoin=\"round\"/>\n",
                lines[l].color, lines[l].dashed ? " stroke-dasharray=\"6 4\"" : "");
    }
    /* legend */
    double lx = PL + w;
    for (size_t l = nlines; l-- > 0;) {
        if (!isfinite(series_max(lines[l].y, s->n)))
            continue;
        double tw = 7.0 * (double)strlen(lines[l].name) + 34;
        lx -= tw;
        fprintf(f, "<line x1=\"%.1f\" y1=\"16\" x2=\"%.1f\" y2=\"16\" stroke=\"%s\" stroke-width=\"3\"%s/>", lx,
                lx + 20, lines[l].color, lines[l].dashed ? " stroke-dasharray=\"6 4\"" : "");
        fprintf(f, "<text x=\"%.1f\" y=\"20\" class=\"lg\">", lx + 25);
        html_esc(f, lines[l].name);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

/* ---- HTML ------------------------------------------------------------------------- */

static const char css[] =
    "body{font:14px/1.45 -apple-system,'Segoe UI',Roboto,'Noto Sans KR',sans-serif;margin:0;color:#1f2937;"
    "background:#f3f4f6}"
    "main{max-width:1100px;margin:0 auto;padding:24px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 10px}"
    ".sub{color:#6b7280;margin-bottom:16px}"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(160px,1fr));gap:12px}"
    ".card{background:#fff;border-radius:8px;padding:12px 14px;box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    ".card .k{color:#6b7280;font-size:12px;text-transform:uppercase;letter-spacing:.04em}"
    ".card .v{font-size:24px;font-weight:600;margin-top:2px}.card .s{color:#6b7280;font-size:12px}"
    ".card.bad .v{color:#b91c1c}.card.good .v{color:#15803d}"
    ".panel{background:#fff;border-radius:8px;padding:12px;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-bottom:14px}"
    "svg.chart{width:100%;height:auto;display:block}"
    "svg .grid{stroke:#e5e7eb}svg .axis{stroke:#9ca3af}svg .tick{stroke:#9ca3af}"
    "svg text{font-size:12px;fill:#4b5563}svg .ct{font-size:14px;font-weight:600;fill:#111827}"
    "svg .yl{text-anchor:end}svg .yr{text-anchor:start}svg .xl{text-anchor:middle}"
    "svg .xt,svg .at{text-anchor:middle;fill:#6b7280}"
    "table{border-collapse:collapse;width:100%;background:#fff;border-radius:8px;overflow:hidden;"
    "box-shadow:0 1px 2px rgba(0,0,0,.08)}"
    "th,td{padding:6px 10px;border-bottom:1px solid #e5e7eb;text-align:right;white-space:nowrap}"
    "th{background:#f9fafb;font-weight:600;color:#374151}"
    "td:first-child,th:first-child{text-align:left}td.l{text-align:left;white-space:normal}"
    "tr:last-child td{border-bottom:none}"
    ".ok{color:#fff;background:#16a34a;border-radius:4px;padding:1px 8px;font-weight:600}"
    ".fail{color:#fff;background:#dc2626;border-radius:4px;padding:1px 8px;font-weight:600}"
    ".banner{padding:10px 14px;border-radius:8px;margin:16px 0;font-weight:600}"
    ".banner.ok{display:block;background:#dcfce7;color:#166534}.banner.fail{display:block;background:#fee2e2;color:#991b1b}"
    ".grid2{display:grid;grid-template-columns:1fr 1fr;gap:14px}"
    ".muted{color:#6b7280}footer{color:#9ca3af;font-size:12px;margin-top:30px}";

static void card(FILE *f, const char *key, const char *value, const char *sub, const char *cls)
{
    fprintf(f, "<div class=\"card%s%s\"><div class=\"k\">", cls ? " " : "", cls ? cls : "");
    html_esc(f, key);
    fputs("</div><div class=\"v\">", f);
    html_esc(f, value);
    fputs("</div>", f);
    if (sub) {
        fputs("<div class=\"s\">", f);
        html_esc(f, sub);
        fputs("</div>", f);
    }
    fputs("</div>\n", f);
}

/* <table> of an object's members (config, machine, server). */
static void html_kv(FILE *f, const char *title, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    fputs("<div><h2>", f);
    html_esc(f, title);
    fputs("</h2>", f);
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        fputs("<p class=\"muted\">not recorded</p></div>\n", f);
        return;
    }
    fputs("<table>", f);
    json_object_foreach(obj, key, v) {
        char *owned;
        const char *s = fmt_value(buf, sizeof buf, key, v, &owned);
        fputs("<tr><td>", f);
        html_esc(f, key);
        fputs("</td><td class=\"l\">", f);
        html_esc(f, s);
        fputs("</td></tr>", f);
        free(owned);
    }
    fputs("</table></div>\n", f);
}

/* <table> of name -> count (errors by kind, by status, outcomes). */
static void html_counts(FILE *f, const char *title, const char *col, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    fputs("<div><h2>", f);
    html_esc(f, title);
    fputs("</h2>", f);
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        fputs("<p class=\"muted\">none recorded</p></div>\n", f);
        return;
    }
    fputs("<table><tr><th>", f);
    html_esc(f, col);
    fputs("</th><th>count</th></tr>", f);
    json_object_foreach(obj, key, v) {
        fputs("<tr><td>", f);
        html_esc(f, key);
        fprintf(f, "</td><td>%s</td></tr>", fmt_num(buf, sizeof buf, json_is_number(v) ? json_number_value(v) : NAN, 0));
    }
    fputs("</table></div>\n", f);
}

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
        double req = jnum(st, "requests"), errs = jnum(st, "errors");
        fputs("<tr><td>", f);
        html_esc(f, jstr(st, "name"));
        fprintf(f, "</td><td>%s</td>", fmt_num(b, sizeof b, req, 0));
        fprintf(f, "<td>%s</td>", fmt_num(b, sizeof b, jnum(st, "tps"), 1));
        for (int k = 0; k < NLAT; k++) {
            char path[32];
            snprintf(path, sizeof path, "latency_ms.%s", lat_keys[k]);
            fprintf(f, "<td>%s</td>", fmt_ms(b, sizeof b, jnum(st, path)));
        }
        fprintf(f, "<td>%s</td>", fmt_num(b, sizeof b, errs, 0));
        fprintf(f, "<td>%s</td></tr>\n", fmt_pct(b, sizeof b, req > 0 ? errs / req : NAN));
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
        html_esc(f, jstr(it, "name"));
        fprintf(f, "</td><td><span class=\"%s\">%s</span></td><td class=\"l\">", ok ? "ok" : "fail", ok ? "OK" : "FAIL");
        const char *d = jstr(it, "detail");
        html_esc(f, d ? d : "");
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n", f);
}

static int is_scenario(const json_t *root);
static int scenario_html(const tk_report *r, FILE *f, char *err, size_t errlen);
static int is_tune(const json_t *root);
static int tune_html(const tk_report *r, FILE *f, char *err, size_t errlen);
static int tune_markdown(const tk_report *r, FILE *f, char *err, size_t errlen);
static int is_queue_compare(const json_t *root);
static int queue_compare_html(const tk_report *r, FILE *f, char *err, size_t errlen);
static int queue_compare_markdown(const tk_report *r, FILE *f, char *err, size_t errlen);

int tk_report_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    if (is_queue_compare(r->root))
        return queue_compare_html(r, f, err, errlen);
    if (is_scenario(r->root))
        return scenario_html(r, f, err, errlen);
    if (is_tune(r->root))
        return tune_html(r, f, err, errlen);
    const json_t *root = r->root;
    char a[64], b[64], c[64], sub[160];
    series s;
    if (series_load(root, &s) != 0)
        return tk_err(err, errlen, "out of memory");

    const char *kind = jstr(root, "kind");
    const char *started = jstr(root, "started_at");
    const char *target = jstr(root, "config.target");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>ticketctl ",
          f);
    html_esc(f, kind ? kind : "bench");
    fputs(" report: ", f);
    html_esc(f, r->name);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n<h1>ticketctl ", css);
    html_esc(f, kind ? kind : "bench");
    fputs(" report</h1>\n<div class=\"sub\">", f);
    html_esc(f, r->name);
    if (started) {
        fputs(" &middot; started ", f);
        html_esc(f, started);
    }
    if (target) {
        fputs(" &middot; target ", f);
        html_esc(f, target);
    }
    double schema = jnum(root, "schema");
    if (isfinite(schema) && schema > 1)
        fprintf(f, " &middot; schema %g (newer than this renderer: showing the fields it knows)", schema);
    fputs("</div>\n", f);

    /* invariants banner and headline cards */
    inv_count ic = count_invariants(root);
    if (ic.failed)
        fprintf(f, "<div class=\"banner fail\">%zu of %zu invariants FAILED</div>\n", ic.failed, ic.total);
    else if (ic.total)
        fprintf(f, "<div class=\"banner ok\">All %zu invariants hold</div>\n", ic.total);

    fputs("<div class=\"cards\">\n", f);
    snprintf(sub, sizeof sub, "steady %s", fmt_num(b, sizeof b, jnum(root, "summary.steady_tps"), 1));
    card(f, "throughput (req/s)", fmt_num(a, sizeof a, jnum(root, "summary.tps"), 1),
         isfinite(jnum(root, "summary.steady_tps")) ? sub : NULL, NULL);
    snprintf(sub, sizeof sub, "p50 %s · p95 %s ms", fmt_ms(b, sizeof b, jnum(root, "summary.latency_ms.p50")),
             fmt_ms(c, sizeof c, jnum(root, "summary.latency_ms.p95")));
    card(f, "p99 latency (ms)", fmt_ms(a, sizeof a, jnum(root, "summary.latency_ms.p99")), sub, NULL);
    snprintf(sub, sizeof sub, "max %s ms", fmt_ms(b, sizeof b, jnum(root, "summary.latency_ms.max")));
    card(f, "mean latency (ms)", fmt_ms(a, sizeof a, jnum(root, "summary.latency_ms.mean")), sub, NULL);
    double req = jnum(root, "summary.requests"), errs = jnum(root, "summary.errors");
    double erate = jnum(root, "summary.error_rate");
    if (!isfinite(erate) && req > 0 && isfinite(errs))
        erate = errs / req;
    snprintf(sub, sizeof sub, "%s errors", fmt_num(b, sizeof b, errs, 0));
    card(f, "error rate", fmt_pct(a, sizeof a, erate), sub, erate > 0 ? "bad" : NULL);
    card(f, "requests", fmt_num(a, sizeof a, req, 0), NULL, NULL);
    card(f, "flows completed", fmt_num(a, sizeof a, jnum(root, "summary.flows_completed"), 0), NULL, NULL);
    double peak_vus = series_max(s.vus, s.n);
    if (!isfinite(peak_vus))
        peak_vus = jnum(root, "config.users");
    card(f, "peak virtual users", fmt_num(a, sizeof a, peak_vus, 0), NULL, NULL);
    const char *strategy = jstr(root, "strategy");
    if (strategy && *strategy) /* bench --strategy: the lock strategy of holds */
        card(f, "lock strategy", strategy, NULL, NULL);
    if (ic.total) {
        snprintf(a, sizeof a, "%zu/%zu", ic.total - ic.failed, ic.total);
        card(f, "invariants OK", a, ic.failed ? "some FAILED" : "all hold", ic.failed ? "bad" : "good");
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
        svg_chart(f, "Throughput and virtual users", &s, tl, 3, "requests / s", "virtual users");
        fputs("</div>\n<div class=\"panel\">\n", f);
        line ll[] = {
            {"p50", "#16a34a", s.p50, 0, 0, 0},
            {"p95", "#f59e0b", s.p95, 0, 0, 0},
            {"p99", "#dc2626", s.p99, 0, 0, 0},
        };
        svg_chart(f, "Latency percentiles", &s, ll, 3, "latency (ms)", NULL);
        fputs("</div>\n", f);
    } else {
        fputs("<p class=\"muted\">no time series in this file</p>\n", f);
    }

    html_steps(f, jget(root, "steps"));
    html_invariants(f, jget(root, "invariants"));
    fputs("<div class=\"grid2\">\n", f);
    html_counts(f, "Errors by kind", "kind", jget(root, "errors.by_kind"));
    html_counts(f, "Errors by HTTP status", "status", jget(root, "errors.by_status"));
    html_counts(f, "Business outcomes", "outcome", jget(root, "outcomes"));
    html_kv(f, "Server", jget(root, "server"));
    html_kv(f, "Config", jget(root, "config"));
    html_kv(f, "Machine", jget(root, "machine"));
    fputs("</div>\n<footer>generated by ticketctl report from ", f);
    html_esc(f, r->name);
    fputs("</footer>\n</main></body></html>\n", f);
    series_free(&s);
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

/* ---- Markdown ------------------------------------------------------------------------ */

static void md_kv(FILE *f, const char *title, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return;
    fprintf(f, "\n## %s\n\n| key | value |\n|---|---|\n", title);
    json_object_foreach(obj, key, v) {
        char *owned;
        const char *s = fmt_value(buf, sizeof buf, key, v, &owned);
        fputs("| ", f);
        md_esc(f, key);
        fputs(" | ", f);
        md_esc(f, s);
        fputs(" |\n", f);
        free(owned);
    }
}

static void md_counts(FILE *f, const char *title, const char *col, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return;
    fprintf(f, "\n## %s\n\n| %s | count |\n|---|---:|\n", title, col);
    json_object_foreach(obj, key, v) {
        fputs("| ", f);
        md_esc(f, key);
        fprintf(f, " | %s |\n", fmt_num(buf, sizeof buf, json_is_number(v) ? json_number_value(v) : NAN, 0));
    }
}


/* ---- scenario results ("kind": "scenario", lib/scenario.c) ------------------------------- */

static int is_scenario(const json_t *root)
{
    const char *k = jstr(root, "kind");
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
        double v = jnum(r, m->path);
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
    html_esc(f, m->title);
    fputs("\"><title>", f);
    html_esc(f, m->title);
    fprintf(f, "</title>\n<text x=\"4\" y=\"18\" class=\"ct\">");
    html_esc(f, m->title);
    fputs("</text>\n", f);
    json_array_foreach(results, i, r) {
        double v = jnum(r, m->path);
        double y = top + (double)i * rh;
        int unsafe = json_is_true(json_object_get(r, "unsafe"));
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"yl\">", lw - 8, y + 15);
        html_esc(f, jstr(r, "strategy"));
        fputs("</text>", f);
        double w = isfinite(v) && max > 0 ? v / max * bw : 0;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%.1f\" height=\"%d\" fill=\"%s\"/>", lw, y + 3, w, rh - 6,
                unsafe ? "#dc2626" : "#2563eb");
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", lw + w + 6, y + 15, fmt_num(a, sizeof a, v, m->dec));
    }
    fputs("</svg></div>\n", f);
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
    char a[64];
    json_t *results = jget(root, "results");
    const char *name = jstr(root, "scenario");
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>ticketctl scenario report: ");
    html_esc(f, name ? name : r->name);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n<h1>Scenario ", css);
    html_esc(f, name ? name : r->name);
    fputs("</h1>\n<div class=\"sub\">", f);
    html_esc(f, jstr(root, "config.description"));
    fputs(" &middot; ", f);
    html_esc(f, r->name);
    const char *started = jstr(root, "started_at");
    if (started) {
        fputs(" &middot; started ", f);
        html_esc(f, started);
    }
    fputs("</div>\n", f);
    inv_count ic = count_invariants(root);
    if (ic.failed)
        fprintf(f, "<div class=\"banner fail\">%zu of %zu invariants FAILED</div>\n", ic.failed, ic.total);
    else if (ic.total)
        fprintf(f, "<div class=\"banner ok\">All %zu invariants hold (strategies marked unsafe excluded)</div>\n", ic.total);
    const char *verdict = jstr(root, "verdict");
    if (verdict) {
        fputs("<div class=\"panel\"><b>Verdict.</b> ", f);
        html_esc(f, verdict);
        fputs("</div>\n", f);
    }

    fputs("<h2>Strategies</h2>\n", f);
    if (!json_is_array(results) || json_array_size(results) == 0) {
        fputs("<p class=\"muted\">no strategy results in this file</p>\n", f);
    } else {
        fputs("<table><tr><th>strategy</th><th>attempts</th><th>successes</th><th>seat taken</th><th>conflict</th>"
              "<th>busy</th><th>stale</th><th>errors</th><th>double bookings</th><th>oversold seats</th>"
              "<th>balance drift</th><th>retries</th><th>lock waits</th><th>lock timeouts</th><th>deadlocks</th>"
              "<th>attempts/s</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th><th>invariants</th></tr>\n", f);
        size_t i;
        json_t *res;
        json_array_foreach(results, i, res) {
            static const char *const cols[] = {"attempts", "successes", "outcomes.SEAT_TAKEN", "outcomes.CONFLICT",
                                               "outcomes.BUSY", "outcomes.STALE", "outcomes.ERROR",
                                               "double_bookings", "oversold_seats", "balance_drift", "retries",
                                               "lock_waits", "lock_timeouts", "deadlocks"};
            int unsafe = json_is_true(json_object_get(res, "unsafe"));
            fputs("<tr><td>", f);
            html_esc(f, jstr(res, "strategy"));
            if (unsafe)
                fputs(" <span class=\"muted\">(unsafe)</span>", f);
            fputs("</td>", f);
            for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
                fprintf(f, "<td>%s</td>", fmt_num(a, sizeof a, jnum(res, cols[c]), 0));
            fprintf(f, "<td>%s</td>", fmt_num(a, sizeof a, jnum(res, "throughput"), 0));
            fprintf(f, "<td>%s</td>", fmt_ms(a, sizeof a, jnum(res, "latency_ms.p50")));
            fprintf(f, "<td>%s</td>", fmt_ms(a, sizeof a, jnum(res, "latency_ms.p99")));
            fprintf(f, "<td>%s</td>", fmt_ms(a, sizeof a, jnum(res, "latency_ms.max")));
            int total, bad = scn_inv_state(res, &total);
            if (!total)
                fputs("<td>" DASH "</td></tr>\n", f);
            else if (!bad)
                fprintf(f, "<td><span class=\"ok\">OK</span></td></tr>\n");
            else
                fprintf(f, "<td><span class=\"fail\">%d FAIL</span>%s</td></tr>\n", bad, unsafe ? " expected" : "");
        }
        fputs("</table>\n<h2>Comparison</h2>\n", f);
        for (size_t m = 0; m < sizeof scn_metrics / sizeof scn_metrics[0]; m++)
            svg_bars(f, &scn_metrics[m], results);

        fputs("<h2>Invariants</h2>\n<table><tr><th>strategy</th><th>invariant</th><th>result</th>"
              "<th style=\"text-align:left\">detail</th></tr>\n", f);
        json_array_foreach(results, i, res) {
            size_t j;
            json_t *iv;
            json_array_foreach(json_object_get(res, "invariants"), j, iv) {
                int ok = json_is_true(json_object_get(iv, "ok"));
                fputs("<tr><td>", f);
                html_esc(f, jstr(res, "strategy"));
                fputs("</td><td class=\"l\">", f);
                html_esc(f, jstr(iv, "name"));
                fprintf(f, "</td><td><span class=\"%s\">%s</span>%s</td><td class=\"l\">", ok ? "ok" : "fail",
                        ok ? "OK" : "FAIL", !ok && json_is_true(json_object_get(iv, "expected_to_fail")) ? " expected" : "");
                html_esc(f, jstr(iv, "detail"));
                fputs("</td></tr>\n", f);
            }
        }
        fputs("</table>\n", f);
    }
    json_t *rb = jget(root, "redis_benchmark");
    fputs("<div class=\"grid2\">\n", f);
    if (json_is_object(rb))
        html_kv(f, "redis-benchmark (same EVAL)", rb);
    html_kv(f, "Config", jget(root, "config"));
    html_kv(f, "Machine", jget(root, "machine"));
    fputs("</div>\n<footer>generated by ticketctl report from ", f);
    html_esc(f, r->name);
    fputs("</footer>\n</main></body></html>\n", f);
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

static int scenario_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char a[64];
    const char *name = jstr(root, "scenario");
    fputs("# ticketctl scenario report: ", f);
    md_esc(f, name ? name : r->name);
    fputs("\n\n", f);
    const char *desc = jstr(root, "config.description");
    if (desc) {
        md_esc(f, desc);
        fputs("\n\n", f);
    }
    const char *verdict = jstr(root, "verdict");
    if (verdict) {
        fputs("**Verdict.** ", f);
        md_esc(f, verdict);
        fputs("\n\n", f);
    }
    json_t *results = jget(root, "results");
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
        md_esc(f, jstr(res, "strategy"));
        if (unsafe)
            fputs(" (unsafe)", f);
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++)
            fprintf(f, " | %s", fmt_num(a, sizeof a, jnum(res, cols[c]), 0));
        fprintf(f, " | %s", fmt_num(a, sizeof a, jnum(res, "throughput"), 0));
        fprintf(f, " | %s", fmt_ms(a, sizeof a, jnum(res, "latency_ms.p50")));
        fprintf(f, " | %s", fmt_ms(a, sizeof a, jnum(res, "latency_ms.p99")));
        fprintf(f, " | %s", fmt_ms(a, sizeof a, jnum(res, "latency_ms.max")));
        int total, bad = scn_inv_state(res, &total);
        if (!total)
            fputs(" | " DASH " |\n", f);
        else if (!bad)
            fputs(" | OK |\n", f);
        else
            fprintf(f, " | **%d FAIL**%s |\n", bad, unsafe ? " (expected)" : "");
    }
    json_t *rb = jget(root, "redis_benchmark");
    if (json_is_object(rb) && isfinite(jnum(rb, "rps")))
        fprintf(f, "\nredis-benchmark, same EVAL: %s req/s; redis-atomic reached %.2f of it.\n",
                fmt_num(a, sizeof a, jnum(rb, "rps"), 0), jnum(rb, "ratio"));
    md_kv(f, "Config", jget(root, "config"));
    md_kv(f, "Machine", jget(root, "machine"));
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

int tk_report_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    if (is_queue_compare(r->root))
        return queue_compare_markdown(r, f, err, errlen);
    if (is_scenario(r->root))
        return scenario_markdown(r, f, err, errlen);
    if (is_tune(r->root))
        return tune_markdown(r, f, err, errlen);
    const json_t *root = r->root;
    char a[64], b[64];
    const char *kind = jstr(root, "kind");
    fprintf(f, "# ticketctl %s report: ", kind ? kind : "bench");
    md_esc(f, r->name);
    fputs("\n\n", f);
    const char *started = jstr(root, "started_at"), *target = jstr(root, "config.target");
    if (started) {
        fputs("Started ", f);
        md_esc(f, started);
        fputs(target ? ", " : ".\n", f);
    }
    if (target) {
        fputs(started ? "target " : "Target ", f);
        md_esc(f, target);
        fputs(".\n", f);
    }

    inv_count ic = count_invariants(root);
    double req = jnum(root, "summary.requests"), errs = jnum(root, "summary.errors");
    double erate = jnum(root, "summary.error_rate");
    if (!isfinite(erate) && req > 0 && isfinite(errs))
        erate = errs / req;
    fputs("\n## Headline\n\n| metric | value |\n|---|---:|\n", f);
    fprintf(f, "| throughput (req/s) | %s |\n", fmt_num(a, sizeof a, jnum(root, "summary.tps"), 1));
    fprintf(f, "| steady throughput (req/s) | %s |\n", fmt_num(a, sizeof a, jnum(root, "summary.steady_tps"), 1));
    for (int k = 0; k < NLAT; k++) {
        char path[40];
        snprintf(path, sizeof path, "summary.latency_ms.%s", lat_keys[k]);
        fprintf(f, "| %s latency (ms) | %s |\n", lat_keys[k], fmt_ms(a, sizeof a, jnum(root, path)));
    }
    fprintf(f, "| requests | %s |\n", fmt_num(a, sizeof a, req, 0));
    fprintf(f, "| errors | %s (%s) |\n", fmt_num(a, sizeof a, errs, 0), fmt_pct(b, sizeof b, erate));
    fprintf(f, "| flows completed | %s |\n", fmt_num(a, sizeof a, jnum(root, "summary.flows_completed"), 0));
    if (ic.total)
        fprintf(f, "| invariants OK | %zu/%zu%s |\n", ic.total - ic.failed, ic.total, ic.failed ? " **FAILED**" : "");

    json_t *steps = jget(root, "steps");
    if (json_is_array(steps) && json_array_size(steps) > 0) {
        fputs("\n## Steps\n\n| step | requests | TPS | p50 ms | p90 ms | p95 ms | p99 ms | max ms | errors |\n"
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n", f);
        size_t i;
        json_t *st;
        json_array_foreach(steps, i, st) {
            fputs("| ", f);
            md_esc(f, jstr(st, "name"));
            fprintf(f, " | %s", fmt_num(a, sizeof a, jnum(st, "requests"), 0));
            fprintf(f, " | %s", fmt_num(a, sizeof a, jnum(st, "tps"), 1));
            for (int k = 0; k < NLAT; k++) {
                char path[32];
                snprintf(path, sizeof path, "latency_ms.%s", lat_keys[k]);
                fprintf(f, " | %s", fmt_ms(a, sizeof a, jnum(st, path)));
            }
            fprintf(f, " | %s |\n", fmt_num(a, sizeof a, jnum(st, "errors"), 0));
        }
    }

    json_t *inv = jget(root, "invariants");
    if (json_is_array(inv) && json_array_size(inv) > 0) {
        fputs("\n## Invariants\n\n| invariant | result | detail |\n|---|---|---|\n", f);
        size_t i;
        json_t *it;
        json_array_foreach(inv, i, it) {
            int ok = json_is_true(json_object_get(it, "ok"));
            fputs("| ", f);
            md_esc(f, jstr(it, "name"));
            fputs(ok ? " | OK | " : " | **FAIL** | ", f);
            const char *d = jstr(it, "detail");
            md_esc(f, d ? d : "");
            fputs(" |\n", f);
        }
    }
    md_counts(f, "Errors by kind", "kind", jget(root, "errors.by_kind"));
    md_counts(f, "Errors by HTTP status", "status", jget(root, "errors.by_status"));
    md_counts(f, "Business outcomes", "outcome", jget(root, "outcomes"));
    md_kv(f, "Server", jget(root, "server"));
    md_kv(f, "Config", jget(root, "config"));
    md_kv(f, "Machine", jget(root, "machine"));
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

/* ---- index tuner results ("kind": "tune", lib/tune.c) ---------------------------------- */

static int is_tune(const json_t *root)
{
    const char *k = jstr(root, "kind");
    return k && !strcmp(k, "tune");
}

/* One tuner row's numbers, "–" when absent. */
static void tune_cells(json_t *c, char b[5][64])
{
    fmt_ms(b[0], 64, jnum(c, "before_ms"));
    fmt_ms(b[1], 64, jnum(c, "after_ms"));
    double ratio = jnum(c, "ratio");
    if (isfinite(ratio))
        snprintf(b[2], 64, "%.1fx", ratio);
    else
        snprintf(b[2], 64, "–");
    fmt_num(b[3], 64, jnum(c, "rows_before"), 0);
    fmt_num(b[4], 64, jnum(c, "rows_after"), 0);
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
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>ticketctl tune report: ");
    html_esc(f, r->name);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n<h1>Index tuning</h1>\n<div class=\"sub\">", css);
    html_esc(f, r->name);
    fputs(" &middot; MariaDB ", f);
    html_esc(f, jstr(root, "server.version"));
    fprintf(f, " &middot; %s</div>\n",
            json_is_true(jget(root, "applied")) ? "applied (winners kept)" : "advice only (built indexes dropped)");
    fputs("<h2>Queries</h2>\n<table><tr><th>query</th><th>findings</th><th>candidate</th><th>status</th>"
          "<th>before</th><th>after</th><th>ratio</th><th>rows before</th><th>rows after</th><th>DDL</th></tr>\n", f);
    size_t i, k;
    json_t *q, *x;
    json_array_foreach(jget(root, "queries"), i, q) {
        json_t *c = json_object_get(q, "candidate");
        tune_cells(c, b);
        fputs("<tr><td>", f);
        html_esc(f, jstr(q, "name"));
        fputs("</td><td class=\"l\">", f);
        json_array_foreach(json_object_get(q, "findings"), k, x) {
            if (k)
                fputs(", ", f);
            html_esc(f, json_string_value(x));
        }
        if (json_object_get(q, "error"))
            html_esc(f, jstr(q, "error"));
        fputs("</td><td class=\"l\">", f);
        if (json_is_object(c)) {
            html_esc(f, jstr(c, "table"));
            fputs("(", f);
            html_esc(f, tune_cols(c, cols, sizeof cols));
            fputs(")", f);
        }
        const char *st = jstr(c, "status");
        fprintf(f, "</td><td class=\"l\"><span class=\"%s\">", st && !strcmp(st, "kept") ? "ok" : "muted");
        html_esc(f, st ? st : "–");
        fputs("</span> ", f);
        html_esc(f, jstr(c, "reason"));
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"l\"><code>", b[0], b[1],
                b[2], b[3], b[4]);
        html_esc(f, jstr(c, "ddl"));
        fputs("</code></td></tr>\n", f);
    }
    fputs("</table>\n<h2>Redundant indexes</h2>\n<table><tr><th>table</th><th>index</th><th>covered by</th><th>DDL</th></tr>\n", f);
    json_array_foreach(jget(root, "redundant"), i, x) {
        fputs("<tr><td>", f);
        html_esc(f, jstr(x, "table"));
        fputs("</td><td class=\"l\">", f);
        html_esc(f, jstr(x, "index"));
        fputs("</td><td class=\"l\">", f);
        html_esc(f, jstr(x, "covered_by"));
        fputs("</td><td class=\"l\"><code>", f);
        html_esc(f, jstr(x, "ddl"));
        fputs("</code></td></tr>\n", f);
    }
    fputs("</table>\n<h2>Unused indexes (source: ", f);
    html_esc(f, jstr(root, "unused_source"));
    fputs(")</h2>\n<table><tr><th>table</th><th>index</th></tr>\n", f);
    json_array_foreach(jget(root, "unused"), i, x) {
        fputs("<tr><td>", f);
        html_esc(f, jstr(x, "table"));
        fputs("</td><td class=\"l\">", f);
        html_esc(f, jstr(x, "index"));
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n<div class=\"grid2\">\n", f);
    html_kv(f, "Config", jget(root, "config"));
    html_kv(f, "Server", jget(root, "server"));
    fputs("</div>\n<footer>generated by ticketctl report from ", f);
    html_esc(f, r->name);
    fputs("</footer>\n</main></body></html>\n", f);
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

static int tune_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char b[5][64], cols[512];
    fputs("# ticketctl tune report: ", f);
    md_esc(f, r->name);
    fprintf(f, "\n\nMariaDB %s; %s.\n\n", jstr(root, "server.version") ? jstr(root, "server.version") : "?",
            json_is_true(jget(root, "applied")) ? "applied (winners kept)" : "advice only (built indexes dropped)");
    fputs("| query | findings | candidate | status | before | after | ratio | rows before | rows after | DDL |\n"
          "|---|---|---|---|---:|---:|---:|---:|---:|---|\n", f);
    size_t i, k;
    json_t *q, *x;
    json_array_foreach(jget(root, "queries"), i, q) {
        json_t *c = json_object_get(q, "candidate");
        tune_cells(c, b);
        fputs("| ", f);
        md_esc(f, jstr(q, "name"));
        fputs(" | ", f);
        json_array_foreach(json_object_get(q, "findings"), k, x) {
            if (k)
                fputs(", ", f);
            md_esc(f, json_string_value(x));
        }
        if (json_object_get(q, "error"))
            md_esc(f, jstr(q, "error"));
        fputs(" | ", f);
        if (json_is_object(c)) {
            md_esc(f, jstr(c, "table"));
            fputs("(", f);
            md_esc(f, tune_cols(c, cols, sizeof cols));
            fputs(")", f);
        }
        fputs(" | ", f);
        md_esc(f, jstr(c, "status"));
        fprintf(f, " | %s | %s | %s | %s | %s | ", b[0], b[1], b[2], b[3], b[4]);
        md_esc(f, jstr(c, "ddl")); /* not a code span: the DDL's backticks would end it */
        fputs(" |\n", f);
    }
    fputs("\n## Redundant indexes\n\n", f);
    json_array_foreach(jget(root, "redundant"), i, x) {
        fputs("- ", f);
        md_esc(f, jstr(x, "ddl"));
        fputs(" (covered by ", f);
        md_esc(f, jstr(x, "covered_by"));
        fputs(")\n", f);
    }
    if (!json_array_size(jget(root, "redundant")))
        fputs("none\n", f);
    fputs("\n## Unused indexes (source: ", f);
    md_esc(f, jstr(root, "unused_source"));
    fputs(")\n\n", f);
    json_array_foreach(jget(root, "unused"), i, x) {
        fputs("- ", f);
        md_esc(f, jstr(x, "table"));
        fputs(".", f);
        md_esc(f, jstr(x, "index"));
        fputs("\n", f);
    }
    if (!json_array_size(jget(root, "unused")))
        fputs("none\n", f);
    md_kv(f, "Config", jget(root, "config"));
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

/* ---- files ---------------------------------------------------------------------------- */

typedef int (*render_fn)(const tk_report *, FILE *, char *, size_t);

static int write_one(const tk_report *r, render_fn fn, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    char e[256] = "";
    int rc = fn(r, f, e, sizeof e);
    if (fclose(f) != 0 && rc == 0) {
        rc = -1;
        snprintf(e, sizeof e, "%s", strerror(errno));
    }
    if (rc != 0) {
        remove(path);
        return tk_err(err, errlen, "cannot write %s: %s", path, e);
    }
    return 0;
}

int tk_report_write_files(const char *json_path, const char *out_dir, char *html_path, size_t html_len,
                          char *md_path, size_t md_len, char *err, size_t errlen)
{
    tk_report *r = tk_report_load(json_path, err, errlen);
    if (!r)
        return -1;
    const char *slash = strrchr(json_path, '/');
    const char *base = slash ? slash + 1 : json_path;
    char dir[4096], stem[1024], hp[4096 + 1100], mp[4096 + 1100];
    if (out_dir)
        snprintf(dir, sizeof dir, "%s", out_dir);
    else if (slash)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - json_path) ? (int)(slash - json_path) : 1, json_path);
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(stem, sizeof stem, "%s", base);
    size_t sl = strlen(stem);
    if (sl > 5 && strcmp(stem + sl - 5, ".json") == 0)
        stem[sl - 5] = '\0';
    size_t dl = strlen(dir);
    const char *sep = dl > 0 && dir[dl - 1] == '/' ? "" : "/";
    snprintf(hp, sizeof hp, "%s%s%s.html", dir, sep, stem);
    snprintf(mp, sizeof mp, "%s%s%s.md", dir, sep, stem);
    int rc = -1;
    if (write_one(r, tk_report_html, hp, err, errlen) != 0 || write_one(r, tk_report_markdown, mp, err, errlen) != 0)
        goto out;
    if (html_path)
        snprintf(html_path, html_len, "%s", hp);
    if (md_path)
        snprintf(md_path, md_len, "%s", mp);
    rc = 0;
out:
    tk_report_free(r);
    return rc;
}

/* ---- waiting room side by side ("kind": "queue-compare") ------------------------------
 *
 * Written by scripts/bench-queue from one `bench --queue MODE` results file
 * per mode: {"kind": "queue-compare", "config": {...}, "runs": [{"mode",
 * "file", "summary" (the bench summary), "queue" (the bench's queue
 * object), "hold_p95_ms", "pay_p95_ms", "reference": {"tps",
 * "response_s"}}]}. One row per mode: TPS, p95, errors, hold and pay p95,
 * arrival -> admission p50/p95, fairness (normalised Kendall tau distance,
 * bench.h), and the reference figures of DESIGN.md beside them. */

static int is_queue_compare(const json_t *root)
{
    const char *k = jstr(root, "kind");
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
    const char *mode = jstr(run, "mode");
    snprintf(b[0], 96, "%s", mode ? mode : "–");
    fmt_num(b[1], 96, jnum(run, "summary.tps"), 1);
    fmt_ms(b[2], 96, jnum(run, "summary.latency_ms.p95"));
    fmt_num(b[3], 96, jnum(run, "summary.errors"), 0);
    fmt_pct(b[4], 96, jnum(run, "summary.error_rate"));
    fmt_num(b[5], 96, jnum(run, "summary.flows_completed"), 0);
    fmt_ms(b[6], 96, jnum(run, "hold_p95_ms"));
    fmt_ms(b[7], 96, jnum(run, "pay_p95_ms"));
    double adm = jnum(run, "queue.admissions");
    if (mode && strcmp(mode, "none") && isfinite(adm) && adm > 0) {
        snprintf(b[8], 96, "%s / %s", fmt_ms(x, sizeof x, jnum(run, "queue.arrival_to_admission_ms.p50")),
                 fmt_ms(y, sizeof y, jnum(run, "queue.arrival_to_admission_ms.p95")));
        fmt_num(b[9], 96, jnum(run, "queue.fairness_kendall_distance"), 4);
    } else {
        snprintf(b[8], 96, "–");
        snprintf(b[9], 96, "–");
    }
    double rt = jnum(run, "reference.tps"), rs = jnum(run, "reference.response_s");
    if (isfinite(rt))
        snprintf(b[10], 96, "%s / %s s", fmt_num(x, sizeof x, rt, 0), fmt_num(y, sizeof y, rs, 0));
    else
        snprintf(b[10], 96, "–");
}

static int queue_compare_html(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char b[QC_COLS][96], x[64];
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>ticketctl waiting room: ",
          f);
    html_esc(f, r->name);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n<h1>Waiting room: no queue, MySQL table, Redis</h1>\n"
               "<div class=\"sub\">",
            css);
    html_esc(f, r->name);
    const char *started = jstr(root, "started_at");
    if (started) {
        fputs(" &middot; started ", f);
        html_esc(f, started);
    }
    fprintf(f, " &middot; %s users</div>\n", fmt_num(x, sizeof x, jnum(root, "config.users"), 0));
    fputs("<h2>Side by side</h2>\n<table><tr>", f);
    for (int c = 0; c < QC_COLS; c++) {
        fputs("<th>", f);
        html_esc(f, qc_head[c]);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    size_t i;
    json_t *run;
    json_array_foreach(jget(root, "runs"), i, run) {
        qc_cells(run, b);
        fputs("<tr>", f);
        for (int c = 0; c < QC_COLS; c++) {
            fputs(c == 0 ? "<td class=\"l\">" : "<td>", f);
            html_esc(f, b[c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<p class=\"muted\">Fairness is the normalised Kendall tau distance between arrival order and"
          " admission order among users of the same schedule: 0 = admitted exactly in arrival order, 0.5 = random."
          " Reference figures: DESIGN.md (0&rarr;5,000 users over 5 min, Spring Boot on 2 vCPU + RDS).</p>\n",
          f);
    fputs("<div class=\"grid2\">\n", f);
    html_kv(f, "Config", jget(root, "config"));
    html_kv(f, "Machine", jget(root, "machine"));
    fputs("</div>\n<footer>generated by ticketctl report from ", f);
    html_esc(f, r->name);
    fputs("</footer>\n</main></body></html>\n", f);
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}

static int queue_compare_markdown(const tk_report *r, FILE *f, char *err, size_t errlen)
{
    const json_t *root = r->root;
    char b[QC_COLS][96], x[64];
    fputs("# Waiting room: no queue, MySQL table, Redis\n\n", f);
    md_esc(f, r->name);
    fprintf(f, " · %s users\n\n|", fmt_num(x, sizeof x, jnum(root, "config.users"), 0));
    for (int c = 0; c < QC_COLS; c++) {
        fputc(' ', f);
        md_esc(f, qc_head[c]);
        fputs(" |", f);
    }
    fputs("\n|", f);
    for (int c = 0; c < QC_COLS; c++)
        fputs(c == 0 ? "---|" : "---:|", f);
    fputs("\n", f);
    size_t i;
    json_t *run;
    json_array_foreach(jget(root, "runs"), i, run) {
        qc_cells(run, b);
        fputs("|", f);
        for (int c = 0; c < QC_COLS; c++) {
            fputc(' ', f);
            md_esc(f, b[c]);
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
