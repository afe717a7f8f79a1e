/* The waiting room in the server (see queue_routes.h and queue.h). */
#include "queue_routes.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ticketctl/rcluster.h"
#include "ticketctl/admin.h"
#include "ticketctl/backend.h"
#include "ticketctl/db.h"
#include "ticketctl/hold.h"
#include "ticketctl/lease.h"
#include "ticketctl/queue.h"

#define WR_MAX_SALES 1024

static struct {
    tk_server *srv;
    const tk_queue_ops *ops; /* NULL: no queue */
    tk_queue_config cfg;
    unsigned char key[crypto_auth_hmacsha256_BYTES]; /* token key, derived from the JWT key */
    MYSQL **dbs; /* per worker (index w - srv->workers), used only by that worker */
    int ndbs;
    pthread_t thread;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    _Atomic int64_t total_waiting; /* in all lines, last tick (for the wait estimate) */
    /* the "now serving" state of every sale (queue.h), refreshed once per
     * tick by the admission thread, read by the loops' stateless polls;
     * sorted by sale id. The write lock is held only to swap the arrays. */
    pthread_rwlock_t state_lock;
    tk_queue_sale_state *states;
    int nstates;
    _Atomic uint64_t polls_stateless, polls_backend; /* answered from the state / deferred to a worker */
} wr = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .state_lock = PTHREAD_RWLOCK_INITIALIZER};

/* ---- the "now serving" state -------------------------------------------------- */

static int cmp_state(const void *a, const void *b)
{
    uint64_t x = ((const tk_queue_sale_state *)a)->sale, y = ((const tk_queue_sale_state *)b)->sale;
    return x < y ? -1 : x > y;
}

/* Replace the table with the state of sales[0..n) read from Redis now. A
 * failed read keeps the old table (polls then age out to the backend). */
static void state_refresh(redisContext *c, const uint64_t *sales, int n)
{
    tk_queue_sale_state *fresh = n > 0 ? calloc((size_t)n, sizeof *fresh) : NULL;
    char err[256];
    if ((n > 0 && !fresh) || tk_queue_state_fetch(c, sales, n, fresh, err, sizeof err) != 0) {
        for (int i = 0; fresh && i < n; i++)
            tk_queue_sale_state_clear(&fresh[i]);
        free(fresh);
        return;
    }
    if (n > 1)
        qsort(fresh, (size_t)n, sizeof *fresh, cmp_state);
    /* the pace of each line, from the last table (only this thread writes it) */
    for (int i = 0; i < n && wr.nstates > 0; i++) {
        const tk_queue_sale_state *prev =
            bsearch(&fresh[i], wr.states, (size_t)wr.nstates, sizeof *fresh, cmp_state);
        fresh[i].advance_rate = tk_queue_advance_rate(prev, &fresh[i]);
    }
    pthread_rwlock_wrlock(&wr.state_lock);
    tk_queue_sale_state *old = wr.states;
    int nold = wr.nstates;
    wr.states = fresh;
    wr.nstates = n;
    pthread_rwlock_unlock(&wr.state_lock);
    for (int i = 0; i < nold; i++) /* no reader holds them: they took the read lock */
        tk_queue_sale_state_clear(&old[i]);
    free(old);
}

int tk_wr_sale_gauges_get(tk_wr_sale_gauges *out, int cap)
{
    int n = 0;
    pthread_rwlock_rdlock(&wr.state_lock);
    for (int i = 0; i < wr.nstates && n < cap; i++) {
        const tk_queue_sale_state *s = &wr.states[i];
        if (s->at_ms <= 0)
            continue; /* no tick has written it yet */
        out[n++] = (tk_wr_sale_gauges){s->sale, s->waiting, s->active, s->rate, s->advance_rate, s->at_ms};
    }
    pthread_rwlock_unlock(&wr.state_lock);
    return n;
}

static void state_free(void)
{
    pthread_rwlock_wrlock(&wr.state_lock);
    for (int i = 0; i < wr.nstates; i++)
        tk_queue_sale_state_clear(&wr.states[i]);
    free(wr.states);
    wr.states = NULL;
    wr.nstates = 0;
    pthread_rwlock_unlock(&wr.state_lock);
}

