/* The index tuner's SQL reader (see tune.h): the shape of a query's WHERE and
 * ORDER BY, the candidate index it suggests, and whether an existing index
 * already serves it or is redundant.
 *
 * A small hand-written scanner for the conjunctive WHERE / ORDER BY shapes
 * our queries have, not a SQL grammar: anything it does not understand is
 * ignored, which can only make the tuner propose less. */
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

/* ---- SQL scanning --------------------------------------------------------- */

static int identc(int c) { return isalnum(c) || c == '_' || c == '$' || c == '`'; }

/* A lower-cased copy of sql where the inside of every quoted string is
 * replaced by 'x' (so keywords inside literals are not seen), and the paren
 * depth of each byte. Caller frees both. */
static int scan_prepare(const char *sql, char **low, int **depth)
{
    size_t n = strlen(sql);
    char *s = malloc(n + 1);
    int *d = malloc((n + 1) * sizeof *d);
    if (!s || !d) {
        free(s);
        free(d);
        return -1;
    }
    int dep = 0;
    char quote = 0;
    for (size_t i = 0; i < n; i++) {
        char c = sql[i];
        if (quote) {
            if (c == '\\' && i + 1 < n) {
                s[i] = 'x';
                s[i + 1] = 'x';
                d[i] = d[i + 1] = dep;
                i++;
                continue;
            }
            if (c == quote) {
                quote = 0;
                s[i] = c;
            } else {
                s[i] = 'x';
            }
            d[i] = dep;
            continue;
        }
        if (c == '\'' || c == '"') {
            quote = c;
            s[i] = c;
            d[i] = dep;
            continue;
        }
        if (c == '(')
            dep++;
        d[i] = dep;
        if (c == ')' && dep > 0)
            dep--;
        s[i] = (char)tolower((unsigned char)c);
        if (isspace((unsigned char)s[i]))
            s[i] = ' ';
    }
    s[n] = '\0';
    d[n] = 0;
    *low = s;
    *depth = d;
    return 0;
}

/* Position of keyword kw as a whole word at depth 0 in [from, to), or -1. */
static long find_kw(const char *s, const int *d, const char *kw, long from, long to)
{
    size_t k = strlen(kw);
    for (long i = from; i + (long)k <= to; i++) {
        if (d[i] != 0 || strncmp(s + i, kw, k) != 0)
            continue;
        if (i > 0 && identc((unsigned char)s[i - 1]))
            continue;
        if (identc((unsigned char)s[i + k]))
            continue;
        return i;
    }
    return -1;
}

static long skip_sp(const char *s, long i)
{
    while (s[i] == ' ')
        i++;
    return i;
}

/* Read an identifier (backticks dropped) at i into out; returns the end
 * position, or i when there is none. */
static long read_ident(const char *s, long i, char *out, size_t cap)
{
    size_t j = 0;
    long p = i;
    if (isdigit((unsigned char)s[p]))
        return i;
    while (identc((unsigned char)s[p])) {
        if (s[p] != '`' && j + 1 < cap)
            out[j++] = s[p];
        p++;
    }
    out[j] = '\0';
    return j ? p : i;
}

/* [qual.]col at i; returns end or i. */
static long read_colref(const char *s, long i, char *qual, char *col)
{
    char a[TK_TUNE_NAME], b[TK_TUNE_NAME];
    long p = read_ident(s, i, a, sizeof a);
    if (p == i)
        return i;
    qual[0] = '\0';
    if (s[p] == '.') {
        long q = read_ident(s, p + 1, b, sizeof b);
        if (q == p + 1)
            return i;
        snprintf(qual, TK_TUNE_NAME, "%s", a);
        snprintf(col, TK_TUNE_NAME, "%s", b);
        return q;
    }
    snprintf(col, TK_TUNE_NAME, "%s", a);
    return p;
}

static int is_kw(const char *w)
{
    static const char *const kws[] = {"where", "join", "inner", "left", "right", "cross", "straight_join", "order",
                                      "group", "limit", "for", "force", "use", "ignore", "on", "natural",
                                      "having", "union", "lock", "window", "procedure", "into", NULL};
    for (int i = 0; kws[i]; i++)
        if (!strcmp(w, kws[i]))
            return 1;
    return 0;
}

static void add_col(char cols[][TK_TUNE_NAME], int *n, const char *c)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(cols[i], c))
            return;
    if (*n < TK_TUNE_MAX_COLS)
        snprintf(cols[(*n)++], TK_TUNE_NAME, "%s", c);
}

static int mine(const tk_sql_shape *o, const char *qual)
{
    return !qual[0] || !strcmp(qual, o->alias) || !strcmp(qual, o->table);
}

