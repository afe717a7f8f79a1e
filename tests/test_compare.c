/* Unit tests of lib/compare.c: the U statistic on a worked example, exact
 * and approximate p-values, and the verdicts (identical, shifted, noise,
 * too few runs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ticketctl/compare.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Worked example (hand-countable): A = 19 22 16 29 24, B = 20 11 17 12.
 * Each a beats 3, 4, 2, 4, 4 of the b's: U_A = 17, U_B = 20 - 17 = 3.
 * Exact null distribution for sizes 5, 4: P(U <= 3) = (1+1+2+3)/C(9,4)
 * = 7/126, so the two-sided p is 14/126 = 0.1111. */
static void test_u_worked_example(void **state)
{
    (void)state;
    double a[] = {19, 22, 16, 29, 24}, b[] = {20, 11, 17, 12};
    assert_true(tk_mwu_u(a, N(a), b, N(b)) == 17.0);
    assert_true(tk_mwu_u(b, N(b), a, N(a)) == 3.0);
    int exact = 0;
    double p = tk_mwu_p(a, N(a), b, N(b), &exact);
    assert_true(exact);
    assert_true(fabs(p - 14.0 / 126.0) < 1e-12);
    assert_true(fabs(tk_mwu_p(b, N(b), a, N(a), NULL) - p) < 1e-12); /* symmetric */
}

/* Complete separation: the smallest p the exact test can give is
 * 2 / C(n1+n2, n1): 2/20 for 3 vs 3, 2/252 for 5 vs 5. */
static void test_exact_p_complete_separation(void **state)
{
    (void)state;
    double a3[] = {1, 2, 3}, b3[] = {4, 5, 6};
    assert_true(fabs(tk_mwu_p(a3, 3, b3, 3, NULL) - 0.1) < 1e-12);
    double a5[] = {1, 2, 3, 4, 5}, b5[] = {6, 7, 8, 9, 10};
    assert_true(tk_mwu_u(a5, 5, b5, 5) == 0.0);
    assert_true(fabs(tk_mwu_p(a5, 5, b5, 5, NULL) - 2.0 / 252.0) < 1e-12);
}

/* Ties switch to the normal approximation with tie correction. Here
 * a = 1 1 2 2, b = 2 2 3 3: U_a = 4*0... counted: each 1 beats none, each 2
 * ties two 2's: U_a = 2 * 2 * 0.5 = 2; mu = 8, tie groups of 2, 4, 2 give
 * sum(t^3 - t) = 6 + 60 + 6 = 72; var = 16/12 * (9 - 72/56) = 10.2857;
 * z = (6 - 0.5) / 3.2071 = 1.7149; p = erfc(z / sqrt 2) = 0.08636. */
static void test_normal_approximation_with_ties(void **state)
{
    (void)state;
    double a[] = {1, 1, 2, 2}, b[] = {2, 2, 3, 3};
    assert_true(tk_mwu_u(a, 4, b, 4) == 2.0);
    int exact = 1;
    double p = tk_mwu_p(a, 4, b, 4, &exact);
    assert_false(exact);
    double var = 16.0 / 12.0 * (9.0 - 72.0 / 56.0), z = 5.5 / sqrt(var);
    assert_true(fabs(p - erfc(z / sqrt(2.0))) < 1e-12);
    assert_true(fabs(p - 0.08636) < 1e-4);
    double same[] = {5, 5, 5, 5, 5};
    assert_true(tk_mwu_p(same, 5, same, 5, NULL) == 1.0);
}

static void test_identical_samples_unchanged(void **state)
{
    (void)state;
    double x[] = {1000, 1010, 990, 1005, 995};
    tk_cmp_metric m;
    assert_int_equal(tk_compare_samples("tps", x, 5, x, 5, 1, &m), TK_CMP_UNCHANGED);
    assert_true(m.p > 0.5);
    assert_true(m.change == 0);
}

static void test_clear_shifts_regressed_and_improved(void **state)
{
    (void)state;
    double base[] = {1000, 1010, 990, 1005, 995};
    double low[] = {800, 810, 790, 805, 795}, high[] = {1200, 1210, 1190, 1205, 1195};
    tk_cmp_metric m;
    assert_int_equal(tk_compare_samples("tps", base, 5, low, 5, 1, &m), TK_CMP_REGRESSED);
    assert_true(m.p < 0.01);
    assert_true(fabs(m.change + 0.2) < 1e-9);
    assert_int_equal(tk_compare_samples("tps", base, 5, high, 5, 1, &m), TK_CMP_IMPROVED);
    /* latency: higher is worse */
    double p99[] = {10, 10.2, 9.9, 10.1, 9.8}, slow[] = {13, 13.1, 12.9, 13.2, 12.8};
    assert_int_equal(tk_compare_samples("p99", p99, 5, slow, 5, 0, &m), TK_CMP_REGRESSED);
    assert_int_equal(tk_compare_samples("p99", slow, 5, p99, 5, 0, &m), TK_CMP_IMPROVED);
}

static void test_small_noise_and_small_effects_unchanged(void **state)
{
    (void)state;
    tk_cmp_metric m;
    double base[] = {1000, 1010, 990, 1005, 995}, cand[] = {1002, 1008, 992, 1001, 998};
    assert_int_equal(tk_compare_samples("tps", base, 5, cand, 5, 1, &m), TK_CMP_UNCHANGED);
    /* significant (complete separation) but only 2 %: below the 5 % minimum effect */
    double b2[] = {1000, 1001, 1002, 1003, 1004}, c2[] = {1020, 1021, 1022, 1023, 1024};
    assert_int_equal(tk_compare_samples("tps", b2, 5, c2, 5, 1, &m), TK_CMP_UNCHANGED);
    assert_true(m.p < 0.05);
    /* a noisy baseline raises the bar: IQR/median = 0.2 -> min effect 40 % */
    double nb[] = {800, 900, 1000, 1100, 1200}, nc[] = {1300, 1310, 1320, 1330, 1340};
    assert_int_equal(tk_compare_samples("tps", nb, 5, nc, 5, 1, &m), TK_CMP_UNCHANGED);
    assert_true(fabs(m.spread - 0.2) < 1e-9);
    assert_true(fabs(m.min_effect - 0.4) < 1e-9);
}

