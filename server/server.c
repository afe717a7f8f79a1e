/* The server's threads and request dispatch (see server.h for the model).
 *
 * Life of a request: a loop thread's evhttp calls on_request(), which
 * matches the route table, checks the bearer token, answers from the
 * response cache when it can, and otherwise copies what the handler needs
 * (ids, body, query, headers) into a tk_job and queues it. A worker runs the
 * handler against its own MariaDB/Redis connections and pushes the job onto
 * its loop's completion list; the loop sends the reply. Workers never touch
 * the evhttp_request. If the client disconnects meanwhile, libevent detaches
 * the request from its connection (evhttp_connection_incoming_fail) and our
 * evhttp_send_reply later just frees it. */
#include "internal.h"
#include "queue_routes.h"
#include "routes.h"
#include "strict.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ticketctl/rcluster.h"
#include "ticketctl/hist.h"
#include "ticketctl/hold.h"
#include "ticketctl/lease.h"

#define DRAIN_EXTRA_US (3 * 1000000ULL)
#define IDLE_GRACE_US (1000000ULL)

/* ---- jobs ----------------------------------------------------------------- */

static void job_free(tk_job *j)
{
    if (!j)
        return;
    if (j->query) {
        evhttp_clear_headers(j->query);
        free(j->query);
    }
    free(j->body);
    free(j->resp);
    free(j);
}

static void free_resp(const void *data, size_t len, void *extra)
{
    (void)len;
    (void)extra;
    free((void *)data);
}

/* One JSON line per request: time (UTC, ms), method, route pattern ("-"
 * when none matched), status, µs from arrival to reply, request id, user id
 * (0: no token). One fprintf call: stdio locks the stream, so lines from the
 * loops never interleave. */
static void access_log_line(tk_server *srv, const tk_job *j, int status, uint64_t us)
{
    int64_t ms = tk_wall_ms();
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char ts[32];
    gmtime_r(&t, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(srv->access_log,
            "{\"time\":\"%s.%03dZ\",\"method\":\"%s\",\"route\":\"%s\",\"status\":%d,\"us\":%llu,"
            "\"request_id\":\"%s\",\"user_id\":%llu}\n",
            ts, (int)(ms % 1000), j->method ? j->method : "-",
            j->route ? j->route->pattern : "-", status, (unsigned long long)us, j->request_id,
            (unsigned long long)j->claims.user_id);
}

/* A 5xx answer on stderr as a JSON line with its request id, so that a
 * client's report can be found: at most one a second per loop, with the
 * count of those left out since the last (a stalled backend answers
 * thousands; the backend's own state change is logged once by statelog). */
static void error_log_line(tk_loop *l, const tk_job *j, int status)
{
    int64_t now = tk_wall_ms();
    if (now - l->err_log_ms < 1000) {
        l->err_log_skipped++;
        return;
    }
    const char *code = j->resp ? strstr(j->resp, "\"code\":\"") : NULL;
    int clen = code ? (int)strcspn(code + 8, "\"") : 1;
    fprintf(stderr,
            "{\"time_ms\":%lld,\"level\":\"error\",\"request_id\":\"%s\",\"method\":\"%s\",\"route\":\"%s\","
            "\"status\":%d,\"code\":\"%.*s\",\"not_logged_since\":%llu}\n",
            (long long)now, j->request_id, j->method ? j->method : "-", j->route ? j->route->pattern : "-", status,
            clen, code ? code + 8 : "-", (unsigned long long)l->err_log_skipped);
    l->err_log_ms = now;
    l->err_log_skipped = 0;
}

/* Send the job's response (loop thread) and free it. */
static void job_finish(tk_job *j)
{
    tk_server *srv = j->loop->srv;
    int status = j->status ? j->status : 500;
    if (status >= 500 && !srv->cfg.quiet) /* before the body is handed to evhttp */
        error_log_line(j->loop, j, status);
    if (j->req) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(j->req);
        const char *ctype = "application/json";
        if (j->route && j->route->fn && j->route->pattern && !strcmp(j->route->pattern, "/metrics"))
            ctype = "text/plain; version=0.0.4";
        else if (j->route && (j->route->flags & R_HTML) && status == 200)
            ctype = "text/html; charset=utf-8";
        evhttp_add_header(h, "Content-Type", ctype);
        evhttp_add_header(h, "X-Request-Id", j->request_id);
        if (j->close || atomic_load(&srv->stopping)) /* draining: each connection's next answer closes it */
            evhttp_add_header(h, "Connection", "close");
        if (j->head) { /* no body on HEAD (evhttp 2.1 would send one); the length GET would send (RFC 9110 9.3.2) */
            char cl[24];
            snprintf(cl, sizeof cl, "%zu", j->resp_len);
            evhttp_add_header(h, "Content-Length", cl);
        }
        if (status == 503) { /* tell clients and balancers when to try again */
            char ra[16];
            snprintf(ra, sizeof ra, "%d", j->retry_after_s > 0 ? j->retry_after_s : 1);
            evhttp_add_header(h, "Retry-After", ra);
        }
        char etag[24];
        const char *cc;
        int cond = tk_http_validators(j, status, etag, &cc); /* ETag, 304 (routes.h) */
        if (etag[0]) {
            evhttp_add_header(h, "ETag", etag);
            evhttp_add_header(h, "Cache-Control", cc);
        }
        if (cond == 304) {
            status = 304;
            free(j->resp);
            j->resp = NULL;
            j->resp_len = 0;
        }
        struct evbuffer *out = evbuffer_new();
        /* hand the body over instead of copying it (a seat map is ~20 KB) */
        if (out && j->resp && !j->head && evbuffer_add_reference(out, j->resp, j->resp_len, free_resp, NULL) == 0)
            j->resp = NULL;
        struct evhttp_connection *evcon = evhttp_request_get_connection(j->req);
        struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
        evhttp_send_reply(j->req, status, NULL, out);
        evbuffer_free(out);
        /* libevent 2.1's filter bufferevent (strict_filter) does not pass on
         * output that was added before evhttp enabled writing: push it */
        if (bev)
            bufferevent_flush(bev, EV_WRITE, BEV_NORMAL);
    }
    uint64_t us = tk_mono_us() - j->t_start_us;
    if (srv->access_log)
        access_log_line(srv, j, status, us);
    tk_metrics_observe(&srv->metrics, j->route ? j->route_index : 63, status, us);
    tk_pulse_record(j->loop, status, us);
    atomic_fetch_sub(&srv->metrics.inflight, 1);
    job_free(j);
}

static void on_jobs_done(evutil_socket_t fd, short what, void *arg)
{
    tk_loop *l = arg;
    (void)fd;
    (void)what;
    pthread_mutex_lock(&l->mu);
    tk_job *j = l->done_head;
    l->done_head = l->done_tail = NULL;
    pthread_mutex_unlock(&l->mu);
    while (j) {
        tk_job *next = j->next;
        job_finish(j);
        j = next;
    }
}

static void post_done(tk_job *j)
{
    tk_loop *l = j->loop;
    j->next = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->done_tail)
        l->done_tail->next = j;
    else
        l->done_head = j;
    l->done_tail = j;
    pthread_mutex_unlock(&l->mu);
    event_active(l->done_ev, EV_READ, 0);
}

/* Two lanes: while a million wait, the waiting room's own jobs (take a
 * place, leave, polls the loop could not answer) must not queue in front of
 * the holds and payments of the users already admitted (issue 12, 5(c)).
 * Workers take the bookings' lane first, but every TK_LOW_LANE_SHARE-th job
 * from the low lane when it has one, so neither lane starves. */
