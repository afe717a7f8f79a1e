/* bench internals shared by the two load engines (bench.c: libcurl, the
 * booking flow; httpload.c: the lean single-endpoint engine). Not a
 * public API. */
#ifndef TICKETCTL_BENCH_INT_H
#define TICKETCTL_BENCH_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/bench.h"
#include "ticketctl/hist.h"

/* The load profile: n piecewise-linear stages (VUs in the closed model,
 * iterations/s in the open one). Times in seconds after the start. */

/* Target at t; 0 past the end. */
double tk_bench_prof_value(const tk_bench_stage *prof, size_t n, double t);

/* Open model: the time at which the integral of the rate reaches `count`
 * iterations, or -1 when the profile ends first. Within a stage the
 * integral is from*x + (to-from)/(2d)*x^2, solved as
 * x = 2c / (b + sqrt(b^2 + 4ac)), stable for flat and sloped stages. */
double tk_bench_prof_time_of(const tk_bench_stage *prof, size_t n, double count);

/* Closed model: the first time >= from at which more than g VUs are
 * wanted, i.e. when VU g (0-based) should run; -1 never again. */
double tk_bench_prof_next_above(const tk_bench_stage *prof, size_t n, double g, double from);

/* The steps' names as the results JSON and thresholds spell them ("balance",
 * ..., "queue_poll"), indexed by TK_STEP_*. */
extern const char *const tk_bench_step_names[TK_BENCH_NSTEPS];

/* p50..p99.99, max and mean of h (µs) into l (ms). */
void tk_bench_fill_latency(tk_bench_latency *l, const tk_hist *h);

/* CPU per unit of work over the steady window (benchcpu.c, cpustat.h),
 * for both engines. The thread that waits on the run (never a load thread)
 * wakes at the window's start and end (tk_benchcpu_wake) and reads the CPU
 * clocks then (tk_benchcpu_poll); after the run tk_benchcpu_finish divides
 * by the units of work completed in the window. */
typedef struct tk_benchcpu {
    int on;                 /* pids resolved: sample */
    tk_cpu_pids pids;
    uint64_t at[2];         /* mono µs: window start (end of the ramp), end */
    uint64_t took[2];       /* mono µs the sample was read; 0: not yet */
    tk_cpu_sample s[2];
} tk_benchcpu;

/* Resolve the processes of c->cpu (c->target as the target) into w; w is
 * off (nothing sampled, 0 returned) with c->no_cpu. Returns -1 with err
 * when an explicit pid does not exist (tk_cpu_pids_find). */
int tk_benchcpu_init(tk_benchcpu *w, const tk_bench_config *c, char *err /* OUT */, size_t errlen);

/* Set the window [start_us, end_us) (mono µs); an empty window samples
 * nothing. */
void tk_benchcpu_window(tk_benchcpu *w, uint64_t start_us, uint64_t end_us);

/* The earlier of `wake` and the next sample instant not yet taken (mono µs). */
uint64_t tk_benchcpu_wake(const tk_benchcpu *w, uint64_t wake);

/* Take the samples that are due at mono time now. */
void tk_benchcpu_poll(tk_benchcpu *w, uint64_t now);

/* r->cpu over the window for `units` units of work (flows or requests) and
 * r->cpu_measured; nothing when a sample is missing or units is 0. */
void tk_benchcpu_finish(const tk_benchcpu *w, double units, tk_bench_result *r);


/* ---------- the run skeleton both engines share (loadgen.c) ----------
 *
 * One caller thread and T load threads, each load thread with its own
 * event loop. The caller creates the threads; each sets itself up, reports
 * ready and waits at the gate (tk_loadgen_thread_ready); the caller sets t0
 * once all are ready and opens the gate, then watches the run once a
 * second (progress line, server RSS, the CPU samples) until every thread
 * reports done. Once a second each load thread hands its second over to a
 * shared ring of TK_LOADGEN_RING slots (one lock per thread per second,
 * never per request); a slot is finished into the per-second series when
 * every thread has reported it. */
#define TK_LOADGEN_RING 16 /* seconds in flight between the fastest and slowest thread */

/* One thread's (or one ring slot's) second by step and by status, for the
 * per-step latency and the errors by status over time (tk_bench_point).
 * Recorded per request without a lock; handed over with the second. */
typedef struct tk_loadgen_persec {
    tk_hist *step_h[TK_BENCH_NSTEPS]; /* µs, corrected */
    uint64_t step_n[TK_BENCH_NSTEPS];
    tk_bench_status_count status[TK_BENCH_POINT_NSTATUS];
    int nstatus;
    uint64_t status_other;
} tk_loadgen_persec;

/* Allocate ps's histograms: 0, or -1 out of memory (free cleans up). */
int tk_loadgen_persec_init(tk_loadgen_persec *ps);
void tk_loadgen_persec_free(tk_loadgen_persec *ps);
/* One answer of step (TK_STEP_*) with HTTP status (0: no answer) after us µs. */
void tk_loadgen_persec_record(tk_loadgen_persec *ps, int step, int status, uint64_t us);

