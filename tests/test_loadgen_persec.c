/* tk_loadgen's per-step and per-status seconds (loadgen.c persec): what two
 * threads record is merged into the second's point (counts added, the
 * step percentiles from the merged histograms, not averaged), a late
 * thread adds its counts only, statuses past TK_BENCH_POINT_NSTATUS go to
 * "other", and tk_bench_point_json writes them as "steps" and "status". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bench_int.h"

static void test_two_threads_one_second(void **state)
{
    (void)state;
    tk_loadgen g;
    assert_int_equal(tk_loadgen_init(&g, 2, 3), 0);
    g.t0 = 1000000;
    g.end = g.t0 + 3000000;
    tk_hist *h = tk_hist_new();
    tk_loadgen_persec a, b;
    assert_int_equal(tk_loadgen_persec_init(&a), 0);
    assert_int_equal(tk_loadgen_persec_init(&b), 0);
    for (int i = 1; i <= 99; i++) /* reserve: 1..99 ms on thread a, 201 */
        tk_loadgen_persec_record(&a, TK_STEP_RESERVE, 201, (uint64_t)i * 1000);
    tk_loadgen_persec_record(&b, TK_STEP_RESERVE, 409, 100000); /* and one 409 of 100 ms on b */
    tk_loadgen_persec_record(&b, TK_STEP_PAY, 0, 5000);          /* a pay with no answer */
    tk_loadgen_flush_second_ps(&g, 1, h, 99, 0, 0, 1, &a);
    assert_int_equal(a.step_n[TK_STEP_RESERVE], 0); /* handed over and reset */
    assert_int_equal(a.nstatus, 0);
    assert_int_equal(g.series[0].t, 0);
    tk_loadgen_flush_second_ps(&g, 1, h, 2, 1, 0, 1, &b);
    const tk_bench_point *p = &g.series[0];
    assert_int_equal(p->t, 1);
    assert_int_equal(p->steps[TK_STEP_RESERVE].n, 100);
    assert_int_equal(p->steps[TK_STEP_PAY].n, 1);
    assert_int_equal(p->steps[TK_STEP_BALANCE].n, 0);
    /* the 50th and 95th of 1..99 and 100 ms (within hist.h's 1/128) */
    assert_true(p->steps[TK_STEP_RESERVE].p50 >= 50.0 && p->steps[TK_STEP_RESERVE].p50 <= 50.4);
    assert_true(p->steps[TK_STEP_RESERVE].p95 >= 95.0 && p->steps[TK_STEP_RESERVE].p95 <= 95.8);
    assert_int_equal(p->nstatus, 3);
    uint64_t n201 = 0, n409 = 0, n0 = 0;
    for (int i = 0; i < p->nstatus; i++) {
        n201 += p->status[i].status == 201 ? p->status[i].n : 0;
        n409 += p->status[i].status == 409 ? p->status[i].n : 0;
        n0 += p->status[i].status == 0 ? p->status[i].n : 0;
    }
    assert_int_equal(n201, 99);
    assert_int_equal(n409, 1);
    assert_int_equal(n0, 1);

    /* late: second 1 is finished; counts are added, percentiles stay */
    tk_loadgen_persec_record(&a, TK_STEP_RESERVE, 503, 900000);
    tk_loadgen_flush_second_ps(&g, 1, h, 1, 1, 0, 1, &a);
    assert_int_equal(p->steps[TK_STEP_RESERVE].n, 101);
    assert_true(p->steps[TK_STEP_RESERVE].p95 <= 95.8);
    assert_int_equal(p->nstatus, 4);
    assert_int_equal(a.step_n[TK_STEP_RESERVE], 0);

    json_t *o = tk_bench_point_json(p);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_object_get(o, "steps"), "reserve"), "n")),
                     101);
    assert_null(json_object_get(json_object_get(o, "steps"), "balance")); /* no answers: left out */
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "status"), "409")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "status"), "0")), 1);
    assert_null(json_object_get(json_object_get(o, "status"), "other"));
    json_decref(o);

    /* more distinct statuses than a point keeps: the rest is "other" */
    for (int s = 0; s < TK_BENCH_POINT_NSTATUS + 3; s++)
        tk_loadgen_persec_record(&a, TK_STEP_SEATS, 400 + s, 1000);
    tk_loadgen_flush_second_ps(&g, 2, h, 15, 15, 0, 1, &a);
    tk_loadgen_flush_second_ps(&g, 2, h, 0, 0, 0, 1, &b);
    assert_int_equal(g.series[1].nstatus, TK_BENCH_POINT_NSTATUS);
    assert_int_equal(g.series[1].status_other, 3);
    o = tk_bench_point_json(&g.series[1]);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "status"), "other")), 3);
    json_decref(o);

    /* out of range: ignored, and the thread's second still reset */
    tk_loadgen_persec_record(&a, TK_STEP_SEATS, 200, 1000);
    tk_loadgen_flush_second_ps(&g, 9, h, 1, 0, 0, 1, &a);
    assert_int_equal(a.step_n[TK_STEP_SEATS], 0);
    tk_loadgen_persec_free(&a);
    tk_loadgen_persec_free(&b);
    tk_hist_free(h);
    tk_loadgen_destroy(&g);
}

static void test_distribution_bounds(void **state)
{
    (void)state;
    tk_hist *h = tk_hist_new();
    for (int i = 0; i < 10; i++)
        tk_hist_record(h, 150); /* 0.15 ms */
    tk_hist_record(h, 3000);    /* 3 ms */
    tk_hist_record(h, 20000000); /* 20 s */
    assert_int_equal(tk_hist_count_le(h, 100), 0);
    assert_int_equal(tk_hist_count_le(h, 200), 10);
    assert_int_equal(tk_hist_count_le(h, 5000), 11);
    assert_int_equal(tk_hist_count_le(h, 10000000), 11);
    assert_int_equal(tk_hist_count_le(h, UINT64_MAX), 12);
    for (int i = 1; i < TK_BENCH_NDIST - 1; i++) /* bounds rise */
        assert_true(tk_bench_dist_le_ms[i] > tk_bench_dist_le_ms[i - 1]);
    tk_hist_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_threads_one_second),
        cmocka_unit_test(test_distribution_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