#define TK_LOW_LANE_SHARE 4

static void enqueue(tk_server *srv, tk_job *j)
{
    j->next = NULL;
    j->deadline_us = j->t_start_us + srv->request_timeout_us;
    int low = (j->route->flags & R_LOW) != 0;
    tk_job **head = low ? &srv->lq_head : &srv->q_head, **tailp = low ? &srv->lq_tail : &srv->q_tail;
    pthread_mutex_lock(&srv->qmu);
    if (atomic_load(&srv->busy_workers) >= srv->nworkers)
        atomic_fetch_add(&srv->metrics.queue_waits, 1);
    if (*tailp)
        (*tailp)->next = j;
    else
        *head = j;
    *tailp = j;
    atomic_fetch_add(&srv->metrics.queued, 1);
    atomic_fetch_add(&srv->metrics.queued_low, low);
    pthread_cond_signal(&srv->qcv);
    pthread_mutex_unlock(&srv->qmu);
}

/* A job whose deadline passed before a worker took it: every worker is
 * stuck on a stalled backend (or the server is overloaded). */
static void reply_deadline(tk_server *srv, tk_job *j)
{
    atomic_fetch_add(&srv->deadline_503, 1);
    j->retry_after_s = 1;
    job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "no worker could take the request within its %llu ms deadline",
                    (unsigned long long)(srv->request_timeout_us / 1000));
}

/* Every 50 ms on loop 0: answer the queued jobs whose deadline passed (the
 * queue is in arrival order, so they are at its head). A worker blocked in
 * a MariaDB call stays blocked until the client read timeout; the jobs
 * behind it are not. */
static void on_deadline_tick(evutil_socket_t fd, short what, void *arg)
{
    tk_server *srv = arg;
    (void)fd;
    (void)what;
    uint64_t now = tk_mono_us();
    tk_job *late = NULL, **tail = &late;
    pthread_mutex_lock(&srv->qmu);
    for (int lane = 0; lane < 2; lane++) { /* each lane is in arrival order */
        tk_job **head = lane ? &srv->lq_head : &srv->q_head, **qtail = lane ? &srv->lq_tail : &srv->q_tail;
        while (*head && (*head)->deadline_us && now > (*head)->deadline_us) {
            tk_job *j = *head;
            *head = j->next;
            if (!*head)
                *qtail = NULL;
            atomic_fetch_sub(&srv->metrics.queued, 1);
            atomic_fetch_sub(&srv->metrics.queued_low, lane);
            j->next = NULL;
            *tail = j;
            tail = &j->next;
        }
    }
    pthread_mutex_unlock(&srv->qmu);
    while (late) {
        tk_job *j = late;
        late = j->next;
        reply_deadline(srv, j);
        post_done(j);
    }
}

/* The health monitor (lib/health.c, a ping every 500 ms with 1 s
 * timeouts) sees MariaDB down: a job would wait for the client read
 * timeout (twice: Connector/C retries a read) and miss its deadline, so it
 * is answered at once; the first ping that answers ends this. */
static int mariadb_known_down(tk_server *srv)
{
    tk_health_state hs;
    if (!srv->health)
        return 0;
    tk_health_get(srv->health, &hs);
    return !hs.up[TK_HEALTH_MARIADB];
}

static void reply_backend_down(tk_job *j)
{
    j->retry_after_s = 1;
    job_reply_error(j, 503, "BACKEND_UNAVAILABLE", "MariaDB does not answer; try again shortly");
}

/* ---- workers -------------------------------------------------------------- */

/* Answer a cacheable read from the cache (1), or note the cache sequence
 * for the fill (0). On the loop when the request arrives, and again on the
 * worker: another worker may have filled the key while this job waited in
 * the queue, and the sequence that counts is the one just before the
 * handler reads the database, not the arrival's: a fill is refused when the
 * key changed after it, and under load the queue wait alone (up to seconds)
 * saw a hold on a hot schedule nearly every time, so no seat map was ever
 * kept (scripts/bench-server-cpu). */
static int cache_answer(tk_server *srv, tk_job *j)
{
    char *body;
    size_t len;
    if (tk_cache_get(srv->cache, j->cache_key, &body, &len) == 1) {
        j->status = 200;
        j->resp = body;
        j->resp_len = len;
        return 1;
    }
    j->cache_seq = tk_cache_seq(srv->cache);
    return 0;
}

/* Run the handler; a cacheable read that missed goes through the key's
 * single flight (cache.h): one worker looks in L2 (Redis, shared by the
 * instances) and else reads MariaDB and fills both levels, the others wait
 * for its fill (at most 1 s) and answer from L1. */
static void run_handler(tk_server *srv, tk_job *j, tk_worker *w)
{
    if (!j->cache_key[0]) {
        j->route->fn(j, w);
        return;
    }
    int lead = tk_cache_flight_begin(srv->cache, j->cache_key, 1000);
    if (lead == 0 && cache_answer(srv, j))
        return;
    char stamp[48], *body;
    size_t len;
    if (tk_cache_l2_get(srv->cache_bus, w->redis, j->cache_key, &body, &len, stamp) == 1) {
        tk_cache_put(srv->cache, j->cache_key, body, len, j->cache_seq);
        j->status = 200;
        j->resp = body;
        j->resp_len = len;
    } else {
        j->route->fn(j, w); /* fills L1 (cache_fill) */
        if (j->status == 200 && j->resp && stamp[0])
            tk_cache_l2_put(srv->cache_bus, w->redis, j->cache_key, j->resp, j->resp_len, stamp, srv->cfg.cache_ttl_ms);
    }
    if (lead == 1)
        tk_cache_flight_end(srv->cache, j->cache_key);
}

/* Answer a job the worker took without running its handler (deadline
 * passed, MariaDB known down): 1 when answered. */
static int job_refused(tk_server *srv, tk_job *j)
{
    if (j->deadline_us && tk_mono_us() > j->deadline_us) { /* waited past its deadline: do not start it */
        reply_deadline(srv, j);
        return 1;
    }
    if (mariadb_known_down(srv)) { /* would block up to 2 read timeouts: past the deadline */
        reply_backend_down(j);
        return 1;
    }
    return 0;
}

/* --db-batch K: with the queue lock held and a job of batch kind `kind`
 * (routes.h) just taken, take up to max more of that kind already queued in
 * the bookings' lane (never waits for more to arrive), looking at most
 * 4 (max + 1) jobs deep. Fills more[], returns how many. */
static int take_batch(tk_server *srv, int kind, tk_job *more[], int max)
{
    int n = 0, looked = 0;
    tk_job *prev = NULL;
    for (tk_job *j = srv->q_head, *next; j && n < max && looked < 4 * (max + 1); j = next, looked++) {
        next = j->next;
        if (tk_route_batch_kind(j->route) != kind) {
            prev = j;
            continue;
        }
        if (prev)
            prev->next = next;
        else
            srv->q_head = next;
        if (srv->q_tail == j)
            srv->q_tail = prev;
        j->next = NULL;
        more[n++] = j;
        atomic_fetch_sub(&srv->metrics.queued, 1);
    }
    return n;
}

/* The jobs[0..n-1] of one batch kind in one store call (storebatch.h):
 * each checked and answered as its handler would, those that reach the
 * store run together. */
