/* Redis lease with fencing tokens (see lease.h). */
#include "ticketctl/lease.h"
#include "ticketctl/rcluster.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

/* KEYS[1] lease key, KEYS[2] fence counter; ARGV[1] owner, ARGV[2] ttl ms.
 * Returns the token (> 0) while held by ARGV[1], 0 when held by another. */
static const char acquire_lua[] =
    "local v = redis.call('get', KEYS[1]) "
    "if v == ARGV[1] then redis.call('pexpire', KEYS[1], ARGV[2]) "
    "  return tonumber(redis.call('get', KEYS[2]) or '0') end "
    "if v then return 0 end "
    "redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
    "return redis.call('incr', KEYS[2])";

static const char release_lua[] =
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0";

static const char fence_lua[] =
    "if tonumber(redis.call('get', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return -2 end ";

static char acquire_sha[41], release_sha[41];

void tk_lease_init(tk_lease *l, const char *name, int64_t ttl_ms)
{
    memset(l, 0, sizeof *l);
    snprintf(l->key, sizeof l->key, "tk:lease:{%.100s}", name);
    snprintf(l->fence_key, sizeof l->fence_key, "%s:fence", l->key);
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    for (int i = 0; i < 16; i++)
        snprintf(l->owner + 2 * i, 3, "%02x", raw[i]);
    l->ttl_ms = ttl_ms > 0 ? ttl_ms : 1000;
}

int tk_lease_acquire(tk_lease *l, redisContext *c)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)l->ttl_ms);
    const char *av[] = {l->key, l->fence_key, l->owner, ttl};
    uint64_t had = l->fence;
    redisReply *r = tk_redis_eval(c, acquire_lua, acquire_sha, 2, 4, av, NULL, 0);
    int rc = -1;
    l->fence = 0;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        l->fence = r->integer > 0 ? (uint64_t)r->integer : 0;
        rc = r->integer > 0 ? 1 : 0;
    }
    if (r)
        freeReplyObject(r);
    /* a new token must survive a failover, or a successor could get it again */
    if (rc == 1 && l->fence != had)
        tk_redis_wait_replica(c, l->key, 100);
    return rc;
}

void tk_lease_release(tk_lease *l, redisContext *c)
{
    const char *av[] = {l->key, l->owner};
    redisReply *r = tk_redis_eval(c, release_lua, release_sha, 1, 2, av, NULL, 0);
    if (r)
        freeReplyObject(r);
    l->fence = 0;
}

const char *tk_lease_fence_lua(void) { return fence_lua; }
