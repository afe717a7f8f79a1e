/* Many instances: serve processes behind nginx (dev up --instances N). */
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
    if (b && access(b, X_OK) == 0 && dev_copy_str(exe, n, b) == 0)
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
 * until it answers GET /readyz. On *port when it is > 0 (serve listens
 * with SO_REUSEPORT, so beside a running predecessor), else on a free one.
 * Returns its pid (and *port), or -1. */
static long inst_start(const tk_dev_env *env, int slot, const char *exe, const char *serve_args, int *port,
                       char *err, size_t errlen)
{
    char want[16];
    snprintf(want, sizeof want, "%d", *port > 0 ? *port : 0);
    char dir[PATH_MAX], portf[PATH_MAX], log[PATH_MAX];
    if (dev_fmt_path(dir, sizeof dir, "%s/serve/%d", env->state_dir, slot + 1) ||
        dev_fmt_path(portf, sizeof portf, "%s/port", dir) || dev_fmt_path(log, sizeof log, "%s/serve.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", env->state_dir);
    if (dev_mkdir_p(dir) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    unlink(portf);
    char a_exe[PATH_MAX], a_state[TK_URL_MAX], a_mysql[TK_URL_MAX], a_redis[TK_URL_MAX], a_kafka[TK_URL_MAX];
    char extra[1024];
    snprintf(a_exe, sizeof a_exe, "%s", exe);
    snprintf(a_state, sizeof a_state, "%s", env->state_dir);
    snprintf(a_mysql, sizeof a_mysql, "%s", env->mysql);
    snprintf(a_redis, sizeof a_redis, "%s", env->redis);
    snprintf(a_kafka, sizeof a_kafka, "%s", env->kafka);
    if (dev_copy_str(extra, sizeof extra, serve_args ? serve_args : "") != 0)
        return tk_err(err, errlen, "serve arguments too long (max %zu bytes)", sizeof extra - 1);
    char *argv[64] = {a_exe, "serve", "--port", want, "--port-file", portf, "--state", a_state,
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
    long pid = dev_spawn_detached(argv, NULL, NULL, log, err, errlen);
    if (pid < 0)
        return -1;
    uint64_t until = tk_mono_ms() + SERVE_START_MS;
    for (;;) {
        char line[32];
        int64_t p = 0;
        if (dev_read_line(portf, line, sizeof line) == 0 && tk_parse_i64(line, 1, 65535, &p) == 0 && http_ready((int)p)) {
            *port = (int)p;
            return pid;
        }
        if (!dev_pid_alive(pid)) {
            char tail[512];
            dev_log_tail(log, tail, sizeof tail);
            return tk_err(err, errlen, "serve instance %d exited during start-up (%s); see %s", slot + 1, tail, log);
        }
        if (tk_mono_ms() >= until) {
            dev_stop_pid(pid, SERVE_COMM);
            return tk_err(err, errlen, "serve instance %d was not ready within %d s; see %s", slot + 1,
                          SERVE_START_MS / 1000, log);
        }
        dev_sleep_ms(100);
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
    if (rc == 0 && dev_write_file(conf, text) != 0)
        rc = tk_err(err, errlen, "cannot write %s: %s", conf, strerror(errno));
    free(text);
    return rc;
}

/* Write the config for env and check it with `nginx -t`; fills bin/dir/conf/log. */
static int nginx_prepare(const tk_dev_env *env, int port, char *bin, char *dir, char *conf, char *log,
                         char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if (dev_fmt_path(dir, PATH_MAX, "%s/nginx", env->state_dir) || dev_fmt_path(conf, PATH_MAX, "%s/nginx.conf", dir) ||
        dev_fmt_path(log, PATH_MAX, "%s/error.log", dir) || dev_fmt_path(tmp, sizeof tmp, "%s/tmp", dir))
        return tk_err(err, errlen, "state dir path too long: %s", env->state_dir);
    if (dev_find_bin("nginx", bin, PATH_MAX) != 0)
        return tk_err(err, errlen, "nginx not found: install the Debian package nginx-light");
    if (dev_mkdir_p(tmp) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    if (nginx_conf(env, port, dir, conf, err, errlen) != 0)
        return -1;
    char prefix[PATH_MAX + 1];
    snprintf(prefix, sizeof prefix, "%s/", dir);
    char *argv[] = {bin, "-t", "-q", "-p", prefix, "-c", conf, "-e", log, NULL};
    int rc = dev_run_wait(argv, log);
    if (rc != 0) {
        char tail[512];
        dev_log_tail(log, tail, sizeof tail);
        return tk_err(err, errlen, "nginx -t rejected %s (%s); see %s", conf, tail, log);
    }
    return 0;
}


/* Start nginx for env on port; records env->nginx_pid and env->target. */
static int nginx_start(tk_dev_env *env, int port, char *err, size_t errlen)
{
    char bin[PATH_MAX], dir[PATH_MAX], conf[PATH_MAX], log[PATH_MAX], pidf[PATH_MAX], prefix[PATH_MAX + 1];
    if (!dev_port_free(port))
        return tk_err(err, errlen, "127.0.0.1:%d is in use: pick another --port", port);
    if (nginx_prepare(env, port, bin, dir, conf, log, err, errlen) != 0)
        return -1;
    if (dev_fmt_path(pidf, sizeof pidf, "%s/nginx.pid", dir) == 0)
        dev_stop_pid_sig(dev_read_pidfile(pidf), NGINX_COMM, SIGQUIT); /* left by a crashed run */
    snprintf(prefix, sizeof prefix, "%s/", dir);
    char *argv[] = {bin, "-p", prefix, "-c", conf, "-e", log, NULL};
    long pid = dev_spawn_detached(argv, NULL, NULL, log, err, errlen);
    if (pid < 0)
        return -1;
    uint64_t until = tk_mono_ms() + NGINX_START_MS;
    while (!http_ready(port)) { /* through nginx to an instance's /readyz */
        if (!dev_pid_alive(pid)) {
            char tail[512];
            dev_log_tail(log, tail, sizeof tail);
            return tk_err(err, errlen, "nginx exited during start-up (%s); see %s", tail, log);
        }
        if (tk_mono_ms() >= until) {
            dev_stop_pid_sig(pid, NGINX_COMM, SIGQUIT);
            return tk_err(err, errlen, "nginx did not listen on 127.0.0.1:%d within %d s; see %s", port,
                          NGINX_START_MS / 1000, log);
        }
        dev_sleep_ms(50);
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
    dev_sleep_ms(300); /* the master starts the new workers */
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
    int lock = dev_lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    tk_dev_env env;
    int total = dev_up_locked(st, &env, err, errlen);
    if (total < 0) {
        close(lock);
        return -1;
    }
    const int want = o->instances;
    if (o->serve_args && dev_copy_str(env.serve_args, sizeof env.serve_args, o->serve_args) != 0) {
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
        dev_probe_proc(&c, "serve", i < old_n ? env.inst_pid[i] : 0, SERVE_COMM, i < old_n ? env.inst_port[i] : 0);
        if (c.running && !stale)
            continue;
        if (c.pid_alive)
            dev_stop_pid(c.pid, SERVE_COMM);
        int port = 0; /* a free one */
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
    int cur_port = dev_target_port(env.target);
    dev_probe_proc(&ng, "nginx", env.nginx_pid, NGINX_COMM, cur_port);
    if (want == 0) {
        dev_stop_pid_sig(env.nginx_pid, NGINX_COMM, SIGQUIT);
        env.nginx_pid = 0;
        env.target[0] = '\0';
    } else {
        int port = o->port ? o->port : (ng.running ? cur_port : dev_free_port());
        if (port <= 0) {
            tk_err(err, errlen, "no free TCP port on 127.0.0.1");
            goto fail;
        }
        if (ng.running && port == cur_port) {
            if (changed && nginx_reload(&env, port, err, errlen) != 0)
                goto fail;
        } else {
            if (!dev_port_free(port)) { /* before stopping the nginx we have */
                tk_err(err, errlen, "127.0.0.1:%d is in use: pick another --port", port);
                goto fail;
            }
            if (ng.pid_alive)
                dev_stop_pid_sig(env.nginx_pid, NGINX_COMM, SIGQUIT);
            env.nginx_pid = 0;
            if (nginx_start(&env, port, err, errlen) != 0)
                goto fail;
            new_nginx = 1;
            total++;
        }
    }
    /* no longer behind nginx: drain them */
    for (int i = want; i < old_n; i++)
        dev_stop_pid(extra[i], SERVE_COMM);
    if (dev_env_write(&env, err, errlen) != 0)
        goto fail;
    close(lock);
    if (out)
        *out = env;
    return total;
fail:
    if (new_nginx)
        dev_stop_pid_sig(env.nginx_pid, NGINX_COMM, SIGQUIT);
    for (int i = 0; i < TK_DEV_MAX_INSTANCES; i++)
        if (fresh[i] > 0)
            dev_stop_pid(fresh[i], SERVE_COMM);
    close(lock);
    return -1;
}


int tk_dev_instances_restart(const char *state_dir, tk_dev_env *out, char *err, size_t errlen)
{
    char st[TK_URL_MAX], exe[PATH_MAX] = "";
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    int lock = dev_lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    tk_dev_env env;
    int rc = -1;
    if (tk_dev_env_read(st, &env, err, errlen) != 0)
        goto out;
    if (env.instances < 1) {
        tk_err(err, errlen, "no serve instances run in %s (dev up --instances N)", st);
        goto out;
    }
    if (serve_exe(exe, sizeof exe, err, errlen) != 0)
        goto out;
    /* nginx is not reloaded: a reload retires its workers, and they close
     * their clients' idle keep-alive connections, which a client that just
     * sent a request on one sees as a failure. The upstream ports stay. */
    for (int i = 0; i < env.instances; i++) {
        /* 1. the successor listens on the same port (SO_REUSEPORT) and
         * answers /readyz: new connections now reach both */
        int port = env.inst_port[i];
        long pid = inst_start(&env, i, exe, env.serve_args, &port, err, errlen);
        if (pid < 0)
            goto out;
        long old = env.inst_pid[i];
        env.inst_pid[i] = pid;
        env.inst_port[i] = port;
        if (dev_env_write(&env, err, errlen) != 0)
            goto out;
        /* 2. the predecessor drains: stops accepting (new connections go
         * to the successor only), answers the next request on each of
         * nginx's keep-alive connections with Connection: close, exits
         * once idle (serve: at most 1 s for idle connections) */
        dev_stop_pid(old, SERVE_COMM);
    }
    rc = 0;
    if (out)
        *out = env;
out:
    close(lock);
    return rc;
}
