/* In-process response cache: sharded chained hash tables with tombstones
 * for race-free invalidation (see cache.h). O(1) get/put; a shard that
 * outgrows its share of max_entries is emptied wholesale, which is crude
 * but bounded, and cheap to refill from the database. */
#include "ticketctl/cache.h"
#include "ticketctl/common.h"
#include "ticketctl/seed.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

typedef struct flight {
    struct flight *next;
    uint64_t hash;
    char key[];
} flight;

typedef struct shard {
    pthread_mutex_t mu;
    pthread_cond_t flight_cv; /* a flight of this shard ended */
    flight *flights;          /* keys being read by a leader */
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
    _Atomic uint64_t leaders, followers;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

int64_t tk_cache_key_ttl_ms(const char *key, int64_t ttl_ms)
{
    if (!strncmp(key, TK_CACHE_LIST_PREFIX, sizeof TK_CACHE_LIST_PREFIX - 1) && ttl_ms > TK_CACHE_LIST_TTL_MS)
        return TK_CACHE_LIST_TTL_MS;
    return ttl_ms;
}

tk_cache *tk_cache_new(size_t max_entries, int64_t ttl_ms)
{
    tk_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    for (int i = 0; i < SHARDS; i++) {
        pthread_mutex_init(&c->shards[i].mu, NULL);
        pthread_cond_init(&c->shards[i].flight_cv, NULL);
    }
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
        for (flight *f = c->shards[i].flights, *n; f; f = n) {
            n = f->next;
            free(f);
        }
        pthread_mutex_destroy(&c->shards[i].mu);
        pthread_cond_destroy(&c->shards[i].flight_cv);
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
        e->expires_ms = (int64_t)tk_mono_ms() + tk_cache_key_ttl_ms(key, c->ttl_ms);
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

/* ---- single flight (cache.h) ----------------------------------------------------- */

static flight **flight_find(shard *sh, uint64_t h, const char *key)
{
    flight **pp = &sh->flights;
    for (; *pp; pp = &(*pp)->next)
        if ((*pp)->hash == h && !strcmp((*pp)->key, key))
            return pp;
    return pp;
}

int tk_cache_flight_begin(tk_cache *c, const char *key, int wait_ms)
{
    uint64_t h = fnv1a(key);
    shard *sh = &c->shards[h % SHARDS];
    pthread_mutex_lock(&sh->mu);
    if (!*flight_find(sh, h, key)) {
        size_t klen = strlen(key);
        flight *f = malloc(sizeof *f + klen + 1);
        if (f) {
            f->hash = h;
            memcpy(f->key, key, klen + 1);
            f->next = sh->flights;
            sh->flights = f;
        }
        pthread_mutex_unlock(&sh->mu);
        atomic_fetch_add(&c->leaders, 1);
        return f ? 1 : -1; /* -1: no memory, read without a flight */
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += wait_ms / 1000;
    ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    while (*flight_find(sh, h, key))
        if (pthread_cond_timedwait(&sh->flight_cv, &sh->mu, &ts) != 0)
            break;
    pthread_mutex_unlock(&sh->mu);
    atomic_fetch_add(&c->followers, 1);
    return 0;
}

void tk_cache_flight_end(tk_cache *c, const char *key)
{
    uint64_t h = fnv1a(key);
    shard *sh = &c->shards[h % SHARDS];
    pthread_mutex_lock(&sh->mu);
    flight **pp = flight_find(sh, h, key), *f = *pp;
    if (f) {
        *pp = f->next;
        free(f);
    }
    pthread_cond_broadcast(&sh->flight_cv);
    pthread_mutex_unlock(&sh->mu);
}

void tk_cache_flight_stats(tk_cache *c, uint64_t *leaders, uint64_t *followers)
{
    *leaders = atomic_load(&c->leaders);
    *followers = atomic_load(&c->followers);
}

/* ---- the invalidation bus (cache.h) -------------------------------------------- */

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ticketctl/backend.h"
#include "ticketctl/rcluster.h"

static const uint64_t bus_lag_le_ms[5] = {1, 5, 10, 50, 100};

struct tk_cache_bus {
    tk_cache *cache;
    char url[512];
    uint64_t id; /* this instance's, to skip its own messages */
    pthread_t thread;
    pthread_mutex_t mu; /* guards sub and stop against the stopping thread */
    redisContext *sub;
    int stop;
    _Atomic uint64_t published, received, keys, resubscribes, lag_sum_ms, lag_max_ms;
    _Atomic uint64_t l2_hits, l2_misses;
    _Atomic uint64_t lag_le[6];
};

/* Apply one message's text "<id> <ms> key ...". */
static void bus_apply(tk_cache_bus *b, const char *msg, size_t len)
{
    char buf[2048];
    if (len >= sizeof buf)
        len = sizeof buf - 1;
    memcpy(buf, msg, len);
    buf[len] = '\0';
    char *save = NULL, *id = strtok_r(buf, " ", &save), *ms = strtok_r(NULL, " ", &save);
    if (!id || !ms || strtoull(id, NULL, 16) == b->id)
        return;
    int64_t lag = (int64_t)tk_wall_ms() - strtoll(ms, NULL, 10);
    if (lag < 0)
        lag = 0;
    uint64_t n = 0;
    for (char *k = strtok_r(NULL, " ", &save); k; k = strtok_r(NULL, " ", &save), n++) {
        if (!strcmp(k, "*"))
            tk_cache_clear(b->cache);
        else
            tk_cache_invalidate(b->cache, k);
    }
    atomic_fetch_add(&b->received, 1);
    atomic_fetch_add(&b->keys, n);
    atomic_fetch_add(&b->lag_sum_ms, (uint64_t)lag);
    uint64_t prev = atomic_load(&b->lag_max_ms);
    while ((uint64_t)lag > prev && !atomic_compare_exchange_weak(&b->lag_max_ms, &prev, (uint64_t)lag))
        ;
    for (int i = 0; i < 5; i++)
        if ((uint64_t)lag <= bus_lag_le_ms[i])
            atomic_fetch_add(&b->lag_le[i], 1);
    atomic_fetch_add(&b->lag_le[5], 1);
}

static void *bus_main(void *arg)
{
    tk_cache_bus *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        int stop = b->stop;
        pthread_mutex_unlock(&b->mu);
        if (stop)
            break;
        redisContext *rc = tk_redis_connect(b->url, NULL, 0);
        redisReply *r = rc ? redisCommand(rc, "SUBSCRIBE %s", TK_CACHE_BUS_CHANNEL) : NULL;
        if (!r) {
            if (rc)
                tk_redis_free(rc);
            usleep(200 * 1000);
            continue;
        }
        freeReplyObject(r);
        pthread_mutex_lock(&b->mu);
        b->sub = rc;
        stop = b->stop;
        pthread_mutex_unlock(&b->mu);
        /* messages may have been missed while not subscribed */
        tk_cache_clear(b->cache);
        atomic_fetch_add(&b->resubscribes, 1);
        while (!stop) {
            if (redisGetReply(rc, (void **)&r) != REDIS_OK)
                break;
            if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 3 && r->element[2]->type == REDIS_REPLY_STRING)
                bus_apply(b, r->element[2]->str, r->element[2]->len);
            if (r)
                freeReplyObject(r);
            pthread_mutex_lock(&b->mu);
            stop = b->stop;
            pthread_mutex_unlock(&b->mu);
        }
        pthread_mutex_lock(&b->mu);
        b->sub = NULL;
        pthread_mutex_unlock(&b->mu);
        tk_redis_free(rc);
    }
    return NULL;
}

tk_cache_bus *tk_cache_bus_start(tk_cache *c, const char *redis_url, char *err, size_t errlen)
{
    tk_cache_bus *b = calloc(1, sizeof *b);
    if (!b) {
        tk_err(err, errlen, "cache bus: out of memory");
        return NULL;
    }
    b->cache = c;
    snprintf(b->url, sizeof b->url, "%s", redis_url ? redis_url : "");
    b->id = (tk_mono_us() << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)b;
    pthread_mutex_init(&b->mu, NULL);
    if (pthread_create(&b->thread, NULL, bus_main, b) != 0) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        tk_err(err, errlen, "cache bus: cannot start its thread");
        return NULL;
    }
    return b;
}

