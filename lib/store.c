/* The reservation store: domain operations as MariaDB transactions.
 *
 * Statements use the text protocol with integers formatted by us and every
 * string escaped by mysql_real_escape_string; one connection per store.
 * Each write operation is one transaction run by run_txn(), which retries
 * deadlocks (1213) and lock-wait timeouts (1205) up to TXN_ATTEMPTS times. */
#include "ticketctl/store.h"
#include "ticketctl/db.h"
#include "ticketctl/domain.h"
#include "ticketctl/jsonw.h"
#include "ticketctl/queries.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TXN_ATTEMPTS 3
/* ISO-8601 UTC; doubled % because it goes through printf first. */
#define TS_FMT "'%%Y-%%m-%%dT%%H:%%i:%%sZ'"

struct tk_store {
    MYSQL *db;
    char code[32];
    char msg[256];
    char sql[2048];
    int no_wait_retry; /* call_proc: do not retry lock wait timeouts (NOWAIT) */
    char request_id[65]; /* the job's X-Request-Id, "" for none (tk_store_set_request_id) */
};

/* Outcome of one attempt of a transaction body. */
enum { BODY_OK = 0, BODY_FAIL = 1, BODY_DBERR = 2 };

/* Record the error of this call (code, message) and return rc. */
#define fail tk_store_fail

static tk_rc db_fail(tk_store *s)
{
    unsigned e = mysql_errno(s->db);
    if (e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT)
        return fail(s, TK_EBUSY, "BUSY", "database busy: %s", mysql_error(s->db));
    return fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "database error %u: %s", e, mysql_error(s->db));
}

/* Format and run one statement. Returns 0 or -1 (error left on s->db). */
static int q(tk_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int q(tk_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->sql, sizeof s->sql, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof s->sql)
        return -1;
    return mysql_real_query(s->db, s->sql, (unsigned long)n) == 0 ? 0 : -1;
}

