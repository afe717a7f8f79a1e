/* Unit tests of the box office's pure parts: ISO-8601 times (lib/admin.c),
 * seat blocks, the keyword search condition (lib/catalog.c), and the admin
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

static void test_search_where(void **state)
{
    (void)state;
    MYSQL *db = mysql_init(NULL); /* escaping needs only the handle's character set */
    assert_non_null(db);
    char w[2048];
    assert_int_equal(tk_catalog_search_where(db, "Golden  dream", w, sizeof w), 2);
    assert_string_equal(w, "MATCH(c.title, c.venue) AGAINST('+Golden* +dream*' IN BOOLEAN MODE)");
    /* short words and stopwords: substring filters; punctuation splits a word */
    assert_int_equal(tk_catalog_search_where(db, "IU the tour", w, sizeof w), 1);
    assert_string_equal(w, "MATCH(c.title, c.venue) AGAINST('+tour*' IN BOOLEAN MODE)"
                           " AND (c.title LIKE '%IU%' OR c.venue LIKE '%IU%')"
                           " AND (c.title LIKE '%the%' OR c.venue LIKE '%the%')");
    assert_int_equal(tk_catalog_search_where(db, "Lim-Young-woong", w, sizeof w), 3);
    assert_string_equal(w, "MATCH(c.title, c.venue) AGAINST('+Lim* +Young* +woong*' IN BOOLEAN MODE)");
    assert_int_equal(tk_catalog_search_where(db, "AC/DC", w, sizeof w), 0);
    assert_string_equal(w, "1 AND (c.title LIKE '%AC/DC%' OR c.venue LIKE '%AC/DC%')");
    /* boolean-mode operators and quotes cannot get through */
    assert_int_equal(tk_catalog_search_where(db, "abc') OR 1=1 -- \"x\" +y* @z", w, sizeof w), 1);
    assert_null(strstr(w, "'abc')"));
    assert_non_null(strstr(w, "AGAINST('+abc*' IN BOOLEAN MODE)"));
    assert_null(strstr(w, "abc'"));
    assert_non_null(strstr(w, "LIKE '%\\\"x\\\"%'")); /* the quotes escaped */
    assert_non_null(strstr(w, "LIKE '%1=1%'"));
    /* wildcards of LIKE are matched literally */
    assert_int_equal(tk_catalog_search_where(db, "5%", w, sizeof w), 0);
    assert_string_equal(w, "1 AND (c.title LIKE '%5\\\\%%' OR c.venue LIKE '%5\\\\%%')");
    /* no word */
    assert_int_equal(tk_catalog_search_where(db, "   ", w, sizeof w), -1);
    assert_int_equal(tk_catalog_search_where(db, NULL, w, sizeof w), -1);
    assert_int_equal(tk_catalog_search_where(db, "golden", w, 10), -1);
    mysql_close(db);
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
        cmocka_unit_test(test_search_where),
        cmocka_unit_test(test_admin_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
