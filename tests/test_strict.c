/* server/strict.c: the framing verdicts, request by request, fed whole and
 * byte by byte (a verdict must not depend on read boundaries). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "strict.h"

/* Feed the stream [p, p+len) with reads of `step` bytes (0: whole); the
 * filter's way: unread bytes stay and are offered again with the next.
 * Returns the reason of a refusal (TK_STRICT_OK: none); *passed = bytes let
 * through, *heads = request heads let through. */
static int run(const char *p, size_t len, size_t step, size_t *passed, int *heads)
{
    tk_strict st;
    tk_strict_init(&st, 1024);
    size_t off = 0, have = step ? 0 : len;
    *passed = 0;
    for (;;) {
        if (have == off && have < len)
            have = have + step < len ? have + step : len;
        size_t n;
        int rc = tk_strict_feed(&st, p + off, have - off, &n);
        if (rc == TK_STRICT_REJECT) {
            *heads = st.requests;
            return st.reason;
        }
        if (rc == TK_STRICT_MORE) {
            if (have == len)
                break;
            have = have + (step ? step : len) < len ? have + (step ? step : len) : len;
            continue;
        }
        assert_true(n > 0 && n <= have - off);
        if (rc == TK_STRICT_PASS)
            *passed += n;
        off += n;
        if (off == len)
            break;
    }
    *heads = st.requests;
    return TK_STRICT_OK;
}

/* The verdict for s, checked equal whole and byte by byte. */
static int verdict(const char *s, size_t *passed, int *heads)
{
    size_t p1, p2;
    int h1, h2;
    int r1 = run(s, strlen(s), 0, &p1, &h1), r2 = run(s, strlen(s), 1, &p2, &h2);
    assert_int_equal(r1, r2);
    assert_int_equal(h1, h2);
    if (r1 == TK_STRICT_OK)
        assert_int_equal(p1, p2);
    if (passed)
        *passed = p1;
    if (heads)
        *heads = h1;
    return r1;
}

static void expect(const char *s, int reason)
{
    int got = verdict(s, NULL, NULL);
    if (got != reason)
        fail_msg("%s: reason %d, want %d", s, got, reason);
}

static void test_valid(void **state)
{
    (void)state;
    size_t passed;
    int heads;
    const char *get = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(verdict(get, &passed, &heads), TK_STRICT_OK);
    assert_int_equal(passed, strlen(get));
    assert_int_equal(heads, 1);
    const char *post = "POST /api/v1/holds HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
                       "GET /a?b=c HTTP/1.0\r\n\r\n"
                       "POST /p HTTP/1.1\r\nhost: y\r\ntransfer-encoding: Chunked\r\n\r\n2\r\n{}\r\n0\r\nX-T: 1\r\n\r\n"
                       "\r\nHEAD / HTTP/1.1\nHost: z\n\n";
    assert_int_equal(verdict(post, &passed, &heads), TK_STRICT_OK);
    assert_int_equal(heads, 4);
    assert_int_equal(passed, strlen(post) - 2); /* the empty line before HEAD is dropped */
    expect("GET http://h/x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nX: a\tb \r\n\r\n", TK_STRICT_OK);
    expect("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", TK_STRICT_OK);
}

static void test_framing(void **state)
{
    (void)state;
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}", TK_STRICT_CL_DUP);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", TK_STRICT_CL_DUP);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +2\r\n\r\n{}", TK_STRICT_CL_BAD);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", TK_STRICT_CL_BAD);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}", TK_STRICT_CL_BAD);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x2\r\n\r\n{}", TK_STRICT_CL_BAD);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n", TK_STRICT_CL_TE);
    expect("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", TK_STRICT_TE_UNKNOWN);
    expect("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
           TK_STRICT_TE_DUP);
    expect("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", TK_STRICT_TE_HTTP10);
    expect("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n", TK_STRICT_BODY_LARGE);
    expect("HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nGET", TK_STRICT_HEAD_BODY);
    const char *te = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    char buf[256];
    const char *bad_chunks[] = {"zz\r\n", "+5\r\n", " 5\r\n", "0x5\r\n", "-1\r\n", "\r\n", "5 \r\n"};
    for (size_t i = 0; i < sizeof bad_chunks / sizeof bad_chunks[0]; i++) {
        snprintf(buf, sizeof buf, "%s%s", te, bad_chunks[i]);
        expect(buf, TK_STRICT_CHUNK_SIZE);
    }
    snprintf(buf, sizeof buf, "%s5;ext=1\r\nhello\r\n0\r\n\r\n", te);
    expect(buf, TK_STRICT_CHUNK_EXT);
    snprintf(buf, sizeof buf, "%s5\r\nhelloXX0\r\n\r\n", te);
    expect(buf, TK_STRICT_CHUNK_CRLF);
    snprintf(buf, sizeof buf, "%s1000000000000000\r\n", te);
    expect(buf, TK_STRICT_CHUNK_SIZE);
    snprintf(buf, sizeof buf, "%s401\r\n", te);
    expect(buf, TK_STRICT_BODY_LARGE);
    snprintf(buf, sizeof buf, "%s0\r\nContent-Length: 5\r\n\r\n", te);
    expect(buf, TK_STRICT_TRAILER);
}

