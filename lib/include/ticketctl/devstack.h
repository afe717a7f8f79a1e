/* The private local stack: MariaDB, Redis and an embedded Kafka broker,
 * started from the system binaries into a state dir and recorded in
 * <state>/stack.env, so tests and commands never touch system services.
 *
 * Layout of a state dir (default ./.ticketctl, or $TICKETCTL_STATE):
 *   lock                 flock(2) taken by up/down so parallel callers serialise
 *   stack.env            KEY=VALUE lines: URLs, pids, socket (see tk_dev_env)
 *   mysql/data           datadir (kept across down unless purged)
 *   mysql/ (logs)        install.log, error.log, mysqld.out, pid, socket
 *   redis/               redis.pid, redis.log
 *   kafka/               broker.log, bootstrap (written by the broker)
 *   serve/<i>/           serve.log, port: instance i of `dev up --instances N`
 *   nginx/               nginx.conf (generated), nginx.pid, error.log, tmp/
 *
 * Every call here is blocking and meant for command-line use or test setup,
 * never for a request path. Errors: 0 on success, -1 with a message in the
 * caller's err buffer (OUT, may be NULL). */
#ifndef TICKETCTL_DEVSTACK_H
#define TICKETCTL_DEVSTACK_H

#include <stddef.h>

#include "ticketctl/backend.h"

/* Components of the stack, in start order; indexes into tk_dev_report.comp. */
enum { TK_DEV_MYSQL = 0, TK_DEV_REDIS, TK_DEV_KAFKA, TK_DEV_NCOMP };

/* Most `serve` instances `dev up --instances N` runs behind nginx. */
#define TK_DEV_MAX_INSTANCES 16

/* The content of <state>/stack.env. Pids are 0 when not recorded. */
typedef struct tk_dev_env {
    char state_dir[TK_URL_MAX];    /* absolute */
    char mysql[TK_URL_MAX];        /* mysql://ticketctl:ticketctl@127.0.0.1:P/ticketctl */
    char redis[TK_URL_MAX];        /* redis://127.0.0.1:P */
    char kafka[TK_URL_MAX];        /* 127.0.0.1:P */
    char mysql_socket[TK_URL_MAX]; /* unix socket of the MariaDB server (root access) */
    long pid[TK_DEV_NCOMP];        /* indexed by TK_DEV_MYSQL.. */
    /* Many instances (tk_dev_instances_up); all zero/empty when none run. */
    int instances;                          /* serve instances recorded */
    long inst_pid[TK_DEV_MAX_INSTANCES];    /* TICKETCTL_INSTANCE_PIDS=p1,p2,.. */
    int inst_port[TK_DEV_MAX_INSTANCES];    /* TICKETCTL_INSTANCE_PORTS=P1,P2,.. (127.0.0.1) */
    long nginx_pid;                         /* TICKETCTL_NGINX_PID: the nginx master */
    char target[TK_URL_MAX];                /* TICKETCTL_TARGET=http://127.0.0.1:P (nginx) */
    char serve_args[TK_URL_MAX];            /* TICKETCTL_SERVE_ARGS: extra flags of the instances */
} tk_dev_env;

/* One component as seen by tk_dev_status(). */
typedef struct tk_dev_comp {
    const char *name;       /* "mysql", "redis", "kafka"; static storage */
    long pid;               /* recorded pid, 0 if none */
    char addr[64];          /* "127.0.0.1:P", empty if unknown */
    int pid_alive;          /* process exists and is not a zombie */
    int port_open;          /* a TCP connect to addr succeeded within 500 ms */
    int running;            /* pid_alive && port_open */
} tk_dev_comp;

typedef struct tk_dev_report {
    char state_dir[TK_URL_MAX];     /* absolute */
    int have_env;                   /* stack.env exists */
    int all_running;                /* every backend component (comp[]) running */
    tk_dev_comp comp[TK_DEV_NCOMP];
    int instances;                  /* serve instances recorded (0: none) */
    tk_dev_comp inst[TK_DEV_MAX_INSTANCES]; /* name "serve"; addr is the instance's own port */
    tk_dev_comp nginx;              /* name "nginx"; pid 0 when none recorded */
    int all_instances_running;      /* every recorded instance and nginx running (1 when none) */
} tk_dev_report;

