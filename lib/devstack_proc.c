/* Dev stack plumbing: paths and small files, detached processes that are
 * stopped by pid only after their name is checked, loopback ports. */
#include "devstack_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <limits.h>
#include <mysql.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- small helpers ------------------------------------------------------ */

void dev_sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* snprintf that reports truncation: 0 or -1. */
int dev_fmt_path(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int dev_fmt_path(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return (len < 0 || (size_t)len >= n) ? -1 : 0;
}

int dev_copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        return -1;
    memcpy(dst, src, len + 1);
    return 0;
}

int dev_mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (dev_copy_str(tmp, sizeof tmp, path) != 0)
        return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

int dev_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Find an executable in $PATH or the sbin dirs (mariadbd lives in /usr/sbin,
 * which a non-root PATH often lacks). */
int dev_find_bin(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin:/sbin:/usr/bin:/bin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (dev_fmt_path(out, outlen, "%s/%s", d, name) == 0 && access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* Read the first line of a small file into buf (newline stripped). */
int dev_read_line(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    char *ok = fgets(buf, (int)n, f);
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

long dev_read_pidfile(const char *path)
{
    char line[32];
    int64_t pid = 0;
    if (dev_read_line(path, line, sizeof line) != 0 || tk_parse_i64(line, 1, INT_MAX, &pid) != 0)
        return 0;
    return (long)pid;
}

/* Write a whole file atomically (tmp + rename). */
int dev_write_file(const char *path, const char *content)
{
    char tmp[PATH_MAX];
    if (dev_fmt_path(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) != 0)
        return -1;
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -1;
    int bad = fputs(content, f) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The last non-empty line of a log, to quote in an error message. */
void dev_log_tail(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0])
            snprintf(out, n, "%s", line);
    }
    fclose(f);
}

/* ---- processes ---------------------------------------------------------- */

/* Alive = exists and is not a zombie. */
int dev_pid_alive(long pid)
{
    if (pid <= 0)
        return 0;
    if (kill((pid_t)pid, 0) != 0 && errno != EPERM)
        return 0;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 1; /* no /proc: trust kill() */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')');
    if (rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X'))
        return 0;
    return 1;
}

int dev_pid_is(long pid, const char *comm)
{
    char path[64], name[64];
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    if (dev_read_line(path, name, sizeof name) != 0)
        return 1; /* no /proc: cannot tell, assume ours */
    return strcmp(name, comm) == 0;
}

/* Stop one of our servers: `sig` (SIGTERM; SIGQUIT for nginx's graceful
 * stop), wait, SIGKILL. A pid that is gone or now names another program is
 * left alone. Returns 0 if it is gone. */
int dev_stop_pid_sig(long pid, const char *comm, int sig)
{
    if (!dev_pid_alive(pid) || !dev_pid_is(pid, comm))
        return 0;
    kill((pid_t)pid, sig);
    uint64_t until = tk_mono_ms() + STOP_TERM_MS;
    int sent_kill = 0;
    for (;;) {
        waitpid((pid_t)pid, NULL, WNOHANG); /* reap if it happens to be our child */
        if (!dev_pid_alive(pid))
            return 0;
        if (tk_mono_ms() >= until) {
            if (sent_kill)
                return -1;
            kill((pid_t)pid, SIGKILL);
            sent_kill = 1;
            until = tk_mono_ms() + STOP_KILL_MS;
        }
        dev_sleep_ms(50);
    }
}

int dev_stop_pid(long pid, const char *comm) { return dev_stop_pid_sig(pid, comm, SIGTERM); }

typedef int (*spawn_fn)(void *arg);

/* Start argv[0] (or fn(arg) when argv is NULL) detached: double fork, new
 * session, stdin from /dev/null, stdout+stderr appended to logpath, no
 * inherited descriptors. Returns the server's pid, or -1 with err set
 * (including when exec fails, e.g. binary missing). */
long dev_spawn_detached(char *const argv[], spawn_fn fn, void *arg, const char *logpath,
                           char *err, size_t errlen)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return tk_err(err, errlen, "pipe: %s", strerror(errno));
    pid_t c1 = fork();
    if (c1 < 0) {
        close(p[0]);
        close(p[1]);
        return tk_err(err, errlen, "fork: %s", strerror(errno));
    }
    if (c1 == 0) {
        close(p[0]);
        pid_t c2 = fork();
        if (c2 == 0) {
            setsid();
            int in = open("/dev/null", O_RDONLY);
            int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (in >= 0)
                dup2(in, 0);
            if (out >= 0) {
                dup2(out, 1);
                dup2(out, 2);
            }
            /* keep the report pipe as fd 3 (close-on-exec), drop the rest */
            if (p[1] != 3) {
                dup3(p[1], 3, O_CLOEXEC);
            }
            closefrom(4);
            signal(SIGPIPE, SIG_DFL);
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            if (!argv) {
                close(3);
                _exit(fn(arg) == 0 ? 0 : 1);
            }
            execv(argv[0], argv);
            int e = errno;
            ssize_t w = write(3, &e, sizeof e);
            (void)w;
            _exit(127);
        }
        long pid = c2;
        ssize_t w = write(p[1], &pid, sizeof pid);
        (void)w;
        _exit(c2 > 0 ? 0 : 1);
    }
    close(p[1]);
    int status = 0;
    while (waitpid(c1, &status, 0) < 0 && errno == EINTR) {
    }
    long pid = -1;
    int e = 0;
    ssize_t n = read(p[0], &pid, sizeof pid);
    if (n != (ssize_t)sizeof pid || pid <= 0) {
        close(p[0]);
        return tk_err(err, errlen, "fork: cannot start %s", argv ? argv[0] : "helper");
    }
    n = read(p[0], &e, sizeof e); /* EOF on successful exec */
    close(p[0]);
    if (n == (ssize_t)sizeof e)
        return tk_err(err, errlen, "cannot run %s: %s", argv[0], strerror(e));
    return pid;
}