void tk_cache_bus_stop(tk_cache_bus *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    b->stop = 1;
    if (b->sub) /* wake the blocking read */
        shutdown(b->sub->fd, SHUT_RDWR);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

/* The Redis keys of a view (L2): its body "tk:view:{tag}:<view>" and its
 * generation "...:gen", where the hash tag is the view's sale for a
 * schedule's seat map ("seats:42" -> {sale:42}, the tag scheme of the
 * waiting room, so a sale's keys share a Redis Cluster slot) and the view
 * itself otherwise. */
static void l2_keys(const char *view, char body[192], char gen[200])
{
    if (!strncmp(view, "seats:", 6))
        snprintf(body, 192, "tk:view:{sale:%.40s}:%.120s", view + 6, view);
    else
        snprintf(body, 192, "tk:view:{%.120s}", view);
    snprintf(gen, 200, "%s:gen", body);
}

#define L2_EPOCH_KEY "tk:view:epoch" /* a purge moves it: every stamp is old */

static void drain(redisContext *rc, int n)
{
    for (int i = 0; i < n; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK)
            return;
        freeReplyObject(r);
    }
}

int tk_cache_publish(tk_cache_bus *b, redisContext *rc, const char *const *keys, size_t n)
{
    if (!b || !rc || rc->err || n == 0)
        return -1;
    char msg[2048];
    size_t len = (size_t)snprintf(msg, sizeof msg, "%llx %lld", (unsigned long long)b->id, (long long)tk_wall_ms());
    int cmds = 0;
    for (size_t i = 0; i < n && len + strlen(keys[i]) + 2 < sizeof msg; i++) {
        len += (size_t)snprintf(msg + len, sizeof msg - len, " %s", keys[i]);
        if (!strcmp(keys[i], "*")) {
            redisAppendCommand(rc, "INCR %s", L2_EPOCH_KEY);
        } else {
            char body[192], gen[200];
            l2_keys(keys[i], body, gen);
            redisAppendCommand(rc, "INCR %s", gen); /* the L2 body's stamp is old now */
        }
        cmds++;
    }
    /* one round trip: the new generations, then the broadcast */
    redisAppendCommand(rc, "PUBLISH %s %b", TK_CACHE_BUS_CHANNEL, msg, len);
    drain(rc, cmds + 1);
    if (rc->err)
        return -1;
    atomic_fetch_add(&b->published, 1);
    return 0;
}

