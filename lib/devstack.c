/* The private local stack (MariaDB, Redis, embedded Kafka) and backend
 * resolution (flag > environment > stack.env, starting the stack on demand).
 *
 * Servers are started from the system binaries into a state dir, each on a
 * free loopback port picked by binding port 0, and detached with a double
 * fork so they outlive the command that started them. Their pids and URLs
 * go to <state>/stack.env; `down` stops exactly those pids (checking the
 * process name first, so a recycled pid is never killed). Kafka has no
 * standalone server here: a child process hosts librdkafka's mock cluster.
 *
 * A zombie counts as stopped: in some containers nobody reaps orphans, and
 * kill(pid, 0) alone would call a dead server alive. */
#include "ticketctl/devstack.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"

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

#define DEFAULT_STATE "./.ticketctl"
#define MYSQL_START_MS 60000
#define REDIS_START_MS 30000
#define KAFKA_START_MS 30000
#define STOP_TERM_MS 30000
#define STOP_KILL_MS 5000
#define KAFKA_COMM "tk-kafka"
#define SERVE_COMM "ticketctl" /* /proc/PID/comm of a serve instance */
#define NGINX_COMM "nginx"
#define SERVE_START_MS 60000
#define NGINX_START_MS 15000

static const char *const comp_names[TK_DEV_NCOMP] = {"mysql", "redis", "kafka"};
/* /proc/<pid>/comm of each component, checked before signalling a pid. */
static const char *const comp_comms[TK_DEV_NCOMP] = {"mariadbd", "redis-server", KAFKA_COMM};

