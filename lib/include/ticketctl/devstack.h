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

/* The content of <state>/stack.env. Pids are 0 when not recorded. */
typedef struct tk_dev_env {
    char state_dir[TK_URL_MAX];    /* absolute */
    char mysql[TK_URL_MAX];        /* mysql://ticketctl:ticketctl@127.0.0.1:P/ticketctl */
    char redis[TK_URL_MAX];        /* redis://127.0.0.1:P */
    char kafka[TK_URL_MAX];        /* 127.0.0.1:P */
    char mysql_socket[TK_URL_MAX]; /* unix socket of the MariaDB server (root access) */
    long pid[TK_DEV_NCOMP];        /* indexed by TK_DEV_MYSQL.. */
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
    int all_running;                /* every component running */
    tk_dev_comp comp[TK_DEV_NCOMP];
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

/* Stop exactly the processes recorded in stack.env (and stale pid files
 * left by a crashed run): SIGTERM, wait up to 30 s, then SIGKILL. Removes
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

/* Which settings tk_backend_resolve_some() must produce. */
#define TK_NEED_MYSQL 1u
#define TK_NEED_REDIS 2u
#define TK_NEED_KAFKA 4u
#define TK_NEED_ALL (TK_NEED_MYSQL | TK_NEED_REDIS | TK_NEED_KAFKA)

/* tk_backend_resolve() for a command that needs only some backends (e.g.
 * `migrate` needs MariaDB only): the stack is consulted, and started when
 * autostart is set, only if a setting in `need` has neither flag nor env
 * value. Settings outside `need` are filled when known, else left empty.
 * tk_backend_resolve() is this with need == TK_NEED_ALL. Returns 0 or -1. */
int tk_backend_resolve_some(tk_backend *b, unsigned need, const char *mysql, const char *redis,
                            const char *kafka, const char *state_dir, int autostart,
                            char *err /* OUT */, size_t errlen);

/* Fault injection for tests: take the dev stack's Kafka broker down
 * (down != 0: it drops connections and refuses new ones, keeping its data)
 * or bring it back up. Returns 0, or -1 with a message in err. */
int tk_dev_kafka_fault(const char *state_dir, int down, char *err /* OUT */, size_t errlen);

#endif
