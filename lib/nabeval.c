/* `anomaly eval` over a NAB corpus; see ticketctl/nabeval.h. */
#include "ticketctl/nabeval.h"
#include "ticketctl/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int mkdirs(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* The data file of key in dir, or -1 when there is none. */
static int data_path(const char *dir, const char *key, char *out, size_t len)
{
    snprintf(out, len, "%s/%s", dir, key);
    if (access(out, R_OK) == 0)
        return 0;
    const char *slash = strchr(key, '/');
    if (!slash)
        return -1;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    size_t fl = (size_t)(slash - key), b = dl;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    if (dl - b != fl || strncmp(dir + b, key, fl))
        return -1;
    snprintf(out, len, "%.*s/%s", (int)dl, dir, slash + 1);
    return access(out, R_OK) == 0 ? 0 : -1;
}

static int write_results(const tk_nabeval_config *cfg, const char *key, const tk_nab_series *s, const double *sc,
                         const tk_nab_window *w, size_t nw, char *err, size_t errlen)
{
    char dir[4096], path[4600], ts[32];
    const char *slash = strrchr(key, '/');
    int fl = slash ? (int)(slash - key) : 0;
    snprintf(dir, sizeof dir, "%s/%s/%.*s", cfg->results_dir, cfg->detector, fl, key);
    if (mkdirs(dir) != 0)
        return tk_err(err, errlen, "%s: %s", dir, strerror(errno)), TK_EIO;
    snprintf(path, sizeof path, "%s/%s_%s", dir, cfg->detector, slash ? slash + 1 : key);
    FILE *fp = fopen(path, "w");
    if (!fp)
        return tk_err(err, errlen, "%s: %s", path, strerror(errno)), TK_EIO;
    fprintf(fp, "timestamp,value,anomaly_score,label\n");
    for (size_t i = 0; i < s->n; i++) {
        int label = 0;
        for (size_t k = 0; k < nw && !label; k++)
            label = s->ts[i] >= w[k].start && s->ts[i] <= w[k].end;
        tk_nab_format_time(s->ts[i], ts, sizeof ts);
        fprintf(fp, "%s,%.15g,%.12g,%d\n", ts, s->value[i], sc[i], label);
    }
    if (fclose(fp) != 0)
        return tk_err(err, errlen, "%s: write failed", path), TK_EIO;
    return TK_OK;
}

int tk_nabeval_run(const tk_nabeval_config *cfg, tk_nabscore **scores, tk_nabscore **alerts,
                   tk_nabeval_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    *scores = tk_nabscore_new();
    *alerts = tk_nabscore_new();
    if (!*scores || !*alerts)
        return tk_err(err, errlen, "out of memory"), TK_ENOMEM;
    char path[4096];
    for (size_t i = 0; i < tk_nab_labels_count(cfg->labels); i++) {
        const tk_nab_window *w;
        size_t nw;
        const char *key = tk_nab_labels_entry(cfg->labels, i, &w, &nw);
        if (data_path(cfg->dir, key, path, sizeof path) != 0) {
            st->skipped++;
            continue;
        }
        tk_nab_series s;
        int rc = tk_nab_load_csv(path, &s, err, errlen);
        if (rc != TK_OK)
            return rc;
        double *sc = malloc(s.n * sizeof *sc), *al = malloc(s.n * sizeof *al);
        rc = TK_ENOMEM;
        if (!sc || !al) {
            tk_err(err, errlen, "out of memory");
            goto next;
        }
        tk_online_params p = cfg->params;
        /* NAB hands every detector the probation length of the file */
        p.probation = tk_nab_probation(s.n) >= 16 ? tk_nab_probation(s.n) : 16;
        if (cfg->nab_range) {
            p.range_set = 1;
            p.range_lo = p.range_hi = s.value[0];
            for (size_t k = 1; k < s.n; k++) {
                p.range_lo = s.value[k] < p.range_lo ? s.value[k] : p.range_lo;
                p.range_hi = s.value[k] > p.range_hi ? s.value[k] : p.range_hi;
            }
        }
        tk_online *d = tk_online_new(&p, err, errlen);
        if (!d) {
            rc = TK_EINVAL;
            goto next;
        }
        /* The alert figure is what `anomaly detect` would page: the
         * unsuppressed score at the fixed threshold or the range guard
         * (a value more than 3 ranges outside the range of the first fit's
         * records, the probation), through its incident logic. */
        tk_incident in = {.persist = cfg->persist ? cfg->persist : 2, .rearm = cfg->rearm ? cfg->rearm : 10};
        double lo = s.value[0], hi = s.value[0];
        double c0 = cpu_ms();
        for (size_t k = 0; k < s.n; k++) {
            sc[k] = tk_online_update(d, s.value[k]);
            int verdict = 0;
            if (k < p.probation) {
                lo = s.value[k] < lo ? s.value[k] : lo;
                hi = s.value[k] > hi ? s.value[k] : hi;
            } else {
                double span = hi - lo;
                verdict = tk_online_unsuppressed(d) >= cfg->alert_threshold || s.value[k] > hi + 3 * span ||
                          s.value[k] < lo - 3 * span;
            }
            al[k] = tk_incident_step(&in, verdict) ? 1.0 : 0.0;
        }
        st->cpu_ms += cpu_ms() - c0;
        tk_online_free(d);
        /* Score what the results file holds (12 significant digits, as NAB's
         * detectors write them), so the file and this run agree exactly. */
        for (size_t k = 0; k < s.n; k++) {
            char b[32];
            snprintf(b, sizeof b, "%.12g", sc[k]);
            sc[k] = strtod(b, NULL);
        }
        if (tk_nabscore_add(*scores, key, s.ts, s.n, sc, w, nw) < 0 ||
            tk_nabscore_add(*alerts, key, s.ts, s.n, al, w, nw) < 0) {
            rc = TK_ENOMEM;
            tk_err(err, errlen, "out of memory");
            goto next;
        }
        if (cfg->results_dir && (rc = write_results(cfg, key, &s, sc, w, nw, err, errlen)) != TK_OK)
            goto next;
        st->files++;
        st->rows += s.n;
        rc = TK_OK;
    next:
        free(sc);
        free(al);
        tk_nab_series_free(&s);
        if (rc != TK_OK)
            return rc;
    }
    return TK_OK;
}
