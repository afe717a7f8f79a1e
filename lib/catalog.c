/* The box office's reads: keyword search (the word index of migration 15), a
 * concert's detail, a user's reservations page by page (see catalog.h).
 * The SQL texts are queries.h's, so the tuner measures what runs here. */
#include "ticketctl/catalog.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/queries.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A byte that belongs to a word: ASCII letter or digit, or any byte of a
 * multi-byte UTF-8 character. */
static int token_byte(unsigned char c) { return c >= 0x80 || isalnum(c); }

size_t tk_catalog_words(const char *text, char (*words)[TK_CATALOG_WORD_LEN], size_t max)
{
    size_t n = 0;
    for (const char *p = text ? text : ""; *p && n < max;) {
        while (*p && !token_byte((unsigned char)*p))
            p++;
        size_t len = 0;
        while (p[len] && token_byte((unsigned char)p[len]))
            len++;
        if (len == 0)
            break;
        size_t keep = len < TK_CATALOG_WORD_LEN - 1 ? len : TK_CATALOG_WORD_LEN - 1;
        while (keep < len && keep > 0 && ((unsigned char)p[keep] & 0xC0) == 0x80)
            keep--; /* never cut a UTF-8 character */
        char w[TK_CATALOG_WORD_LEN];
        for (size_t k = 0; k < keep; k++)
            w[k] = (char)tolower((unsigned char)p[k]);
        w[keep] = '\0';
        int dup = 0;
        for (size_t k = 0; k < n && !dup; k++)
            dup = !strcmp(words[k], w);
        if (!dup && keep > 0)
            memcpy(words[n++], w, keep + 1);
        p += len;
    }
    return n;
}

/* Escape a word for a LIKE 'w%' prefix pattern inside a SQL string. */
static void like_escape(MYSQL *db, const char *w, char *out /* >= 4 * TK_CATALOG_WORD_LEN + 1 */)
{
    char raw[2 * TK_CATALOG_WORD_LEN];
    size_t r = 0;
    for (size_t k = 0; w[k] && r + 2 < sizeof raw; k++) {
        if (w[k] == '%' || w[k] == '_' || w[k] == '\\')
            raw[r++] = '\\';
        raw[r++] = w[k];
    }
    raw[r] = '\0';
    mysql_real_escape_string(db, out, raw, (unsigned long)r);
}

/* Append printf text to b at *o (bounded); 0, or -1 when it does not fit. */
static int add(char *b, size_t cap, size_t *o, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int add(char *b, size_t cap, size_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = *o < cap ? vsnprintf(b + *o, cap - *o, fmt, ap) : -1;
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *o)
        return -1;
    *o += (size_t)n;
    return 0;
}

/* One keyword word: the indexed words it is a prefix of. */
typedef struct term {
    char tok[TK_CATALOG_WORD_LEN];
    char words[TK_CATALOG_EXPAND_MAX][TK_CATALOG_WORD_LEN];
    size_t nwords;
    long long concerts; /* sum of their document frequencies (an upper bound of the matches) */
    int broad;          /* more than TK_CATALOG_EXPAND_MAX words: matched by LIKE 'tok%' instead */
    int unbitted;       /* some of its words have no bit */
    unsigned long long mask[2]; /* the bits of its words (sig0, sig1) */
} term;

/* The WHERE part that checks term t on the concert_words row alias w
 * (driver == 1: w itself; else an EXISTS lookup by (concert_id, word)). */
