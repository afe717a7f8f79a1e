/* The reservation HTTP API server (see docs/API.md).
 *
 * Threads: `loops` libevent loops, each with its own evhttp bound to the
 * same port (SO_REUSEPORT: the kernel spreads connections); `workers`
 * threads each owning one blocking MariaDB connection and one Redis
 * connection. A loop thread never blocks on the network: it parses the
 * request, checks the token and the response cache, and hands anything that
 * needs MariaDB or Redis to a worker, which posts the finished response back
 * to the loop (event_active on the loop's completion event). */
#ifndef TICKETCTL_SERVER_H
#define TICKETCTL_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "ticketctl/queue.h"

typedef struct tk_server_config {
    const char *mysql_url;
    const char *redis_url;
    const char *kafka_brokers; /* may be NULL: events then wait in the outbox */
    int no_relay;              /* do not run the outbox relay in this process */
    int64_t outbox_retention_s; /* keep published outbox rows this long (0: 24 h, outbox.h) */
    int fault_latency_ms;      /* > 0: SIGUSR1 adds this delay to every worker job, SIGUSR2 ends it */
    const char *host;          /* default 127.0.0.1 */
    int port;                  /* 0: ephemeral */
    int loops;                 /* 0: one per CPU */
    int workers;               /* 0: 1 per loop, at least 2 */
    int hold_ttl_s;            /* default 600 (10 minutes) */
    int sweep_interval_ms;     /* default 1000 */
    int cache_ttl_ms;          /* default 5000 */
    int token_ttl_s;           /* default 3600 */
    /* waiting room (queue.h, server/queue_routes.c): kind NONE (default) = no
     * queue; otherwise hold and pay need an admitted X-Queue-Token */
    tk_queue_config queue;
    /* lock strategy of holds (strategy.h; NULL: redis-atomic); with
     * strategy_header, a request may pick another by the X-Lock-Strategy
     * header (for `bench --strategy`), otherwise such a request is a 400 */
    const struct tk_strategy *strategy;
    int strategy_header;
    const unsigned char *jwt_key;
    size_t jwt_key_len;
    const char *port_file; /* if set, the bound port is written here once listening */
    int request_timeout_ms;    /* a request's deadline (0: 2000): queued past it, it gets 503 */
    const char *access_log;    /* JSON lines, one per request, to this file ("-": stdout), or NULL */
    int quiet;
    /* --db-batch K (storebatch.h): a worker that takes a payment, hold or
     * charge also takes up to K-1 more of that kind already queued and runs
     * them in one round trip and one commit; 0 or 1: one job per store call
     * (the default path) */
    int db_batch;
} tk_server_config;

/* Run until SIGTERM or SIGINT, then drain in-flight requests (at most 10 s)
 * and return. Returns 0 on a clean stop, -1 with a message in err if the
 * server could not start (port in use, database unreachable, ...). */
int tk_server_run(const tk_server_config *cfg, char *err /* OUT */, size_t errlen);

/* The API's OpenAPI 3.0.3 document, made from the route table and the
 * component schemas (server/openapi.c): a new jansson reference the caller
 * json_decref()s, or NULL when a schema does not parse (said on stderr).
 * `ticketctl openapi` prints it; docs/openapi.json is that output. */
struct json_t;
struct json_t *tk_openapi_document(void);

#endif