/* ---- small helpers ------------------------------------------------------ */

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* snprintf that reports truncation: 0 or -1. */
static int fmt_path(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fmt_path(char *out, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(out, n, fmt, ap);
    va_end(ap);
    return (len < 0 || (size_t)len >= n) ? -1 : 0;
}

static int copy_str(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        return -1;
    memcpy(dst, src, len + 1);
    return 0;
}

static int mkdir_p(const char *path)
{
    char tmp[PATH_MAX];
    if (copy_str(tmp, sizeof tmp, path) != 0)
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

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Find an executable in $PATH or the sbin dirs (mariadbd lives in /usr/sbin,
 * which a non-root PATH often lacks). */
static int find_bin(const char *name, char *out, size_t outlen)
{
    const char *path = getenv("PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s:/usr/sbin:/usr/local/sbin:/sbin:/usr/bin:/bin", path ? path : "");
    char *save = NULL;
    for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        if (fmt_path(out, outlen, "%s/%s", d, name) == 0 && access(out, X_OK) == 0)
            return 0;
    }
    return -1;
}

/* Read the first line of a small file into buf (newline stripped). */
static int read_line(const char *path, char *buf, size_t n)
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

static long read_pidfile(const char *path)
{
    char line[32];
    int64_t pid = 0;
    if (read_line(path, line, sizeof line) != 0 || tk_parse_i64(line, 1, INT_MAX, &pid) != 0)
        return 0;
    return (long)pid;
}

/* Write a whole file atomically (tmp + rename). */
static int write_file(const char *path, const char *content)
{
    char tmp[PATH_MAX];
    if (fmt_path(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) != 0)
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
static void log_tail(const char *path, char *out, size_t n)
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
static int pid_alive(long pid)
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

static int pid_is(long pid, const char *comm)
{
    char path[64], name[64];
    snprintf(path, sizeof path, "/proc/%ld/comm", pid);
    if (read_line(path, name, sizeof name) != 0)
        return 1; /* no /proc: cannot tell, assume ours */
    return strcmp(name, comm) == 0;
}

/* Stop one of our servers: `sig` (SIGTERM; SIGQUIT for nginx's graceful
 * stop), wait, SIGKILL. A pid that is gone or now names another program is
 * left alone. Returns 0 if it is gone. */
static int stop_pid_sig(long pid, const char *comm, int sig)
{
    if (!pid_alive(pid) || !pid_is(pid, comm))
        return 0;
    kill((pid_t)pid, sig);
    uint64_t until = tk_mono_ms() + STOP_TERM_MS;
    int sent_kill = 0;
    for (;;) {
        waitpid((pid_t)pid, NULL, WNOHANG); /* reap if it happens to be our child */
        if (!pid_alive(pid))
            return 0;
        if (tk_mono_ms() >= until) {
            if (sent_kill)
                return -1;
            kill((pid_t)pid, SIGKILL);
            sent_kill = 1;
            until = tk_mono_ms() + STOP_KILL_MS;
        }
        sleep_ms(50);
    }
}

static int stop_pid(long pid, const char *comm) { return stop_pid_sig(pid, comm, SIGTERM); }

typedef int (*spawn_fn)(void *arg);

/* Start argv[0] (or fn(arg) when argv is NULL) detached: double fork, new
 * session, stdin from /dev/null, stdout+stderr appended to logpath, no
 * inherited descriptors. Returns the server's pid, or -1 with err set
 * (including when exec fails, e.g. binary missing). */
static long spawn_detached(char *const argv[], spawn_fn fn, void *arg, const char *logpath,
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
static int run_wait(char *const argv[], const char *logpath)
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
static int free_port(void)
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

/* Does host:port (IPv4 literal) accept a TCP connection within timeout_ms? */
static int tcp_probe(const char *host, int port, int timeout_ms)
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
static int split_addr(const char *addr, char *host, size_t hostlen, int *port)
{
    char first[TK_URL_MAX];
    if (copy_str(first, sizeof first, addr) != 0)
        return -1;
    first[strcspn(first, ",")] = '\0';
    char *colon = strrchr(first, ':');
    int64_t p = 0;
    if (!colon || tk_parse_i64(colon + 1, 1, 65535, &p) != 0)
        return -1;
    *colon = '\0';
    if (copy_str(host, hostlen, first) != 0)
        return -1;
    *port = (int)p;
    return 0;
}

/* ---- state dir and stack.env -------------------------------------------- */

int tk_dev_state_dir(const char *arg, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *s = (arg && *arg) ? arg : getenv("TICKETCTL_STATE");
    if (!s || !*s)
        s = DEFAULT_STATE;
    if (s[0] == '/') {
        if (copy_str(out, outlen, s) != 0)
            return tk_err(err, errlen, "state dir path too long: %s", s);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return tk_err(err, errlen, "getcwd: %s", strerror(errno));
        if (!strncmp(s, "./", 2))
            s += 2;
        if (fmt_path(out, outlen, "%s/%s", cwd, s) != 0)
            return tk_err(err, errlen, "state dir path too long: %s/%s", cwd, s);
    }
    size_t n = strlen(out);
    while (n > 1 && out[n - 1] == '/')
        out[--n] = '\0';
    return 0;
}

typedef struct env_key {
    const char *key;
    size_t off;  /* string field offset, or (size_t)-1 for a pid */
    int pid_idx; /* index into pid[] when off == -1 */
} env_key;

#define ENV_STR(k, f) {k, offsetof(tk_dev_env, f), -1}
#define ENV_PID(k, i) {k, (size_t)-1, i}
static const env_key env_keys[] = {
    ENV_STR("TICKETCTL_STATE", state_dir),
    ENV_STR("TICKETCTL_MYSQL", mysql),
    ENV_STR("TICKETCTL_REDIS", redis),
    ENV_STR("TICKETCTL_KAFKA_BROKERS", kafka),
    ENV_STR("TICKETCTL_MYSQL_SOCKET", mysql_socket),
    ENV_PID("TICKETCTL_MYSQL_PID", TK_DEV_MYSQL),
    ENV_PID("TICKETCTL_REDIS_PID", TK_DEV_REDIS),
    ENV_PID("TICKETCTL_KAFKA_PID", TK_DEV_KAFKA),
    ENV_STR("TICKETCTL_TARGET", target),
    ENV_STR("TICKETCTL_SERVE_ARGS", serve_args),
};
#define N_ENV_KEYS (sizeof env_keys / sizeof env_keys[0])

/* Parse "a,b,c" of positive integers <= max into out[0..]; returns the count. */
static int parse_list(const char *val, long *out, int cap, int64_t max)
{
    char tmp[TK_URL_MAX], *save = NULL;
    int n = 0;
    if (copy_str(tmp, sizeof tmp, val) != 0)
        return 0;
    for (char *t = strtok_r(tmp, ",", &save); t && n < cap; t = strtok_r(NULL, ",", &save)) {
        int64_t v = 0;
        if (tk_parse_i64(t, 1, max, &v) != 0)
            return 0;
        out[n++] = (long)v;
    }
    return n;
}

/* The many-instances keys of stack.env (lists and the nginx pid). */
static void env_read_instances(tk_dev_env *env, const char *key, const char *val)
{
    long v[TK_DEV_MAX_INSTANCES];
    int n;
    if (!strcmp(key, "TICKETCTL_INSTANCE_PIDS")) {
        n = parse_list(val, v, TK_DEV_MAX_INSTANCES, INT_MAX);
        for (int i = 0; i < n; i++)
            env->inst_pid[i] = v[i];
        if (n > env->instances)
            env->instances = n;
    } else if (!strcmp(key, "TICKETCTL_INSTANCE_PORTS")) {
        n = parse_list(val, v, TK_DEV_MAX_INSTANCES, 65535);
        for (int i = 0; i < n; i++)
            env->inst_port[i] = (int)v[i];
        if (n > env->instances)
            env->instances = n;
    } else if (!strcmp(key, "TICKETCTL_NGINX_PID")) {
        int64_t pid = 0;
        if (tk_parse_i64(val, 1, INT_MAX, &pid) == 0)
            env->nginx_pid = (long)pid;
    }
}

int tk_dev_env_read(const char *state_dir, tk_dev_env *env, char *err, size_t errlen)
{
    memset(env, 0, sizeof *env);
    if (tk_dev_state_dir(state_dir, env->state_dir, sizeof env->state_dir, err, errlen) != 0)
        return -1;
    char path[PATH_MAX];
    if (fmt_path(path, sizeof path, "%s/stack.env", env->state_dir) != 0)
        return tk_err(err, errlen, "state dir path too long");
    FILE *f = fopen(path, "re");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        return tk_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
    }
    char line[TK_URL_MAX + 64];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (line[0] == '#' || !eq)
            continue;
        *eq = '\0';
        const char *val = eq + 1;
        for (size_t i = 0; i < N_ENV_KEYS; i++) {
            if (strcmp(line, env_keys[i].key) != 0)
                continue;
            if (env_keys[i].off != (size_t)-1) {
                if (strcmp(line, "TICKETCTL_STATE") != 0) /* keep the resolved path */
                    copy_str((char *)env + env_keys[i].off, TK_URL_MAX, val);
            } else {
                int64_t pid = 0;
                if (tk_parse_i64(val, 1, INT_MAX, &pid) == 0)
                    env->pid[env_keys[i].pid_idx] = (long)pid;
            }
        }
        env_read_instances(env, line, val);
    }
    fclose(f);
    return 0;
}

int tk_dev_env_format(const tk_dev_env *env, int shell_export, char *buf, size_t buflen)
{
    size_t o = 0;
    if (buflen == 0)
        return -1;
    buf[0] = '\0';
    for (size_t i = 0; i < N_ENV_KEYS; i++) {
        char val[TK_URL_MAX];
        if (env_keys[i].off != (size_t)-1)
            snprintf(val, sizeof val, "%s", (const char *)env + env_keys[i].off);
        else if (env->pid[env_keys[i].pid_idx] > 0)
            snprintf(val, sizeof val, "%ld", env->pid[env_keys[i].pid_idx]);
        else
            continue;
        if (!val[0])
            continue;
        int n;
        if (shell_export) {
            /* single-quote the value; a ' becomes '\'' */
            char q[TK_URL_MAX * 4 + 1];
            size_t qo = 0;
            for (const char *c = val; *c; c++) {
                if (*c == '\'') {
                    memcpy(q + qo, "'\\''", 4);
                    qo += 4;
                } else {
                    q[qo++] = *c;
                }
            }
            q[qo] = '\0';
            n = snprintf(buf + o, buflen - o, "export %s='%s'\n", env_keys[i].key, q);
        } else {
            n = snprintf(buf + o, buflen - o, "%s=%s\n", env_keys[i].key, val);
        }
        if (n < 0 || (size_t)n >= buflen - o)
            return -1;
        o += (size_t)n;
    }
    /* many instances: TICKETCTL_INSTANCES, _INSTANCE_PIDS, _INSTANCE_PORTS, _NGINX_PID */
    if (env->instances > 0 && env->instances <= TK_DEV_MAX_INSTANCES) {
        char pids[TK_DEV_MAX_INSTANCES * 12 + 1] = "", ports[TK_DEV_MAX_INSTANCES * 7 + 1] = "";
        size_t pl = 0, ql = 0;
        for (int i = 0; i < env->instances; i++) {
            pl += (size_t)snprintf(pids + pl, sizeof pids - pl, "%s%ld", i ? "," : "", env->inst_pid[i]);
            ql += (size_t)snprintf(ports + ql, sizeof ports - ql, "%s%d", i ? "," : "", env->inst_port[i]);
        }
        const char *fmt = shell_export ? "export %s='%s'\n" : "%s=%s\n";
        char nginx[24];
        snprintf(nginx, sizeof nginx, "%ld", env->nginx_pid);
        char cnt[16];
        snprintf(cnt, sizeof cnt, "%d", env->instances);
        const char *kv[][2] = {{"TICKETCTL_INSTANCES", cnt},
                               {"TICKETCTL_INSTANCE_PIDS", pids},
                               {"TICKETCTL_INSTANCE_PORTS", ports},
                               {"TICKETCTL_NGINX_PID", env->nginx_pid > 0 ? nginx : ""}};
        for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++) {
            if (!kv[i][1][0])
                continue;
            int n = snprintf(buf + o, buflen - o, fmt, kv[i][0], kv[i][1]);
            if (n < 0 || (size_t)n >= buflen - o)
                return -1;
            o += (size_t)n;
        }
    }
    return (int)o;
}

