/* lib/queue.c without a backend: the admission-rate formula (the issue's
 * reference figure), per-tick quotas that add up to the rate, the wait
 * estimate, queue tokens (signed, expiring, bound to user and sale; forged,
 * tampered, expired and foreign tokens refused), and the fairness figure
 * (normalised Kendall tau distance) against a brute-force count. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/queue.h"

static const unsigned char KEY[] = "0123456789abcdef0123456789abcdef";
#define KEYLEN (sizeof KEY - 1)
static const unsigned char OTHER_KEY[] = "fedcba9876543210fedcba9876543210";
#define OTHER_KEYLEN (sizeof OTHER_KEY - 1)
#define NOW 1800000000LL

static int setup(void **state)
{
    (void)state;
    return sodium_init() < 0 ? -1 : 0;
}

/* Issue 6: 1,110 TPS / 7 calls per user * 60 * 0.7 = 6,636 users a minute. */
static void test_rate_reference_figure(void **state)
{
    (void)state;
    assert_true(fabs(tk_queue_rate_from_capacity(1110, 7, 0.7) - 6636.0) < 1e-6);
    /* exact divisions stay exact */
    assert_true(fabs(tk_queue_rate_from_capacity(700, 7, 1.0) - 6000.0) < 1e-9);
    assert_true(fabs(tk_queue_rate_from_capacity(1400, 7, 0.5) - 6000.0) < 1e-9);
    /* bad inputs */
    assert_true(tk_queue_rate_from_capacity(0, 7, 0.7) < 0);
    assert_true(tk_queue_rate_from_capacity(1110, 0, 0.7) < 0);
    assert_true(tk_queue_rate_from_capacity(1110, 7, 0) < 0);
    assert_true(tk_queue_rate_from_capacity(1110, 7, 1.5) < 0);
    assert_true(tk_queue_rate_from_capacity(NAN, 7, 0.7) < 0);
}

/* Quotas over a minute of 1 s ticks add up to the rate exactly, and no
 * tick differs from another by more than one user. */
static void test_tick_quota_sums_to_rate(void **state)
{
    (void)state;
    double rates[] = {6636, 60, 1, 90, 100000};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        int64_t sum = 0, lo = INT64_MAX, hi = 0;
        for (int64_t k = 0; k < 60; k++) {
            int64_t q = tk_queue_tick_quota(rates[r], 1000, k);
            sum += q;
            lo = q < lo ? q : lo;
            hi = q > hi ? q : hi;
        }
        assert_int_equal(sum, (int64_t)rates[r]);
        assert_true(hi - lo <= 1);
    }
    /* 6,636/min at 1 s: 110 or 111 per tick */
    assert_true(tk_queue_tick_quota(6636, 1000, 5) == 110 || tk_queue_tick_quota(6636, 1000, 5) == 111);
    /* 250 ms ticks at 60/min: one user every fourth tick */
    int64_t sum = 0;
    for (int64_t k = 0; k < 8; k++)
        sum += tk_queue_tick_quota(60, 250, k);
    assert_int_equal(sum, 2);
    assert_int_equal(tk_queue_tick_quota(0, 1000, 3), 0);
    assert_int_equal(tk_queue_tick_quota(60, 0, 3), 0);
}

