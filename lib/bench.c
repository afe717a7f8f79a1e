/* The load generator: closed- or open-model virtual users over libcurl
 * multi + libevent.
 *
 * Layout (after wrk): N threads, each with its own event_base, CURLM, VUs,
 * per-step histograms and counters. libcurl is driven by the hiper pattern:
 * CURLMOPT_SOCKETFUNCTION turns curl's interest in a socket into a libevent
 * event, CURLMOPT_TIMERFUNCTION into a libevent timer, and both call
 * curl_multi_socket_action() back. Each VU owns one easy handle (re-added
 * for every request, so its connection stays alive), a response buffer
 * that only grows, its request body and a timer for start/think time.
 * Hot-path allocations are libcurl's own (URL copy) and jansson's parse
 * tree for the small answers (login, hold, queue); the list answers are
 * read by tk_jscan (jscan.h) without building one; everything of ours is
 * preallocated per thread.
 *
 * The run skeleton is loadgen.c's, shared with httpload.c: once a second
 * each thread folds its "current second" histogram and counters into a
 * shared ring slot (one lock per thread per second, never per request); the
 * calling thread reads finished seconds for the progress line and takes the
 * CPU samples of the steady window. Per-step results are merged after the
 * threads end.
 *
 * Coordinated omission (after wrk2): each request carries the time it
 * should have been sent (v->t_intended): the schedule for an iteration's
 * first request in the open model, else when its timer was due. Two
 * histograms per step, corrected (from t_intended) and uncorrected (from the
 * write of the request to its complete answer, by curl's clocks, as wrk
 * measures: see vu_done). The open model paces iterations per thread: global iteration j is
 * due when the integral of the rate profile reaches j+1 and belongs to
 * thread j mod T, so the whole run follows the schedule exactly; a due
 * iteration takes an idle VU, else waits in a ring (pending) until a VU is
 * free or max_delay passes (then it is dropped and counted).
 *
 * Self-watch: a 10 ms periodic timer per loop records its own lateness, and
 * each thread's CPU time is read at the end; either saturating marks the
 * run invalid (bench.h). */
#include "bench_int.h"
#include "ticketctl/bench.h"
#include "ticketctl/common.h"
#include "ticketctl/hist.h"
#include "ticketctl/queue.h"
#include "ticketctl/httpload.h"
#include "jscan.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifndef TK_VERSION

/* the profile of this run (bench_int.h) */
#define prof_value(b, t) tk_bench_prof_value((b)->prof, (b)->nprof, (t))
#define prof_time_of(b, c) tk_bench_prof_time_of((b)->prof, (b)->nprof, (c))
#define prof_next_above(b, g, from) tk_bench_prof_next_above((b)->prof, (b)->nprof, (g), (from))
#define fill_latency tk_bench_fill_latency

#define TK_VERSION "0.1.0"
#endif
#ifndef TK_BUILD_TYPE
#ifdef __OPTIMIZE__
#define TK_BUILD_TYPE "optimized"
#else
#define TK_BUILD_TYPE "Debug"
#endif
#endif

#define CHARGE_AMOUNT 200000
#define PAGE_SIZE 20
#define MAX_PAGES 5          /* "a random page within the first few" */
#define SEAT_TAKEN_RETRIES 3 /* re-read seats after a 409 at most this often */
#define CONCERT_TRIES 3      /* other concerts tried when one has no seats */
#define BUF_KEEP 4096       /* response buffers above this are released after use: RSS per VU */
#define BUF_MAX (32 * 1024 * 1024)
#define IDEM_PREFIX "Idempotency-Key: "
#define IDEM_LEN 34 /* "%08x-%08x-%016llx" */
#define LAG_PERIOD_US 10000  /* self-watch timer */
#define PENDING_CAP 65536    /* open model: iterations waiting for a VU, per thread */
#define PACE_BATCH 4096      /* due iterations handled per pacer wake-up */

static const char *step_names[TK_BENCH_NSTEPS] = {
    [TK_STEP_BALANCE] = "balance", [TK_STEP_CHARGE] = "charge", [TK_STEP_CONCERTS] = "concerts",
    [TK_STEP_DATES] = "dates",     [TK_STEP_SEATS] = "seats",   [TK_STEP_RESERVE] = "reserve",
    [TK_STEP_PAY] = "pay",         [TK_STEP_LOGIN] = "login",   [TK_STEP_URL] = "url",
    [TK_STEP_QTOKEN] = "queue_token", [TK_STEP_QPOLL] = "queue_poll",
};

static const char *kind_names[TK_BENCH_NERRKINDS] = {"connect", "timeout", "read", "status"};

struct thr;

typedef struct sockctx {
    struct event ev;
    struct thr *t;
    struct sockctx *next_free;
    int heap;   /* malloc'ed because the pool ran dry */
    int active; /* ev is added */
} sockctx;

typedef struct vu {
    struct thr *t;
    CURL *easy;
    struct event timer;  /* start, think time */
    struct curl_slist *hdrs;     /* Content-Type, Expect, Authorization */
    struct curl_slist *hdrs_pay; /* the same + Idempotency-Key */
    char *idem;                  /* points at the key inside hdrs_pay (rewritten in place) */
    uint64_t rng;
    uint64_t t_start;    /* µs, actual send of the request in flight */
    uint64_t t_intended; /* µs, when it should have been sent (schedule or timer due) */
    uint64_t concert_ids[PAGE_SIZE];
    uint64_t concert_id, schedule_id, seat_id, reservation_id;
    uint64_t pay_seq;
    char *buf;
    size_t len, cap;
    uint32_t id; /* seeded user number, 1-based */
    uint8_t step, nconcerts, seat_retries, concert_tries;
    uint8_t logged_in, in_flight, started, active;
    char body[96];
    /* waiting room (config.queue) */
    char *jwt;              /* the access token (headers are rebuilt when the queue token changes) */
    char qtok[TK_QTOKEN_MAX]; /* X-Queue-Token value, "" before the first take */
    uint64_t q_sched;       /* schedule this VU is admitted to (0: none) */
    uint64_t q_take_us;     /* mono µs: the take was sent (arrival) */
    int64_t q_arrival;      /* the server's arrival_no */
} vu;

/* One admission, for the fairness figure. */
typedef struct fair_rec {
    uint64_t sched;
    int64_t arrival, admission;
} fair_rec;

typedef struct thr {
    int idx;
    struct bench *b;
    pthread_t tid;
    int joinable;
    struct event_base *base;
    CURLM *multi;
    struct event curl_timer, tick, stop, lag, pace;
    int running;
    vu *vus;
    int nvu, started_vus;
    sockctx *socks, *free_socks;
    struct curl_slist *hdrs_login;
    int concert_pages; /* learned from the list's total */
    char url[600];     /* scratch: CURLOPT_URL copies it */
    /* results, merged after the run */
    tk_hist *step_hist[TK_BENCH_NSTEPS];
    tk_hist *step_uhist[TK_BENCH_NSTEPS]; /* uncorrected */
    tk_hist *steady_hist, *steady_uhist, *sec_hist, *empty_hist, *lag_hist;
    tk_loadgen_persec persec; /* this second by step and status (loadgen.c) */
    uint64_t lag_due;
    /* open model */
    vu **idle;
    int nidle;
    uint64_t *pending; /* ring of intended start times */
    size_t pend_head, pend_len;
    uint64_t next_j; /* next global iteration index of this thread */
    uint64_t iters_sched, iters_started, iters_late, iters_dropped, sec_drop;
    uint64_t cpu_us, wall_us;
    uint64_t step_req[TK_BENCH_NSTEPS], step_err[TK_BENCH_NSTEPS];
    uint64_t by_kind[TK_BENCH_NERRKINDS], by_status[TK_BENCH_MAX_STATUS];
    uint64_t seat_taken, sold_out, flows, steady_flows, steady_req, steady_err;
    uint64_t sec_req, sec_err;
    /* waiting room */
    tk_hist *qwait_hist; /* take sent -> admitted seen, µs */
    fair_rec *fair;
    size_t nfair, capfair;
    uint64_t admissions;
    int next_sec; /* next second to hand over, 1-based */
    int failed;
    char err[256];
} thr;

typedef struct bench {
    const tk_bench_config *cfg;
    char target[512];
    tk_bench_stage prof[TK_BENCH_MAX_STAGES + 1]; /* the load profile actually used */
    size_t nprof;
    int open, flow_first; /* flow_first: first step of an iteration */
    int queue;            /* 1: the waiting-room steps (config.queue) */
    uint64_t t0, ramp_end, end; /* mono µs */
    int nthreads, nsec;
    uint32_t nonce;
    thr *thr;
    tk_loadgen lg; /* start gate, per-second ring, watch loop (bench_int.h) */
} bench;

/* ---------- small helpers ---------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

static uint64_t splitmix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static struct timeval tv_us(int64_t us)
{
    if (us < 0)
        us = 0;
    struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};
    return tv;
}

static void evtimer_in_us(struct event *ev, int64_t us)
{
    struct timeval tv = tv_us(us);
    evtimer_add(ev, &tv);
}

static double us_to_ms(uint64_t us) { return (double)us / 1000.0; }

void tk_bench_fill_latency(tk_bench_latency *l, const tk_hist *h)
{
    l->p50 = us_to_ms(tk_hist_percentile(h, 50));
    l->p90 = us_to_ms(tk_hist_percentile(h, 90));
    l->p95 = us_to_ms(tk_hist_percentile(h, 95));
    l->p99 = us_to_ms(tk_hist_percentile(h, 99));
    l->p999 = us_to_ms(tk_hist_percentile(h, 99.9));
    l->p9999 = us_to_ms(tk_hist_percentile(h, 99.99));
    l->max = us_to_ms(tk_hist_max(h));
    l->mean = tk_hist_mean(h) / 1000.0;
}

/* ---------- the load profile (piecewise linear stages) ---------- */

