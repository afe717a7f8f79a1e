/* The box office's writes: catalogue changes as single transactions with
 * their outbox event (see admin.h). SQL beside the store's, on its
 * connection: strings are escaped with mysql_real_escape_string, integers
 * formatted by us, as in lib/store.c. */
#include "ticketctl/admin.h"
#include "ticketctl/catalog.h"
#include "ticketctl/db.h"

#include <jansson.h>
#include <sodium.h>
#include <mysql.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEAT_ROWS_PER_INSERT 1000

/* ---- small helpers ---------------------------------------------------------- */

static tk_rc db_fail(tk_store *s)
{
    MYSQL *db = tk_store_db(s);
    unsigned e = mysql_errno(db);
    if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT)
        return tk_store_fail(s, TK_EBUSY, "BUSY", "database busy: %s", mysql_error(db));
    return tk_store_fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "database error %u: %s", e, mysql_error(db));
}

static int q(tk_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int q(tk_store *s, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof sql)
        return -1;
    return mysql_real_query(tk_store_db(s), sql, (unsigned long)n) == 0 ? 0 : -1;
}

/* First column of the first row as an integer: 0 and *out, or -1 (no row: *out = -1). */
static int q_i64(tk_store *s, long long *out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int q_i64(tk_store *s, long long *out, const char *fmt, ...)
{
    char sql[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    MYSQL *db = tk_store_db(s);
    if (n < 0 || (size_t)n >= sizeof sql || mysql_real_query(db, sql, (unsigned long)n) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(res);
    *out = row && row[0] ? strtoll(row[0], NULL, 10) : -1;
    mysql_free_result(res);
    return 0;
}

static void esc(tk_store *s, char *dst, const char *src)
{
    mysql_real_escape_string(tk_store_db(s), dst, src, (unsigned long)strlen(src));
}

/* "YYYY-MM-DD HH:MM:SS.mmm" (UTC) for a DATETIME(3) literal. */
static void sql_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03d", (int)(ms % 1000));
}

int tk_admin_parse_time(const char *s, int64_t *ms)
{
    if (!s)
        return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    int frac = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, digits++)
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    if (strcmp(p, "Z") != 0 || tm.tm_year < 70 || tm.tm_year > 1100)
        return -1;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = (int64_t)t * 1000 + frac;
    return 0;
}

/* Run body inside START TRANSACTION .. COMMIT; ROLLBACK when it fails.
 * body returns TK_OK or the tk_rc it recorded on the store. A deadlock or
 * lock wait timeout (a hold took a row we lock, lib/store.c) is retried,
 * up to TXN_ATTEMPTS times in all, as the store does. */
#define TXN_ATTEMPTS 3
static tk_rc txn(tk_store *s, tk_rc (*body)(tk_store *, void *), void *arg)
{
    tk_rc rc = TK_OK;
    for (int attempt = 0; attempt < TXN_ATTEMPTS; attempt++) {
        if (q(s, "START TRANSACTION") != 0)
            return db_fail(s);
        rc = body(s, arg);
        if (rc == TK_OK && q(s, "COMMIT") == 0)
            return TK_OK;
        if (rc == TK_OK)
            rc = db_fail(s);
        unsigned e = mysql_errno(tk_store_db(s));
        char code[32], msg[256];
        snprintf(code, sizeof code, "%s", tk_store_errcode(s));
        snprintf(msg, sizeof msg, "%s", tk_store_errmsg(s));
        mysql_real_query(tk_store_db(s), "ROLLBACK", 8);
        rc = tk_store_fail(s, rc, code, "%s", msg); /* ROLLBACK must not overwrite it */
        if (rc != TK_EBUSY || (e != ER_LOCK_DEADLOCK && e != ER_LOCK_WAIT_TIMEOUT))
            return rc;
    }
    return rc;
}

/* The event of a change, in the caller's transaction: payload is the JSON
 * object given (stolen) plus event_id, type and occurred_at. */
static int emit(tk_store *s, const char *type, uint64_t concert_id, json_t *payload)
{
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!text)
        return -1;
    size_t n = strlen(text);
    char *e = malloc(2 * n + 1);
    if (!e || n > 1500) {
        free(text);
        free(e);
        return -1;
    }
    esc(s, e, text);
    free(text);
    int rc = q(s,
               "INSERT INTO outbox (event_id, topic, event_key, type, payload) SELECT u, '%s', '%llu', '%s',"
               " JSON_SET('%s', '$.event_id', u, '$.type', '%s', '$.occurred_at',"
               " DATE_FORMAT(UTC_TIMESTAMP(3), '%%Y-%%m-%%dT%%H:%%i:%%s.%%fZ')) FROM (SELECT UUID() AS u) x",
               TK_TOPIC_CATALOG, (unsigned long long)concert_id, type, e, type);
    free(e);
    return rc;
}

