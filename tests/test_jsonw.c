/* tk_jsonw: what it writes parses back with jansson to the same values
 * (escapes of quotes, backslashes, every control character, UTF-8 kept),
 * integers at the limits, growth past the hint, and take/discard. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/jsonw.h"

static void test_strings_round_trip(void **state)
{
    (void)state;
    char ctl[40];
    for (int i = 1; i < 32; i++)
        ctl[i - 1] = (char)i;
    ctl[31] = '\0';
    const char *cases[] = {"", "plain", "quote\"d", "back\\slash", "\xed\x95\x9c\xea\xb8\x80 seat", ctl, "}{],:"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        tk_jsonw w;
        tk_jsonw_init(&w, 1);
        tk_jsonw_lit(&w, "{\"s\":");
        tk_jsonw_str(&w, cases[k]);
        tk_jsonw_lit(&w, "}");
        size_t len;
        char *text = tk_jsonw_take(&w, &len);
        assert_non_null(text);
        assert_int_equal(len, strlen(text));
        json_error_t e;
        json_t *doc = json_loadb(text, len, 0, &e);
        assert_non_null(doc);
        assert_string_equal(json_string_value(json_object_get(doc, "s")), cases[k]);
        json_decref(doc);
        free(text);
    }
}

static void test_numbers_null_and_growth(void **state)
{
    (void)state;
    tk_jsonw w;
    tk_jsonw_init(&w, 4);
    tk_jsonw_lit(&w, "[");
    for (int i = 0; i < 1000; i++) {
        tk_jsonw_i64(&w, i % 2 ? INT64_MAX : INT64_MIN + i);
        tk_jsonw_raw(&w, ",", 1);
    }
    tk_jsonw_str(&w, NULL);
    tk_jsonw_lit(&w, "]");
    size_t len;
    char *text = tk_jsonw_take(&w, &len);
    assert_non_null(text);
    assert_null(w.buf); /* taken: the writer is empty */
    json_t *doc = json_loadb(text, len, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(doc), 1001);
    assert_true(json_integer_value(json_array_get(doc, 1)) == INT64_MAX);
    assert_true(json_integer_value(json_array_get(doc, 998)) == INT64_MIN + 998);
    assert_true(json_is_null(json_array_get(doc, 1000)));
    json_decref(doc);
    free(text);
    tk_jsonw_discard(&w); /* safe after take */
    tk_jsonw_init(&w, 0);
    tk_jsonw_lit(&w, "x");
    tk_jsonw_discard(&w);
    assert_null(w.buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_round_trip),
        cmocka_unit_test(test_numbers_null_and_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