static int term_cond(MYSQL *db, const term *t, int driver, const char *word_sql, char *b, size_t cap,
                     size_t *o)
{
    char e[4 * TK_CATALOG_WORD_LEN + 1];
    if (driver)
        return add(b, cap, o, "w.word = '%s'", word_sql);
    if (!t->broad && !t->unbitted) /* inside the index row: a bit of one of its words */
        return add(b, cap, o, " AND ((w.sig0 & %llu) | (w.sig1 & %llu)) <> 0", t->mask[0], t->mask[1]);
    if (add(b, cap, o, " AND EXISTS (SELECT 1 FROM concert_words x WHERE x.concert_id = w.concert_id AND ") != 0)
        return -1;
    if (t->broad) {
        like_escape(db, t->tok, e);
        return add(b, cap, o, "x.word LIKE '%s%%')", e);
    }
    if (add(b, cap, o, "x.word IN (") != 0)
        return -1;
    for (size_t k = 0; k < t->nwords; k++) {
        mysql_real_escape_string(db, e, t->words[k], (unsigned long)strlen(t->words[k]));
        if (add(b, cap, o, "%s'%s'", k ? ", " : "", e) != 0)
            return -1;
    }
    return add(b, cap, o, "))");
}

/* The driver's branches: one ordered, limited walk of ix_concert_words_rank
 * per word the driving term expands to (cols: the select list; order:
 * whether to walk in result order), UNIONed. */
static int branches(MYSQL *db, const term *terms, size_t nt, size_t d, const char *cols, int order,
                    long long limit, char *b, size_t cap, size_t *o)
{
    const term *t = &terms[d];
    size_t nb = t->broad ? 1 : t->nwords;
    for (size_t k = 0; k < nb; k++) {
        char e[4 * TK_CATALOG_WORD_LEN + 1];
        if (add(b, cap, o, "%s(SELECT %s FROM concert_words w WHERE ", k ? " UNION " : "", cols) != 0)
            return -1;
        if (t->broad) {
            like_escape(db, t->tok, e);
            if (add(b, cap, o, "w.word LIKE '%s%%'", e) != 0)
                return -1;
        } else {
            mysql_real_escape_string(db, e, t->words[k], (unsigned long)strlen(t->words[k]));
            if (term_cond(db, t, 1, e, b, cap, o) != 0)
                return -1;
        }
        for (size_t j = 0; j < nt; j++)
            if (j != d && term_cond(db, &terms[j], 0, NULL, b, cap, o) != 0)
                return -1;
        if (order && add(b, cap, o, " ORDER BY w.bookable DESC, w.next_show_at, w.concert_id") != 0)
            return -1;
        if (add(b, cap, o, " LIMIT %lld)", limit) != 0)
            return -1;
    }
    return 0;
}

