/* The load generator: closed- or open-model virtual users through the
 * booking flow, on one per-thread skeleton for both HTTP transports
 * (benchflow.h): the lean HTTP/1.1 keep-alive one (benchlean.c, plain http,
 * the default) and libcurl (benchcurl.c, https or --engine curl). Single-
 * endpoint mode over plain http is httpload.c's; the results JSON and the
 * threshold metrics are benchjson.c's.
 *
 * Layout (after wrk): N threads, each with its own event_base, VUs,
 * per-step histograms and counters; everything of ours is preallocated per
 * thread. A VU's request is built here (vu_send: path, body, kind) and its
 * outcome comes back through tk_benchflow_done(); the list answers are
 * read by tk_jscan (jscan.h), the small ones by jansson. With no think
 * time the next request goes out only once the whole loop round has been
 * read (after_batch_send), so our sends never delay the clock of an answer
 * already received (issue 17).
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
 * write of the request to its complete answer, as wrk measures: the
 * transports' clocks). The open model paces iterations per thread: global
 * iteration j is due when the integral of the rate profile reaches j+1 and
 * belongs to thread j mod T, so the whole run follows the schedule exactly;
 * a due iteration takes an idle VU, else waits in a ring (pending) until a
 * VU is free or max_delay passes (then it is dropped and counted).
 *
 * Self-watch: a 10 ms periodic timer per loop records its own lateness, and
 * each thread's CPU time is read at the end; either saturating marks the
 * run invalid (bench.h). */
#include "benchflow.h"
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
#include <time.h>
#include <unistd.h>

/* the profile of this run (bench_int.h) */
#define prof_value(b, t) tk_bench_prof_value((b)->prof, (b)->nprof, (t))
#define prof_next_above(b, g, from) tk_bench_prof_next_above((b)->prof, (b)->nprof, (g), (from))
#define fill_latency tk_bench_fill_latency

#define CHARGE_AMOUNT 200000
#define MAX_PAGES 5          /* "a random page within the first few" */
#define SEAT_TAKEN_RETRIES 3 /* re-read seats after a 409 at most this often */
#define CONCERT_TRIES 3      /* other concerts tried when one has no seats */
#define LAG_PERIOD_US 10000  /* self-watch timer */

const char *const tk_bench_step_names[TK_BENCH_NSTEPS] = {
    [TK_STEP_BALANCE] = "balance", [TK_STEP_CHARGE] = "charge", [TK_STEP_CONCERTS] = "concerts",
    [TK_STEP_DATES] = "dates",     [TK_STEP_SEATS] = "seats",   [TK_STEP_RESERVE] = "reserve",
    [TK_STEP_PAY] = "pay",         [TK_STEP_LOGIN] = "login",   [TK_STEP_URL] = "url",
    [TK_STEP_QTOKEN] = "queue_token", [TK_STEP_QPOLL] = "queue_poll",
};

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
    t->iters_dropped += t->pending.len;
    t->sec_drop += t->pending.len;
    t->pending.len = 0;
    tk_loadgen_last_seconds(&t->b->lg, &t->next_sec, flush_cb, t);
    t->stopped = 1;
    event_base_loopbreak(t->base);
}

/* ---------- virtual users ---------- */

/* Think time: mean think_ms, uniformly randomised +-50 %. */
static int64_t vu_think_us(vu *v)
{
    int64_t mean = v->t->b->cfg->think_ms * 1000;
    if (mean <= 0)
        return 0;
    return mean / 2 + (int64_t)(rng_next(&v->rng) % (uint64_t)(mean + 1));
}

/* Schedule the next request after a think time; its intended start is when
 * the timer is due, so loop lateness shows in the corrected latency. The
 * timer is armed TK_LOADGEN_EARLY_US early (coarse timers, bench_int.h). */
static void vu_next(vu *v, int step)
{
    int64_t think = vu_think_us(v);
    v->step = (uint8_t)step;
    v->t_intended = tk_mono_us() + (uint64_t)think;
    if (think > 0) {
        evtimer_in_us(&v->timer, think - TK_LOADGEN_EARLY_US);
    } else if (!v->queued) { /* no think time: once the loop round is read (after_batch) */
        v->queued = 1;
        tk_loadgen_batch_push(&v->t->after, v);
    }
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
    if (now_ok && when <= now + TK_LOADGEN_EARLY_US) /* the pacer hands over what is due within the ms */
        vu_send(v);
    else
        evtimer_in_us(&v->timer, (int64_t)when - (int64_t)now - TK_LOADGEN_EARLY_US);
}

/* Open model: v is free; give it the oldest waiting iteration that is still
 * within max_delay (older ones are dropped), else put it on the idle stack. */