/* A whole second of one step at once (httpload.c, which has one step and
 * keeps no per-request step state): n requests of step, their latencies h
 * (µs, corrected; merged, may be NULL), and by_status[s] answers with HTTP
 * status s for s < nstatus (0: no answer). */
void tk_loadgen_persec_add(tk_loadgen_persec *ps, int step, const tk_hist *h, uint64_t n, const uint32_t *by_status,
                           int nstatus);

typedef struct tk_loadgen_slot {
    int sec, reporters, vus;
    uint64_t req, err, drop;
    tk_hist *h;
    tk_loadgen_persec ps;
} tk_loadgen_slot;

typedef struct tk_loadgen {
    int nthreads, nsec;
    uint64_t t0, ramp_end, end; /* mono µs, set when the gate opens */
    int64_t ramp_ms;
    int abort; /* set by the caller (under mu) when the run must not start */
    pthread_mutex_t mu;
    pthread_cond_t cond; /* threads -> caller: ready / done */
    pthread_cond_t gate; /* caller -> threads: t0 is set, go */
    int ready_threads, go, done_threads, sync_init;
    tk_loadgen_slot ring[TK_LOADGEN_RING];
    tk_bench_point *series; /* nsec points; handed to the result at the end */
    int last_final;         /* highest finished second */
    uint64_t total_req, total_err;
} tk_loadgen;

/* Allocate the ring and the series, create the lock and conditions.
 * Returns 0, or -1 when out of memory (tk_loadgen_destroy cleans up). */
int tk_loadgen_init(tk_loadgen *g, int nthreads, int nsec);

/* Free what tk_loadgen_init made; a zeroed or half-made g is fine. */
void tk_loadgen_destroy(tk_loadgen *g);

/* Load thread: its setup is done; wait for the gate. Returns g->abort. */
int tk_loadgen_thread_ready(tk_loadgen *g);

/* Load thread: its loop has ended (after its last second was handed over). */
void tk_loadgen_thread_done(tk_loadgen *g);

/* Caller: wait until `created` threads are ready; returns with g->mu held
 * so the caller can look at the threads' setup and set g->abort. */
void tk_loadgen_wait_ready(tk_loadgen *g, int created);

/* Caller, with g->mu held: t0 = now + 10 ms (for the threads to arm their
 * timers); the steady window (also cpu's) from the end of the ramp:
 * c->ramp_ms, or with stages the first stage when it changes the target and
 * more follow (g->ramp_ms); the end at t0 + c->duration_ms; the UTC start
 * into started_at. */
void tk_loadgen_set_times(tk_loadgen *g, const tk_bench_config *c, char *started_at, size_t len, tk_benchcpu *cpu);

/* Caller, with g->mu held: open the gate and release mu. */
void tk_loadgen_open_gate(tk_loadgen *g);

/* Load thread: hand second `sec` (1-based) over: its histogram h (µs,
 * corrected), counts, and VUs (started, or busy in the open model). Takes
 * the lock once. A thread more than TK_LOADGEN_RING seconds behind adds its
 * counts to the finished point only. */
void tk_loadgen_flush_second(tk_loadgen *g, int sec, const tk_hist *h, uint64_t req, uint64_t err,
                             uint64_t drop, int vus);
/* The same with the thread's per-step and per-status second ps (merged,
 * then reset for the next second; NULL: none). */
void tk_loadgen_flush_second_ps(tk_loadgen *g, int sec, const tk_hist *h, uint64_t req, uint64_t err,
                                uint64_t drop, int vus, tk_loadgen_persec *ps);

/* Load thread: hand second sec over (data 0: as empty, the thread's own
 * histogram and counts untouched). The engine's own, called back below. */
typedef void (*tk_loadgen_flush_fn)(void *thread, int sec, int data);

/* Load thread, at its once-a-second timer: hand over every second up to now
 * (a late tick attributes what completed to the second it is in and reports
 * the skipped ones as empty); *next_sec is the next second to hand over
 * (1-based). The last second is left to tk_loadgen_last_seconds (the stop
 * timer). Returns the µs until the next tick, or -1 when none is due. */
int64_t tk_loadgen_tick(const tk_loadgen *g, int *next_sec, tk_loadgen_flush_fn flush, void *thread);

/* Load thread, at its stop timer: hand over every second left. */
void tk_loadgen_last_seconds(const tk_loadgen *g, int *next_sec, tk_loadgen_flush_fn flush, void *thread);

/* Self-watch, at the thread's periodic timer (period_us): record the
 * lateness of every period missed up to now into lag (so a long stall weighs
 * as much as it lasted); *due advances. Returns the µs until the next. */
int64_t tk_loadgen_lag(uint64_t *due, uint64_t period_us, tk_hist *lag, uint64_t now);

