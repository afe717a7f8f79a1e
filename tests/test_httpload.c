/* The lean single-endpoint load engine (lib/httpload.c, included here to
 * reach its static response parser): the parser on whole, split and
 * malformed answers, then whole runs against a tiny in-process libevent
 * evhttp server on 127.0.0.1 that counts what it received, so the engine's
 * request count is checked against the server's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "httpload.c"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <arpa/inet.h>

/* ---------- the parser ---------- */

typedef struct feed_out {
    int rc;      /* last conn_feed() result */
    size_t used; /* bytes used by the call that completed (or of the last call) */
    int status;
    int keep;
} feed_out;

/* Feed text in pieces of `step` bytes (0: at once) into a fresh connection. */
static feed_out feed(const char *text, size_t len, size_t step)
{
    static char head[HEAD_MAX];
    hl_conn c;
    memset(&c, 0, sizeof c);
    c.head = head;
    parser_reset(&c);
    feed_out o = {0};
    size_t off = 0;
    if (step == 0)
        step = len;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        o.used = 0;
        o.rc = conn_feed(&c, text + off, n, &o.used);
        if (o.rc != 0) {
            o.used += off;
            break;
        }
        off += n;
    }
    o.status = c.status;
    o.keep = c.keep;
    return o;
}

static void test_parse_content_length(void **state)
{
    (void)state;
    const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 11\r\n\r\nhello world";
    for (size_t step = 0; step <= 7; step++) {
        feed_out o = feed(r, strlen(r), step);
        assert_int_equal(o.rc, 1);
        assert_int_equal(o.used, strlen(r));
        assert_int_equal(o.status, 200);
        assert_int_equal(o.keep, 1);
    }
    /* not yet complete: one body byte missing */
    feed_out o = feed(r, strlen(r) - 1, 0);
    assert_int_equal(o.rc, 0);
    /* a second answer behind the first is left unused */
    char two[512];
    snprintf(two, sizeof two, "%s%s", r, r);
    o = feed(two, strlen(two), 0);
    assert_int_equal(o.rc, 1);
    assert_int_equal(o.used, strlen(r));
}

static void test_parse_chunked(void **state)
{
    (void)state;
    const char *r = "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
                    "3\r\nabc\r\n1A;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: 1\r\n\r\n";
    for (size_t step = 0; step <= 5; step++) {
        feed_out o = feed(r, strlen(r), step);
        assert_int_equal(o.rc, 1);
        assert_int_equal(o.used, strlen(r)); /* chunked wins over Content-Length; trailer consumed */
        assert_int_equal(o.status, 201);
    }
    const char *nt = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    feed_out o = feed(nt, strlen(nt), 1);
    assert_int_equal(o.rc, 1);
    assert_int_equal(o.used, strlen(nt));
    const char *bad = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n";
    assert_int_equal(feed(bad, strlen(bad), 0).rc, -1);
    const char *badcrlf = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX\r\n0\r\n\r\n";
    assert_int_equal(feed(badcrlf, strlen(badcrlf), 0).rc, -1);
}

static void test_parse_keep_alive_rules(void **state)
{
    (void)state;
    const char *close = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    feed_out o = feed(close, strlen(close), 0);
    assert_int_equal(o.rc, 1);
    assert_int_equal(o.keep, 0);
    const char *h10 = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
    o = feed(h10, strlen(h10), 0);
    assert_int_equal(o.rc, 1);
    assert_int_equal(o.keep, 0);
    const char *h10ka = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok";
    o = feed(h10ka, strlen(h10ka), 0);
    assert_int_equal(o.keep, 1);
    /* no length, not chunked: the body runs until the close */
    const char *eof = "HTTP/1.1 200 OK\r\n\r\nsome body";
    o = feed(eof, strlen(eof), 0);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.keep, 0);
    /* 204 has no body even without a length; a 100 Continue head is skipped */
    const char *nc = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n";
    for (size_t step = 0; step <= 3; step++) {
        o = feed(nc, strlen(nc), step);
        assert_int_equal(o.rc, 1);
        assert_int_equal(o.status, 204);
        assert_int_equal(o.used, strlen(nc));
    }
}

