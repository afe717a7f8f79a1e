/* Integration: readiness a balancer can use (issue 13), on the real stack.
 * /readyz answers from the health monitor's memory, so it is quick whatever
 * the backends do: with Redis stalled (SIGSTOP) the server stays ready and
 * says "degraded" (Redis only filters; MariaDB decides every hold); with
 * MariaDB stalled it is 503 BACKEND_UNAVAILABLE with Retry-After; both
 * recover by themselves once the backend answers again. /healthz and
 * /readyz answer within 100 ms throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"

static itest_env E;
static tk_dev_env D;

static int setup(void **state)
{
    (void)state;
    char err[256];
    if (itest_stack(&E) != 0 || tk_dev_env_read(E.state, &D, err, sizeof err) != 0)
        return -1;
    return itest_server_start(&E, "--workers 4");
}

static int teardown(void **state)
{
    (void)state;
    kill((pid_t)D.pid[TK_DEV_MYSQL], SIGCONT); /* never leave a backend stopped */
    kill((pid_t)D.pid[TK_DEV_REDIS], SIGCONT);
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

typedef struct probe {
    long status;
    char body[2048];
    size_t len;
    char retry_after[16];
    double ms;
} probe;

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    probe *r = arg;
    size_t k = sz * n, room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    probe *r = arg;
    size_t k = sz * n;
    if (k > 12 && !strncasecmp(p, "Retry-After:", 12))
        snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)strcspn(p + 12, "\r\n"), p + 12);
    return k;
}

static probe get(const char *path)
{
    probe r = {0};
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", E.port, path);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    uint64_t t0 = tk_mono_us();
    curl_easy_perform(c);
    r.ms = (double)(tk_mono_us() - t0) / 1000.0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_cleanup(c);
    return r;
}

/* Poll /readyz until its body holds want (at most 5 s); every answer must
 * come within 100 ms, and so must /healthz. Returns the last answer. */
static probe wait_ready(const char *want)
{
    probe r = {0};
    for (int i = 0; i < 100; i++) {
        r = get("/readyz");
        if (r.ms > 100)
            fail_msg("/readyz took %.1f ms (body %s)", r.ms, r.body);
        probe h = get("/healthz");
        if (h.status != 200 || h.ms > 100)
            fail_msg("/healthz: %ld in %.1f ms", h.status, h.ms);
        if (strstr(r.body, want))
            return r;
        usleep(50000);
    }
    fail_msg("/readyz never said %s (last: %ld %s)", want, r.status, r.body);
    return r;
}

static void test_redis_stalled_is_degraded_not_unready(void **state)
{
    (void)state;
    probe r = wait_ready("\"status\":\"ready\"");
    assert_int_equal(r.status, 200);
    assert_int_equal(kill((pid_t)D.pid[TK_DEV_REDIS], SIGSTOP), 0);
    r = wait_ready("\"status\":\"degraded\"");
    assert_int_equal(r.status, 200); /* a balancer keeps this server */
    assert_non_null(strstr(r.body, "\"redis\":\"down\""));
    assert_non_null(strstr(r.body, "\"mariadb\":\"up\""));
    itest_resp m;
    itest_http(&E, "GET", "/metrics", NULL, NULL, NULL, &m);
    assert_non_null(strstr(m.body, "ticketctl_degraded 1"));
    assert_non_null(strstr(m.body, "ticketctl_backend_up{backend=\"redis\"} 0"));
    itest_resp_free(&m);
    assert_int_equal(kill((pid_t)D.pid[TK_DEV_REDIS], SIGCONT), 0);
    r = wait_ready("\"status\":\"ready\""); /* recovers by itself */
    assert_int_equal(r.status, 200);
}

static void test_mariadb_stalled_is_503_with_retry_after(void **state)
{
    (void)state;
    wait_ready("\"status\":\"ready\"");
    assert_int_equal(kill((pid_t)D.pid[TK_DEV_MYSQL], SIGSTOP), 0);
    probe r = wait_ready("BACKEND_UNAVAILABLE");
    kill((pid_t)D.pid[TK_DEV_MYSQL], SIGCONT);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "\"mariadb\":\"down\""));
    assert_string_equal(r.retry_after, " 1");
    r = wait_ready("\"status\":\"ready\"");
    assert_int_equal(r.status, 200);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_stalled_is_degraded_not_unready),
        cmocka_unit_test(test_mariadb_stalled_is_503_with_retry_after),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
