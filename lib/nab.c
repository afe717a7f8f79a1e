/* NAB data and labels; see ticketctl/nab.h. */
#include "ticketctl/nab.h"
#include "ticketctl/common.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- time ---------------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int tk_nab_parse_time(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (!s || strlen(s) < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') || digits(s + 11, 2, &h) || s[13] != ':' ||
        digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &se))
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
        return -1;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return -1;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z')
        p++;
    if (*p)
        return -1;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

void tk_nab_format_time(int64_t t, char *buf, size_t len)
{
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t sod = t - days * 86400;
    /* civil_from_days (H. Hinnant) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned d = doy - (153 * mp + 2) / 5 + 1;
    unsigned m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
    snprintf(buf, len, "%04lld-%02u-%02u %02d:%02d:%02d", (long long)y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
}

/* ---- CSV ----------------------------------------------------------------- */

void tk_nab_series_free(tk_nab_series *s)
{
    if (!s)
        return;
    free(s->ts);
    free(s->value);
    free(s->score);
    s->ts = NULL;
    s->value = NULL;
    s->score = NULL;
    s->n = 0;
}

/* Copy one line (without CR/LF) into buf; returns its length or -1 if too long. */
static int take_line(const char *p, size_t n, char *buf, size_t cap)
{
    while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == '\n'))
        n--;
    if (n >= cap)
        return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return (int)n;
}

/* Split s at commas in place into at most max fields; returns the count. */
static size_t split_commas(char *s, char **f, size_t max)
{
    size_t n = 0;
    for (;;) {
        if (n < max)
            f[n] = s;
        n++;
        char *c = strchr(s, ',');
        if (!c)
            break;
        *c = '\0';
        s = c + 1;
    }
    return n;
}

static int parse_number(const char *s, double *v)
{
    char *ep;
    errno = 0;
    *v = strtod(s, &ep);
    return ep == s || *ep != '\0' || !isfinite(*v) ? -1 : 0;
}

#define CSV_MAX_COLS 16

int tk_nab_parse_csv(const char *text, size_t len, const char *name, tk_nab_series *out, char *err,
                     size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, line = 0, ncols = 0, score_col = 0;
    const char *p = text, *end = text + len;
    char buf[512], *f[CSV_MAX_COLS];
    int rc = TK_EINVAL;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;
        line++;
        if (take_line(p, (size_t)(stop - p), buf, sizeof buf) < 0) {
            tk_err(err, errlen, "%s:%zu: line longer than %zu bytes", name, line, sizeof buf - 1);
            goto fail;
        }
        p = nl ? nl + 1 : end;
        char *s = buf;
        if (line == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
            s += 3; /* UTF-8 BOM */
        if (line == 1) {
            char head[80];
            snprintf(head, sizeof head, "%.60s", s);
            ncols = split_commas(s, f, CSV_MAX_COLS);
            if (ncols < 2 || ncols > CSV_MAX_COLS || strcmp(f[0], "timestamp") || strcmp(f[1], "value")) {
                tk_err(err, errlen, "%s:1: expected the NAB header 'timestamp,value[,...]', got '%s'", name, head);
                goto fail;
            }
            for (size_t k = 2; k < ncols; k++)
                if (!strcmp(f[k], "anomaly_score"))
                    score_col = k;
            continue;
        }
        if (*s == '\0')
            continue; /* blank line (e.g. at the end) */
        char row[80];
        snprintf(row, sizeof row, "%.60s", s);
        if (split_commas(s, f, CSV_MAX_COLS) != ncols) {
            tk_err(err, errlen, "%s:%zu: expected %zu columns as in the header, got '%s'", name, line, ncols, row);
            goto fail;
        }
        int64_t ts;
        if (tk_nab_parse_time(f[0], &ts) != 0) {
            tk_err(err, errlen, "%s:%zu: bad timestamp '%.40s' (want YYYY-MM-DD HH:MM:SS)", name, line, f[0]);
            goto fail;
        }
        double v, sc = 0;
        if (parse_number(f[1], &v) != 0) {
            tk_err(err, errlen, "%s:%zu: bad value '%.40s' (want a finite number)", name, line, f[1]);
            goto fail;
        }
        if (score_col && parse_number(f[score_col], &sc) != 0) {
            tk_err(err, errlen, "%s:%zu: bad anomaly_score '%.40s' (want a finite number)", name, line, f[score_col]);
            goto fail;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            int64_t *nt = realloc(out->ts, nc * sizeof *nt);
            if (nt)
                out->ts = nt;
            double *nv = nt ? realloc(out->value, nc * sizeof *nv) : NULL;
            if (nv)
                out->value = nv;
            double *ns = nv && score_col ? realloc(out->score, nc * sizeof *ns) : NULL;
            if (ns)
                out->score = ns;
            if (!nv || (score_col && !ns)) {
                tk_err(err, errlen, "out of memory");
                rc = TK_ENOMEM;
                goto fail;
            }
            cap = nc;
        }
        out->ts[out->n] = ts;
        out->value[out->n] = v;
        if (score_col)
            out->score[out->n] = sc;
        out->n++;
    }
    if (line == 0) {
        tk_err(err, errlen, "%s: empty file (expected the header 'timestamp,value')", name);
        goto fail;
    }
    if (out->n == 0) {
        tk_err(err, errlen, "%s: no data rows after the header", name);
        goto fail;
    }
    return TK_OK;
fail:
    tk_nab_series_free(out);
    return rc;
}

