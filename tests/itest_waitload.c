/* Integration: the waiting-room poller (lib/waitload.c) against
 * `serve --queue redis --active-users 50 --new-users-per-minute 30000`
 * (500 a second, 50 per 100 ms tick): 3,000 simulated users (not seeded:
 * their JWTs are minted with the server's key) take places, poll with
 * their queue tokens alone at the server's hints and leave once admitted.
 * Everyone is admitted, in arrival order (Kendall distance 0), never more
 * than 50 at once (Redis), never more than 50 in one tick, with no error;
 * each simulated user costs at most 256 bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest_util.h"
#include "ticketctl/hold.h"
#include "ticketctl/queue.h"
#include "ticketctl/waitload.h"

static itest_env E;

static int setup(void **state)
{
    (void)state;
    return itest_stack(&E);
}

static int teardown(void **state)
{
    (void)state;
    if (E.server_pid > 0)
        itest_server_stop(&E);
    itest_close(&E);
    return 0;
}

static void test_poller_fifo_and_limits(void **state)
{
    (void)state;
    assert_int_equal(itest_seed(&E, "--users 5 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 5"), 0);
    long long sched = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    char err[256];
    redisContext *r = tk_redis_connect(E.b.redis, err, sizeof err);
    assert_non_null(r);
    tk_queue_conn qc = {r, NULL};
    assert_int_equal(tk_queue_reset_all(&qc), 0);
    assert_int_equal(itest_server_start(&E, "--workers 2 --queue redis --active-users 50"
                                            " --new-users-per-minute 30000 --queue-tick 100ms"),
                     0);
    char path[1200], key[256] = "";
    snprintf(path, sizeof path, "%s/jwt.secret", E.state);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(key, sizeof key, f));
    fclose(f);
    key[strcspn(key, "\r\n")] = '\0';

    tk_waitload_config cfg;
    tk_waitload_config_default(&cfg);
    char target[64];
    snprintf(target, sizeof target, "http://127.0.0.1:%d", E.port);
    cfg.target = target;
    cfg.sale = (uint64_t)sched;
    cfg.users = 3000;
    cfg.first_user = 100000; /* not seeded: minted JWTs */
    cfg.connections = 32;
    cfg.enqueue_per_s = 1500;
    cfg.max_seconds = 60;
    cfg.jwt_key = (const unsigned char *)key;
    cfg.jwt_key_len = strlen(key);
    cfg.redis_url = E.b.redis;
    cfg.server_pid = E.server_pid;
    tk_waitload_result res;
    assert_int_equal(tk_waitload_run(&cfg, &res, err, sizeof err), 0);
    fprintf(stderr,
            "itest_waitload: %.1f s, enqueue %.0f/s, polls %lld (%.0f/s), admitted %.0f/s, max active %lld,"
            " Kendall %.6f\n",
            res.seconds, res.enqueue_per_s, (long long)res.polls, res.polls_per_s, res.admitted_per_s,
            (long long)res.max_active, res.kendall_distance);
    assert_true(tk_waitload_user_bytes() <= 256);
    assert_int_equal(res.enqueued, 3000);
    assert_int_equal(res.admitted, 3000);
    assert_int_equal(res.left, 3000);
    assert_int_equal(res.err_connect + res.err_status + res.err_parse + res.err_lost, 0);
    assert_true(res.polls > 0);
    assert_true(res.kendall_distance == 0.0); /* FIFO */
    assert_true(res.max_active_from_redis);
    /* Redis's ZCARD is sampled, so it can miss every short admission (seen
     * once as 0 on a quiet machine); the poller's own count cannot */
    assert_true(res.max_active >= 0 && res.max_active <= 50);
    assert_true(res.max_active_client > 0 && res.max_active_client <= 50);
    assert_true(res.admitted_per_s <= 500 * 1.15); /* never faster than 500 a second */
    assert_true(res.server_cpu_s > 0);
    /* never more than 50 in one tick */
    redisReply *h = redisCommand(r, "HVALS tk:wr:{sale:%lld}:ticks", sched);
    assert_non_null(h);
    long long sum = 0;
    for (size_t i = 0; i < h->elements; i++) {
        long long v = strtoll(h->element[i]->str, NULL, 10);
        assert_true(v >= 0 && v <= 50);
        sum += v;
    }
    freeReplyObject(h);
    assert_int_equal(sum, 3000);
    json_t *doc = tk_waitload_result_json(&cfg, &res);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "admitted")), 3000);
    json_decref(doc);
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched);
    redisFree(r);
    assert_int_equal(itest_server_stop(&E), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poller_fifo_and_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
