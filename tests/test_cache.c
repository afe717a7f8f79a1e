/* tk_cache: hits return an independent copy, invalidation fences out puts
 * that read before it (and only those), clear fences everything earlier,
 * entries expire, the size bound holds without losing the newest key, the
 * counters count, and concurrent use neither crashes nor corrupts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketctl/cache.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* get that must hit with exactly `want` (NUL-free comparison by length) */
static void expect_hit(tk_cache *c, const char *key, const char *want, size_t wlen)
{
    char *out = NULL;
    size_t len = 12345;
    assert_int_equal(tk_cache_get(c, key, &out, &len), 1);
    assert_non_null(out);
    assert_int_equal(len, wlen);
    assert_memory_equal(out, want, wlen);
    free(out);
}

static void expect_miss(tk_cache *c, const char *key)
{
    char *out = NULL;
    size_t len = 12345;
    assert_int_equal(tk_cache_get(c, key, &out, &len), 0);
    assert_null(out); /* a miss does not hand out a buffer */
}

/* Fixture: the test's cache lives in *state so teardown frees it even when
 * an assertion fails part way (keeps ASan's leak report about the code). */
static tk_cache *fx(void **state, size_t max_entries, int64_t ttl_ms)
{
    tk_cache *c = tk_cache_new(max_entries, ttl_ms);
    assert_non_null(c);
    *state = c;
    return c;
}

static int teardown(void **state)
{
    tk_cache_free(*state);
    *state = NULL;
    return 0;
}

static void test_miss_then_hit(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    expect_miss(c, "dates:1");
    assert_int_equal(tk_cache_put(c, "dates:1", "[1,2,3]", 7, tk_cache_seq(c)), 1);
    expect_hit(c, "dates:1", "[1,2,3]", 7);
    expect_miss(c, "dates:2");
    expect_miss(c, "dates:");
    expect_miss(c, "dates:11");

    /* overwrite replaces the body */
    assert_int_equal(tk_cache_put(c, "dates:1", "[]", 2, tk_cache_seq(c)), 1);
    expect_hit(c, "dates:1", "[]", 2);

    /* binary body with embedded NULs, and an empty body */
    static const char bin[] = {'a', '\0', 'b', '\0', 'c'};
    assert_int_equal(tk_cache_put(c, "bin", bin, sizeof bin, tk_cache_seq(c)), 1);
    expect_hit(c, "bin", bin, sizeof bin);
    assert_int_equal(tk_cache_put(c, "empty", "", 0, tk_cache_seq(c)), 1);
    char *out = NULL;
    size_t len = 99;
    assert_int_equal(tk_cache_get(c, "empty", &out, &len), 1);
    assert_int_equal(len, 0);
    free(out);
}

static void test_copies_are_independent(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    char body[] = "{\"seats\":[1,2]}";
    assert_int_equal(tk_cache_put(c, "seats:9", body, strlen(body), tk_cache_seq(c)), 1);
    body[0] = 'X'; /* the cache copied on put */
    char *out = NULL;
    size_t len = 0;
    assert_int_equal(tk_cache_get(c, "seats:9", &out, &len), 1);
    assert_int_equal(len, strlen(body));
    assert_memory_equal(out, "{\"seats\":[1,2]}", len);
    memset(out, 'Z', len); /* ...and on get */
    free(out);
    expect_hit(c, "seats:9", "{\"seats\":[1,2]}", strlen(body));
}

static void test_invalidate(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    uint64_t s0 = tk_cache_seq(c);
    assert_int_equal(tk_cache_put(c, "k", "old", 3, s0), 1);
    tk_cache_invalidate(c, "k");
    expect_miss(c, "k");
    uint64_t s1 = tk_cache_seq(c);
    assert_true(s1 > s0);

    /* a reader that read before the invalidation cannot re-insert */
    assert_int_equal(tk_cache_put(c, "k", "stale", 5, s0), 0);
    expect_miss(c, "k");
    /* one that read after it can */
    assert_int_equal(tk_cache_put(c, "k", "fresh", 5, s1), 1);
    expect_hit(c, "k", "fresh", 5);

    /* the fence is per key: an invalidation of another key does not drop it */
    uint64_t s2 = tk_cache_seq(c);
    tk_cache_invalidate(c, "other");
    assert_int_equal(tk_cache_put(c, "k2", "v", 1, s2), 1);
    expect_hit(c, "k2", "v", 1);
}

