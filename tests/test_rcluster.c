/* Slots and URLs of the Redis Cluster client (lib/rcluster.c). Expected
 * slots are what a Redis 7.0 cluster answers to CLUSTER KEYSLOT; the CRC
 * check value is the one the Redis Cluster spec gives for CRC16/XMODEM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "ticketctl/hold.h"
#include "ticketctl/rcluster.h"

static int slot(const char *k) { return tk_redis_slot(k, strlen(k)); }

static void test_crc16_check_value(void **state)
{
    (void)state;
    assert_int_equal(tk_redis_crc16("123456789", 9), 0x31C3);
    assert_int_equal(tk_redis_crc16("", 0), 0);
}

static void test_slots_as_redis_computes_them(void **state)
{
    (void)state;
    assert_int_equal(slot("somekey"), 11058);
    assert_int_equal(slot("foo"), 12182);
    assert_int_equal(slot("bar"), 5061);
    assert_int_equal(slot("123456789"), 12739);
    /* hash tags: the first {...} that is not empty */
    assert_int_equal(slot("foo{hash_tag}"), 2515);
    assert_int_equal(slot("{user1000}.following"), 3443);
    assert_int_equal(slot("{user1000}.followers"), 3443);
    assert_int_equal(slot("foo{}{bar}"), 8363);    /* empty tag: the whole key */
    assert_int_equal(slot("foo{{bar}}zap"), 4015); /* the tag is "{bar" */
    assert_int_equal(slot("foo{bar}{zap}"), 5061); /* = slot("bar") */
    assert_int_equal(slot("foo{bar"), tk_redis_crc16("foo{bar", 7) & 16383); /* unclosed: the whole key */
}

static void test_sale_keys_share_one_slot(void **state)
{
    (void)state;
    int s = slot("tk:wr:{sale:42}:q");
    assert_int_equal(s, 11295);
    assert_int_equal(slot("tk:wr:{sale:42}:adm"), s);
    assert_int_equal(slot("tk:wr:{sale:42}:ticks"), s);
    assert_int_equal(slot("tk:lease:{sale:42}"), s);       /* the admission lease */
    assert_int_equal(slot("tk:lease:{sale:42}:fence"), s); /* and its fencing token */
    assert_true(slot("tk:wr:{sale:43}:q") != s);
}

/* On one redis-server the hold keys are those of before (hold.h); the lock
 * and its fence share a slot; a buffer too small is refused. */
static void test_hold_keys_on_one_redis(void **state)
{
    (void)state;
    char k[96], f[96];
    assert_int_equal(tk_hold_key(k, sizeof k, NULL, TK_HOLD_KEY_HOLD, 3, 42, 7), (int)strlen("tk:hold:3:seat:7"));
    assert_string_equal(k, "tk:hold:3:seat:7");
    assert_true(tk_hold_key(k, sizeof k, NULL, TK_HOLD_KEY_LOCK, 3, 42, 7) > 0);
    assert_string_equal(k, "tk:lock:3:{seat:7}");
    assert_true(tk_hold_key(f, sizeof f, NULL, TK_HOLD_KEY_FENCE, 3, 42, 7) > 0);
    assert_string_equal(f, "tk:fence:{seat:7}");
    assert_int_equal(tk_redis_slot(k, strlen(k)), tk_redis_slot(f, strlen(f)));
    assert_int_equal(tk_hold_key(k, 8, NULL, TK_HOLD_KEY_HOLD, 3, 42, 7), -1);
}

static void test_cluster_urls(void **state)
{
    (void)state;
    char seeds[4][TK_URL_MAX], err[256];
    assert_int_equal(tk_rcluster_url_seeds("redis-cluster://127.0.0.1:7000,127.0.0.1:7001?timeout=2s", seeds, 4,
                                           err, sizeof err),
                     2);
    assert_string_equal(seeds[0], "redis://127.0.0.1:7000?timeout=2s");
    assert_string_equal(seeds[1], "redis://127.0.0.1:7001?timeout=2s");
    assert_int_equal(tk_rcluster_url_seeds("redis-cluster://:s%40cret@h1:1", seeds, 4, err, sizeof err), 1);
    assert_string_equal(seeds[0], "redis://:s%40cret@h1:1");
    assert_true(tk_redis_url_is_cluster("redis-cluster://h:1"));
    assert_false(tk_redis_url_is_cluster("redis://h:1"));
    /* refused, each with a message */
    const char *bad[] = {"redis-cluster://", "redis://h:1", "redis-cluster://h:1/2", "redis-cluster://h:0",
                         "redis-cluster://h:1?nope=1", "redis-cluster://a:1,b:2,c:3,d:4,e:5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(tk_rcluster_url_seeds(bad[i], seeds, 4, err, sizeof err), -1);
        assert_true(err[0] != '\0');
    }
    /* a plain context is no cluster; free accepts NULL */
    assert_false(tk_redis_is_cluster(NULL));
    tk_redis_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_check_value),
        cmocka_unit_test(test_slots_as_redis_computes_them),
        cmocka_unit_test(test_sale_keys_share_one_slot),
        cmocka_unit_test(test_hold_keys_on_one_redis),
        cmocka_unit_test(test_cluster_urls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
