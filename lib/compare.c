/* Baseline vs candidate over repeated runs: Mann-Whitney U plus a minimum
 * effect scaled by the baseline's own noise (compare.h). The exact null
 * distribution of U is counted with the recurrence
 *   f(i, j, u) = f(i-1, j, u-j) + f(i, j-1, u)
 * (the largest of i+j values is either an a, beating all j b's, or a b),
 * O(na * nb * na*nb) time and space, hence only for small samples. */
#include "ticketctl/compare.h"
#include "ticketctl/common.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define EXACT_MAX 20

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double tk_mwu_u(const double *a, size_t na, const double *b, size_t nb)
{
    double u = 0;
    for (size_t i = 0; i < na; i++)
        for (size_t j = 0; j < nb; j++)
            u += a[i] > b[j] ? 1.0 : a[i] == b[j] ? 0.5 : 0.0;
    return u;
}

/* Sum over tie groups of t^3 - t in the pooled sample; 0 without ties. */
static double tie_term(const double *a, size_t na, const double *b, size_t nb)
{
    size_t n = na + nb;
    double *all = malloc(n * sizeof *all);
    if (!all)
        return 0;
    memcpy(all, a, na * sizeof *a);
    memcpy(all + na, b, nb * sizeof *b);
    qsort(all, n, sizeof *all, cmp_double);
    double sum = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && all[j] == all[i])
            j++;
        double t = (double)(j - i);
        sum += t * t * t - t;
        i = j;
    }
    free(all);
    return sum;
}

/* Exact two-sided p of U = u (integer) for sizes m, n; -1 when out of memory. */
static double exact_p(size_t m, size_t n, double u)
{
    size_t umax = m * n, w = umax + 1;
    double *f = calloc((m + 1) * (n + 1) * w, sizeof *f);
    if (!f)
        return -1;
#define F(i, j, k) f[((i) * (n + 1) + (j)) * w + (k)]
    for (size_t i = 0; i <= m; i++)
        for (size_t j = 0; j <= n; j++) {
            if (i == 0 || j == 0) {
                F(i, j, 0) = 1;
                continue;
            }
            for (size_t k = 0; k <= i * j; k++)
                F(i, j, k) = (k >= j ? F(i - 1, j, k - j) : 0) + F(i, j - 1, k);
        }
    double total = 0, le = 0, ge = 0;
    for (size_t k = 0; k <= umax; k++) {
        double c = F(m, n, k);
        total += c;
        if ((double)k <= u + 1e-9)
            le += c;
        if ((double)k >= u - 1e-9)
            ge += c;
    }
#undef F
    free(f);
    double p = 2.0 * (le < ge ? le : ge) / total;
    return p > 1 ? 1 : p;
}

double tk_mwu_p(const double *a, size_t na, const double *b, size_t nb, int *exact)
{
    if (exact)
        *exact = 0;
    if (na == 0 || nb == 0)
        return 1;
    double u = tk_mwu_u(a, na, b, nb), ties = tie_term(a, na, b, nb);
    if (ties == 0 && na <= EXACT_MAX && nb <= EXACT_MAX) {
        double p = exact_p(na, nb, u);
        if (p >= 0) {
            if (exact)
                *exact = 1;
            return p;
        }
    }
    double n = (double)(na + nb), mu = (double)na * (double)nb / 2.0;
    double var = (double)na * (double)nb / 12.0 * ((n + 1) - ties / (n * (n - 1)));
    if (!(var > 0))
        return 1; /* every value equal: no evidence of a difference */
    double z = (fabs(u - mu) - 0.5) / sqrt(var);
    if (z < 0)
        z = 0;
    return erfc(z / sqrt(2.0));
}

static double quantile_sorted(const double *x, size_t n, double q)
{
    if (n == 0)
        return 0;
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)h;
    if (lo + 1 >= n)
        return x[n - 1];
    return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

