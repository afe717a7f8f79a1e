/* Routing: the static path_match() of server/server.c (included here to
 * reach it), and the shape of the public route table tk_routes[]. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../server/server.c"

static int match(const char *pattern, const char *path, uint64_t ids[2], int *nids)
{
    ids[0] = ids[1] = 0xdeadbeef;
    *nids = -1;
    return path_match(pattern, path, ids, nids);
}

static void test_exact(void **state)
{
    (void)state;
    uint64_t ids[2];
    int n;
    assert_true(match("/healthz", "/healthz", ids, &n));
    assert_int_equal(n, 0);
    assert_true(match("/api/v1/concerts", "/api/v1/concerts", ids, &n));
    assert_int_equal(n, 0);

    assert_false(match("/healthz", "/healthzz", ids, &n));
    assert_false(match("/healthz", "/health", ids, &n));
    assert_false(match("/healthz", "/HEALTHZ", ids, &n));
    assert_false(match("/healthz", "healthz", ids, &n));
    assert_false(match("/healthz", "", ids, &n));
    assert_false(match("/healthz", "/", ids, &n));
    assert_false(match("/api/v1/concerts", "/api/v1/concert", ids, &n));
    assert_false(match("/api/v1/concerts", "/api/v2/concerts", ids, &n));
    assert_false(match("/api/v1/concerts", "/api/v1", ids, &n));
    assert_false(match("/api/v1/concerts", "/api//v1/concerts", ids, &n));
    assert_false(match("/api/v1/concerts", "//api/v1/concerts", ids, &n));
}

static void test_trailing_slash(void **state)
{
    (void)state;
    uint64_t ids[2];
    int n;
    assert_true(match("/api/v1/concerts", "/api/v1/concerts/", ids, &n));
    assert_true(match("/api/v1/concerts/{id}", "/api/v1/concerts/3/", ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 3);
    /* one only */
    assert_false(match("/api/v1/concerts", "/api/v1/concerts//", ids, &n));
    assert_false(match("/api/v1/concerts/{id}", "/api/v1/concerts/3//", ids, &n));
}

static void test_extra_segments(void **state)
{
    (void)state;
    uint64_t ids[2];
    int n;
    assert_false(match("/api/v1/concerts", "/api/v1/concerts/1", ids, &n));
    assert_false(match("/api/v1/concerts/{id}", "/api/v1/concerts/1/schedules", ids, &n));
    assert_false(match("/api/v1/concerts/{id}/schedules", "/api/v1/concerts/1/schedules/x", ids, &n));
    assert_false(match("/api/v1/concerts/{id}/schedules", "/api/v1/concerts/1", ids, &n));
    assert_false(match("/api/v1/concerts/{id}/schedules", "/api/v1/concerts/1/", ids, &n));
    assert_false(match("/api/v1/concerts/{id}/schedules", "/api/v1/concerts/1/schedule", ids, &n));
    assert_false(match("/api/v1/concerts/{id}", "/api/v1/concerts", ids, &n));
    assert_false(match("/api/v1/concerts/{id}", "/api/v1/concerts/", ids, &n));
}

static void test_id_values(void **state)
{
    (void)state;
    uint64_t ids[2];
    int n;
    const char *p = "/api/v1/concerts/{id}/schedules";
    assert_true(match(p, "/api/v1/concerts/1/schedules", ids, &n));
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    assert_true(match(p, "/api/v1/concerts/42/schedules", ids, &n));
    assert_int_equal(ids[0], 42);
    assert_true(match(p, "/api/v1/concerts/999999999999999/schedules", ids, &n)); /* 15 digits */
    assert_int_equal(ids[0], 999999999999999ULL);
    assert_true(match(p, "/api/v1/concerts/007/schedules", ids, &n));
    assert_int_equal(ids[0], 7);
}

static void test_id_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "0",         "00",    "-1",    "+1",       "1a",   "a1",   "abc",  "1.5",  "1e3", " 1",
        "1 ",        "%31",   "0x10",  "１",       "1%00",
        "1000000000000000",     /* 16 digits */
        "0000000000000001",     /* 16 digits, small value */
        "99999999999999999999", /* would overflow uint64 */
        "18446744073709551617", /* 2^64 + 1: would wrap to 1 */
    };
    uint64_t ids[2];
    int n;
    char path[128];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "/api/v1/concerts/%s/schedules", bad[i]);
        print_message("%s\n", path);
        assert_false(match("/api/v1/concerts/{id}/schedules", path, ids, &n));
        snprintf(path, sizeof path, "/api/v1/concerts/%s", bad[i]);
        assert_false(match("/api/v1/concerts/{id}", path, ids, &n));
    }
    assert_false(match("/api/v1/concerts/{id}/schedules", "/api/v1/concerts//schedules", ids, &n));
}

