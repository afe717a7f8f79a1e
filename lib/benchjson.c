/* bench's results: the results JSON (docs/RESULTS.md, schema 1), the
 * per-second timeseries point, the metrics thresholds read
 * (threshold.h) and the default results path. Split from bench.c (the run)
 * by concern; the JSON keys are the schema's. */
#include "bench_int.h"
#include "ticketctl/bench.h"
#include "ticketctl/common.h"
#include "ticketctl/cpustat.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef TK_VERSION
#define TK_VERSION "0.1.0"
#endif
#ifndef TK_BUILD_TYPE
#ifdef __OPTIMIZE__
#define TK_BUILD_TYPE "optimized"
#else
#define TK_BUILD_TYPE "Debug"
#endif
#endif

static const char *kind_names[TK_BENCH_NERRKINDS] = {"connect", "timeout", "read", "status"};

static json_t *latency_json(const tk_bench_latency *l)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "p50", l->p50, "p90", l->p90, "p95", l->p95, "p99", l->p99,
                     "p999", l->p999, "p9999", l->p9999, "max", l->max, "mean", l->mean);
}

static json_t *machine_json(void)
{
    char host[256] = "", kernel[300] = "";
    struct utsname u;
    gethostname(host, sizeof host - 1);
    if (uname(&u) == 0)
        snprintf(kernel, sizeof kernel, "%s %s", u.sysname, u.release);
    long long mem = (long long)sysconf(_SC_PHYS_PAGES) * (long long)sysconf(_SC_PAGESIZE);
#if defined(__clang__)
    const char *compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    const char *compiler = "gcc " __VERSION__;
#else
    const char *compiler = "unknown";
#endif
    return json_pack("{s:s,s:i,s:I,s:s,s:s,s:s,s:s}", "hostname", host, "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
                     "mem_bytes", (json_int_t)mem, "kernel", kernel, "build", TK_BUILD_TYPE, "version", TK_VERSION,
                     "compiler", compiler);
}

/* "cpu_ms_per_request" in single-endpoint mode, else "cpu_ms_per_flow". */
static const char *cpu_key(const tk_bench_result *r)
{
    return r->url_path[0] ? "cpu_ms_per_request" : "cpu_ms_per_flow";
}

