/* CPU time of the processes a run measures (cpustat.h).
 *
 * Finding the processes is the fiddly half: an explicit pid wins; else the
 * process that listens on the port we talk to (a serve started anywhere, a
 * mariadbd behind a URL) is found from /proc/net/tcp{,6} (the socket inode
 * of each LISTEN row) and /proc/<pid>/fd (which process holds that inode);
 * else the dev stack's stack.env names the pids it started. Reading the CPU
 * time is one clock_gettime() on the process's CPU clock. */
#include "ticketctl/cpustat.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"

#include <ctype.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_INODES 64

static const char *const role_names[TK_CPU_NROLES] = {"serve", "mariadbd", "redis", "nginx", "bench"};

const char *tk_cpu_role_name(int role)
{
    return role >= 0 && role < TK_CPU_NROLES ? role_names[role] : "?";
}

static int pid_exists(int pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* /proc/<pid>/comm into buf ("" when unreadable). */
static void pid_comm(int pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(buf, (int)len, f))
        buf[strcspn(buf, "\n")] = '\0';
    fclose(f);
}

static void add_pid(tk_cpu_pids *p, int role, int pid)
{
    if (pid <= 0 || !pid_exists(pid))
        return;
    for (int i = 0; i < p->n[role]; i++)
        if (p->pid[role][i] == pid)
            return;
    if (p->n[role] < TK_CPU_MAX_PIDS)
        p->pid[role][p->n[role]++] = pid;
}

/* The port of a URL (its scheme's default when none is written), or -1. */
static int url_port(const char *url)
{
    if (!url || !*url)
        return -1;
    CURLU *u = curl_url();
    if (!u)
        return -1;
    int port = -1;
    char *ps = NULL;
    /* CURLU_NON_SUPPORT_SCHEME: mysql:// and redis:// are not curl's schemes;
     * CURLU_DEFAULT_PORT: http://host means 80 */
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &ps, CURLU_DEFAULT_PORT) == CURLUE_OK && ps) {
        int64_t v;
        if (tk_parse_i64(ps, 1, 65535, &v) == 0)
            port = (int)v;
    }
    curl_free(ps);
    curl_url_cleanup(u);
    return port;
}

/* Socket inodes of LISTEN rows on `port` in one /proc/net/tcp-format file. */
static int listen_inodes(const char *path, int port, unsigned long *ino, int n, int cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return n;
    char line[512];
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return n;
    }
    while (n < cap && fgets(line, sizeof line, f)) {
        /* sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode */
        char local[64], rem[64];
        unsigned st, uid;
        unsigned long inode;
        int timeout;
        char txrx[40], trwhen[40], retr[16];
        if (sscanf(line, " %*d: %63s %63s %x %39s %39s %15s %u %d %lu", local, rem, &st, txrx, trwhen, retr, &uid,
                   &timeout, &inode) != 9)
            continue;
        if (st != 0x0A) /* TCP_LISTEN */
            continue;
        const char *colon = strrchr(local, ':');
        if (!colon || strtol(colon + 1, NULL, 16) != port || inode == 0)
            continue;
        ino[n++] = inode;
    }
    fclose(f);
    return n;
}

int tk_cpu_listener_pids(int port, int *pids, int cap)
{
    if (port <= 0 || cap <= 0)
        return 0;
    unsigned long ino[MAX_INODES];
    int ni = listen_inodes("/proc/net/tcp", port, ino, 0, MAX_INODES);
    ni = listen_inodes("/proc/net/tcp6", port, ino, ni, MAX_INODES);
    if (ni == 0)
        return 0;
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    int np = 0;
    struct dirent *de;
    while (np < cap && (de = readdir(proc))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char fdpath[300];
        snprintf(fdpath, sizeof fdpath, "/proc/%s/fd", de->d_name);
        DIR *fds = opendir(fdpath);
        if (!fds)
            continue;
        int found = 0;
        struct dirent *fe;
        while (!found && (fe = readdir(fds))) {
            if (fe->d_name[0] == '.')
                continue;
            char lp[600], target[64];
            snprintf(lp, sizeof lp, "%s/%s", fdpath, fe->d_name);
            ssize_t k = readlink(lp, target, sizeof target - 1);
            if (k <= 0)
                continue;
            target[k] = '\0';
            unsigned long v;
            if (sscanf(target, "socket:[%lu]", &v) != 1)
                continue;
            for (int i = 0; i < ni; i++)
                if (ino[i] == v)
                    found = 1;
        }
        closedir(fds);
        if (found)
            pids[np++] = atoi(de->d_name);
    }
    closedir(proc);
    return np;
}

/* Listeners of port into role, except those named nginx, which go to the
 * nginx role (a front proxy, not the server). */
static void add_listeners(tk_cpu_pids *p, int role, int port)
{
    int pids[TK_CPU_MAX_PIDS];
    int n = tk_cpu_listener_pids(port, pids, TK_CPU_MAX_PIDS);
    for (int i = 0; i < n; i++) {
        char comm[32];
        pid_comm(pids[i], comm, sizeof comm);
        add_pid(p, strcmp(comm, "nginx") == 0 ? TK_CPU_NGINX : role, pids[i]);
    }
}

