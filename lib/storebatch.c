/* Batched payments and holds: n items in one CALL tk_pay_batch or
 * tk_hold_batch (migration 13), one result row per item, the fallbacks of
 * storebatch.h. */
#include "ticketctl/storebatch.h"

#include <mysql.h>
#include <mysqld_error.h>
#include <stddef.h>
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

/* Each kind's one item alone (the single-item store call); sets its rc. */
static void pay_alone(tk_store *s, void *p)
{
    tk_pay_item *it = p;
    memset(&it->res, 0, sizeof it->res);
    it->rc = tk_store_pay(s, it->user_id, it->reservation_id, it->idem_key, &it->pay, &it->res);
}

static void hold_alone(tk_store *s, void *p)
{
    tk_hold_item *it = p;
    it->rc = tk_store_reserve(s, it->user_id, it->seat_id, it->ttl_s, &it->res);
}

static void charge_alone(tk_store *s, void *p)
{
    tk_charge_item *it = p;
    it->rc = tk_store_points_charge(s, it->user_id, it->amount, &it->balance, &it->history_id);
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

/* A request id the batch can carry as a JSON string and SQL needs no
 * quoting for (cli's tk_store_set_request_id takes the same characters). */
static int rid_ok(const char *id)
{
    size_t n = strnlen(id, 65);
    return n > 0 && n < 65 &&
           strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:+=/-") == n;
}

static int pay_valid(const void *p) { return key_ok(((const tk_pay_item *)p)->idem_key); }
static int hold_valid(const void *p) { return ((const tk_hold_item *)p)->ttl_s > 0; }

static int charge_valid(const void *p)
{
    const tk_charge_item *it = p;
    return it->amount >= 1 && it->amount <= TK_CHARGE_MAX;
}

/* Each kind's item as the JSON array of its procedure's 3 arguments;
 * bytes written (at most 2 * 21 digits and a 64-byte key escaped). */
static size_t pay_args(char *b, const void *p)
{
    const tk_pay_item *it = p;
    size_t at = (size_t)sprintf(b, "[%llu,%llu,\"", (unsigned long long)it->user_id,
                                (unsigned long long)it->reservation_id);
    for (const char *k = it->idem_key; *k; k++) {
        if (*k == '"' || *k == '\\')
            b[at++] = '\\';
        b[at++] = *k;
    }
    b[at++] = '"';
    b[at++] = ']';
    return at;
}

static size_t hold_args(char *b, const void *p)
{
    const tk_hold_item *it = p;
    return (size_t)sprintf(b, "[%llu,%llu,%d]", (unsigned long long)it->user_id, (unsigned long long)it->seat_id,
                           it->ttl_s);
}

static size_t charge_args(char *b, const void *p)
{
    const tk_charge_item *it = p;
    return (size_t)sprintf(b, "[%llu,%lld,%lld]", (unsigned long long)it->user_id, (long long)it->amount,
                           TK_BALANCE_MAX);
}

/* Each kind's answer from its row (code, v), as its single call answers. */
static tk_rc pay_answer(tk_store *s, void *p, const char *code, const int64_t v[6])
{
    tk_pay_item *it = p;
    memset(&it->res, 0, sizeof it->res);
    return tk_store_pay_answer(s, it->user_id, it->reservation_id, code, v, &it->pay, &it->res);
}

static tk_rc hold_answer(tk_store *s, void *p, const char *code, const int64_t v[6])
{
    tk_hold_item *it = p;
    return tk_store_hold_answer(s, it->user_id, it->seat_id, 0, code, v, &it->res);
}

static tk_rc charge_answer(tk_store *s, void *p, const char *code, const int64_t v[6])
{
    tk_charge_item *it = p;
    return tk_store_charge_answer(s, code, v, &it->balance, &it->history_id);
}

/* One kind of batch item: its procedure, size, where its rc/code/msg/
 * request_id are, and the steps above. */
typedef struct batch_kind {
    const char *proc;
    size_t size, rc_at, code_at, msg_at, rid_at;
    int (*valid)(const void *it);
    size_t (*args)(char *dst, const void *it);
    void (*alone)(tk_store *s, void *it);
    tk_rc (*answer)(tk_store *s, void *it, const char *code, const int64_t v[6]);
} batch_kind;

#define KIND(proc, T, pre)                                                                                     \
    {proc,        sizeof(T),   offsetof(T, rc), offsetof(T, code), offsetof(T, msg), offsetof(T, request_id),       \
     pre##_valid, pre##_args, pre##_alone,    pre##_answer}
static const batch_kind PAY = KIND("tk_pay_batch", tk_pay_item, pay);
static const batch_kind HOLD = KIND("tk_hold_batch", tk_hold_item, hold);
static const batch_kind CHARGE = KIND("tk_charge_batch", tk_charge_item, charge);
#undef KIND

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

/* Run items[0..n-1] of kind k: in one batch CALL when n > 1 and every item
 * is valid for one, else each alone; the fallbacks of storebatch.h. Fills
 * each item's rc, code and msg. Returns the items that went through the
 * batch (0 when none did). */
static int run_kind(tk_store *s, const batch_kind *k, void *items, int n)
{
    char *base = items;
    int ok = n > 1 && n <= TK_DB_BATCH_MAX;
    for (int i = 0; ok && i < n; i++)
        ok = k->valid(base + (size_t)i * k->size);
    char *json = ok ? malloc(4 + (size_t)n * (2 * 21 + 2 * 64 + 16 + 68)) : NULL;
    batch_rows *rows = json ? malloc(sizeof *rows) : NULL;
    int b = BATCH_ALONE;
    if (rows) {
        size_t at = 0;
        json[at++] = '[';
        for (int i = 0; i < n; i++) {
            if (i)
                json[at++] = ',';
            at += k->args(json + at, base + (size_t)i * k->size);
            const char *rid = base + (size_t)i * k->size + k->rid_at;
            if (rid_ok(rid)) /* [a, b, c] -> [a, b, c, "rid"] */
                at += (size_t)sprintf(json + at - 1, ",\"%s\"]", rid) - 1;
        }
        json[at++] = ']';
        b = run_batch(s, k->proc, json, at, n, rows);
    }
    free(json);
    for (int i = 0; i < n; i++) {
        char *it = base + (size_t)i * k->size;
        tk_rc *rc = (tk_rc *)(void *)(it + k->rc_at);
        const char *rid = it + k->rid_at;
        if (b == BATCH_ALONE || (b == BATCH_OK && !strcmp(rows->code[i], "SQLERR"))) {
            if (rid[0]) /* its events carry its request id (migration 14) */
                tk_store_set_request_id(s, rid);
            k->alone(s, it); /* rolled back (whole, or to its savepoint): as the single call answers it */
            if (rid[0])
                tk_store_set_request_id(s, NULL);
        } else /* BATCH_FAILED: run_batch's error on s, for every item */
            *rc = b == BATCH_FAILED ? TK_EBACKEND : k->answer(s, it, rows->code[i], rows->v[i]);
        keep_answer(s, *rc, it + k->code_at, it + k->msg_at);
    }
    free(rows);
    return b == BATCH_OK ? n : 0;
}

int tk_store_pay_batch(tk_store *s, tk_pay_item *items, int n) { return run_kind(s, &PAY, items, n); }
int tk_store_hold_batch(tk_store *s, tk_hold_item *items, int n) { return run_kind(s, &HOLD, items, n); }
int tk_store_charge_batch(tk_store *s, tk_charge_item *items, int n) { return run_kind(s, &CHARGE, items, n); }