/* Resolve the state dir: `arg` if non-NULL and non-empty, else
 * $TICKETCTL_STATE, else "./.ticketctl"; made absolute (the directory need
 * not exist). Writes at most outlen bytes to out. Returns 0 or -1. */
int tk_dev_state_dir(const char *arg, char *out /* OUT */, size_t outlen,
                     char *err /* OUT */, size_t errlen);

/* Start whatever part of the stack in state_dir (resolved as above; NULL
 * means default) is not running, wait until each component answers, create
 * the `ticketctl` database and user, and write stack.env. Components that
 * already run are kept, so calling it on a running stack is a cheap no-op.
 * Holds <state>/lock for the duration (blocks while another up/down runs).
 * Fills *env (may be NULL) with the resulting stack.env. Takes a few
 * seconds on a first start (datadir initialisation), at most ~2 min before
 * giving up. Returns the number of components it started (0: all were
 * already running), or -1; on failure it stops what this call started. */
int tk_dev_up(const char *state_dir, tk_dev_env *env /* OUT */, char *err /* OUT */, size_t errlen);

/* Durable mode (`dev up --durable`): mark the stack of state_dir so its
 * MariaDB runs with innodb_flush_log_at_trx_commit=1, the binary log on and
 * sync_binlog=1 until `dev down`; a MariaDB already running in the default
 * mode is stopped, for the next tk_dev_up to start it durable (data kept).
 * Call before tk_dev_up. 0, or -1 with err. */
int tk_dev_durable(const char *state_dir, char *err /* OUT */, size_t errlen);

/* Redis Cluster mode (`dev up --redis-cluster N`): mark the stack of
 * state_dir so that its Redis is a Redis Cluster on loopback of `masters`
 * (3..TK_DEV_MAX_RNODES/2) masters with one replica each, until `dev down`:
 * redis-server --cluster-enabled yes, cluster-node-timeout 1000 ms, nodes
 * in <state>/redis/cluster/<i>/, created with `redis-cli --cluster create
 * ... --cluster-replicas 1 --cluster-yes`; stack.env then records
 * TICKETCTL_REDIS=redis-cluster://127.0.0.1:P1,...  (every node) and the
 * first node's pid. A single redis-server already running is stopped for
 * the next tk_dev_up to start the cluster (its data is dropped). Call
 * before tk_dev_up. 0, or -1 with err (also when a cluster of another size
 * runs: `dev down` first). */
#define TK_DEV_MAX_RNODES 16
int tk_dev_redis_cluster(const char *state_dir, int masters, char *err /* OUT */, size_t errlen);

/* The cluster's nodes as tk_dev_status sees components (name "rnode"), up
 * to cap into nodes; *state_ok = 1 when a live node reports
 * cluster_state:ok. Returns the node count (0: no cluster mode) or -1. */
int tk_dev_redis_cluster_status(const char *state_dir, tk_dev_comp *nodes /* OUT */, int cap, int *state_ok /* OUT */);

/* Many instances behind nginx (`dev up --instances N`). */
typedef struct tk_dev_instances_opts {
    int instances;          /* N in 0..TK_DEV_MAX_INSTANCES; 0 stops the instances and nginx */
    int port;               /* nginx's loopback port; 0: keep the recorded one, else a free one */
    const char *serve_args; /* extra `serve` flags, split on blanks (no quoting); NULL: the
                             * recorded ones (TICKETCTL_SERVE_ARGS). Running instances keep
                             * theirs: scale to 0 first to change them. */
} tk_dev_instances_opts;