static int label_ok(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int grade_ok(const char *g)
{
    return g && (!strcmp(g, "VIP") || !strcmp(g, "R") || !strcmp(g, "S") || !strcmp(g, "A"));
}

/* ---- concerts ----------------------------------------------------------------- */

struct concert_args {
    uint64_t id;
    const char *title, *venue;
    int64_t opens_ms;
    uint64_t *schedules;
    size_t nmax, nsched;
};

static tk_rc concert_fields_ok(tk_store *s, const char *title, const char *venue)
{
    if (title && !label_ok(title, 200))
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'title' must be 1 to 200 characters");
    if (venue && !label_ok(venue, 200))
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'venue' must be 1 to 200 characters");
    return TK_OK;
}

/* The search index of concert id (migration 15), in the caller's
 * transaction: its words from the row's current title and venue
 * (tk_catalog_words; the concert_words triggers keep search_terms) with
 * the bits of those that have one, then
 * its sort key (tk_concert_rekey, which also copies it to the words). */
static int concert_reindex(tk_store *s, uint64_t id)
{
    MYSQL *db = tk_store_db(s);
    unsigned long long cid = (unsigned long long)id;
    if (q(s, "SELECT CONCAT(title, ' ', venue) FROM concerts WHERE id = %llu", cid) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(res);
    char words[32][TK_CATALOG_WORD_LEN];
    size_t n = row && row[0] ? tk_catalog_words(row[0], words, 32) : 0;
    mysql_free_result(res);
    if (q(s, "DELETE FROM concert_words WHERE concert_id = %llu", cid) != 0)
        return -1;
    if (n == 0)
        goto rekey;
    char sql[32 * (2 * TK_CATALOG_WORD_LEN + 64) + 128], e[2 * TK_CATALOG_WORD_LEN + 1];
    /* the bits of its words that have one (search_terms.bit), carried by every row of it */
    size_t o = (size_t)snprintf(sql, sizeof sql, "SELECT bit FROM search_terms WHERE bit IS NOT NULL AND word IN (");
    for (size_t i = 0; i < n; i++) {
        mysql_real_escape_string(db, e, words[i], (unsigned long)strlen(words[i]));
        o += (size_t)snprintf(sql + o, sizeof sql - o, "%s'%s'", i ? ", " : "", e);
    }
    o += (size_t)snprintf(sql + o, sizeof sql - o, ")");
    if (mysql_real_query(db, sql, (unsigned long)o) != 0 || !(res = mysql_store_result(db)))
        return -1;
    unsigned long long sig[2] = {0, 0};
    while ((row = mysql_fetch_row(res))) {
        int bit = row[0] ? atoi(row[0]) : -1;
        if (bit >= 0 && bit < 128)
            sig[bit / 64] |= 1ULL << (bit % 64);
    }
    mysql_free_result(res);
    o = (size_t)snprintf(sql, sizeof sql, "INSERT INTO concert_words (concert_id, word, sig0, sig1) VALUES ");
    for (size_t i = 0; i < n; i++) {
        mysql_real_escape_string(db, e, words[i], (unsigned long)strlen(words[i]));
        o += (size_t)snprintf(sql + o, sizeof sql - o, "%s(%llu, '%s', %llu, %llu)", i ? ", " : "", cid, e, sig[0],
                              sig[1]);
    }
    if (mysql_real_query(db, sql, (unsigned long)o) != 0)
        return -1;
rekey:;
    char err[256];
    return tk_catalog_rekey(db, id, err, sizeof err);
}

static tk_rc concert_create_body(tk_store *s, void *arg)
{
    struct concert_args *a = arg;
    char t[401], v[401], at[32];
    esc(s, t, a->title);
    esc(s, v, a->venue);
    sql_time(a->opens_ms, at);
    if (q(s, "INSERT INTO concerts (title, venue, sale_opens_at) VALUES ('%s', '%s', '%s')", t, v, at) != 0)
        return db_fail(s);
    a->id = mysql_insert_id(tk_store_db(s));
    if (concert_reindex(s, a->id) != 0)
        return db_fail(s);
    if (emit(s, "concert.created", a->id,
             json_pack("{s:I, s:s, s:s, s:I}", "concert_id", (json_int_t)a->id, "title", a->title, "venue", a->venue,
                       "sale_opens_at_ms", (json_int_t)a->opens_ms)) != 0)
        return db_fail(s);
    return TK_OK;
}

tk_rc tk_admin_concert_create(tk_store *s, const char *title, const char *venue, int64_t sale_opens_ms, uint64_t *id)
{
    if (!title || !venue)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'title' and 'venue' are required");
    tk_rc rc = concert_fields_ok(s, title, venue);
    if (rc != TK_OK)
        return rc;
    if (sale_opens_ms < 0)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'sale_opens_at' is required");
    struct concert_args a = {.title = title, .venue = venue, .opens_ms = sale_opens_ms};
    rc = txn(s, concert_create_body, &a);
    if (rc == TK_OK)
        *id = a.id;
    return rc;
}

static tk_rc concert_lock(tk_store *s, uint64_t id)
{
    long long found;
    if (q_i64(s, &found, "SELECT id FROM concerts WHERE id = %llu FOR UPDATE", (unsigned long long)id) != 0)
        return db_fail(s);
    if (found < 0)
        return tk_store_fail(s, TK_ENOTFOUND, "NOT_FOUND", "no concert %llu", (unsigned long long)id);
    return TK_OK;
}

static tk_rc concert_update_body(tk_store *s, void *arg)
{
    struct concert_args *a = arg;
    tk_rc rc = concert_lock(s, a->id);
    if (rc != TK_OK)
        return rc;
    char set[1200] = "", t[401], at[32];
    size_t n = 0;
    if (a->title) {
        esc(s, t, a->title);
        n += (size_t)snprintf(set + n, sizeof set - n, "%stitle = '%s'", n ? ", " : "", t);
    }
    if (a->venue) {
        esc(s, t, a->venue);
        n += (size_t)snprintf(set + n, sizeof set - n, "%svenue = '%s'", n ? ", " : "", t);
    }
    if (a->opens_ms >= 0) {
        sql_time(a->opens_ms, at);
        n += (size_t)snprintf(set + n, sizeof set - n, "%ssale_opens_at = '%s'", n ? ", " : "", at);
    }
    if (q(s, "UPDATE concerts SET %s WHERE id = %llu", set, (unsigned long long)a->id) != 0 ||
        concert_reindex(s, a->id) != 0)
        return db_fail(s);
    json_t *p = json_pack("{s:I}", "concert_id", (json_int_t)a->id);
    if (a->title)
        json_object_set_new(p, "title", json_string(a->title));
    if (a->venue)
        json_object_set_new(p, "venue", json_string(a->venue));
    if (a->opens_ms >= 0)
        json_object_set_new(p, "sale_opens_at_ms", json_integer(a->opens_ms));
    return emit(s, "concert.updated", a->id, p) == 0 ? TK_OK : db_fail(s);
}

tk_rc tk_admin_concert_update(tk_store *s, uint64_t id, const char *title, const char *venue, int64_t sale_opens_ms)
{
    if (!title && !venue && sale_opens_ms < 0)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "nothing to change: give title, venue or sale_opens_at");
    tk_rc rc = concert_fields_ok(s, title, venue);
    if (rc != TK_OK)
        return rc;
    struct concert_args a = {.id = id, .title = title, .venue = venue, .opens_ms = sale_opens_ms};
    return txn(s, concert_update_body, &a);
}

static tk_rc concert_delete_body(tk_store *s, void *arg)
{
    struct concert_args *a = arg;
    tk_rc rc = concert_lock(s, a->id);
    if (rc != TK_OK)
        return rc;
    MYSQL *db = tk_store_db(s);
    /* lock the schedules and every seat: a hold waits for us, or we for it */
    if (q(s, "SELECT id FROM concert_schedules WHERE concert_id = %llu FOR UPDATE", (unsigned long long)a->id) != 0)
        return db_fail(s);
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return db_fail(s);
    MYSQL_ROW row;
    a->nsched = 0;
    while ((row = mysql_fetch_row(res))) {
        if (a->nsched < a->nmax && a->schedules)
            a->schedules[a->nsched] = strtoull(row[0], NULL, 10);
        a->nsched++;
    }
    mysql_free_result(res);
    long long seats, live;
    if (q_i64(s, &seats,
              "SELECT COUNT(*) FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id"
              " WHERE cs.concert_id = %llu FOR UPDATE",
              (unsigned long long)a->id) != 0 ||
        q_i64(s, &live,
              "SELECT COUNT(*) FROM reservations r JOIN seats s ON r.live_seat_id = s.id"
              " JOIN concert_schedules cs ON cs.id = s.schedule_id WHERE cs.concert_id = %llu",
              (unsigned long long)a->id) != 0)
        return db_fail(s);
    if (live > 0)
        return tk_store_fail(s, TK_ECONFLICT, "LIVE_RESERVATIONS",
                             "concert %llu has %lld live reservation(s): cancel them first",
                             (unsigned long long)a->id, live);
    if (q(s,
          "DELETE s FROM seats s JOIN concert_schedules cs ON cs.id = s.schedule_id WHERE cs.concert_id = %llu",
          (unsigned long long)a->id) != 0 ||
        q(s,
          "DELETE ss FROM sale_settings ss JOIN concert_schedules cs ON cs.id = ss.schedule_id"
          " WHERE cs.concert_id = %llu",
          (unsigned long long)a->id) != 0 ||
        q(s, "DELETE FROM concert_schedules WHERE concert_id = %llu", (unsigned long long)a->id) != 0 ||
        q(s, "DELETE FROM concert_words WHERE concert_id = %llu", (unsigned long long)a->id) != 0 ||
        q(s, "DELETE FROM concerts WHERE id = %llu", (unsigned long long)a->id) != 0)
        return db_fail(s);
    return emit(s, "concert.deleted", a->id,
                json_pack("{s:I, s:I, s:I}", "concert_id", (json_int_t)a->id, "schedules", (json_int_t)a->nsched,
                          "seats", (json_int_t)seats)) == 0
               ? TK_OK
               : db_fail(s);
}

tk_rc tk_admin_concert_delete(tk_store *s, uint64_t id, uint64_t *schedules, size_t nmax, size_t *nsched)
{
    struct concert_args a = {.id = id, .opens_ms = -1, .schedules = schedules, .nmax = nmax};
    tk_rc rc = txn(s, concert_delete_body, &a);
    if (nsched)
        *nsched = rc == TK_OK ? a.nsched : 0;
    return rc;
}

/* ---- schedules ------------------------------------------------------------------ */

struct schedule_args {
    uint64_t concert_id, id;
    int64_t starts_ms;
};

static tk_rc schedule_create_body(tk_store *s, void *arg)
{
    struct schedule_args *a = arg;
    tk_rc rc = concert_lock(s, a->concert_id);
    if (rc != TK_OK)
        return rc;
    char at[32];
    sql_time(a->starts_ms, at);
    long long future;
    if (q_i64(s, &future, "SELECT '%s' > UTC_TIMESTAMP(3)", at) != 0)
        return db_fail(s);
    if (future != 1)
        return tk_store_fail(s, TK_EINVAL, "SCHEDULE_IN_PAST", "'starts_at' %s is not in the future", at);
    if (q(s, "INSERT INTO concert_schedules (concert_id, starts_at) VALUES (%llu, '%s')",
          (unsigned long long)a->concert_id, at) != 0)
        return db_fail(s);
    a->id = mysql_insert_id(tk_store_db(s));
    return emit(s, "schedule.created", a->concert_id,
                json_pack("{s:I, s:I, s:I}", "concert_id", (json_int_t)a->concert_id, "schedule_id",
                          (json_int_t)a->id, "starts_at_ms", (json_int_t)a->starts_ms)) == 0
               ? TK_OK
               : db_fail(s);
}

tk_rc tk_admin_schedule_create(tk_store *s, uint64_t concert_id, int64_t starts_ms, uint64_t *id)
{
    if (starts_ms < 0)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'starts_at' is required");
    struct schedule_args a = {.concert_id = concert_id, .starts_ms = starts_ms};
    tk_rc rc = txn(s, schedule_create_body, &a);
    if (rc == TK_OK)
        *id = a.id;
    return rc;
}

/* A schedule's concert and whether the show started; with lock, the row
 * is locked (FOR UPDATE). A hold locks its seat and then the schedule row,
 * so whoever locks seats must not hold the schedule's lock first. */
static tk_rc schedule_read(tk_store *s, uint64_t id, int lock, uint64_t *concert_id, int *started)
{
    MYSQL *db = tk_store_db(s);
    if (q(s, "SELECT concert_id, starts_at <= UTC_TIMESTAMP(3) FROM concert_schedules WHERE id = %llu%s",
          (unsigned long long)id, lock ? " FOR UPDATE" : "") != 0)
        return db_fail(s);
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return db_fail(s);
    MYSQL_ROW row = mysql_fetch_row(res);
    tk_rc rc = TK_OK;
    if (!row)
        rc = tk_store_fail(s, TK_ENOTFOUND, "NOT_FOUND", "no schedule %llu", (unsigned long long)id);
    else {
        *concert_id = strtoull(row[0], NULL, 10);
        *started = row[1] && atoi(row[1]) == 1;
    }
    mysql_free_result(res);
    return rc;
}

/* ---- seats ---------------------------------------------------------------------- */

uint64_t tk_seat_block_count(const tk_seat_block *b)
{
    if (b->number_from < 1 || b->number_to < b->number_from)
        return 0;
    return (uint64_t)b->nsections * b->nrows * (uint64_t)(b->number_to - b->number_from + 1);
}

static int labels_unique(const char *const *l, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (!strcmp(l[i], l[k]))
                return 0;
    return 1;
}

static int labels_meet(const char *const *a, size_t na, const char *const *b, size_t nb)
{
    for (size_t i = 0; i < na; i++)
        for (size_t k = 0; k < nb; k++)
            if (!strcmp(a[i], b[k]))
                return 1;
    return 0;
}

static tk_rc block_ok(tk_store *s, const tk_seat_block *b, size_t i)
{
    if (b->nsections < 1 || b->nsections > TK_ADMIN_LABELS_MAX || b->nrows < 1 || b->nrows > TK_ADMIN_LABELS_MAX)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "block %zu: 1 to %d sections and rows", i,
                             TK_ADMIN_LABELS_MAX);
    for (size_t k = 0; k < b->nsections; k++)
        if (!label_ok(b->sections[k], 8))
            return tk_store_fail(s, TK_EINVAL, "VALIDATION", "block %zu: a section is 1 to 8 characters", i);
    for (size_t k = 0; k < b->nrows; k++)
        if (!label_ok(b->rows[k], 8))
            return tk_store_fail(s, TK_EINVAL, "VALIDATION", "block %zu: a row is 1 to 8 characters", i);
    if (!labels_unique(b->sections, b->nsections) || !labels_unique(b->rows, b->nrows))
        return tk_store_fail(s, TK_ECONFLICT, "DUPLICATE_SEAT", "block %zu names a section or row twice", i);
    if (b->number_from < 1 || b->number_to < b->number_from || b->number_to > 10000)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "block %zu: numbers 1 <= from <= to <= 10000", i);
    if (!grade_ok(b->grade))
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "block %zu: grade is VIP, R, S or A", i);
    if (b->price <= 0 || b->price > TK_ADMIN_PRICE_MAX)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "block %zu: price must be 1 to %lld points", i,
                             TK_ADMIN_PRICE_MAX);
    return TK_OK;
}

