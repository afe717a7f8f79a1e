/* Contextual Anomaly Detector, open-source edition (CAD OSE; M. Smirnov,
 * github.com/smirmik/CAD, as run in numenta/NAB detectors/context_ose,
 * NAB 69.9), reimplemented from its description:
 *
 * Each value is quantised into `bits` (3) bits over the range [lo, hi]
 * (step = (hi - lo) / (2^bits - 1)); every bit is a "fact" (position,
 * value). A context is a pair (left facts, right facts): the facts of the
 * previous step (sensor facts plus the "neurons", the ids of the contexts
 * that were active) and the sensor facts that followed them. Each step
 * stores the zero-level context (previous facts -> current facts), and
 * from the intersections of the stored contexts with the stream new,
 * smaller contexts (left part <= `max_left` facts); every context counts
 * how often its left part was fully present and how much of its right part
 * followed. The contexts whose left part matches the current facts and
 * whose prediction weight is largest predict the next facts.
 *
 * Score of a record: 0 when every one of its facts was predicted; else
 *   (1 - active / selected + added / potential) / 2
 * (active: contexts whose right part fully followed their fully present
 * left part, over those selected; added: new contexts stored, over the
 * distinct potential ones). A score is replaced by 0 while any of the
 * previous `rest` scores (NAB: probation / 5) reached `base_threshold`
 * (0.75), one report per event.
 *
 * Causal range: NAB hands CAD OSE the min and max of the whole file
 * (look-ahead). Here the range is the running min and max of the values
 * seen before the record (frozen after `calibration` records when that is
 * nonzero); a value outside it quantises past the end bins, into facts of
 * its own (an extra high bit, or a sign fact below the range), which no
 * context predicts. A zero range quantises with step 1 (as CAD OSE does).
 *
 * Semi-contexts are keyed by a 64-bit hash of their facts (CAD OSE keys
 * them by Python's hash, also without a collision check). Memory grows with
 * the contexts stored; past `max_contexts` no new ones are stored. */
#ifndef TICKETCTL_CAD_H
#define TICKETCTL_CAD_H

#include <stddef.h>

typedef struct tk_cad_params {
    unsigned bits;          /* quantisation bits (CAD OSE: 3), 1..16 */
    unsigned max_left;      /* max left-part length of a derived context (7) */
    unsigned max_active;    /* active contexts fed back as neuron facts (15) */
    unsigned rest;          /* records of quiet after a score >= base_threshold (NAB: probation / 5) */
    double base_threshold;  /* 0.75 */
    size_t calibration;     /* 0: the range keeps growing; else frozen after this many records */
    size_t max_contexts;    /* cap on stored contexts (default 4,000,000) */
    int known_range;        /* 1: quantise over [lo, hi] given here from the start (no calibration) */
    double lo, hi;
} tk_cad_params;

/* CAD OSE's parameters as NAB runs them (rest = probation / 5). */
void tk_cad_defaults(tk_cad_params *p, size_t probation);

typedef struct tk_cad tk_cad;

/* NULL on bad parameters or no memory (message in err, OUT); free with
 * tk_cad_free (NULL is a no-op). */
tk_cad *tk_cad_new(const tk_cad_params *p, char *err, size_t errlen);
void tk_cad_free(tk_cad *d);

/* Score record v in [0, 1] (see above), having seen the ones before, then
 * learn it. Out of memory: the record scores 0 and nothing is learnt. */
double tk_cad_update(tk_cad *d, double v);

/* The last score before the rest period (what `anomaly detect` thresholds:
 * its incident logic does the one-report-per-event there). */
double tk_cad_last_raw(const tk_cad *d);

/* Contexts stored so far. */
size_t tk_cad_contexts(const tk_cad *d);

#endif
