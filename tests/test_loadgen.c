/* tk_loadgen (the run skeleton both load engines share): the per-second
 * ring and series, the tick and stop hand-over of seconds, the lag gauge and
 * the self-check, without threads or sockets (the engines' own tests and
 * itest_bench run them for real). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "bench_int.h"
#include "ticketctl/common.h"

static tk_loadgen G;

static int setup(void **state)
{
    (void)state;
    return tk_loadgen_init(&G, 2, 5);
}

static int teardown(void **state)
{
    (void)state;
    tk_loadgen_destroy(&G);
    return 0;
}

static void test_ring_finishes_a_second_when_all_threads_reported(void **state)
{
    (void)state;
    G.t0 = 1000000;
    G.end = G.t0 + 4500000; /* 4.5 s: the fifth second is half long */
    tk_hist *a = tk_hist_new(), *b = tk_hist_new();
    for (int i = 1; i <= 100; i++)
        tk_hist_record(a, (uint64_t)i * 1000); /* 1..100 ms */
    tk_hist_record(b, 500000);                 /* one 500 ms answer */
    tk_loadgen_flush_second(&G, 1, a, 100, 2, 0, 10);
    assert_int_equal(G.series[0].t, 0); /* one of two threads: not finished yet */
    assert_int_equal(G.last_final, 0);
    tk_loadgen_flush_second(&G, 1, b, 1, 0, 3, 5);
    assert_int_equal(G.series[0].t, 1);
    assert_int_equal(G.last_final, 1);
    assert_true(G.series[0].rps == 101.0);
    assert_int_equal(G.series[0].errors, 2);
    assert_int_equal(G.series[0].dropped, 3);
    assert_int_equal(G.series[0].vus, 15);
    /* merged, not averaged: the 51st and 100th of 101 values, within hist.h's +0.79 % */
    assert_true(G.series[0].p50 >= 51.0 && G.series[0].p50 <= 51.41);
    assert_true(G.series[0].p99 >= 100.0 && G.series[0].p99 <= 100.79);
    assert_int_equal(G.total_req, 101);
    assert_int_equal(G.total_err, 2);

    /* a thread that reports a second already finished adds its counts only */
    tk_loadgen_flush_second(&G, 1, a, 7, 1, 0, 1);
    assert_true(G.series[0].rps == 108.0);
    assert_int_equal(G.series[0].errors, 3);
    assert_int_equal(G.series[0].vus, 15);

    /* the last, partial second is a rate over its length */
    tk_loadgen_flush_second(&G, 5, a, 50, 0, 0, 1);
    tk_loadgen_flush_second(&G, 5, b, 0, 0, 0, 1);
    assert_true(fabs(G.series[4].rps - 100.0) < 1e-9);
    /* out of range: ignored */
    tk_loadgen_flush_second(&G, 0, a, 1, 0, 0, 1);
    tk_loadgen_flush_second(&G, 6, a, 1, 0, 0, 1);
    assert_int_equal(G.total_req, 158);
    tk_hist_free(a);
    tk_hist_free(b);
}

typedef struct calls {
    int n, sec[16], data[16];
} calls;

static void record(void *thread, int sec, int data)
{
    calls *c = thread;
    if (c->n < 16) {
        c->sec[c->n] = sec;
        c->data[c->n] = data;
    }
    c->n++;
}

static void test_tick_hands_over_skipped_seconds_as_empty(void **state)
{
    (void)state;
    calls c = {0};
    int next = 1;
    G.t0 = tk_mono_us() - 3200000; /* we are 3.2 s in: the tick for second 1 runs late */
    int64_t d = tk_loadgen_tick(&G, &next, record, &c);
    assert_int_equal(c.n, 3);
    assert_true(c.sec[0] == 1 && c.data[0] == 0); /* skipped: empty */
    assert_true(c.sec[1] == 2 && c.data[1] == 0);
    assert_true(c.sec[2] == 3 && c.data[2] == 1); /* what completed goes to the second we are in */
    assert_int_equal(next, 4);
    assert_true(d > 0 && d <= 800000 + 1000); /* the next tick at t0 + 4 s */
    /* that tick hands over second 4 and arms none for the last second, the stop's */
    G.t0 = tk_mono_us() - 4100000;
    assert_int_equal(tk_loadgen_tick(&G, &next, record, &c), -1);
    assert_int_equal(c.n, 4);
    assert_true(c.sec[3] == 4 && c.data[3] == 1);
    /* a late tick, due with the stop, hands over nothing */
    G.t0 = tk_mono_us() - 5300000;
    assert_int_equal(tk_loadgen_tick(&G, &next, record, &c), -1);
    assert_int_equal(c.n, 4);
    /* at the stop: every second left, the last one with data */
    tk_loadgen_last_seconds(&G, &next, record, &c);
    assert_int_equal(c.n, 5);
    assert_true(c.sec[4] == 5 && c.data[4] == 1);
    assert_int_equal(next, 6);
    assert_int_equal(tk_loadgen_tick(&G, &next, record, &c), -1); /* all done */
    assert_int_equal(c.n, 5);
}

