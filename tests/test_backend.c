/* Unit tests for backend settings: the mysql:// and redis:// URL parsers,
 * backend resolution order (flag > env, no stack needed), the stack.env
 * round trip, and the number/duration parsers from lib/common.c. No server
 * is started here; the dev stack itself is exercised by the itests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"

/* ---- mysql:// ----------------------------------------------------------- */

static void test_mysql_url_full(void **state)
{
    (void)state;
    tk_mysql_url u;
    char err[256] = "";
    assert_int_equal(tk_mysql_url_parse("mysql://ticketctl:secret@127.0.0.1:3307/tk", &u, err, sizeof err), 0);
    assert_string_equal(u.user, "ticketctl");
    assert_string_equal(u.pass, "secret");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 3307);
    assert_string_equal(u.db, "tk");
}

static void test_mysql_url_defaults(void **state)
{
    (void)state;
    tk_mysql_url u;
    assert_int_equal(tk_mysql_url_parse("mysql://root@db.example/app", &u, NULL, 0), 0);
    assert_string_equal(u.user, "root");
    assert_string_equal(u.pass, "");
    assert_string_equal(u.host, "db.example");
    assert_int_equal(u.port, 3306);
    assert_string_equal(u.db, "app");
    /* empty password after ':' */
    assert_int_equal(tk_mysql_url_parse("mysql://root:@h:1/d", &u, NULL, 0), 0);
    assert_string_equal(u.pass, "");
    assert_int_equal(u.port, 1);
}

static void test_mysql_url_escapes_and_ipv6(void **state)
{
    (void)state;
    tk_mysql_url u;
    /* '@' and ':' in the password, percent-encoded (RFC 3986); a raw second
     * '@' is refused with a hint rather than guessed at */
    char err[256] = "";
    assert_int_equal(tk_mysql_url_parse("mysql://u:p%40ss%3Aw@h:3306/d", &u, NULL, 0), 0);
    assert_string_equal(u.pass, "p@ss:w");
    assert_int_equal(tk_mysql_url_parse("mysql://u:a@b@h/d", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "%40"));
    /* an empty port is the default one (RFC 3986 3.2.3) */
    assert_int_equal(tk_mysql_url_parse("mysql://u:p@h:/d", &u, NULL, 0), 0);
    assert_int_equal(u.port, 3306);
    assert_int_equal(tk_mysql_url_parse("mysql://u:p@[::1]:3310/d", &u, NULL, 0), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 3310);
    assert_int_equal(tk_mysql_url_parse("mariadb://u@h/d", &u, NULL, 0), 0);
}

static void test_mysql_url_max_statement_time(void **state)
{
    (void)state;
    tk_mysql_url u;
    char err[256] = "";
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d", &u, err, sizeof err), 0);
    assert_int_equal(u.max_statement_time_ms, 0); /* default: the server's (none) */
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d?read-timeout=1&max-statement-time=2s", &u, err, sizeof err),
                     0);
    assert_int_equal(u.max_statement_time_ms, 2000);
    assert_int_equal(u.read_timeout_s, 1);
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d?max-statement-time=1500ms", &u, err, sizeof err), 0);
    assert_int_equal(u.max_statement_time_ms, 1500);
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d?max-statement-time=0.25s", &u, err, sizeof err), 0);
    assert_int_equal(u.max_statement_time_ms, 250);
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d?max-statement-time=-1s", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "max-statement-time"));
}