/* Run a query and store its result; NULL on error (check mysql_errno). */
static MYSQL_RES *qr(tk_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static MYSQL_RES *qr(tk_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(s->sql, sizeof s->sql, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof s->sql)
        return NULL;
    if (mysql_real_query(s->db, s->sql, (unsigned long)n) != 0)
        return NULL;
    return mysql_store_result(s->db);
}

static void esc(tk_store *s, char *dst, const char *src, size_t maxsrc)
{
    size_t n = strnlen(src, maxsrc);
    mysql_real_escape_string(s->db, dst, src, (unsigned long)n);
}

static int64_t i64(const char *v) { return v ? strtoll(v, NULL, 10) : 0; }
static uint64_t u64(const char *v) { return v ? strtoull(v, NULL, 10) : 0; }

/* Run body(s, arg) inside START TRANSACTION .. COMMIT, retrying deadlocks. */
static tk_rc run_txn(tk_store *s, int (*body)(tk_store *, void *, tk_rc *), void *arg)
{
    tk_rc rc = TK_OK;
    for (int attempt = 0; attempt < TXN_ATTEMPTS; attempt++) {
        if (q(s, "START TRANSACTION") != 0)
            return db_fail(s);
        int r = body(s, arg, &rc);
        if (r == BODY_OK) {
            if (q(s, "COMMIT") == 0)
                return TK_OK;
        } else {
            /* keep the body's error; ROLLBACK must not overwrite it */
            unsigned e = mysql_errno(s->db);
            tk_rc saved = r == BODY_DBERR ? db_fail(s) : rc;
            q(s, "ROLLBACK");
            if (r == BODY_FAIL)
                return saved;
            if (e != ER_LOCK_DEADLOCK && e != ER_LOCK_WAIT_TIMEOUT)
                return saved;
            rc = saved;
            continue;
        }
        unsigned e = mysql_errno(s->db);
        rc = db_fail(s);
        q(s, "ROLLBACK");
        if (e != ER_LOCK_DEADLOCK && e != ER_LOCK_WAIT_TIMEOUT)
            return rc;
    }
    return rc == TK_OK ? fail(s, TK_EBUSY, "BUSY", "retries exhausted") : rc;
}

tk_store *tk_store_open(const char *mysql_url, char *err, size_t errlen)
{
    tk_store *s = calloc(1, sizeof *s);
    if (!s) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    s->db = tk_db_connect(mysql_url, err, errlen);
    if (!s->db) {
        free(s);
        return NULL;
    }
    my_bool reconnect = 1;
    mysql_optionsv(s->db, MYSQL_OPT_RECONNECT, &reconnect);
    return s;
}

void tk_store_close(tk_store *s)
{
    if (!s)
        return;
    mysql_close(s->db);
    free(s);
}

const char *tk_store_errcode(const tk_store *s) { return s->code[0] ? s->code : "INTERNAL"; }
const char *tk_store_errmsg(const tk_store *s) { return s->msg; }

int tk_store_ping(tk_store *s) { return mysql_ping(s->db) == 0 ? 0 : -1; }

MYSQL *tk_store_db(tk_store *s) { return s->db; }

void tk_store_set_request_id(tk_store *s, const char *id)
{
    size_t n = id ? strlen(id) : 0;
    s->request_id[0] = '\0';
    if (n == 0 || n >= sizeof s->request_id || strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789._:+=/-") != n)
        return; /* nothing in it needs quoting in SQL: only these characters */
    memcpy(s->request_id, id, n + 1);
}

const char *tk_store_request_id(const tk_store *s) { return s->request_id; }

/* "CALL name(args)" -> "CALL name_rid('<request id>', args)" (migration 14)
 * when the store has a request id and the procedure writes events (tk_hold,
 * tk_reserve_as, tk_pay; not tk_charge: the wrapper would cost it ~5 µs of
 * MariaDB CPU for nothing); else sql unchanged. Returns the new length, or
 * -1 when it does not fit in cap. */
static int with_request_id(const tk_store *s, char *sql, size_t cap, int n)
{
    char *paren = strchr(sql, '(');
    if (!s->request_id[0] || !paren ||
        (strncmp(sql, "CALL tk_hold(", 13) && strncmp(sql, "CALL tk_reserve_as(", 19) && strncmp(sql, "CALL tk_pay(", 12)))
        return n;
    char rest[512];
    snprintf(rest, sizeof rest, "%s", paren + 1);
    int m = snprintf(paren, cap - (size_t)(paren - sql), "_rid('%s', %s", s->request_id, rest);
    return m < 0 || (size_t)m >= cap - (size_t)(paren - sql) ? -1 : (int)(paren - sql) + m;
}

/* One CALL of a hot-path procedure (migration 3): a single round trip that
 * answers one row of 7 columns, code first. Deadlocks and lock-wait
 * timeouts roll back inside the procedure and are retried here. Copies the
 * row into code/v[0..5]. Returns TK_OK (row read) or a backend error. */
static tk_rc call_proc(tk_store *s, char code[32], int64_t v[6], const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static tk_rc call_proc(tk_store *s, char code[32], int64_t v[6], const char *fmt, ...)
{
    char sql[640];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(sql, 512, fmt, ap);
    va_end(ap);
    if (n < 0 || n >= 512 || (n = with_request_id(s, sql, sizeof sql, n)) < 0)
        return fail(s, TK_EINVAL, "VALIDATION", "request too long");
    for (int attempt = 0;; attempt++) {
        if (mysql_real_query(s->db, sql, (unsigned long)n) != 0) {
            unsigned e = mysql_errno(s->db);
            if ((e == ER_LOCK_DEADLOCK || (e == ER_LOCK_WAIT_TIMEOUT && !s->no_wait_retry)) &&
                attempt + 1 < TXN_ATTEMPTS)
                continue;
            return db_fail(s);
        }
        break;
    }
    tk_rc rc = TK_OK;
    MYSQL_RES *res = mysql_store_result(s->db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row && mysql_num_fields(res) >= 7) {
        snprintf(code, 32, "%s", row[0] ? row[0] : "");
        for (int i = 0; i < 6; i++)
            v[i] = i64(row[i + 1]);
    } else {
        rc = fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "procedure gave no answer: %s", mysql_error(s->db));
    }
    if (res)
        mysql_free_result(res);
    while (mysql_next_result(s->db) == 0) { /* the CALL's own status result */
        MYSQL_RES *more = mysql_store_result(s->db);
        if (more)
            mysql_free_result(more);
    }
    return rc;
}

/* ---- users ------------------------------------------------------------ */

static tk_rc user_query(tk_store *s, tk_user *out, const char *where)
{
    MYSQL_RES *res = qr(s, "SELECT id, email, name, password_hash, points, role FROM users WHERE %s", where);
    if (!res)
        return db_fail(s);
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row) {
        mysql_free_result(res);
        return fail(s, TK_ENOTFOUND, "NOT_FOUND", "no such user");
    }
    memset(out, 0, sizeof *out);
    out->id = u64(row[0]);
    snprintf(out->email, sizeof out->email, "%s", row[1]);
    snprintf(out->name, sizeof out->name, "%s", row[2]);
    snprintf(out->password_hash, sizeof out->password_hash, "%s", row[3]);
    out->points = i64(row[4]);
    out->admin = !strcmp(row[5], "ADMIN");
    mysql_free_result(res);
    return TK_OK;
}

tk_rc tk_store_user_by_email(tk_store *s, const char *email, tk_user *out)
{
    char e[400], where[420];
    esc(s, e, email, 190);
    snprintf(where, sizeof where, "email = '%s'", e);
    return user_query(s, out, where);
}

tk_rc tk_store_user_get(tk_store *s, uint64_t id, tk_user *out)
{
    char where[64];
    snprintf(where, sizeof where, "id = %llu", (unsigned long long)id);
    return user_query(s, out, where);
}

tk_rc tk_store_user_create(tk_store *s, const char *email, const char *name, const char *pw_hash, tk_user *out)
{
    char e[400], n[210], h[2 * TK_PW_HASH_MAX + 1];
    esc(s, e, email, 190);
    esc(s, n, name, 100);
    esc(s, h, pw_hash, TK_PW_HASH_MAX);
    if (q(s, "INSERT INTO users (email, name, password_hash) VALUES ('%s', '%s', '%s')", e, n, h) != 0) {
        if (mysql_errno(s->db) == ER_DUP_ENTRY)
            return fail(s, TK_EEXISTS, "EMAIL_TAKEN", "that e-mail is already registered");
        return db_fail(s);
    }
    return tk_store_user_get(s, mysql_insert_id(s->db), out);
}

/* ---- points ----------------------------------------------------------- */

/* Add delta to a balance (locked row) and write its history line.
 * Returns BODY_* and fills balance/history id. */
static int points_move(tk_store *s, uint64_t user_id, int64_t delta, const char *type, uint64_t ref_id,
                       int64_t *balance, uint64_t *hist_id, tk_rc *rc)
{
    MYSQL_RES *res = qr(s, "SELECT points FROM users WHERE id = %llu FOR UPDATE", (unsigned long long)user_id);
    if (!res)
        return BODY_DBERR;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row) {
        mysql_free_result(res);
        *rc = fail(s, TK_ENOTFOUND, "NOT_FOUND", "no such user");
        return BODY_FAIL;
    }
    int64_t before = i64(row[0]);
    mysql_free_result(res);
    if (delta < 0 && before + delta < 0) {
        *rc = fail(s, TK_EFUNDS, "INSUFFICIENT_POINTS", "balance %lld is less than %lld", (long long)before,
                   (long long)-delta);
        return BODY_FAIL;
    }
    if (delta > 0 && before > TK_BALANCE_MAX - delta) {
        *rc = fail(s, TK_EINVAL, "VALIDATION", "balance would exceed %lld points", TK_BALANCE_MAX);
        return BODY_FAIL;
    }
    int64_t after = before + delta;
    if (q(s, "UPDATE users SET points = %lld WHERE id = %llu", (long long)after, (unsigned long long)user_id) != 0)
        return BODY_DBERR;
    char ref[32] = "NULL";
    if (ref_id)
        snprintf(ref, sizeof ref, "%llu", (unsigned long long)ref_id);
    if (q(s, "INSERT INTO point_history (user_id, amount, type, balance_after, ref_id) VALUES (%llu, %lld, '%s', %lld, %s)",
          (unsigned long long)user_id, (long long)delta, type, (long long)after, ref) != 0)
        return BODY_DBERR;
    if (balance)
        *balance = after;
    if (hist_id)
        *hist_id = mysql_insert_id(s->db);
    return BODY_OK;
}

