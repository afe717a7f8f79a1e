/* NAB's scorer, threshold optimisation and normalisation over a corpus of
 * per-record anomaly scores; the rules and their sources are in
 * ticketctl/nabscore.h. Written from NAB's description and checked against
 * its published scores (tests/test_nab.c, scripts/nab-eval). */
#include "ticketctl/nabscore.h"
#include "ticketctl/common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const tk_nabscore_profile tk_nabscore_profiles[TK_NABSCORE_NPROFILES] = {
    {"standard", 1.0, 0.11, 1.0},
    {"reward_low_FP_rate", 1.0, 0.22, 1.0},
    {"reward_low_FN_rate", 1.0, 0.11, 2.0},
};

const tk_nabscore_profile *tk_nabscore_profile_find(const char *name)
{
    for (size_t k = 0; name && k < TK_NABSCORE_NPROFILES; k++)
        if (!strcmp(tk_nabscore_profiles[k].name, name))
            return &tk_nabscore_profiles[k];
    return NULL;
}

/* One scorable row (after probation). */
typedef struct point {
    double score;  /* the detector's anomaly score */
    double sweep;  /* unweighted: sigma(..) inside a window / sigma(-1), sigma(d) outside */
    long win;      /* global window index, or -1 outside every window */
} point;

typedef struct file {
    char *name;
    size_t p0, p1;  /* its points [p0, p1) */
    size_t w0, w1;  /* its counted windows [w0, w1) */
    size_t labels;  /* label windows given for it */
} file;

struct tk_nabscore {
    point *p;
    size_t np, pcap;
    file *f;
    size_t nf, fcap;
    size_t nwin;    /* counted windows over all files */
    size_t labels;  /* label windows over all files */
};

tk_nabscore *tk_nabscore_new(void) { return calloc(1, sizeof(tk_nabscore)); }

void tk_nabscore_free(tk_nabscore *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nf; i++)
        free(c->f[i].name);
    free(c->p);
    free(c->f);
    free(c);
}

/* NAB's scaled sigmoid (sweeper.py scaledSigmoid). */
static double scaled_sigmoid(double y) { return y >= 3.0 ? -1.0 : 2.0 / (1.0 + exp(5.0 * y)) - 1.0; }

/* Row of the window's start and end: the first exact timestamp match, else
 * the first row >= start / the last row <= end. -1 when no row is inside. */
static int window_rows(const int64_t *ts, size_t n, const tk_nab_window *w, size_t *l, size_t *r)
{
    size_t a = n, b = n;
    for (size_t i = 0; i < n && a == n; i++)
        if (ts[i] == w->start)
            a = i;
    for (size_t i = 0; i < n && a == n; i++)
        if (ts[i] >= w->start)
            a = i;
    if (a == n)
        return -1;
    for (size_t i = a; i < n && b == n; i++)
        if (ts[i] == w->end)
            b = i;
    if (b == n)
        for (size_t i = a; i < n && ts[i] <= w->end; i++)
            b = i;
    if (b == n || b < a)
        return -1;
    *l = a;
    *r = b;
    return 0;
}

