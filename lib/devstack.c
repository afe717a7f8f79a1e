/* The private local stack (MariaDB, Redis, embedded Kafka): the state dir,
 * stack.env, status, up and down. Each server starts in its own file
 * (devstack_mysql.c, devstack_redis.c, devstack_kafka.c), serve instances
 * behind nginx in devstack_instances.c; backend resolution is backend.c.
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

const char *const dev_comp_names[TK_DEV_NCOMP] = {"mysql", "redis", "kafka"};
/* /proc/<pid>/comm of each component, checked before signalling a pid. */
const char *const dev_comp_comms[TK_DEV_NCOMP] = {"mariadbd", "redis-server", KAFKA_COMM};

/* ---- state dir and stack.env -------------------------------------------- */

int tk_dev_state_dir(const char *arg, char *out, size_t outlen, char *err, size_t errlen)
{
    const char *s = (arg && *arg) ? arg : getenv("TICKETCTL_STATE");
    if (!s || !*s)
        s = DEFAULT_STATE;
    if (s[0] == '/') {
        if (dev_copy_str(out, outlen, s) != 0)
            return tk_err(err, errlen, "state dir path too long: %s", s);
    } else {
        char cwd[PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return tk_err(err, errlen, "getcwd: %s", strerror(errno));
        if (!strncmp(s, "./", 2))
            s += 2;
        if (dev_fmt_path(out, outlen, "%s/%s", cwd, s) != 0)
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
    if (dev_copy_str(tmp, sizeof tmp, val) != 0)
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
    if (dev_fmt_path(path, sizeof path, "%s/stack.env", env->state_dir) != 0)
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
                    dev_copy_str((char *)env + env_keys[i].off, TK_URL_MAX, val);
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

int dev_env_write(const tk_dev_env *env, char *err, size_t errlen)
{
    char path[PATH_MAX], body[8192];
    if (dev_fmt_path(path, sizeof path, "%s/stack.env", env->state_dir) != 0 ||
        tk_dev_env_format(env, 0, body, sizeof body) < 0)
        return tk_err(err, errlen, "stack.env: path or content too long");
    if (dev_write_file(path, body) != 0)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

/* ---- status ------------------------------------------------------------- */

static void probe_comp(const tk_dev_env *env, int i, tk_dev_comp *c)
{
    char host[128] = "";
    int port = 0;
    memset(c, 0, sizeof *c);
    c->name = dev_comp_names[i];
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
    } else if (env->kafka[0] && dev_split_addr(env->kafka, host, sizeof host, &port) != 0) {
        port = 0;
    }
    if (port > 0)
        dev_fmt_path(c->addr, sizeof c->addr, "%s:%d", host, port);
    c->pid_alive = dev_pid_alive(c->pid) && dev_pid_is(c->pid, dev_comp_comms[i]);
    c->port_open = port > 0 && dev_tcp_probe(host, port, 500);
    c->running = c->pid_alive && c->port_open;
}

/* A serve instance or nginx: pid alive with the right comm, port answering. */
void dev_probe_proc(tk_dev_comp *c, const char *name, long pid, const char *comm, int port)
{
    memset(c, 0, sizeof *c);
    c->name = name;
    c->pid = pid;
    if (port > 0)
        dev_fmt_path(c->addr, sizeof c->addr, "127.0.0.1:%d", port);
    c->pid_alive = dev_pid_alive(pid) && dev_pid_is(pid, comm);
    c->port_open = port > 0 && dev_tcp_probe("127.0.0.1", port, 500);
    c->running = c->pid_alive && c->port_open;
}

/* The port of "http://127.0.0.1:P", or 0. */
int dev_target_port(const char *target)
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
        dev_probe_proc(&st->inst[i], "serve", env.inst_pid[i], SERVE_COMM, env.inst_port[i]);
        if (!st->inst[i].running)
            st->all_instances_running = 0;
    }
    dev_probe_proc(&st->nginx, "nginx", env.nginx_pid, NGINX_COMM, dev_target_port(env.target));
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
    int port = dev_target_port(env.target);
    if (env.nginx_pid <= 0 || port <= 0 || !dev_pid_alive(env.nginx_pid) || !dev_pid_is(env.nginx_pid, NGINX_COMM) ||
        !dev_tcp_probe("127.0.0.1", port, 500))
        return 1;
    return dev_copy_str(out, outlen, env.target) == 0 ? 0 : -1;
}

/* ---- up / down ---------------------------------------------------------- */

/* Take <state>/lock; returns the fd (close to release) or -1. */
int dev_lock_state(const char *st, char *err, size_t errlen)
{
    char path[PATH_MAX];
    if (dev_fmt_path(path, sizeof path, "%s/lock", st) != 0)
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (dev_mkdir_p(st) != 0)
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
static const start_fn starters[TK_DEV_NCOMP] = {dev_mysql_start, dev_redis_start, dev_kafka_start};

/* Start what is not running and write stack.env; the caller holds the lock.
 * Returns the number of components started, or -1 (what it started is
 * stopped again). */
int dev_up_locked(const char *st, tk_dev_env *out, char *err, size_t errlen)
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
            dev_stop_pid(c.pid, dev_comp_comms[i]);
        env.pid[i] = 0;
        if (starters[i](&env, err, errlen) != 0)
            goto fail;
        started[i] = 1;
        changed = 1;
    }
    if (changed && dev_env_write(&env, err, errlen) != 0)
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
            dev_stop_pid(env.pid[i], dev_comp_comms[i]);
    return -1;
}

