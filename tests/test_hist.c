/* tk_hist: percentiles against exact sorted-array percentiles on several
 * distributions, merge, and the edge cases (empty, one value, clamping). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/hist.h"

#define N 200000

static const double pcts[] = {0.0, 0.1, 1, 5, 10, 25, 33.3, 50, 66.6, 75, 90, 95, 99, 99.5, 99.9, 99.99, 99.999, 100};

/* Deterministic xorshift64* so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}
static double rnd01(void) { return (double)(rnd() >> 11) / 9007199254740992.0; } /* [0,1) */

static uint64_t clampv(double v)
{
    if (v < 1)
        return 1;
    if (v > (double)TK_HIST_MAX_US)
        return TK_HIST_MAX_US;
    return (uint64_t)v;
}

typedef uint64_t (*gen_fn)(void);
static uint64_t gen_uniform(void) { return 1 + rnd() % 1000000; }
static uint64_t gen_exponential(void) { return clampv(-5000.0 * log(1.0 - rnd01())); }
static uint64_t gen_lognormal(void)
{
    double u1 = rnd01(), u2 = rnd01();
    double z = sqrt(-2.0 * log(1.0 - u1)) * cos(2 * M_PI * u2);
    return clampv(exp(9.0 + 1.5 * z)); /* median ~8 ms, long tail */
}
static uint64_t gen_bimodal(void)
{
    return rnd() % 10 ? 1500 + rnd() % 1000 : 400000 + rnd() % 200000;
}
static uint64_t gen_loguniform(void) { return clampv(exp(rnd01() * log((double)TK_HIST_MAX_US))); }
static uint64_t gen_small(void) { return rnd() % 300; } /* includes 0, which clamps to 1 */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Exact nearest-rank percentile of a sorted array (same rank rule as hist.c). */
static uint64_t exact_pct(const uint64_t *s, size_t n, double p)
{
    if (p <= 0)
        return s[0];
    if (p >= 100)
        return s[n - 1];
    double r = p / 100.0 * (double)n;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r - 1e-9)
        rank++;
    if (rank < 1)
        rank = 1;
    return s[rank - 1];
}

static void check_against_exact(gen_fn gen)
{
    uint64_t *vals = malloc(N * sizeof *vals);
    assert_non_null(vals);
    tk_hist *h = tk_hist_new();
    assert_non_null(h);
    long double sum = 0;
    for (size_t i = 0; i < N; i++) {
        uint64_t v = gen();
        tk_hist_record(h, v);
        vals[i] = v < 1 ? 1 : v; /* the histogram clamps 0 to 1 µs */
        sum += vals[i];
    }
    qsort(vals, N, sizeof *vals, cmp_u64);
    assert_int_equal(tk_hist_count(h), N);
    assert_int_equal(tk_hist_min(h), vals[0]);
    assert_int_equal(tk_hist_max(h), vals[N - 1]);
    assert_true(fabs(tk_hist_mean(h) - (double)(sum / N)) < 1e-6 * (double)(sum / N) + 1e-9);
    for (size_t i = 0; i < sizeof pcts / sizeof pcts[0]; i++) {
        uint64_t want = exact_pct(vals, N, pcts[i]);
        uint64_t got = tk_hist_percentile(h, pcts[i]);
        /* stated bound: want <= got <= want + want/128 */
        if (got < want || (double)(got - want) > (double)want / 128.0)
            fail_msg("p%.3f: exact %llu, hist %llu", pcts[i], (unsigned long long)want,
                     (unsigned long long)got);
    }
    tk_hist_free(h);
    free(vals);
}

static void test_uniform(void **state) { (void)state; check_against_exact(gen_uniform); }
static void test_exponential(void **state) { (void)state; check_against_exact(gen_exponential); }
static void test_lognormal(void **state) { (void)state; check_against_exact(gen_lognormal); }
static void test_bimodal(void **state) { (void)state; check_against_exact(gen_bimodal); }
static void test_loguniform(void **state) { (void)state; check_against_exact(gen_loguniform); }
static void test_small_values_exact(void **state) { (void)state; check_against_exact(gen_small); }

/* Every single value, around every power of two, reads back within the bound. */
static void test_single_value_sweep(void **state)
{
    (void)state;
    tk_hist *h = tk_hist_new();
    assert_non_null(h);
    for (int k = 0; k < 32; k++) {
        for (int d = -3; d <= 3; d++) {
            int64_t v = ((int64_t)1 << k) + d;
            if (v < 1 || (uint64_t)v > TK_HIST_MAX_US)
                continue;
            tk_hist_reset(h);
            tk_hist_record(h, (uint64_t)v);
            assert_int_equal(tk_hist_count(h), 1);
            assert_int_equal(tk_hist_min(h), v);
            assert_int_equal(tk_hist_max(h), v);
            /* with one value the max clamp makes every percentile exact */
            assert_int_equal(tk_hist_percentile(h, 50), v);
            assert_int_equal(tk_hist_percentile(h, 99.9), v);
            assert_true(tk_hist_mean(h) == (double)v);
        }
    }
    /* Two values far apart: the low one's percentile is within the bound. */
    for (uint64_t v = 1; v < TK_HIST_MAX_US / 2; v = v * 3 + 1) {
        tk_hist_reset(h);
        tk_hist_record(h, v);
        tk_hist_record(h, TK_HIST_MAX_US);
        uint64_t got = tk_hist_percentile(h, 50);
        assert_true(got >= v);
        assert_true((double)(got - v) <= (double)v / 128.0);
    }
    tk_hist_free(h);
}

