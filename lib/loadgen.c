/* The run skeleton of both load engines (bench.c: the booking flow over
 * libcurl; httpload.c: the lean single-endpoint engine): thread start gate,
 * the per-second ring, the watch loop of the calling thread and the
 * generator's self-check (bench_int.h). One copy, so the two engines count
 * seconds, report progress and judge their own validity the same way. */
#include "bench_int.h"
#include "ticketctl/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

int tk_loadgen_persec_init(tk_loadgen_persec *ps)
{
    memset(ps, 0, sizeof *ps);
    for (int i = 0; i < TK_BENCH_NSTEPS; i++)
        if (!(ps->step_h[i] = tk_hist_new()))
            return -1;
    return 0;
}

void tk_loadgen_persec_free(tk_loadgen_persec *ps)
{
    for (int i = 0; i < TK_BENCH_NSTEPS; i++)
        tk_hist_free(ps->step_h[i]);
    memset(ps, 0, sizeof *ps);
}

static void status_add(tk_bench_status_count *st, int *nst, uint64_t *other, int status, uint64_t n)
{
    for (int i = 0; i < *nst; i++)
        if (st[i].status == status) {
            st[i].n += n;
            return;
        }
    if (*nst < TK_BENCH_POINT_NSTATUS)
        st[(*nst)++] = (tk_bench_status_count){status, n};
    else
        *other += n;
}

void tk_loadgen_persec_record(tk_loadgen_persec *ps, int step, int status, uint64_t us)
{
    if (step >= 0 && step < TK_BENCH_NSTEPS && ps->step_h[step]) {
        tk_hist_record(ps->step_h[step], us);
        ps->step_n[step]++;
    }
    status_add(ps->status, &ps->nstatus, &ps->status_other, status, 1);
}

void tk_loadgen_persec_add(tk_loadgen_persec *ps, int step, const tk_hist *h, uint64_t n, const uint32_t *by_status,
                           int nstatus)
{
    if (step >= 0 && step < TK_BENCH_NSTEPS && ps->step_h[step] && n) {
        if (h)
            tk_hist_merge(ps->step_h[step], h);
        ps->step_n[step] += n;
    }
    for (int i = 0; by_status && i < nstatus; i++)
        if (by_status[i])
            status_add(ps->status, &ps->nstatus, &ps->status_other, i, by_status[i]);
}

/* dst += src; src reset for its next second. */
static void persec_move(tk_loadgen_persec *dst, tk_loadgen_persec *src)
{
    for (int i = 0; i < TK_BENCH_NSTEPS; i++) {
        if (!src->step_n[i])
            continue;
        if (dst->step_h[i])
            tk_hist_merge(dst->step_h[i], src->step_h[i]);
        dst->step_n[i] += src->step_n[i];
        tk_hist_reset(src->step_h[i]);
        src->step_n[i] = 0;
    }
    for (int i = 0; i < src->nstatus; i++)
        status_add(dst->status, &dst->nstatus, &dst->status_other, src->status[i].status, src->status[i].n);
    dst->status_other += src->status_other;
    src->nstatus = 0;
    src->status_other = 0;
}

/* A late thread's second straight into its finished point: counts only. */
static void persec_into_point(tk_bench_point *p, tk_loadgen_persec *src)
{
    for (int i = 0; i < TK_BENCH_NSTEPS; i++) {
        p->steps[i].n += src->step_n[i];
        if (src->step_h[i])
            tk_hist_reset(src->step_h[i]);
        src->step_n[i] = 0;
    }
    for (int i = 0; i < src->nstatus; i++)
        status_add(p->status, &p->nstatus, &p->status_other, src->status[i].status, src->status[i].n);
    p->status_other += src->status_other;
    src->nstatus = 0;
    src->status_other = 0;
}

static void persec_reset(tk_loadgen_persec *ps)
{
    for (int i = 0; i < TK_BENCH_NSTEPS; i++) {
        if (ps->step_h[i])
            tk_hist_reset(ps->step_h[i]);
        ps->step_n[i] = 0;
    }
    ps->nstatus = 0;
    ps->status_other = 0;
}