static int env_write(const tk_dev_env *env, char *err, size_t errlen)
{
    char path[PATH_MAX], body[8192];
    if (fmt_path(path, sizeof path, "%s/stack.env", env->state_dir) != 0 ||
        tk_dev_env_format(env, 0, body, sizeof body) < 0)
        return tk_err(err, errlen, "stack.env: path or content too long");
    if (write_file(path, body) != 0)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- status ------------------------------------------------------------- */

static void probe_comp(const tk_dev_env *env, int i, tk_dev_comp *c)
{
    char host[128] = "";
    int port = 0;
    memset(c, 0, sizeof *c);
    c->name = comp_names[i];
    c->pid = env->pid[i];
    if (i == TK_DEV_MYSQL) {
        tk_mysql_url u;
        if (env->mysql[0] && tk_mysql_url_parse(env->mysql, &u, NULL, 0) == 0) {
            snprintf(host, sizeof host, "%s", u.host);
            port = (int)u.port;
        }
    } else if (i == TK_DEV_REDIS) {
        if (env->redis[0] && tk_redis_url_parse(env->redis, host, sizeof host, &port) != 0)
            port = 0;
    } else if (env->kafka[0] && split_addr(env->kafka, host, sizeof host, &port) != 0) {
        port = 0;
    }
    if (port > 0)
        fmt_path(c->addr, sizeof c->addr, "%s:%d", host, port);
    c->pid_alive = pid_alive(c->pid) && pid_is(c->pid, comp_comms[i]);
    c->port_open = port > 0 && tcp_probe(host, port, 500);
    c->running = c->pid_alive && c->port_open;
}

/* A serve instance or nginx: pid alive with the right comm, port answering. */
static void probe_proc(tk_dev_comp *c, const char *name, long pid, const char *comm, int port)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->pid = pid;
    if (port > 0)
        fmt_path(c->addr, sizeof c->addr, "127.0.0.1:%d", port);
    c->pid_alive = pid_alive(pid) && pid_is(pid, comm);
    c->port_open = port > 0 && tcp_probe("127.0.0.1", port, 500);
    c->running = c->pid_alive && c->port_open;
}

/* The port of "http://127.0.0.1:P", or 0. */
static int target_port(const char *target)
{
    const char *c = strrchr(target, ':');
    int64_t p = 0;
    if (strncmp(target, "http://127.0.0.1:", 17) != 0 || !c || tk_parse_i64(c + 1, 1, 65535, &p) != 0)
        return 0;
    return (int)p;
}

int tk_dev_status(const char *state_dir, tk_dev_report *st, char *err, size_t errlen)
{
    tk_dev_env env;
    memset(st, 0, sizeof *st);
    int rc = tk_dev_env_read(state_dir, &env, err, errlen);
    if (rc < 0)
        return -1;
    snprintf(st->state_dir, sizeof st->state_dir, "%s", env.state_dir);
    st->have_env = rc == 0;
    st->all_running = st->have_env;
    for (int i = 0; i < TK_DEV_NCOMP; i++) {
        probe_comp(&env, i, &st->comp[i]);
        if (!st->comp[i].running)
            st->all_running = 0;
    }
    st->instances = env.instances;
    st->all_instances_running = 1;
    for (int i = 0; i < env.instances; i++) {
        probe_proc(&st->inst[i], "serve", env.inst_pid[i], SERVE_COMM, env.inst_port[i]);
        if (!st->inst[i].running)
            st->all_instances_running = 0;
    }
    probe_proc(&st->nginx, "nginx", env.nginx_pid, NGINX_COMM, target_port(env.target));
    if (env.nginx_pid > 0 && !st->nginx.running)
        st->all_instances_running = 0;
    return 0;
}

int tk_dev_target(const char *state_dir, char *out, size_t outlen)
{
    tk_dev_env env;
    int rc = tk_dev_env_read(state_dir, &env, NULL, 0);
    if (rc != 0)
        return rc;
    int port = target_port(env.target);
    if (env.nginx_pid <= 0 || port <= 0 || !pid_alive(env.nginx_pid) || !pid_is(env.nginx_pid, NGINX_COMM) ||
        !tcp_probe("127.0.0.1", port, 500))
        return 1;
    return copy_str(out, outlen, env.target) == 0 ? 0 : -1;
}

/* ---- MariaDB ------------------------------------------------------------ */

static int mysql_setup(const char *sock, char *err, size_t errlen)
{
    static const char *const sql[] = {
        "CREATE DATABASE IF NOT EXISTS ticketctl CHARACTER SET utf8mb4",
        "CREATE USER IF NOT EXISTS 'ticketctl'@'127.0.0.1' IDENTIFIED BY 'ticketctl'",
        "CREATE USER IF NOT EXISTS 'ticketctl'@'localhost' IDENTIFIED BY 'ticketctl'",
        "GRANT ALL PRIVILEGES ON ticketctl.* TO 'ticketctl'@'127.0.0.1'",
        "GRANT ALL PRIVILEGES ON ticketctl.* TO 'ticketctl'@'localhost'",
        NULL,
    };
    char e[256];
    MYSQL *db = mysql_init(NULL);
    if (!db)
        return tk_err(err, errlen, "mysql_init: out of memory");
    if (!mysql_real_connect(db, NULL, "root", "", NULL, 0, sock, 0)) {
        tk_err(err, errlen, "MariaDB setup: cannot connect as root via %s: %s", sock, mysql_error(db));
        mysql_close(db);
        return -1;
    }
    for (int i = 0; sql[i]; i++) {
        if (tk_db_exec(db, sql[i], e, sizeof e) != 0) {
            mysql_close(db);
            return tk_err(err, errlen, "MariaDB setup: %s: %s", sql[i], e);
        }
    }
    mysql_close(db);
    return 0;
}

/* Poll ready(arg) every poll_ms until it says yes (returns 0), the process
 * dies, or timeout_ms passes (the process is then stopped); both failures
 * return -1 with the log's last line in err. */
static int wait_ready(long pid, int comp, int (*ready)(void *), void *arg, int timeout_ms, int poll_ms,
                      const char *what, const char *log, char *err, size_t errlen)
{
    uint64_t until = tk_mono_ms() + (uint64_t)timeout_ms;
    while (!ready(arg)) {
        if (!pid_alive(pid)) {
            char tail[512];
            log_tail(log, tail, sizeof tail);
            return tk_err(err, errlen, "%s exited during start-up (%s); see %s", what, tail, log);
        }
        if (tk_mono_ms() >= until) {
            stop_pid(pid, comp_comms[comp]);
            return tk_err(err, errlen, "%s was not ready within %d s; see %s", what, timeout_ms / 1000, log);
        }
        sleep_ms(poll_ms);
    }
    return 0;
}

