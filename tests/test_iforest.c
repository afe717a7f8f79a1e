/* tk_iforest: c(n), path lengths on a hand-built tree, determinism, seeds,
 * save/load round trip, corrupt/truncated/wrong-version models, and planted
 * outliers on synthetic 2-D data. Includes iforest.c to reach its statics. */
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

#include "iforest.c"

/* Deterministic test data: xorshift64* and a Box-Muller normal. */
static uint64_t trng = 0x9E3779B97F4A7C15ULL;
static double tu01(void)
{
    trng ^= trng >> 12;
    trng ^= trng << 25;
    trng ^= trng >> 27;
    return ((double)((trng * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}
static double tnorm(void) { return sqrt(-2 * log(tu01())) * cos(2 * M_PI * tu01()); }

#define NIN 1000
#define NOUT 10
#define NPTS (NIN + NOUT)

/* 2-D: a tight Gaussian blob of NIN inliers; NOUT outliers on a ring at
 * radius 6..8 (the last NOUT rows). */
static double *make_2d(void)
{
    double *x = malloc(NPTS * 2 * sizeof *x);
    assert_non_null(x);
    trng = 42;
    for (int i = 0; i < NIN; i++) {
        x[2 * i] = tnorm();
        x[2 * i + 1] = tnorm();
    }
    for (int i = 0; i < NOUT; i++) {
        double a = 2 * M_PI * i / NOUT, r = 6 + 2 * tu01();
        x[2 * (NIN + i)] = r * cos(a);
        x[2 * (NIN + i) + 1] = r * sin(a);
    }
    return x;
}

static tk_iforest *train_2d(const double *x, uint64_t seed)
{
    char err[256];
    tk_iforest_params p = {.trees = 100, .psi = 256, .seed = seed};
    tk_iforest *f = tk_iforest_train(x, NPTS, 2, &p, err, sizeof err);
    assert_non_null(f);
    if (!f)
        abort(); /* cmocka's assert is not noreturn: tell -O3's bounds analysis f is set */
    return f;
}

static void test_c_values(void **state)
{
    (void)state;
    assert_true(tk_iforest_c(0) == 0.0);
    assert_true(tk_iforest_c(1) == 0.0);
    assert_true(tk_iforest_c(2) == 1.0);
    /* c(3) = 2 H(2) - 4/3 = 3 - 4/3 = 5/3; c(4) = 2 H(3) - 3/2 = 13/6. */
    assert_float_equal(tk_iforest_c(3), 5.0 / 3.0, 1e-15);
    assert_float_equal(tk_iforest_c(4), 13.0 / 6.0, 1e-15);
    /* Exact: 2 H(255) - 510/256 = 10.248689925634562 (checked with Python
     * fractions.Fraction). */
    assert_float_equal(tk_iforest_c(256), 10.248689925634562, 1e-12);
    /* The asymptotic branch joins the exact sum smoothly. */
    double below = tk_iforest_c(4097), above = tk_iforest_c(4098);
    assert_true(above > below && above - below < 1e-3);
    assert_int_equal(height_limit(256), 8);
    assert_int_equal(height_limit(255), 8);
    assert_int_equal(height_limit(257), 9);
    assert_int_equal(height_limit(2), 1);
}

/* Serialise a tree by hand: the helpers write exactly the file format. */
typedef struct hb {
    uint8_t b[1024];
    size_t n;
} hb;
static void hput(hb *h, uint64_t v, int bytes)
{
    for (int k = 0; k < bytes; k++)
        h->b[h->n++] = (uint8_t)(v >> (8 * k));
}
static void hleaf(hb *h, uint32_t size)
{
    hput(h, 1, 1);
    hput(h, size, 4);
}
static void hsplit(hb *h, uint16_t attr, double split, uint32_t left)
{
    uint64_t u;
    memcpy(&u, &split, 8);
    hput(h, 0, 1);
    hput(h, attr, 2);
    hput(h, u, 8);
    hput(h, left, 4);
}
static void hheader(hb *h, uint32_t version, uint32_t dims, uint32_t trees, uint32_t psi)
{
    memcpy(h->b, "TKIFORST", 8);
    h->n = 8;
    hput(h, version, 4);
    hput(h, dims, 4);
    hput(h, trees, 4);
    hput(h, psi, 4);
    hput(h, 7, 8); /* seed */
    hput(h, 0, 4); /* no meta */
}
static void hfinish(hb *h) { hput(h, fnv1a(h->b, h->n), 8); }

/* One tree over 1 attribute, psi 4 (height limit 2):
 *   0: x < 0.5 ? 1 : 2;  1: leaf size 1 (depth 1);
 *   2: x < 2.0 ? 3 : 4;  3: leaf size 1 (depth 2);  4: leaf size 2 (depth 2). */
static void hand_tree(hb *h, uint32_t version)
{
    hheader(h, version, 1, 1, 4);
    hput(h, 5, 4);
    hsplit(h, 0, 0.5, 1);
    hleaf(h, 1);
    hsplit(h, 0, 2.0, 3);
    hleaf(h, 1);
    hleaf(h, 2);
    hfinish(h);
}

static void test_path_lengths_hand_tree(void **state)
{
    (void)state;
    hb h = {0};
    hand_tree(&h, TK_IFOREST_VERSION);
    tk_iforest *f;
    char err[256];
    assert_int_equal(tk_iforest_deserialize(h.b, h.n, &f, err, sizeof err), TK_OK);
    double x0 = 0.0, x1 = 1.0, x2 = 3.0, edge = 0.5, nan = NAN;
    /* depth + c(size): 1 + c(1) = 1, 2 + c(1) = 2, 2 + c(2) = 3. */
    assert_float_equal(tk_iforest_path_length(f, &x0), 1.0, 0);
    assert_float_equal(tk_iforest_path_length(f, &x1), 2.0, 0);
    assert_float_equal(tk_iforest_path_length(f, &x2), 3.0, 0);
    assert_float_equal(tk_iforest_path_length(f, &edge), 2.0, 0); /* x >= split goes right */
    assert_float_equal(tk_iforest_path_length(f, &nan), 1.0, 0);  /* NaN goes left */
    /* s = 2^(-E[h] / c(psi)), c(4) = 13/6. */
    assert_float_equal(tk_iforest_score(f, &x0), pow(2, -1.0 / (13.0 / 6.0)), 1e-15);
    assert_float_equal(tk_iforest_score(f, &x2), pow(2, -3.0 / (13.0 / 6.0)), 1e-15);
    double xs[3] = {0.0, 1.0, 3.0}, out[3];
    tk_iforest_score_many(f, xs, 3, out);
    for (int i = 0; i < 3; i++)
        assert_true(out[i] == tk_iforest_score(f, &xs[i]));
    tk_iforest_free(f);
}

static void test_deterministic_and_seeded(void **state)
{
    (void)state;
    double *x = make_2d();
    tk_iforest *a = train_2d(x, 123), *b = train_2d(x, 123), *c = train_2d(x, 124);
    double *sa = malloc(NPTS * sizeof *sa), *sb = malloc(NPTS * sizeof *sb), *sc = malloc(NPTS * sizeof *sc);
    tk_iforest_score_many(a, x, NPTS, sa);
    tk_iforest_score_many(b, x, NPTS, sb);
    tk_iforest_score_many(c, x, NPTS, sc);
    assert_memory_equal(sa, sb, NPTS * sizeof *sa); /* bit for bit */
    int differ = 0;
    for (int i = 0; i < NPTS; i++)
        differ += sa[i] != sc[i];
    assert_true(differ > NPTS / 2);
    /* Serialised models: same seed same bytes, other seed other bytes. */
    uint8_t *ba, *bb, *bc;
    size_t la, lb, lc;
    assert_int_equal(tk_iforest_serialize(a, &ba, &la), TK_OK);
    assert_int_equal(tk_iforest_serialize(b, &bb, &lb), TK_OK);
    assert_int_equal(tk_iforest_serialize(c, &bc, &lc), TK_OK);
    assert_int_equal(la, lb);
    assert_memory_equal(ba, bb, la);
    assert_true(la != lc || memcmp(ba, bc, la) != 0);
    /* Single-point scoring agrees with the block scorer bit for bit. */
    for (int i = 0; i < NPTS; i += 37)
        assert_true(tk_iforest_score(a, x + 2 * i) == sa[i]);
    free(ba);
    free(bb);
    free(bc);
    free(sa);
    free(sb);
    free(sc);
    tk_iforest_free(a);
    tk_iforest_free(b);
    tk_iforest_free(c);
    free(x);
}

static void test_save_load_round_trip(void **state)
{
    (void)state;
    double *x = make_2d();
    tk_iforest *a = train_2d(x, 9);
    assert_int_equal(tk_iforest_set_meta(a, "features=value window=48"), 0);
    char path[] = "/tmp/test_iforest_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char err[256];
    assert_int_equal(tk_iforest_save(a, path, err, sizeof err), TK_OK);
    tk_iforest *b = NULL;
    assert_int_equal(tk_iforest_load(path, &b, err, sizeof err), TK_OK);
    assert_string_equal(tk_iforest_meta(b), "features=value window=48");
    assert_int_equal(tk_iforest_trees(b), 100);
    assert_int_equal(tk_iforest_psi(b), 256);
    assert_int_equal(tk_iforest_dims(b), 2);
    assert_int_equal(tk_iforest_seed(b), 9);
    assert_int_equal(tk_iforest_node_count(b), tk_iforest_node_count(a));
    double *sa = malloc(NPTS * sizeof *sa), *sb = malloc(NPTS * sizeof *sb);
    tk_iforest_score_many(a, x, NPTS, sa);
    tk_iforest_score_many(b, x, NPTS, sb);
    assert_memory_equal(sa, sb, NPTS * sizeof *sa);
    unlink(path);
    tk_iforest *gone = NULL;
    assert_int_equal(tk_iforest_load(path, &gone, err, sizeof err), TK_EIO);
    assert_null(gone);
    assert_non_null(strstr(err, path));
    free(sa);
    free(sb);
    tk_iforest_free(a);
    tk_iforest_free(b);
    free(x);
}

static void expect_reject(const uint8_t *buf, size_t len, const char *needle)
{
    tk_iforest *f = (tk_iforest *)1;
    char err[256] = "";
    assert_int_equal(tk_iforest_deserialize(buf, len, &f, err, sizeof err), TK_EINVAL);
    assert_null(f);
    if (needle && !strstr(err, needle))
        fail_msg("error '%s' does not mention '%s'", err, needle);
}

static void test_corrupt_models_rejected(void **state)
{
    (void)state;
    double *x = make_2d();
    tk_iforest *a = train_2d(x, 5);
    uint8_t *buf;
    size_t len;
    assert_int_equal(tk_iforest_serialize(a, &buf, &len), TK_OK);
    uint8_t *copy = malloc(len);

    /* Every truncation, from empty to one byte short. */
    for (size_t n = 0; n < len; n += (n < 64 ? 1 : 97))
        expect_reject(buf, n, NULL);
    expect_reject(buf, len - 1, NULL);
    expect_reject(buf, 4, "magic");
    /* A flipped byte anywhere: magic, version or checksum catches it. */
    for (size_t at = 0; at < len; at += (at < 64 ? 1 : 101)) {
        memcpy(copy, buf, len);
        copy[at] ^= 0x5A;
        expect_reject(copy, len, NULL);
    }
    memcpy(copy, buf, len);
    copy[len / 2] ^= 1;
    expect_reject(copy, len, "checksum");
    memcpy(copy, buf, len);
    copy[0] = 'X';
    expect_reject(copy, len, "magic");
    /* Trailing garbage. */
    uint8_t *longer = malloc(len + 3);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 3);
    expect_reject(longer, len + 3, NULL);

    /* Wrong version, with a valid checksum: the message names the version. */
    hb h = {0};
    hand_tree(&h, 2);
    expect_reject(h.b, h.n, "version 2");
    /* Structurally bad trees with valid checksums. */
    hheader(&h, 1, 1, 1, 4); /* child index pointing back at the root */
    hput(&h, 3, 4);
    hsplit(&h, 0, 0.5, 0);
    hleaf(&h, 2);
    hleaf(&h, 2);
    hfinish(&h);
    expect_reject(h.b, h.n, "inconsistent");
    hheader(&h, 1, 1, 1, 4); /* leaf sizes do not add up to psi */
    hput(&h, 3, 4);
    hsplit(&h, 0, 0.5, 1);
    hleaf(&h, 1);
    hleaf(&h, 1);
    hfinish(&h);
    expect_reject(h.b, h.n, "add up");
    hheader(&h, 1, 1, 1, 4); /* attribute out of range */
    hput(&h, 3, 4);
    hsplit(&h, 3, 0.5, 1);
    hleaf(&h, 2);
    hleaf(&h, 2);
    hfinish(&h);
    expect_reject(h.b, h.n, "inconsistent");
    hheader(&h, 1, 1, 1, 4); /* NaN split */
    hput(&h, 3, 4);
    hsplit(&h, 0, NAN, 1);
    hleaf(&h, 2);
    hleaf(&h, 2);
    hfinish(&h);
    expect_reject(h.b, h.n, "inconsistent");
    hheader(&h, 1, 1, 1, 4); /* deeper than the height limit (2) */
    hput(&h, 7, 4);
    hsplit(&h, 0, 0.5, 1);
    hleaf(&h, 1);
    hsplit(&h, 0, 1.0, 3);
    hleaf(&h, 1);
    hsplit(&h, 0, 2.0, 5);
    hleaf(&h, 1);
    hleaf(&h, 1);
    hfinish(&h);
    expect_reject(h.b, h.n, "inconsistent");
    hheader(&h, 1, 0, 1, 4); /* zero dims */
    hfinish(&h);
    expect_reject(h.b, h.n, "out of range");

    /* A file on disk that is not a model. */
    char path[] = "/tmp/test_iforest_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "timestamp,value\n", 16), 16);
    close(fd);
    tk_iforest *f = NULL;
    char err[256];
    assert_int_equal(tk_iforest_load(path, &f, err, sizeof err), TK_EINVAL);
    assert_null(f);
    assert_non_null(strstr(err, "magic"));
    unlink(path);

    free(longer);
    free(copy);
    free(buf);
    tk_iforest_free(a);
    free(x);
}

static void test_planted_outliers(void **state)
{
    (void)state;
    double *x = make_2d();
    tk_iforest *f = train_2d(x, 1);
    double s[NPTS];
    tk_iforest_score_many(f, x, NPTS, s);
    double max_in = 0, min_out = 1, mean_in = 0;
    for (int i = 0; i < NIN; i++) {
        mean_in += s[i] / NIN;
        if (s[i] > max_in)
            max_in = s[i];
    }
    for (int i = NIN; i < NPTS; i++)
        if (s[i] < min_out)
            min_out = s[i];
    /* Every planted outlier outscores the typical inlier by a wide margin,
     * and scores as anomalous in the paper's sense (> 0.6). */
    assert_true(min_out > 0.6);
    assert_true(mean_in < 0.5);
    assert_true(min_out > mean_in + 0.15);
    /* AUC: fraction of (outlier, inlier) pairs ranked correctly. */
    size_t good = 0;
    for (int o = NIN; o < NPTS; o++)
        for (int i = 0; i < NIN; i++)
            good += s[o] > s[i];
    assert_true((double)good / (NIN * NOUT) > 0.99);
    (void)max_in;
    tk_iforest_free(f);
    free(x);
}

static void test_train_rejects_bad_input(void **state)
{
    (void)state;
    char err[256];
    double x[6] = {1, 2, 3, NAN, 5, 6};
    tk_iforest_params p = {0};
    assert_null(tk_iforest_train(x, 1, 1, &p, err, sizeof err));
    assert_non_null(strstr(err, "at least 2"));
    assert_null(tk_iforest_train(x, 6, 1, &p, err, sizeof err));
    assert_non_null(strstr(err, "finite"));
    assert_null(tk_iforest_train(x, 3, 0, &p, err, sizeof err));
    p.psi = 1;
    assert_null(tk_iforest_train(x, 3, 1, &p, err, sizeof err));
    /* psi larger than n is capped at n; defaults fill in 0 fields. */
    double y[5] = {1, 2, 3, 4, 100};
    p = (tk_iforest_params){0};
    tk_iforest *f = tk_iforest_train(y, 5, 1, &p, err, sizeof err);
    assert_non_null(f);
    assert_int_equal(tk_iforest_psi(f), 5);
    assert_int_equal(tk_iforest_trees(f), 100);
    assert_true(tk_iforest_score(f, &y[4]) > tk_iforest_score(f, &y[1]));
    /* Constant data: nothing to split, every point scores alike. */
    double k[4] = {2, 2, 2, 2};
    tk_iforest *g = tk_iforest_train(k, 4, 1, &p, err, sizeof err);
    assert_non_null(g);
    assert_float_equal(tk_iforest_path_length(g, &k[0]), tk_iforest_c(4), 1e-12);
    char big[TK_IFOREST_META_MAX + 1];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(tk_iforest_set_meta(g, big), -1);
    tk_iforest_free(f);
    tk_iforest_free(g);
    tk_iforest_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c_values),
        cmocka_unit_test(test_path_lengths_hand_tree),
        cmocka_unit_test(test_deterministic_and_seeded),
        cmocka_unit_test(test_save_load_round_trip),
        cmocka_unit_test(test_corrupt_models_rejected),
        cmocka_unit_test(test_planted_outliers),
        cmocka_unit_test(test_train_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
