/* Integration: a short bench through the whole booking flow on the real
 * stack, then the data invariants checked in MariaDB, and the results JSON
 * checked for what the bench claims (requests, zero errors, every step). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/invariants.h"

static itest_env E;

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 300 --concerts 20 --schedules-per-concert 2 --seats-per-schedule 60 --seed 11") != 0)
        return -1;
    return itest_server_start(&E, "--workers 8");
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

/* Fresh seats before a run: a fast machine sells all 2,400 in one 8 s run
 * (the TSan tree's serve did), and a sold-out stack completes no flow. */
static void fresh_seats(int seed)
{
    char args[160];
    snprintf(args, sizeof args, "--users 300 --concerts 20 --schedules-per-concert 2 --seats-per-schedule 60 --seed %d",
             seed);
    assert_int_equal(itest_seed(&E, args), 0);
}

static void test_short_bench_keeps_invariants(void **state)
{
    (void)state;
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-bench.json", E.state);
    remove(out);
    int rc = itest_run(&E, "bench --users 200 --ramp 2s --duration 8s --think-time 20 --threads 2 "
                           "--target http://127.0.0.1:%d --out '%s'", E.port, out);
    assert_int_equal(rc, 0); /* 0: run done and every invariant held */

    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    json_t *sum = json_object_get(res, "summary");
    json_int_t requests = json_integer_value(json_object_get(sum, "requests"));
    json_int_t errors = json_integer_value(json_object_get(sum, "errors"));
    json_int_t flows = json_integer_value(json_object_get(sum, "flows_completed"));
    assert_true(requests > 1000);
    assert_true(flows > 50);
    assert_int_equal(errors, 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "config"), "engine")), "lean");
    json_t *steps = json_object_get(res, "steps");
    const char *want[] = {"balance", "charge", "concerts", "dates", "seats", "reserve", "pay"};
    for (size_t i = 0; i < 7; i++) {
        json_t *st = json_array_get(steps, i);
        assert_string_equal(json_string_value(json_object_get(st, "name")), want[i]);
        assert_true(json_integer_value(json_object_get(st, "requests")) > 0);
    }
    /* CPU-ms per flow over the steady window: the server found by its port,
     * mariadbd and redis from the dev stack, bench itself; the total adds up */
    json_t *cpu = json_object_get(sum, "cpu_ms_per_flow");
    assert_true(json_is_object(cpu));
    double serve = json_number_value(json_object_get(cpu, "serve"));
    double mdb = json_number_value(json_object_get(cpu, "mariadbd"));
    double rds = json_number_value(json_object_get(cpu, "redis"));
    assert_true(serve > 0 && mdb > 0 && rds >= 0);
    assert_true(json_number_value(json_object_get(cpu, "bench")) > 0);
    assert_true(json_is_null(json_object_get(cpu, "nginx")));
    double total = json_number_value(json_object_get(cpu, "backend_total"));
    assert_true(total > 0 && total - (serve + mdb + rds) < 1e-3 && (serve + mdb + rds) - total < 1e-3);
    double units = json_number_value(json_object_get(json_object_get(sum, "cpu_window"), "units"));
    assert_true(units > 0 && units <= (double)flows);
    json_decref(res);

    /* What the bench claims, checked independently in the database. */
    assert_true(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments") >= flows);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM (SELECT seat_id FROM reservations WHERE status IN "
                                       "('PENDING','CONFIRMED') GROUP BY seat_id HAVING COUNT(*) > 1) x"), 0);
    tk_invariant inv[TK_INVARIANTS_MAX];
    char err[256];
    int n = tk_invariants_check(E.db, inv, TK_INVARIANTS_MAX, err, sizeof err);
    assert_true(n >= 5);
    for (int i = 0; i < n; i++) {
        if (!inv[i].ok)
            fprintf(stderr, "invariant failed: %s: %s\n", inv[i].name, inv[i].detail);
        assert_true(inv[i].ok);
    }
}

/* The open model on the real flow: iterations arrive at a rate, the
 * results carry corrected and uncorrected latency, the iteration counts
 * and the generator's verdict; a threshold that cannot hold exits 3 and
 * correctness thresholds hold. */
static void test_open_model_thresholds(void **state)
{
    (void)state;
    fresh_seats(13);
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-bench-open.json", E.state);
    remove(out);
    int rc = itest_run(&E, "bench --rate 20 --users 100 --duration 5s --think-time 0 --threads 1 "
                           "--target http://127.0.0.1:%d --out '%s' --threshold 'double_bookings==0' "
                           "--threshold 'error_rate<1%%' --threshold 'pay.p50<1us'", E.port, out);
    assert_int_equal(rc, 3); /* the impossible pay.p50 fails, the invariants hold */

    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "config"), "model")), "open");
    json_t *sum = json_object_get(res, "summary");
    json_t *it = json_object_get(sum, "iterations");
    json_int_t sched = json_integer_value(json_object_get(it, "scheduled"));
    assert_true(sched >= 95 && sched <= 100); /* 20/s for 5 s, the last may fall on the end */
    assert_int_equal(json_integer_value(json_object_get(it, "dropped")), 0);
    double c99 = json_real_value(json_object_get(json_object_get(sum, "latency_ms"), "p99"));
    double u99 = json_real_value(json_object_get(json_object_get(sum, "uncorrected_latency_ms"), "p99"));
    assert_true(c99 > 0 && u99 > 0 && c99 >= u99 * 0.99);
    assert_true(json_is_boolean(json_object_get(res, "valid")));
    json_t *th = json_object_get(res, "thresholds");
    assert_int_equal(json_array_size(th), 3);
    assert_true(json_is_true(json_object_get(json_array_get(th, 0), "ok")));
    assert_true(json_is_true(json_object_get(json_array_get(th, 1), "ok")));
    assert_true(json_is_false(json_object_get(json_array_get(th, 2), "ok")));
    json_decref(res);
}