int tk_loadgen_init(tk_loadgen *g, int nthreads, int nsec)
{
    memset(g, 0, sizeof *g);
    g->nthreads = nthreads;
    g->nsec = nsec;
    if (!(g->series = calloc((size_t)nsec, sizeof *g->series)))
        return -1;
    for (int i = 0; i < TK_LOADGEN_RING; i++)
        if (!(g->ring[i].h = tk_hist_new()) || tk_loadgen_persec_init(&g->ring[i].ps) != 0)
            return -1;
    pthread_mutex_init(&g->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the watch loop waits on mono deadlines */
    pthread_cond_init(&g->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&g->gate, NULL);
    g->sync_init = 1;
    return 0;
}

void tk_loadgen_destroy(tk_loadgen *g)
{
    for (int i = 0; i < TK_LOADGEN_RING; i++) {
        tk_hist_free(g->ring[i].h);
        tk_loadgen_persec_free(&g->ring[i].ps);
    }
    free(g->series);
    if (g->sync_init) {
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cond);
        pthread_cond_destroy(&g->gate);
    }
    memset(g, 0, sizeof *g);
}

int tk_loadgen_thread_ready(tk_loadgen *g)
{
    pthread_mutex_lock(&g->mu);
    g->ready_threads++;
    pthread_cond_signal(&g->cond);
    while (!g->go)
        pthread_cond_wait(&g->gate, &g->mu);
    int abort = g->abort;
    pthread_mutex_unlock(&g->mu);
    return abort;
}

void tk_loadgen_thread_done(tk_loadgen *g)
{
    pthread_mutex_lock(&g->mu);
    g->done_threads++;
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->mu);
}

void tk_loadgen_wait_ready(tk_loadgen *g, int created)
{
    pthread_mutex_lock(&g->mu);
    while (g->ready_threads < created)
        pthread_cond_wait(&g->cond, &g->mu);
}

