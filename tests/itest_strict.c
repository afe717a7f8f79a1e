/* Integration: strict HTTP (issue 13.6) on the real stack. Each hostile
 * request goes over its own raw socket to `ticketctl serve`; the test
 * checks the status RFC 9110/9112 gives, the JSON error shape of
 * docs/API.md, that the connection is closed at once for a refusal, and
 * that nothing changed in MariaDB (the requests aim at routes that would
 * charge points or pay). Also: HEAD on a GET route, 405 with Allow,
 * X-Request-Id taken from the client or generated, and the access log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"

static itest_env E;
static char *tok;
static char access_log[1100];

#define SEED_ARGS "--users 20 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 20 --seed 13"

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0 || itest_seed(&E, SEED_ARGS) != 0)
        return -1;
    snprintf(access_log, sizeof access_log, "%s/itest-strict-access.log", E.state);
    unlink(access_log);
    char extra[1200];
    snprintf(extra, sizeof extra, "--workers 4 --access-log %s", access_log);
    if (itest_server_start(&E, extra) != 0)
        return -1;
    tok = itest_login(&E, 1);
    return tok ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(tok);
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

typedef struct raw_resp {
    int status;
    char head[4096];
    char body[4096];
    int closed; /* the server closed the connection within the wait */
    double ms;
} raw_resp;

/* Send len bytes on a fresh connection; read until EOF or wait_ms. */
static raw_resp raw(const char *req, size_t len, int wait_ms)
{
    raw_resp r;
    memset(&r, 0, sizeof r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)E.port)};
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    uint64_t t0 = tk_mono_us();
    assert_int_equal(send(fd, req, len, MSG_NOSIGNAL), (ssize_t)len);
    char buf[8192];
    size_t got = 0;
    for (;;) {
        int left = wait_ms - (int)((tk_mono_us() - t0) / 1000);
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&pf, 1, left) <= 0)
            break;
        ssize_t n = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (n <= 0) {
            r.closed = 1;
            break;
        }
        got += (size_t)n;
        if (got >= sizeof buf - 1)
            break;
    }
    r.ms = (double)(tk_mono_us() - t0) / 1000.0;
    close(fd);
    buf[got] = '\0';
    char *sep = strstr(buf, "\r\n\r\n");
    if (sep) {
        snprintf(r.head, sizeof r.head, "%.*s", (int)(sep - buf), buf);
        snprintf(r.body, sizeof r.body, "%s", sep + 4);
    }
    if (!strncmp(buf, "HTTP/1.1 ", 9))
        r.status = atoi(buf + 9);
    return r;
}

static const char *header(const raw_resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = r->head; (p = strstr(p, "\r\n")) != NULL;) {
        p += 2;
        if (!strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)strcspn(v, "\r\n"), v);
            return out;
        }
    }
    return NULL;
}

/* Everything a hostile request could have changed. */
static void fingerprint(char *out, size_t cap)
{
    snprintf(out, cap, "points=%lld history=%lld res=%lld pay=%lld outbox=%lld",
             itest_sql_i64(&E, "SELECT COALESCE(SUM(points),0) FROM users"),
             itest_sql_i64(&E, "SELECT COUNT(*) FROM point_history"),
             itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations"),
             itest_sql_i64(&E, "SELECT COUNT(*) FROM payments"), itest_sql_i64(&E, "SELECT COUNT(*) FROM outbox"));
}

typedef struct hostile {
    const char *name;
    const char *fmt; /* %s: the bearer token */
    size_t nul_at;   /* > 0: replace this byte of the rendered request with NUL */
    int status;
    const char *code;
    int must_close;
} hostile;

#define CHARGE "POST /api/v1/points/charge HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n"
#define BODY "{\"amount\":1000}"

