/* server/reply.c: the JSON error shape, the tk_rc -> HTTP status mapping,
 * and body parsing (400 BAD_JSON / 413 PAYLOAD_TOO_LARGE). Jobs are built by
 * hand; no evhttp request is needed for these helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Fixture: one job per test in *state, reset between uses and freed by
 * teardown even when an assertion fails (keeps ASan's leak report honest). */
static void job_clear(tk_job *j)
{
    free(j->body);
    free(j->resp);
    memset(j, 0, sizeof *j);
}

static tk_job *job_set(void **state, const char *body, size_t len)
{
    tk_job *j = *state;
    job_clear(j);
    if (body) {
        j->body = malloc(len + 1);
        assert_non_null(j->body);
        memcpy(j->body, body, len);
        j->body[len] = '\0';
        j->body_len = len;
    }
    return j;
}

static int setup(void **state)
{
    *state = calloc(1, sizeof(tk_job));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    job_clear(*state);
    free(*state);
    return 0;
}

/* Parse j->resp and check it is exactly {"error":{"code":code,"message":...}}.
 * Returns the message (caller frees). */
static char *check_error_shape(tk_job *j, int status, const char *code)
{
    assert_int_equal(j->status, status);
    assert_non_null(j->resp);
    assert_int_equal(j->resp_len, strlen(j->resp));
    json_error_t e;
    json_t *root = json_loadb(j->resp, j->resp_len, JSON_REJECT_DUPLICATES, &e);
    assert_non_null(root);
    assert_true(json_is_object(root));
    assert_int_equal(json_object_size(root), 1);
    json_t *err = json_object_get(root, "error");
    assert_true(json_is_object(err));
    assert_int_equal(json_object_size(err), 2);
    assert_true(json_is_string(json_object_get(err, "code")));
    assert_string_equal(json_string_value(json_object_get(err, "code")), code);
    json_t *msg = json_object_get(err, "message");
    assert_true(json_is_string(msg));
    char *m = strdup(json_string_value(msg));
    json_decref(root);
    return m;
}

/* ---- job_reply_error ------------------------------------------------------ */

static void test_error_exact(void **state)
{
    tk_job *j = job_set(state, NULL, 0);
    job_reply_error(j, 409, "SEAT_TAKEN", "seat %d is held", 17);
    assert_int_equal(j->status, 409);
    assert_string_equal(j->resp, "{\"error\":{\"code\":\"SEAT_TAKEN\",\"message\":\"seat 17 is held\"}}");
    char *m = check_error_shape(j, 409, "SEAT_TAKEN");
    assert_string_equal(m, "seat 17 is held");
    free(m);

    /* a second reply replaces the first (and frees it: ASan leak check) */
    job_reply_error(j, 404, "NOT_FOUND", "no route");
    assert_string_equal(j->resp, "{\"error\":{\"code\":\"NOT_FOUND\",\"message\":\"no route\"}}");
    assert_int_equal(j->status, 404);
}

static void test_error_escaping(void **state)
{
    tk_job *j = job_set(state, NULL, 0);
    const char *evil = "a \"quoted\" \\ path\n\t</script>";
    job_reply_error(j, 400, "BAD_REQUEST", "bad %s", evil);
    char *m = check_error_shape(j, 400, "BAD_REQUEST");
    char want[128];
    snprintf(want, sizeof want, "bad %s", evil);
    assert_string_equal(m, want);
    free(m);

    /* UTF-8 passes through */
    job_reply_error(j, 422, "INVALID", "name \xc3\xa9t\xc3\xa9 too long");
    m = check_error_shape(j, 422, "INVALID");
    assert_string_equal(m, "name \xc3\xa9t\xc3\xa9 too long");
    free(m);
}

/* A long message is cut to fit, and the reply keeps its status and shape. */
static void test_error_long_message_ascii(void **state)
{
    tk_job *j = job_set(state, NULL, 0);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    job_reply_error(j, 422, "INVALID", "%s", big);
    char *m = check_error_shape(j, 422, "INVALID");
    assert_true(strlen(m) > 100 && strlen(m) < sizeof big - 1);
    assert_true(strspn(m, "x") == strlen(m));
    free(m);
}