/* The rates of a sale from its state (NULL: none yet): the rate the line
 * moves at (*rate, users per minute, for the estimate) and the sale's own
 * admission rate (*admit_rate, for the poll hint). The state carries the
 * rate the admission tick used, the sale's own settings (admin API) over
 * the flags; without a state, the flags' rate. */
static void state_rates(const tk_queue_sale_state *st, double *rate, double *admit_rate)
{
    *rate = *admit_rate = st && st->rate > 0 ? st->rate : wr.cfg.admit_per_min;
    /* FIFO: the line moves at its measured pace when that is slower
     * (the active-users cap full); random queueing has no upto */
    if (st && st->mode == TK_QUEUEING_FIFO && st->advance_rate >= 1.0 && st->advance_rate < *rate)
        *rate = st->advance_rate;
}

/* state_rates of sale, read under the state lock; 1 when the sale had a
 * state, 0 when the flags' rate was used. */
static int sale_rates(uint64_t sale, double *rate, double *admit_rate)
{
    tk_queue_sale_state key = {.sale = sale};
    pthread_rwlock_rdlock(&wr.state_lock);
    const tk_queue_sale_state *st =
        wr.nstates ? bsearch(&key, wr.states, (size_t)wr.nstates, sizeof key, cmp_state) : NULL;
    int has = st && st->rate > 0; /* st is the admission thread's once the lock is dropped */
    state_rates(has ? st : NULL, rate, admit_rate);
    pthread_rwlock_unlock(&wr.state_lock);
    return has;
}

/* The stateless answer for a verified token (queue.h): 1 with *out, the
 * rate the line moves at (*rate, for the estimate) and the sale's admission
 * rate (*admit_rate, for the poll hint), 0 when the backend must answer. */
static int state_poll(const tk_qtoken *t, tk_queue_status *out, double *rate, double *admit_rate)
{
    int answered = 0;
    tk_queue_sale_state key = {.sale = t->sale};
    pthread_rwlock_rdlock(&wr.state_lock);
    const tk_queue_sale_state *st =
        wr.nstates ? bsearch(&key, wr.states, (size_t)wr.nstates, sizeof key, cmp_state) : NULL;
    /* a state older than 10 ticks means no admission job runs: ask the backend */
    if (st && tk_queue_stateless_poll(st, t, tk_wall_ms(), wr.cfg.tick_ms * 10, out)) {
        answered = 1;
        state_rates(st, rate, admit_rate);
        if (!st->open)
            out->admitted_until_ms = -1; /* marker: the sale has not opened (pre-queue) */
    }
    pthread_rwlock_unlock(&wr.state_lock);
    return answered;
}

/* This worker's MariaDB connection (lazily opened), or NULL. */
static MYSQL *worker_db(tk_worker *w)
{
    long i = w - wr.srv->workers;
    if (!wr.dbs || i < 0 || i >= wr.ndbs)
        return NULL;
    if (!wr.dbs[i])
        wr.dbs[i] = tk_db_connect(wr.srv->cfg.mysql_url, NULL, 0);
    return wr.dbs[i];
}

/* After a failed statement: drop a broken connection so the next use reconnects. */
static void worker_db_check(tk_worker *w)
{
    long i = w - wr.srv->workers;
    if (wr.dbs && i >= 0 && i < wr.ndbs && wr.dbs[i] && mysql_ping(wr.dbs[i]) != 0) {
        mysql_close(wr.dbs[i]);
        wr.dbs[i] = NULL;
    }
}

static tk_queue_conn worker_conn(tk_worker *w)
{
    tk_queue_conn c = {w->redis, wr.ops == tk_queue_backend(TK_QUEUE_MYSQL) ? worker_db(w) : NULL};
    return c;
}

/* ---- the admission job ------------------------------------------------------ */

/* This instance's admission lease of each sale (tk_queue_lease_name). */
typedef struct sale_lease {
    uint64_t sale;
    tk_lease lease;
} sale_lease;

static tk_lease *lease_for(sale_lease *ls, int *n, uint64_t sale, int64_t ttl_ms)
{
    for (int i = 0; i < *n; i++)
        if (ls[i].sale == sale)
            return &ls[i].lease;
    if (*n >= WR_MAX_SALES)
        return NULL;
    char name[40];
    tk_queue_lease_name(sale, name, sizeof name);
    ls[*n].sale = sale;
    tk_lease_init(&ls[*n].lease, name, ttl_ms);
    return &ls[(*n)++].lease;
}