/* Invalidating a key never cached leaves a tombstone that still fences. */
static void test_invalidate_uncached_key(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    uint64_t s0 = tk_cache_seq(c);
    tk_cache_invalidate(c, "never");
    expect_miss(c, "never");
    assert_int_equal(tk_cache_put(c, "never", "stale", 5, s0), 0);
    expect_miss(c, "never");
    assert_int_equal(tk_cache_put(c, "never", "new", 3, tk_cache_seq(c)), 1);
    expect_hit(c, "never", "new", 3);

    /* a second invalidation fences the seq read after the first */
    uint64_t s1 = tk_cache_seq(c);
    tk_cache_invalidate(c, "never");
    assert_int_equal(tk_cache_put(c, "never", "x", 1, s1), 0);
    expect_miss(c, "never");
}

static int drop_x(char *body, size_t *len, void *arg)
{
    (void)arg;
    char *x = memchr(body, 'x', *len);
    if (!x)
        return 0;
    if (x[1] == '!')
        return -1; /* the editor gives up: the body must go */
    memmove(x, x + 1, *len - (size_t)(x - body) - 1);
    (*len)--;
    return 1;
}

/* tk_cache_edit keeps the body, edited in place, and fences like an invalidation. */
static void test_edit(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    uint64_t s0 = tk_cache_seq(c);
    assert_int_equal(tk_cache_put(c, "m", "abxcd", 5, s0), 1);
    tk_cache_edit(c, "m", drop_x, NULL);
    expect_hit(c, "m", "abcd", 4);
    /* a reader that read before the edit cannot put its older body back */
    assert_int_equal(tk_cache_put(c, "m", "abxcd", 5, s0), 0);
    expect_hit(c, "m", "abcd", 4);
    /* nothing to edit: the body stays as it is */
    tk_cache_edit(c, "m", drop_x, NULL);
    expect_hit(c, "m", "abcd", 4);
    /* the editor refuses: the entry is dropped */
    assert_int_equal(tk_cache_put(c, "m", "ax!", 3, tk_cache_seq(c)), 1);
    tk_cache_edit(c, "m", drop_x, NULL);
    expect_miss(c, "m");
    /* an uncached key gets a fencing tombstone, as with tk_cache_invalidate */
    uint64_t s1 = tk_cache_seq(c);
    tk_cache_edit(c, "none", drop_x, NULL);
    expect_miss(c, "none");
    assert_int_equal(tk_cache_put(c, "none", "old", 3, s1), 0);
    assert_int_equal(tk_cache_put(c, "none", "new", 3, tk_cache_seq(c)), 1);
    expect_hit(c, "none", "new", 3);
}

static void test_clear(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    uint64_t s0 = tk_cache_seq(c);
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(tk_cache_put(c, key, "v", 1, s0), 1);
    }
    tk_cache_clear(c);
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "k%d", i);
        expect_miss(c, key);
    }
    /* puts that read before the clear are dropped, for any key */
    assert_int_equal(tk_cache_put(c, "k1", "stale", 5, s0), 0);
    assert_int_equal(tk_cache_put(c, "brand-new", "stale", 5, s0), 0);
    expect_miss(c, "k1");
    expect_miss(c, "brand-new");
    /* puts that read after it are stored */
    uint64_t s1 = tk_cache_seq(c);
    assert_true(s1 > s0);
    assert_int_equal(tk_cache_put(c, "k1", "fresh", 5, s1), 1);
    expect_hit(c, "k1", "fresh", 5);
}

static void test_ttl(void **state)
{
    tk_cache *c = fx(state, 100, 50);
    assert_int_equal(tk_cache_put(c, "t", "v", 1, tk_cache_seq(c)), 1);
    expect_hit(c, "t", "v", 1);
    sleep_ms(80);
    expect_miss(c, "t");
    /* and a put afterwards refreshes it */
    assert_int_equal(tk_cache_put(c, "t", "w", 1, tk_cache_seq(c)), 1);
    expect_hit(c, "t", "w", 1);
}

