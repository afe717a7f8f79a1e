/* Server internals shared by server.c (threads, dispatch), routes.c
 * (handlers) and metrics.c. Not for use outside server/. */
#ifndef TICKETCTL_SERVER_INTERNAL_H
#define TICKETCTL_SERVER_INTERNAL_H

#include <event2/event.h>
#include <event2/http.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "server.h"
#include "ticketctl/auth.h"
#include "ticketctl/cache.h"
#include "ticketctl/health.h"
#include "ticketctl/outbox.h"
#include "ticketctl/store.h"
#include "ticketctl/strategy.h"

#define TK_MAX_BODY (64 * 1024) /* bytes; larger bodies get 413 */

typedef struct tk_server tk_server;
typedef struct tk_loop tk_loop;
typedef struct tk_job tk_job;
typedef struct tk_worker tk_worker;

/* Route flags. */
enum {
    R_AUTH = 1 << 0,   /* needs a valid bearer token */
    R_INLINE = 1 << 1, /* runs on the loop thread (no MariaDB/Redis) */
    R_LOOP_FIRST = 1 << 2, /* runs on the loop thread first (w == NULL); if it sets no reply
                              (j->status stays 0) the job goes on to a worker as usual */
    R_HTML = 1 << 3,   /* the reply is text/html (a page for people), not JSON */
    R_ADMIN = 1 << 4,  /* with R_AUTH: the token's role must be ADMIN (else 403) */
    R_LOW = 1 << 5,    /* the waiting room's own worker jobs (take a place, leave, a poll the
                          loop could not answer): queued in the low lane, which workers take
                          after the bookings' lane, every TK_LOW_LANE_SHARE-th job at least */
};

/* A handler: on a worker (w != NULL) or inline on the loop (w == NULL).
 * It must set a response with job_reply_json/job_reply_error. */
typedef void (*tk_handler)(tk_job *j, tk_worker *w);
/* Fills j->cache_key for a cacheable GET, or leaves it empty. */
typedef void (*tk_cache_key_fn)(tk_job *j);

typedef struct tk_route {
    const char *method;  /* "GET", "POST" */
    const char *pattern; /* "/api/v1/concerts/{id}/schedules" */
    tk_handler fn;
    unsigned flags;
    tk_cache_key_fn cache_key;
    const char *summary;  /* for openapi.json */
    const char *body;     /* request body fields for openapi.json, or NULL */
    const char *responds; /* success status and shape */
    /* descriptive columns, for openapi.json (openapi.c) and the contract test */
    const char *op_id;       /* operationId, lowerCamelCase: "createReservation" */
    const char *tag;         /* OpenAPI tag: "reservations" */
    const char *req_schema;  /* component schema of the request body (api_schemas.c), or NULL */
    const char *resp_schema; /* component schema of the success body */
    const char *errors;      /* route-specific errors, "404 NOT_FOUND,409 SEAT_TAKEN"; the ones every
                              * route of its kind can give (400 BAD_REQUEST, 401 on R_AUTH, 400/413/422
                              * on a body, 5XX) are added by openapi.c */
    const char *headers;     /* request headers this route reads, "Idempotency-Key!,X-Queue-Token"
                              * ('!': required); described in openapi.c */
} tk_route;

/* One component schema of openapi.json: a name and its JSON Schema text. */
typedef struct tk_api_schema {
    const char *name; /* "Reservation" */
    const char *json; /* the schema object as JSON text */
} tk_api_schema;

extern const tk_api_schema tk_api_schemas[]; /* api_schemas.c */
extern const size_t tk_napi_schemas;

extern const tk_route tk_routes[];
extern const size_t tk_nroutes;

