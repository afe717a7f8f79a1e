/* The dev stack's Redis: redis-server on loopback, no persistence. */
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


int dev_redis_start(tk_dev_env *env, char *err, size_t errlen)
{
    const char *st = env->state_dir;
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

