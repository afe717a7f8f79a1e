/* Integration: the box office's reads (issue 16) on the real stack.
 *  - search ranking on a fixture made through the admin API: every word
 *    must match (title or venue, any case), bookable concerts first, then
 *    by the next show; pages with a total count; short words work too;
 *  - a concert's detail lists its schedules with the seats left in each,
 *    and follows a hold;
 *  - my reservations: paginated (page/size/total), filtered by status;
 *  - cached reads carry an ETag: If-None-Match with it is a 304 with no
 *    body, until the view changes (a hold). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "itest_util.h"

static itest_env E;
static char *ADMIN, *USER1;
static long long C[8]; /* fixture concerts 1..6 */
static long long S[8]; /* their schedules */

#define ADMIN_PW "itest-admin-password"

static long post(const char *path, const char *tok, const char *body, itest_resp *keep)
{
    itest_resp r;
    itest_http(&E, "POST", path, tok, body, NULL, &r);
    long st = r.status;
    if (keep)
        *keep = r;
    else
        itest_resp_free(&r);
    return st;
}

/* A fixture concert with one schedule (at `show`) and `seats` seats. */
static void fixture(int i, const char *title, const char *venue, const char *opens, const char *show, int seats)
{
    char body[512], path[96];
    itest_resp r;
    snprintf(body, sizeof body, "{\"title\":\"%s\",\"venue\":\"%s\",\"sale_opens_at\":\"%s\"}", title, venue, opens);
    assert_int_equal(post("/api/v1/admin/concerts", ADMIN, body, &r), 201);
    C[i] = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    snprintf(path, sizeof path, "/api/v1/admin/concerts/%lld/schedules", C[i]);
    snprintf(body, sizeof body, "{\"starts_at\":\"%s\"}", show);
    assert_int_equal(post(path, ADMIN, body, &r), 201);
    S[i] = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    if (seats > 0) {
        snprintf(path, sizeof path, "/api/v1/admin/schedules/%lld/seats", S[i]);
        snprintf(body, sizeof body,
                 "{\"sections\":[\"A\"],\"rows\":[\"1\"],\"from\":1,\"to\":%d,\"grade\":\"R\",\"price\":1000}", seats);
        assert_int_equal(post(path, ADMIN, body, NULL), 201);
    }
}

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0 ||
        itest_seed(&E, "--users 10 --concerts 3000 --schedules-per-concert 1 --seats-per-schedule 10 --seed 9 "
                       "--no-progress --admin-password " ADMIN_PW " >/dev/null") != 0 ||
        itest_server_start(&E, "--workers 4") != 0)
        return -1;
    ADMIN = itest_login_as(&E, "admin@ticketctl.local", ADMIN_PW);
    USER1 = itest_login(&E, 1);
    return ADMIN && USER1 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(ADMIN);
    free(USER1);
    int rc = itest_server_stop(&E);
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static char last_relation[8]; /* total_relation of the last search() */
static int last_bookable[8];  /* bookable of its items */

