/* Threshold expressions for bench gates: parse once, evaluate after the
 * run against a metric lookup. Units are normalised at parse time (ms for
 * latencies, fractions for rates) so evaluation is a plain comparison; the
 * outcome says by how much a failed threshold missed. */
#include "ticketctl/threshold.h"
#include "ticketctl/common.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum kind { K_LATENCY, K_RATE, K_COUNT } kind;

static const struct {
    const char *name;
    kind k;
} metrics[] = {
    {"p50", K_LATENCY},      {"p90", K_LATENCY},          {"p95", K_LATENCY},     {"p99", K_LATENCY},
    {"p99.9", K_LATENCY},    {"p99.99", K_LATENCY},       {"max", K_LATENCY},     {"mean", K_LATENCY},
    {"u_p50", K_LATENCY},    {"u_p90", K_LATENCY},        {"u_p95", K_LATENCY},   {"u_p99", K_LATENCY},
    {"u_p99.9", K_LATENCY},  {"u_p99.99", K_LATENCY},     {"u_max", K_LATENCY},   {"u_mean", K_LATENCY},
    {"error_rate", K_RATE},  {"dropped_rate", K_RATE},    {"tps", K_COUNT},       {"steady_tps", K_COUNT},
    {"requests", K_COUNT},   {"errors", K_COUNT},         {"flows", K_COUNT},     {"dropped", K_COUNT},
    {"double_bookings", K_COUNT},
    /* CPU-ms per unit of work over the steady window (bench.h, cpustat.h) */
    {"cpu_ms_per_flow.serve", K_COUNT},       {"cpu_ms_per_flow.mariadbd", K_COUNT},
    {"cpu_ms_per_flow.redis", K_COUNT},       {"cpu_ms_per_flow.nginx", K_COUNT},
    {"cpu_ms_per_flow.bench", K_COUNT},       {"cpu_ms_per_flow.backend_total", K_COUNT},
    {"cpu_ms_per_request.serve", K_COUNT},    {"cpu_ms_per_request.mariadbd", K_COUNT},
    {"cpu_ms_per_request.redis", K_COUNT},    {"cpu_ms_per_request.nginx", K_COUNT},
    {"cpu_ms_per_request.bench", K_COUNT},    {"cpu_ms_per_request.backend_total", K_COUNT},
};

static int metric_kind(const char *name)
{
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++)
        if (strcmp(metrics[i].name, name) == 0)
            return (int)metrics[i].k;
    return -1;
}

static const char *op_names[] = {"<", "<=", ">", ">=", "==", "!="};

const char *tk_threshold_op_name(tk_threshold_op op)
{
    return (unsigned)op < 6 ? op_names[op] : "?";
}

