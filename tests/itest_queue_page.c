/* Integration: the waiting page for people (server/queue_page.c) in
 * headless Chromium (Debian `chromium`) against `serve --queue redis`.
 * Ten users queue first through the API; then the browser, signed in as
 * an eleventh user through the URL fragment, takes a place, shows its
 * position, shows it falling as the admission job admits those ahead
 * (1 new user a second), reaches the admitted state, moves on to the
 * seat page, which lists the seats and holds one with the admitted queue
 * token: the reservation is in MariaDB. What the page shows is read from
 * its console log ("waiting-room <name>=<value>", printed by
 * --enable-logging=stderr). Skips, saying so, only when chromium is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "itest_util.h"
#include "ticketctl/common.h"
#include "ticketctl/hold.h"
#include "ticketctl/queue.h"

static itest_env E;
static const char *chromium;

static int setup(void **state)
{
    (void)state;
    static const char *const where[] = {"/usr/bin/chromium", "/usr/lib/chromium/chromium", "/usr/bin/chromium-browser"};
    for (size_t i = 0; i < sizeof where / sizeof where[0] && !chromium; i++)
        if (access(where[i], X_OK) == 0)
            chromium = where[i];
    if (!chromium)
        return 0; /* the test skips */
    return itest_stack(&E);
}

static int teardown(void **state)
{
    (void)state;
    if (E.server_pid > 0)
        itest_server_stop(&E);
    if (chromium)
        itest_close(&E);
    return 0;
}

/* What the page logged: "waiting-room <name>=<value>". */
typedef struct page_log {
    char positions[512]; /* the last positions= list */
    int starting, waiting, admitted, seats;
    long long held;
} page_log;

static void parse_line(const char *line, page_log *p)
{
    const char *m = strstr(line, "\"waiting-room ");
    if (!m)
        return;
    m += strlen("\"waiting-room ");
    char name[32] = "", value[512] = "";
    if (sscanf(m, "%31[a-z]=%511[^\"]", name, value) != 2)
        return;
    if (!strcmp(name, "positions"))
        snprintf(p->positions, sizeof p->positions, "%s", value);
    else if (!strcmp(name, "state")) {
        p->starting |= !strcmp(value, "starting");
        p->waiting |= !strcmp(value, "waiting");
        p->admitted |= !strcmp(value, "admitted");
    } else if (!strcmp(name, "seats"))
        p->seats = atoi(value);
    else if (!strcmp(name, "held"))
        p->held = atoll(value);
}

/* Run chromium on url until the page logs held= or deadline_ms passes;
 * then stop it (its own process group: it forks helpers). */
