/* Integration: two `serve` instances behind nginx (`dev up --instances 2`)
 * on the real stack.
 *
 *  - dev up --instances 2 records both instances, nginx and TICKETCTL_TARGET;
 *  - a hold taken through nginx and left unpaid is expired by the hold
 *    sweeper, which ran at most once per tick across both instances;
 *  - a short bench through nginx, with the sweeping instance SIGKILLed in
 *    the middle: every invariant holds (zero double bookings, exact
 *    balances), every payment the bench saw confirmed is in MariaDB,
 *    requests reached both instances before the kill, the other instance
 *    took over the sweeper, and requests through nginx still succeed after;
 *  - with the waiting room (`serve --queue redis`) on both instances, each
 *    admission tick admits once: the admitted count never outruns one
 *    tick's quota per tick, before and after the lease holder is killed.
 *
 * The instances run from the test stack's state dir; teardown scales them
 * back to 0 (`dev up --instances 0`), so later tests see a plain stack. */
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
#include "ticketctl/devstack.h"
#include "ticketctl/hold.h"
#include "ticketctl/invariants.h"
#include "ticketctl/queue.h"

#define SWEEP_MS 500 /* --sweep-interval of the instances */
#define HOLD_TTL_S 3

static itest_env E;
static tk_dev_env D; /* stack.env with the instances */
static redisContext *R;
static long long first_tick; /* sweeper ticks from here on are checked */

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, "--users 300 --concerts 20 --schedules-per-concert 2 --seats-per-schedule 300 --seed 17 "
                       "--no-progress") != 0)
        return -1;
    itest_run(&E, "dev up --instances 0 >/dev/null 2>&1"); /* a previous run's leftovers */
    first_tick = tk_wall_ms() / SWEEP_MS;
    if (itest_run(&E, "dev up --instances 2 --serve-args '--workers 4 --loops 1 --sweep-interval %dms "
                      "--hold-ttl %d' >/dev/null",
                  SWEEP_MS, HOLD_TTL_S) != 0)
        return -1;
    if (tk_dev_env_read(E.state, &D, err, sizeof err) != 0) {
        fprintf(stderr, "itest: %s\n", err);
        return -1;
    }
    R = tk_redis_connect(E.b.redis, err, sizeof err);
    const char *colon = strrchr(D.target, ':');
    if (!R || !colon)
        return -1;
    E.port = atoi(colon + 1); /* itest_http goes through nginx */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = itest_run(&E, "dev up --instances 0 >/dev/null");
    if (R)
        redisFree(R);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

/* Run `ticketctl <args> --state S` and capture stdout (malloc'd) and the exit code. */
static char *run_capture(int *rc, const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s --state '%s'", E.bin, args, E.state);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 65536, n = 0;
    char *out = calloc(1, cap);
    assert_non_null(out);
    size_t got;
    while (n < cap - 1 && (got = fread(out + n, 1, cap - 1 - n, p)) > 0)
        n += got;
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

/* Sum of ticketctl_http_requests_total on one instance's own port, or -1. */
static long long instance_requests(int port)
{
    int saved = E.port;
    E.port = port;
    itest_resp r;
    itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &r);
    E.port = saved;
    long long sum = r.status == 200 ? 0 : -1;
    for (const char *p = r.body; sum >= 0 && (p = strstr(p, "\nticketctl_http_requests_total{")); p++) {
        const char *sp = strchr(p, '}');
        if (sp)
            sum += atoll(sp + 1);
    }
    itest_resp_free(&r);
    return sum;
}

/* Sweeper records of one tick: entries "<pid>:<expired>"; fills pids (up to
 * cap) and the expired total. Returns the number of entries. */
static int tick_record(long long tick, long *pids, int cap, long long *expired)
{
    redisReply *r = redisCommand(R, "LRANGE tk:sweeper:tick:%lld 0 -1", tick);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    int n = (int)r->elements;
    for (int i = 0; i < n; i++) {
        const char *s = r->element[i]->str;
        if (i < cap)
            pids[i] = atol(s);
        const char *c = strchr(s, ':');
        if (c && expired)
            *expired += atoll(c + 1);
    }
    freeReplyObject(r);
    return n;
}

/* The pid that swept most recently (within the last 10 ticks), or 0. */
static long last_sweeper(void)
{
    long long now = tk_wall_ms() / SWEEP_MS;
    for (long long t = now; t > now - 10; t--) {
        long pid[4];
        if (tick_record(t, pid, 4, NULL) > 0)
            return pid[0];
    }
    return 0;
}