int tk_threshold_parse(const char *s, tk_threshold *out, char *err, size_t errlen)
{
    char buf[128];
    size_t n = 0;
    if (!s || !out)
        return tk_err(err, errlen, "no threshold");
    for (const char *p = s; *p; p++) {
        if (isspace((unsigned char)*p))
            continue;
        if (n + 1 >= sizeof buf)
            return tk_err(err, errlen, "threshold too long: '%.40s...'", s);
        buf[n++] = *p;
    }
    buf[n] = '\0';
    memset(out, 0, sizeof *out);
    snprintf(out->text, sizeof out->text, "%s", buf);

    /* the operator: first of < > = ! */
    char *op = strpbrk(buf, "<>=!");
    if (!op || op == buf)
        return tk_err(err, errlen, "threshold '%s': expected [step.]metric OP value, e.g. p95<100ms", s);
    char *val;
    if (op[0] == '<' && op[1] == '=') out->op = TK_TH_LE, val = op + 2;
    else if (op[0] == '>' && op[1] == '=') out->op = TK_TH_GE, val = op + 2;
    else if (op[0] == '=' && op[1] == '=') out->op = TK_TH_EQ, val = op + 2;
    else if (op[0] == '!' && op[1] == '=') out->op = TK_TH_NE, val = op + 2;
    else if (op[0] == '<') out->op = TK_TH_LT, val = op + 1;
    else if (op[0] == '>') out->op = TK_TH_GT, val = op + 1;
    else
        return tk_err(err, errlen, "threshold '%s': unknown operator (use < <= > >= == !=)", s);
    *op = '\0';

    /* [scope.]metric: a known metric as a whole wins ("p99.9") */
    const char *metric = buf;
    int k = metric_kind(buf);
    if (k < 0) {
        char *dot = strchr(buf, '.');
        if (dot) {
            *dot = '\0';
            if (dot - buf >= (long)sizeof out->scope || !*buf)
                return tk_err(err, errlen, "threshold '%s': bad scope", s);
            memcpy(out->scope, buf, (size_t)(dot - buf) + 1);
            metric = dot + 1;
            k = metric_kind(metric);
        }
    }
    if (k < 0)
        return tk_err(err, errlen,
                      "threshold '%s': unknown metric '%s' (p50 p90 p95 p99 p99.9 p99.99 max mean, u_ the same "
                      "uncorrected, tps steady_tps error_rate dropped_rate requests errors flows dropped "
                      "double_bookings, cpu_ms_per_flow.ROLE cpu_ms_per_request.ROLE with ROLE serve mariadbd "
                      "redis nginx bench backend_total)", s, metric);
    memcpy(out->metric, metric, strlen(metric) + 1); /* a known name: short */
    out->is_latency = k == K_LATENCY;

    char *end;
    double v = strtod(val, &end);
    if (end == val || !isfinite(v))
        return tk_err(err, errlen, "threshold '%s': bad number '%s'", s, val);
    double scale = 1.0;
    if (*end == '\0')
        scale = 1.0;
    else if (k == K_LATENCY && strcmp(end, "ms") == 0)
        scale = 1.0;
    else if (k == K_LATENCY && strcmp(end, "s") == 0)
        scale = 1000.0;
    else if (k == K_LATENCY && (strcmp(end, "us") == 0 || strcmp(end, "µs") == 0))
        scale = 0.001;
    else if (k == K_RATE && strcmp(end, "%") == 0)
        scale = 0.01;
    else
        return tk_err(err, errlen, "threshold '%s': unit '%s' does not fit %s", s, end,
                      k == K_LATENCY ? "a latency (ms, s, us)" : k == K_RATE ? "a rate (%% or a fraction)"
                                                                              : "a count (no unit)");
    out->limit = v * scale;
    return 0;
}

static int holds(tk_threshold_op op, double a, double l)
{
    switch (op) {
    case TK_TH_LT: return a < l;
    case TK_TH_LE: return a <= l;
    case TK_TH_GT: return a > l;
    case TK_TH_GE: return a >= l;
    case TK_TH_EQ: return a == l;
    case TK_TH_NE: return a != l;
    }
    return 0;
}

static void fmt_value(char *buf, size_t len, const tk_threshold *t, double v)
{
    if (t->is_latency)
        snprintf(buf, len, "%.2f ms", v);
    else if (strstr(t->metric, "_rate"))
        snprintf(buf, len, "%.4g %%", v * 100.0);
    else
        snprintf(buf, len, "%.6g", v);
}

int tk_threshold_eval(const tk_threshold *t, tk_threshold_lookup lookup, void *ud, tk_threshold_outcome *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->text, sizeof out->text, "%s", t->text);
    out->limit = t->limit;
    char name[sizeof t->scope + sizeof t->metric + 1];
    snprintf(name, sizeof name, "%s%s%s", t->scope, *t->scope ? "." : "", t->metric);
    double a = 0;
    if (!lookup || lookup(t->scope, t->metric, &a, ud) != 0 || isnan(a)) {
        snprintf(out->detail, sizeof out->detail, "%s: not measured (unknown step or metric missing)", name);
        return out->ok = 0;
    }
    out->found = 1;
    out->actual = a;
    out->ok = holds(t->op, a, t->limit);
    char av[32], lv[32], dv[32];
    fmt_value(av, sizeof av, t, a);
    fmt_value(lv, sizeof lv, t, t->limit);
    if (out->ok) {
        snprintf(out->detail, sizeof out->detail, "%s = %s, limit %s %s: ok", name, av, tk_threshold_op_name(t->op),
                 lv);
        return 1;
    }
    double diff = fabs(a - t->limit);
    fmt_value(dv, sizeof dv, t, diff);
    const char *how = a > t->limit ? "over" : a < t->limit ? "under" : "equal to";
    if (t->limit != 0)
        snprintf(out->detail, sizeof out->detail, "%s = %s, limit %s %s: %s by %s (%.1f %%)", name, av,
                 tk_threshold_op_name(t->op), lv, how, dv, 100.0 * diff / fabs(t->limit));
    else
        snprintf(out->detail, sizeof out->detail, "%s = %s, limit %s %s: %s by %s", name, av,
                 tk_threshold_op_name(t->op), lv, how, dv);
    return 0;
}