static void test_empty(void **state)
{
    (void)state;
    tk_hist *h = tk_hist_new();
    assert_non_null(h);
    assert_int_equal(tk_hist_count(h), 0);
    assert_int_equal(tk_hist_min(h), 0);
    assert_int_equal(tk_hist_max(h), 0);
    assert_true(tk_hist_mean(h) == 0.0);
    assert_int_equal(tk_hist_percentile(h, 50), 0);
    assert_int_equal(tk_hist_percentile(h, 100), 0);
    /* merging an empty histogram changes nothing */
    tk_hist *e = tk_hist_new();
    tk_hist_record(h, 42);
    tk_hist_merge(h, e);
    assert_int_equal(tk_hist_count(h), 1);
    assert_int_equal(tk_hist_min(h), 42);
    /* merging into an empty one copies */
    tk_hist_merge(e, h);
    assert_int_equal(tk_hist_count(e), 1);
    assert_int_equal(tk_hist_min(e), 42);
    assert_int_equal(tk_hist_max(e), 42);
    tk_hist_free(e);
    tk_hist_free(h);
    tk_hist_free(NULL); /* harmless */
}

static void test_clamps(void **state)
{
    (void)state;
    tk_hist *h = tk_hist_new();
    assert_non_null(h);
    tk_hist_record(h, 0);
    assert_int_equal(tk_hist_min(h), 1);
    tk_hist_record(h, UINT64_MAX);
    tk_hist_record(h, TK_HIST_MAX_US + 1);
    assert_int_equal(tk_hist_max(h), TK_HIST_MAX_US);
    assert_int_equal(tk_hist_count(h), 3);
    assert_int_equal(tk_hist_percentile(h, 100), TK_HIST_MAX_US);
    assert_int_equal(tk_hist_percentile(h, 0), 1);
    assert_int_equal(tk_hist_percentile(h, -5), 1);
    assert_int_equal(tk_hist_percentile(h, 250), TK_HIST_MAX_US);
    assert_int_equal(tk_hist_percentile(h, 34), TK_HIST_MAX_US); /* rank 2 of 3 */
    assert_int_equal(tk_hist_percentile(h, 33.3), 1);
    assert_int_equal(tk_hist_percentile(h, 33.4), TK_HIST_MAX_US);
    tk_hist_reset(h);
    assert_int_equal(tk_hist_count(h), 0);
    assert_int_equal(tk_hist_max(h), 0);
    tk_hist_free(h);
}

static void test_merge_equals_recording_all(void **state)
{
    (void)state;
    tk_hist *all = tk_hist_new(), *parts[4], *merged = tk_hist_new();
    assert_non_null(all);
    assert_non_null(merged);
    for (int i = 0; i < 4; i++) {
        parts[i] = tk_hist_new();
        assert_non_null(parts[i]);
    }
    gen_fn gens[] = {gen_uniform, gen_lognormal, gen_bimodal, gen_loguniform};
    for (int i = 0; i < N; i++) {
        int part = (int)(rnd() % 4);
        uint64_t v = gens[part]();
        tk_hist_record(all, v);
        tk_hist_record(parts[part], v);
    }
    for (int i = 0; i < 4; i++)
        tk_hist_merge(merged, parts[i]);
    assert_int_equal(tk_hist_count(merged), tk_hist_count(all));
    assert_int_equal(tk_hist_min(merged), tk_hist_min(all));
    assert_int_equal(tk_hist_max(merged), tk_hist_max(all));
    assert_true(tk_hist_mean(merged) == tk_hist_mean(all));
    for (double p = 0; p <= 100.0; p += 0.5)
        assert_int_equal(tk_hist_percentile(merged, p), tk_hist_percentile(all, p));
    assert_int_equal(tk_hist_percentile(merged, 99.99), tk_hist_percentile(all, 99.99));
    for (int i = 0; i < 4; i++)
        tk_hist_free(parts[i]);
    tk_hist_free(merged);
    tk_hist_free(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_exponential),
        cmocka_unit_test(test_lognormal),
        cmocka_unit_test(test_bimodal),
        cmocka_unit_test(test_loguniform),
        cmocka_unit_test(test_small_values_exact),
        cmocka_unit_test(test_single_value_sweep),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_clamps),
        cmocka_unit_test(test_merge_equals_recording_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
