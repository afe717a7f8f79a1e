/* Integration tests of `ticketctl seed` on the real stack (ci profile):
 * the same --seed gives the same data (CHECKSUM TABLE of every seeded
 * table) and another seed does not; the seeded data hold the domain
 * invariants of lib/invariants.c; --without-indexes leaves only PRIMARY and
 * UNIQUE keys and a normal seed restores exactly the migrations' indexes;
 * a load SIGKILLed mid-way, re-run without --reset, ends complete, keeps
 * the tables the first run finished, and equals a clean load. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "itest_util.h"
#include "ticketctl/invariants.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static itest_env env;

static const char *const seeded[] = {"users", "concerts", "concert_schedules", "seats",
                                     "reservations", "payments", "point_history", "concert_words"};
#define NSEEDED 8

/* The secondary indexes of the seeded tables as the migrations in lib/db.c
 * define them: table.index(non_unique):columns, sorted. */
static const char expected_indexes[] =
    "concerts.ix_concerts_rekey(1):rekey_at;" /* the server's collation sorts it first */
    "concert_schedules.ix_schedules_concert(1):concert_id,starts_at;"
    "concert_words.ix_concert_words_rank(1):word,bookable,next_show_at,concert_id,sig0,sig1;"
    "payments.uk_payments_idempotency(0):user_id,idempotency_key;"
    "payments.uk_payments_reservation(0):reservation_id;"
    "point_history.ix_point_history_user(1):user_id,id;"
    "reservations.ix_reservations_seat(1):seat_id,status;"
    "reservations.ix_reservations_status_expiry(1):status,expires_at;"
    "reservations.ix_reservations_user(1):user_id,id;"
    "reservations.uk_reservations_live_seat(0):live_seat_id;"
    "seats.ix_seats_schedule_status(1):schedule_id,status;"
    "users.uk_users_email(0):email;";

static int setup(void **state)
{
    (void)state;
    return itest_stack(&env);
}

static int teardown(void **state)
{
    (void)state;
    itest_close(&env);
    return 0;
}

/* CHECKSUM TABLE of each seeded table into sums[]. */
static void checksums(unsigned long long sums[NSEEDED])
{
    for (int i = 0; i < NSEEDED; i++) {
        char sql[256];
        if (!strcmp(seeded[i], "users")) {
            /* the seeded users only: seed's ADMIN account (cmd/seed.c) has an argon2id hash with a random salt */
            long long v = itest_sql_i64(&env, "SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', id, email, name, password_hash,"
                                              " points, role, created_at))), 0) FROM users WHERE role = 'USER'");
            assert_true(v >= 0);
            sums[i] = (unsigned long long)v;
            continue;
        }
        snprintf(sql, sizeof sql, "CHECKSUM TABLE %s", seeded[i]);
        assert_int_equal(mysql_query(env.db, sql), 0);
        MYSQL_RES *res = mysql_store_result(env.db);
        assert_non_null(res);
        MYSQL_ROW row = mysql_fetch_row(res);
        assert_non_null(row);
        assert_non_null(row[1]);
        sums[i] = strtoull(row[1], NULL, 10);
        mysql_free_result(res);
    }
}

/* The index signature of the seeded tables (format of expected_indexes). */
static void index_signature(char *out, size_t cap)
{
    const char *q =
        "SELECT CONCAT(TABLE_NAME, '.', INDEX_NAME, '(', MIN(NON_UNIQUE), '):',"
        " GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ','), ';')"
        " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY'"
        " AND TABLE_NAME IN ('users','concerts','concert_schedules','seats','reservations','payments','point_history',"
        "'concert_words')"
        " GROUP BY TABLE_NAME, INDEX_NAME ORDER BY TABLE_NAME, INDEX_NAME";
    assert_int_equal(mysql_query(env.db, q), 0);
    MYSQL_RES *res = mysql_store_result(env.db);
    assert_non_null(res);
    size_t len = 0;
    out[0] = '\0';
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res)))
        len += (size_t)snprintf(out + len, cap - len, "%s", row[0]);
    mysql_free_result(res);
}

