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

#endif
