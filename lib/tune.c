/* The index tuner (see tune.h): plan reading, and the build-measure-keep loop.
 * SQL shapes and candidates are in sqlshape.c, the slow log in slowlog.c.
 *
 * Everything the tuner decides is measured on the connected server: a
 * candidate is built for real and timed with and without it (the index
 * IGNORED) on the same parameter sets, rounds alternating which state goes
 * first, and kept only on a large median gain. */
#include "ticketctl/tune.h"
#include "ticketctl/common.h"
#include "ticketctl/queries.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- plans ---------------------------------------------------------------- */

static double num(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static void plan_walk(const json_t *v, tk_plan *p)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) plan_walk(x, p);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        if (!strcmp(k, "filesort"))
            p->filesort = 1;
        if (!strcmp(k, "temporary_table"))
            p->temporary = 1;
        if (!strcmp(k, "table") && json_is_object(x) && json_is_string(json_object_get(x, "table_name"))) {
            const char *tn = json_string_value(json_object_get(x, "table_name"));
            const char *at = json_string_value(json_object_get(x, "access_type"));
            const char *key = json_string_value(json_object_get(x, "key"));
            double rr = num(x, "r_rows"), rl = num(x, "r_loops");
            double ex = (rr > 0 ? rr : 0) * (rl > 0 ? rl : 1);
            p->rows_examined += ex;
            if (!p->access[0] && at)
                snprintf(p->access, sizeof p->access, "%s", at);
            if (at && (!strcmp(at, "ALL") || !strcmp(at, "index"))) {
                if (!p->full_scan || ex > p->full_scan_rows) {
                    snprintf(p->full_scan_table, sizeof p->full_scan_table, "%s", tn);
                    p->full_scan_rows = ex;
                }
                p->full_scan = 1;
            }
            if (key && p->nkeys < 8)
                snprintf(p->keys[p->nkeys++], sizeof p->keys[0], "%.63s.%.63s", tn, key);
        }
        plan_walk(x, p);
    }
}

int tk_plan_parse(const char *text, tk_plan *p)
{
    memset(p, 0, sizeof *p);
    p->ms = -1;
    json_t *root = json_loads(text, 0, NULL);
    json_t *qb = root ? json_object_get(root, "query_block") : NULL;
    if (!json_is_object(qb)) {
        json_decref(root);
        return -1;
    }
    p->ms = num(qb, "r_total_time_ms");
    plan_walk(qb, p);
    json_decref(root);
    return 0;
}

/* ---- the run ---------------------------------------------------------------- */

void tk_tune_opts_default(tk_tune_opts *o)
{
    memset(o, 0, sizeof *o);
    o->samples = 5;
    o->repeats = 7;
    o->min_gain = 0.5;
    o->min_rows = 1000;
    o->max_per_table = 3;
    o->write_rows = 2000;
    o->seed = 1;
}

/* The schema's indexes; fresh[i] marks an index this run built and kept. */
typedef struct ixlist {
    tk_index *v;
    int *fresh;
    size_t n, cap;
} ixlist;

static void ixlist_free(ixlist *l)
{
    free(l->v);
    free(l->fresh);
    memset(l, 0, sizeof *l);
}

static tk_index *ixlist_push(ixlist *l, int fresh)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 32;
        tk_index *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        l->v = nv;
        int *nf = realloc(l->fresh, cap * sizeof *nf);
        if (!nf)
            return NULL;
        l->fresh = nf;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof l->v[0]);
    l->fresh[l->n] = fresh;
    return &l->v[l->n++];
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Run a statement and drop any result sets; *affected (may be NULL) gets
 * the rows it changed. */
static int vxq(MYSQL *db, long long *affected, char *err, size_t errlen, const char *fmt, va_list ap)
{
    char sql[4096];
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    if (n < 0 || (size_t)n >= sizeof sql)
        return tk_err(err, errlen, "statement too long");
    if (mysql_real_query(db, sql, (unsigned long)n) != 0)
        return tk_err(err, errlen, "%s: %s", sql, mysql_error(db));
    if (affected)
        *affected = (long long)mysql_affected_rows(db);
    do {
        MYSQL_RES *r = mysql_store_result(db);
        mysql_free_result(r);
    } while (mysql_next_result(db) == 0);
    return 0;
}

static int xq(MYSQL *db, char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int xq(MYSQL *db, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vxq(db, NULL, err, errlen, fmt, ap);
    va_end(ap);
    return rc;
}

static int load_indexes(MYSQL *db, ixlist *l, char *err, size_t errlen)
{
    const char *sql = "SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME FROM information_schema.STATISTICS"
                      " WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX";
    if (mysql_query(db, sql) != 0)
        return tk_err(err, errlen, "reading the indexes: %s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return tk_err(err, errlen, "reading the indexes: %s", mysql_error(db));
    MYSQL_ROW row;
    tk_index *cur = NULL;
    while ((row = mysql_fetch_row(res))) {
        if (!row[0] || !row[1] || !row[3])
            continue;
        if (!cur || strcasecmp(cur->table, row[0]) || strcmp(cur->name, row[1])) {
            if (!(cur = ixlist_push(l, 0))) {
                mysql_free_result(res);
                return tk_err(err, errlen, "out of memory");
            }
            snprintf(cur->table, sizeof cur->table, "%s", row[0]);
            lower(cur->table);
            snprintf(cur->name, sizeof cur->name, "%s", row[1]);
            cur->primary = !strcmp(row[1], "PRIMARY");
            cur->unique = row[2] && !strcmp(row[2], "0");
        }
        if (cur->ncols < TK_TUNE_MAX_COLS) {
            snprintf(cur->cols[cur->ncols], TK_TUNE_NAME, "%s", row[3]);
            lower(cur->cols[cur->ncols++]);
        }
    }
    mysql_free_result(res);
    return 0;
}

static const tk_index *find_pk(const ixlist *l, const char *table)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].primary && !strcmp(l->v[i].table, table))
            return &l->v[i];
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
    if (n <= 0)
        return 0;
    double *c = malloc((size_t)n * sizeof *c);
    if (!c)
        return v[0];
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, cmp_d);
    double m = n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
    free(c);
    return m;
}

