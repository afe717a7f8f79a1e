/* Integration: no instance serves an old view for more than 100 ms after a
 * change on another (issue 16), with three `serve` instances behind nginx
 * (`dev up --instances 3`) and a response cache that would otherwise keep
 * a seat map for 5 s (--cache-ttl 5s).
 *
 * Each round warms the seat map and the concert detail on all three
 * instances (both cached), changes the seats on one instance — a hold, a
 * cancel, a payment that fails for want of points, an admin price change,
 * a hold expired by the sweeper — and then reads the other two directly
 * until they show the change: the time from the change's answer (for the
 * expiry: from when MariaDB shows it) to the first fresh read must stay
 * under 100 ms on both. Then the instances' metrics must show the
 * invalidations they received, the lag histogram, and L2 hits (a miss on
 * one instance answered from another's fill in Redis). Every fresh read
 * after a change also proves L2 never hands out a body filled before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"

#define BOUND_MS 100
#define ADMIN_PW "itest-admin-password"

static itest_env E;
static tk_dev_env D;
static char *ADMIN, *RICH, *POOR; /* RICH has points, POOR none */
static long long SCHED, CONCERT;
static long long worst_ms = -1;

static int at(int inst) { return D.inst_port[inst]; }

static long req(int inst, const char *method, const char *path, const char *tok, const char *body, const char *hdr,
                itest_resp *keep)
{
    int saved = E.port;
    E.port = at(inst);
    itest_resp r;
    itest_http(&E, method, path, tok, body, hdr, &r);
    E.port = saved;
    long st = r.status;
    if (keep)
        *keep = r;
    else
        itest_resp_free(&r);
    return st;
}

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (itest_stack(&E) != 0 ||
        itest_seed(&E, "--users 20 --concerts 4 --schedules-per-concert 1 --seats-per-schedule 60 --seed 21 "
                       "--reservations 0 --no-progress --admin-password " ADMIN_PW " >/dev/null") != 0)
        return -1;
    itest_run(&E, "dev up --instances 0 >/dev/null 2>&1");
    if (itest_run(&E, "dev up --instances 3 --serve-args '--workers 3 --loops 1 --cache-ttl 5s --hold-ttl 2"
                      " --sweep-interval 200ms' >/dev/null") != 0 ||
        tk_dev_env_read(E.state, &D, err, sizeof err) != 0 || D.instances != 3)
        return -1;
    E.port = at(0);
    ADMIN = itest_login_as(&E, "admin@ticketctl.local", ADMIN_PW);
    RICH = itest_login(&E, 3);
    POOR = itest_login(&E, 4);
    if (!ADMIN || !RICH || !POOR)
        return -1;
    if (itest_sql_i64(&E, "SELECT points FROM users WHERE id = 4") != 0)
        return -1;
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/points/charge", RICH, "{\"amount\":100000000}", NULL, &r);
    itest_resp_free(&r);
    SCHED = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules WHERE starts_at > UTC_TIMESTAMP()"
                              " AND available_seats > 20");
    CONCERT = itest_sql_i64(&E, "SELECT concert_id FROM concert_schedules WHERE id = %lld", SCHED);
    return SCHED > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_run(&E, "dev up --instances 0 >/dev/null");
    free(ADMIN);
    free(RICH);
    free(POOR);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static char seats_path[96];

/* Is `needle` in instance inst's seat map (1/0)? */
static int seat_map_has(int inst, const char *needle)
{
    itest_resp r;
    assert_int_equal(req(inst, "GET", seats_path, NULL, NULL, NULL, &r), 200);
    int has = strstr(r.body, needle) != NULL;
    itest_resp_free(&r);
    return has;
}

/* Warm every instance's cached seat map (read twice: the second is a hit). */
static void warm(void)
{
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 2; k++)
            seat_map_has(i, "x");
}

/* After a change answered at t0 (mono ms), instances other than `changed`
 * must show `needle` present (want 1) or absent (want 0) within BOUND_MS. */
static void expect_fresh(int changed, uint64_t t0, const char *needle, int want, const char *what)
{
    for (int i = 0; i < 3; i++) {
        if (i == changed)
            continue;
        uint64_t fresh_at;
        for (;;) {
            int has = seat_map_has(i, needle);
            fresh_at = tk_mono_us() / 1000;
            if (has == want || fresh_at - t0 > 2000)
                break;
            usleep(2000);
        }
        long long lag = (long long)(fresh_at - t0);
        if (lag > worst_ms)
            worst_ms = lag;
        if (lag > BOUND_MS)
            fail_msg("%s on instance %d: instance %d served the old seat map for %lld ms", what, changed, i, lag);
    }
}

static long long seat_n(int n)
{
    return itest_sql_i64(&E, "SELECT id FROM seats WHERE schedule_id = %lld ORDER BY id LIMIT 1 OFFSET %d", SCHED, n);
}

static long long hold(int inst, const char *tok, long long seat)
{
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    itest_resp r;
    assert_int_equal(req(inst, "POST", "/api/v1/reservations", tok, body, NULL, &r), 201);
    long long id = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    return id;
}

