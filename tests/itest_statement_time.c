/* Integration: max_statement_time (issue 13.2) on the real stack. The test
 * holds a seat row locked (SELECT ... FOR UPDATE in its own transaction)
 * while a reservation of that seat runs under --request-timeout 1s: the
 * server aborts the waiting statement (ER_STATEMENT_TIMEOUT 1969) and serve
 * answers 503 BACKEND_UNAVAILABLE with Retry-After within the deadline +
 * 1 s, never a 500. Nothing is half-written: no reservation row, the seat
 * still AVAILABLE, the Redis hold given back (the same user reserves the
 * seat with 201 once the lock is gone), and the next request on the same
 * (single) worker connection commits no leftover of the aborted one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"

#define DEADLINE_MS 1000
#define SEAT 7

static itest_env E;
static MYSQL *locker;

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 4 --concerts 2 --schedules-per-concert 1 --seats-per-schedule 10 --seed 3") != 0)
        return -1;
    /* one worker: the request after the aborted one uses its connection */
    return itest_server_start(&E, "--workers 1 --request-timeout 1s");
}

static int teardown(void **state)
{
    (void)state;
    if (locker)
        mysql_close(locker);
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static long reserve(const char *tok, int seat, double *ms, itest_resp *r)
{
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%d}", seat);
    uint64_t t0 = tk_mono_us();
    itest_http(&E, "POST", "/api/v1/reservations", tok, body, NULL, r);
    *ms = (double)(tk_mono_us() - t0) / 1000.0;
    return r->status;
}

/* POST /api/v1/reservations on its own connection; the whole answer
 * (headers too) in buf; its status or 0. */
static int raw_reserve(const char *tok, int seat, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)E.port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char body[64], req[2048];
    int bn = snprintf(body, sizeof body, "{\"seat_id\":%d}", seat);
    int n = snprintf(req, sizeof req,
                     "POST /api/v1/reservations HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer "
                     "%s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     tok, bn, body);
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0 && send(fd, req, (size_t)n, MSG_NOSIGNAL) == n) {
        ssize_t k;
        while (got < cap - 1 && (k = recv(fd, buf + got, cap - 1 - got, 0)) > 0)
            got += (size_t)k;
    }
    close(fd);
    buf[got] = '\0';
    return got > 12 && !strncmp(buf, "HTTP/1.1 ", 9) ? atoi(buf + 9) : 0;
}

static void test_locked_seat_times_out(void **state)
{
    (void)state;
    char err[256];
    char *tok = itest_login(&E, 1);
    assert_non_null(tok);
    locker = tk_db_connect(E.b.mysql, err, sizeof err);
    assert_non_null(locker);
    assert_int_equal(mysql_query(locker, "START TRANSACTION"), 0);
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT id FROM seats WHERE id = %d FOR UPDATE", SEAT);
    assert_int_equal(mysql_query(locker, sql), 0);
    MYSQL_RES *res = mysql_store_result(locker);
    assert_non_null(res);
    mysql_free_result(res);

    itest_resp r;
    double ms;
    long st = reserve(tok, SEAT, &ms, &r);
    fprintf(stderr, "itest: reservation on a locked seat: %ld in %.0f ms (limit %d): %s\n", st, ms,
            DEADLINE_MS + 1000, r.body ? r.body : "");
    assert_int_equal(st, 503);
    assert_true(ms <= DEADLINE_MS + 1000);
    const char *code = json_string_value(json_object_get(json_object_get(r.json, "error"), "code"));
    assert_string_equal(code ? code : "", "BACKEND_UNAVAILABLE");
    itest_resp_free(&r);
    /* the same on a raw socket, for the Retry-After header */
    char raw[8192];
    uint64_t t0 = tk_mono_us();
    assert_int_equal(raw_reserve(tok, SEAT, raw, sizeof raw), 503);
    ms = (double)(tk_mono_us() - t0) / 1000.0;
    assert_true(ms <= DEADLINE_MS + 1000);
    assert_non_null(strstr(raw, "\r\nRetry-After: "));

    /* the next request on the same worker connection: another seat */
    st = reserve(tok, SEAT + 1, &ms, &r);
    assert_int_equal(st, 201);
    itest_resp_free(&r);
    assert_int_equal(mysql_query(locker, "ROLLBACK"), 0);

    /* nothing half-written by the aborted reservation */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE seat_id = %d", SEAT), 0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE id = %d AND status = 'AVAILABLE'", SEAT), 1);
    /* and the Redis hold was given back: the seat can be reserved now */
    st = reserve(tok, SEAT, &ms, &r);
    assert_int_equal(st, 201);
    itest_resp_free(&r);
    assert_true(itest_invariants_hold(&E));
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_locked_seat_times_out)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
