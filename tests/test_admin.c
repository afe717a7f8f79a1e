/* Unit tests of the box office's pure parts: ISO-8601 times (lib/admin.c),
 * seat blocks, the search index's words (lib/catalog.c), and the admin
 * route table (server/admin_routes.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mysql.h>
#include <stdio.h>
#include <string.h>

#include "../server/routes.h"
#include "ticketctl/admin.h"
#include "ticketctl/catalog.h"

static void test_parse_time(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(tk_admin_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(tk_admin_parse_time("2027-01-31T19:30:00Z", &ms), 0);
    assert_int_equal(ms, 1801423800000LL);
    assert_int_equal(tk_admin_parse_time("2027-01-31T19:30:00.250Z", &ms), 0);
    assert_int_equal(ms, 1801423800250LL);
    assert_int_equal(tk_admin_parse_time("2027-01-31T19:30:00.5Z", &ms), 0);
    assert_int_equal(ms, 1801423800500LL);
    const char *bad[] = {"", "tomorrow", "2027-01-31", "2027-01-31T19:30:00", "2027-01-31T19:30:00+09:00",
                         "2027-01-31T19:30:00.Z", "2027-01-31T19:30:00Zjunk", "1960-01-01T00:00:00Z", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(tk_admin_parse_time(bad[i], &ms), -1);
    assert_int_equal(tk_admin_parse_time(NULL, &ms), -1);
}

static void test_seat_block_count(void **state)
{
    (void)state;
    tk_seat_block b = {.sections = {"A", "B"}, .nsections = 2, .rows = {"1", "2", "3"}, .nrows = 3,
                       .number_from = 1, .number_to = 50, .grade = "R", .price = 1000};
    assert_int_equal(tk_seat_block_count(&b), 300);
    b.number_from = 51;
    assert_int_equal(tk_seat_block_count(&b), 0);
    b.number_from = 0;
    assert_int_equal(tk_seat_block_count(&b), 0);
}

static void test_search_words(void **state)
{
    (void)state;
    char w[TK_CATALOG_WORDS_MAX][TK_CATALOG_WORD_LEN];
    /* split on whitespace and punctuation, ASCII lower-cased, each word once */
    assert_int_equal(tk_catalog_words("Golden  DREAM golden", w, TK_CATALOG_WORDS_MAX), 2);
    assert_string_equal(w[0], "golden");
    assert_string_equal(w[1], "dream");
    assert_int_equal(tk_catalog_words("Lim-Young-woong, Seoul", w, TK_CATALOG_WORDS_MAX), 4);
    assert_string_equal(w[0], "lim");
    assert_string_equal(w[2], "woong");
    assert_string_equal(w[3], "seoul");
    /* quotes, SQL and LIKE wildcards are never part of a word */
    assert_int_equal(tk_catalog_words("abc') OR 1=1 -- \"x\" 5% a_b", w, TK_CATALOG_WORDS_MAX), 7);
    assert_string_equal(w[0], "abc");
    assert_string_equal(w[1], "or");
    assert_string_equal(w[2], "1");
    assert_string_equal(w[3], "x");
    assert_string_equal(w[4], "5");
    assert_string_equal(w[5], "a");
    assert_string_equal(w[6], "b");
    /* at most max words */
    assert_int_equal(tk_catalog_words("a b c d e", w, 3), 3);
    /* UTF-8 is kept whole, and a long word is cut on a character boundary */
    assert_int_equal(tk_catalog_words("\xec\x84\x9c\xec\x9a\xb8 Dome", w, TK_CATALOG_WORDS_MAX), 2);
    assert_string_equal(w[0], "\xec\x84\x9c\xec\x9a\xb8");
    char long_word[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(long_word, "\xec\x84\x9c"); /* 120 bytes of 3-byte characters */
    assert_int_equal(tk_catalog_words(long_word, w, 1), 1);
    assert_int_equal(strlen(w[0]), 48); /* 16 characters: 50 bytes would split the 17th */
    /* no word */
    assert_int_equal(tk_catalog_words("  ,; ", w, TK_CATALOG_WORDS_MAX), 0);
    assert_int_equal(tk_catalog_words(NULL, w, TK_CATALOG_WORDS_MAX), 0);
}

static void test_admin_routes(void **state)
{
    (void)state;
    assert_true(tk_admin_nroutes > 0);
    assert_true(tk_route_count() == tk_nroutes + tk_admin_nroutes);
    assert_true(tk_route_count() < 63); /* metrics slot 63 is "unmatched" */
    for (size_t i = 0; i < tk_admin_nroutes; i++) {
        const tk_route *r = &tk_admin_routes[i];
        assert_ptr_equal(tk_route_at(tk_nroutes + i), r);
        assert_true(!strncmp(r->pattern, "/api/v1/admin/", 14));
        assert_true((r->flags & (R_AUTH | R_ADMIN)) == (R_AUTH | R_ADMIN));
        assert_null(r->cache_key); /* writes and admin reads are never served from the cache */
        for (size_t k = 0; k < tk_route_count(); k++)
            if (tk_route_at(k) != r)
                assert_false(!strcmp(tk_route_at(k)->method, r->method) && !strcmp(tk_route_at(k)->pattern, r->pattern));
    }
    assert_null(tk_route_at(tk_route_count()));
    /* no route outside the admin table needs the role */
    for (size_t i = 0; i < tk_nroutes; i++)
        assert_false(tk_routes[i].flags & R_ADMIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_seat_block_count),
        cmocka_unit_test(test_search_words),
        cmocka_unit_test(test_admin_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
