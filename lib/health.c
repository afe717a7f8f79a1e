/* Backend health monitor (health.h): one thread, its own MariaDB and Redis
 * connections, reconnecting with capped backoff while a backend is down. */
#include "ticketctl/rcluster.h"
#include "ticketctl/health.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/statelog.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BACKOFF_MAX_MS 2000

struct tk_health {
    char mysql_url[TK_URL_MAX + 96], redis_url[TK_URL_MAX + 32];
    int interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    MYSQL *db;
    redisContext *redis;
    uint64_t retry_at[TK_HEALTH_N]; /* mono ms: no reconnect before this */
    int backoff_ms[TK_HEALTH_N];
    tk_statelog log[TK_HEALTH_N];
    _Atomic int up[TK_HEALTH_N];
    _Atomic int64_t since[TK_HEALTH_N];
    _Atomic uint64_t checks;
};

static void set_state(tk_health *h, int b, int up, const char *error)
{
    if (tk_statelog_set(&h->log[b], stderr, up, error) || atomic_load(&h->since[b]) == 0)
        atomic_store(&h->since[b], tk_wall_ms());
    atomic_store(&h->up[b], up);
    if (up) {
        h->backoff_ms[b] = 0;
    } else {
        h->backoff_ms[b] = h->backoff_ms[b] ? h->backoff_ms[b] * 2 : 100;
        if (h->backoff_ms[b] > BACKOFF_MAX_MS)
            h->backoff_ms[b] = BACKOFF_MAX_MS;
        h->retry_at[b] = tk_mono_ms() + (uint64_t)h->backoff_ms[b];
    }
}

static void check_mariadb(tk_health *h)
{
    char err[256] = "";
    if (!h->db && tk_mono_ms() >= h->retry_at[TK_HEALTH_MARIADB])
        h->db = tk_db_connect(h->mysql_url, err, sizeof err);
    if (h->db && mysql_ping(h->db) != 0) {
        snprintf(err, sizeof err, "%s", mysql_error(h->db));
        mysql_close(h->db);
        h->db = NULL;
    }
    if (h->db)
        set_state(h, TK_HEALTH_MARIADB, 1, NULL);
    else if (err[0] || !atomic_load(&h->up[TK_HEALTH_MARIADB]))
        set_state(h, TK_HEALTH_MARIADB, 0, err[0] ? err : "not connected");
}

static void check_redis(tk_health *h)
{
    char err[256] = "";
    if (!h->redis && tk_mono_ms() >= h->retry_at[TK_HEALTH_REDIS])
        h->redis = tk_redis_connect(h->redis_url, err, sizeof err);
    if (h->redis) {
        redisReply *r = tk_redis_cmd(h->redis, NULL, "PING"); /* any live node of a cluster */
        int ok = r && r->type == REDIS_REPLY_STATUS;
        if (!ok)
            snprintf(err, sizeof err, "%s", r && r->type == REDIS_REPLY_ERROR ? r->str
                                             : h->redis->errstr[0]              ? h->redis->errstr
                                                                                : "no answer to PING");
        if (r)
            freeReplyObject(r);
        if (!ok) {
            tk_redis_free(h->redis);
            h->redis = NULL;
        }
    }
    if (h->redis)
        set_state(h, TK_HEALTH_REDIS, 1, NULL);
    else if (err[0] || !atomic_load(&h->up[TK_HEALTH_REDIS]))
        set_state(h, TK_HEALTH_REDIS, 0, err[0] ? err : "not connected");
}

static void round_once(tk_health *h)
{
    check_mariadb(h);
    check_redis(h);
    atomic_fetch_add(&h->checks, 1);
}

static void *health_main(void *arg)
{
    tk_health *h = arg;
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)(h->interval_ms % 1000) * 1000000L;
        ts.tv_sec += h->interval_ms / 1000 + ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_mutex_lock(&h->mu);
        if (!h->stop)
            pthread_cond_timedwait(&h->cv, &h->mu, &ts);
        int stop = h->stop;
        pthread_mutex_unlock(&h->mu);
        if (stop)
            break;
        round_once(h);
    }
    return NULL;
}

/* url + its timeout options, after a '?' or an '&'. */
static void with_opts(char *out, size_t cap, const char *url, const char *opts)
{
    snprintf(out, cap, "%s%s%s", url, strchr(url, '?') ? "&" : "?", opts);
}

tk_health *tk_health_start(const char *mysql_url, const char *redis_url, int interval_ms, const char *component,
                           char *err, size_t errlen)
{
    tk_health *h = calloc(1, sizeof *h);
    if (!h) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    with_opts(h->mysql_url, sizeof h->mysql_url, mysql_url ? mysql_url : "",
              "connect-timeout=1&read-timeout=1&write-timeout=1");
    with_opts(h->redis_url, sizeof h->redis_url, redis_url ? redis_url : "", "timeout=500ms");
    h->interval_ms = interval_ms > 0 ? interval_ms : 500;
    static const char *const names[TK_HEALTH_N] = {"mariadb", "redis"};
    for (int b = 0; b < TK_HEALTH_N; b++)
        h->log[b] = (tk_statelog){.component = component ? component : "serve", .backend = names[b]};
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    round_once(h);
    if (pthread_create(&h->thread, NULL, health_main, h) != 0) {
        tk_err(err, errlen, "cannot start the health thread");
        if (h->db)
            mysql_close(h->db);
        if (h->redis)
            tk_redis_free(h->redis);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        free(h);
        return NULL;
    }
    return h;
}

void tk_health_get(const tk_health *h, tk_health_state *out)
{
    memset(out, 0, sizeof *out);
    if (!h)
        return;
    for (int b = 0; b < TK_HEALTH_N; b++) {
        out->up[b] = atomic_load(&((tk_health *)h)->up[b]);
        out->since_ms[b] = atomic_load(&((tk_health *)h)->since[b]);
    }
    out->checks = atomic_load(&((tk_health *)h)->checks);
}

void tk_health_stop(tk_health *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stop = 1;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    if (h->db)
        mysql_close(h->db);
    if (h->redis)
        tk_redis_free(h->redis);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