struct tk_job {
    tk_loop *loop;
    int retry_after_s; /* Retry-After on a 503 (default 1: RFC 9110 15.6.4) */
    struct evhttp_request *req; /* touched only on the loop thread */
    const tk_route *route;
    int route_index;
    uint64_t ids[2];
    int nids;
    tk_claims claims;
    char *body; /* NUL-terminated copy of the request body */
    size_t body_len;
    struct evkeyvalq *query; /* parsed query string (owned) */
    char idem_key[80];
    char qtoken[192]; /* X-Queue-Token (waiting room, queue.h), "" when absent or too long */
    const tk_strategy *strategy; /* X-Lock-Strategy, or NULL: the server's */
    char cache_key[160];
    uint64_t cache_seq;
    char if_none_match[96]; /* If-None-Match of a cacheable read ("" when absent or too long) */
    int status;
    char *resp; /* response body (malloc'd) */
    size_t resp_len;
    uint64_t t_start_us;
    uint64_t deadline_us; /* t_start_us + --request-timeout: a job still queued then is answered 503 */
    char request_id[65];  /* X-Request-Id: the client's when valid, else generated */
    const char *method;   /* "GET", ... (static) */
    int head;             /* a HEAD request served by its GET route: no body is sent */
    int close;            /* answer with Connection: close */
    tk_job *next;
};

struct tk_worker {
    tk_server *srv;
    tk_store *store;
    redisContext *redis;
    char redis_url[512];
    pthread_t thread;
    tk_serve_hold_ctx hold; /* lock-strategy state of this worker's holds */
};

struct tk_loop {
    tk_server *srv;
    int index;
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct event *done_ev; /* activated by workers when jobs complete */
    struct event *ctl_ev;  /* activated to stop accepting */
    pthread_mutex_t mu;
    tk_job *done_head, *done_tail;
    pthread_t thread;
    tk_jwt_cache *tokens;     /* verified bearer tokens (auth.h), this loop's own */
    pthread_mutex_t pulse_mu; /* this second's latencies (server/pulse.c) */
    struct tk_hist *pulse_hist;
    uint64_t pulse_errors;
    uint64_t request_seq; /* generated request ids: <boot id>-<loop>-<seq> */
    int64_t err_log_ms;   /* last 5xx line on stderr (error_log_line) */
    uint64_t err_log_skipped;
};

/* Metrics (server/metrics.c). Latency buckets in ms. */
#define TK_LAT_BUCKETS 14
#define TK_METRIC_ROUTES 64 /* per route index; the last slot: unmatched */
#define TK_METRIC_STRATEGIES 16
/* hold outcomes: held, seat_taken, conflict, busy, stale, rejected, error */
#define TK_HOLD_OUTCOMES 7
/* payment outcomes: completed, insufficient_points, expired, conflict, not_found, rejected, error */
#define TK_PAY_OUTCOMES 7
typedef struct tk_metrics {
    _Atomic uint64_t requests[TK_METRIC_ROUTES][6]; /* per route, per status class 1xx..5xx (0 unused) */
    _Atomic uint64_t lat_bucket[TK_METRIC_ROUTES][TK_LAT_BUCKETS + 1];
    _Atomic uint64_t lat_sum_us[TK_METRIC_ROUTES];
    _Atomic int64_t inflight;
    _Atomic int64_t queued;
    _Atomic int64_t queued_low;              /* of those, in the low lane (waiting-room jobs) */
    _Atomic uint64_t lane_jobs[2];           /* jobs workers took: [0] bookings' lane, [1] low lane */
    _Atomic uint64_t queue_waits; /* jobs that found every worker busy */
    _Atomic uint64_t holds_redis_rejected;
    _Atomic uint64_t holds_expired;
    _Atomic uint64_t holds[TK_METRIC_STRATEGIES][TK_HOLD_OUTCOMES]; /* by strategy index (strategy.h) */
    _Atomic uint64_t payments[TK_PAY_OUTCOMES];
    _Atomic uint64_t db_batches; /* --db-batch: store calls that carried more than one job */
} tk_metrics;

/* Count a hold's outcome under its lock strategy, a payment's outcome
 * (metrics.c; any thread). */
void tk_metrics_hold(tk_metrics *m, const tk_strategy *st, tk_rc rc);
void tk_metrics_payment(tk_metrics *m, tk_rc rc);

