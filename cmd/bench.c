/* ticketctl bench: parse flags, run lib/bench, check the invariants, write
 * the results JSON and print a summary. All the work is in lib/. */
#include "commands.h"
#include "opt.h"

#include "ticketctl/backend.h"
#include "ticketctl/bench.h"
#include "ticketctl/db.h"
#include "ticketctl/devstack.h"
#include "ticketctl/hold.h"
#include "ticketctl/queue.h"
#include "ticketctl/common.h"
#include "ticketctl/invariants.h"
#include "ticketctl/threshold.h"
#include "ticketctl/report.h"
#include "ticketctl/strategy.h"
#include "ticketctl/rcluster.h"
#include "ticketctl/waitload.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_SERVER_PID = 256,
    OPT_TIMEOUT,
    OPT_MYSQL,
    OPT_REDIS,
    OPT_KAFKA,
    OPT_STATE,
    OPT_NO_INVARIANTS,
    OPT_JSON,
    OPT_RATE,
    OPT_STAGES,
    OPT_MODEL,
    OPT_URL,
    OPT_CONNECTIONS,
    OPT_MAX_DELAY,
    OPT_THRESHOLD,
    OPT_MAX_CPU,
    OPT_MAX_LAG,
    OPT_QUEUE,
    OPT_STRATEGY,
    OPT_ENGINE,
    OPT_QUEUE_OPS,
    OPT_PIPELINE,
    OPT_QUEUE_RESET,
    OPT_MYSQL_PID,
    OPT_REDIS_PID,
    OPT_OUT_JSONL,
    OPT_JUNIT,
    OPT_WAITING,
    OPT_WAITING_SCHEDULE,
};

