/* Unit tests of the index tuner's pure parts (lib/tune.c): SQL shapes,
 * candidates, left-prefix and redundancy logic, ANALYZE JSON plans, the
 * slow query log parser and normaliser; and the query registry's shapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/queries.h"
#include "ticketctl/report.h"
#include "ticketctl/tune.h"

static void shape_seats_available(void **state)
{
    (void)state;
    char sql[2048];
    snprintf(sql, sizeof sql, TK_SQL_SEATS_AVAILABLE, 42ULL, " AND grade = 'VIP'");
    tk_sql_shape s;
    assert_int_equal(tk_sql_shape_parse(sql, &s), 0);
    assert_string_equal(s.table, "seats");
    assert_int_equal(s.neq, 3);
    assert_string_equal(s.eq[0], "schedule_id");
    assert_string_equal(s.eq[1], "status");
    assert_string_equal(s.eq[2], "grade");
    assert_int_equal(s.nrange, 0);
    assert_int_equal(s.norder, 1);
    assert_string_equal(s.order[0], "id");
    char cols[TK_TUNE_MAX_COLS][TK_TUNE_NAME];
    /* ORDER BY the primary key: InnoDB appends it, so it is dropped */
    assert_int_equal(tk_tune_candidate(&s, "id", cols), 3);
    assert_string_equal(cols[0], "schedule_id");
    assert_string_equal(cols[2], "grade");
    /* without knowing the pk, id stays */
    assert_int_equal(tk_tune_candidate(&s, NULL, cols), 4);
    assert_string_equal(cols[3], "id");
}

static void shape_schedules_available(void **state)
{
    (void)state;
    char sql[2048];
    snprintf(sql, sizeof sql, TK_SQL_SCHEDULES_AVAILABLE, 7ULL);
    tk_sql_shape s;
    assert_int_equal(tk_sql_shape_parse(sql, &s), 0);
    assert_string_equal(s.table, "concert_schedules");
    assert_int_equal(s.neq, 1);
    assert_string_equal(s.eq[0], "concert_id");
    assert_int_equal(s.nrange, 2);
    assert_string_equal(s.range[0], "starts_at");
    assert_string_equal(s.range[1], "available_seats");
    char cols[TK_TUNE_MAX_COLS][TK_TUNE_NAME];
    /* equality first, then the sort column (which is also the range) */
    assert_int_equal(tk_tune_candidate(&s, "id", cols), 2);
    assert_string_equal(cols[0], "concert_id");
    assert_string_equal(cols[1], "starts_at");
}

static void shape_join_alias_and_qualifiers(void **state)
{
    (void)state;
    char sql[4096];
    snprintf(sql, sizeof sql, TK_SQL_RESERVATIONS_OF_USER, 9ULL);
    tk_sql_shape s;
    assert_int_equal(tk_sql_shape_parse(sql, &s), 0);
    assert_string_equal(s.table, "reservations");
    assert_string_equal(s.alias, "r");
    assert_int_equal(s.neq, 1); /* cs.id = r.schedule_id is a join, not an equality on a constant */
    assert_string_equal(s.eq[0], "user_id");
    assert_int_equal(s.norder, 1);
    char c1[TK_TUNE_MAX_COLS][TK_TUNE_NAME];
    assert_int_equal(tk_tune_candidate(&s, "id", c1), 1);
    assert_string_equal(c1[0], "user_id");

    /* another table's column, OR groups, functions, <> and leading-% LIKE are ignored */
    assert_int_equal(tk_sql_shape_parse("select a.x from t1 a join t2 b on b.id = a.bid where b.k = 3 and"
                                        " (a.p = 1 or a.q = 2) and lower(a.n) = 'x' and a.z <> 4 and"
                                        " a.title like '%rock%' and a.v between 1 and 9 and a.w in (1, 2)"
                                        " and a.pre like 'ab%' order by a.v",
                                        &s),
                     0);
    assert_string_equal(s.table, "t1");
    assert_int_equal(s.neq, 1);
    assert_string_equal(s.eq[0], "w");
    assert_int_equal(s.nrange, 2);
    assert_string_equal(s.range[0], "v");
    assert_string_equal(s.range[1], "pre");
    assert_int_equal(s.norder, 1);
    char cols[TK_TUNE_MAX_COLS][TK_TUNE_NAME];
    assert_int_equal(tk_tune_candidate(&s, "id", cols), 2); /* equality, then the sort column */
    assert_string_equal(cols[0], "w");
    assert_string_equal(cols[1], "v");

    /* ORDER BY an expression or another table: no usable order */
    assert_int_equal(tk_sql_shape_parse("SELECT * FROM `db`.`T` WHERE `K` = 'a''b' ORDER BY RAND()", &s), 0);
    assert_string_equal(s.table, "t");
    assert_int_equal(s.neq, 1);
    assert_string_equal(s.eq[0], "k");
    assert_int_equal(s.norder, 0);
    /* keywords inside literals are not seen */
    assert_int_equal(tk_sql_shape_parse("SELECT id FROM users WHERE email = 'a order by b and c = 1' AND role = 'X'", &s), 0);
    assert_int_equal(s.neq, 2);
    assert_string_equal(s.eq[1], "role");
    assert_int_equal(s.norder, 0);
    /* not a SELECT */
    assert_int_equal(tk_sql_shape_parse("UPDATE seats SET status = 'HELD' WHERE id = 1", &s), -1);
    assert_int_equal(tk_sql_shape_parse("SELECT 1", &s), -1);
}