void tk_loadgen_set_times(tk_loadgen *g, const tk_bench_config *c, char *started_at, size_t len, tk_benchcpu *cpu)
{
    int64_t ramp_ms = c->ramp_ms;
    if (c->nstages) /* steady state: after a first stage that changes the target */
        ramp_ms = c->stages[0].from != c->stages[0].to && c->nstages > 1 ? c->stages[0].duration_ms : 0;
    g->t0 = tk_mono_us() + 10000; /* 10 ms for the threads to arm their timers */
    g->ramp_ms = ramp_ms;
    g->ramp_end = g->t0 + (uint64_t)ramp_ms * 1000u;
    g->end = g->t0 + (uint64_t)c->duration_ms * 1000u;
    tk_benchcpu_window(cpu, g->ramp_end, g->end);
    time_t when = (time_t)((tk_wall_ms() + 10) / 1000);
    struct tm tm;
    gmtime_r(&when, &tm);
    strftime(started_at, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void tk_loadgen_open_gate(tk_loadgen *g)
{
    g->go = 1;
    pthread_cond_broadcast(&g->gate);
    pthread_mutex_unlock(&g->mu);
}

static double us_to_ms(uint64_t us) { return (double)us / 1000.0; }

/* A second every thread has reported (or the run's end): into the series. */
static void slot_finish(tk_loadgen *g, tk_loadgen_slot *s)
{
    if (s->sec < 1 || s->sec > g->nsec)
        return;
    tk_bench_point *p = &g->series[s->sec - 1];
    double secs = 1.0, left = (double)(g->end - g->t0) / 1e6 - (double)(s->sec - 1);
    if (left > 0 && left < 1.0)
        secs = left; /* last, partial second */
    p->t = s->sec;
    p->vus = s->vus;
    p->rps = (double)s->req / secs;
    p->errors = s->err;
    p->dropped = s->drop;
    p->p50 = us_to_ms(tk_hist_percentile(s->h, 50));
    p->p95 = us_to_ms(tk_hist_percentile(s->h, 95));
    p->p99 = us_to_ms(tk_hist_percentile(s->h, 99));
    for (int i = 0; i < TK_BENCH_NSTEPS; i++) {
        p->steps[i].n = s->ps.step_n[i];
        p->steps[i].p50 = s->ps.step_n[i] ? us_to_ms(tk_hist_percentile(s->ps.step_h[i], 50)) : 0;
        p->steps[i].p95 = s->ps.step_n[i] ? us_to_ms(tk_hist_percentile(s->ps.step_h[i], 95)) : 0;
    }
    memcpy(p->status, s->ps.status, sizeof p->status);
    p->nstatus = s->ps.nstatus;
    p->status_other = s->ps.status_other;
    persec_reset(&s->ps);
    if (s->sec > g->last_final)
        g->last_final = s->sec;
    s->sec = 0;
}

void tk_loadgen_flush_second(tk_loadgen *g, int sec, const tk_hist *h, uint64_t req, uint64_t err,
                             uint64_t drop, int vus)
{
    tk_loadgen_flush_second_ps(g, sec, h, req, err, drop, vus, NULL);
}

void tk_loadgen_flush_second_ps(tk_loadgen *g, int sec, const tk_hist *h, uint64_t req, uint64_t err,
                                uint64_t drop, int vus, tk_loadgen_persec *ps)
{
    if (sec < 1 || sec > g->nsec) {
        if (ps)
            persec_reset(ps);
        return;
    }
    pthread_mutex_lock(&g->mu);
    tk_loadgen_slot *s = &g->ring[sec % TK_LOADGEN_RING];
    g->total_req += req;
    g->total_err += err;
    if (g->series[sec - 1].t != 0 || s->sec > sec) {
        /* this thread lagged more than the ring: keep its counts only */
        tk_bench_point *p = &g->series[sec - 1];
        p->rps += (double)req;
        p->errors += err;
        p->dropped += drop;
        if (ps)
            persec_into_point(p, ps);
    } else {
        if (s->sec != sec) {
            slot_finish(g, s); /* an older second some thread never handed over */
            s->sec = sec;
            s->reporters = 0;
            s->vus = 0;
            s->req = s->err = s->drop = 0;
            tk_hist_reset(s->h);
            persec_reset(&s->ps);
        }
        tk_hist_merge(s->h, h);
        if (ps)
            persec_move(&s->ps, ps);
        s->req += req;
        s->err += err;
        s->drop += drop;
        s->vus += vus;
        if (++s->reporters == g->nthreads)
            slot_finish(g, s);
    }
    pthread_mutex_unlock(&g->mu);
}

int64_t tk_loadgen_tick(const tk_loadgen *g, int *next_sec, tk_loadgen_flush_fn flush, void *thread)
{
    int cur = (int)((tk_mono_us() - g->t0) / 1000000u);
    if (cur > g->nsec)
        cur = g->nsec;
    while (*next_sec < cur)
        flush(thread, (*next_sec)++, 0);
    /* The last second is the stop timer's: a tick due with (or after) the
     * stop could run before it, and answers read between the two callbacks
     * would be in the totals but in no second of the series. */
    if (*next_sec >= g->nsec)
        return -1;
    flush(thread, (*next_sec)++, 1);
    if (*next_sec >= g->nsec)
        return -1;
    int64_t d = (int64_t)(g->t0 + (uint64_t)*next_sec * 1000000u) - (int64_t)tk_mono_us();
    return d > 0 ? d : 0;
}

void tk_loadgen_last_seconds(const tk_loadgen *g, int *next_sec, tk_loadgen_flush_fn flush, void *thread)
{
    while (*next_sec < g->nsec)
        flush(thread, (*next_sec)++, 0);
    if (*next_sec <= g->nsec)
        flush(thread, (*next_sec)++, 1);
}

int64_t tk_loadgen_lag(uint64_t *due, uint64_t period_us, tk_hist *lag, uint64_t now)
{
    while (*due <= now) {
        tk_hist_record(lag, now - *due);
        *due += period_us;
    }
    return (int64_t)(*due - now);
}

static long long proc_peak_rss(int pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long best = -1, kb;
    while (fgets(line, sizeof line, f))
        if ((sscanf(line, "VmHWM: %lld kB", &kb) == 1 || sscanf(line, "VmRSS: %lld kB", &kb) == 1) &&
            kb * 1024 > best)
            best = kb * 1024;
    fclose(f);
    return best;
}

/* Caller, with g->mu held: c->progress for every second finished since
 * *reported, in order, so a watch that wakes late (a slow --out-jsonl
 * consumer, a loaded box) skips none. Seconds finish in order (a thread
 * hands its seconds over in order, and a second is finished by its last
 * reporter), so the first unfinished one ends the walk; at the end
 * (final) nothing more will finish, and a second no thread reported is
 * passed over. The lock is dropped around each call. */
static void report_seconds(tk_loadgen *g, const tk_bench_config *c, int *reported, int final)
{
    while (c->progress && !g->abort && *reported < g->last_final && *reported < g->nsec) {
        if (g->series[*reported].t == 0) {
            if (!final)
                return;
            (*reported)++;
            continue;
        }
        tk_bench_point p = g->series[*reported];
        uint64_t rq = g->total_req, er = g->total_err;
        (*reported)++;
        pthread_mutex_unlock(&g->mu);
        c->progress(&p, (double)(tk_mono_us() - g->t0) / 1e6, rq, er, c->progress_ud);
        pthread_mutex_lock(&g->mu);
    }
}

void tk_loadgen_watch(tk_loadgen *g, int created, const tk_bench_config *c, tk_bench_result *r, tk_benchcpu *cpu)
{
    r->server_peak_rss_bytes = -1;
    int reported = 0;
    pthread_mutex_lock(&g->mu);
    for (int k = 1; g->done_threads < created;) {
        uint64_t tick = g->t0 + (uint64_t)k * 1000000u, wake = tk_benchcpu_wake(cpu, tick);
        struct timespec ts = {.tv_sec = (time_t)(wake / 1000000u), .tv_nsec = (long)(wake % 1000000u) * 1000};
        while (g->done_threads < created && tk_mono_us() < wake)
            pthread_cond_timedwait(&g->cond, &g->mu, &ts);
        tk_benchcpu_poll(cpu, tk_mono_us());
        if (tk_mono_us() < tick)
            continue; /* woken for a CPU sample (or a thread ended): not a second yet */
        k++;
        if (c->server_pid > 0) {
            long long rss = proc_peak_rss(c->server_pid);
            if (rss > r->server_peak_rss_bytes)
                r->server_peak_rss_bytes = rss;
        }
        report_seconds(g, c, &reported, 0);
    }
    tk_benchcpu_poll(cpu, tk_mono_us()); /* the end of the window, when the threads ended first */
    for (int i = 0; i < TK_LOADGEN_RING; i++) /* seconds some thread never handed over */
        if (g->ring[i].sec)
            slot_finish(g, &g->ring[i]);
    report_seconds(g, c, &reported, 1); /* the last ones, finished by the stop or just above */
    pthread_mutex_unlock(&g->mu);
}

void tk_loadgen_validate(tk_bench_result *r, const tk_bench_config *c, const char *internal)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        r->peak_rss_bytes = (long long)ru.ru_maxrss * 1024;
        r->gen_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                       (double)ru.ru_stime.tv_usec / 1e6;
    }
    double max_cpu = c->max_cpu > 0 ? c->max_cpu : 0.90, max_lag = c->max_lag_ms > 0 ? c->max_lag_ms : 25.0;
    r->valid = 1;
    r->invalid_reason[0] = '\0';
    size_t rl = 0, cap = sizeof r->invalid_reason;
    if (r->gen_cpu_util > max_cpu) {
        r->valid = 0;
        rl += (size_t)snprintf(r->invalid_reason, cap,
                               "generator CPU saturated: a load thread was busy %.0f %% of the run (limit %.0f %%)",
                               r->gen_cpu_util * 100.0, max_cpu * 100.0);
    }
    if (r->lag_p99_ms > max_lag && rl < cap) {
        r->valid = 0;
        rl += (size_t)snprintf(r->invalid_reason + rl, cap - rl,
                               "%sgenerator event loop lagging: timer lateness p99 %.1f ms (limit %.1f ms)",
                               rl ? "; " : "", r->lag_p99_ms, max_lag);
    }
    if (internal && rl < cap) {
        r->valid = 0;
        snprintf(r->invalid_reason + rl, cap - rl, "%sinternal: %s", rl ? "; " : "", internal);
    }
}

