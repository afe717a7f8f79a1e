/* The low lane of serve's worker queue (issue 12, 5(c); server/server.c):
 * the waiting room's own jobs (take a place, leave, a poll the loop could
 * not answer) queue in a lane of their own, and workers take the bookings'
 * lane first, the low lane every 4th job, so bookings are not served behind
 * a flood of waiting-room jobs.
 *
 * One worker, every job slowed by an injected 40 ms (serve --fault-latency,
 * SIGUSR1), a 2 s request deadline. An admitted user is ready to book; then
 * 150 token requests of another user arrive at once (curl --parallel), all
 * low lane: 6 s of work for the one worker. With 50 or more of them queued,
 * the admitted user's hold and a points charge (bookings' lane) must each
 * be answered 2xx well within the deadline, although in one FIFO lane they
 * would wait behind 2 s or more of queued jobs and miss it (503). The
 * flood itself still drains (the low lane does not starve): every token
 * request is answered 200/201 or, past its deadline, 503. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/queue.h"
#include "ticketctl/rcluster.h"

static itest_env E;

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 20 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 20 --seed 9") != 0)
        return -1;
    return itest_server_start(&E, "--workers 1 --queue redis --active-users 100 --new-users-per-minute 60000"
                                  " --queue-tick 100ms --fault-latency 40ms --request-timeout 2s");
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static long long metric(const char *series) { return itest_metric(&E, series); }

static long long queue_depth(void) { return metric("ticketctl_worker_queue_depth"); }

static void test_bookings_pass_a_flood_of_waiting_room_jobs(void **state)
{
    (void)state;
    long long sched = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    long long seat = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE schedule_id = %lld", sched);
    assert_true(sched > 0 && seat > 0);
    char err[256]; /* a line of an earlier run on this stack would keep user a's place */
    redisContext *rc = tk_redis_connect(E.b.redis, err, sizeof err);
    assert_non_null(rc);
    tk_queue_conn qc = {rc, NULL};
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched);
    tk_redis_free(rc);
    char *a = itest_login(&E, 1), *b = itest_login(&E, 2);
    assert_non_null(a);
    assert_non_null(b);
    char tpath[96], spath[96];
    snprintf(tpath, sizeof tpath, "/api/v1/queue/%lld/token", sched);
    snprintf(spath, sizeof spath, "/api/v1/queue/%lld/status", sched);

    /* user a takes a place and is admitted */
    itest_resp r;
    itest_http(&E, "POST", tpath, a, NULL, NULL, &r);
    assert_int_equal(r.status, 201);
    char qh[256];
    snprintf(qh, sizeof qh, "X-Queue-Token: %s", json_string_value(json_object_get(r.json, "token")));
    itest_resp_free(&r);
    int admitted = 0;
    for (int t = 0; t < 100 && !admitted; t++) {
        itest_http(&E, "GET", spath, a, NULL, qh, &r);
        assert_int_equal(r.status, 200);
        admitted = json_is_true(json_object_get(r.json, "admitted"));
        itest_resp_free(&r);
        if (!admitted)
            usleep(50000);
    }
    assert_true(admitted);

    /* every job now costs the one worker 40 ms more */
    assert_int_equal(kill(E.server_pid, SIGUSR1), 0);
    usleep(100000);

    /* the flood: 150 token requests of user b at once, all low lane */
    char cfg[] = "/tmp/itest_low_lane.XXXXXX";
    int fd = mkstemp(cfg);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    for (int i = 0; i < 150; i++)
        fprintf(f, "url = \"http://127.0.0.1:%d%s\"\noutput = \"/dev/null\"\n", E.port, tpath);
    fclose(f);
    char codes[64], cmd[2048];
    snprintf(codes, sizeof codes, "%s.codes", cfg);
    snprintf(cmd, sizeof cmd,
             "curl -s --no-progress-meter -Z --parallel-immediate --parallel-max 150 -X POST -H 'Authorization: Bearer %s' "
             "-w '%%{http_code}\\n' -K %s > %s",
             b, cfg, codes);
    uint64_t t_flood = tk_mono_ms();
    pid_t flood = itest_spawn(cmd);
    assert_true(flood > 0);
    long long depth = 0;
    for (int t = 0; t < 400 && depth < 50; t++) {
        depth = queue_depth();
        if (depth < 50)
            usleep(10000);
    }
    fprintf(stderr, "itest_low_lane: %lld waiting-room jobs queued for the one worker\n", depth);
    assert_true(depth >= 50); /* >= 2 s of queued work at 40 ms a job */
    assert_true(metric("ticketctl_worker_queue_low_depth") >= 40); /* all of them in the low lane */
    long long booking_before = metric("ticketctl_worker_lane_jobs_total{lane=\"booking\"}");

    /* the bookings' lane: a hold with the admitted token, and a charge */
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    uint64_t t0 = tk_mono_ms();
    itest_http(&E, "POST", "/api/v1/reservations", a, body, qh, &r);
    uint64_t hold_ms = tk_mono_ms() - t0;
    long hold_status = r.status;
    itest_resp_free(&r);
    t0 = tk_mono_ms();
    itest_http(&E, "POST", "/api/v1/points/charge", a, "{\"amount\":1000}", NULL, &r);
    uint64_t charge_ms = tk_mono_ms() - t0;
    long charge_status = r.status;
    itest_resp_free(&r);
    long long depth_after = queue_depth();
    fprintf(stderr, "itest_low_lane: hold %ld in %llu ms, charge %ld in %llu ms; %lld jobs still queued\n", hold_status,
            (unsigned long long)hold_ms, charge_status, (unsigned long long)charge_ms, depth_after);
    assert_int_equal(hold_status, 201);
    assert_true(charge_status == 200 || charge_status == 201);
    assert_true(hold_ms < 1000);
    assert_true(charge_ms < 1000);
    assert_true(depth_after >= 20); /* they went past the flood, not after it */
    assert_true(metric("ticketctl_worker_lane_jobs_total{lane=\"booking\"}") >= booking_before + 2);

    /* the flood drains: each answered, in time or with its deadline's 503 */
    assert_int_equal(itest_wait(flood, 30000), 0);
    uint64_t flood_ms = tk_mono_ms() - t_flood;
    f = fopen(codes, "r");
    assert_non_null(f);
    int n = 0, ok = 0, late = 0;
    char line[32];
    while (fgets(line, sizeof line, f)) {
        int c = atoi(line);
        n++;
        ok += c == 200 || c == 201;
        late += c == 503;
    }
    fclose(f);
    unlink(cfg);
    unlink(codes);
    assert_int_equal(metric("ticketctl_worker_queue_low_depth"), 0);
    assert_true(metric("ticketctl_worker_lane_jobs_total{lane=\"low\"}") >= 25);
    fprintf(stderr, "itest_low_lane: flood of %d drained in %llu ms: %d answered, %d past their deadline\n", n,
            (unsigned long long)flood_ms, ok, late);
    assert_int_equal(n, 150);
    assert_int_equal(ok + late, 150);
    assert_true(ok >= 25); /* the low lane was served all along: at least 1 s of it within the deadline */

    assert_int_equal(kill(E.server_pid, SIGUSR2), 0);
    free(a);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bookings_pass_a_flood_of_waiting_room_jobs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