static void test_hold_cancel_failed_payment(void **state)
{
    (void)state;
    snprintf(seats_path, sizeof seats_path, "/api/v1/schedules/%lld/seats", SCHED);
    for (int round = 0; round < 6; round++) {
        int inst = round % 3;
        long long seat = seat_n(round);
        char needle[48];
        snprintf(needle, sizeof needle, "{\"id\":%lld,", seat);
        /* a hold: the seat leaves every seat map */
        warm();
        long long res = hold(inst, RICH, seat);
        expect_fresh(inst, tk_mono_us() / 1000, needle, 0, "hold");
        /* a cancel: it comes back */
        warm();
        char path[96];
        snprintf(path, sizeof path, "/api/v1/reservations/%lld/cancel", res);
        assert_int_equal(req((inst + 1) % 3, "POST", path, RICH, NULL, NULL, NULL), 200);
        expect_fresh((inst + 1) % 3, tk_mono_us() / 1000, needle, 1, "cancel");
        /* a payment without points: the hold is released, the seat comes back */
        res = hold(inst, POOR, seat);
        warm();
        char body[64], idem[64];
        snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
        snprintf(idem, sizeof idem, "Idempotency-Key: bus-%d", round);
        assert_int_equal(req((inst + 2) % 3, "POST", "/api/v1/payments", POOR, body, idem, NULL), 409);
        expect_fresh((inst + 2) % 3, tk_mono_us() / 1000, needle, 1, "failed payment");
    }
}

static void test_admin_change(void **state)
{
    (void)state;
    long long seat = seat_n(10);
    char needle[96], body[96], path[96];
    snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/seats", SCHED);
    for (int round = 0; round < 3; round++) {
        long long price = 77000 + round;
        snprintf(needle, sizeof needle, "\"price\":%lld", price);
        warm();
        snprintf(body, sizeof body, "{\"seat_ids\":[%lld],\"price\":%lld}", seat, price);
        assert_int_equal(req(round, "PATCH", path, ADMIN, body, NULL, NULL), 200);
        expect_fresh(round, tk_mono_us() / 1000, needle, 1, "admin price change");
    }
    /* a purge on one drops the others' whole caches */
    warm();
    assert_int_equal(req(1, "POST", "/api/v1/admin/cache/purge", ADMIN, NULL, NULL, NULL), 200);
    uint64_t t0 = tk_mono_us() / 1000;
    char sql[96];
    snprintf(sql, sizeof sql, "UPDATE seats SET price = 55555 WHERE id = %lld", seat);
    assert_int_equal(mysql_query(E.db, sql), 0); /* behind the caches' back */
    itest_resp r;
    for (int i = 0; i < 3; i++) { /* the purge reached them: they read MariaDB again */
        int fresh = 0;
        while (!fresh && tk_mono_us() / 1000 - t0 < 2000) {
            assert_int_equal(req(i, "GET", seats_path, NULL, NULL, NULL, &r), 200);
            fresh = strstr(r.body, "\"price\":55555") != NULL;
            itest_resp_free(&r);
        }
        assert_true(fresh);
    }
}

static void test_expiry_and_metrics(void **state)
{
    (void)state;
    long long seat = seat_n(20);
    char needle[48];
    snprintf(needle, sizeof needle, "{\"id\":%lld,", seat);
    long long res = hold(0, RICH, seat);
    warm();
    /* the sweeper (on whichever instance holds its lease) expires it after --hold-ttl 2 */
    uint64_t t0 = 0;
    for (int i = 0; i < 600 && !t0; i++) {
        if (itest_sql_i64(&E, "SELECT status = 'EXPIRED' FROM reservations WHERE id = %lld", res) == 1)
            t0 = tk_mono_us() / 1000;
        else
            usleep(10000);
    }
    assert_true(t0 > 0);
    expect_fresh(-1, t0, needle, 1, "expiry");

    /* every instance counted invalidations from the others, and their lag; the
     * instances answered misses from each other's fills (L2) */
    long long l2_hits = 0;
    for (int i = 0; i < 3; i++) {
        itest_resp r;
        assert_int_equal(req(i, "GET", "/metrics", NULL, NULL, NULL, &r), 200);
        const char *p = strstr(r.body, "ticketctl_cache_invalidations_total{direction=\"received\"} ");
        assert_non_null(p);
        assert_true(atoll(strchr(p, '}') + 2) > 0);
        p = strstr(r.body, "ticketctl_cache_invalidation_lag_seconds_count ");
        assert_non_null(p);
        assert_true(atoll(strchr(p, ' ') + 1) > 0);
        assert_non_null(strstr(r.body, "ticketctl_cache_level_requests_total{level=\"l1\",result=\"hit\"}"));
        p = strstr(r.body, "ticketctl_cache_level_requests_total{level=\"l2\",result=\"hit\"} ");
        assert_non_null(p);
        l2_hits += atoll(strchr(p, '}') + 2);
        itest_resp_free(&r);
    }
    assert_true(l2_hits > 0);
    print_message("worst staleness across instances: %lld ms (bound %d ms)\n", worst_ms, BOUND_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hold_cancel_failed_payment),
        cmocka_unit_test(test_admin_change),
        cmocka_unit_test(test_expiry_and_metrics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
