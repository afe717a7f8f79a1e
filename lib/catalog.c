/* The box office's reads: keyword search (FULLTEXT, migration 12), a
 * concert's detail, a user's reservations page by page (see catalog.h).
 * The SQL texts are queries.h's, so the tuner measures what runs here. */
#include "ticketctl/catalog.h"
#include "ticketctl/db.h"
#include "ticketctl/queries.h"

#include <ctype.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* InnoDB's default FULLTEXT stopword list (INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD). */
static const char *const stopwords[] = {
    "a",    "about", "an",   "are",  "as",   "at",    "be",   "by",   "com",  "de",  "en", "for",
    "from", "how",   "i",    "in",   "is",   "it",    "la",   "of",   "on",   "or",  "that", "the",
    "this", "to",    "was",  "what", "when", "where", "who",  "will", "with", "und", "www",
};

static int is_stopword(const char *w)
{
    for (size_t i = 0; i < sizeof stopwords / sizeof stopwords[0]; i++)
        if (!strcasecmp(w, stopwords[i]))
            return 1;
    return 0;
}

/* A byte that belongs to a FULLTEXT token: ASCII letter or digit, or any
 * byte of a multi-byte UTF-8 character. */
static int token_byte(unsigned char c) { return c >= 0x80 || isalnum(c); }

int tk_catalog_search_where(MYSQL *db, const char *keyword, char *out, size_t len)
{
    char words[TK_CATALOG_WORDS_MAX][51];
    size_t nw = 0;
    for (const char *p = keyword ? keyword : ""; *p && nw < TK_CATALOG_WORDS_MAX;) {
        while (*p && isspace((unsigned char)*p))
            p++;
        size_t n = 0;
        while (p[n] && !isspace((unsigned char)p[n]))
            n++;
        if (n > 0)
            snprintf(words[nw++], sizeof words[0], "%.*s", (int)(n > 50 ? 50 : n), p);
        p += n;
    }
    if (nw == 0 || len < 64)
        return -1;
    char match[1024] = "", like[2048] = "";
    size_t mo = 0, lo = 0;
    int terms = 0;
    for (size_t i = 0; i < nw; i++) {
        /* its tokens: the FULLTEXT index splits on anything else */
        const char *w = words[i];
        int short_part = 0;
        for (size_t k = 0; w[k];) {
            while (w[k] && !token_byte((unsigned char)w[k]))
                k++;
            size_t n = 0;
            while (w[k + n] && token_byte((unsigned char)w[k + n]))
                n++;
            if (n == 0)
                break;
            char tok[51];
            snprintf(tok, sizeof tok, "%.*s", (int)n, w + k);
            if (n >= 3 && !is_stopword(tok)) {
                int m = snprintf(match + mo, sizeof match - mo, " +%s*", tok);
                if (m < 0 || (size_t)m >= sizeof match - mo)
                    return -1;
                mo += (size_t)m;
                terms++;
            } else {
                short_part = 1;
            }
            k += n;
        }
        if (short_part || terms == 0) {
            /* the word as a substring: escape the LIKE wildcards, then the SQL string */
            char raw[110], e[230];
            size_t r = 0;
            for (size_t k = 0; w[k] && r + 2 < sizeof raw; k++) {
                if (w[k] == '%' || w[k] == '_' || w[k] == '\\')
                    raw[r++] = '\\';
                raw[r++] = w[k];
            }
            raw[r] = '\0';
            mysql_real_escape_string(db, e, raw, (unsigned long)r);
            int n = snprintf(like + lo, sizeof like - lo, " AND (c.title LIKE '%%%s%%' OR c.venue LIKE '%%%s%%')", e, e);
            if (n < 0 || (size_t)n >= sizeof like - lo)
                return -1;
            lo += (size_t)n;
        }
    }
    int n;
    if (terms > 0)
        n = snprintf(out, len, "MATCH(c.title, c.venue) AGAINST('%s' IN BOOLEAN MODE)%s", match + 1, like);
    else
        n = snprintf(out, len, "1%s", like);
    return n > 0 && (size_t)n < len ? terms : -1;
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

/* "YYYY-MM-DD HH:MM:SS[.fff]" -> "YYYY-MM-DDTHH:MM:SSZ", or NULL for NULL. */
static json_t *iso_or_null(const char *v)
{
    if (!v || strlen(v) < 19)
        return json_null();
    char b[24];
    snprintf(b, sizeof b, "%.10sT%.8sZ", v, v + 11);
    return json_string(b);
}

static json_t *page_object(json_t *items, int page, int size, long long total)
{
    return json_pack("{s:o, s:i, s:i, s:I}", "items", items, "page", page, "size", size, "total", (json_int_t)total);
}

tk_rc tk_catalog_search(tk_store *s, const char *keyword, int page, int size, json_t **out)
{
    char where[4096], sql[6144], err[256];
    if (tk_catalog_search_where(tk_store_db(s), keyword, where, sizeof where) < 0)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "the keyword has no word to search for");
    long long total = 0;
    snprintf(sql, sizeof sql, TK_SQL_CONCERTS_SEARCH_COUNT, where);
    if (tk_db_query_i64(tk_store_db(s), sql, &total, err, sizeof err) < 0)
        return db_fail(s);
    snprintf(sql, sizeof sql, TK_SQL_CONCERTS_SEARCH, where, size, (long long)(page - 1) * size);
    MYSQL_RES *res = rows_of(s, sql);
    if (!res)
        return db_fail(s);
    json_t *items = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        json_array_append_new(items, json_pack("{s:I, s:s, s:s, s:s, s:b, s:o}", "id",
                                               (json_int_t)strtoull(row[0], NULL, 10), "title", row[1], "venue",
                                               row[2], "sale_opens_at", row[3], "bookable", row[4] && atoi(row[4]),
                                               "next_show_at", iso_or_null(row[5])));
    mysql_free_result(res);
    *out = page_object(items, page, size, total);
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
