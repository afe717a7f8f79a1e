/* Integration: `ticketctl tune` on the real stack (ci profile, scaled up to
 * 2,000 concerts = 4,000 schedules and 400,000 seats so a full scan costs
 * something), from a schema with only PRIMARY and UNIQUE keys
 * (`seed --without-indexes`):
 *  - it finds an index on concert_schedules led by concert_id and the
 *    composite seats(schedule_id, status), and proves each by a measured
 *    median gain (time and rows examined before vs after, same data);
 *  - it builds no candidate that an index present before the run already
 *    serves as a left prefix (reservations(user_id) next to a planted
 *    (user_id, id) is "served");
 *  - with a planted seats(schedule_id) next to the applied composite it
 *    recommends dropping the planted one, and --apply --drop-redundant
 *    drops it;
 *  - --measure gives p50 <= p99 <= max for a registry query;
 *  - --slow-log: a logged SELECT is analysed and matched to the index that
 *    serves it; a logged UPDATE is skipped, never executed.
 * Teardown drops what the test added and re-seeds the ci profile, which
 * re-creates the migrations' indexes for the next test binary. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest_util.h"

static itest_env E;

static const char SEED_ARGS[] = "--profile ci --concerts 2000 --without-indexes --no-progress >/dev/null";

static json_t *run_tune(const char *flags, int *rc)
{
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-tune.json", E.state);
    remove(out);
    *rc = itest_run(&E, "tune %s --no-progress --out '%s' >/dev/null", flags, out);
    json_error_t je;
    json_t *res = json_load_file(out, 0, &je);
    if (!res)
        fprintf(stderr, "itest: no results in %s: %s\n", out, je.text);
    return res;
}

static json_t *query_of(json_t *res, const char *name)
{
    size_t i;
    json_t *q;
    json_array_foreach(json_object_get(res, "queries"), i, q)
        if (!strcmp(json_string_value(json_object_get(q, "name")), name))
            return q;
    fail_msg("no query %s in the results", name);
    return NULL;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double dbl(json_t *o, const char *k) { return json_number_value(json_object_get(o, k)); }

static const char *col(json_t *c, size_t i) { return json_string_value(json_array_get(json_object_get(c, "columns"), i)); }

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    if (itest_seed(&E, SEED_ARGS) != 0)
        return -1;
    /* an index the tuner must recognise as serving reservations.of_user */
    return mysql_query(E.db, "CREATE INDEX ix_itest_res_user ON reservations (user_id, id)") == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    /* drop what this test added (tk_* by --apply, ix_itest_*) and restore the ci data and indexes */
    MYSQL_RES *res = NULL;
    if (mysql_query(E.db, "SELECT TABLE_NAME, INDEX_NAME FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                          " DATABASE() AND (INDEX_NAME LIKE 'tk\\_%' OR INDEX_NAME LIKE 'ix\\_itest\\_%')"
                          " GROUP BY TABLE_NAME, INDEX_NAME") == 0)
        res = mysql_store_result(E.db);
    MYSQL_ROW row;
    char sql[512];
    while (res && (row = mysql_fetch_row(res))) {
        snprintf(sql, sizeof sql, "ALTER TABLE `%s` DROP INDEX `%s`", row[0], row[1]);
        if (mysql_query(E.db, sql) != 0)
            fprintf(stderr, "itest: %s: %s\n", sql, mysql_error(E.db));
    }
    mysql_free_result(res);
    int rc = itest_seed(&E, "--profile ci --no-progress >/dev/null");
    itest_close(&E);
    return rc == 0 ? 0 : -1;
}

static void schema_has_only_keys(void **state)
{
    (void)state;
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                                       " DATABASE() AND TABLE_NAME IN ('seats', 'concert_schedules')"
                                       " AND INDEX_NAME <> 'PRIMARY'"),
                     0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats"), 400000);
}

/* How many indexes present before the run (not tk_*) have cols (comma
 * separated) as a left prefix. */
static long long served_before(const char *table, const char *cols)
{
    return itest_sql_i64(&E,
                         "SELECT COUNT(*) FROM (SELECT INDEX_NAME, GROUP_CONCAT(LOWER(COLUMN_NAME) ORDER BY SEQ_IN_INDEX)"
                         " c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '%s'"
                         " AND INDEX_NAME NOT LIKE 'tk\\_%%' GROUP BY INDEX_NAME) x WHERE CONCAT(c, ',') LIKE '%s,%%'",
                         table, cols);
}