/* (bench_int.h) */
double tk_bench_prof_value(const tk_bench_stage *prof, size_t n, double t)
{
    double t0 = 0;
    for (size_t i = 0; i < n; i++) {
        const tk_bench_stage *st = &prof[i];
        double d = (double)st->duration_ms / 1000.0;
        if (t < t0 + d)
            return st->from + (st->to - st->from) * (t - t0) / d;
        t0 += d;
    }
    return 0;
}

double tk_bench_prof_time_of(const tk_bench_stage *prof, size_t n, double count)
{
    double t0 = 0, acc = 0;
    for (size_t i = 0; i < n; i++) {
        const tk_bench_stage *st = &prof[i];
        double d = (double)st->duration_ms / 1000.0;
        double area = (st->from + st->to) / 2.0 * d;
        if (area > 0 && acc + area >= count) {
            double rem = count - acc, a = (st->to - st->from) / (2.0 * d), bb = st->from;
            double disc = bb * bb + 4.0 * a * rem;
            double den = bb + sqrt(disc > 0 ? disc : 0);
            double x = den > 0 ? 2.0 * rem / den : 0;
            return t0 + (x < d ? x : d);
        }
        acc += area;
        t0 += d;
    }
    return -1;
}

double tk_bench_prof_next_above(const tk_bench_stage *prof, size_t n, double g, double from)
{
    double t0 = 0;
    for (size_t i = 0; i < n; i++) {
        const tk_bench_stage *st = &prof[i];
        double d = (double)st->duration_ms / 1000.0, t1 = t0 + d;
        if (t1 > from) {
            double s0 = from > t0 ? from : t0;
            if (st->from + (st->to - st->from) * (s0 - t0) / d > g)
                return s0;
            if (st->to > g) {
                double x = t0 + (g - st->from) / (st->to - st->from) * d;
                return x > s0 ? x : s0;
            }
        }
        t0 = t1;
    }
    return -1;
}

int tk_bench_parse_stages(const char *s, tk_bench_stage *out, size_t cap, char *err, size_t errlen)
{
    size_t n = 0;
    const char *p = s;
    if (!s || !*s)
        return tk_err(err, errlen, "empty stages");
    while (*p) {
        char item[64];
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof item)
            return tk_err(err, errlen, "bad stage in '%s'", s);
        memcpy(item, p, len);
        item[len] = '\0';
        p += len + (p[len] == ',');
        char *colon = strchr(item, ':');
        if (!colon)
            return tk_err(err, errlen, "stage '%s': expected DUR:FROM-TO or DUR:VALUE", item);
        *colon = '\0';
        if (n >= cap)
            return tk_err(err, errlen, "more than %zu stages", cap);
        tk_bench_stage *st = &out[n];
        if (tk_parse_duration_ms(item, &st->duration_ms) != 0 || st->duration_ms <= 0)
            return tk_err(err, errlen, "stage duration '%s' is not a positive duration", item);
        char *end;
        st->from = strtod(colon + 1, &end);
        if (end == colon + 1 || st->from < 0 || !isfinite(st->from))
            return tk_err(err, errlen, "stage value '%s' is not a number >= 0", colon + 1);
        st->to = st->from;
        if (*end == '-') {
            char *v = end + 1;
            st->to = strtod(v, &end);
            if (end == v || st->to < 0 || !isfinite(st->to))
                return tk_err(err, errlen, "stage value '%s' is not a number >= 0", v);
        }
        if (*end)
            return tk_err(err, errlen, "stage value '%s': trailing '%s'", colon + 1, end);
        n++;
    }
    return (int)n;
}

/* ---------- time series (one lock per thread per second) ---------- */

/* Hand second `sec` of thread t over to the shared ring; with data == 0 it
 * only reports the second as done (a late tick skipping seconds). */
static void thr_flush_second(thr *t, int sec, int data)
{
    bench *b = t->b;
    tk_loadgen_flush_second_ps(&b->lg, sec, data ? t->sec_hist : t->empty_hist, data ? t->sec_req : 0,
                               data ? t->sec_err : 0, data ? t->sec_drop : 0,
                               b->open ? t->nvu - t->nidle : t->started_vus, /* open: busy VUs */
                               data ? &t->persec : NULL);
    if (data) {
        tk_hist_reset(t->sec_hist);
        t->sec_req = t->sec_err = t->sec_drop = 0;
    }
}

static void flush_cb(void *thread, int sec, int data)
{
    thr_flush_second(thread, sec, data);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    thr *t = arg;
    int64_t next = tk_loadgen_tick(&t->b->lg, &t->next_sec, flush_cb, t);
    if (next >= 0)
        evtimer_in_us(&t->tick, next);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    thr *t = arg;
    /* iterations still waiting for a VU never started: dropped */
    t->iters_dropped += t->pend_len;
    t->sec_drop += t->pend_len;
    t->pend_len = 0;
    tk_loadgen_last_seconds(&t->b->lg, &t->next_sec, flush_cb, t);
    event_base_loopbreak(t->base);
}

/* ---------- the hiper pattern: curl multi on libevent ---------- */

static void check_multi_info(thr *t);
static void vu_done(vu *v, CURLcode res);

static void on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    thr *t = arg;
    curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &t->running);
    check_multi_info(t);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    thr *t = userp;
    if (timeout_ms < 0)
        evtimer_del(&t->curl_timer);
    else
        evtimer_in_us(&t->curl_timer, (int64_t)timeout_ms * 1000);
    return 0;
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    thr *t = arg;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(t->multi, fd, action, &t->running);
    check_multi_info(t);
}

static sockctx *sock_get(thr *t)
{
    sockctx *s = t->free_socks;
    if (s) {
        t->free_socks = s->next_free;
        return s;
    }
    s = calloc(1, sizeof *s); /* pool ran dry: more sockets than VUs + slack */
    if (s)
        s->heap = 1;
    return s;
}

static void sock_put(thr *t, sockctx *s)
{
    if (s->active)
        event_del(&s->ev);
    s->active = 0;
    if (s->heap) {
        free(s);
        return;
    }
    s->next_free = t->free_socks;
    t->free_socks = s;
}

static int curl_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    thr *t = userp;
    sockctx *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(t->multi, fd, NULL);
            sock_put(t, s);
        }
        return 0;
    }
    if (!s) {
        s = sock_get(t);
        if (!s)
            return -1;
        s->t = t;
        curl_multi_assign(t->multi, fd, s);
    } else if (s->active) {
        event_del(&s->ev);
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    event_assign(&s->ev, t->base, fd, kind, on_sock_event, t);
    event_add(&s->ev, NULL);
    s->active = 1;
    return 0;
}

static void check_multi_info(thr *t)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        vu *v = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&v);
        curl_multi_remove_handle(t->multi, easy);
        v->in_flight = 0;
        vu_done(v, res);
    }
}

/* ---------- virtual users ---------- */

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    vu *v = ud;
    size_t n = size * nmemb;
    if (v->len + n + 1 > v->cap) {
        size_t cap = v->cap ? v->cap : 4096;
        while (cap < v->len + n + 1)
            cap *= 2;
        if (cap > BUF_MAX)
            return 0; /* fails the transfer: counted as a read error */
        char *nb = realloc(v->buf, cap);
        if (!nb)
            return 0;
        v->buf = nb;
        v->cap = cap;
    }
    memcpy(v->buf + v->len, ptr, n);
    v->len += n;
    return n;
}

/* Single-endpoint mode reads nothing from the body (as wrk). */
static size_t on_write_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

static void vu_release_buf(vu *v)
{
    if (v->cap > BUF_KEEP) {
        free(v->buf);
        v->buf = NULL;
        v->cap = 0;
    }
    v->len = 0;
}

/* Think time: mean think_ms, uniformly randomised +-50 %. */
static int64_t vu_think_us(vu *v)
{
    int64_t mean = v->t->b->cfg->think_ms * 1000;
    if (mean <= 0)
        return 0;
    return mean / 2 + (int64_t)(rng_next(&v->rng) % (uint64_t)(mean + 1));
}

/* Schedule the next request after a think time; its intended start is when
 * the timer is due, so loop lateness shows in the corrected latency. */
static void vu_next(vu *v, int step)
{
    int64_t think = vu_think_us(v);
    v->step = (uint8_t)step;
    v->t_intended = tk_mono_us() + (uint64_t)think;
    evtimer_in_us(&v->timer, think);
}

static void vu_send(vu *v);

/* Open model: start an iteration that was due at `when` (intended start);
 * `now_ok`: the caller is the pacer, so send at once instead of a 0 timer. */
static void vu_start_iter(vu *v, uint64_t when, int now_ok)
{
    thr *t = v->t;
    uint64_t now = tk_mono_us();
    t->iters_started++;
    v->seat_retries = 0;
    v->concert_tries = 0;
    v->step = (uint8_t)(v->logged_in ? t->b->flow_first : TK_STEP_LOGIN);
    v->t_intended = when;
    if (now_ok && when <= now)
        vu_send(v);
    else
        evtimer_in_us(&v->timer, when > now ? (int64_t)(when - now) : 0);
}

/* Open model: v is free; give it the oldest waiting iteration that is still
 * within max_delay (older ones are dropped), else put it on the idle stack. */
static void vu_go_idle(vu *v)
{
    thr *t = v->t;
    uint64_t now = tk_mono_us(), max_delay = (uint64_t)t->b->cfg->max_delay_ms * 1000u;
    while (t->pend_len) {
        uint64_t when = t->pending[t->pend_head];
        t->pend_head = (t->pend_head + 1) % PENDING_CAP;
        t->pend_len--;
        if (now > when && now - when > max_delay) {
            t->iters_dropped++;
            t->sec_drop++;
            continue;
        }
        t->iters_late++;
        vu_start_iter(v, when, 0);
        return;
    }
    t->idle[t->nidle++] = v;
}

