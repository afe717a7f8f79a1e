/* In-process response cache: sharded chained hash tables with tombstones
 * for race-free invalidation (see cache.h). O(1) get/put; a shard that
 * outgrows its share of max_entries is emptied wholesale, which is crude
 * but bounded, and cheap to refill from the database. */
#include "ticketctl/cache.h"
#include "ticketctl/common.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define SHARDS 16
#define BUCKETS 1024 /* per shard */

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    uint64_t inval_seq; /* last invalidation of this key */
    int64_t expires_ms; /* 0: tombstone, no body */
    char *body;
    size_t len;
    char key[];
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    uint64_t fence_seq; /* emptied at this seq: earlier reads may not put */
    entry *buckets[BUCKETS];
    size_t count;
} shard;

struct tk_cache {
    shard shards[SHARDS];
    size_t max_per_shard;
    int64_t ttl_ms;
    _Atomic uint64_t seq;
    _Atomic uint64_t clear_seq; /* puts that read before this are stale */
    _Atomic uint64_t hits, misses;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

tk_cache *tk_cache_new(size_t max_entries, int64_t ttl_ms)
{
    tk_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < SHARDS; i++)
        pthread_mutex_init(&c->shards[i].mu, NULL);
    c->max_per_shard = max_entries / SHARDS + 1;
    c->ttl_ms = ttl_ms;
    atomic_init(&c->seq, 1);
    atomic_init(&c->clear_seq, 0);
    return c;
}

static void shard_empty(shard *sh)
{
    for (int b = 0; b < BUCKETS; b++) {
        entry *e = sh->buckets[b];
        while (e) {
            entry *n = e->next;
            free(e->body);
            free(e);
            e = n;
        }
        sh->buckets[b] = NULL;
    }
    sh->count = 0;
}

void tk_cache_free(tk_cache *c)
{
    if (!c)
        return;
    for (int i = 0; i < SHARDS; i++) {
        shard_empty(&c->shards[i]);
        pthread_mutex_destroy(&c->shards[i].mu);
    }
    free(c);
}

uint64_t tk_cache_seq(tk_cache *c) { return atomic_load(&c->seq); }

static entry **find(shard *sh, uint64_t h, const char *key)
{
    entry **pp = &sh->buckets[(h >> 4) % BUCKETS];
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && !strcmp((*pp)->key, key))
            return pp;
    return pp;
}

int tk_cache_get(tk_cache *c, const char *key, char **out, size_t *len)
{
    uint64_t h = fnv1a(key);
    shard *sh = &c->shards[h % SHARDS];
    int rc = 0;
    pthread_mutex_lock(&sh->mu);
    entry *e = *find(sh, h, key);
    if (e && e->body && e->expires_ms > (int64_t)tk_mono_ms()) {
        *out = malloc(e->len ? e->len : 1);
        if (*out) {
            memcpy(*out, e->body, e->len);
            *len = e->len;
            rc = 1;
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&sh->mu);
    atomic_fetch_add(rc == 1 ? &c->hits : &c->misses, 1);
    return rc;
}

int tk_cache_put(tk_cache *c, const char *key, const char *body, size_t len, uint64_t seq)
{
    uint64_t h = fnv1a(key);
    shard *sh = &c->shards[h % SHARDS];
    size_t klen = strlen(key);
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return -1;
    memcpy(copy, body, len);
    int rc = 1;
    pthread_mutex_lock(&sh->mu);
    entry **pp = find(sh, h, key);
    entry *e = *pp;
    if (seq < atomic_load(&c->clear_seq) || seq < sh->fence_seq || (e && e->inval_seq > seq)) {
        rc = 0; /* invalidated after the caller read: its data is stale */
        free(copy);
    } else {
        if (!e) {
            if (sh->count >= c->max_per_shard) {
                /* Emptying drops tombstones too, so fence the whole shard. */
                shard_empty(sh);
                sh->fence_seq = atomic_load(&c->seq);
                pp = find(sh, h, key);
            }
            e = calloc(1, sizeof *e + klen + 1);
            if (!e) {
                pthread_mutex_unlock(&sh->mu);
                free(copy);
                return -1;
            }
            e->hash = h;
            memcpy(e->key, key, klen + 1);
            *pp = e;
            sh->count++;
        }
        free(e->body);
        e->body = copy;
        e->len = len;
        e->expires_ms = (int64_t)tk_mono_ms() + c->ttl_ms;
    }
    pthread_mutex_unlock(&sh->mu);
    return rc;
}

/* Fence key at a new sequence number (puts that read before it are
 * dropped) and either edit its body in place or drop it. */
static void fence_key(tk_cache *c, const char *key, int (*edit)(char *body, size_t *len, void *arg), void *arg)
{
    uint64_t h = fnv1a(key);
    shard *sh = &c->shards[h % SHARDS];
    size_t klen = strlen(key);
    uint64_t now_seq = atomic_fetch_add(&c->seq, 1) + 1;
    pthread_mutex_lock(&sh->mu);
    entry **pp = find(sh, h, key);
    entry *e = *pp;
    if (!e) {
        /* a tombstone, so a reader that started before now cannot put */
        e = calloc(1, sizeof *e + klen + 1);
        if (e) {
            e->hash = h;
            memcpy(e->key, key, klen + 1);
            *pp = e;
            sh->count++;
        }
    }
    if (e) {
        if (!edit || !e->body || edit(e->body, &e->len, arg) < 0) {
            free(e->body);
            e->body = NULL;
            e->len = 0;
            e->expires_ms = 0;
        }
        e->inval_seq = now_seq;
    }
    pthread_mutex_unlock(&sh->mu);
}

void tk_cache_invalidate(tk_cache *c, const char *key) { fence_key(c, key, NULL, NULL); }

void tk_cache_edit(tk_cache *c, const char *key, int (*edit)(char *body, size_t *len, void *arg), void *arg)
{
    fence_key(c, key, edit, arg);
}

void tk_cache_clear(tk_cache *c)
{
    uint64_t now_seq = atomic_fetch_add(&c->seq, 1) + 1;
    atomic_store(&c->clear_seq, now_seq);
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_lock(&c->shards[i].mu);
        shard_empty(&c->shards[i]);
        pthread_mutex_unlock(&c->shards[i].mu);
    }
}

void tk_cache_stats(tk_cache *c, uint64_t *hits, uint64_t *misses)
{
    *hits = atomic_load(&c->hits);
    *misses = atomic_load(&c->misses);
}
