/* Integration: the lock strategies in `serve` (issue 3) on the real stack.
 *  - every strategy serve accepts, picked per request by X-Lock-Strategy,
 *    gives exactly one hold of a seat 200 users race for, and answers the
 *    rest 409 (SEAT_TAKEN / CONFLICT) or 503 (LOCK_BUSY), never a 500;
 *  - the UNSAFE and points-only strategies and unknown names are a 400;
 *  - the database guards of tk_reserve_as one by one: a stale fencing
 *    token, a moved version, NOWAIT and SKIP LOCKED on a locked row, the
 *    UNIQUE key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/store.h"
#include "ticketctl/strategy.h"

static itest_env E;

/* 4 concerts x 2 schedules x 50 seats = seats 1..400; users 1..300. */
#define SEED_ARGS "--users 300 --concerts 4 --schedules-per-concert 2 --seats-per-schedule 50 --seed 11"

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, SEED_ARGS) != 0)
        return -1;
    return itest_server_start(&E, "--workers 8 --allow-strategy-header");
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

typedef struct race_counts {
    int created, conflict, busy, other;
} race_counts;

/* n users (1..n) hold `seat` at once under `strategy`. */
static race_counts race(const char *strategy, long long seat, int n, char **tokens)
{
    CURLM *m = curl_multi_init();
    CURL **h = calloc((size_t)n, sizeof *h);
    struct curl_slist **hdr = calloc((size_t)n, sizeof *hdr);
    char url[128], body[64], lock[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/v1/reservations", E.port);
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    snprintf(lock, sizeof lock, "X-Lock-Strategy: %s", strategy);
    for (int i = 0; i < n; i++) {
        char auth[700];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", tokens[i]);
        h[i] = curl_easy_init();
        hdr[i] = curl_slist_append(NULL, auth);
        hdr[i] = curl_slist_append(hdr[i], "Content-Type: application/json");
        hdr[i] = curl_slist_append(hdr[i], lock);
        curl_easy_setopt(h[i], CURLOPT_URL, url);
        curl_easy_setopt(h[i], CURLOPT_HTTPHEADER, hdr[i]);
        curl_easy_setopt(h[i], CURLOPT_COPYPOSTFIELDS, body);
        curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h[i], CURLOPT_TIMEOUT, 60L);
        curl_multi_add_handle(m, h[i]);
    }
    int running = 1;
    while (running) {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    race_counts c = {0, 0, 0, 0};
    for (int i = 0; i < n; i++) {
        long st = 0;
        curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &st);
        if (st == 201)
            c.created++;
        else if (st == 409)
            c.conflict++;
        else if (st == 503)
            c.busy++;
        else
            c.other++;
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        curl_slist_free_all(hdr[i]);
    }
    curl_multi_cleanup(m);
    free(h);
    free(hdr);
    return c;
}

