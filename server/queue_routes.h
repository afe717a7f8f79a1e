/* The waiting room in the server (server/queue_routes.c; queue.h): the
 * queue routes, the gate in front of hold and pay, and the admission job.
 * Internal to server/. One waiting room per process (the state is static:
 * tk_server_run runs one server per process). */
#ifndef TICKETCTL_SERVER_QUEUE_ROUTES_H
#define TICKETCTL_SERVER_QUEUE_ROUTES_H

#include "internal.h"

/* Start the admission job (a thread with its own Redis and MariaDB
 * connections; one tick every cfg.queue.tick_ms, under the lease
 * of each sale, "sale:S" (tk_queue_lease_name), so one instance admits a
 * sale per tick) when cfg.queue.kind is not
 * NONE; a no-op otherwise. Call after the workers exist. 0, or -1 with a
 * message in err. */
int tk_wr_start(tk_server *srv, char *err /* OUT */, size_t errlen);
/* Stop the job and close the per-worker connections. Call after the
 * workers have been joined. Safe when tk_wr_start did nothing or failed. */
void tk_wr_stop(tk_server *srv);

/* Gates, called first thing in h_reserve / h_pay. With no queue they pass
 * (return 0) at once. Otherwise they pass only a request carrying an
 * X-Queue-Token that is signed by this server, unexpired, the caller's,
 * for the schedule of the seat (hold) or of the reservation (pay), and
 * admitted now; else they reply (401 INVALID_QUEUE_TOKEN /
 * QUEUE_TOKEN_EXPIRED, 403 QUEUE_TOKEN_REQUIRED / QUEUE_TOKEN_FOREIGN /
 * NOT_ADMITTED, 503) and return -1: the handler must return without
 * touching anything. A body the gate cannot read (no seat_id, unknown
 * seat) passes, for the handler's own 4xx. On a Redis Cluster the hold
 * gate reads the seat's schedule (the hold keys' hash tag, hold.h) with or
 * without a queue, into *schedule_id. */
int queue_gate_hold(tk_job *j, tk_worker *w, uint64_t *schedule_id /* OUT: the seat's, 0 when not read */);
int queue_gate_pay(tk_job *j, tk_worker *w);
/* After a successful payment: revoke the admission so the slot frees before
 * its TTL. Errors are ignored (the TTL ends it anyway). */
void queue_after_pay(tk_job *j, tk_worker *w);

/* Polls answered so far from the token and the sale's state (no backend
 * call) and by the backend on a worker; for /metrics and tests. */
void tk_wr_poll_counts(uint64_t *stateless, uint64_t *backend);

/* One sale's waiting room as this instance saw it at the last tick (the
 * "now serving" state it refreshes from Redis), for /metrics. */
typedef struct tk_wr_sale_gauges {
    uint64_t sale;        /* schedule id */
    int64_t waiting;      /* users in the line */
    int64_t active;       /* admitted and live (at most --active-users) */
    double rate_per_min;  /* admission rate this sale gets now, users per minute */
    double advance_per_min; /* measured pace of the line (admitted + skipped), ranks per minute; 0 unknown */
    int64_t at_ms;        /* wall time of the tick that wrote the state */
} tk_wr_sale_gauges;

/* Copy up to cap sales' gauges, by schedule id; returns the count (0 with
 * no waiting room or before the first tick). Memory only, no backend call. */
int tk_wr_sale_gauges_get(tk_wr_sale_gauges *out, int cap);

/* Routes: POST/GET/DELETE /api/v1/queue/{id}/token|status (docs/API.md).
 * h_queue_status is R_LOOP_FIRST: called with w == NULL on the loop first. */
void h_queue_take(tk_job *j, tk_worker *w);
void h_queue_status(tk_job *j, tk_worker *w);
void h_queue_leave(tk_job *j, tk_worker *w);

#endif