int tk_cpu_pids_find(const tk_cpu_find_opts *o, tk_cpu_pids *out, char *err, size_t errlen)
{
    static const tk_cpu_find_opts none = {0};
    if (!o)
        o = &none;
    memset(out, 0, sizeof *out);
    add_pid(out, TK_CPU_BENCH, (int)getpid());

    for (int i = 0; i < o->nserver; i++) {
        if (!pid_exists(o->server_pids[i]))
            return tk_err(err, errlen, "--server-pid %d: no such process", o->server_pids[i]);
        add_pid(out, TK_CPU_SERVE, o->server_pids[i]);
    }
    if (o->mysql_pid && !pid_exists(o->mysql_pid))
        return tk_err(err, errlen, "--mysql-pid %d: no such process", o->mysql_pid);
    if (o->redis_pid && !pid_exists(o->redis_pid))
        return tk_err(err, errlen, "--redis-pid %d: no such process", o->redis_pid);
    add_pid(out, TK_CPU_MARIADBD, o->mysql_pid);
    add_pid(out, TK_CPU_REDIS, o->redis_pid);

    tk_dev_env env;
    char e2[256];
    int have_env = o->state_dir && tk_dev_env_read(o->state_dir, &env, e2, sizeof e2) == 0;

    if (out->n[TK_CPU_SERVE] == 0 && o->target) {
        int port = url_port(o->target);
        add_listeners(out, TK_CPU_SERVE, port);
        /* behind the dev stack's nginx: the instances it records are the servers */
        if (out->n[TK_CPU_SERVE] == 0 && have_env && env.nginx_pid > 0 && url_port(env.target) == port)
            for (int i = 0; i < env.instances && i < TK_DEV_MAX_INSTANCES; i++)
                add_pid(out, TK_CPU_SERVE, (int)env.inst_pid[i]);
    }
    if (out->n[TK_CPU_MARIADBD] == 0 && o->mysql_url)
        add_listeners(out, TK_CPU_MARIADBD, url_port(o->mysql_url));
    if (out->n[TK_CPU_MARIADBD] == 0 && have_env)
        add_pid(out, TK_CPU_MARIADBD, (int)env.pid[TK_DEV_MYSQL]);
    if (out->n[TK_CPU_REDIS] == 0 && o->redis_url)
        add_listeners(out, TK_CPU_REDIS, url_port(o->redis_url));
    if (out->n[TK_CPU_REDIS] == 0 && have_env)
        add_pid(out, TK_CPU_REDIS, (int)env.pid[TK_DEV_REDIS]);
    return 0;
}

/* CPU ms of one process: its CPU clock, else /proc/<pid>/stat; NAN if gone. */
static double pid_cpu_ms(int pid)
{
    clockid_t cid;
    struct timespec ts;
    if (clock_getcpuclockid((pid_t)pid, &cid) == 0 && clock_gettime(cid, &ts) == 0)
        return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* comm may hold spaces */
    unsigned long long ut, stt;
    /* after ") ": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2)
        return NAN;
    long hz = sysconf(_SC_CLK_TCK);
    return (double)(ut + stt) * 1e3 / (double)(hz > 0 ? hz : 100);
}

int tk_cpu_sample_take(const tk_cpu_pids *p, tk_cpu_sample *out)
{
    int any = 0;
    for (int r = 0; r < TK_CPU_NROLES; r++) {
        double sum = p->n[r] ? 0 : NAN;
        for (int i = 0; i < p->n[r]; i++)
            sum += pid_cpu_ms(p->pid[r][i]);
        out->ms[r] = sum;
        any |= !isnan(sum);
    }
    return any ? 0 : -1;
}

void tk_cpu_use_between(const tk_cpu_sample *a, const tk_cpu_sample *b, double units, double window_s,
                        tk_cpu_use *out)
{
    out->units = units;
    out->window_s = window_s;
    for (int r = 0; r < TK_CPU_NROLES; r++) {
        double d = b->ms[r] - a->ms[r]; /* NAN stays NAN */
        if (d < 0)
            d = NAN; /* a pid was replaced in between: not a measurement */
        out->per_unit[r] = units > 0 ? d / units : NAN;
        out->cores[r] = window_s > 0 ? d / 1e3 / window_s : NAN;
    }
    double t = out->per_unit[TK_CPU_SERVE] + out->per_unit[TK_CPU_MARIADBD] + out->per_unit[TK_CPU_REDIS];
    if (!isnan(out->per_unit[TK_CPU_NGINX]))
        t += out->per_unit[TK_CPU_NGINX];
    out->backend_total = t;
}

static json_t *num_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *roles_json(const double *v, double total)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (int r = 0; r < TK_CPU_NROLES; r++)
        json_object_set_new(o, role_names[r], num_or_null(v[r]));
    json_object_set_new(o, "backend_total", num_or_null(total));
    return o;
}

json_t *tk_cpu_use_json(const tk_cpu_use *u) { return roles_json(u->per_unit, u->backend_total); }

json_t *tk_cpu_cores_json(const tk_cpu_use *u)
{
    double t = u->cores[TK_CPU_SERVE] + u->cores[TK_CPU_MARIADBD] + u->cores[TK_CPU_REDIS];
    if (!isnan(u->cores[TK_CPU_NGINX]))
        t += u->cores[TK_CPU_NGINX];
    return roles_json(u->cores, t);
}
