/* Integration: `ticketctl notify` delivers every reservation/payment event
 * to a webhook exactly once per event id: retried when the webhook fails,
 * not re-sent by the same group (committed offsets), not re-sent by
 * another group either (de-duplicated by event id). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"

static itest_env E;

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 50 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 50 --seed 9") != 0)
        return -1;
    return itest_server_start(&E, "--workers 4");
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

/* Run notify; returns its JSON summary (new reference) or NULL. */
static json_t *notify(int port, const char *group)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' notify --webhook http://127.0.0.1:%d/hook --group '%s' --idle-exit 6s --json --state '%s'",
             E.bin, port, group, E.state);
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    json_t *out = json_loadf(p, JSON_DISABLE_EOF_CHECK, NULL);
    int st = pclose(p);
    if (st != 0) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static void test_webhook_gets_each_event_once(void **state)
{
    (void)state;
    /* a few events of our own: 3 holds, one paid */
    char *tok = itest_login(&E, 7);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/points/charge", tok, "{\"amount\":300000}", NULL, &r);
    itest_resp_free(&r);
    long long first = 0;
    for (int seat = 1; seat <= 3; seat++) {
        char body[64];
        snprintf(body, sizeof body, "{\"seat_id\":%d}", seat);
        itest_http(&E, "POST", "/api/v1/reservations", tok, body, NULL, &r);
        assert_int_equal(r.status, 201);
        if (!first)
            first = json_integer_value(json_object_get(r.json, "id"));
        itest_resp_free(&r);
    }
    char body[64];
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", first);
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: notify-1", &r);
    assert_int_equal(r.status, 201);
    itest_resp_free(&r);
    free(tok);
    /* wait for the relay to publish them */
    for (int i = 0; i < 100 && itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"); i++)
        usleep(100 * 1000);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 0);

    char group[64];
    snprintf(group, sizeof group, "itest-notify-%d", (int)getpid());
    itest_hook *hook = itest_hook_start(2); /* the first two deliveries fail */
    assert_non_null(hook);
    json_t *s1 = notify(itest_hook_port(hook), group);
    assert_non_null(s1);
    assert_true(json_integer_value(json_object_get(s1, "retries")) >= 2);
    assert_int_equal(json_integer_value(json_object_get(s1, "failed")), 0);

    /* every event of this data set reached the webhook exactly once */
    json_t *bodies = itest_hook_bodies(hook), *seen = json_object();
    size_t i;
    json_t *b;
    int dups = 0;
    json_array_foreach(bodies, i, b) {
        const char *eid = json_string_value(json_object_get(json_object_get(b, "event"), "event_id"));
        assert_non_null(eid);
        assert_non_null(json_string_value(json_object_get(b, "text")));
        if (json_object_get(seen, eid))
            dups++;
        json_object_set_new(seen, eid, json_true());
    }
    assert_int_equal(dups, 0);
    assert_int_equal(mysql_query(E.db, "SELECT event_id FROM outbox"), 0);
    MYSQL_RES *res = mysql_store_result(E.db);
    MYSQL_ROW row;
    int ours = 0;
    while ((row = mysql_fetch_row(res))) {
        assert_non_null(json_object_get(seen, row[0]));
        ours++;
    }
    mysql_free_result(res);
    assert_int_equal(ours, 5); /* 3 held, payment.completed, reservation.confirmed */
    json_decref(bodies);
    json_decref(seen);
    int delivered = itest_hook_requests(hook);

    /* the same group again: offsets were committed, nothing is re-sent */
    json_t *s2 = notify(itest_hook_port(hook), group);
    assert_non_null(s2);
    assert_int_equal(json_integer_value(json_object_get(s2, "delivered")), 0);
    /* another group reads everything again, but every id was delivered */
    char group2[80];
    snprintf(group2, sizeof group2, "%s-b", group);
    json_t *s3 = notify(itest_hook_port(hook), group2);
    assert_non_null(s3);
    assert_int_equal(json_integer_value(json_object_get(s3, "delivered")), 0);
    assert_true(json_integer_value(json_object_get(s3, "duplicates")) >= 5);
    assert_int_equal(itest_hook_requests(hook), delivered);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    itest_hook_stop(hook);
}

/* No broker at the given address: notify says so in one line within the
 * connect timeout and exits 1, instead of hanging and printing librdkafka's
 * raw log lines (issue 13). */
static void test_no_broker_fails_fast_and_cleanly(void **state)
{
    (void)state;
    char cmd[4096], errpath[] = "/tmp/itest_notify_err_XXXXXX";
    int fd = mkstemp(errpath);
    assert_true(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd,
             "'%s' notify --webhook http://127.0.0.1:9/hook --kafka-brokers 127.0.0.1:9 --connect-timeout 2s "
             "--state '%s' 2>'%s' >/dev/null",
             E.bin, E.state, errpath);
    uint64_t t0 = tk_mono_ms();
    int st = system(cmd);
    uint64_t took = tk_mono_ms() - t0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 1);
    assert_true(took < 6000); /* 2 s timeout + start-up, nowhere near the old 60 s */
    char *text = NULL;
    size_t len = 0;
    char e[256];
    assert_int_equal(tk_read_file(errpath, 0, &text, &len, e, sizeof e), 0);
    assert_non_null(strstr(text, "Kafka at 127.0.0.1:9 did not answer within 2000 ms"));
    assert_null(strstr(text, "%3|"));       /* no raw librdkafka log line */
    assert_null(strstr(text, "|FAIL|"));
    assert_non_null(strstr(text, "\"backend\":\"kafka\",\"state\":\"down\"")); /* one state line */
    assert_null(strstr(strstr(text, "\"state\":\"down\"") + 1, "\"state\":\"down\"")); /* only once */
    free(text);
    unlink(errpath);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_webhook_gets_each_event_once),
        cmocka_unit_test(test_no_broker_fails_fast_and_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