static int mysql_accepts(const char *sock)
{
    MYSQL *db = mysql_init(NULL);
    if (!db)
        return 0;
    unsigned timeout = 2;
    mysql_optionsv(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    int ok = mysql_real_connect(db, NULL, "root", "", NULL, 0, sock, 0) != NULL;
    mysql_close(db);
    return ok;
}

/* wait_ready() probe. */
static int mysql_ready(void *sock) { return mysql_accepts(sock); }

static int mysql_start(tk_dev_env *env, char *err, size_t errlen)
{
    const char *st = env->state_dir;
    char dir[PATH_MAX], data[PATH_MAX], sysdb[PATH_MAX], sock[PATH_MAX], pidf[PATH_MAX];
    char errlog[PATH_MAX], outlog[PATH_MAX], instlog[PATH_MAX], bin[PATH_MAX], inst[PATH_MAX];
    if (fmt_path(dir, sizeof dir, "%s/mysql", st) || fmt_path(data, sizeof data, "%s/data", dir) ||
        fmt_path(sysdb, sizeof sysdb, "%s/mysql", data) || fmt_path(pidf, sizeof pidf, "%s/mysqld.pid", dir) ||
        fmt_path(errlog, sizeof errlog, "%s/error.log", dir) ||
        fmt_path(outlog, sizeof outlog, "%s/mysqld.out", dir) ||
        fmt_path(instlog, sizeof instlog, "%s/install.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (find_bin("mariadbd", bin, sizeof bin) != 0)
        return tk_err(err, errlen, "mariadbd not found: run scripts/install-deps");
    if (mkdir_p(data) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", data, strerror(errno));

    /* A unix socket path must fit sun_path (108 bytes): long state dirs get
     * a per-state-dir name in /tmp instead. */
    struct sockaddr_un sun;
    if (fmt_path(sock, sizeof sock, "%s/mysqld.sock", dir) != 0 || strlen(sock) >= sizeof sun.sun_path) {
        uint32_t h = 2166136261u; /* FNV-1a of the state dir */
        for (const char *c = st; *c; c++)
            h = (h ^ (unsigned char)*c) * 16777619u;
        snprintf(sock, sizeof sock, "/tmp/ticketctl-mysqld-%08x.sock", h);
    }

    /* a server left by a crashed run holds the datadir: stop it first */
    stop_pid(read_pidfile(pidf), comp_comms[TK_DEV_MYSQL]);

    if (!file_exists(sysdb)) {
        if (find_bin("mariadb-install-db", inst, sizeof inst) != 0)
            return tk_err(err, errlen, "mariadb-install-db not found: run scripts/install-deps");
        char a_data[PATH_MAX + 16];
        snprintf(a_data, sizeof a_data, "--datadir=%s", data);
        char *argv[] = {inst, "--no-defaults", a_data, "--user=root",
                        "--auth-root-authentication-method=normal", "--skip-test-db", NULL};
        int rc = run_wait(argv, instlog);
        if (rc != 0)
            return tk_err(err, errlen, "mariadb-install-db failed (exit %d); see %s", rc, instlog);
    }

    int port = free_port();
    if (port <= 0)
        return tk_err(err, errlen, "no free TCP port on 127.0.0.1");
    char a_data[PATH_MAX + 16], a_port[32], a_sock[PATH_MAX + 16], a_pid[PATH_MAX + 16],
        a_log[PATH_MAX + 16];
    snprintf(a_data, sizeof a_data, "--datadir=%s", data);
    snprintf(a_port, sizeof a_port, "--port=%d", port);
    snprintf(a_sock, sizeof a_sock, "--socket=%s", sock);
    snprintf(a_pid, sizeof a_pid, "--pid-file=%s", pidf);
    snprintf(a_log, sizeof a_log, "--log-error=%s", errlog);
    /* Sized for a bulk-load rehearsal box as well as the small stacks of the
     * tests (`ticketctl seed --profile large`, ~158M rows, scripts/bench-seed):
     *   buffer pool 4G: the large load's index builds and the later p99
     *     queries work in memory; InnoDB touches pool pages only as data
     *     arrive, so a small stack stays small;
     *   redo log 1G (was 256M): a load of ~20 GB through a small log is one
     *     checkpoint after another, each forcing dirty pages out; 1G costs
     *     ~0.75 GB more disk per stack. Even 1G kept the checkpoint age at
     *     ~80 % during the large seats load (page cleaner busy, ~80k rows/s);
     *     scripts/bench-seed resizes its own stack's log to 4G online
     *     (dynamic since MariaDB 10.11; ~110k rows/s) rather than costing
     *     every stack 4 GB of disk;
     *   sort buffer 64M (default 1M): fewer merge passes when the secondary
     *     indexes are built after the load (per index build, freed after);
     *   io capacity 2000/4000: background flushing at SSD rates, not the
     *     default 200 IOPS of a spinning disk. */
    /* Durable mode (`dev up --durable`, <state>/mysql/durable): every commit
     * reaches the disk (redo log fsync per commit group) and the binary log
     * is on and synced, as a production primary runs; the default writes
     * the redo log at commit but fsyncs it once a second (a MariaDB crash
     * loses nothing, an OS crash up to ~1 s) and has no binlog. The cost of
     * each is in scripts/bench-server-cpu's durable-vs-default figures. */
    char durable_mark[PATH_MAX + 16], a_binlog[PATH_MAX + 32], started_mark[PATH_MAX + 16];
    snprintf(durable_mark, sizeof durable_mark, "%s/durable", dir);
    snprintf(started_mark, sizeof started_mark, "%s/durable.running", dir);
    snprintf(a_binlog, sizeof a_binlog, "--log-bin=%s/binlog", dir);
    int durable = file_exists(durable_mark);
    char *argv[] = {bin, "--no-defaults", a_data, a_port, "--bind-address=127.0.0.1", a_sock, a_pid,
                    "--user=root", a_log, "--skip-name-resolve", "--innodb-buffer-pool-size=4G",
                    durable ? "--innodb-flush-log-at-trx-commit=1" : "--innodb-flush-log-at-trx-commit=2",
                    "--innodb-log-file-size=1G",
                    "--innodb-sort-buffer-size=64M", "--innodb-io-capacity=2000",
                    "--innodb-io-capacity-max=4000",
                    "--max-connections=1000", durable ? a_binlog : "--skip-log-bin", "--local-infile=1",
                    "--max-allowed-packet=64M", durable ? "--sync-binlog=1" : "--sync-binlog=0",
                    durable ? "--binlog-format=ROW" : NULL, NULL};
    unlink(started_mark);
    long pid = spawn_detached(argv, NULL, NULL, outlog, err, errlen);
    if (pid < 0)
        return -1;

    if (wait_ready(pid, TK_DEV_MYSQL, mysql_ready, sock, MYSQL_START_MS, 200, "mariadbd", errlog, err, errlen) != 0)
        return -1;
    if (durable) { /* what runs, for tk_dev_durable() */
        FILE *f = fopen(started_mark, "w");
        if (f)
            fclose(f);
    }
    if (mysql_setup(sock, err, errlen) != 0) {
        stop_pid(pid, comp_comms[TK_DEV_MYSQL]);
        return -1;
    }
    env->pid[TK_DEV_MYSQL] = pid;
    copy_str(env->mysql_socket, sizeof env->mysql_socket, sock);
    snprintf(env->mysql, sizeof env->mysql, "mysql://ticketctl:ticketctl@127.0.0.1:%d/ticketctl", port);
    return 0;
}

/* ---- Redis -------------------------------------------------------------- */

static int redis_pings(int port)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG");
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

/* wait_ready() probes. */
static int redis_ready(void *port) { return redis_pings(*(int *)port); }

struct kafka_boot {
    const char *path;
    char addr[TK_URL_MAX];
};

static int kafka_ready(void *arg)
{
    struct kafka_boot *kb = arg;
    return read_line(kb->path, kb->addr, sizeof kb->addr) == 0 && kb->addr[0];
}

static int redis_start(tk_dev_env *env, char *err, size_t errlen)
{
    const char *st = env->state_dir;
    char dir[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX], bin[PATH_MAX];
    if (fmt_path(dir, sizeof dir, "%s/redis", st) || fmt_path(pidf, sizeof pidf, "%s/redis.pid", dir) ||
        fmt_path(log, sizeof log, "%s/redis.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (find_bin("redis-server", bin, sizeof bin) != 0)
        return tk_err(err, errlen, "redis-server not found: run scripts/install-deps");
    if (mkdir_p(dir) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    stop_pid(read_pidfile(pidf), comp_comms[TK_DEV_REDIS]);
    int port = free_port();
    if (port <= 0)
        return tk_err(err, errlen, "no free TCP port on 127.0.0.1");
    char a_port[16];
    snprintf(a_port, sizeof a_port, "%d", port);
    /* Detached by spawn_detached() rather than --daemonize, so the pid is
     * known at once and a failed exec is reported. */
    char *argv[] = {bin, "--port", a_port, "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no",
                    "--pidfile", pidf, "--logfile", log, "--save", "", "--appendonly", "no",
                    "--protected-mode", "no", "--maxclients", "20000", NULL};
    long pid = spawn_detached(argv, NULL, NULL, log, err, errlen);
    if (pid < 0)
        return -1;
    if (wait_ready(pid, TK_DEV_REDIS, redis_ready, &port, REDIS_START_MS, 100, "redis-server", log, err, errlen) != 0)
        return -1;
    env->pid[TK_DEV_REDIS] = pid;
    snprintf(env->redis, sizeof env->redis, "redis://127.0.0.1:%d", port);
    return 0;
}

/* ---- Kafka (librdkafka mock cluster in a child process) ----------------- */

int tk_dev_kafka_broker_run(const char *state_dir, char *err, size_t errlen)
{
    char st[TK_URL_MAX], dir[PATH_MAX], boot[PATH_MAX], pidf[PATH_MAX], errstr[512];
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    if (fmt_path(dir, sizeof dir, "%s/kafka", st) || fmt_path(boot, sizeof boot, "%s/bootstrap", dir) ||
        fmt_path(pidf, sizeof pidf, "%s/broker.pid", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (mkdir_p(dir) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    prctl(PR_SET_NAME, KAFKA_COMM, 0, 0, 0);

    /* block the stop signals before librdkafka starts threads, so they all
     * inherit the mask and sigwait() below receives them */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    sigaddset(&stop, SIGUSR1); /* fault injection: broker down */
    sigaddset(&stop, SIGUSR2); /* ... and up again */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "client.id", "ticketctl-mock-broker", errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        return tk_err(err, errlen, "rd_kafka_new: %s", errstr);
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, 1);
    if (!mc) {
        rd_kafka_destroy(rk);
        return tk_err(err, errlen, "cannot create the Kafka mock cluster");
    }
    char line[TK_URL_MAX + 2], pidline[32];
    snprintf(line, sizeof line, "%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    snprintf(pidline, sizeof pidline, "%ld\n", (long)getpid());
    int rc = 0;
    if (write_file(pidf, pidline) != 0 || write_file(boot, line) != 0) {
        rc = tk_err(err, errlen, "cannot write %s: %s", boot, strerror(errno));
    } else {
        fprintf(stderr, "kafka mock broker %ld listening on %s", (long)getpid(), line);
        int sig = 0;
        for (;;) {
            sigwait(&stop, &sig);
            if (sig == SIGUSR1 || sig == SIGUSR2) {
                /* The mock broker drops its connections and refuses new ones
                 * while down; topics and offsets survive (rdkafka_mock.h). */
                if (sig == SIGUSR1)
                    rd_kafka_mock_broker_set_down(mc, 1);
                else
                    rd_kafka_mock_broker_set_up(mc, 1);
                fprintf(stderr, "kafka mock broker: %s\n", sig == SIGUSR1 ? "down" : "up");
                continue;
            }
            break;
        }
        fprintf(stderr, "kafka mock broker: signal %d, shutting down\n", sig);
    }
    unlink(boot);
    unlink(pidf);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}

int tk_dev_kafka_fault(const char *state_dir, int down, char *err, size_t errlen)
{
    tk_dev_env env;
    int rc = tk_dev_env_read(state_dir, &env, err, errlen);
    if (rc != 0)
        return rc > 0 ? tk_err(err, errlen, "no stack.env: run 'ticketctl dev up'") : -1;
    if (env.pid[TK_DEV_KAFKA] <= 0 || kill((pid_t)env.pid[TK_DEV_KAFKA], down ? SIGUSR1 : SIGUSR2) != 0)
        return tk_err(err, errlen, "the Kafka broker (pid %ld) is not running", env.pid[TK_DEV_KAFKA]);
    return 0;
}

static int broker_fn(void *arg)
{
    char e[256];
    if (tk_dev_kafka_broker_run(arg, e, sizeof e) != 0) {
        fprintf(stderr, "kafka broker: %s\n", e);
        return -1;
    }
    return 0;
}

static int kafka_start(tk_dev_env *env, char *err, size_t errlen)
{
    const char *st = env->state_dir;
    char dir[PATH_MAX], boot[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX], exe[PATH_MAX];
    if (fmt_path(dir, sizeof dir, "%s/kafka", st) || fmt_path(boot, sizeof boot, "%s/bootstrap", dir) ||
        fmt_path(pidf, sizeof pidf, "%s/broker.pid", dir) || fmt_path(log, sizeof log, "%s/broker.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (mkdir_p(dir) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    stop_pid(read_pidfile(pidf), comp_comms[TK_DEV_KAFKA]);
    unlink(boot);

    /* Re-exec ticketctl when we are it (a clean process image); from
     * another program (a test binary) use $TICKETCTL_BIN, else run the
     * broker in the forked child directly. */
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    const char *base = strrchr(exe, '/');
    base = base ? base + 1 : exe;
    if (strncmp(base, "ticketctl", 9) != 0) {
        const char *b = getenv("TICKETCTL_BIN");
        if (b && access(b, X_OK) == 0)
            snprintf(exe, sizeof exe, "%s", b);
        else
            exe[0] = '\0';
    }
    char a_state[TK_URL_MAX];
    snprintf(a_state, sizeof a_state, "%s", st);
    char *argv[] = {exe, "dev", "kafka-broker", "--state", a_state, NULL};
    long pid = spawn_detached(exe[0] ? argv : NULL, broker_fn, a_state, log, err, errlen);
    if (pid < 0)
        return -1;

    struct kafka_boot kb = {.path = boot};
    if (wait_ready(pid, TK_DEV_KAFKA, kafka_ready, &kb, KAFKA_START_MS, 50, "kafka mock broker", log, err,
                   errlen) != 0)
        return -1;
    const char *addr = kb.addr;
    env->pid[TK_DEV_KAFKA] = pid;
    snprintf(env->kafka, sizeof env->kafka, "%s", addr);
    return 0;
}

/* ---- up / down ---------------------------------------------------------- */

/* Take <state>/lock; returns the fd (close to release) or -1. */
static int lock_state(const char *st, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (fmt_path(path, sizeof path, "%s/lock", st) != 0)
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (mkdir_p(st) != 0)
        return tk_err(err, errlen, "cannot create state dir %s: %s", st, strerror(errno));
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return tk_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return tk_err(err, errlen, "flock %s: %s", path, strerror(errno));
        }
    }
    return fd;
}

typedef int (*start_fn)(tk_dev_env *env, char *err, size_t errlen);
static const start_fn starters[TK_DEV_NCOMP] = {mysql_start, redis_start, kafka_start};

/* Start what is not running and write stack.env; the caller holds the lock.
 * Returns the number of components started, or -1 (what it started is
 * stopped again). */
static int up_locked(const char *st, tk_dev_env *out, char *err, size_t errlen)
{
    tk_dev_env env;
    int started[TK_DEV_NCOMP] = {0};
    int rc = tk_dev_env_read(st, &env, err, errlen);
    if (rc < 0)
        return -1;
    int changed = rc == 1;
    for (int i = 0; i < TK_DEV_NCOMP; i++) {
        tk_dev_comp c;
        probe_comp(&env, i, &c);
        if (c.running)
            continue;
        if (c.pid_alive) /* recorded but not answering: replace it */
            stop_pid(c.pid, comp_comms[i]);
        env.pid[i] = 0;
        if (starters[i](&env, err, errlen) != 0)
            goto fail;
        started[i] = 1;
        changed = 1;
    }
    if (changed && env_write(&env, err, errlen) != 0)
        goto fail;
    *out = env;
    int n = 0;
    for (int i = 0; i < TK_DEV_NCOMP; i++)
        n += started[i];
    return n;
fail:
    /* leave nothing running that stack.env does not record */
    for (int i = 0; i < TK_DEV_NCOMP; i++)
        if (started[i])
            stop_pid(env.pid[i], comp_comms[i]);
    return -1;
}

int tk_dev_durable(const char *state_dir, char *err, size_t errlen)
{
    char st[TK_URL_MAX], dir[PATH_MAX], path[PATH_MAX];
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    if (fmt_path(dir, sizeof dir, "%s/mysql", st) != 0 || mkdir_p(dir) != 0 ||
        fmt_path(path, sizeof path, "%s/durable", dir) != 0)
        return tk_err(err, errlen, "cannot create %s/mysql", st);
    FILE *f = fopen(path, "w");
    if (!f)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    fclose(f);
    if (fmt_path(path, sizeof path, "%s/durable.running", dir) == 0 && file_exists(path))
        return 0;
    /* a MariaDB running in the default mode: stop it, up starts it durable
     * (and replaces the instances, as after any backend restart) */
    int lock = lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    int rc = 0;
    if (fmt_path(path, sizeof path, "%s/mysqld.pid", dir) == 0 &&
        stop_pid(read_pidfile(path), comp_comms[TK_DEV_MYSQL]) != 0)
        rc = tk_err(err, errlen, "mariadbd did not stop");
    close(lock);
    return rc;
}

int tk_dev_up(const char *state_dir, tk_dev_env *out, char *err, size_t errlen)
{
    tk_dev_env env;
    char st[TK_URL_MAX];
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    int lock = lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    int n = up_locked(st, &env, err, errlen);
    close(lock);
    if (n >= 0 && out)
        *out = env;
    return n;
}

/* ---- many instances: serve processes behind nginx ------------------------ */

/* The ticketctl binary to run instances from: ourselves when we are
 * `ticketctl`, else $TICKETCTL_BIN (a test binary). Its comm is then
 * SERVE_COMM, which `down` checks before signalling. */
static int serve_exe(char *exe, size_t n, char *err, size_t errlen)
{
    ssize_t len = readlink("/proc/self/exe", exe, n - 1);
    exe[len > 0 ? len : 0] = '\0';
    const char *base = strrchr(exe, '/');
    if (len > 0 && base && !strcmp(base + 1, SERVE_COMM))
        return 0;
    const char *b = getenv("TICKETCTL_BIN");
    if (b && access(b, X_OK) == 0 && copy_str(exe, n, b) == 0)
        return 0;
    return tk_err(err, errlen, "cannot find the ticketctl binary for the instances (set TICKETCTL_BIN)");
}

/* GET /readyz on 127.0.0.1:port answers 200 within 2 s. */
static int http_ready(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct timeval tv = {2, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static const char req[] = "GET /readyz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    char buf[64] = "";
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
        size_t got = 0;
        ssize_t r;
        while (got < 12 && (r = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
            got += (size_t)r;
        buf[got] = '\0';
        ok = got >= 12 && !strncmp(buf, "HTTP/1.", 7) && !strncmp(buf + 9, "200", 3);
    }
    close(fd);
    return ok;
}

/* Start instance `slot` (0-based; files in <state>/serve/<slot+1>/) and wait
 * until it answers GET /readyz. Returns its pid (and *port), or -1. */
static long inst_start(const tk_dev_env *env, int slot, const char *exe, const char *serve_args, int *port,
                       char *err, size_t errlen)
{
    char dir[PATH_MAX], portf[PATH_MAX], log[PATH_MAX];
    if (fmt_path(dir, sizeof dir, "%s/serve/%d", env->state_dir, slot + 1) ||
        fmt_path(portf, sizeof portf, "%s/port", dir) || fmt_path(log, sizeof log, "%s/serve.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", env->state_dir);
    if (mkdir_p(dir) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    unlink(portf);
    char a_exe[PATH_MAX], a_state[TK_URL_MAX], a_mysql[TK_URL_MAX], a_redis[TK_URL_MAX], a_kafka[TK_URL_MAX];
    char extra[1024];
    snprintf(a_exe, sizeof a_exe, "%s", exe);
    snprintf(a_state, sizeof a_state, "%s", env->state_dir);
    snprintf(a_mysql, sizeof a_mysql, "%s", env->mysql);
    snprintf(a_redis, sizeof a_redis, "%s", env->redis);
    snprintf(a_kafka, sizeof a_kafka, "%s", env->kafka);
    if (copy_str(extra, sizeof extra, serve_args ? serve_args : "") != 0)
        return tk_err(err, errlen, "serve arguments too long (max %zu bytes)", sizeof extra - 1);
    char *argv[64] = {a_exe, "serve", "--port", "0", "--port-file", portf, "--state", a_state,
                      "--mysql", a_mysql, "--redis", a_redis};
    int a = 12;
    if (a_kafka[0]) {
        argv[a++] = "--kafka-brokers";
        argv[a++] = a_kafka;
    }
    char *save = NULL;
    for (char *t = strtok_r(extra, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save)) {
        if (a >= 62)
            return tk_err(err, errlen, "too many serve arguments");
        argv[a++] = t;
    }
    argv[a] = NULL;
    long pid = spawn_detached(argv, NULL, NULL, log, err, errlen);
    if (pid < 0)
        return -1;
    uint64_t until = tk_mono_ms() + SERVE_START_MS;
    for (;;) {
        char line[32];
        int64_t p = 0;
        if (read_line(portf, line, sizeof line) == 0 && tk_parse_i64(line, 1, 65535, &p) == 0 && http_ready((int)p)) {
            *port = (int)p;
            return pid;
        }
        if (!pid_alive(pid)) {
            char tail[512];
            log_tail(log, tail, sizeof tail);
            return tk_err(err, errlen, "serve instance %d exited during start-up (%s); see %s", slot + 1, tail, log);
        }
        if (tk_mono_ms() >= until) {
            stop_pid(pid, SERVE_COMM);
            return tk_err(err, errlen, "serve instance %d was not ready within %d s; see %s", slot + 1,
                          SERVE_START_MS / 1000, log);
        }
        sleep_ms(100);
    }
}

/* Write <state>/nginx/nginx.conf for env's instances, nginx on 127.0.0.1:port. */
static int nginx_conf(const tk_dev_env *env, int port, const char *dir, const char *conf, char *err,
                      size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return tk_err(err, errlen, "out of memory");
    fprintf(f,
            "# Generated by `ticketctl dev up --instances %d`; rewritten on every up.\n"
            "daemon off;              # the pid dev up records is the master's\n"
            "master_process on;\n"
            "worker_processes 1;      # 2 shared cores: the instances do the work\n"
            "pid %s/nginx.pid;\n"
            "error_log %s/error.log warn;\n"
            "events { worker_connections 8192; }\n"
            "http {\n"
            "    access_log off;\n"
            "    client_body_temp_path %s/tmp/body;\n"
            "    proxy_temp_path %s/tmp/proxy;\n"
            "    fastcgi_temp_path %s/tmp/fastcgi;\n"
            "    uwsgi_temp_path %s/tmp/uwsgi;\n"
            "    scgi_temp_path %s/tmp/scgi;\n"
            "    client_max_body_size 1m;      # serve answers 413 over 64 KiB itself\n"
            "    client_body_buffer_size 128k; # bodies stay in memory\n"
            "    proxy_max_temp_file_size 0;\n"
            "    upstream ticketctl {\n",
            env->instances, dir, dir, dir, dir, dir, dir, dir);
    for (int i = 0; i < env->instances; i++)
        fprintf(f, "        server 127.0.0.1:%d max_fails=1 fail_timeout=2s; # instance %d, pid %ld\n",
                env->inst_port[i], i + 1, env->inst_pid[i]);
    fprintf(f,
            "        keepalive 64;\n"
            "        keepalive_timeout 60s; # below serve's 120 s idle timeout: nginx closes\n"
            "                               # first, so no POST meets a connection serve closed\n"
            "    }\n"
            "    server {\n"
            "        listen 127.0.0.1:%d backlog=4096;\n"
            "        location / {\n"
            "            proxy_pass http://ticketctl;\n"
            "            proxy_http_version 1.1;\n"
            "            proxy_set_header Connection \"\";\n"
            "            proxy_set_header Host $host;\n"
            "            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
            "            proxy_connect_timeout 2s;\n"
            "            proxy_read_timeout 60s;\n"
            "            # Retry on the next instance when one fails. Without\n"
            "            # `non_idempotent`, nginx retries POST and PATCH only when the\n"
            "            # request was never sent (connect refused: the instance died), so\n"
            "            # a hold or a payment is never delivered twice by the proxy; a\n"
            "            # POST cut off mid-flight gets 502 and the client retries with its\n"
            "            # Idempotency-Key. GET, HEAD, PUT, DELETE are retried on error or\n"
            "            # timeout (idempotent per RFC 9110).\n"
            "            proxy_next_upstream error timeout;\n"
            "            proxy_next_upstream_tries 2;\n"
            "            proxy_next_upstream_timeout 5s;\n"
            "        }\n"
            "    }\n"
            "}\n",
            port);
    int bad = ferror(f);
    fclose(f);
    int rc = bad || !text ? tk_err(err, errlen, "out of memory") : 0;
    if (rc == 0 && write_file(conf, text) != 0)
        rc = tk_err(err, errlen, "cannot write %s: %s", conf, strerror(errno));
    free(text);
    return rc;
}

/* Write the config for env and check it with `nginx -t`; fills bin/dir/conf/log. */
static int nginx_prepare(const tk_dev_env *env, int port, char *bin, char *dir, char *conf, char *log,
                         char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (fmt_path(dir, PATH_MAX, "%s/nginx", env->state_dir) || fmt_path(conf, PATH_MAX, "%s/nginx.conf", dir) ||
        fmt_path(log, PATH_MAX, "%s/error.log", dir) || fmt_path(tmp, sizeof tmp, "%s/tmp", dir))
        return tk_err(err, errlen, "state dir path too long: %s", env->state_dir);
    if (find_bin("nginx", bin, PATH_MAX) != 0)
        return tk_err(err, errlen, "nginx not found: install the Debian package nginx-light");
    if (mkdir_p(tmp) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    if (nginx_conf(env, port, dir, conf, err, errlen) != 0)
        return -1;
    char prefix[PATH_MAX + 1];
    snprintf(prefix, sizeof prefix, "%s/", dir);
    char *argv[] = {bin, "-t", "-q", "-p", prefix, "-c", conf, "-e", log, NULL};
    int rc = run_wait(argv, log);
    if (rc != 0) {
        char tail[512];
        log_tail(log, tail, sizeof tail);
        return tk_err(err, errlen, "nginx -t rejected %s (%s); see %s", conf, tail, log);
    }
    return 0;
}

/* Can we bind 127.0.0.1:port (nobody listens there)? */
static int port_free(int port)
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

/* Start nginx for env on port; records env->nginx_pid and env->target. */
static int nginx_start(tk_dev_env *env, int port, char *err, size_t errlen)
{
    char bin[PATH_MAX], dir[PATH_MAX], conf[PATH_MAX], log[PATH_MAX], pidf[PATH_MAX], prefix[PATH_MAX + 1];
    if (!port_free(port))
        return tk_err(err, errlen, "127.0.0.1:%d is in use: pick another --port", port);
    if (nginx_prepare(env, port, bin, dir, conf, log, err, errlen) != 0)
        return -1;
    if (fmt_path(pidf, sizeof pidf, "%s/nginx.pid", dir) == 0)
        stop_pid_sig(read_pidfile(pidf), NGINX_COMM, SIGQUIT); /* left by a crashed run */
    snprintf(prefix, sizeof prefix, "%s/", dir);
    char *argv[] = {bin, "-p", prefix, "-c", conf, "-e", log, NULL};
    long pid = spawn_detached(argv, NULL, NULL, log, err, errlen);
    if (pid < 0)
        return -1;
    uint64_t until = tk_mono_ms() + NGINX_START_MS;
    while (!http_ready(port)) { /* through nginx to an instance's /readyz */
        if (!pid_alive(pid)) {
            char tail[512];
            log_tail(log, tail, sizeof tail);
            return tk_err(err, errlen, "nginx exited during start-up (%s); see %s", tail, log);
        }
        if (tk_mono_ms() >= until) {
            stop_pid_sig(pid, NGINX_COMM, SIGQUIT);
            return tk_err(err, errlen, "nginx did not listen on 127.0.0.1:%d within %d s; see %s", port,
                          NGINX_START_MS / 1000, log);
        }
        sleep_ms(50);
    }
    env->nginx_pid = pid;
    snprintf(env->target, sizeof env->target, "http://127.0.0.1:%d", port);
    return 0;
}

/* Rewrite the config and reload the running nginx (SIGHUP: new workers on
 * the new upstream set, old ones finish their requests). */
static int nginx_reload(const tk_dev_env *env, int port, char *err, size_t errlen)
{
    char bin[PATH_MAX], dir[PATH_MAX], conf[PATH_MAX], log[PATH_MAX];
    if (nginx_prepare(env, port, bin, dir, conf, log, err, errlen) != 0)
        return -1;
    if (kill((pid_t)env->nginx_pid, SIGHUP) != 0)
        return tk_err(err, errlen, "cannot signal nginx (pid %ld): %s", env->nginx_pid, strerror(errno));
    sleep_ms(300); /* the master starts the new workers */
    return 0;
}

int tk_dev_instances_up(const char *state_dir, const tk_dev_instances_opts *o, tk_dev_env *out, char *err,
                        size_t errlen)
{
    if (!o || o->instances < 0 || o->instances > TK_DEV_MAX_INSTANCES)
        return tk_err(err, errlen, "instances must be 0 to %d", TK_DEV_MAX_INSTANCES);
    if (o->port < 0 || o->port > 65535)
        return tk_err(err, errlen, "port must be 1 to 65535");
    char st[TK_URL_MAX], exe[PATH_MAX] = "";
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    if (o->instances > 0 && serve_exe(exe, sizeof exe, err, errlen) != 0)
        return -1;
    int lock = lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    tk_dev_env env;
    int total = up_locked(st, &env, err, errlen);
    if (total < 0) {
        close(lock);
        return -1;
    }
    const int want = o->instances;
    if (o->serve_args && copy_str(env.serve_args, sizeof env.serve_args, o->serve_args) != 0) {
        tk_err(err, errlen, "serve arguments too long (max %d bytes)", TK_URL_MAX - 1);
        close(lock);
        return -1;
    }
    if (want == 0)
        env.serve_args[0] = '\0';
    /* a backend (re)started on a new port: instances still point at the old one */
    const int stale = total > 0;
    int old_n = env.instances, changed = 0, new_nginx = 0;
    long fresh[TK_DEV_MAX_INSTANCES] = {0}; /* pids this call started, by slot */
    long extra[TK_DEV_MAX_INSTANCES] = {0}; /* running instances beyond `want` */
    /* slot by slot: keep a running instance, replace a dead or hung one */
    for (int i = 0; i < want; i++) {
        tk_dev_comp c;
        probe_proc(&c, "serve", i < old_n ? env.inst_pid[i] : 0, SERVE_COMM, i < old_n ? env.inst_port[i] : 0);
        if (c.running && !stale)
            continue;
        if (c.pid_alive)
            stop_pid(c.pid, SERVE_COMM);
        int port = 0;
        long pid = inst_start(&env, i, exe, env.serve_args, &port, err, errlen);
        if (pid < 0)
            goto fail;
        fresh[i] = env.inst_pid[i] = pid;
        env.inst_port[i] = port;
        total++;
        changed = 1;
    }
    for (int i = want; i < old_n; i++) {
        extra[i] = env.inst_pid[i];
        env.inst_pid[i] = 0;
        env.inst_port[i] = 0;
        changed = 1;
    }
    env.instances = want;

    /* nginx in front: started, moved, reloaded or stopped */
    tk_dev_comp ng;
    int cur_port = target_port(env.target);
    probe_proc(&ng, "nginx", env.nginx_pid, NGINX_COMM, cur_port);
    if (want == 0) {
        stop_pid_sig(env.nginx_pid, NGINX_COMM, SIGQUIT);
        env.nginx_pid = 0;
        env.target[0] = '\0';
    } else {
        int port = o->port ? o->port : (ng.running ? cur_port : free_port());
        if (port <= 0) {
            tk_err(err, errlen, "no free TCP port on 127.0.0.1");
            goto fail;
        }
        if (ng.running && port == cur_port) {
            if (changed && nginx_reload(&env, port, err, errlen) != 0)
                goto fail;
        } else {
            if (!port_free(port)) { /* before stopping the nginx we have */
                tk_err(err, errlen, "127.0.0.1:%d is in use: pick another --port", port);
                goto fail;
            }
            if (ng.pid_alive)
                stop_pid_sig(env.nginx_pid, NGINX_COMM, SIGQUIT);
            env.nginx_pid = 0;
            if (nginx_start(&env, port, err, errlen) != 0)
                goto fail;
            new_nginx = 1;
            total++;
        }
    }
    /* no longer behind nginx: drain them */
    for (int i = want; i < old_n; i++)
        stop_pid(extra[i], SERVE_COMM);
    if (env_write(&env, err, errlen) != 0)
        goto fail;
    close(lock);
    if (out)
        *out = env;
    return total;
fail:
    if (new_nginx)
        stop_pid_sig(env.nginx_pid, NGINX_COMM, SIGQUIT);
    for (int i = 0; i < TK_DEV_MAX_INSTANCES; i++)
        if (fresh[i] > 0)
            stop_pid(fresh[i], SERVE_COMM);
    close(lock);
    return -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int tk_dev_down(const char *state_dir, int purge, char *err, size_t errlen)
{
    static const char *const pidfiles[TK_DEV_NCOMP] = {"mysql/mysqld.pid", "redis/redis.pid",
                                                        "kafka/broker.pid"};
    tk_dev_env env;
    char st[TK_URL_MAX], path[PATH_MAX];
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    if (!file_exists(st))
        return 0;
    int lock = lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    int rc = 0;
    if (tk_dev_env_read(st, &env, err, errlen) < 0) {
        memset(env.pid, 0, sizeof env.pid);
        env.instances = 0;
        env.nginx_pid = 0;
    }
    /* nginx first (graceful: in-flight requests finish), then the instances
     * (SIGTERM: each drains its in-flight requests) */
    long ngpids[2] = {env.nginx_pid, 0};
    if (fmt_path(path, sizeof path, "%s/nginx/nginx.pid", st) == 0)
        ngpids[1] = read_pidfile(path);
    for (int k = 0; k < 2; k++)
        if (stop_pid_sig(ngpids[k], NGINX_COMM, SIGQUIT) != 0)
            rc = tk_err(err, errlen, "nginx (pid %ld) did not stop", ngpids[k]);
    for (int i = 0; i < env.instances; i++)
        if (env.inst_pid[i] > 0 && pid_alive(env.inst_pid[i]) && pid_is(env.inst_pid[i], SERVE_COMM))
            kill((pid_t)env.inst_pid[i], SIGTERM); /* all drain at once */
    for (int i = 0; i < env.instances; i++)
        if (stop_pid(env.inst_pid[i], SERVE_COMM) != 0)
            rc = tk_err(err, errlen, "serve instance %d (pid %ld) did not stop", i + 1, env.inst_pid[i]);
    /* reverse start order; then whatever a crashed run left in pid files */
    for (int i = TK_DEV_NCOMP - 1; i >= 0; i--) {
        long pids[2] = {env.pid[i], 0};
        if (fmt_path(path, sizeof path, "%s/%s", st, pidfiles[i]) == 0)
            pids[1] = read_pidfile(path);
        for (int k = 0; k < 2; k++)
            if (stop_pid(pids[k], comp_comms[i]) != 0)
                rc = tk_err(err, errlen, "%s (pid %ld) did not stop", comp_names[i], pids[k]);
    }
    if (rc == 0) {
        if (env.mysql_socket[0] && !strncmp(env.mysql_socket, "/tmp/ticketctl-", 15))
            unlink(env.mysql_socket);
        /* durable mode lasts until down */
        if (fmt_path(path, sizeof path, "%s/mysql/durable", st) == 0)
            unlink(path);
        if (fmt_path(path, sizeof path, "%s/mysql/durable.running", st) == 0)
            unlink(path);
        if (fmt_path(path, sizeof path, "%s/stack.env", st) == 0)
            unlink(path);
    }
    if (rc == 0 && purge) {
        /* only what the stack created: never rm -rf a user-supplied dir */
        static const char *const ours[] = {"mysql", "redis", "kafka", "serve", "nginx", "stack.env", "lock"};
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if (fmt_path(path, sizeof path, "%s/%s", st, ours[i]) == 0 &&
                nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
                rc = tk_err(err, errlen, "cannot remove %s: %s", path, strerror(errno));
        rmdir(st); /* fails harmlessly if anything else lives there */
    }
    close(lock);
    return rc;
}