/* "'a','b'" of escaped labels into buf (labels are <= 8 bytes: <= 19 escaped + quotes). */
static void label_list(tk_store *s, const char *const *l, size_t n, char *buf, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 24 < len; i++) {
        char e[20];
        esc(s, e, l[i]);
        o += (size_t)snprintf(buf + o, len - o, "%s'%s'", i ? "," : "", e);
    }
}

struct seats_args {
    uint64_t schedule_id, concert_id, count;
    const tk_seat_block *blocks;
    size_t nblocks;
    const uint64_t *ids;
    size_t nids;
    const char *grade;
    int64_t price;
};

static tk_rc seats_insert_block(tk_store *s, uint64_t sched, const tk_seat_block *b)
{
    size_t cap = 96 + SEAT_ROWS_PER_INSERT * 80, len = 0;
    char *sql = malloc(cap);
    if (!sql)
        return tk_store_fail(s, TK_ENOMEM, "BUSY", "out of memory");
    size_t rows = 0;
    tk_rc rc = TK_OK;
    for (size_t si = 0; si < b->nsections && rc == TK_OK; si++) {
        char sec[20];
        esc(s, sec, b->sections[si]);
        for (size_t ri = 0; ri < b->nrows && rc == TK_OK; ri++) {
            char row[20];
            esc(s, row, b->rows[ri]);
            for (int n = b->number_from; n <= b->number_to; n++) {
                if (rows == 0)
                    len = (size_t)snprintf(sql, cap,
                                           "INSERT INTO seats (schedule_id, section, row_label, number, grade, price)"
                                           " VALUES ");
                len += (size_t)snprintf(sql + len, cap - len, "%s(%llu,'%s','%s',%d,'%s',%lld)", rows ? "," : "",
                                        (unsigned long long)sched, sec, row, n, b->grade, (long long)b->price);
                rows++;
                int last = si + 1 == b->nsections && ri + 1 == b->nrows && n == b->number_to;
                if (rows == SEAT_ROWS_PER_INSERT || last) {
                    if (mysql_real_query(tk_store_db(s), sql, (unsigned long)len) != 0) {
                        rc = db_fail(s);
                        break;
                    }
                    rows = 0;
                }
            }
        }
    }
    free(sql);
    return rc;
}