static void test_stack_records_instances(void **state)
{
    (void)state;
    assert_int_equal(D.instances, 2);
    assert_true(D.inst_pid[0] > 0 && D.inst_pid[1] > 0 && D.inst_pid[0] != D.inst_pid[1]);
    assert_true(D.inst_port[0] > 0 && D.inst_port[1] > 0 && D.inst_port[0] != D.inst_port[1]);
    assert_true(D.nginx_pid > 0);
    assert_int_equal(strncmp(D.target, "http://127.0.0.1:", 17), 0);

    int rc;
    char *env = run_capture(&rc, "dev env");
    assert_int_equal(rc, 0);
    char want[TK_URL_MAX + 64];
    snprintf(want, sizeof want, "export TICKETCTL_TARGET='%s'", D.target);
    assert_non_null(strstr(env, want));
    free(env);
    char *st = run_capture(&rc, "dev status --json");
    assert_int_equal(rc, 0); /* everything runs */
    json_t *js = json_loads(st, 0, NULL);
    free(st);
    assert_non_null(js);
    json_t *inst = json_object_get(js, "instances");
    assert_int_equal(json_array_size(inst), 2);
    for (size_t i = 0; i < 2; i++)
        assert_true(json_is_true(json_object_get(json_array_get(inst, i), "running")));
    assert_true(json_is_true(json_object_get(json_object_get(js, "nginx"), "running")));
    json_decref(js);
    char target[TK_URL_MAX];
    assert_int_equal(tk_dev_target(E.state, target, sizeof target), 0);
    assert_string_equal(target, D.target);

    /* through nginx, and each instance on its own port */
    itest_resp r;
    itest_http(&E, "GET", "/readyz", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    assert_true(instance_requests(D.inst_port[0]) >= 0);
    assert_true(instance_requests(D.inst_port[1]) >= 0);

    /* the generated nginx config: both upstreams, and POST never retried once sent */
    char conf[1200], line[512];
    snprintf(conf, sizeof conf, "%s/nginx/nginx.conf", E.state);
    FILE *f = fopen(conf, "r");
    assert_non_null(f);
    int upstreams = 0, next_upstream = 0;
    while (fgets(line, sizeof line, f)) {
        const char *d = line + strspn(line, " ");
        upstreams += !strncmp(d, "server 127.0.0.1:", 17);
        if (!strncmp(d, "proxy_next_upstream ", 20)) {
            next_upstream++;
            assert_null(strstr(d, "non_idempotent"));
        }
        assert_null(strstr(line, "access_log on"));
    }
    fclose(f);
    assert_int_equal(upstreams, 2);
    assert_int_equal(next_upstream, 1);

    /* bad input is refused before anything starts */
    assert_int_equal(itest_run(&E, "dev up --instances 99 2>/dev/null"), 2);
    assert_int_equal(itest_run(&E, "dev status --instances 2 2>/dev/null"), 2);
}

/* A hold taken through nginx and never paid is expired by the sweeper of
 * one instance, once. */
static void test_unpaid_hold_expires_once(void **state)
{
    (void)state;
    char *tok = itest_login(&E, 7);
    assert_non_null(tok);
    long long seat = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE status = 'AVAILABLE'");
    assert_true(seat > 0);
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/reservations", tok, body, NULL, &r);
    assert_int_equal(r.status, 201);
    long long res = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    assert_true(res > 0);
    long long held_tick = tk_wall_ms() / SWEEP_MS;

    int expired = 0;
    for (int i = 0; i < (HOLD_TTL_S + 15) * 10 && !expired; i++) { /* bounded: TTL + 15 s */
        expired = itest_sql_i64(&E, "SELECT status = 'EXPIRED' FROM reservations WHERE id = %lld", res) == 1;
        if (!expired)
            sleep_ms(100);
    }
    assert_true(expired);
    sleep_ms(SWEEP_MS); /* the record follows the sweep */
    /* exactly one sweep counted the expiry, and no tick was swept twice */
    long long total = 0;
    int ticks_swept = 0;
    long long now = tk_wall_ms() / SWEEP_MS;
    for (long long t = held_tick; t <= now; t++) {
        long pids[4];
        int n = tick_record(t, pids, 4, &total);
        if (n > 1)
            fail_msg("tick %lld swept %d times (pids %ld, %ld)", t, n, pids[0], pids[1]);
        ticks_swept += n;
    }
    assert_true(total >= 1);
    assert_true(ticks_swept >= (int)((now - held_tick) / 2)); /* the sweeper runs most ticks */
    free(tok);
}

/* Run the shell command line of a bench in a child. */
static pid_t bench_spawn(const char *cmd)
{
    pid_t bench = fork();
    assert_true(bench >= 0);
    if (bench == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return bench;
}

/* Wait at most max_s for the bench; it must exit 0 (run done and every
 * invariant held). */
static void bench_wait_ok(pid_t bench, int max_s)
{
    int status = 0, done = 0;
    for (int i = 0; i < max_s * 10 && !done; i++) {
        done = waitpid(bench, &status, WNOHANG) == bench;
        if (!done)
            sleep_ms(100);
    }
    if (!done) {
        kill(bench, SIGKILL);
        waitpid(bench, &status, 0);
        fail_msg("bench did not finish within %d s", max_s);
    }
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_bench_with_kill(void **state)
{
    (void)state;
    char out[1200], cmd[4096];
    snprintf(out, sizeof out, "%s/itest-instances-bench.json", E.state);
    remove(out);
    long long pay0 = itest_sql_i64(&E, "SELECT COUNT(*) FROM payments");
    long long bench_tick = tk_wall_ms() / SWEEP_MS;
    snprintf(cmd, sizeof cmd,
             "exec '%s' bench --users 60 --ramp 1s --duration 10s --think-time 20 --threads 1 --timeout 5s "
             "--target '%s' --out '%s' --state '%s' >/dev/null",
             E.bin, D.target, out, E.state);
    pid_t bench = bench_spawn(cmd);
    sleep_ms(4000);
    /* both instances served part of the load */
    long long req0 = instance_requests(D.inst_port[0]), req1 = instance_requests(D.inst_port[1]);
    fprintf(stderr, "itest: requests before the kill: instance 1 %lld, instance 2 %lld\n", req0, req1);
    assert_true(req0 > 20);
    assert_true(req1 > 20);
    /* SIGKILL the instance that sweeps (the lease holder) */
    long sweeper = last_sweeper();
    int victim = sweeper == D.inst_pid[1] ? 1 : 0;
    int survivor = 1 - victim;
    fprintf(stderr, "itest: SIGKILL instance %d (pid %ld; last sweeper %ld)\n", victim + 1, D.inst_pid[victim],
            sweeper);
    assert_int_equal(kill((pid_t)D.inst_pid[victim], SIGKILL), 0);
    long long kill_tick = tk_wall_ms() / SWEEP_MS;

    bench_wait_ok(bench, 90);

    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    json_t *sum = json_object_get(res, "summary");
    json_int_t requests = json_integer_value(json_object_get(sum, "requests"));
    json_int_t errors = json_integer_value(json_object_get(sum, "errors"));
    json_int_t flows = json_integer_value(json_object_get(sum, "flows_completed"));
    fprintf(stderr, "itest: bench through nginx: %lld requests, %lld errors, %lld paid flows\n", (long long)requests,
            (long long)errors, (long long)flows);
    assert_true(requests > 300);
    assert_true(flows > 20);
    assert_true(errors * 20 < requests); /* the kill costs at most the requests in flight on it */
    json_decref(res);

    /* no confirmed payment lost: every payment the bench saw is in MariaDB */
    long long pays = itest_sql_i64(&E, "SELECT COUNT(*) FROM payments") - pay0;
    assert_true(pays >= flows);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM (SELECT seat_id FROM reservations WHERE status IN "
                                       "('PENDING','CONFIRMED') GROUP BY seat_id HAVING COUNT(*) > 1) x"),
                     0);

    /* the survivor keeps serving through nginx: reads and a full hold + pay */
    for (int i = 0; i < 10; i++) {
        itest_resp r;
        itest_http(&E, "GET", "/api/v1/concerts", NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        itest_resp_free(&r);
    }
    char *tok = itest_login(&E, 11);
    assert_non_null(tok);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/points/charge", tok, "{\"amount\":1000000}", NULL, &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    long long seat = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE status = 'AVAILABLE'");
    assert_true(seat > 0);
    char body[96];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    itest_http(&E, "POST", "/api/v1/reservations", tok, body, NULL, &r);
    assert_int_equal(r.status, 201);
    long long rid = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", rid);
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: itest-instances-after-kill", &r);
    assert_int_equal(r.status, 201);
    itest_resp_free(&r);
    free(tok);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM payments p JOIN reservations r ON r.id = "
                                       "p.reservation_id WHERE r.id = %lld AND r.status = 'CONFIRMED'",
                                       rid),
                     1);

    /* dev status sees the dead instance */
    int rc;
    char *st = run_capture(&rc, "dev status");
    assert_int_equal(rc, 3);
    free(st);

    /* once per tick across instances; the survivor took the sweeper over
     * within the lease TTL (3 ticks) plus scheduling slack */
    sleep_ms(6 * SWEEP_MS);
    long long now = tk_wall_ms() / SWEEP_MS;
    int by_survivor_after = 0, by_victim_after = 0, swept = 0;
    for (long long t = first_tick; t <= now; t++) {
        long pids[4];
        int n = tick_record(t, pids, 4, NULL);
        if (n > 1)
            fail_msg("tick %lld swept %d times (pids %ld, %ld)", t, n, pids[0], pids[1]);
        if (n == 1 && t >= bench_tick)
            swept++;
        if (n == 1 && t > kill_tick) {
            by_survivor_after += pids[0] == D.inst_pid[survivor];
            by_victim_after += pids[0] == D.inst_pid[victim];
        }
    }
    fprintf(stderr, "itest: %d of %lld ticks swept since the bench began; after the kill %d by the survivor\n", swept,
            now - bench_tick + 1, by_survivor_after);
    assert_int_equal(by_victim_after, 0);
    assert_true(by_survivor_after >= 3);
    assert_true(swept >= (int)((now - bench_tick + 1) / 2));

    tk_invariant inv[TK_INVARIANTS_MAX];
    char err[256];
    int n = tk_invariants_check(E.db, inv, TK_INVARIANTS_MAX, err, sizeof err);
    assert_true(n >= 5);
    for (int i = 0; i < n; i++) {
        if (!inv[i].ok)
            fprintf(stderr, "invariant failed: %s: %s\n", inv[i].name, inv[i].detail);
        assert_true(inv[i].ok);
    }
}

#define ADMIT_PER_MIN 240.0 /* 2 users per 500 ms tick */
#define QTICK_MS 500

/* Admitted users of a sale, and the sum of its per-tick admission record. */
static long long admitted_count(uint64_t sale, long long *ticks_sum, long long *ticks_run)
{
    redisReply *r = redisCommand(R, "LLEN tk:wr:{sale:%llu}:admlog", (unsigned long long)sale);
    assert_non_null(r);
    long long n = r->integer;
    freeReplyObject(r);
    r = redisCommand(R, "HGETALL tk:wr:{sale:%llu}:ticks", (unsigned long long)sale);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ARRAY);
    *ticks_sum = 0;
    *ticks_run = 0;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        long long k = atoll(r->element[i]->str), v = atoll(r->element[i + 1]->str);
        if (v > tk_queue_tick_quota(ADMIT_PER_MIN, QTICK_MS, k))
            fail_msg("tick %lld admitted %lld, over its quota", k, v);
        *ticks_sum += v;
        *ticks_run += 1;
    }
    freeReplyObject(r);
    return n;
}

