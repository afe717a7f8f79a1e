/* The load generator: closed- or open-model virtual users running the
 * booking flow, or a single endpoint.
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
 * stop the run. Single-endpoint mode (url_path) over plain http runs on the
 * lean keep-alive engine of httpload.h instead (libcurl's per-request cost
 * was the bottleneck there); https stays on libcurl.
 *
 * Load models. Closed (default): `users` VUs loop over the flow; the number
 * of active VUs follows `stages` (default: 0 -> users over the ramp, then
 * users). Open (`open_model`): iterations ARRIVE on a schedule, `stages`
 * giving the arrival rate in ITERATIONS per second (an iteration is one
 * pass of the seven steps, or one request in single-endpoint mode), spread
 * evenly (deterministic, as wrk2). `users` is then the pool of VUs (one
 * connection each) that run them. An iteration that finds no free VU waits
 * in a per-thread queue; one that cannot start within max_delay_ms of its
 * scheduled time (or finds the queue full) is counted as dropped, never
 * silently run later.
 *
 * Coordinated omission: every request has an intended start time: the
 * schedule for an iteration's first request in the open model, otherwise
 * the moment its think timer should have fired. The corrected latency runs
 * from the intended start, the uncorrected one from the actual send; both
 * are recorded (separate histograms), the corrected one is the headline. In
 * the closed model the two differ only by generator lateness: a closed
 * model cannot see server stalls as omission, use the open model for that.
 * Exception: single-endpoint mode, closed model, no think time corrects as
 * wrk does (expected-interval correction after the run, httpload.h), so its
 * figures compare with wrk's.
 *
 * The generator watches itself: per-thread CPU time against wall time and
 * the lateness of a 10 ms periodic timer in each event loop. When either
 * passes its limit the result is marked invalid, with the reason.
 *
 * Units: configuration in milliseconds; latencies in the result in
 * milliseconds (double); rates per second. */
#ifndef TICKETCTL_BENCH_H
#define TICKETCTL_BENCH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/cpustat.h"
#include "ticketctl/invariants.h"
#include "ticketctl/threshold.h"