static const hostile cases[] = {
    {"two differing Content-Length", CHARGE "Content-Length: 15\r\nContent-Length: 16\r\n\r\n" BODY " ", 0, 400,
     "BAD_REQUEST", 1},
    {"two equal Content-Length", CHARGE "Content-Length: 15\r\nContent-Length: 15\r\n\r\n" BODY, 0, 400, "BAD_REQUEST",
     1},
    {"signed Content-Length", CHARGE "Content-Length: +15\r\n\r\n" BODY, 0, 400, "BAD_REQUEST", 1},
    {"Content-Length with Transfer-Encoding",
     CHARGE "Content-Length: 15\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n" BODY "\r\n0\r\n\r\n", 0, 400, "BAD_REQUEST",
     1},
    {"bad chunk size", CHARGE "Transfer-Encoding: chunked\r\n\r\nzz\r\n" BODY "\r\n0\r\n\r\n", 0, 400, "BAD_REQUEST", 1},
    {"signed chunk size", CHARGE "Transfer-Encoding: chunked\r\n\r\n+f\r\n" BODY "\r\n0\r\n\r\n", 0, 400,
     "BAD_REQUEST", 1},
    {"unknown transfer coding", CHARGE "Transfer-Encoding: gzip\r\n\r\n" BODY, 0, 501, "NOT_IMPLEMENTED", 1},
    {"HTTP/1.1 without Host",
     "POST /api/v1/points/charge HTTP/1.1\r\nAuthorization: Bearer %s\r\nContent-Length: 15\r\n\r\n" BODY, 0, 400,
     "BAD_REQUEST", 1},
    {"HTTP/0.9", "GET /healthz\r\n\r\n", 0, 400, "BAD_REQUEST", 1},
    {"HTTP/2.0 over HTTP/1", "GET /healthz HTTP/2.0\r\nHost: t\r\n\r\n", 0, 505, "HTTP_VERSION_NOT_SUPPORTED", 1},
    {"space in a header name", CHARGE "Content Length: 15\r\n\r\n" BODY, 0, 400, "BAD_REQUEST", 1},
    {"control byte in a value", CHARGE "X-Note: a\x01z\r\nContent-Length: 15\r\n\r\n" BODY, 0, 400, "BAD_REQUEST", 1},
    {"NUL inside Authorization", CHARGE "Content-Length: 15\r\n\r\n" BODY, 60, 400, "BAD_REQUEST", 1},
    {"obsolete line folding", CHARGE "X-Note: a\r\n b\r\nContent-Length: 15\r\n\r\n" BODY, 0, 400, "BAD_REQUEST", 1},
    {"CONNECT", "CONNECT 127.0.0.1:3306 HTTP/1.1\r\nHost: 127.0.0.1:3306\r\n\r\n", 0, 501, "NOT_IMPLEMENTED", 1},
    {"TRACE", "TRACE / HTTP/1.1\r\nHost: t\r\n\r\n", 0, 501, "NOT_IMPLEMENTED", 1},
    {"unknown method", "BREW /api/v1/points/charge HTTP/1.1\r\nHost: t\r\n\r\n", 0, 501, "NOT_IMPLEMENTED", 1},
    {"HEAD with a body", "HEAD /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 15\r\n\r\n" BODY, 0, 400,
     "BAD_REQUEST", 1},
    {"Expect other than 100-continue", CHARGE "Expect: magic\r\nContent-Length: 15\r\n\r\n" BODY, 0, 417,
     "EXPECTATION_FAILED", 1},
    {"body over the limit", CHARGE "Content-Length: 9999999\r\n\r\n" BODY, 0, 413, "PAYLOAD_TOO_LARGE", 1},
    {"Idempotency-Key with a space",
     "POST /api/v1/payments HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nIdempotency-Key: a b\r\n"
     "Content-Length: 19\r\n\r\n{\"reservation_id\":1}",
     0, 422, "VALIDATION", 0},
    {"Idempotency-Key of 65 characters",
     "POST /api/v1/payments HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\nIdempotency-Key: "
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\nContent-Length: 19\r\n\r\n"
     "{\"reservation_id\":1}",
     0, 422, "VALIDATION", 0},
};