static void test_parse_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 600 Nope\r\n\r\n",
        "garbage garbage\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(feed(bad[i], strlen(bad[i]), 0).rc, -1);
        assert_int_equal(feed(bad[i], strlen(bad[i]), 1).rc, -1);
    }
    /* a head that never ends is refused once it passes HEAD_MAX */
    size_t n = HEAD_MAX + 100;
    char *big = malloc(n);
    assert_non_null(big);
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    for (size_t i = 17; i < n; i++)
        big[i] = i % 50 == 49 ? '\n' : 'x';
    assert_int_equal(feed(big, n, 0).rc, -1);
    assert_int_equal(feed(big, n, 1000).rc, -1);
    free(big);
}

/* ---------- the closed-model correction against wrk's stats_correct() ---------- */

static uint64_t exact_pct(const uint64_t *a, size_t n, uint64_t total, double p)
{
    double r = p / 100.0 * (double)total;
    uint64_t rank = (uint64_t)r, acc = 0;
    if ((double)rank < r - 1e-9)
        rank++;
    for (size_t i = 0; i < n; i++) {
        acc += a[i];
        if (acc >= rank)
            return i;
    }
    return n - 1;
}

static void test_expected_interval_correction(void **state)
{
    (void)state;
    enum { MAXUS = 40000 };
    uint64_t *exact = calloc(MAXUS + 1, sizeof *exact), *raw = calloc(LB_N, sizeof *raw);
    assert_non_null(exact);
    assert_non_null(raw);
    uint64_t x = 88172645463325252ULL, maxv = 0, sum = 0, n = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* mostly 0.1-2 ms, a tail of 5-40 ms stalls */
        uint64_t v = (x % 100 < 97) ? 100 + (x >> 8) % 1900 : 5000 + (x >> 8) % (MAXUS - 5000);
        exact[v]++;
        raw[lb_index(v)]++;
        maxv = v > maxv ? v : maxv;
        sum += v;
        n++;
    }
    const uint64_t e = 700;
    /* wrk 4, src/stats.c stats_correct(), on a per-microsecond array */
    uint64_t total = n;
    double esum = (double)sum;
    for (uint64_t v = 2 * e; v <= maxv; v++) {
        uint64_t count = exact[v];
        int64_t m = (int64_t)v - (int64_t)e;
        while (count && m > (int64_t)e) {
            exact[m] += count;
            total += count;
            esum += (double)m * (double)count;
            m -= (int64_t)e;
        }
    }
    tk_bench_latency l;
    assert_int_equal(lb_fill(&l, raw, e, (double)sum / (double)n, maxv), 0);
    const double ps[] = {50, 90, 99, 99.9};
    const double got[] = {l.p50, l.p90, l.p99, l.p999};
    for (int i = 0; i < 4; i++) {
        double want = (double)exact_pct(exact, MAXUS + 1, total, ps[i]) / 1000.0;
        print_message("p%g: engine %.3f ms, wrk %.3f ms\n", ps[i], got[i], want);
        /* bucket precision (1/128) plus the absolute error a synthetic
         * sample inherits from its source bucket (<= max/256) */
        double tol = want / 128.0 + (double)maxv / 256.0 / 1000.0 + 0.001;
        assert_true(fabs(got[i] - want) <= tol);
    }
    print_message("mean: engine %.4f ms, wrk %.4f ms\n", l.mean, esum / (double)total / 1000.0);
    assert_true(fabs(l.mean - esum / (double)total / 1000.0) < 0.01 * l.mean);
    assert_true(l.max == (double)maxv / 1000.0);
    /* the correction only ever adds samples above the raw distribution's low end */
    tk_bench_latency u;
    assert_int_equal(lb_fill(&u, raw, 0, (double)sum / (double)n, maxv), 0);
    assert_true(l.p99 > u.p99);
    assert_true(l.p50 >= u.p50);
    free(exact);
    free(raw);
}