/* ids of a search page into ids[], returning the total. */
static long long search(const char *query, long long ids[8], size_t *n)
{
    char path[256];
    snprintf(path, sizeof path, "/api/v1/concerts?%s", query);
    itest_resp r;
    itest_http(&E, "GET", path, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    *n = json_array_size(items);
    for (size_t i = 0; i < *n && i < 8; i++) {
        ids[i] = json_integer_value(json_object_get(json_array_get(items, i), "id"));
        last_bookable[i] = json_is_true(json_object_get(json_array_get(items, i), "bookable"));
    }
    const char *rel = json_string_value(json_object_get(r.json, "total_relation"));
    snprintf(last_relation, sizeof last_relation, "%s", rel ? rel : "");
    long long total = json_integer_value(json_object_get(r.json, "total"));
    itest_resp_free(&r);
    return total;
}

static void test_search_ranking(void **state)
{
    (void)state;
    /* 1 and 4 are bookable (sale open, seats left); 2 has no seats; 3's sale opens later */
    fixture(1, "Zyxquartet Night Live", "Seoul Dome", "2026-01-01T10:00:00Z", "2035-03-01T19:00:00Z", 5);
    fixture(2, "Zyxquartet Night Encore", "Busan Hall", "2026-01-01T10:00:00Z", "2035-01-01T19:00:00Z", 0);
    fixture(3, "Zyxquartet Morning", "Night Club de Paris", "2034-01-01T10:00:00Z", "2035-02-01T19:00:00Z", 5);
    fixture(4, "zyxquartet NIGHT Tour", "Olympic Hall", "2026-01-01T10:00:00Z", "2035-04-01T19:00:00Z", 5);
    long long ids[8];
    size_t n;
    /* both words, any case, in title or venue (3: "Night" is in its venue) */
    assert_int_equal(search("keyword=ZYXQUARTET%20night", ids, &n), 4);
    assert_int_equal(n, 4);
    assert_int_equal(ids[0], C[1]);
    assert_int_equal(ids[1], C[4]);
    assert_int_equal(ids[2], C[2]);
    assert_int_equal(ids[3], C[3]);
    /* pages: the total stays, the items move on */
    assert_int_equal(search("keyword=zyxquartet+night&page=2&size=3", ids, &n), 4);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], C[3]);
    /* every word must match */
    assert_int_equal(search("keyword=zyxquartet%20encore", ids, &n), 1);
    assert_int_equal(ids[0], C[2]);
    assert_int_equal(search("keyword=zyxquartet%20nomatchword", ids, &n), 0);
    assert_int_equal(n, 0);
    /* a short word (below the FULLTEXT token size) still filters */
    assert_int_equal(search("keyword=zyxquartet%20de", ids, &n), 1);
    assert_int_equal(ids[0], C[3]);
    /* a word prefix matches */
    assert_int_equal(search("keyword=zyxquar", ids, &n), 4);
    /* the fields say why */
    itest_resp r;
    itest_http(&E, "GET", "/api/v1/concerts?keyword=zyxquartet%20tour", NULL, NULL, NULL, &r);
    json_t *it = json_array_get(json_object_get(r.json, "items"), 0);
    assert_true(json_is_true(json_object_get(it, "bookable")));
    assert_string_equal(json_string_value(json_object_get(it, "next_show_at")), "2035-04-01T19:00:00Z");
    itest_resp_free(&r);
    /* bad input: 4xx JSON */
    itest_http(&E, "GET", "/api/v1/concerts?keyword=zyx&size=0", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    itest_resp_free(&r);
}

/* The word index (migration 15): its sort key follows a schedule crossing
 * sold-out and back (the schedule triggers), totals are exact up to the cap
 * and "gte" beyond, and multi-word, short-word and prefix matches agree with
 * an independent count over the concerts table. */