/* Open model: iteration due at `when`. */
static void thr_due(thr *t, uint64_t when)
{
    t->iters_sched++;
    if (t->nidle > 0) {
        vu_start_iter(t->idle[--t->nidle], when, 1);
        return;
    }
    if (t->pending && t->pend_len < PENDING_CAP) {
        t->pending[(t->pend_head + t->pend_len) % PENDING_CAP] = when;
        t->pend_len++;
        return;
    }
    t->iters_dropped++;
    t->sec_drop++;
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    thr *t = arg;
    bench *b = t->b;
    uint64_t now = tk_mono_us();
    for (int i = 0; i < PACE_BATCH; i++) {
        double at = prof_time_of(b, (double)t->next_j + 1.0);
        if (at < 0)
            return; /* the schedule is over */
        uint64_t when = b->t0 + (uint64_t)(at * 1e6);
        if (when >= b->end)
            return;
        if (when > now) {
            evtimer_in_us(&t->pace, (int64_t)(when - now));
            return;
        }
        thr_due(t, when);
        t->next_j += (uint64_t)b->nthreads;
    }
    evtimer_in_us(&t->pace, 0); /* far behind: let the loop breathe, then go on */
}

/* The login answered: go on with the iteration. */
static void vu_login_done(vu *v)
{
    vu_next(v, v->t->b->flow_first);
}

/* The iteration is over (done, failed or nothing to book). Closed model:
 * start the next one unless the profile wants fewer VUs now (then park
 * until it wants this one again); open model: become free. */
static void vu_iter_end(vu *v)
{
    thr *t = v->t;
    bench *b = t->b;
    v->seat_retries = 0;
    v->concert_tries = 0;
    if (b->open) {
        vu_go_idle(v);
        return;
    }
    uint64_t now = tk_mono_us();
    double now_s = (double)(now - b->t0) / 1e6, g = (double)(v->id - 1);
    if (prof_value(b, now_s) > g) {
        t->iters_started++;
        vu_next(v, v->logged_in ? b->flow_first : TK_STEP_LOGIN);
        return;
    }
    v->active = 0;
    t->started_vus--;
    double at = prof_next_above(b, g, now_s);
    if (at >= 0) {
        v->t_intended = b->t0 + (uint64_t)(at * 1e6);
        evtimer_in_us(&v->timer, (int64_t)v->t_intended - (int64_t)now);
    }
}

static void vu_fail(vu *v, int kind, long status)
{
    thr *t = v->t;
    t->by_kind[kind]++;
    if (kind == TK_BERR_STATUS && status > 0 && status < TK_BENCH_MAX_STATUS)
        t->by_status[status]++;
    t->step_err[v->step]++;
    t->sec_err++;
    if (v->t_start >= t->b->ramp_end)
        t->steady_err++;
    if (status == 401 && v->t->b->flow_first != TK_STEP_URL)
        v->logged_in = 0;
    if ((status == 401 || status == 403) && (v->step == TK_STEP_RESERVE || v->step == TK_STEP_PAY))
        v->q_sched = 0; /* the admission (or queue token) is gone: queue again */
    vu_iter_end(v);
}

static int vu_set_token(vu *v, const char *token)
{
    if (token != v->jwt) { /* kept: the queue token's arrival rebuilds the headers */
        char *copy = strdup(token);
        if (!copy)
            return -1;
        free(v->jwt);
        v->jwt = copy;
        token = copy;
    }
    char qhdr[TK_QTOKEN_MAX + 32];
    snprintf(qhdr, sizeof qhdr, "X-Queue-Token: %s", v->qtok);
    char auth[2048];
    int n = snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    if (n < 0 || (size_t)n >= sizeof auth)
        return -1;
    char idem[sizeof IDEM_PREFIX + IDEM_LEN];
    snprintf(idem, sizeof idem, IDEM_PREFIX "%0*d", IDEM_LEN, 0);
    curl_slist_free_all(v->hdrs);
    curl_slist_free_all(v->hdrs_pay);
    v->hdrs = v->hdrs_pay = NULL;
    v->idem = NULL;
    struct curl_slist *a = NULL, *p = NULL, *tmp;
    char lock[96] = "";
    if (v->t->b->cfg->strategy)
        snprintf(lock, sizeof lock, "X-Lock-Strategy: %s", v->t->b->cfg->strategy);
    const char *common[5] = {"Content-Type: application/json", "Expect:", auth, NULL, NULL};
    size_t ncommon = 3;
    if (v->qtok[0])
        common[ncommon++] = qhdr;
    if (lock[0])
        common[ncommon++] = lock;
    for (size_t i = 0; i < ncommon; i++) {
        if (!(tmp = curl_slist_append(a, common[i])))
            goto fail;
        a = tmp;
        if (!(tmp = curl_slist_append(p, common[i])))
            goto fail;
        p = tmp;
    }
    if (!(tmp = curl_slist_append(p, idem)))
        goto fail;
    p = tmp;
    while (tmp->next)
        tmp = tmp->next;
    v->idem = tmp->data + strlen(IDEM_PREFIX);
    v->hdrs = a;
    v->hdrs_pay = p;
    return 0;
fail:
    curl_slist_free_all(a);
    curl_slist_free_all(p);
    return -1;
}

static void vu_pick_concert(vu *v)
{
    v->concert_id = v->concert_ids[rng_next(&v->rng) % v->nconcerts];
}

/* No seat in the current concert: try another one, or give up this iteration. */
static void vu_other_concert(vu *v)
{
    if (++v->concert_tries <= CONCERT_TRIES && v->nconcerts > 0) {
        vu_pick_concert(v);
        vu_next(v, TK_STEP_DATES);
        return;
    }
    v->t->sold_out++;
    vu_iter_end(v);
}

static json_t *vu_parse(vu *v)
{
    return json_loadb(v->buf ? v->buf : "", v->len, 0, NULL);
}

static uint64_t json_id(json_t *o, const char *key)
{
    json_t *x = json_object_get(o, key);
    return json_is_integer(x) && json_integer_value(x) > 0 ? (uint64_t)json_integer_value(x) : 0;
}

/* A take or poll answered: admitted -> record and go on to the seats;
 * else poll again after the server's poll_after_ms hint. 0, or -1 when
 * the body lacks what is needed. */
static int vu_on_queue(vu *v, json_t *doc)
{
    thr *t = v->t;
    if (!json_is_object(doc))
        return -1;
    if (v->step == TK_STEP_QTOKEN) {
        const char *tok = json_string_value(json_object_get(doc, "token"));
        if (!tok || strlen(tok) >= sizeof v->qtok)
            return -1;
        snprintf(v->qtok, sizeof v->qtok, "%s", tok);
        if (vu_set_token(v, v->jwt) != 0)
            return -1;
        v->q_take_us = v->t_start;
        v->q_arrival = json_integer_value(json_object_get(doc, "arrival_no"));
    }
    if (json_is_true(json_object_get(doc, "admitted"))) {
        uint64_t now = tk_mono_us();
        tk_hist_record(t->qwait_hist, now - v->q_take_us);
        t->admissions++;
        int64_t adm = json_integer_value(json_object_get(doc, "admission_no"));
        if (v->q_arrival > 0 && adm > 0) {
            if (t->nfair == t->capfair) {
                size_t cap = t->capfair ? t->capfair * 2 : 1024;
                fair_rec *nf = realloc(t->fair, cap * sizeof *nf);
                if (nf) {
                    t->fair = nf;
                    t->capfair = cap;
                }
            }
            if (t->nfair < t->capfair)
                t->fair[t->nfair++] = (fair_rec){v->schedule_id, v->q_arrival, adm};
        }
        v->q_sched = v->schedule_id;
        vu_next(v, TK_STEP_SEATS);
        return 0;
    }
    json_int_t after = json_integer_value(json_object_get(doc, "poll_after_ms"));
    if (after < 50)
        after = 50;
    if (after > 30000)
        after = 30000;
    v->step = TK_STEP_QPOLL;
    v->t_intended = tk_mono_us() + (uint64_t)after * 1000u;
    evtimer_in_us(&v->timer, (int64_t)after * 1000);
    return 0;
}

/* The list answers (concerts, dates, seats) are read with tk_jscan (jscan.h:
 * jansson's tree was the generator's largest CPU cost), the rest with jansson. */
static const char *const id_key[] = {"id"};

static void on_concert(void *ud, const int64_t *vals)
{
    vu *v = ud;
    if (vals[0] > 0 && v->nconcerts < PAGE_SIZE)
        v->concert_ids[v->nconcerts++] = (uint64_t)vals[0];
}

/* One element of a list, uniformly at random (reservoir sample of size 1);
 * with need_seats, only elements whose vals[1] (available_seats) is > 0. An
 * element without a positive id may be the pick: then there is none (0). */
typedef struct pick_ctx {
    vu *v;
    uint64_t seen, pick;
    int need_seats;
} pick_ctx;

static void on_pick(void *ud, const int64_t *vals)
{
    pick_ctx *pc = ud;
    if (pc->need_seats && vals[1] <= 0)
        return;
    if (pc->need_seats && vals[0] <= 0)
        return; /* a schedule without an id is skipped, as before */
    if (rng_next(&pc->v->rng) % ++pc->seen == 0)
        pc->pick = vals[0] > 0 ? (uint64_t)vals[0] : 0;
}

/* Handle a 2xx answer of the current step; returns 0, or -1 when the body
 * lacks what the next step needs (counted as a read error). */
