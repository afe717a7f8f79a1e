/* Batched payments: n items in one CALL tk_pay_batch (migration 13), one
 * result row per item, the fallbacks of storebatch.h. */
#include "ticketctl/storebatch.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copy the store's answer of the last call into the item. */
static void keep_answer(tk_store *s, tk_pay_item *it)
{
    if (it->rc == TK_OK) {
        it->code[0] = it->msg[0] = 0;
        return;
    }
    snprintf(it->code, sizeof it->code, "%s", tk_store_errcode(s));
    snprintf(it->msg, sizeof it->msg, "%s", tk_store_errmsg(s));
}

static void pay_alone(tk_store *s, tk_pay_item *it)
{
    memset(&it->res, 0, sizeof it->res);
    it->rc = tk_store_pay(s, it->user_id, it->reservation_id, it->idem_key, &it->pay, &it->res);
    keep_answer(s, it);
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

/* The items as the JSON array [[user, reservation, "key"], ...]; NULL when
 * out of memory. */
static char *items_json(const tk_pay_item *items, int n, size_t *len)
{
    size_t cap = 4 + (size_t)n * (2 * 21 + 2 * 64 + 16), at = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
    b[at++] = '[';
    for (int i = 0; i < n; i++) {
        at += (size_t)snprintf(b + at, cap - at, "%s[%llu,%llu,\"", i ? "," : "",
                               (unsigned long long)items[i].user_id, (unsigned long long)items[i].reservation_id);
        for (const char *k = items[i].idem_key; *k; k++) {
            if (*k == '"' || *k == '\\')
                b[at++] = '\\';
            b[at++] = *k;
        }
        b[at++] = '"';
        b[at++] = ']';
    }
    b[at++] = ']';
    b[at] = 0;
    *len = at;
    return b;
}

int tk_store_pay_batch(tk_store *s, tk_pay_item *items, int n)
{
    int ok_keys = 1;
    for (int i = 0; i < n; i++)
        ok_keys &= key_ok(items[i].idem_key);
    if (n <= 1 || n > TK_DB_BATCH_MAX || !ok_keys) { /* tk_store_pay validates and answers */
        for (int i = 0; i < n; i++)
            pay_alone(s, &items[i]);
        return 0;
    }
    MYSQL *db = tk_store_db(s);
    size_t jlen;
    char *json = items_json(items, n, &jlen);
    char *sql = json ? malloc(2 * jlen + 64) : NULL;
    if (!sql) {
        free(json);
        for (int i = 0; i < n; i++) {
            items[i].rc = tk_store_fail(s, TK_ENOMEM, "BUSY", "out of memory");
            keep_answer(s, &items[i]);
        }
        return 0;
    }
    int at = snprintf(sql, 64, "CALL tk_pay_batch('");
    at += (int)mysql_real_escape_string(db, sql + at, json, (unsigned long)jlen);
    at += snprintf(sql + at, 8, "')");
    free(json);

    char codes[TK_DB_BATCH_MAX][32];
    int64_t v[TK_DB_BATCH_MAX][6];
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
                    snprintf(codes[got], sizeof codes[got], "%s", row[0] ? row[0] : "");
                    for (int c = 0; c < 6; c++)
                        v[got][c] = row[c + 1] ? strtoll(row[c + 1], NULL, 10) : 0;
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
    if (err == ER_LOCK_DEADLOCK || err == ER_LOCK_WAIT_TIMEOUT) { /* rolled back whole: each alone */
        for (int i = 0; i < n; i++)
            pay_alone(s, &items[i]);
        return 0;
    }
    if (err || bad || got != n) {
        for (int i = 0; i < n; i++) {
            items[i].rc = err ? tk_store_fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE", "database error %u: %s", err,
                                              mysql_error(db))
                              : tk_store_fail(s, TK_EBACKEND, "BACKEND_UNAVAILABLE",
                                              "tk_pay_batch answered %d rows for %d items", got, n);
            keep_answer(s, &items[i]);
        }
        return 0;
    }
    for (int i = 0; i < n; i++) {
        tk_pay_item *it = &items[i];
        memset(&it->res, 0, sizeof it->res);
        if (!strcmp(codes[i], "SQLERR")) { /* rolled back to its savepoint: alone, as tk_store_pay answers it */
            pay_alone(s, it);
            continue;
        }
        it->rc = tk_store_pay_answer(s, it->user_id, it->reservation_id, codes[i], v[i], &it->pay, &it->res);
        keep_answer(s, it);
    }
    return n;
}
