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
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    OPT_USERS = 'u',
    OPT_RAMP = 'r',
    OPT_DURATION = 'd',
    OPT_THINK = 'k',
    OPT_TARGET = 't',
    OPT_THREADS = 'T',
    OPT_OUT = 'o',
    OPT_HELP = 'h',
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

static const struct option longopts[] = {
    {"users", required_argument, NULL, OPT_USERS},
    {"ramp", required_argument, NULL, OPT_RAMP},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"think-time", required_argument, NULL, OPT_THINK},
    {"target", required_argument, NULL, OPT_TARGET},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"out", required_argument, NULL, OPT_OUT},
    {"out-jsonl", required_argument, NULL, OPT_OUT_JSONL},
    {"junit", required_argument, NULL, OPT_JUNIT},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"mysql-pid", required_argument, NULL, OPT_MYSQL_PID},
    {"redis-pid", required_argument, NULL, OPT_REDIS_PID},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"mysql", required_argument, NULL, OPT_MYSQL},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"kafka-brokers", required_argument, NULL, OPT_KAFKA},
    {"state", required_argument, NULL, OPT_STATE},
    {"no-invariants", no_argument, NULL, OPT_NO_INVARIANTS},
    {"json", no_argument, NULL, OPT_JSON},
    {"rate", required_argument, NULL, OPT_RATE},
    {"stages", required_argument, NULL, OPT_STAGES},
    {"model", required_argument, NULL, OPT_MODEL},
    {"url", required_argument, NULL, OPT_URL},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"max-delay", required_argument, NULL, OPT_MAX_DELAY},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"max-cpu", required_argument, NULL, OPT_MAX_CPU},
    {"max-loop-lag", required_argument, NULL, OPT_MAX_LAG},
    {"queue", required_argument, NULL, OPT_QUEUE},
    {"strategy", required_argument, NULL, OPT_STRATEGY},
    {"engine", required_argument, NULL, OPT_ENGINE},
    {"queue-ops", required_argument, NULL, OPT_QUEUE_OPS},
    {"pipeline", required_argument, NULL, OPT_PIPELINE},
    {"queue-reset", no_argument, NULL, OPT_QUEUE_RESET},
    {"waiting", required_argument, NULL, OPT_WAITING},
    {"waiting-schedule", required_argument, NULL, OPT_WAITING_SCHEDULE},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl bench [options]\n\n"
            "Run virtual users through the booking flow (balance, charge, concerts, dates,\n"
            "seats, reserve, pay) against a running server, then check the data\n"
            "invariants in MariaDB, evaluate the thresholds and write the results JSON.\n\n"
            "  -u, --users N          virtual users (seeded users 1..N must exist; default 100)\n"
            "  -r, --ramp DUR         start the users linearly over DUR (default 10s, at most\n"
            "                         half the duration unless given)\n"
            "  -d, --duration DUR     whole run, ramp included (default 60s)\n"
            "  -k, --think-time MS    mean think time between steps, +-50%% (default 1000)\n"
            "  -t, --target URL       server base URL (default http://127.0.0.1:8080)\n"
            "  -T, --threads N        event-loop threads (default: one per CPU)\n"
            "      --timeout DUR      per-request timeout (default 10s)\n"
            "  -o, --out FILE         results JSON (default reports/out/bench-<UTC>.json)\n"
            "      --out-jsonl FILE   while the run goes on, one JSON line per second (the results'\n"
            "                         timeseries entry); '-' for stdout\n"
            "      --junit FILE       the thresholds, invariants and generator self-check as JUnit\n"
            "                         XML for CI (ticketctl report --junit)\n"
            "      --server-pid PID   a server process (repeatable): its CPU per flow over the steady\n"
            "                         window, and the first one's peak RSS (default: whoever listens\n"
            "                         on the target's port, or the dev stack's instances)\n"
            "      --mysql-pid PID --redis-pid PID\n"
            "                         mariadbd / redis-server for the CPU per flow (default: the\n"
            "                         listeners of --mysql / --redis, else the dev stack's)\n"
            "      --no-invariants    skip the MariaDB invariant checks\n"
            "      --json             print the results JSON on stdout instead of the summary\n"
            "      --mysql URL --redis URL --kafka-brokers LIST --state DIR\n"
            "                         backends (for the invariant checks)\n\n"
            "Load models:\n"
            "      --model closed|open  closed (default): VUs loop; open: iterations arrive\n"
            "                         at a rate whether or not the server keeps up\n"
            "      --rate R           open model at R ITERATIONS per second (an iteration is\n"
            "                         one pass of the 7 steps, or one request with --url);\n"
            "                         with --ramp the rate goes 0 -> R over the ramp first\n"
            "      --stages SPEC      staged profile DUR:FROM-TO or DUR:VALUE, comma separated,\n"
            "                         e.g. 60s:0-5000,120s:5000; rates (iterations/s) in the\n"
            "                         open model, VUs in the closed one; sets the duration\n"
            "      --max-delay DUR    open model: an iteration that found no free VU waits at\n"
            "                         most DUR for one, then counts as dropped (default: the\n"
            "                         --timeout; 0 drops at once); --users is the VU pool\n"
            "      --url PATH         single-endpoint mode: GET <target>PATH in a loop (no\n"
            "                         login, think time 0 and no ramp unless given, no\n"
            "                         invariant checks), comparable with wrk\n"
            "      --connections N    the same as --users (one connection per VU)\n"
            "      --engine auto|lean|curl  HTTP engine (default auto: the lean HTTP/1.1 keep-alive\n"
            "                         engine on http:// targets, libcurl on https://); curl is\n"
            "                         the peer to measure lean against\n"
            "      --strategy NAME    lock strategy of holds, sent as X-Lock-Strategy (the server\n"
            "                         must run `serve --allow-strategy-header`); default: the\n"
            "                         server's own (`ticketctl scenario strategies`)\n"
            "      --queue none|redis|mysql  waiting room (the server must run `serve --queue`\n"
            "                         with the same backend): after picking a schedule a VU\n"
            "                         takes a queue token, polls until admitted (honouring\n"
            "                         poll_after_ms), then holds and pays with X-Queue-Token;\n"
            "                         reports arrival->admission p50/p95 and fairness\n"
            "      --queue-ops N      instead of HTTP: N users enqueue then poll straight through\n"
            "                         lib/queue.c's Redis backend over --connections connections\n"
            "                         (default 50), --pipeline P calls in flight per connection\n"
            "                         (default 1); prints and writes ops/s (scripts/bench-queue)\n"
            "      --queue-reset      empty every waiting-room queue (Redis and MariaDB) and exit\n"
            "      --waiting N        with --queue redis: instead of the booking flow, N simulated users\n"
            "                         wait in one schedule's waiting room (lib/waitload.c, as `queue\n"
            "                         simulate`): --connections pool (default 128), --rate arrivals/s\n"
            "                         (default 5000), --duration at most (default 10m); enqueue, poll\n"
            "                         and admission rates, fairness, server and Redis CPU and RSS\n"
            "      --waiting-schedule ID  the schedule they wait for (default: the lowest id)\n\n"
            "Latency is measured from when each request should have been sent (the\n"
            "schedule in the open model), corrected for coordinated omission; the\n"
            "uncorrected figures are in the results beside it.\n\n"
            "Gates:\n"
            "      --threshold EXPR   [step.]metric OP value, repeatable: 'p95<100ms',\n"
            "                         'error_rate<0.1%%', 'tps>5000', 'double_bookings==0',\n"
            "                         'reserve.p99<200ms', 'dropped==0' (see threshold.h)\n"
            "      --max-cpu FRAC     mark the run invalid when a load thread's CPU/wall\n"
            "                         exceeds FRAC (default 0.90)\n"
            "      --max-loop-lag MS  ... or the event-loop lag p99 exceeds MS (default 25)\n"
            "  -h, --help             this help\n\n"
            "DUR is like 250ms, 60s, 2m or plain milliseconds.\n"
            "Exit status: 0 run done, every invariant and threshold holds; 1 an invariant\n"
            "failed or the run could not start; 2 usage error; 3 a threshold failed (and\n"
            "every invariant held). A saturated generator is reported (\"valid\": false)\n"
            "but does not change the exit status.\n");
}

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

