/* Integration: the contention scenarios on the real stack (MariaDB + Redis
 * of the private dev stack), run through `ticketctl scenario run` and
 * checked from its results JSON, whose counts come from SQL after each run:
 *  - hot-seat-500: `none` really double books (real threads, barrier start);
 *    every other strategy books exactly one seat per run, no oversell;
 *  - flash-sale (scaled down): zero double bookings and oversell for every
 *    safe strategy over two runs;
 *  - point-charge-race: exact balances for optimistic, pessimistic, atomic;
 *  - lease-expiry: the fenced redis-lock rejects the stale write, the
 *    unfenced one lets two writers through;
 *  - failure modes come back as counted outcomes (BUSY on a lock timeout,
 *    CONFLICT after the retries), never as a crash or an ERROR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest_util.h"

static itest_env E;

static void scenario_path(char *out, size_t len, const char *name)
{
    const char *slash = strrchr(__FILE__, '/');
    snprintf(out, len, "%.*s/../scenarios/%s.json", slash ? (int)(slash - __FILE__) : 1, slash ? __FILE__ : ".", name);
}

/* Run one scenario with extra flags; returns the parsed results (caller
 * decrefs) and the exit code in *rc. */
static json_t *run_scenario(const char *file, const char *flags, int *rc)
{
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-scenario.json", E.state);
    remove(out);
    *rc = itest_run(&E, "scenario run '%s' %s --quiet --no-redis-benchmark --out '%s' >/dev/null", file, flags, out);
    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    if (!res)
        fprintf(stderr, "itest: no results in %s: %s\n", out, je.text);
    return res;
}

static json_t *result_of(json_t *res, const char *strategy)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "results"), i, r)
        if (!strcmp(json_string_value(json_object_get(r, "strategy")), strategy))
            return r;
    fail_msg("no result for strategy %s", strategy);
    return NULL;
}

static long long num(json_t *o, const char *k) { return (long long)json_integer_value(json_object_get(o, k)); }
static long long outcome(json_t *r, const char *k) { return num(json_object_get(r, "outcomes"), k); }

static int setup(void **state)
{
    (void)state;
    return itest_stack(&E);
}

static int teardown(void **state)
{
    (void)state;
    itest_close(&E);
    return 0;
}

static void test_hot_seat_500(void **state)
{
    (void)state;
    char file[1024];
    int rc;
    scenario_path(file, sizeof file, "hot-seat-500");
    json_t *res = run_scenario(file, "--repeat 2", &rc);
    assert_non_null(res);
    assert_int_equal(rc, 0); /* every safe strategy kept every invariant */
    json_t *none = result_of(res, "none");
    fprintf(stderr, "hot-seat-500: none double booked %lld times over 2 runs\n", num(none, "double_bookings"));
    assert_true(num(none, "double_bookings") > 0);
    assert_true(num(none, "successes") > 2);
    size_t i;
    json_t *r;
    int safe = 0;
    json_array_foreach(json_object_get(res, "results"), i, r) {
        if (json_is_true(json_object_get(r, "unsafe")))
            continue;
        safe++;
        const char *name = json_string_value(json_object_get(r, "strategy"));
        if (num(r, "double_bookings") || num(r, "successes") != 2)
            fprintf(stderr, "%s: %lld double, %lld OK\n", name, num(r, "double_bookings"), num(r, "successes"));
        assert_int_equal(num(r, "attempts"), 1000);
        assert_int_equal(num(r, "double_bookings"), 0);
        assert_int_equal(num(r, "oversold_seats"), 0);
        assert_int_equal(num(r, "successes"), 2); /* exactly one per run */
        assert_int_equal(outcome(r, "ERROR"), 0);
        /* every attempt got an answer that is counted under some outcome */
        assert_int_equal(outcome(r, "OK") + outcome(r, "SEAT_TAKEN") + outcome(r, "BUSY") + outcome(r, "CONFLICT") +
                             outcome(r, "STALE"), 1000);
    }
    assert_true(safe >= 7);
    json_decref(res);
}

static void test_flash_sale_scaled(void **state)
{
    (void)state;
    char file[1024];
    int rc;
    scenario_path(file, sizeof file, "flash-sale");
    json_t *res = run_scenario(file, "--repeat 2 --scale 0.05", &rc); /* 1,000 users, 50 seats */
    assert_non_null(res);
    assert_int_equal(rc, 0);
    assert_int_equal(num(json_object_get(res, "config"), "seats"), 50);
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "results"), i, r) {
        if (json_is_true(json_object_get(r, "unsafe")))
            continue;
        assert_int_equal(num(r, "double_bookings"), 0);
        assert_int_equal(num(r, "oversold_seats"), 0);
        assert_true(num(r, "successes") <= 100 && num(r, "successes") > 0);
        assert_int_equal(outcome(r, "ERROR"), 0);
    }
    json_decref(res);
}