static void test_fewer_than_five_runs_decide_nothing(void **state)
{
    (void)state;
    double base[] = {1000, 1010, 990, 1005}, cand[] = {100, 110, 90, 105};
    tk_cmp_metric m;
    assert_int_equal(tk_compare_samples("tps", base, 4, cand, 4, 1, &m), TK_CMP_INSUFFICIENT);
    assert_int_equal(tk_compare_samples("tps", base, 1, cand, 1, 1, &m), TK_CMP_INSUFFICIENT);
    assert_string_equal(tk_cmp_verdict_name(m.verdict), "insufficient runs");
}

static void test_zero_baseline_error_rate(void **state)
{
    (void)state;
    double zero[] = {0, 0, 0, 0, 0}, some[] = {0.01, 0.02, 0.015, 0.012, 0.011};
    tk_cmp_metric m;
    assert_int_equal(tk_compare_samples("error_rate", zero, 5, zero, 5, 0, &m), TK_CMP_UNCHANGED);
    assert_int_equal(tk_compare_samples("error_rate", zero, 5, some, 5, 0, &m), TK_CMP_REGRESSED);
    assert_true(isinf(m.change));
}

static void test_median_and_iqr(void **state)
{
    (void)state;
    double x[] = {5, 1, 4, 2, 3};
    assert_true(tk_cmp_median(x, 5) == 3.0);
    assert_true(tk_cmp_iqr(x, 5) == 2.0); /* type 7: q1 = 2, q3 = 4 */
    double y[] = {1, 2, 3, 4};
    assert_true(tk_cmp_median(y, 4) == 2.5);
}

/* A results file with the required metrics and, when cpu >= 0, the server's
 * CPU per flow. */
static char *write_result(const char *dir, int i, double tps, double cpu)
{
    char *path = malloc(256);
    snprintf(path, 256, "%s/r%02d.json", dir, i);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"summary\":{\"tps\":%g,\"error_rate\":0,\"latency_ms\":{\"p50\":1,\"p95\":2,\"p99\":3}", tps);
    if (cpu >= 0)
        fprintf(f, ",\"cpu_ms_per_flow\":{\"backend_total\":%g,\"bench\":0.1}", cpu);
    fputs("}}", f);
    fclose(f);
    return path;
}

static void test_files_cpu_per_flow_compared_when_present(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_compare_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *b[5], *c[5], *c_old[5];
    for (int i = 0; i < 5; i++) {
        b[i] = write_result(dir, i, 1000 + i, 1.50 + 0.01 * i);
        c[i] = write_result(dir, 10 + i, 1000 + i, 1.10 + 0.01 * i); /* same tps, 27 % less CPU */
        c_old[i] = write_result(dir, 20 + i, 1000 + i, -1);           /* a file from before CPU was measured */
    }
    tk_cmp_metric m[TK_CMP_NMETRICS];
    char err[256];
    assert_int_equal(tk_compare_files(b, 5, c, 5, m, err, sizeof err), 0);
    int k_cpu = -1, k_tps = -1;
    for (int k = 0; k < TK_CMP_NMETRICS; k++) {
        if (!strcmp(m[k].name, "cpu_ms_per_flow.backend_total"))
            k_cpu = k;
        if (!strcmp(m[k].name, "tps"))
            k_tps = k;
    }
    assert_true(k_cpu >= 0 && k_tps >= 0);
    assert_int_equal(m[k_cpu].absent, 0);
    assert_int_equal(m[k_cpu].verdict, TK_CMP_IMPROVED); /* lower is better */
    assert_int_equal(m[k_tps].verdict, TK_CMP_UNCHANGED);
    assert_int_equal(tk_compare_files(c, 5, b, 5, m, err, sizeof err), 0);
    assert_int_equal(m[k_cpu].verdict, TK_CMP_REGRESSED);
    /* one side lacks it: not compared, the rest still is */
    assert_int_equal(tk_compare_files(b, 5, c_old, 5, m, err, sizeof err), 0);
    assert_int_equal(m[k_cpu].absent, 1);
    assert_int_equal(m[k_cpu].verdict, TK_CMP_INSUFFICIENT);
    assert_int_equal(m[k_tps].verdict, TK_CMP_UNCHANGED);
    for (int i = 0; i < 5; i++) {
        unlink(b[i]), unlink(c[i]), unlink(c_old[i]);
        free(b[i]), free(c[i]), free(c_old[i]);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u_worked_example),
        cmocka_unit_test(test_exact_p_complete_separation),
        cmocka_unit_test(test_normal_approximation_with_ties),
        cmocka_unit_test(test_identical_samples_unchanged),
        cmocka_unit_test(test_clear_shifts_regressed_and_improved),
        cmocka_unit_test(test_small_noise_and_small_effects_unchanged),
        cmocka_unit_test(test_fewer_than_five_runs_decide_nothing),
        cmocka_unit_test(test_zero_baseline_error_rate),
        cmocka_unit_test(test_median_and_iqr),
        cmocka_unit_test(test_files_cpu_per_flow_compared_when_present),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
