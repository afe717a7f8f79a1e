/* The load generator: closed-model virtual users running the booking flow.
 *
 * Each virtual user (VU) logs in once as seeded user N
 * (user<N>@bench.ticketctl / bench-password) and then loops over the seven
 * steps of DESIGN.md: balance, charge, concerts, dates, seats, reserve, pay,
 * with a think time (randomised +-50 %) between steps. VUs start linearly
 * over the ramp; the run lasts `duration` in total (ramp included).
 *
 * Engine: one event loop per thread (libevent) driving libcurl's multi
 * interface through curl_multi_socket_action() (the hiper pattern). Each VU
 * owns one easy handle, its buffers and its timer; every thread has its own
 * per-step histograms (hist.h) and counters, merged after the run, so the
 * hot loop takes no lock. Errors are counted by kind and status and never
 * stop the run.
 *
 * Units: configuration in milliseconds; latencies in the result in
 * milliseconds (double); rates per second. */
#ifndef TICKETCTL_BENCH_H
#define TICKETCTL_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "ticketctl/invariants.h"

typedef enum tk_bench_step_id {
    TK_STEP_BALANCE = 0, /* GET  /api/v1/points */
    TK_STEP_CHARGE,      /* POST /api/v1/points/charge */
    TK_STEP_CONCERTS,    /* GET  /api/v1/concerts?page=P&size=20 */
    TK_STEP_DATES,       /* GET  /api/v1/concerts/{id}/schedules */
    TK_STEP_SEATS,       /* GET  /api/v1/schedules/{id}/seats */
    TK_STEP_RESERVE,     /* POST /api/v1/reservations */
    TK_STEP_PAY,         /* POST /api/v1/payments (Idempotency-Key) */
    TK_STEP_LOGIN,       /* POST /api/v1/auth/login: not a flow step, reported last */
    TK_BENCH_NSTEPS
} tk_bench_step_id;

typedef enum tk_bench_err_kind {
    TK_BERR_CONNECT = 0, /* could not connect / resolve */
    TK_BERR_TIMEOUT,     /* --timeout expired */
    TK_BERR_READ,        /* any other transfer failure: reset, send/recv error, bad response */
    TK_BERR_STATUS,      /* an HTTP status that is neither success nor an expected outcome */
    TK_BENCH_NERRKINDS
} tk_bench_err_kind;

#define TK_BENCH_MAX_STATUS 600

/* Called once a second from the thread that called tk_bench_run(). */
struct tk_bench_point;
typedef void (*tk_bench_progress_fn)(const struct tk_bench_point *last_second, double elapsed_s,
                                     uint64_t requests_total, uint64_t errors_total, void *ud);

typedef struct tk_bench_config {
    const char *target;   /* base URL, e.g. "http://127.0.0.1:8080" (no trailing slash needed) */
    int users;            /* virtual users, >= 1 */
    int64_t ramp_ms;      /* VUs start linearly over this, >= 0 */
    int64_t duration_ms;  /* whole run, ramp included, > 0 */
    int64_t think_ms;     /* mean think time between steps, randomised +-50 % */
    int64_t timeout_ms;   /* per request, connect included */
    int threads;          /* event-loop threads; <= 0 means one per online CPU */
    int server_pid;       /* > 0: sample VmHWM/VmRSS of this process once a second */
    tk_bench_progress_fn progress; /* may be NULL */
    void *progress_ud;
} tk_bench_config;

typedef struct tk_bench_latency {
    double p50, p90, p95, p99, max, mean; /* ms; 0 when nothing was recorded */
} tk_bench_latency;

typedef struct tk_bench_step {
    const char *name; /* "balance" ... "pay", "login"; static storage */
    uint64_t requests; /* completed requests, errors included */
    uint64_t errors;
    double tps;        /* requests / run seconds */
    tk_bench_latency latency;
} tk_bench_step;

typedef struct tk_bench_point {
    int t;            /* second since the start, 1-based (covers (t-1, t]) */
    int vus;          /* VUs started by then */
    double rps;       /* requests completed in that second */
    uint64_t errors;  /* errors in that second */
    double p50, p95, p99; /* ms, of that second's requests */
} tk_bench_point;

typedef struct tk_bench_result {
    /* configuration actually used */
    char target[512];
    int users, threads;
    int64_t ramp_ms, duration_ms, think_ms, timeout_ms;
    char started_at[32]; /* "2026-11-21T05:00:00Z" */
    double elapsed_s;    /* measured run time */

    uint64_t requests, errors, flows_completed;
    uint64_t steady_requests, steady_errors;
    double error_rate, tps, steady_tps;
    tk_bench_latency latency;        /* every request with an HTTP response */
    tk_bench_latency steady_latency; /* requests that started after the ramp */
    tk_bench_step steps[TK_BENCH_NSTEPS];

    uint64_t by_kind[TK_BENCH_NERRKINDS];
    uint64_t by_status[TK_BENCH_MAX_STATUS]; /* error responses by HTTP status */
    uint64_t seat_taken;  /* 409 SEAT_TAKEN on reserve: expected, not an error */
    uint64_t sold_out;    /* iterations that found no available seat */

    tk_bench_point *series; /* one per second, owned by the result */
    size_t nseries;

    long long peak_rss_bytes;        /* this process (getrusage) */
    long long server_peak_rss_bytes; /* -1 unless config.server_pid was given and readable */

    /* filled by the caller (tk_invariants_check*), written by tk_bench_write_json */
    tk_invariant invariants[TK_INVARIANTS_MAX];
    size_t ninvariants;
    int invariants_checked; /* 0: skipped (written as an empty list) */
} tk_bench_result;

/* Run the bench to completion (blocking for config->duration_ms). Returns a
 * result the caller frees with tk_bench_result_free(), or NULL with a
 * message in err when the run could not start (bad config, out of memory,
 * thread or curl setup failure). Request failures never make it fail. */
tk_bench_result *tk_bench_run(const tk_bench_config *config, char *err /* OUT */, size_t errlen);

/* Free a result; NULL is a no-op. */
void tk_bench_result_free(tk_bench_result *r);

/* GET <target>/healthz once. Returns 0 when it answers 2xx, else -1 with
 * a message in err. */
int tk_bench_probe(const char *target, int64_t timeout_ms, char *err /* OUT */, size_t errlen);

/* Write r as the results JSON of docs/RESULTS.md (schema 1) to path,
 * creating missing parent directories. Returns 0, or -1 with a message. */
int tk_bench_write_json(const tk_bench_result *r, const char *path, char *err /* OUT */, size_t errlen);

/* r as the results JSON text (indented). The caller frees it with free().
 * Returns NULL when out of memory. */
char *tk_bench_result_json(const tk_bench_result *r);

/* Default results path "reports/out/bench-<UTC yyyymmddThhmmssZ>.json" into
 * buf. Returns 0, or -1 when it does not fit. */
int tk_bench_default_path(char *buf, size_t len);

#endif
