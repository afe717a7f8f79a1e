/* tk_statelog: one JSON line per state change, none for repeats or for
 * starting healthy; the error text is escaped; outage length on "up". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ticketctl/statelog.h"

static void test_changes_only(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tk_statelog s = {.component = "serve", .backend = "redis"};
    assert_int_equal(tk_statelog_set(&s, f, 1, NULL), 0);               /* starting healthy: silent */
    assert_int_equal(tk_statelog_set(&s, f, 0, "conn \"refused\"\n"), 1); /* down */
    assert_int_equal(tk_statelog_set(&s, f, 0, "still refused"), 0);     /* repeat: silent */
    usleep(20000);
    assert_int_equal(tk_statelog_set(&s, f, 1, NULL), 1);                /* back up */
    fclose(f);
    char *nl = strchr(buf, '\n');
    assert_non_null(nl);
    *nl = '\0';
    json_error_t je;
    json_t *down = json_loads(buf, 0, &je), *up = json_loads(nl + 1, 0, &je);
    assert_non_null(down);
    assert_non_null(up);
    assert_string_equal(json_string_value(json_object_get(down, "component")), "serve");
    assert_string_equal(json_string_value(json_object_get(down, "backend")), "redis");
    assert_string_equal(json_string_value(json_object_get(down, "state")), "down");
    assert_string_equal(json_string_value(json_object_get(down, "error")), "conn \"refused\"\n");
    assert_non_null(json_string_value(json_object_get(down, "since")));
    assert_string_equal(json_string_value(json_object_get(up, "state")), "up");
    assert_null(json_object_get(up, "error"));
    assert_true(json_integer_value(json_object_get(up, "down_for_ms")) >= 15);
    json_decref(down);
    json_decref(up);
    free(buf);
}

static void test_starting_down_is_news(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    tk_statelog s = {.component = "notify", .backend = "kafka"};
    assert_int_equal(tk_statelog_set(&s, f, 0, NULL), 1);
    fclose(f);
    assert_non_null(strstr(buf, "\"error\":\"unknown\""));
    assert_null(strstr(buf, "up_for_ms")); /* no state before it */
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_changes_only),
        cmocka_unit_test(test_starting_down_is_news),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
