/* Seat holds in Redis (see hold.h for why the database remains the arbiter).
 * Each call touches one key. In a Redis Cluster the key carries its sale's
 * hash tag {sale:S} (tk_hold_key), so a sale's holds, seat locks and fences
 * share the slot of its waiting-room keys (rcluster.h). */
#include "ticketctl/hold.h"
#include "ticketctl/backend.h"
#include "ticketctl/rcluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Compare-and-delete: release only a hold we own (Redis docs, "Distributed
 * locks with Redis", the single-instance release script). */
static const char release_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
static char release_sha[41];

int tk_hold_key(char *out, size_t n, const redisContext *c, tk_hold_kind kind, uint64_t gen, uint64_t schedule_id,
                uint64_t seat_id)
{
    unsigned long long g = gen, s = schedule_id, seat = seat_id;
    int w;
    if (tk_redis_is_cluster(c)) /* one slot per sale: {sale:S}, the waiting room's tag (queue.c) */
        w = kind == TK_HOLD_KEY_FENCE ? snprintf(out, n, "tk:fence:{sale:%llu}:seat:%llu", s, seat)
                                      : snprintf(out, n, "tk:%s:{sale:%llu}:%llu:seat:%llu",
                                                 kind == TK_HOLD_KEY_LOCK ? "lock" : "hold", s, g, seat);
    else /* one Redis: the keys as they always were */
        w = kind == TK_HOLD_KEY_HOLD   ? snprintf(out, n, "tk:hold:%llu:seat:%llu", g, seat)
            : kind == TK_HOLD_KEY_LOCK ? snprintf(out, n, "tk:lock:%llu:{seat:%llu}", g, seat)
                                       : snprintf(out, n, "tk:fence:{seat:%llu}", seat);
    return w > 0 && (size_t)w < n ? w : -1;
}

tk_rc tk_hold_acquire(redisContext *c, uint64_t gen, uint64_t schedule_id, uint64_t seat_id, uint64_t owner,
                      int64_t ttl_ms)
{
    if (!c)
        return TK_EBACKEND;
    char key[96];
    if (tk_hold_key(key, sizeof key, c, TK_HOLD_KEY_HOLD, gen, schedule_id, seat_id) < 0)
        return TK_EBACKEND;
    redisReply *r = tk_redis_cmd(c, key, "SET %s %llu NX PX %lld", key, (unsigned long long)owner, (long long)ttl_ms);
    if (!r)
        return TK_EBACKEND;
    tk_rc rc = r->type == REDIS_REPLY_STATUS ? TK_OK : r->type == REDIS_REPLY_NIL ? TK_ECONFLICT : TK_EBACKEND;
    freeReplyObject(r);
    return rc;
}

void tk_hold_release(redisContext *c, uint64_t gen, uint64_t schedule_id, uint64_t seat_id, uint64_t owner)
{
    if (!c)
        return;
    char key[96], own[24];
    if (tk_hold_key(key, sizeof key, c, TK_HOLD_KEY_HOLD, gen, schedule_id, seat_id) < 0)
        return;
    snprintf(own, sizeof own, "%llu", (unsigned long long)owner);
    const char *av[] = {key, own};
    redisReply *r = owner ? tk_redis_eval(c, release_lua, release_sha, 1, 2, av, NULL, 0)
                          : tk_redis_cmd(c, key, "DEL %s", key);
    if (r)
        freeReplyObject(r);
}

void tk_hold_persist(redisContext *c, uint64_t gen, uint64_t schedule_id, uint64_t seat_id)
{
    if (!c)
        return;
    char key[96];
    if (tk_hold_key(key, sizeof key, c, TK_HOLD_KEY_HOLD, gen, schedule_id, seat_id) < 0)
        return;
    redisReply *r = tk_redis_cmd(c, key, "PERSIST %s", key);
    if (r)
        freeReplyObject(r);
}

long long tk_data_gen(redisContext *c)
{
    if (!c)
        return -1;
    redisReply *r = tk_redis_cmd(c, "tk:cache:gen", "GET tk:cache:gen");
    if (!r)
        return -1;
    long long gen = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : r->type == REDIS_REPLY_NIL ? 0 : -1;
    freeReplyObject(r);
    return gen;
}
