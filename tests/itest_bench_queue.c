/* Integration: the booking flow through the waiting room (`bench --queue
 * redis` against `serve --queue redis`) on both HTTP transports: the take
 * and poll steps run with the queue token carried as X-Queue-Token into
 * hold and pay, admissions are counted, nothing fails and every invariant
 * holds (exit 0). */
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

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 100 --concerts 10 --schedules-per-concert 2 --seats-per-schedule 60 --seed 21") != 0)
        return -1;
    return itest_server_start(&E, "--workers 2 --queue redis --admit-rate 6000/min --queue-tick 100ms");
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static void run_engine(const char *engine)
{
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-bench-queue-%s.json", E.state, engine);
    remove(out);
    int rc = itest_run(&E, "bench --engine %s --queue redis --users 30 --ramp 1s --duration 4s --think-time 20 "
                           "--threads 2 --target http://127.0.0.1:%d --out '%s'", engine, E.port, out);
    assert_int_equal(rc, 0); /* run done, every invariant held */
    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "config"), "engine")), engine);
    json_t *sum = json_object_get(res, "summary");
    assert_int_equal(json_integer_value(json_object_get(sum, "errors")), 0);
    json_int_t flows = json_integer_value(json_object_get(sum, "flows_completed"));
    assert_true(flows > 5);
    json_t *q = json_object_get(res, "queue");
    assert_string_equal(json_string_value(json_object_get(q, "mode")), "redis");
    assert_true(json_integer_value(json_object_get(q, "admissions")) >= flows / 2);
    json_t *steps = json_object_get(res, "steps");
    int seen = 0;
    for (size_t i = 0; i < json_array_size(steps); i++) {
        json_t *st = json_array_get(steps, i);
        const char *name = json_string_value(json_object_get(st, "name"));
        if (!strcmp(name, "queue_token") || !strcmp(name, "queue_poll") || !strcmp(name, "pay")) {
            assert_true(json_integer_value(json_object_get(st, "requests")) > 0);
            seen++;
        }
    }
    assert_int_equal(seen, 3);
    json_decref(res);
}

static void test_queue_flow_lean(void **state)
{
    (void)state;
    run_engine("lean");
}

static void test_queue_flow_curl(void **state)
{
    (void)state;
    run_engine("curl");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_queue_flow_lean),
        cmocka_unit_test(test_queue_flow_curl),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