static void run_batch(tk_server *srv, int kind, tk_job *jobs[], int n, tk_worker *w)
{
    union {
        tk_pay_item pay[TK_DB_BATCH_MAX];
        tk_hold_item hold[TK_DB_BATCH_MAX];
        tk_charge_item charge[TK_DB_BATCH_MAX];
    } *items = malloc(sizeof *items);
    tk_job *due[TK_DB_BATCH_MAX];
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (job_refused(srv, jobs[i]))
            continue;
        if (!items) {
            job_reply_error(jobs[i], 503, "BUSY", "out of memory");
            continue;
        }
        tk_store_set_request_id(w->store, jobs[i]->request_id); /* a hold run whole in begin: its events */
        int go = kind == TK_BATCH_PAY    ? job_pay_begin(jobs[i], w, &items->pay[m])
                 : kind == TK_BATCH_HOLD ? job_hold_begin(jobs[i], w, &items->hold[m])
                                         : job_charge_begin(jobs[i], w, &items->charge[m]);
        tk_store_set_request_id(w->store, NULL);
        if (!go)
            continue;
        char *rid = kind == TK_BATCH_PAY    ? items->pay[m].request_id
                    : kind == TK_BATCH_HOLD ? items->hold[m].request_id
                                            : items->charge[m].request_id;
        snprintf(rid, sizeof items->pay[m].request_id, "%s", jobs[i]->request_id);
        due[m++] = jobs[i];
    }
    if (m > 0) {
        int batched = kind == TK_BATCH_PAY    ? tk_store_pay_batch(w->store, items->pay, m)
                      : kind == TK_BATCH_HOLD ? tk_store_hold_batch(w->store, items->hold, m)
                                              : tk_store_charge_batch(w->store, items->charge, m);
        if (batched > 1)
            atomic_fetch_add(&srv->metrics.db_batches, 1);
    }
    for (int i = 0; i < m; i++) {
        if (kind == TK_BATCH_PAY)
            job_pay_end(due[i], w, &items->pay[i]);
        else if (kind == TK_BATCH_HOLD)
            job_hold_end(due[i], w, &items->hold[i]);
        else
            job_charge_end(due[i], w, &items->charge[i]);
    }
    free(items);
    for (int i = 0; i < n; i++)
        post_done(jobs[i]);
}

static void *worker_main(void *arg)
{
    tk_worker *w = arg;
    tk_server *srv = w->srv;
    for (;;) {
        pthread_mutex_lock(&srv->qmu);
        while (!srv->q_head && !srv->lq_head && !atomic_load(&srv->workers_stop))
            pthread_cond_wait(&srv->qcv, &srv->qmu);
        int low = srv->lq_head && (!srv->q_head || ++srv->pops % TK_LOW_LANE_SHARE == 0);
        tk_job **head = low ? &srv->lq_head : &srv->q_head;
        tk_job *j = *head;
        if (!j) {
            pthread_mutex_unlock(&srv->qmu);
            break;
        }
        *head = j->next;
        if (!*head)
            *(low ? &srv->lq_tail : &srv->q_tail) = NULL;
        atomic_fetch_sub(&srv->metrics.queued, 1);
        atomic_fetch_sub(&srv->metrics.queued_low, low);
        atomic_fetch_add(&srv->metrics.lane_jobs[low], 1);
        tk_job *batch[TK_DB_BATCH_MAX];
        int nbatch = 0;
        int kind = srv->cfg.db_batch > 1 && !low ? tk_route_batch_kind(j->route) : 0;
        if (kind) {
            batch[nbatch++] = j;
            nbatch += take_batch(srv, kind, batch + 1, srv->cfg.db_batch - 1);
            atomic_fetch_add(&srv->metrics.lane_jobs[0], (uint64_t)(nbatch - 1)); /* bookings' lane */
        }
        atomic_fetch_add(&srv->busy_workers, 1);
        pthread_mutex_unlock(&srv->qmu);

        if (w->redis && w->redis->err) { /* reconnect after a Redis failure */
            tk_redis_free(w->redis);
            w->redis = tk_redis_connect(w->redis_url, NULL, 0);
        } else if (!w->redis) {
            w->redis = tk_redis_connect(w->redis_url, NULL, 0);
        }
        int fault_ms = atomic_load(&srv->inject_latency_ms);
        if (fault_ms > 0) /* injected latency fault (tests, drills) */
            usleep((useconds_t)fault_ms * 1000);
        if (nbatch > 0) {
            run_batch(srv, kind, batch, nbatch, w);
            atomic_fetch_sub(&srv->busy_workers, 1);
            continue;
        }
        if (j->deadline_us && tk_mono_us() > j->deadline_us) /* waited past its deadline: do not start it */
            reply_deadline(srv, j);
        else if (j->cache_key[0] && cache_answer(srv, j))
            ;
        else if (mariadb_known_down(srv)) /* would block up to 2 read timeouts: past the deadline */
            reply_backend_down(j);
        else {
            tk_store_set_request_id(w->store, j->request_id); /* into the job's outbox events */
            run_handler(srv, j, w);
            tk_store_set_request_id(w->store, NULL);
        }
        atomic_fetch_sub(&srv->busy_workers, 1);
        post_done(j);
    }
    return NULL;
}

/* ---- sweeper: expires unpaid holds, follows the data generation ----------- */

/* Every instance runs this thread, but the expiry runs once per tick across
 * instances. Ticks are wall-clock slots of sweep_interval_ms (tick = epoch ms
 * / interval: the same number on every instance; each thread wakes at the
 * slot boundaries). Only the holder of the Redis lease "hold-sweeper"
 * (lib/lease.c; TTL 3 ticks, renewed every tick, so a SIGKILLed holder is
 * replaced within 3 ticks) may sweep, and it first claims the tick with a
 * fenced SET NX (a holder paused past its TTL cannot act after a successor
 * took over; a handover inside one tick cannot sweep it twice). After the
 * sweep it appends "<pid>:<expired>" to the list tk:sweeper:tick:<tick>
 * (kept 10 minutes): the record tests read to prove "once per tick".
 * Safe under any overlap anyway: tk_store_expire_holds() re-reads each
 * reservation FOR UPDATE in its own transaction and expires it only while
 * it is PENDING and past expires_at, so a second sweeper finds nothing.
 * Following the data generation (response cache) is per process and runs
 * on every instance each tick. */
#define SWEEP_LEASE "hold-sweeper"
#define SWEEP_KEEP_S 600

/* 1 when this process sweeps `tick`: it holds the lease and claimed the tick. */
static int sweep_claim(tk_lease *l, redisContext *rc, long long tick)
{
    if (!rc || rc->err || tk_lease_acquire(l, rc) != 1)
        return 0;
    char script[512];
    snprintf(script, sizeof script,
             "%sif redis.call('set', KEYS[2], ARGV[2], 'NX', 'EX', %d) then return 1 end return 0",
             tk_lease_fence_lua(), SWEEP_KEEP_S);
    char claim[200]; /* the lease's hash tag: one Redis Cluster slot with the fence */
    snprintf(claim, sizeof claim, "%s:claim:%lld", l->key, tick);
    redisReply *r = tk_redis_cmd(rc, l->fence_key, "EVAL %s 2 %s %s %llu %ld", script, l->fence_key, claim,
                                 (unsigned long long)l->fence, (long)getpid());
    int won = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    if (r)
        freeReplyObject(r);
    return won;
}

static void sweep_record(redisContext *rc, long long tick, int expired)
{
    char key[64];
    snprintf(key, sizeof key, "tk:sweeper:tick:%lld", tick);
    rc = tk_redis_node(rc, key); /* both on the key's node */
    if (!rc)
        return;
    redisAppendCommand(rc, "RPUSH %s %ld:%d", key, (long)getpid(), expired);
    redisAppendCommand(rc, "EXPIRE %s %d", key, SWEEP_KEEP_S);
    for (int i = 0; i < 2; i++) {
        redisReply *r = NULL;
        if (redisGetReply(rc, (void **)&r) != REDIS_OK)
            break;
        freeReplyObject(r);
    }
}

