/* Unit tests of lib/threshold.c: parsing (units, scopes, operators, errors)
 * and evaluation with the "by how much" detail. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ticketctl/threshold.h"

static tk_threshold parse_ok(const char *s)
{
    tk_threshold t;
    char err[256] = "";
    int rc = tk_threshold_parse(s, &t, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "unexpected parse error: %s\n", err);
    assert_int_equal(rc, 0);
    return t;
}

static void test_parse_issue_examples(void **state)
{
    (void)state;
    tk_threshold t = parse_ok("p95<100ms");
    assert_string_equal(t.scope, "");
    assert_string_equal(t.metric, "p95");
    assert_int_equal(t.op, TK_TH_LT);
    assert_true(t.is_latency);
    assert_true(fabs(t.limit - 100.0) < 1e-9);

    t = parse_ok("error_rate<0.1%");
    assert_string_equal(t.metric, "error_rate");
    assert_true(fabs(t.limit - 0.001) < 1e-12);
    assert_false(t.is_latency);

    t = parse_ok("tps>5000");
    assert_int_equal(t.op, TK_TH_GT);
    assert_true(t.limit == 5000.0);

    t = parse_ok("double_bookings==0");
    assert_int_equal(t.op, TK_TH_EQ);
    assert_true(t.limit == 0.0);

    t = parse_ok("reserve.p99<200ms");
    assert_string_equal(t.scope, "reserve");
    assert_string_equal(t.metric, "p99");
    assert_true(t.limit == 200.0);
}

static void test_parse_units_scopes_and_spaces(void **state)
{
    (void)state;
    tk_threshold t = parse_ok(" p99.9 <= 1s ");
    assert_string_equal(t.scope, "");
    assert_string_equal(t.metric, "p99.9");
    assert_int_equal(t.op, TK_TH_LE);
    assert_true(t.limit == 1000.0);
    assert_string_equal(t.text, "p99.9<=1s");

    t = parse_ok("pay.p99.99<2s");
    assert_string_equal(t.scope, "pay");
    assert_string_equal(t.metric, "p99.99");
    assert_true(t.limit == 2000.0);

    t = parse_ok("u_p50<500us");
    assert_true(fabs(t.limit - 0.5) < 1e-12);
    t = parse_ok("p50<7"); /* a bare latency is in ms */
    assert_true(t.limit == 7.0);
    t = parse_ok("error_rate<=0.02"); /* a bare rate is a fraction */
    assert_true(t.limit == 0.02);
    t = parse_ok("dropped!=3");
    assert_int_equal(t.op, TK_TH_NE);
    t = parse_ok("tps>=10");
    assert_int_equal(t.op, TK_TH_GE);
}

static void test_parse_rejects_garbage(void **state)
{
    (void)state;
    const char *bad[] = {"", "p95", "<100ms", "p95<", "p95<abc", "p95<100%", "tps>5000ms", "error_rate<5ms",
                         "foo<1", "reserve.bogus<1", "p95=>1", "p95<100parsecs", ".p95<1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tk_threshold t;
        char err[256] = "";
        assert_int_equal(tk_threshold_parse(bad[i], &t, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
}

static int lookup(const char *scope, const char *metric, double *v, void *ud)
{
    (void)ud;
    if (!*scope && strcmp(metric, "p95") == 0) return *v = 123.4, 0;
    if (!*scope && strcmp(metric, "tps") == 0) return *v = 4000, 0;
    if (!*scope && strcmp(metric, "error_rate") == 0) return *v = 0.0005, 0;
    if (!*scope && strcmp(metric, "double_bookings") == 0) return *v = 2, 0;
    if (strcmp(scope, "reserve") == 0 && strcmp(metric, "p99") == 0) return *v = 150, 0;
    return -1;
}

static void test_eval_pass_fail_and_by_how_much(void **state)
{
    (void)state;
    tk_threshold_outcome o;
    tk_threshold t = parse_ok("p95<100ms");
    assert_int_equal(tk_threshold_eval(&t, lookup, NULL, &o), 0);
    assert_true(o.found);
    assert_true(fabs(o.actual - 123.4) < 1e-9);
    assert_non_null(strstr(o.detail, "over by 23.40 ms"));
    assert_non_null(strstr(o.detail, "23.4 %"));

    t = parse_ok("tps>5000");
    assert_int_equal(tk_threshold_eval(&t, lookup, NULL, &o), 0);
    assert_non_null(strstr(o.detail, "under by 1000"));

    t = parse_ok("error_rate<0.1%");
    assert_int_equal(tk_threshold_eval(&t, lookup, NULL, &o), 1);
    t = parse_ok("reserve.p99<200ms");
    assert_int_equal(tk_threshold_eval(&t, lookup, NULL, &o), 1);
    t = parse_ok("double_bookings==0");
    assert_int_equal(tk_threshold_eval(&t, lookup, NULL, &o), 0);
    assert_non_null(strstr(o.detail, "over by 2"));
}

static void test_eval_unknown_scope_fails(void **state)
{
    (void)state;
    tk_threshold_outcome o;
    tk_threshold t = parse_ok("nosuchstep.p99<1s");
    assert_int_equal(tk_threshold_eval(&t, lookup, NULL, &o), 0);
    assert_false(o.found);
    assert_non_null(strstr(o.detail, "not measured"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_issue_examples),
        cmocka_unit_test(test_parse_units_scopes_and_spaces),
        cmocka_unit_test(test_parse_rejects_garbage),
        cmocka_unit_test(test_eval_pass_fail_and_by_how_much),
        cmocka_unit_test(test_eval_unknown_scope_fails),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