/* ---------- per-thread pieces ---------- */

int tk_loadgen_pending_init(tk_loadgen_pending *p, int64_t max_delay_ms)
{
    memset(p, 0, sizeof *p);
    if (max_delay_ms > 0 && !(p->at = calloc(TK_LOADGEN_PENDING_CAP, sizeof *p->at)))
        return -1;
    return 0;
}

void tk_loadgen_pending_free(tk_loadgen_pending *p)
{
    free(p->at);
    memset(p, 0, sizeof *p);
}

int tk_loadgen_pending_push(tk_loadgen_pending *p, uint64_t when)
{
    if (!p->at || p->len >= TK_LOADGEN_PENDING_CAP)
        return -1;
    p->at[(p->head + p->len) % TK_LOADGEN_PENDING_CAP] = when;
    p->len++;
    return 0;
}

int tk_loadgen_pending_take(tk_loadgen_pending *p, uint64_t now, uint64_t max_delay_us, uint64_t *when,
                            uint64_t *dropped)
{
    while (p->len) {
        uint64_t w = p->at[p->head];
        p->head = (p->head + 1) % TK_LOADGEN_PENDING_CAP;
        p->len--;
        if (now > w && now - w > max_delay_us) {
            (*dropped)++;
            continue;
        }
        *when = w;
        return 1;
    }
    return 0;
}