/* Same with a multi-byte UTF-8 message whose cut falls inside a character:
 * the reply must still be the 422 the caller asked for, not a 500. */
static void test_error_long_message_utf8(void **state)
{
    tk_job *j = job_set(state, NULL, 0);
    char big[1201];
    for (int i = 0; i < 600; i++) { /* 600 x "é" (2 bytes each) */
        big[2 * i] = '\xc3';
        big[2 * i + 1] = '\xa9';
    }
    big[1200] = '\0';
    job_reply_error(j, 422, "INVALID", "%s", big);
    print_message("status %d, resp %.80s...\n", j->status, j->resp ? j->resp : "(null)");
    char *m = check_error_shape(j, 422, "INVALID");
    assert_true(strlen(m) > 100);
    free(m);
}

static void test_reply_json_null_is_500(void **state)
{
    tk_job *j = job_set(state, NULL, 0);
    job_reply_json(j, 200, NULL);
    char *m = check_error_shape(j, 500, "INTERNAL");
    free(m);
}

static void test_reply_json_ok(void **state)
{
    tk_job *j = job_set(state, NULL, 0);
    job_reply_json(j, 201, json_pack("{s:I, s:s}", "id", (json_int_t)5, "status", "PENDING"));
    assert_int_equal(j->status, 201);
    assert_string_equal(j->resp, "{\"id\":5,\"status\":\"PENDING\"}");
    assert_int_equal(j->resp_len, strlen(j->resp));
}

/* ---- tk_rc_http_status ------------------------------------------------------ */

static void test_rc_status(void **state)
{
    (void)state;
    static const struct {
        tk_rc rc;
        int status;
    } want[] = {
        {TK_OK, 200},          {TK_EINVAL, 422},      {TK_ENOTFOUND, 404}, {TK_ECONFLICT, 409},
        {TK_EFUNDS, 409},      {TK_EEXPIRED, 409},    {TK_EEXISTS, 409},   {TK_EAUTH, 401},
        {TK_EFORBIDDEN, 403},  {TK_EBUSY, 503},       {TK_EBACKEND, 503},  {TK_ENOMEM, 500},
        {TK_EIO, 500},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        print_message("%s\n", tk_rc_name(want[i].rc));
        assert_int_equal(tk_rc_http_status(want[i].rc), want[i].status);
    }
    /* every code up to TK_EIO is listed above */
    assert_int_equal(sizeof want / sizeof want[0], (size_t)TK_EIO + 1);
    /* unknown codes are a server error, never a success */
    assert_int_equal(tk_rc_http_status((tk_rc)(TK_EIO + 1)), 500);
    assert_int_equal(tk_rc_http_status((tk_rc)999), 500);
    assert_int_equal(tk_rc_http_status((tk_rc)-1), 500);
}

/* ---- job_body_object ------------------------------------------------------ */

static void expect_body_error(void **state, const char *body, size_t len, int status, const char *code)
{
    print_message("body: %.60s\n", body ? body : "(null)");
    tk_job *j = job_set(state, body, len);
    json_t *o = job_body_object(j);
    assert_null(o);
    char *m = check_error_shape(j, status, code);
    assert_true(strlen(m) > 0);
    free(m);
}

static void test_body_empty(void **state)
{
    expect_body_error(state, NULL, 0, 400, "BAD_JSON");
    expect_body_error(state, "", 0, 400, "BAD_JSON");
}