static void vu_go_idle(vu *v)
{
    thr *t = v->t;
    uint64_t when, dropped = 0;
    int got = tk_loadgen_pending_take(&t->pending, tk_mono_us(), (uint64_t)t->b->cfg->max_delay_ms * 1000u, &when,
                                      &dropped);
    t->iters_dropped += dropped;
    t->sec_drop += dropped;
    if (got) {
        t->iters_late++;
        vu_start_iter(v, when, 0);
        return;
    }
    t->idle[t->nidle++] = v;
}

/* Open model: iteration due at `when`. */
static void thr_due(void *ud, uint64_t when)
{
    thr *t = ud;
    t->iters_sched++;
    if (t->nidle > 0) {
        vu_start_iter(t->idle[--t->nidle], when, 1);
        return;
    }
    if (tk_loadgen_pending_push(&t->pending, when) == 0)
        return;
    t->iters_dropped++;
    t->sec_drop++;
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    thr *t = arg;
    int64_t next = tk_loadgen_pace(&t->b->lg, t->b->prof, t->b->nprof, &t->next_j, thr_due, t);
    if (next >= 0)
        evtimer_in_us(&t->pace, next);
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
    /* a coarse timer fires up to TK_LOADGEN_EARLY_US early: before t0 the
     * unsigned difference would wrap and end this connection's profile */
    double now_s = (now > b->t0 ? (double)(now - b->t0) / 1e6 : 0.0), g = (double)(v->id - 1);
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
        evtimer_in_us(&v->timer, (int64_t)v->t_intended - (int64_t)now - TK_LOADGEN_EARLY_US);
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

/* The access token (token == v->jwt: keep it, the queue token changed):
 * stored, and libcurl's header lists rebuilt (the lean transport formats
 * its headers per request). 0, or -1 when out of memory. */
static int vu_set_token(vu *v, const char *token)
{
    if (token != v->jwt) {
        char *copy = strdup(token);
        if (!copy)
            return -1;
        free(v->jwt);
        v->jwt = copy;
    }
    if (strlen(v->jwt) > 2000)
        return -1; /* no room for it in a request head */
    return v->t->b->lean ? 0 : tk_benchcurl_headers(v);
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

static json_t *vu_parse(const char *body, size_t len)
{
    return json_loadb(body ? body : "", len, 0, NULL);
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
    evtimer_in_us(&v->timer, (int64_t)after * 1000 - TK_LOADGEN_EARLY_US);
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
static int vu_on_success(vu *v, const char *body, size_t len)
{
    thr *t = v->t;
    json_t *doc = NULL;
    switch (v->step) {
    case TK_STEP_LOGIN: {
        doc = vu_parse(body, len);
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
        if (tk_jscan_items(body, len, "items", id_key, 1, on_concert, v, "total", &total) < 0)
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
        if (tk_jscan_items(body, len, "items", keys, 2, on_pick, &pc, NULL, NULL) < 0)
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
        doc = vu_parse(body, len);
        if (vu_on_queue(v, doc) != 0)
            goto bad;
        break;
    case TK_STEP_SEATS: {
        pick_ctx pc = {v, 0, 0, 0};
        if (tk_jscan_items(body, len, "items", id_key, 1, on_pick, &pc, NULL, NULL) < 0)
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
        doc = vu_parse(body, len);
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
static int vu_seat_taken(const char *body, size_t len)
{
    json_t *doc = vu_parse(body, len);
    const char *code = json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
    /* lost the race for the seat: taken, or (lock strategies) the version
     * kept moving or a newer lock holder fenced us out; LOCK_BUSY (503)
     * stays an error: the user was told to try again */
    int taken = code && (!strcmp(code, "SEAT_TAKEN") || !strcmp(code, "CONFLICT") || !strcmp(code, "STALE_LOCK"));
    json_decref(doc);
    return taken;
}

void tk_benchflow_done(vu *v, int kind, int status, const char *body, size_t len, uint64_t lat)
{
    thr *t = v->t;
    uint64_t now = tk_mono_us();
    if (lat > now - v->t_start)
        lat = now - v->t_start;
    /* corrected: from when it should have been sent (never less than lat):
     * the schedule or timer, else when the VU asked for it */
    uint64_t clat = v->t_intended && v->t_intended < v->t_start ? now - v->t_intended : now - v->t_start;
    int steady = v->t_start >= t->b->ramp_end;
    t->step_req[v->step]++;
    t->sec_req++;
    if (steady)
        t->steady_req++;
    if (kind >= 0) {
        tk_loadgen_persec_record(&t->persec, v->step, 0, clat); /* no answer */
        vu_fail(v, kind, 0);
        return;
    }
    tk_hist_record(t->step_hist[v->step], clat);
    tk_hist_record(t->step_uhist[v->step], lat);
    tk_hist_record(t->sec_hist, clat);
    tk_loadgen_persec_record(&t->persec, v->step, status, clat);
    if (steady) {
        tk_hist_record(t->steady_hist, clat);
        tk_hist_record(t->steady_uhist, lat);
    }
    if (status >= 200 && status < 300) {
        if (vu_on_success(v, body, len) != 0)
            vu_fail(v, TK_BERR_READ, 0);
    } else if (v->step == TK_STEP_RESERVE && status == 409 && vu_seat_taken(body, len)) {
        t->seat_taken++;
        if (++v->seat_retries <= SEAT_TAKEN_RETRIES)
            vu_next(v, TK_STEP_SEATS);
        else
            vu_iter_end(v);
    } else {
        vu_fail(v, TK_BERR_STATUS, status);
    }
}

/* Build the request of v->step (path into t->url, body into v->body) and
 * hand it to the transport. */
static void vu_send(vu *v)
{
    thr *t = v->t;
    bench *b = t->b;
    /* curl wants the whole URL, the lean transport the path */
    const char *tg = b->lean ? "" : b->target;
    const char *body = NULL;
    int kind = REQ_AUTH;
    if (!v->resend)
        v->t_start = tk_mono_us();
    switch (v->step) {
    case TK_STEP_LOGIN:
        snprintf(t->url, sizeof t->url, "%s/api/v1/auth/login", tg);
        snprintf(v->body, sizeof v->body, "{\"email\":\"user%u@bench.ticketctl\",\"password\":\"bench-password\"}",
                 v->id);
        body = v->body;
        kind = REQ_LOGIN;
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
    case TK_STEP_URL: /* curl only: httpload.c runs this mode over plain http */
        kind = REQ_URL;
        break;
    case TK_STEP_PAY:
        snprintf(t->url, sizeof t->url, "%s/api/v1/payments", tg);
        snprintf(v->body, sizeof v->body, "{\"reservation_id\":%llu}", (unsigned long long)v->reservation_id);
        body = v->body;
        if (!v->resend)
            ++v->pay_seq; /* a fresh key per attempt; a retry on a fresh connection keeps it */
        kind = REQ_PAY;
        break;
    default:
        return;
    }
    if (b->lean)
        tk_benchlean_send(v, t->url, body, kind);
    else
        tk_benchcurl_send(v, body, kind);
}

void tk_benchflow_resend(vu *v)
{
    vu_send(v);
}

static void on_vu_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    vu *v = arg;
    thr *t = v->t;
    if (v->deferred_err) { /* lean: the connect failed when the request was made */
        tk_benchlean_deferred(v);
        return;
    }
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
    if (t->b->lean && ++t->lag_n % 10 == 0)
        tk_benchlean_timeouts(t, now); /* libcurl keeps its own timeouts */
    evtimer_in_us(&t->lag, next);
}

static int thr_setup(thr *t)
{
    bench *b = t->b;
    const tk_bench_config *c = b->cfg;
    /* coarse timers, armed early where they carry an instant (bench_int.h,
     * TK_LOADGEN_EARLY_US): no timerfd_settime() per loop round */
    t->base = event_base_new();
    if (!t->base)
        return tk_err(t->err, sizeof t->err, "event_base_new failed");
    evtimer_assign(&t->tick, t->base, on_tick, t);
    evtimer_assign(&t->stop, t->base, on_stop, t);
    evtimer_assign(&t->lag, t->base, on_lag, t);
    evtimer_assign(&t->pace, t->base, on_pace, t);
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        v->t = t;
        v->fd = -1;
        evtimer_assign(&v->timer, t->base, on_vu_timer, v);
        v->rng = splitmix(((uint64_t)b->nonce << 32) ^ v->id) | 1;
        v->step = TK_STEP_LOGIN;
        if (c->url_path) { /* single endpoint: no login, the request never changes */
            v->logged_in = 1;
            v->step = TK_STEP_URL;
        }
    }
    for (int i = 0; i < TK_BENCH_NSTEPS; i++)
        if (!(t->step_hist[i] = tk_hist_new()) || !(t->step_uhist[i] = tk_hist_new()))
            return tk_err(t->err, sizeof t->err, "out of memory");
    if (!(t->steady_hist = tk_hist_new()) || !(t->steady_uhist = tk_hist_new()) || !(t->sec_hist = tk_hist_new()) ||
        !(t->empty_hist = tk_hist_new()) || !(t->lag_hist = tk_hist_new()) || !(t->qwait_hist = tk_hist_new()) ||
        tk_loadgen_batch_init(&t->after, t->nvu) != 0 || tk_loadgen_persec_init(&t->persec) != 0)
        return tk_err(t->err, sizeof t->err, "out of memory");
    if (b->open) {
        if (!(t->idle = calloc((size_t)t->nvu, sizeof *t->idle)))
            return tk_err(t->err, sizeof t->err, "out of memory");
        if (tk_loadgen_pending_init(&t->pending, c->max_delay_ms) != 0)
            return tk_err(t->err, sizeof t->err, "out of memory");
        t->next_j = (uint64_t)t->idx;
    }
    t->concert_pages = 1;
    t->next_sec = 1;
    return b->lean ? tk_benchlean_thr_init(t) : tk_benchcurl_thr_init(t);
}

static void thr_teardown(thr *t)
{
    if (t->b->lean)
        tk_benchlean_thr_free(t);
    else
        tk_benchcurl_thr_free(t);
    for (int i = 0; t->base && i < t->nvu; i++)
        event_del(&t->vus[i].timer);
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        free(v->buf);
        free(v->jwt);
        v->buf = v->jwt = NULL;
    }
    if (t->base) {
        event_del(&t->tick);
        event_del(&t->stop);
        event_del(&t->lag);
        event_del(&t->pace);
        event_base_free(t->base);
    }
    free(t->vus);
    free(t->idle);
    tk_loadgen_pending_free(&t->pending);
    tk_loadgen_batch_free(&t->after);
    t->idle = NULL;
    tk_hist_free(t->sec_hist);
    tk_hist_free(t->empty_hist);
    tk_loadgen_persec_free(&t->persec);
    t->empty_hist = NULL;
    t->base = NULL;
    t->vus = NULL;
    t->sec_hist = NULL;
}

/* After one round of callbacks: send the requests made due in it with no
 * think time. Every answer epoll reported in the round has been read and
 * timestamped by then, so our own sends (which on loopback run the
 * server's receive path) never sit between an answer's arrival and its
 * clock (issue 17; as httpload.c and wrk). */
static void after_batch_send(void *item)
{
    vu *v = item;
    v->queued = 0;
    vu_send(v);
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
                evtimer_in_us(&v->timer, (int64_t)v->t_intended - (int64_t)now - TK_LOADGEN_EARLY_US);
            }
        }
        t->lag_due = b->t0 + LAG_PERIOD_US;
        evtimer_in_us(&t->lag, (int64_t)t->lag_due - (int64_t)now);
        evtimer_in_us(&t->tick, (int64_t)(b->t0 + 1000000u) - (int64_t)now);
        evtimer_in_us(&t->stop, (int64_t)b->end - (int64_t)now);
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        uint64_t w0 = tk_mono_us();
        /* one round of callbacks, then the sends it made due */
        while (event_base_loop(t->base, EVLOOP_ONCE) >= 0 && !t->stopped)
            tk_loadgen_batch_run(&t->after, after_batch_send);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        t->wall_us = tk_mono_us() - (w0 > b->t0 ? w0 : b->t0);
        t->cpu_us = (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000LL + (c1.tv_nsec - c0.tv_nsec) / 1000);
    }
    thr_teardown(t);
    tk_loadgen_thread_done(&b->lg);
    return NULL;
}

/* ---------- run ---------- */

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
            st->name = tk_bench_step_names[s];
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
    const char *engine = c->engine && *c->engine ? c->engine : "auto";
    if (strcmp(engine, "auto") != 0 && strcmp(engine, "lean") != 0 && strcmp(engine, "curl") != 0)
        return tk_err(err, errlen, "engine '%s': expected auto, lean or curl", engine), NULL;
    int lean = strcmp(engine, "curl") != 0 && tk_httpload_supports(c->target);
    if (!strcmp(engine, "lean") && !lean)
        return tk_err(err, errlen, "the lean engine drives plain http://host[:port] targets only (not '%s')",
                      c->target), NULL;
    if (c->url_path && lean) {
        tk_bench_result *hr = tk_httpload_run(c, err, errlen);
        for (int s = 0; hr && s < TK_BENCH_NSTEPS; s++)
            hr->steps[s].name = tk_bench_step_names[s];
        if (hr)
            snprintf(hr->engine, sizeof hr->engine, "lean");
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
    b->lean = lean;
    b->timeout_us = (uint64_t)c->timeout_ms * 1000u;
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
    if (b->lean && tk_benchlean_init(b, err, errlen) != 0)
        goto fail;
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
    if (b->lean)
        tk_raise_nofile((long)c->users + 256);
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
    snprintf(r->engine, sizeof r->engine, "%s", b->lean ? "lean" : "curl");
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

