/* Batched payments and holds: n items in one CALL tk_pay_batch or
 * tk_hold_batch (migration 13), one result row per item, the fallbacks of
 * storebatch.h. */
#include "ticketctl/storebatch.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy the store's answer of the last call into an item's code/msg. */
static void keep_answer(tk_store *s, tk_rc rc, char code[32], char msg[256])
{
    if (rc == TK_OK) {
        code[0] = msg[0] = 0;
        return;
    }
    snprintf(code, 32, "%s", tk_store_errcode(s));
    snprintf(msg, 256, "%s", tk_store_errmsg(s));
}

static void pay_alone(tk_store *s, tk_pay_item *it)
{
    memset(&it->res, 0, sizeof it->res);
    it->rc = tk_store_pay(s, it->user_id, it->reservation_id, it->idem_key, &it->pay, &it->res);
    keep_answer(s, it->rc, it->code, it->msg);
}

static void hold_alone(tk_store *s, tk_hold_item *it)
{
    it->rc = tk_store_reserve(s, it->user_id, it->seat_id, it->ttl_s, &it->res);
    keep_answer(s, it->rc, it->code, it->msg);
}

static void charge_alone(tk_store *s, tk_charge_item *it)
{
    it->rc = tk_store_points_charge(s, it->user_id, it->amount, &it->balance, &it->history_id);
    keep_answer(s, it->rc, it->code, it->msg);
}

/* A key tk_pay_batch can carry as a JSON string: 1..64 visible ASCII. */
static int key_ok(const char *k)
{
    size_t n = strnlen(k, 65);
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x21 || k[i] > 0x7e)
            return 0;
    return 1;
}

/* The rows of one batch CALL: code and v[0..5] per item, in order. */
typedef struct batch_rows {
    char code[TK_DB_BATCH_MAX][32];
    int64_t v[TK_DB_BATCH_MAX][6];
} batch_rows;

enum { BATCH_OK = 0, BATCH_ALONE = 1, BATCH_FAILED = 2 };

/* CALL proc('json') (json: the items' JSON array, jlen bytes) and read its
 * n rows into *rows. BATCH_OK; BATCH_ALONE: a deadlock or lock wait
 * timeout rolled the batch back (run each item alone); BATCH_FAILED: any
 * other failure, recorded on s (tk_store_fail). */
static int run_batch(tk_store *s, const char *proc, const char *json, size_t jlen, int n, batch_rows *rows)
{
    MYSQL *db = tk_store_db(s);
    char *sql = malloc(2 * jlen + 64);
    if (!sql) {
        tk_store_fail(s, TK_ENOMEM, "BUSY", "out of memory");
        return BATCH_FAILED;
    }
    int at = snprintf(sql, 64, "CALL %s('", proc);
    at += (int)mysql_real_escape_string(db, sql + at, json, (unsigned long)jlen);
    at += snprintf(sql + at, 8, "')");
    int got = 0, bad = 0;
    unsigned err = 0;
    if (mysql_real_query(db, sql, (unsigned long)at) != 0) {
        err = mysql_errno(db);
    } else {
        for (;;) {
            MYSQL_RES *r = mysql_store_result(db);
            if (r) {
                MYSQL_ROW row = mysql_fetch_row(r);
                if (got < n && row && mysql_num_fields(r) >= 7) {
                    snprintf(rows->code[got], sizeof rows->code[got], "%s", row[0] ? row[0] : "");
                    for (int c = 0; c < 6; c++)
                        rows->v[got][c] = row[c + 1] ? strtoll(row[c + 1], NULL, 10) : 0;
                } else {
                    bad = 1;
                }
                got++;
                mysql_free_result(r);
            } else if (mysql_field_count(db) != 0) {
                err = mysql_errno(db);
                break;
            }
            int nr = mysql_next_result(db);
            if (nr > 0)
                err = mysql_errno(db);
            if (nr != 0)
                break;
        }
    }
    free(sql);
    if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT)
        return BATCH_ALONE;
    if (err) {
        tk_store_fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "database error %u: %s", err, mysql_error(db));
        return BATCH_FAILED;
    }
    if (bad || got != n) {
        tk_store_fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "%s answered %d rows for %d items", proc, got, n);
        return BATCH_FAILED;
    }
    return BATCH_OK;
}

/* Room for n items of at most 2 * 21 digits and a 64-byte key escaped. */
static char *json_buf(int n) { return malloc(4 + (size_t)n * (2 * 21 + 2 * 64 + 16)); }