static void *sweeper_main(void *arg)
{
    tk_server *srv = arg;
    const long long iv = srv->cfg.sweep_interval_ms;
    char err[256];
    tk_store *s = tk_store_open(srv->cfg.mysql_url, err, sizeof err);
    redisContext *rc = tk_redis_connect(srv->cfg.redis_url, NULL, 0);
    tk_reservation expired[500];
    tk_lease lease;
    tk_lease_init(&lease, SWEEP_LEASE, 3 * iv);
    long long last_tick = -1;
    pthread_mutex_lock(&srv->sweep_mu);
    while (!atomic_load(&srv->workers_stop)) {
        long long next_ms = ((long long)tk_wall_ms() / iv + 1) * iv; /* the next slot boundary */
        struct timespec ts = {(time_t)(next_ms / 1000), (long)(next_ms % 1000) * 1000000L};
        pthread_cond_timedwait(&srv->sweep_cv, &srv->sweep_mu, &ts);
        if (atomic_load(&srv->workers_stop))
            break;
        long long tick = (long long)tk_wall_ms() / iv;
        if (tick == last_tick) /* woke early */
            continue;
        last_tick = tick;
        pthread_mutex_unlock(&srv->sweep_mu);

        if (!rc || rc->err) {
            tk_redis_free(rc);
            rc = tk_redis_connect(srv->cfg.redis_url, NULL, 0);
        }
        long long gen = rc ? tk_data_gen(rc) : -1;
        if (gen >= 0 && (uint64_t)gen != atomic_load(&srv->data_gen)) {
            atomic_store(&srv->data_gen, (uint64_t)gen);
            tk_cache_clear(srv->cache); /* data reloaded (seed) */
        }
        if (!s)
            s = tk_store_open(srv->cfg.mysql_url, err, sizeof err);
        if (s && sweep_claim(&lease, rc, tick)) {
            int n = tk_store_expire_holds(s, 500, expired);
            for (int i = 0; i < n; i++) {
                tk_hold_release(rc, atomic_load(&srv->data_gen), expired[i].schedule_id, expired[i].seat_id,
                                expired[i].user_id);
                /* here and on the other instances (routes.h) */
                tk_views_changed_on(srv, rc, expired[i].concert_id, expired[i].schedule_id);
            }
            if (n > 0)
                atomic_fetch_add(&srv->metrics.holds_expired, (uint64_t)n);
            sweep_record(rc, tick, n < 0 ? 0 : n);
        }
        pthread_mutex_lock(&srv->sweep_mu);
    }
    pthread_mutex_unlock(&srv->sweep_mu);
    if (rc && !rc->err && lease.fence) /* hand over at once instead of after the TTL */
        tk_lease_release(&lease, rc);
    tk_store_close(s);
    tk_redis_free(rc);
    return NULL;
}

/* ---- routing ---------------------------------------------------------------- */

/* Match path against pattern; {id} segments must be positive integers. */
static int path_match(const char *pattern, const char *path, uint64_t ids[2], int *nids)
{
    *nids = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return 0;
        pattern++;
        path++;
        const char *pe = strchrnul(pattern, '/');
        const char *se = strchrnul(path, '/');
        if (pe - pattern == 4 && !strncmp(pattern, "{id}", 4)) {
            if (se == path || se - path > 15 || *nids >= 2)
                return 0;
            uint64_t v = 0;
            for (const char *c = path; c < se; c++) {
                if (*c < '0' || *c > '9')
                    return 0;
                v = v * 10 + (uint64_t)(*c - '0');
            }
            if (v == 0)
                return 0;
            ids[(*nids)++] = v;
        } else if (pe - pattern != se - path || strncmp(pattern, path, (size_t)(pe - pattern))) {
            return 0;
        }
        pattern = pe;
        path = se;
    }
    return *pattern == '\0' && (*path == '\0' || !strcmp(path, "/"));
}

static const char *method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET: return "GET";
    case EVHTTP_REQ_POST: return "POST";
    case EVHTTP_REQ_HEAD: return "HEAD";
    case EVHTTP_REQ_PUT: return "PUT";
    case EVHTTP_REQ_DELETE: return "DELETE";
    case EVHTTP_REQ_OPTIONS: return "OPTIONS";
    case EVHTTP_REQ_TRACE: return "TRACE";
    case EVHTTP_REQ_CONNECT: return "CONNECT";
    case EVHTTP_REQ_PATCH: return "PATCH";
    }
    return "?";
}

/* ---- strict framing in front of evhttp (strict.h) ------------------------- */

typedef struct strict_conn {
    tk_strict st;
    struct bufferevent *raw; /* the socket under the filter */
    tk_loop *loop;
} strict_conn;

static const char *status_phrase(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    }
    return "Error";
}

static void request_id_new(tk_loop *l, char out[65])
{
    snprintf(out, 65, "%s-%d-%llu", l->srv->boot_id, l->index, (unsigned long long)++l->request_seq);
}

/* A refusal inside a body: evhttp is reading that request's body, so the
 * answer cannot go through it as a request. Write it to the socket (a few
 * hundred bytes: the socket buffer takes them) and half-close; evhttp drops
 * the connection at the client's EOF. Static messages: no JSON escaping. */
static void strict_send_direct(strict_conn *c, const tk_strict_reply *r)
{
    evutil_socket_t fd = bufferevent_getfd(c->raw);
    if (fd < 0)
        return;
    char body[320], msg[640], id[65];
    int bl = snprintf(body, sizeof body, "{\"error\":{\"code\":\"%s\",\"message\":\"%s\"}}", r->code, r->message);
    request_id_new(c->loop, id);
    int ml = snprintf(msg, sizeof msg,
                      "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                      "Connection: close\r\nX-Request-Id: %s\r\n\r\n%s",
                      r->status, status_phrase(r->status), bl, id, body);
    if (send(fd, msg, (size_t)ml, MSG_NOSIGNAL) < 0 && !c->loop->srv->cfg.quiet)
        fprintf(stderr, "serve: cannot send a %d refusal: %s\n", r->status, strerror(errno));
    shutdown(fd, SHUT_WR);
}

/* The bufferevent input filter: pass what tk_strict_feed lets through,
 * unchanged; on a refusal between requests hand evhttp a request for the
 * refusal's secret path (answered in order, as JSON, with Connection:
 * close, by on_request), inside a body answer directly; then drop all
 * further input. */
