/* The booking flow on both transports (lib/benchlean.c, lib/benchcurl.c)
 * against a tiny in-process evhttp server that speaks the flow's API on
 * 127.0.0.1 and counts what it received: per-step requests and errors are
 * checked against the server's own counts, the headers the flow must send
 * (Authorization, Idempotency-Key, Content-Length) against what arrived,
 * answers split over many reads (a 100 KB seats list) and chunked ones are
 * read, and connect errors and timeouts are counted by kind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ticketctl/bench.h"
#include "ticketctl/common.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { S_LOGIN, S_POINTS, S_CHARGE, S_CONCERTS, S_DATES, S_SEATS, S_RESERVE, S_PAY, S_N };

typedef struct srv {
    struct event_base *base;
    struct evhttp *http;
    struct event wake;
    int wake_fds[2];
    pthread_t tid;
    int port;
    int hang_points; /* never answer /points: the client's timeout must fire */
    uint64_t got[S_N], no_auth, bad_idem, pay_500, pay_ok, bad_body;
} srv;

static void reply(struct evhttp_request *req, int code, const char *body)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, body, strlen(body));
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, code < 300 ? "OK" : "Error", b);
    evbuffer_free(b);
}

/* Every request but login must carry the VU's token. */
static int authed(srv *s, struct evhttp_request *req)
{
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!a || strncmp(a, "Bearer tok-", 11) != 0) {
        s->no_auth++;
        reply(req, 401, "{\"error\":{\"code\":\"UNAUTHORIZED\"}}");
        return 0;
    }
    return 1;
}

static size_t body_len(struct evhttp_request *req)
{
    return evbuffer_get_length(evhttp_request_get_input_buffer(req));
}

static void on_login(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->got[S_LOGIN]++;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || body_len(req) == 0)
        s->bad_body++;
    reply(req, 200, "{\"token\":\"tok-abc\"}");
}

static void on_points(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->got[S_POINTS]++;
    if (s->hang_points)
        return;
    if (authed(s, req))
        reply(req, 200, "{\"balance\":0}");
}

static void on_charge(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->got[S_CHARGE]++;
    if (body_len(req) == 0)
        s->bad_body++;
    if (authed(s, req))
        reply(req, 200, "{\"balance\":200000}");
}

static void on_concerts(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->got[S_CONCERTS]++;
    if (authed(s, req))
        reply(req, 200, "{\"items\":[{\"id\":3,\"title\":\"x\"}],\"total\":1}");
}

/* /api/v1/concerts/3/schedules: chunked */
static void on_generic(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    const char *uri = evhttp_request_get_uri(req);
    if (strcmp(uri, "/api/v1/concerts/3/schedules") == 0) {
        s->got[S_DATES]++;
        if (!authed(s, req))
            return;
        struct evbuffer *b = evbuffer_new();
        evhttp_send_reply_start(req, 200, "OK");
        evbuffer_add_printf(b, "{\"items\":[{\"id\":7,");
        evhttp_send_reply_chunk(req, b);
        evbuffer_add_printf(b, "\"available_seats\":5}]}");
        evhttp_send_reply_chunk(req, b);
        evhttp_send_reply_end(req);
        evbuffer_free(b);
    } else if (strcmp(uri, "/api/v1/schedules/7/seats") == 0) {
        s->got[S_SEATS]++;
        if (!authed(s, req))
            return;
        struct evbuffer *b = evbuffer_new(); /* ~100 KB: read over several recv() calls */
        evbuffer_add_printf(b, "{\"items\":[");
        for (int i = 1; i <= 4000; i++)
            evbuffer_add_printf(b, "%s{\"id\":%d,\"grade\":\"R\"}", i > 1 ? "," : "", 1000 + i);
        evbuffer_add_printf(b, "]}");
        evhttp_send_reply(req, 200, "OK", b);
        evbuffer_free(b);
    } else {
        reply(req, 404, "{\"error\":{\"code\":\"NOT_FOUND\"}}");
    }
}

static void on_reserve(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->got[S_RESERVE]++;
    if (body_len(req) == 0)
        s->bad_body++;
    if (authed(s, req))
        reply(req, 201, "{\"id\":99,\"status\":\"HELD\"}");
}