static tk_rc seats_create_body(tk_store *s, void *arg)
{
    struct seats_args *a = arg;
    int started;
    tk_rc rc = schedule_read(s, a->schedule_id, 1, &a->concert_id, &started);
    if (rc != TK_OK)
        return rc;
    if (started)
        return tk_store_fail(s, TK_ECONFLICT, "SHOW_STARTED", "schedule %llu has started",
                             (unsigned long long)a->schedule_id);
    for (size_t i = 0; i < a->nblocks; i++) {
        const tk_seat_block *b = &a->blocks[i];
        char secs[TK_ADMIN_LABELS_MAX * 24], rows[TK_ADMIN_LABELS_MAX * 24];
        label_list(s, b->sections, b->nsections, secs, sizeof secs);
        label_list(s, b->rows, b->nrows, rows, sizeof rows);
        long long dup;
        char *sql = malloc(sizeof secs + sizeof rows + 256);
        if (!sql)
            return tk_store_fail(s, TK_ENOMEM, "BUSY", "out of memory");
        int n = snprintf(sql, sizeof secs + sizeof rows + 256,
                         "SELECT COUNT(*) FROM seats WHERE schedule_id = %llu AND section IN (%s) AND row_label IN (%s)"
                         " AND number BETWEEN %d AND %d",
                         (unsigned long long)a->schedule_id, secs, rows, b->number_from, b->number_to);
        MYSQL *db = tk_store_db(s);
        int qrc = mysql_real_query(db, sql, (unsigned long)n);
        free(sql);
        MYSQL_RES *res = qrc == 0 ? mysql_store_result(db) : NULL;
        if (!res)
            return db_fail(s);
        MYSQL_ROW row = mysql_fetch_row(res);
        dup = row && row[0] ? strtoll(row[0], NULL, 10) : 0;
        mysql_free_result(res);
        if (dup > 0)
            return tk_store_fail(s, TK_ECONFLICT, "DUPLICATE_SEAT", "block %zu: %lld of its seats exist already", i,
                                 dup);
    }
    for (size_t i = 0; i < a->nblocks; i++)
        if ((rc = seats_insert_block(s, a->schedule_id, &a->blocks[i])) != TK_OK)
            return rc;
    if (q(s,
          "UPDATE concert_schedules SET total_seats = total_seats + %llu, available_seats = available_seats + %llu"
          " WHERE id = %llu",
          (unsigned long long)a->count, (unsigned long long)a->count, (unsigned long long)a->schedule_id) != 0)
        return db_fail(s);
    return emit(s, "seats.created", a->concert_id,
                json_pack("{s:I, s:I, s:I}", "concert_id", (json_int_t)a->concert_id, "schedule_id",
                          (json_int_t)a->schedule_id, "seats", (json_int_t)a->count)) == 0
               ? TK_OK
               : db_fail(s);
}

