/* Seat holds in Redis: a fast first filter in front of the database.
 *
 * tk_hold_acquire does `SET <hold key> <owner> NX PX <ttl>` in one
 * atomic step, so of many racing requests for one seat only one reaches the
 * database; the others are answered SEAT_TAKEN from Redis. The database's
 * conditional UPDATE stays the final arbiter: a lost or stale Redis key can
 * only cost a wasted database round trip, never a double booking. */
#ifndef TICKETCTL_HOLD_H
#define TICKETCTL_HOLD_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/backend.h" /* tk_redis_connect */
#include "ticketctl/common.h"

/* The Redis keys of a seat of schedule (sale) schedule_id:
 *   one redis-server (the keys of before issue 12, unchanged):
 *     TK_HOLD_KEY_HOLD  tk:hold:<gen>:seat:<seat>
 *     TK_HOLD_KEY_LOCK  tk:lock:<gen>:{seat:<seat>}   (strategy redis-lock)
 *     TK_HOLD_KEY_FENCE tk:fence:{seat:<seat>}        (its fencing counter)
 *   a Redis Cluster handle (rcluster.h): the sale's hash tag, so a sale's
 *   holds, locks and fences sit in the slot of its waiting-room keys and any
 *   script over them stays on one node (issue 12, part 4):
 *     tk:hold:{sale:<S>}:<gen>:seat:<seat>, tk:lock:{sale:<S>}:<gen>:seat:<seat>,
 *     tk:fence:{sale:<S>}:seat:<seat>
 * The lock and its fence share a slot either way (one EVAL checks both).
 * schedule_id is ignored for one redis-server, so callers that cannot name
 * the schedule cheaply only need it in cluster mode. Writes at most n bytes
 * with the NUL into out; returns the length, or -1 when n is too small. */
typedef enum { TK_HOLD_KEY_HOLD, TK_HOLD_KEY_LOCK, TK_HOLD_KEY_FENCE } tk_hold_kind;
int tk_hold_key(char *out /* OUT */, size_t n, const redisContext *c, tk_hold_kind kind, uint64_t gen,
                uint64_t schedule_id, uint64_t seat_id);

/* TK_OK: this caller owns the hold of seat_id (of schedule_id, see
 * tk_hold_key) for ttl_ms. TK_ECONFLICT: someone else does. TK_EBACKEND:
 * Redis failed (callers fall back to the database). */
tk_rc tk_hold_acquire(redisContext *c, uint64_t gen, uint64_t schedule_id, uint64_t seat_id, uint64_t owner,
                      int64_t ttl_ms);

/* Delete the hold key if `owner` still holds it (compare-and-delete in one
 * Lua script), or unconditionally when owner == 0. Errors are ignored:
 * the key expires by itself. */
void tk_hold_release(redisContext *c, uint64_t gen, uint64_t schedule_id, uint64_t seat_id, uint64_t owner);

/* Make a hold permanent (the seat was sold). Errors ignored. */
void tk_hold_persist(redisContext *c, uint64_t gen, uint64_t schedule_id, uint64_t seat_id);

/* The data generation (Redis key tk:cache:gen, bumped by `seed`): hold keys
 * and caches are namespaced by it so a reload never sees stale holds.
 * Returns 0 when Redis has none, -1 on error. */
long long tk_data_gen(redisContext *c);

#endif