/* ANALYZE FORMAT=JSON one SELECT. p->ms falls back to the client wall
 * time when the plan has no r_total_time_ms. */
static int analyze(MYSQL *db, const char *sql, tk_plan *p, char *err, size_t errlen)
{
    size_t n = strlen(sql);
    char *q = malloc(n + 32);
    if (!q)
        return tk_err(err, errlen, "out of memory");
    int len = snprintf(q, n + 32, "ANALYZE FORMAT=JSON %s", sql);
    uint64_t t0 = tk_mono_us();
    int rc = mysql_real_query(db, q, (unsigned long)len);
    free(q);
    if (rc != 0)
        return tk_err(err, errlen, "ANALYZE %.200s: %s", sql, mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    double wall = (double)(tk_mono_us() - t0) / 1000.0;
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    int prc = row && row[0] ? tk_plan_parse(row[0], p) : -1;
    mysql_free_result(res);
    while (mysql_next_result(db) == 0)
        mysql_free_result(mysql_store_result(db));
    if (prc != 0)
        return tk_err(err, errlen, "ANALYZE %.200s: no plan JSON", sql);
    if (p->ms < 0)
        p->ms = wall;
    return 0;
}

/* The table an alias of sql stands for (FROM/JOIN <table> [AS] <alias>),
 * or the alias itself. */

/* Record the indexes a plan of sql uses as "table.key" in used. */
static void note_keys(json_t *used, const tk_plan *p, const char *sql)
{
    for (int k = 0; k < p->nkeys; k++) {
        char alias[TK_TUNE_NAME], table[TK_TUNE_NAME], key[2 * TK_TUNE_NAME + 2];
        const char *dot = strchr(p->keys[k], '.');
        if (!dot)
            continue;
        snprintf(alias, sizeof alias, "%.*s", (int)(dot - p->keys[k] < 63 ? dot - p->keys[k] : 63), p->keys[k]);
        tk_sql_alias_table(sql, alias, table, sizeof table);
        snprintf(key, sizeof key, "%.63s.%.63s", table, dot + 1);
        json_object_set_new(used, key, json_true());
    }
}

/* Mean server ms and rows examined over the sample statements. */
static int time_set(MYSQL *db, char **sqls, int ns, double *ms, double *rows, tk_plan *first, json_t *used,
                    char *err, size_t errlen)
{
    double tms = 0, trows = 0;
    for (int i = 0; i < ns; i++) {
        tk_plan p;
        if (analyze(db, sqls[i], &p, err, errlen) != 0)
            return -1;
        tms += p.ms;
        trows += p.rows_examined;
        if (used)
            note_keys(used, &p, sqls[i]);
        if (i == 0 && first)
            *first = p;
    }
    *ms = tms / ns;
    *rows = trows / ns;
    return 0;
}

/* An INSERT of copies of the first `rows` rows of table (every column but
 * the AUTO_INCREMENT ones), built client side so the timed statement is a
 * plain multi-row insert. malloc'd; NULL when the table has no rows. */
static char *copy_insert(MYSQL *db, const char *table, const char *cols, const char *pk, int rows, char *err,
                         size_t errlen)
{
    char sql[2400];
    snprintf(sql, sizeof sql, "SELECT %s FROM `%s` ORDER BY `%s` LIMIT %d", cols, table, pk, rows);
    if (mysql_query(db, sql) != 0) {
        tk_err(err, errlen, "%s: %s", sql, mysql_error(db));
        return NULL;
    }
    MYSQL_RES *res = mysql_store_result(db);
    if (!res) {
        tk_err(err, errlen, "%s: %s", sql, mysql_error(db));
        return NULL;
    }
    unsigned nf = mysql_num_fields(res);
    char *text = NULL;
    size_t textlen = 0;
    FILE *b = open_memstream(&text, &textlen);
    if (!b) {
        mysql_free_result(res);
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    fprintf(b, "INSERT INTO `%s` (%s) VALUES ", table, cols);
    MYSQL_ROW row;
    int nrows = 0, ok = 1;
    char *esc = NULL;
    size_t esccap = 0;
    while (ok && (row = mysql_fetch_row(res))) {
        unsigned long *len = mysql_fetch_lengths(res);
        fputs(nrows ? ",(" : "(", b);
        nrows++;
        for (unsigned i = 0; ok && i < nf; i++) {
            if (i)
                fputc(',', b);
            if (!row[i]) {
                fputs("NULL", b);
                continue;
            }
            if (2 * len[i] + 1 > esccap) {
                char *ne = realloc(esc, 2 * len[i] + 1);
                if (!ne) {
                    ok = 0;
                    break;
                }
                esc = ne;
                esccap = 2 * len[i] + 1;
            }
            unsigned long el = mysql_real_escape_string(db, esc, row[i], len[i]);
            fputc('\'', b);
            fwrite(esc, 1, el, b);
            fputc('\'', b);
        }
        fputc(')', b);
    }
    free(esc);
    mysql_free_result(res);
    ok = ok && !ferror(b);
    if (fclose(b) != 0)
        ok = 0;
    if (!ok) {
        free(text);
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    if (nrows == 0) {
        free(text);
        err[0] = '\0';
        return NULL;
    }
    return text;
}

/* Median ms of inserting copies of `rows` rows of table in a transaction
 * rolled back (3 runs); 1 when the table cannot take copies (a unique
 * secondary key, no rows), -1 on error (message in err). */
static int write_cost(MYSQL *db, const ixlist *l, const char *table, int rows, double *out, char *err, size_t errlen)
{
    for (size_t i = 0; i < l->n; i++)
        if (!strcmp(l->v[i].table, table) && l->v[i].unique && !l->v[i].primary)
            return 1;
    const tk_index *pk = find_pk(l, table);
    if (!pk || pk->ncols != 1)
        return 1;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT GROUP_CONCAT(CONCAT('`', COLUMN_NAME, '`') ORDER BY ORDINAL_POSITION) FROM information_schema.COLUMNS"
             " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '%s' AND EXTRA NOT LIKE '%%auto_increment%%'"
             " AND EXTRA NOT LIKE '%%GENERATED%%'",
             table);
    if (mysql_query(db, sql) != 0)
        return tk_err(err, errlen, "%s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    char cols[2048] = "";
    if (row && row[0])
        snprintf(cols, sizeof cols, "%s", row[0]);
    mysql_free_result(res);
    if (!cols[0] || strlen(cols) > 1800)
        return 1;
    char *ins = copy_insert(db, table, cols, pk->cols[0], rows, err, errlen);
    if (!ins)
        return err[0] ? -1 : 1;
    double t[3];
    int rc = 0;
    for (int r = 0; r < 3 && rc == 0; r++) {
        if (xq(db, err, errlen, "START TRANSACTION") != 0) {
            rc = -1;
            break;
        }
        uint64_t t0 = tk_mono_us();
        if (mysql_real_query(db, ins, (unsigned long)strlen(ins)) != 0)
            rc = tk_err(err, errlen, "write-cost insert into %s: %s", table, mysql_error(db));
        t[r] = (double)(tk_mono_us() - t0) / 1000.0;
        char e2[64];
        xq(db, e2, sizeof e2, "ROLLBACK");
    }
    free(ins);
    if (rc != 0)
        return -1;
    *out = median(t, 3);
    return 0;
}

/* A workload entry: a name and its sample statements. */
typedef struct wl {
    char name[96];
    char origin[160];
    char **sqls;
    int ns;
    char error[256];
} wl;

static void wl_free(wl *w, size_t n)
{
    for (size_t i = 0; w && i < n; i++) {
        for (int j = 0; j < w[i].ns; j++)
            free(w[i].sqls[j]);
        free(w[i].sqls);
    }
    free(w);
}

static int starts_select(const char *s)
{
    while (isspace((unsigned char)*s) || *s == '(')
        s++;
    return !strncasecmp(s, "select", 6) && !isalnum((unsigned char)s[6]) && s[6] != '_';
}

#define SQL_MAX 8192

static int cmp_slow(const void *a, const void *b)
{
    double x = ((const tk_slowq *)a)->total_s, y = ((const tk_slowq *)b)->total_s;
    return x > y ? -1 : x < y;
}

static int build_workload(MYSQL *db, const tk_tune_opts *o, wl **out, size_t *nout, json_t *skipped, char *err,
                          size_t errlen)
{
    size_t nreg = 0;
    const tk_query *reg = tk_queries(&nreg);
    tk_slowq *slow = NULL;
    size_t nslow = 0;
    if (o->slow_log) {
        char *text = NULL;
        size_t len = 0;
        if (tk_read_file(o->slow_log, 0, &text, &len, err, errlen) != TK_OK)
            return -1;
        int rc = tk_slowlog_parse(text, len, &slow, &nslow);
        free(text);
        if (rc != 0)
            return tk_err(err, errlen, "out of memory reading %s", o->slow_log);
    }
    /* the costliest groups first */
    if (nslow > 1)
        qsort(slow, nslow, sizeof *slow, cmp_slow);
    wl *w = calloc(nreg + nslow + 1, sizeof *w);
    tk_qgen *g = tk_qgen_new(db, o->seed);
    size_t n = 0;
    int rc = 0;
    if (!w || !g) {
        rc = tk_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nreg && !o->no_registry; i++) {
        if (o->only && strcmp(o->only, reg[i].name) != 0)
            continue;
        wl *e = &w[n++];
        snprintf(e->name, sizeof e->name, "%s", reg[i].name);
        snprintf(e->origin, sizeof e->origin, "%s", reg[i].origin);
        e->sqls = calloc((size_t)o->samples, sizeof *e->sqls);
        if (!e->sqls) {
            rc = tk_err(err, errlen, "out of memory");
            goto out;
        }
        for (int k = 0; k < o->samples; k++) {
            char *buf = malloc(SQL_MAX);
            if (!buf) {
                rc = tk_err(err, errlen, "out of memory");
                goto out;
            }
            if (tk_query_render(g, &reg[i], buf, SQL_MAX, e->error, sizeof e->error) != 0) {
                free(buf);
                break;
            }
            e->sqls[e->ns++] = buf;
            e->error[0] = '\0';
        }
    }
    for (size_t i = 0; i < nslow; i++) {
        if (!starts_select(slow[i].example)) {
            json_array_append_new(skipped, json_pack("{s:s, s:s}", "sql", slow[i].normalized, "reason",
                                                     "not a SELECT (ANALYZE would execute it)"));
            continue;
        }
        wl *e = &w[n++];
        snprintf(e->name, sizeof e->name, "slowlog#%zu", i + 1);
        snprintf(e->origin, sizeof e->origin, "slow log: %ld executions, %.3f s total, max %.3f s, rows examined <= %ld",
                 slow[i].count, slow[i].total_s, slow[i].max_s, slow[i].rows_examined_max);
        e->sqls = calloc(1, sizeof *e->sqls);
        if (!e->sqls || !(e->sqls[0] = strdup(slow[i].example))) {
            rc = tk_err(err, errlen, "out of memory");
            goto out;
        }
        e->ns = 1;
    }
    if (o->only && n == 0)
        rc = tk_err(err, errlen, "no registry query named '%s'", o->only);
out:
    tk_qgen_free(g);
    tk_slowlog_free(slow, nslow);
    if (rc != 0) {
        wl_free(w, n);
        return -1;
    }
    *out = w;
    *nout = n;
    return 0;
}

static json_t *cols_json(char cols[][TK_TUNE_NAME], int n)
{
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_string(cols[i]));
    return a;
}

static void cols_text(char cols[][TK_TUNE_NAME], int n, const char *sep, const char *quote, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < n && o < cap; i++)
        o += (size_t)snprintf(out + o, cap - o, "%s%s%s%s", i ? sep : "", quote, cols[i], quote);
}

/* The run's state. */
typedef struct run {
    MYSQL *db;
    const tk_tune_opts *o;
    ixlist ix;
    json_t *used;     /* "table.key" -> true over every analysed plan */
    char (*built)[2][TK_TUNE_NAME]; /* table, index of kept indexes */
    size_t nbuilt;
    struct {
        char table[TK_TUNE_NAME];
        int n;
    } per_table[64];
    int ntables;
} run;

static int *table_count(run *r, const char *table)
{
    for (int i = 0; i < r->ntables; i++)
        if (!strcmp(r->per_table[i].table, table))
            return &r->per_table[i].n;
    if (r->ntables == 64)
        return &r->per_table[63].n;
    snprintf(r->per_table[r->ntables].table, TK_TUNE_NAME, "%s", table);
    return &r->per_table[r->ntables++].n;
}

/* Build, time with/without, keep or drop one candidate; fills c. */
static int measure_candidate(run *r, wl *w, const char *table, char cols[][TK_TUNE_NAME], int ncols, json_t *c,
                             char *err, size_t errlen)
{
    MYSQL *db = r->db;
    const tk_tune_opts *o = r->o;
    char name[TK_TUNE_NAME], list[512], joined[256];
    cols_text(cols, ncols, "_", "", joined, sizeof joined);
    snprintf(name, sizeof name, "tk_%.20s_%.38s", table, joined);
    cols_text(cols, ncols, ", ", "`", list, sizeof list);
    json_object_set_new(c, "index", json_string(name));

    double w_without = 0, w_with = 0;
    char werr[512] = "";
    int wc = o->write_rows > 0 ? write_cost(db, &r->ix, table, o->write_rows, &w_without, werr, sizeof werr) : 1;
    uint64_t t0 = tk_mono_us();
    if (xq(db, err, errlen, "ALTER TABLE `%s` ADD INDEX `%s` (%s)", table, name, list) != 0)
        return -1;
    json_object_set_new(c, "build_ms", json_real((double)(tk_mono_us() - t0) / 1000.0));
    if (wc == 0 && write_cost(db, &r->ix, table, o->write_rows, &w_with, werr, sizeof werr) < 0)
        wc = -1;
    if (wc < 0) /* the probe failed: say so, the read measurement still stands */
        json_object_set_new(c, "write_cost", json_pack("{s:s}", "error", werr));
    else if (wc == 0)
        json_object_set_new(c, "write_cost",
                            json_pack("{s:i, s:f, s:f, s:f}", "rows", o->write_rows, "insert_ms_without", w_without,
                                      "insert_ms_with", w_with, "ratio", w_without > 0 ? w_with / w_without : 0.0));
    else
        json_object_set_new(c, "write_cost", json_pack("{s:s}", "skipped", "table has a unique secondary key or no rows to copy"));

    int R = o->repeats;
    double *on = calloc((size_t)R, sizeof *on), *off = calloc((size_t)R, sizeof *off);
    double *ron = calloc((size_t)R, sizeof *ron), *roff = calloc((size_t)R, sizeof *roff);
    if (!on || !off || !ron || !roff) {
        free(on), free(off), free(ron), free(roff);
        tk_err(err, errlen, "out of memory");
        goto fail;
    }
    tk_plan pon = {0};
    double dm, dr;
    int ok = 0;
    /* warm-up: both states once, untimed */
    if (xq(db, err, errlen, "ALTER TABLE `%s` ALTER INDEX `%s` IGNORED", table, name) != 0 ||
        time_set(db, w->sqls, w->ns, &dm, &dr, NULL, NULL, err, errlen) != 0 ||
        xq(db, err, errlen, "ALTER TABLE `%s` ALTER INDEX `%s` NOT IGNORED", table, name) != 0 ||
        time_set(db, w->sqls, w->ns, &dm, &dr, NULL, NULL, err, errlen) != 0)
        goto measured;
    for (int k = 0; k < R; k++) {
        for (int s = 0; s < 2; s++) {
            int ignored = (k % 2) ? s == 0 : s == 1; /* alternate which state goes first */
            if (xq(db, err, errlen, "ALTER TABLE `%s` ALTER INDEX `%s` %s", table, name,
                   ignored ? "IGNORED" : "NOT IGNORED") != 0)
                goto measured;
            if (ignored ? time_set(db, w->sqls, w->ns, &off[k], &roff[k], NULL, NULL, err, errlen)
                        : time_set(db, w->sqls, w->ns, &on[k], &ron[k], k == 0 ? &pon : NULL, r->used, err, errlen))
                goto measured;
        }
    }
    ok = 1;
measured:;
    char e2[256];
    if (xq(db, e2, sizeof e2, "ALTER TABLE `%s` ALTER INDEX `%s` NOT IGNORED", table, name) != 0 && ok) {
        snprintf(err, errlen, "%s", e2);
        ok = 0;
    }
    double before = median(off, R), after = median(on, R);
    double rb = median(roff, R), ra = median(ron, R);
    free(on), free(off), free(ron), free(roff);
    if (!ok)
        goto fail;
    double gain = before > 0 ? 1.0 - after / before : 0;
    int used = 0;
    for (int k = 0; k < pon.nkeys; k++)
        if (strstr(pon.keys[k], name))
            used = 1;
    json_object_set_new(c, "before_ms", json_real(before));
    json_object_set_new(c, "after_ms", json_real(after));
    json_object_set_new(c, "ratio", json_real(after > 0 ? before / after : 0));
    json_object_set_new(c, "gain", json_real(gain));
    json_object_set_new(c, "rows_before", json_real(rb));
    json_object_set_new(c, "rows_after", json_real(ra));
    json_object_set_new(c, "used_by_plan", json_boolean(used));
    json_object_set_new(c, "rounds", json_integer(R));
    if (gain >= o->min_gain && used) {
        json_object_set_new(c, "status", json_string("kept"));
        char reason[160];
        snprintf(reason, sizeof reason, "median gain %.0f %% >= %.0f %%", gain * 100, o->min_gain * 100);
        json_object_set_new(c, "reason", json_string(reason));
        void *nb = realloc(r->built, (r->nbuilt + 1) * sizeof *r->built);
        if (nb)
            r->built = nb;
        tk_index *ix = nb ? ixlist_push(&r->ix, 1) : NULL;
        if (!ix) {
            tk_err(err, errlen, "out of memory");
            goto fail;
        }
        snprintf(r->built[r->nbuilt][0], TK_TUNE_NAME, "%s", table);
        snprintf(r->built[r->nbuilt++][1], TK_TUNE_NAME, "%s", name);
        snprintf(ix->table, sizeof ix->table, "%s", table);
        snprintf(ix->name, sizeof ix->name, "%s", name);
        for (int i = 0; i < ncols; i++)
            snprintf(ix->cols[i], TK_TUNE_NAME, "%.63s", cols[i]);
        ix->ncols = ncols;
        return 0;
    }
    char reason[200];
    if (!used)
        snprintf(reason, sizeof reason, "the optimizer did not use it");
    else
        snprintf(reason, sizeof reason, "median gain %.0f %% < %.0f %%", gain * 100, o->min_gain * 100);
    json_object_set_new(c, "status", json_string("rejected"));
    json_object_set_new(c, "reason", json_string(reason));
    return xq(db, err, errlen, "ALTER TABLE `%s` DROP INDEX `%s`", table, name);
fail:
    xq(db, e2, sizeof e2, "ALTER TABLE `%s` DROP INDEX `%s`", table, name);
    return -1;
}

static void add_finding(json_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_finding(json_t *f, const char *fmt, ...)
{
    char b[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    json_array_append_new(f, json_string(b));
}

static int tune_query(run *r, wl *w, json_t *qj, char *err, size_t errlen)
{
    const tk_tune_opts *o = r->o;
    json_object_set_new(qj, "name", json_string(w->name));
    json_object_set_new(qj, "origin", json_string(w->origin));
    json_object_set_new(qj, "sql", w->ns ? json_string(w->sqls[0]) : json_null());
    json_t *findings = json_array();
    json_object_set_new(qj, "findings", findings);
    json_object_set_new(qj, "candidate", json_null());
    if (w->ns == 0) {
        json_object_set_new(qj, "error", json_string(w->error[0] ? w->error : "no statement"));
        return 0;
    }
    if (!starts_select(w->sqls[0])) {
        json_object_set_new(qj, "error", json_string("not a SELECT"));
        return 0;
    }
    /* before: every sample once */
    double ms[64], rows = 0;
    int ns = w->ns < 64 ? w->ns : 64;
    int full = 0, fs = 0, tmp = 0;
    char full_table[TK_TUNE_NAME] = "";
    double full_rows = 0;
    tk_plan first = {0};
    for (int i = 0; i < ns; i++) {
        tk_plan p;
        char e[512];
        if (analyze(r->db, w->sqls[i], &p, e, sizeof e) != 0) {
            json_object_set_new(qj, "error", json_string(e));
            return 0;
        }
        if (i == 0)
            first = p;
        note_keys(r->used, &p, w->sqls[i]);
        ms[i] = p.ms;
        rows += p.rows_examined;
        if (p.full_scan && p.full_scan_rows >= (double)o->min_rows && p.full_scan_rows > full_rows) {
            full = 1;
            full_rows = p.full_scan_rows;
            snprintf(full_table, sizeof full_table, "%s", p.full_scan_table);
        }
        fs |= p.filesort;
        tmp |= p.temporary;
    }
    json_t *keys = json_array();
    for (int k = 0; k < first.nkeys; k++)
        json_array_append_new(keys, json_string(first.keys[k]));
    json_object_set_new(qj, "before", json_pack("{s:f, s:f, s:s, s:o}", "ms", median(ms, ns), "rows_examined",
                                                rows / ns, "access", first.access, "keys", keys));
    if (full)
        add_finding(findings, "full scan of %s (%.0f rows)", full_table, full_rows);
    /* a sort or temporary table over a handful of rows costs nothing */
    if (fs && rows / ns >= (double)o->min_rows)
        add_finding(findings, "filesort");
    if (tmp && rows / ns >= (double)o->min_rows)
        add_finding(findings, "temporary table");

    tk_sql_shape sh;
    if (tk_sql_shape_parse(w->sqls[0], &sh) != 0)
        return 0;
    json_object_set_new(qj, "table", json_string(sh.table));
    const tk_index *pk = find_pk(&r->ix, sh.table);
    char cols[TK_TUNE_MAX_COLS][TK_TUNE_NAME];
    int nc = tk_tune_candidate(&sh, pk && pk->ncols == 1 ? pk->cols[0] : NULL, cols);
    if (nc == 0)
        return 0;
    char list[512], ddl[700], joined[256], name[TK_TUNE_NAME];
    cols_text(cols, nc, ", ", "`", list, sizeof list);
    cols_text(cols, nc, "_", "", joined, sizeof joined);
    snprintf(name, sizeof name, "tk_%.20s_%.38s", sh.table, joined);
    snprintf(ddl, sizeof ddl, "ALTER TABLE `%s` ADD INDEX `%s` (%s)", sh.table, name, list);
    json_t *c = json_pack("{s:s, s:o, s:s, s:s}", "table", sh.table, "columns", cols_json(cols, nc), "index", name,
                          "ddl", ddl);
    json_object_set_new(qj, "candidate", c);

    /* served by an existing index (left prefix), or a unique one on a prefix of the equalities */
    for (size_t i = 0; i < r->ix.n; i++) {
        const tk_index *ix = &r->ix.v[i];
        if (strcmp(ix->table, sh.table) != 0)
            continue;
        int uniq_prefix = 0;
        if (ix->unique && ix->ncols <= sh.neq) {
            uniq_prefix = 1;
            for (int k = 0; k < ix->ncols && uniq_prefix; k++) {
                int found = 0;
                for (int m = 0; m < sh.neq; m++)
                    found |= !strcmp(sh.eq[m], ix->cols[k]);
                uniq_prefix = found;
            }
        }
        if (tk_index_serves(ix, cols, nc) || uniq_prefix) {
            char reason[300];
            snprintf(reason, sizeof reason, "%s index %s already serves it%s", r->ix.fresh[i] ? "the proposed" : "existing",
                     ix->name, uniq_prefix && !tk_index_serves(ix, cols, nc) ? " (unique on the equality columns)" : "");
            json_object_set_new(c, "status", json_string(r->ix.fresh[i] ? "same" : "served"));
            json_object_set_new(c, "reason", json_string(reason));
            json_object_set_new(c, "served_by", json_string(ix->name));
            json_object_set_new(c, "ddl", json_null());
            return 0;
        }
    }
    if (json_array_size(findings) == 0) {
        json_object_set_new(c, "status", json_string("no_issue"));
        json_object_set_new(c, "ddl", json_null());
        json_object_set_new(c, "reason", json_string("no full scan, filesort or temporary table in the plan"));
        return 0;
    }
    int *cnt = table_count(r, sh.table);
    if (*cnt >= o->max_per_table) {
        json_object_set_new(c, "status", json_string("limit"));
        json_object_set_new(c, "ddl", json_null());
        json_object_set_new(c, "reason", json_string("max candidates per table reached"));
        return 0;
    }
    (*cnt)++;
    return measure_candidate(r, w, sh.table, cols, nc, c, err, errlen);
}

static int userstat_on(MYSQL *db)
{
    if (mysql_query(db, "SELECT @@userstat") != 0)
        return 0;
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    int on = row && row[0] && !strcmp(row[0], "1");
    mysql_free_result(res);
    return on;
}

static void userstat_used(MYSQL *db, json_t *used)
{
    if (mysql_query(db, "SELECT TABLE_NAME, INDEX_NAME FROM information_schema.INDEX_STATISTICS"
                        " WHERE TABLE_SCHEMA = DATABASE() AND ROWS_READ > 0") != 0)
        return;
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row;
    while (res && (row = mysql_fetch_row(res))) {
        char k[2 * TK_TUNE_NAME + 2];
        snprintf(k, sizeof k, "%.63s.%.63s", row[0], row[1]);
        json_object_set_new(used, k, json_true());
    }
    mysql_free_result(res);
}

int tk_tune_run(MYSQL *db, const tk_tune_opts *o, json_t **out, char *err, size_t errlen)
{
    if (o->samples < 1 || o->samples > 64 || o->repeats < 1 || o->repeats > 1000 || o->min_gain < 0 ||
        o->min_gain >= 1 || o->max_per_table < 1)
        return tk_err(err, errlen, "bad options: samples 1..64, repeats 1..1000, min-gain in [0,1), max-per-table >= 1");
    run r = {.db = db, .o = o, .used = json_object()};
    json_t *root = json_object(), *queries = json_array(), *skipped = json_array();
    wl *w = NULL;
    size_t nw = 0;
    int rc = -1;
    if (load_indexes(db, &r.ix, err, errlen) != 0)
        goto out;
    if (build_workload(db, o, &w, &nw, skipped, err, errlen) != 0)
        goto out;
    json_object_set_new(root, "kind", json_string("tune"));
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "created_at_ms", json_integer(tk_wall_ms()));
    json_object_set_new(root, "config",
                        json_pack("{s:i, s:i, s:f, s:I, s:i, s:i, s:b, s:b, s:s?, s:s?, s:I}", "samples", o->samples,
                                  "repeats", o->repeats, "min_gain", o->min_gain, "min_rows", (json_int_t)o->min_rows,
                                  "max_per_table", o->max_per_table, "write_rows", o->write_rows, "apply", o->apply,
                                  "drop_redundant", o->drop_redundant, "query", o->only, "slow_log", o->slow_log,
                                  "seed", (json_int_t)o->seed));
    json_object_set_new(root, "server",
                        json_pack("{s:s, s:b}", "version", mysql_get_server_info(db), "userstat", userstat_on(db)));
    json_object_set_new(root, "queries", queries);
    json_object_set_new(root, "skipped", skipped);
    int bar = o->progress ? tk_progress_add(o->progress, "queries", nw) : -1;
    for (size_t i = 0; i < nw; i++) {
        json_t *qj = json_object();
        json_array_append_new(queries, qj);
        if (tune_query(&r, &w[i], qj, err, errlen) != 0)
            goto out;
        if (bar >= 0)
            tk_progress_advance(o->progress, bar, 1);
    }
    if (bar >= 0)
        tk_progress_done(o->progress, bar);

    /* proposed, redundant, unused */
    json_t *proposed = json_array(), *redundant = json_array(), *unused = json_array();
    json_object_set_new(root, "proposed", proposed);
    json_object_set_new(root, "redundant", redundant);
    json_object_set_new(root, "unused", unused);
    for (size_t i = 0; i < json_array_size(queries); i++) {
        json_t *c = json_object_get(json_array_get(queries, i), "candidate");
        const char *st = json_string_value(json_object_get(c, "status"));
        if (st && !strcmp(st, "kept"))
            json_array_append_new(proposed, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "table",
                                                      json_object_get(c, "table"), "index", json_object_get(c, "index"),
                                                      "columns", json_object_get(c, "columns"), "ddl",
                                                      json_object_get(c, "ddl"), "gain", json_object_get(c, "gain"),
                                                      "query", json_object_get(json_array_get(queries, i), "name")));
    }
    int us = userstat_on(db);
    if (us)
        userstat_used(db, r.used);
    json_object_set_new(root, "unused_source", json_string(us ? "userstat" : "plans"));
    for (size_t i = 0; i < r.ix.n; i++) {
        const tk_index *ix = &r.ix.v[i];
        char list[512];
        cols_text((char(*)[TK_TUNE_NAME])ix->cols, ix->ncols, ", ", "`", list, sizeof list);
        int j = tk_index_redundant(r.ix.v, r.ix.n, i);
        if (j >= 0 && !r.ix.fresh[i]) {
            char ddl[300];
            snprintf(ddl, sizeof ddl, "ALTER TABLE `%s` DROP INDEX `%s`", ix->table, ix->name);
            json_array_append_new(redundant, json_pack("{s:s, s:s, s:o, s:s, s:b, s:s}", "table", ix->table, "index",
                                                       ix->name, "columns",
                                                       cols_json((char(*)[TK_TUNE_NAME])ix->cols, ix->ncols),
                                                       "covered_by", r.ix.v[j].name, "covered_by_proposed",
                                                       r.ix.fresh[j], "ddl", ddl));
        }
        char key[2 * TK_TUNE_NAME + 2];
        snprintf(key, sizeof key, "%.63s.%.63s", ix->table, ix->name);
        if (!ix->unique && !ix->primary && !r.ix.fresh[i] && !json_object_get(r.used, key))
            json_array_append_new(unused, json_pack("{s:s, s:s, s:o}", "table", ix->table, "index", ix->name, "columns",
                                                    cols_json((char(*)[TK_TUNE_NAME])ix->cols, ix->ncols)));
    }
    if (o->apply && o->drop_redundant) {
        size_t k;
        json_t *x;
        json_array_foreach(redundant, k, x) {
            if (xq(db, err, errlen, "%s", json_string_value(json_object_get(x, "ddl"))) != 0)
                goto out;
            json_object_set_new(x, "dropped", json_true());
        }
    }
    json_object_set_new(root, "applied", json_boolean(o->apply));
    rc = 0;
out:
    /* advice only (or a failure): drop what this run built */
    if (!o->apply || rc != 0)
        for (size_t i = 0; i < r.nbuilt; i++) {
            char e2[256];
            xq(db, e2, sizeof e2, "ALTER TABLE `%s` DROP INDEX `%s`", r.built[i][0], r.built[i][1]);
        }
    free(r.built);
    wl_free(w, nw);
    ixlist_free(&r.ix);
    json_decref(r.used);
    if (rc != 0) {
        json_decref(root);
        return -1;
    }
    *out = root;
    return 0;
}

/* ---- measure ---------------------------------------------------------------- */

static double pct(const double *sorted, int n, double p)
{
    if (n <= 0)
        return 0;
    int i = (int)ceil(p * n) - 1; /* nearest rank */
    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return sorted[i];
}

int tk_tune_measure(MYSQL *db, const char *only, int n, unsigned long long seed, tk_progress *progress, json_t **out,
                    char *err, size_t errlen)
{
    if (n < 1 || n > 10000000)
        return tk_err(err, errlen, "executions must be 1..10000000");
    size_t nreg;
    const tk_query *reg = tk_queries(&nreg);
    if (only && !tk_query_find(only))
        return tk_err(err, errlen, "no registry query named '%s'", only);
    tk_qgen *g = tk_qgen_new(db, seed);
    double *t = malloc((size_t)n * sizeof *t);
    char *sql = malloc(SQL_MAX);
    json_t *root = json_pack("{s:s, s:i, s:[]}", "kind", "tune-measure", "n", n, "queries");
    json_t *qs = json_object_get(root, "queries");
    int rc = -1;
    if (!g || !t || !sql || !root) {
        tk_err(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nreg; i++) {
        if (only && strcmp(only, reg[i].name) != 0)
            continue;
        char e[256];
        int bar = progress ? tk_progress_add(progress, reg[i].name, (uint64_t)n) : -1;
        int done = 0;
        for (int k = 0; k < n; k++) {
            if (tk_query_render(g, &reg[i], sql, SQL_MAX, e, sizeof e) != 0)
                break;
            uint64_t t0 = tk_mono_us();
            if (mysql_query(db, sql) != 0) {
                tk_err(err, errlen, "%s: %s", reg[i].name, mysql_error(db));
                goto out;
            }
            MYSQL_RES *res = mysql_store_result(db);
            mysql_free_result(res);
            t[done++] = (double)(tk_mono_us() - t0) / 1000.0;
            if (bar >= 0)
                tk_progress_advance(progress, bar, 1);
        }
        if (bar >= 0)
            tk_progress_done(progress, bar);
        if (done == 0) {
            json_array_append_new(qs, json_pack("{s:s, s:s}", "name", reg[i].name, "error", e));
            continue;
        }
        qsort(t, (size_t)done, sizeof *t, cmp_d);
        double sum = 0;
        for (int k = 0; k < done; k++)
            sum += t[k];
        json_array_append_new(qs, json_pack("{s:s, s:i, s:f, s:f, s:f, s:f}", "name", reg[i].name, "n", done, "p50_ms",
                                            pct(t, done, 0.5), "p99_ms", pct(t, done, 0.99), "max_ms", t[done - 1],
                                            "mean_ms", sum / done));
    }
    rc = 0;
out:
    tk_qgen_free(g);
    free(t);
    free(sql);
    if (rc != 0) {
        json_decref(root);
        return -1;
    }
    *out = root;
    return 0;
}

/* ---- text ------------------------------------------------------------------- */

static double jd(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static const char *js(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

void tk_tune_print(const json_t *res, FILE *f)
{
    const char *kind = js(res, "kind");
    size_t i;
    json_t *q;
    if (!strcmp(kind, "tune-measure")) {
        fprintf(f, "%-30s %8s %10s %10s %10s\n", "query", "n", "p50 ms", "p99 ms", "max ms");
        json_array_foreach(json_object_get(res, "queries"), i, q) {
            if (json_object_get(q, "error"))
                fprintf(f, "%-30s  (%s)\n", js(q, "name"), js(q, "error"));
            else
                fprintf(f, "%-30s %8.0f %10.3f %10.3f %10.3f\n", js(q, "name"), jd(q, "n"), jd(q, "p50_ms"),
                        jd(q, "p99_ms"), jd(q, "max_ms"));
        }
        return;
    }
    json_array_foreach(json_object_get(res, "queries"), i, q) {
        json_t *b = json_object_get(q, "before"), *c = json_object_get(q, "candidate");
        fprintf(f, "%s  [%s]\n", js(q, "name"), js(q, "origin"));
        if (json_object_get(q, "error")) {
            fprintf(f, "  error: %s\n\n", js(q, "error"));
            continue;
        }
        size_t k;
        json_t *x;
        fprintf(f, "  plan: %.3f ms, %.0f rows examined, access %s", jd(b, "ms"), jd(b, "rows_examined"),
                js(b, "access"));
        json_array_foreach(json_object_get(q, "findings"), k, x) fprintf(f, "%s%s", k ? ", " : "; ", json_string_value(x));
        fputc('\n', f);
        if (!json_is_object(c)) {
            fputc('\n', f);
            continue;
        }
        fprintf(f, "  candidate %s(", js(c, "table"));
        json_array_foreach(json_object_get(c, "columns"), k, x) fprintf(f, "%s%s", k ? ", " : "", json_string_value(x));
        fprintf(f, "): %s - %s\n", js(c, "status"), js(c, "reason"));
        if (json_object_get(c, "before_ms")) {
            fprintf(f, "  %10s %10s %8s %14s %14s\n", "before ms", "after ms", "ratio", "rows before", "rows after");
            fprintf(f, "  %10.3f %10.3f %7.1fx %14.0f %14.0f\n", jd(c, "before_ms"), jd(c, "after_ms"), jd(c, "ratio"),
                    jd(c, "rows_before"), jd(c, "rows_after"));
            json_t *wc = json_object_get(c, "write_cost");
            if (json_object_get(wc, "rows"))
                fprintf(f, "  write cost: %.0f-row insert %.2f ms without, %.2f ms with (%.2fx)\n", jd(wc, "rows"),
                        jd(wc, "insert_ms_without"), jd(wc, "insert_ms_with"), jd(wc, "ratio"));
            fprintf(f, "  ddl: %s\n", js(c, "ddl"));
        }
        fputc('\n', f);
    }
    json_t *x;
    fprintf(f, "proposed indexes:%s\n", json_array_size(json_object_get(res, "proposed")) ? "" : " none");
    json_array_foreach(json_object_get(res, "proposed"), i, x)
        fprintf(f, "  %s;  -- %s, gain %.0f %%\n", js(x, "ddl"), js(x, "query"), jd(x, "gain") * 100);
    fprintf(f, "redundant indexes (left prefix of another):%s\n",
            json_array_size(json_object_get(res, "redundant")) ? "" : " none");
    json_array_foreach(json_object_get(res, "redundant"), i, x)
        fprintf(f, "  %s;  -- covered by %s%s\n", js(x, "ddl"), js(x, "covered_by"),
                json_is_true(json_object_get(x, "dropped")) ? " (dropped)" : "");
    fprintf(f, "unused indexes (source: %s):%s\n", js(res, "unused_source"),
            json_array_size(json_object_get(res, "unused")) ? "" : " none");
    json_array_foreach(json_object_get(res, "unused"), i, x) fprintf(f, "  %s.%s\n", js(x, "table"), js(x, "index"));
    fprintf(f, "%s\n", json_is_true(json_object_get(res, "applied")) ? "applied: the proposed indexes were kept"
                                                                     : "advice only: every index built for the measurement was dropped (use --apply to keep them)");
}
