/* tk_cpu_*: finding processes by their listening port (this process and a
 * forked child), explicit pids, the CPU clock moving with real work, and
 * the per-unit arithmetic with its NAN rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ticketctl/common.h"
#include "ticketctl/cpustat.h"

/* A loopback TCP socket bound to a free port; listening or not. */
static int bound_socket(int do_listen, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    if (do_listen)
        assert_int_equal(listen(fd, 4), 0);
    return fd;
}

static int has_pid(const tk_cpu_pids *p, int role, int pid)
{
    for (int i = 0; i < p->n[role]; i++)
        if (p->pid[role][i] == pid)
            return 1;
    return 0;
}

static void test_role_names(void **state)
{
    (void)state;
    assert_string_equal(tk_cpu_role_name(TK_CPU_SERVE), "serve");
    assert_string_equal(tk_cpu_role_name(TK_CPU_MARIADBD), "mariadbd");
    assert_string_equal(tk_cpu_role_name(TK_CPU_REDIS), "redis");
    assert_string_equal(tk_cpu_role_name(TK_CPU_NGINX), "nginx");
    assert_string_equal(tk_cpu_role_name(TK_CPU_BENCH), "bench");
    assert_string_equal(tk_cpu_role_name(99), "?");
}

static void test_listener_is_found_and_a_bound_socket_is_not(void **state)
{
    (void)state;
    int lport, bport, pids[8];
    int lfd = bound_socket(1, &lport);
    int bfd = bound_socket(0, &bport);
    int n = tk_cpu_listener_pids(lport, pids, 8);
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], (int)getpid());
    assert_int_equal(tk_cpu_listener_pids(bport, pids, 8), 0); /* bound, not LISTEN */
    assert_int_equal(tk_cpu_listener_pids(0, pids, 8), 0);
    close(lfd);
    assert_int_equal(tk_cpu_listener_pids(lport, pids, 8), 0); /* closed: gone */
    close(bfd);
}

static void test_find_by_target_and_url_in_a_child(void **state)
{
    (void)state;
    int pfd[2], port = 0;
    assert_int_equal(pipe(pfd), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pfd[0]);
        int p;
        int fd = bound_socket(1, &p);
        (void)fd;
        if (write(pfd[1], &p, sizeof p) != (ssize_t)sizeof p)
            _exit(1);
        pause();
        _exit(0);
    }
    close(pfd[1]);
    assert_int_equal(read(pfd[0], &port, sizeof port), (ssize_t)sizeof port);
    close(pfd[0]);

    char target[64], murl[96];
    snprintf(target, sizeof target, "http://127.0.0.1:%d/api/v1/concerts", port);
    snprintf(murl, sizeof murl, "mysql://u:p@127.0.0.1:%d/db", port);
    tk_cpu_find_opts o = {.target = target, .mysql_url = murl};
    tk_cpu_pids p;
    char err[256];
    assert_int_equal(tk_cpu_pids_find(&o, &p, err, sizeof err), 0);
    assert_true(has_pid(&p, TK_CPU_SERVE, (int)child));
    assert_false(has_pid(&p, TK_CPU_SERVE, (int)getpid()));
    assert_true(has_pid(&p, TK_CPU_MARIADBD, (int)child)); /* the listener of the mysql URL */
    assert_int_equal(p.n[TK_CPU_REDIS], 0);                 /* nothing said, nothing found */
    assert_int_equal(p.n[TK_CPU_BENCH], 1);
    assert_int_equal(p.pid[TK_CPU_BENCH][0], (int)getpid());

    tk_cpu_sample s;
    assert_int_equal(tk_cpu_sample_take(&p, &s), 0);
    assert_true(s.ms[TK_CPU_SERVE] >= 0);
    assert_true(isnan(s.ms[TK_CPU_REDIS]));

    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    assert_true(isnan((tk_cpu_sample_take(&p, &s), s.ms[TK_CPU_SERVE]))); /* exited: no figure */
}

static void test_explicit_pids(void **state)
{
    (void)state;
    int me = (int)getpid();
    tk_cpu_find_opts o = {.server_pids = &me, .nserver = 1, .redis_pid = me};
    tk_cpu_pids p;
    char err[256];
    assert_int_equal(tk_cpu_pids_find(&o, &p, err, sizeof err), 0);
    assert_true(has_pid(&p, TK_CPU_SERVE, me));
    assert_true(has_pid(&p, TK_CPU_REDIS, me));
    int gone = 0x7ffffff0;
    tk_cpu_find_opts bad = {.server_pids = &gone, .nserver = 1};
    assert_int_equal(tk_cpu_pids_find(&bad, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "--server-pid"));
    tk_cpu_find_opts badm = {.mysql_pid = gone};
    assert_int_equal(tk_cpu_pids_find(&badm, &p, err, sizeof err), -1);
    assert_non_null(strstr(err, "--mysql-pid"));
}