/* Run argv to completion with output appended to logpath; returns its exit
 * status (0 = success), or -1 if it could not run. */
int dev_run_wait(char *const argv[], const char *logpath)
{
    pid_t c = fork();
    if (c < 0)
        return -1;
    if (c == 0) {
        int in = open("/dev/null", O_RDONLY);
        int out = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in >= 0)
            dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        closefrom(3);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (waitpid(c, &status, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- network ------------------------------------------------------------ */

/* A free loopback port: bind 127.0.0.1:0, read the port, close. */
int dev_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    int port = -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

/* The port of "scheme://...host:P[/...]" or "host:P", 0 when none. */
int dev_port_of(const char *s)
{
    const char *at = s ? strrchr(s, '@') : NULL, *c = strrchr(at ? at : s ? s : "", ':');
    if (!c)
        return 0;
    char *end;
    long p = strtol(c + 1, &end, 10);
    return (*end == '\0' || *end == '/' || *end == ',') && p > 0 && p <= 65535 ? (int)p : 0;
}

/* The port a (re)started server takes: the one stack.env recorded for it,
 * so that clients keep a working address across `dev up` after a crash,
 * when that port is still free; else any free one. */
int dev_stable_port(const char *recorded)
{
    int p = dev_port_of(recorded);
    if (p <= 0)
        return dev_free_port();
    /* free for a server that binds with SO_REUSEADDR, as mariadbd,
     * redis-server and our broker do: connections of the dead one may
     * still sit in TIME_WAIT on it */
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
             bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    if (fd >= 0)
        close(fd);
    return ok ? p : dev_free_port();
}

/* Does host:port (IPv4 literal) accept a TCP connection within timeout_ms? */
int dev_tcp_probe(const char *host, int port, int timeout_ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (port <= 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return 0;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return 0;
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
        ok = 1;
    } else if (errno == EINPROGRESS) {
        struct pollfd pfd = {.fd = fd, .events = POLLOUT};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (poll(&pfd, 1, timeout_ms) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
            soerr == 0)
            ok = 1;
    }
    close(fd);
    return ok;
}

/* "host:port" → host, port. Only the first entry of a Kafka list is used. */
int dev_split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    char first[TK_URL_MAX];
    if (dev_copy_str(first, sizeof first, addr) != 0)
        return -1;
    first[strcspn(first, ",")] = '\0';
    char *colon = strrchr(first, ':');
    int64_t p = 0;
    if (!colon || tk_parse_i64(colon + 1, 1, 65535, &p) != 0)
        return -1;
    *colon = '\0';
    if (dev_copy_str(host, hostlen, first) != 0)
        return -1;
    *port = (int)p;
    return 0;
}


/* Poll ready(arg) every poll_ms until it says yes (returns 0), the process
 * dies, or timeout_ms passes (the process is then stopped); both failures
 * return -1 with the log's last line in err. */
int dev_wait_ready(long pid, int comp, int (*ready)(void *), void *arg, int timeout_ms, int poll_ms,
                      const char *what, const char *log, char *err, size_t errlen)
{
    uint64_t until = tk_mono_ms() + (uint64_t)timeout_ms;
    while (!ready(arg)) {
        if (!dev_pid_alive(pid)) {
            char tail[512];
            dev_log_tail(log, tail, sizeof tail);
            return tk_err(err, errlen, "%s exited during start-up (%s); see %s", what, tail, log);
        }
        if (tk_mono_ms() >= until) {
            dev_stop_pid(pid, dev_comp_comms[comp]);
            return tk_err(err, errlen, "%s was not ready within %d s; see %s", what, timeout_ms / 1000, log);
        }
        dev_sleep_ms(poll_ms);
    }
    return 0;
}

/* Can we bind 127.0.0.1:port (nobody listens there)? */
int dev_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}
