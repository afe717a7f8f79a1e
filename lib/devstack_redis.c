/* The dev stack's Redis: redis-server on loopback, no persistence; or a
 * Redis Cluster of N masters with a replica each (`dev up --redis-cluster N`). */
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

/* dev_wait_ready() probes. */
static int redis_ready(void *port) { return redis_pings(*(int *)port); }


static int cluster_start(tk_dev_env *env, int masters, char *err, size_t errlen);

int dev_redis_start(tk_dev_env *env, char *err, size_t errlen)
{
    const char *st = env->state_dir;
    int masters = dev_redis_cluster_masters(st);
    if (masters > 0)
        return cluster_start(env, masters, err, errlen);
    char dir[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX], bin[PATH_MAX];
    if (dev_fmt_path(dir, sizeof dir, "%s/redis", st) || dev_fmt_path(pidf, sizeof pidf, "%s/redis.pid", dir) ||
        dev_fmt_path(log, sizeof log, "%s/redis.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (dev_find_bin("redis-server", bin, sizeof bin) != 0)
        return tk_err(err, errlen, "redis-server not found: run scripts/install-deps");
    if (dev_mkdir_p(dir) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    dev_stop_pid(dev_read_pidfile(pidf), dev_comp_comms[TK_DEV_REDIS]);
    int port = dev_stable_port(env->redis);
    if (port <= 0)
        return tk_err(err, errlen, "no free TCP port on 127.0.0.1");
    char a_port[16];
    snprintf(a_port, sizeof a_port, "%d", port);
    /* Detached by dev_spawn_detached() rather than --daemonize, so the pid is
     * known at once and a failed exec is reported. */
    char *argv[] = {bin, "--port", a_port, "--bind", "127.0.0.1", "--dir", dir, "--daemonize", "no",
                    "--pidfile", pidf, "--logfile", log, "--save", "", "--appendonly", "no",
                    "--protected-mode", "no", "--maxclients", "20000", NULL};
    long pid = dev_spawn_detached(argv, NULL, NULL, log, err, errlen);
    if (pid < 0)
        return -1;
    if (dev_wait_ready(pid, TK_DEV_REDIS, redis_ready, &port, REDIS_START_MS, 100, "redis-server", log, err, errlen) != 0)
        return -1;
    env->pid[TK_DEV_REDIS] = pid;
    snprintf(env->redis, sizeof env->redis, "redis://127.0.0.1:%d", port);
    return 0;
}


/* ---- Redis Cluster (`dev up --redis-cluster N`) ------------------------------ */

/* N masters with one replica each, node i in <state>/redis/cluster/<i>/
 * (port file "PORT BUSPORT", nodes.conf, redis.pid, redis.log). The marker
 * <state>/redis/cluster.masters holds N until `dev down`. Nodes keep their
 * ports and nodes.conf across restarts, so a node that died rejoins the
 * cluster (as a replica of whoever took over) when `dev up` starts it. */

static int cluster_marker(const char *st, char *path, size_t n)
{
    return dev_fmt_path(path, n, "%s/redis/cluster.masters", st);
}

int dev_redis_cluster_masters(const char *st)
{
    char path[PATH_MAX], line[32];
    int64_t n = 0;
    if (cluster_marker(st, path, sizeof path) != 0 || dev_read_line(path, line, sizeof line) != 0 ||
        tk_parse_i64(line, 3, TK_DEV_MAX_RNODES / 2, &n) != 0)
        return 0;
    return (int)n;
}

int tk_dev_redis_cluster(const char *state_dir, int masters, char *err, size_t errlen)
{
    char st[TK_URL_MAX], dir[PATH_MAX], path[PATH_MAX], body[32];
    if (masters < 3 || masters > TK_DEV_MAX_RNODES / 2)
        return tk_err(err, errlen, "--redis-cluster: want 3..%d masters (Redis Cluster needs at least 3)",
                      TK_DEV_MAX_RNODES / 2);
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    if (dev_fmt_path(dir, sizeof dir, "%s/redis", st) != 0 || dev_mkdir_p(dir) != 0 ||
        cluster_marker(st, path, sizeof path) != 0)
        return tk_err(err, errlen, "cannot create %s/redis", st);
    int had = dev_redis_cluster_masters(st);
    if (had == masters)
        return 0;
    if (had)
        return tk_err(err, errlen, "the stack runs a cluster of %d masters: `dev down` first", had);
    int lock = dev_lock_state(st, err, errlen);
    if (lock < 0)
        return -1;
    snprintf(body, sizeof body, "%d\n", masters);
    int rc = dev_write_file(path, body) == 0 ? 0 : tk_err(err, errlen, "cannot write %s", path);
    /* a single redis-server running: stop it, up starts the cluster instead */
    if (rc == 0 && dev_fmt_path(path, sizeof path, "%s/redis.pid", dir) == 0)
        dev_stop_pid(dev_read_pidfile(path), dev_comp_comms[TK_DEV_REDIS]);
    close(lock);
    return rc;
}

/* A replica whose link to its master is not up yet (INFO replication). */
static int replica_syncing(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO replication");
    int syncing = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "role:slave") &&
                  !strstr(r->str, "master_link_status:up");
    if (r)
        freeReplyObject(r);
    return syncing;
}

/* "cluster_state:ok" in CLUSTER INFO of the node on port, with `known`
 * nodes (and, with known > 0, its replication link up if it is a replica:
 * a replica that never synced cannot take over). */
static int cluster_ok(int port, int known)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "CLUSTER INFO");
        if (r && r->type == REDIS_REPLY_STRING) {
            const char *k = strstr(r->str, "cluster_known_nodes:");
            ok = strstr(r->str, "cluster_state:ok") != NULL && (!known || (k && atoi(k + 20) == known));
        }
        if (r)
            freeReplyObject(r);
        if (ok && known)
            ok = !replica_syncing(c);
    }
    if (c)
        redisFree(c);
    return ok;
}