static double quantile(const double *x, size_t n, double q)
{
    if (n == 0)
        return 0;
    double *s = malloc(n * sizeof *s);
    if (!s)
        return NAN;
    memcpy(s, x, n * sizeof *x);
    qsort(s, n, sizeof *s, cmp_double);
    double v = quantile_sorted(s, n, q);
    free(s);
    return v;
}

double tk_cmp_median(const double *x, size_t n) { return quantile(x, n, 0.5); }
double tk_cmp_iqr(const double *x, size_t n) { return quantile(x, n, 0.75) - quantile(x, n, 0.25); }

const char *tk_cmp_verdict_name(tk_cmp_verdict v)
{
    switch (v) {
    case TK_CMP_UNCHANGED: return "unchanged";
    case TK_CMP_IMPROVED: return "improved";
    case TK_CMP_REGRESSED: return "regressed";
    case TK_CMP_INSUFFICIENT: return "insufficient runs";
    }
    return "?";
}

tk_cmp_verdict tk_compare_samples(const char *name, const double *base, size_t nb, const double *cand, size_t nc,
                                  int higher_is_better, tk_cmp_metric *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name ? name : "");
    out->higher_is_better = higher_is_better;
    out->nbase = nb;
    out->ncand = nc;
    out->base_median = tk_cmp_median(base, nb);
    out->cand_median = tk_cmp_median(cand, nc);
    out->p = 1;
    double m0 = out->base_median, m1 = out->cand_median;
    if (m0 != 0)
        out->change = (m1 - m0) / fabs(m0);
    else
        out->change = m1 == 0 ? 0 : m1 > 0 ? INFINITY : -INFINITY;
    out->spread = m0 != 0 ? tk_cmp_iqr(base, nb) / fabs(m0) : 0;
    out->min_effect = 2.0 * out->spread > TK_CMP_MIN_EFFECT ? 2.0 * out->spread : TK_CMP_MIN_EFFECT;
    if (nb < TK_CMP_MIN_RUNS || nc < TK_CMP_MIN_RUNS)
        return out->verdict = TK_CMP_INSUFFICIENT;
    out->u = tk_mwu_u(cand, nc, base, nb);
    out->p = tk_mwu_p(cand, nc, base, nb, &out->exact);
    if (!(out->p < TK_CMP_ALPHA) || !(fabs(out->change) >= out->min_effect))
        return out->verdict = TK_CMP_UNCHANGED;
    int worse = higher_is_better ? out->change < 0 : out->change > 0;
    return out->verdict = worse ? TK_CMP_REGRESSED : TK_CMP_IMPROVED;
}

/* ---------- files ---------- */

static int push_path(char ***paths, size_t *n, const char *p)
{
    char **np = realloc(*paths, (*n + 1) * sizeof *np);
    if (!np)
        return -1;
    *paths = np;
    if (!(np[*n] = strdup(p)))
        return -1;
    (*n)++;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int tk_compare_expand(const char *arg, char ***paths, size_t *npaths, char *err, size_t errlen)
{
    struct stat st;
    size_t before = *npaths;
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) {
        if (push_path(paths, npaths, arg) != 0)
            return tk_err(err, errlen, "out of memory");
        return 1;
    }
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(arg);
        if (!d)
            return tk_err(err, errlen, "cannot open %s: %s", arg, strerror(errno));
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
                continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", arg, e->d_name);
            if (push_path(paths, npaths, p) != 0) {
                rc = -1;
                break;
            }
        }
        closedir(d);
        if (rc != 0)
            return tk_err(err, errlen, "out of memory");
        qsort(*paths + before, *npaths - before, sizeof **paths, cmp_str);
        return (int)(*npaths - before);
    }
    glob_t g;
    int grc = glob(arg, 0, NULL, &g);
    if (grc == GLOB_NOMATCH)
        return tk_err(err, errlen, "%s: no such file, directory or matching pattern", arg);
    if (grc != 0)
        return tk_err(err, errlen, "%s: glob failed", arg);
    for (size_t i = 0; i < g.gl_pathc; i++)
        if (push_path(paths, npaths, g.gl_pathv[i]) != 0) {
            globfree(&g);
            return tk_err(err, errlen, "out of memory");
        }
    globfree(&g);
    return (int)(*npaths - before);
}

