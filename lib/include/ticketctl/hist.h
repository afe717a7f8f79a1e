/* Log-linear latency histogram (HDR-style), values in microseconds.
 *
 * Range: TK_HIST_MIN_US (1 µs) .. TK_HIST_MAX_US (1 hour). Values outside
 * the range are clamped into it (0 counts as 1 µs, anything above an hour
 * counts as one hour).
 *
 * Layout: values below 128 µs have one bucket each (exact); from 128 µs on,
 * every power-of-two range [2^k, 2^(k+1)) is split into 128 equal linear
 * sub-buckets. A fixed array of 3,328 64-bit counters (about 26 KiB), so
 * tk_hist_record() never allocates, never locks and is O(1).
 *
 * Error bound: a percentile is reported as the highest value of the bucket
 * holding the exact (nearest-rank) percentile, clamped to the recorded max.
 * So for an exact percentile x:   x <= reported <= x + x/128   (< 0.79 %).
 * count, min, max and mean are exact (of the clamped values).
 *
 * A histogram is not thread-safe: give each thread its own and merge them
 * with tk_hist_merge() after the run (as wrk does). */
#ifndef TICKETCTL_HIST_H
#define TICKETCTL_HIST_H

#include <stdint.h>

#define TK_HIST_MIN_US 1ULL
#define TK_HIST_MAX_US 3600000000ULL /* one hour */

typedef struct tk_hist tk_hist;

/* A new, empty histogram; the caller frees it with tk_hist_free().
 * Returns NULL when out of memory. */
tk_hist *tk_hist_new(void);

/* Free a histogram; NULL is a no-op. */
void tk_hist_free(tk_hist *h);

/* Forget every recorded value. */
void tk_hist_reset(tk_hist *h);

/* Record one value in µs (clamped into [TK_HIST_MIN_US, TK_HIST_MAX_US]). */
void tk_hist_record(tk_hist *h, uint64_t us);

/* Add every value recorded in src to dst (src is unchanged). Afterwards dst
 * reads exactly as if it had recorded both streams itself. */
void tk_hist_merge(tk_hist *dst, const tk_hist *src);

/* Number of recorded values. */
uint64_t tk_hist_count(const tk_hist *h);

/* Smallest / largest recorded value in µs; 0 when empty. */
uint64_t tk_hist_min(const tk_hist *h);
uint64_t tk_hist_max(const tk_hist *h);

/* Arithmetic mean in µs; 0 when empty. */
double tk_hist_mean(const tk_hist *h);

/* Nearest-rank percentile p (0..100; values outside are clamped) in µs,
 * within the error bound above; 0 when empty. p = 0 gives the min,
 * p = 100 the max. */
uint64_t tk_hist_percentile(const tk_hist *h, double p);

/* How many recorded values are at most us µs, counting whole buckets (a
 * bucket straddling us is left out: at most 1/128 of us too low). For a
 * response-time distribution: the difference of two bounds is a bar. */
uint64_t tk_hist_count_le(const tk_hist *h, uint64_t us);

#endif