static void test_mysql_url_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "http://u:p@h:1/d",         /* scheme */
        "mysql://",                 /* nothing */
        "mysql://u:p@h:3306",       /* no database */
        "mysql://u:p@h:3306/",      /* empty database */
        "mysql://h:3306/d",         /* no user@ */
        "mysql://:p@h/d",           /* empty user */
        "mysql://u:p@/d",           /* empty host */
        "mysql://u:p@:3306/d",      /* empty host */
        "mysql://u:p@h:0/d",        /* port 0 */
        "mysql://u:p@h:65536/d",    /* port too big */
        "mysql://u:p@h:99999999/d", /* port overflow */
        "mysql://u:p@h:33a/d",      /* port not a number */
        "mysql://u:p@h:1:2/d",      /* bare IPv6-ish */
        "mysql://u:p@[::1/d",       /* unterminated bracket */
        "mysql://u:p@h/d/e",        /* path with two segments */
        "mysql://u:p@h/d?x=1",      /* unknown option */
        "mysql://u:p@h/d?ssl-mode=MAYBE",     /* bad TLS mode */
        "mysql://u:p@h/d?connect-timeout=0",  /* timeout out of range */
        "mysql://u:p@h/d?max-statement-time=0",    /* statement time out of range */
        "mysql://u:p@h/d?max-statement-time=2h",   /* unknown unit */
        "mysql://u:p@h/d?max-statement-time=3601s", /* over an hour */
        "mysql://u:p@h/d?max-statement-time=",     /* empty */
        "mysql://u:p@h/d?ssl-mode",           /* not key=value */
        "mysql://u:p@h/d#frag",               /* fragment */
        "mysql://u:p%4@h/d",        /* truncated escape */
        "mysql://u:p%zz@h/d",       /* bad escape */
        "mysql://u:p%00@h/d",       /* NUL escape */
        "mysql://u:p@h/d?socket=rel/mysqld.sock", /* socket path not absolute */
        "mysql://u:p@h/d?socket=",                /* empty socket path */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tk_mysql_url u;
        char err[256] = "";
        if (tk_mysql_url_parse(bad[i], &u, err, sizeof err) != -1)
            fail_msg("accepted bad URL '%s'", bad[i]);
        if (err[0] == '\0')
            fail_msg("no message for bad URL '%s'", bad[i]);
    }
    tk_mysql_url u;
    assert_int_equal(tk_mysql_url_parse(NULL, &u, NULL, 0), -1);
}

static void test_mysql_url_socket(void **state)
{
    (void)state;
    tk_mysql_url u;
    char err[256] = "";
    assert_int_equal(tk_mysql_url_parse("mysql://u:p@127.0.0.1:3307/d", &u, err, sizeof err), 0);
    assert_string_equal(u.socket, ""); /* TCP unless asked */
    assert_int_equal(tk_mysql_url_parse("mysql://u:p@localhost/d?socket=%2Fvar%2Frun%2Fmysqld.sock&read-timeout=2",
                                        &u, err, sizeof err),
                     0);
    assert_string_equal(u.socket, "/var/run/mysqld.sock"); /* percent-decoded */
    assert_int_equal(u.read_timeout_s, 2);
    assert_int_equal(u.tls, TK_MYSQL_TLS_DISABLED); /* a socket path is not a TLS option */
}