static json_t *result_json(const tk_bench_result *r)
{
    json_t *steps = json_array(), *kinds = json_object(), *status = json_object(), *series = json_array(),
           *inv = json_array(), *stages = json_array(), *ths = json_array();
    for (int s = 0; s < TK_BENCH_NSTEPS; s++) {
        const tk_bench_step *st = &r->steps[s];
        if (s == TK_STEP_URL && !r->url_path[0])
            continue; /* the single-endpoint step only in that mode */
        if ((s == TK_STEP_QTOKEN || s == TK_STEP_QPOLL) && (!r->queue[0] || !strcmp(r->queue, "none")))
            continue; /* the waiting-room steps only with a queue */
        json_array_append_new(steps, json_pack("{s:s,s:I,s:I,s:f,s:o,s:o}", "name",
                                               st->name ? st->name : tk_bench_step_names[s], "requests",
                                               (json_int_t)st->requests, "errors", (json_int_t)st->errors, "tps",
                                               st->tps, "latency_ms", latency_json(&st->latency),
                                               "uncorrected_latency_ms", latency_json(&st->uncorrected_latency)));
    }
    for (int k = 0; k < TK_BENCH_NERRKINDS; k++)
        json_object_set_new(kinds, kind_names[k], json_integer((json_int_t)r->by_kind[k]));
    for (int s = 0; s < TK_BENCH_MAX_STATUS; s++)
        if (r->by_status[s]) {
            char key[8];
            snprintf(key, sizeof key, "%d", s);
            json_object_set_new(status, key, json_integer((json_int_t)r->by_status[s]));
        }
    for (size_t i = 0; i < r->nseries; i++) {
        tk_bench_point p = r->series[i];
        if (!p.t)
            p.t = (int)i + 1;
        json_array_append_new(series, tk_bench_point_json(&p));
    }
    for (size_t i = 0; r->invariants_checked && i < r->ninvariants; i++)
        json_array_append_new(inv, json_pack("{s:s,s:b,s:s}", "name", r->invariants[i].name, "ok",
                                             r->invariants[i].ok, "detail", r->invariants[i].detail));
    for (size_t i = 0; i < r->nstages; i++)
        json_array_append_new(stages, json_pack("{s:f,s:f,s:f}", "duration_s", (double)r->stages[i].duration_ms / 1000.0,
                                                "from", r->stages[i].from, "to", r->stages[i].to));
    for (size_t i = 0; i < r->nthresholds; i++) {
        const tk_threshold_outcome *o = &r->thresholds[i];
        json_t *t = json_pack("{s:s,s:b,s:f,s:s}", "threshold", o->text, "ok", o->ok, "limit", o->limit, "detail",
                              o->detail);
        json_object_set_new(t, "actual", o->found ? json_real(o->actual) : json_null());
        json_array_append_new(ths, t);
    }
    json_t *summary = json_pack(
        "{s:I,s:I,s:f,s:f,s:f,s:I,s:o,s:o,s:I}", "requests", (json_int_t)r->requests, "errors",
        (json_int_t)r->errors, "error_rate", r->error_rate, "tps", r->tps, "steady_tps", r->steady_tps,
        "flows_completed", (json_int_t)r->flows_completed, "latency_ms", latency_json(&r->latency),
        "steady_latency_ms", latency_json(&r->steady_latency), "peak_rss_bytes", (json_int_t)r->peak_rss_bytes);
    /* CPU-ms per unit of work over the steady window (cpustat.h), null when not measured */
    json_object_set_new(summary, cpu_key(r), r->cpu_measured ? tk_cpu_use_json(&r->cpu) : json_null());
    if (r->cpu_measured) {
        json_object_set_new(summary, "cpu_cores", tk_cpu_cores_json(&r->cpu));
        json_object_set_new(summary, "cpu_window", json_pack("{s:f,s:f}", "duration_s", r->cpu.window_s, "units",
                                                             r->cpu.units));
    }
    json_object_set_new(summary, "uncorrected_latency_ms", latency_json(&r->uncorrected_latency));
    json_object_set_new(summary, "steady_uncorrected_latency_ms", latency_json(&r->steady_uncorrected_latency));
    json_object_set_new(summary, "iterations",
                        json_pack("{s:I,s:I,s:I,s:I}", "scheduled", (json_int_t)r->iters_scheduled, "started",
                                  (json_int_t)r->iters_started, "late", (json_int_t)r->iters_late, "dropped",
                                  (json_int_t)r->iters_dropped));
    json_t *config = json_pack("{s:s,s:i,s:f,s:f,s:I,s:i,s:I}", "target", r->target, "users", r->users, "ramp_s",
                               (double)r->ramp_ms / 1000.0, "duration_s", (double)r->duration_ms / 1000.0,
                               "think_time_ms", (json_int_t)r->think_ms, "threads", r->threads, "timeout_ms",
                               (json_int_t)r->timeout_ms);
    json_object_set_new(config, "model", json_string(r->open_model ? "open" : "closed"));
    json_object_set_new(config, "engine", json_string(r->engine[0] ? r->engine : "curl"));
    json_object_set_new(config, "url", r->url_path[0] ? json_string(r->url_path) : json_null());
    json_object_set_new(config, "stage_unit", json_string(r->open_model ? "iterations/s" : "vus"));
    json_object_set_new(config, "stages", stages);
    json_object_set_new(config, "max_delay_ms", json_integer((json_int_t)r->max_delay_ms));
    json_t *gen = json_pack("{s:b,s:s,s:f,s:f,s:{s:f,s:f,s:f}}", "valid", r->valid, "invalid_reason",
                            r->invalid_reason, "cpu_s", r->gen_cpu_s, "max_thread_cpu_util", r->gen_cpu_util,
                            "loop_lag_ms", "p50", r->lag_p50_ms, "p99", r->lag_p99_ms, "max", r->lag_max_ms);
    json_t *doc = json_pack("{s:i,s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:{s:o,s:o},s:{s:I,s:I},s:o,s:o,s:o,s:{s:I}}",
                            "schema", 1, "kind", "bench", "started_at", r->started_at, "valid", r->valid, "config",
                            config, "machine", machine_json(), "generator", gen, "summary", summary, "steps", steps,
                            "errors", "by_kind", kinds, "by_status", status, "outcomes", "seat_taken",
                            (json_int_t)r->seat_taken, "sold_out", (json_int_t)r->sold_out, "timeseries", series,
                            "invariants", inv, "thresholds", ths, "server", "peak_rss_bytes",
                            (json_int_t)(r->server_peak_rss_bytes > 0 ? r->server_peak_rss_bytes : 0));
    /* waiting room (bench.h): always present, so reports can put runs side by side */
    json_t *q = json_pack("{s:s,s:I,s:o,s:f,s:I}", "mode", r->queue[0] ? r->queue : "none", "admissions",
                          (json_int_t)r->admissions, "arrival_to_admission_ms", latency_json(&r->admission_wait),
                          "fairness_kendall_distance", r->fairness_kendall, "fairness_pairs",
                          (json_int_t)r->fairness_pairs);
    if (doc)
        json_object_set_new(doc, "strategy", r->strategy[0] ? json_string(r->strategy) : json_null());
    /* the response-time distribution: [{"le_ms": bound or null (above the last), "count"}] */
    json_t *dist = json_array();
    for (int d = 0; d < TK_BENCH_NDIST; d++)
        json_array_append_new(dist, json_pack("{s:o,s:I}", "le_ms",
                                              d < TK_BENCH_NDIST - 1 ? json_real(tk_bench_dist_le_ms[d]) : json_null(),
                                              "count", (json_int_t)r->dist[d]));
    if (doc)
        json_object_set_new(doc, "latency_distribution", dist);
    else
        json_decref(dist);
    if (doc && q)
        json_object_set_new(doc, "queue", q);
    else
        json_decref(q);
    return doc;
}

