/* tk_online: the causal streaming detectors. The windowed Gaussian by hand
 * and against NAB's published per-record results, causality (a changed
 * future never changes a past score), scale-freedom of the forest, the
 * forest's probation and refit schedule, suppression, the incident logic,
 * model metadata and the train -> from_model hand-over, bad parameters. */
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

#include "ticketctl/common.h"
#include "ticketctl/nab.h"
#include "ticketctl/online.h"

/* A noisy daily-ish wave, value i of n, deterministic. */
static double wave(size_t i)
{
    return 10.0 + 2.0 * sin((double)i / 15.0) + 0.3 * (double)((i * 7919u) % 13u) / 13.0;
}

static void test_wgauss_by_hand(void **state)
{
    (void)state;
    tk_online_params p;
    tk_online_defaults(TK_ONLINE_WGAUSS, &p);
    assert_int_equal(p.window, 6400);
    assert_int_equal(p.step, 100);
    p.window = 4;
    p.step = 2;
    char err[128];
    tk_online *d = tk_online_new(&p, err, sizeof err);
    assert_non_null(d);
    /* first record: 0; second: the window {1} has std 0 -> 1e-6, so any
     * other value is ~1 */
    assert_float_equal(tk_online_update(d, 1), 0.0, 0);
    assert_float_equal(tk_online_update(d, 3), 1.0, 1e-12);
    /* window {1, 3}: mean 2, std 1; x = 3 -> z = 1 -> 1 - Q(1) */
    assert_float_equal(tk_online_update(d, 3), 1.0 - 0.5 * erfc(1.0 / sqrt(2.0)), 1e-12);
    /* window {1, 3, 3}: mean 7/3; x = 7/3 -> z = 0 -> 0.5 (the score is
     * symmetric and never below 0.5 after the first record) */
    assert_float_equal(tk_online_update(d, 7.0 / 3.0), 0.5, 1e-12);
    tk_online_free(d);
    tk_online_free(NULL);
}

/* The corpus, as in test_nab.c: beside the checkout, or TICKETCTL_NAB. */
static int nab_root(char *root, size_t len)
{
    char here[1024], probe[1200];
    snprintf(here, sizeof here, "%s", __FILE__);
    char *slash = strrchr(here, '/');
    if (slash)
        *slash = '\0';
    for (int up = 0; up < 3; up++) {
        if (getenv("TICKETCTL_NAB"))
            snprintf(root, len, "%s", getenv("TICKETCTL_NAB"));
        else
            snprintf(root, len, "%s/../%s%sshared/data/nab", here, up > 0 ? "../" : "", up > 1 ? "../" : "");
        snprintf(probe, sizeof probe, "%s/combined_windows.json", root);
        if (access(probe, R_OK) == 0)
            return 0;
    }
    return -1;
}

/* Our windowed Gaussian gives NAB's own published per-record scores (they
 * are written with 12 significant digits). */
static void test_wgauss_matches_nab_results(void **state)
{
    (void)state;
    char root[1100], path[1400], err[256];
    if (nab_root(root, sizeof root) != 0)
        skip();
    snprintf(path, sizeof path, "%s/results/windowedGaussian/realKnownCause/windowedGaussian_nyc_taxi.csv", root);
    tk_nab_series s;
    assert_int_equal(tk_nab_load_csv(path, &s, err, sizeof err), TK_OK);
    assert_non_null(s.score);
    tk_online_params p;
    tk_online_defaults(TK_ONLINE_WGAUSS, &p);
    double *sc = malloc(s.n * sizeof *sc);
    assert_int_equal(tk_online_run(&p, s.value, s.n, sc, err, sizeof err), TK_OK);
    double worst = 0;
    for (size_t i = 0; i < s.n; i++)
        worst = fmax(worst, fabs(sc[i] - s.score[i]));
    assert_true(worst < 1e-9);
    assert_true(s.n > 10000);
    free(sc);
    tk_nab_series_free(&s);
}

/* Score of every record of v[n] for each kind; then the same with the
 * second half replaced: the first half's scores must not move. */