tk_rc tk_admin_seats_create(tk_store *s, uint64_t schedule_id, const tk_seat_block *blocks, size_t nblocks,
                            uint64_t *count, uint64_t *concert_id)
{
    if (nblocks < 1 || nblocks > 64)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "1 to 64 blocks of seats");
    uint64_t total = 0;
    for (size_t i = 0; i < nblocks; i++) {
        tk_rc rc = block_ok(s, &blocks[i], i);
        if (rc != TK_OK)
            return rc;
        total += tk_seat_block_count(&blocks[i]);
        for (size_t k = 0; k < i; k++) {
            const tk_seat_block *x = &blocks[k], *y = &blocks[i];
            if (labels_meet(x->sections, x->nsections, y->sections, y->nsections) &&
                labels_meet(x->rows, x->nrows, y->rows, y->nrows) && x->number_from <= y->number_to &&
                y->number_from <= x->number_to)
                return tk_store_fail(s, TK_ECONFLICT, "DUPLICATE_SEAT", "blocks %zu and %zu overlap", k, i);
        }
    }
    if (total > TK_ADMIN_SEATS_MAX)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "%llu seats: at most %d in one call",
                             (unsigned long long)total, TK_ADMIN_SEATS_MAX);
    struct seats_args a = {.schedule_id = schedule_id, .blocks = blocks, .nblocks = nblocks, .count = total};
    tk_rc rc = txn(s, seats_create_body, &a);
    if (rc == TK_OK) {
        *count = total;
        *concert_id = a.concert_id;
    }
    return rc;
}