int tk_nab_load_csv(const char *path, tk_nab_series *out, char *err, size_t errlen)
{
    char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    int rc = tk_read_file(path, 0, &buf, &len, err, errlen);
    if (rc != TK_OK)
        return rc;
    rc = tk_nab_parse_csv(buf, len, path, out, err, errlen);
    free(buf);
    return rc;
}

/* ---- labels -------------------------------------------------------------- */

typedef struct label_entry {
    char *key;
    tk_nab_window *w;
    size_t nw;
} label_entry;

struct tk_nab_labels {
    label_entry *e;
    size_t n;
};

void tk_nab_labels_free(tk_nab_labels *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].key);
        free(l->e[i].w);
    }
    free(l->e);
    free(l);
}

int tk_nab_labels_load(const char *path, tk_nab_labels **out, char *err, size_t errlen)
{
    *out = NULL;
    json_error_t je;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return tk_err(err, errlen, "%s: %s", path, strerror(errno)), TK_EIO;
    json_t *root = json_loadf(fp, 0, &je);
    fclose(fp);
    if (!root)
        return tk_err(err, errlen, "%s:%d: not valid JSON: %s", path, je.line, je.text), TK_EINVAL;
    int rc = TK_EINVAL;
    tk_nab_labels *l = calloc(1, sizeof *l);
    if (!json_is_object(root)) {
        tk_err(err, errlen, "%s: expected an object of \"dir/file.csv\": [[start, end], ...]", path);
        goto fail;
    }
    if (!l || !(l->e = calloc(json_object_size(root) + 1, sizeof *l->e))) {
        rc = TK_ENOMEM;
        tk_err(err, errlen, "out of memory");
        goto fail;
    }
    const char *key;
    json_t *arr;
    json_object_foreach(root, key, arr) {
        if (!json_is_array(arr)) {
            tk_err(err, errlen, "%s: \"%s\": expected a list of [start, end] pairs", path, key);
            goto fail;
        }
        label_entry *e = &l->e[l->n++];
        e->key = strdup(key);
        e->w = calloc(json_array_size(arr) + 1, sizeof *e->w);
        if (!e->key || !e->w) {
            rc = TK_ENOMEM;
            tk_err(err, errlen, "out of memory");
            goto fail;
        }
        size_t i;
        json_t *pair;
        json_array_foreach(arr, i, pair) {
            json_t *a = json_array_get(pair, 0), *b = json_array_get(pair, 1);
            tk_nab_window w;
            if (!json_is_array(pair) || json_array_size(pair) != 2 || !json_is_string(a) || !json_is_string(b) ||
                tk_nab_parse_time(json_string_value(a), &w.start) != 0 ||
                tk_nab_parse_time(json_string_value(b), &w.end) != 0) {
                tk_err(err, errlen, "%s: \"%s\" window %zu: expected [\"YYYY-MM-DD HH:MM:SS\", \"...\"]", path, key,
                       i);
                goto fail;
            }
            if (w.start > w.end) {
                tk_err(err, errlen, "%s: \"%s\" window %zu: start after end", path, key, i);
                goto fail;
            }
            e->w[e->nw++] = w;
        }
    }
    json_decref(root);
    *out = l;
    return TK_OK;
fail:
    json_decref(root);
    tk_nab_labels_free(l);
    return rc;
}

int tk_nab_labels_find(const tk_nab_labels *l, const char *key, const tk_nab_window **w, size_t *nw)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->e[i].key, key)) {
            *w = l->e[i].nw ? l->e[i].w : NULL;
            *nw = l->e[i].nw;
            return 0;
        }
    return -1;
}

size_t tk_nab_labels_count(const tk_nab_labels *l) { return l->n; }

const char *tk_nab_labels_entry(const tk_nab_labels *l, size_t i, const tk_nab_window **w, size_t *nw)
{
    *w = l->e[i].nw ? l->e[i].w : NULL;
    *nw = l->e[i].nw;
    return l->e[i].key;
}

size_t tk_nab_probation(size_t n)
{
    size_t p = (size_t)floor(TK_NAB_PROBATION * (double)n);
    size_t cap = (size_t)(TK_NAB_PROBATION * 5000);
    return p < cap ? p : cap;
}