/* Is the text at i (right-hand side) a column reference? */
static int rhs_is_column(const char *s, long i)
{
    char q[TK_TUNE_NAME], c[TK_TUNE_NAME];
    long p = read_colref(s, i, q, c);
    if (p == i)
        return 0;
    p = skip_sp(s, p);
    if (s[p] == '(') /* a function: UTC_TIMESTAMP(3), NOW() */
        return 0;
    return strcmp(c, "null") && strcmp(c, "true") && strcmp(c, "false");
}

/* One WHERE conjunct s[a, b). */
static void parse_term(const char *orig, const char *s, const int *d, long a, long b, tk_sql_shape *o)
{
    a = skip_sp(s, a);
    if (a >= b || s[a] == '(' || find_kw(s, d, "or", a, b) >= 0 || find_kw(s, d, "not", a, b) >= 0)
        return;
    /* depth inside the term is relative: the WHERE's own depth is 0 */
    char qual[TK_TUNE_NAME], col[TK_TUNE_NAME];
    long p = read_colref(s, a, qual, col);
    if (p == a || !mine(o, qual))
        return;
    p = skip_sp(s, p);
    if (s[p] == '(')
        return;
    int eq = 0, range = 0;
    long r = p;
    if (!strncmp(s + p, "<=>", 3)) {
        eq = 1;
        r = p + 3;
    } else if (s[p] == '=') {
        eq = 1;
        r = p + 1;
    } else if (!strncmp(s + p, "<>", 2) || !strncmp(s + p, "!=", 2)) {
        return;
    } else if (!strncmp(s + p, "<=", 2) || !strncmp(s + p, ">=", 2)) {
        range = 1;
        r = p + 2;
    } else if (s[p] == '<' || s[p] == '>') {
        range = 1;
        r = p + 1;
    } else if (!strncmp(s + p, "in", 2) && !identc((unsigned char)s[p + 2])) {
        r = skip_sp(s, p + 2);
        if (s[r] != '(' || !strncmp(s + skip_sp(s, r + 1), "select", 6))
            return;
        eq = 1;
    } else if (!strncmp(s + p, "between", 7) && !identc((unsigned char)s[p + 7])) {
        range = 1;
        r = p + 7;
    } else if (!strncmp(s + p, "is", 2) && !identc((unsigned char)s[p + 2])) {
        long q = skip_sp(s, p + 2);
        if (strncmp(s + q, "null", 4) != 0)
            return;
        eq = 1;
        r = q + 4;
    } else if (!strncmp(s + p, "like", 4) && !identc((unsigned char)s[p + 4])) {
        long q = skip_sp(s, p + 4);
        /* a prefix range only for 'abc%'; the original text still has the
         * wildcard the scanner blanked */
        if (s[q] != '\'' || orig[q + 1] == '%' || orig[q + 1] == '_')
            return;
        range = 1;
        r = q;
    } else {
        return;
    }
    r = skip_sp(s, r);
    if (rhs_is_column(s, r))
        return; /* a join condition */
    if (eq)
        add_col(o->eq, &o->neq, col);
    else if (range)
        add_col(o->range, &o->nrange, col);
}