static void test_bounded(void **state)
{
    const size_t max = 64;
    tk_cache *c = fx(state, max, 60000);
    char key[32], body[32];
    int last = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof key, "concerts:%d", i);
        snprintf(body, sizeof body, "body-%d", i);
        assert_int_equal(tk_cache_put(c, key, body, strlen(body), tk_cache_seq(c)), 1);
        last = i;
        expect_hit(c, key, body, strlen(body)); /* the key just put is always there */
    }
    snprintf(key, sizeof key, "concerts:%d", last);
    snprintf(body, sizeof body, "body-%d", last);
    expect_hit(c, key, body, strlen(body));

    /* far fewer than 20000 survive: the bound holds (16 shards of max/16+1) */
    int hits = 0;
    for (int i = 0; i < 20000; i++) {
        char *out = NULL;
        size_t len;
        snprintf(key, sizeof key, "concerts:%d", i);
        int rc = tk_cache_get(c, key, &out, &len);
        assert_true(rc == 0 || rc == 1);
        if (rc == 1) {
            snprintf(body, sizeof body, "body-%d", i);
            assert_int_equal(len, strlen(body));
            assert_memory_equal(out, body, len);
            hits++;
        }
        free(out);
    }
    print_message("survivors: %d of 20000 (max_entries %zu)\n", hits, max);
    assert_true(hits >= 1);
    assert_true((size_t)hits <= max + 16);
}

/* The fence must survive the size bound: a key invalidated at seq S still
 * refuses a put read before S even after its shard overflowed and was
 * emptied. (Otherwise a slow reader re-inserts data older than the write.) */
static void test_fence_survives_eviction(void **state)
{
    tk_cache *c = fx(state, 32, 60000);
    uint64_t before = tk_cache_seq(c); /* slow reader notes seq, queries... */
    assert_int_equal(tk_cache_put(c, "seats:7", "old", 3, before), 1);
    tk_cache_invalidate(c, "seats:7"); /* ...a writer commits and invalidates... */
    assert_int_equal(tk_cache_put(c, "seats:7", "old", 3, before), 0);

    char key[32];
    for (int i = 0; i < 2000; i++) { /* ...other traffic overflows every shard... */
        snprintf(key, sizeof key, "concerts:%d", i);
        assert_int_equal(tk_cache_put(c, key, "v", 1, tk_cache_seq(c)), 1);
    }
    /* ...and the slow reader's stale put arrives last: it must be dropped */
    assert_int_equal(tk_cache_put(c, "seats:7", "old", 3, before), 0);
    expect_miss(c, "seats:7");
}

static void test_stats(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    uint64_t h = 99, m = 99;
    tk_cache_stats(c, &h, &m);
    assert_int_equal(h, 0);
    assert_int_equal(m, 0);
    expect_miss(c, "a");
    expect_miss(c, "b");
    tk_cache_put(c, "a", "1", 1, tk_cache_seq(c));
    expect_hit(c, "a", "1", 1);
    expect_hit(c, "a", "1", 1);
    expect_hit(c, "a", "1", 1);
    tk_cache_invalidate(c, "a");
    expect_miss(c, "a"); /* a tombstone is a miss */
    tk_cache_stats(c, &h, &m);
    assert_int_equal(h, 3);
    assert_int_equal(m, 3);
}

static void test_free_null(void **state)
{
    (void)state;
    tk_cache_free(NULL);
}

/* ---- concurrency ---------------------------------------------------------- */

#define NTHREADS 4
#define OPS 10000
#define NKEYS 50

typedef struct {
    tk_cache *c;
    unsigned seed;
    int idx;
    int bad; /* bodies that did not belong to their key */
} stress_arg;

static void *stress(void *p)
{
    stress_arg *a = p;
    char key[32], body[64], *out;
    size_t len;
    for (int i = 0; i < OPS; i++) {
        a->seed = a->seed * 1103515245u + 12345u;
        unsigned r = a->seed >> 8;
        int k = (int)(r % NKEYS);
        snprintf(key, sizeof key, "k:%d", k);
        switch ((r >> 8) % 8) {
        case 0: tk_cache_invalidate(a->c, key); break;
        case 1:
        case 2:
        case 3: {
            uint64_t seq = tk_cache_seq(a->c);
            int n = snprintf(body, sizeof body, "body of k:%d #%d", k, i);
            int rc = tk_cache_put(a->c, key, body, (size_t)n, seq);
            if (rc != 0 && rc != 1)
                a->bad++;
            break;
        }
        default:
            out = NULL;
            if (tk_cache_get(a->c, key, &out, &len) == 1) {
                char prefix[32];
                int pn = snprintf(prefix, sizeof prefix, "body of k:%d #", k);
                if (len < (size_t)pn || memcmp(out, prefix, (size_t)pn))
                    a->bad++;
            }
            free(out);
        }
        if (a->idx == 0 && i % 2500 == 1250)
            tk_cache_clear(a->c);
    }
    return NULL;
}