static tk_index mk(const char *table, const char *name, int unique, const char *c1, const char *c2, const char *c3)
{
    tk_index ix;
    memset(&ix, 0, sizeof ix);
    snprintf(ix.table, sizeof ix.table, "%s", table);
    snprintf(ix.name, sizeof ix.name, "%s", name);
    ix.unique = unique;
    ix.primary = !strcmp(name, "PRIMARY");
    const char *c[3] = {c1, c2, c3};
    for (int i = 0; i < 3 && c[i]; i++)
        snprintf(ix.cols[ix.ncols++], TK_TUNE_NAME, "%s", c[i]);
    return ix;
}

static void left_prefix_serves(void **state)
{
    (void)state;
    tk_index ix = mk("seats", "ix_ss", 0, "schedule_id", "status", NULL);
    char a[TK_TUNE_MAX_COLS][TK_TUNE_NAME] = {"schedule_id"};
    char b[TK_TUNE_MAX_COLS][TK_TUNE_NAME] = {"schedule_id", "status"};
    char c[TK_TUNE_MAX_COLS][TK_TUNE_NAME] = {"schedule_id", "status", "grade"};
    char d[TK_TUNE_MAX_COLS][TK_TUNE_NAME] = {"status"};
    assert_true(tk_index_serves(&ix, a, 1));
    assert_true(tk_index_serves(&ix, b, 2));
    assert_false(tk_index_serves(&ix, c, 3)); /* longer than the index */
    assert_false(tk_index_serves(&ix, d, 1)); /* not a left prefix */
    assert_false(tk_index_serves(&ix, a, 0));
}

static void redundancy(void **state)
{
    (void)state;
    tk_index v[] = {
        mk("seats", "PRIMARY", 1, "id", NULL, NULL),
        mk("seats", "ix_planted", 0, "schedule_id", NULL, NULL),
        mk("seats", "tk_seats_schedule_id_status", 0, "schedule_id", "status", NULL),
        mk("users", "uk_email", 1, "email", NULL, NULL),
        mk("users", "ix_email", 0, "email", NULL, NULL),
        mk("t", "ix_b", 0, "a", "b", NULL),
        mk("t", "ix_a", 0, "a", "b", NULL),
        mk("t", "ix_other", 0, "b", NULL, NULL),
        mk("u", "ix_only", 0, "schedule_id", NULL, NULL), /* same columns, other table */
    };
    size_t n = sizeof v / sizeof v[0];
    assert_int_equal(tk_index_redundant(v, n, 0), -1); /* primary */
    assert_int_equal(tk_index_redundant(v, n, 1), 2);  /* planted prefix of the composite */
    assert_int_equal(tk_index_redundant(v, n, 2), -1);
    assert_int_equal(tk_index_redundant(v, n, 3), -1); /* unique keeps its constraint */
    assert_int_equal(tk_index_redundant(v, n, 4), 3);  /* duplicate of a unique */
    assert_int_equal(tk_index_redundant(v, n, 5), 6);  /* exact duplicates: the later name goes */
    assert_int_equal(tk_index_redundant(v, n, 6), -1);
    assert_int_equal(tk_index_redundant(v, n, 7), -1);
    assert_int_equal(tk_index_redundant(v, n, 8), -1);
}