struct tk_server {
    tk_server_config cfg;
    tk_health *health; /* MariaDB and Redis pinged in the background: /readyz answers from it */
    tk_loop *loops;
    int nloops;
    tk_worker *workers;
    int nworkers;
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    tk_job *q_head, *q_tail;   /* the worker queue: bookings and reads, in arrival order */
    tk_job *lq_head, *lq_tail; /* the low lane (R_LOW), in arrival order */
    unsigned pops;             /* jobs taken, under qmu: every TK_LOW_LANE_SHARE-th prefers the low lane */
    _Atomic int busy_workers;
    _Atomic int stopping;
    _Atomic int workers_stop;
    _Atomic uint64_t data_gen; /* Redis tk:cache:gen: namespaces hold keys */
    tk_cache *cache;
    tk_cache_bus *cache_bus; /* invalidations to and from the other instances (cache.h), or NULL */
    tk_relay *relay; /* outbox -> Kafka, or NULL */
    tk_metrics metrics;
    pthread_t sweeper;
    pthread_mutex_t sweep_mu;
    pthread_cond_t sweep_cv;
    char *openapi;
    size_t openapi_len;
    struct event *sig_term, *sig_int, *sig_usr1, *sig_usr2, *drain_timer, *deadline_timer;
    uint64_t drain_deadline_us, drain_started_us;
    _Atomic int64_t conns; /* open client connections (strict_bev_new .. strict_conn_free) */
    int64_t started_ms;
    struct rd_kafka_s *pulse_rk; /* per-second metrics producer */
    pthread_t pulse_thread;
    pthread_mutex_t pulse_mu;
    pthread_cond_t pulse_cv;
    int pulse_stop, pulse_started;
    uint64_t pulse_dropped;
    _Atomic int inject_latency_ms; /* fault injection (SIGUSR1 arms, SIGUSR2 disarms) */
    pthread_mutex_t pwhash_mu; /* argon2id at 64 MiB: bounded concurrency */
    pthread_cond_t pwhash_cv;
    int pwhash_running;
    char strict_secret[33]; /* the path of strict.c's refusals, unguessable by clients */
    char boot_id[17];       /* random per process: the prefix of generated request ids */
    FILE *access_log;       /* --access-log, or NULL */
    uint64_t request_timeout_us;
    _Atomic uint64_t deadline_503; /* jobs answered 503 because their deadline passed in the queue */
    _Atomic uint64_t strict_refused;
};

/* Responses (server/reply.c). Both take ownership/consume their inputs. */
void job_reply_json(tk_job *j, int status, json_t *obj /* stolen */);
/* A body already rendered as JSON text (malloc'd, stolen; NULL: a 500). */
void job_reply_text(tk_job *j, int status, char *json, size_t len);
void job_reply_error(tk_job *j, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Map a store failure to status + the store's code/message. */
void job_reply_store(tk_job *j, tk_rc rc, tk_store *s);
/* HTTP status for a tk_rc. */
int tk_rc_http_status(tk_rc rc);

/* Parse the JSON object body or reply 400/413 and return NULL. */
json_t *job_body_object(tk_job *j);
/* Query parameter or NULL. */
const char *job_query(tk_job *j, const char *name);

/* Metrics (server/metrics.c). */
void tk_metrics_observe(tk_metrics *m, int route_index, int status, uint64_t us);
char *tk_metrics_render(tk_server *srv, size_t *len);

/* Per-second metrics record to Kafka (server/pulse.c). */
#define TK_TOPIC_METRICS "ticketctl.metrics"
void tk_pulse_record(tk_loop *l, int status, uint64_t us);
int tk_pulse_start(tk_server *srv, char *err /* OUT */, size_t errlen);
void tk_pulse_stop(tk_server *srv);

/* openapi.json generated from the route table (server/openapi.c). */
/* tk_openapi_render: tk_openapi_document (server.h) as compact JSON text
 * the caller frees, *len its bytes; NULL on failure. */
char *tk_openapi_render(size_t *len);

#endif
