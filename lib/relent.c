/* Relative-entropy detector (Wang et al. 2011, NAB's parameters); see
 * ticketctl/relent.h. Hypotheses are kept as arrays of bin frequencies;
 * each record costs O(hypotheses x bins) for the tests and O(1) for the
 * window's histogram (the value leaving the window is taken out). */
#include "ticketctl/relent.h"
#include "ticketctl/common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct tk_relent {
    tk_relent_params p;
    double lo, hi, step;
    int calibrated;
    size_t seen;
    unsigned char *bin; /* ring of the last window bins */
    unsigned *count;    /* histogram of the ring */
    double *hyp;        /* nh x bins frequencies */
    unsigned *hits;     /* nh */
    size_t nh, caph;
    double *vals;       /* calibration values (freed once calibrated) */
};

void tk_relent_defaults(tk_relent_params *p, size_t probation)
{
    memset(p, 0, sizeof *p);
    p->bins = 5;
    p->window = 52;
    p->threshold = tk_relent_chi2_isf(0.01, p->bins - 1);
    p->c_th = 1;
    p->calibration = probation >= 2 ? probation : 2;
}

/* Regularised lower incomplete gamma P(a, x) (Numerical Recipes 6.2:
 * series for x < a + 1, Lentz continued fraction for Q otherwise). */
static double gamma_p(double a, double x)
{
    if (x <= 0)
        return 0;
    double lg = lgamma(a);
    if (x < a + 1) {
        double ap = a, sum = 1.0 / a, del = sum;
        for (int n = 0; n < 500; n++) {
            ap += 1;
            del *= x / ap;
            sum += del;
            if (fabs(del) < fabs(sum) * 1e-15)
                break;
        }
        return sum * exp(-x + a * log(x) - lg);
    }
    double b = x + 1 - a, c = 1e300, d = 1 / b, h = d;
    for (int i = 1; i < 500; i++) {
        double an = -i * (i - a);
        b += 2;
        d = an * d + b;
        if (fabs(d) < 1e-300)
            d = 1e-300;
        c = b + an / c;
        if (fabs(c) < 1e-300)
            c = 1e-300;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < 1e-15)
            break;
    }
    return 1 - exp(-x + a * log(x) - lg) * h;
}

double tk_relent_chi2_isf(double alpha, unsigned k)
{
    if (!(alpha > 0 && alpha < 1) || k == 0)
        return NAN;
    double lo = 0, hi = 1;
    while (1 - gamma_p(k / 2.0, hi / 2) > alpha)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (1 - gamma_p(k / 2.0, mid / 2) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void calibrate(tk_relent *d);

void tk_relent_free(tk_relent *d)
{
    if (!d)
        return;
    free(d->bin);
    free(d->count);
    free(d->hyp);
    free(d->hits);
    free(d->vals);
    free(d);
}

tk_relent *tk_relent_new(const tk_relent_params *p, char *err, size_t errlen)
{
    if (p->bins < 2 || p->bins > 64 || p->window < 2 || p->window > 100000 || !(p->threshold > 0) ||
        p->calibration < 2 || p->calibration > 100000000) {
        tk_err(err, errlen, "relent: bins 2..64, window 2..100000, threshold > 0, calibration >= 2 records");
        return NULL;
    }
    tk_relent *d = calloc(1, sizeof *d);
    if (!d || !(d->bin = calloc(p->window, 1)) || !(d->count = calloc(p->bins, sizeof *d->count)) ||
        !(d->vals = malloc(p->calibration * sizeof *d->vals))) {
        tk_err(err, errlen, "out of memory");
        tk_relent_free(d);
        return NULL;
    }
    d->p = *p;
    if (p->known_range) {
        d->vals[0] = p->lo;
        d->vals[1] = p->hi;
        d->seen = 2;
        calibrate(d);
        d->seen = 0;
    }
    return d;
}

size_t tk_relent_hypotheses(const tk_relent *d) { return d->nh; }

static unsigned quantise(const tk_relent *d, double v)
{
    double b = ceil((v - d->lo) / d->step);
    unsigned n = d->p.bins;
    if (!(b > 0))
        return 0;
    return b >= n ? n - 1 : (unsigned)b; /* numpy: the last bin is closed */
}

static void calibrate(tk_relent *d)
{
    d->lo = d->hi = d->vals[0];
    for (size_t i = 1; i < d->seen; i++) {
        d->lo = d->vals[i] < d->lo ? d->vals[i] : d->lo;
        d->hi = d->vals[i] > d->hi ? d->vals[i] : d->hi;
    }
    d->step = (d->hi - d->lo) / d->p.bins;
    if (!(d->step > 0))
        d->step = 1e-9 * (fabs(d->lo) + 1);
    /* the window ending at the last calibration record, in the final bins */
    size_t w = d->p.window, from = d->seen > w ? d->seen - w : 0;
    memset(d->count, 0, d->p.bins * sizeof *d->count);
    for (size_t i = from; i < d->seen; i++) {
        unsigned b = quantise(d, d->vals[i]);
        d->bin[i % w] = (unsigned char)b;
        d->count[b]++;
    }
    free(d->vals);
    d->vals = NULL;
    d->calibrated = 1;
}

/* 2 W KL(P^ || P_i) over the bins, P^ = count / W; +inf where P_i is 0 and
 * P^ is not (scipy.stats.entropy). */
static double statistic(const tk_relent *d, const double *q)
{
    double w = d->p.window, kl = 0;
    for (unsigned b = 0; b < d->p.bins; b++) {
        if (!d->count[b])
            continue;
        if (q[b] <= 0)
            return INFINITY;
        double ph = d->count[b] / w;
        kl += ph * log(ph / q[b]);
    }
    return 2 * w * kl;
}

static int add_hypothesis(tk_relent *d)
{
    if (d->p.max_hypotheses && d->nh >= d->p.max_hypotheses)
        return 0;
    if (d->nh == d->caph) {
        size_t cap = d->caph ? 2 * d->caph : 16;
        double *h = realloc(d->hyp, cap * d->p.bins * sizeof *h);
        if (!h)
            return -1;
        d->hyp = h;
        unsigned *c = realloc(d->hits, cap * sizeof *c);
        if (!c)
            return -1;
        d->hits = c;
        d->caph = cap;
    }
    for (unsigned b = 0; b < d->p.bins; b++)
        d->hyp[d->nh * d->p.bins + b] = d->count[b] / (double)d->p.window;
    d->hits[d->nh++] = 1;
    return 0;
}

double tk_relent_update(tk_relent *d, double v)
{
    size_t w = d->p.window;
    if (!d->calibrated) {
        d->vals[d->seen++] = v;
        if (d->seen == d->p.calibration)
            calibrate(d);
        return 0.0;
    }
    unsigned b = quantise(d, v);
    if (d->seen >= w)
        d->count[d->bin[d->seen % w]]--;
    d->bin[d->seen % w] = (unsigned char)b;
    d->count[b]++;
    d->seen++;
    if (d->seen < w)
        return 0.0;
    if (d->nh == 0) {
        add_hypothesis(d);
        return 0.0;
    }
    size_t best = d->nh;
    double min = INFINITY;
    for (size_t i = 0; i < d->nh; i++) {
        double s = statistic(d, d->hyp + i * d->p.bins);
        if (s < d->p.threshold && s < min) {
            min = s;
            best = i;
        }
    }
    if (best < d->nh)
        return ++d->hits[best] <= d->p.c_th ? 1.0 : 0.0;
    add_hypothesis(d); /* out of memory: scored, not stored */
    return 1.0;
}