int tk_sql_shape_parse(const char *sql, tk_sql_shape *o)
{
    memset(o, 0, sizeof *o);
    char *s = NULL;
    int *d = NULL;
    if (!sql || scan_prepare(sql, &s, &d) != 0)
        return -1;
    int rc = -1;
    long n = (long)strlen(s);
    long i = skip_sp(s, 0);
    if (strncmp(s + i, "select", 6) != 0 || identc((unsigned char)s[i + 6]))
        goto out;
    long from = find_kw(s, d, "from", i, n);
    if (from < 0)
        goto out;
    long p = skip_sp(s, from + 4);
    char name[TK_TUNE_NAME];
    long e = read_ident(s, p, name, sizeof name);
    if (e == p)
        goto out;
    while (s[e] == '.') { /* db.table */
        long f = read_ident(s, e + 1, name, sizeof name);
        if (f == e + 1)
            goto out;
        e = f;
    }
    snprintf(o->table, sizeof o->table, "%s", name);
    p = skip_sp(s, e);
    if (!strncmp(s + p, "as ", 3))
        p = skip_sp(s, p + 3);
    char alias[TK_TUNE_NAME];
    if (read_ident(s, p, alias, sizeof alias) != p && !is_kw(alias))
        snprintf(o->alias, sizeof o->alias, "%s", alias);

    static const char *const ends[] = {"order", "group", "limit", "for", "having", "lock", "union", "window", NULL};
    long where = find_kw(s, d, "where", e, n);
    long wend = n;
    long tail_from = where >= 0 ? where : e;
    for (int k = 0; ends[k]; k++) {
        long x = find_kw(s, d, ends[k], tail_from, n);
        if (x >= 0 && x < wend)
            wend = x;
    }
    if (where >= 0) {
        long a = where + 5, last = a;
        int pending_between = 0;
        for (long x = a; x < wend; x++) {
            if (d[x] != 0)
                continue;
            if (find_kw(s, d, "between", x, x + 7) == x)
                pending_between = 1;
            if (find_kw(s, d, "and", x, x + 3) == x) {
                if (pending_between) {
                    pending_between = 0;
                    continue;
                }
                parse_term(sql, s, d, last, x, o);
                last = x + 3;
            }
        }
        parse_term(sql, s, d, last, wend, o);
    }
    long ob = find_kw(s, d, "order", tail_from, n);
    if (ob >= 0 && !strncmp(s + skip_sp(s, ob + 5), "by", 2)) {
        long a = skip_sp(s, ob + 5) + 2, oend = n;
        static const char *const oends[] = {"limit", "for", "lock", "union", NULL};
        for (int k = 0; oends[k]; k++) {
            long x = find_kw(s, d, oends[k], a, n);
            if (x >= 0 && x < oend)
                oend = x;
        }
        long x = a;
        while (x < oend) {
            char qual[TK_TUNE_NAME], col[TK_TUNE_NAME];
            x = skip_sp(s, x);
            long y = read_colref(s, x, qual, col);
            if (y == x || !mine(o, qual)) {
                o->norder = 0;
                break;
            }
            y = skip_sp(s, y);
            if (!strncmp(s + y, "asc", 3) && !identc((unsigned char)s[y + 3]))
                y = skip_sp(s, y + 3);
            else if (!strncmp(s + y, "desc", 4) && !identc((unsigned char)s[y + 4]))
                y = skip_sp(s, y + 4);
            add_col(o->order, &o->norder, col);
            if (y >= oend || s[y] == ';')
                break;
            if (s[y] != ',') {
                o->norder = 0; /* an expression */
                break;
            }
            x = y + 1;
        }
    }
    rc = 0;
out:
    free(s);
    free(d);
    return rc;
}

int tk_tune_candidate(const tk_sql_shape *s, const char *pk, char cols[][TK_TUNE_NAME])
{
    int n = 0;
    for (int i = 0; i < s->neq; i++)
        add_col(cols, &n, s->eq[i]);
    if (s->norder > 0) {
        for (int i = 0; i < s->norder; i++)
            add_col(cols, &n, s->order[i]);
    } else if (s->nrange > 0) {
        add_col(cols, &n, s->range[0]);
    }
    while (n > 0 && pk && !strcmp(cols[n - 1], pk))
        n--;
    return n;
}

int tk_index_serves(const tk_index *ix, char cols[][TK_TUNE_NAME], int n)
{
    if (n <= 0 || n > ix->ncols)
        return 0;
    for (int i = 0; i < n; i++)
        if (strcmp(ix->cols[i], cols[i]) != 0)
            return 0;
    return 1;
}

int tk_index_redundant(const tk_index *ix, size_t n, size_t i)
{
    const tk_index *a = &ix[i];
    if (a->unique || a->primary)
        return -1;
    for (size_t j = 0; j < n; j++) {
        const tk_index *b = &ix[j];
        if (j == i || strcmp(a->table, b->table) != 0 || b->ncols < a->ncols)
            continue;
        if (!tk_index_serves(b, (char(*)[TK_TUNE_NAME])a->cols, a->ncols))
            continue;
        if (b->ncols > a->ncols || b->unique || strcmp(a->name, b->name) > 0)
            return (int)j;
    }
    return -1;
}

void tk_sql_alias_table(const char *sql, const char *alias, char *table, size_t cap)
{
    snprintf(table, cap, "%s", alias);
    char *s = NULL;
    int *d = NULL;
    if (scan_prepare(sql, &s, &d) != 0)
        return;
    long n = (long)strlen(s);
    for (long i = 0; i < n; i++) {
        long f = find_kw(s, d, "from", i, i + 4) == i ? i + 4 : find_kw(s, d, "join", i, i + 4) == i ? i + 4 : -1;
        if (f < 0)
            continue;
        char t[TK_TUNE_NAME], a[TK_TUNE_NAME];
        long p = skip_sp(s, f), e = read_ident(s, p, t, sizeof t);
        if (e == p)
            continue;
        while (s[e] == '.') {
            long g = read_ident(s, e + 1, t, sizeof t);
            if (g == e + 1)
                break;
            e = g;
        }
        p = skip_sp(s, e);
        if (!strncmp(s + p, "as ", 3))
            p = skip_sp(s, p + 3);
        if (read_ident(s, p, a, sizeof a) != p && !is_kw(a) && !strcasecmp(a, alias)) {
            snprintf(table, cap, "%s", t);
            break;
        }
    }
    free(s);
    free(d);
}