int tk_catalog_search_sql(MYSQL *db, const char *keyword, int page, int size, tk_catalog_search_plan *plan,
                          char *err, size_t errlen)
{
    char toks[TK_CATALOG_WORDS_MAX][TK_CATALOG_WORD_LEN];
    size_t nt = tk_catalog_words(keyword, toks, TK_CATALOG_WORDS_MAX);
    plan->known_total = -1;
    plan->page_sql[0] = plan->count_sql[0] = '\0';
    if (nt == 0) {
        tk_err(err, errlen, "the keyword has no word to search for");
        return -1;
    }
    /* 1. each word's expansions and their frequencies, one round trip */
    char q[8192];
    size_t o = 0;
    for (size_t i = 0; i < nt; i++) {
        char e[4 * TK_CATALOG_WORD_LEN + 1];
        like_escape(db, toks[i], e);
        if (add(q, sizeof q, &o,
                "%s(SELECT %zu, word, concerts, bit FROM search_terms WHERE word LIKE '%s%%' AND concerts > 0"
                " ORDER BY word LIMIT %d)",
                i ? " UNION ALL " : "", i, e, TK_CATALOG_EXPAND_MAX + 1) != 0)
            return tk_err(err, errlen, "keyword too long");
    }
    term *terms = calloc(nt, sizeof *terms);
    if (!terms)
        return tk_err(err, errlen, "out of memory");
    for (size_t i = 0; i < nt; i++)
        memcpy(terms[i].tok, toks[i], sizeof toks[i]);
    int rc = -2;
    if (mysql_real_query(db, q, (unsigned long)o) != 0) {
        tk_err(err, errlen, "%s", mysql_error(db));
        goto out;
    }
    MYSQL_RES *res = mysql_store_result(db);
    if (!res) {
        tk_err(err, errlen, "%s", mysql_error(db));
        goto out;
    }
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        size_t i = strtoul(row[0], NULL, 10);
        if (i >= nt)
            continue;
        term *t = &terms[i];
        if (t->nwords == TK_CATALOG_EXPAND_MAX) {
            t->broad = 1;
            continue;
        }
        snprintf(t->words[t->nwords++], TK_CATALOG_WORD_LEN, "%s", row[1]);
        t->concerts += strtoll(row[2], NULL, 10);
        int bit = row[3] ? atoi(row[3]) : -1;
        if (bit >= 0 && bit < 128)
            t->mask[bit / 64] |= 1ULL << (bit % 64);
        else
            t->unbitted = 1;
    }
    mysql_free_result(res);
    /* 2. the driver: the rarest word (a broad one only when every word is) */
    size_t d = nt;
    for (size_t i = 0; i < nt; i++) {
        if (terms[i].nwords == 0) { /* a word no concert has: nothing matches */
            plan->known_total = 0;
            rc = 0;
            goto out;
        }
        if (!terms[i].broad && (d == nt || terms[i].concerts < terms[d].concerts))
            d = i;
    }
    if (d == nt)
        d = 0;
    if (nt == 1 && !terms[0].broad && terms[0].nwords == 1)
        plan->known_total = terms[0].concerts; /* one word: its frequency is the exact total */
    /* 3. the page: walk the driver in result order, check the other words */
    long long off = (long long)(page - 1) * size;
    o = 0;
    /* a word without a bit by a lookup per candidate: never a semi-join that materialises all its rows */
#define NO_MATERIALIZE "SET STATEMENT optimizer_switch='materialization=off' FOR "
    if (add(plan->page_sql, sizeof plan->page_sql, &o,
            NO_MATERIALIZE "SELECT c.id, c.title, c.venue, DATE_FORMAT(c.sale_opens_at, " TK_SQL_TS_FMT "), c.bookable,"
            " IF(c.next_show_at >= '9999-01-01', NULL, DATE_FORMAT(c.next_show_at, " TK_SQL_TS_FMT "))"
            " FROM (") != 0 ||
        branches(db, terms, nt, d, "w.concert_id, w.bookable, w.next_show_at", 1, off + size, plan->page_sql,
                 sizeof plan->page_sql, &o) != 0 ||
        add(plan->page_sql, sizeof plan->page_sql, &o,
            ") u JOIN concerts c ON c.id = u.concert_id ORDER BY u.bookable DESC, u.next_show_at, u.concert_id"
            " LIMIT %d OFFSET %lld",
            size, off) != 0) {
        tk_err(err, errlen, "keyword too long");
        rc = -1;
        goto out;
    }
    /* 4. the total, exact up to TK_CATALOG_TOTAL_CAP */
    if (plan->known_total < 0) {
        o = 0;
        if (add(plan->count_sql, sizeof plan->count_sql, &o, NO_MATERIALIZE "SELECT COUNT(*) FROM (") != 0 ||
            branches(db, terms, nt, d, "w.concert_id", 0, TK_CATALOG_TOTAL_CAP + 1, plan->count_sql,
                     sizeof plan->count_sql, &o) != 0 ||
            add(plan->count_sql, sizeof plan->count_sql, &o, ") t") != 0) {
            tk_err(err, errlen, "keyword too long");
            rc = -1;
            goto out;
        }
    }
    rc = 0;
out:
    free(terms);
    return rc;
}

static tk_rc db_fail(tk_store *s)
{
    MYSQL *db = tk_store_db(s);
    unsigned e = mysql_errno(db);
    if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT)
        return tk_store_fail(s, TK_EBUSY, "BUSY", "database busy: %s", mysql_error(db));
    return tk_store_fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "database error %u: %s", e, mysql_error(db));
}

