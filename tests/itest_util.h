/* Integration-test harness: the real local stack (MariaDB, Redis, Kafka
 * broker) started by `ticketctl dev up` in TICKETCTL_TEST_STATE, data
 * loaded by `ticketctl seed`, and `ticketctl serve` run as a child process
 * on a free port. HTTP through libcurl; checks straight in MariaDB. */
#ifndef TICKETCTL_ITEST_UTIL_H
#define TICKETCTL_ITEST_UTIL_H

#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <mysql.h>
#include <sys/types.h>

#include "ticketctl/backend.h"

typedef struct itest_env {
    tk_backend b;
    char bin[1024];   /* the ticketctl binary */
    char state[1024]; /* the stack's state dir */
    int port;
    pid_t server_pid;
    MYSQL *db;
} itest_env;

typedef struct itest_resp {
    long status; /* HTTP status, 0 on a transport error */
    char *body;  /* NUL-terminated, malloc'd */
    json_t *json; /* parsed body or NULL */
    char content_type[128]; /* the response's Content-Type, "" when none */
} itest_resp;

/* Start (or reuse) the stack, migrate, connect e->db. 0 or -1. */
int itest_stack(itest_env *e);
/* `ticketctl seed --reset <args>` against the stack. Returns its exit code. */
int itest_seed(itest_env *e, const char *args);
/* Start `ticketctl serve --port 0 <extra>` and wait until /readyz answers 200. 0 or -1. */
int itest_server_start(itest_env *e, const char *extra);
/* The same without --quiet: the server's log lines (stderr) go to log_path. */
int itest_server_start_log(itest_env *e, const char *extra, const char *log_path);
/* SIGTERM the server and wait; returns its exit status (0 = clean) or -1. */
int itest_server_stop(itest_env *e);
/* Close e->db (the stack keeps running for the next test binary). */
void itest_close(itest_env *e);

/* One request. token/body/header may be NULL; header is "Name: value". */
int itest_http(itest_env *e, const char *method, const char *path, const char *token, const char *body,
               const char *header, itest_resp *out);
/* The same with any number of "Name: value" headers (NULL-terminated list). */
int itest_http_h(itest_env *e, const char *method, const char *path, const char *token, const char *body,
                 const char *const *headers, itest_resp *out);
void itest_resp_free(itest_resp *r);
/* Log in seeded user N; returns a malloc'd token or NULL. */
char *itest_login(itest_env *e, int user_n);
/* Start `sh -c cmd` in the background: its pid, or -1. */
pid_t itest_spawn(const char *cmd);
/* Wait for pid at most timeout_ms (SIGKILLed past it). Its exit code; -1
 * when it was killed, signalled or could not be waited for. */
int itest_wait(pid_t pid, int timeout_ms);
/* Every check of lib/invariants.c on e->db: 1 when at least 5 ran and all
 * hold, else 0 (the broken ones are printed). */
int itest_invariants_hold(itest_env *e);

/* Log in any account (the seeded admin: admin@ticketctl.local and seed's
 * --admin-password); a malloc'd token or NULL. */
char *itest_login_as(itest_env *e, const char *email, const char *password);
/* First column of the first row as an integer (-1 on error, 0 if no row). */
long long itest_sql_i64(itest_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Run a ticketctl subcommand line (appends --state); returns its exit code. */
int itest_run(itest_env *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));


/* The integer value of the /metrics sample line "SERIES VALUE" (SERIES
 * with its labels, if any, exactly as exposed), or -1 when it is absent. */
long long itest_metric(itest_env *e, const char *series);

/* Called by itest_consume() for every event it parsed (ev is borrowed). */
typedef void (*itest_event_fn)(const rd_kafka_message_t *m, json_t *ev, void *arg);

/* Consume `topic` from the beginning of every partition (a fresh consumer
 * group, no rebalance to wait for) until every event id in `expected`
 * (object event_id -> 0) was seen or timeout_ms passed, then linger_ms more
 * for duplicates (0: stop at once). Counts land in `expected`; a repeat of
 * an expected id adds to *dups (dups may be NULL). each (may be NULL) sees
 * every event. Returns the distinct expected ids seen, -1 when the consumer
 * could not be set up. */
int itest_consume(itest_env *e, const char *topic, json_t *expected, int timeout_ms, int linger_ms, int *dups,
                  itest_event_fn each, void *arg);

/* A local webhook receiver on 127.0.0.1 (a thread): answers 500 to the
 * first `fail_first` requests, then 200, and keeps every body it accepted. */
typedef struct itest_hook itest_hook;
itest_hook *itest_hook_start(int fail_first);
int itest_hook_port(itest_hook *h);
int itest_hook_requests(itest_hook *h);  /* all requests, failed ones too */
json_t *itest_hook_bodies(itest_hook *h); /* new reference: array of accepted bodies (parsed) */
void itest_hook_stop(itest_hook *h);

#endif
