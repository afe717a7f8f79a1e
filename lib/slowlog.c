/* The index tuner's slow-log reader (see tune.h): MariaDB slow query log
 * entries, grouped by their SQL with literals normalised away, so that
 * `tune --slow-log FILE` can add the SELECTs a production server saw.
 * Reference: https://mariadb.com/kb/en/slow-query-log-overview/ */
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

/* ---- slow query log --------------------------------------------------------- */

static int identc(int c) { return isalnum(c) || c == '_' || c == '$' || c == '`'; }

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return -1;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

char *tk_sql_normalize(const char *sql)
{
    sbuf b = {0};
    size_t n = strlen(sql);
    int space = 0;
    for (size_t i = 0; i < n;) {
        char c = sql[i];
        if (isspace((unsigned char)c)) {
            space = 1;
            i++;
            continue;
        }
        if (space && b.n > 0 && sb_put(&b, " ", 1) != 0)
            goto oom;
        space = 0;
        if (c == '\'' || c == '"') {
            size_t j = i + 1;
            while (j < n) {
                if (sql[j] == '\\' && j + 1 < n) {
                    j += 2;
                    continue;
                }
                if (sql[j] == c) {
                    if (j + 1 < n && sql[j + 1] == c) { /* '' inside */
                        j += 2;
                        continue;
                    }
                    break;
                }
                j++;
            }
            i = j < n ? j + 1 : n;
            if (sb_put(&b, "?", 1) != 0)
                goto oom;
            continue;
        }
        int prev_ident = b.n > 0 && (identc((unsigned char)b.p[b.n - 1]) || b.p[b.n - 1] == '.');
        if (isdigit((unsigned char)c) && !prev_ident) {
            size_t j = i;
            while (j < n && (isalnum((unsigned char)sql[j]) || sql[j] == '.'))
                j++;
            i = j;
            if (sb_put(&b, "?", 1) != 0)
                goto oom;
            continue;
        }
        if (sb_put(&b, &sql[i], 1) != 0)
            goto oom;
        i++;
    }
    while (b.n > 0 && (b.p[b.n - 1] == ';' || b.p[b.n - 1] == ' '))
        b.p[--b.n] = '\0';
    if (!b.p && sb_put(&b, "", 0) != 0)
        goto oom;
    /* IN (?, ?, ...) -> IN (?+) */
    for (char *q = b.p; (q = strstr(q, "(?")) != NULL;) {
        char *r = q + 2;
        int many = 0;
        while (r[0] == ',') {
            char *t = r + 1;
            while (*t == ' ')
                t++;
            if (*t != '?')
                break;
            r = t + 1;
            many = 1;
        }
        if (many && *r == ')') {
            memmove(q + 4, r + 1, strlen(r + 1) + 1);
            memcpy(q, "(?+)", 4);
            q += 4;
        } else {
            q += 2;
        }
    }
    return b.p;
oom:
    free(b.p);
    return NULL;
}

void tk_slowlog_free(tk_slowq *q, size_t n)
{
    if (!q)
        return;
    for (size_t i = 0; i < n; i++) {
        free(q[i].normalized);
        free(q[i].example);
    }
    free(q);
}

typedef struct slowstate {
    tk_slowq *g;
    size_t n, cap;
    sbuf stmt;
    int have_header;
    double qt;
    long rex;
} slowstate;

static int slow_flush(slowstate *st)
{
    if (!st->have_header || !st->stmt.p || st->stmt.n == 0) {
        st->stmt.n = 0;
        return 0;
    }
    char *stmt = st->stmt.p;
    while (*stmt && isspace((unsigned char)*stmt))
        stmt++;
    size_t len = strlen(stmt);
    while (len > 0 && (isspace((unsigned char)stmt[len - 1]) || stmt[len - 1] == ';'))
        stmt[--len] = '\0';
    st->stmt.n = 0;
    st->have_header = 0;
    if (len == 0)
        return 0;
    char *norm = tk_sql_normalize(stmt);
    if (!norm)
        return TK_ENOMEM;
    for (size_t i = 0; i < st->n; i++)
        if (!strcmp(st->g[i].normalized, norm)) {
            free(norm);
            st->g[i].count++;
            st->g[i].total_s += st->qt;
            if (st->qt > st->g[i].max_s)
                st->g[i].max_s = st->qt;
            if (st->rex > st->g[i].rows_examined_max)
                st->g[i].rows_examined_max = st->rex;
            return 0;
        }
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 16;
        tk_slowq *ng = realloc(st->g, cap * sizeof *ng);
        if (!ng) {
            free(norm);
            return TK_ENOMEM;
        }
        st->g = ng;
        st->cap = cap;
    }
    tk_slowq *q = &st->g[st->n];
    q->normalized = norm;
    q->example = strdup(stmt);
    if (!q->example) {
        free(norm);
        return TK_ENOMEM;
    }
    q->count = 1;
    q->total_s = q->max_s = st->qt;
    q->rows_examined_max = st->rex;
    st->n++;
    return 0;
}

int tk_slowlog_parse(const char *text, size_t len, tk_slowq **out, size_t *n)
{
    slowstate st = {0};
    size_t i = 0;
    int rc = 0;
    while (i < len && rc == 0) {
        size_t j = i;
        while (j < len && text[j] != '\n')
            j++;
        const char *line = text + i;
        size_t ll = j - i;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        i = j + 1;
        if (ll >= 1 && line[0] == '#') {
            if ((ll >= 7 && !strncmp(line, "# Time:", 7)) || (ll >= 12 && !strncmp(line, "# User@Host:", 12))) {
                rc = slow_flush(&st);
            } else if (ll >= 13 && !strncmp(line, "# Query_time:", 13)) {
                rc = slow_flush(&st);
                char tmp[512];
                snprintf(tmp, sizeof tmp, "%.*s", (int)(ll < 511 ? ll : 511), line);
                st.qt = strtod(tmp + 13, NULL);
                const char *re = strstr(tmp, "Rows_examined:");
                st.rex = re ? strtol(re + 14, NULL, 10) : 0;
                st.have_header = 1;
            } else if (ll >= 23 && !strncmp(line, "# administrator command", 23)) {
                st.have_header = 0;
            }
            continue;
        }
        if (!st.have_header)
            continue; /* the server's banner lines, or a statement we do not take */
        if ((ll >= 14 && !strncasecmp(line, "SET timestamp=", 14)) || (ll >= 4 && !strncasecmp(line, "use ", 4)))
            continue;
        if ((st.stmt.n > 0 && sb_put(&st.stmt, "\n", 1) != 0) || sb_put(&st.stmt, line, ll) != 0)
            rc = TK_ENOMEM;
    }
    if (rc == 0)
        rc = slow_flush(&st);
    free(st.stmt.p);
    if (rc != 0) {
        tk_slowlog_free(st.g, st.n);
        *out = NULL;
        *n = 0;
        return rc;
    }
    *out = st.g;
    *n = st.n;
    return 0;
}
