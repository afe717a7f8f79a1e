/* What the handler files share (routes.c, admin_routes.c): input helpers
 * that reply and return in one step, the cached views' invalidation, and
 * the route tables as one list for the router, metrics and openapi.json. */
#ifndef TICKETCTL_SERVER_ROUTES_H
#define TICKETCTL_SERVER_ROUTES_H

#include "internal.h"
#include "ticketctl/storebatch.h"

/* A string field of min..max bytes (no NUL inside), or reply 422 and return NULL. */
const char *job_want_string(tk_job *j, json_t *o, const char *name, size_t min, size_t max);
/* An integer field in [1, max] into *out, or reply 422 and return -1. */
int job_want_int(tk_job *j, json_t *o, const char *name, int64_t max, int64_t *out);
/* page (>= 1) and size (1..100) query parameters, or reply 400 and return -1. */
int job_want_page(tk_job *j, int *page, int *size);

/* A schedule's seats or a concert changed (hold, cancel, expiry, failed
 * payment, admin change): drop the cached views of it in this process and
 * tell the other instances (cache bus, cache.h). schedule_id 0: the concert
 * only. */
void tk_views_changed(tk_worker *w, uint64_t concert_id, uint64_t schedule_id);
/* The same from a thread with its own Redis connection rc (the sweeper). */
void tk_views_changed_on(tk_server *srv, redisContext *rc, uint64_t concert_id, uint64_t schedule_id);
/* The catalogue changed (a concert made, renamed, deleted) or a purge:
 * every cached view, here and on the other instances. */
void tk_views_purge(tk_worker *w);

/* HTTP caching of the cached reads (RFC 9110 8.8.3 ETag, 13.1.2
 * If-None-Match; RFC 9111 5.2.2.4 no-cache): for a 200 of a route with a
 * cache key, the strong validator of the body (XXH3-64 of its bytes, 18
 * characters with the quotes) into etag and Cache-Control into cc; returns
 * 304 when the request's If-None-Match names it (or is "*"), else the
 * status unchanged. Other replies: etag and cc are "" and the status stays. */
int tk_http_validators(const tk_job *j, int status, char etag[24], const char **cc);

/* serve --db-batch (server.c): the payment, hold and charge routes in three steps,
 * so that a worker can run several queued jobs of one kind in one batch
 * (storebatch.h). job_*_begin checks the waiting room and the request (and
 * for a hold the lock strategy's Redis step): 1 when *it is filled and the
 * store call is due, 0 when the job was answered (a 4xx, SEAT_TAKEN by
 * Redis, or a hold under a strategy that cannot batch, run whole).
 * job_*_end answers the job from the item's outcome (what the handler did
 * after the store call: metrics, Redis hold release or persist, cached
 * views, the reply). */
int job_pay_begin(tk_job *j, tk_worker *w, tk_pay_item *it);
void job_pay_end(tk_job *j, tk_worker *w, const tk_pay_item *it);
int job_hold_begin(tk_job *j, tk_worker *w, tk_hold_item *it);
void job_hold_end(tk_job *j, tk_worker *w, const tk_hold_item *it);
int job_charge_begin(tk_job *j, tk_worker *w, tk_charge_item *it);
void job_charge_end(tk_job *j, tk_worker *w, const tk_charge_item *it);
/* The batch kind of route r: TK_BATCH_PAY (POST /api/v1/payments),
 * TK_BATCH_HOLD (POST /api/v1/reservations), TK_BATCH_CHARGE (POST
 * /api/v1/points/charge), or 0. */
enum { TK_BATCH_PAY = 1, TK_BATCH_HOLD = 2, TK_BATCH_CHARGE = 3 };
int tk_route_batch_kind(const tk_route *r);

/* The admin table (admin_routes.c). */
extern const tk_route tk_admin_routes[];
extern const size_t tk_admin_nroutes;

/* Every route: tk_routes then tk_admin_routes, index 0..tk_route_count()-1
 * (the metrics slot of a route is its index). */
size_t tk_route_count(void);
const tk_route *tk_route_at(size_t i);

#endif