/* Trimmed MariaDB 10.11 ANALYZE FORMAT=JSON outputs. */
static const char plan_full_scan[] =
    "{\"query_optimization\": {\"r_total_time_ms\": 0.2},"
    " \"query_block\": {\"select_id\": 1, \"r_loops\": 1, \"r_total_time_ms\": 12.5,"
    "  \"nested_loop\": [{\"read_sorted_file\": {\"r_rows\": 2, \"filesort\": {\"sort_key\": \"cs.starts_at\","
    "   \"r_loops\": 1, \"r_total_time_ms\": 0.1, \"r_used_priority_queue\": false, \"r_output_rows\": 2,"
    "   \"r_buffer_size\": \"1Kb\", \"r_sort_mode\": \"sort_key,addon_fields\","
    "   \"table\": {\"table_name\": \"concert_schedules\", \"access_type\": \"ALL\", \"r_loops\": 1, \"rows\": 4000,"
    "    \"r_rows\": 4000, \"filtered\": 100, \"r_filtered\": 0.05, \"attached_condition\": \"x\"}}}}]}}";

static const char plan_join[] =
    "{\"query_block\": {\"select_id\": 1, \"r_loops\": 1, \"r_total_time_ms\": 0.04,"
    " \"nested_loop\": [{\"table\": {\"table_name\": \"r\", \"access_type\": \"ref\", \"key\": \"ix_reservations_user\","
    "   \"r_loops\": 1, \"r_rows\": 3}},"
    "  {\"table\": {\"table_name\": \"cs\", \"access_type\": \"eq_ref\", \"key\": \"PRIMARY\", \"r_loops\": 3, \"r_rows\": 1}}],"
    " \"temporary_table\": {\"nested_loop\": []}}}";

static void plans(void **state)
{
    (void)state;
    tk_plan p;
    assert_int_equal(tk_plan_parse(plan_full_scan, &p), 0);
    assert_true(p.ms > 12.49 && p.ms < 12.51);
    assert_true(p.full_scan);
    assert_string_equal(p.full_scan_table, "concert_schedules");
    assert_true(p.full_scan_rows > 3999 && p.full_scan_rows < 4001);
    assert_true(p.filesort);
    assert_false(p.temporary);
    assert_int_equal(p.nkeys, 0);
    assert_string_equal(p.access, "ALL");

    assert_int_equal(tk_plan_parse(plan_join, &p), 0);
    assert_false(p.full_scan);
    assert_false(p.filesort);
    assert_true(p.temporary);
    assert_true(p.rows_examined > 5.99 && p.rows_examined < 6.01); /* 3x1 + 1x3 */
    assert_int_equal(p.nkeys, 2);
    assert_string_equal(p.keys[0], "r.ix_reservations_user");
    assert_string_equal(p.keys[1], "cs.PRIMARY");
    assert_string_equal(p.access, "ref");

    assert_int_equal(tk_plan_parse("{\"nope\": 1}", &p), -1);
    assert_int_equal(tk_plan_parse("not json", &p), -1);
    /* no timing: ms stays -1 for the caller to fill */
    assert_int_equal(tk_plan_parse("{\"query_block\": {\"select_id\": 1, \"table\": {\"message\": \"Impossible WHERE\"}}}", &p), 0);
    assert_true(p.ms < 0);
}