tk_rc tk_store_points_charge(tk_store *s, uint64_t user_id, int64_t amount, int64_t *balance, uint64_t *history_id)
{
    if (amount <= 0 || amount > TK_CHARGE_MAX)
        return fail(s, TK_EINVAL, "VALIDATION", "amount must be between 1 and %lld points", TK_CHARGE_MAX);
    char code[32];
    int64_t v[6];
    tk_rc rc = call_proc(s, code, v, "CALL tk_charge(%llu, %lld, %lld)", (unsigned long long)user_id,
                         (long long)amount, TK_BALANCE_MAX);
    if (rc != TK_OK)
        return rc;
    return tk_store_charge_answer(s, code, v, balance, history_id);
}

tk_rc tk_store_charge_answer(tk_store *s, const char *code, const int64_t v[6], int64_t *balance,
                             uint64_t *history_id)
{
    if (!strcmp(code, "NOT_FOUND"))
        return fail(s, TK_ENOTFOUND, "NOT_FOUND", "no such user");
    if (!strcmp(code, "BALANCE_LIMIT"))
        return fail(s, TK_EINVAL, "VALIDATION", "balance would exceed %lld points", TK_BALANCE_MAX);
    *balance = v[0];
    if (history_id)
        *history_id = (uint64_t)v[1];
    return TK_OK;
}

static json_t *page_object(json_t *items, int page, int size, long long total)
{
    return json_pack("{s:o, s:i, s:i, s:I}", "items", items, "page", page, "size", size, "total", (json_int_t)total);
}

tk_rc tk_store_points_history(tk_store *s, uint64_t user_id, int page, int size, json_t **out)
{
    long long total = 0;
    char e[256];
    snprintf(s->sql, sizeof s->sql, TK_SQL_POINTS_HISTORY_COUNT, (unsigned long long)user_id);
    if (tk_db_query_i64(s->db, s->sql, &total, e, sizeof e) < 0)
        return db_fail(s);
    MYSQL_RES *res = qr(s, TK_SQL_POINTS_HISTORY, (unsigned long long)user_id, size, (long long)(page - 1) * size);
    if (!res)
        return db_fail(s);
    json_t *items = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        json_array_append_new(items, json_pack("{s:I, s:I, s:s, s:I, s:s}", "id", (json_int_t)u64(row[0]),
                                               "amount", (json_int_t)i64(row[1]), "type", row[2],
                                               "balance_after", (json_int_t)i64(row[3]), "created_at", row[4]));
    mysql_free_result(res);
    *out = page_object(items, page, size, total);
    return TK_OK;
}

/* ---- catalogue -------------------------------------------------------- */

static json_t *concert_json(MYSQL_ROW row)
{
    return json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)u64(row[0]), "title", row[1], "venue", row[2],
                     "sale_opens_at", row[3]);
}

#define CONCERT_COLS "id, title, venue, DATE_FORMAT(sale_opens_at, " TS_FMT ")"

