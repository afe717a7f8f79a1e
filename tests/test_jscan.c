/* tk_jscan_items against jansson on the flow's answers and on edge cases:
 * the same ids, counts and totals, and -1 for anything jansson rejects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jscan.h"

typedef struct got {
    int n;
    int64_t a[64], b[64];
} got;

static void collect(void *ud, const int64_t *vals)
{
    got *g = ud;
    if (g->n < 64) {
        g->a[g->n] = vals[0];
        g->b[g->n] = vals[1];
    }
    g->n++;
}

static const char *const KEYS[] = {"id", "available_seats"};

static int scan(const char *s, got *g, int64_t *total)
{
    memset(g, 0, sizeof *g);
    return tk_jscan_items(s, strlen(s), "items", KEYS, 2, collect, g, "total", total);
}

static void test_flow_answers(void **state)
{
    (void)state;
    got g;
    int64_t total;
    const char *seats = "{\"schedule_id\":1,\"items\":[{\"id\":3,\"section\":\"A\",\"row\":\"1\",\"number\":3,"
                        "\"grade\":\"VIP\",\"price\":150000},{\"id\":4,\"section\":\"A\",\"row\":\"1\",\"number\":4,"
                        "\"grade\":\"VIP\",\"price\":150000}]}";
    assert_int_equal(scan(seats, &g, &total), 2);
    assert_int_equal(g.n, 2);
    assert_true(g.a[0] == 3 && g.a[1] == 4);
    assert_true(g.b[0] == TK_JSCAN_ABSENT);
    assert_true(total == TK_JSCAN_ABSENT);
    const char *dates = "{\"concert_id\":1,\"items\":[{\"id\":1,\"starts_at\":\"2027-01-11T09:00:00Z\","
                        "\"total_seats\":200,\"available_seats\":171},{\"id\":2,\"starts_at\":\"x\","
                        "\"total_seats\":200,\"available_seats\":0}]}";
    assert_int_equal(scan(dates, &g, NULL), 2);
    assert_true(g.a[0] == 1 && g.b[0] == 171 && g.a[1] == 2 && g.b[1] == 0);
    const char *concerts = " {\"items\" : [ {\"id\":7,\"title\":\"LE SSERAFIM \\\"Velvet\\\" Hour \\u00e9\","
                           "\"venue\":\"KSPO Dome, Seoul\"} ] , \"page\":1,\"size\":20,\"total\":500}\n";
    assert_int_equal(scan(concerts, &g, &total), 1);
    assert_true(g.a[0] == 7 && total == 500);
    assert_int_equal(scan("{\"items\":[]}", &g, &total), 0);
    assert_int_equal(g.n, 0);
}

static void test_values_and_nesting(void **state)
{
    (void)state;
    got g;
    /* nested members with the same name do not count; non-integers are absent; the last duplicate wins */
    const char *s = "{\"items\":[{\"x\":{\"id\":99},\"id\":5,\"available_seats\":1.5},"
                    "{\"id\":-3,\"available_seats\":1e3,\"id\":6},{\"id\":\"8\",\"available_seats\":null},"
                    "{\"id\":9223372036854775807,\"available_seats\":-9223372036854775808},"
                    "{\"id\":92233720368547758070},[1,2],3,\"s\",true,{}],\"id\":1}";
    assert_int_equal(scan(s, &g, NULL), 10);
    assert_int_equal(g.n, 6); /* only objects are reported */
    assert_true(g.a[0] == 5 && g.b[0] == TK_JSCAN_ABSENT);
    assert_true(g.a[1] == 6 && g.b[1] == TK_JSCAN_ABSENT);
    assert_true(g.a[2] == TK_JSCAN_ABSENT && g.b[2] == TK_JSCAN_ABSENT);
    assert_true(g.a[3] == INT64_MAX && g.b[3] == TK_JSCAN_ABSENT);
    assert_true(g.a[4] == TK_JSCAN_ABSENT);
    assert_true(g.a[5] == TK_JSCAN_ABSENT);
    /* an escaped member name never matches */
    assert_int_equal(scan("{\"items\":[{\"\\u0069d\":4}]}", &g, NULL), 1);
    assert_true(g.a[0] == TK_JSCAN_ABSENT);
}

/* Everything jansson rejects is -1 here too; and the missing-array cases. */
static void test_rejects(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", "{", "{\"items\":[", "{\"items\":[{\"id\":1}", "{\"items\":[{\"id\":1}]", "{\"items\":[{\"id\":}]}",
        "{\"items\":[{\"id\":1,}]}", "{\"items\":[1,]}", "{\"items\":[01]}", "{\"items\":[1.]}", "{\"items\":[-]}",
        "{\"items\":[1e]}", "{\"items\":[tru]}", "{\"items\":[\"a\\x\"]}", "{\"items\":[\"a\\u12\"]}",
        "{\"items\":[\"a\tb\"]}", "{\"items\":[]} x", "{\"items\":[]}}", "{items:[]}", "{\"items\"[]}",
        "{\"a\":1 \"items\":[]}", "{\"items\":[{\"id\" 1}]}",
    };
    got g;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_error_t je;
        json_t *j = json_loads(bad[i], 0, &je);
        int r = scan(bad[i], &g, NULL);
        if (r != -1 || j)
            fprintf(stderr, "case %zu: '%s' -> %d (jansson %s)\n", i, bad[i], r, j ? "accepts" : "rejects");
        assert_null(j);
        assert_int_equal(r, -1);
    }
    /* valid JSON without the array */
    assert_int_equal(scan("[]", &g, NULL), -1);
    assert_int_equal(scan("{}", &g, NULL), -1);
    assert_int_equal(scan("{\"items\":null}", &g, NULL), -1);
    assert_int_equal(scan("{\"items\":{\"id\":1}}", &g, NULL), -1);
    assert_int_equal(scan("{\"other\":[{\"id\":1}]}", &g, NULL), -1);
    assert_int_equal(g.n, 0);
    /* a truncated answer: every prefix of a valid one is rejected */
    const char *ok = "{\"items\":[{\"id\":12,\"available_seats\":3},{\"id\":13}],\"total\":2}";
    for (size_t k = 0; k < strlen(ok); k++)
        assert_int_equal(tk_jscan_items(ok, k, "items", KEYS, 2, collect, &g, NULL, NULL), -1);
    assert_int_equal(scan(ok, &g, NULL), 2);
}

