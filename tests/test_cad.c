/* tk_cad: the contextual anomaly detector. The first steps worked by hand
 * (facts, the zero-level context, the prediction it makes, the score
 * formula, the rest period), a learnt periodic sequence that is predicted
 * in full and a break in it that is not, the frozen range and values
 * outside it, bad parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "ticketctl/cad.h"

static tk_cad *make(unsigned rest, int known, double lo, double hi, size_t calibration)
{
    tk_cad_params p;
    tk_cad_defaults(&p, 0);
    p.rest = rest;
    p.known_range = known;
    p.lo = lo;
    p.hi = hi;
    p.calibration = calibration;
    char err[128];
    tk_cad *d = tk_cad_new(&p, err, sizeof err);
    assert_non_null(d);
    return d;
}

/* Range [0, 7], 3 bits: value 3 is facts {bit0=1, bit1=1, bit2=0}.
 * 1st record: nothing predicted, no context selected or added:
 *   (1 - 0 + 0) / 2 = 0.5.
 * 2nd: the zero-level context (3 -> 3) is new and is the only potential
 *   one: added / potential = 1, active / selected = 0/0 := 0: 1.0; its left
 *   part is the current group, so it predicts 3.
 * 3rd: 3 was predicted: 0. */
static void test_first_steps_by_hand(void **state)
{
    (void)state;
    tk_cad *d = make(0, 1, 0, 7, 0);
    assert_float_equal(tk_cad_update(d, 3), 0.5, 1e-12);
    assert_float_equal(tk_cad_update(d, 3), 1.0, 1e-12);
    assert_int_equal(tk_cad_contexts(d), 1);
    assert_float_equal(tk_cad_update(d, 3), 0.0, 0);
    tk_cad_free(d);
    tk_cad_free(NULL);
    /* the rest period: with rest 1 the first record is quiet (CAD OSE's
     * history starts with a 1.0), the second is not, and after it (1.0 >=
     * 0.75) the next record is quiet again */
    d = make(1, 1, 0, 7, 0);
    assert_float_equal(tk_cad_update(d, 3), 0.0, 0);
    assert_float_equal(tk_cad_update(d, 3), 1.0, 1e-12);
    assert_float_equal(tk_cad_update(d, 5), 0.0, 0); /* unpredicted, but quiet */
    tk_cad_free(d);
}

/* A repeating 0..7 ramp is learnt: after a few periods every record is
 * predicted (score 0); a value out of turn is not. */
static void test_periodic_then_break(void **state)
{
    (void)state;
    tk_cad *d = make(5, 1, 0, 7, 0);
    double late = 0;
    for (int i = 0; i < 400; i++) {
        double s = tk_cad_update(d, i % 8);
        if (i >= 200)
            late = fmax(late, s);
    }
    assert_float_equal(late, 0.0, 0);
    double brk = tk_cad_update(d, 6); /* 0 was due (400 % 8) */
    assert_true(brk > 0.0);
    tk_cad_free(d);
}

/* The causal range: the running min/max of the first `calibration` records,
 * frozen after; a value beyond it quantises to facts of its own (a high bit
 * no context predicts), above or below. */
static void test_frozen_range_and_outside(void **state)
{
    (void)state;
    for (int dir = -1; dir <= 1; dir += 2) {
        tk_cad *d = make(5, 0, 0, 0, 100);
        double late = 0;
        for (int i = 0; i < 400; i++) {
            double s = tk_cad_update(d, 10 + (i % 4));
            if (i >= 200)
                late = fmax(late, s);
        }
        assert_float_equal(late, 0.0, 0);
        assert_true(tk_cad_update(d, dir > 0 ? 1000 : -1000) > 0.0);
        tk_cad_free(d);
    }
}

static void test_bad_params(void **state)
{
    (void)state;
    tk_cad_params p;
    char err[128];
    tk_cad_defaults(&p, 750);
    assert_int_equal(p.rest, 150);
    assert_int_equal(p.bits, 3);
    assert_int_equal(p.max_active, 15);
    assert_int_equal(p.max_left, 7);
    p.bits = 0;
    assert_null(tk_cad_new(&p, err, sizeof err));
    assert_non_null(strstr(err, "bits"));
    tk_cad_defaults(&p, 750);
    p.base_threshold = 0;
    assert_null(tk_cad_new(&p, err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_steps_by_hand),
        cmocka_unit_test(test_periodic_then_break),
        cmocka_unit_test(test_frozen_range_and_outside),
        cmocka_unit_test(test_bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
