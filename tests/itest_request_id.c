/* Integration: the request id (issue 15.8) from the client's X-Request-Id
 * to the event in Kafka and to the error log. A hold sent with
 * X-Request-Id: abc-... writes its outbox event with request_id abc-...
 * (migration 14: the store calls tk_hold_rid, a trigger copies @tk_rid),
 * and the relay publishes it with the header x-request-id and the field
 * "request_id". A hold without one carries the id the server made, a
 * cancel on the same worker connection its own (nothing is left over from
 * the request before); the wrappers clear @tk_rid on success and on error.
 * A 503 (injected latency past the deadline) is logged with its id. */
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
#include "ticketctl/outbox.h"

static itest_env E;
static char log_path[1200];

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 20 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 20 --seed 7") != 0)
        return -1;
    snprintf(log_path, sizeof log_path, "%s/itest-request-id.%d.log", E.state, (int)getpid());
    /* one worker: every request below runs on the same MariaDB connection */
    return itest_server_start_log(&E, "--workers 1 --fault-latency 400ms --request-timeout 150ms", log_path);
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_server_stop(&E);
    itest_close(&E);
    unlink(log_path);
    return rc == 0 ? 0 : -1;
}

/* The k-th (0-based) AVAILABLE seat of the seeded data. */
static int free_seat(int k)
{
    long long id = itest_sql_i64(&E, "SELECT id FROM seats WHERE status = 'AVAILABLE' ORDER BY id LIMIT 1 OFFSET %d", k);
    assert_true(id > 0);
    return (int)id;
}

/* POST a hold of seat_id with an X-Request-Id (or none); the reservation id. */
static long long hold(const char *tok, int seat_id, const char *rid)
{
    char body[64], hdr[128];
    snprintf(body, sizeof body, "{\"seat_id\":%d}", seat_id);
    snprintf(hdr, sizeof hdr, "X-Request-Id: %s", rid ? rid : "");
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/reservations", tok, body, rid ? hdr : NULL, &r);
    assert_int_equal(r.status, 201);
    long long id = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    assert_true(id > 0);
    return id;
}

/* The request_id of the one event of reservation res of this type, into out ("" for NULL). */
static void event_rid(long long res, const char *type, char *out, size_t len)
{
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT COALESCE(request_id, '') FROM outbox WHERE event_key = '%lld' AND type = '%s'",
             res, type);
    assert_int_equal(mysql_query(E.db, sql), 0);
    MYSQL_RES *q = mysql_store_result(E.db);
    assert_non_null(q);
    assert_int_equal(mysql_num_rows(q), 1);
    MYSQL_ROW row = mysql_fetch_row(q);
    snprintf(out, len, "%s", row[0]);
    mysql_free_result(q);
}

typedef struct seen {
    const char *event_id, *rid;
    int header_ok, field_ok;
} seen;

static void on_event(const rd_kafka_message_t *m, json_t *ev, void *arg)
{
    seen *s = arg;
    const char *eid = json_string_value(json_object_get(ev, "event_id"));
    const char *rid = json_string_value(json_object_get(ev, "request_id"));
    if (!eid || strcmp(eid, s->event_id) != 0)
        return;
    s->field_ok = rid && !strcmp(rid, s->rid);
    rd_kafka_headers_t *h = NULL;
    const void *v = NULL;
    size_t n = 0;
    s->header_ok = rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   rd_kafka_header_get_last(h, "x-request-id", &v, &n) == RD_KAFKA_RESP_ERR_NO_ERROR &&
                   n == strlen(s->rid) && !memcmp(v, s->rid, n);
}

