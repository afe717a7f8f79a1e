/* Relative-entropy detector with multiple hypotheses: Wang, Talwar,
 * Schwan, Ranganathan, "Statistical techniques for online anomaly detection
 * in data centers", IFIP/IEEE IM 2011 (Figure 1), with NAB's parameters
 * (numenta/NAB detectors/relative_entropy: 5 bins, window 52, threshold the
 * chi-squared 0.99 point with 4 degrees of freedom, c_th = 1).
 *
 * Each record t >= window: the last `window` values (t included) are
 * quantised into `bins` equal bins of the calibration range [lo, hi]
 * (b = ceil((v - lo) / step), step = (hi - lo) / bins, clamped to 0..bins,
 * histogram over [0, bins] with unit bins as numpy.histogram does), and the
 * window's empirical frequencies P^ are tested against every stored
 * hypothesis P_i with the statistic 2 W KL(P^ || P_i) (nats). The
 * hypothesis with the smallest statistic below the threshold is accepted
 * (its count + 1; the record scores 1 while that count is <= c_th); when
 * none is, P^ becomes a new hypothesis and the record scores 1. Scores are
 * 0 or 1.
 *
 * Causal range: NAB hands this detector the min and max of the whole file
 * (look-ahead). Here [lo, hi] is the range of the first `calibration`
 * records (NAB's probation period in eval), frozen after it; scoring
 * starts after it; values outside it fall in the end bins. A flat
 * calibration (hi == lo) uses step 1e-9 (|lo| + 1), so any departure from
 * the flat line is seen. */
#ifndef TICKETCTL_RELENT_H
#define TICKETCTL_RELENT_H

#include <stddef.h>

typedef struct tk_relent_params {
    unsigned bins;        /* quantisation bins (NAB: 5), 2..64 */
    unsigned window;      /* W, records (NAB: 52), 2..100000 */
    double threshold;     /* on 2 W KL, nats (NAB: chi2.isf(0.01, bins - 1) = 13.2767 for 5 bins) */
    unsigned c_th;        /* an accepted hypothesis seen <= c_th times still scores 1 (NAB: 1) */
    size_t calibration;   /* records that fix the range (>= 2) */
    unsigned max_hypotheses; /* 0: unbounded; else new windows past this many score 1 and are not stored */
    int known_range;      /* 1: quantise over [lo, hi] given here (no calibration; NAB's look-ahead) */
    double lo, hi;
} tk_relent_params;

/* NAB's parameters, calibration = probation records. */
void tk_relent_defaults(tk_relent_params *p, size_t probation);

/* The upper-tail point x with P(chi2_k > x) = alpha (0 < alpha < 1, k >= 1
 * degrees of freedom), by bisection on the regularised incomplete gamma
 * function (series / continued fraction, Numerical Recipes 6.2). */
double tk_relent_chi2_isf(double alpha, unsigned k);

typedef struct tk_relent tk_relent;

/* NULL on bad parameters or no memory (message in err, OUT). Free with
 * tk_relent_free (NULL is a no-op). */
tk_relent *tk_relent_new(const tk_relent_params *p, char *err, size_t errlen);
void tk_relent_free(tk_relent *d);

/* Score record v (0 or 1, see above), having seen the ones before. */
double tk_relent_update(tk_relent *d, double v);

/* Hypotheses stored so far. */
size_t tk_relent_hypotheses(const tk_relent *d);

#endif