tk_rc tk_store_concerts_list(tk_store *s, const char *keyword, int page, int size, json_t **out)
{
    char where[1000] = "1";
    if (keyword && *keyword) {
        /* LIKE pattern: escape the SQL string, then the LIKE wildcards. */
        char raw[210], e[430];
        size_t j = 0;
        for (size_t i = 0; keyword[i] && j + 2 < sizeof raw && i < 100; i++) {
            if (keyword[i] == '%' || keyword[i] == '_' || keyword[i] == '\\')
                raw[j++] = '\\';
            raw[j++] = keyword[i];
        }
        raw[j] = '\0';
        esc(s, e, raw, sizeof raw);
        snprintf(where, sizeof where, "(title LIKE '%%%s%%' OR venue LIKE '%%%s%%')", e, e);
    }
    long long total = 0;
    char err[256];
    snprintf(s->sql, sizeof s->sql, "SELECT COUNT(*) FROM concerts WHERE %s", where);
    if (tk_db_query_i64(s->db, s->sql, &total, err, sizeof err) < 0)
        return db_fail(s);
    MYSQL_RES *res = qr(s, "SELECT " CONCERT_COLS " FROM concerts WHERE %s ORDER BY id LIMIT %d OFFSET %lld", where,
                        size, (long long)(page - 1) * size);
    if (!res)
        return db_fail(s);
    json_t *items = json_array();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        json_array_append_new(items, concert_json(row));
    mysql_free_result(res);
    *out = page_object(items, page, size, total);
    return TK_OK;
}

tk_rc tk_store_concert_get(tk_store *s, uint64_t id, json_t **out)
{
    MYSQL_RES *res = qr(s, "SELECT " CONCERT_COLS " FROM concerts WHERE id = %llu", (unsigned long long)id);
    if (!res)
        return db_fail(s);
    MYSQL_ROW row = mysql_fetch_row(res);
    tk_rc rc = TK_OK;
    if (row)
        *out = concert_json(row);
    else
        rc = fail(s, TK_ENOTFOUND, "NOT_FOUND", "no concert %llu", (unsigned long long)id);
    mysql_free_result(res);
    return rc;
}

static int exists(tk_store *s, const char *table, uint64_t id)
{
    MYSQL_RES *res = qr(s, "SELECT 1 FROM %s WHERE id = %llu", table, (unsigned long long)id);
    if (!res)
        return -1;
    int found = mysql_num_rows(res) > 0;
    mysql_free_result(res);
    return found;
}

/* The list of the `what` (concert, schedule) with id `parent` from `res`:
 * an empty result is a 404 when the parent does not exist; else start the
 * text {"<what>_id":<parent>,"items":[ in *w. Frees res on failure. */
static tk_rc list_open(tk_store *s, MYSQL_RES *res, const char *parent_table, const char *what, uint64_t parent,
                       tk_jsonw *w)
{
    if (!res)
        return db_fail(s);
    if (mysql_num_rows(res) == 0) { /* nothing left, or no such parent? */
        int ex = exists(s, parent_table, parent);
        if (ex <= 0) {
            mysql_free_result(res);
            return ex < 0 ? db_fail(s) : fail(s, TK_ENOTFOUND, "NOT_FOUND", "no %s %llu", what, (unsigned long long)parent);
        }
    }
    char head[64];
    int n = snprintf(head, sizeof head, "{\"%s_id\":%llu,\"items\":[", what, (unsigned long long)parent);
    tk_jsonw_init(w, 64 + 96 * (size_t)mysql_num_rows(res));
    tk_jsonw_raw(w, head, (size_t)n);
    return TK_OK;
}

tk_rc tk_store_schedules_available(tk_store *s, uint64_t concert_id, char **json, size_t *len)
{
    MYSQL_RES *res = qr(s, TK_SQL_SCHEDULES_AVAILABLE, (unsigned long long)concert_id);
    tk_jsonw w;
    tk_rc rc = list_open(s, res, "concerts", "concert", concert_id, &w);
    if (rc != TK_OK)
        return rc;
    MYSQL_ROW row;
    for (int n = 0; (row = mysql_fetch_row(res)); n++) {
        tk_jsonw_lit(&w, n ? ",{\"id\":" : "{\"id\":");
        tk_jsonw_i64(&w, (int64_t)u64(row[0]));
        tk_jsonw_lit(&w, ",\"starts_at\":");
        tk_jsonw_str(&w, row[1]);
        tk_jsonw_lit(&w, ",\"total_seats\":");
        tk_jsonw_i64(&w, i64(row[2]));
        tk_jsonw_lit(&w, ",\"available_seats\":");
        tk_jsonw_i64(&w, i64(row[3]));
        tk_jsonw_raw(&w, "}", 1);
    }
    mysql_free_result(res);
    tk_jsonw_raw(&w, "]}", 2);
    if (!(*json = tk_jsonw_take(&w, len)))
        return fail(s, TK_ENOMEM, "BUSY", "out of memory");
    return TK_OK;
}