static const struct {
    const char *name, *obj, *key;
    int higher_is_better;
    int optional; /* absent from older files: compared only when every file has it */
} cmp_metrics[TK_CMP_NMETRICS] = {
    {"tps", NULL, "tps", 1, 0},
    {"p50", "latency_ms", "p50", 0, 0},
    {"p95", "latency_ms", "p95", 0, 0},
    {"p99", "latency_ms", "p99", 0, 0},
    {"error_rate", NULL, "error_rate", 0, 0},
    {"cpu_ms_per_flow.backend_total", "cpu_ms_per_flow", "backend_total", 0, 1},
    {"cpu_ms_per_flow.bench", "cpu_ms_per_flow", "bench", 0, 1},
};

/* out[k][i] = metric k of file i; missing[k] set when an optional metric is
 * not a number in some file. */
static int load_side(char *const *paths, size_t n, double *out[TK_CMP_NMETRICS], int missing[TK_CMP_NMETRICS],
                     char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        json_error_t je;
        json_t *doc = json_load_file(paths[i], 0, &je);
        if (!doc)
            return tk_err(err, errlen, "%s: %s (line %d)", paths[i], je.text, je.line);
        json_t *sum = json_object_get(doc, "summary");
        for (int k = 0; k < TK_CMP_NMETRICS; k++) {
            json_t *o = cmp_metrics[k].obj ? json_object_get(sum, cmp_metrics[k].obj) : sum;
            json_t *v = json_object_get(o, cmp_metrics[k].key);
            if (!json_is_number(v) && cmp_metrics[k].optional) {
                missing[k] = 1;
                continue;
            }
            if (!json_is_number(v)) {
                json_decref(doc);
                return tk_err(err, errlen, "%s: no summary %s%s%s (not a bench results file?)", paths[i],
                              cmp_metrics[k].obj ? cmp_metrics[k].obj : "", cmp_metrics[k].obj ? "." : "",
                              cmp_metrics[k].key);
            }
            out[k][i] = json_number_value(v);
        }
        json_decref(doc);
    }
    return 0;
}

int tk_compare_files(char *const *base, size_t nb, char *const *cand, size_t nc, tk_cmp_metric out[TK_CMP_NMETRICS],
                     char *err, size_t errlen)
{
    double *bv[TK_CMP_NMETRICS] = {0}, *cv[TK_CMP_NMETRICS] = {0};
    int rc = -1;
    for (int k = 0; k < TK_CMP_NMETRICS; k++)
        if (!(bv[k] = calloc(nb + 1, sizeof(double))) || !(cv[k] = calloc(nc + 1, sizeof(double)))) {
            tk_err(err, errlen, "out of memory");
            goto done;
        }
    int missing[TK_CMP_NMETRICS] = {0};
    if (load_side(base, nb, bv, missing, err, errlen) != 0 || load_side(cand, nc, cv, missing, err, errlen) != 0)
        goto done;
    for (int k = 0; k < TK_CMP_NMETRICS; k++) {
        tk_compare_samples(cmp_metrics[k].name, bv[k], nb, cv[k], nc, cmp_metrics[k].higher_is_better, &out[k]);
        if (missing[k]) {
            out[k].absent = 1;
            out[k].verdict = TK_CMP_INSUFFICIENT;
        }
    }
    rc = 0;
done:
    for (int k = 0; k < TK_CMP_NMETRICS; k++) {
        free(bv[k]);
        free(cv[k]);
    }
    return rc;
}
