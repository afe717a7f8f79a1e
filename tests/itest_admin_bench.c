/* Integration: admin changes while `bench` books (issue 16): seats added in
 * bulk to the schedules under load, prices changed on AVAILABLE seats,
 * concerts and schedules made, the caches purged, all during an 8-second
 * bench. The bench must finish with every invariant held (its exit code),
 * the invariants must hold after, and each schedule's counts must equal
 * its seats (total = seats, available = AVAILABLE seats). A price change
 * that meets a seat the bench just held is a 409 that changes nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"

#define ADMIN_PW "itest-admin-password"

static itest_env E;
static char *ADMIN;

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0 ||
        itest_seed(&E, "--users 200 --concerts 3 --schedules-per-concert 1 --seats-per-schedule 100 --seed 31 "
                       "--reservations 0 --no-progress --admin-password " ADMIN_PW " >/dev/null") != 0 ||
        itest_server_start(&E, "--workers 6") != 0)
        return -1;
    ADMIN = itest_login_as(&E, "admin@ticketctl.local", ADMIN_PW);
    return ADMIN ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(ADMIN);
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static long admin(const char *method, const char *path, const char *body)
{
    itest_resp r;
    itest_http(&E, method, path, ADMIN, body, NULL, &r);
    long st = r.status;
    if (st >= 400) /* errors are JSON */
        assert_non_null(json_object_get(r.json, "error"));
    itest_resp_free(&r);
    return st;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static void test_admin_changes_during_bench(void **state)
{
    (void)state;
    char out[1200], cmd[4096], target[64];
    snprintf(out, sizeof out, "%s/itest-admin-bench.json", E.state);
    snprintf(target, sizeof target, "http://127.0.0.1:%d", E.port);
    remove(out);
    snprintf(cmd, sizeof cmd,
             "exec '%s' bench --users 40 --ramp 1s --duration 8s --think-time 20 --threads 1 --timeout 5s "
             "--target '%s' --out '%s' --state '%s' >/dev/null 2>&1",
             E.bin, target, out, E.state);
    pid_t bench = itest_spawn(cmd);
    assert_true(bench > 0);
    sleep_ms(1500);
    long long first = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    long long last = itest_sql_i64(&E, "SELECT MAX(id) FROM concert_schedules");
    int created = 0, repriced = 0, refused = 0, made = 0, purged = 0;
    for (int round = 0; round < 12; round++) {
        char path[128], body[512];
        long long s = first + round % (last - first + 1);
        /* more seats in a schedule the bench is booking */
        snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/seats", s);
        snprintf(body, sizeof body,
                 "{\"sections\":[\"N%d\"],\"rows\":[\"1\",\"2\"],\"from\":1,\"to\":25,\"grade\":\"S\",\"price\":7000}",
                 round);
        created += admin("POST", path, body) == 201;
        /* reprice ten of the new seats: all still AVAILABLE (200) or the bench just held one
         * (409, nothing changed) */
        char ids[256] = "";
        size_t o = 0;
        for (int k = 0; k < 10; k++)
            o += (size_t)snprintf(ids + o, sizeof ids - o, "%s%lld", k ? "," : "",
                                  itest_sql_i64(&E, "SELECT id FROM seats WHERE schedule_id = %lld AND section ="
                                                    " 'N%d' ORDER BY id DESC LIMIT 1 OFFSET %d",
                                                s, round, k));
        snprintf(body, sizeof body, "{\"seat_ids\":[%s],\"price\":%d}", ids, 5000 + round);
        long st = admin("PATCH", path, body);
        if (st != 200 && st != 409)
            fprintf(stderr, "itest: reprice %s: %ld\n", body, st);
        assert_true(st == 200 || st == 409);
        repriced += st == 200;
        refused += st == 409;
        if (round % 4 == 0) {
            snprintf(body, sizeof body,
                     "{\"title\":\"Bench Night %d\",\"venue\":\"Hall\",\"sale_opens_at\":\"2026-01-01T00:00:00Z\"}",
                     round);
            made += admin("POST", "/api/v1/admin/concerts", body) == 201;
            purged += admin("POST", "/api/v1/admin/cache/purge", NULL) == 200;
        }
        sleep_ms(300);
    }
    int code = itest_wait(bench, 60000); /* bounded: 60 s */
    fprintf(stderr, "itest: during the bench: %d seat blocks, %d repriced, %d refused (held), %d concerts, %d purges\n",
            created, repriced, refused, made, purged);
    assert_int_equal(created, 12);
    assert_true(repriced + refused == 12);
    assert_int_equal(made, 3);
    assert_int_equal(purged, 3);
    assert_int_equal(code, 0); /* 0: run done and every invariant held */

    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    json_t *sum = json_object_get(res, "summary");
    json_int_t flows = json_integer_value(json_object_get(sum, "flows_completed"));
    fprintf(stderr, "itest: bench: %lld requests, %lld errors, %lld paid flows\n",
            (long long)json_integer_value(json_object_get(sum, "requests")),
            (long long)json_integer_value(json_object_get(sum, "errors")), (long long)flows);
    assert_true(flows > 10);
    json_decref(res);

    assert_true(itest_invariants_hold(&E));
    /* the schedules' counts follow the seats added under load */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concert_schedules cs WHERE cs.total_seats <>"
                                       " (SELECT COUNT(*) FROM seats s WHERE s.schedule_id = cs.id)"),
                     0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM concert_schedules cs WHERE cs.available_seats <>"
                                       " (SELECT COUNT(*) FROM seats s WHERE s.schedule_id = cs.id AND"
                                       " s.status = 'AVAILABLE')"),
                     0);
    /* a repriced seat kept its price through any later booking */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations r JOIN seats s ON s.id = r.seat_id"
                                       " WHERE r.price <> s.price AND r.created_at > NOW() - INTERVAL 1 MINUTE"
                                       " AND r.status IN ('PENDING','CONFIRMED')"),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_admin_changes_during_bench),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
