/* Noise-aware comparison of repeated bench runs: baseline vs candidate.
 *
 * Per metric (tps, p50, p95, p99, error_rate, and the CPU-ms per flow of
 * the server and of bench when the files carry it) the two samples of repeated
 * runs are compared with the Mann-Whitney U test (two-sided; exact
 * distribution when both sides have <= 20 runs and no ties, else the normal
 * approximation with tie and continuity correction). A change is called
 * only when it is significant (p < TK_CMP_ALPHA) AND its size, the relative
 * difference of the medians, is at least the minimum effect
 * max(TK_CMP_MIN_EFFECT, 2 * IQR/median of the baseline). With fewer than
 * TK_CMP_MIN_RUNS runs on either side nothing is decided ("insufficient
 * runs"): one pair of numbers says nothing about noise. */
#ifndef TICKETCTL_COMPARE_H
#define TICKETCTL_COMPARE_H

#include <stddef.h>

#define TK_CMP_MIN_RUNS 5
#define TK_CMP_ALPHA 0.05
#define TK_CMP_MIN_EFFECT 0.05
#define TK_CMP_NMETRICS 7

typedef enum tk_cmp_verdict {
    TK_CMP_UNCHANGED = 0,
    TK_CMP_IMPROVED,
    TK_CMP_REGRESSED,
    TK_CMP_INSUFFICIENT, /* fewer than TK_CMP_MIN_RUNS runs on a side */
} tk_cmp_verdict;

typedef struct tk_cmp_metric {
    char name[32];        /* "tps", "p99", "cpu_ms_per_flow.backend_total", ... */
    int absent;           /* an optional metric (CPU) that some file lacks: not compared */
    int higher_is_better; /* tps: 1; latencies and error_rate: 0 */
    size_t nbase, ncand;
    double base_median, cand_median;
    double change;     /* (cand - base) / base; +-INFINITY when base is 0 and cand is not */
    double spread;     /* IQR / median of the baseline (0 when the median is 0) */
    double min_effect; /* max(TK_CMP_MIN_EFFECT, 2 * spread) */
    double u;          /* U of the candidate sample */
    double p;          /* two-sided p-value */
    int exact;         /* 1: exact distribution, 0: normal approximation */
    tk_cmp_verdict verdict;
} tk_cmp_metric;

/* U statistic of sample a against b: pairs (x in a, y in b) with x > y,
 * plus half the ties. U_a + U_b = na * nb. */
double tk_mwu_u(const double *a, size_t na, const double *b, size_t nb);

/* Two-sided p-value of the Mann-Whitney U test of a against b; sets *exact
 * (may be NULL) to whether the exact distribution was used. Returns 1 when
 * either sample is empty. */
double tk_mwu_p(const double *a, size_t na, const double *b, size_t nb, int *exact /* OUT */);

/* Median (linear interpolation between the middle values) and IQR (type-7
 * quartiles, as R and numpy default) of x; 0 for an empty sample. */
double tk_cmp_median(const double *x, size_t n);
double tk_cmp_iqr(const double *x, size_t n);

/* Compare one metric's samples; fills *out (name may be NULL) and returns
 * its verdict. */
tk_cmp_verdict tk_compare_samples(const char *name, const double *base, size_t nb, const double *cand, size_t nc,
                                  int higher_is_better, tk_cmp_metric *out);

/* "regressed", "improved", "unchanged", "insufficient runs" */
const char *tk_cmp_verdict_name(tk_cmp_verdict v);

/* Expand one command-line argument into result files: a file is itself, a
 * directory gives its *.json files, anything else is a glob pattern.
 * Appends malloc'd paths to *paths (grown with realloc; the caller frees
 * each and the array). Returns the number added, or -1 with a message. */
int tk_compare_expand(const char *arg, char ***paths, size_t *npaths, char *err /* OUT */, size_t errlen);

/* Load the bench results files (docs/RESULTS.md) on each side and compare
 * tps, p50, p95, p99 and error_rate (summary.*; latencies corrected), then
 * summary.cpu_ms_per_flow.backend_total and .bench (lower is better).
 * Fills out[0..TK_CMP_NMETRICS-1]; a CPU metric that any file lacks (older
 * files, or a run that could not see the server) has absent = 1 and
 * verdict TK_CMP_INSUFFICIENT. Returns 0, or -1 with a message when a file
 * cannot be read or lacks a required metric. */
int tk_compare_files(char *const *base, size_t nb, char *const *cand, size_t nc, tk_cmp_metric out[TK_CMP_NMETRICS],
                     char *err /* OUT */, size_t errlen);

#endif