/* ---------- a tiny counting server ---------- */

typedef struct srv {
    struct event_base *base;
    struct evhttp *http;
    struct event wake;
    int wake_fds[2];
    pthread_t tid;
    int port;
    uint64_t fixed, chunked, closed, err, auth_ok, auth_bad, slow, stalls;
    uint64_t t_first, stalled; /* /stall: the first request's time, the pause done */
} srv;

static void on_fixed(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->fixed++;
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "hello world", 11);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void on_chunked(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->chunked++;
    struct evbuffer *b = evbuffer_new();
    evhttp_send_reply_start(req, 200, "OK");
    evbuffer_add(b, "abc", 3);
    evhttp_send_reply_chunk(req, b);
    char big[3000];
    memset(big, 'z', sizeof big);
    evbuffer_add(b, big, sizeof big);
    evhttp_send_reply_chunk(req, b);
    evhttp_send_reply_end(req);
    evbuffer_free(b);
}

static void on_close(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->closed++;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    struct evbuffer *b = evbuffer_new();
    evbuffer_add(b, "bye", 3);
    evhttp_send_reply(req, 200, "OK", b);
    evbuffer_free(b);
}

static void on_err(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    s->err++;
    evhttp_send_reply(req, 500, "Internal Server Error", NULL);
}

static void on_auth(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    const char *a = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (a && strcmp(a, "Bearer t0k") == 0) {
        s->auth_ok++;
        evhttp_send_reply(req, 204, "No Content", NULL);
    } else {
        s->auth_bad++;
        evhttp_send_reply(req, 401, "Unauthorized", NULL);
    }
}

static void on_slow(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    (void)req; /* never answered: the client's timeout must fire */
    s->slow++;
}

/* One 300 ms pause of the whole server (a GC pause) 500 ms after the first
 * request: everything arriving meanwhile waits, whatever the client does. */
