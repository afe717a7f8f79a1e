/* Seat holds in Redis: a fast first filter in front of the database.
 *
 * tk_hold_acquire does `SET tk:hold:<gen>:seat:<id> <owner> NX PX <ttl>` in one
 * atomic step, so of many racing requests for one seat only one reaches the
 * database; the others are answered SEAT_TAKEN from Redis. The database's
 * conditional UPDATE stays the final arbiter: a lost or stale Redis key can
 * only cost a wasted database round trip, never a double booking. */
#ifndef TICKETCTL_HOLD_H
#define TICKETCTL_HOLD_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "ticketctl/backend.h" /* tk_redis_connect */
#include "ticketctl/common.h"

/* TK_OK: this caller owns the hold for ttl_ms. TK_ECONFLICT: someone else
 * does. TK_EBACKEND: Redis failed (callers fall back to the database). */
tk_rc tk_hold_acquire(redisContext *c, uint64_t gen, uint64_t seat_id, uint64_t owner, int64_t ttl_ms);

/* Delete the hold key if `owner` still holds it (compare-and-delete in one
 * Lua script), or unconditionally when owner == 0. Errors are ignored:
 * the key expires by itself. */
void tk_hold_release(redisContext *c, uint64_t gen, uint64_t seat_id, uint64_t owner);

/* Make a hold permanent (the seat was sold). Errors ignored. */
void tk_hold_persist(redisContext *c, uint64_t gen, uint64_t seat_id);

/* The data generation (Redis key tk:cache:gen, bumped by `seed`): hold keys
 * and caches are namespaced by it so a reload never sees stale holds.
 * Returns 0 when Redis has none, -1 on error. */
long long tk_data_gen(redisContext *c);

#endif