static tk_rc seats_update_body(tk_store *s, void *arg)
{
    struct seats_args *a = arg;
    int started;
    tk_rc rc = schedule_read(s, a->schedule_id, 0, &a->concert_id, &started); /* seats are locked below */
    if (rc != TK_OK)
        return rc;
    size_t cap = 128 + a->nids * 21, len = 0;
    char *ids = malloc(cap);
    if (!ids)
        return tk_store_fail(s, TK_ENOMEM, "BUSY", "out of memory");
    for (size_t i = 0; i < a->nids; i++)
        len += (size_t)snprintf(ids + len, cap - len, "%s%llu", i ? "," : "", (unsigned long long)a->ids[i]);
    char *sql = malloc(cap + 256);
    long long found = -1, avail = -1;
    if (sql) {
        /* lock them, then count: every id a seat of this schedule, every one AVAILABLE */
        int n = snprintf(sql, cap + 256,
                         "SELECT COUNT(*), COALESCE(SUM(status = 'AVAILABLE'), 0) FROM seats WHERE id IN (%s)"
                         " AND schedule_id = %llu FOR UPDATE",
                         ids, (unsigned long long)a->schedule_id);
        MYSQL *db = tk_store_db(s);
        MYSQL_RES *res = mysql_real_query(db, sql, (unsigned long)n) == 0 ? mysql_store_result(db) : NULL;
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        if (row) {
            found = strtoll(row[0], NULL, 10);
            avail = strtoll(row[1], NULL, 10);
        }
        if (res)
            mysql_free_result(res);
    }
    if (!sql || found < 0) {
        rc = sql ? db_fail(s) : tk_store_fail(s, TK_ENOMEM, "BUSY", "out of memory");
    } else if ((size_t)found != a->nids) {
        rc = tk_store_fail(s, TK_ENOTFOUND, "NOT_FOUND", "%zu of the seat ids are not seats of schedule %llu",
                           a->nids - (size_t)found, (unsigned long long)a->schedule_id);
    } else if (avail != found) {
        rc = tk_store_fail(s, TK_ECONFLICT, "SEAT_NOT_AVAILABLE", "%lld of the seats are held or sold",
                           found - avail);
    } else {
        char set[64] = "";
        size_t o = 0;
        if (a->grade)
            o += (size_t)snprintf(set + o, sizeof set - o, "grade = '%s'", a->grade);
        if (a->price > 0)
            o += (size_t)snprintf(set + o, sizeof set - o, "%sprice = %lld", o ? ", " : "", (long long)a->price);
        int n = snprintf(sql, cap + 256,
                         "UPDATE seats SET %s, version = version + 1 WHERE id IN (%s) AND status = 'AVAILABLE'", set,
                         ids);
        if (mysql_real_query(tk_store_db(s), sql, (unsigned long)n) != 0)
            rc = db_fail(s);
        else if (mysql_affected_rows(tk_store_db(s)) != (my_ulonglong)a->nids)
            rc = tk_store_fail(s, TK_ECONFLICT, "SEAT_NOT_AVAILABLE", "a seat changed state meanwhile");
    }
    free(sql);
    free(ids);
    if (rc != TK_OK)
        return rc;
    json_t *p = json_pack("{s:I, s:I, s:I}", "concert_id", (json_int_t)a->concert_id, "schedule_id",
                          (json_int_t)a->schedule_id, "seats", (json_int_t)a->nids);
    if (a->grade)
        json_object_set_new(p, "grade", json_string(a->grade));
    if (a->price > 0)
        json_object_set_new(p, "price", json_integer(a->price));
    return emit(s, "seats.updated", a->concert_id, p) == 0 ? TK_OK : db_fail(s);
}