long tk_nabscore_add(tk_nabscore *c, const char *name, const int64_t *ts, size_t n, const double *score, const tk_nab_window *w,
                     size_t nw)
{
    if (c->nf == c->fcap) {
        size_t nc = c->fcap ? c->fcap * 2 : 64;
        file *nf = realloc(c->f, nc * sizeof *nf);
        if (!nf)
            return -1;
        c->f = nf;
        c->fcap = nc;
    }
    if (c->np + n > c->pcap) {
        size_t nc = c->pcap ? c->pcap : 4096;
        while (nc < c->np + n)
            nc *= 2;
        point *np = realloc(c->p, nc * sizeof *np);
        if (!np)
            return -1;
        c->p = np;
        c->pcap = nc;
    }
    size_t *wl = malloc((nw ? nw : 1) * sizeof *wl), *wr = malloc((nw ? nw : 1) * sizeof *wr);
    if (!wl || !wr) {
        free(wl);
        free(wr);
        return -1;
    }
    /* Windows in label order (NAB's are sorted and disjoint); one that
     * matches no row is dropped, like a window NAB never enters. */
    size_t nk = 0;
    for (size_t k = 0; k < nw; k++)
        if (window_rows(ts, n, &w[k], &wl[nk], &wr[nk]) == 0 && (nk == 0 || wl[nk] > wr[nk - 1]))
            nk++;
    file *f = &c->f[c->nf];
    if (!(f->name = strdup(name ? name : ""))) {
        free(wl);
        free(wr);
        return -1;
    }
    f->p0 = c->np;
    f->w0 = c->nwin;
    f->labels = nw;
    size_t prob = tk_nab_probation(n);
    const double max_tp = scaled_sigmoid(-1.0);
    size_t next = 0;             /* next window to enter */
    long cur = -1, prev = -1;    /* window we are in / the last one that ended */
    long gid = -1;               /* global index of the current window when counted */
    for (size_t i = 0; i < n; i++) {
        if (cur < 0 && next < nk && i == wl[next]) {
            cur = (long)next++;
            gid = -1;
        }
        double sweep;
        if (cur >= 0) {
            double width = (double)(wr[cur] - wl[cur] + 1);
            sweep = scaled_sigmoid(-(double)(wr[cur] - i + 1) / width) / max_tp;
        } else if (prev < 0) {
            sweep = -1.0;
        } else {
            double pw = (double)(wr[prev] - wl[prev] + 1);
            sweep = pw > 1 ? scaled_sigmoid((double)(i - wr[prev]) / (pw - 1)) : -1.0;
        }
        if (i >= prob) {
            if (cur >= 0 && gid < 0)
                gid = (long)c->nwin++;
            c->p[c->np++] = (point){score[i], sweep, cur >= 0 ? gid : -1};
        }
        if (cur >= 0 && i == wr[cur]) {
            prev = cur;
            cur = -1;
        }
    }
    free(wl);
    free(wr);
    f->p1 = c->np;
    f->w1 = c->nwin;
    c->labels += nw;
    return (long)c->nf++;
}

static inline double weighted(const point *q, const tk_nabscore_profile *p)
{
    return q->win >= 0 ? q->sweep * p->tp : q->sweep * p->fp;
}

/* Raw score of points [p0, p1) with windows [w0, w1) at threshold t. */
static int raw_at(const tk_nabscore *c, const tk_nabscore_profile *p, double t, size_t p0, size_t p1, size_t w0,
                  size_t w1, tk_nabscore_result *out)
{
    size_t nw = w1 - w0;
    double *best = malloc((nw ? nw : 1) * sizeof *best);
    if (!best)
        return TK_ENOMEM;
    for (size_t k = 0; k < nw; k++)
        best[k] = -INFINITY;
    double fp = 0;
    for (size_t i = p0; i < p1; i++) {
        const point *q = &c->p[i];
        if (!(q->score >= t))
            continue;
        double v = weighted(q, p);
        if (q->win < 0) {
            out->fp++;
            fp += v;
        } else {
            out->tp++;
            if (v > best[(size_t)q->win - w0])
                best[(size_t)q->win - w0] = v;
        }
    }
    double raw = fp;
    for (size_t k = 0; k < nw; k++) {
        if (best[k] > -INFINITY) {
            out->windows_hit++;
            raw += best[k] > -p->fn ? best[k] : -p->fn;
        } else {
            raw -= p->fn;
        }
    }
    free(best);
    out->raw = raw;
    out->windows_counted = nw;
    return TK_OK;
}

/* Fill null, perfect and normalised from raw and the counts. The null
 * detector's score is constant, so its optimised threshold either fires
 * nowhere (-A_FN per counted window) or everywhere. */
static int finish(const tk_nabscore *c, const tk_nabscore_profile *p, size_t p0, size_t p1, size_t w0, size_t w1,
                  size_t labels, tk_nabscore_result *out)
{
    tk_nabscore_result all = {0};
    int rc = raw_at(c, p, -INFINITY, p0, p1, w0, w1, &all);
    if (rc != TK_OK)
        return rc;
    double none = -p->fn * (double)(w1 - w0);
    out->null_score = all.raw > none ? all.raw : none;
    out->perfect = p->tp * (double)labels;
    out->windows = labels;
    out->normalised = out->perfect == out->null_score
                          ? NAN
                          : 100.0 * (out->raw - out->null_score) / (out->perfect - out->null_score);
    return TK_OK;
}

