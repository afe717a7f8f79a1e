/* HTTP/1.1 client framing of the lean load engines (lib/http1.c): the
 * target split, and whole responses at once, cut at every byte, chunked
 * (de-chunked in place), 1xx, no body, until-close and malformed ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http1.h"
#include "ticketctl/httpload.h"

#include <stdlib.h>
#include <string.h>

static void test_url_split(void **state)
{
    (void)state;
    tk_http1_url u;
    assert_int_equal(tk_http1_url_split("http://127.0.0.1:8080", &u), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_string_equal(u.port, "8080");
    assert_string_equal(u.hostport, "127.0.0.1:8080");
    assert_string_equal(u.prefix, "");
    assert_int_equal(tk_http1_url_split("http://[::1]:9/base/", &u), 0);
    assert_string_equal(u.host, "::1");
    assert_string_equal(u.port, "9");
    assert_string_equal(u.prefix, "/base");
    assert_int_equal(tk_http1_url_split("http://localhost", &u), 0);
    assert_string_equal(u.port, "80");
    assert_true(tk_httpload_supports("http://x:1"));
    assert_false(tk_httpload_supports("https://x:1"));
    assert_false(tk_httpload_supports("http://x:0"));
    assert_false(tk_httpload_supports("http://x:99999"));
    assert_false(tk_httpload_supports("http://"));
    assert_false(tk_httpload_supports("http://u@x:1"));
    assert_false(tk_httpload_supports("http://[::1"));
}

/* Every prefix shorter than the whole is incomplete (0), the whole is
 * complete with the expected body; returns the parsed response. */
static tk_http1_resp whole(const char *text, const char *want_body, int want_status)
{
    size_t n = strlen(text);
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    tk_http1_resp r;
    for (size_t k = 0; k < n; k++) {
        memcpy(buf, text, k);
        assert_int_equal(tk_http1_response(buf, k, 0, &r), 0);
    }
    memcpy(buf, text, n);
    assert_int_equal(tk_http1_response(buf, n, 0, &r), 1);
    assert_int_equal(r.head.status, want_status);
    assert_int_equal(r.body_len, strlen(want_body));
    assert_memory_equal(buf + r.body_off, want_body, r.body_len);
    assert_int_equal(r.used, n);
    free(buf);
    return r;
}

static void test_lengths(void **state)
{
    (void)state;
    tk_http1_resp r = whole("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n\r\n{\"a\":1}", "{\"a\":1}", 200);
    assert_int_equal(r.head.keep, 1);
    r = whole("HTTP/1.1 409 Conflict\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}", "{}", 409);
    assert_int_equal(r.head.keep, 0);
    r = whole("HTTP/1.0 204 No Content\r\n\r\n", "", 204);
    assert_int_equal(r.head.keep, 0);
    whole("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 3\r\n\r\nabc", "abc", 201);
    /* a second answer after the first: used stops at the first */
    char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n";
    assert_int_equal(tk_http1_response(two, strlen(two), 0, &r), 1);
    assert_int_equal(r.used, strlen("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"));
}

static void test_chunked(void **state)
{
    (void)state;
    whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{\"id\r\n5;ext=1\r\n\":42}\r\n0\r\n\r\n",
          "{\"id\":42}", 200);
    whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
          "3\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n",
          "abc", 200);
    whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "", 200);
}

static void test_until_close(void **state)
{
    (void)state;
    char t[] = "HTTP/1.1 200 OK\r\n\r\nhello";
    tk_http1_resp r;
    assert_int_equal(tk_http1_response(t, strlen(t), 0, &r), 0);
    assert_int_equal(tk_http1_response(t, strlen(t), 1, &r), 1);
    assert_int_equal(r.body_len, 5);
    assert_int_equal(r.head.keep, 0);
    assert_memory_equal(t + r.body_off, "hello", 5);
}

static void test_malformed(void **state)
{
    (void)state;
    const char *bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1 2x0 OK\r\nContent-Length: 1\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
        "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\nx",
        "HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\naXY\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1234567890123456\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *b = strdup(bad[i]);
        tk_http1_resp r;
        assert_int_equal(tk_http1_response(b, strlen(b), 0, &r), -1);
        free(b);
    }
    /* a head that never ends is refused once it passes 64 KiB */
    size_t n = 70 * 1024;
    char *big = malloc(n);
    assert_non_null(big);
    memcpy(big, "HTTP/1.1 200 OK\r\n", 17);
    memset(big + 17, 'a', n - 17);
    tk_http1_resp r;
    assert_int_equal(tk_http1_response(big, 1000, 0, &r), 0);
    assert_int_equal(tk_http1_response(big, n, 0, &r), -1);
    free(big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_split),  cmocka_unit_test(test_lengths),   cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_until_close), cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
