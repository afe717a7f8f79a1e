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

#endif
