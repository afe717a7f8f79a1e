/* tk_nab: NAB standard-profile scoring on a hand-made series with a
 * hand-computed score, precision/recall/F1 arithmetic, CSV and label
 * parsing errors, timestamps, features and the z-score baseline. */
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

/* 20 rows one minute apart from 2014-01-01 00:00:00, value = row. */
static void make_series(char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "timestamp,value\n");
    for (int i = 0; i < 20; i++)
        at += (size_t)snprintf(buf + at, len - at, "2014-01-01 00:%02d:00,%d\n", i, i);
}

static void test_time(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(tk_nab_parse_time("1970-01-01 00:00:00", &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(tk_nab_parse_time("2014-02-26 13:45:00.000000", &t), 0);
    assert_int_equal(t, 1393422300);
    char buf[32];
    tk_nab_format_time(t, buf, sizeof buf);
    assert_string_equal(buf, "2014-02-26 13:45:00");
    assert_int_equal(tk_nab_parse_time("2016-02-29T23:59:59Z", &t), 0);
    tk_nab_format_time(t, buf, sizeof buf);
    assert_string_equal(buf, "2016-02-29 23:59:59");
    assert_int_equal(tk_nab_parse_time("2014-02-29 00:00:00", &t), -1); /* not a leap year */
    assert_int_equal(tk_nab_parse_time("2014-13-01 00:00:00", &t), -1);
    assert_int_equal(tk_nab_parse_time("2014-01-01 00:00", &t), -1);
    assert_int_equal(tk_nab_parse_time("2014-01-01 00:00:00x", &t), -1);
    assert_int_equal(tk_nab_parse_time("yesterday", &t), -1);
}

static void test_probation(void **state)
{
    (void)state;
    assert_int_equal(tk_nab_probation(20), 3);
    assert_int_equal(tk_nab_probation(4032), 604);
    assert_int_equal(tk_nab_probation(10000), 750); /* capped at 0.15 * 5000 */
}

/* The hand-computed case. Rows 0..19, probation = floor(0.15 * 20) = 3.
 * Windows (rows): A = [0, 1] (inside probation: not counted),
 * B = [10, 13] (width 4), C = [17, 18] (width 2).
 * Detections at rows 1, 5, 11, 12, 15:
 *   row 1   probation: ignored
 *   row 5   FP; the last window before it is A, d = (5 - 1) / (2 - 1) = 4
 *           >= 3, so sigma = -1: -0.11
 *   row 11  TP in B: pos = -(13 - 11 + 1) / 4 = -0.75,
 *           sigma(-0.75) / sigma(-1) = 0.96698908780006...
 *   row 12  TP in B, later than row 11: no extra credit
 *   row 15  FP after B: d = (15 - 13) / (4 - 1) = 2/3,
 *           0.11 * sigma(2/3) = -0.10242205695343...
 *   C       missed: -1
 * where sigma(y) = 2 / (1 + e^(5y)) - 1.
 * raw = -0.11 + 0.9669890878000605 - 0.10242205695343354 - 1
 *     = -0.24543296915337298; null = -2 (two counted windows); perfect = 2
 * (the first row of B and of C, both after probation, are worth 1 each);
 * normalised = 100 (raw + 2) / 4 = 43.86417577116568.
 * Point level: detections after probation 4 (rows 5, 11, 12, 15), TP 2,
 * FP 2, window rows after probation 4 + 2 = 6: P = 1/2, R = 1/3, F1 = 0.4. */
static void test_nab_score_hand_computed(void **state)
{
    (void)state;
    char csv[2048], err[256];
    make_series(csv, sizeof csv);
    tk_nab_series s;
    assert_int_equal(tk_nab_parse_csv(csv, strlen(csv), "t.csv", &s, err, sizeof err), TK_OK);
    assert_int_equal(s.n, 20);
    int64_t t0 = s.ts[0];
    tk_nab_window w[3] = {
        {t0, t0 + 60},
        {t0 + 10 * 60, t0 + 13 * 60},
        {t0 + 17 * 60 - 30, t0 + 18 * 60 + 30}, /* ends between rows still match rows 17..18 */
    };
    uint8_t det[20] = {0};
    det[1] = det[5] = det[11] = det[12] = det[15] = 1;
    tk_nab_result r;
    assert_int_equal(tk_nab_score(s.ts, s.n, det, w, 3, &r), TK_OK);
    assert_int_equal(r.rows, 20);
    assert_int_equal(r.windows, 2);
    assert_int_equal(r.windows_hit, 1);
    assert_int_equal(r.detections, 4);
    assert_int_equal(r.tp, 2);
    assert_int_equal(r.fp, 2);
    assert_int_equal(r.window_points, 6);
    assert_float_equal(r.raw, -0.24543296915337298, 1e-12);
    assert_float_equal(r.null_score, -2.0, 0);
    assert_float_equal(r.perfect, 2.0, 1e-12);
    assert_float_equal(tk_nab_normalised(&r), 43.86417577116568, 1e-9);
    assert_float_equal(tk_nab_precision(&r), 0.5, 1e-15);
    assert_float_equal(tk_nab_recall(&r), 1.0 / 3.0, 1e-15);
    assert_float_equal(tk_nab_f1(&r), 0.4, 1e-15);

    /* Never firing scores the null score (0); firing exactly at the first
     * row of each counted window scores the perfect one (100). */
    memset(det, 0, sizeof det);
    assert_int_equal(tk_nab_score(s.ts, s.n, det, w, 3, &r), TK_OK);
    assert_float_equal(r.raw, -2.0, 0);
    assert_float_equal(tk_nab_normalised(&r), 0.0, 1e-12);
    assert_float_equal(tk_nab_precision(&r), 0.0, 0);
    assert_float_equal(tk_nab_f1(&r), 0.0, 0);
    det[10] = det[17] = 1;
    assert_int_equal(tk_nab_score(s.ts, s.n, det, w, 3, &r), TK_OK);
    assert_float_equal(tk_nab_normalised(&r), 100.0, 1e-9);

    /* A detection on the last row of a window is worth sigma(-1/w)/sigma(-1). */
    memset(det, 0, sizeof det);
    det[13] = 1;
    assert_int_equal(tk_nab_score(s.ts, s.n, det, w + 1, 1, &r), TK_OK);
    double sig = 2.0 / (1.0 + exp(5.0 * -0.25)) - 1.0, max = 2.0 / (1.0 + exp(-5.0)) - 1.0;
    assert_float_equal(r.raw, sig / max, 1e-12);

    /* No windows: every detection is a flat -0.11; normalised is undefined. */
    memset(det, 0, sizeof det);
    det[4] = det[9] = 1;
    assert_int_equal(tk_nab_score(s.ts, s.n, det, NULL, 0, &r), TK_OK);
    assert_float_equal(r.raw, -0.22, 1e-12);
    assert_true(isnan(tk_nab_normalised(&r)));

    /* Totals add up field by field. */
    tk_nab_result a = {.detections = 4, .tp = 2, .fp = 2, .window_points = 6, .raw = 1, .null_score = -2, .perfect = 2};
    tk_nab_result b = {.detections = 6, .tp = 3, .fp = 3, .window_points = 4, .raw = -1, .null_score = -1, .perfect = 1};
    tk_nab_result t = {0};
    tk_nab_result_add(&t, &a);
    tk_nab_result_add(&t, &b);
    assert_int_equal(t.detections, 10);
    assert_float_equal(tk_nab_precision(&t), 0.5, 1e-15);
    assert_float_equal(tk_nab_recall(&t), 0.5, 1e-15);
    assert_float_equal(tk_nab_f1(&t), 0.5, 1e-15);
    assert_float_equal(tk_nab_normalised(&t), 100.0 * (0 + 3) / (3 + 3), 1e-12);
    tk_nab_series_free(&s);
    tk_nab_series_free(NULL);
}

static void expect_csv_error(const char *text, const char *needle)
{
    tk_nab_series s = {.n = 99};
    char err[256] = "";
    assert_int_equal(tk_nab_parse_csv(text, strlen(text), "bad.csv", &s, err, sizeof err), TK_EINVAL);
    assert_int_equal(s.n, 0);
    assert_null(s.ts);
    if (!strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_csv_errors(void **state)
{
    (void)state;
    expect_csv_error("", "empty file");
    expect_csv_error("timestamp,value\n", "no data rows");
    expect_csv_error("time,val\n2014-01-01 00:00:00,1\n", "bad.csv:1: expected the NAB header");
    expect_csv_error("timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00\n", "bad.csv:3: expected 2 columns");
    expect_csv_error("timestamp,value\n2014-01-01 00:00:00,1,2\n", "bad.csv:2: expected 2 columns");
    expect_csv_error("timestamp,value\n2014/01/01 00:00:00,1\n", "bad.csv:2: bad timestamp '2014/01/01 00:00:00'");
    expect_csv_error("timestamp,value\n2014-01-01 00:00:00,abc\n", "bad.csv:2: bad value 'abc'");
    expect_csv_error("timestamp,value\n2014-01-01 00:00:00,1.5x\n", "bad value");
    expect_csv_error("timestamp,value\n2014-01-01 00:00:00,nan\n", "finite");
    expect_csv_error("timestamp,value\n2014-01-01 00:05:00,1\n2014-01-01 00:00:00,2\n",
                     "bad.csv:3: timestamp 2014-01-01 00:00:00 is before");

    /* Accepted: CRLF, a BOM, no final newline, repeated timestamps (DST). */
    const char *ok = "\xEF\xBB\xBFtimestamp,value\r\n2014-01-01 00:00:00,1\r\n2014-01-01 00:00:00,2e3\r\n"
                     "2014-01-01 00:05:00,-0.5";
    tk_nab_series s;
    char err[256];
    assert_int_equal(tk_nab_parse_csv(ok, strlen(ok), "ok.csv", &s, err, sizeof err), TK_OK);
    assert_int_equal(s.n, 3);
    assert_float_equal(s.value[1], 2000.0, 0);
    assert_float_equal(s.value[2], -0.5, 0);
    tk_nab_series_free(&s);

    assert_int_equal(tk_nab_load_csv("/nonexistent/x.csv", &s, err, sizeof err), TK_EIO);
    assert_non_null(strstr(err, "/nonexistent/x.csv"));
}

static int write_tmp(char *path, const char *text)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return 0;
}

static void test_labels(void **state)
{
    (void)state;
    char path[] = "/tmp/test_nab_XXXXXX", err[256];
    write_tmp(path, "{\"dir/a.csv\": [[\"2014-01-01 00:10:00.000000\", \"2014-01-01 00:13:00.000000\"]],"
                    " \"dir/b.csv\": []}");
    tk_nab_labels *l;
    assert_int_equal(tk_nab_labels_load(path, &l, err, sizeof err), TK_OK);
    const tk_nab_window *w;
    size_t nw;
    assert_int_equal(tk_nab_labels_find(l, "dir/a.csv", &w, &nw), 0);
    assert_int_equal(nw, 1);
    assert_int_equal(w[0].end - w[0].start, 180);
    assert_int_equal(tk_nab_labels_find(l, "dir/b.csv", &w, &nw), 0);
    assert_int_equal(nw, 0);
    assert_int_equal(tk_nab_labels_find(l, "dir/c.csv", &w, &nw), -1);
    tk_nab_labels_free(l);
    tk_nab_labels_free(NULL);
    unlink(path);

    static const struct {
        const char *text, *needle;
    } bad[] = {
        {"{\"a\": [[\"2014-01-01 00:00:00\"", "not valid JSON"},
        {"[1, 2]", "expected an object"},
        {"{\"a\": 3}", "expected a list"},
        {"{\"a\": [[\"2014-01-01 00:00:00\", 5]]}", "window 0"},
        {"{\"a\": [[\"2014-01-02 00:00:00\", \"2014-01-01 00:00:00\"]]}", "start after end"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char p2[] = "/tmp/test_nab_XXXXXX";
        write_tmp(p2, bad[i].text);
        l = (tk_nab_labels *)1;
        assert_int_equal(tk_nab_labels_load(p2, &l, err, sizeof err), TK_EINVAL);
        assert_null(l);
        if (!strstr(err, bad[i].needle))
            fail_msg("labels error '%s' does not mention '%s'", err, bad[i].needle);
        unlink(p2);
    }
    assert_int_equal(tk_nab_labels_load("/nonexistent/w.json", &l, err, sizeof err), TK_EIO);
}

static void test_features_and_zscore(void **state)
{
    (void)state;
    unsigned mask;
    assert_int_equal(tk_nab_feature_parse("z,value", &mask), 0);
    assert_int_equal(mask, TK_NAB_F_VALUE | TK_NAB_F_Z);
    assert_int_equal(tk_nab_feature_parse("all", &mask), 0);
    assert_int_equal(tk_nab_feature_dims(mask), 5);
    assert_int_equal(tk_nab_feature_parse("value,bogus", &mask), -1);
    assert_int_equal(tk_nab_feature_parse("", &mask), -1);
    char buf[64];
    tk_nab_feature_format(TK_NAB_F_DIFF | TK_NAB_F_STD, buf, sizeof buf);
    assert_string_equal(buf, "diff,std");

    /* v = 1, 3, 1, 3, 1, 3, 11: trailing window 4 before the last row is
     * {1, 3, 1, 3}: mean 2, population std 1, so z = 9 and mean delta 9. */
    double v[7] = {1, 3, 1, 3, 1, 3, 11};
    tk_nab_features cfg = {.mask = TK_NAB_F_VALUE | TK_NAB_F_DIFF | TK_NAB_F_MEAN | TK_NAB_F_Z, .window = 4};
    double x[7 * 4];
    assert_int_equal(tk_nab_compute_features(v, 7, &cfg, x), TK_OK);
    const double *last = x + 6 * 4;
    assert_float_equal(last[0], 11, 0);
    assert_float_equal(last[1], 8, 0);
    assert_float_equal(last[2], 9, 1e-12);
    assert_float_equal(last[3], 9, 1e-12);
    assert_float_equal(x[1], 0, 0); /* diff of row 0 */
    /* Causal: changing the future does not change the past. */
    double v2[7] = {1, 3, 1, 3, 1, 3, -50}, x2[7 * 4];
    assert_int_equal(tk_nab_compute_features(v2, 7, &cfg, x2), TK_OK);
    assert_memory_equal(x, x2, 6 * 4 * sizeof *x);
    cfg.window = 1;
    assert_int_equal(tk_nab_compute_features(v, 7, &cfg, x), TK_EINVAL);

    double z[7];
    tk_nab_zscore(v, 7, 4, z);
    assert_float_equal(z[6], 9, 1e-12);
    assert_float_equal(z[0], 0, 0);
    double flat[4] = {5, 5, 5, 6};
    tk_nab_zscore(flat, 4, 4, z);
    assert_float_equal(z[2], 0, 0);
    assert_true(z[3] >= 1e9);
}

static void test_detectors_run(void **state)
{
    (void)state;
    /* A noisy sine with one spike: both detectors fire on the spike. */
    enum { N = 1000 };
    tk_nab_series s = {.n = N, .ts = malloc(N * sizeof(int64_t)), .value = malloc(N * sizeof(double))};
    for (int i = 0; i < N; i++) {
        s.ts[i] = 1388534400 + 300 * i;
        s.value[i] = 10 + sin(i / 10.0) + 0.05 * ((i * 7919) % 13);
    }
    s.value[700] = 40;
    tk_nab_detector d;
    tk_nab_detector_defaults(&d);
    uint8_t df[N], dz[N];
    double sc[N];
    char err[256];
    assert_int_equal(tk_nab_run_forest(&s, &d, sc, df, err, sizeof err), TK_OK);
    assert_int_equal(tk_nab_run_zscore(&s, &d, dz), TK_OK);
    assert_true(df[700]);
    assert_true(dz[700]);
    for (int i = 0; i < N; i++)
        assert_true(sc[i] <= sc[700]);
    free(s.ts);
    free(s.value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_probation),
        cmocka_unit_test(test_nab_score_hand_computed),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_labels),
        cmocka_unit_test(test_features_and_zscore),
        cmocka_unit_test(test_detectors_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