static void test_event_carries_the_request_id(void **state)
{
    (void)state;
    char rid[64], other[64], got[80];
    snprintf(rid, sizeof rid, "abc-%d-%lld", (int)getpid(), (long long)tk_wall_ms());
    snprintf(other, sizeof other, "cancel-%d-%lld", (int)getpid(), (long long)tk_wall_ms());
    char *tok = itest_login(&E, 3);
    assert_non_null(tok);

    long long res = hold(tok, free_seat(0), rid);
    event_rid(res, "reservation.held", got, sizeof got);
    assert_string_equal(got, rid);

    /* no X-Request-Id: the server's own id, not the one before */
    long long res2 = hold(tok, free_seat(0), NULL);
    event_rid(res2, "reservation.held", got, sizeof got);
    assert_true(strlen(got) > 0);
    assert_string_not_equal(got, rid);

    /* a cancel (tk_emit_rid inside the store's transaction) carries its own */
    char path[96], hdr[96];
    snprintf(path, sizeof path, "/api/v1/reservations/%lld/cancel", res);
    snprintf(hdr, sizeof hdr, "X-Request-Id: %s", other);
    itest_resp r;
    itest_http(&E, "POST", path, tok, NULL, hdr, &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    event_rid(res, "reservation.canceled", got, sizeof got);
    assert_string_equal(got, other);
    free(tok);

    /* ... and in Kafka: the header and the field */
    char sql[256], event_id[64] = "";
    snprintf(sql, sizeof sql, "SELECT event_id FROM outbox WHERE event_key = '%lld' AND type = 'reservation.held'", res);
    assert_int_equal(mysql_query(E.db, sql), 0);
    MYSQL_RES *q = mysql_store_result(E.db);
    MYSQL_ROW row = q ? mysql_fetch_row(q) : NULL;
    assert_non_null(row);
    snprintf(event_id, sizeof event_id, "%s", row[0]);
    mysql_free_result(q);
    json_t *expected = json_pack("{s:i}", event_id, 0);
    seen s = {event_id, rid, 0, 0};
    assert_int_equal(itest_consume(&E, TK_TOPIC_RESERVATIONS, expected, 30000, 0, NULL, on_event, &s), 1);
    json_decref(expected);
    assert_true(s.field_ok);
    assert_true(s.header_ok);
}

/* The wrappers leave nothing behind on the connection, after an error too. */
static void test_wrappers_clear_the_session_variable(void **state)
{
    (void)state;
    /* this session never set @tk_rid (the server's did, for the requests
     * above): its event gets none, not theirs */
    assert_int_equal(mysql_query(E.db, "START TRANSACTION"), 0);
    assert_int_equal(mysql_query(E.db, "INSERT INTO outbox (event_id, topic, event_key, type, payload)"
                                       " VALUES (UUID(), 'itest.none', '0', 'itest.rid-unset', '{}')"),
                     0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE type = 'itest.rid-unset'"
                                       " AND request_id IS NULL"),
                     1);
    assert_int_equal(mysql_query(E.db, "ROLLBACK"), 0);
    assert_int_equal(mysql_query(E.db, "SET @tk_rid = NULL"), 0);
    /* p_type NULL: the INSERT inside tk_emit fails (type is NOT NULL) */
    assert_int_not_equal(mysql_query(E.db, "CALL tk_emit_rid('left-over', NULL, 1, 1, 1, 1)"), 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT @tk_rid IS NULL"), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE request_id = 'left-over'"), 0);
    /* a statement that names its request_id keeps it; none and no @tk_rid is NULL */
    assert_int_equal(mysql_query(E.db, "START TRANSACTION"), 0);
    assert_int_equal(mysql_query(E.db, "INSERT INTO outbox (event_id, topic, event_key, type, payload, request_id)"
                                       " VALUES (UUID(), 'itest.none', '0', 'itest.rid', '{}', 'own'),"
                                       " (UUID(), 'itest.none', '0', 'itest.rid', '{}', NULL)"),
                     0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE type = 'itest.rid' AND request_id = 'own'"), 1);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox WHERE type = 'itest.rid' AND request_id IS NULL"), 1);
    assert_int_equal(mysql_query(E.db, "ROLLBACK"), 0);
}

/* A 5xx is logged as one JSON line with the request's id. */
static void test_error_log_line_carries_it(void **state)
{
    (void)state;
    char rid[64], want[96];
    snprintf(rid, sizeof rid, "err-%d-%lld", (int)getpid(), (long long)tk_wall_ms());
    char *tok = itest_login(&E, 4);
    assert_non_null(tok);
    assert_int_equal(kill(E.server_pid, SIGUSR1), 0); /* +400 ms per request, past the 150 ms deadline */
    usleep(200 * 1000);
    char hdr[96];
    snprintf(hdr, sizeof hdr, "X-Request-Id: %s", rid);
    itest_resp r;
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%d}", free_seat(0));
    itest_http(&E, "POST", "/api/v1/reservations", tok, body, hdr, &r);
    long status = r.status;
    itest_resp_free(&r);
    assert_int_equal(kill(E.server_pid, SIGUSR2), 0);
    free(tok);
    assert_int_equal(status, 503);
    snprintf(want, sizeof want, "\"request_id\":\"%s\"", rid);
    int found = 0;
    for (int i = 0; i < 50 && !found; i++) { /* the line is written before the answer; stdio may lag */
        FILE *f = fopen(log_path, "r");
        char line[1024];
        while (f && fgets(line, sizeof line, f))
            if (strstr(line, want) && strstr(line, "\"level\":\"error\"") && strstr(line, "\"status\":503"))
                found = 1;
        if (f)
            fclose(f);
        if (!found)
            usleep(100 * 1000);
    }
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_carries_the_request_id),
        cmocka_unit_test(test_wrappers_clear_the_session_variable),
        cmocka_unit_test(test_error_log_line_carries_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