static enum bufferevent_filter_result strict_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim,
                                                    enum bufferevent_flush_mode mode, void *ctx)
{
    strict_conn *c = ctx;
    tk_server *srv = c->loop->srv;
    int moved = 0;
    (void)lim;
    (void)mode;
    for (;;) {
        size_t have = evbuffer_get_length(src), avail, n;
        const char *p;
        if (!have)
            break;
        if (tk_strict_wants_line(&c->st)) {
            avail = have < TK_STRICT_MAX_HEAD + 2 ? have : TK_STRICT_MAX_HEAD + 2;
            p = (const char *)evbuffer_pullup(src, (ev_ssize_t)avail);
        } else {
            struct evbuffer_iovec v;
            if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
                break;
            p = v.iov_base;
            avail = v.iov_len;
        }
        if (!p)
            break;
        int in_body = tk_strict_in_body(&c->st), dead = c->st.reason != TK_STRICT_OK;
        int rc = tk_strict_feed(&c->st, p, avail, &n);
        if (rc == TK_STRICT_MORE)
            break;
        if (rc == TK_STRICT_SKIP) {
            evbuffer_drain(src, n);
            continue;
        }
        if (rc == TK_STRICT_PASS) {
            evbuffer_remove_buffer(src, dst, n);
            moved = 1;
            continue;
        }
        evbuffer_drain(src, have);
        if (dead) /* refused earlier: the rest is dropped */
            break;
        atomic_fetch_add(&srv->strict_refused, 1);
        if (in_body) {
            strict_send_direct(c, tk_strict_reply_for(c->st.reason));
        } else {
            evbuffer_add_printf(dst, "GET /.tk-strict/%s/%d HTTP/1.1\r\nHost: -\r\nConnection: close\r\n\r\n",
                                srv->strict_secret, (int)c->st.reason);
            moved = 1;
        }
        break;
    }
    return moved ? BEV_OK : BEV_NEED_MORE;
}

static void strict_conn_free(void *arg)
{
    strict_conn *c = arg;
    atomic_fetch_sub(&c->loop->srv->conns, 1);
    free(c);
}

/* evhttp's bevcb: each accepted connection reads through strict_filter. */
static struct bufferevent *strict_bev_new(struct event_base *base, void *arg)
{
    strict_conn *c = calloc(1, sizeof *c);
    struct bufferevent *raw = c ? bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE) : NULL;
    struct bufferevent *f = raw ? bufferevent_filter_new(raw, strict_filter, NULL, BEV_OPT_CLOSE_ON_FREE, strict_conn_free, c)
                                  : NULL;
    if (!f) { /* evhttp then makes its own, unfiltered: out of memory anyway */
        if (raw)
            bufferevent_free(raw);
        free(c);
        return NULL;
    }
    tk_strict_init(&c->st, TK_MAX_BODY);
    c->raw = raw;
    c->loop = arg;
    atomic_fetch_add(&c->loop->srv->conns, 1);
    return f;
}

/* Lingering close (RFC 9112 9.6): a client may still be sending a body we
 * refused (413 on a Content-Length it then streams). Closing with its
 * bytes unread sends a RST, which can destroy our answer before it is
 * read. So a socket with unread input is kept (a dup; evhttp closes its
 * own descriptor) and read and discarded until the client closes, at most
 * LINGER_MS. event_base_once: the loop frees a pending one at exit. */
#define LINGER_MS 2000
typedef struct lingerer {
    evutil_socket_t fd;
    uint64_t until_us;
    struct event_base *base;
} lingerer;

static void on_linger(evutil_socket_t fd, short what, void *arg)
{
    lingerer *g = arg;
    char buf[16384];
    ssize_t n = 1;
    (void)what;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        ;
    uint64_t now = tk_mono_us();
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) || now >= g->until_us) {
        close(fd);
        free(g);
        return;
    }
    struct timeval tv = {0, (suseconds_t)((g->until_us - now) % 1000000)};
    tv.tv_sec = (time_t)((g->until_us - now) / 1000000);
    if (event_base_once(g->base, fd, EV_READ, on_linger, g, &tv) != 0) {
        close(fd);
        free(g);
    }
}

static void linger_start(struct event_base *base, evutil_socket_t fd)
{
    int pending = 0;
    if (ioctl(fd, FIONREAD, &pending) != 0 || pending <= 0)
        return;
    lingerer *g = malloc(sizeof *g);
    evutil_socket_t d = g ? dup(fd) : -1;
    if (d < 0) {
        free(g);
        return;
    }
    evutil_make_socket_nonblocking(d);
    *g = (lingerer){.fd = d, .until_us = tk_mono_us() + LINGER_MS * 1000ULL, .base = base};
    struct timeval tv = {LINGER_MS / 1000, 0};
    if (event_base_once(base, d, EV_READ, on_linger, g, &tv) != 0) {
        close(d);
        free(g);
    }
}

/* evhttp frees a connection as soon as its answer has left the filter's
 * output, but the bytes may still wait in the socket bufferevent under it,
 * which the free discards (a "Connection: close" answer never arrived).
 * Called by evhttp_connection_free before it frees the bufferevents: write
 * what is left straight to the socket (normally one write() into the
 * socket buffer; at most ~100 ms of polling for a client that reads
 * nothing). */
static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    (void)arg;
    struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);
    struct bufferevent *raw = bev ? bufferevent_get_underlying(bev) : NULL;
    if (!raw)
        return;
    struct evbuffer *out = bufferevent_get_output(raw);
    evbuffer_add_buffer(out, bufferevent_get_output(bev)); /* not bufferevent_flush: that re-enters evhttp */
    evutil_socket_t fd = bufferevent_getfd(raw);
    evbuffer_unfreeze(out, 1); /* a socket bufferevent drains its output only in its own write callback */
    for (int tries = 0; fd >= 0 && evbuffer_get_length(out) > 0 && tries < 20; tries++) {
        if (evbuffer_write(out, fd) >= 0)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            break;
        struct pollfd pf = {.fd = fd, .events = POLLOUT};
        poll(&pf, 1, 5);
    }
    if (fd >= 0 && evbuffer_get_length(out) == 0) {
        shutdown(fd, SHUT_WR); /* the answer, then FIN; the client's unread bytes do not turn it into a RST */
        linger_start(bufferevent_get_base(raw), fd);
    }
}

/* The refusal strict_filter queued, by its secret path: 1 when answered. */
static int strict_answer(tk_server *srv, tk_job *j, const char *path)
{
    if (strncmp(path, "/.tk-strict/", 12) || strncmp(path + 12, srv->strict_secret, 32) || path[44] != '/')
        return 0;
    const tk_strict_reply *r = tk_strict_reply_for(atoi(path + 45));
    if (!r)
        return 0;
    j->close = 1;
    j->method = "-";
    job_reply_error(j, r->status, r->code, "%s", r->message);
    job_finish(j);
    return 1;
}

/* X-Request-Id from a client: 1-64 of [A-Za-z0-9._:+=/-] (what ids and
 * trace headers use; nothing that would need escaping in a log line). */
static int request_id_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];
        if (n >= 64 || !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         strchr("._:+=/-", c)))
            return 0;
    }
    return n > 0;
}

/* Idempotency-Key: 1-64 visible ASCII (0x21-0x7E). */
static int idem_key_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= 64 || (unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
            return 0;
    return n > 0;
}