static void test_lines(void **state)
{
    (void)state;
    expect("GET /\r\n\r\n", TK_STRICT_HTTP09);
    expect("GET / HTTP/0.9\r\n\r\n", TK_STRICT_VERSION);
    expect("GET / HTTP/2.0\r\nHost: x\r\n\r\n", TK_STRICT_VERSION);
    expect("GET / HTTP/1.2\r\nHost: x\r\n\r\n", TK_STRICT_VERSION);
    expect("GET / http/1.1\r\nHost: x\r\n\r\n", TK_STRICT_REQUEST_LINE);
    expect("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", TK_STRICT_REQUEST_LINE);
    expect("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", TK_STRICT_REQUEST_LINE);
    expect("GET x HTTP/1.1\r\nHost: x\r\n\r\n", TK_STRICT_TARGET);
    expect("CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n", TK_STRICT_CONNECT_TRACE);
    expect("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", TK_STRICT_CONNECT_TRACE);
    expect("BREW / HTTP/1.1\r\nHost: x\r\n\r\n", TK_STRICT_METHOD);
    expect("get / HTTP/1.1\r\nHost: x\r\n\r\n", TK_STRICT_METHOD);
    expect("GET / HTTP/1.1\r\n\r\n", TK_STRICT_HOST_MISSING);
    expect("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", TK_STRICT_HOST_DUP);
    expect("GET / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", TK_STRICT_FIELD_NAME);
    expect("GET / HTTP/1.1\r\nHost: x\r\nName : 1\r\n\r\n", TK_STRICT_FIELD_NAME);
    expect("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", TK_STRICT_FIELD_NAME);
    expect("GET / HTTP/1.1\r\nHost: x\r\nX: 1\r\n folded\r\n\r\n", TK_STRICT_FOLD);
    expect("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01z\r\n\r\n", TK_STRICT_FIELD_VALUE);
    expect("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", TK_STRICT_FIELD_VALUE);
    expect("GET / HTTP/1.1\r\nHost: x\r\nX: a\x7f\r\n\r\n", TK_STRICT_FIELD_VALUE);
    expect("GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n", TK_STRICT_EXPECT);
}

/* A NUL cannot go through strlen-based helpers: feed it by length. */
static void test_nul(void **state)
{
    (void)state;
    static const char req[] = "GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\0b\r\n\r\n";
    size_t passed;
    int heads;
    assert_int_equal(run(req, sizeof req - 1, 0, &passed, &heads), TK_STRICT_FIELD_VALUE);
    assert_int_equal(run(req, sizeof req - 1, 1, &passed, &heads), TK_STRICT_FIELD_VALUE);
    static const char tgt[] = "GET /a\0b HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(run(tgt, sizeof tgt - 1, 0, &passed, &heads), TK_STRICT_TARGET);
}

static void test_sizes(void **state)
{
    (void)state;
    static char big[TK_STRICT_MAX_HEAD + 200];
    memset(big, 'a', sizeof big - 1);
    memcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX: ", 28);
    big[sizeof big - 1] = '\0';
    expect(big, TK_STRICT_HEAD_LARGE);
    static char longt[TK_STRICT_MAX_TARGET + 64];
    memset(longt, 'a', sizeof longt - 1);
    memcpy(longt, "GET /", 5);
    static const char tail[] = " HTTP/1.1\r\nHost: x\r\n\r\n";
    memcpy(longt + sizeof longt - sizeof tail, tail, sizeof tail - 1);
    longt[sizeof longt - 1] = '\0';
    expect(longt, TK_STRICT_TARGET_LONG);
    /* every reason has a 4xx/5xx reply with a code and a message */
    for (int r = 1; r < TK_STRICT_NREASONS; r++) {
        const tk_strict_reply *rep = tk_strict_reply_for(r);
        assert_non_null(rep);
        assert_true(rep->status >= 400 && rep->status <= 599);
        assert_non_null(rep->code);
        assert_null(strchr(rep->message, '"'));
    }
    assert_null(tk_strict_reply_for(TK_STRICT_OK));
    assert_null(tk_strict_reply_for(TK_STRICT_NREASONS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid), cmocka_unit_test(test_framing), cmocka_unit_test(test_lines),
        cmocka_unit_test(test_nul),   cmocka_unit_test(test_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
