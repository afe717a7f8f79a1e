/* The Redis lease with fencing tokens on the real Redis of the test stack:
 * one holder at a time, renewals keep the token, an expired holder loses
 * to a successor with a larger token, and a fenced effect of the stale
 * holder is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/hold.h"
#include "ticketctl/lease.h"

static itest_env env;
static redisContext *rc;

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&env) != 0)
        return -1;
    char err[256];
    rc = tk_redis_connect(env.b.redis, err, sizeof err);
    return rc ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    if (rc)
        redisFree(rc);
    itest_close(&env);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Run the fenced effect "SET KEYS[2] ARGV[2]" as holder l; returns the script's reply. */
static long long fenced_set(tk_lease *l, uint64_t fence, const char *key, const char *val)
{
    char script[512];
    snprintf(script, sizeof script, "%sredis.call('set', KEYS[2], ARGV[2]) return 1", tk_lease_fence_lua());
    redisReply *r = redisCommand(rc, "EVAL %s 2 %s %s %llu %s", script, l->fence_key, key, (unsigned long long)fence, val);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

static void test_one_holder_and_fencing(void **state)
{
    (void)state;
    char name[64];
    snprintf(name, sizeof name, "itest-%ld", (long)time(NULL) ^ (long)getpid());
    tk_lease a, b;
    tk_lease_init(&a, name, 300);
    tk_lease_init(&b, name, 300);
    assert_string_not_equal(a.owner, b.owner);

    assert_int_equal(tk_lease_acquire(&a, rc), 1);
    uint64_t fa = a.fence;
    assert_true(fa > 0);
    assert_int_equal(tk_lease_acquire(&b, rc), 0);
    assert_int_equal(b.fence, 0);
    /* a renewal keeps the token */
    assert_int_equal(tk_lease_acquire(&a, rc), 1);
    assert_int_equal(a.fence, fa);
    assert_int_equal(fenced_set(&a, fa, "tk:itest:lease:effect", "a"), 1);

    /* a pauses past its TTL; b takes over with a larger token */
    sleep_ms(450);
    assert_int_equal(tk_lease_acquire(&b, rc), 1);
    assert_true(b.fence > fa);
    /* the stale holder's effect is refused; the new holder's runs */
    assert_int_equal(fenced_set(&a, fa, "tk:itest:lease:effect", "stale"), -2);
    assert_int_equal(fenced_set(&b, b.fence, "tk:itest:lease:effect", "b"), 1);
    redisReply *r = redisCommand(rc, "GET tk:itest:lease:effect");
    assert_non_null(r);
    assert_string_equal(r->str, "b");
    freeReplyObject(r);
    /* and a cannot renew what it lost */
    assert_int_equal(tk_lease_acquire(&a, rc), 0);

    /* release by a non-holder is a no-op; by the holder frees it */
    tk_lease_release(&a, rc);
    assert_int_equal(tk_lease_acquire(&a, rc), 0);
    tk_lease_release(&b, rc);
    assert_int_equal(tk_lease_acquire(&a, rc), 1);
    assert_true(a.fence > fa);
    tk_lease_release(&a, rc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_holder_and_fencing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