/* every fourth payment fails with 500: counted as a status error of "pay" */
static void on_pay(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->got[S_PAY]++;
    if (!authed(s, req))
        return;
    const char *k = evhttp_find_header(evhttp_request_get_input_headers(req), "Idempotency-Key");
    if (!k || strlen(k) != 34)
        s->bad_idem++;
    if (s->got[S_PAY] % 4 == 0) {
        s->pay_500++;
        reply(req, 500, "{\"error\":{\"code\":\"INTERNAL\"}}");
        return;
    }
    s->pay_ok++;
    reply(req, 200, "{\"status\":\"CONFIRMED\"}");
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((srv *)arg)->base);
}

static void *srv_main(void *arg)
{
    event_base_dispatch(((srv *)arg)->base);
    return NULL;
}

static srv *srv_start(int hang_points)
{
    srv *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->hang_points = hang_points;
    s->base = event_base_new();
    s->http = evhttp_new(s->base);
    assert_non_null(s->http);
    evhttp_set_cb(s->http, "/api/v1/auth/login", on_login, s);
    evhttp_set_cb(s->http, "/api/v1/points", on_points, s);
    evhttp_set_cb(s->http, "/api/v1/points/charge", on_charge, s);
    evhttp_set_cb(s->http, "/api/v1/concerts", on_concerts, s);
    evhttp_set_cb(s->http, "/api/v1/reservations", on_reserve, s);
    evhttp_set_cb(s->http, "/api/v1/payments", on_pay, s);
    evhttp_set_gencb(s->http, on_generic, s);
    struct evhttp_bound_socket *bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    assert_non_null(bs);
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&sa, &len), 0);
    s->port = ntohs(sa.sin_port);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s->wake_fds), 0);
    event_assign(&s->wake, s->base, s->wake_fds[0], EV_READ, on_wake, s);
    event_add(&s->wake, NULL);
    assert_int_equal(pthread_create(&s->tid, NULL, srv_main, s), 0);
    return s;
}

static void srv_stop(srv *s)
{
    assert_int_equal(write(s->wake_fds[1], "x", 1), 1);
    pthread_join(s->tid, NULL);
    event_del(&s->wake);
    evhttp_free(s->http);
    event_base_free(s->base);
    close(s->wake_fds[0]);
    close(s->wake_fds[1]);
}

static tk_bench_config flow_cfg(char *target, size_t tlen, int port, const char *engine, int64_t duration_ms)
{
    snprintf(target, tlen, "http://127.0.0.1:%d", port);
    tk_bench_config c = {
        .target = target,
        .users = 6,
        .duration_ms = duration_ms,
        .timeout_ms = 2000,
        .threads = 2,
        .engine = engine,
        .no_cpu = 1,
        .max_cpu = 100, /* the machine is shared: do not judge the generator here */
        .max_lag_ms = 1e6,
    };
    return c;
}

/* bench's per-step count against the server's: equal, except requests the
 * server answered after the run ended (at most one per VU). */
static void near(uint64_t bench, uint64_t server, uint64_t users)
{
    assert_true(bench <= server);
    assert_true(server - bench <= users);
}

