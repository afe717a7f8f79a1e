/* ticketctl bench: parse flags, run lib/bench, check the invariants, write
 * the results JSON and print a summary. All the work is in lib/. */
#include "commands.h"

#include "ticketctl/bench.h"
#include "ticketctl/common.h"
#include "ticketctl/invariants.h"

#include <getopt.h>
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
};

static const struct option longopts[] = {
    {"users", required_argument, NULL, OPT_USERS},
    {"ramp", required_argument, NULL, OPT_RAMP},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"think-time", required_argument, NULL, OPT_THINK},
    {"target", required_argument, NULL, OPT_TARGET},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"out", required_argument, NULL, OPT_OUT},
    {"server-pid", required_argument, NULL, OPT_SERVER_PID},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"mysql", required_argument, NULL, OPT_MYSQL},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"kafka-brokers", required_argument, NULL, OPT_KAFKA},
    {"state", required_argument, NULL, OPT_STATE},
    {"no-invariants", no_argument, NULL, OPT_NO_INVARIANTS},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl bench [options]\n\n"
            "Run closed-model virtual users through the booking flow (balance, charge,\n"
            "concerts, dates, seats, reserve, pay) against a running server, then check\n"
            "the data invariants in MariaDB and write the results JSON.\n\n"
            "  -u, --users N          virtual users (seeded users 1..N must exist; default 100)\n"
            "  -r, --ramp DUR         start the users linearly over DUR (default 10s, at most\n"
            "                         half the duration unless given)\n"
            "  -d, --duration DUR     whole run, ramp included (default 60s)\n"
            "  -k, --think-time MS    mean think time between steps, +-50%% (default 1000)\n"
            "  -t, --target URL       server base URL (default http://127.0.0.1:8080)\n"
            "  -T, --threads N        event-loop threads (default: one per CPU)\n"
            "      --timeout DUR      per-request timeout (default 10s)\n"
            "  -o, --out FILE         results JSON (default reports/out/bench-<UTC>.json)\n"
            "      --server-pid PID   sample the server's peak RSS from /proc/PID/status\n"
            "      --no-invariants    skip the MariaDB invariant checks\n"
            "      --json             print the results JSON on stdout instead of the summary\n"
            "      --mysql URL --redis URL --kafka-brokers LIST --state DIR\n"
            "                         backends (for the invariant checks)\n"
            "  -h, --help             this help\n\n"
            "DUR is like 250ms, 60s, 2m or plain milliseconds.\n"
            "Exit status: 0 run done and every invariant holds, 1 an invariant failed or\n"
            "the run could not start, 2 usage error.\n");
}

static int is_tty;

static void on_progress(const tk_bench_point *p, double elapsed_s, uint64_t requests, uint64_t errors, void *ud)
{
    int users = *(const int *)ud;
    (void)requests;
    if (!is_tty && p->t % 5 != 0)
        return;
    fprintf(stderr, "%s[%6.1fs] vus %5d/%-5d  req/s %8.1f  errors %-8llu  p99 %8.2f ms%s", is_tty ? "\r" : "",
            elapsed_s, p->vus, users, p->rps, (unsigned long long)errors, p->p99, is_tty ? "  " : "\n");
    fflush(stderr);
}

static void print_latency_row(const char *name, uint64_t requests, uint64_t errors, double tps,
                              const tk_bench_latency *l)
{
    printf("  %-9s %10llu %8llu %9.1f %9.2f %9.2f %9.2f %9.2f %9.2f\n", name, (unsigned long long)requests,
           (unsigned long long)errors, tps, l->p50, l->p90, l->p95, l->p99, l->max);
}

static void print_summary(const tk_bench_result *r, const char *path)
{
    static const char *kinds[TK_BENCH_NERRKINDS] = {"connect", "timeout", "read", "status"};
    printf("\nticketctl bench: %d users, ramp %.1fs, duration %.1fs, think %lld ms, %d threads -> %s\n", r->users,
           (double)r->ramp_ms / 1000.0, (double)r->duration_ms / 1000.0, (long long)r->think_ms, r->threads,
           r->target);
    printf("requests %llu  errors %llu (%.2f%%)  tps %.1f  steady tps %.1f  flows completed %llu\n\n",
           (unsigned long long)r->requests, (unsigned long long)r->errors, r->error_rate * 100.0, r->tps,
           r->steady_tps, (unsigned long long)r->flows_completed);
    printf("  %-9s %10s %8s %9s %9s %9s %9s %9s %9s   (latency in ms)\n", "", "requests", "errors", "tps", "p50",
           "p90", "p95", "p99", "max");
    print_latency_row("overall", r->requests, r->errors, r->tps, &r->latency);
    print_latency_row("steady", r->steady_requests, r->steady_errors, r->steady_tps, &r->steady_latency);
    for (int s = 0; s < TK_BENCH_NSTEPS; s++)
        print_latency_row(r->steps[s].name, r->steps[s].requests, r->steps[s].errors, r->steps[s].tps,
                          &r->steps[s].latency);
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
    printf("results: %s\n", path);
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
    const char *out = NULL, *mysql = NULL, *state = NULL;
    int check = 1, json = 0, ramp_given = 0;
    int64_t v;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "u:r:d:k:t:T:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_USERS:
            if (tk_parse_i64(optarg, 1, 10000000, &v) != 0)
                goto bad;
            cfg.users = (int)v;
            break;
        case OPT_RAMP:
            if (tk_parse_duration_ms(optarg, &cfg.ramp_ms) != 0)
                goto bad;
            ramp_given = 1;
            break;
        case OPT_DURATION:
            if (tk_parse_duration_ms(optarg, &cfg.duration_ms) != 0 || cfg.duration_ms <= 0)
                goto bad;
            break;
        case OPT_THINK:
            if (tk_parse_duration_ms(optarg, &cfg.think_ms) != 0)
                goto bad;
            break;
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
        case OPT_SERVER_PID:
            if (tk_parse_i64(optarg, 1, 4194304, &v) != 0)
                goto bad;
            cfg.server_pid = (int)v;
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
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ticketctl bench: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
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
    is_tty = isatty(STDERR_FILENO);
    cfg.progress = on_progress;
    cfg.progress_ud = &cfg.users;
    tk_bench_result *r = tk_bench_run(&cfg, err, sizeof err);
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

    char path[1024];
    if (out)
        snprintf(path, sizeof path, "%s", out);
    else if (tk_bench_default_path(path, sizeof path) != 0)
        snprintf(path, sizeof path, "reports/out/bench.json");
    if (tk_bench_write_json(r, path, err, sizeof err) != 0) {
        fprintf(stderr, "ticketctl bench: %s\n", err);
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
    fprintf(stderr, "ticketctl bench: bad value for %s: '%s'\n", argv[optind - 1], optarg);
    usage(stderr);
    return 2;
}