int tk_cache_l2_get(tk_cache_bus *b, redisContext *rc, const char *view, char **out, size_t *len, char stamp[48])
{
    stamp[0] = '\0';
    if (!b || !rc || rc->err)
        return -1;
    char body[192], gen[200];
    l2_keys(view, body, gen);
    redisAppendCommand(rc, "GET %s", L2_EPOCH_KEY);
    redisAppendCommand(rc, "GET %s", gen);
    redisAppendCommand(rc, "GET %s", body);
    /* the data generation seed moves after a load: a copy from before it is old too */
    redisAppendCommand(rc, "GET %s", TK_SEED_CACHE_GEN_KEY);
    redisReply *r[4] = {NULL, NULL, NULL, NULL};
    int ok = 1;
    for (int i = 0; i < 4; i++)
        if (redisGetReply(rc, (void **)&r[i]) != REDIS_OK)
            ok = 0;
    int rc_ = -1;
    if (ok) {
        snprintf(stamp, 48, "%.15s:%.15s:%.15s", r[0]->type == REDIS_REPLY_STRING ? r[0]->str : "0",
                 r[3]->type == REDIS_REPLY_STRING ? r[3]->str : "0", r[1]->type == REDIS_REPLY_STRING ? r[1]->str : "0");
        size_t sl = strlen(stamp);
        rc_ = 0;
        /* value: "<stamp>|<body>"; a hit only with the current stamp */
        if (r[2]->type == REDIS_REPLY_STRING && r[2]->len > sl && !memcmp(r[2]->str, stamp, sl) &&
            r[2]->str[sl] == '|') {
            size_t n = r[2]->len - sl - 1;
            *out = malloc(n ? n : 1);
            if (*out) {
                memcpy(*out, r[2]->str + sl + 1, n);
                *len = n;
                rc_ = 1;
            }
        }
    }
    for (int i = 0; i < 4; i++)
        if (r[i])
            freeReplyObject(r[i]);
    atomic_fetch_add(rc_ == 1 ? &b->l2_hits : &b->l2_misses, 1);
    return rc_;
}

int tk_cache_l2_put(tk_cache_bus *b, redisContext *rc, const char *view, const char *body, size_t len,
                    const char *stamp, int64_t ttl_ms)
{
    if (!b || !rc || rc->err || !stamp || !stamp[0])
        return -1;
    char key[192], gen[200];
    l2_keys(view, key, gen);
    size_t sl = strlen(stamp);
    char *v = malloc(sl + 1 + len);
    if (!v)
        return -1;
    memcpy(v, stamp, sl);
    v[sl] = '|';
    memcpy(v + sl + 1, body, len);
    redisReply *r = redisCommand(rc, "SET %s %b PX %lld", key, v, sl + 1 + len,
                                 (long long)tk_cache_key_ttl_ms(view, ttl_ms)); /* lists: short-lived */
    free(v);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

void tk_cache_bus_get_stats(tk_cache_bus *b, tk_cache_bus_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!b)
        return;
    out->published = atomic_load(&b->published);
    out->received = atomic_load(&b->received);
    out->keys = atomic_load(&b->keys);
    out->resubscribes = atomic_load(&b->resubscribes);
    out->l2_hits = atomic_load(&b->l2_hits);
    out->l2_misses = atomic_load(&b->l2_misses);
    out->lag_sum_ms = atomic_load(&b->lag_sum_ms);
    out->lag_max_ms = atomic_load(&b->lag_max_ms);
    for (int i = 0; i < 6; i++)
        out->lag_le[i] = atomic_load(&b->lag_le[i]);
}