/* ---------- metrics for thresholds ---------- */

static int latency_metric(const tk_bench_latency *l, const char *m, double *out)
{
    static const struct {
        const char *name;
        size_t off;
    } f[] = {
        {"p50", offsetof(tk_bench_latency, p50)},     {"p90", offsetof(tk_bench_latency, p90)},
        {"p95", offsetof(tk_bench_latency, p95)},     {"p99", offsetof(tk_bench_latency, p99)},
        {"p99.9", offsetof(tk_bench_latency, p999)},  {"p99.99", offsetof(tk_bench_latency, p9999)},
        {"max", offsetof(tk_bench_latency, max)},     {"mean", offsetof(tk_bench_latency, mean)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcmp(m, f[i].name) == 0) {
            *out = *(const double *)((const char *)l + f[i].off);
            return 0;
        }
    return -1;
}

int tk_bench_metric(const tk_bench_result *r, const char *scope, const char *m, double *out)
{
    int unc = strncmp(m, "u_", 2) == 0;
    const char *lm = unc ? m + 2 : m;
    if (scope && *scope) {
        for (int s = 0; s < TK_BENCH_NSTEPS; s++) {
            const tk_bench_step *st = &r->steps[s];
            if (strcmp(scope, tk_bench_step_names[s]) != 0)
                continue;
            if (latency_metric(unc ? &st->uncorrected_latency : &st->latency, lm, out) == 0)
                return st->requests ? 0 : -1; /* a step that never ran has no latency */
            if (strcmp(m, "tps") == 0) *out = st->tps;
            else if (strcmp(m, "requests") == 0) *out = (double)st->requests;
            else if (strcmp(m, "errors") == 0) *out = (double)st->errors;
            else if (strcmp(m, "error_rate") == 0) *out = st->requests ? (double)st->errors / (double)st->requests : 0;
            else return -1;
            return 0;
        }
        return -1;
    }
    if (latency_metric(unc ? &r->uncorrected_latency : &r->latency, lm, out) == 0)
        return 0;
    size_t kl = strlen(cpu_key(r));
    if (strncmp(m, cpu_key(r), kl) == 0 && m[kl] == '.') { /* cpu_ms_per_flow.ROLE */
        if (!r->cpu_measured)
            return -1;
        double v = NAN;
        if (strcmp(m + kl + 1, "backend_total") == 0)
            v = r->cpu.backend_total;
        for (int i = 0; i < TK_CPU_NROLES; i++)
            if (strcmp(m + kl + 1, tk_cpu_role_name(i)) == 0)
                v = r->cpu.per_unit[i];
        if (isnan(v))
            return -1;
        *out = v;
        return 0;
    }
    if (strcmp(m, "tps") == 0) *out = r->tps;
    else if (strcmp(m, "steady_tps") == 0) *out = r->steady_tps;
    else if (strcmp(m, "error_rate") == 0) *out = r->error_rate;
    else if (strcmp(m, "errors") == 0) *out = (double)r->errors;
    else if (strcmp(m, "requests") == 0) *out = (double)r->requests;
    else if (strcmp(m, "flows") == 0) *out = (double)r->flows_completed;
    else if (strcmp(m, "dropped") == 0) *out = (double)r->iters_dropped;
    else if (strcmp(m, "dropped_rate") == 0)
        *out = r->iters_scheduled ? (double)r->iters_dropped / (double)r->iters_scheduled : 0;
    else if (strcmp(m, "double_bookings") == 0) {
        /* the invariant "no seat with two live reservations", detail "N violations" */
        const tk_invariant *inv = NULL;
        for (size_t i = 0; r->invariants_checked && i < r->ninvariants; i++)
            if (strstr(r->invariants[i].name, "two live reservations"))
                inv = &r->invariants[i];
        if (!inv || strstr(inv->detail, "violation") == NULL)
            return -1; /* not checked, or the query failed */
        char *end;
        long long n = strtoll(inv->detail, &end, 10);
        if (end == inv->detail)
            return -1;
        *out = (double)n;
    } else
        return -1;
    return 0;
}

static int mkdirs_for(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (dir[0] && mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

const double tk_bench_dist_le_ms[TK_BENCH_NDIST - 1] = {0.1, 0.2, 0.5, 1,   2,    5,    10,   20,
                                                        50,  100, 200, 500, 1000, 2000, 5000, 10000};

json_t *tk_bench_point_json(const tk_bench_point *p)
{
    json_t *o = json_pack("{s:i,s:i,s:f,s:I,s:f,s:f,s:f,s:I}", "t", p->t, "vus", p->vus, "rps", p->rps, "errors",
                          (json_int_t)p->errors, "p50", p->p50, "p95", p->p95, "p99", p->p99, "dropped",
                          (json_int_t)p->dropped);
    json_t *steps = json_object(), *status = json_object();
    for (int i = 0; i < TK_BENCH_NSTEPS; i++)
        if (p->steps[i].n)
            json_object_set_new(steps, tk_bench_step_names[i],
                                json_pack("{s:I,s:f,s:f}", "n", (json_int_t)p->steps[i].n, "p50", p->steps[i].p50,
                                          "p95", p->steps[i].p95));
    for (int i = 0; i < p->nstatus; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", p->status[i].status);
        json_object_set_new(status, key, json_integer((json_int_t)p->status[i].n));
    }
    if (p->status_other)
        json_object_set_new(status, "other", json_integer((json_int_t)p->status_other));
    if (o) {
        json_object_set_new(o, "steps", steps);
        json_object_set_new(o, "status", status);
    } else {
        json_decref(steps);
        json_decref(status);
    }
    return o;
}

int tk_bench_write_json(const tk_bench_result *r, const char *path, char *err, size_t errlen)
{
    if (mkdirs_for(path) != 0)
        return tk_err(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
    json_t *doc = result_json(r);
    if (!doc)
        return tk_err(err, errlen, "cannot build the results JSON");
    int rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (rc != 0)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

char *tk_bench_result_json(const tk_bench_result *r)
{
    json_t *doc = result_json(r);
    if (!doc)
        return NULL;
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    return text;
}

int tk_bench_default_path(char *buf, size_t len)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    int n = snprintf(buf, len, "reports/out/bench-%s.json", stamp);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