static void assert_invariants_hold(void)
{
    tk_invariant inv[TK_INVARIANTS_MAX];
    char err[256];
    int n = tk_invariants_check(env.db, inv, TK_INVARIANTS_MAX, err, sizeof err);
    assert_true(n > 0);
    for (int i = 0; i < n; i++) {
        if (!inv[i].ok)
            fprintf(stderr, "invariant '%s' broken: %s\n", inv[i].name, inv[i].detail);
        assert_true(inv[i].ok);
    }
}

#define CI_ARGS "--profile ci --reservations 3000 --no-progress"

static void test_same_seed_same_data(void **state)
{
    (void)state;
    unsigned long long a[NSEEDED], b[NSEEDED], c[NSEEDED];
    assert_int_equal(itest_seed(&env, CI_ARGS " --seed 7 >/dev/null"), 0);
    checksums(a);
    /* every table got rows, and the server agrees with the generator's counts */
    for (int i = 0; i < NSEEDED; i++)
        assert_true(itest_sql_i64(&env, "SELECT COUNT(*) FROM %s", seeded[i]) > 0);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM reservations"), 3000);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM seats"), 10000);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM seed_state WHERE status = 'COMPLETE'"), NSEEDED);
    /* consistency beyond lib/invariants.c: payment = price, available_seats */
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM payments p JOIN reservations r ON r.id ="
                                         " p.reservation_id WHERE p.amount <> r.price OR p.user_id <> r.user_id"),
                     0);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM reservations r JOIN seats s ON s.id = r.seat_id"
                                         " WHERE r.price <> s.price OR r.schedule_id <> s.schedule_id"),
                     0);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM concert_schedules cs WHERE available_seats <>"
                                         " (SELECT COUNT(*) FROM seats s WHERE s.schedule_id = cs.id"
                                         " AND s.status = 'AVAILABLE')"),
                     0);
    assert_true(itest_sql_i64(&env, "SELECT COUNT(*) FROM seats WHERE status = 'SOLD'") > 1000);
    assert_true(itest_sql_i64(&env, "SELECT COUNT(*) FROM seats WHERE status = 'HELD'") > 50);
    assert_true(itest_sql_i64(&env, "SELECT COUNT(*) FROM users WHERE points > 0") > 500);
    assert_invariants_hold();

    assert_int_equal(itest_seed(&env, CI_ARGS " --seed 7 >/dev/null"), 0);
    checksums(b);
    for (int i = 0; i < NSEEDED; i++) {
        if (a[i] != b[i])
            fprintf(stderr, "%s: checksum %llu then %llu\n", seeded[i], a[i], b[i]);
        assert_true(a[i] == b[i]);
    }
    /* another seed: other names, other reservations, so other seats too */
    assert_int_equal(itest_seed(&env, CI_ARGS " --seed 8 >/dev/null"), 0);
    checksums(c);
    assert_true(c[0] != a[0]); /* users */
    assert_true(c[3] != a[3]); /* seats */
    assert_true(c[4] != a[4]); /* reservations */
    assert_invariants_hold();
}

static void test_without_indexes(void **state)
{
    (void)state;
    char sig[4096];
    assert_int_equal(itest_seed(&env, "--profile ci --no-progress --without-indexes >/dev/null"), 0);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM information_schema.STATISTICS WHERE"
                                         " TABLE_SCHEMA = DATABASE() AND INDEX_NAME <> 'PRIMARY' AND NON_UNIQUE = 1"
                                         " AND TABLE_NAME IN ('users','concerts','concert_schedules','seats',"
                                         "'reservations','payments','point_history')"),
                     0);
    index_signature(sig, sizeof sig);
    assert_null(strstr(sig, "ix_schedules_concert"));
    assert_null(strstr(sig, "ix_seats_schedule_status"));
    assert_non_null(strstr(sig, "users.uk_users_email(0):email;")); /* UNIQUE keys are kept */
    assert_non_null(strstr(sig, "reservations.uk_reservations_live_seat(0)"));

    /* a normal seed restores exactly the migrations' indexes */
    assert_int_equal(itest_seed(&env, "--profile ci --no-progress >/dev/null"), 0);
    index_signature(sig, sizeof sig);
    assert_string_equal(sig, expected_indexes);

    /* on complete tables (same config, no --reset) only the indexes change */
    unsigned long long before[NSEEDED], after[NSEEDED];
    checksums(before);
    assert_int_equal(itest_run(&env, "seed --profile ci --no-progress --without-indexes >/dev/null"), 0);
    index_signature(sig, sizeof sig);
    assert_null(strstr(sig, "ix_seats_schedule_status"));
    assert_int_equal(itest_run(&env, "seed --profile ci --no-progress >/dev/null"), 0);
    index_signature(sig, sizeof sig);
    assert_string_equal(sig, expected_indexes);
    checksums(after);
    assert_memory_equal(before, after, sizeof before);

    /* another configuration over seeded tables is refused without --reset */
    assert_int_not_equal(itest_run(&env, "seed --profile ci --seed 99 --no-progress >/dev/null 2>&1"), 0);

    /* a load that cannot fit on the datadir's disk (~320 TB of seats) is
     * refused with both numbers, before --reset truncates anything */
    char log[1100];
    snprintf(log, sizeof log, "%s/itest-seed-disk.%d", env.state, (int)getpid());
    assert_int_not_equal(itest_run(&env, "seed --reset --profile ci --concerts 10000000 --seats-per-schedule 100000"
                                         " --no-progress 2>'%s' >/dev/null",
                                   log),
                         0);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char msg[1024] = "";
    size_t n = fread(msg, 1, sizeof msg - 1, f);
    msg[n] = '\0';
    fclose(f);
    unlink(log);
    assert_non_null(strstr(msg, "not enough disk space"));
    assert_non_null(strstr(msg, "GB are free"));
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM seats"), 10000); /* untouched */
}