/* The libcurl transport (https targets, --engine curl) on the real flow:
 * the same steps, no errors, the invariants held (exit 0). */
static void test_curl_engine_flow(void **state)
{
    (void)state;
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-bench-curl.json", E.state);
    remove(out);
    fresh_seats(12); /* the runs before sold most of them */
    int rc = itest_run(&E, "bench --engine curl --users 40 --ramp 1s --duration 4s --think-time 20 --threads 2 "
                           "--target http://127.0.0.1:%d --out '%s'", E.port, out);
    assert_int_equal(rc, 0);
    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "config"), "engine")), "curl");
    json_t *sum = json_object_get(res, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "errors")), 0);
    assert_true(json_integer_value(json_object_get(sum, "flows_completed")) > 10);
    json_t *steps = json_object_get(res, "steps");
    for (size_t i = 0; i < 7; i++)
        assert_true(json_integer_value(json_object_get(json_array_get(steps, i), "requests")) > 0);
    json_decref(res);
}

/* The invariant checker must be able to fail: plant a violation, see it
 * reported, and repair it. */
static void test_invariants_catch_a_planted_violation(void **state)
{
    (void)state;
    assert_int_equal(itest_run(&E, "seed --reset --users 5 --concerts 1 --schedules-per-concert 1 "
                                    "--seats-per-schedule 5 --no-progress"), 0);
    char err[256];
    assert_int_equal(mysql_query(E.db, "UPDATE users SET points = 777 WHERE id = 1"), 0);
    tk_invariant inv[TK_INVARIANTS_MAX];
    int n = tk_invariants_check(E.db, inv, TK_INVARIANTS_MAX, err, sizeof err);
    assert_true(n >= 5);
    assert_false(tk_invariants_all_ok(inv, (size_t)n));
    assert_int_equal(mysql_query(E.db, "UPDATE users SET points = 0 WHERE id = 1"), 0);
    n = tk_invariants_check(E.db, inv, TK_INVARIANTS_MAX, err, sizeof err);
    assert_true(tk_invariants_all_ok(inv, (size_t)n));
}

/* Outputs for CI, as k6's --out: one JSON line per second while the run
 * goes on (the results' timeseries entries, in order), and the gates as
 * JUnit XML with a failure for the threshold that cannot hold. */
static void test_jsonl_and_junit_outputs(void **state)
{
    (void)state;
    fresh_seats(14);
    char out[1200], jsonl[1200], junit[1200];
    snprintf(out, sizeof out, "%s/itest-bench-out.json", E.state);
    snprintf(jsonl, sizeof jsonl, "%s/itest-bench-out.jsonl", E.state);
    snprintf(junit, sizeof junit, "%s/itest-bench-out.xml", E.state);
    remove(jsonl);
    remove(junit);
    int rc = itest_run(&E, "bench --users 50 --ramp 1s --duration 5s --think-time 20 --threads 2 "
                           "--target http://127.0.0.1:%d --out '%s' --out-jsonl '%s' --junit '%s' "
                           "--threshold 'error_rate<1%%' --threshold 'p99<0.001ms'",
                       E.port, out, jsonl, junit);
    assert_int_equal(rc, 3); /* the impossible threshold failed, every invariant held */
    FILE *f = fopen(jsonl, "r");
    assert_non_null(f);
    char line[1024];
    int n = 0, last_t = 0;
    long long last_total = -1;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        assert_non_null(o);
        int t = (int)json_integer_value(json_object_get(o, "t"));
        assert_true(t > last_t); /* seconds in order, none twice */
        last_t = t;
        long long total = json_integer_value(json_object_get(o, "requests_total"));
        assert_true(total >= last_total);
        last_total = total;
        assert_true(json_is_number(json_object_get(o, "rps")));
        assert_true(json_is_number(json_object_get(o, "p99")));
        json_decref(o);
        n++;
    }
    fclose(f);
    assert_true(n >= 3 && n <= 6); /* about one per second of a 5 s run */
    char *x = NULL, e[256];
    size_t len = 0;
    assert_int_equal(tk_read_file(junit, 0, &x, &len, e, sizeof e), 0);
    assert_non_null(strstr(x, "<testsuites name=\"ticketctl bench"));
    assert_non_null(strstr(x, "name=\"error_rate&lt;1%\"/>"));
    assert_non_null(strstr(x, "name=\"p99&lt;0.001ms\">"));
    assert_non_null(strstr(x, "<testsuite name=\"invariants\" tests=\"6\" failures=\"0\">"));
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_bench_keeps_invariants),
        cmocka_unit_test(test_open_model_thresholds),
        cmocka_unit_test(test_curl_engine_flow),
        cmocka_unit_test(test_jsonl_and_junit_outputs),
        cmocka_unit_test(test_invariants_catch_a_planted_violation),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