/* Run sql; the stored result or NULL (error on the connection). */
static MYSQL_RES *rows_of(tk_store *s, const char *sql)
{
    MYSQL *db = tk_store_db(s);
    if (mysql_real_query(db, sql, (unsigned long)strlen(sql)) != 0)
        return NULL;
    return mysql_store_result(db);
}

static json_t *page_object(json_t *items, int page, int size, long long total)
{
    return json_pack("{s:o, s:i, s:i, s:I}", "items", items, "page", page, "size", size, "total", (json_int_t)total);
}

int tk_catalog_rekey(MYSQL *db, uint64_t concert_id, char *err, size_t errlen)
{
    char sql[96];
    snprintf(sql, sizeof sql, "CALL tk_concert_rekey(%llu)", (unsigned long long)concert_id);
    if (mysql_real_query(db, sql, (unsigned long)strlen(sql)) != 0)
        return tk_err(err, errlen, "%s", mysql_error(db));
    int more;
    do { /* a CALL answers with a status result too */
        MYSQL_RES *r = mysql_store_result(db);
        if (r)
            mysql_free_result(r);
    } while ((more = mysql_next_result(db)) == 0);
    return more > 0 ? tk_err(err, errlen, "%s", mysql_error(db)) : 0;
}

int tk_catalog_rekey_due(MYSQL *db, int limit, char *err, size_t errlen)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT id FROM concerts WHERE rekey_at <= UTC_TIMESTAMP(3) ORDER BY rekey_at LIMIT %d",
             limit);
    if (mysql_real_query(db, sql, (unsigned long)strlen(sql)) != 0)
        return tk_err(err, errlen, "%s", mysql_error(db));
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return tk_err(err, errlen, "%s", mysql_error(db));
    unsigned long long ids[256];
    int n = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)) && n < (int)(sizeof ids / sizeof ids[0]))
        ids[n++] = strtoull(row[0], NULL, 10);
    mysql_free_result(res);
    for (int i = 0; i < n; i++)
        if (tk_catalog_rekey(db, ids[i], err, errlen) != 0)
            return -1;
    return n;
}

tk_rc tk_catalog_search(tk_store *s, const char *keyword, int page, int size, json_t **out)
{
    MYSQL *db = tk_store_db(s);
    char err[256];
    if ((long long)page * size > TK_CATALOG_RESULT_WINDOW)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "page x size is at most %d for a search",
                             TK_CATALOG_RESULT_WINDOW);
    /* the sort keys time moves (a show started, a sale opened): at most once a second per process */
    static _Atomic long long last_rekey_ms;
    long long now = (long long)(tk_mono_us() / 1000), seen = atomic_load(&last_rekey_ms);
    if (now - seen >= 1000 && atomic_compare_exchange_strong(&last_rekey_ms, &seen, now))
        (void)tk_catalog_rekey_due(db, 100, err, sizeof err);
    tk_catalog_search_plan *plan = malloc(sizeof *plan);
    if (!plan)
        return tk_store_fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "out of memory");
    int prc = tk_catalog_search_sql(db, keyword, page, size, plan, err, sizeof err);
    if (prc != 0) {
        free(plan);
        return prc == -1 ? tk_store_fail(s, TK_EINVAL, "VALIDATION", "%s", err) : db_fail(s);
    }
    json_t *items = json_array();
    if (plan->page_sql[0]) {
        MYSQL_RES *res = rows_of(s, plan->page_sql);
        if (!res) {
            json_decref(items);
            free(plan);
            return db_fail(s);
        }
        MYSQL_ROW row;
        while ((row = mysql_fetch_row(res)))
            json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s, s:b, s:o}", "id",
                                                   (json_int_t)strtoull(row[0], NULL, 10), "title", row[1],
                                                   "venue", row[2], "sale_opens_at", row[3], "bookable",
                                                   row[4] && atoi(row[4]), "next_show_at",
                                                   row[5] ? json_string(row[5]) : json_null()));
        mysql_free_result(res);
    }
    /* the total: known, or told by the page (a short page ends the result; a full one past the cap
     * is already more than it), else counted up to the cap */
    long long total = plan->known_total, off = (long long)(page - 1) * size, got = (long long)json_array_size(items);
    if (total < 0 && got < size && (got > 0 || off == 0))
        total = off + got;
    else if (total < 0 && got == size && off + got > TK_CATALOG_TOTAL_CAP)
        total = off + got;
    else if (total < 0 && tk_db_query_i64(db, plan->count_sql, &total, err, sizeof err) < 0) {
        json_decref(items);
        free(plan);
        return db_fail(s);
    }
    int gte = total > TK_CATALOG_TOTAL_CAP && plan->known_total < 0;
    free(plan);
    *out = page_object(items, page, size, gte ? TK_CATALOG_TOTAL_CAP : total);
    json_object_set_new(*out, "total_relation", json_string(gte ? "gte" : "eq"));
    json_object_set_new(*out, "keyword", json_string(keyword));
    return TK_OK;
}