int tk_store_pay_batch(tk_store *s, tk_pay_item *items, int n)
{
    int ok_keys = 1;
    for (int i = 0; i < n; i++)
        ok_keys &= key_ok(items[i].idem_key);
    char *json = n > 1 && n <= TK_DB_BATCH_MAX && ok_keys ? json_buf(n) : NULL;
    if (!json) { /* one item, a key to refuse, or no memory: tk_store_pay validates and answers */
        for (int i = 0; i < n; i++)
            pay_alone(s, &items[i]);
        return 0;
    }
    size_t at = 0;
    json[at++] = '[';
    for (int i = 0; i < n; i++) {
        at += (size_t)sprintf(json + at, "%s[%llu,%llu,\"", i ? "," : "", (unsigned long long)items[i].user_id,
                              (unsigned long long)items[i].reservation_id);
        for (const char *k = items[i].idem_key; *k; k++) {
            if (*k == '"' || *k == '\\')
                json[at++] = '\\';
            json[at++] = *k;
        }
        json[at++] = '"';
        json[at++] = ']';
    }
    json[at++] = ']';
    batch_rows *rows = malloc(sizeof *rows);
    int b = rows ? run_batch(s, "tk_pay_batch", json, at, n, rows) : BATCH_ALONE;
    free(json);
    for (int i = 0; i < n; i++) {
        tk_pay_item *it = &items[i];
        memset(&it->res, 0, sizeof it->res);
        if (b == BATCH_ALONE || (b == BATCH_OK && !strcmp(rows->code[i], "SQLERR"))) {
            pay_alone(s, it); /* rolled back (whole, or to its savepoint): as tk_store_pay answers it */
            continue;
        }
        it->rc = b == BATCH_FAILED ? TK_EBACKEND
                                   : tk_store_pay_answer(s, it->user_id, it->reservation_id, rows->code[i], rows->v[i],
                                                         &it->pay, &it->res);
        keep_answer(s, it->rc, it->code, it->msg); /* BATCH_FAILED: run_batch's error, for every item */
    }
    free(rows);
    return b == BATCH_OK ? n : 0;
}

int tk_store_hold_batch(tk_store *s, tk_hold_item *items, int n)
{
    char *json = n > 1 && n <= TK_DB_BATCH_MAX ? json_buf(n) : NULL;
    if (!json) {
        for (int i = 0; i < n; i++)
            hold_alone(s, &items[i]);
        return 0;
    }
    size_t at = 0;
    json[at++] = '[';
    for (int i = 0; i < n; i++)
        at += (size_t)sprintf(json + at, "%s[%llu,%llu,%d]", i ? "," : "", (unsigned long long)items[i].user_id,
                              (unsigned long long)items[i].seat_id, items[i].ttl_s);
    json[at++] = ']';
    batch_rows *rows = malloc(sizeof *rows);
    int b = rows ? run_batch(s, "tk_hold_batch", json, at, n, rows) : BATCH_ALONE;
    free(json);
    for (int i = 0; i < n; i++) {
        tk_hold_item *it = &items[i];
        if (b == BATCH_ALONE || (b == BATCH_OK && !strcmp(rows->code[i], "SQLERR"))) {
            hold_alone(s, it); /* e.g. the live_seat_id backstop: SEAT_TAKEN, as tk_store_reserve answers */
            continue;
        }
        it->rc = b == BATCH_FAILED ? TK_EBACKEND
                                   : tk_store_hold_answer(s, it->user_id, it->seat_id, 0, rows->code[i], rows->v[i],
                                                          &it->res);
        keep_answer(s, it->rc, it->code, it->msg);
    }
    free(rows);
    return b == BATCH_OK ? n : 0;
}

int tk_store_charge_batch(tk_store *s, tk_charge_item *items, int n)
{
    int ok = 1;
    for (int i = 0; i < n; i++)
        ok &= items[i].amount >= 1 && items[i].amount <= TK_CHARGE_MAX;
    char *json = n > 1 && n <= TK_DB_BATCH_MAX && ok ? json_buf(n) : NULL;
    if (!json) { /* tk_store_points_charge validates and answers */
        for (int i = 0; i < n; i++)
            charge_alone(s, &items[i]);
        return 0;
    }
    size_t at = 0;
    json[at++] = '[';
    for (int i = 0; i < n; i++)
        at += (size_t)sprintf(json + at, "%s[%llu,%lld,%lld]", i ? "," : "", (unsigned long long)items[i].user_id,
                              (long long)items[i].amount, TK_BALANCE_MAX);
    json[at++] = ']';
    batch_rows *rows = malloc(sizeof *rows);
    int b = rows ? run_batch(s, "tk_charge_batch", json, at, n, rows) : BATCH_ALONE;
    free(json);
    for (int i = 0; i < n; i++) {
        tk_charge_item *it = &items[i];
        if (b == BATCH_ALONE || (b == BATCH_OK && !strcmp(rows->code[i], "SQLERR"))) {
            charge_alone(s, it);
            continue;
        }
        it->rc = b == BATCH_FAILED ? TK_EBACKEND
                                   : tk_store_charge_answer(s, rows->code[i], rows->v[i], &it->balance, &it->history_id);
        keep_answer(s, it->rc, it->code, it->msg);
    }
    free(rows);
    return b == BATCH_OK ? n : 0;
}