static void test_hostile(void **state)
{
    (void)state;
    char before[256], after[256];
    fingerprint(before, sizeof before);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hostile *h = &cases[i];
        char req[2048];
        int n = snprintf(req, sizeof req, h->fmt, tok);
        assert_true(n > 0 && (size_t)n < sizeof req);
        if (h->nul_at) {
            /* inside the token of the Authorization line */
            char *a = strstr(req, "Bearer ");
            assert_non_null(a);
            a[7 + 10] = '\0';
        }
        raw_resp r = raw(req, (size_t)n, 3000);
        if (r.status != h->status)
            fail_msg("%s: status %d, want %d (%s)", h->name, r.status, h->status, r.body);
        json_error_t e;
        json_t *j = json_loads(r.body, 0, &e);
        if (!j)
            fail_msg("%s: body is not JSON: %s", h->name, r.body);
        const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
        const char *msg = json_string_value(json_object_get(json_object_get(j, "error"), "message"));
        if (!code || strcmp(code, h->code) || !msg || !*msg)
            fail_msg("%s: error shape/code wrong: %s", h->name, r.body);
        json_decref(j);
        char v[128];
        assert_non_null(header(&r, "Content-Type", v, sizeof v));
        assert_string_equal(v, "application/json");
        assert_non_null(header(&r, "X-Request-Id", v, sizeof v));
        if (h->must_close && (!r.closed || r.ms > 2000))
            fail_msg("%s: connection not closed at once (closed %d after %.0f ms)", h->name, r.closed, r.ms);
    }
    fingerprint(after, sizeof after);
    assert_string_equal(before, after);
    /* and the same route does charge when asked properly (the check above can fail) */
    char req[1024];
    int n = snprintf(req, sizeof req, CHARGE "Content-Length: 15\r\nConnection: close\r\n\r\n" BODY, tok);
    raw_resp ok = raw(req, (size_t)n, 3000);
    assert_int_equal(ok.status, 200);
    fingerprint(after, sizeof after);
    assert_string_not_equal(before, after);
}

static void test_head_allow_request_id(void **state)
{
    (void)state;
    static const char get[] = "GET /api/v1/concerts HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    static const char head[] = "HEAD /api/v1/concerts HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    raw_resp g = raw(get, sizeof get - 1, 3000), h = raw(head, sizeof head - 1, 3000);
    assert_int_equal(g.status, 200);
    assert_int_equal(h.status, 200);
    assert_string_equal(h.body, "");
    char cl[32];
    assert_non_null(header(&h, "Content-Length", cl, sizeof cl));
    assert_int_equal(atoi(cl), (int)strlen(g.body));

    static const char post[] = "POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    raw_resp p = raw(post, sizeof post - 1, 3000);
    assert_int_equal(p.status, 405);
    char allow[64];
    assert_non_null(header(&p, "Allow", allow, sizeof allow));
    assert_string_equal(allow, "GET, HEAD");

    static const char mine[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: itest-strict-42\r\nConnection: close\r\n\r\n";
    static const char bad[] = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: not valid!\r\nConnection: close\r\n\r\n";
    raw_resp a = raw(mine, sizeof mine - 1, 3000), b = raw(bad, sizeof bad - 1, 3000);
    char id[80];
    assert_non_null(header(&a, "X-Request-Id", id, sizeof id));
    assert_string_equal(id, "itest-strict-42");
    assert_non_null(header(&b, "X-Request-Id", id, sizeof id));
    assert_string_not_equal(id, "not valid!");
    assert_true(strlen(id) > 0);

    /* the access log has the request, with its id and route */
    usleep(200 * 1000);
    FILE *f = fopen(access_log, "r");
    assert_non_null(f);
    char line[1024];
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        assert_non_null(j); /* every line is JSON */
        const char *rid = json_string_value(json_object_get(j, "request_id"));
        if (rid && !strcmp(rid, "itest-strict-42")) {
            found = 1;
            assert_string_equal(json_string_value(json_object_get(j, "route")), "/healthz");
            assert_string_equal(json_string_value(json_object_get(j, "method")), "GET");
            assert_int_equal(json_integer_value(json_object_get(j, "status")), 200);
            assert_true(json_is_integer(json_object_get(j, "us")));
            assert_non_null(json_object_get(j, "time"));
        }
        json_decref(j);
    }
    fclose(f);
    assert_true(found);
}

/* A pipelined valid request and a refusal behind it: answered in order. */
static void test_pipelined_order(void **state)
{
    (void)state;
    static const char two[] = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n";
    raw_resp r = raw(two, sizeof two - 1, 3000);
    assert_int_equal(r.status, 200);
    assert_true(r.closed);
    assert_non_null(strstr(r.body, "HTTP/1.1 400 Bad Request"));
    assert_true(strstr(r.body, "HTTP/1.1 400") > strstr(r.body, "\"status\":\"ok\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_head_allow_request_id),
        cmocka_unit_test(test_pipelined_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