tk_rc tk_catalog_concert_detail(tk_store *s, uint64_t concert_id, json_t **out)
{
    json_t *c;
    tk_rc rc = tk_store_concert_get(s, concert_id, &c);
    if (rc != TK_OK)
        return rc;
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id, DATE_FORMAT(starts_at, '%%Y-%%m-%%dT%%H:%%i:%%sZ'), total_seats, available_seats,"
             " starts_at > UTC_TIMESTAMP(3) FROM concert_schedules WHERE concert_id = %llu ORDER BY starts_at, id",
             (unsigned long long)concert_id);
    MYSQL_RES *res = rows_of(s, sql);
    if (!res) {
        json_decref(c);
        return db_fail(s);
    }
    json_t *items = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        json_array_append_new(items, json_pack("{s:I, s:s, s:I, s:I, s:b}", "id",
                                               (json_int_t)strtoull(row[0], NULL, 10), "starts_at", row[1],
                                               "total_seats", (json_int_t)strtoll(row[2], NULL, 10),
                                               "available_seats", (json_int_t)strtoll(row[3], NULL, 10), "on_sale",
                                               atoi(row[4])));
    mysql_free_result(res);
    json_object_set_new(c, "schedules", items);
    *out = c;
    return TK_OK;
}

tk_rc tk_catalog_reservations_of(tk_store *s, uint64_t user_id, const char *status, int page, int size,
                                 json_t **out)
{
    static const char *const states[] = {"PENDING", "CONFIRMED", "CANCELED", "EXPIRED"};
    char cond[64] = "";
    if (status) {
        for (size_t i = 0; i < 4 && !cond[0]; i++)
            if (!strcmp(status, states[i]))
                snprintf(cond, sizeof cond, " AND r.status = '%s'", states[i]);
        if (!cond[0])
            return tk_store_fail(s, TK_EINVAL, "VALIDATION", "status is PENDING, CONFIRMED, CANCELED or EXPIRED");
    }
    char sql[2048], err[256];
    long long total = 0;
    snprintf(sql, sizeof sql, TK_SQL_RESERVATIONS_COUNT, (unsigned long long)user_id, cond);
    if (tk_db_query_i64(tk_store_db(s), sql, &total, err, sizeof err) < 0)
        return db_fail(s);
    snprintf(sql, sizeof sql, TK_SQL_RESERVATIONS_PAGE, (unsigned long long)user_id, cond, size,
             (long long)(page - 1) * size);
    MYSQL_RES *res = rows_of(s, sql);
    if (!res)
        return db_fail(s);
    json_t *items = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        tk_reservation r;
        tk_store_reservation_from_row(row, &r);
        json_array_append_new(items, tk_reservation_json(&r));
    }
    mysql_free_result(res);
    *out = page_object(items, page, size, total);
    return TK_OK;
}
