/* tk_relent: the relative-entropy detector. The chi-squared threshold
 * against tabulated values, a stream worked by hand (window, histogram,
 * 2 W KL against each hypothesis, a new hypothesis scoring 1), the frozen
 * calibration range and the flat-line case, bad parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ticketctl/relent.h"

static void test_chi2_isf(void **state)
{
    (void)state;
    /* tables (e.g. NIST/SEMATECH e-Handbook 1.3.6.7.4) */
    assert_float_equal(tk_relent_chi2_isf(0.01, 4), 13.2767, 1e-4);
    assert_float_equal(tk_relent_chi2_isf(0.05, 1), 3.8415, 1e-4);
    assert_float_equal(tk_relent_chi2_isf(0.01, 7), 18.4753, 1e-4);
    assert_float_equal(tk_relent_chi2_isf(0.10, 10), 15.9872, 1e-4);
    assert_true(isnan(tk_relent_chi2_isf(0, 4)));
    tk_relent_params p;
    tk_relent_defaults(&p, 300);
    assert_int_equal(p.bins, 5);
    assert_int_equal(p.window, 52);
    assert_int_equal(p.c_th, 1);
    assert_int_equal(p.calibration, 300);
    assert_float_equal(p.threshold, 13.2767, 1e-4);
}

/* 2 bins, window 4, calibration [0, 10] (step 5: bin 0 holds values <= 0,
 * bin 1 the rest), threshold chi2(0.01, 1) = 6.635. After the calibration
 * the window fills; the first full one {0,10,0,0} = (.75,.25) is the first
 * hypothesis. Then (.75,.25) stat 0; (1,0): 8 ln(1/.75) = 2.30; (.75,.25);
 * (.5,.5): 1.15; (.25,.75): 4.39, all accepted; (0,1): 8 ln 4 = 11.09,
 * rejected -> a new hypothesis, score 1; (0,1) again matches it: 0. */
static void test_by_hand(void **state)
{
    (void)state;
    tk_relent_params p;
    tk_relent_defaults(&p, 2);
    p.bins = 2;
    p.window = 4;
    p.threshold = tk_relent_chi2_isf(0.01, 1);
    char err[128];
    tk_relent *d = tk_relent_new(&p, err, sizeof err);
    assert_non_null(d);
    const double in[] = {0, 10, 0, 0, 0, 0, 10, 10, 10, 10, 10};
    const double want[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    for (size_t i = 0; i < sizeof in / sizeof in[0]; i++) {
        double s = tk_relent_update(d, in[i]);
        if (s != want[i])
            fail_msg("record %zu: score %g, want %g", i, s, want[i]);
    }
    assert_int_equal(tk_relent_hypotheses(d), 2);
    tk_relent_free(d);
    tk_relent_free(NULL);
}

/* A flat calibration still sees a departure (values above it fall in the
 * top bin), and values far outside a range fall in the end bins; a given
 * range (NAB's look-ahead mode) needs no calibration. */
static void test_flat_and_known_range(void **state)
{
    (void)state;
    tk_relent_params p;
    tk_relent_defaults(&p, 20);
    p.window = 10;
    char err[128];
    tk_relent *d = tk_relent_new(&p, err, sizeof err);
    double max = 0;
    for (int i = 0; i < 60; i++)
        max = fmax(max, tk_relent_update(d, 5.0));
    assert_float_equal(max, 0.0, 0); /* the flat line: one hypothesis */
    assert_int_equal(tk_relent_hypotheses(d), 1);
    for (int i = 0; i < 10; i++)
        max = fmax(max, tk_relent_update(d, 5.5));
    assert_float_equal(max, 1.0, 0);
    tk_relent_free(d);

    tk_relent_defaults(&p, 2);
    p.window = 10;
    p.known_range = 1;
    p.lo = 0;
    p.hi = 100;
    d = tk_relent_new(&p, err, sizeof err);
    double first = -1;
    for (int i = 0; i < 10; i++)
        first = tk_relent_update(d, (double)(i % 2) * 50);
    assert_float_equal(first, 0.0, 0);
    assert_int_equal(tk_relent_hypotheses(d), 1); /* the 10th record filled the first window */
    tk_relent_free(d);
}

static void test_bad_params(void **state)
{
    (void)state;
    tk_relent_params p;
    char err[128];
    tk_relent_defaults(&p, 100);
    p.bins = 1;
    assert_null(tk_relent_new(&p, err, sizeof err));
    assert_non_null(strstr(err, "bins"));
    tk_relent_defaults(&p, 100);
    p.window = 1;
    assert_null(tk_relent_new(&p, err, sizeof err));
    tk_relent_defaults(&p, 100);
    p.threshold = 0;
    assert_null(tk_relent_new(&p, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chi2_isf),
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_flat_and_known_range),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
