/* Integration: /metrics as a real Prometheus reads it. After a few bookings
 * the exposition passes `promtool check metrics` (HELP and TYPE on every
 * family, names and units as Prometheus wants them), has no duplicate
 * series (GET and POST of one path are told apart by `method`), buckets up
 * to 10 s, the process_* family, build info, holds by strategy and
 * outcome, payments, and the outbox relay's backlog. */
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
    if (itest_seed(&E, "--users 50 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 50 --seed 4") != 0)
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

/* The value of the one series `name{labels}` exactly, or -1. */
static double series(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, key, kl) && l[kl] == ' ')
            return strtod(l + kl + 1, NULL);
    return -1;
}

/* promtool, the Prometheus project's own checker, on an exposition. */
static void promtool_check(const char *m)
{
    char path[] = "/tmp/itest_metrics_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, m, strlen(m)), (ssize_t)strlen(m));
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "promtool check metrics < %s > %s.out 2>&1", path, path);
    int st = system(cmd);
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        fail_msg("promtool not installed (Debian package prometheus; scripts/install-deps)");
    char outp[64], *out = NULL;
    size_t olen = 0;
    char e[256];
    snprintf(outp, sizeof outp, "%s.out", path);
    tk_read_file(outp, 0, &out, &olen, e, sizeof e);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || olen > 0)
        fail_msg("promtool check metrics: exit %d: %s", WEXITSTATUS(st), out ? out : "");
    free(out);
    unlink(outp);
    unlink(path);

}

static void test_exposition_is_valid_and_complete(void **state)
{
    (void)state;
    char *tok = itest_login(&E, 3);
    assert_non_null(tok);
    itest_resp r;
    itest_http(&E, "POST", "/api/v1/points/charge", tok, "{\"amount\":500000}", NULL, &r);
    itest_resp_free(&r);
    itest_http(&E, "POST", "/api/v1/reservations", tok, "{\"seat_id\":7}", NULL, &r);
    assert_int_equal(r.status, 201);
    long long res = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    itest_http(&E, "POST", "/api/v1/reservations", tok, "{\"seat_id\":7}", NULL, &r); /* taken */
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/reservations", tok, NULL, NULL, &r);
    itest_resp_free(&r);
    char body[64];
    snprintf(body, sizeof body, "{\"reservation_id\":%lld}", res);
    itest_http(&E, "POST", "/api/v1/payments", tok, body, "Idempotency-Key: m-1", &r);
    assert_int_equal(r.status, 201);
    itest_resp_free(&r);
    free(tok);

    itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    const char *m = r.body;

    promtool_check(m);

    /* no series twice */
    json_t *seen = json_object();
    for (const char *l = m; *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        if (n && l[0] != '#') {
            const char *sp = memrchr(l, ' ', n);
            char key[512];
            snprintf(key, sizeof key, "%.*s", (int)(sp ? sp - l : (long)n), l);
            if (json_object_get(seen, key))
                fail_msg("duplicate series %s", key);
            json_object_set_new(seen, key, json_true());
        }
        l = nl ? nl + 1 : l + n;
    }
    json_decref(seen);

    /* GET and POST of /api/v1/reservations are separate series */
    assert_true(series(m, "ticketctl_http_requests_total{method=\"GET\",route=\"/api/v1/reservations\",code=\"2xx\"}") >= 1);
    assert_true(series(m, "ticketctl_http_requests_total{method=\"POST\",route=\"/api/v1/reservations\",code=\"2xx\"}") >= 1);
    assert_true(series(m, "ticketctl_http_requests_total{method=\"POST\",route=\"/api/v1/reservations\",code=\"4xx\"}") >= 1);
    assert_non_null(strstr(m, "ticketctl_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/reservations\",le=\"10\"}"));
    assert_true(series(m, "ticketctl_holds_total{strategy=\"redis-atomic\",outcome=\"held\"}") >= 1);
    assert_true(series(m, "ticketctl_holds_total{strategy=\"redis-atomic\",outcome=\"seat_taken\"}") >= 1);
    assert_true(series(m, "ticketctl_payments_total{outcome=\"completed\"}") >= 1);
    assert_true(series(m, "process_resident_memory_bytes") > 1e6);
    assert_true(series(m, "process_cpu_seconds_total") > 0);
    assert_true(series(m, "process_open_fds") > 3);
    assert_non_null(strstr(m, "ticketctl_build_info{version=\""));
    assert_true(series(m, "ticketctl_outbox_backlog") >= -1);
    assert_true(series(m, "ticketctl_workers") >= 4);
    itest_resp_free(&r);
}

/* The waiting room per sale: line length, active users (capped by
 * --active-users) and admission rate, from the state of the last tick. */
static void test_waiting_room_gauges(void **state)
{
    (void)state;
    assert_int_equal(itest_server_stop(&E), 0);
    assert_int_equal(itest_run(&E, "bench --queue-reset"), 0);
    assert_int_equal(itest_server_start(&E, "--workers 2 --queue redis --new-users-per-minute 600 --active-users 2"
                                            " --queue-tick 100ms"),
                     0);
    long long sched = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    char path[96], key[160];
    snprintf(path, sizeof path, "/api/v1/queue/%lld/token", sched);
    for (int i = 0; i < 5; i++) {
        char *jwt = itest_login(&E, 20 + i);
        assert_non_null(jwt);
        itest_resp r;
        itest_http(&E, "POST", path, jwt, NULL, NULL, &r);
        assert_int_equal(r.status, 201);
        itest_resp_free(&r);
        free(jwt);
    }
    itest_resp r = {0};
    double active = -1, waiting = -1;
    for (int t = 0; t < 50 && active != 2; t++) { /* 600/min at 100 ms ticks: one admission a tick */
        usleep(100000);
        itest_resp_free(&r);
        itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        snprintf(key, sizeof key, "ticketctl_waiting_room_active_users{schedule=\"%lld\"}", sched);
        active = series(r.body, key);
        snprintf(key, sizeof key, "ticketctl_waiting_room_waiting{schedule=\"%lld\"}", sched);
        waiting = series(r.body, key);
    }
    assert_true(active == 2); /* the cap */
    assert_true(waiting == 3);
    snprintf(key, sizeof key, "ticketctl_waiting_room_admission_rate_per_minute{schedule=\"%lld\"}", sched);
    assert_true(series(r.body, key) == 600);
    snprintf(key, sizeof key, "ticketctl_waiting_room_state_age_seconds{schedule=\"%lld\"}", sched);
    double age = series(r.body, key);
    assert_true(age >= 0 && age < 5);
    assert_non_null(strstr(r.body, "# TYPE ticketctl_waiting_room_line_advance_per_minute gauge"));
    promtool_check(r.body);
    itest_resp_free(&r);
    assert_int_equal(itest_run(&E, "bench --queue-reset"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_is_valid_and_complete),
        cmocka_unit_test(test_waiting_room_gauges),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
