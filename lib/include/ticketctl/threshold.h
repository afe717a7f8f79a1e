/* Pass/fail thresholds on bench metrics: "p95<100ms", "error_rate<0.1%",
 * "tps>5000", "double_bookings==0", "reserve.p99<200ms".
 *
 * Grammar: [SCOPE.]METRIC OP NUMBER[UNIT]
 *   SCOPE   a step name (balance ... pay, login, url); none = the whole run
 *   METRIC  latencies p50 p90 p95 p99 p99.9 p99.99 max mean (corrected) and
 *           u_p50 ... u_max (uncorrected): value in ms, UNIT ms, s or us
 *           (none = ms); rates error_rate, dropped_rate: UNIT % or none (a
 *           fraction); counts and throughput tps, steady_tps, requests,
 *           errors, flows, dropped, double_bookings: no UNIT
 *           CPU-ms per unit of work: cpu_ms_per_flow.ROLE (flow) or
 *           cpu_ms_per_request.ROLE (--url), ROLE serve mariadbd redis nginx
 *           bench backend_total: no UNIT (CPU-ms)
 *   OP      <  <=  >  >=  ==  !=
 * Spaces around OP are allowed. The parser knows the metric names (so a
 * typo fails at parse time); the scope is checked when evaluated.
 *
 * Evaluation is against any metric source through a lookup callback, so
 * this module does not depend on the bench (bench.h provides
 * tk_bench_metric()). */
#ifndef TICKETCTL_THRESHOLD_H
#define TICKETCTL_THRESHOLD_H

#include <stddef.h>

#define TK_THRESHOLDS_MAX 32

typedef enum tk_threshold_op { TK_TH_LT, TK_TH_LE, TK_TH_GT, TK_TH_GE, TK_TH_EQ, TK_TH_NE } tk_threshold_op;

typedef struct tk_threshold {
    char text[128];   /* as given, spaces removed */
    char scope[32];   /* "" for the whole run */
    char metric[48];  /* "p99.9", "error_rate", "cpu_ms_per_flow.backend_total", ... */
    tk_threshold_op op;
    double limit;     /* in the metric's unit: ms, fraction, count */
    int is_latency;   /* the metric is a latency (ms) */
} tk_threshold;

typedef struct tk_threshold_outcome {
    char text[128];
    int ok;          /* 1 holds, 0 failed (or the metric was missing) */
    int found;       /* 0: the metric or scope is unknown to the source */
    double actual, limit;
    char detail[256]; /* "p95 = 123.40 ms, limit < 100 ms: over by 23.40 ms (23.4 %)" */
} tk_threshold_outcome;

/* Parse s into *out. Returns 0, or -1 with a message in err. */
int tk_threshold_parse(const char *s, tk_threshold *out, char *err /* OUT */, size_t errlen);

/* Look a metric up: return 0 and set *value, or -1 when unknown. */
typedef int (*tk_threshold_lookup)(const char *scope, const char *metric, double *value, void *ud);

/* Evaluate t against the source; fills *out and returns out->ok. */
int tk_threshold_eval(const tk_threshold *t, tk_threshold_lookup lookup, void *ud, tk_threshold_outcome *out);

/* "<", "<=", ... */
const char *tk_threshold_op_name(tk_threshold_op op);

#endif