/* Caller: watch the run until `created` threads are done: c->progress once
 * for every finished second, in order, none skipped when the watch wakes
 * late (the seconds finished at the end included), the peak RSS of c->server_pid into
 * r->server_peak_rss_bytes (-1 when none), the CPU samples of cpu at their
 * instants; then finish the seconds some thread never handed over. */
void tk_loadgen_watch(tk_loadgen *g, int created, const tk_bench_config *c, tk_bench_result *r, tk_benchcpu *cpu);

/* The generator's self-check into r->valid / r->invalid_reason: a load
 * thread's CPU/wall above c->max_cpu (0: 0.90), the loop-lag p99 above
 * c->max_lag_ms (0: 25 ms), or `internal` (a bookkeeping failure, may be
 * NULL). Also r->peak_rss_bytes and r->gen_cpu_s from getrusage(2). */
void tk_loadgen_validate(tk_bench_result *r, const tk_bench_config *c, const char *internal);

/* ---------- per-thread pieces both engines' loops share (loadgen.c) ---------- */

/* Open model: iterations that came due while no VU / connection was free,
 * oldest first (a ring of intended start times, mono µs). */
#define TK_LOADGEN_PENDING_CAP 65536
typedef struct tk_loadgen_pending {
    uint64_t *at; /* NULL: no waiting (max_delay 0), every such iteration is dropped */
    size_t head, len;
} tk_loadgen_pending;

/* Allocate the ring (when max_delay_ms > 0). 0, or -1 when out of memory. */
int tk_loadgen_pending_init(tk_loadgen_pending *p, int64_t max_delay_ms);
void tk_loadgen_pending_free(tk_loadgen_pending *p);
/* Queue an iteration due at `when`. 0, or -1 (full, or no ring): drop it. */
int tk_loadgen_pending_push(tk_loadgen_pending *p, uint64_t when);
/* The oldest waiting iteration still within max_delay_us of now into
 * *when (1), older ones dropped and added to *dropped; 0 when none waits. */
int tk_loadgen_pending_take(tk_loadgen_pending *p, uint64_t now, uint64_t max_delay_us, uint64_t *when /* OUT */,
                            uint64_t *dropped /* IN/OUT */);

/* Coarse timers (issue 11.2). The load threads' event loops run on
 * libevent's default timers: epoll_wait()'s millisecond timeout, rounded up
 * (evutil_tv_to_msec_), against CLOCK_MONOTONIC (libevent takes the coarse
 * clock only when its resolution is <= 1 ms; it is 4 ms on this box's
 * kernel). libevent's precise timers (EVENT_BASE_FLAG_PRECISE_TIMER, a
 * timerfd) cost a timerfd_settime() in every loop round, and at 5,000 VUs
 * with think times the loop woke separately for nearly every timer:
 * perf stat counted 1.72 epoll_wait and 1.72 timerfd_settime per request.
 * A timer that carries a measured instant (a think time, the open model's
 * schedule, a poll hint) is armed TK_LOADGEN_EARLY_US before it is due, so
 * the rounded-up timeout wakes the loop in the millisecond before the
 * instant, never after it (but for scheduling delay, which the corrected
 * latency keeps counting), and every timer due in that millisecond fires in
 * the same wake. A request that goes out before its intended instant has
 * its corrected latency equal to its uncorrected one (clock from the send);
 * a think time is up to 1 ms shorter than drawn (mean about 0.5 ms). */
#define TK_LOADGEN_EARLY_US 1000

/* Open-model pacer of one thread: iteration j (global, 0-based) is due
 * when the integral of the rate profile reaches j+1 (tk_bench_prof_time_of)
 * and belongs to thread j mod nthreads; *next_j is this thread's next one.
 * Hands every iteration due by now + TK_LOADGEN_EARLY_US (at most 4,096 per
 * call, so a thread far behind lets its loop breathe) to due(ud, when).
 * Returns the µs to arm the pace timer with (the next due instant less
 * TK_LOADGEN_EARLY_US), or -1 when the schedule (or the run) is over. */
int64_t tk_loadgen_pace(const tk_loadgen *g, const tk_bench_stage *prof, size_t nprof, uint64_t *next_j,
                        void (*due)(void *ud, uint64_t when), void *ud);

/* The after-batch queue: what finished in this loop round and sends next,
 * run once every callback of the round has (every answer epoll reported
 * is read and timestamped first; issue 17). Items are the engine's; each
 * carries its own "queued" flag so it is pushed at most once per round. */
typedef struct tk_loadgen_batch {
    void **q, **spare;
    int n, cap;
} tk_loadgen_batch;

/* Room for cap items. 0, or -1 when out of memory. */
int tk_loadgen_batch_init(tk_loadgen_batch *b, int cap);
void tk_loadgen_batch_free(tk_loadgen_batch *b);
static inline void tk_loadgen_batch_push(tk_loadgen_batch *b, void *item) { b->q[b->n++] = item; }
/* fn(item) for every queued item, also those queued meanwhile. */
void tk_loadgen_batch_run(tk_loadgen_batch *b, void (*fn)(void *item));

#endif