static void normalize(void **state)
{
    (void)state;
    char *n = tk_sql_normalize("SELECT  id FROM seats\n WHERE schedule_id = 42 AND status = 'AVAILABLE' AND x IN (1, 2,3);");
    assert_string_equal(n, "SELECT id FROM seats WHERE schedule_id = ? AND status = ? AND x IN (?+)");
    free(n);
    n = tk_sql_normalize("select * from t2 where c1 = 'it''s' and v = -3.5e2 and t9.k='a\\'b'");
    assert_string_equal(n, "select * from t2 where c1 = ? and v = -? and t9.k=?");
    free(n);
    n = tk_sql_normalize("SELECT x FROM t WHERE a IN (5)");
    assert_string_equal(n, "SELECT x FROM t WHERE a IN (?)");
    free(n);
}

static const char slowlog[] =
    "/usr/sbin/mariadbd, Version: 10.11.6-MariaDB-0+deb12u1-log (Debian 12). started with:\n"
    "Tcp port: 3306  Unix socket: /run/mysqld/mysqld.sock\n"
    "Time\t\t    Id Command\tArgument\n"
    "# Time: 231121  6:45:00\n"
    "# User@Host: ticketctl[ticketctl] @ localhost [127.0.0.1]\n"
    "# Thread_id: 8  Schema: ticketctl  QC_hit: No\n"
    "# Query_time: 0.250000  Lock_time: 0.000100  Rows_sent: 100  Rows_examined: 400000\n"
    "# Rows_affected: 0  Bytes_sent: 4100\n"
    "use ticketctl;\n"
    "SET timestamp=1700549100;\n"
    "SELECT id FROM seats\n"
    "  WHERE schedule_id = 17 AND status = 'AVAILABLE' ORDER BY id;\n"
    "# User@Host: ticketctl[ticketctl] @ localhost [127.0.0.1]\n"
    "# Thread_id: 9  Schema: ticketctl  QC_hit: No\n"
    "# Query_time: 0.750000  Lock_time: 0.000100  Rows_sent: 100  Rows_examined: 400001\n"
    "SET timestamp=1700549101;\n"
    "SELECT id FROM seats WHERE schedule_id = 99 AND status = 'AVAILABLE' ORDER BY id;\n"
    "# Time: 231121  6:45:02\n"
    "# User@Host: root[root] @ localhost []\n"
    "# Query_time: 0.100000  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 0\n"
    "SET timestamp=1700549102;\n"
    "# administrator command: Ping;\n"
    "# User@Host: ticketctl[ticketctl] @ localhost [127.0.0.1]\n"
    "# Query_time: 1.500000  Lock_time: 0.000000  Rows_sent: 0  Rows_examined: 4000\n"
    "SET timestamp=1700549103;\n"
    "UPDATE concert_schedules SET available_seats = available_seats - 1 WHERE id = 5;\n";