/* The tick budget over the lines: proportional, within each line, all used. */
static void test_split_quota(void **state)
{
    (void)state;
    int64_t out[4];
    int64_t w1[] = {1000, 100, 0, 10};
    tk_queue_split_quota(111, w1, 4, out);
    assert_int_equal(out[0] + out[1] + out[2] + out[3], 111);
    assert_int_equal(out[2], 0);
    assert_true(out[0] >= 100 && out[0] <= 101); /* 111 * 1000 / 1110 = 100 */
    assert_true(out[1] >= 10 && out[1] <= 11);
    assert_true(out[3] <= 10);
    /* more budget than users: everyone */
    tk_queue_split_quota(5000, w1, 4, out);
    assert_int_equal(out[0], 1000);
    assert_int_equal(out[1], 100);
    assert_int_equal(out[3], 10);
    /* one user each in many lines, budget smaller than the lines */
    int64_t w2[] = {1, 1, 1, 1};
    tk_queue_split_quota(3, w2, 4, out);
    assert_int_equal(out[0] + out[1] + out[2] + out[3], 3);
    for (int i = 0; i < 4; i++)
        assert_true(out[i] <= 1);
    /* nothing to give, or nobody waiting */
    tk_queue_split_quota(0, w1, 4, out);
    assert_int_equal(out[0] + out[1] + out[2] + out[3], 0);
    int64_t w3[] = {0, 0, 0, 0};
    tk_queue_split_quota(10, w3, 4, out);
    assert_int_equal(out[0] + out[1] + out[2] + out[3], 0);
    /* random lines: never above a line, sums to min(quota, total) */
    for (int round = 0; round < 200; round++) {
        int64_t w[4], total = 0, sum = 0;
        for (int i = 0; i < 4; i++)
            total += (w[i] = (int64_t)randombytes_uniform(round % 2 ? 5 : 5000));
        int64_t q = (int64_t)randombytes_uniform(6000);
        tk_queue_split_quota(q, w, 4, out);
        for (int i = 0; i < 4; i++) {
            assert_true(out[i] >= 0 && out[i] <= w[i]);
            sum += out[i];
        }
        assert_int_equal(sum, q < total ? q : total);
    }
}

static void test_wait_estimate(void **state)
{
    (void)state;
    assert_int_equal(tk_queue_est_wait_s(0, 6000), 0);
    assert_int_equal(tk_queue_est_wait_s(100, 6000), 1);   /* 100 users at 100/s */
    assert_int_equal(tk_queue_est_wait_s(101, 6000), 2);   /* rounded up */
    assert_int_equal(tk_queue_est_wait_s(6636, 6636), 60); /* a minute's worth */
    /* shared budget: 2 ahead in a line of 3 while 3,000 wait in all = 2,000 users at 100/s */
    assert_int_equal(tk_queue_est_wait_shared_s(2, 3, 3000, 6000), 20);
    assert_int_equal(tk_queue_est_wait_shared_s(100, 100, 100, 6000), 1); /* the only line */
    assert_int_equal(tk_queue_est_wait_shared_s(100, 100, 0, 6000), 1);   /* no total yet */
    assert_int_equal(tk_queue_poll_after_ms(0, 1000, 0), 500);
    assert_int_equal(tk_queue_poll_after_ms(3, 1000, 0), 1500); /* half of what is left */
    assert_int_equal(tk_queue_poll_after_ms(10, 1000, 0), 5000);
    assert_int_equal(tk_queue_poll_after_ms(30, 1000, 0), 10000);
    assert_int_equal(tk_queue_poll_after_ms(3600, 1000, 0), 10000);
    assert_int_equal(tk_queue_poll_after_ms(3600, 1000, 20000), 20000); /* --poll-max 20s (Cloudflare's) */
    assert_int_equal(tk_queue_poll_after_ms(50, 1000, 20000), 20000);
    assert_int_equal(tk_queue_poll_after_ms(12, 1000, 20000), 6000);
}

static void test_kind_parse(void **state)
{
    (void)state;
    tk_queue_kind k;
    assert_int_equal(tk_queue_kind_parse("redis", &k), 0);
    assert_int_equal(k, TK_QUEUE_REDIS);
    assert_int_equal(tk_queue_kind_parse("mysql", &k), 0);
    assert_int_equal(k, TK_QUEUE_MYSQL);
    assert_int_equal(tk_queue_kind_parse("none", &k), 0);
    assert_int_equal(k, TK_QUEUE_NONE);
    assert_int_equal(tk_queue_kind_parse("Redis", &k), -1);
    assert_int_equal(tk_queue_kind_parse("", &k), -1);
    assert_null(tk_queue_backend(TK_QUEUE_NONE));
    assert_string_equal(tk_queue_backend(TK_QUEUE_REDIS)->name, "redis");
    assert_string_equal(tk_queue_backend(TK_QUEUE_MYSQL)->name, "mysql");
}

/* ---- tokens ---------------------------------------------------------------- */