static void test_threads(void **state)
{
    tk_cache *c = fx(state, NKEYS / 2, 60000); /* small, so shards also get emptied */
    pthread_t t[NTHREADS];
    stress_arg a[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        a[i] = (stress_arg){.c = c, .seed = 0x1234u + (unsigned)i * 7919u, .idx = i};
        assert_int_equal(pthread_create(&t[i], NULL, stress, &a[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(a[i].bad, 0);
    }
    uint64_t h, m;
    tk_cache_stats(c, &h, &m);
    assert_true(h + m > 0);
    assert_true(h + m <= (uint64_t)NTHREADS * OPS);

    /* still fully functional afterwards */
    uint64_t s = tk_cache_seq(c);
    tk_cache_invalidate(c, "k:1");
    assert_int_equal(tk_cache_put(c, "k:1", "x", 1, s), 0);
    assert_int_equal(tk_cache_put(c, "k:1", "y", 1, tk_cache_seq(c)), 1);
    expect_hit(c, "k:1", "y", 1);
}

/* Single flight: while a leader reads key, every other reader of it waits
 * and then finds the leader's fill; nobody else leads. */
struct follower_arg {
    tk_cache *c;
    int lead;
    int hit;
};

static void *follower(void *p)
{
    struct follower_arg *a = p;
    a->lead = tk_cache_flight_begin(a->c, "seats:7", 5000);
    char *out = NULL;
    size_t len;
    a->hit = tk_cache_get(a->c, "seats:7", &out, &len);
    if (a->lead == 1)
        tk_cache_flight_end(a->c, "seats:7");
    free(out);
    return NULL;
}

static void test_single_flight(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    uint64_t seq = tk_cache_seq(c);
    assert_int_equal(tk_cache_flight_begin(c, "seats:7", 1000), 1); /* this thread leads */
    pthread_t t[8];
    struct follower_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (struct follower_arg){c, -2, -2};
        assert_int_equal(pthread_create(&t[i], NULL, follower, &a[i]), 0);
    }
    sleep_ms(50); /* they are waiting now: the "database read" */
    assert_int_equal(tk_cache_put(c, "seats:7", "map", 3, seq), 1);
    tk_cache_flight_end(c, "seats:7");
    for (int i = 0; i < 8; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(a[i].lead, 0);
        assert_int_equal(a[i].hit, 1);
    }
    uint64_t leaders, followers;
    tk_cache_flight_stats(c, &leaders, &followers);
    assert_int_equal(leaders, 1);
    assert_int_equal(followers, 8);
    /* another key is not held up; the ended key leads again */
    assert_int_equal(tk_cache_flight_begin(c, "seats:8", 1000), 1);
    tk_cache_flight_end(c, "seats:8");
    assert_int_equal(tk_cache_flight_begin(c, "seats:7", 1000), 1);
    tk_cache_flight_end(c, "seats:7");
}

static void test_single_flight_timeout(void **state)
{
    tk_cache *c = fx(state, 100, 60000);
    assert_int_equal(tk_cache_flight_begin(c, "dates:1", 1000), 1); /* a leader that never ends in time */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(tk_cache_flight_begin(c, "dates:1", 60), 0); /* gives up waiting: reads itself */
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 55 && ms < 2000);
    tk_cache_flight_end(c, "dates:1");
    tk_cache_flight_end(c, "dates:1"); /* ending an unknown flight is harmless */
}

#define T(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_miss_then_hit),
        T(test_copies_are_independent),
        T(test_invalidate),
        T(test_invalidate_uncached_key),
        T(test_edit),
        T(test_clear),
        T(test_ttl),
        T(test_bounded),
        T(test_fence_survives_eviction),
        T(test_stats),
        cmocka_unit_test(test_free_null),
        T(test_threads),
        T(test_single_flight),
        T(test_single_flight_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
