/* tk_store_seats_json_remove: a held seat leaves a cached seat map text.
 * First, middle, last and only item; an absent seat; an id that is only a
 * prefix of another's; a '}' inside a string; a text not of ours. The
 * result must still be valid JSON with the other items intact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/store.h"

static const char *MAP = "{\"schedule_id\":7,\"items\":["
                         "{\"id\":1,\"section\":\"A\",\"row\":\"1\",\"number\":1,\"grade\":\"VIP\",\"price\":100},"
                         "{\"id\":12,\"section\":\"x}\\\"y\",\"row\":\"1\",\"number\":2,\"grade\":\"R\",\"price\":90},"
                         "{\"id\":123,\"section\":\"B\",\"row\":\"2\",\"number\":3,\"grade\":\"S\",\"price\":80}]}";

/* Remove `id` from a copy of `in`; check rc, then that the ids left are `want` (0-terminated). */
static void expect_after(const char *in, uint64_t id, int rc, const uint64_t *want)
{
    size_t len = strlen(in);
    char *buf = strdup(in);
    assert_non_null(buf);
    assert_int_equal(tk_store_seats_json_remove(buf, &len, id), rc);
    assert_int_equal(len, strlen(buf));
    json_t *doc = json_loadb(buf, len, 0, NULL);
    assert_non_null(doc);
    json_t *items = json_object_get(doc, "items");
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(json_array_size(items), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(items, i), "id")), want[i]);
    if (n >= 2 && want[1] == 12) /* the string with a brace survived */
        assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "section")), "x}\"y");
    json_decref(doc);
    free(buf);
}

static void test_remove(void **state)
{
    (void)state;
    expect_after(MAP, 1, 1, (const uint64_t[]){12, 123, 0});
    expect_after(MAP, 12, 1, (const uint64_t[]){1, 123, 0});
    expect_after(MAP, 123, 1, (const uint64_t[]){1, 12, 0});
    expect_after(MAP, 2, 0, (const uint64_t[]){1, 12, 123, 0}); /* absent */
    expect_after("{\"schedule_id\":7,\"items\":[{\"id\":5,\"price\":1}]}", 5, 1, (const uint64_t[]){0});
    expect_after("{\"schedule_id\":7,\"items\":[]}", 5, 0, (const uint64_t[]){0});
}

static void test_not_ours(void **state)
{
    (void)state;
    char bad[] = "{\"items\":[{\"id\":5,\"section\":\"unterminated";
    size_t len = strlen(bad);
    assert_int_equal(tk_store_seats_json_remove(bad, &len, 5), -1);
    assert_int_equal(len, strlen(bad)); /* untouched */
}

static const char *DATES = "{\"concert_id\":3,\"items\":["
                           "{\"id\":4,\"starts_at\":\"2027-01-01T19:00:00Z\",\"total_seats\":50,\"available_seats\":10},"
                           "{\"id\":41,\"starts_at\":\"2027-01-02T19:00:00Z\",\"total_seats\":50,\"available_seats\":1}]}";

/* available_seats of schedule `id` in a dates text, via jansson */
static long long avail_of(const char *text, size_t len, uint64_t id)
{
    json_t *doc = json_loadb(text, len, 0, NULL);
    assert_non_null(doc);
    long long v = -1;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(doc, "items"), i, it)
        if ((uint64_t)json_integer_value(json_object_get(it, "id")) == id)
            v = json_integer_value(json_object_get(it, "available_seats"));
    json_decref(doc);
    return v;
}

static void test_dates_take_seat(void **state)
{
    (void)state;
    char *buf = strdup(DATES);
    assert_non_null(buf);
    size_t len = strlen(buf);
    assert_int_equal(tk_store_dates_json_take_seat(buf, &len, 4), 1); /* 10 -> 9: one digit fewer */
    assert_int_equal(len, strlen(buf));
    assert_int_equal(avail_of(buf, len, 4), 9);
    assert_int_equal(avail_of(buf, len, 41), 1);
    assert_int_equal(tk_store_dates_json_take_seat(buf, &len, 4), 1);
    assert_int_equal(avail_of(buf, len, 4), 8);
    assert_int_equal(tk_store_dates_json_take_seat(buf, &len, 5), 0); /* not listed */
    /* the last seat: the schedule must leave the list, so the text is re-read */
    size_t before = len;
    assert_int_equal(tk_store_dates_json_take_seat(buf, &len, 41), -1);
    assert_int_equal(len, before);
    free(buf);
    char bad[] = "{\"items\":[{\"id\":4,\"total_seats\":50}]}";
    len = strlen(bad);
    assert_int_equal(tk_store_dates_json_take_seat(bad, &len, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_dates_take_seat),
        cmocka_unit_test(test_not_ours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