static int vu_on_success(vu *v)
{
    thr *t = v->t;
    json_t *doc = NULL;
    switch (v->step) {
    case TK_STEP_LOGIN: {
        doc = vu_parse(v);
        const char *tok = json_string_value(json_object_get(doc, "token"));
        if (!tok || vu_set_token(v, tok) != 0)
            goto bad;
        v->logged_in = 1;
        vu_login_done(v);
        break;
    }
    case TK_STEP_BALANCE:
        vu_next(v, TK_STEP_CHARGE);
        break;
    case TK_STEP_CHARGE:
        vu_next(v, TK_STEP_CONCERTS);
        break;
    case TK_STEP_CONCERTS: {
        int64_t total;
        v->nconcerts = 0;
        if (tk_jscan_items(v->buf, v->len, "items", id_key, 1, on_concert, v, "total", &total) < 0)
            goto bad;
        if (total > 0)
            t->concert_pages = (int)((total + PAGE_SIZE - 1) / PAGE_SIZE);
        if (v->nconcerts == 0) {
            t->sold_out++; /* nothing on sale (or a page past the end) */
            vu_iter_end(v);
            break;
        }
        v->concert_tries = 0;
        vu_pick_concert(v);
        vu_next(v, TK_STEP_DATES);
        break;
    }
    case TK_STEP_DATES: {
        static const char *const keys[] = {"id", "available_seats"};
        pick_ctx pc = {v, 0, 0, 1};
        if (tk_jscan_items(v->buf, v->len, "items", keys, 2, on_pick, &pc, NULL, NULL) < 0)
            goto bad;
        uint64_t pick = pc.pick;
        if (!pick) {
            vu_other_concert(v);
            break;
        }
        v->schedule_id = pick;
        /* waiting room: queue for this schedule unless admitted to it already */
        vu_next(v, t->b->queue && v->q_sched != pick ? TK_STEP_QTOKEN : TK_STEP_SEATS);
        break;
    }
    case TK_STEP_QTOKEN:
    case TK_STEP_QPOLL:
        doc = vu_parse(v);
        if (vu_on_queue(v, doc) != 0)
            goto bad;
        break;
    case TK_STEP_SEATS: {
        pick_ctx pc = {v, 0, 0, 0};
        if (tk_jscan_items(v->buf, v->len, "items", id_key, 1, on_pick, &pc, NULL, NULL) < 0)
            goto bad;
        uint64_t pick = pc.pick;
        if (!pick) {
            vu_other_concert(v);
            break;
        }
        v->seat_id = pick;
        vu_next(v, TK_STEP_RESERVE);
        break;
    }
    case TK_STEP_RESERVE:
        doc = vu_parse(v);
        if (!(v->reservation_id = json_id(doc, "id")))
            goto bad;
        v->seat_retries = 0;
        vu_next(v, TK_STEP_PAY);
        break;
    case TK_STEP_PAY:
        v->q_sched = 0; /* payment ended the admission (server side) */
        /* fall through */
    case TK_STEP_URL:
        t->flows++;
        if (v->t_start >= t->b->ramp_end)
            t->steady_flows++;
        vu_iter_end(v);
        break;
    default:
        goto bad;
    }
    json_decref(doc);
    return 0;
bad:
    json_decref(doc);
    return -1;
}

/* 409 SEAT_TAKEN on reserve: an expected outcome when users race for a seat. */
static int vu_seat_taken(vu *v)
{
    json_t *doc = vu_parse(v);
    const char *code = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    /* lost the race for the seat: taken, or (lock strategies) the version
     * kept moving or a newer lock holder fenced us out; LOCK_BUSY (503)
     * stays an error: the user was told to try again */
    int taken = code && (!strcmp(code, "SEAT_TAKEN") || !strcmp(code, "CONFLICT") || !strcmp(code, "STALE_LOCK"));
    json_decref(doc);
    return taken;
}

static void vu_done(vu *v, CURLcode res)
{
    thr *t = v->t;
    uint64_t now = tk_mono_us(), lat = now - v->t_start;
    /* uncorrected: from the request's write to the complete answer, as wrk
     * and httpload.c measure (issue 17). curl's own clocks (total minus
     * pretransfer time) leave out the wait between curl_multi_add_handle()
     * and the write - a timer round of our loop plus curl's setup, measured
     * p50 50 us, p99 6.1-6.8 ms, max 99 ms at load average 11 - which is the
     * generator's, not the server's; connect is left out too, as in wrk. */
    curl_off_t pre = 0, tot = 0;
    if (res == CURLE_OK && curl_easy_getinfo(v->easy, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK &&
        curl_easy_getinfo(v->easy, CURLINFO_TOTAL_TIME_T, &tot) == CURLE_OK && tot >= pre && (uint64_t)(tot - pre) < lat)
        lat = (uint64_t)(tot - pre);
    /* corrected: from when it should have been sent (never less than lat):
     * the schedule or timer, else when the VU asked for it */
    uint64_t clat = v->t_intended && v->t_intended < v->t_start ? now - v->t_intended : now - v->t_start;
    int steady = v->t_start >= t->b->ramp_end;
    t->step_req[v->step]++;
    t->sec_req++;
    if (steady)
        t->steady_req++;
    if (res != CURLE_OK) {
        int kind = TK_BERR_READ;
        if (res == CURLE_OPERATION_TIMEDOUT)
            kind = TK_BERR_TIMEOUT;
        else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
                 res == CURLE_COULDNT_RESOLVE_PROXY)
            kind = TK_BERR_CONNECT;
        tk_loadgen_persec_record(&t->persec, v->step, 0, clat); /* no answer */
        vu_release_buf(v);
        vu_fail(v, kind, 0);
        return;
    }
    long status = 0;
    curl_easy_getinfo(v->easy, CURLINFO_RESPONSE_CODE, &status);
    tk_hist_record(t->step_hist[v->step], clat);
    tk_hist_record(t->step_uhist[v->step], lat);
    tk_hist_record(t->sec_hist, clat);
    tk_loadgen_persec_record(&t->persec, v->step, (int)status, clat);
    if (steady) {
        tk_hist_record(t->steady_hist, clat);
        tk_hist_record(t->steady_uhist, lat);
    }
    if (status >= 200 && status < 300) {
        if (vu_on_success(v) != 0)
            vu_fail(v, TK_BERR_READ, 0);
    } else if (v->step == TK_STEP_RESERVE && status == 409 && vu_seat_taken(v)) {
        t->seat_taken++;
        if (++v->seat_retries <= SEAT_TAKEN_RETRIES)
            vu_next(v, TK_STEP_SEATS);
        else
            vu_iter_end(v);
    } else {
        vu_fail(v, TK_BERR_STATUS, status);
    }
    vu_release_buf(v);
}

/* Build and start the request of v->step. */
static void vu_send(vu *v)
{
    thr *t = v->t;
    const char *tg = t->b->target;
    CURL *e = v->easy;
    struct curl_slist *h = v->hdrs;
    const char *body = NULL;
    switch (v->step) {
    case TK_STEP_LOGIN:
        snprintf(t->url, sizeof t->url, "%s/api/v1/auth/login", tg);
        snprintf(v->body, sizeof v->body, "{\"email\":\"user%u@bench.ticketctl\",\"password\":\"bench-password\"}",
                 v->id);
        body = v->body;
        h = t->hdrs_login;
        break;
    case TK_STEP_BALANCE:
        snprintf(t->url, sizeof t->url, "%s/api/v1/points", tg);
        break;
    case TK_STEP_CHARGE:
        snprintf(t->url, sizeof t->url, "%s/api/v1/points/charge", tg);
        snprintf(v->body, sizeof v->body, "{\"amount\":%d}", CHARGE_AMOUNT);
        body = v->body;
        break;
    case TK_STEP_CONCERTS: {
        int pages = t->concert_pages < MAX_PAGES ? t->concert_pages : MAX_PAGES;
        int page = 1 + (int)(rng_next(&v->rng) % (uint64_t)(pages > 0 ? pages : 1));
        snprintf(t->url, sizeof t->url, "%s/api/v1/concerts?page=%d&size=%d", tg, page, PAGE_SIZE);
        break;
    }
    case TK_STEP_DATES:
        snprintf(t->url, sizeof t->url, "%s/api/v1/concerts/%llu/schedules", tg, (unsigned long long)v->concert_id);
        break;
    case TK_STEP_SEATS:
        snprintf(t->url, sizeof t->url, "%s/api/v1/schedules/%llu/seats", tg, (unsigned long long)v->schedule_id);
        break;
    case TK_STEP_RESERVE:
        snprintf(t->url, sizeof t->url, "%s/api/v1/reservations", tg);
        snprintf(v->body, sizeof v->body, "{\"seat_id\":%llu}", (unsigned long long)v->seat_id);
        body = v->body;
        break;
    case TK_STEP_QTOKEN:
        snprintf(t->url, sizeof t->url, "%s/api/v1/queue/%llu/token", tg, (unsigned long long)v->schedule_id);
        body = "{}";
        break;
    case TK_STEP_QPOLL:
        snprintf(t->url, sizeof t->url, "%s/api/v1/queue/%llu/status", tg, (unsigned long long)v->schedule_id);
        break;
    case TK_STEP_URL:
        goto send; /* URL, GET and no headers were set once in thr_setup */
    case TK_STEP_PAY: {
        snprintf(t->url, sizeof t->url, "%s/api/v1/payments", tg);
        snprintf(v->body, sizeof v->body, "{\"reservation_id\":%llu}", (unsigned long long)v->reservation_id);
        body = v->body;
        /* a fresh key per attempt, written over the old one (same length) */
        char key[IDEM_LEN + 1];
        snprintf(key, sizeof key, "%08x-%08x-%016llx", t->b->nonce, v->id, (unsigned long long)++v->pay_seq);
        memcpy(v->idem, key, IDEM_LEN);
        h = v->hdrs_pay;
        break;
    }
    default:
        return;
    }
    curl_easy_setopt(e, CURLOPT_URL, t->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    if (body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
send:
    v->len = 0;
    v->t_start = tk_mono_us();
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        t->step_req[v->step]++;
        t->sec_req++;
        vu_fail(v, TK_BERR_READ, 0);
        return;
    }
    v->in_flight = 1;
}

static void on_vu_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    vu *v = arg;
    thr *t = v->t;
    if (!t->b->open && !v->active) { /* closed model: the profile (re)activates this VU */
        v->active = 1;
        v->started = 1;
        t->started_vus++;
        t->iters_started++;
        v->seat_retries = 0;
        v->concert_tries = 0;
        v->step = (uint8_t)(v->logged_in ? t->b->flow_first : TK_STEP_LOGIN);
    }
    vu_send(v);
}