static void test_body_malformed(void **state)
{
    static const char *const bad[] = {
        "{", "}", "{\"a\":}", "{\"a\":1,}", "{'a':1}", "{a:1}", "not json", "{\"a\":1} trailing",
        "{\"a\":1}{\"b\":2}", "   ", "{\"a\":\"\xff\"}", "{\"a\":1", "nul", "{\"a\":\"\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_body_error(state, bad[i], strlen(bad[i]), 400, "BAD_JSON");
}

static void test_body_not_object(void **state)
{
    static const char *const bad[] = {"[]", "[{\"a\":1}]", "\"str\"", "42", "null", "true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        expect_body_error(state, bad[i], strlen(bad[i]), 400, "BAD_JSON");
}

static void test_body_duplicate_keys(void **state)
{
    const char *b = "{\"seat_id\":1,\"seat_id\":2}";
    expect_body_error(state, b, strlen(b), 400, "BAD_JSON");
    b = "{\"a\":{\"x\":1,\"x\":1}}";
    expect_body_error(state, b, strlen(b), 400, "BAD_JSON");
}

/* An object of exactly `len` bytes: {"pad":"xxx...x"} */
static char *object_of_len(size_t len)
{
    char *b = malloc(len + 1);
    assert_non_null(b);
    assert_true(len >= 10);
    memcpy(b, "{\"pad\":\"", 8);
    memset(b + 8, 'x', len - 10);
    memcpy(b + len - 2, "\"}", 3);
    assert_int_equal(strlen(b), len);
    return b;
}

static void test_body_too_large(void **state)
{
    char *b = object_of_len(TK_MAX_BODY + 1);
    expect_body_error(state, b, TK_MAX_BODY + 1, 413, "PAYLOAD_TOO_LARGE");
    free(b);
    b = object_of_len(4 * TK_MAX_BODY);
    expect_body_error(state, b, 4 * TK_MAX_BODY, 413, "PAYLOAD_TOO_LARGE");
    free(b);

    /* exactly at the limit is accepted */
    b = object_of_len(TK_MAX_BODY);
    tk_job *j = job_set(state, b, TK_MAX_BODY);
    json_t *o = job_body_object(j);
    assert_non_null(o);
    assert_int_equal(json_string_length(json_object_get(o, "pad")), TK_MAX_BODY - 10);
    assert_null(j->resp);
    json_decref(o);
    free(b);
}

static void test_body_valid(void **state)
{
    const char *b = " {\"email\":\"a@b.c\",\"password\":\"p\\u00e9\",\"amount\":1500,\"nested\":{\"k\":[1,2]}}\n";
    tk_job *j = job_set(state, b, strlen(b));
    json_t *o = job_body_object(j);
    assert_non_null(o);
    assert_true(json_is_object(o));
    assert_int_equal(json_object_size(o), 4);
    assert_string_equal(json_string_value(json_object_get(o, "email")), "a@b.c");
    assert_string_equal(json_string_value(json_object_get(o, "password")), "p\xc3\xa9");
    assert_int_equal(json_integer_value(json_object_get(o, "amount")), 1500);
    /* no reply was set: the handler carries on */
    assert_null(j->resp);
    assert_int_equal(j->status, 0);
    json_decref(o);

    b = "{}";
    j = job_set(state, b, 2);
    o = job_body_object(j);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), 0);
    json_decref(o);
}

/* body_len is what counts, not the NUL: a body that is valid only up to
 * body_len parses; bytes past it are ignored. */
static void test_body_len_respected(void **state)
{
    const char *b = "{\"a\":1}GARBAGE";
    tk_job *j = job_set(state, b, strlen(b));
    j->body_len = 7;
    json_t *o = job_body_object(j);
    assert_non_null(o);
    assert_int_equal(json_integer_value(json_object_get(o, "a")), 1);
    json_decref(o);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_error_exact),
        T(test_error_escaping),
        T(test_error_long_message_ascii),
        T(test_error_long_message_utf8),
        T(test_reply_json_null_is_500),
        T(test_reply_json_ok),
        T(test_rc_status),
        T(test_body_empty),
        T(test_body_malformed),
        T(test_body_not_object),
        T(test_body_duplicate_keys),
        T(test_body_too_large),
        T(test_body_valid),
        T(test_body_len_respected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
