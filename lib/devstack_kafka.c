/* The dev stack's Kafka: librdkafka's mock cluster in a child process,
 * behind a stable forwarding port. */
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

/* ---- Kafka (librdkafka mock cluster in a child process) ----------------- */

struct kafka_boot {
    const char *path;
    char addr[TK_URL_MAX];
};

static int kafka_ready(void *arg)
{
    struct kafka_boot *kb = arg;
    return dev_read_line(kb->path, kb->addr, sizeof kb->addr) == 0 && kb->addr[0];
}

/* ---- the embedded broker's stable address -------------------------------
 *
 * librdkafka's mock cluster listens on ports of its own choosing, so a
 * restarted broker would come back elsewhere and every client would keep
 * the dead address. The broker process therefore listens on the port
 * recorded in <state>/kafka/port and forwards each connection to the mock
 * cluster's bootstrap port. Clients bootstrap there, learn the broker's own
 * address from Metadata, and after a restart bootstrap again through the
 * same stable port. */

typedef struct fwd_conn {
    int client;
    int upstream_port;
} fwd_conn;

/* Copy bytes both ways until either side closes. */
static void *fwd_pipe(void *arg)
{
    fwd_conn *fc = arg;
    int up = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fc->upstream_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (up >= 0 && connect(up, (struct sockaddr *)&sa, sizeof sa) == 0) {
        struct pollfd pf[2] = {{.fd = fc->client, .events = POLLIN}, {.fd = up, .events = POLLIN}};
        char buf[65536];
        for (;;) {
            if (poll(pf, 2, -1) < 0 && errno != EINTR)
                break;
            int done = 0;
            for (int i = 0; i < 2 && !done; i++) {
                if (!(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                    continue;
                ssize_t n = read(pf[i].fd, buf, sizeof buf);
                if (n <= 0) {
                    done = 1;
                    break;
                }
                for (ssize_t off = 0; off < n;) {
                    ssize_t w = write(pf[1 - i].fd, buf + off, (size_t)(n - off));
                    if (w <= 0) {
                        done = 1;
                        break;
                    }
                    off += w;
                }
            }
            if (done)
                break;
        }
    }
    if (up >= 0)
        close(up);
    close(fc->client);
    free(fc);
    return NULL;
}

typedef struct fwd_ctx {
    int listen_fd, upstream_port;
} fwd_ctx;

static void *forward_main(void *arg)
{
    fwd_ctx *f = arg;
    for (;;) {
        int c = accept4(f->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break;
        }
        fwd_conn *fc = malloc(sizeof *fc);
        pthread_t t;
        if (!fc) {
            close(c);
            continue;
        }
        *fc = (fwd_conn){c, f->upstream_port};
        if (pthread_create(&t, NULL, fwd_pipe, fc) != 0) {
            close(c);
            free(fc);
            continue;
        }
        pthread_detach(t);
    }
    return NULL;
}

/* Listen on 127.0.0.1:port (address reuse: a restart must get it back). */
static int listen_on(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 128) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int tk_dev_kafka_broker_run(const char *state_dir, char *err, size_t errlen)
{
    char st[TK_URL_MAX], dir[PATH_MAX], boot[PATH_MAX], pidf[PATH_MAX], errstr[512];
    if (tk_dev_state_dir(state_dir, st, sizeof st, err, errlen) != 0)
        return -1;
    if (dev_fmt_path(dir, sizeof dir, "%s/kafka", st) || dev_fmt_path(boot, sizeof boot, "%s/bootstrap", dir) ||
        dev_fmt_path(pidf, sizeof pidf, "%s/broker.pid", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (dev_mkdir_p(dir) != 0)
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
    char line[TK_URL_MAX + 2], pidline[32], portf[PATH_MAX], pl[32];
    snprintf(line, sizeof line, "%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    /* a recorded port: clients come in there (see forward_main) */
    static fwd_ctx fwd;
    int64_t want = 0;
    if (dev_fmt_path(portf, sizeof portf, "%s/port", dir) == 0 && dev_read_line(portf, pl, sizeof pl) == 0 &&
        tk_parse_i64(pl, 1, 65535, &want) == 0) {
        int mock_port = dev_port_of(rd_kafka_mock_cluster_bootstraps(mc));
        int lfd = mock_port > 0 ? listen_on((int)want) : -1;
        pthread_t ft;
        if (lfd < 0) {
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return tk_err(err, errlen, "cannot listen on the recorded Kafka port 127.0.0.1:%lld: %s", (long long)want,
                          strerror(errno));
        }
        fwd = (fwd_ctx){lfd, mock_port};
        if (pthread_create(&ft, NULL, forward_main, &fwd) != 0) {
            close(lfd);
            rd_kafka_mock_cluster_destroy(mc);
            rd_kafka_destroy(rk);
            return tk_err(err, errlen, "cannot start the Kafka port forwarder");
        }
        pthread_detach(ft);
        snprintf(line, sizeof line, "127.0.0.1:%lld\n", (long long)want);
    }
    snprintf(pidline, sizeof pidline, "%ld\n", (long)getpid());
    int rc = 0;
    if (dev_write_file(pidf, pidline) != 0 || dev_write_file(boot, line) != 0) {
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

int dev_kafka_start(tk_dev_env *env, char *err, size_t errlen)
{
    const char *st = env->state_dir;
    char dir[PATH_MAX], boot[PATH_MAX], pidf[PATH_MAX], log[PATH_MAX], exe[PATH_MAX];
    if (dev_fmt_path(dir, sizeof dir, "%s/kafka", st) || dev_fmt_path(boot, sizeof boot, "%s/bootstrap", dir) ||
        dev_fmt_path(pidf, sizeof pidf, "%s/broker.pid", dir) || dev_fmt_path(log, sizeof log, "%s/broker.log", dir))
        return tk_err(err, errlen, "state dir path too long: %s", st);
    if (dev_mkdir_p(dir) != 0)
        return tk_err(err, errlen, "cannot create %s: %s", dir, strerror(errno));
    dev_stop_pid(dev_read_pidfile(pidf), dev_comp_comms[TK_DEV_KAFKA]);
    unlink(boot);
    /* the broker listens for clients on a stable port (see forward_main) */
    char portf[PATH_MAX], pl[16];
    int kport = dev_stable_port(env->kafka);
    snprintf(pl, sizeof pl, "%d\n", kport);
    if (kport <= 0 || dev_fmt_path(portf, sizeof portf, "%s/port", dir) != 0 || dev_write_file(portf, pl) != 0)
        return tk_err(err, errlen, "cannot record the Kafka port in %s", dir);

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
    long pid = dev_spawn_detached(exe[0] ? argv : NULL, broker_fn, a_state, log, err, errlen);
    if (pid < 0)
        return -1;

    struct kafka_boot kb = {.path = boot};
    if (dev_wait_ready(pid, TK_DEV_KAFKA, kafka_ready, &kb, KAFKA_START_MS, 50, "kafka mock broker", log, err,
                   errlen) != 0)
        return -1;
    const char *addr = kb.addr;
    env->pid[TK_DEV_KAFKA] = pid;
    snprintf(env->kafka, sizeof env->kafka, "%s", addr);
    return 0;
}