#define BIG_ARGS "--profile ci --concerts 400 --seats-per-schedule 2000 --reservations 20000 --seed 3 --no-progress"

static void test_interrupted_load_resumes(void **state)
{
    (void)state;
    unsigned long long clean[NSEEDED], resumed[NSEEDED];
    assert_int_equal(itest_seed(&env, BIG_ARGS " >/dev/null"), 0);
    checksums(clean);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM seats"), 1600000);

    /* the same load again from scratch, SIGKILLed once users is complete and seats is loading */
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "exec '%s' seed --reset " BIG_ARGS " --state '%s' >/dev/null", env.bin, env.state);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    int killed = 0;
    for (int i = 0; i < 3000 && !killed; i++) { /* up to 60 s */
        usleep(20000);
        if (itest_sql_i64(&env, "SELECT COUNT(*) FROM seed_state WHERE table_name = 'users' AND status = 'COMPLETE'"
                                " AND config LIKE '%%seed=3 %%'") == 1 &&
            itest_sql_i64(&env, "SELECT COUNT(*) FROM seed_state WHERE table_name = 'seats' AND status = 'LOADING'") == 1) {
            kill(pid, SIGKILL);
            killed = 1;
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(killed);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* the half-loaded seats table is not marked complete */
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM seed_state WHERE table_name = 'seats'"
                                         " AND status = 'COMPLETE'"),
                     0);
    long long users_stamp = itest_sql_i64(&env, "SELECT CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS SIGNED) FROM seed_state"
                                                " WHERE table_name = 'users'");
    assert_true(users_stamp > 0);

    /* re-run without --reset: resumes, ends complete and equal to the clean load */
    assert_int_equal(itest_run(&env, "seed " BIG_ARGS " >/dev/null"), 0);
    assert_int_equal(itest_sql_i64(&env, "SELECT COUNT(*) FROM seed_state WHERE status = 'COMPLETE'"), NSEEDED);
    assert_int_equal(itest_sql_i64(&env, "SELECT CAST(UNIX_TIMESTAMP(updated_at) * 1000 AS SIGNED) FROM seed_state"
                                         " WHERE table_name = 'users'"),
                     users_stamp); /* kept, not reloaded */
    checksums(resumed);
    for (int i = 0; i < NSEEDED; i++) {
        if (clean[i] != resumed[i])
            fprintf(stderr, "%s: clean %llu, resumed %llu\n", seeded[i], clean[i], resumed[i]);
        assert_true(clean[i] == resumed[i]);
    }
    char sig[4096];
    index_signature(sig, sizeof sig);
    assert_string_equal(sig, expected_indexes);
    assert_invariants_hold();

    /* leave the stack as the other integration tests expect it */
    assert_int_equal(itest_seed(&env, "--profile ci --no-progress >/dev/null"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_same_data),
        cmocka_unit_test(test_without_indexes),
        cmocka_unit_test(test_interrupted_load_resumes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