static void test_two_ids(void **state)
{
    (void)state;
    uint64_t ids[2];
    int n;
    assert_true(match("/a/{id}/b/{id}", "/a/5/b/6", ids, &n));
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 5);
    assert_int_equal(ids[1], 6);
    assert_false(match("/a/{id}/b/{id}", "/a/5/b/0", ids, &n));
    /* a third {id} does not overflow ids[2] */
    assert_false(match("/{id}/{id}/{id}", "/1/2/3", ids, &n));
}

/* A literal "{id}" in the path is not an id, and "{id}x" in a pattern is a literal. */
static void test_literal_braces(void **state)
{
    (void)state;
    uint64_t ids[2];
    int n;
    assert_false(match("/api/v1/concerts/{id}", "/api/v1/concerts/{id}", ids, &n));
    assert_true(match("/x/{idx}", "/x/{idx}", ids, &n));
    assert_int_equal(n, 0);
    assert_false(match("/x/{idx}", "/x/5", ids, &n));
}

/* ---- the route table ------------------------------------------------------- */

static void test_table_shape(void **state)
{
    (void)state;
    assert_true(tk_nroutes > 0);
    assert_true(tk_nroutes < 63); /* metrics slot 63 is "unmatched" */
    for (size_t i = 0; i < tk_nroutes; i++) {
        const tk_route *r = &tk_routes[i];
        print_message("%s %s\n", r->method, r->pattern);
        assert_non_null(r->method);
        assert_non_null(r->pattern);
        assert_non_null(r->fn);
        assert_true(!strcmp(r->method, "GET") || !strcmp(r->method, "POST") || !strcmp(r->method, "DELETE"));
        assert_int_equal(r->pattern[0], '/');
        assert_true(strlen(r->pattern) == 1 || r->pattern[strlen(r->pattern) - 1] != '/');
        if (r->flags & R_AUTH)
            assert_true(!strncmp(r->pattern, "/api/v1/", 8));
        assert_false((r->flags & R_AUTH) && (r->flags & R_INLINE));
        if (r->cache_key) /* only reads are cached, and never per-user ones */
            assert_true(!strcmp(r->method, "GET") && !(r->flags & R_AUTH));
        for (size_t k = 0; k < i; k++)
            assert_false(!strcmp(tk_routes[k].method, r->method) && !strcmp(tk_routes[k].pattern, r->pattern));
    }
}

/* Each route's own example path (its {id}s replaced by numbers) is matched
 * by that route and by no other route of the same method: the table has no
 * overlaps, so the first-match dispatch in on_request() is unambiguous. */
static void test_table_unambiguous(void **state)
{
    (void)state;
    for (size_t i = 0; i < tk_nroutes; i++) {
        char path[256];
        const char *p = tk_routes[i].pattern;
        size_t o = 0;
        int nid = 0;
        while (*p && o < sizeof path - 8) {
            if (!strncmp(p, "{id}", 4)) {
                o += (size_t)snprintf(path + o, sizeof path - o, "%d", 10 + nid++);
                p += 4;
            } else {
                path[o++] = *p++;
            }
        }
        path[o] = '\0';
        uint64_t ids[2];
        int n;
        assert_true(match(tk_routes[i].pattern, path, ids, &n));
        assert_int_equal(n, nid);
        for (int k = 0; k < nid; k++)
            assert_int_equal(ids[k], (uint64_t)(10 + k));
        for (size_t k = 0; k < tk_nroutes; k++)
            if (k != i && !strcmp(tk_routes[k].method, tk_routes[i].method)) {
                if (match(tk_routes[k].pattern, path, ids, &n))
                    print_error("%s %s also matches %s\n", tk_routes[i].method, path, tk_routes[k].pattern);
                assert_false(match(tk_routes[k].pattern, path, ids, &n));
            }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact),
        cmocka_unit_test(test_trailing_slash),
        cmocka_unit_test(test_extra_segments),
        cmocka_unit_test(test_id_values),
        cmocka_unit_test(test_id_rejects),
        cmocka_unit_test(test_two_ids),
        cmocka_unit_test(test_literal_braces),
        cmocka_unit_test(test_table_shape),
        cmocka_unit_test(test_table_unambiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