static void *admit_main(void *arg)
{
    (void)arg;
    const tk_server_config *scfg = &wr.srv->cfg;
    const tk_queue_config *cfg = &wr.cfg;
    tk_queue_conn c = {NULL, NULL};
    sale_lease *leases = calloc(WR_MAX_SALES, sizeof *leases);
    int nleases = 0;
    uint64_t sales[WR_MAX_SALES];
    int64_t waiting[WR_MAX_SALES], share[WR_MAX_SALES];
    tk_sale_settings sale_settings[WR_MAX_SALES];
    MYSQL *sales_db = NULL;
    char err[256];
    pthread_mutex_lock(&wr.mu);
    while (!wr.stop) {
        int64_t now = tk_wall_ms(), next = (now / cfg->tick_ms + 1) * cfg->tick_ms;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait_ns = (next - now) * 1000000LL + ts.tv_nsec;
        ts.tv_sec += (time_t)(wait_ns / 1000000000LL);
        ts.tv_nsec = (long)(wait_ns % 1000000000LL);
        pthread_cond_timedwait(&wr.cv, &wr.mu, &ts);
        if (wr.stop)
            break;
        pthread_mutex_unlock(&wr.mu);

        if (!c.redis || c.redis->err) {
            tk_redis_free(c.redis);
            c.redis = tk_redis_connect(scfg->redis_url, NULL, 0);
        }
        if (cfg->kind == TK_QUEUE_MYSQL && (!c.db || mysql_ping(c.db) != 0)) {
            if (c.db)
                mysql_close(c.db);
            c.db = tk_db_connect(scfg->mysql_url, NULL, 0);
        }
        now = tk_wall_ms();
        int64_t k = now / cfg->tick_ms;
        int n = -1;
        if (c.redis && leases)
            n = wr.ops->sales(&c, sales, WR_MAX_SALES, err, sizeof err);
        /* one lease per sale, its keys in the sale's slot (queue.h) */
        int held = 0;
        tk_lease *lease_of[WR_MAX_SALES];
        for (int i = 0; i < n; i++) {
            lease_of[i] = lease_for(leases, &nleases, sales[i], cfg->tick_ms * 3);
            if (lease_of[i] && tk_lease_acquire(lease_of[i], c.redis) != 1)
                lease_of[i] = NULL;
            held += lease_of[i] != NULL;
        }
        if (held > 0) {
            /* --admit-rate: one budget per tick, split over the lines;
             * --new-users-per-minute: each sale its own */
            int64_t quota = tk_queue_tick_quota(cfg->admit_per_min, cfg->tick_ms, k);
            for (int i = 0; i < n; i++)
                if ((waiting[i] = wr.ops->waiting(&c, sales[i], err, sizeof err)) < 0)
                    waiting[i] = 0;
            if (cfg->rate_per_sale)
                for (int i = 0; i < n; i++)
                    share[i] = quota;
            else
                tk_queue_split_quota(quota, waiting, n, share);
            int64_t total = 0;
            for (int i = 0; i < n; i++)
                total += waiting[i];
            atomic_store(&wr.total_waiting, total);
            redisReply *tr = tk_redis_cmd(c.redis, "tk:wr:total_waiting", "SET tk:wr:total_waiting %lld PX %lld", (long long)total,
                                          (long long)cfg->tick_ms * 5);
            if (tr)
                freeReplyObject(tr);
            /* the sales' own settings (admin API, MariaDB: every instance agrees; lib/admin.c) */
            if (!sales_db || mysql_ping(sales_db) != 0) {
                if (sales_db)
                    mysql_close(sales_db);
                sales_db = tk_db_connect(scfg->mysql_url, NULL, 0);
            }
            tk_admin_sales_load(sales_db, sales, n, sale_settings);
            for (int i = 0; i < n; i++) {
                if (!lease_of[i])
                    continue; /* another instance admits this sale */
                tk_queue_config sale_cfg = *cfg;
                tk_sale_settings_apply(&sale_settings[i], &sale_cfg, &share[i], k, now);
                /* every sale runs its tick (expiries, pre-queue shuffle), even with a share of 0;
                 * -2: a newer holder of this sale's lease took over */
                int got = wr.ops->admit_tick(&c, &sale_cfg, sales[i], lease_of[i]->fence_key, lease_of[i]->fence, k,
                                             share[i], now, err, sizeof err);
                if (got == -1 && !scfg->quiet)
                    fprintf(stderr, "serve: waiting room: admission of sale %" PRIu64 " failed: %s\n", sales[i],
                            err);
            }
        } else if (c.redis) { /* another instance admits: take its count of the waiting */
            redisReply *tr = tk_redis_cmd(c.redis, "tk:wr:total_waiting", "GET tk:wr:total_waiting");
            if (tr && tr->type == REDIS_REPLY_STRING)
                atomic_store(&wr.total_waiting, strtoll(tr->str, NULL, 10));
            if (tr)
                freeReplyObject(tr);
        }
        /* every instance, admitting or not: this tick's "now serving" state */
        if (c.redis && !c.redis->err && n >= 0 && cfg->kind == TK_QUEUE_REDIS)
            state_refresh(c.redis, sales, n);
        pthread_mutex_lock(&wr.mu);
    }
    pthread_mutex_unlock(&wr.mu);
    for (int i = 0; c.redis && i < nleases; i++)
        if (leases[i].lease.fence)
            tk_lease_release(&leases[i].lease, c.redis);
    free(leases);
    tk_redis_free(c.redis);
    if (c.db)
        mysql_close(c.db);
    if (sales_db)
        mysql_close(sales_db);
    return NULL;
}