static void test_search_index(void **state)
{
    (void)state;
    long long ids[8];
    size_t n;
    fixture(5, "Zyxsolo Night", "Seoul Dome", "2026-01-01T10:00:00Z", "2035-05-01T19:00:00Z", 1);
    fixture(6, "Zyxsolo Day", "Busan Hall", "2026-01-01T10:00:00Z", "2035-06-01T19:00:00Z", 1);
    assert_int_equal(search("keyword=zyxsolo&size=19", ids, &n), 2);
    assert_string_equal(last_relation, "eq");
    assert_int_equal(ids[0], C[5]);
    assert_true(last_bookable[0] && last_bookable[1]);
    assert_int_equal(search("keyword=zyxsolo", ids, &n), 2); /* now cached */
    /* the last seat of 5 is held: 5 is sold out and goes after 6 */
    long long seat = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE schedule_id = %lld", S[5]);
    char body[64], path[96];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    itest_resp r;
    assert_int_equal(post("/api/v1/reservations", USER1, body, &r), 201);
    long long res = json_integer_value(json_object_get(r.json, "id"));
    itest_resp_free(&r);
    assert_int_equal(search("keyword=zyxsolo&size=18", ids, &n), 2);
    assert_int_equal(ids[0], C[6]);
    assert_int_equal(ids[1], C[5]);
    assert_true(last_bookable[0] && !last_bookable[1]);
    /* the cached list follows within the lists' bound (cache.h: 2 x 50 ms), not the 5 s TTL */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long long waited_ms = 0;
    while (search("keyword=zyxsolo", ids, &n) == 2 && ids[0] != C[6] && waited_ms < 3000) {
        struct timespec d = {0, 5 * 1000 * 1000};
        nanosleep(&d, NULL);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    }
    fprintf(stderr, "cached list showed the sold-out concert's old flag for %lld ms\n", waited_ms);
    assert_int_equal(ids[0], C[6]);
    assert_true(waited_ms < 1000);
    /* cancelled: bookable again, first again */
    snprintf(path, sizeof path, "/api/v1/reservations/%lld/cancel", res);
    assert_int_equal(post(path, USER1, "{}", NULL), 200);
    assert_int_equal(search("keyword=zyxsolo&size=17", ids, &n), 2);
    assert_int_equal(ids[0], C[5]);
    assert_true(last_bookable[0] && last_bookable[1]);
    /* an admin rename re-indexes the words: the old word no longer finds it */
    snprintf(path, sizeof path, "/api/v1/admin/concerts/%lld", C[6]);
    itest_http(&E, "PATCH", path, ADMIN, "{\"title\":\"Zyxsolo Evening\"}", NULL, &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    assert_int_equal(search("keyword=zyxsolo%20day", ids, &n), 0);
    assert_int_equal(search("keyword=zyxsolo%20even", ids, &n), 1);
    assert_int_equal(ids[0], C[6]);

    /* the seeded 3,000: two whole words, the same count as a scan of the table */
    long long want = itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts WHERE CONCAT(' ', title, ' ', venue)"
                                       " RLIKE '[^a-z0-9]bts' AND CONCAT(' ', title, ' ', venue) RLIKE '[^a-z0-9]night'");
    assert_true(want > 0 && want < 100);
    assert_int_equal(search("keyword=BTS%20night", ids, &n), want);
    assert_string_equal(last_relation, "eq");
    assert_int_equal(n, 20 > want ? want : 20);
    /* more than the cap (100, catalog.h): the cap and "gte", and the page is still the first 20 */
    want = itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts WHERE CONCAT(' ', title, ' ', venue)"
                             " RLIKE '[^a-z0-9]seoul' AND CONCAT(' ', title, ' ', venue) RLIKE '[^a-z0-9]tour'");
    assert_true(want > 100);
    assert_int_equal(search("keyword=SEOUL%20tour", ids, &n), 100);
    assert_string_equal(last_relation, "gte");
    assert_int_equal(n, 20);
    /* a short word and a prefix */
    want = itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts WHERE CONCAT(' ', title, ' ', venue) RLIKE '[^a-z0-9]iu'"
                             " AND CONCAT(' ', title, ' ', venue) RLIKE '[^a-z0-9]drea'");
    assert_true(want > 0);
    assert_int_equal(search("keyword=iu+drea", ids, &n), want);
    /* one whole word: its frequency, exact past the cap */
    want = itest_sql_i64(&E, "SELECT COUNT(*) FROM concerts WHERE CONCAT(' ', title, ' ', venue) RLIKE '[^a-z0-9]stadium([^a-z0-9]|$)'");
    assert_true(want > 100);
    assert_int_equal(search("keyword=Stadium", ids, &n), want);
    assert_string_equal(last_relation, "eq");
    /* a prefix of many words past the cap: the cap and "gte" */
    assert_int_equal(search("keyword=s", ids, &n), 100);
    assert_string_equal(last_relation, "gte");
    assert_int_equal(n, 20);
    /* bookable first over the whole result: page 1's first item is bookable */
    assert_true(last_bookable[0]);
    /* past the result window: 422, nothing else */
    itest_http(&E, "GET", "/api/v1/concerts?keyword=s&page=101&size=100", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 422);
    itest_resp_free(&r);
}

static void test_concert_detail(void **state)
{
    (void)state;
    char path[96];
    snprintf(path, sizeof path, "/api/v1/concerts/%lld", C[1]);
    itest_resp r;
    itest_http(&E, "GET", path, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *sc = json_object_get(r.json, "schedules");
    assert_int_equal(json_array_size(sc), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(sc, 0), "id")), S[1]);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(sc, 0), "available_seats")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(sc, 0), "total_seats")), 5);
    itest_resp_free(&r);
    /* a hold: the detail (cached) shows one seat fewer at once */
    long long seat = itest_sql_i64(&E, "SELECT MIN(id) FROM seats WHERE schedule_id = %lld", S[1]);
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    assert_int_equal(post("/api/v1/reservations", USER1, body, NULL), 201);
    itest_http(&E, "GET", path, NULL, NULL, NULL, &r);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r.json, "schedules"), 0),
                                                        "available_seats")),
                     4);
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/concerts/99999999", NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    itest_resp_free(&r);
}