static void test_point_charge_race(void **state)
{
    (void)state;
    char file[1024];
    int rc;
    scenario_path(file, sizeof file, "point-charge-race");
    json_t *res = run_scenario(file, "--repeat 2 --scale 0.5", &rc); /* 500 charges per run */
    assert_non_null(res);
    assert_int_equal(rc, 0);
    static const char *const safe[] = {"optimistic", "pessimistic", "atomic"};
    for (size_t s = 0; s < 3; s++) {
        json_t *r = result_of(res, safe[s]);
        size_t i;
        json_t *run;
        json_array_foreach(json_object_get(r, "runs"), i, run) {
            long long ok = outcome(run, "OK");
            assert_int_equal(num(run, "balance"), ok * 100); /* initial 0, 100 a charge */
            assert_int_equal(num(run, "expected_balance"), num(run, "balance"));
            assert_int_equal(num(run, "history_rows"), ok);
        }
        assert_int_equal(num(r, "balance_drift"), 0);
        assert_int_equal(outcome(r, "ERROR"), 0);
        assert_int_equal(outcome(r, "OK") + outcome(r, "CONFLICT") + outcome(r, "BUSY"), 1000);
    }
    assert_int_equal(outcome(result_of(res, "pessimistic"), "OK"), 1000);
    assert_int_equal(outcome(result_of(res, "atomic"), "OK"), 1000);
    json_decref(res);
}

static void test_lease_expiry_fencing(void **state)
{
    (void)state;
    char file[1024];
    int rc;
    scenario_path(file, sizeof file, "lease-expiry");
    json_t *res = run_scenario(file, "--repeat 2", &rc);
    assert_non_null(res);
    assert_int_equal(rc, 0); /* the unfenced lock's violations are expected */
    json_t *fenced = result_of(res, "redis-lock");
    assert_int_equal(outcome(fenced, "STALE"), 2); /* the paused holder, each run */
    assert_int_equal(num(fenced, "successes"), 2);
    assert_int_equal(num(fenced, "double_bookings"), 0);
    json_t *nofence = result_of(res, "redis-lock-nofence");
    assert_int_equal(num(nofence, "successes"), 4); /* two writers each run */
    assert_int_equal(num(nofence, "double_bookings"), 2);
    assert_int_equal(outcome(nofence, "STALE"), 0);
    json_decref(res);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_failure_modes_are_counted(void **state)
{
    (void)state;
    char file[1200];
    int rc;
    /* a holder sits on the row lock past the second user's 1 s lock wait */
    snprintf(file, sizeof file, "%s/itest-busy.json", E.state);
    write_file(file, "{\"name\":\"busy\",\"kind\":\"seats\",\"data\":{\"seats\":1},\"connections\":2,"
                     "\"actors\":[{\"name\":\"holder\",\"count\":1,\"pause_ms\":2500},"
                     "{\"name\":\"waiter\",\"count\":1,\"start_ms\":200}],"
                     "\"lock\":{\"db_lock_wait_s\":1},\"strategies\":[\"pessimistic\"],"
                     "\"invariants\":[\"no_double_booking\",\"no_errors\"]}");
    json_t *res = run_scenario(file, "", &rc);
    assert_non_null(res);
    assert_int_equal(rc, 0);
    json_t *r = result_of(res, "pessimistic");
    assert_int_equal(outcome(r, "OK"), 1);
    assert_int_equal(outcome(r, "BUSY"), 1);
    assert_int_equal(num(r, "lock_timeouts"), 1);
    json_decref(res);

    /* optimistic without retries: most racing charges lose, as CONFLICT */
    snprintf(file, sizeof file, "%s/itest-conflict.json", E.state);
    write_file(file, "{\"name\":\"conflict\",\"kind\":\"points\",\"data\":{\"initial_points\":0},\"connections\":100,"
                     "\"actors\":[{\"count\":200,\"amount\":100}],\"lock\":{\"max_retries\":0},"
                     "\"strategies\":[\"optimistic\"],\"invariants\":[\"balance_exact\",\"no_errors\"]}");
    res = run_scenario(file, "", &rc);
    assert_non_null(res);
    assert_int_equal(rc, 0);
    r = result_of(res, "optimistic");
    assert_true(outcome(r, "CONFLICT") > 0);
    assert_int_equal(outcome(r, "OK") + outcome(r, "CONFLICT"), 200);
    assert_int_equal(num(r, "retries"), 0);
    json_decref(res);

    /* a usage error is an exit code, not a crash */
    assert_int_equal(itest_run(&E, "scenario run /nonexistent.json --quiet 2>/dev/null"), 1);
    assert_int_equal(itest_run(&E, "scenario run '%s' --strategy redis-lock --quiet 2>/dev/null", file), 1);
    assert_int_equal(itest_run(&E, "scenario run '%s' --repeat 0 2>/dev/null", file), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hot_seat_500),
        cmocka_unit_test(test_flash_sale_scaled),
        cmocka_unit_test(test_point_charge_race),
        cmocka_unit_test(test_lease_expiry_fencing),
        cmocka_unit_test(test_failure_modes_are_counted),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