static void test_causal(void **state)
{
    (void)state;
    enum { N = 1600 };
    static double a[N], b[N], sa[N], sb[N];
    for (size_t i = 0; i < N; i++)
        a[i] = b[i] = wave(i);
    for (size_t i = N / 2; i < N; i++)
        b[i] = 1000.0 - 3.0 * wave(i);
    char err[128];
    for (int k = TK_ONLINE_WGAUSS; k <= TK_ONLINE_CAD; k++) {
        tk_online_params p;
        tk_online_defaults((tk_online_kind)k, &p);
        p.probation = 200;
        p.likelihood = k == TK_ONLINE_ZSCORE ? 300 : 0;
        assert_int_equal(tk_online_run(&p, a, N, sa, err, sizeof err), TK_OK);
        assert_int_equal(tk_online_run(&p, b, N, sb, err, sizeof err), TK_OK);
        for (size_t i = 0; i < N; i++) {
            assert_true(sa[i] >= 0 && sa[i] <= 1);
            if (i < N / 2 && sa[i] != sb[i])
                fail_msg("%s: record %zu changed by the future (%.17g vs %.17g)",
                         tk_online_kind_name((tk_online_kind)k), i, sa[i], sb[i]);
        }
        /* ...and the detectors do see the change at N/2 */
        double before = 0, after = 0;
        for (size_t i = N / 2 - 100; i < N / 2; i++)
            before = fmax(before, sb[i]);
        for (size_t i = N / 2; i < N / 2 + 10; i++) /* the likelihood's short mean lags */
            after = fmax(after, sb[i]);
        if (!(after > before))
            fail_msg("%s: the change scores %.6f, the 100 records before up to %.6f",
                     tk_online_kind_name((tk_online_kind)k), after, before);
    }
}

/* The forest: quiet (0) through probation, fitted at its end, refitted on
 * schedule; a spike later scores above every normal record; multiplying
 * the series by 1000 and shifting it changes no score (scale-free
 * features). */
static void test_forest_schedule_spike_and_scale(void **state)
{
    (void)state;
    enum { N = 3000, SPIKE = 2500 };
    static double v[N], w[N], sv[N], sw[N];
    for (size_t i = 0; i < N; i++)
        v[i] = wave(i);
    v[SPIKE] = 30;
    for (size_t i = 0; i < N; i++)
        w[i] = 1000.0 * v[i] + 5e4;
    tk_online_params p;
    tk_online_defaults(TK_ONLINE_FOREST, &p);
    p.probation = 500;
    p.suppress_probation = 0;
    char err[128];
    tk_online *d = tk_online_new(&p, err, sizeof err);
    assert_non_null(d);
    for (size_t i = 0; i < N; i++) {
        sv[i] = tk_online_update(d, v[i]);
        if (i + 1 < p.probation) {
            assert_float_equal(sv[i], 0.0, 0);
            assert_null(tk_online_forest(d));
        }
    }
    /* first fit after record 500, then one per 64 records */
    assert_int_equal(tk_online_fits(d), 1 + (N - 500) / 64);
    assert_non_null(tk_online_forest(d));
    tk_online_free(d);
    /* (the 8 records after it are odd too: their spread and change
     * features still see the spike) */
    for (size_t i = p.probation; i < N; i++)
        if ((i < SPIKE || i >= SPIKE + 8) && sv[i] >= sv[SPIKE])
            fail_msg("record %zu scores %.4f >= the spike's %.4f", i, sv[i], sv[SPIKE]);
    /* a value beyond every training point follows the most extreme one's
     * path (isolation does not extrapolate), so its score is that of the
     * training extreme: clearly above the median, not near 1 */
    assert_true(sv[SPIKE] > 0.6);
    assert_int_equal(tk_online_run(&p, w, N, sw, err, sizeof err), TK_OK);
    for (size_t i = 0; i < N; i++)
        assert_float_equal(sw[i], sv[i], 1e-9);
}

static void test_suppression(void **state)
{
    (void)state;
    /* zscore on a flat-ish series with two spikes 5 apart: with suppress 10
     * the second, smaller spike is zeroed; a larger one passes. */
    enum { N = 200 };
    static double v[N], s0[N], s1[N];
    for (size_t i = 0; i < N; i++)
        v[i] = wave(i);
    v[100] = 40;
    v[105] = 30;
    v[110] = 1e4;
    tk_online_params p;
    tk_online_defaults(TK_ONLINE_ZSCORE, &p);
    char err[128];
    assert_int_equal(tk_online_run(&p, v, N, s0, err, sizeof err), TK_OK);
    p.suppress = 10;
    assert_int_equal(tk_online_run(&p, v, N, s1, err, sizeof err), TK_OK);
    assert_true(s0[105] > 0.5);
    assert_float_equal(s1[100], s0[100], 0);
    assert_float_equal(s1[105], 0.0, 0);
    assert_float_equal(s1[110], s0[110], 0);
    /* suppress_probation: f x probation records */
    tk_online_defaults(TK_ONLINE_ZSCORE, &p);
    p.suppress_probation = 0.5;
    p.probation = 20;
    assert_int_equal(tk_online_run(&p, v, N, s1, err, sizeof err), TK_OK);
    assert_float_equal(s1[105], 0.0, 0);
}