static void test_token_roundtrip(void **state)
{
    (void)state;
    char tok[TK_QTOKEN_MAX];
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 7, 5, NOW, 3600, tok), 0);
    tk_qtoken c;
    memset(&c, 0xab, sizeof c);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, tok, 42, 7, NOW + 10, &c), TK_QTOKEN_OK);
    assert_int_equal(c.user, 42);
    assert_int_equal(c.sale, 7);
    assert_int_equal(c.seq, 5); /* the arrival number rides in the signed token */
    assert_int_equal(c.iat_s, NOW);
    assert_int_equal(c.exp_s, NOW + 3600);
    /* bad issue arguments */
    assert_int_equal(tk_qtoken_issue(KEY, 8, 42, 7, 5, NOW, 3600, tok), -1);
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 0, 7, 5, NOW, 3600, tok), -1);
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 0, 5, NOW, 3600, tok), -1);
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 7, 5, NOW, 0, tok), -1);
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 7, -1, NOW, 3600, tok), -1);
    /* a changed arrival number breaks the signature: nobody moves forward by editing it */
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 7, 123456, NOW, 3600, tok), 0);
    char *dot = strchr(strchr(strchr(tok + 3, '.') + 1, '.') + 1, '.');
    assert_true(dot && !strncmp(dot - 6, "123456", 6));
    dot[-6] = '0';
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, tok, 42, 7, NOW, NULL), TK_QTOKEN_INVALID);
}

static void test_token_expired(void **state)
{
    (void)state;
    char tok[TK_QTOKEN_MAX];
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 7, 5, NOW, 60, tok), 0);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, tok, 42, 7, NOW + 59, NULL), TK_QTOKEN_OK);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, tok, 42, 7, NOW + 60, NULL), TK_QTOKEN_EXPIRED);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, tok, 42, 7, NOW + 100000, NULL), TK_QTOKEN_EXPIRED);
}

static void test_token_other_user_or_sale(void **state)
{
    (void)state;
    char tok[TK_QTOKEN_MAX];
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 7, 5, NOW, 3600, tok), 0);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, tok, 43, 7, NOW, NULL), TK_QTOKEN_WRONG_USER);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, tok, 42, 8, NOW, NULL), TK_QTOKEN_WRONG_SALE);
}

/* Forgeries: another key, any changed character, a re-signed-looking
 * token with a changed user, truncation, garbage. */
static void test_token_forged(void **state)
{
    (void)state;
    char tok[TK_QTOKEN_MAX], bad[TK_QTOKEN_MAX + 8];
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 42, 7, 5, NOW, 3600, tok), 0);
    assert_int_equal(tk_qtoken_verify(OTHER_KEY, OTHER_KEYLEN, tok, 42, 7, NOW, NULL), TK_QTOKEN_INVALID);
    size_t n = strlen(tok);
    for (size_t i = 0; i < n; i++) { /* flip every character in turn */
        memcpy(bad, tok, n + 1);
        bad[i] = bad[i] == '1' ? '2' : '1';
        assert_int_not_equal(tk_qtoken_verify(KEY, KEYLEN, bad, 42, 7, NOW, NULL), TK_QTOKEN_OK);
    }
    /* the user field swapped for another's, signature kept: must not pass as 43 */
    char other[TK_QTOKEN_MAX];
    assert_int_equal(tk_qtoken_issue(KEY, KEYLEN, 43, 7, 5, NOW, 3600, other), 0);
    const char *mac = strrchr(tok, '.');
    const char *omac = strrchr(other, '.');
    snprintf(bad, sizeof bad, "%.*s%s", (int)(omac - other), other, mac);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, bad, 43, 7, NOW, NULL), TK_QTOKEN_INVALID);
    /* truncated, extended, garbage */
    memcpy(bad, tok, n - 1);
    bad[n - 1] = '\0';
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, bad, 42, 7, NOW, NULL), TK_QTOKEN_INVALID);
    snprintf(bad, sizeof bad, "%s0", tok);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, bad, 42, 7, NOW, NULL), TK_QTOKEN_INVALID);
    const char *junk[] = {"", "q1", "q1.....", "q1.42.7.1.2.", "q1.-1.7.1.2.00", "hello", "q1.42.7.x.y.zz"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, junk[i], 42, 7, NOW, NULL), TK_QTOKEN_INVALID);
    assert_int_equal(tk_qtoken_verify(KEY, KEYLEN, NULL, 42, 7, NOW, NULL), TK_QTOKEN_INVALID);
}

