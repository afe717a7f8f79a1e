/* Dev stack internals shared by its files (not a public API): devstack.c
 * (state dir, stack.env, status, up/down), devstack_proc.c (files,
 * processes, ports), devstack_mysql.c, devstack_redis.c, devstack_kafka.c
 * (the embedded broker) and devstack_instances.c (serve behind nginx). */
#ifndef TICKETCTL_DEVSTACK_INT_H
#define TICKETCTL_DEVSTACK_INT_H

#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/devstack.h"

#include <stddef.h>

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

/* Component names in stack.env and messages, and their /proc/PID/comm. */
extern const char *const dev_comp_names[TK_DEV_NCOMP];
extern const char *const dev_comp_comms[TK_DEV_NCOMP];

/* ---- devstack_proc.c: files, processes, ports (each returns 0/-1 unless said) ---- */

/* snprintf that reports truncation; copy with a length check. */
int dev_fmt_path(char *out, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int dev_copy_str(char *dst, size_t n, const char *src);
int dev_mkdir_p(const char *path);
int dev_file_exists(const char *path); /* 1 or 0 */
/* The executable `name` in the usual sbin/bin dirs into out. */
int dev_find_bin(const char *name, char *out, size_t outlen);
int dev_read_line(const char *path, char *buf, size_t n);
long dev_read_pidfile(const char *path); /* the pid, or 0 */
int dev_write_file(const char *path, const char *content); /* atomically: tmp + rename */
void dev_log_tail(const char *path, char *out, size_t n); /* the last lines of a log, for messages */
void dev_sleep_ms(unsigned ms);

/* A pid that exists and is not a zombie (1/0); whose /proc comm is comm (1/0). */
int dev_pid_alive(long pid);
int dev_pid_is(long pid, const char *comm);
/* Stop pid if it is alive and named comm: sig (SIGTERM), wait, SIGKILL. */
int dev_stop_pid_sig(long pid, const char *comm, int sig);
int dev_stop_pid(long pid, const char *comm);
/* Start argv (or fn(arg) when argv is NULL) detached by a double fork,
 * output to logpath; returns the server's pid or -1 with err. */
typedef int (*spawn_fn)(void *arg);
long dev_spawn_detached(char *const argv[], spawn_fn fn, void *arg, const char *logpath, char *err, size_t errlen);
/* Run argv to completion with output to logpath; its exit status. */
int dev_run_wait(char *const argv[], const char *logpath);
/* Poll ready(arg) every poll_ms until it says 1, the pid dies, or
 * timeout_ms; on failure err names what and quotes the log's tail. */
int dev_wait_ready(long pid, int comp, int (*ready)(void *), void *arg, int timeout_ms, int poll_ms,
                   const char *what, const char *log, char *err, size_t errlen);

/* Ports: a free loopback port (or -1); is port free (1/0); the port of a
 * URL or host:port (0 when none); the recorded port when still free for a
 * SO_REUSEADDR server, else a free one; does host:port accept (1/0). */
int dev_free_port(void);
int dev_port_free(int port);
int dev_port_of(const char *s);
int dev_stable_port(const char *recorded);
int dev_tcp_probe(const char *host, int port, int timeout_ms);
/* "host:port[,...]" -> the first host and port. */
int dev_split_addr(const char *addr, char *host, size_t hostlen, int *port);

/* ---- devstack.c: the stack ---- */

int dev_env_write(const tk_dev_env *env, char *err, size_t errlen);
void dev_probe_proc(tk_dev_comp *c, const char *name, long pid, const char *comm, int port);
int dev_target_port(const char *target);
/* <state>/lock, held while the stack changes: the fd (close to release) or -1. */
int dev_lock_state(const char *st, char *err, size_t errlen);
/* Start whatever stack.env records as not running; the number started or -1. */
int dev_up_locked(const char *st, tk_dev_env *out, char *err, size_t errlen);

/* ---- one file per server: start it into env (pid and URL), 0 or -1 ---- */

int dev_mysql_start(tk_dev_env *env, char *err, size_t errlen);
int dev_redis_start(tk_dev_env *env, char *err, size_t errlen);
/* Redis Cluster mode (devstack_redis.c): the masters recorded by
 * tk_dev_redis_cluster() (0: a single redis-server); stop every node and
 * drop the mode (0, or -1 when a node did not stop). */
int dev_redis_cluster_masters(const char *st);
int dev_redis_cluster_stop(const char *st);
int dev_kafka_start(tk_dev_env *env, char *err, size_t errlen);

#endif