static void test_incident(void **state)
{
    (void)state;
    tk_incident in = {.persist = 2, .rearm = 3};
    /* a lone anomalous record does not start an incident */
    assert_int_equal(tk_incident_step(&in, 1), 0);
    assert_int_equal(tk_incident_step(&in, 0), 0);
    /* two in a row do, once */
    assert_int_equal(tk_incident_step(&in, 1), 0);
    assert_int_equal(tk_incident_step(&in, 1), 1);
    assert_int_equal(tk_incident_step(&in, 1), 0);
    /* two normal ones do not end it; three do, and the next one alerts */
    assert_int_equal(tk_incident_step(&in, 0), 0);
    assert_int_equal(tk_incident_step(&in, 0), 0);
    assert_int_equal(tk_incident_step(&in, 1), 0);
    assert_int_equal(tk_incident_step(&in, 1), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(tk_incident_step(&in, 0), 0);
    assert_int_equal(tk_incident_step(&in, 1), 0);
    assert_int_equal(tk_incident_step(&in, 1), 1);
}

/* train -> model metadata -> from_model: the handed-over forest scores the
 * same as the one streaming eval fits at the end of its probation. */
static void test_train_and_model(void **state)
{
    (void)state;
    enum { N = 800 };
    static double v[N];
    for (size_t i = 0; i < N; i++)
        v[i] = wave(i);
    tk_online_params p;
    tk_online_defaults(TK_ONLINE_FOREST, &p);
    tk_iforest *f;
    tk_online_model m;
    char err[256];
    assert_int_equal(tk_online_train(&p, v, 10, &f, &m, err, sizeof err), TK_EINVAL);
    assert_int_equal(tk_online_train(&p, v, N, &f, &m, err, sizeof err), TK_OK);
    assert_int_equal(m.rows, N);
    assert_int_equal(m.window, p.window);
    assert_int_equal(m.refit, p.refit);
    assert_true(m.sd > 0);
    tk_online_model back;
    assert_int_equal(tk_online_meta_read(tk_iforest_meta(f), &back), 0);
    assert_float_equal(back.mean, m.mean, 0);
    assert_float_equal(back.hi, m.hi, 0);
    assert_int_equal(tk_online_meta_read("features=all window=48", &back), -1);
    assert_int_equal(tk_online_meta_read("online window=8 train=6400 refit=64 rows=9 mean=1 sd=0 range=0,1", &back),
                     -1);

    /* round trip through bytes, as a model file */
    uint8_t *buf;
    size_t len;
    assert_int_equal(tk_iforest_serialize(f, &buf, &len), TK_OK);
    tk_iforest *g;
    assert_int_equal(tk_iforest_deserialize(buf, len, &g, err, sizeof err), TK_OK);
    free(buf);
    tk_online *a = tk_online_from_model(f, &m, err, sizeof err);
    tk_online *b = tk_online_from_model(g, &back, err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    /* both continue identically; the trained forest sees a spike (after a
     * few normal records: a detector starts without history, so its first
     * window-many records have partial features) */
    for (size_t i = 0; i < 10; i++)
        assert_float_equal(tk_online_update(a, wave(N + i)), tk_online_update(b, wave(N + i)), 0);
    double spike_a = tk_online_update(a, 40), spike_b = tk_online_update(b, 40);
    assert_float_equal(spike_a, spike_b, 0);
    assert_true(spike_a > 0.6);
    for (size_t i = 0; i < 30; i++) { /* once the spike has left the feature window */
        double sc = tk_online_update(a, wave(N + 20 + i));
        if (i >= 10)
            assert_true(sc < spike_a);
    }
    tk_online_free(a);
    tk_online_free(b);

    /* a forest of other dims is refused and stays the caller's */
    double x[40];
    for (int i = 0; i < 40; i++)
        x[i] = i % 7;
    tk_iforest *h = tk_iforest_train(x, 20, 2, &p.forest, err, sizeof err);
    assert_non_null(h);
    assert_null(tk_online_from_model(h, &m, err, sizeof err));
    tk_iforest_free(h);
}

static void test_bad_params(void **state)
{
    (void)state;
    char err[256];
    tk_online_params p;
    tk_online_defaults(TK_ONLINE_FOREST, &p);
    p.probation = 3;
    assert_null(tk_online_new(&p, err, sizeof err));
    assert_non_null(strstr(err, "probation"));
    tk_online_defaults(TK_ONLINE_WGAUSS, &p);
    p.step = 0;
    assert_null(tk_online_new(&p, err, sizeof err));
    tk_online_defaults(TK_ONLINE_ZSCORE, &p);
    p.window = 1;
    assert_null(tk_online_new(&p, err, sizeof err));
    tk_online_defaults(TK_ONLINE_ZSCORE, &p);
    p.likelihood = 5;
    p.lik_short = 6;
    assert_null(tk_online_new(&p, err, sizeof err));
    tk_online_kind k;
    assert_int_equal(tk_online_kind_parse("ensemble", &k), 0);
    assert_int_equal(k, TK_ONLINE_ENSEMBLE);
    assert_int_equal(tk_online_kind_parse("htm", &k), -1);
    assert_string_equal(tk_online_kind_name(TK_ONLINE_WGAUSS), "wgauss");
    /* a non-finite value scores 1 and is not learnt */
    tk_online_defaults(TK_ONLINE_ZSCORE, &p);
    tk_online *d = tk_online_new(&p, err, sizeof err);
    for (int i = 0; i < 10; i++)
        tk_online_update(d, 1 + i % 2);
    assert_float_equal(tk_online_update(d, NAN), 1.0, 0);
    assert_true(tk_online_update(d, 1.5) < 0.5);
    tk_online_free(d);
}

/* A cad model file: detect replays its rows into a fresh detector (range
 * frozen at theirs, rest 0), so the scores that follow equal one detector
 * run over rows + stream with calibration = rows; a file that is not a
 * model is refused. */
static void test_cad_model(void **state)
{
    (void)state;
    enum { ROWS = 300, MORE = 200 };
    static double v[ROWS + MORE], want[ROWS + MORE];
    for (size_t i = 0; i < ROWS + MORE; i++)
        v[i] = wave(i) + (i == ROWS + 100 ? 40.0 : 0.0);
    char path[] = "/tmp/test_online_cad_XXXXXX", err[256];
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(tk_online_cad_model_save(path, v, ROWS, err, sizeof err), TK_OK);
    tk_online_model m;
    tk_online *d = tk_online_open_model(path, &m, err, sizeof err);
    assert_non_null(d);
    assert_int_equal(m.kind, TK_ONLINE_CAD);
    assert_int_equal(m.rows, ROWS);
    tk_online_params p;
    tk_online_defaults(TK_ONLINE_CAD, &p);
    p.probation = ROWS;
    p.cad_rest = 0;
    assert_int_equal(tk_online_run(&p, v, ROWS + MORE, want, err, sizeof err), TK_OK);
    for (size_t i = ROWS; i < ROWS + MORE; i++) {
        double got = tk_online_update(d, v[i]);
        if (got != want[i])
            fail_msg("record %zu: %.17g from the model, %.17g in one run", i, got, want[i]);
    }
    assert_true(want[ROWS + 100] > 0.5); /* the spike is seen */
    tk_online_free(d);
    FILE *f = fopen(path, "w");
    fputs("ticketctl cad model v1 rows=5 range=0,1\n1\n", f);
    fclose(f);
    assert_null(tk_online_open_model(path, &m, err, sizeof err));
    assert_non_null(strstr(err, "cad model"));
    assert_int_equal(tk_online_cad_model_save(path, v, 10, err, sizeof err), TK_EINVAL);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wgauss_by_hand),
        cmocka_unit_test(test_wgauss_matches_nab_results),
        cmocka_unit_test(test_causal),
        cmocka_unit_test(test_forest_schedule_spike_and_scale),
        cmocka_unit_test(test_suppression),
        cmocka_unit_test(test_incident),
        cmocka_unit_test(test_train_and_model),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_cad_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