static void test_my_reservations(void **state)
{
    (void)state;
    /* user 1 holds 3 more seats of concert 4 and cancels one */
    long long res[3];
    for (int i = 0; i < 3; i++) {
        long long seat = itest_sql_i64(&E, "SELECT id FROM seats WHERE schedule_id = %lld AND number = %d", S[4], i + 1);
        char body[64];
        snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
        itest_resp r;
        assert_int_equal(post("/api/v1/reservations", USER1, body, &r), 201);
        res[i] = json_integer_value(json_object_get(r.json, "id"));
        itest_resp_free(&r);
    }
    char path[96];
    snprintf(path, sizeof path, "/api/v1/reservations/%lld/cancel", res[0]);
    assert_int_equal(post(path, USER1, NULL, NULL), 200);
    long long all = itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE user_id = 1");
    long long pending = itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE user_id = 1 AND status = 'PENDING'");
    assert_true(all >= 4 && pending >= 3);

    itest_resp r;
    itest_http(&E, "GET", "/api/v1/reservations?page=1&size=2", USER1, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), all);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    /* newest first */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(json_object_get(r.json, "items"), 0), "id")),
                     res[2]);
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/reservations?status=CANCELED", USER1, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")),
                     itest_sql_i64(&E, "SELECT COUNT(*) FROM reservations WHERE user_id = 1 AND status = 'CANCELED'"));
    for (size_t i = 0; i < json_array_size(items); i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(items, i), "status")), "CANCELED");
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/reservations?status=PENDING&size=100", USER1, NULL, NULL, &r);
    assert_int_equal(json_integer_value(json_object_get(r.json, "total")), pending);
    assert_int_equal((long long)json_array_size(json_object_get(r.json, "items")), pending);
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/reservations?status=LOST", USER1, NULL, NULL, &r);
    assert_int_equal(r.status, 422);
    itest_resp_free(&r);
    itest_http(&E, "GET", "/api/v1/reservations?page=0", USER1, NULL, NULL, &r);
    assert_int_equal(r.status, 400);
    itest_resp_free(&r);
}

/* The server's strong validator of a body: XXH3-64 (routes.h tk_http_validators). */
static void etag_of(const char *body, char out[64])
{
    uint64_t h = XXH3_64bits(body, strlen(body));
    snprintf(out, 64, "If-None-Match: \"%016llx\"", (unsigned long long)h);
}

static void test_etag_304(void **state)
{
    (void)state;
    char path[96], inm[64];
    snprintf(path, sizeof path, "/api/v1/schedules/%lld/seats", S[4]);
    itest_resp r;
    itest_http(&E, "GET", path, NULL, NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    etag_of(r.body, inm);
    char needle0[48];
    snprintf(needle0, sizeof needle0, "{\"id\":%lld,", itest_sql_i64(&E, "SELECT id FROM seats WHERE schedule_id = %lld AND number = 5", S[4]));
    assert_non_null(strstr(r.body, needle0)); /* offered before the hold */
    itest_resp_free(&r);
    itest_http(&E, "GET", path, NULL, NULL, inm, &r);
    assert_int_equal(r.status, 304);
    assert_int_equal(strlen(r.body), 0);
    itest_resp_free(&r);
    itest_http(&E, "GET", path, NULL, NULL, "If-None-Match: \"0000000000000000\", W/\"1\"", &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
    /* a hold changes the seat map: the old tag no longer matches */
    long long seat = itest_sql_i64(&E, "SELECT id FROM seats WHERE schedule_id = %lld AND number = 5", S[4]);
    char body[64];
    snprintf(body, sizeof body, "{\"seat_id\":%lld}", seat);
    assert_int_equal(post("/api/v1/reservations", USER1, body, NULL), 201);
    itest_http(&E, "GET", path, NULL, NULL, inm, &r);
    assert_int_equal(r.status, 200);
    char needle[48];
    snprintf(needle, sizeof needle, "{\"id\":%lld,", seat);
    assert_null(strstr(r.body, needle)); /* not offered any more */
    itest_resp_free(&r);
    /* uncached routes have no validator: If-None-Match: * changes nothing */
    itest_http(&E, "GET", "/api/v1/reservations", USER1, NULL, "If-None-Match: *", &r);
    assert_int_equal(r.status, 200);
    itest_resp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_ranking),
        cmocka_unit_test(test_search_index),
        cmocka_unit_test(test_concert_detail),
        cmocka_unit_test(test_my_reservations),
        cmocka_unit_test(test_etag_304),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
