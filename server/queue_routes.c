/* The waiting room in the server (see queue_routes.h and queue.h). */
#include "queue_routes.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
} wr = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

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

static void *admit_main(void *arg)
{
    (void)arg;
    const tk_server_config *scfg = &wr.srv->cfg;
    const tk_queue_config *cfg = &wr.cfg;
    tk_queue_conn c = {NULL, NULL};
    tk_lease lease;
    tk_lease_init(&lease, "wr-admit", cfg->tick_ms * 3);
    uint64_t sales[WR_MAX_SALES];
    int64_t waiting[WR_MAX_SALES], share[WR_MAX_SALES];
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
            if (c.redis)
                redisFree(c.redis);
            c.redis = tk_redis_connect(scfg->redis_url, NULL, 0);
        }
        if (cfg->kind == TK_QUEUE_MYSQL && (!c.db || mysql_ping(c.db) != 0)) {
            if (c.db)
                mysql_close(c.db);
            c.db = tk_db_connect(scfg->mysql_url, NULL, 0);
        }
        now = tk_wall_ms();
        int64_t k = now / cfg->tick_ms;
        if (c.redis && tk_lease_acquire(&lease, c.redis) == 1) {
            int n = wr.ops->sales(&c, sales, WR_MAX_SALES, err, sizeof err);
            /* the rate is the server's: one budget per tick, split over the lines */
            int64_t quota = tk_queue_tick_quota(cfg->admit_per_min, cfg->tick_ms, k);
            for (int i = 0; i < n; i++)
                if ((waiting[i] = wr.ops->waiting(&c, sales[i], err, sizeof err)) < 0)
                    waiting[i] = 0;
            tk_queue_split_quota(quota, waiting, n, share);
            int64_t total = 0;
            for (int i = 0; i < n; i++)
                total += waiting[i];
            atomic_store(&wr.total_waiting, total);
            redisReply *tr = redisCommand(c.redis, "SET tk:wr:total_waiting %lld PX %lld", (long long)total,
                                          (long long)cfg->tick_ms * 5);
            if (tr)
                freeReplyObject(tr);
            for (int i = 0; i < n; i++) {
                /* every sale runs its tick (expiries, pre-queue shuffle), even with a share of 0 */
                int got = wr.ops->admit_tick(&c, cfg, sales[i], lease.fence_key, lease.fence, k, share[i], now, err,
                                             sizeof err);
                if (got == -1 && !scfg->quiet)
                    fprintf(stderr, "serve: waiting room: admission of sale %" PRIu64 " failed: %s\n", sales[i],
                            err);
                if (got == -2)
                    break; /* a newer holder took over */
            }
        } else if (c.redis) { /* another instance admits: take its count of the waiting */
            redisReply *tr = redisCommand(c.redis, "GET tk:wr:total_waiting");
            if (tr && tr->type == REDIS_REPLY_STRING)
                atomic_store(&wr.total_waiting, strtoll(tr->str, NULL, 10));
            if (tr)
                freeReplyObject(tr);
        }
        pthread_mutex_lock(&wr.mu);
    }
    pthread_mutex_unlock(&wr.mu);
    if (c.redis) {
        tk_lease_release(&lease, c.redis);
        redisFree(c.redis);
    }
    if (c.db)
        mysql_close(c.db);
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
                "serve: waiting room %s: %.0f users/min, cap %" PRId64 ", admitted TTL %" PRId64
                " ms, tick %" PRId64 " ms%s\n",
                wr.ops->name, wr.cfg.admit_per_min, wr.cfg.admitted_cap, wr.cfg.admitted_ttl_ms, wr.cfg.tick_ms,
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
}

/* ---- routes ------------------------------------------------------------------ */

static int queue_enabled_or_reply(tk_job *j)
{
    if (wr.ops)
        return 0;
    job_reply_error(j, 404, "QUEUE_DISABLED", "this server runs without a waiting room (serve --queue)");
    return -1;
}

static json_t *status_json(const tk_queue_status *s, uint64_t sale)
{
    int64_t wait = s->admitted ? 0
                               : tk_queue_est_wait_shared_s(s->ahead, s->line, atomic_load(&wr.total_waiting),
                                                            wr.cfg.admit_per_min);
    json_t *o = json_pack("{s:I, s:b, s:I, s:I, s:I, s:I}", "schedule_id", (json_int_t)sale, "admitted",
                          s->admitted, "position", (json_int_t)s->position, "ahead", (json_int_t)s->ahead,
                          "estimated_wait_s", (json_int_t)wait, "poll_after_ms",
                          (json_int_t)(s->admitted ? 0 : tk_queue_poll_after_ms(wait, wr.cfg.tick_ms)));
    if (o && s->seq)
        json_object_set_new(o, "arrival_no", json_integer(s->seq));
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
    if (tk_qtoken_issue(wr.key, sizeof wr.key, user, sale, now / 1000, w->srv->cfg.token_ttl_s, tok) != 0) {
        job_reply_error(j, 503, "BUSY", "cannot issue a queue token now");
        return;
    }
    json_t *o = status_json(&s, sale);
    json_object_set_new(o, "token", json_string(tok));
    json_object_set_new(o, "created", json_boolean(s.created));
    job_reply_json(j, s.created ? 201 : 200, o);
}

void h_queue_status(tk_job *j, tk_worker *w)
{
    if (queue_enabled_or_reply(j) != 0)
        return;
    uint64_t sale = j->ids[0];
    tk_queue_conn c = worker_conn(w);
    tk_queue_status s;
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
    /* sale is not known yet: check the signature, expiry and user first */
    tk_qtoken_verdict v = tk_qtoken_verify(wr.key, sizeof wr.key, j->qtoken, j->claims.user_id, 0, time(NULL), &t);
    if (v == TK_QTOKEN_WRONG_SALE)
        v = TK_QTOKEN_OK; /* sale 0 never matches; the caller checks the real one */
    switch (v) {
    case TK_QTOKEN_OK: *sale = t.sale; return 0;
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
    MYSQL *db = worker_db(w);
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

int queue_gate_hold(tk_job *j, tk_worker *w)
{
    if (!wr.ops)
        return 0;
    uint64_t tok_sale, sale;
    if (token_or_reply(j, &tok_sale) != 0)
        return -1;
    uint64_t seat = body_id(j, "seat_id");
    if (!seat)
        return 0; /* the handler's 400/422 */
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT schedule_id FROM seats WHERE id = %" PRIu64, seat);
    int f = lookup_schedule(j, w, sql, &sale);
    if (f <= 0)
        return f; /* unknown seat: the handler's 404 */
    return admitted_or_reply(j, w, tok_sale, sale);
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