int tk_nabscore_at(const tk_nabscore *c, const tk_nabscore_profile *p, double threshold, tk_nabscore_result *out)
{
    memset(out, 0, sizeof *out);
    out->threshold = threshold;
    int rc = raw_at(c, p, threshold, 0, c->np, 0, c->nwin, out);
    return rc != TK_OK ? rc : finish(c, p, 0, c->np, 0, c->nwin, c->labels, out);
}

int tk_nabscore_file_at(const tk_nabscore *c, size_t file, const tk_nabscore_profile *p, double threshold,
                        tk_nabscore_result *out)
{
    memset(out, 0, sizeof *out);
    if (file >= c->nf)
        return TK_EINVAL;
    const struct file *f = &c->f[file];
    out->threshold = threshold;
    int rc = raw_at(c, p, threshold, f->p0, f->p1, f->w0, f->w1, out);
    return rc != TK_OK ? rc : finish(c, p, f->p0, f->p1, f->w0, f->w1, f->labels, out);
}

static int by_score_desc(const void *a, const void *b, void *base)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    const point *p = base;
    double x = p[i].score, y = p[j].score;
    if (x != y)
        return x > y ? -1 : 1;
    return i < j ? -1 : i > j; /* stable, as Python's sort */
}

int tk_nabscore_optimise(const tk_nabscore *c, const tk_nabscore_profile *p, tk_nabscore_result *out)
{
    size_t *ord = malloc((c->np ? c->np : 1) * sizeof *ord);
    double *best = malloc((c->nwin ? c->nwin : 1) * sizeof *best);
    if (!ord || !best) {
        free(ord);
        free(best);
        return TK_ENOMEM;
    }
    for (size_t i = 0; i < c->np; i++)
        ord[i] = i;
    qsort_r(ord, c->np, sizeof *ord, by_score_desc, c->p);
    for (size_t k = 0; k < c->nwin; k++)
        best[k] = -p->fn;
    /* The sweep of sweeper.py calcScoreByThreshold: the score at threshold
     * T counts every point with score >= T. */
    double sum = -p->fn * (double)c->nwin, cur_t = 1.1, best_t = 1.1, best_s = sum;
    for (size_t k = 0; k < c->np; k++) {
        const point *q = &c->p[ord[k]];
        if (q->score != cur_t) {
            if (sum > best_s) {
                best_s = sum;
                best_t = cur_t;
            }
            cur_t = q->score;
        }
        double v = weighted(q, p);
        if (q->win < 0) {
            sum += v;
        } else if (v > best[q->win]) {
            sum += v - best[q->win];
            best[q->win] = v;
        }
    }
    if (sum > best_s)
        best_t = cur_t;
    free(ord);
    free(best);
    return tk_nabscore_at(c, p, best_t, out);
}

size_t tk_nabscore_files(const tk_nabscore *c) { return c->nf; }
const char *tk_nabscore_file_name(const tk_nabscore *c, size_t i) { return i < c->nf ? c->f[i].name : NULL; }

int tk_nabscore_load_results(tk_nabscore *c, const char *dir, const char *detector, const tk_nab_labels *labels,
                             char *err, size_t errlen)
{
    char path[4096];
    for (size_t i = 0; i < tk_nab_labels_count(labels); i++) {
        const tk_nab_window *w;
        size_t nw;
        const char *key = tk_nab_labels_entry(labels, i, &w, &nw);
        const char *slash = strrchr(key, '/');
        int fl = slash ? (int)(slash - key) : 0;
        snprintf(path, sizeof path, "%s/%.*s%s%s_%s", dir, fl, key, slash ? "/" : "", detector,
                 slash ? slash + 1 : key);
        tk_nab_series s;
        int rc = tk_nab_load_csv(path, &s, err, errlen);
        if (rc != TK_OK)
            return rc;
        if (!s.score) {
            tk_nab_series_free(&s);
            return tk_err(err, errlen, "%s: no anomaly_score column (not a NAB results file)", path), TK_EINVAL;
        }
        long k = tk_nabscore_add(c, key, s.ts, s.n, s.score, w, nw);
        tk_nab_series_free(&s);
        if (k < 0)
            return tk_err(err, errlen, "out of memory"), TK_ENOMEM;
    }
    return TK_OK;
}