/* At most one tick's quota per tick of wall time in [k0, k1]. */
static long long quota_between(long long k0, long long k1)
{
    long long q = 0;
    for (long long k = k0; k <= k1; k++)
        q += tk_queue_tick_quota(ADMIT_PER_MIN, QTICK_MS, k);
    return q;
}

/* The waiting room on both instances: every admission tick admits once. */
/* Rolling restart (issue 13.4): `dev restart` replaces both instances one
 * at a time in the middle of a bench through nginx; the bench sees 0
 * errors, its invariants hold, every instance is a new process on its old
 * port, and the restarted instances serve. */
static void test_bench_rolling_restart(void **state)
{
    (void)state;
    char out[1200], cmd[4096];
    snprintf(out, sizeof out, "%s/itest-instances-rolling.json", E.state);
    remove(out);
    tk_dev_env before;
    char err[256];
    assert_int_equal(tk_dev_env_read(E.state, &before, err, sizeof err), 0);
    snprintf(cmd, sizeof cmd,
             "exec '%s' bench --users 40 --ramp 1s --duration 9s --think-time 20 --threads 1 --timeout 5s "
             "--target '%s' --out '%s' --state '%s' >/dev/null",
             E.bin, before.target, out, E.state);
    pid_t bench = bench_spawn(cmd);
    sleep_ms(2500);
    uint64_t t0 = tk_mono_ms();
    assert_int_equal(itest_run(&E, "dev restart >/dev/null 2>&1"), 0);
    fprintf(stderr, "itest: rolling restart of 2 instances took %llu ms\n", (unsigned long long)(tk_mono_ms() - t0));
    bench_wait_ok(bench, 60);
    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    assert_non_null(res);
    json_t *sum = json_object_get(res, "summary");
    json_int_t requests = json_integer_value(json_object_get(sum, "requests"));
    json_int_t errors = json_integer_value(json_object_get(sum, "errors"));
    fprintf(stderr, "itest: bench through a rolling restart: %lld requests, %lld errors\n", (long long)requests,
            (long long)errors);
    assert_true(requests > 300);
    assert_int_equal(errors, 0);
    json_decref(res);

    tk_dev_env after;
    assert_int_equal(tk_dev_env_read(E.state, &after, err, sizeof err), 0);
    assert_int_equal(after.instances, 2);
    for (int i = 0; i < 2; i++) {
        assert_true(after.inst_pid[i] != before.inst_pid[i]);
        assert_int_equal(after.inst_port[i], before.inst_port[i]);
        assert_true(kill((pid_t)before.inst_pid[i], 0) != 0); /* the predecessor is gone */
    }
    D = after;
    for (int i = 0; i < 5; i++) {
        itest_resp r;
        itest_http(&E, "GET", "/api/v1/concerts", NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        itest_resp_free(&r);
    }
}

static void test_admission_once_per_tick(void **state)
{
    (void)state;
    char err[256];
    /* fresh instances with the waiting room */
    assert_int_equal(itest_run(&E, "dev up --instances 0 >/dev/null 2>&1"), 0);
    assert_int_equal(itest_run(&E, "dev up --instances 2 --serve-args '--workers 4 --loops 1 --queue redis "
                                   "--admit-rate %.0f/min --queue-tick %dms' >/dev/null 2>&1",
                               ADMIT_PER_MIN, QTICK_MS),
                     0);
    assert_int_equal(tk_dev_env_read(E.state, &D, err, sizeof err), 0);
    assert_int_equal(D.instances, 2);
    E.port = atoi(strrchr(D.target, ':') + 1);
    const uint64_t sale = (uint64_t)itest_sql_i64(&E, "SELECT MAX(id) FROM concert_schedules");
    assert_true(sale > 0);
    tk_queue_conn qc = {R, NULL};
    assert_int_equal(tk_queue_reset(TK_QUEUE_REDIS, &qc, sale), 0);

    enum { NUSERS = 30 };
    char *tok[NUSERS];
    for (int i = 0; i < NUSERS; i++) {
        tok[i] = itest_login(&E, 100 + i);
        assert_non_null(tok[i]);
    }
    long long k0 = tk_wall_ms() / QTICK_MS;
    char path[96];
    snprintf(path, sizeof path, "/api/v1/queue/%llu/token", (unsigned long long)sale);
    for (int i = 0; i < NUSERS; i++) {
        itest_resp r;
        itest_http(&E, "POST", path, tok[i], NULL, NULL, &r);
        assert_int_equal(r.status, 201);
        itest_resp_free(&r);
        free(tok[i]);
    }
    sleep_ms(3000);
    long long sum, run, k1 = tk_wall_ms() / QTICK_MS;
    long long a1 = admitted_count(sale, &sum, &run);
    fprintf(stderr, "itest: waiting room: %lld admitted in %lld ticks (%lld ran), bound %lld\n", a1, k1 - k0 + 1,
            run, quota_between(k0, k1));
    assert_int_equal(a1, sum);                 /* every admission belongs to one tick's record */
    assert_true(a1 <= quota_between(k0, k1)); /* two instances never both ran a tick */
    assert_true(a1 >= 4);                      /* and the job did run */

    /* kill one instance (maybe the lease holder): admission goes on, once per tick */
    assert_int_equal(kill((pid_t)D.inst_pid[0], SIGKILL), 0);
    sleep_ms(4000);
    long long k2 = tk_wall_ms() / QTICK_MS;
    long long a2 = admitted_count(sale, &sum, &run);
    fprintf(stderr, "itest: waiting room after the kill: %lld admitted by tick %lld, bound %lld\n", a2, k2 - k0 + 1,
            quota_between(k0, k2));
    assert_int_equal(a2, sum);
    assert_true(a2 <= quota_between(k0, k2));
    assert_true(a2 > a1 || a2 == NUSERS); /* the survivor admits */
    assert_int_equal(tk_queue_reset(TK_QUEUE_REDIS, &qc, sale), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stack_records_instances),
        cmocka_unit_test(test_unpaid_hold_expires_once),
        cmocka_unit_test(test_bench_rolling_restart),
        cmocka_unit_test(test_bench_with_kill),
        cmocka_unit_test(test_admission_once_per_tick),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