int64_t tk_loadgen_pace(const tk_loadgen *g, const tk_bench_stage *prof, size_t nprof, uint64_t *next_j,
                        void (*due)(void *ud, uint64_t when), void *ud)
{
    uint64_t now = tk_mono_us();
    for (int i = 0; i < 4096; i++) {
        double at = tk_bench_prof_time_of(prof, nprof, (double)*next_j + 1.0);
        if (at < 0)
            return -1; /* the schedule is over */
        uint64_t when = g->t0 + (uint64_t)(at * 1e6);
        if (when >= g->end)
            return -1;
        if (when > now + TK_LOADGEN_EARLY_US)
            return (int64_t)(when - now - TK_LOADGEN_EARLY_US);
        due(ud, when);
        *next_j += (uint64_t)g->nthreads;
    }
    return 0; /* far behind: let the loop breathe, then go on */
}

int tk_loadgen_batch_init(tk_loadgen_batch *b, int cap)
{
    memset(b, 0, sizeof *b);
    b->cap = cap;
    if (!(b->q = calloc((size_t)cap, sizeof *b->q)) || !(b->spare = calloc((size_t)cap, sizeof *b->spare)))
        return -1;
    return 0;
}

void tk_loadgen_batch_free(tk_loadgen_batch *b)
{
    free(b->q);
    free(b->spare);
    memset(b, 0, sizeof *b);
}

void tk_loadgen_batch_run(tk_loadgen_batch *b, void (*fn)(void *item))
{
    while (b->n) {
        void **q = b->q;
        int n = b->n;
        b->q = b->spare;
        b->spare = q;
        b->n = 0;
        for (int i = 0; i < n; i++)
            fn(q[i]);
    }
}