static double rusage_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

/* The bench role's figure moves with this process's own CPU time, in ms,
 * as getrusage(2) (an independent source) sees it. */
static void test_clock_moves_with_work(void **state)
{
    (void)state;
    tk_cpu_pids p;
    char err[256];
    assert_int_equal(tk_cpu_pids_find(NULL, &p, err, sizeof err), 0);
    tk_cpu_sample a, b;
    double r0 = rusage_ms();
    assert_int_equal(tk_cpu_sample_take(&p, &a), 0);
    volatile uint64_t x = 1;
    while (rusage_ms() - r0 < 80) /* 80 ms of our own CPU, however busy the box */
        x = x * 6364136223846793005ULL + 1;
    assert_int_equal(tk_cpu_sample_take(&p, &b), 0);
    double r1 = rusage_ms();
    double d = b.ms[TK_CPU_BENCH] - a.ms[TK_CPU_BENCH];
    assert_true(d >= 60.0);                /* rusage ticks can lag the clock by a tick or so */
    assert_true(d <= (r1 - r0) + 20.0);
}

static void test_use_between_arithmetic(void **state)
{
    (void)state;
    tk_cpu_sample a = {{100, 200, 10, NAN, 50}}, b = {{1100, 2200, 110, NAN, 150}};
    tk_cpu_use u;
    tk_cpu_use_between(&a, &b, 1000, 2.0, &u);
    assert_true(fabs(u.per_unit[TK_CPU_SERVE] - 1.0) < 1e-9);
    assert_true(fabs(u.per_unit[TK_CPU_MARIADBD] - 2.0) < 1e-9);
    assert_true(fabs(u.per_unit[TK_CPU_REDIS] - 0.1) < 1e-9);
    assert_true(isnan(u.per_unit[TK_CPU_NGINX]));
    assert_true(fabs(u.per_unit[TK_CPU_BENCH] - 0.1) < 1e-9);
    assert_true(fabs(u.backend_total - 3.1) < 1e-9); /* nginx absent: not counted */
    assert_true(fabs(u.cores[TK_CPU_SERVE] - 0.5) < 1e-9);

    a.ms[TK_CPU_NGINX] = 0, b.ms[TK_CPU_NGINX] = 500;
    tk_cpu_use_between(&a, &b, 1000, 2.0, &u);
    assert_true(fabs(u.backend_total - 3.6) < 1e-9); /* nginx present: part of the backend */

    b.ms[TK_CPU_REDIS] = NAN; /* redis unknown: no total */
    tk_cpu_use_between(&a, &b, 1000, 2.0, &u);
    assert_true(isnan(u.backend_total));
    assert_false(isnan(u.per_unit[TK_CPU_SERVE]));

    b.ms[TK_CPU_REDIS] = 5; /* went backwards: a pid was replaced */
    tk_cpu_use_between(&a, &b, 1000, 2.0, &u);
    assert_true(isnan(u.per_unit[TK_CPU_REDIS]));

    tk_cpu_use_between(&a, &b, 0, 0, &u); /* no units: nothing per unit */
    assert_true(isnan(u.per_unit[TK_CPU_SERVE]));
    assert_true(isnan(u.cores[TK_CPU_SERVE]));
}

static void test_json_shape(void **state)
{
    (void)state;
    tk_cpu_sample a = {{0, 0, 0, NAN, 0}}, b = {{650, 850, 50, NAN, 710}};
    tk_cpu_use u;
    tk_cpu_use_between(&a, &b, 1000, 20.0, &u);
    json_t *j = tk_cpu_use_json(&u);
    assert_non_null(j);
    assert_true(fabs(json_real_value(json_object_get(j, "serve")) - 0.65) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(j, "mariadbd")) - 0.85) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(j, "redis")) - 0.05) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(j, "bench")) - 0.71) < 1e-9);
    assert_true(fabs(json_real_value(json_object_get(j, "backend_total")) - 1.55) < 1e-9);
    assert_true(json_is_null(json_object_get(j, "nginx")));
    assert_int_equal(json_object_size(j), 6);
    json_decref(j);
    j = tk_cpu_cores_json(&u);
    assert_true(fabs(json_real_value(json_object_get(j, "mariadbd")) - 0.0425) < 1e-9);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_role_names),
        cmocka_unit_test(test_listener_is_found_and_a_bound_socket_is_not),
        cmocka_unit_test(test_find_by_target_and_url_in_a_child),
        cmocka_unit_test(test_explicit_pids),
        cmocka_unit_test(test_clock_moves_with_work),
        cmocka_unit_test(test_use_between_arithmetic),
        cmocka_unit_test(test_json_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