/* 405: the methods the path takes, for Allow (RFC 9110 15.5.6); HEAD with GET. */
static void allow_header(struct evhttp_request *req, const char *path)
{
    char allow[96] = "";
    size_t used = 0;
    int get = 0;
    for (size_t i = 0; i < tk_nroutes; i++) {
        uint64_t ids[2];
        int nids;
        if (!path_match(tk_routes[i].pattern, path, ids, &nids) || strstr(allow, tk_routes[i].method))
            continue;
        get |= !strcmp(tk_routes[i].method, "GET");
        used += (size_t)snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "", tk_routes[i].method);
        if (used >= sizeof allow)
            break;
    }
    if (get && used < sizeof allow)
        snprintf(allow + used, sizeof allow - used, ", HEAD");
    evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    tk_loop *l = arg;
    tk_server *srv = l->srv;
    tk_job *j = calloc(1, sizeof *j);
    if (!j) { /* no JSON without memory; close the connection instead */
        struct evhttp_connection *evcon = evhttp_request_get_connection(req);
        evhttp_send_reply(req, 503, "Service Unavailable", NULL);
        if (evcon)
            bufferevent_flush(evhttp_connection_get_bufferevent(evcon), EV_WRITE, BEV_NORMAL);
        return;
    }
    j->loop = l;
    j->req = req;
    j->t_start_us = tk_mono_us();
    j->route_index = 63;
    atomic_fetch_add(&srv->metrics.inflight, 1);

    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    if (evcon)
        evhttp_connection_set_closecb(evcon, on_conn_close, NULL);
    struct evkeyvalq *hin = evhttp_request_get_input_headers(req);
    const char *rid = evhttp_find_header(hin, "X-Request-Id");
    if (rid && request_id_valid(rid))
        snprintf(j->request_id, sizeof j->request_id, "%s", rid);
    else
        request_id_new(l, j->request_id);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const char *method = method_name(cmd);
    j->method = method;
    if (path && strict_answer(srv, j, path))
        return;
    if (cmd == EVHTTP_REQ_HEAD) { /* every GET route answers HEAD */
        method = "GET";
        j->head = 1;
    }
    if (!path || !*path) {
        job_reply_error(j, 400, "BAD_REQUEST", "bad request URI");
        job_finish(j);
        return;
    }
    int path_found = 0;
    for (size_t i = 0; i < tk_route_count(); i++) { /* tk_routes, then tk_admin_routes (routes.h) */
        uint64_t ids[2];
        int nids;
        const tk_route *r = tk_route_at(i);
        if (!path_match(r->pattern, path, ids, &nids))
            continue;
        path_found = 1;
        if (strcmp(r->method, method))
            continue;
        j->route = r;
        j->route_index = (int)i;
        memcpy(j->ids, ids, sizeof ids);
        j->nids = nids;
        break;
    }
    if (!j->route) {
        if (path_found) {
            allow_header(req, path);
            job_reply_error(j, 405, "METHOD_NOT_ALLOWED", "%s is not allowed on %s", j->method, path);
        } else
            job_reply_error(j, 404, "NOT_FOUND", "no route for %s %s", j->method, path);
        job_finish(j);
        return;
    }

    if (j->route->flags & R_AUTH) {
        const char *auth = evhttp_find_header(hin, "Authorization");
        if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
            job_reply_error(j, 401, "UNAUTHORIZED", "an Authorization: Bearer token is required");
            job_finish(j);
            return;
        }
        if (tk_jwt_verify_cached(l->tokens, srv->cfg.jwt_key, srv->cfg.jwt_key_len, auth + 7, &j->claims) != TK_OK) {
            job_reply_error(j, 401, "UNAUTHORIZED", "the token is invalid or expired");
            job_finish(j);
            return;
        }
        if ((j->route->flags & R_ADMIN) && !j->claims.admin) {
            job_reply_error(j, 403, "FORBIDDEN", "this needs the ADMIN role");
            job_finish(j);
            return;
        }
    }
    const char *idem = evhttp_find_header(hin, "Idempotency-Key");
    if (idem) {
        if (!idem_key_valid(idem)) {
            job_reply_error(j, 422, "VALIDATION", "Idempotency-Key must be 1 to 64 visible ASCII characters");
            job_finish(j);
            return;
        }
        snprintf(j->idem_key, sizeof j->idem_key, "%s", idem);
    }
    const char *inm = evhttp_find_header(hin, "If-None-Match"); /* conditional reads (routes.h) */
    if (inm && strlen(inm) < sizeof j->if_none_match)
        snprintf(j->if_none_match, sizeof j->if_none_match, "%s", inm);
    const char *qtok = evhttp_find_header(hin, "X-Queue-Token"); /* waiting room: checked by the handler */
    if (qtok && strlen(qtok) < sizeof j->qtoken)
        snprintf(j->qtoken, sizeof j->qtoken, "%s", qtok);
    else if (qtok)
        snprintf(j->qtoken, sizeof j->qtoken, "%s", "?"); /* too long: present but invalid */
    const char *lock = evhttp_find_header(hin, "X-Lock-Strategy");
    if (lock) {
        const char *why = NULL;
        if (!srv->cfg.strategy_header)
            why = "this server does not take the lock strategy from requests (serve --allow-strategy-header)";
        else if (!(j->strategy = tk_strategy_find(lock)))
            why = "unknown lock strategy (ticketctl scenario strategies lists them)";
        else
            why = tk_strategy_serve_refusal(j->strategy);
        if (why) {
            job_reply_error(j, 400, "BAD_STRATEGY", "X-Lock-Strategy %.40s: %s", lock, why);
            job_finish(j);
            return;
        }
    }
    const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
    if (query && *query) {
        j->query = calloc(1, sizeof *j->query);
        if (!j->query || evhttp_parse_query_str(query, j->query) != 0) {
            job_reply_error(j, 400, "BAD_REQUEST", "malformed query string");
            job_finish(j);
            return;
        }
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(in);
    j->body_len = blen;
    if (blen > TK_MAX_BODY) {
        job_reply_error(j, 413, "PAYLOAD_TOO_LARGE", "request body over %d bytes", TK_MAX_BODY);
        job_finish(j);
        return;
    }
    if (blen) {
        j->body = malloc(blen + 1);
        if (!j->body) {
            job_reply_error(j, 503, "BUSY", "out of memory");
            job_finish(j);
            return;
        }
        evbuffer_remove(in, j->body, blen);
        j->body[blen] = '\0';
    }

    if (j->route->cache_key) {
        j->route->cache_key(j);
        if (j->cache_key[0] && cache_answer(srv, j)) {
            job_finish(j);
            return;
        }
    }
    if (j->route->flags & R_INLINE) {
        j->route->fn(j, NULL);
        job_finish(j);
        return;
    }
    if (j->route->flags & R_LOOP_FIRST) { /* answered on the loop unless it needs a backend */
        j->route->fn(j, NULL);
        if (j->status) {
            job_finish(j);
            return;
        }
    }
    /* also while draining: a request that came on an open connection is
     * served (its answer closes the connection), not refused */
    enqueue(srv, j);
}

/* ---- loops, listening sockets, shutdown ----------------------------------- */