typedef struct rnode {
    char dir[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX], portf[PATH_MAX];
    int port, bus;
    long pid;
} rnode;

static int rnode_paths(const char *st, int i, rnode *n)
{
    memset(n, 0, sizeof *n);
    if (dev_fmt_path(n->dir, sizeof n->dir, "%s/redis/cluster/%d", st, i) ||
        dev_fmt_path(n->pidf, sizeof n->pidf, "%s/redis.pid", n->dir) ||
        dev_fmt_path(n->log, sizeof n->log, "%s/redis.log", n->dir) ||
        dev_fmt_path(n->portf, sizeof n->portf, "%s/port", n->dir))
        return -1;
    char line[64];
    if (dev_read_line(n->portf, line, sizeof line) == 0 && sscanf(line, "%d %d", &n->port, &n->bus) != 2)
        n->port = n->bus = 0;
    n->pid = dev_read_pidfile(n->pidf);
    return 0;
}

/* Start node n (its recorded ports when still free, else new ones). */
static int rnode_start(rnode *n, const char *bin, char *err, size_t errlen)
{
    char rec[32];
    snprintf(rec, sizeof rec, "127.0.0.1:%d", n->port);
    n->port = dev_stable_port(n->port ? rec : "");
    snprintf(rec, sizeof rec, "127.0.0.1:%d", n->bus);
    int bus = dev_stable_port(n->bus ? rec : "");
    while (bus == n->port)
        bus = dev_free_port();
    n->bus = bus;
    if (n->port <= 0 || n->bus <= 0)
        return tk_err(err, errlen, "no free TCP port on 127.0.0.1");
    char a_port[16], a_bus[16], body[40];
    snprintf(a_port, sizeof a_port, "%d", n->port);
    snprintf(a_bus, sizeof a_bus, "%d", n->bus);
    snprintf(body, sizeof body, "%d %d\n", n->port, n->bus);
    if (dev_mkdir_p(n->dir) != 0 || dev_write_file(n->portf, body) != 0)
        return tk_err(err, errlen, "cannot write %s", n->portf);
    /* cluster-node-timeout 1 s: a dead master's replica takes over in ~2 s */
    char *argv[] = {(char *)bin, "--port", a_port, "--cluster-port", a_bus, "--bind", "127.0.0.1", "--dir", n->dir,
                    "--daemonize", "no", "--pidfile", n->pidf, "--logfile", n->log, "--save", "",
                    "--appendonly", "no", "--protected-mode", "no", "--maxclients", "20000",
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0", NULL};
    n->pid = dev_spawn_detached(argv, NULL, NULL, n->log, err, errlen);
    if (n->pid < 0)
        return -1;
    return dev_wait_ready(n->pid, TK_DEV_REDIS, redis_ready, &n->port, REDIS_START_MS, 100, "redis-server (cluster)",
                          n->log, err, errlen);
}

static int cluster_start(tk_dev_env *env, int masters, char *err, size_t errlen)
{
    const char *st = env->state_dir;
    int total = masters * 2, kept = 0;
    char bin[PATH_MAX], cli[PATH_MAX], log[PATH_MAX];
    if (dev_find_bin("redis-server", bin, sizeof bin) != 0 || dev_find_bin("redis-cli", cli, sizeof cli) != 0)
        return tk_err(err, errlen, "redis-server or redis-cli not found: run scripts/install-deps");
    if (dev_fmt_path(log, sizeof log, "%s/redis/cluster-create.log", st) != 0)
        return tk_err(err, errlen, "state dir path too long: %s", st);
    rnode n[TK_DEV_MAX_RNODES];
    for (int i = 0; i < total; i++) {
        if (rnode_paths(st, i, &n[i]) != 0)
            return tk_err(err, errlen, "state dir path too long: %s", st);
        if (n[i].pid > 0 && dev_pid_alive(n[i].pid) && dev_pid_is(n[i].pid, dev_comp_comms[TK_DEV_REDIS]) &&
            n[i].port > 0 && redis_pings(n[i].port)) {
            kept++;
            continue;
        }
        dev_stop_pid(n[i].pid, dev_comp_comms[TK_DEV_REDIS]);
        if (!kept && i == 0) { /* nothing alive to rejoin yet: a fresh cluster if none is alive at all */
            int any = 0;
            for (int j = 1; j < total; j++) {
                rnode m;
                if (rnode_paths(st, j, &m) == 0 && m.pid > 0 && dev_pid_alive(m.pid) &&
                    dev_pid_is(m.pid, dev_comp_comms[TK_DEV_REDIS]))
                    any = 1;
            }
            if (!any)
                for (int j = 0; j < total; j++) {
                    char conf[PATH_MAX];
                    if (dev_fmt_path(conf, sizeof conf, "%s/redis/cluster/%d/nodes.conf", st, j) == 0)
                        unlink(conf);
                }
        }
        if (rnode_start(&n[i], bin, err, errlen) != 0)
            return -1;
    }
    if (!cluster_ok(n[0].port, 0) && kept == 0) {
        /* redis-cli --cluster create host:port... --cluster-replicas 1 --cluster-yes */
        char *argv[TK_DEV_MAX_RNODES + 8], addrs[TK_DEV_MAX_RNODES][32];
        int a = 0;
        argv[a++] = cli;
        argv[a++] = "--cluster";
        argv[a++] = "create";
        for (int i = 0; i < total; i++) {
            snprintf(addrs[i], sizeof addrs[i], "127.0.0.1:%d", n[i].port);
            argv[a++] = addrs[i];
        }
        argv[a++] = "--cluster-replicas";
        argv[a++] = "1";
        argv[a++] = "--cluster-yes";
        argv[a] = NULL;
        if (dev_run_wait(argv, log) != 0) {
            char tail[512];
            dev_log_tail(log, tail, sizeof tail);
            return tk_err(err, errlen, "redis-cli --cluster create failed: %s", tail);
        }
    }
    /* every node agrees the cluster is up (slots covered, all nodes known) */
    uint64_t until = tk_mono_ms() + REDIS_START_MS;
    for (int i = 0; i < total; i++)
        while (!cluster_ok(n[i].port, total)) {
            if (tk_mono_ms() > until)
                return tk_err(err, errlen, "Redis Cluster: node 127.0.0.1:%d not in cluster_state:ok after %d s",
                              n[i].port, REDIS_START_MS / 1000);
            dev_sleep_ms(100);
        }
    size_t o = (size_t)snprintf(env->redis, sizeof env->redis, "redis-cluster://");
    for (int i = 0; i < total && o < sizeof env->redis; i++)
        o += (size_t)snprintf(env->redis + o, sizeof env->redis - o, "%s127.0.0.1:%d", i ? "," : "", n[i].port);
    env->pid[TK_DEV_REDIS] = n[0].pid;
    return 0;
}

int dev_redis_cluster_stop(const char *st)
{
    int rc = 0;
    for (int i = 0; i < TK_DEV_MAX_RNODES; i++) {
        rnode n;
        if (rnode_paths(st, i, &n) != 0 || !dev_file_exists(n.dir))
            break;
        if (dev_stop_pid(n.pid, dev_comp_comms[TK_DEV_REDIS]) != 0)
            rc = -1;
    }
    char path[PATH_MAX];
    if (rc == 0 && cluster_marker(st, path, sizeof path) == 0)
        unlink(path);
    return rc;
}

int tk_dev_redis_cluster_status(const char *state_dir, tk_dev_comp *nodes, int cap, int *state_ok)
{
    char st[TK_URL_MAX];
    *state_ok = 0;
    if (tk_dev_state_dir(state_dir, st, sizeof st, NULL, 0) != 0)
        return -1;
    int total = dev_redis_cluster_masters(st) * 2, n = 0;
    for (int i = 0; i < total && n < cap; i++) {
        rnode r;
        if (rnode_paths(st, i, &r) != 0)
            return -1;
        dev_probe_proc(&nodes[n], "rnode", r.pid, dev_comp_comms[TK_DEV_REDIS], r.port);
        if (nodes[n].running && !*state_ok)
            *state_ok = cluster_ok(r.port, 0);
        n++;
    }
    return n;
}