static void test_every_servable_strategy_one_hold(void **state)
{
    (void)state;
    enum { N = 200 };
    char *tokens[N];
    for (int i = 0; i < N; i++) {
        tokens[i] = itest_login(&E, i + 1);
        assert_non_null(tokens[i]);
    }
    long long seat = 1;
    int tried = 0;
    for (size_t k = 0; k < tk_strategy_count(); k++) {
        const tk_strategy *st = tk_strategy_at(k);
        if (tk_strategy_serve_refusal(st))
            continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        race_counts c = race(st->name, seat, N, tokens);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        print_message("  %-24s seat %3lld: 201 x %d, 409 x %d, 503 x %d, other x %d (%.0f ms)\n", st->name, seat,
                      c.created, c.conflict, c.busy, c.other,
                      (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
        assert_int_equal(c.created, 1);
        assert_int_equal(c.other, 0);
        assert_int_equal(c.created + c.conflict + c.busy, N);
        assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = %lld", seat), 1);
        assert_int_equal(itest_sql_i64(&E, "SELECT status = 'HELD' FROM seats WHERE id = %lld", seat), 1);
        seat += 3;
        tried++;
    }
    assert_int_equal(tried, 7); /* optimistic, pessimistic x3, redis-lock, redis-atomic, db-unique */
    for (int i = 0; i < N; i++)
        free(tokens[i]);
}

static void expect_400(const char *tok, const char *strategy)
{
    char hdr[96];
    snprintf(hdr, sizeof hdr, "X-Lock-Strategy: %s", strategy);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/reservations", tok, "{\"seat_id\":100}", hdr, &r);
    assert_int_equal(r.status, 400);
    json_t *err = json_object_get(r.json, "error");
    assert_non_null(err);
    assert_string_equal(json_string_value(json_object_get(err, "code")), "BAD_STRATEGY");
    itest_resp_free(&r);
}

static void test_unsafe_and_unknown_refused(void **state)
{
    (void)state;
    char *tok = itest_login(&E, 250);
    assert_non_null(tok);
    expect_400(tok, "none");
    expect_400(tok, "redis-lock-nofence");
    expect_400(tok, "atomic");
    expect_400(tok, "no-such-strategy");
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = 100"), 0);
    free(tok);
}

static void test_store_guards(void **state)
{
    (void)state;
    char err[256];
    tk_store *s = tk_store_open(E.b.mysql, err, sizeof err);
    assert_non_null(s);
    tk_reservation r;

    /* fencing: B (token 6) presents first and holds; A (token 5, its lease
     * expired) is STALE, not merely SEAT_TAKEN, and changes nothing */
    const uint64_t base = 1000000000000000ULL;
    assert_int_equal(tk_store_reserve_as(s, 260, 200, 600, TK_GUARD_FENCE, base + 6, &r), TK_OK);
    assert_int_equal(tk_store_reserve_as(s, 261, 200, 600, TK_GUARD_FENCE, base + 5, &r), TK_ECONFLICT);
    assert_string_equal(tk_store_errcode(s), "STALE_LOCK");
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = 200"), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT fence = %llu FROM seats WHERE id = 200", (unsigned long long)(base + 6)), 1);

    /* optimistic: a moved version is CONFLICT, the current one holds */
    int avail = 0;
    uint64_t v = 0;
    assert_int_equal(tk_store_seat_version(s, 201, &avail, &v), TK_OK);
    assert_int_equal(avail, 1);
    assert_int_equal(tk_store_reserve_as(s, 262, 201, 600, TK_GUARD_VERSION, v + 1, &r), TK_ECONFLICT);
    assert_string_equal(tk_store_errcode(s), "CONFLICT");
    assert_int_equal(tk_store_reserve_as(s, 262, 201, 600, TK_GUARD_VERSION, v, &r), TK_OK);
    assert_int_equal(tk_store_reserve_as(s, 263, 201, 600, TK_GUARD_VERSION, v + 1, &r), TK_ECONFLICT);
    assert_string_equal(tk_store_errcode(s), "SEAT_TAKEN");

    /* NOWAIT and SKIP LOCKED on a row another transaction has locked */
    MYSQL *locker = E.db;
    assert_int_equal(mysql_query(locker, "START TRANSACTION"), 0);
    assert_int_equal(mysql_query(locker, "SELECT id FROM seats WHERE id = 202 FOR UPDATE"), 0);
    mysql_free_result(mysql_store_result(locker));
    assert_int_equal(tk_store_reserve_as(s, 264, 202, 600, TK_GUARD_NOWAIT, 0, &r), TK_EBUSY);
    assert_string_equal(tk_store_errcode(s), "LOCK_BUSY");
    assert_int_equal(tk_store_reserve_as(s, 264, 202, 600, TK_GUARD_SKIP_LOCKED, 0, &r), TK_EBUSY);
    assert_string_equal(tk_store_errcode(s), "LOCK_BUSY");
    assert_int_equal(mysql_query(locker, "COMMIT"), 0);
    assert_int_equal(tk_store_reserve_as(s, 264, 202, 600, TK_GUARD_NOWAIT, 0, &r), TK_OK);
    assert_int_equal(tk_store_reserve_as(s, 265, 202, 600, TK_GUARD_SKIP_LOCKED, 0, &r), TK_ECONFLICT);
    assert_string_equal(tk_store_errcode(s), "SEAT_TAKEN");

    /* db-unique: the UNIQUE live_seat_id decides */
    assert_int_equal(tk_store_reserve_as(s, 266, 203, 600, TK_GUARD_UNIQUE, 0, &r), TK_OK);
    assert_int_equal(tk_store_reserve_as(s, 267, 203, 600, TK_GUARD_UNIQUE, 0, &r), TK_ECONFLICT);
    assert_string_equal(tk_store_errcode(s), "SEAT_TAKEN");
    assert_int_equal(tk_store_reserve_as(s, 267, 999999, 600, TK_GUARD_UNIQUE, 0, &r), TK_ENOTFOUND);
    assert_int_equal(tk_store_reserve_as(s, 267, 999999, 600, TK_GUARD_FENCE, base + 9, &r), TK_ENOTFOUND);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id IN (201, 202, 203)"), 3);
    /* each successful hold emitted exactly one event, each refusal none */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE type = 'reservation.held' AND "
                                       "JSON_VALUE(payload, '$.seat_id') IN (200, 201, 202, 203)"),
                     4);
    tk_store_close(s);
}

/* bench --strategy sends X-Lock-Strategy; the run keeps every invariant,
 * records the strategy, and the reserve step really ran. */
static void test_bench_strategy(void **state)
{
    (void)state;
    char out[1100];
    snprintf(out, sizeof out, "%s/bench-strategy-%d.json", E.state, (int)getpid());
    assert_int_equal(itest_run(&E, "bench --target http://127.0.0.1:%d --users 40 --ramp 1s --duration 6s "
                                    "--think-time 20 --strategy pessimistic --out %s",
                               E.port, out),
                     0);
    json_error_t je;
    json_t *doc = json_load_file(out, 0, &je);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "strategy")), "pessimistic");
    json_t *steps = json_object_get(doc, "steps"), *st;
    size_t i;
    long long reserves = 0;
    json_array_foreach(steps, i, st) if (!strcmp(json_string_value(json_object_get(st, "name")), "reserve"))
        reserves = json_integer_value(json_object_get(st, "requests"));
    assert_true(reserves > 0);
    json_decref(doc);
    unlink(out);
    /* an UNSAFE strategy is refused by bench itself (usage error) */
    assert_int_equal(itest_run(&E, "bench --target http://127.0.0.1:%d --users 1 --duration 1s --strategy none", E.port),
                     2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_servable_strategy_one_hold),
        cmocka_unit_test(test_unsafe_and_unknown_refused),
        cmocka_unit_test(test_store_guards),
        cmocka_unit_test(test_bench_strategy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
