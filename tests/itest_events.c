/* Integration: reservation events through the outbox and Kafka.
 * With the broker down, 100 holds still succeed and their events wait in
 * the outbox; when it comes back, every event arrives exactly once. A hold
 * that lost (rolled back) writes no event. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"
#include "ticketctl/outbox.h"

static itest_env E;

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 200 --concerts 2 --schedules-per-concert 1 --seats-per-schedule 100 --seed 5") != 0)
        return -1;
    return itest_server_start(&E, "--workers 4");
}

static int teardown(void **state)
{
    (void)state;
    char err[256];
    tk_dev_kafka_fault(E.state, 0, err, sizeof err); /* never leave it down */
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

/* Consume TK_TOPIC_RESERVATIONS from the start until every event id in
 * `expected` (event_id -> 0) was seen, or 40 s passed; then linger 1.5 s
 * for duplicates. Counts land in `expected`. Returns distinct ids seen. */
static int consume(json_t *expected, int *dups)
{
    int got = itest_consume(&E, TK_TOPIC_RESERVATIONS, expected, 40000, 1500, dups, NULL, NULL);
    assert_true(got >= 0);
    return got;
}

static void test_broker_down_then_exactly_once(void **state)
{
    (void)state;
    enum { N = 100 };
    char err[256];
    long long min_id = itest_sql_i64(&E, "SELECT COALESCE(MAX(id),0) + 1 FROM reservations");
    assert_int_equal(tk_dev_kafka_fault(E.state, 1, err, sizeof err), 0);
    for (int i = 0; i < N; i++) {
        char *tok = itest_login(&E, i + 1);
        assert_non_null(tok);
        char body[64];
        snprintf(body, sizeof body, "{\"seat_id\":%d}", i + 1);
        itest_resp r;
        itest_http(&E, "POST", "/api/v1/reservations", tok, body, NULL, &r);
        assert_int_equal(r.status, 201); /* the broker being down costs the request nothing */
        itest_resp_free(&r);
        free(tok);
    }
    /* a losing hold rolls back and writes no event */
    char *tok = itest_login(&E, 150);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/reservations", tok, "{\"seat_id\":1}", NULL, &r);
    assert_int_equal(r.status, 409);
    itest_resp_free(&r);
    free(tok);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE type = 'reservation.held'"),
                     itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations"));
    usleep(1500 * 1000);
    assert_true(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND type = 'reservation.held'"
                                  " AND CAST(event_key AS UNSIGNED) >= %lld", min_id) == N);

    /* the ids of exactly the events this test caused */
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT event_id FROM outbox WHERE type = 'reservation.held' AND CAST(event_key AS UNSIGNED) >= %lld", min_id);
    assert_int_equal(mysql_query(E.db, sql), 0);
    MYSQL_RES *res = mysql_store_result(E.db);
    json_t *expected = json_object();
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        json_object_set_new(expected, row[0], json_integer(0));
    mysql_free_result(res);
    assert_int_equal(json_object_size(expected), N);

    assert_int_equal(tk_dev_kafka_fault(E.state, 0, err, sizeof err), 0);
    int dups = 0;
    int got = consume(expected, &dups);
    assert_int_equal(got, N);
    assert_int_equal(dups, 0);
    json_decref(expected);
    for (int i = 0; i < 100; i++) { /* the relay marks them after the acks */
        if (itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") == 0)
            break;
        usleep(100 * 1000);
    }
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 0);
}

/* Payment and cancel write their events in their own transactions. */
static void test_pay_and_cancel_events(void **state)
{
    (void)state;
    char *tok = itest_login(&E, 180);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/points/charge", tok, "{\"amount\":500000}", NULL, &r);
    itest_resp_free(&r);
    itest_http(&E, "POST", "/api/v1/reservations", tok, "{\"seat_id\":150}", NULL, &r);
    assert_int_equal(r.status, 201);
    long long res = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    char body[64], path[64];
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: ev-1", &r);
    assert_int_equal(r.status, 201);
    itest_resp_free(&r);
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: ev-1", &r); /* replay: no new event */
    itest_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/reservations/%lld/cancel", res);
    itest_http(&E, "POST", path, tok, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    const char *types[] = {"reservation.held", "payment.completed", "reservation.confirmed", "reservation.canceled"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE event_key = '%lld' AND type = '%s'",
                                       res, types[i]), 1);
    free(tok);
}