/* ---------- threads ---------- */

/* Self-watch: a periodic timer that records how late it fires. Missed
 * periods are recorded too (with their own lateness), so one long stall
 * weighs as much as it lasted: no coordinated omission in our own gauge. */
static void on_lag(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    thr *t = arg;
    uint64_t now = tk_mono_us();
    int64_t next = tk_loadgen_lag(&t->lag_due, LAG_PERIOD_US, t->lag_hist, now);
    evtimer_in_us(&t->lag, next);
}

static int thr_setup(thr *t)
{
    bench *b = t->b;
    const tk_bench_config *c = b->cfg;
    /* precise timers (timerfd): the schedule and the lag gauge need better than 1 ms */
    struct event_config *ec = event_config_new();
    if (ec)
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    t->base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec)
        event_config_free(ec);
    if (!t->base || !(t->multi = curl_multi_init()))
        return tk_err(t->err, sizeof t->err, "event_base_new/curl_multi_init failed");
    evtimer_assign(&t->curl_timer, t->base, on_curl_timer, t);
    evtimer_assign(&t->tick, t->base, on_tick, t);
    evtimer_assign(&t->stop, t->base, on_stop, t);
    evtimer_assign(&t->lag, t->base, on_lag, t);
    evtimer_assign(&t->pace, t->base, on_pace, t);
    for (int i = 0; i < t->nvu; i++) {
        t->vus[i].t = t;
        evtimer_assign(&t->vus[i].timer, t->base, on_vu_timer, &t->vus[i]);
    }
    for (int i = 0; i < TK_BENCH_NSTEPS; i++)
        if (!(t->step_hist[i] = tk_hist_new()) || !(t->step_uhist[i] = tk_hist_new()))
            return tk_err(t->err, sizeof t->err, "out of memory");
    if (!(t->steady_hist = tk_hist_new()) || !(t->steady_uhist = tk_hist_new()) || !(t->sec_hist = tk_hist_new()) ||
        !(t->empty_hist = tk_hist_new()) || !(t->lag_hist = tk_hist_new()) || !(t->qwait_hist = tk_hist_new()) ||
        tk_loadgen_persec_init(&t->persec) != 0)
        return tk_err(t->err, sizeof t->err, "out of memory");
    if (b->open) {
        if (!(t->idle = calloc((size_t)t->nvu, sizeof *t->idle)))
            return tk_err(t->err, sizeof t->err, "out of memory");
        if (c->max_delay_ms > 0 && !(t->pending = calloc(PENDING_CAP, sizeof *t->pending)))
            return tk_err(t->err, sizeof t->err, "out of memory");
        t->next_j = (uint64_t)t->idx;
    }
    struct curl_slist *tmp = curl_slist_append(NULL, "Content-Type: application/json");
    if (!tmp || !(t->hdrs_login = curl_slist_append(tmp, "Expect:"))) {
        curl_slist_free_all(tmp);
        return tk_err(t->err, sizeof t->err, "out of memory");
    }
    t->concert_pages = 1;
    t->next_sec = 1;
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    /* keep every VU's connection in the cache between its requests */
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)t->nvu + 16);

    int nsocks = t->nvu + 16;
    if (!(t->socks = calloc((size_t)nsocks, sizeof *t->socks)))
        return tk_err(t->err, sizeof t->err, "out of memory");
    for (int i = nsocks - 1; i >= 0; i--) {
        t->socks[i].next_free = t->free_socks;
        t->free_socks = &t->socks[i];
    }
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        if (!(v->easy = curl_easy_init()))
            return tk_err(t->err, sizeof t->err, "curl_easy_init failed");
        v->rng = splitmix(((uint64_t)b->nonce << 32) ^ v->id) | 1;
        v->step = TK_STEP_LOGIN;
        CURL *e = v->easy;
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)v);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, v);
        if (c->url_path) { /* single endpoint: the request never changes */
            v->logged_in = 1;
            v->step = TK_STEP_URL;
            snprintf(t->url, sizeof t->url, "%s%s", b->target, c->url_path);
            curl_easy_setopt(e, CURLOPT_URL, t->url);
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write_discard);
        }
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 8192L); /* per-handle receive buffer: RSS per VU */
        curl_easy_setopt(e, CURLOPT_USERAGENT, "ticketctl-bench/" TK_VERSION);
    }
    return 0;
}

static void thr_teardown(thr *t)
{
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        if (v->in_flight)
            curl_multi_remove_handle(t->multi, v->easy);
        if (t->base)
            event_del(&v->timer);
    }
    curl_multi_cleanup(t->multi); /* closes the cached connections */
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        curl_easy_cleanup(v->easy);
        curl_slist_free_all(v->hdrs);
        curl_slist_free_all(v->hdrs_pay);
        free(v->buf);
        free(v->jwt);
        v->jwt = NULL;
    }
    if (t->socks)
        for (int i = 0; i < t->nvu + 16; i++)
            if (t->socks[i].active)
                event_del(&t->socks[i].ev);
    if (t->base) {
        event_del(&t->curl_timer);
        event_del(&t->tick);
        event_del(&t->stop);
        event_del(&t->lag);
        event_del(&t->pace);
        event_base_free(t->base);
    }
    curl_slist_free_all(t->hdrs_login);
    free(t->socks);
    free(t->vus);
    free(t->idle);
    free(t->pending);
    t->idle = NULL;
    t->pending = NULL;
    tk_hist_free(t->sec_hist);
    tk_hist_free(t->empty_hist);
    tk_loadgen_persec_free(&t->persec);
    t->empty_hist = NULL;
    t->multi = NULL;
    t->base = NULL;
    t->socks = NULL;
    t->vus = NULL;
    t->sec_hist = NULL;
}

static void *thr_main(void *arg)
{
    thr *t = arg;
    bench *b = t->b;
    if (thr_setup(t) != 0)
        t->failed = 1;
    int abort = tk_loadgen_thread_ready(&b->lg); /* b->t0 is set now */
    if (!t->failed && !abort) {
        uint64_t now = tk_mono_us();
        if (b->open) {
            for (int i = 0; i < t->nvu; i++) /* all free; the pacer hands out iterations */
                t->idle[t->nidle++] = &t->vus[t->nvu - 1 - i];
            evtimer_in_us(&t->pace, (int64_t)b->t0 - (int64_t)now);
        } else {
            for (int i = 0; i < t->nvu; i++) {
                vu *v = &t->vus[i];
                double at = prof_next_above(b, (double)(v->id - 1), 0); /* global index g = id - 1 */
                if (at < 0)
                    continue;
                v->t_intended = b->t0 + (uint64_t)(at * 1e6);
                evtimer_in_us(&v->timer, (int64_t)v->t_intended - (int64_t)now);
            }
        }
        t->lag_due = b->t0 + LAG_PERIOD_US;
        evtimer_in_us(&t->lag, (int64_t)t->lag_due - (int64_t)now);
        evtimer_in_us(&t->tick, (int64_t)(b->t0 + 1000000u) - (int64_t)now);
        evtimer_in_us(&t->stop, (int64_t)b->end - (int64_t)now);
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        uint64_t w0 = tk_mono_us();
        event_base_dispatch(t->base);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        t->wall_us = tk_mono_us() - (w0 > b->t0 ? w0 : b->t0);
        t->cpu_us = (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000LL + (c1.tv_nsec - c0.tv_nsec) / 1000);
    }
    thr_teardown(t);
    tk_loadgen_thread_done(&b->lg);
    return NULL;
}

/* ---------- run ---------- */

static void utc_iso(char *buf, size_t len, time_t when, const char *fmt)
{
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(buf, len, fmt, &tm);
}

static void bench_free(bench *b)
{
    if (!b)
        return;
    tk_loadgen_destroy(&b->lg);
    if (b->thr)
        for (int i = 0; i < b->nthreads; i++) {
            thr *t = &b->thr[i];
            for (int s = 0; s < TK_BENCH_NSTEPS; s++) {
                tk_hist_free(t->step_hist[s]);
                tk_hist_free(t->step_uhist[s]);
            }
            tk_hist_free(t->steady_hist);
            tk_hist_free(t->steady_uhist);
            tk_hist_free(t->lag_hist);
            tk_hist_free(t->sec_hist);
            tk_hist_free(t->empty_hist);
            tk_hist_free(t->qwait_hist);
            tk_loadgen_persec_free(&t->persec);
            free(t->fair);
            free(t->vus);
        }
    free(b->thr);
    free(b);
}

static int cmp_fair(const void *x, const void *y)
{
    const fair_rec *p = x, *q = y;
    if (p->sched != q->sched)
        return p->sched < q->sched ? -1 : 1;
    return p->arrival < q->arrival ? -1 : p->arrival > q->arrival;
}

/* Waiting room: admissions, the arrival->admission histogram, and fairness
 * pooled over schedules (discordant pairs / comparable pairs). */
