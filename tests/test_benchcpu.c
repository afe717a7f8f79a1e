/* tk_benchcpu (the CPU samples of a bench run's steady window), the
 * cpu_ms_per_flow / cpu_ms_per_request metrics of tk_bench_metric and their
 * threshold names. The processes are this test itself (the bench role is
 * always getpid()), so the figures are real CPU clocks, not made up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>
#include <time.h>

#include "bench_int.h"
#include "ticketctl/bench.h"
#include "ticketctl/common.h"
#include "ticketctl/threshold.h"

/* burn about ms of this thread's CPU */
static void spin_ms(double ms)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    volatile uint64_t x = 1;
    do {
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005ULL + 1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    } while ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6 < ms);
}

/* a config whose target nobody listens on, no dev stack: only bench is found */
static tk_bench_config lone_config(void)
{
    tk_bench_config c = {.target = "http://127.0.0.1:1", .users = 1, .duration_ms = 1000, .timeout_ms = 1000};
    return c;
}

static void test_window_wake_and_poll(void **state)
{
    (void)state;
    tk_bench_config c = lone_config();
    tk_benchcpu w;
    char err[256];
    assert_int_equal(tk_benchcpu_init(&w, &c, err, sizeof err), 0);
    assert_true(w.on);
    tk_benchcpu_window(&w, 1000, 5000);
    assert_int_equal(tk_benchcpu_wake(&w, 800), 800);   /* the second tick comes first */
    assert_int_equal(tk_benchcpu_wake(&w, 3000), 1000); /* the window's start comes first */
    tk_benchcpu_poll(&w, 999);
    assert_int_equal(w.took[0], 0); /* not due yet */
    tk_benchcpu_poll(&w, 1000);
    assert_int_equal(w.took[0], 1000);
    assert_int_equal(w.took[1], 0);
    assert_int_equal(tk_benchcpu_wake(&w, 9000), 5000); /* now the end */
    tk_benchcpu_poll(&w, 6000);                         /* late wake-up: taken then */
    assert_int_equal(w.took[1], 6000);
    assert_int_equal(tk_benchcpu_wake(&w, 9000), 9000); /* nothing left to take */
}

static void test_finish_divides_by_units(void **state)
{
    (void)state;
    tk_bench_config c = lone_config();
    tk_benchcpu w;
    char err[256];
    assert_int_equal(tk_benchcpu_init(&w, &c, err, sizeof err), 0);
    uint64_t t0 = tk_mono_us();
    tk_benchcpu_window(&w, t0, t0 + 1);
    tk_benchcpu_poll(&w, t0);
    spin_ms(40);
    tk_benchcpu_poll(&w, t0 + 50000);
    tk_bench_result r;
    memset(&r, 0, sizeof r);
    tk_benchcpu_finish(&w, 20, &r);
    assert_true(r.cpu_measured);
    /* about 40 CPU-ms over 20 units: 2 ms each (plus whatever else this process ran) */
    assert_true(r.cpu.per_unit[TK_CPU_BENCH] >= 1.9);
    assert_true(r.cpu.per_unit[TK_CPU_BENCH] < 10.0);
    assert_true(isnan(r.cpu.per_unit[TK_CPU_SERVE])); /* nobody on port 1 */
    assert_true(isnan(r.cpu.backend_total));          /* never a partial sum */
    assert_true(fabs(r.cpu.window_s - 0.05) < 1e-9);  /* from the instants the samples were taken */

    /* no units, or a missing sample: not measured */
    memset(&r, 0, sizeof r);
    tk_benchcpu_finish(&w, 0, &r);
    assert_false(r.cpu_measured);
    tk_benchcpu half = w;
    half.took[1] = 0;
    tk_benchcpu_finish(&half, 20, &r);
    assert_false(r.cpu_measured);
}

static void test_off_and_empty_window(void **state)
{
    (void)state;
    tk_bench_config c = lone_config();
    c.no_cpu = 1;
    tk_benchcpu w;
    char err[256];
    assert_int_equal(tk_benchcpu_init(&w, &c, err, sizeof err), 0);
    assert_false(w.on);
    tk_benchcpu_window(&w, 10, 20);
    assert_int_equal(tk_benchcpu_wake(&w, 500), 500);
    tk_benchcpu_poll(&w, 30);
    assert_int_equal(w.took[0], 0);

    c.no_cpu = 0;
    assert_int_equal(tk_benchcpu_init(&w, &c, err, sizeof err), 0);
    tk_benchcpu_window(&w, 20, 20); /* the ramp is the whole run: no steady window */
    assert_false(w.on);
    assert_int_equal(tk_benchcpu_wake(&w, 500), 500);
}

static void test_bad_explicit_pid(void **state)
{
    (void)state;
    tk_bench_config c = lone_config();
    int pids[1] = {4194303}; /* above any pid the test box hands out */
    c.cpu.server_pids = pids;
    c.cpu.nserver = 1;
    tk_benchcpu w;
    char err[256] = "";
    assert_int_equal(tk_benchcpu_init(&w, &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "--server-pid"));
}