int cmd_bench(int argc, char **argv)
{
    tk_bench_config cfg = {
        .target = "http://127.0.0.1:8080",
        .users = 100,
        .ramp_ms = 10000,
        .duration_ms = 60000,
        .think_ms = 1000,
        .timeout_ms = 10000,
    };
    const char *out = NULL, *mysql = NULL, *state = NULL, *stages_arg = NULL, *jsonl_path = NULL, *junit_path = NULL;
    int check = 1, json = 0, ramp_given = 0, think_given = 0, users_given = 0, duration_given = 0, delay_given = 0;
    int model = -1; /* -1 unset, 0 closed, 1 open */
    double rate = 0;
    static tk_threshold th[TK_THRESHOLDS_MAX];
    size_t nth = 0;
    char terr[512];
    int64_t v, queue_ops = 0, pipeline = 1, waiting = 0, waiting_sched = 0;
    int queue_reset = 0;
    static int server_pids[TK_CPU_MAX_PIDS];
    int nserver_pids = 0;
    char state_dir[1024];
    const char *redis = NULL;
    int opt;
    optind = 1;
    opterr = 0; /* one line of ours instead (tk_opt_getopt_hint) */
    while ((opt = getopt_long(argc, argv, "u:r:d:k:t:T:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_USERS:
        case OPT_CONNECTIONS:
            if (tk_parse_i64(optarg, 1, 10000000, &v) != 0)
                goto bad;
            cfg.users = (int)v;
            users_given = 1;
            break;
        case OPT_RAMP:
            if (tk_parse_duration_ms(optarg, &cfg.ramp_ms) != 0)
                goto bad;
            ramp_given = 1;
            break;
        case OPT_DURATION:
            if (tk_parse_duration_ms(optarg, &cfg.duration_ms) != 0 || cfg.duration_ms <= 0)
                goto bad;
            duration_given = 1;
            break;
        case OPT_THINK:
            if (tk_parse_duration_ms(optarg, &cfg.think_ms) != 0)
                goto bad;
            think_given = 1;
            break;
        case OPT_RATE: {
            char *end;
            rate = strtod(optarg, &end);
            if (end == optarg || *end || !(rate > 0) || rate > 1e7)
                goto bad;
            break;
        }
        case OPT_STAGES:
            stages_arg = optarg;
            break;
        case OPT_MODEL:
            if (strcmp(optarg, "open") == 0)
                model = 1;
            else if (strcmp(optarg, "closed") == 0)
                model = 0;
            else
                goto bad;
            break;
        case OPT_URL:
            cfg.url_path = optarg;
            break;
        case OPT_QUEUE_OPS:
            if (tk_parse_i64(optarg, 1, 100000000, &queue_ops) != 0)
                goto bad;
            break;
        case OPT_WAITING: /* --waiting N [--waiting-schedule ID]: tk_waitload_run */
        case OPT_WAITING_SCHEDULE:
            if (tk_parse_i64(optarg, 1, opt == OPT_WAITING ? 50000000 : INT64_MAX, &v) != 0)
                goto bad;
            *(opt == OPT_WAITING ? &waiting : &waiting_sched) = v;
            break;
        case OPT_QUEUE_RESET:
            queue_reset = 1;
            break;
        case OPT_PIPELINE:
            if (tk_parse_i64(optarg, 1, 64, &pipeline) != 0)
                goto bad;
            break;
        case OPT_ENGINE:
            if (strcmp(optarg, "auto") && strcmp(optarg, "lean") && strcmp(optarg, "curl"))
                goto bad;
            cfg.engine = optarg;
            break;
        case OPT_STRATEGY: {
            const char *why;
            if (!tk_strategy_for_serve(optarg, &why)) {
                fprintf(stderr, "bench: --strategy %s: %s\n", optarg, why);
                return 2;
            }
            cfg.strategy = optarg;
            break;
        }
        case OPT_QUEUE:
            if (strcmp(optarg, "none") && strcmp(optarg, "redis") && strcmp(optarg, "mysql"))
                goto bad;
            cfg.queue = optarg;
            break;
        case OPT_MAX_DELAY:
            if (tk_parse_duration_ms(optarg, &cfg.max_delay_ms) != 0)
                goto bad;
            delay_given = 1;
            break;
        case OPT_THRESHOLD:
            if (nth >= TK_THRESHOLDS_MAX) {
                fprintf(stderr, "ticketctl bench: at most %d thresholds\n", TK_THRESHOLDS_MAX);
                return 2;
            }
            if (tk_threshold_parse(optarg, &th[nth], terr, sizeof terr) != 0) {
                fprintf(stderr, "ticketctl bench: %s\n", terr);
                return 2;
            }
            nth++;
            break;
        case OPT_MAX_CPU: {
            char *end;
            cfg.max_cpu = strtod(optarg, &end);
            if (end == optarg || *end || !(cfg.max_cpu > 0) || cfg.max_cpu > 1)
                goto bad;
            break;
        }
        case OPT_MAX_LAG: {
            char *end;
            cfg.max_lag_ms = strtod(optarg, &end);
            if (end == optarg || *end || !(cfg.max_lag_ms > 0))
                goto bad;
            break;
        }
        case OPT_TARGET:
            cfg.target = optarg;
            break;
        case OPT_THREADS:
            if (tk_parse_i64(optarg, 1, 1024, &v) != 0)
                goto bad;
            cfg.threads = (int)v;
            break;
        case OPT_OUT:
            out = optarg;
            break;
        case OPT_OUT_JSONL:
            jsonl_path = optarg;
            break;
        case OPT_JUNIT:
            junit_path = optarg;
            break;
        case OPT_SERVER_PID:
            if (tk_parse_i64(optarg, 1, 4194304, &v) != 0)
                goto bad;
            if (nserver_pids >= TK_CPU_MAX_PIDS) {
                fprintf(stderr, "ticketctl bench: at most %d --server-pid\n", TK_CPU_MAX_PIDS);
                return 2;
            }
            if (!cfg.server_pid)
                cfg.server_pid = (int)v;
            server_pids[nserver_pids++] = (int)v;
            break;
        case OPT_MYSQL_PID:
        case OPT_REDIS_PID:
            if (tk_parse_i64(optarg, 1, 4194304, &v) != 0)
                goto bad;
            *(opt == OPT_MYSQL_PID ? &cfg.cpu.mysql_pid : &cfg.cpu.redis_pid) = (int)v;
            break;
        case OPT_TIMEOUT:
            if (tk_parse_duration_ms(optarg, &cfg.timeout_ms) != 0 || cfg.timeout_ms <= 0)
                goto bad;
            break;
        case OPT_MYSQL:
            mysql = optarg;
            break;
        case OPT_STATE:
            state = optarg;
            break;
        case OPT_REDIS:
            redis = optarg; /* --queue-ops only; the HTTP bench needs only MariaDB */
            break;
        case OPT_KAFKA:
            break; /* accepted for symmetry with the other commands; bench needs only MariaDB */
        case OPT_NO_INVARIANTS:
            check = 0;
            break;
        case OPT_JSON:
            json = 1;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        default:
            return tk_opt_getopt_hint("bench", longopts, argv);
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ticketctl bench: unexpected argument '%s' (try --help)\n", argv[optind]);
        return 2;
    }
    if (queue_reset)
        return queue_reset_run(mysql, redis, state);
    if (waiting > 0) {
        if (!cfg.queue || strcmp(cfg.queue, "redis") != 0) {
            fprintf(stderr, "ticketctl bench: --waiting needs --queue redis\n");
            return 2;
        }
        tk_waitload_config wc;
        tk_waitload_config_default(&wc);
        wc.target = cfg.target;
        wc.sale = (uint64_t)waiting_sched;
        wc.users = waiting;
        wc.progress = !json;
        wc.server_pid = cfg.server_pid;
        wc.redis_pid = cfg.cpu.redis_pid;
        if (users_given)
            wc.connections = cfg.users > 4096 ? 4096 : cfg.users;
        if (rate > 0)
            wc.enqueue_per_s = rate;
        if (duration_given)
            wc.max_seconds = cfg.duration_ms / 1000 > 0 ? cfg.duration_ms / 1000 : 1;
        return queue_waiting_run(&wc, NULL, state, redis, mysql, out, "ticketctl bench --waiting");
    }
    if (queue_ops > 0)
        return queue_ops_run(queue_ops, users_given ? cfg.users : 50, (int)pipeline, mysql, redis, state, out, json);
    /* load model */
    if (model < 0)
        model = rate > 0 ? 1 : 0;
    if (rate > 0 && !model) {
        fprintf(stderr, "ticketctl bench: --rate needs the open model\n");
        return 2;
    }
    if (rate > 0 && stages_arg) {
        fprintf(stderr, "ticketctl bench: give either --rate or --stages\n");
        return 2;
    }
    if (model && !rate && !stages_arg) {
        fprintf(stderr, "ticketctl bench: the open model needs --rate or --stages\n");
        return 2;
    }
    cfg.open_model = model;
    if (cfg.url_path) { /* single endpoint: closed loop as wrk unless told otherwise */
        if (!think_given)
            cfg.think_ms = 0;
        if (!ramp_given)
            cfg.ramp_ms = 0;
        check = 0;
    }
    if (model && !ramp_given)
        cfg.ramp_ms = 0;
    if (model && !delay_given)
        cfg.max_delay_ms = cfg.timeout_ms;
    static tk_bench_stage stages[TK_BENCH_MAX_STAGES];
    if (stages_arg) {
        int n = tk_bench_parse_stages(stages_arg, stages, TK_BENCH_MAX_STAGES, terr, sizeof terr);
        if (n < 0) {
            fprintf(stderr, "ticketctl bench: --stages: %s\n", terr);
            return 2;
        }
        int64_t sum = 0;
        double top = 0;
        for (int i = 0; i < n; i++) {
            sum += stages[i].duration_ms;
            top = stages[i].from > top ? stages[i].from : top;
            top = stages[i].to > top ? stages[i].to : top;
        }
        if (duration_given && sum != cfg.duration_ms) {
            fprintf(stderr, "ticketctl bench: the stages last %lld ms but --duration is %lld ms\n", (long long)sum,
                    (long long)cfg.duration_ms);
            return 2;
        }
        cfg.duration_ms = sum;
        if (!model && !users_given)
            cfg.users = (int)top + ((double)(int)top < top);
        if (!model && top > cfg.users) {
            fprintf(stderr, "ticketctl bench: the stages want %.0f VUs, more than --users %d\n", top, cfg.users);
            return 2;
        }
        cfg.stages = stages;
        cfg.nstages = (size_t)n;
        cfg.ramp_ms = 0;
    } else if (model) { /* --rate R [--ramp DUR]: 0 -> R over the ramp, then R */
        if (cfg.ramp_ms > cfg.duration_ms) {
            fprintf(stderr, "ticketctl bench: --ramp must not be longer than --duration\n");
            return 2;
        }
        size_t n = 0;
        if (cfg.ramp_ms > 0)
            stages[n++] = (tk_bench_stage){cfg.ramp_ms, 0, rate};
        if (cfg.duration_ms > cfg.ramp_ms)
            stages[n++] = (tk_bench_stage){cfg.duration_ms - cfg.ramp_ms, rate, rate};
        cfg.stages = stages;
        cfg.nstages = n;
    }
    if (!ramp_given && cfg.ramp_ms > cfg.duration_ms / 2)
        cfg.ramp_ms = cfg.duration_ms / 2; /* the default ramp fits short runs */
    if (cfg.ramp_ms > cfg.duration_ms) {
        fprintf(stderr, "ticketctl bench: --ramp must not be longer than --duration\n");
        return 2;
    }

    long nofile = tk_raise_nofile((long)cfg.users + 1024);
    if (nofile > 0 && nofile < (long)cfg.users + 64)
        fprintf(stderr, "ticketctl bench: warning: open-file limit %ld is low for %d users\n", nofile, cfg.users);

    char err[512];
    if (tk_bench_probe(cfg.target, cfg.timeout_ms, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        return 1;
    }
    /* CPU per flow: the processes to sample (cpustat.h finds what is not given) */
    cfg.cpu.server_pids = server_pids;
    cfg.cpu.nserver = nserver_pids;
    cfg.cpu.mysql_url = mysql;
    cfg.cpu.redis_url = redis;
    if (tk_dev_state_dir(state, state_dir, sizeof state_dir, err, sizeof err) == 0)
        cfg.cpu.state_dir = state_dir;
    is_tty = isatty(STDERR_FILENO);
    progress_ctx pc = {.users = cfg.users};
    if (jsonl_path && !(pc.jsonl = strcmp(jsonl_path, "-") ? fopen(jsonl_path, "w") : stdout)) {
        fprintf(stderr, "ticketctl bench: --out-jsonl %s: %s\n", jsonl_path, strerror(errno));
        return 1;
    }
    cfg.progress = on_progress;
    cfg.progress_ud = &pc;
    tk_bench_result *r = tk_bench_run(&cfg, err, sizeof err);
    if (pc.jsonl && pc.jsonl != stdout)
        fclose(pc.jsonl);
    if (is_tty)
        fprintf(stderr, "\n");
    if (!r) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        return 1;
    }

    int rc = 0;
    if (check) {
        r->invariants_checked = 1;
        int n = tk_invariants_check_url(mysql, state, r->invariants, TK_INVARIANTS_MAX, err, sizeof err);
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
    for (size_t i = 0; i < nth; i++) {
        tk_threshold_eval(&th[i], metric_lookup, r, &r->thresholds[i]);
        if (!r->thresholds[i].ok) {
            th_failed++;
            fprintf(stderr, "ticketctl bench: threshold failed: %s: %s\n", r->thresholds[i].text,
                    r->thresholds[i].detail);
        }
    }
    r->nthresholds = nth;
    if (th_failed && rc == 0)
        rc = 3;
    if (!r->valid)
        fprintf(stderr, "ticketctl bench: warning: results not valid: %s\n", r->invalid_reason);

    char path[1024];
    if (out)
        snprintf(path, sizeof path, "%s", out);
    else if (tk_bench_default_path(path, sizeof path) != 0)
        snprintf(path, sizeof path, "reports/out/bench.json");
    if (tk_bench_write_json(r, path, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
        rc = 1;
    } else if (junit_path && write_junit(path, junit_path) != 0) {
        rc = 1;
    }
    if (json) {
        char *text = tk_bench_result_json(r);
        if (text)
            printf("%s\n", text);
        free(text);
    } else {
        print_summary(r, path);
    }
    tk_bench_result_free(r);
    return rc;
bad:
    return tk_opt_getopt_bad("bench", longopts, opt, optarg);
}