static evutil_socket_t listen_socket(const char *host, int port, char *err, size_t errlen)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (evutil_inet_pton(AF_INET, host, &sin.sin_addr) != 1) {
        tk_err(err, errlen, "bad listen address '%s' (IPv4 expected)", host);
        return -1;
    }
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        tk_err(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(fd, 4096) != 0) {
        tk_err(err, errlen, "cannot listen on %s:%d: %s", host, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void on_ctl(evutil_socket_t fd, short what, void *arg)
{
    tk_loop *l = arg;
    (void)fd;
    (void)what;
    if (l->bound) { /* stop accepting; open connections finish */
        evhttp_del_accept_socket(l->http, l->bound);
        l->bound = NULL;
    }
}

static void *loop_main(void *arg)
{
    tk_loop *l = arg;
    event_base_dispatch(l->base);
    return NULL;
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    tk_server *srv = arg;
    (void)fd;
    (void)what;
    int64_t inflight = atomic_load(&srv->metrics.inflight);
    uint64_t now = tk_mono_us();
    /* Idle keep-alive connections get IDLE_GRACE_US to bring one more
     * request (answered with Connection: close) before the exit closes
     * them: a balancer that just picked one then does not see a reset. */
    int idle_open = atomic_load(&srv->conns) > 0 && now < srv->drain_started_us + IDLE_GRACE_US;
    if ((inflight > 0 || idle_open) && now < srv->drain_deadline_us)
        return;
    if (!srv->cfg.quiet)
        fprintf(stderr, "serve: drained (%lld request(s) still in flight, %lld connection(s) open), exiting\n",
                (long long)inflight, (long long)atomic_load(&srv->conns));
    for (int i = 0; i < srv->nloops; i++)
        event_base_loopexit(srv->loops[i].base, NULL);
}

static void on_fault_signal(evutil_socket_t sig, short what, void *arg)
{
    tk_server *srv = arg;
    (void)what;
    int ms = sig == SIGUSR1 ? srv->cfg.fault_latency_ms : 0;
    atomic_store(&srv->inject_latency_ms, ms);
    if (!srv->cfg.quiet)
        fprintf(stderr, "serve: injected latency %s (%d ms)\n", ms ? "on" : "off", ms);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    tk_server *srv = arg;
    (void)what;
    if (atomic_exchange(&srv->stopping, 1))
        return;
    if (!srv->cfg.quiet)
        fprintf(stderr, "serve: %s, draining in-flight requests\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    for (int i = 0; i < srv->nloops; i++)
        event_active(srv->loops[i].ctl_ev, EV_READ, 0);
    /* in-flight requests end by their deadline (plus a MariaDB read timeout) */
    srv->drain_started_us = tk_mono_us();
    srv->drain_deadline_us = srv->drain_started_us + srv->request_timeout_us + DRAIN_EXTRA_US;
    struct timeval tv = {0, 20000};
    srv->drain_timer = event_new(srv->loops[0].base, -1, EV_PERSIST, on_drain_tick, srv);
    event_add(srv->drain_timer, &tv);
}

static int write_port_file(const char *path, int port)
{
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d\n", port);
    fclose(f);
    return rename(tmp, path);
}

int tk_server_run(const tk_server_config *cfg_in, char *err, size_t errlen)
{
    tk_server *srv = calloc(1, sizeof *srv);
    int rc = -1, started_loops = 0, started_workers = 0, sweeper_started = 0;
    if (!srv)
        return tk_err(err, errlen, "out of memory");
    srv->cfg = *cfg_in;
    tk_server_config *cfg = &srv->cfg;
    if (!cfg->host)
        cfg->host = "127.0.0.1";
    if (cfg->loops <= 0)
        cfg->loops = (int)sysconf(_SC_NPROCESSORS_ONLN) > 0 ? (int)sysconf(_SC_NPROCESSORS_ONLN) : 1;
    /* One worker per loop, at least 2. Measured on 2 cores at saturation
     * (scripts/bench-server-cpu, 5,000 VUs, interleaved, two runs): 2
     * workers took 0.85-0.88x the server-side CPU per flow of 4 (serve and
     * mariadbd both: fewer thread switches, fewer transactions waiting on
     * the same schedule row) and completed more flows per second; 3 was
     * 0.90x. Earlier: 2 per core beat 8 and 16. */
    if (cfg->workers <= 0)
        cfg->workers = cfg->loops < 2 ? 2 : cfg->loops;
    if (cfg->hold_ttl_s <= 0)
        cfg->hold_ttl_s = 600;
    if (cfg->sweep_interval_ms <= 0)
        cfg->sweep_interval_ms = 1000;
    if (cfg->cache_ttl_ms <= 0)
        cfg->cache_ttl_ms = 5000;
    if (cfg->token_ttl_s <= 0)
        cfg->token_ttl_s = 3600;
    if (cfg->request_timeout_ms <= 0)
        cfg->request_timeout_ms = 2000;
    srv->request_timeout_us = (uint64_t)cfg->request_timeout_ms * 1000;
    srv->started_ms = tk_wall_ms();
    pthread_mutex_init(&srv->qmu, NULL);
    pthread_cond_init(&srv->qcv, NULL);
    pthread_mutex_init(&srv->sweep_mu, NULL);
    pthread_cond_init(&srv->sweep_cv, NULL);
    pthread_mutex_init(&srv->pwhash_mu, NULL);
    pthread_cond_init(&srv->pwhash_cv, NULL);
    pthread_mutex_init(&srv->pulse_mu, NULL);
    pthread_cond_init(&srv->pulse_cv, NULL);

    evthread_use_pthreads();
    signal(SIGPIPE, SIG_IGN);
    tk_raise_nofile(65536);
    if (tk_auth_init() != 0) {
        tk_err(err, errlen, "libsodium failed to initialise");
        goto out;
    }
    {
        unsigned char rnd[24];
        randombytes_buf(rnd, sizeof rnd);
        sodium_bin2hex(srv->strict_secret, sizeof srv->strict_secret, rnd, 16);
        sodium_bin2hex(srv->boot_id, sizeof srv->boot_id, rnd + 16, 8);
    }
    if (cfg->access_log) {
        srv->access_log = strcmp(cfg->access_log, "-") ? fopen(cfg->access_log, "a") : stdout;
        if (!srv->access_log) {
            tk_err(err, errlen, "--access-log %s: %s", cfg->access_log, strerror(errno));
            goto out;
        }
        setvbuf(srv->access_log, NULL, _IOLBF, 0);
    }
    srv->cache = tk_cache_new(100000, cfg->cache_ttl_ms);
    srv->openapi = tk_openapi_render(&srv->openapi_len);
    if (!srv->cache || !srv->openapi) {
        tk_err(err, errlen, "out of memory");
        goto out;
    }
    /* invalidations to and from the other instances (cache.h) */
    if (!(srv->cache_bus = tk_cache_bus_start(srv->cache, cfg->redis_url, err, errlen)))
        goto out;

    /* Workers first: they prove the backends answer before we listen. */
    srv->nworkers = cfg->workers;
    srv->workers = calloc((size_t)srv->nworkers, sizeof *srv->workers);
    if (!srv->workers) {
        tk_err(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < srv->nworkers; i++) {
        tk_worker *w = &srv->workers[i];
        w->srv = srv;
        snprintf(w->redis_url, sizeof w->redis_url, "%s", cfg->redis_url);
        w->store = tk_store_open(cfg->mysql_url, err, errlen);
        if (!w->store)
            goto out;
        w->redis = tk_redis_connect(cfg->redis_url, err, errlen);
        if (!w->redis)
            goto out;
    }
    {
        long long gen = tk_data_gen(srv->workers[0].redis);
        atomic_store(&srv->data_gen, gen > 0 ? (uint64_t)gen : 0);
    }

    srv->nloops = cfg->loops;
    srv->loops = calloc((size_t)srv->nloops, sizeof *srv->loops);
    if (!srv->loops) {
        tk_err(err, errlen, "out of memory");
        goto out;
    }
    int port = cfg->port;
    for (int i = 0; i < srv->nloops; i++) {
        tk_loop *l = &srv->loops[i];
        l->srv = srv;
        l->index = i;
        pthread_mutex_init(&l->mu, NULL);
        pthread_mutex_init(&l->pulse_mu, NULL);
        l->pulse_hist = tk_hist_new();
        l->tokens = tk_jwt_cache_new(8192); /* ~2.3 MB: the active users of an on-sale */
        l->base = l->pulse_hist && l->tokens ? event_base_new() : NULL;
        l->http = l->base ? evhttp_new(l->base) : NULL;
        if (!l->http) {
            tk_err(err, errlen, "libevent: cannot create an event loop");
            goto out;
        }
        evhttp_set_gencb(l->http, on_request, l);
        evhttp_set_bevcb(l->http, strict_bev_new, l); /* strict.h: framing judged before evhttp parses */
        evhttp_set_max_body_size(l->http, 8 * 1024 * 1024);
        evhttp_set_max_headers_size(l->http, TK_STRICT_MAX_HEAD + 4096); /* strict.c refuses first, as JSON */
        evhttp_set_timeout(l->http, 120);
        evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                                EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
        l->done_ev = event_new(l->base, -1, EV_READ, on_jobs_done, l);
        l->ctl_ev = event_new(l->base, -1, EV_READ, on_ctl, l);
        evutil_socket_t fd = listen_socket(cfg->host, port, err, errlen);
        if (fd < 0)
            goto out;
        if (port == 0) {
            struct sockaddr_in sin;
            socklen_t sl = sizeof sin;
            getsockname(fd, (struct sockaddr *)&sin, &sl);
            port = ntohs(sin.sin_port);
        }
        l->bound = evhttp_accept_socket_with_handle(l->http, fd);
        if (!l->bound) {
            close(fd);
            tk_err(err, errlen, "evhttp cannot accept on port %d", port);
            goto out;
        }
    }
    srv->sig_term = evsignal_new(srv->loops[0].base, SIGTERM, on_signal, srv);
    srv->sig_int = evsignal_new(srv->loops[0].base, SIGINT, on_signal, srv);
    event_add(srv->sig_term, NULL);
    event_add(srv->sig_int, NULL);
    srv->deadline_timer = event_new(srv->loops[0].base, -1, EV_PERSIST, on_deadline_tick, srv);
    {
        struct timeval dtv = {0, 50000};
        event_add(srv->deadline_timer, &dtv);
    }
    if (cfg->fault_latency_ms > 0) {
        srv->sig_usr1 = evsignal_new(srv->loops[0].base, SIGUSR1, on_fault_signal, srv);
        srv->sig_usr2 = evsignal_new(srv->loops[0].base, SIGUSR2, on_fault_signal, srv);
        event_add(srv->sig_usr1, NULL);
        event_add(srv->sig_usr2, NULL);
    }

    /* before the workers: they read srv->health (mariadb_known_down) */
    if (!(srv->health = tk_health_start(cfg->mysql_url, cfg->redis_url, 500, "serve", err, errlen)))
        goto out;
    for (; started_workers < srv->nworkers; started_workers++)
        if (pthread_create(&srv->workers[started_workers].thread, NULL, worker_main, &srv->workers[started_workers])) {
            tk_err(err, errlen, "cannot start worker threads");
            goto out;
        }
    if (pthread_create(&srv->sweeper, NULL, sweeper_main, srv) == 0)
        sweeper_started = 1;
    if (tk_wr_start(srv, err, errlen) != 0) /* waiting-room admission job (queue_routes.c) */
        goto out;
    if (cfg->kafka_brokers && *cfg->kafka_brokers && !cfg->no_relay) {
        tk_relay_opts ro = {.poll_ms = 100, .retention_s = cfg->outbox_retention_s};
        srv->relay = tk_relay_start_opts(cfg->mysql_url, cfg->kafka_brokers, &ro, err, errlen);
        if (!srv->relay)
            goto out;
    }
    if (cfg->kafka_brokers && *cfg->kafka_brokers && tk_pulse_start(srv, err, errlen) != 0)
        goto out;
    for (; started_loops < srv->nloops; started_loops++)
        if (pthread_create(&srv->loops[started_loops].thread, NULL, loop_main, &srv->loops[started_loops])) {
            tk_err(err, errlen, "cannot start loop threads");
            goto out;
        }
    if (!cfg->quiet)
        fprintf(stderr, "serve: listening on http://%s:%d (%d loops, %d workers, hold %d s, strategy %s%s)\n",
                cfg->host, port, srv->nloops, srv->nworkers, cfg->hold_ttl_s,
                cfg->strategy ? cfg->strategy->name : "redis-atomic",
                cfg->strategy_header ? ", X-Lock-Strategy allowed" : "");
    if (cfg->port_file)
        write_port_file(cfg->port_file, port);
    rc = 0;

out:
    if (rc != 0 && started_loops > 0) /* a late failure: stop what runs */
        for (int i = 0; i < started_loops; i++)
            event_base_loopexit(srv->loops[i].base, NULL);
    for (int i = 0; i < started_loops; i++)
        pthread_join(srv->loops[i].thread, NULL);
    atomic_store(&srv->workers_stop, 1);
    pthread_mutex_lock(&srv->qmu);
    pthread_cond_broadcast(&srv->qcv);
    pthread_mutex_unlock(&srv->qmu);
    for (int i = 0; i < started_workers; i++)
        pthread_join(srv->workers[i].thread, NULL);
    tk_wr_stop(srv);
    pthread_mutex_lock(&srv->sweep_mu);
    pthread_cond_broadcast(&srv->sweep_cv);
    pthread_mutex_unlock(&srv->sweep_mu);
    if (sweeper_started)
        pthread_join(srv->sweeper, NULL);
    tk_relay_stop(srv->relay);
    tk_pulse_stop(srv);
    tk_health_stop(srv->health);
    /* Jobs that finished after their loop stopped. */
    for (int i = 0; srv->loops && i < srv->nloops; i++) {
        tk_loop *l = &srv->loops[i];
        for (tk_job *j = l->done_head, *n; j; j = n) {
            n = j->next;
            job_free(j);
        }
        if (l->done_ev)
            event_free(l->done_ev);
        if (l->ctl_ev)
            event_free(l->ctl_ev);
        if (l->http)
            evhttp_free(l->http);
        pthread_mutex_destroy(&l->mu);
        pthread_mutex_destroy(&l->pulse_mu);
        tk_hist_free(l->pulse_hist);
        tk_jwt_cache_free(l->tokens);
    }
    if (srv->drain_timer)
        event_free(srv->drain_timer);
    if (srv->deadline_timer)
        event_free(srv->deadline_timer);
    if (srv->access_log && srv->access_log != stdout)
        fclose(srv->access_log);
    else if (srv->access_log)
        fflush(stdout);
    if (srv->sig_term)
        event_free(srv->sig_term);
    if (srv->sig_int)
        event_free(srv->sig_int);
    if (srv->sig_usr1)
        event_free(srv->sig_usr1);
    if (srv->sig_usr2)
        event_free(srv->sig_usr2);
    for (int i = 0; srv->loops && i < srv->nloops; i++)
        if (srv->loops[i].base)
            event_base_free(srv->loops[i].base);
    for (int i = 0; srv->workers && i < srv->nworkers; i++) {
        tk_store_close(srv->workers[i].store);
        if (srv->workers[i].redis)
            tk_redis_free(srv->workers[i].redis);
    }
    for (int lane = 0; lane < 2; lane++)
        for (tk_job *j = lane ? srv->lq_head : srv->q_head, *n; j; j = n) {
            n = j->next;
            job_free(j);
        }
    free(srv->loops);
    free(srv->workers);
    tk_cache_bus_stop(srv->cache_bus);
    tk_cache_free(srv->cache);
    free(srv->openapi);
    pthread_mutex_destroy(&srv->qmu);
    pthread_cond_destroy(&srv->qcv);
    pthread_mutex_destroy(&srv->sweep_mu);
    pthread_cond_destroy(&srv->sweep_cv);
    pthread_mutex_destroy(&srv->pwhash_mu);
    pthread_cond_destroy(&srv->pwhash_cv);
    pthread_mutex_destroy(&srv->pulse_mu);
    pthread_cond_destroy(&srv->pulse_cv);
    free(srv);
    libevent_global_shutdown();
    return rc;
}