tk_rc tk_store_seats_available(tk_store *s, uint64_t schedule_id, const char *grade, char **json, size_t *len)
{
    char gradecond[64] = "";
    if (grade && *grade) {
        if (strcmp(grade, "VIP") && strcmp(grade, "R") && strcmp(grade, "S") && strcmp(grade, "A"))
            return fail(s, TK_EINVAL, "VALIDATION", "grade must be one of VIP, R, S, A");
        snprintf(gradecond, sizeof gradecond, " AND grade = '%s'", grade);
    }
    MYSQL_RES *res = qr(s, TK_SQL_SEATS_AVAILABLE, (unsigned long long)schedule_id, gradecond);
    tk_jsonw w;
    tk_rc rc = list_open(s, res, "concert_schedules", "schedule", schedule_id, &w);
    if (rc != TK_OK)
        return rc;
    MYSQL_ROW row;
    for (int n = 0; (row = mysql_fetch_row(res)); n++) {
        /* tk_store_seats_json_remove() finds an item by this exact prefix */
        tk_jsonw_lit(&w, n ? ",{\"id\":" : "{\"id\":");
        tk_jsonw_i64(&w, (int64_t)u64(row[0]));
        tk_jsonw_lit(&w, ",\"section\":");
        tk_jsonw_str(&w, row[1]);
        tk_jsonw_lit(&w, ",\"row\":");
        tk_jsonw_str(&w, row[2]);
        tk_jsonw_lit(&w, ",\"number\":");
        tk_jsonw_i64(&w, i64(row[3]));
        tk_jsonw_lit(&w, ",\"grade\":");
        tk_jsonw_str(&w, row[4]);
        tk_jsonw_lit(&w, ",\"price\":");
        tk_jsonw_i64(&w, i64(row[5]));
        tk_jsonw_raw(&w, "}", 1);
    }
    mysql_free_result(res);
    tk_jsonw_raw(&w, "]}", 2);
    if (!(*json = tk_jsonw_take(&w, len)))
        return fail(s, TK_ENOMEM, "BUSY", "out of memory");
    return TK_OK;
}

int tk_store_dates_json_take_seat(char *json, size_t *len, uint64_t schedule_id)
{
    char pat[40];
    int pn = snprintf(pat, sizeof pat, "{\"id\":%llu,", (unsigned long long)schedule_id);
    char *item = memmem(json, *len, pat, (size_t)pn);
    if (!item)
        return 0;
    static const char key[] = "\"available_seats\":";
    char *end = json + *len;
    char *close = memchr(item, '}', (size_t)(end - item)); /* no strings after starts_at's digits */
    char *num = close ? memmem(item, (size_t)(close - item), key, sizeof key - 1) : NULL;
    if (!num)
        return -1;
    num += sizeof key - 1;
    char *stop;
    long long n = strtoll(num, &stop, 10);
    if (stop == num || stop != close || n <= 1)
        return -1; /* the schedule sells out (it leaves the list) or the text is not ours */
    char digits[24];
    size_t dn = (size_t)snprintf(digits, sizeof digits, "%lld", n - 1);
    size_t old = (size_t)(stop - num);
    memcpy(num, digits, dn);
    if (dn < old) { /* 10 -> 9: one digit fewer */
        memmove(num + dn, stop, (size_t)(end - stop));
        *len -= old - dn;
        json[*len] = '\0';
    }
    return 1;
}

int tk_store_seats_json_remove(char *json, size_t *len, uint64_t seat_id)
{
    char pat[40];
    int pn = snprintf(pat, sizeof pat, "{\"id\":%llu,", (unsigned long long)seat_id);
    char *start = memmem(json, *len, pat, (size_t)pn);
    if (!start)
        return 0;
    /* the item ends at the first '}' outside a string */
    char *end = json + *len, *c = start + pn;
    int in_str = 0;
    for (; c < end; c++) {
        if (in_str) {
            if (*c == '\\')
                c++;
            else if (*c == '"')
                in_str = 0;
        } else if (*c == '"') {
            in_str = 1;
        } else if (*c == '}') {
            break;
        }
    }
    if (c >= end)
        return -1;
    char *cut_from = start, *cut_to = c + 1;
    if (cut_to < end && *cut_to == ',')
        cut_to++; /* the item and the comma after it */
    else if (cut_from > json && cut_from[-1] == ',')
        cut_from--; /* the last item: the comma before it */
    memmove(cut_from, cut_to, (size_t)(end - cut_to));
    *len -= (size_t)(cut_to - cut_from);
    json[*len] = '\0';
    return 1;
}

/* ---- reservations ----------------------------------------------------- */

static void iso_ms(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, len - n, ".%03dZ", (int)(ms % 1000));
}

json_t *tk_reservation_json(const tk_reservation *r)
{
    char exp[40], created[40];
    iso_ms(r->expires_at_ms, exp, sizeof exp);
    iso_ms(r->created_at_ms, created, sizeof created);
    return json_pack("{s:I, s:I, s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t)r->id, "seat_id",
                     (json_int_t)r->seat_id, "schedule_id", (json_int_t)r->schedule_id, "price",
                     (json_int_t)r->price, "status", r->status, "expires_at", exp, "created_at", created);
}

#define RES_COLS TK_SQL_RES_COLS /* queries.h: shared with the query registry */
#define RES_FROM TK_SQL_RES_FROM