static void merge_queue(bench *b, tk_bench_result *r)
{
    tk_hist *h = tk_hist_new();
    size_t n = 0;
    for (int i = 0; i < b->nthreads; i++) {
        r->admissions += b->thr[i].admissions;
        n += b->thr[i].nfair;
        if (h)
            tk_hist_merge(h, b->thr[i].qwait_hist);
    }
    if (h)
        fill_latency(&r->admission_wait, h);
    tk_hist_free(h);
    fair_rec *all = n ? malloc(n * sizeof *all) : NULL;
    int64_t *arr = n ? malloc(n * sizeof *arr) : NULL, *adm = n ? malloc(n * sizeof *adm) : NULL;
    if (all && arr && adm) {
        size_t k = 0;
        for (int i = 0; i < b->nthreads; i++)
            for (size_t j = 0; j < b->thr[i].nfair; j++)
                all[k++] = b->thr[i].fair[j];
        qsort(all, n, sizeof *all, cmp_fair);
        double disc = 0, pairs = 0;
        for (size_t s = 0; s < n;) {
            size_t e = s;
            while (e < n && all[e].sched == all[s].sched)
                e++;
            size_t m = e - s;
            for (size_t j = 0; j < m; j++) {
                arr[j] = all[s + j].arrival;
                adm[j] = all[s + j].admission;
            }
            if (m >= 2) {
                double d = tk_queue_kendall_distance(arr, adm, m), p = (double)m * (double)(m - 1) / 2.0;
                if (d >= 0) {
                    disc += d * p;
                    pairs += p;
                }
            }
            s = e;
        }
        r->fairness_pairs = (uint64_t)pairs;
        r->fairness_kendall = pairs > 0 ? disc / pairs : 0;
    }
    free(all);
    free(arr);
    free(adm);
}

static void merge_results(bench *b, tk_bench_result *r)
{
    /* histograms are merged, never percentiles averaged */
    tk_hist *all = tk_hist_new(), *steady = tk_hist_new(), *step = tk_hist_new();
    tk_hist *uall = tk_hist_new(), *usteady = tk_hist_new(), *ustep = tk_hist_new(), *lag = tk_hist_new();
    double secs = r->elapsed_s > 0 ? r->elapsed_s : 1;
    double steady_secs = (double)(b->end - b->ramp_end) / 1e6;
    if (all && steady && step && uall && usteady && ustep && lag) {
        for (int s = 0; s < TK_BENCH_NSTEPS; s++) {
            tk_hist_reset(step);
            tk_hist_reset(ustep);
            tk_bench_step *st = &r->steps[s];
            st->name = step_names[s];
            for (int i = 0; i < b->nthreads; i++) {
                thr *t = &b->thr[i];
                tk_hist_merge(step, t->step_hist[s]);
                tk_hist_merge(ustep, t->step_uhist[s]);
                st->requests += t->step_req[s];
                st->errors += t->step_err[s];
            }
            st->tps = (double)st->requests / secs;
            fill_latency(&st->latency, step);
            fill_latency(&st->uncorrected_latency, ustep);
            tk_hist_merge(all, step);
            tk_hist_merge(uall, ustep);
        }
        for (int i = 0; i < b->nthreads; i++) {
            tk_hist_merge(steady, b->thr[i].steady_hist);
            tk_hist_merge(usteady, b->thr[i].steady_uhist);
            tk_hist_merge(lag, b->thr[i].lag_hist);
        }
        fill_latency(&r->latency, all);
        for (int d = 0; d < TK_BENCH_NDIST; d++) /* the response-time distribution */
            r->dist[d] = (d < TK_BENCH_NDIST - 1 ? tk_hist_count_le(all, (uint64_t)(tk_bench_dist_le_ms[d] * 1000))
                                                 : tk_hist_count(all)) -
                         (d ? tk_hist_count_le(all, (uint64_t)(tk_bench_dist_le_ms[d - 1] * 1000)) : 0);
        fill_latency(&r->steady_latency, steady);
        fill_latency(&r->uncorrected_latency, uall);
        fill_latency(&r->steady_uncorrected_latency, usteady);
        r->lag_p50_ms = us_to_ms(tk_hist_percentile(lag, 50));
        r->lag_p99_ms = us_to_ms(tk_hist_percentile(lag, 99));
        r->lag_max_ms = us_to_ms(tk_hist_max(lag));
    }
    tk_hist_free(all);
    tk_hist_free(steady);
    tk_hist_free(step);
    tk_hist_free(uall);
    tk_hist_free(usteady);
    tk_hist_free(ustep);
    tk_hist_free(lag);
    for (int i = 0; i < b->nthreads; i++) {
        thr *t = &b->thr[i];
        for (int s = 0; s < TK_BENCH_NSTEPS; s++) {
            r->requests += t->step_req[s];
            r->errors += t->step_err[s];
        }
        for (int k = 0; k < TK_BENCH_NERRKINDS; k++)
            r->by_kind[k] += t->by_kind[k];
        for (int s = 0; s < TK_BENCH_MAX_STATUS; s++)
            r->by_status[s] += t->by_status[s];
        r->seat_taken += t->seat_taken;
        r->sold_out += t->sold_out;
        r->flows_completed += t->flows;
        r->steady_flows += t->steady_flows;
        r->steady_requests += t->steady_req;
        r->steady_errors += t->steady_err;
        r->iters_scheduled += t->iters_sched;
        r->iters_started += t->iters_started;
        r->iters_late += t->iters_late;
        r->iters_dropped += t->iters_dropped;
        double util = t->wall_us ? (double)t->cpu_us / (double)t->wall_us : 0;
        if (util > r->gen_cpu_util)
            r->gen_cpu_util = util;
    }
    merge_queue(b, r);
    r->tps = (double)r->requests / secs;
    r->steady_tps = steady_secs > 0 ? (double)r->steady_requests / steady_secs : 0;
    r->error_rate = r->requests ? (double)r->errors / (double)r->requests : 0;
}

tk_bench_result *tk_bench_run(const tk_bench_config *c, char *err, size_t errlen)
{
    if (!c || !c->target || !*c->target || c->users < 1 || c->duration_ms <= 0 || c->ramp_ms < 0 ||
        c->think_ms < 0 || c->timeout_ms <= 0)
        return tk_err(err, errlen, "bad bench configuration"), NULL;
    if (strlen(c->target) >= sizeof ((bench *)0)->target)
        return tk_err(err, errlen, "target URL too long"), NULL;
    if (c->url_path && (c->url_path[0] != '/' || strlen(c->url_path) >= sizeof ((tk_bench_result *)0)->url_path))
        return tk_err(err, errlen, "the endpoint must be a path starting with '/' (at most 255 bytes)"), NULL;
    if (c->nstages > TK_BENCH_MAX_STAGES || (c->nstages && !c->stages))
        return tk_err(err, errlen, "at most %d stages", TK_BENCH_MAX_STAGES), NULL;
    if (c->open_model && c->nstages == 0)
        return tk_err(err, errlen, "the open model needs a rate (stages)"), NULL;
    if (c->max_delay_ms < 0)
        return tk_err(err, errlen, "max delay must be >= 0"), NULL;
    if (c->nstages) {
        int64_t sum = 0;
        for (size_t i = 0; i < c->nstages; i++) {
            if (c->stages[i].duration_ms <= 0 || !(c->stages[i].from >= 0) || !(c->stages[i].to >= 0))
                return tk_err(err, errlen, "stage %zu: duration must be > 0 and targets >= 0", i + 1), NULL;
            if (!c->open_model && (c->stages[i].from > c->users || c->stages[i].to > c->users))
                return tk_err(err, errlen, "stage %zu wants more VUs than --users %d", i + 1, c->users), NULL;
            sum += c->stages[i].duration_ms;
        }
        if (sum != c->duration_ms)
            return tk_err(err, errlen, "the stages last %lld ms, the duration is %lld ms", (long long)sum,
                          (long long)c->duration_ms), NULL;
    }

    /* Single endpoint over plain http: the lean keep-alive engine (httpload.h),
     * libcurl's per-request cost made it the bottleneck; https stays below. */
    if (c->url_path && tk_httpload_supports(c->target)) {
        tk_bench_result *hr = tk_httpload_run(c, err, errlen);
        for (int s = 0; hr && s < TK_BENCH_NSTEPS; s++)
            hr->steps[s].name = step_names[s];
        return hr;
    }

    tk_bench_result *r = calloc(1, sizeof *r);
    bench *b = calloc(1, sizeof *b);
    int created = 0;
    tk_benchcpu cpu = {0};
    if (!r || !b)
        goto oom;
    b->cfg = c;
    b->open = c->open_model != 0;
    b->flow_first = c->url_path ? TK_STEP_URL : TK_STEP_BALANCE;
    b->queue = !c->url_path && c->queue && strcmp(c->queue, "none") != 0;
    if (c->nstages) {
        memcpy(b->prof, c->stages, c->nstages * sizeof *c->stages);
        b->nprof = c->nstages;
    } else { /* the classic closed ramp: 0 -> users over ramp, then users */
        if (c->ramp_ms > 0)
            b->prof[b->nprof++] = (tk_bench_stage){c->ramp_ms, 0, c->users};
        if (c->duration_ms > c->ramp_ms)
            b->prof[b->nprof++] = (tk_bench_stage){c->duration_ms - c->ramp_ms, c->users, c->users};
    }
    snprintf(b->target, sizeof b->target, "%s", c->target);
    for (size_t n = strlen(b->target); n > 0 && b->target[n - 1] == '/'; n--)
        b->target[n - 1] = '\0';
    b->nthreads = c->threads > 0 ? c->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (b->nthreads < 1)
        b->nthreads = 1;
    if (b->nthreads > c->users)
        b->nthreads = c->users;
    b->nsec = (int)((c->duration_ms + 999) / 1000);
    b->nonce = (uint32_t)splitmix((uint64_t)tk_wall_ms() ^ ((uint64_t)getpid() << 20));
    if (tk_loadgen_init(&b->lg, b->nthreads, b->nsec) != 0 || !(b->thr = calloc((size_t)b->nthreads, sizeof *b->thr)))
        goto oom;
    for (int i = 0; i < b->nthreads; i++) {
        thr *t = &b->thr[i];
        t->idx = i;
        t->b = b;
        t->nvu = c->users / b->nthreads + (i < c->users % b->nthreads);
        if (!(t->vus = calloc((size_t)t->nvu, sizeof *t->vus)))
            goto oom;
        for (int j = 0; j < t->nvu; j++) /* global VU g = j*T + i, seeded user g+1 */
            t->vus[j].id = (uint32_t)(j * b->nthreads + i + 1);
    }
    if (tk_benchcpu_init(&cpu, c, err, errlen) != 0)
        goto fail;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tk_err(err, errlen, "curl_global_init failed");
        goto fail;
    }
    for (; created < b->nthreads; created++) {
        int e = pthread_create(&b->thr[created].tid, NULL, thr_main, &b->thr[created]);
        if (e != 0) {
            tk_err(err, errlen, "pthread_create: %s", strerror(e));
            b->lg.abort = 1;
            break;
        }
    }
    /* Wait until every thread has its VUs set up, then set t0 and open the gate. */
    tk_loadgen_wait_ready(&b->lg, created);
    for (int i = 0; i < created; i++)
        if (b->thr[i].failed && !b->lg.abort) {
            tk_err(err, errlen, "thread %d: %s", i, b->thr[i].err);
            b->lg.abort = 1;
        }
    tk_loadgen_set_times(&b->lg, c, r->started_at, sizeof r->started_at, &cpu);
    b->t0 = b->lg.t0;
    b->ramp_end = b->lg.ramp_end;
    b->end = b->lg.end;
    tk_loadgen_open_gate(&b->lg);
    tk_loadgen_watch(&b->lg, created, c, r, &cpu);
    for (int i = 0; i < created; i++)
        pthread_join(b->thr[i].tid, NULL);
    curl_global_cleanup();
    if (b->lg.abort)
        goto fail;

    snprintf(r->target, sizeof r->target, "%s", b->target);
    r->users = c->users;
    r->threads = b->nthreads;
    r->ramp_ms = b->lg.ramp_ms;
    r->duration_ms = c->duration_ms;
    r->open_model = b->open;
    snprintf(r->queue, sizeof r->queue, "%s", b->queue ? c->queue : "none");
    snprintf(r->strategy, sizeof r->strategy, "%s", c->strategy ? c->strategy : "");
    if (c->url_path)
        snprintf(r->url_path, sizeof r->url_path, "%s", c->url_path);
    memcpy(r->stages, b->prof, b->nprof * sizeof *b->prof);
    r->nstages = b->nprof;
    r->max_delay_ms = b->open ? c->max_delay_ms : 0;
    r->think_ms = c->think_ms;
    r->timeout_ms = c->timeout_ms;
    r->elapsed_s = (double)(b->end - b->t0) / 1e6;
    merge_results(b, r);
    tk_benchcpu_finish(&cpu, b->flow_first == TK_STEP_URL ? (double)r->steady_requests : (double)r->steady_flows, r);
    r->series = b->lg.series;
    r->nseries = (size_t)b->nsec;
    b->lg.series = NULL;
    tk_loadgen_validate(r, c, NULL); /* the generator watching itself */
    bench_free(b);
    return r;