tk_rc tk_admin_seats_update(tk_store *s, uint64_t schedule_id, const uint64_t *seat_ids, size_t n, const char *grade,
                            int64_t price, uint64_t *concert_id)
{
    if (n < 1 || n > 1000)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'seat_ids' must list 1 to 1000 seats");
    if (!grade && price == 0)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "nothing to change: give grade or price");
    if (grade && !grade_ok(grade))
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "grade is VIP, R, S or A");
    if (price < 0 || price > TK_ADMIN_PRICE_MAX)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "price must be 1 to %lld points", TK_ADMIN_PRICE_MAX);
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n && n <= 1000; k++)
            if (seat_ids[i] == seat_ids[k])
                return tk_store_fail(s, TK_EINVAL, "VALIDATION", "seat %llu is listed twice",
                                     (unsigned long long)seat_ids[i]);
    struct seats_args a = {.schedule_id = schedule_id, .ids = seat_ids, .nids = n, .grade = grade, .price = price};
    tk_rc rc = txn(s, seats_update_body, &a);
    if (rc == TK_OK)
        *concert_id = a.concert_id;
    return rc;
}

/* ---- sale settings ------------------------------------------------------------------ */

struct sale_args {
    const tk_sale_settings *in;
    uint64_t concert_id;
};

static tk_rc sale_put_body(tk_store *s, void *arg)
{
    struct sale_args *a = arg;
    int started;
    tk_rc rc = schedule_read(s, a->in->schedule_id, 1, &a->concert_id, &started);
    if (rc != TK_OK)
        return rc;
    char at[40] = "NULL";
    if (a->in->opens_at_ms >= 0) {
        at[0] = '\'';
        sql_time(a->in->opens_at_ms, at + 1);
        strcat(at, "'");
    }
    char au[24] = "NULL", nu[24] = "NULL";
    if (a->in->active_users > 0)
        snprintf(au, sizeof au, "%lld", (long long)a->in->active_users);
    if (a->in->new_users_per_min > 0)
        snprintf(nu, sizeof nu, "%lld", (long long)a->in->new_users_per_min);
    if (q(s,
          "INSERT INTO sale_settings (schedule_id, opens_at, active_users, new_users_per_min) VALUES (%llu, %s, %s, %s)"
          " ON DUPLICATE KEY UPDATE opens_at = VALUES(opens_at), active_users = VALUES(active_users),"
          " new_users_per_min = VALUES(new_users_per_min)",
          (unsigned long long)a->in->schedule_id, at, au, nu) != 0)
        return db_fail(s);
    return emit(s, "sale.settings_updated", a->concert_id,
                json_pack("{s:I, s:I, s:I, s:I, s:I}", "concert_id", (json_int_t)a->concert_id, "schedule_id",
                          (json_int_t)a->in->schedule_id, "opens_at_ms", (json_int_t)a->in->opens_at_ms,
                          "active_users", (json_int_t)a->in->active_users, "new_users_per_min",
                          (json_int_t)a->in->new_users_per_min)) == 0
               ? TK_OK
               : db_fail(s);
}

tk_rc tk_admin_sale_put(tk_store *s, const tk_sale_settings *in, uint64_t *concert_id)
{
    if (in->active_users < 0 || in->active_users > 1000000)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'active_users' must be 1 to 1000000");
    if (in->new_users_per_min < 0 || in->new_users_per_min > 10000000)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION", "'new_users_per_minute' must be 1 to 10000000");
    if (in->opens_at_ms < 0 && in->active_users == 0 && in->new_users_per_min == 0)
        return tk_store_fail(s, TK_EINVAL, "VALIDATION",
                             "nothing to set: give opens_at, active_users or new_users_per_minute");
    struct sale_args a = {.in = in};
    tk_rc rc = txn(s, sale_put_body, &a);
    if (rc == TK_OK)
        *concert_id = a.concert_id;
    return rc;
}