int tk_wr_start(tk_server *srv, char *err, size_t errlen)
{
    wr.srv = srv;
    wr.cfg = srv->cfg.queue;
    wr.ops = tk_queue_backend(wr.cfg.kind);
    if (!wr.ops)
        return 0;
    if (wr.cfg.tick_ms <= 0)
        wr.cfg.tick_ms = 1000;
    if (!(wr.cfg.admit_per_min > 0) || wr.cfg.admitted_cap <= 0 || wr.cfg.admitted_ttl_ms <= 0)
        return tk_err(err, errlen, "waiting room: admission rate, cap and TTL must be positive");
    if (wr.cfg.queueing == TK_QUEUEING_RANDOM && wr.cfg.kind != TK_QUEUE_REDIS)
        return tk_err(err, errlen, "waiting room: --queueing random needs --queue redis");
    /* the token key: HMAC(jwt key, label), so queue tokens and JWTs never share a key */
    static const char label[] = "ticketctl waiting-room token v1";
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, srv->cfg.jwt_key, srv->cfg.jwt_key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)label, sizeof label - 1);
    crypto_auth_hmacsha256_final(&st, wr.key);
    wr.ndbs = srv->nworkers;
    wr.dbs = calloc((size_t)wr.ndbs, sizeof *wr.dbs);
    if (!wr.dbs)
        return tk_err(err, errlen, "out of memory");
    wr.stop = 0;
    if (pthread_create(&wr.thread, NULL, admit_main, NULL) != 0)
        return tk_err(err, errlen, "waiting room: cannot start the admission thread");
    wr.started = 1;
    if (!srv->cfg.quiet)
        fprintf(stderr,
                "serve: waiting room %s: %.0f new users/min%s, at most %" PRId64
                " active per schedule, admitted TTL %" PRId64 " ms, tick %" PRId64 " ms, %s%s\n",
                wr.ops->name, wr.cfg.admit_per_min, wr.cfg.rate_per_sale ? " per schedule" : " in all",
                wr.cfg.admitted_cap, wr.cfg.admitted_ttl_ms, wr.cfg.tick_ms,
                wr.cfg.queueing == TK_QUEUEING_RANDOM ? "random queueing" : "FIFO",
                wr.cfg.pre_queue ? ", pre-queue" : "");
    return 0;
}

void tk_wr_stop(tk_server *srv)
{
    (void)srv;
    if (wr.started) {
        pthread_mutex_lock(&wr.mu);
        wr.stop = 1;
        pthread_cond_broadcast(&wr.cv);
        pthread_mutex_unlock(&wr.mu);
        pthread_join(wr.thread, NULL);
        wr.started = 0;
    }
    for (int i = 0; wr.dbs && i < wr.ndbs; i++)
        if (wr.dbs[i])
            mysql_close(wr.dbs[i]);
    free(wr.dbs);
    wr.dbs = NULL;
    wr.ndbs = 0;
    wr.ops = NULL;
    state_free();
}

/* ---- routes ------------------------------------------------------------------ */