int tk_dev_durable(const char *state_dir, char *err, size_t errlen)
{
    char st[TK_URL_MAX], dir[PATH_MAX], path[PATH_MAX];
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    if (dev_fmt_path(dir, sizeof dir, "%s/mysql", st) != 0 || dev_mkdir_p(dir) != 0 ||
        dev_fmt_path(path, sizeof path, "%s/durable", dir) != 0)
        return tk_err(err, errlen, "cannot create %s/mysql", st);
    FILE *f = fopen(path, "w");
    if (!f)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    fclose(f);
    if (dev_fmt_path(path, sizeof path, "%s/durable.running", dir) == 0 && dev_file_exists(path))
        return 0;
    /* a MariaDB running in the default mode: stop it, up starts it durable
     * (and replaces the instances, as after any backend restart) */
    int lock = dev_lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    int rc = 0;
    if (dev_fmt_path(path, sizeof path, "%s/mysqld.pid", dir) == 0 &&
        dev_stop_pid(dev_read_pidfile(path), dev_comp_comms[TK_DEV_MYSQL]) != 0)
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
    int lock = dev_lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    int n = dev_up_locked(st, &env, err, errlen);
    close(lock);
    if (n >= 0 && out)
        *out = env;
    return n;
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
    if (!dev_file_exists(st))
        return 0;
    int lock = dev_lock_state(st, err, errlen);
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
    if (dev_fmt_path(path, sizeof path, "%s/nginx/nginx.pid", st) == 0)
        ngpids[1] = dev_read_pidfile(path);
    for (int k = 0; k < 2; k++)
        if (dev_stop_pid_sig(ngpids[k], NGINX_COMM, SIGQUIT) != 0)
            rc = tk_err(err, errlen, "nginx (pid %ld) did not stop", ngpids[k]);
    for (int i = 0; i < env.instances; i++)
        if (env.inst_pid[i] > 0 && dev_pid_alive(env.inst_pid[i]) && dev_pid_is(env.inst_pid[i], SERVE_COMM))
            kill((pid_t)env.inst_pid[i], SIGTERM); /* all drain at once */
    for (int i = 0; i < env.instances; i++)
        if (dev_stop_pid(env.inst_pid[i], SERVE_COMM) != 0)
            rc = tk_err(err, errlen, "serve instance %d (pid %ld) did not stop", i + 1, env.inst_pid[i]);
    /* reverse start order; then whatever a crashed run left in pid files */
    for (int i = TK_DEV_NCOMP - 1; i >= 0; i--) {
        long pids[2] = {env.pid[i], 0};
        if (dev_fmt_path(path, sizeof path, "%s/%s", st, pidfiles[i]) == 0)
            pids[1] = dev_read_pidfile(path);
        for (int k = 0; k < 2; k++)
            if (dev_stop_pid(pids[k], dev_comp_comms[i]) != 0)
                rc = tk_err(err, errlen, "%s (pid %ld) did not stop", dev_comp_names[i], pids[k]);
    }
    if (dev_redis_cluster_masters(st) > 0 && dev_redis_cluster_stop(st) != 0)
        rc = tk_err(err, errlen, "a Redis Cluster node did not stop");
    if (rc == 0) {
        if (env.mysql_socket[0] && !strncmp(env.mysql_socket, "/tmp/ticketctl-", 15))
            unlink(env.mysql_socket);
        /* durable mode lasts until down */
        if (dev_fmt_path(path, sizeof path, "%s/mysql/durable", st) == 0)
            unlink(path);
        if (dev_fmt_path(path, sizeof path, "%s/mysql/durable.running", st) == 0)
            unlink(path);
        if (dev_fmt_path(path, sizeof path, "%s/stack.env", st) == 0)
            unlink(path);
    }
    if (rc == 0 && purge) {
        /* only what the stack created: never rm -rf a user-supplied dir */
        static const char *const ours[] = {"mysql", "redis", "kafka", "serve", "nginx", "stack.env", "lock"};
        for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
            if (dev_fmt_path(path, sizeof path, "%s/%s", st, ours[i]) == 0 &&
                nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
                rc = tk_err(err, errlen, "cannot remove %s: %s", path, strerror(errno));
        rmdir(st); /* fails harmlessly if anything else lives there */
    }
    close(lock);
    return rc;
}