static void finds_and_proves_the_two_indexes(void **state)
{
    (void)state;
    int rc;
    json_t *res = run_tune("--apply --samples 5 --repeats 5", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(res);
    assert_string_equal(str(res, "kind"), "tune");
    assert_true(json_is_true(json_object_get(res, "applied")));

    /* seats(schedule_id, status), proven */
    json_t *c = json_object_get(query_of(res, "seats.available"), "candidate");
    assert_string_equal(str(c, "status"), "kept");
    assert_string_equal(str(c, "table"), "seats");
    assert_int_equal(json_array_size(json_object_get(c, "columns")), 2);
    assert_string_equal(col(c, 0), "schedule_id");
    assert_string_equal(col(c, 1), "status");
    assert_true(json_is_true(json_object_get(c, "used_by_plan")));
    assert_true(dbl(c, "gain") >= 0.5);
    assert_true(dbl(c, "before_ms") > dbl(c, "after_ms") * 2);
    assert_true(dbl(c, "rows_before") >= 400000 * 0.9); /* a full scan without it */
    assert_true(dbl(c, "rows_after") <= 200);            /* one schedule's seats with it */
    json_t *wc = json_object_get(c, "write_cost");
    assert_int_equal(json_integer_value(json_object_get(wc, "rows")), 2000);
    assert_true(dbl(wc, "insert_ms_without") > 0 && dbl(wc, "insert_ms_with") > 0);

    /* concert_schedules led by concert_id, proven */
    c = json_object_get(query_of(res, "schedules.available_dates"), "candidate");
    assert_string_equal(str(c, "status"), "kept");
    assert_string_equal(str(c, "table"), "concert_schedules");
    assert_string_equal(col(c, 0), "concert_id");
    assert_true(dbl(c, "gain") >= 0.5);
    assert_true(dbl(c, "rows_before") > dbl(c, "rows_after"));
    json_t *findings = json_object_get(query_of(res, "schedules.available_dates"), "findings");
    assert_true(json_array_size(findings) >= 1);

    /* both applied for real */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                                       " DATABASE() AND TABLE_NAME = 'seats' AND INDEX_NAME = '%s'",
                                   "tk_seats_schedule_id_status"),
                     2);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                                       " DATABASE() AND TABLE_NAME = 'concert_schedules' AND INDEX_NAME LIKE"
                                       " 'tk\\_%%' AND COLUMN_NAME = 'concert_id' AND SEQ_IN_INDEX = 1"),
                     1);
    assert_int_equal(json_array_size(json_object_get(res, "proposed")), 2);

    /* served by the planted (user_id, id): not built */
    c = json_object_get(query_of(res, "reservations.of_user"), "candidate");
    assert_string_equal(str(c, "status"), "served");
    assert_string_equal(str(c, "served_by"), "ix_itest_res_user");
    assert_null(json_object_get(c, "before_ms"));

    /* no built candidate had an index present before the run serving it */
    size_t i;
    json_t *q;
    int built = 0;
    json_array_foreach(json_object_get(res, "queries"), i, q) {
        c = json_object_get(q, "candidate");
        if (!json_object_get(c, "before_ms"))
            continue;
        built++;
        char cols[512] = "";
        size_t k, o = 0;
        json_t *x;
        json_array_foreach(json_object_get(c, "columns"), k, x)
            o += (size_t)snprintf(cols + o, sizeof cols - o, "%s%s", k ? "," : "", json_string_value(x));
        assert_int_equal(served_before(str(c, "table"), cols), 0);
    }
    assert_true(built >= 2);
    json_decref(res);
}

static void recommends_dropping_a_redundant_prefix(void **state)
{
    (void)state;
    assert_int_equal(mysql_query(E.db, "CREATE INDEX ix_itest_planted ON seats (schedule_id)"), 0);
    int rc;
    json_t *res = run_tune("--samples 3 --repeats 3", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(res);
    size_t i;
    json_t *x;
    int found = 0;
    json_array_foreach(json_object_get(res, "redundant"), i, x) {
        if (!strcmp(str(x, "index"), "ix_itest_planted")) {
            found = 1;
            assert_string_equal(str(x, "table"), "seats");
            assert_string_equal(str(x, "covered_by"), "tk_seats_schedule_id_status");
            assert_non_null(strstr(str(x, "ddl"), "DROP INDEX `ix_itest_planted`"));
        }
        /* the tuner's own composite is not redundant */
        assert_string_not_equal(str(x, "index"), "tk_seats_schedule_id_status");
    }
    assert_true(found);
    /* the applied composite serves seats.available now: nothing proposed for it */
    json_t *c = json_object_get(query_of(res, "seats.available"), "candidate");
    assert_string_equal(str(c, "status"), "served");
    assert_string_equal(str(c, "served_by"), "tk_seats_schedule_id_status");
    json_array_foreach(json_object_get(res, "proposed"), i, x) assert_string_not_equal(str(x, "table"), "seats");
    /* advice only: nothing dropped */
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                                       " DATABASE() AND INDEX_NAME = 'ix_itest_planted'"),
                     1);
    json_decref(res);

    res = run_tune("--query seats.available --apply --drop-redundant --samples 2 --repeats 2", &rc);
    assert_int_equal(rc, 0);
    assert_non_null(res);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                                       " DATABASE() AND INDEX_NAME = 'ix_itest_planted'"),
                     0);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA ="
                                       " DATABASE() AND INDEX_NAME = 'tk_seats_schedule_id_status'"),
                     2);
    json_decref(res);
}

