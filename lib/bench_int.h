/* bench internals shared by the two load engines (bench.c: libcurl, the
 * booking flow; httpload.c: the lean single-endpoint engine). Not a
 * public API. */
#ifndef TICKETCTL_BENCH_INT_H
#define TICKETCTL_BENCH_INT_H

#include <stddef.h>

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

#endif