static void slow_log(void **state)
{
    (void)state;
    tk_slowq *q = NULL;
    size_t n = 0;
    assert_int_equal(tk_slowlog_parse(slowlog, strlen(slowlog), &q, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(q[0].normalized, "SELECT id FROM seats WHERE schedule_id = ? AND status = ? ORDER BY id");
    assert_string_equal(q[0].example, "SELECT id FROM seats\n  WHERE schedule_id = 17 AND status = 'AVAILABLE' ORDER BY id");
    assert_int_equal(q[0].count, 2);
    assert_true(q[0].total_s > 0.999 && q[0].total_s < 1.001);
    assert_true(q[0].max_s > 0.749 && q[0].max_s < 0.751);
    assert_int_equal(q[0].rows_examined_max, 400001);
    assert_string_equal(q[1].normalized,
                        "UPDATE concert_schedules SET available_seats = available_seats - ? WHERE id = ?");
    assert_int_equal(q[1].count, 1);
    tk_slowlog_free(q, n);

    /* empty and header-only logs give no groups */
    assert_int_equal(tk_slowlog_parse("", 0, &q, &n), 0);
    assert_int_equal(n, 0);
    tk_slowlog_free(q, n);
    const char *hdr = "# Time: 231121  6:45:00\n# Query_time: 1.0 Rows_examined: 3\n";
    assert_int_equal(tk_slowlog_parse(hdr, strlen(hdr), &q, &n), 0);
    assert_int_equal(n, 0);
    tk_slowlog_free(q, n);
}

static void registry(void **state)
{
    (void)state;
    size_t n;
    const tk_query *q = tk_queries(&n);
    assert_true(n >= 10);
    for (size_t i = 0; i < n; i++) {
        assert_non_null(q[i].name);
        assert_non_null(q[i].sql);
        assert_non_null(q[i].render);
        assert_ptr_equal(tk_query_find(q[i].name), &q[i]);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(q[i].name, q[j].name);
    }
    assert_null(tk_query_find("no.such.query"));
    assert_non_null(tk_query_find("seats.available"));
    assert_non_null(tk_query_find("schedules.available_dates"));
    assert_non_null(tk_query_find("reservations.of_user"));
    assert_non_null(tk_query_find("holds.expired"));
    /* the registry holds the store's own text */
    assert_string_equal(tk_query_find("seats.available")->sql, TK_SQL_SEATS_AVAILABLE);
}

/* The report's "tune" section renders a results file (lib/report.c). */
static const char tune_results[] =
    "{\"kind\": \"tune\", \"applied\": false, \"server\": {\"version\": \"10.11\"},"
    " \"queries\": [{\"name\": \"seats.available\", \"findings\": [\"full scan of seats (400000 rows)\"],"
    "   \"candidate\": {\"table\": \"seats\", \"columns\": [\"schedule_id\", \"status\"], \"status\": \"kept\","
    "   \"reason\": \"median gain 99 %\", \"before_ms\": 130.4, \"after_ms\": 0.12, \"ratio\": 1086.7,"
    "   \"rows_before\": 400000, \"rows_after\": 100,"
    "   \"ddl\": \"ALTER TABLE `seats` ADD INDEX `tk_seats_schedule_id_status` (`schedule_id`, `status`)\"}},"
    "  {\"name\": \"x<script>\", \"error\": \"no rows in scn_seats\", \"candidate\": null}],"
    " \"redundant\": [{\"table\": \"seats\", \"index\": \"ix_planted\", \"covered_by\": \"tk_seats_schedule_id_status\","
    "   \"ddl\": \"ALTER TABLE `seats` DROP INDEX `ix_planted`\"}],"
    " \"unused\": [{\"table\": \"outbox\", \"index\": \"ix_outbox_pending\"}], \"unused_source\": \"plans\"}";

static char *render(const tk_report *r, int html)
{
    char *buf = NULL, err[256];
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(html ? tk_report_html(r, f, err, sizeof err) : tk_report_markdown(r, f, err, sizeof err), 0);
    fclose(f);
    return buf;
}

static void report_section(void **state)
{
    (void)state;
    char err[256];
    tk_report *r = tk_report_parse(tune_results, strlen(tune_results), "tune.json", err, sizeof err);
    assert_non_null(r);
    char *md = render(r, 0);
    assert_non_null(strstr(md, "# ticketctl tune report: tune.json"));
    assert_non_null(strstr(md, "| seats.available | full scan of seats (400000 rows) | seats(schedule_id, status) | kept |"));
    assert_non_null(strstr(md, "1086.7x | 400,000 | 100 |"));
    assert_non_null(strstr(md, "DROP INDEX \\`ix_planted\\` (covered by tk_seats_schedule_id_status)"));
    assert_non_null(strstr(md, "outbox.ix_outbox_pending"));
    assert_non_null(strstr(md, "no rows in scn_seats"));
    free(md);
    char *html = render(r, 1);
    assert_non_null(strstr(html, "<h1>Index tuning</h1>"));
    assert_non_null(strstr(html, "x&lt;script&gt;"));
    assert_null(strstr(html, "x<script>"));
    assert_non_null(strstr(html, "ix_planted"));
    free(html);
    tk_report_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shape_seats_available),
        cmocka_unit_test(shape_schedules_available),
        cmocka_unit_test(shape_join_alias_and_qualifiers),
        cmocka_unit_test(left_prefix_serves),
        cmocka_unit_test(redundancy),
        cmocka_unit_test(plans),
        cmocka_unit_test(normalize),
        cmocka_unit_test(slow_log),
        cmocka_unit_test(registry),
        cmocka_unit_test(report_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