void tk_store_reservation_from_row(MYSQL_ROW row, tk_reservation *r)
{
    memset(r, 0, sizeof *r);
    r->id = u64(row[0]);
    r->user_id = u64(row[1]);
    r->seat_id = u64(row[2]);
    r->schedule_id = u64(row[3]);
    r->concert_id = u64(row[4]);
    r->price = i64(row[5]);
    snprintf(r->status, sizeof r->status, "%s", row[6]);
    r->expires_at_ms = i64(row[7]);
    r->created_at_ms = i64(row[8]);
}

/* Load (and lock, FOR UPDATE) one reservation of a user. */
static int load_reservation(tk_store *s, uint64_t user_id, uint64_t id, tk_reservation *r, int *expired,
                            int *started, tk_rc *rc)
{
    MYSQL_RES *res = qr(s, "SELECT " RES_COLS RES_FROM " WHERE r.id = %llu FOR UPDATE", (unsigned long long)id);
    if (!res)
        return BODY_DBERR;
    MYSQL_ROW row = mysql_fetch_row(res);
    if (!row || u64(row[1]) != user_id) {
        mysql_free_result(res);
        *rc = fail(s, TK_ENOTFOUND, "NOT_FOUND", "no reservation %llu", (unsigned long long)id);
        return BODY_FAIL;
    }
    tk_store_reservation_from_row(row, r);
    *expired = (int)i64(row[9]);
    *started = (int)i64(row[10]);
    mysql_free_result(res);
    return BODY_OK;
}

/* Free a held/sold seat and give it back to its schedule's count. */
static int release_seat(tk_store *s, const tk_reservation *r, const char *new_status)
{
    if (q(s, "UPDATE reservations SET status = '%s', live_seat_id = NULL, updated_at = UTC_TIMESTAMP(3) WHERE id = %llu",
          new_status, (unsigned long long)r->id) != 0)
        return -1;
    if (q(s, "UPDATE seats SET status = 'AVAILABLE', version = version + 1 WHERE id = %llu",
          (unsigned long long)r->seat_id) != 0)
        return -1;
    if (q(s, "UPDATE concert_schedules SET available_seats = available_seats + 1 WHERE id = %llu",
          (unsigned long long)r->schedule_id) != 0)
        return -1;
    return 0;
}

tk_rc tk_store_reserve(tk_store *s, uint64_t user_id, uint64_t seat_id, int hold_ttl_s, tk_reservation *out)
{
    return tk_store_reserve_as(s, user_id, seat_id, hold_ttl_s, TK_GUARD_ARBITER, 0, out);
}

tk_rc tk_store_fail(tk_store *s, tk_rc rc, const char *code, const char *fmt, ...)
{
    va_list ap;
    snprintf(s->code, sizeof s->code, "%s", code);
    va_start(ap, fmt);
    vsnprintf(s->msg, sizeof s->msg, fmt, ap);
    va_end(ap);
    return rc;
}

tk_rc tk_store_seat_version(tk_store *s, uint64_t seat_id, int *available, uint64_t *version)
{
    MYSQL_RES *res = qr(s, "SELECT status, version FROM seats WHERE id = %llu", (unsigned long long)seat_id);
    if (!res)
        return db_fail(s);
    MYSQL_ROW row = mysql_fetch_row(res);
    tk_rc rc = TK_OK;
    if (!row)
        rc = fail(s, TK_ENOTFOUND, "NOT_FOUND", "no seat %llu", (unsigned long long)seat_id);
    else {
        *available = row[0] && !strcmp(row[0], "AVAILABLE");
        *version = (uint64_t)i64(row[1]);
    }
    mysql_free_result(res);
    return rc;
}

tk_rc tk_store_reserve_as(tk_store *s, uint64_t user_id, uint64_t seat_id, int hold_ttl_s, tk_seat_guard guard,
                          uint64_t arg, tk_reservation *out)
{
    char code[32];
    int64_t v[6];
    /* NOWAIT / SKIP LOCKED exist to answer at once: no lock-wait retries */
    s->no_wait_retry = guard == TK_GUARD_NOWAIT || guard == TK_GUARD_SKIP_LOCKED;
    /* the arbiter alone (the default strategies): tk_hold, the same hold in
     * fewer statements (migration 9) */
    tk_rc rc = guard == TK_GUARD_ARBITER
                   ? call_proc(s, code, v, "CALL tk_hold(%llu, %llu, %d)", (unsigned long long)user_id,
                               (unsigned long long)seat_id, hold_ttl_s)
                   : call_proc(s, code, v, "CALL tk_reserve_as(%llu, %llu, %d, %d, %llu)",
                               (unsigned long long)user_id, (unsigned long long)seat_id, hold_ttl_s, (int)guard,
                               (unsigned long long)arg);
    s->no_wait_retry = 0;
    if (rc != TK_OK) {
        if (rc == TK_EBACKEND && mysql_errno(s->db) == ER_DUP_ENTRY) /* live_seat_id: the UNIQUE backstop */
            return fail(s, TK_ECONFLICT, "SEAT_TAKEN", "seat %llu already has a live reservation",
                        (unsigned long long)seat_id);
        if (rc == TK_EBUSY)
            return fail(s, TK_EBUSY, "LOCK_BUSY", "seat %llu is locked by another request; try again",
                        (unsigned long long)seat_id);
        return rc;
    }
    return tk_store_hold_answer(s, user_id, seat_id, arg, code, v, out);
}