oom:
    tk_err(err, errlen, "out of memory");
fail:
    bench_free(b);
    free(r);
    return NULL;
}

void tk_bench_result_free(tk_bench_result *r)
{
    if (!r)
        return;
    free(r->series);
    free(r);
}

int tk_bench_probe(const char *target, int64_t timeout_ms, char *err, size_t errlen)
{
    char url[600];
    size_t n = strlen(target);
    while (n > 0 && target[n - 1] == '/')
        n--;
    snprintf(url, sizeof url, "%.*s/healthz", (int)n, target);
    CURL *e = curl_easy_init();
    if (!e)
        return tk_err(err, errlen, "curl_easy_init failed");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull)
        curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (devnull)
        fclose(devnull);
    if (rc != CURLE_OK)
        return tk_err(err, errlen, "cannot reach %s: %s", url, curl_easy_strerror(rc));
    if (status < 200 || status >= 300)
        return tk_err(err, errlen, "%s answered HTTP %ld", url, status);
    return 0;
}

/* ---------- results JSON (docs/RESULTS.md, schema 1) ---------- */

static json_t *latency_json(const tk_bench_latency *l)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "p50", l->p50, "p90", l->p90, "p95", l->p95, "p99", l->p99,
                     "p999", l->p999, "p9999", l->p9999, "max", l->max, "mean", l->mean);
}

static json_t *machine_json(void)
{
    char host[256] = "", kernel[300] = "";
    struct utsname u;
    gethostname(host, sizeof host - 1);
    if (uname(&u) == 0)
        snprintf(kernel, sizeof kernel, "%s %s", u.sysname, u.release);
    long long mem = (long long)sysconf(_SC_PHYS_PAGES) * (long long)sysconf(_SC_PAGESIZE);
#if defined(__clang__)
    const char *compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    const char *compiler = "gcc " __VERSION__;
#else
    const char *compiler = "unknown";
#endif
    return json_pack("{s:s,s:i,s:I,s:s,s:s,s:s,s:s}", "hostname", host, "cpus", (int)sysconf(_SC_NPROCESSORS_ONLN),
                     "mem_bytes", (json_int_t)mem, "kernel", kernel, "build", TK_BUILD_TYPE, "version", TK_VERSION,
                     "compiler", compiler);
}

/* "cpu_ms_per_request" in single-endpoint mode, else "cpu_ms_per_flow". */
static const char *cpu_key(const tk_bench_result *r)
{
    return r->url_path[0] ? "cpu_ms_per_request" : "cpu_ms_per_flow";
}

static json_t *result_json(const tk_bench_result *r)
{
    json_t *steps = json_array(), *kinds = json_object(), *status = json_object(), *series = json_array(),
           *inv = json_array(), *stages = json_array(), *ths = json_array();
    for (int s = 0; s < TK_BENCH_NSTEPS; s++) {
        const tk_bench_step *st = &r->steps[s];
        if (s == TK_STEP_URL && !r->url_path[0])
            continue; /* the single-endpoint step only in that mode */
        if ((s == TK_STEP_QTOKEN || s == TK_STEP_QPOLL) && (!r->queue[0] || !strcmp(r->queue, "none")))
            continue; /* the waiting-room steps only with a queue */
        json_array_append_new(steps, json_pack("{s:s,s:I,s:I,s:f,s:o,s:o}", "name",
                                               st->name ? st->name : step_names[s], "requests",
                                               (json_int_t)st->requests, "errors", (json_int_t)st->errors, "tps",
                                               st->tps, "latency_ms", latency_json(&st->latency),
                                               "uncorrected_latency_ms", latency_json(&st->uncorrected_latency)));
    }
    for (int k = 0; k < TK_BENCH_NERRKINDS; k++)
        json_object_set_new(kinds, kind_names[k], json_integer((json_int_t)r->by_kind[k]));
    for (int s = 0; s < TK_BENCH_MAX_STATUS; s++)
        if (r->by_status[s]) {
            char key[8];
            snprintf(key, sizeof key, "%d", s);
            json_object_set_new(status, key, json_integer((json_int_t)r->by_status[s]));
        }
    for (size_t i = 0; i < r->nseries; i++) {
        tk_bench_point p = r->series[i];
        if (!p.t)
            p.t = (int)i + 1;
        json_array_append_new(series, tk_bench_point_json(&p));
    }
    for (size_t i = 0; r->invariants_checked && i < r->ninvariants; i++)
        json_array_append_new(inv, json_pack("{s:s,s:b,s:s}", "name", r->invariants[i].name, "ok",
                                             r->invariants[i].ok, "detail", r->invariants[i].detail));
    for (size_t i = 0; i < r->nstages; i++)
        json_array_append_new(stages, json_pack("{s:f,s:f,s:f}", "duration_s", (double)r->stages[i].duration_ms / 1000.0,
                                                "from", r->stages[i].from, "to", r->stages[i].to));
    for (size_t i = 0; i < r->nthresholds; i++) {
        const tk_threshold_outcome *o = &r->thresholds[i];
        json_t *t = json_pack("{s:s,s:b,s:f,s:s}", "threshold", o->text, "ok", o->ok, "limit", o->limit, "detail",
                              o->detail);
        json_object_set_new(t, "actual", o->found ? json_real(o->actual) : json_null());
        json_array_append_new(ths, t);
    }
    json_t *summary = json_pack(
        "{s:I,s:I,s:f,s:f,s:f,s:I,s:o,s:o,s:I}", "requests", (json_int_t)r->requests, "errors",
        (json_int_t)r->errors, "error_rate", r->error_rate, "tps", r->tps, "steady_tps", r->steady_tps,
        "flows_completed", (json_int_t)r->flows_completed, "latency_ms", latency_json(&r->latency),
        "steady_latency_ms", latency_json(&r->steady_latency), "peak_rss_bytes", (json_int_t)r->peak_rss_bytes);
    /* CPU-ms per unit of work over the steady window (cpustat.h), null when not measured */
    json_object_set_new(summary, cpu_key(r), r->cpu_measured ? tk_cpu_use_json(&r->cpu) : json_null());
    if (r->cpu_measured) {
        json_object_set_new(summary, "cpu_cores", tk_cpu_cores_json(&r->cpu));
        json_object_set_new(summary, "cpu_window", json_pack("{s:f,s:f}", "duration_s", r->cpu.window_s, "units",
                                                             r->cpu.units));
    }
    json_object_set_new(summary, "uncorrected_latency_ms", latency_json(&r->uncorrected_latency));
    json_object_set_new(summary, "steady_uncorrected_latency_ms", latency_json(&r->steady_uncorrected_latency));
    json_object_set_new(summary, "iterations",
                        json_pack("{s:I,s:I,s:I,s:I}", "scheduled", (json_int_t)r->iters_scheduled, "started",
                                  (json_int_t)r->iters_started, "late", (json_int_t)r->iters_late, "dropped",
                                  (json_int_t)r->iters_dropped));
    json_t *config = json_pack("{s:s,s:i,s:f,s:f,s:I,s:i,s:I}", "target", r->target, "users", r->users, "ramp_s",
                               (double)r->ramp_ms / 1000.0, "duration_s", (double)r->duration_ms / 1000.0,
                               "think_time_ms", (json_int_t)r->think_ms, "threads", r->threads, "timeout_ms",
                               (json_int_t)r->timeout_ms);
    json_object_set_new(config, "model", json_string(r->open_model ? "open" : "closed"));
    json_object_set_new(config, "url", r->url_path[0] ? json_string(r->url_path) : json_null());
    json_object_set_new(config, "stage_unit", json_string(r->open_model ? "iterations/s" : "vus"));
    json_object_set_new(config, "stages", stages);
    json_object_set_new(config, "max_delay_ms", json_integer((json_int_t)r->max_delay_ms));
    json_t *gen = json_pack("{s:b,s:s,s:f,s:f,s:{s:f,s:f,s:f}}", "valid", r->valid, "invalid_reason",
                            r->invalid_reason, "cpu_s", r->gen_cpu_s, "max_thread_cpu_util", r->gen_cpu_util,
                            "loop_lag_ms", "p50", r->lag_p50_ms, "p99", r->lag_p99_ms, "max", r->lag_max_ms);
    json_t *doc = json_pack("{s:i,s:s,s:s,s:b,s:o,s:o,s:o,s:o,s:o,s:{s:o,s:o},s:{s:I,s:I},s:o,s:o,s:o,s:{s:I}}",
                            "schema", 1, "kind", "bench", "started_at", r->started_at, "valid", r->valid, "config",
                            config, "machine", machine_json(), "generator", gen, "summary", summary, "steps", steps,
                            "errors", "by_kind", kinds, "by_status", status, "outcomes", "seat_taken",
                            (json_int_t)r->seat_taken, "sold_out", (json_int_t)r->sold_out, "timeseries", series,
                            "invariants", inv, "thresholds", ths, "server", "peak_rss_bytes",
                            (json_int_t)(r->server_peak_rss_bytes > 0 ? r->server_peak_rss_bytes : 0));
    /* waiting room (bench.h): always present, so reports can put runs side by side */
    json_t *q = json_pack("{s:s,s:I,s:o,s:f,s:I}", "mode", r->queue[0] ? r->queue : "none", "admissions",
                          (json_int_t)r->admissions, "arrival_to_admission_ms", latency_json(&r->admission_wait),
                          "fairness_kendall_distance", r->fairness_kendall, "fairness_pairs",
                          (json_int_t)r->fairness_pairs);
    if (doc)
        json_object_set_new(doc, "strategy", r->strategy[0] ? json_string(r->strategy) : json_null());
    /* the response-time distribution: [{"le_ms": bound or null (above the last), "count"}] */
    json_t *dist = json_array();
    for (int d = 0; d < TK_BENCH_NDIST; d++)
        json_array_append_new(dist, json_pack("{s:o,s:I}", "le_ms",
                                              d < TK_BENCH_NDIST - 1 ? json_real(tk_bench_dist_le_ms[d]) : json_null(),
                                              "count", (json_int_t)r->dist[d]));
    if (doc)
        json_object_set_new(doc, "latency_distribution", dist);
    else
        json_decref(dist);
    if (doc && q)
        json_object_set_new(doc, "queue", q);
    else
        json_decref(q);
    return doc;
}

