/* `dev up --durable` on the real stack (lib/devstack.c tk_dev_durable): a
 * stack starts in the default mode (redo log fsynced once a second, no
 * binlog); marking it durable restarts MariaDB with
 * innodb_flush_log_at_trx_commit=1, the binary log on and sync_binlog=1,
 * keeping the data; a plain `up` keeps a durable stack durable without a
 * restart; `down` ends durable mode, so the next start is the default.
 * Its own state dir (<TICKETCTL_TEST_STATE>-durable), purged at the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ticketctl/db.h"
#include "ticketctl/devstack.h"

static char state[1024];

/* "flush,log_bin,sync_binlog" of the running MariaDB, e.g. "2,0,0". */
static void mode_of(const tk_dev_env *env, char out[32])
{
    char err[256];
    MYSQL *db = tk_db_connect(env->mysql, err, sizeof err);
    assert_non_null(db);
    assert_int_equal(mysql_query(db, "SELECT @@innodb_flush_log_at_trx_commit, @@log_bin, @@sync_binlog"), 0);
    MYSQL_RES *res = mysql_store_result(db);
    assert_non_null(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    assert_non_null(row);
    snprintf(out, 32, "%s,%s,%s", row[0], row[1], row[2]);
    mysql_free_result(res);
    mysql_close(db);
}

static long long rows_kept(const tk_dev_env *env)
{
    char err[256];
    MYSQL *db = tk_db_connect(env->mysql, err, sizeof err);
    assert_non_null(db);
    long long n = -1;
    assert_int_equal(tk_db_query_i64(db, "SELECT COUNT(*) FROM durable_probe", &n, err, sizeof err), 0);
    mysql_close(db);
    return n;
}

static void test_durable_mode(void **st)
{
    (void)st;
    char err[1024], mode[32];
    tk_dev_env env;
    assert_true(tk_dev_up(state, &env, err, sizeof err) >= 0);
    mode_of(&env, mode);
    assert_string_equal(mode, "2,0,0"); /* the default */
    MYSQL *db = tk_db_connect(env.mysql, err, sizeof err);
    assert_non_null(db);
    assert_int_equal(tk_db_exec(db, "CREATE TABLE IF NOT EXISTS durable_probe (id INT PRIMARY KEY)", err, sizeof err), 0);
    assert_int_equal(tk_db_exec(db, "REPLACE INTO durable_probe VALUES (1), (2)", err, sizeof err), 0);
    mysql_close(db);
    long pid_default = env.pid[TK_DEV_MYSQL];

    /* --durable on a running default stack: MariaDB restarts durable, data kept */
    assert_int_equal(tk_dev_durable(state, err, sizeof err), 0);
    assert_true(tk_dev_up(state, &env, err, sizeof err) >= 1);
    assert_true(env.pid[TK_DEV_MYSQL] != pid_default);
    mode_of(&env, mode);
    assert_string_equal(mode, "1,1,1");
    assert_int_equal(rows_kept(&env), 2);

    /* again, or a plain up: no restart, still durable */
    long pid_durable = env.pid[TK_DEV_MYSQL];
    assert_int_equal(tk_dev_durable(state, err, sizeof err), 0);
    assert_int_equal(tk_dev_up(state, &env, err, sizeof err), 0);
    assert_int_equal(env.pid[TK_DEV_MYSQL], pid_durable);
    mode_of(&env, mode);
    assert_string_equal(mode, "1,1,1");

    /* down ends durable mode */
    assert_int_equal(tk_dev_down(state, 0, err, sizeof err), 0);
    assert_true(tk_dev_up(state, &env, err, sizeof err) >= 1);
    mode_of(&env, mode);
    assert_string_equal(mode, "2,0,0");
    assert_int_equal(rows_kept(&env), 2);
}

int main(void)
{
    const char *base = getenv("TICKETCTL_TEST_STATE");
    if (!base) {
        fprintf(stderr, "itest_durable: TICKETCTL_TEST_STATE must be set (run through ctest)\n");
        return 1;
    }
    snprintf(state, sizeof state, "%s-durable", base);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durable_mode),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    char err[1024];
    tk_dev_down(state, 1, err, sizeof err);
    return failed;
}