tk_rc tk_store_hold_answer(tk_store *s, uint64_t user_id, uint64_t seat_id, uint64_t arg, const char *code,
                           const int64_t v[6], tk_reservation *out)
{
    if (!strcmp(code, "SEAT_TAKEN"))
        return fail(s, TK_ECONFLICT, "SEAT_TAKEN", "seat %llu is already held or sold", (unsigned long long)seat_id);
    if (!strcmp(code, "NOT_FOUND"))
        return fail(s, TK_ENOTFOUND, "NOT_FOUND", "no seat %llu", (unsigned long long)seat_id);
    if (!strcmp(code, "SHOW_STARTED"))
        return fail(s, TK_ECONFLICT, "SHOW_STARTED", "the show has already started");
    if (!strcmp(code, "CONFLICT"))
        return fail(s, TK_ECONFLICT, "CONFLICT", "seat %llu changed while we held version %llu",
                    (unsigned long long)seat_id, (unsigned long long)arg);
    if (!strcmp(code, "STALE"))
        return fail(s, TK_ECONFLICT, "STALE_LOCK", "a newer lock holder of seat %llu presented its fencing token",
                    (unsigned long long)seat_id);
    if (!strcmp(code, "BUSY"))
        return fail(s, TK_EBUSY, "LOCK_BUSY", "seat %llu is locked by another request; try again",
                    (unsigned long long)seat_id);
    if (strcmp(code, "OK"))
        return fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "tk_reserve_as answered %s", code);
    memset(out, 0, sizeof *out);
    out->id = (uint64_t)v[0];
    out->user_id = user_id;
    out->seat_id = seat_id;
    out->schedule_id = (uint64_t)v[1];
    out->concert_id = (uint64_t)v[2];
    out->price = v[3];
    out->expires_at_ms = v[4];
    out->created_at_ms = v[5];
    snprintf(out->status, sizeof out->status, "PENDING");
    return TK_OK;
}

/* Write the event of a state change into the outbox, inside the caller's
 * transaction (procedure tk_emit, migration 3). */
static int emit(tk_store *s, const char *type, const tk_reservation *r)
{
    char head[96] = "tk_emit("; /* tk_emit_rid('<request id>', ... with one (migration 14) */
    if (s->request_id[0])
        snprintf(head, sizeof head, "tk_emit_rid('%s', ", s->request_id);
    if (q(s, "CALL %s'%s', %llu, %llu, %llu, %lld)", head, type, (unsigned long long)r->id,
          (unsigned long long)r->user_id, (unsigned long long)r->seat_id, (long long)r->price) != 0)
        return -1;
    while (mysql_next_result(s->db) == 0) {
        MYSQL_RES *res = mysql_store_result(s->db);
        if (res)
            mysql_free_result(res);
    }
    return 0;
}

struct cancel_args {
    uint64_t user_id, id;
    tk_reservation r;
    int64_t refunded;
};

static int cancel_body(tk_store *s, void *arg, tk_rc *rc)
{
    struct cancel_args *a = arg;
    int expired, started;
    int b = load_reservation(s, a->user_id, a->id, &a->r, &expired, &started, rc);
    if (b != BODY_OK)
        return b;
    int confirmed = !strcmp(a->r.status, "CONFIRMED");
    if (tk_res_next(tk_res_parse(a->r.status), TK_EV_CANCEL) == TK_RES_INVALID) {
        *rc = fail(s, TK_ECONFLICT, "INVALID_STATE", "reservation is %s", a->r.status);
        return BODY_FAIL;
    }
    if (started) {
        *rc = fail(s, TK_ECONFLICT, "SHOW_STARTED", "the show has already started");
        return BODY_FAIL;
    }
    a->refunded = 0;
    if (confirmed) {
        MYSQL_RES *res = qr(s, "SELECT id, amount FROM payments WHERE reservation_id = %llu AND status = 'COMPLETED' FOR UPDATE",
                            (unsigned long long)a->id);
        if (!res)
            return BODY_DBERR;
        MYSQL_ROW row = mysql_fetch_row(res);
        uint64_t pay_id = row ? u64(row[0]) : 0;
        int64_t amount = row ? i64(row[1]) : 0;
        mysql_free_result(res);
        if (pay_id) {
            if (points_move(s, a->user_id, amount, "REFUND", a->id, NULL, NULL, rc) != BODY_OK)
                return BODY_DBERR;
            if (q(s, "UPDATE payments SET status = 'REFUNDED' WHERE id = %llu", (unsigned long long)pay_id) != 0)
                return BODY_DBERR;
            a->refunded = amount;
        }
    }
    if (release_seat(s, &a->r, "CANCELED") != 0 || emit(s, "reservation.canceled", &a->r) != 0)
        return BODY_DBERR;
    snprintf(a->r.status, sizeof a->r.status, "CANCELED");
    return BODY_OK;
}

tk_rc tk_store_cancel(tk_store *s, uint64_t user_id, uint64_t reservation_id, tk_reservation *out, int64_t *refunded)
{
    struct cancel_args a = {.user_id = user_id, .id = reservation_id};
    tk_rc rc = run_txn(s, cancel_body, &a);
    if (rc == TK_OK) {
        *out = a.r;
        *refunded = a.refunded;
    }
    return rc;
}