/* ---------- metrics for thresholds ---------- */

static int latency_metric(const tk_bench_latency *l, const char *m, double *out)
{
    static const struct {
        const char *name;
        size_t off;
    } f[] = {
        {"p50", offsetof(tk_bench_latency, p50)},     {"p90", offsetof(tk_bench_latency, p90)},
        {"p95", offsetof(tk_bench_latency, p95)},     {"p99", offsetof(tk_bench_latency, p99)},
        {"p99.9", offsetof(tk_bench_latency, p999)},  {"p99.99", offsetof(tk_bench_latency, p9999)},
        {"max", offsetof(tk_bench_latency, max)},     {"mean", offsetof(tk_bench_latency, mean)},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcmp(m, f[i].name) == 0) {
            *out = *(const double *)((const char *)l + f[i].off);
            return 0;
        }
    return -1;
}

int tk_bench_metric(const tk_bench_result *r, const char *scope, const char *m, double *out)
{
    int unc = strncmp(m, "u_", 2) == 0;
    const char *lm = unc ? m + 2 : m;
    if (scope && *scope) {
        for (int s = 0; s < TK_BENCH_NSTEPS; s++) {
            const tk_bench_step *st = &r->steps[s];
            if (strcmp(scope, step_names[s]) != 0)
                continue;
            if (latency_metric(unc ? &st->uncorrected_latency : &st->latency, lm, out) == 0)
                return st->requests ? 0 : -1; /* a step that never ran has no latency */
            if (strcmp(m, "tps") == 0) *out = st->tps;
            else if (strcmp(m, "requests") == 0) *out = (double)st->requests;
            else if (strcmp(m, "errors") == 0) *out = (double)st->errors;
            else if (strcmp(m, "error_rate") == 0) *out = st->requests ? (double)st->errors / (double)st->requests : 0;
            else return -1;
            return 0;
        }
        return -1;
    }
    if (latency_metric(unc ? &r->uncorrected_latency : &r->latency, lm, out) == 0)
        return 0;
    size_t kl = strlen(cpu_key(r));
    if (strncmp(m, cpu_key(r), kl) == 0 && m[kl] == '.') { /* cpu_ms_per_flow.ROLE */
        if (!r->cpu_measured)
            return -1;
        double v = NAN;
        if (strcmp(m + kl + 1, "backend_total") == 0)
            v = r->cpu.backend_total;
        for (int i = 0; i < TK_CPU_NROLES; i++)
            if (strcmp(m + kl + 1, tk_cpu_role_name(i)) == 0)
                v = r->cpu.per_unit[i];
        if (isnan(v))
            return -1;
        *out = v;
        return 0;
    }
    if (strcmp(m, "tps") == 0) *out = r->tps;
    else if (strcmp(m, "steady_tps") == 0) *out = r->steady_tps;
    else if (strcmp(m, "error_rate") == 0) *out = r->error_rate;
    else if (strcmp(m, "errors") == 0) *out = (double)r->errors;
    else if (strcmp(m, "requests") == 0) *out = (double)r->requests;
    else if (strcmp(m, "flows") == 0) *out = (double)r->flows_completed;
    else if (strcmp(m, "dropped") == 0) *out = (double)r->iters_dropped;
    else if (strcmp(m, "dropped_rate") == 0)
        *out = r->iters_scheduled ? (double)r->iters_dropped / (double)r->iters_scheduled : 0;
    else if (strcmp(m, "double_bookings") == 0) {
        /* the invariant "no seat with two live reservations", detail "N violations" */
        const tk_invariant *inv = NULL;
        for (size_t i = 0; r->invariants_checked && i < r->ninvariants; i++)
            if (strstr(r->invariants[i].name, "two live reservations"))
                inv = &r->invariants[i];
        if (!inv || strstr(inv->detail, "violation") == NULL)
            return -1; /* not checked, or the query failed */
        char *end;
        long long n = strtoll(inv->detail, &end, 10);
        if (end == inv->detail)
            return -1;
        *out = (double)n;
    } else
        return -1;
    return 0;
}

static int mkdirs_for(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    for (char *p = dir + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (dir[0] && mkdir(dir, 0777) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

const double tk_bench_dist_le_ms[TK_BENCH_NDIST - 1] = {0.1, 0.2, 0.5, 1,   2,    5,    10,   20,
                                                        50,  100, 200, 500, 1000, 2000, 5000, 10000};

json_t *tk_bench_point_json(const tk_bench_point *p)
{
    json_t *o = json_pack("{s:i,s:i,s:f,s:I,s:f,s:f,s:f,s:I}", "t", p->t, "vus", p->vus, "rps", p->rps, "errors",
                          (json_int_t)p->errors, "p50", p->p50, "p95", p->p95, "p99", p->p99, "dropped",
                          (json_int_t)p->dropped);
    json_t *steps = json_object(), *status = json_object();
    for (int i = 0; i < TK_BENCH_NSTEPS; i++)
        if (p->steps[i].n)
            json_object_set_new(steps, step_names[i], json_pack("{s:I,s:f,s:f}", "n", (json_int_t)p->steps[i].n,
                                                                "p50", p->steps[i].p50, "p95", p->steps[i].p95));
    for (int i = 0; i < p->nstatus; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", p->status[i].status);
        json_object_set_new(status, key, json_integer((json_int_t)p->status[i].n));
    }
    if (p->status_other)
        json_object_set_new(status, "other", json_integer((json_int_t)p->status_other));
    if (o) {
        json_object_set_new(o, "steps", steps);
        json_object_set_new(o, "status", status);
    } else {
        json_decref(steps);
        json_decref(status);
    }
    return o;
}

int tk_bench_write_json(const tk_bench_result *r, const char *path, char *err, size_t errlen)
{
    if (mkdirs_for(path) != 0)
        return tk_err(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
    json_t *doc = result_json(r);
    if (!doc)
        return tk_err(err, errlen, "cannot build the results JSON");
    int rc = json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (rc != 0)
        return tk_err(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return 0;
}

char *tk_bench_result_json(const tk_bench_result *r)
{
    json_t *doc = result_json(r);
    if (!doc)
        return NULL;
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    return text;
}

int tk_bench_default_path(char *buf, size_t len)
{
    char stamp[32];
    utc_iso(stamp, sizeof stamp, time(NULL), "%Y%m%dT%H%M%SZ");
    int n = snprintf(buf, len, "reports/out/bench-%s.json", stamp);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}