static void test_metric_names(void **state)
{
    (void)state;
    tk_bench_result r;
    memset(&r, 0, sizeof r);
    double v = 0;
    assert_int_equal(tk_bench_metric(&r, NULL, "cpu_ms_per_flow.bench", &v), -1); /* not measured */
    r.cpu_measured = 1;
    for (int i = 0; i < TK_CPU_NROLES; i++)
        r.cpu.per_unit[i] = NAN;
    r.cpu.per_unit[TK_CPU_SERVE] = 0.65;
    r.cpu.per_unit[TK_CPU_BENCH] = 0.07;
    r.cpu.backend_total = 1.55;
    assert_int_equal(tk_bench_metric(&r, NULL, "cpu_ms_per_flow.serve", &v), 0);
    assert_true(v == 0.65);
    assert_int_equal(tk_bench_metric(&r, "", "cpu_ms_per_flow.backend_total", &v), 0);
    assert_true(v == 1.55);
    assert_int_equal(tk_bench_metric(&r, NULL, "cpu_ms_per_flow.redis", &v), -1);      /* role not found */
    assert_int_equal(tk_bench_metric(&r, NULL, "cpu_ms_per_flow.nosuch", &v), -1);     /* no such role */
    assert_int_equal(tk_bench_metric(&r, NULL, "cpu_ms_per_request.bench", &v), -1);   /* wrong mode */
    snprintf(r.url_path, sizeof r.url_path, "/api/v1/concerts");
    assert_int_equal(tk_bench_metric(&r, NULL, "cpu_ms_per_request.bench", &v), 0);
    assert_true(v == 0.07);
    assert_int_equal(tk_bench_metric(&r, NULL, "cpu_ms_per_flow.bench", &v), -1);

    /* the threshold parser knows the names, and evaluation goes through tk_bench_metric */
    tk_threshold t;
    tk_threshold_outcome o;
    char err[256];
    assert_int_equal(tk_threshold_parse("cpu_ms_per_request.bench < 0.1", &t, err, sizeof err), 0);
    assert_string_equal(t.metric, "cpu_ms_per_request.bench");
    assert_string_equal(t.scope, "");
    assert_int_equal(tk_threshold_parse("cpu_ms_per_flow.backend_total<1.0", &t, err, sizeof err), 0);
    assert_int_equal(tk_threshold_parse("cpu_ms_per_request.backend_total<=2", &t, err, sizeof err), 0);
    assert_int_equal(tk_threshold_parse("cpu_ms_per_flow.cpu<1", &t, err, sizeof err), -1);
    assert_int_equal(tk_threshold_parse("cpu_ms_per_flow.bench<1ms", &t, err, sizeof err), -1); /* no unit */
    assert_int_equal(tk_threshold_parse("cpu_ms_per_request.bench<0.05", &t, err, sizeof err), 0);
    assert_int_equal(tk_threshold_eval(&t, NULL, NULL, &o), 0); /* no source: not measured */
}

static int lookup(const char *scope, const char *metric, double *value, void *ud)
{
    return tk_bench_metric(ud, scope, metric, value);
}

static void test_threshold_on_cpu(void **state)
{
    (void)state;
    tk_bench_result r;
    memset(&r, 0, sizeof r);
    r.cpu_measured = 1;
    for (int i = 0; i < TK_CPU_NROLES; i++)
        r.cpu.per_unit[i] = 0.2;
    r.cpu.per_unit[TK_CPU_NGINX] = NAN;
    r.cpu.backend_total = 0.6;
    tk_threshold t;
    tk_threshold_outcome o;
    char err[256];
    assert_int_equal(tk_threshold_parse("cpu_ms_per_flow.backend_total<1.0", &t, err, sizeof err), 0);
    assert_int_equal(tk_threshold_eval(&t, lookup, &r, &o), 1);
    assert_true(o.found && o.actual == 0.6);
    assert_int_equal(tk_threshold_parse("cpu_ms_per_flow.backend_total<0.5", &t, err, sizeof err), 0);
    assert_int_equal(tk_threshold_eval(&t, lookup, &r, &o), 0);
    assert_non_null(strstr(o.detail, "over by"));
    assert_int_equal(tk_threshold_parse("cpu_ms_per_flow.nginx<1", &t, err, sizeof err), 0);
    assert_int_equal(tk_threshold_eval(&t, lookup, &r, &o), 0); /* not found: fails, not passes */
    assert_false(o.found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_wake_and_poll), cmocka_unit_test(test_finish_divides_by_units),
        cmocka_unit_test(test_off_and_empty_window), cmocka_unit_test(test_bad_explicit_pid),
        cmocka_unit_test(test_metric_names),         cmocka_unit_test(test_threshold_on_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