/* ---- stateless polls --------------------------------------------------------- */

/* The pre-queue rank is a permutation of 1..pre for every size (cycle
 * walking covers sizes that are not powers of four), depends on the keys,
 * and leaves arrival numbers past pre alone. */
static void test_prequeue_rank_is_permutation(void **state)
{
    (void)state;
    const uint32_t k[4] = {12345, 6789, 65535, 0}, k2[4] = {1, 2, 3, 4};
    int64_t sizes[] = {2, 3, 5, 16, 17, 100, 1000, 4097, 65537};
    for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
        int64_t pre = sizes[z];
        char *seen = calloc((size_t)pre + 1, 1);
        assert_non_null(seen);
        int64_t fixed = 0, differ = 0;
        for (int64_t s = 1; s <= pre; s++) {
            int64_t r = tk_queue_prequeue_rank(k, pre, s);
            assert_true(r >= 1 && r <= pre);
            assert_int_equal(seen[r], 0);
            seen[r] = 1;
            fixed += r == s;
            differ += r != tk_queue_prequeue_rank(k2, pre, s);
        }
        free(seen);
        if (pre >= 100) { /* shuffled, not the identity; other keys, another order */
            assert_true(fixed < pre / 10);
            assert_true(differ > pre / 2);
        }
    }
    assert_int_equal(tk_queue_prequeue_rank(k, 100, 101), 101);
    assert_int_equal(tk_queue_prequeue_rank(k, 100, 0), 0);
    assert_int_equal(tk_queue_prequeue_rank(k, 1, 1), 1);
}

static void test_stateless_poll(void **state)
{
    (void)state;
    tk_queue_sale_state st;
    memset(&st, 0, sizeof st);
    st.sale = 7;
    st.upto = 100;
    st.at_ms = 1000000;
    st.waiting = 900;
    st.open = 1;
    tk_qtoken t = {42, 7, 250, 0, 0};
    tk_queue_status s;
    /* FIFO: position from the token's number and upto, no backend */
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 1);
    assert_true(s.found);
    assert_false(s.admitted);
    assert_int_equal(s.position, 150);
    assert_int_equal(s.ahead, 149);
    assert_int_equal(s.seq, 250);
    assert_int_equal(s.line, 900);
    /* the next in line */
    t.seq = 101;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 1);
    assert_int_equal(s.position, 1);
    /* reached: the backend says until when (or that the admission ended) */
    t.seq = 100;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 0);
    t.seq = 1;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 0);
    /* no arrival number, a stale state, no state */
    t.seq = 0;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 0);
    t.seq = 250;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000000 + 10001, 10000, &s), 0);
    assert_int_equal(tk_queue_stateless_poll(NULL, &t, 1000500, 10000, &s), 0);
    st.at_ms = 0;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 0);
    st.at_ms = 1000000;
    /* pre-queue shuffled: a pre-queue token is ranked by the permutation */
    st.shuffled = 1;
    st.pre = 50;
    st.k[0] = 9;
    st.k[1] = 99;
    st.k[2] = 999;
    st.k[3] = 9999;
    st.upto = 10;
    int answered = 0, admitted = 0;
    for (int64_t q = 1; q <= 50; q++) {
        t.seq = q;
        int64_t r = tk_queue_prequeue_rank(st.k, 50, q);
        int a = tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s);
        if (a) {
            assert_true(r > 10);
            assert_int_equal(s.position, r - 10);
            answered++;
        } else {
            assert_true(r <= 10);
            admitted++;
        }
    }
    assert_int_equal(admitted, 10);
    assert_int_equal(answered, 40);
    t.seq = 60; /* after opening: rank = arrival */
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 1);
    assert_int_equal(s.position, 50);
    /* random queueing: a set bit means drawn; otherwise the whole line */
    unsigned char bits[4] = {0};
    bits[3] |= 0x80 >> (25 % 8); /* seq 25 */
    st.mode = TK_QUEUEING_RANDOM;
    st.bits = bits;
    st.nbits_bytes = sizeof bits;
    t.seq = 25;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 0);
    t.seq = 26;
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 1);
    assert_int_equal(s.position, 900);
    t.seq = 5000; /* past the bitmap: not drawn */
    assert_int_equal(tk_queue_stateless_poll(&st, &t, 1000500, 10000, &s), 1);
    /* the line's pace: 600 ranks in 1 s = 36,000 a minute, then averaged */
    tk_queue_sale_state a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.upto = 1000;
    a.at_ms = 5000;
    b.upto = 1600;
    b.at_ms = 6000;
    assert_true(fabs(tk_queue_advance_rate(&a, &b) - 36000.0) < 1e-6);
    a.advance_rate = 60000; /* it was faster: 0.8 * 60,000 + 0.2 * 36,000 */
    assert_true(fabs(tk_queue_advance_rate(&a, &b) - 55200.0) < 1e-6);
    b.at_ms = 5000; /* no time passed: unchanged */
    assert_true(fabs(tk_queue_advance_rate(&a, &b) - 60000.0) < 1e-6);
    b.at_ms = 7000;
    b.upto = 1000; /* stalled (the cap is full): the pace falls */
    assert_true(fabs(tk_queue_advance_rate(&a, &b) - 48000.0) < 1e-6);
    assert_true(tk_queue_advance_rate(NULL, &b) == 0);
    assert_int_equal(tk_queue_est_wait_s(1000000, 1e-300), 1000000000); /* stalled: capped, no overflow */
    int q = 0;
    assert_int_equal(tk_queue_queueing_parse("random", &q), 0);
    assert_int_equal(q, TK_QUEUEING_RANDOM);
    assert_int_equal(tk_queue_queueing_parse("fifo", &q), 0);
    assert_int_equal(q, TK_QUEUEING_FIFO);
    assert_int_equal(tk_queue_queueing_parse("lifo", &q), -1);
}

