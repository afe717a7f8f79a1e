/* Integration: backends as users have them (lib/backend.c), on real
 * servers. A private redis-server with a password and an ACL user: the
 * URL's AUTH and SELECT take effect, a wrong password is refused with a
 * message, and a password-less URL gets nothing. The stack's MariaDB (no
 * TLS configured): ssl-mode=REQUIRED must fail rather than fall back to
 * plain text, and DISABLED connects; ?socket= goes over the Unix socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/backend.h"
#include "ticketctl/db.h"

static itest_env E;
static pid_t redis_pid;
static int redis_port;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int setup(void **state)
{
    (void)state;
    if (itest_stack(&E) != 0)
        return -1;
    redis_port = free_port();
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", redis_port);
    redis_pid = fork();
    if (redis_pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execl("/usr/bin/redis-server", "redis-server", "--port", portstr, "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--requirepass", "top-secret", "--user", "alice", "on", ">alice-pw", "~*", "&*", "+@all",
              "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) { /* up to 5 s for it to answer */
        char err[256];
        char url[128];
        snprintf(url, sizeof url, "redis://:top-secret@127.0.0.1:%d", redis_port);
        redisContext *c = tk_redis_connect(url, err, sizeof err);
        if (c) {
            redisFree(c);
            return 0;
        }
        usleep(50000);
    }
    return -1;
}

static int teardown(void **state)
{
    (void)state;
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
    }
    itest_close(&E);
    return 0;
}

static redisContext *connect_fmt(char *err, size_t errlen, const char *fmt)
{
    char url[256];
    snprintf(url, sizeof url, fmt, redis_port);
    return tk_redis_connect(url, err, errlen);
}

static void test_redis_auth_and_select(void **state)
{
    (void)state;
    char err[512] = "";
    redisContext *c = connect_fmt(err, sizeof err, "redis://:top-secret@127.0.0.1:%d/5");
    assert_non_null(c);
    redisReply *r = redisCommand(c, "SET itest:backend 1");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    r = redisCommand(c, "CLIENT INFO");
    assert_non_null(r);
    assert_non_null(strstr(r->str, " db=5 ")); /* SELECT 5 took effect */
    freeReplyObject(r);
    redisFree(c);
    /* the key is in db 5, not in db 0 */
    c = connect_fmt(err, sizeof err, "redis://:top-secret@127.0.0.1:%d");
    assert_non_null(c);
    r = redisCommand(c, "EXISTS itest:backend");
    assert_int_equal(r->integer, 0);
    freeReplyObject(r);
    redisFree(c);
    /* an ACL user with its own password */
    c = connect_fmt(err, sizeof err, "redis://alice:alice-pw@127.0.0.1:%d/5");
    assert_non_null(c);
    r = redisCommand(c, "ACL WHOAMI");
    assert_string_equal(r->str, "alice");
    freeReplyObject(r);
    redisFree(c);
}

static void test_redis_wrong_or_no_password(void **state)
{
    (void)state;
    char err[512] = "";
    assert_null(connect_fmt(err, sizeof err, "redis://:wrong@127.0.0.1:%d"));
    assert_non_null(strstr(err, "AUTH failed"));
    assert_null(connect_fmt(err, sizeof err, "redis://alice:nope@127.0.0.1:%d"));
    assert_non_null(strstr(err, "AUTH failed"));
    /* no password: connects (hiredis does not ask), but every command is refused */
    redisContext *c = connect_fmt(err, sizeof err, "redis://127.0.0.1:%d");
    assert_non_null(c);
    redisReply *r = redisCommand(c, "GET x");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_ERROR);
    assert_non_null(strstr(r->str, "NOAUTH"));
    freeReplyObject(r);
    redisFree(c);
    /* a database the server does not have */
    assert_null(connect_fmt(err, sizeof err, "redis://:top-secret@127.0.0.1:%d/999"));
    assert_non_null(strstr(err, "SELECT failed"));
}

static void test_mysql_tls_required_does_not_fall_back(void **state)
{
    (void)state;
    char url[TK_URL_MAX + 64], err[512] = "";
    snprintf(url, sizeof url, "%s?ssl-mode=DISABLED", E.b.mysql);
    MYSQL *db = tk_db_connect(url, err, sizeof err);
    assert_non_null(db);
    mysql_close(db);
    snprintf(url, sizeof url, "%s?ssl-mode=REQUIRED&connect-timeout=5", E.b.mysql);
    db = tk_db_connect(url, err, sizeof err);
    if (db) { /* only acceptable if the server really speaks TLS */
        const char *cipher = mysql_get_ssl_cipher(db);
        assert_non_null(cipher);
        mysql_close(db);
    } else {
        assert_non_null(strstr(err, "not encrypted"));
    }
    /* VERIFY_CA against a server without TLS: the client library itself refuses */
    snprintf(url, sizeof url, "%s?ssl-mode=VERIFY_CA", E.b.mysql);
    assert_null(tk_db_connect(url, err, sizeof err));
    assert_non_null(strstr(err, "cannot connect to MariaDB"));
}

/* The first column of a one-row query as text ("" when none). */
static void query_text(MYSQL *db, const char *sql, char *out, size_t cap)
{
    out[0] = '\0';
    assert_int_equal(mysql_query(db, sql), 0);
    MYSQL_RES *res = mysql_store_result(db);
    assert_non_null(res);
    MYSQL_ROW row = mysql_fetch_row(res);
    if (row && row[0])
        snprintf(out, cap, "%s", row[0]);
    mysql_free_result(res);
}

/* ?socket=: the connection really goes over the Unix socket (the server
 * sees a localhost client, not 127.0.0.1 as over TCP), and a socket that is
 * not there fails with a message that names it. */
static void test_mysql_unix_socket(void **state)
{
    (void)state;
    char url[TK_URL_MAX + 1200], err[512] = "", host[128];
    MYSQL *db = tk_db_connect(E.b.mysql, err, sizeof err);
    assert_non_null(db);
    query_text(db, "SELECT SUBSTRING_INDEX(USER(), '@', -1)", host, sizeof host);
    assert_string_not_equal(host, "localhost"); /* the stack's URL is TCP */
    mysql_close(db);
    snprintf(url, sizeof url, "%s?socket=%s/mysql/mysqld.sock", E.b.mysql, E.state);
    db = tk_db_connect(url, err, sizeof err);
    if (!db)
        fail_msg("socket connect: %s", err);
    query_text(db, "SELECT SUBSTRING_INDEX(USER(), '@', -1)", host, sizeof host);
    assert_string_equal(host, "localhost");
    query_text(db, "SELECT DATABASE()", host, sizeof host); /* the URL's database, as over TCP */
    assert_string_not_equal(host, "");
    mysql_close(db);
    snprintf(url, sizeof url, "%s?socket=%s/mysql/no-such.sock", E.b.mysql, E.state);
    assert_null(tk_db_connect(url, err, sizeof err));
    assert_non_null(strstr(err, "no-such.sock"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_redis_auth_and_select),
        cmocka_unit_test(test_redis_wrong_or_no_password),
        cmocka_unit_test(test_mysql_tls_required_does_not_fall_back),
        cmocka_unit_test(test_mysql_unix_socket),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