/* tk_dev_up(), then bring the number of `ticketctl serve` instances to
 * o->instances and put nginx in front of them.
 *
 * Instances are the same binary (/proc/self/exe when it is ticketctl, else
 * $TICKETCTL_BIN) run as `serve --port 0 --port-file <state>/serve/<i>/port
 * --state <state> --mysql .. --redis .. --kafka-brokers .. [serve_args]`,
 * detached, one log each (<state>/serve/<i>/serve.log), started one after
 * the other (each waits for GET /readyz = 200, at most 60 s) so the first
 * applies migrations and creates <state>/jwt.secret, which all share: a
 * token from one instance is valid on every other. Running instances are
 * kept (scaling up starts the missing ones; scaling down stops the highest
 * with SIGTERM, which drains), unless this call had to (re)start a backend:
 * then every instance is replaced, since it points at the old address. nginx (/usr/sbin/nginx, Debian nginx-light)
 * runs from a generated <state>/nginx/nginx.conf (upstream with keepalive
 * to the instances; see the config's comments for the retry policy) on
 * 127.0.0.1:port, reloaded (SIGHUP) when the instance set changes.
 * stack.env records the pids, ports and TICKETCTL_TARGET.
 *
 * Holds <state>/lock. Returns the number of processes started (backends,
 * instances and nginx; 0: nothing to do), or -1 with err set; on failure
 * what this call started is stopped again. */
int tk_dev_instances_up(const char *state_dir, const tk_dev_instances_opts *o, tk_dev_env *env /* OUT */,
                        char *err /* OUT */, size_t errlen);

/* Rolling restart of the serve instances behind nginx, one slot at a
 * time: start the successor (same flags, same port: serve listens with
 * SO_REUSEPORT) and wait for its /readyz, then SIGTERM the predecessor,
 * which drains (serve stops
 * accepting, answers the next request on each keep-alive connection with
 * Connection: close, exits once idle). Requests in flight during it are
 * not failed. 0 with *env updated, or -1 with err set (a failed start
 * leaves the instances that still run recorded). */
int tk_dev_instances_restart(const char *state_dir, tk_dev_env *env /* OUT */, char *err /* OUT */, size_t errlen);

/* The nginx URL of the stack in state_dir (NULL: default) when instances
 * run there: writes "http://127.0.0.1:P" (at most outlen bytes) and returns
 * 0; returns 1 when none is recorded or nginx does not answer, -1 on an
 * unreadable stack.env. For `bench`/`report` defaults. */
int tk_dev_target(const char *state_dir, char *out /* OUT */, size_t outlen);

/* Stop exactly the processes recorded in stack.env (and stale pid files
 * left by a crashed run): nginx first (SIGQUIT: graceful), then the serve
 * instances (SIGTERM: they drain in-flight requests), then Kafka, Redis,
 * MariaDB (SIGTERM); each waited for up to 30 s, then SIGKILL. Removes
 * stack.env. With purge != 0 also deletes the data and logs (the whole
 * state dir). Stopping a stopped stack succeeds. Returns 0 or -1. */
int tk_dev_down(const char *state_dir, int purge, char *err /* OUT */, size_t errlen);

/* Probe each component (pid alive and port answering). Fills *st; returns 0
 * (whatever the components' state) or -1 if stack.env is unreadable. */
int tk_dev_status(const char *state_dir, tk_dev_report *st /* OUT */, char *err /* OUT */, size_t errlen);

/* Read <state>/stack.env into *env. Returns 0, 1 if the file does not exist
 * (*env then holds only state_dir), or -1 if it cannot be read. */
int tk_dev_env_read(const char *state_dir, tk_dev_env *env /* OUT */, char *err /* OUT */, size_t errlen);

/* Write *env as shell `export KEY='VALUE'` lines into buf (always
 * NUL-terminated). Returns the length written, or -1 if buf is too small. */
int tk_dev_env_format(const tk_dev_env *env, int shell_export, char *buf /* OUT */, size_t buflen);

/* The body of the embedded Kafka broker process (`ticketctl dev
 * kafka-broker`): create a one-broker librdkafka mock cluster on 127.0.0.1,
 * write its bootstrap address to <state>/kafka/bootstrap and its pid to
 * <state>/kafka/broker.pid, then block until SIGTERM/SIGINT. Returns 0 after
 * a clean shutdown, -1 if the cluster cannot be created. */
int tk_dev_kafka_broker_run(const char *state_dir, char *err /* OUT */, size_t errlen);

/* Fault injection for tests: take the dev stack's Kafka broker down
 * (down != 0: it drops connections and refuses new ones, keeping its data)
 * or bring it back up. Returns 0, or -1 with a message in err. */
int tk_dev_kafka_fault(const char *state_dir, int down, char *err /* OUT */, size_t errlen);

#endif
