/* Log-linear latency histogram: our own HDR-style recorder for µs latencies.
 *
 * Bucket index of a value v (after clamping to 1 µs .. 1 h):
 *   v < 128          -> v                       (exact)
 *   v in [2^k,2^k+1) -> 128 + (k-7)*128 + sub   (sub = top 7 bits below the
 *                                               leading one, 128 linear steps)
 * 1 hour < 2^32, so k <= 31 and there are 128 + 25*128 = 3,328 buckets.
 * The width of a bucket in [2^k, 2^(k+1)) is 2^(k-7) = 2^k/128, which gives
 * the relative error bound of 1/128 stated in hist.h. Percentiles walk the
 * array once (O(buckets)); they are meant for after the run, not the hot
 * loop. */
#include "ticketctl/hist.h"

#include <stdlib.h>
#include <string.h>

#define SUB_BITS 7
#define SUB_COUNT (1u << SUB_BITS) /* 128 */
#define TOP_EXP 31                 /* floor(log2(TK_HIST_MAX_US)) */
#define NBUCKETS (SUB_COUNT + (TOP_EXP - SUB_BITS + 1) * SUB_COUNT)

struct tk_hist {
    uint64_t count;
    uint64_t sum; /* of clamped values: 2^64 µs is far beyond any run */
    uint64_t min, max;
    uint64_t buckets[NBUCKETS];
};

static uint64_t clamp_us(uint64_t us)
{
    if (us < TK_HIST_MIN_US)
        return TK_HIST_MIN_US;
    if (us > TK_HIST_MAX_US)
        return TK_HIST_MAX_US;
    return us;
}

static unsigned bucket_of(uint64_t v)
{
    if (v < SUB_COUNT)
        return (unsigned)v;
    unsigned k = 63u - (unsigned)__builtin_clzll(v);
    unsigned sub = (unsigned)(v >> (k - SUB_BITS)) & (SUB_COUNT - 1);
    return SUB_COUNT + (k - SUB_BITS) * SUB_COUNT + sub;
}

/* Highest value that lands in bucket i. */
static uint64_t bucket_high(unsigned i)
{
    if (i < SUB_COUNT)
        return i;
    unsigned b = (i - SUB_COUNT) / SUB_COUNT, sub = (i - SUB_COUNT) % SUB_COUNT;
    unsigned shift = b; /* k - SUB_BITS */
    uint64_t lo = (uint64_t)(SUB_COUNT + sub) << shift;
    return lo + (1ULL << shift) - 1;
}

tk_hist *tk_hist_new(void)
{
    tk_hist *h = calloc(1, sizeof *h);
    return h;
}

void tk_hist_free(tk_hist *h)
{
    free(h);
}

void tk_hist_reset(tk_hist *h)
{
    memset(h, 0, sizeof *h);
}

void tk_hist_record(tk_hist *h, uint64_t us)
{
    uint64_t v = clamp_us(us);
    h->buckets[bucket_of(v)]++;
    if (h->count == 0 || v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    h->count++;
    h->sum += v;
}

void tk_hist_merge(tk_hist *dst, const tk_hist *src)
{
    if (src->count == 0)
        return;
    for (unsigned i = 0; i < NBUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    if (dst->count == 0 || src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->count += src->count;
    dst->sum += src->sum;
}

uint64_t tk_hist_count(const tk_hist *h) { return h->count; }
uint64_t tk_hist_min(const tk_hist *h) { return h->min; }
uint64_t tk_hist_max(const tk_hist *h) { return h->max; }

double tk_hist_mean(const tk_hist *h)
{
    return h->count ? (double)h->sum / (double)h->count : 0.0;
}

uint64_t tk_hist_percentile(const tk_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (!(p > 0.0)) /* also catches NaN */
        return h->min;
    if (p >= 100.0)
        return h->max;
    /* nearest rank: ceil(p/100 * count), tolerant of 0.07*100 = 7.000000000000001 */
    double r = p / 100.0 * (double)h->count;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r - 1e-9)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < NBUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max; /* not reached: the buckets sum to count */
}

uint64_t tk_hist_count_le(const tk_hist *h, uint64_t us)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < NBUCKETS && bucket_high(i) <= us; i++)
        n += h->buckets[i];
    return n;
}
