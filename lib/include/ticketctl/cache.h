/* In-process cache of rendered read responses (concert list, dates, seats).
 *
 * Keys are strings ("dates:42"); values are response bodies (bytes), copied
 * in and out. Invalidation is exact and race-free: a reader notes
 * tk_cache_seq() before it queries the database and passes it to
 * tk_cache_put(); if the key was invalidated after that, the put is dropped,
 * so a slow reader can never re-insert data older than a write it raced.
 * Entries also expire after ttl_ms as a bound on staleness across
 * processes. Thread-safe (sharded mutexes). */
#ifndef TICKETCTL_CACHE_H
#define TICKETCTL_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct tk_cache tk_cache;

/* New cache holding at most max_entries bodies, each for ttl_ms. NULL on OOM. */
tk_cache *tk_cache_new(size_t max_entries, int64_t ttl_ms);

/* Concert lists and searches ("concerts:<keyword>:<page>:<size>") carry
 * each concert's bookable flag, which a hold, cancel, expiry or failed
 * payment anywhere can flip (a schedule crossing sold-out, migration 15)
 * without naming the list entries that show it. So they live at most
 * TK_CACHE_LIST_TTL_MS in L1 and as long again in L2: an instance serves
 * an old flag for at most 2 x 50 = 100 ms (the cache bus's bound), and the
 * cache still absorbs a burst (single flight per key). */
#define TK_CACHE_LIST_PREFIX "concerts:"
#define TK_CACHE_LIST_TTL_MS 50
/* The lifetime of key's entries (ms): ttl_ms, or TK_CACHE_LIST_TTL_MS for a list. */
int64_t tk_cache_key_ttl_ms(const char *key, int64_t ttl_ms);
/* Free; NULL is a no-op. */
void tk_cache_free(tk_cache *c);

/* Current invalidation sequence number, to pass to tk_cache_put. */
uint64_t tk_cache_seq(tk_cache *c);

/* Copy the body of `key` into a malloc'd buffer (*out, caller frees) and
 * its length into *len. Returns 1 on a hit, 0 on a miss, -1 on OOM. */
int tk_cache_get(tk_cache *c, const char *key, char **out, size_t *len);

/* Store a copy of body under key unless key was invalidated after `seq`.
 * Returns 1 stored, 0 dropped (stale), -1 OOM. */
int tk_cache_put(tk_cache *c, const char *key, const char *body, size_t len, uint64_t seq);

/* Drop key (and fence out puts that read before now). */
void tk_cache_invalidate(tk_cache *c, const char *key);

/* Like tk_cache_invalidate (puts that read before now are dropped), but a
 * present body is kept after edit(body, &len, arg) changed it in place
 * (under the shard's lock: edit must be quick, must not grow the body, and
 * must not call the cache). edit returns < 0 to drop the body instead. The
 * entry keeps its expiry. For a write whose effect on a cached response is
 * known exactly (a held seat leaves the seat map), so the next read needs
 * no database round trip. */
void tk_cache_edit(tk_cache *c, const char *key, int (*edit)(char *body, size_t *len, void *arg), void *arg);

/* Drop everything (data reloaded). */
void tk_cache_clear(tk_cache *c);

/* Hits and misses so far (for /metrics). */
void tk_cache_stats(tk_cache *c, uint64_t *hits, uint64_t *misses);

/* ---- single flight: one database read per key at a time ----------------------
 *
 * On a cold start or after a purge during an on-sale, every worker would
 * miss the same hot key at once and read MariaDB for it (a stampede). A
 * reader that misses calls tk_cache_flight_begin: the first for a key
 * leads (returns 1), reads, puts, and calls tk_cache_flight_end; the others
 * wait up to wait_ms for it and return 0, then look in the cache again
 * (and read themselves only if the leader's put was refused or it timed
 * out). Per shard: a list of keys in flight and one condition variable. */
int tk_cache_flight_begin(tk_cache *c, const char *key, int wait_ms);
void tk_cache_flight_end(tk_cache *c, const char *key);
/* Leaders and followers (waited for a leader) so far. */
void tk_cache_flight_stats(tk_cache *c, uint64_t *leaders, uint64_t *followers);