static void measure_and_bad_input(void **state)
{
    (void)state;
    char out[1200];
    snprintf(out, sizeof out, "%s/itest-tune-measure.json", E.state);
    remove(out);
    assert_int_equal(itest_run(&E, "tune --measure --query seats.available --executions 50 --no-progress --out '%s'"
                                   " >/dev/null", out),
                     0);
    json_t *res = json_load_file(out, 0, NULL);
    assert_non_null(res);
    json_t *q = json_array_get(json_object_get(res, "queries"), 0);
    assert_string_equal(str(q, "name"), "seats.available");
    assert_int_equal(json_integer_value(json_object_get(q, "n")), 50);
    assert_true(dbl(q, "p50_ms") > 0);
    assert_true(dbl(q, "p50_ms") <= dbl(q, "p99_ms"));
    assert_true(dbl(q, "p99_ms") <= dbl(q, "max_ms"));
    json_decref(res);

    /* a slow query log: the SELECT is analysed (served by the applied
     * composite), the UPDATE is listed as skipped, never executed */
    char log[1200];
    snprintf(log, sizeof log, "%s/itest-slow.log", E.state);
    long long sched = itest_sql_i64(&E, "SELECT MAX(schedule_id) FROM seats");
    FILE *f = fopen(log, "w");
    assert_non_null(f);
    fprintf(f, "# Time: 261121  6:45:00\n# User@Host: ticketctl[ticketctl] @  [127.0.0.1]\n"
               "# Query_time: 0.250000  Lock_time: 0.000100  Rows_sent: 100  Rows_examined: 400000\n"
               "SET timestamp=1700549100;\nSELECT id, price FROM seats\n  WHERE schedule_id = %lld AND status = 'AVAILABLE'"
               " ORDER BY id;\n"
               "# User@Host: ticketctl[ticketctl] @  [127.0.0.1]\n"
               "# Query_time: 0.300000  Lock_time: 0.000100  Rows_sent: 0  Rows_examined: 400000\n"
               "SET timestamp=1700549101;\nUPDATE seats SET status = 'SOLD' WHERE schedule_id = %lld;\n",
            sched, sched);
    fclose(f);
    long long sold = itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE status = 'SOLD'");
    snprintf(out, sizeof out, "%s/itest-tune-slow.json", E.state);
    remove(out);
    assert_int_equal(itest_run(&E, "tune --slow-log '%s' --no-registry --samples 1 --repeats 2 --no-progress --out '%s'"
                                   " >/dev/null", log, out),
                     0);
    res = json_load_file(out, 0, NULL);
    assert_non_null(res);
    assert_int_equal(json_array_size(json_object_get(res, "queries")), 1);
    q = json_array_get(json_object_get(res, "queries"), 0);
    assert_int_equal(strncmp(str(q, "name"), "slowlog#", 8), 0);
    assert_non_null(strstr(str(q, "sql"), "FROM seats"));
    assert_string_equal(str(json_object_get(q, "candidate"), "status"), "served");
    assert_string_equal(str(json_object_get(q, "candidate"), "served_by"), "tk_seats_schedule_id_status");
    assert_int_equal(json_array_size(json_object_get(res, "skipped")), 1);
    json_decref(res);
    assert_int_equal(itest_sql_i64(&E, "SELECT COUNT(*) FROM seats WHERE status = 'SOLD'"), sold);

    assert_int_equal(itest_run(&E, "tune --min-gain lots >/dev/null 2>&1"), 2);
    assert_int_equal(itest_run(&E, "tune --query no.such.query >/dev/null 2>&1"), 2);
    assert_int_equal(itest_run(&E, "tune --drop-redundant >/dev/null 2>&1"), 2);
    assert_int_equal(itest_run(&E, "tune --slow-log /nonexistent/slow.log --no-registry >/dev/null 2>&1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_has_only_keys),
        cmocka_unit_test(finds_and_proves_the_two_indexes),
        cmocka_unit_test(recommends_dropping_a_redundant_prefix),
        cmocka_unit_test(measure_and_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