/* A broker that lost acknowledged events (issue 13): the outbox says Kafka
 * acknowledged the last K reservation events at offsets the partition no
 * longer has - exactly the state after the embedded broker is killed and
 * comes back empty, or a real cluster's unclean leader election. Within the
 * relay's check interval those K events are published again (new offsets),
 * a consumer sees each of them, and everything else stays as it was. */
static void test_broker_lost_events_are_republished(void **state)
{
    (void)state;
    enum { K = 5 };
    for (int i = 0; i < 100 && itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") > 0; i++)
        usleep(100000);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 0);
    long long part = itest_sql_i64(&E, "SELECT kpartition FROM outbox WHERE topic = '" TK_TOPIC_RESERVATIONS
                                       "' AND koffset IS NOT NULL ORDER BY id DESC LIMIT 1");
    long long top = itest_sql_i64(&E, "SELECT MAX(koffset) FROM outbox WHERE topic = '" TK_TOPIC_RESERVATIONS
                                      "' AND kpartition = %lld", part);
    assert_true(top >= K);
    assert_int_equal(itest_sql_i64(&E, "SELECT acked_offset FROM outbox_acked WHERE topic = '" TK_TOPIC_RESERVATIONS
                                       "' AND kpartition = %lld", part), top); /* what Kafka acknowledged */
    /* pretend the last K were acknowledged 1000 offsets further on: the broker "lost" them */
    char sql[512];
    snprintf(sql, sizeof sql, "UPDATE outbox SET koffset = koffset + 1000 WHERE topic = '%s' AND kpartition = %lld "
             "AND koffset > %lld", TK_TOPIC_RESERVATIONS, part, top - K);
    assert_int_equal(mysql_query(E.db, sql), 0);
    assert_int_equal((int)mysql_affected_rows(E.db), K);
    snprintf(sql, sizeof sql, "UPDATE outbox_acked SET acked_offset = %lld WHERE topic = '%s' AND kpartition = %lld",
             top + 1000, TK_TOPIC_RESERVATIONS, part);
    assert_int_equal(mysql_query(E.db, sql), 0);
    json_t *lost = json_object();
    snprintf(sql, sizeof sql, "SELECT event_id FROM outbox WHERE topic = '%s' AND kpartition = %lld AND koffset > %lld",
             TK_TOPIC_RESERVATIONS, part, top);
    assert_int_equal(mysql_query(E.db, sql), 0);
    MYSQL_RES *res = mysql_store_result(E.db);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        json_object_set_new(lost, row[0], json_integer(0));
    mysql_free_result(res);
    assert_int_equal(json_object_size(lost), K);
    long long published_before = itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox");
    /* the relay notices within its check interval (5 s) and publishes every
     * retained row of the partition again: it cannot tell which offsets below
     * the new end still hold our events (a broker that lost its whole log and
     * took new ones since looks the same), and consumers de-dup by event_id */
    long long retained = itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE topic = '%s' AND kpartition = %lld AND "
                                           "koffset IS NOT NULL", TK_TOPIC_RESERVATIONS, part);
    assert_true(retained >= K);
    long long again = 0;
    for (int i = 0; i < 150 && again != retained; i++) {
        usleep(100000);
        again = itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE topic = '%s' AND kpartition = %lld AND "
                                  "published_at IS NOT NULL AND koffset > %lld AND koffset < %lld",
                              TK_TOPIC_RESERVATIONS, part, top, top + 1000);
    }
    assert_int_equal(again, retained); /* re-published: new offsets right after the real end */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox"), published_before); /* nothing invented */
    assert_int_equal(itest_sql_i64(&E, "SELECT acked_offset FROM outbox_acked WHERE topic = '%s' AND kpartition = %lld",
                                   TK_TOPIC_RESERVATIONS, part),
                     top + retained);
    int dups = 0;
    assert_int_equal(consume(lost, &dups), K); /* each lost event is on the topic (again) */
    json_decref(lost);
}