/* ---- payments --------------------------------------------------------- */

tk_rc tk_store_pay(tk_store *s, uint64_t user_id, uint64_t reservation_id, const char *idem_key, tk_payment *out,
                   tk_reservation *res)
{
    size_t klen = idem_key ? strlen(idem_key) : 0;
    if (klen == 0 || klen > 64)
        return fail(s, TK_EINVAL, "VALIDATION", "Idempotency-Key header of 1 to 64 characters is required");
    char key[130], code[32];
    esc(s, key, idem_key, 64);
    int64_t v[6];
    tk_rc rc = call_proc(s, code, v, "CALL tk_pay(%llu, %llu, '%s')", (unsigned long long)user_id,
                         (unsigned long long)reservation_id, key);
    if (rc != TK_OK)
        return rc;
    return tk_store_pay_answer(s, user_id, reservation_id, code, v, out, res);
}

tk_rc tk_store_pay_answer(tk_store *s, uint64_t user_id, uint64_t reservation_id, const char *code,
                          const int64_t v[6], tk_payment *out, tk_reservation *res)
{
    if (res) {
        memset(res, 0, sizeof *res);
        res->id = reservation_id;
        res->user_id = user_id;
        res->seat_id = (uint64_t)v[3];
        res->schedule_id = (uint64_t)v[4];
        res->concert_id = (uint64_t)v[5];
    }
    if (!strcmp(code, "OK") || !strcmp(code, "REPLAY")) {
        memset(out, 0, sizeof *out);
        out->id = (uint64_t)v[0];
        out->reservation_id = reservation_id;
        out->amount = v[1];
        out->balance = v[2];
        out->replay = !strcmp(code, "REPLAY");
        if (res)
            snprintf(res->status, sizeof res->status, "CONFIRMED");
        return TK_OK;
    }
    if (!strcmp(code, "NOT_FOUND"))
        return fail(s, TK_ENOTFOUND, "NOT_FOUND", "no reservation %llu", (unsigned long long)reservation_id);
    if (!strcmp(code, "IDEMPOTENCY_KEY_REUSED"))
        return fail(s, TK_ECONFLICT, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key already paid another reservation");
    if (!strcmp(code, "ALREADY_PAID"))
        return fail(s, TK_ECONFLICT, "ALREADY_PAID", "reservation %llu is already paid",
                    (unsigned long long)reservation_id);
    if (!strcmp(code, "HOLD_EXPIRED"))
        return fail(s, TK_EEXPIRED, "HOLD_EXPIRED", "the hold expired before payment");
    if (!strcmp(code, "INSUFFICIENT_POINTS"))
        return fail(s, TK_EFUNDS, "INSUFFICIENT_POINTS", "balance %lld is less than %lld; the hold was released",
                    (long long)v[2], (long long)v[1]);
    return fail(s, TK_ECONFLICT, "INVALID_STATE", "reservation %llu cannot be paid now",
                (unsigned long long)reservation_id);
}

/* ---- sweeper ---------------------------------------------------------- */

struct expire_args {
    uint64_t id;
    tk_reservation r;
    int done;
};

static int expire_body(tk_store *s, void *arg, tk_rc *rc)
{
    struct expire_args *a = arg;
    MYSQL_RES *res = qr(s, "SELECT " RES_COLS RES_FROM " WHERE r.id = %llu FOR UPDATE", (unsigned long long)a->id);
    if (!res)
        return BODY_DBERR;
    MYSQL_ROW row = mysql_fetch_row(res);
    a->done = 0;
    if (row && tk_res_next(tk_res_parse(row[6]), TK_EV_EXPIRE) != TK_RES_INVALID && i64(row[9])) {
        tk_store_reservation_from_row(row, &a->r);
        a->done = 1;
    }
    mysql_free_result(res);
    (void)rc;
    if (a->done && (release_seat(s, &a->r, "EXPIRED") != 0 || emit(s, "reservation.expired", &a->r) != 0))
        return BODY_DBERR;
    snprintf(a->r.status, sizeof a->r.status, "EXPIRED");
    return BODY_OK;
}

int tk_store_expire_holds(tk_store *s, int limit, tk_reservation *out)
{
    MYSQL_RES *res = qr(s, TK_SQL_HOLDS_EXPIRED, limit);
    if (!res) {
        db_fail(s);
        return -1;
    }
    int n = (int)mysql_num_rows(res);
    uint64_t *ids = calloc((size_t)n + 1, sizeof *ids);
    MYSQL_ROW row;
    for (int i = 0; ids && (row = mysql_fetch_row(res)); i++)
        ids[i] = u64(row[0]);
    mysql_free_result(res);
    if (!ids)
        return -1;
    int expired = 0;
    for (int i = 0; i < n; i++) {
        struct expire_args a = {.id = ids[i]};
        if (run_txn(s, expire_body, &a) != TK_OK) {
            free(ids);
            return expired > 0 ? expired : -1;
        }
        if (a.done && out)
            out[expired] = a.r;
        expired += a.done;
    }
    free(ids);
    return expired;
}