/* ---- fairness --------------------------------------------------------------- */

static double brute_kendall(const int64_t *a, const int64_t *b, size_t n)
{
    uint64_t d = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if ((a[i] < a[j] && b[i] > b[j]) || (a[i] > a[j] && b[i] < b[j]))
                d++;
    return (double)d / ((double)n * (double)(n - 1) / 2.0);
}

static void test_kendall_extremes(void **state)
{
    (void)state;
    int64_t a[100], b[100];
    for (int i = 0; i < 100; i++) {
        a[i] = i;
        b[i] = i * 3 + 5; /* same order, other scale */
    }
    assert_true(tk_queue_kendall_distance(a, b, 100) == 0.0);
    for (int i = 0; i < 100; i++)
        b[i] = 100 - i;
    assert_true(fabs(tk_queue_kendall_distance(a, b, 100) - 1.0) < 1e-12);
    /* one adjacent swap among 4: 1 pair of 6 */
    int64_t x[] = {1, 2, 3, 4}, y[] = {1, 3, 2, 4};
    assert_true(fabs(tk_queue_kendall_distance(x, y, 4) - 1.0 / 6.0) < 1e-12);
    assert_true(tk_queue_kendall_distance(x, y, 1) == 0.0);
}

static void test_kendall_matches_brute_force(void **state)
{
    (void)state;
    enum { N = 600 };
    int64_t a[N], b[N];
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < N; i++) {
            a[i] = (int64_t)randombytes_uniform(round % 2 ? 50 : 100000); /* odd rounds: many ties */
            b[i] = (int64_t)randombytes_uniform(round % 3 ? 100000 : 40);
        }
        double fast = tk_queue_kendall_distance(a, b, N), slow = brute_kendall(a, b, N);
        assert_true(fabs(fast - slow) < 1e-12);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_reference_figure),
        cmocka_unit_test(test_tick_quota_sums_to_rate),
        cmocka_unit_test(test_split_quota),
        cmocka_unit_test(test_wait_estimate),
        cmocka_unit_test(test_kind_parse),
        cmocka_unit_test(test_token_roundtrip),
        cmocka_unit_test(test_token_expired),
        cmocka_unit_test(test_token_other_user_or_sale),
        cmocka_unit_test(test_token_forged),
        cmocka_unit_test(test_prequeue_rank_is_permutation),
        cmocka_unit_test(test_stateless_poll),
        cmocka_unit_test(test_kendall_extremes),
        cmocka_unit_test(test_kendall_matches_brute_force),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
