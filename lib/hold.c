/* Seat holds in Redis (see hold.h for why the database remains the arbiter). */
#include "ticketctl/hold.h"
#include "ticketctl/backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compare-and-delete: release only a hold we own (Redis docs, "Distributed
 * locks with Redis", the single-instance release script). */
static const char release_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

tk_rc tk_hold_acquire(redisContext *c, uint64_t gen, uint64_t seat_id, uint64_t owner, int64_t ttl_ms)
{
    if (!c)
        return TK_EBACKEND;
    redisReply *r = redisCommand(c, "SET tk:hold:%llu:seat:%llu %llu NX PX %lld", (unsigned long long)gen, (unsigned long long)seat_id,
                                 (unsigned long long)owner, (long long)ttl_ms);
    if (!r)
        return TK_EBACKEND;
    tk_rc rc = r->type == REDIS_REPLY_STATUS ? TK_OK : r->type == REDIS_REPLY_NIL ? TK_ECONFLICT : TK_EBACKEND;
    freeReplyObject(r);
    return rc;
}

void tk_hold_release(redisContext *c, uint64_t gen, uint64_t seat_id, uint64_t owner)
{
    if (!c)
        return;
    redisReply *r;
    if (owner)
        r = redisCommand(c, "EVAL %s 1 tk:hold:%llu:seat:%llu %llu", release_lua, (unsigned long long)gen, (unsigned long long)seat_id,
                         (unsigned long long)owner);
    else
        r = redisCommand(c, "DEL tk:hold:%llu:seat:%llu", (unsigned long long)gen, (unsigned long long)seat_id);
    if (r)
        freeReplyObject(r);
}

void tk_hold_persist(redisContext *c, uint64_t gen, uint64_t seat_id)
{
    if (!c)
        return;
    redisReply *r = redisCommand(c, "PERSIST tk:hold:%llu:seat:%llu", (unsigned long long)gen, (unsigned long long)seat_id);
    if (r)
        freeReplyObject(r);
}

long long tk_data_gen(redisContext *c)
{
    if (!c)
        return -1;
    redisReply *r = redisCommand(c, "GET tk:cache:gen");
    if (!r)
        return -1;
    long long gen = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : r->type == REDIS_REPLY_NIL ? 0 : -1;
    freeReplyObject(r);
    return gen;
}