/* ---- the invalidation bus between instances ---------------------------------
 *
 * Each server instance keeps its own cache; a change on one instance must
 * reach the others' at once, not after ttl_ms (issue 16: no instance serves
 * the old view for more than 100 ms). The bus is Redis pub/sub: the
 * instance that changed something PUBLISHes the keys it invalidated on
 * TK_CACHE_BUS_CHANNEL, and every instance's bus thread (one SUBSCRIBE
 * connection) invalidates them locally as soon as the message arrives.
 * Message: "<instance id> <wall ms> <key> [<key> ...]", or the key "*" for
 * everything; an instance ignores its own messages (it has applied them).
 * Pub/sub is at most once: after the subscriber's connection broke (Redis
 * restarted), messages sent meanwhile are lost, so the bus clears the whole
 * cache on every (re)subscribe; while Redis is down, ttl_ms bounds the
 * staleness as before. */
#define TK_CACHE_BUS_CHANNEL "tk:cache:inval"

typedef struct redisContext redisContext;
typedef struct tk_cache_bus tk_cache_bus;

/* Start the bus thread for cache c (which must outlive the bus), with its
 * own connection to redis_url. NULL with a message in err when the thread
 * cannot start; an unreachable Redis is retried in the background. */
tk_cache_bus *tk_cache_bus_start(tk_cache *c, const char *redis_url, char *err /* OUT */, size_t errlen);
/* Stop and free; NULL is a no-op. */
void tk_cache_bus_stop(tk_cache_bus *b);

/* The views keys[0..n-1] changed (n >= 1, each < 120 bytes; "*": all):
 * their L2 copies are made old (INCR of each view's generation; for "*" of
 * the epoch) and the keys PUBLISHed, in one pipelined round trip on rc, a
 * connection the caller owns. b NULL or rc NULL/broken: nothing is sent
 * (returns -1); the other instances catch up within ttl_ms. */
int tk_cache_publish(tk_cache_bus *b, redisContext *rc, const char *const *keys, size_t n);

/* ---- L2: the views in Redis, shared by the instances -----------------------
 *
 * A view's body is kept under "tk:view:{tag}:<view>" (tag {sale:<id>} for a
 * schedule's seat map), stamped "<epoch>:<data>:<generation>|" with the
 * purge epoch, the data generation (seed moves tk:cache:gen after a load)
 * and the view's generation as they were before the reader went to
 * MariaDB; a change moves the generation (tk_cache_publish), so a body
 * filled from an older read can never be taken for current: a hit needs
 * the current stamp. Keys expire after the TTL; generations are kept. */

/* Look view up in L2 (one pipelined round trip: epoch, generation, body,
 * data generation).
 * 1: a current body (malloc'd into *out, caller frees; *len); 0: a miss,
 * stamp then holds what a fill must carry; -1: Redis failed (no fill). */
int tk_cache_l2_get(tk_cache_bus *b, redisContext *rc, const char *view, char **out, size_t *len,
                    char stamp[48] /* OUT */);
/* Store body as view's L2 copy with the stamp of the miss, for ttl_ms. 0 or -1. */
int tk_cache_l2_put(tk_cache_bus *b, redisContext *rc, const char *view, const char *body, size_t len,
                    const char *stamp, int64_t ttl_ms);

typedef struct tk_cache_bus_stats {
    uint64_t published;     /* messages this instance sent */
    uint64_t received;      /* other instances' messages applied */
    uint64_t keys;          /* keys they invalidated here */
    uint64_t resubscribes;  /* (re)subscriptions, each a full clear */
    uint64_t lag_sum_ms;    /* sum of (arrival - publication) wall ms of received messages */
    uint64_t lag_max_ms;
    uint64_t lag_le[6];     /* received with lag <= 1, 5, 10, 50, 100 ms, and all (+Inf) */
    uint64_t l2_hits, l2_misses; /* L2 lookups (tk_cache_l2_get) */
} tk_cache_bus_stats;

/* Counters so far (any thread). */
void tk_cache_bus_get_stats(tk_cache_bus *b, tk_cache_bus_stats *out /* OUT */);

#endif