static void test_depth_bound(void **state)
{
    (void)state;
    char buf[4096];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"items\":[{\"deep\":");
    for (int i = 0; i < 200; i++)
        buf[n++] = '[';
    for (int i = 0; i < 200; i++)
        buf[n++] = ']';
    n += (size_t)snprintf(buf + n, sizeof buf - n, "}]}");
    got g;
    memset(&g, 0, sizeof g);
    assert_int_equal(tk_jscan_items(buf, n, "items", KEYS, 2, collect, &g, NULL, NULL), -1);
    assert_int_equal(tk_jscan_items(NULL, 0, "items", KEYS, 2, collect, &g, NULL, NULL), -1);
    assert_int_equal(tk_jscan_items("{}", 2, "items", KEYS, TK_JSCAN_MAX_KEYS + 1, collect, &g, NULL, NULL), -1);
}

/* Random answers built with jansson: the scan reads what jansson reads. */
static void test_against_jansson(void **state)
{
    (void)state;
    uint64_t x = 88172645463325252ULL;
    for (int round = 0; round < 300; round++) {
        json_t *doc = json_object(), *arr = json_array();
        int n = (int)(x % 40);
        for (int i = 0; i < n; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            json_t *it = json_object();
            json_object_set_new(it, "name", json_string("a \"quoted\" \\ name\n\xc3\xa9"));
            if (x % 5)
                json_object_set_new(it, "id", json_integer((json_int_t)(x % 1000000)));
            json_object_set_new(it, "nested", json_pack("{s:[i,{s:i}]}", "id", 1, "id", 2));
            json_object_set_new(it, "available_seats", json_integer((json_int_t)(x % 300) - 100));
            json_array_append_new(arr, it);
        }
        json_object_set_new(doc, "total", json_integer(n * 7));
        json_object_set_new(doc, "items", arr);
        char *text = json_dumps(doc, round % 2 ? JSON_INDENT(2) : JSON_COMPACT);
        got g;
        int64_t total;
        assert_int_equal(scan(text, &g, &total), n);
        assert_int_equal(g.n, n);
        assert_true(total == n * 7);
        for (int i = 0; i < n && i < 64; i++) {
            json_t *it = json_array_get(arr, (size_t)i), *id = json_object_get(it, "id");
            assert_true(g.a[i] == (id ? json_integer_value(id) : TK_JSCAN_ABSENT));
            assert_true(g.b[i] == json_integer_value(json_object_get(it, "available_seats")));
        }
        free(text);
        json_decref(doc);
    }
}

/* The 8-byte string scan: a stop byte (quote, backslash, control) at every
 * offset of a long string is found exactly where a byte-by-byte scan finds
 * it, and UTF-8 bytes (>= 0x80) are plain. */
static void test_long_strings_every_offset(void **state)
{
    (void)state;
    got g;
    for (int at = 0; at < 40; at++) {
        char name[64], doc[256];
        memset(name, 'a', sizeof name);
        name[40] = '\0';
        name[at] = '\x01'; /* a raw control byte: malformed */
        snprintf(doc, sizeof doc, "{\"items\":[{\"id\":%d,\"title\":\"%s\",\"available_seats\":2}]}", at, name);
        assert_int_equal(scan(doc, &g, NULL), -1);
        name[at] = '\xc3'; /* UTF-8 lead byte, then an escaped quote next to it */
        snprintf(doc, sizeof doc, "{\"items\":[{\"id\":%d,\"title\":\"%s\\\"x\",\"available_seats\":2}]}", at,
                 name);
        assert_int_equal(scan(doc, &g, NULL), 1);
        assert_int_equal(g.a[0], at);
        assert_int_equal(g.b[0], 2);
        /* a string cut short at the quote position: the member after it is read */
        name[at] = '\0';
        snprintf(doc, sizeof doc, "{\"items\":[{\"title\":\"%s\",\"id\":7,\"available_seats\":%d}]}", name, at);
        assert_int_equal(scan(doc, &g, NULL), 1);
        assert_int_equal(g.a[0], 7);
        assert_int_equal(g.b[0], at);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flow_answers), cmocka_unit_test(test_values_and_nesting),
        cmocka_unit_test(test_rejects),      cmocka_unit_test(test_depth_bound),
        cmocka_unit_test(test_against_jansson),
        cmocka_unit_test(test_long_strings_every_offset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