static void run_flow(const char *engine)
{
    srv *s = srv_start(0);
    char target[64], err[256] = "";
    tk_bench_config c = flow_cfg(target, sizeof target, s->port, engine, 1500);
    tk_bench_result *r = tk_bench_run(&c, err, sizeof err);
    srv_stop(s);
    assert_non_null(r);
    assert_string_equal(r->engine, engine);
    assert_true(r->valid);
    assert_int_equal(r->steps[TK_STEP_LOGIN].requests, c.users);
    near(r->steps[TK_STEP_LOGIN].requests, s->got[S_LOGIN], 0);
    near(r->steps[TK_STEP_BALANCE].requests, s->got[S_POINTS], (uint64_t)c.users);
    near(r->steps[TK_STEP_CHARGE].requests, s->got[S_CHARGE], (uint64_t)c.users);
    near(r->steps[TK_STEP_CONCERTS].requests, s->got[S_CONCERTS], (uint64_t)c.users);
    near(r->steps[TK_STEP_DATES].requests, s->got[S_DATES], (uint64_t)c.users);
    near(r->steps[TK_STEP_SEATS].requests, s->got[S_SEATS], (uint64_t)c.users);
    near(r->steps[TK_STEP_RESERVE].requests, s->got[S_RESERVE], (uint64_t)c.users);
    near(r->steps[TK_STEP_PAY].requests, s->got[S_PAY], (uint64_t)c.users);
    assert_true(r->steps[TK_STEP_PAY].requests > 20);
    /* what the flow must send arrived with every request */
    assert_int_equal(s->no_auth, 0);
    assert_int_equal(s->bad_idem, 0);
    assert_int_equal(s->bad_body, 0);
    /* the only errors are the server's 500s on pay, counted once each */
    for (int st = 0; st < TK_BENCH_NSTEPS; st++)
        if (st != TK_STEP_PAY)
            assert_int_equal(r->steps[st].errors, 0);
    assert_int_equal(r->by_kind[TK_BERR_CONNECT] + r->by_kind[TK_BERR_TIMEOUT] + r->by_kind[TK_BERR_READ], 0);
    assert_int_equal(r->by_kind[TK_BERR_STATUS], r->errors);
    assert_int_equal(r->by_status[500], r->errors);
    assert_int_equal(r->steps[TK_STEP_PAY].errors, r->errors);
    near(r->errors, s->pay_500, (uint64_t)c.users);
    near(r->flows_completed, s->pay_ok, (uint64_t)c.users);
    assert_true(r->errors > 0 && r->flows_completed > r->errors);
    uint64_t sum = 0;
    for (int st = 0; st < TK_BENCH_NSTEPS; st++)
        sum += r->steps[st].requests;
    assert_int_equal(sum, r->requests);
    assert_true(r->steps[TK_STEP_SEATS].uncorrected_latency.p50 > 0);
    tk_bench_result_free(r);
    free(s);
}

static void test_flow_lean(void **state)
{
    (void)state;
    run_flow("lean");
}

static void test_flow_curl(void **state)
{
    (void)state;
    run_flow("curl");
}

static void test_connect_errors(void **state)
{
    (void)state;
    srv *s = srv_start(0); /* take a free port, then close it: nobody listens there */
    int port = s->port;
    srv_stop(s);
    free(s);
    char target[64], err[256] = "";
    tk_bench_config c = flow_cfg(target, sizeof target, port, "lean", 600);
    c.think_ms = 20;
    tk_bench_result *r = tk_bench_run(&c, err, sizeof err);
    assert_non_null(r);
    assert_true(r->requests > 0);
    assert_int_equal(r->by_kind[TK_BERR_CONNECT], r->errors);
    assert_int_equal(r->errors, r->requests);
    assert_int_equal(r->steps[TK_STEP_LOGIN].errors, r->requests);
    assert_int_equal(r->flows_completed, 0);
    tk_bench_result_free(r);
}

static void test_timeouts(void **state)
{
    (void)state;
    srv *s = srv_start(1);
    char target[64], err[256] = "";
    tk_bench_config c = flow_cfg(target, sizeof target, s->port, "lean", 1500);
    c.timeout_ms = 300;
    tk_bench_result *r = tk_bench_run(&c, err, sizeof err);
    srv_stop(s);
    assert_non_null(r);
    assert_true(r->by_kind[TK_BERR_TIMEOUT] >= (uint64_t)c.users); /* each VU timed out at least once */
    assert_int_equal(r->by_kind[TK_BERR_TIMEOUT], r->errors);
    assert_int_equal(r->steps[TK_STEP_BALANCE].errors, r->errors);
    assert_int_equal(r->steps[TK_STEP_CHARGE].requests, 0);
    tk_bench_result_free(r);
    free(s);
}

static void test_engine_choice(void **state)
{
    (void)state;
    char err[256] = "";
    tk_bench_config c = {.target = "https://127.0.0.1:1", .users = 1, .duration_ms = 100, .timeout_ms = 100,
                         .engine = "lean", .no_cpu = 1};
    assert_null(tk_bench_run(&c, err, sizeof err));
    assert_non_null(strstr(err, "plain http"));
    c.engine = "fast";
    assert_null(tk_bench_run(&c, err, sizeof err));
    assert_non_null(strstr(err, "expected auto, lean or curl"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_lean),     cmocka_unit_test(test_flow_curl),     cmocka_unit_test(test_connect_errors),
        cmocka_unit_test(test_timeouts),      cmocka_unit_test(test_engine_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