static void test_lag_counts_every_missed_period(void **state)
{
    (void)state;
    tk_hist *h = tk_hist_new();
    uint64_t due = 10000;
    assert_int_equal(tk_loadgen_lag(&due, 10000, h, 10100), 9900); /* 100 µs late */
    assert_int_equal(tk_hist_count(h), 1);
    assert_int_equal(due, 20000);
    /* a 55 ms stall: periods due at 20, 30, ..., 60 ms missed, each with its lateness */
    assert_int_equal(tk_loadgen_lag(&due, 10000, h, 65000), 5000);
    assert_int_equal(tk_hist_count(h), 6);
    assert_int_equal(tk_hist_max(h), 45000);
    assert_int_equal(due, 70000);
    tk_hist_free(h);
}

static void test_validate(void **state)
{
    (void)state;
    tk_bench_config c = {.max_cpu = 0, .max_lag_ms = 0};
    tk_bench_result r;
    memset(&r, 0, sizeof r);
    r.gen_cpu_util = 0.5;
    r.lag_p99_ms = 3;
    tk_loadgen_validate(&r, &c, NULL);
    assert_true(r.valid);
    assert_string_equal(r.invalid_reason, "");
    assert_true(r.peak_rss_bytes > 0 && r.gen_cpu_s >= 0);
    r.gen_cpu_util = 0.95;
    r.lag_p99_ms = 30;
    tk_loadgen_validate(&r, &c, "histogram counts disagree");
    assert_false(r.valid);
    assert_non_null(strstr(r.invalid_reason, "generator CPU saturated"));
    assert_non_null(strstr(r.invalid_reason, "; generator event loop lagging"));
    assert_non_null(strstr(r.invalid_reason, "; internal: histogram counts disagree"));
    c.max_cpu = 0.99;
    c.max_lag_ms = 50;
    tk_loadgen_validate(&r, &c, NULL); /* the limits are the config's */
    assert_true(r.valid);
}

/* ---------- the watch: every finished second reaches the progress callback ---------- */

typedef struct seen {
    int n, t[16];
    tk_loadgen *g;
} seen;

static void on_progress(const tk_bench_point *p, double elapsed_s, uint64_t requests, uint64_t errors, void *ud)
{
    (void)elapsed_s;
    (void)requests;
    (void)errors;
    seen *s = ud;
    if (s->n < 16)
        s->t[s->n] = p->t;
    s->n++;
    pthread_mutex_lock(&s->g->mu); /* the (only) load thread "ends" after the first call */
    s->g->done_threads = 1;
    pthread_mutex_unlock(&s->g->mu);
}

static void test_watch_reports_every_second_when_it_wakes_late(void **state)
{
    (void)state;
    tk_loadgen g;
    assert_int_equal(tk_loadgen_init(&g, 1, 5), 0);
    tk_hist *h = tk_hist_new();
    tk_hist_record(h, 1000);
    g.t0 = tk_mono_us() - 3500000; /* 3.5 s in: the watch's first wake is 2.5 s late */
    g.end = g.t0 + 5000000;
    for (int sec = 1; sec <= 3; sec++)
        tk_loadgen_flush_second(&g, sec, h, (uint64_t)sec * 10, 0, 0, 1); /* one thread: finished at once */
    assert_int_equal(g.last_final, 3);
    seen s = {.g = &g};
    tk_bench_config c = {.progress = on_progress, .progress_ud = &s};
    tk_bench_result r;
    memset(&r, 0, sizeof r);
    tk_benchcpu cpu;
    memset(&cpu, 0, sizeof cpu);
    tk_loadgen_watch(&g, 1, &c, &r, &cpu);
    /* seconds 1, 2 and 3 in one late wake, in order (only 3 before the fix) */
    assert_int_equal(s.n, 3);
    assert_true(s.t[0] == 1 && s.t[1] == 2 && s.t[2] == 3);
    assert_true(g.series[1].rps == 20.0);

    /* seconds finished at the end (the stop's, and one the thread never
     * handed over, finished by the watch itself) are reported too */
    tk_loadgen g2;
    assert_int_equal(tk_loadgen_init(&g2, 2, 5), 0);
    g2.t0 = tk_mono_us() - 6000000;
    g2.end = g2.t0 + 5000000;
    for (int sec = 1; sec <= 5; sec++) {
        tk_loadgen_flush_second(&g2, sec, h, 1, 0, 0, 1);
        if (sec != 4)
            tk_loadgen_flush_second(&g2, sec, h, 1, 0, 0, 1); /* second 4: one of two threads only */
    }
    seen s2 = {.g = &g2};
    c.progress_ud = &s2;
    tk_loadgen_watch(&g2, 0, &c, &r, &cpu); /* no thread left: straight to the end */
    assert_int_equal(s2.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(s2.t[i], i + 1);
    tk_hist_free(h);
    tk_loadgen_destroy(&g);
    tk_loadgen_destroy(&g2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ring_finishes_a_second_when_all_threads_reported, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tick_hands_over_skipped_seconds_as_empty, setup, teardown),
        cmocka_unit_test(test_lag_counts_every_missed_period),
        cmocka_unit_test(test_validate),
        cmocka_unit_test(test_watch_reports_every_second_when_it_wakes_late),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