tk_rc tk_admin_sale_get(tk_store *s, uint64_t schedule_id, tk_sale_settings *out)
{
    MYSQL *db = tk_store_db(s);
    if (q(s,
          "SELECT COALESCE(CAST(UNIX_TIMESTAMP(opens_at) * 1000 AS SIGNED), -1), COALESCE(active_users, 0),"
          " COALESCE(new_users_per_min, 0) FROM sale_settings WHERE schedule_id = %llu",
          (unsigned long long)schedule_id) != 0)
        return db_fail(s);
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return db_fail(s);
    MYSQL_ROW row = mysql_fetch_row(res);
    tk_rc rc = TK_OK;
    if (!row) {
        rc = tk_store_fail(s, TK_ENOTFOUND, "NOT_FOUND", "schedule %llu has no sale settings",
                           (unsigned long long)schedule_id);
    } else {
        out->schedule_id = schedule_id;
        out->opens_at_ms = strtoll(row[0], NULL, 10);
        out->active_users = strtoll(row[1], NULL, 10);
        out->new_users_per_min = strtoll(row[2], NULL, 10);
    }
    mysql_free_result(res);
    return rc;
}

int tk_admin_sales_load(MYSQL *db, const uint64_t *ids, int n, tk_sale_settings *out)
{
    for (int i = 0; i < n; i++)
        out[i] = (tk_sale_settings){.schedule_id = ids[i], .opens_at_ms = -1};
    if (!db || n <= 0)
        return n <= 0 ? 0 : -1;
    size_t cap = 256 + (size_t)n * 21, len;
    char *sql = malloc(cap);
    if (!sql)
        return -1;
    len = (size_t)snprintf(sql, cap,
                           "SELECT schedule_id, COALESCE(CAST(UNIX_TIMESTAMP(opens_at) * 1000 AS SIGNED), -1),"
                           " COALESCE(active_users, 0), COALESCE(new_users_per_min, 0) FROM sale_settings"
                           " WHERE schedule_id IN (");
    for (int i = 0; i < n; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s%llu", i ? "," : "", (unsigned long long)ids[i]);
    len += (size_t)snprintf(sql + len, cap - len, ")");
    int rc = mysql_real_query(db, sql, (unsigned long)len);
    free(sql);
    MYSQL_RES *res = rc == 0 ? mysql_store_result(db) : NULL;
    if (!res)
        return -1;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        uint64_t id = strtoull(row[0], NULL, 10);
        for (int i = 0; i < n; i++)
            if (ids[i] == id) {
                out[i].opens_at_ms = strtoll(row[1], NULL, 10);
                out[i].active_users = strtoll(row[2], NULL, 10);
                out[i].new_users_per_min = strtoll(row[3], NULL, 10);
            }
    }
    mysql_free_result(res);
    return 0;
}

void tk_sale_settings_apply(const tk_sale_settings *s, tk_queue_config *c, int64_t *share, int64_t k, int64_t now_ms)
{
    if (s->active_users > 0)
        c->admitted_cap = s->active_users;
    if (s->new_users_per_min > 0) {
        c->admit_per_min = (double)s->new_users_per_min;
        *share = tk_queue_tick_quota(c->admit_per_min, c->tick_ms, k);
    }
    if (s->opens_at_ms >= 0) {
        c->open_at_ms = s->opens_at_ms;
        if (now_ms < s->opens_at_ms)
            *share = 0;
    }
}

/* ---- the admin account --------------------------------------------------------------- */

int tk_admin_account_ensure(MYSQL *db, const char *email, const char *password, char pw_out[129], char *err,
                            size_t errlen)
{
    char hash[TK_PW_HASH_MAX], e_email[400], e_hash[2 * TK_PW_HASH_MAX + 1], sql[1024];
    if (tk_auth_init() != 0)
        return tk_err(err, errlen, "admin account: libsodium failed to initialise");
    if (!password) {
        unsigned char rnd[12];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(pw_out, 129, rnd, sizeof rnd);
        password = pw_out;
    } else if (strlen(password) < 8 || strlen(password) > 128) {
        return tk_err(err, errlen, "admin account: the password must be 8 to 128 characters");
    } else {
        snprintf(pw_out, 129, "%s", password);
    }
    if (!label_ok(email, 190) || !strchr(email, '@'))
        return tk_err(err, errlen, "admin account: '%s' is not an e-mail address", email);
    if (tk_pw_hash(password, hash) != 0)
        return tk_err(err, errlen, "admin account: cannot hash the password (out of memory)");
    mysql_real_escape_string(db, e_email, email, (unsigned long)strlen(email));
    mysql_real_escape_string(db, e_hash, hash, (unsigned long)strlen(hash));
    snprintf(sql, sizeof sql,
             "INSERT INTO users (email, name, password_hash, points, role) VALUES ('%s', 'Box office', '%s', 0,"
             " 'ADMIN') ON DUPLICATE KEY UPDATE password_hash = VALUES(password_hash), role = 'ADMIN'",
             e_email, e_hash);
    char e[256];
    if (tk_db_exec(db, sql, e, sizeof e) != 0)
        return tk_err(err, errlen, "admin account: %s", e);
    return 0;
}