static void on_stall(struct evhttp_request *req, void *arg)
{
    srv *s = arg;
    uint64_t now = tk_mono_us();
    s->stalls++;
    if (!s->t_first)
        s->t_first = now;
    if (!s->stalled && now - s->t_first >= 500000) {
        s->stalled = 1;
        usleep(300000);
    }
    evhttp_send_reply(req, 200, "OK", NULL);
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

static int srv_setup(void **state)
{
    srv *s = calloc(1, sizeof *s);
    assert_non_null(s);
    s->base = event_base_new();
    s->http = evhttp_new(s->base);
    assert_non_null(s->http);
    evhttp_set_cb(s->http, "/fixed", on_fixed, s);
    evhttp_set_cb(s->http, "/chunked", on_chunked, s);
    evhttp_set_cb(s->http, "/close", on_close, s);
    evhttp_set_cb(s->http, "/err", on_err, s);
    evhttp_set_cb(s->http, "/auth", on_auth, s);
    evhttp_set_cb(s->http, "/slow", on_slow, s);
    evhttp_set_cb(s->http, "/stall", on_stall, s);
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
    *state = s;
    return 0;
}

/* Stop the server thread; its counters are stable afterwards. */
static void srv_stop(srv *s)
{
    if (!s->base)
        return;
    assert_int_equal(write(s->wake_fds[1], "x", 1), 1);
    pthread_join(s->tid, NULL);
    event_del(&s->wake);
    evhttp_free(s->http);
    event_base_free(s->base);
    close(s->wake_fds[0]);
    close(s->wake_fds[1]);
    s->base = NULL;
}

static int srv_teardown(void **state)
{
    srv *s = *state;
    srv_stop(s);
    free(s);
    return 0;
}

static tk_bench_config cfg_for(srv *s, char *target, size_t tlen, const char *path, int conns, int threads,
                               int64_t duration_ms)
{
    snprintf(target, tlen, "http://127.0.0.1:%d", s->port);
    tk_bench_config c = {
        .target = target,
        .users = conns,
        .duration_ms = duration_ms,
        .timeout_ms = 2000,
        .threads = threads,
        .url_path = path,
        .max_cpu = 100,   /* the machine is shared: do not judge the generator here */
        .max_lag_ms = 1e6,
    };
    return c;
}

/* Invariants of every result: totals agree with the step, the series and
 * the error breakdown; the histogram holds every answered request. */
static void check_consistent(const tk_bench_result *r)
{
    assert_non_null(r);
    assert_true(r->valid);
    assert_string_equal(r->invalid_reason, "");
    assert_int_equal(r->steps[TK_STEP_URL].requests, r->requests);
    assert_int_equal(r->steps[TK_STEP_URL].errors, r->errors);
    uint64_t kinds = 0;
    for (int k = 0; k < TK_BENCH_NERRKINDS; k++)
        kinds += r->by_kind[k];
    assert_int_equal(kinds, r->errors);
    assert_int_equal(r->flows_completed + r->errors, r->requests);
    double sum = 0;
    uint64_t step_n = 0, by_status = 0, answered_5xx = 0;
    for (size_t i = 0; i < r->nseries; i++) {
        const tk_bench_point *p = &r->series[i];
        double secs = (double)r->duration_ms / 1000.0 - (double)i;
        sum += p->rps * (secs < 1.0 ? secs : 1.0);
        /* the per-second step and statuses (timeseries[].steps / .status) */
        step_n += p->steps[TK_STEP_URL].n;
        if (p->steps[TK_STEP_URL].n && r->flows_completed + r->by_kind[TK_BERR_STATUS] == r->requests)
            assert_true(p->steps[TK_STEP_URL].p95 >= p->steps[TK_STEP_URL].p50 && p->steps[TK_STEP_URL].p50 > 0);
        for (int k = 0; k < p->nstatus; k++) {
            by_status += p->status[k].n;
            if (p->status[k].status >= 500)
                answered_5xx += p->status[k].n;
        }
        by_status += p->status_other;
    }
    assert_true(fabs(sum - (double)r->requests) < 0.5);
    assert_int_equal(step_n, r->requests);
    assert_int_equal(by_status, r->requests);
    uint64_t want_5xx = 0;
    for (int st = 500; st < TK_BENCH_MAX_STATUS; st++)
        want_5xx += r->by_status[st];
    assert_int_equal(answered_5xx, want_5xx);
}

static void test_closed_fixed_counts_match_server(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_config c = cfg_for(s, target, sizeof target, "/fixed", 8, 2, 1500);
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    assert_non_null(r);
    srv_stop(s);
    check_consistent(r);
    assert_true(r->requests > 100);
    assert_int_equal(r->errors, 0);
    /* every counted request reached the server; at most one per connection
     * was still in flight when the run ended (not counted, as wrk) */
    assert_true(s->fixed >= r->requests);
    assert_true(s->fixed - r->requests <= 8);
    assert_int_equal(r->threads, 2);
    assert_string_equal(r->url_path, "/fixed");
    assert_true(r->latency.p50 > 0);
    assert_true(r->latency.p99 >= r->latency.p50);
    /* closed model: the expected-interval correction never lowers a percentile */
    assert_true(r->latency.p50 >= r->uncorrected_latency.p50);
    assert_true(r->latency.p99 >= r->uncorrected_latency.p99);
    assert_true(r->latency.max == r->uncorrected_latency.max);
    tk_bench_result_free(r);
}

static void test_open_model_exact_count(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    /* 200 iterations in the first second, then half a second of nothing so
     * none is in flight at the end: the counts must agree exactly */
    tk_bench_stage st[2] = {{1000, 200, 200}, {500, 0, 0}};
    tk_bench_config c = cfg_for(s, target, sizeof target, "/fixed", 10, 2, 1500);
    c.open_model = 1;
    c.stages = st;
    c.nstages = 2;
    c.max_delay_ms = 1000;
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    assert_non_null(r);
    srv_stop(s);
    check_consistent(r);
    assert_int_equal(r->iters_scheduled, 200);
    assert_int_equal(r->iters_started, 200);
    assert_int_equal(r->iters_dropped, 0);
    assert_int_equal(r->requests, 200);
    assert_int_equal(s->fixed, 200);
    assert_int_equal(r->errors, 0);
    assert_true(r->latency.p99 >= r->uncorrected_latency.p99 * 0.99);
    tk_bench_result_free(r);
}

/* Open model through a server pause: the corrected latency (from the
 * schedule) shows the 300 ms the iterations due during the pause waited;
 * the uncorrected one barely sees it (only the requests in flight). At 200
 * iterations/s over 1.5 s, 60 of 300 fall in the pause, P(latency > x) =
 * (0.3 s - x) / 1.5 s, so the corrected p99 is 0.3 - 0.015 = 0.285 s. */
static void test_open_model_sees_stall(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_stage st[2] = {{1500, 200, 200}, {500, 0, 0}};
    tk_bench_config c = cfg_for(s, target, sizeof target, "/stall", 4, 1, 2000);
    c.open_model = 1;
    c.stages = st;
    c.nstages = 2;
    c.max_delay_ms = 2000;
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    assert_non_null(r);
    srv_stop(s);
    check_consistent(r);
    assert_int_equal(s->stalled, 1);
    assert_int_equal(r->requests, 300);
    assert_int_equal(s->stalls, 300);
    assert_int_equal(r->iters_dropped, 0);
    print_message("stall: corrected p99 %.1f max %.1f ms, uncorrected p90 %.1f p99 %.1f ms\n", r->latency.p99,
                  r->latency.max, r->uncorrected_latency.p90, r->uncorrected_latency.p99);
    assert_true(r->latency.p99 >= 250 && r->latency.p99 <= 330);
    assert_true(r->latency.max >= 290);
    assert_true(r->uncorrected_latency.p90 < 100);
    tk_bench_result_free(r);
}

static void test_chunked(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_config c = cfg_for(s, target, sizeof target, "/chunked", 4, 1, 1000);
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    assert_non_null(r);
    srv_stop(s);
    check_consistent(r);
    assert_true(r->requests > 50);
    assert_int_equal(r->errors, 0);
    assert_true(s->chunked >= r->requests && s->chunked - r->requests <= 4);
    tk_bench_result_free(r);
}

static void test_connection_close(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_config c = cfg_for(s, target, sizeof target, "/close", 4, 2, 1000);
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    assert_non_null(r);
    srv_stop(s);
    check_consistent(r);
    assert_true(r->requests > 20);
    assert_int_equal(r->errors, 0); /* a new connection per request, never an error */
    assert_true(s->closed >= r->requests && s->closed - r->requests <= 4);
    tk_bench_result_free(r);
}

static void test_status_500_counted(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_config c = cfg_for(s, target, sizeof target, "/err", 4, 1, 1000);
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    assert_non_null(r);
    srv_stop(s);
    check_consistent(r);
    assert_true(r->requests > 20);
    assert_int_equal(r->errors, r->requests);
    assert_int_equal(r->by_kind[TK_BERR_STATUS], r->requests);
    assert_int_equal(r->by_status[500], r->requests);
    assert_int_equal(r->by_kind[TK_BERR_READ] + r->by_kind[TK_BERR_CONNECT] + r->by_kind[TK_BERR_TIMEOUT], 0);
    assert_int_equal(r->flows_completed, 0);
    assert_true(r->latency.p50 > 0); /* answered errors still have a latency */
    assert_true(s->err >= r->requests && s->err - r->requests <= 4);
    tk_bench_result_free(r);
}

static void test_authorization_header(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_config c = cfg_for(s, target, sizeof target, "/auth", 2, 1, 500);
    c.url_authorization = "Bearer t0k";
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    check_consistent(r);
    assert_int_equal(r->errors, 0);
    uint64_t ok = r->requests;
    tk_bench_result_free(r);
    c.url_authorization = NULL;
    r = tk_httpload_run(&c, err, sizeof err);
    srv_stop(s);
    check_consistent(r);
    assert_int_equal(r->by_status[401], r->requests);
    assert_true(s->auth_ok >= ok && s->auth_ok - ok <= 2);
    assert_true(s->auth_bad >= r->requests && s->auth_bad - r->requests <= 2);
    tk_bench_result_free(r);
    /* a header value with a line break is refused, not sent */
    c.url_authorization = "Bearer x\r\nX-Evil: 1";
    assert_null(tk_httpload_run(&c, err, sizeof err));
    assert_non_null(strstr(err, "control characters"));
}

static void test_timeout_counted(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_config c = cfg_for(s, target, sizeof target, "/slow", 2, 1, 1300);
    c.timeout_ms = 300;
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    assert_non_null(r);
    srv_stop(s);
    check_consistent(r);
    /* 1.3 s / (300 ms + up to 100 ms scan) per request, two connections */
    assert_true(r->by_kind[TK_BERR_TIMEOUT] >= 4);
    assert_true(r->by_kind[TK_BERR_TIMEOUT] <= 10);
    assert_int_equal(r->errors, r->by_kind[TK_BERR_TIMEOUT]);
    assert_true(s->slow >= r->requests);
    tk_bench_result_free(r);
}

static void test_connect_refused(void **state)
{
    (void)state;
    /* a port nobody listens on: bind, read the port, close */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    char target[64], err[256] = "";
    snprintf(target, sizeof target, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    tk_bench_config c = {.target = target, .users = 2, .duration_ms = 300, .timeout_ms = 500, .threads = 1,
                         .url_path = "/x", .max_cpu = 100, .max_lag_ms = 1e6};
    tk_bench_result *r = tk_httpload_run(&c, err, sizeof err);
    check_consistent(r);
    assert_true(r->requests > 0);
    assert_int_equal(r->by_kind[TK_BERR_CONNECT], r->requests);
    tk_bench_result_free(r);
}

static void test_bad_input(void **state)
{
    (void)state;
    char err[256] = "";
    tk_bench_config c = {.target = "https://127.0.0.1:1", .users = 1, .duration_ms = 100, .timeout_ms = 100,
                         .url_path = "/"};
    assert_null(tk_httpload_run(&c, err, sizeof err));
    assert_non_null(strstr(err, "http://"));
    c.target = "http://127.0.0.1:1";
    c.url_path = "/a b";
    assert_null(tk_httpload_run(&c, err, sizeof err));
    c.url_path = "/";
    c.target = "http://no-such-host.invalid:1";
    assert_null(tk_httpload_run(&c, err, sizeof err));
    assert_non_null(strstr(err, "cannot resolve"));
}

/* tk_bench_run() hands single-endpoint mode over http to this engine. */
static void test_bench_run_dispatch(void **state)
{
    srv *s = *state;
    char target[64], err[256] = "";
    tk_bench_config c = cfg_for(s, target, sizeof target, "/fixed", 2, 1, 500);
    tk_bench_result *r = tk_bench_run(&c, err, sizeof err);
    srv_stop(s);
    check_consistent(r);
    assert_string_equal(r->steps[TK_STEP_URL].name, "url");
    assert_true(s->fixed >= r->requests && s->fixed - r->requests <= 2);
    char *json = tk_bench_result_json(r);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"url\": \"/fixed\""));
    free(json);
    tk_bench_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_content_length),
        cmocka_unit_test(test_parse_chunked),
        cmocka_unit_test(test_parse_keep_alive_rules),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_expected_interval_correction),
        cmocka_unit_test_setup_teardown(test_closed_fixed_counts_match_server, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_open_model_exact_count, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_open_model_sees_stall, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_chunked, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_connection_close, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_status_500_counted, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_authorization_header, srv_setup, srv_teardown),
        cmocka_unit_test_setup_teardown(test_timeout_counted, srv_setup, srv_teardown),
        cmocka_unit_test(test_connect_refused),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test_setup_teardown(test_bench_run_dispatch, srv_setup, srv_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