static int queue_enabled_or_reply(tk_job *j)
{
    if (wr.ops)
        return 0;
    job_reply_error(j, 404, "QUEUE_DISABLED", "this server runs without a waiting room (serve --queue)");
    return -1;
}

/* A backend's answer (the wait at the server's budget shared by the lines). */
static json_t *status_json(const tk_queue_status *s, uint64_t sale)
{
    /* at the sale's own rate, as the stateless poll (reply_waiting) does;
     * before its first state, the flags' budget shared over the lines */
    double rate, admit_rate;
    int own = sale_rates(sale, &rate, &admit_rate);
    int64_t wait = s->admitted ? 0
                   : own       ? tk_queue_est_wait_s(s->ahead, rate)
                               : tk_queue_est_wait_shared_s(s->ahead, s->line, atomic_load(&wr.total_waiting), rate);
    int64_t soonest = own && !s->admitted ? tk_queue_est_wait_s(s->ahead, admit_rate) : wait;
    json_t *o = json_pack("{s:I, s:b, s:I, s:I, s:I, s:I}", "schedule_id", (json_int_t)sale, "admitted",
                          s->admitted, "position", (json_int_t)s->position, "ahead", (json_int_t)s->ahead,
                          "estimated_wait_s", (json_int_t)wait, "poll_after_ms",
                          (json_int_t)(s->admitted ? 0
                                                   : tk_queue_poll_after_ms(soonest < wait ? soonest : wait,
                                                                            wr.cfg.tick_ms, wr.cfg.poll_max_ms)));
    if (o && s->seq)
        json_object_set_new(o, "arrival_no", json_integer(s->seq));
    if (o && !s->admitted) {
        json_object_set_new(o, "waiting", json_integer(s->line));
        json_object_set_new(o, "queueing",
                            json_string(wr.cfg.queueing == TK_QUEUEING_RANDOM ? "random" : "fifo"));
    }

    if (o && s->admitted) {
        json_object_set_new(o, "admitted_until_ms", json_integer(s->admitted_until_ms));
        json_object_set_new(o, "admission_no", json_integer(s->admission_no));
    }
    return o;
}

/* Is there such a schedule? 1 yes, 0 no, -1 error (replied). */
static int schedule_exists(tk_job *j, tk_worker *w, uint64_t sale)
{
    MYSQL *db = worker_db(w);
    long long n = 0;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM concert_schedules WHERE id = %" PRIu64, sale);
    if (!db || tk_db_query_i64(db, sql, &n, NULL, 0) < 0) {
        worker_db_check(w);
        job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "cannot read the schedule now");
        return -1;
    }
    return n > 0;
}

void h_queue_take(tk_job *j, tk_worker *w)
{
    if (queue_enabled_or_reply(j) != 0)
        return;
    uint64_t sale = j->ids[0], user = j->claims.user_id;
    int ex = schedule_exists(j, w, sale);
    if (ex < 0)
        return;
    if (ex == 0) {
        job_reply_error(j, 404, "NOT_FOUND", "no schedule %" PRIu64, sale);
        return;
    }
    tk_queue_conn c = worker_conn(w);
    tk_queue_status s;
    char err[256];
    int64_t now = tk_wall_ms();
    if (wr.ops->enqueue(&c, &wr.cfg, sale, user, now, &s, err, sizeof err) != TK_OK) {
        worker_db_check(w);
        job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "waiting room: %s", err);
        return;
    }
    char tok[TK_QTOKEN_MAX];
    if (tk_qtoken_issue(wr.key, sizeof wr.key, user, sale, s.admitted ? 0 : s.seq, now / 1000,
                        w->srv->cfg.token_ttl_s, tok) != 0) {
        job_reply_error(j, 503, "BUSY", "cannot issue a queue token now");
        return;
    }
    json_t *o = status_json(&s, sale);
    json_object_set_new(o, "token", json_string(tok));
    json_object_set_new(o, "created", json_boolean(s.created));
    job_reply_json(j, s.created ? 201 : 200, o);
}

/* Verify j's queue token: signature, expiry, and its user when user > 0
 * (0: any user; the caller takes the token's). The schedule is the
 * caller's to check. 0 with *t filled, or -1 when replied 401/403. */