static const tk_opt bench_rows[] = {
    {.id = 'u', .name = "users", .short_name = 'u', .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000000,
     .help = "virtual users (seeded users 1..N must exist; default 100)"},
    {.id = 'r', .name = "ramp", .short_name = 'r', .type = TK_OPT_DURATION, .arg = "DUR",
     .help = "start the users linearly over DUR (default 10s, at most\nhalf the duration unless given)"},
    {.id = 'd', .name = "duration", .short_name = 'd', .type = TK_OPT_DURATION, .arg = "DUR", .min = 1,
     .help = "whole run, ramp included (default 60s)"},
    {.id = 'k', .name = "think-time", .short_name = 'k', .type = TK_OPT_DURATION, .arg = "MS",
     .help = "mean think time between steps, +-50% (default 1000)"},
    {.id = 't', .name = "target", .short_name = 't', .type = TK_OPT_STR, .arg = "URL",
     .help = "server base URL (default http://127.0.0.1:8080)"},
    {.id = 'T', .name = "threads", .short_name = 'T', .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1024,
     .help = "event-loop threads (default: one per CPU)"},
    {.id = OPT_TIMEOUT, .name = "timeout", .type = TK_OPT_DURATION, .arg = "DUR", .min = 1,
     .help = "per-request timeout (default 10s)"},
    {.id = 'o', .name = "out", .short_name = 'o', .type = TK_OPT_STR, .arg = "FILE",
     .help = "results JSON (default reports/out/bench-<UTC>.json)"},
    {.id = OPT_OUT_JSONL, .name = "out-jsonl", .type = TK_OPT_STR, .arg = "FILE",
     .help = "while the run goes on, one JSON line per second (the\nresults' timeseries entry); '-' for stdout"},
    {.id = OPT_JUNIT, .name = "junit", .type = TK_OPT_STR, .arg = "FILE",
     .help = "the thresholds, invariants and generator self-check as\nJUnit XML for CI (ticketctl report --junit)"},
    {.id = OPT_SERVER_PID, .name = "server-pid", .type = TK_OPT_INT, .arg = "PID", .min = 1, .max = 4194304,
     .help = "a server process (repeatable): its CPU per flow over the\nsteady window, and the first one's peak RSS "
             "(default:\nwhoever listens on the target's port, or the dev stack's\ninstances)"},
    {.id = OPT_MYSQL_PID, .name = "mysql-pid", .type = TK_OPT_INT, .arg = "PID", .min = 1, .max = 4194304,
     .help = "mariadbd for the CPU per flow (default: the listener of\n--mysql, else the dev stack's)"},
    {.id = OPT_REDIS_PID, .name = "redis-pid", .type = TK_OPT_INT, .arg = "PID", .min = 1, .max = 4194304,
     .help = "redis-server for the CPU per flow (default: the listener\nof --redis, else the dev stack's)"},
    {.id = OPT_NO_INVARIANTS, .name = "no-invariants", .type = TK_OPT_FLAG, .help = "skip the MariaDB invariant checks"},
    {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG,
     .help = "print the results JSON on stdout instead of the summary"},
    TK_OPT_ROW_MYSQL(OPT_MYSQL),
    TK_OPT_ROW_REDIS(OPT_REDIS),
    TK_OPT_ROW_KAFKA(OPT_KAFKA),
    TK_OPT_ROW_STATE(OPT_STATE),
    {.id = OPT_MODEL, .name = "model", .type = TK_OPT_CHOICE, .choices = "closed|open", .group = "\nload models:",
     .help = "closed (default): VUs loop; open: iterations arrive at a\nrate whether or not the server keeps up"},
    {.id = OPT_RATE, .name = "rate", .type = TK_OPT_REAL, .arg = "R", .lo = 0, .lo_open = 1, .hi = 1e7,
     .help = "open model at R ITERATIONS per second (an iteration is\none pass of the 7 steps, or one request with "
             "--url);\nwith --ramp the rate goes 0 -> R over the ramp first"},
    {.id = OPT_STAGES, .name = "stages", .type = TK_OPT_STR, .arg = "SPEC",
     .help = "staged profile DUR:FROM-TO or DUR:VALUE, comma separated,\ne.g. 60s:0-5000,120s:5000; rates "
             "(iterations/s) in the\nopen model, VUs in the closed one; sets the duration"},
    {.id = OPT_MAX_DELAY, .name = "max-delay", .type = TK_OPT_DURATION, .arg = "DUR",
     .help = "open model: an iteration that found no free VU waits at\nmost DUR for one, then counts as dropped "
             "(default: the\n--timeout; 0 drops at once); --users is the VU pool"},
    {.id = OPT_URL, .name = "url", .type = TK_OPT_STR, .arg = "PATH",
     .help = "single-endpoint mode: GET <target>PATH in a loop (no\nlogin, think time 0 and no ramp unless given, "
             "no\ninvariant checks), comparable with wrk"},
    {.id = OPT_CONNECTIONS, .name = "connections", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000000,
     .help = "the same as --users (one connection per VU)"},
    {.id = OPT_ENGINE, .name = "engine", .type = TK_OPT_CHOICE, .choices = "auto|lean|curl",
     .help = "HTTP engine (default auto: the lean HTTP/1.1 keep-alive\nengine on http:// targets, libcurl on "
             "https://); curl is\nthe peer to measure lean against"},
    {.id = OPT_STRATEGY, .name = "strategy", .type = TK_OPT_STR, .arg = "NAME",
     .help = "lock strategy of holds, sent as X-Lock-Strategy (the\nserver must run `serve "
             "--allow-strategy-header`);\ndefault: the server's own (`ticketctl scenario strategies`)"},
    {.id = OPT_QUEUE, .name = "queue", .type = TK_OPT_CHOICE, .choices = "none|redis|mysql",
     .help = "waiting room (the server must run `serve --queue` with\nthe same backend): after picking a schedule a "
             "VU takes a\nqueue token, polls until admitted (honouring\npoll_after_ms), then holds and pays with "
             "X-Queue-Token;\nreports arrival->admission p50/p95 and fairness"},
    {.id = OPT_QUEUE_OPS, .name = "queue-ops", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 100000000,
     .help = "instead of HTTP: N users enqueue then poll straight\nthrough lib/queue.c's Redis backend over "
             "--connections\nconnections (default 50), --pipeline P calls in flight\nper connection (default 1); "
             "prints and writes ops/s\n(scripts/bench-queue)"},
    {.id = OPT_PIPELINE, .name = "pipeline", .type = TK_OPT_INT, .arg = "P", .min = 1, .max = 64,
     .help = "--queue-ops: calls in flight per connection (default 1)"},
    {.id = OPT_QUEUE_RESET, .name = "queue-reset", .type = TK_OPT_FLAG,
     .help = "empty every waiting-room queue (Redis and MariaDB) and exit"},
    {.id = OPT_WAITING, .name = "waiting", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 50000000,
     .help = "with --queue redis: instead of the booking flow, N\nsimulated users wait in one schedule's waiting "
             "room\n(lib/waitload.c, as `queue simulate`): --connections pool\n(default 128), --rate arrivals/s "
             "(default 5000),\n--duration at most (default 10m); enqueue, poll and\nadmission rates, fairness, "
             "server and Redis CPU and RSS"},
    {.id = OPT_WAITING_SCHEDULE, .name = "waiting-schedule", .type = TK_OPT_INT, .arg = "ID", .min = 1,
     .max = INT64_MAX, .help = "the schedule they wait for (default: the lowest id)"},
    {.id = OPT_THRESHOLD, .name = "threshold", .type = TK_OPT_STR, .arg = "EXPR", .group = "\ngates:",
     .help = "[step.]metric OP value, repeatable: 'p95<100ms',\n'error_rate<0.1%', 'tps>5000', "
             "'double_bookings==0',\n'reserve.p99<200ms', 'dropped==0' (see threshold.h)"},
    {.id = OPT_MAX_CPU, .name = "max-cpu", .type = TK_OPT_REAL, .arg = "FRAC", .lo = 0, .lo_open = 1, .hi = 1,
     .help = "mark the run invalid when a load thread's CPU/wall\nexceeds FRAC (default 0.90)"},
    {.id = OPT_MAX_LAG, .name = "max-loop-lag", .type = TK_OPT_REAL, .arg = "MS", .lo = 0, .lo_open = 1, .hi = 1e9,
     .help = "... or the event-loop lag p99 exceeds MS (default 25)"},
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_bench = {
    .cmd = "bench",
    .synopsis = "bench [options]",
    .about = "Run virtual users through the booking flow (balance, charge, concerts, dates,\n"
             "seats, reserve, pay) against a running server, then check the data\n"
             "invariants in MariaDB, evaluate the thresholds and write the results JSON.",
    .opts = bench_rows,
    .epilog = "Latency is measured from when each request should have been sent (the\n"
              "schedule in the open model), corrected for coordinated omission; the\n"
              "uncorrected figures are in the results beside it.\n\n"
              "DUR is like 250ms, 60s, 2m or plain milliseconds.\n"
              "Exit status: 0 run done, every invariant and threshold holds; 1 an invariant\n"
              "failed or the run could not start; 2 usage error; 3 a threshold failed (and\n"
              "every invariant held). A saturated generator is reported (\"valid\": false)\n"
              "but does not change the exit status.",
};

static int is_tty;

/* --queue-reset: empty every waiting-room queue. */
static int queue_reset_run(const char *mysql, const char *redis, const char *state)
{
    char err[512];
    tk_backend b;
    if (tk_backend_resolve(&b, mysql, redis, NULL, state, 0, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        return 1;
    }
    tk_queue_conn c = {tk_redis_connect(b.redis, err, sizeof err), NULL};
    if (c.redis)
        c.db = tk_db_connect(b.mysql, err, sizeof err);
    int rc = c.redis && c.db ? tk_queue_reset_all(&c) : -1;
    if (rc != 0)
        fprintf(stderr, "ticketctl bench: --queue-reset: %s\n", c.redis && c.db ? "a step failed" : err);
    if (c.redis)
        tk_redis_free(c.redis);
    if (c.db)
        mysql_close(c.db);
    return rc == 0 ? 0 : 1;
}

/* --queue-ops: throughput of the waiting room's Redis scripts (queue.h). */
static int queue_ops_run(int64_t users, int connections, int pipeline, const char *mysql, const char *redis,
                         const char *state, const char *out, int json)
{
    char err[512], path[512];
    tk_backend b;
    if (tk_backend_resolve(&b, mysql, redis, NULL, state, 0, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        return 1;
    }
    tk_queue_opsbench r;
    uint64_t sale = 4000000000ULL + (uint64_t)getpid(); /* a sale of its own; keys removed after */
    if (tk_queue_bench_redis(b.redis, sale, connections, users, pipeline, &r, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: --queue-ops: %s\n", err);
        return 1;
    }
    json_t *doc = json_pack("{s:i,s:s,s:s,s:i,s:i,s:I,s:I,s:I,s:f,s:f}", "schema", 1, "kind", "queue-ops", "backend",
                            "redis", "connections", r.connections, "pipeline", r.pipeline, "users", (json_int_t)r.users,
                            "ops", (json_int_t)r.ops, "errors", (json_int_t)r.errors, "seconds", r.seconds,
                            "ops_per_s", r.ops_per_s);
    if (!out) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(path, sizeof path, "reports/out/queue-ops-%Y%m%dT%H%M%SZ.json", &tm);
        out = path;
    }
    if (!doc || json_dump_file(doc, out, JSON_INDENT(2)) != 0)
        fprintf(stderr, "ticketctl bench: cannot write %s\n", out);
    if (json) {
        char *s = json_dumps(doc, JSON_INDENT(2));
        if (s)
            printf("%s\n", s);
        free(s);
    } else {
        printf("queue ops (enqueue + poll, Redis scripts): %llu ops in %.2f s = %.0f ops/s, %llu errors "
               "(%d connections, pipeline %d, %lld users) -> %s\n",
               (unsigned long long)r.ops, r.seconds, r.ops_per_s, (unsigned long long)r.errors, r.connections,
               r.pipeline, (long long)r.users, out);
    }
    json_decref(doc);
    return r.errors ? 1 : 0;
}

typedef struct progress_ctx {
    int users;
    FILE *jsonl; /* --out-jsonl, or NULL */
} progress_ctx;

static void on_progress(const tk_bench_point *p, double elapsed_s, uint64_t requests, uint64_t errors, void *ud)
{
    const progress_ctx *pc = ud;
    int users = pc->users;
    if (pc->jsonl) { /* a second is final when it is handed over: one line each, flushed for tail -f */
        json_t *o = tk_bench_point_json(p);
        if (o) {
            json_object_set_new(o, "elapsed_s", json_real(elapsed_s));
            json_object_set_new(o, "requests_total", json_integer((json_int_t)requests));
            json_object_set_new(o, "errors_total", json_integer((json_int_t)errors));
            json_dumpf(o, pc->jsonl, JSON_COMPACT | JSON_REAL_PRECISION(6)); /* 0.357, not 0.35699999999999998 */
            fputc('\n', pc->jsonl);
            fflush(pc->jsonl);
            json_decref(o);
        }
    }
    if (!is_tty && p->t % 5 != 0)
        return;
    fprintf(stderr, "%s[%6.1fs] vus %5d/%-5d  req/s %8.1f  errors %-8llu  p99 %8.2f ms%s", is_tty ? "\r" : "",
            elapsed_s, p->vus, users, p->rps, (unsigned long long)errors, p->p99, is_tty ? "  " : "\n");
    fflush(stderr);
}

/* --junit: the gates of the results file just written (report_junit.c). */
static int write_junit(const char *results, const char *path)
{
    char err[1024];
    tk_report *rep = tk_report_load(results, err, sizeof err);
    FILE *f = rep ? fopen(path, "w") : NULL;
    int rc = rep && f ? tk_report_junit(rep, f, NULL, err, sizeof err) : -1;
    if (!rep)
        fprintf(stderr, "ticketctl bench: --junit: %s\n", err);
    else if (!f)
        fprintf(stderr, "ticketctl bench: --junit %s: %s\n", path, strerror(errno));
    else if (rc != 0)
        fprintf(stderr, "ticketctl bench: --junit %s: %s\n", path, err);
    if (f && fclose(f) != 0)
        rc = -1;
    tk_report_free(rep);
    return rc;
}

static void print_latency_row(const char *name, uint64_t requests, uint64_t errors, double tps,
                              const tk_bench_latency *l)
{
    printf("  %-9s %10llu %8llu %9.1f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, (unsigned long long)requests,
           (unsigned long long)errors, tps, l->p50, l->p90, l->p95, l->p99, l->max);
}

/* CPU-ms per flow (or request) over the steady window, first: the steadiest
 * figure on a shared machine. "-" for a role not found. */
static void print_cpu(const tk_bench_result *r)
{
    const char *unit = r->url_path[0] ? "request" : "flow";
    if (!r->cpu_measured) {
        printf("CPU-ms per %s: not measured (no steady window, or no process readable)\n", unit);
        return;
    }
    printf("CPU-ms per %s (steady window %.1f s, %.0f %ss):", unit, r->cpu.window_s, r->cpu.units, unit);
    for (int i = 0; i < TK_CPU_NROLES; i++) {
        if (i == TK_CPU_NGINX && isnan(r->cpu.per_unit[i]))
            continue; /* no nginx in front: not worth a column */
        if (isnan(r->cpu.per_unit[i]))
            printf("  %s -", tk_cpu_role_name(i));
        else
            printf("  %s %.3f", tk_cpu_role_name(i), r->cpu.per_unit[i]);
    }
    if (isnan(r->cpu.backend_total))
        printf("  backend_total -\n");
    else
        printf("  backend_total %.3f\n", r->cpu.backend_total);
}

static void print_summary(const tk_bench_result *r, const char *path)
{
    static const char *kinds[TK_BENCH_NERRKINDS] = {"connect", "timeout", "read", "status"};
    printf("\nticketctl bench: %s model, %d users, ramp %.1fs, duration %.1fs, think %lld ms, %d threads, %s engine "
           "-> %s%s\n",
           r->open_model ? "open" : "closed", r->users, (double)r->ramp_ms / 1000.0, (double)r->duration_ms / 1000.0,
           (long long)r->think_ms, r->threads, r->engine[0] ? r->engine : "curl", r->target, r->url_path);
    print_cpu(r);
    if (r->open_model)
        printf("iterations: scheduled %llu  started %llu  late %llu  dropped %llu (max delay %lld ms)\n",
               (unsigned long long)r->iters_scheduled, (unsigned long long)r->iters_started,
               (unsigned long long)r->iters_late, (unsigned long long)r->iters_dropped, (long long)r->max_delay_ms);
    printf("requests %llu  errors %llu (%.2f%%)  tps %.1f  steady tps %.1f  flows completed %llu\n\n",
           (unsigned long long)r->requests, (unsigned long long)r->errors, r->error_rate * 100.0, r->tps,
           r->steady_tps, (unsigned long long)r->flows_completed);
    printf("  %-9s %10s %8s %9s %9s %9s %9s %9s %9s   (latency in ms)\n", "", "requests", "errors", "tps", "p50",
           "p90", "p95", "p99", "max");
    print_latency_row("overall", r->requests, r->errors, r->tps, &r->latency);
    print_latency_row("uncorr.", r->requests, r->errors, r->tps, &r->uncorrected_latency);
    print_latency_row("steady", r->steady_requests, r->steady_errors, r->steady_tps, &r->steady_latency);
    for (int s = 0; s < TK_BENCH_NSTEPS; s++)
        if (r->steps[s].requests ||
            (s != TK_STEP_URL && s != TK_STEP_QTOKEN && s != TK_STEP_QPOLL && !r->url_path[0]))
            print_latency_row(r->steps[s].name, r->steps[s].requests, r->steps[s].errors, r->steps[s].tps,
                          &r->steps[s].latency);
    if (strcmp(r->queue, "none") && r->queue[0])
        printf("\nwaiting room (%s): admissions %llu  arrival->admission p50 %.1f ms  p95 %.1f ms  max %.1f ms\n"
               "  fairness: Kendall tau distance %.4f over %llu pairs (0 = admitted in arrival order)\n",
               r->queue, (unsigned long long)r->admissions, r->admission_wait.p50, r->admission_wait.p95,
               r->admission_wait.max, r->fairness_kendall, (unsigned long long)r->fairness_pairs);
    printf("\nerrors by kind:");
    for (int k = 0; k < TK_BENCH_NERRKINDS; k++)
        printf("  %s %llu", kinds[k], (unsigned long long)r->by_kind[k]);
    printf("\nerrors by status:");
    int any = 0;
    for (int s = 0; s < TK_BENCH_MAX_STATUS; s++)
        if (r->by_status[s]) {
            printf("  %d: %llu", s, (unsigned long long)r->by_status[s]);
            any = 1;
        }
    printf("%s\noutcomes: seat_taken %llu  sold_out %llu\n", any ? "" : "  none", (unsigned long long)r->seat_taken,
           (unsigned long long)r->sold_out);
    printf("peak RSS: bench %.1f MiB", (double)r->peak_rss_bytes / 1048576.0);
    if (r->server_peak_rss_bytes > 0)
        printf(", server %.1f MiB", (double)r->server_peak_rss_bytes / 1048576.0);
    printf("\ninvariants:");
    if (!r->invariants_checked)
        printf(" skipped (--no-invariants)\n");
    else
        printf("\n");
    for (size_t i = 0; r->invariants_checked && i < r->ninvariants; i++)
        printf("  %-4s %s: %s\n", r->invariants[i].ok ? "OK" : "FAIL", r->invariants[i].name,
               r->invariants[i].detail);
    printf("latency p99.9 %.2f ms  p99.99 %.2f ms  (uncorrected %.2f / %.2f ms)\n", r->latency.p999, r->latency.p9999,
           r->uncorrected_latency.p999, r->uncorrected_latency.p9999);
    printf("generator: %s  cpu %.2f s  busiest thread %.0f %%  loop lag p99 %.2f ms max %.2f ms%s%s\n",
           r->valid ? "valid" : "NOT VALID", r->gen_cpu_s, r->gen_cpu_util * 100.0, r->lag_p99_ms, r->lag_max_ms,
           r->valid ? "" : ": ", r->invalid_reason);
    if (r->nthresholds)
        printf("thresholds:\n");
    for (size_t i = 0; i < r->nthresholds; i++)
        printf("  %-4s %s  (%s)\n", r->thresholds[i].ok ? "OK" : "FAIL", r->thresholds[i].text, r->thresholds[i].detail);
    printf("results: %s\n", path);
}

static int metric_lookup(const char *scope, const char *metric, double *value, void *ud)
{
    return tk_bench_metric(ud, scope, metric, value);
}

/* Everything the flags say; cfg is what lib/bench runs. */
typedef struct bench_args {
    tk_bench_config cfg;
    const char *out, *mysql, *redis, *state, *stages, *jsonl, *junit;
    int check, json, ramp_given, think_given, users_given, duration_given, delay_given;
    int model; /* -1 unset, 0 closed, 1 open */
    double rate;
    tk_threshold th[TK_THRESHOLDS_MAX];
    size_t nth;
    int64_t queue_ops, pipeline, waiting, waiting_sched;
    int queue_reset;
    int server_pids[TK_CPU_MAX_PIDS];
    int nserver_pids;
} bench_args;

/* Parse argv into a (values checked by the table). Returns -1 when the
 * run should go on, else the exit code (0 after --help, 2 usage). */
static int parse_args(int argc, char **argv, bench_args *a)
{
    const tk_optset *set = &tk_optset_bench;
    tk_bench_config *cfg = &a->cfg;
    char terr[512];
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, set, argc, argv, &v)) > 0) {
        switch (c) {
        case 'u':
        case OPT_CONNECTIONS: cfg->users = (int)v.i, a->users_given = 1; break;
        case 'r': cfg->ramp_ms = v.i, a->ramp_given = 1; break;
        case 'd': cfg->duration_ms = v.i, a->duration_given = 1; break;
        case 'k': cfg->think_ms = v.i, a->think_given = 1; break;
        case OPT_RATE: a->rate = v.d; break;
        case OPT_STAGES: a->stages = v.str; break;
        case OPT_MODEL: a->model = (int)v.i; break; /* closed|open */
        case OPT_URL: cfg->url_path = v.str; break;
        case OPT_QUEUE_OPS: a->queue_ops = v.i; break;
        case OPT_WAITING: a->waiting = v.i; break; /* --waiting N [--waiting-schedule ID]: tk_waitload_run */
        case OPT_WAITING_SCHEDULE: a->waiting_sched = v.i; break;
        case OPT_QUEUE_RESET: a->queue_reset = 1; break;
        case OPT_PIPELINE: a->pipeline = v.i; break;
        case OPT_ENGINE: cfg->engine = v.str; break;
        case OPT_STRATEGY: {
            const char *why;
            if (!tk_strategy_for_serve(v.str, &why))
                return tk_opt_error(set, "--strategy: \"%s\": %s", v.str, why);
            cfg->strategy = v.str;
            break;
        }
        case OPT_QUEUE: cfg->queue = v.str; break;
        case OPT_MAX_DELAY: cfg->max_delay_ms = v.i, a->delay_given = 1; break;
        case OPT_THRESHOLD:
            if (a->nth >= TK_THRESHOLDS_MAX)
                return tk_opt_error(set, "--threshold: at most %d", TK_THRESHOLDS_MAX);
            if (tk_threshold_parse(v.str, &a->th[a->nth], terr, sizeof terr) != 0)
                return tk_opt_error(set, "--threshold: %s", terr);
            a->nth++;
            break;
        case OPT_MAX_CPU: cfg->max_cpu = v.d; break;
        case OPT_MAX_LAG: cfg->max_lag_ms = v.d; break;
        case 't': cfg->target = v.str; break;
        case 'T': cfg->threads = (int)v.i; break;
        case 'o': a->out = v.str; break;
        case OPT_OUT_JSONL: a->jsonl = v.str; break;
        case OPT_JUNIT: a->junit = v.str; break;
        case OPT_SERVER_PID:
            if (a->nserver_pids >= TK_CPU_MAX_PIDS)
                return tk_opt_error(set, "--server-pid: at most %d", TK_CPU_MAX_PIDS);
            if (!cfg->server_pid)
                cfg->server_pid = (int)v.i;
            a->server_pids[a->nserver_pids++] = (int)v.i;
            break;
        case OPT_MYSQL_PID: cfg->cpu.mysql_pid = (int)v.i; break;
        case OPT_REDIS_PID: cfg->cpu.redis_pid = (int)v.i; break;
        case OPT_TIMEOUT: cfg->timeout_ms = v.i; break;
        case OPT_MYSQL: a->mysql = v.str; break;
        case OPT_STATE: a->state = v.str; break;
        case OPT_REDIS: a->redis = v.str; break; /* --queue-ops and --waiting; the HTTP bench needs only MariaDB */
        case OPT_KAFKA: break; /* accepted for symmetry with the other commands */
        case OPT_NO_INVARIANTS: a->check = 0; break;
        case OPT_JSON: a->json = 1; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind < argc)
        return tk_opt_error(set, "unexpected argument '%s'", argv[optind]);
    return -1;
}

/* --waiting N: simulated users in one schedule's waiting room. */
static int waiting_run(const bench_args *a)
{
    const tk_bench_config *cfg = &a->cfg;
    if (!cfg->queue || strcmp(cfg->queue, "redis") != 0)
        return tk_opt_error(&tk_optset_bench, "--waiting needs --queue redis");
    tk_waitload_config wc;
    tk_waitload_config_default(&wc);
    wc.target = cfg->target;
    wc.sale = (uint64_t)a->waiting_sched;
    wc.users = a->waiting;
    wc.progress = !a->json;
    wc.server_pid = cfg->server_pid;
    wc.redis_pid = cfg->cpu.redis_pid;
    if (a->users_given)
        wc.connections = cfg->users > 4096 ? 4096 : cfg->users;
    if (a->rate > 0)
        wc.enqueue_per_s = a->rate;
    if (a->duration_given)
        wc.max_seconds = cfg->duration_ms / 1000 > 0 ? cfg->duration_ms / 1000 : 1;
    return queue_waiting_run(&wc, NULL, a->state, a->redis, a->mysql, a->out, "ticketctl bench --waiting");
}

/* The load model, ramp and stages from the flags that interact (--model,
 * --rate, --stages, --ramp, --duration, --url). Returns 0, or 2 with the
 * one-line error printed. */
static int plan_load(bench_args *a, tk_bench_stage *stages /* TK_BENCH_MAX_STAGES */)
{
    const tk_optset *set = &tk_optset_bench;
    tk_bench_config *cfg = &a->cfg;
    char terr[512];
    int model = a->model < 0 ? a->rate > 0 : a->model;
    if (a->rate > 0 && !model)
        return tk_opt_error(set, "--rate needs the open model");
    if (a->rate > 0 && a->stages)
        return tk_opt_error(set, "give either --rate or --stages");
    if (model && !a->rate && !a->stages)
        return tk_opt_error(set, "the open model needs --rate or --stages");
    cfg->open_model = model;
    if (cfg->url_path) { /* single endpoint: closed loop as wrk unless told otherwise */
        if (!a->think_given)
            cfg->think_ms = 0;
        if (!a->ramp_given)
            cfg->ramp_ms = 0;
        a->check = 0;
    }
    if (model && !a->ramp_given)
        cfg->ramp_ms = 0;
    if (model && !a->delay_given)
        cfg->max_delay_ms = cfg->timeout_ms;
    if (a->stages) {
        int n = tk_bench_parse_stages(a->stages, stages, TK_BENCH_MAX_STAGES, terr, sizeof terr);
        if (n < 0)
            return tk_opt_error(set, "--stages: %s", terr);
        int64_t sum = 0;
        double top = 0;
        for (int i = 0; i < n; i++) {
            sum += stages[i].duration_ms;
            top = stages[i].from > top ? stages[i].from : top;
            top = stages[i].to > top ? stages[i].to : top;
        }
        if (a->duration_given && sum != cfg->duration_ms)
            return tk_opt_error(set, "the stages last %lld ms but --duration is %lld ms", (long long)sum,
                                (long long)cfg->duration_ms);
        cfg->duration_ms = sum;
        if (!model && !a->users_given)
            cfg->users = (int)top + ((double)(int)top < top);
        if (!model && top > cfg->users)
            return tk_opt_error(set, "the stages want %.0f VUs, more than --users %d", top, cfg->users);
        cfg->stages = stages;
        cfg->nstages = (size_t)n;
        cfg->ramp_ms = 0;
    } else if (model) { /* --rate R [--ramp DUR]: 0 -> R over the ramp, then R */
        if (cfg->ramp_ms > cfg->duration_ms)
            return tk_opt_error(set, "--ramp must not be longer than --duration");
        size_t n = 0;
        if (cfg->ramp_ms > 0)
            stages[n++] = (tk_bench_stage){cfg->ramp_ms, 0, a->rate};
        if (cfg->duration_ms > cfg->ramp_ms)
            stages[n++] = (tk_bench_stage){cfg->duration_ms - cfg->ramp_ms, a->rate, a->rate};
        cfg->stages = stages;
        cfg->nstages = n;
    }
    if (!a->ramp_given && cfg->ramp_ms > cfg->duration_ms / 2)
        cfg->ramp_ms = cfg->duration_ms / 2; /* the default ramp fits short runs */
    if (cfg->ramp_ms > cfg->duration_ms)
        return tk_opt_error(set, "--ramp must not be longer than --duration");
    return 0;
}

/* The invariants (unless skipped) and thresholds of r: 0 all held, 1 an
 * invariant failed, 3 a threshold failed. */
static int gate(const bench_args *a, tk_bench_result *r)
{
    char err[512];
    int rc = 0;
    if (a->check) {
        r->invariants_checked = 1;
        int n = tk_invariants_check_url(a->mysql, a->state, r->invariants, TK_INVARIANTS_MAX, err, sizeof err);
        if (n < 0) {
            r->ninvariants = 1;
            snprintf(r->invariants[0].name, sizeof r->invariants[0].name, "invariants checked");
            r->invariants[0].ok = 0;
            snprintf(r->invariants[0].detail, sizeof r->invariants[0].detail, "%.200s", err);
        } else {
            r->ninvariants = (size_t)n;
        }
        if (!tk_invariants_all_ok(r->invariants, r->ninvariants))
            rc = 1;
    }
    int th_failed = 0;
    for (size_t i = 0; i < a->nth; i++) {
        tk_threshold_eval(&a->th[i], metric_lookup, r, &r->thresholds[i]);
        if (!r->thresholds[i].ok) {
            th_failed++;
            fprintf(stderr, "ticketctl bench: threshold failed: %s: %s\n", r->thresholds[i].text,
                    r->thresholds[i].detail);
        }
    }
    r->nthresholds = a->nth;
    if (th_failed && rc == 0)
        rc = 3;
    if (!r->valid)
        fprintf(stderr, "ticketctl bench: warning: results not valid: %s\n", r->invalid_reason);
    return rc;
}

int cmd_bench(int argc, char **argv)
{
    static bench_args a; /* large (thresholds); one run per process */
    memset(&a, 0, sizeof a);
    a.cfg = (tk_bench_config){
        .target = "http://127.0.0.1:8080",
        .users = 100,
        .ramp_ms = 10000,
        .duration_ms = 60000,
        .think_ms = 1000,
        .timeout_ms = 10000,
    };
    a.check = 1;
    a.model = -1;
    a.pipeline = 1;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    tk_bench_config *cfg = &a.cfg;
    if (a.queue_reset)
        return queue_reset_run(a.mysql, a.redis, a.state);
    if (a.waiting > 0)
        return waiting_run(&a);
    if (a.queue_ops > 0)
        return queue_ops_run(a.queue_ops, a.users_given ? cfg->users : 50, (int)a.pipeline, a.mysql, a.redis, a.state,
                             a.out, a.json);
    static tk_bench_stage stages[TK_BENCH_MAX_STAGES];
    if (plan_load(&a, stages) != 0)
        return 2;

    long nofile = tk_raise_nofile((long)cfg->users + 1024);
    if (nofile > 0 && nofile < (long)cfg->users + 64)
        fprintf(stderr, "ticketctl bench: warning: open-file limit %ld is low for %d users\n", nofile, cfg->users);

    char err[512], state_dir[1024];
    if (tk_bench_probe(cfg->target, cfg->timeout_ms, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        return 1;
    }
    /* CPU per flow: the processes to sample (cpustat.h finds what is not given) */
    cfg->cpu.server_pids = a.server_pids;
    cfg->cpu.nserver = a.nserver_pids;
    cfg->cpu.mysql_url = a.mysql;
    cfg->cpu.redis_url = a.redis;
    if (tk_dev_state_dir(a.state, state_dir, sizeof state_dir, err, sizeof err) == 0)
        cfg->cpu.state_dir = state_dir;
    is_tty = isatty(STDERR_FILENO);
    progress_ctx pc = {.users = cfg->users};
    if (a.jsonl && !(pc.jsonl = strcmp(a.jsonl, "-") ? fopen(a.jsonl, "w") : stdout)) {
        fprintf(stderr, "ticketctl bench: --out-jsonl %s: %s\n", a.jsonl, strerror(errno));
        return 1;
    }
    cfg->progress = on_progress;
    cfg->progress_ud = &pc;
    tk_bench_result *r = tk_bench_run(cfg, err, sizeof err);
    if (pc.jsonl && pc.jsonl != stdout)
        fclose(pc.jsonl);
    if (is_tty)
        fprintf(stderr, "\n");
    if (!r) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        return 1;
    }
    rc = gate(&a, r);

    char path[1024];
    if (a.out)
        snprintf(path, sizeof path, "%s", a.out);
    else if (tk_bench_default_path(path, sizeof path) != 0)
        snprintf(path, sizeof path, "reports/out/bench.json");
    if (tk_bench_write_json(r, path, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        rc = 1;
    } else if (a.junit && write_junit(path, a.junit) != 0) {
        rc = 1;
    }
    if (a.json) {
        char *text = tk_bench_result_json(r);
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        print_summary(r, path);
    }
    tk_bench_result_free(r);
    return rc;
}