typedef enum tk_bench_step_id {
    TK_STEP_BALANCE = 0, /* GET  /api/v1/points */
    TK_STEP_CHARGE,      /* POST /api/v1/points/charge */
    TK_STEP_CONCERTS,    /* GET  /api/v1/concerts?page=P&size=20 */
    TK_STEP_DATES,       /* GET  /api/v1/concerts/{id}/schedules */
    TK_STEP_SEATS,       /* GET  /api/v1/schedules/{id}/seats */
    TK_STEP_RESERVE,     /* POST /api/v1/reservations */
    TK_STEP_PAY,         /* POST /api/v1/payments (Idempotency-Key) */
    TK_STEP_LOGIN,       /* POST /api/v1/auth/login: not a flow step, reported after the flow */
    TK_STEP_URL,         /* GET <url_path>: single-endpoint mode only */
    TK_STEP_QTOKEN,      /* POST /api/v1/queue/{schedule}/token: waiting room (config.queue) only */
    TK_STEP_QPOLL,       /* GET  /api/v1/queue/{schedule}/status, every poll_after_ms until admitted */
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

#define TK_BENCH_MAX_STAGES 32

/* One stage of a load profile: the target goes linearly from `from` to `to`
 * over duration_ms. Targets are VUs (closed model) or iterations per second
 * (open model). */
typedef struct tk_bench_stage {
    int64_t duration_ms;
    double from, to;
} tk_bench_stage;

/* Parse "60s:0-5000,120s:5000" (DUR:FROM-TO or DUR:VALUE, comma separated)
 * into out[0..n-1]. Returns n (>= 1), or -1 with a message in err. */
int tk_bench_parse_stages(const char *s, tk_bench_stage *out, size_t cap, char *err /* OUT */, size_t errlen);

typedef struct tk_bench_config {
    const char *target;   /* base URL, e.g. "http://127.0.0.1:8080" (no trailing slash needed) */
    int users;            /* virtual users, >= 1 */
    int64_t ramp_ms;      /* VUs start linearly over this, >= 0 */
    int64_t duration_ms;  /* whole run, ramp included, > 0 */
    int64_t think_ms;     /* mean think time between steps, randomised +-50 % */
    int64_t timeout_ms;   /* per request, connect included */
    int threads;          /* event-loop threads; <= 0 means one per online CPU */
    int server_pid;       /* > 0: sample VmHWM/VmRSS of this process once a second */
    /* CPU per unit of work (cpustat.h): whose CPU clocks are read at the
     * start and at the end of the steady window. Every field may be 0/NULL
     * (find it: the listener of the target's port, the dev stack's
     * stack.env under cpu.state_dir); cpu.target is ignored (the target above
     * is used). With no_cpu set nothing is sampled. */
    tk_cpu_find_opts cpu;
    int no_cpu;
    int open_model;       /* 0 closed (VUs loop), 1 open (iterations arrive at a rate) */
    const tk_bench_stage *stages; /* NULL: closed 0 -> users over ramp_ms, then users;
                                     open model: required (a constant rate is one stage) */
    size_t nstages;       /* stages cover the whole run; duration_ms is their sum when given */
    const char *url_path; /* non-NULL: single-endpoint mode, GET <target><url_path>, no login */
    const char *url_authorization; /* single-endpoint mode: value of an Authorization header
                                      ("Bearer <token>"), or NULL for none */
    int64_t max_delay_ms; /* open model: an iteration not started this long after its
                             schedule is dropped (0: drop unless a VU is free at once) */
    /* Waiting room (queue.h): NULL or "none": the seven steps as they are;
     * "redis" / "mysql" (a label: the server must run `serve --queue` with
     * it): after choosing a schedule the VU takes a queue token, polls
     * (honouring poll_after_ms) until admitted, then holds and pays with
     * the X-Queue-Token header; payment ends the admission, so the next
     * iteration queues again. */
    const char *queue;
    /* Lock strategy of holds (strategy.h): NULL for the server's own;
     * else sent as X-Lock-Strategy on every request, which the server
     * honours when started with --allow-strategy-header (else 400). */
    const char *strategy;
    double max_cpu;       /* generator invalid when a thread's CPU/wall exceeds this (0: 0.90) */
    double max_lag_ms;    /* ... or the event-loop lag p99 exceeds this (0: 25 ms) */
    tk_bench_progress_fn progress; /* may be NULL */
    void *progress_ud;
} tk_bench_config;

typedef struct tk_bench_latency {
    double p50, p90, p95, p99, p999, p9999, max, mean; /* ms; 0 when nothing was recorded */
} tk_bench_latency;

typedef struct tk_bench_step {
    const char *name; /* "balance" ... "pay", "login"; static storage */
    uint64_t requests; /* completed requests, errors included */
    uint64_t errors;
    double tps;        /* requests / run seconds */
    tk_bench_latency latency;             /* corrected: from the intended start */
    tk_bench_latency uncorrected_latency; /* from the actual send */
} tk_bench_step;

/* Answers of one second by HTTP status: the first TK_BENCH_POINT_NSTATUS
 * distinct statuses seen, the rest in status_other; status 0 counts
 * requests that got no answer (connect, timeout, read errors). */
#define TK_BENCH_POINT_NSTATUS 12
typedef struct tk_bench_status_count {
    int status;
    uint64_t n;
} tk_bench_status_count;

/* Upper bounds (ms) of the response-time distribution's buckets, 1-2-5
 * steps from 0.1 ms to 10 s; the last bucket, above 10 s, has none. */
#define TK_BENCH_NDIST 17
extern const double tk_bench_dist_le_ms[TK_BENCH_NDIST - 1];

typedef struct tk_bench_point_step {
    uint64_t n;      /* answers of that step in that second */
    double p50, p95; /* ms, corrected */
} tk_bench_point_step;

typedef struct tk_bench_point {
    int t;            /* second since the start, 1-based (covers (t-1, t]) */
    int vus;          /* VUs started by then */
    double rps;       /* requests completed in that second */
    uint64_t errors;  /* errors in that second */
    double p50, p95, p99; /* ms, of that second's requests (corrected) */
    uint64_t dropped; /* iterations dropped in that second (open model) */
    tk_bench_point_step steps[TK_BENCH_NSTEPS]; /* per step (flow mode; empty in --url mode) */
    tk_bench_status_count status[TK_BENCH_POINT_NSTATUS];
    int nstatus;
    uint64_t status_other;
} tk_bench_point;

/* One second as the results file's timeseries entry: {"t", "vus", "rps",
 * "errors", "p50", "p95", "p99" (ms, corrected), "dropped", "steps":
 * {name: {"n", "p50", "p95"}} for the steps answered that second,
 * "status": {"200": n, ..., "0": no answer, "other": n}}. New reference
 * (caller decrefs), NULL on out-of-memory. bench --out-jsonl writes the
 * same objects while the run goes on. */
json_t *tk_bench_point_json(const tk_bench_point *p);

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
    tk_bench_latency latency;        /* every request with an HTTP response (corrected) */
    tk_bench_latency steady_latency; /* requests that started after the ramp (corrected) */
    tk_bench_latency uncorrected_latency, steady_uncorrected_latency;

    /* load model */
    int open_model;
    char url_path[256]; /* "" unless single-endpoint mode */
    tk_bench_stage stages[TK_BENCH_MAX_STAGES];
    size_t nstages;
    int64_t max_delay_ms;
    uint64_t iters_scheduled; /* open model: iterations due by the end */
    uint64_t iters_started;   /* both models */
    uint64_t iters_late;      /* open model: started after waiting for a free VU */
    uint64_t iters_dropped;   /* open model: never started (no VU within max_delay / queue full) */

    /* the generator watching itself */
    int valid;               /* 1 unless the generator saturated */
    char invalid_reason[256];
    double gen_cpu_s;        /* process CPU (user + sys, getrusage) */
    double gen_cpu_util;     /* highest per-thread CPU / wall */
    double lag_p50_ms, lag_p99_ms, lag_max_ms; /* event-loop lateness of a 10 ms timer */
    tk_bench_step steps[TK_BENCH_NSTEPS];

    uint64_t by_kind[TK_BENCH_NERRKINDS];
    uint64_t by_status[TK_BENCH_MAX_STATUS]; /* error responses by HTTP status */
    uint64_t seat_taken;  /* 409 SEAT_TAKEN on reserve: expected, not an error */

    /* waiting room (config.queue); zero without one */
    char queue[8];                /* "none", "redis", "mysql" */
    char strategy[48];            /* config.strategy, or "" for the server's */
    uint64_t admissions;          /* VU admissions seen (a poll or take answering admitted) */
    tk_bench_latency admission_wait; /* ms from sending the take to seeing admitted */
    /* fairness: normalised Kendall tau distance between arrival order
     * (the server's arrival_no) and admission order (admission_no) among
     * admissions of the same schedule, pooled over schedules as discordant
     * pairs / comparable pairs (tk_queue_kendall_distance, queue.h): 0 =
     * admitted exactly in arrival order, 0.5 = random, 1 = reversed. */
    double fairness_kendall;
    uint64_t fairness_pairs;      /* comparable pairs behind it */
    uint64_t sold_out;    /* iterations that found no available seat */

    tk_bench_point *series; /* one per second, owned by the result */
    size_t nseries;

    /* the response-time distribution of every answered request (corrected):
     * dist[i] answers took more than tk_bench_dist_le_ms[i-1] and at most
     * tk_bench_dist_le_ms[i] ms; the last bucket has no upper bound */
    uint64_t dist[TK_BENCH_NDIST];

    /* CPU-ms per unit over the steady window (cpustat.h tk_cpu_use): units
     * are the flows completed in it (flow mode) or the requests (--url
     * mode), sampled by the thread that waits on the run at the window's
     * start (end of the ramp) and end. cpu_measured 0: not sampled (no_cpu,
     * no steady window, or the clocks could not be read). */
    int cpu_measured;
    tk_cpu_use cpu;
    uint64_t steady_flows; /* flows whose last request started after the ramp */

    long long peak_rss_bytes;        /* this process (getrusage) */
    long long server_peak_rss_bytes; /* -1 unless config.server_pid was given and readable */

    /* filled by the caller (tk_invariants_check*), written by tk_bench_write_json */
    tk_invariant invariants[TK_INVARIANTS_MAX];
    size_t ninvariants;
    int invariants_checked; /* 0: skipped (written as an empty list) */

    /* filled by the caller (tk_threshold_eval), written by tk_bench_write_json */
    tk_threshold_outcome thresholds[TK_THRESHOLDS_MAX];
    size_t nthresholds;
} tk_bench_result;

/* A named metric of r, for thresholds (threshold.h): scope NULL or "" for
 * the whole run, else a step name. Latencies (p50 p90 p95 p99 p99.9 p99.99
 * max mean) are corrected, in ms; u_p99 etc. the uncorrected ones; tps,
 * steady_tps, error_rate (fraction), errors, requests, flows, dropped,
 * dropped_rate (of scheduled), double_bookings (violations of the first
 * invariant; needs the invariant check), and CPU-ms per unit over the steady
 * window: cpu_ms_per_flow.ROLE (flow mode) or cpu_ms_per_request.ROLE (--url
 * mode), ROLE serve mariadbd redis nginx bench backend_total (unknown when
 * not measured or the role was not found). Returns 0, or -1 when unknown. */
int tk_bench_metric(const tk_bench_result *r, const char *scope, const char *metric, double *out);

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
