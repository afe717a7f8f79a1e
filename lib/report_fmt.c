/* Report formatting shared by every kind: dotted-path JSON access, number
 * and size formatting, HTML/Markdown escaping, the page CSS, cards and
 * key/value tables (report_int.h). */
#include "report_int.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Value at a dotted path ("summary.latency_ms.p99"), or NULL. */
json_t *rpt_jget(const json_t *o, const char *path)
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

double rpt_jnum(const json_t *o, const char *path)
{
    json_t *v = rpt_jget(o, path);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

const char *rpt_jstr(const json_t *o, const char *path)
{
    json_t *v = rpt_jget(o, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- formatting --------------------------------------------------------------- */


/* 1234567.8 -> "1,234,567.8" with `dec` decimals; NAN -> "–". */
const char *rpt_fmt_num(char *buf, size_t cap, double v, int dec)
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
const char *rpt_fmt_ms(char *buf, size_t cap, double v)
{
    double a = fabs(v);
    return rpt_fmt_num(buf, cap, v, a < 10 ? 2 : a < 100 ? 1 : 0);
}

const char *rpt_fmt_bytes(char *buf, size_t cap, double v)
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

const char *rpt_fmt_pct(char *buf, size_t cap, double frac)
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
const char *rpt_fmt_value(char *buf, size_t cap, const char *key, json_t *v, char **owned)
{
    *owned = NULL;
    size_t kl = strlen(key);
    int bytes = kl > 6 && strcmp(key + kl - 6, "_bytes") == 0;
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_value(v);
    case JSON_INTEGER:
        return bytes ? rpt_fmt_bytes(buf, cap, (double)json_integer_value(v))
                     : rpt_fmt_num(buf, cap, (double)json_integer_value(v), 0);
    case JSON_REAL:
        if (bytes)
            return rpt_fmt_bytes(buf, cap, json_real_value(v));
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

void rpt_html_esc(FILE *f, const char *s)
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
void rpt_md_esc(FILE *f, const char *s)
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


/* ---- HTML ------------------------------------------------------------------------- */

const char rpt_css[] =
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

void rpt_card(FILE *f, const char *key, const char *value, const char *sub, const char *cls)
{
    fprintf(f, "<div class=\"card%s%s\"><div class=\"k\">", cls ? " " : "", cls ? cls : "");
    rpt_html_esc(f, key);
    fputs("</div><div class=\"v\">", f);
    rpt_html_esc(f, value);
    fputs("</div>", f);
    if (sub) {
        fputs("<div class=\"s\">", f);
        rpt_html_esc(f, sub);
        fputs("</div>", f);
    }
    fputs("</div>\n", f);
}

/* <table> of an object's members (config, machine, server). */
/* Human labels of the keys results files use (config, machine, server,
 * generator); a key not listed shows as itself with '_' as spaces. */
static const struct {
    const char *key, *label;
} key_labels[] = {
    {"target", "target"},
    {"users", "virtual users"},
    {"ramp_s", "ramp (s)"},
    {"duration_s", "duration (s)"},
    {"think_time_ms", "think time (ms)"},
    {"threads", "load threads"},
    {"timeout_ms", "request timeout (ms)"},
    {"model", "load model"},
    {"url", "single endpoint"},
    {"stages", "load profile"},
    {"stage_unit", "profile unit"},
    {"max_delay_ms", "max wait for a free VU (ms)"},
    {"strategy", "lock strategy"},
    {"queue", "waiting room"},
    {"hostname", "host"},
    {"cpus", "CPUs"},
    {"mem_bytes", "memory"},
    {"kernel", "kernel"},
    {"build", "build type"},
    {"version", "ticketctl version"},
    {"compiler", "compiler"},
    {"peak_rss_bytes", "peak RSS"},
    {"valid", "generator valid"},
    {"invalid_reason", "why invalid"},
    {"cpu_s", "generator CPU (s)"},
    {"max_thread_cpu_util", "busiest load thread CPU/wall"},
    {"loop_lag_ms", "event-loop lag (ms)"},
    {"p95_limit_ms", "p95 limit (ms)"},
    {"max_errors", "errors allowed"},
    {"requests_per_flow", "requests per flow"},
    {"serve_args", "serve flags"},
    {"loadavg_at_end", "load average at the end"},
    {"description", "description"},
    {"connections", "connections"},
    {"repeat", "repeats"},
};

const char *rpt_label(const char *key, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof key_labels / sizeof key_labels[0]; i++)
        if (!strcmp(key_labels[i].key, key))
            return key_labels[i].label;
    snprintf(buf, cap, "%s", key);
    for (char *c = buf; *c; c++)
        if (*c == '_')
            *c = ' ';
    return buf;
}

void rpt_html_kv(FILE *f, const char *title, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    fputs("<div><h2>", f);
    rpt_html_esc(f, title);
    fputs("</h2>", f);
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        fputs("<p class=\"muted\">not recorded</p></div>\n", f);
        return;
    }
    fputs("<table>", f);
    json_object_foreach(obj, key, v) {
        char *owned, lb[96];
        const char *s = rpt_fmt_value(buf, sizeof buf, key, v, &owned);
        fputs("<tr><td title=\"", f);
        rpt_html_esc(f, key);
        fputs("\">", f);
        rpt_html_esc(f, rpt_label(key, lb, sizeof lb));
        fputs("</td><td class=\"l\">", f);
        rpt_html_esc(f, s);
        fputs("</td></tr>", f);
        free(owned);
    }
    fputs("</table></div>\n", f);
}

/* <table> of name -> count (errors by kind, by status, outcomes). */
void rpt_html_counts(FILE *f, const char *title, const char *col, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    fputs("<div><h2>", f);
    rpt_html_esc(f, title);
    fputs("</h2>", f);
    if (!json_is_object(obj) || json_object_size(obj) == 0) {
        fputs("<p class=\"muted\">none recorded</p></div>\n", f);
        return;
    }
    fputs("<table><tr><th>", f);
    rpt_html_esc(f, col);
    fputs("</th><th>count</th></tr>", f);
    json_object_foreach(obj, key, v) {
        fputs("<tr><td>", f);
        rpt_html_esc(f, key);
        fprintf(f, "</td><td>%s</td></tr>", rpt_fmt_num(buf, sizeof buf, json_is_number(v) ? json_number_value(v) : NAN, 0));
    }
    fputs("</table></div>\n", f);
}


/* ---- Markdown ------------------------------------------------------------------------ */

void rpt_md_kv(FILE *f, const char *title, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return;
    fprintf(f, "\n## %s\n\n| setting | value |\n|---|---|\n", title);
    json_object_foreach(obj, key, v) {
        char *owned, lb[96];
        const char *s = rpt_fmt_value(buf, sizeof buf, key, v, &owned);
        fputs("| ", f);
        rpt_md_esc(f, rpt_label(key, lb, sizeof lb));
        fputs(" | ", f);
        rpt_md_esc(f, s);
        fputs(" |\n", f);
        free(owned);
    }
}

void rpt_md_counts(FILE *f, const char *title, const char *col, json_t *obj)
{
    const char *key;
    json_t *v;
    char buf[64];
    if (!json_is_object(obj) || json_object_size(obj) == 0)
        return;
    fprintf(f, "\n## %s\n\n| %s | count |\n|---|---:|\n", title, col);
    json_object_foreach(obj, key, v) {
        fputs("| ", f);
        rpt_md_esc(f, key);
        fprintf(f, " | %s |\n", rpt_fmt_num(buf, sizeof buf, json_is_number(v) ? json_number_value(v) : NAN, 0));
    }
}



inv_count rpt_count_invariants(const json_t *root)
{
    inv_count c = {0, 0};
    json_t *inv = rpt_jget(root, "invariants");
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


void rpt_html_open(FILE *f, const char *title, const char *h1)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\n<title>",
          f);
    rpt_html_esc(f, title);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body><main>\n<h1>", rpt_css);
    rpt_html_esc(f, h1);
    fputs("</h1>\n", f);
}

int rpt_html_close(FILE *f, const char *name, char *err, size_t errlen)
{
    fputs("</div>\n<footer>generated by ticketctl report from ", f);
    rpt_html_esc(f, name);
    fputs("</footer>\n</main></body></html>\n", f);
    if (fflush(f) != 0 || ferror(f))
        return tk_err(err, errlen, "write failed: %s", strerror(errno));
    return 0;
}