static void test_mysql_url_tls_options(void **state)
{
    (void)state;
    tk_mysql_url u;
    char err[256] = "";
    assert_int_equal(tk_mysql_url_parse("mysql://u:p@db.example/app", &u, err, sizeof err), 0);
    assert_int_equal(u.tls, TK_MYSQL_TLS_DISABLED);
    assert_int_equal(tk_mysql_url_parse("mysql://u:p@db.example/app?ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fca.pem"
                                        "&ssl-cert=/c.pem&ssl-key=/k.pem&connect-timeout=3",
                                        &u, err, sizeof err),
                     0);
    assert_int_equal(u.tls, TK_MYSQL_TLS_VERIFY);
    assert_string_equal(u.tls_ca, "/etc/ca.pem"); /* percent-decoded */
    assert_string_equal(u.tls_cert, "/c.pem");
    assert_string_equal(u.tls_key, "/k.pem");
    assert_int_equal(u.connect_timeout_s, 3);
    assert_string_equal(u.db, "app");
    /* a CA alone means TLS is wanted */
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d?ssl-ca=/ca.pem", &u, err, sizeof err), 0);
    assert_int_equal(u.tls, TK_MYSQL_TLS_REQUIRED);
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d?ssl-mode=required", &u, err, sizeof err), 0);
    assert_int_equal(u.tls, TK_MYSQL_TLS_REQUIRED);
    assert_int_equal(tk_mysql_url_parse("mysql://u@h/d?bogus=1", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown option 'bogus'"));
}

static void test_mysql_url_too_long(void **state)
{
    (void)state;
    char url[1024], user[200];
    memset(user, 'u', sizeof user - 1);
    user[sizeof user - 1] = '\0';
    snprintf(url, sizeof url, "mysql://%s:p@h/d", user); /* user[64] overflows */
    tk_mysql_url u;
    char err[256] = "";
    assert_int_equal(tk_mysql_url_parse(url, &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "user"));
    /* exactly 63 characters fits */
    user[63] = '\0';
    snprintf(url, sizeof url, "mysql://%s:p@h/d", user);
    assert_int_equal(tk_mysql_url_parse(url, &u, err, sizeof err), 0);
    assert_int_equal(strlen(u.user), 63);
}

/* ---- redis:// ----------------------------------------------------------- */

static void test_redis_url_good(void **state)
{
    (void)state;
    char host[64];
    int port = 0;
    assert_int_equal(tk_redis_url_parse("redis://127.0.0.1:6380", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 6380);
    assert_int_equal(tk_redis_url_parse("redis://cache", host, sizeof host, &port), 0);
    assert_string_equal(host, "cache");
    assert_int_equal(port, 6379);
    assert_int_equal(tk_redis_url_parse("redis://cache:1/", host, sizeof host, &port), 0);
    assert_int_equal(port, 1);
    assert_int_equal(tk_redis_url_parse("redis://[::1]:7000", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 7000);
    /* credentials, database and options, as users have them */
    tk_redis_url u;
    char err[256] = "";
    assert_int_equal(tk_redis_url_parse_full("redis://:s%3Acret@cache:6380/3?timeout=250ms", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "cache");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.user, "");
    assert_string_equal(u.pass, "s:cret");
    assert_int_equal(u.db, 3);
    assert_int_equal(u.timeout_ms, 250);
    assert_int_equal(tk_redis_url_parse_full("redis://alice:pw@cache", &u, err, sizeof err), 0);
    assert_string_equal(u.user, "alice");
    assert_string_equal(u.pass, "pw");
    assert_int_equal(u.db, 0);
    assert_int_equal(tk_redis_url_parse("redis://:pw@h:1/0", host, sizeof host, &port), 0);
    assert_int_equal(port, 1);
}

static void test_redis_url_tls_refused_clearly(void **state)
{
    (void)state;
    tk_redis_url u;
    char err[512] = "";
    assert_int_equal(tk_redis_url_parse_full("rediss://cache:6380", &u, err, sizeof err), -1);
    assert_non_null(strstr(err, "rediss:// (TLS) is not supported"));
    assert_null(tk_redis_connect("rediss://127.0.0.1:1", err, sizeof err));
    assert_non_null(strstr(err, "hiredis 0.14"));
}

static void test_redis_url_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "127.0.0.1:6379", "http://h:1", "redis://", "redis://:6379", "redis://h:0",
        "redis://h:70000", "redis://h:x", "redis://h:1/x", "redis://u@h:1", "redis://:@h:1",
        "redis://h:1:2", "redis://h:1?bogus=1", "redis://h:1?timeout=forever", "rediss://h:1",
        "redis://h:1/-1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char host[64];
        int port = 0;
        if (tk_redis_url_parse(bad[i], host, sizeof host, &port) != -1)
            fail_msg("accepted bad URL '%s'", bad[i]);
    }
    char tiny[4];
    int port;
    assert_int_equal(tk_redis_url_parse("redis://longhost:1", tiny, sizeof tiny, &port), -1);
    assert_int_equal(tk_redis_url_parse(NULL, tiny, sizeof tiny, &port), -1);
}

/* ---- resolution order --------------------------------------------------- */

static int clear_env(void **state)
{
    (void)state;
    unsetenv("TICKETCTL_MYSQL");
    unsetenv("TICKETCTL_REDIS");
    unsetenv("TICKETCTL_KAFKA_BROKERS");
    unsetenv("TICKETCTL_STATE");
    return 0;
}

static void test_resolve_flags_win(void **state)
{
    (void)state;
    setenv("TICKETCTL_MYSQL", "mysql://env:e@envhost/envdb", 1);
    setenv("TICKETCTL_REDIS", "redis://envhost:1", 1);
    setenv("TICKETCTL_KAFKA_BROKERS", "envhost:9", 1);
    tk_backend b;
    char err[256] = "";
    assert_int_equal(tk_backend_resolve(&b, "mysql://f:f@flaghost/fdb", NULL, "flaghost:9092",
                                        "/nonexistent/tk-state", 0, err, sizeof err),
                     0);
    assert_string_equal(b.mysql, "mysql://f:f@flaghost/fdb");
    assert_string_equal(b.redis, "redis://envhost:1"); /* env when no flag */
    assert_string_equal(b.kafka, "flaghost:9092");
    assert_string_equal(b.state_dir, "/nonexistent/tk-state");
}

static void test_resolve_bad_url_rejected(void **state)
{
    (void)state;
    tk_backend b;
    char err[256] = "";
    assert_int_equal(tk_backend_resolve(&b, "mysql://nouser/db", "redis://h:1", "h:1", "/nonexistent/tk",
                                        0, err, sizeof err),
                     -1);
    assert_true(err[0] != '\0');
    assert_int_equal(tk_backend_resolve(&b, "mysql://u@h/db", "redis://h:0", "h:1", "/nonexistent/tk", 0,
                                        err, sizeof err),
                     -1);
}

static void test_resolve_no_stack_no_autostart(void **state)
{
    (void)state;
    char dir[] = "/tmp/tk-test-backend-XXXXXX";
    assert_non_null(mkdtemp(dir));
    tk_backend b;
    char err[512] = "";
    /* nothing given, stack absent, autostart off: a clear error */
    assert_int_equal(tk_backend_resolve(&b, NULL, NULL, NULL, dir, 0, err, sizeof err), -1);
    assert_non_null(strstr(err, "dev up"));
    /* only MariaDB needed and given: no stack consulted */
    assert_int_equal(tk_backend_resolve_some(&b, TK_NEED_MYSQL, "mysql://u@h/d", NULL, NULL, dir, 0, err,
                                             sizeof err),
                     0);
    assert_string_equal(b.redis, "");
    /* a stale stack.env (dead pids) is not trusted without autostart */
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/stack.env", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "TICKETCTL_MYSQL=mysql://ticketctl:ticketctl@127.0.0.1:1/ticketctl\n"
               "TICKETCTL_REDIS=redis://127.0.0.1:1\nTICKETCTL_KAFKA_BROKERS=127.0.0.1:1\n"
               "TICKETCTL_MYSQL_PID=999999999\n");
    fclose(f);
    assert_int_equal(tk_backend_resolve(&b, NULL, NULL, NULL, dir, 0, err, sizeof err), -1);
    tk_dev_report st;
    assert_int_equal(tk_dev_status(dir, &st, err, sizeof err), 0);
    assert_true(st.have_env);
    assert_false(st.all_running);
    assert_false(st.comp[TK_DEV_MYSQL].running);
    assert_string_equal(st.comp[TK_DEV_REDIS].addr, "127.0.0.1:1");
    /* down on a stack whose pids are gone just removes stack.env */
    assert_int_equal(tk_dev_down(dir, 1, err, sizeof err), 0);
    assert_int_equal(access(dir, F_OK), -1);
}

static void test_state_dir(void **state)
{
    (void)state;
    char out[TK_URL_MAX], cwd[PATH_MAX], want[PATH_MAX + 32];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(tk_dev_state_dir("/abs/dir/", out, sizeof out, NULL, 0), 0);
    assert_string_equal(out, "/abs/dir");
    setenv("TICKETCTL_STATE", "/from/env", 1);
    assert_int_equal(tk_dev_state_dir(NULL, out, sizeof out, NULL, 0), 0);
    assert_string_equal(out, "/from/env");
    assert_int_equal(tk_dev_state_dir("rel", out, sizeof out, NULL, 0), 0);
    snprintf(want, sizeof want, "%s/rel", cwd);
    assert_string_equal(out, want);
    unsetenv("TICKETCTL_STATE");
    assert_int_equal(tk_dev_state_dir(NULL, out, sizeof out, NULL, 0), 0);
    snprintf(want, sizeof want, "%s/.ticketctl", cwd);
    assert_string_equal(out, want);
    char tiny[4];
    assert_int_equal(tk_dev_state_dir("/long/path", tiny, sizeof tiny, NULL, 0), -1);
}

static void test_env_format(void **state)
{
    (void)state;
    tk_dev_env e;
    memset(&e, 0, sizeof e);
    strcpy(e.state_dir, "/s");
    strcpy(e.mysql, "mysql://a:it's@h/d");
    strcpy(e.kafka, "127.0.0.1:9");
    e.pid[TK_DEV_KAFKA] = 42;
    char buf[2048];
    assert_true(tk_dev_env_format(&e, 1, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "export TICKETCTL_MYSQL='mysql://a:it'\\''s@h/d'\n"));
    assert_non_null(strstr(buf, "export TICKETCTL_KAFKA_PID='42'\n"));
    assert_null(strstr(buf, "TICKETCTL_REDIS")); /* empty values are left out */
    assert_true(tk_dev_env_format(&e, 0, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "TICKETCTL_KAFKA_BROKERS=127.0.0.1:9\n"));
    assert_int_equal(tk_dev_env_format(&e, 0, buf, 10), -1);
}

/* ---- lib/common.c parsers ----------------------------------------------- */

static void test_parse_duration(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        int64_t ms;
    } good[] = {
        {"1500", 1500}, {"250ms", 250}, {"60s", 60000}, {"2m", 120000},
        {"1h", 3600000}, {"0", 0},      {"1.5s", 1500}, {"0.5m", 30000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        int64_t v = -1;
        if (tk_parse_duration_ms(good[i].in, &v) != 0)
            fail_msg("rejected '%s'", good[i].in);
        assert_int_equal(v, good[i].ms);
    }
    static const char *const bad[] = {"", "s", "10x", "-5s", "5 s", "1e30h", "ms", "10sec", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t v = 7;
        if (tk_parse_duration_ms(bad[i], &v) != -1)
            fail_msg("accepted '%s'", bad[i]);
        assert_int_equal(v, 7); /* untouched on error */
    }
    int64_t v;
    assert_int_equal(tk_parse_duration_ms(NULL, &v), -1);
}

static void test_parse_i64(void **state)
{
    (void)state;
    int64_t v = 0;
    assert_int_equal(tk_parse_i64("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(tk_parse_i64("-7", -10, 10, &v), 0);
    assert_int_equal(v, -7);
    assert_int_equal(tk_parse_i64("100", 0, 100, &v), 0); /* bounds inclusive */
    assert_int_equal(tk_parse_i64("9223372036854775807", 0, INT64_MAX, &v), 0);
    assert_int_equal(v, INT64_MAX);
    v = 5;
    assert_int_equal(tk_parse_i64("101", 0, 100, &v), -1);
    assert_int_equal(tk_parse_i64("-1", 0, 100, &v), -1);
    assert_int_equal(tk_parse_i64("", 0, 100, &v), -1);
    assert_int_equal(tk_parse_i64("12abc", 0, 100, &v), -1);
    assert_int_equal(tk_parse_i64("abc", 0, 100, &v), -1);
    assert_int_equal(tk_parse_i64("9223372036854775808", 0, INT64_MAX, &v), -1); /* overflow */
    assert_int_equal(tk_parse_i64(NULL, 0, 100, &v), -1);
    assert_int_equal(v, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mysql_url_full),
        cmocka_unit_test(test_mysql_url_defaults),
        cmocka_unit_test(test_mysql_url_escapes_and_ipv6),
        cmocka_unit_test(test_mysql_url_max_statement_time),
        cmocka_unit_test(test_mysql_url_bad),
        cmocka_unit_test(test_mysql_url_socket),
        cmocka_unit_test(test_mysql_url_tls_options),
        cmocka_unit_test(test_mysql_url_too_long),
        cmocka_unit_test(test_redis_url_good),
        cmocka_unit_test(test_redis_url_bad),
        cmocka_unit_test(test_redis_url_tls_refused_clearly),
        cmocka_unit_test_setup_teardown(test_resolve_flags_win, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_resolve_bad_url_rejected, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_resolve_no_stack_no_autostart, clear_env, clear_env),
        cmocka_unit_test_setup_teardown(test_state_dir, clear_env, clear_env),
        cmocka_unit_test(test_env_format),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_parse_i64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