static int qtoken_or_reply(tk_job *j, uint64_t user, tk_qtoken *t)
{
    /* sale 0 (and user 0) never match: a good signature comes back as WRONG_SALE (WRONG_USER) */
    tk_qtoken_verdict v = tk_qtoken_verify(wr.key, sizeof wr.key, j->qtoken, user, 0, time(NULL), t);
    if (v == TK_QTOKEN_WRONG_SALE || (v == TK_QTOKEN_WRONG_USER && user == 0))
        v = TK_QTOKEN_OK;
    switch (v) {
    case TK_QTOKEN_OK: return 0;
    case TK_QTOKEN_EXPIRED:
        job_reply_error(j, 401, "QUEUE_TOKEN_EXPIRED", "the queue token has expired: take a new one");
        return -1;
    case TK_QTOKEN_WRONG_USER:
        job_reply_error(j, 403, "QUEUE_TOKEN_FOREIGN", "the queue token belongs to another user");
        return -1;
    default:
        job_reply_error(j, 401, "INVALID_QUEUE_TOKEN", "the queue token is malformed or its signature is wrong");
        return -1;
    }
}

/* Who polls, on the loop thread (the route has no R_AUTH: a poll may carry
 * the queue token alone, like Cloudflare's cookie). With an X-Queue-Token:
 * its signature, expiry and schedule; with a Bearer JWT as well, the two
 * must name the same user (a shared token is refused). Without a token the
 * JWT is required. 1 = *t holds the token (j->claims.user_id is its user),
 * 0 = no token (j->claims from the JWT), -1 = replied 401/403. */
static int poll_auth(tk_job *j, uint64_t sale, tk_qtoken *t)
{
    const tk_server_config *cfg = &j->loop->srv->cfg;
    const char *auth = evhttp_find_header(evhttp_request_get_input_headers(j->req), "Authorization");
    int have_jwt = auth && !strncasecmp(auth, "Bearer ", 7);
    if (have_jwt && tk_jwt_verify(cfg->jwt_key, cfg->jwt_key_len, auth + 7, &j->claims) != TK_OK) {
        job_reply_error(j, 401, "UNAUTHORIZED", "the token is invalid or expired");
        return -1;
    }
    if (!j->qtoken[0]) {
        if (have_jwt)
            return 0;
        job_reply_error(j, 401, "UNAUTHORIZED", "an X-Queue-Token or an Authorization: Bearer token is required");
        return -1;
    }
    if (qtoken_or_reply(j, have_jwt ? j->claims.user_id : 0, t) != 0)
        return -1;
    if (t->sale != sale) {
        job_reply_error(j, 403, "QUEUE_TOKEN_FOREIGN", "the queue token is for another schedule");
        return -1;
    }
    j->claims.user_id = t->user;
    return 1;
}

/* Append s, or v in decimal, at *p (the caller sized the buffer). */
static void put_str(char **p, const char *s)
{
    size_t n = strlen(s);
    memcpy(*p, s, n);
    *p += n;
}

static void put_i64(char **p, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) && n < 23);
    if (v < 0)
        *(*p)++ = '-';
    while (n)
        *(*p)++ = tmp[--n];
}

/* The stateless answer, formatted straight into the reply (no JSON tree,
 * no printf: this is the one route that answers 45,000 polls a second). */
static void reply_waiting(tk_job *j, uint64_t sale, const tk_queue_status *s, double rate, double admit_rate)
{
    int rnd = wr.cfg.queueing == TK_QUEUEING_RANDOM;
    int64_t wait = rnd ? tk_queue_est_wait_s(s->line > 0 ? s->line - 1 : 0, rate) / 2
                       : tk_queue_est_wait_s(s->ahead, rate);
    /* The hint counts on the admission rate, not the slower measured pace:
     * with the active-users cap full the line moves as fast as admitted
     * users notice and leave, so hints from that pace would slow the
     * noticing and the pace further (a user admitted since its last poll
     * holds its slot until its next one). */
    int64_t soonest = rnd ? wait : tk_queue_est_wait_s(s->ahead, admit_rate);
    free(j->resp);
    j->resp = malloc(384); /* 8 numbers of <= 20 digits and ~170 bytes of names */
    if (!j->resp) {
        job_reply_error(j, 503, "BUSY", "out of memory");
        return;
    }
    char *p = j->resp;
    put_str(&p, "{\"schedule_id\":");
    put_i64(&p, (int64_t)sale);
    put_str(&p, ",\"admitted\":false,\"position\":");
    put_i64(&p, s->position);
    put_str(&p, ",\"ahead\":");
    put_i64(&p, s->ahead);
    put_str(&p, ",\"estimated_wait_s\":");
    put_i64(&p, wait);
    put_str(&p, ",\"poll_after_ms\":");
    put_i64(&p, tk_queue_poll_after_ms(soonest < wait ? soonest : wait, wr.cfg.tick_ms, wr.cfg.poll_max_ms));
    put_str(&p, ",\"arrival_no\":");
    put_i64(&p, s->seq);
    put_str(&p, ",\"waiting\":");
    put_i64(&p, s->line);
    put_str(&p, rnd ? ",\"queueing\":\"random\"" : ",\"queueing\":\"fifo\"");
    if (s->admitted_until_ms == -1)
        put_str(&p, ",\"sale_open\":false");
    put_str(&p, "}");
    *p = '\0';
    j->resp_len = (size_t)(p - j->resp);
    j->status = 200;
}