static void run_browser(const char *url, const char *profile, int deadline_ms, page_log *p)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        setpgid(0, 0);
        dup2(fds[1], 2);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 1);
        close(fds[0]);
        char dir[1300];
        snprintf(dir, sizeof dir, "--user-data-dir=%s", profile);
        execl(chromium, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-dev-shm-usage", "--enable-logging=stderr", "--v=0", dir, url, (char *)NULL);
        _exit(127);
    }
    setpgid(pid, pid);
    close(fds[1]);
    char buf[8192], line[4096];
    size_t ll = 0;
    uint64_t end = tk_mono_us() + (uint64_t)deadline_ms * 1000;
    while (!p->held && tk_mono_us() < end) {
        struct pollfd pf = {fds[0], POLLIN, 0};
        if (poll(&pf, 1, 200) <= 0)
            continue;
        ssize_t n = read(fds[0], buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n' || ll == sizeof line - 1) {
                line[ll] = '\0';
                parse_line(line, p);
                ll = 0;
            } else {
                line[ll++] = buf[i];
            }
        }
    }
    kill(-pid, SIGTERM);
    for (int i = 0; i < 50 && waitpid(pid, NULL, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    kill(-pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fds[0]);
}

static void test_page_in_chromium(void **state)
{
    (void)state;
    if (!chromium) {
        fprintf(stderr, "itest_queue_page: chromium is not installed (Debian package `chromium`, in "
                        "scripts/install-deps): skipping the browser test\n");
        skip();
    }
    assert_int_equal(itest_seed(&E, "--users 20 --concerts 1 --schedules-per-concert 1 --seats-per-schedule 12"
                                    " --seed 5"),
                     0);
    long long sched = itest_sql_i64(&E, "SELECT MIN(id) FROM concert_schedules");
    assert_true(sched > 0);
    char err[256];
    redisContext *r = tk_redis_connect(E.b.redis, err, sizeof err);
    assert_non_null(r);
    tk_queue_conn qc = {r, NULL};
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched);
    assert_int_equal(itest_server_start(&E, "--workers 2 --queue redis --new-users-per-minute 60"
                                            " --queue-tick 100ms --active-users 100"),
                     0);
    /* the page itself: HTML, self-contained (no external scripts, styles or images) */
    char path[96];
    snprintf(path, sizeof path, "/queue/%lld", sched);
    itest_resp page;
    assert_int_equal(itest_http(&E, "GET", path, NULL, NULL, NULL, &page), 0);
    assert_int_equal(page.status, 200);
    assert_true(!strncmp(page.body, "<!doctype html>", 15));
    assert_null(strstr(page.body, "src="));
    assert_null(strstr(page.body, "<link"));
    assert_null(strstr(page.body, "@import"));
    itest_resp_free(&page);

    /* ten users ahead (1 a second are admitted: the browser's start-up, a
     * few seconds on a loaded machine, leaves several ahead of it) */
    char tpath[96];
    snprintf(tpath, sizeof tpath, "/api/v1/queue/%lld/token", sched);
    for (int u = 1; u <= 10; u++) {
        char *jwt = itest_login(&E, u);
        assert_non_null(jwt);
        itest_resp t;
        assert_int_equal(itest_http(&E, "POST", tpath, jwt, NULL, NULL, &t), 0);
        assert_int_equal(t.status, 201);
        itest_resp_free(&t);
        free(jwt);
    }
    char *jwt = itest_login(&E, 11);
    assert_non_null(jwt);
    char url[2048], profile[1200];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/queue/%lld#jwt=%s&hold=1", E.port, sched, jwt);
    snprintf(profile, sizeof profile, "%s/chromium-profile-%d", E.state, (int)getpid());
    page_log p;
    memset(&p, 0, sizeof p);
    run_browser(url, profile, 60000, &p);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", profile);
    if (system(cmd) != 0)
        fprintf(stderr, "itest_queue_page: could not remove %s\n", profile);
    fprintf(stderr, "itest_queue_page: positions shown %s, seats %d, held reservation %lld\n", p.positions,
            p.seats, p.held);

    /* it showed a position, then fewer ahead, then admitted */
    assert_true(p.starting && p.waiting && p.admitted);
    int shown[64] = {0}, n = 0;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", p.positions);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t && n < 64; t = strtok_r(NULL, ",", &save))
        shown[n++] = atoi(t);
    assert_true(n >= 2);
    assert_true(shown[0] >= 2 && shown[0] <= 11);
    for (int i = 1; i < n; i++)
        assert_true(shown[i] < shown[i - 1]);
    /* the seat page listed the seats and held one with the admitted token */
    assert_int_equal(p.seats, 12);
    assert_true(p.held > 0);
    assert_int_equal(itest_sql_i64(&E,
                                   "SELECT COUNT(*) FROM reservations r JOIN users u ON u.id = r.user_id WHERE"
                                   " r.id = %lld AND r.status = 'PENDING' AND u.email = 'user11@bench.ticketctl'",
                                   p.held),
                     1);
    free(jwt);
    tk_queue_reset(TK_QUEUE_REDIS, &qc, (uint64_t)sched);
    redisFree(r);
    assert_int_equal(itest_server_stop(&E), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_in_chromium),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