/* Published rows older than the retention are deleted when the relay
 * starts (then once a minute); unpublished and recent rows are kept. */
static void test_published_rows_kept_for_the_retention_only(void **state)
{
    (void)state;
    assert_int_equal(itest_server_stop(&E), 0);
    assert_int_equal(mysql_query(E.db, "UPDATE outbox SET published_at = UTC_TIMESTAMP(3) - INTERVAL 25 HOUR "
                                       "WHERE published_at IS NOT NULL ORDER BY id LIMIT 10"), 0);
    assert_int_equal((int)mysql_affected_rows(E.db), 10);
    long long before = itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox");
    assert_int_equal(itest_server_start(&E, "--workers 4"), 0);
    long long after = before;
    for (int i = 0; i < 100 && after != before - 10; i++) {
        usleep(100000);
        after = itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox");
    }
    assert_int_equal(after, before - 10);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at < UTC_TIMESTAMP(3) - INTERVAL 24 HOUR"), 0);
}

static void hold(int user, int seat)
{
    char *tok = itest_login(&E, user);
    assert_non_null(tok);
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%d}", seat);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/reservations", tok, body, NULL, &r);
    assert_int_equal(r.status, 201);
    itest_resp_free(&r);
    free(tok);
}

/* The drill of issue 13: the embedded broker is killed -9 and `dev up`
 * brings it back on the same address with an empty log. The server is not
 * touched: its relay reconnects, finds the partition shorter than what was
 * acknowledged, and publishes every retained event again, so a consumer
 * reading from the beginning sees every event, old and new. */
static void test_broker_killed_and_back_empty_loses_nothing(void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++)
        hold(121 + i, 160 + i);
    for (int i = 0; i < 100 && itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") > 0; i++)
        usleep(100000);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 0);
    char path[1200], line[64] = "";
    snprintf(path, sizeof path, "%s/kafka/broker.pid", E.state);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    pid_t broker = (pid_t)atol(line);
    assert_true(broker > 0);
    assert_int_equal(kill(broker, SIGKILL), 0);
    usleep(300000);
    assert_int_equal(itest_run(&E, "dev up"), 0);
    tk_dev_env env;
    char err[256];
    assert_int_equal(tk_dev_env_read(E.state, &env, err, sizeof err), 0);
    assert_string_equal(env.kafka, E.b.kafka); /* the same address: clients need no restart */
    assert_true(env.pid[TK_DEV_KAFKA] != broker);
    for (int i = 0; i < 5; i++)
        hold(141 + i, 180 + i);
    json_t *all = json_object();
    assert_int_equal(mysql_query(E.db, "SELECT event_id FROM outbox WHERE topic = '" TK_TOPIC_RESERVATIONS "'"), 0);
    MYSQL_RES *res = mysql_store_result(E.db);
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        json_object_set_new(all, row[0], json_integer(0));
    mysql_free_result(res);
    int want = (int)json_object_size(all), dups = 0;
    assert_true(want >= 25); /* at least the 20 before the crash and the 5 after */
    assert_int_equal(consume(all, &dups), want); /* the new, empty broker has every event */
    assert_true(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL") == 0);
    json_decref(all);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_broker_down_then_exactly_once),
        cmocka_unit_test(test_pay_and_cancel_events),
        cmocka_unit_test(test_broker_lost_events_are_republished),
        cmocka_unit_test(test_published_rows_kept_for_the_retention_only),
        cmocka_unit_test(test_broker_killed_and_back_empty_loses_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