/* R_LOOP_FIRST: on the loop (w == NULL) a poll carrying its queue token is
 * answered from the token and the sale's state, with no backend call
 * (queue.h); a bad token is refused there too. What the state cannot
 * answer (admitted or gone, no token, no state yet, the mysql baseline)
 * is left unanswered and runs again on a worker, which asks the backend. */
void h_queue_status(tk_job *j, tk_worker *w)
{
    if (queue_enabled_or_reply(j) != 0)
        return;
    uint64_t sale = j->ids[0];
    tk_queue_status s;
    if (!w) {
        tk_qtoken t;
        double rate = 0, admit_rate = 0;
        if (poll_auth(j, sale, &t) == 1 && wr.cfg.kind == TK_QUEUE_REDIS && state_poll(&t, &s, &rate, &admit_rate)) {
            atomic_fetch_add(&wr.polls_stateless, 1);
            reply_waiting(j, sale, &s, rate, admit_rate);
        }
        return; /* replied, or on to a worker (j->claims says who) */
    }
    atomic_fetch_add(&wr.polls_backend, 1);
    tk_queue_conn c = worker_conn(w);
    char err[256];
    if (wr.ops->poll(&c, &wr.cfg, sale, j->claims.user_id, tk_wall_ms(), &s, err, sizeof err) != TK_OK) {
        worker_db_check(w);
        job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "waiting room: %s", err);
        return;
    }
    if (!s.found) {
        job_reply_error(j, 404, "NOT_IN_QUEUE", "you are not in the queue of schedule %" PRIu64
                                                " (or your admission ended): take a token",
                        sale);
        return;
    }
    job_reply_json(j, 200, status_json(&s, sale));
}

void tk_wr_poll_counts(uint64_t *stateless, uint64_t *backend)
{
    *stateless = atomic_load(&wr.polls_stateless);
    *backend = atomic_load(&wr.polls_backend);
}

void h_queue_leave(tk_job *j, tk_worker *w)
{
    if (queue_enabled_or_reply(j) != 0)
        return;
    uint64_t sale = j->ids[0];
    tk_queue_conn c = worker_conn(w);
    int removed = 0;
    char err[256];
    if (wr.ops->leave(&c, sale, j->claims.user_id, &removed, err, sizeof err) != TK_OK) {
        worker_db_check(w);
        job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "waiting room: %s", err);
        return;
    }
    if (!removed) {
        job_reply_error(j, 404, "NOT_IN_QUEUE", "you are not in the queue of schedule %" PRIu64, sale);
        return;
    }
    job_reply_json(j, 200, json_pack("{s:I, s:b}", "schedule_id", (json_int_t)sale, "left", 1));
}

/* ---- the gate ------------------------------------------------------------------ */

/* An integer field of the body in [1, 2^63), or 0 when absent/invalid. */
static uint64_t body_id(tk_job *j, const char *name)
{
    if (!j->body)
        return 0;
    json_t *b = json_loadb(j->body, j->body_len, 0, NULL);
    uint64_t id = 0;
    json_t *v = b ? json_object_get(b, name) : NULL;
    if (json_is_integer(v) && json_integer_value(v) > 0)
        id = (uint64_t)json_integer_value(v);
    json_decref(b);
    return id;
}

/* The token's checks that need no backend. 0: *sale is the token's sale. */
static int token_or_reply(tk_job *j, uint64_t *sale)
{
    if (!j->qtoken[0]) {
        job_reply_error(j, 403, "QUEUE_TOKEN_REQUIRED",
                        "this sale has a waiting room: an admitted X-Queue-Token is required");
        return -1;
    }
    tk_qtoken t;
    if (qtoken_or_reply(j, j->claims.user_id, &t) != 0)
        return -1;
    *sale = t.sale;
    return 0;
}

/* Shared tail: the request's schedule must be the token's, and admitted. */
static int admitted_or_reply(tk_job *j, tk_worker *w, uint64_t tok_sale, uint64_t sale)
{
    if (sale != tok_sale) {
        job_reply_error(j, 403, "QUEUE_TOKEN_FOREIGN",
                        "the queue token is for schedule %" PRIu64 ", this request is for schedule %" PRIu64,
                        tok_sale, sale);
        return -1;
    }
    tk_queue_conn c = worker_conn(w);
    char err[256];
    tk_rc rc = wr.ops->is_admitted(&c, sale, j->claims.user_id, tk_wall_ms(), err, sizeof err);
    if (rc == TK_OK)
        return 0;
    if (rc == TK_EFORBIDDEN)
        job_reply_error(j, 403, "NOT_ADMITTED", "you are not admitted (yet, or any more): poll your place");
    else {
        worker_db_check(w);
        job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "waiting room: %s", err);
    }
    return -1;
}

/* Schedule of a seat / of the caller's reservation: 1 found, 0 not, -1 error (replied). */
static int lookup_schedule(tk_job *j, tk_worker *w, const char *sql, uint64_t *out)
{
    /* without a waiting room (the hold gate on a Redis Cluster): the worker's own store connection */
    MYSQL *db = wr.dbs ? worker_db(w) : w->store ? tk_store_db(w->store) : NULL;
    long long v = 0;
    int rc = db ? tk_db_query_i64(db, sql, &v, NULL, 0) : -1;
    if (rc < 0) {
        worker_db_check(w);
        job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "cannot read the schedule now");
        return -1;
    }
    *out = (uint64_t)v;
    return rc == 0 && v > 0;
}

int queue_gate_hold(tk_job *j, tk_worker *w, uint64_t *schedule_id)
{
    *schedule_id = 0;
    /* on a Redis Cluster the hold keys carry the sale's tag (hold.h): the
     * seat's schedule is read here even without a waiting room */
    int cluster = tk_redis_is_cluster(w->redis);
    if (!wr.ops && !cluster)
        return 0;
    uint64_t tok_sale = 0, sale;
    if (wr.ops && token_or_reply(j, &tok_sale) != 0)
        return -1;
    uint64_t seat = body_id(j, "seat_id");
    if (!seat)
        return 0; /* the handler's 400/422 */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT schedule_id FROM seats WHERE id = %" PRIu64, seat);
    int f = lookup_schedule(j, w, sql, &sale);
    if (f <= 0)
        return f; /* unknown seat: the handler's 404 */
    *schedule_id = sale;
    return wr.ops ? admitted_or_reply(j, w, tok_sale, sale) : 0;
}

int queue_gate_pay(tk_job *j, tk_worker *w)
{
    if (!wr.ops)
        return 0;
    uint64_t tok_sale, sale;
    if (token_or_reply(j, &tok_sale) != 0)
        return -1;
    uint64_t res = body_id(j, "reservation_id");
    if (!res)
        return 0;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT schedule_id FROM reservations WHERE id = %" PRIu64 " AND user_id = %" PRIu64,
             res, j->claims.user_id);
    int f = lookup_schedule(j, w, sql, &sale);
    if (f <= 0)
        return f; /* not the caller's: the handler's 404 */
    return admitted_or_reply(j, w, tok_sale, sale);
}

void queue_after_pay(tk_job *j, tk_worker *w)
{
    if (!wr.ops || !j->qtoken[0])
        return;
    tk_qtoken t;
    if (tk_qtoken_verify(wr.key, sizeof wr.key, j->qtoken, j->claims.user_id, 0, time(NULL), &t) ==
        TK_QTOKEN_INVALID)
        return;
    tk_queue_conn c = worker_conn(w);
    wr.ops->revoke(&c, t.sale, j->claims.user_id, NULL, 0);
}
