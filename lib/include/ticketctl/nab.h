/* Numenta Anomaly Benchmark (NAB) support: series and label loading, window
 * features for the Isolation Forest, a rolling z-score baseline, point-level
 * precision/recall/F1 and the NAB standard-profile score.
 *
 * Data: NAB CSV files (header `timestamp,value`, timestamps
 * "YYYY-MM-DD HH:MM:SS" in UTC, ascending) and NAB's combined_windows.json
 * ("realAWSCloudwatch/<file>.csv" -> [[start, end], ...], timestamps
 * "YYYY-MM-DD HH:MM:SS.ffffff"). Our copy: ../shared/data/nab (MIT licence).
 *
 * Scoring follows NAB's nab/sweeper.py and the scoring section of the NAB
 * whitepaper (Lavin & Ahmad, "Evaluating Real-time Anomaly Detection
 * Algorithms - the Numenta Anomaly Benchmark", ICMLA 2015), standard
 * profile A_TP = 1, A_FP = 0.11, A_FN = 1:
 *   - the first min(floor(0.15 n), 750) rows are the probation period: no
 *     detection there counts, and windows entirely inside it are ignored;
 *   - a detection at row i inside a window [l, r] (width w = r - l + 1) is
 *     worth A_TP * sigma(-(r - i + 1) / w) / sigma(-1), with the scaled
 *     sigmoid sigma(y) = 2 / (1 + e^(5y)) - 1; only the best (earliest)
 *     detection of a window counts, so an early hit is worth ~1 and one at
 *     the right edge ~0.1;
 *   - a window with no detection costs -A_FN;
 *   - a detection outside every window costs A_FP * sigma(d) with
 *     d = (i - r_prev) / (w_prev - 1) for the last window that ended before
 *     it, or -A_FP flat (d = 3) when no window precedes it; sigma(d) = -1
 *     for d >= 3, so a false positive costs between 0 and 0.11, the full
 *     0.11 once it is 3 window widths past the previous window;
 *   - normalised score = 100 (raw - null) / (perfect - null), null being the
 *     detector that never fires (-A_FN per window) and perfect the one that
 *     fires on every window row (its earliest countable row per window). */
#ifndef TICKETCTL_NAB_H
#define TICKETCTL_NAB_H

#include <stddef.h>
#include <stdint.h>

#include "ticketctl/iforest.h"

#define TK_NAB_A_TP 1.0
#define TK_NAB_A_FP 0.11
#define TK_NAB_A_FN 1.0
#define TK_NAB_PROBATION 0.15

/* One series. ts: seconds since the Unix epoch (UTC), in file order (NAB's
 * machine_temperature_system_failure.csv steps back one hour at a
 * daylight-saving change, so ts need not be monotonic); value: the metric;
 * score: the `anomaly_score` column of a NAB results file, or NULL when the
 * file has none. All arrays have n entries and belong to the series. */
typedef struct tk_nab_series {
    size_t n;
    int64_t *ts;
    double *value;
    double *score;
} tk_nab_series;

/* A labelled anomaly window, both ends inclusive, epoch seconds. */
typedef struct tk_nab_window {
    int64_t start, end;
} tk_nab_window;

/* Parse "YYYY-MM-DD HH:MM:SS" (also 'T' as separator, an optional
 * ".ffffff" fraction which is dropped, and an optional trailing 'Z') as UTC
 * into epoch seconds. Returns 0, or -1 on anything else. */
int tk_nab_parse_time(const char *s, int64_t *out);

/* Format epoch seconds as "YYYY-MM-DD HH:MM:SS" (buf >= 20 bytes). */
void tk_nab_format_time(int64_t t, char *buf, size_t len);

/* Parse NAB CSV text (len bytes; need not be NUL-terminated) into *out: a
 * data file (header `timestamp,value`) or a results file (`timestamp,value,
 * anomaly_score,label[,...]`; extra columns are ignored, anomaly_score goes
 * to out->score). `name` prefixes messages. Errors (TK_EINVAL, message
 * "name:LINE: ...", in err OUT): a header not starting `timestamp,value`, a
 * row with another column count than the header, bad timestamp or number,
 * non-finite value or score, no rows. Timestamps may step back (see above).
 * On TK_OK the caller frees with tk_nab_series_free(). */
int tk_nab_parse_csv(const char *text, size_t len, const char *name, tk_nab_series *out, char *err,
                     size_t errlen);

/* Read and parse a CSV file: TK_EIO when it cannot be read, else as above. */
int tk_nab_load_csv(const char *path, tk_nab_series *out, char *err, size_t errlen);

/* Free a series' arrays (not the struct) and zero it; NULL is a no-op. */
void tk_nab_series_free(tk_nab_series *s);

/* Labels: a windows.json file. Opaque; free with tk_nab_labels_free(). */
typedef struct tk_nab_labels tk_nab_labels;

/* Load NAB windows JSON. TK_EIO (unreadable), TK_EINVAL (not JSON, not an
 * object of arrays of [start, end] timestamp strings, start after end), or
 * TK_ENOMEM; message in err (OUT). */
int tk_nab_labels_load(const char *path, tk_nab_labels **out, char *err, size_t errlen);
void tk_nab_labels_free(tk_nab_labels *l);

/* Windows of one series by its key ("realAWSCloudwatch/x.csv"). Returns 0
 * and sets *w (owned by l; NULL when the list is empty) and *nw, or -1 when
 * the key is not in the file. */
int tk_nab_labels_find(const tk_nab_labels *l, const char *key, const tk_nab_window **w, size_t *nw);

/* Number of series in the labels, and the i-th one's key ("dir/file.csv"),
 * windows and count (as tk_nab_labels_find), in file order. i < count. */
size_t tk_nab_labels_count(const tk_nab_labels *l);
const char *tk_nab_labels_entry(const tk_nab_labels *l, size_t i, const tk_nab_window **w, size_t *nw);

/* Length of the probation period for n rows: min(floor(0.15 n), 750). */
size_t tk_nab_probation(size_t n);

/* ---- features ------------------------------------------------------------ */

/* Window features of a univariate series. Every feature of row i uses only
 * rows <= i (causal), so a streaming detector can compute the same values.
 * "trailing" means the up-to-`window` rows before i (excluding i). */
enum {
    TK_NAB_F_VALUE = 1u << 0, /* the raw value */
    TK_NAB_F_DIFF = 1u << 1,  /* rate of change: v[i] - v[i-1] (0 for i = 0) */
    TK_NAB_F_MEAN = 1u << 2,  /* v[i] - trailing mean */
    TK_NAB_F_Z = 1u << 3,     /* z-score vs trailing mean/std, clamped to +-TK_NAB_Z_CLAMP */
    TK_NAB_F_STD = 1u << 4,   /* std of the last window/4 rows (incl. i) - trailing std */
    TK_NAB_F_ALL = (1u << 5) - 1,
};
#define TK_NAB_Z_CLAMP 50.0

typedef struct tk_nab_features {
    unsigned mask;   /* TK_NAB_F_* bits, at least one */
    unsigned window; /* trailing window in rows, >= 2 */
} tk_nab_features;

/* Number of attributes (set bits of mask). */
size_t tk_nab_feature_dims(unsigned mask);

/* Parse "value,diff,mean,z,std" (any subset, any order, or "all") into a
 * mask. Returns 0, or -1 on an unknown or empty name. */
int tk_nab_feature_parse(const char *list, unsigned *mask);

/* The feature settings travel inside a model's metadata as
 * "features=LIST window=N": write them into buf / read them back (0, or -1
 * when meta is not of that form). */
void tk_nab_meta_write(const tk_nab_features *f, char *buf, size_t len);
int tk_nab_meta_read(const char *meta, tk_nab_features *f);

/* Format a mask as the comma list above into buf. */
void tk_nab_feature_format(unsigned mask, char *buf, size_t len);

/* Compute features: out is n * dims doubles (row-major, attributes in bit
 * order), written by the function. Returns TK_OK, TK_EINVAL (bad cfg) or
 * TK_ENOMEM. O(n * window). */
int tk_nab_compute_features(const double *v, size_t n, const tk_nab_features *cfg, double *out);

/* Rolling z-score baseline: z[i] = (v[i] - mean) / std over the up-to-window
 * rows before i (population std); 0 for i < 2; when std is 0, 0 if v[i]
 * equals the mean, else +-1e9. */
void tk_nab_zscore(const double *v, size_t n, unsigned window, double *z);

/* ---- scoring ------------------------------------------------------------- */

/* Counts and scores of one detector on one or more series. Point-level:
 * a detection (after probation) is a TP when inside any window, else a FP;
 * window_points counts rows after probation inside windows. */
typedef struct tk_nab_result {
    size_t rows, detections, tp, fp, window_points;
    size_t windows, windows_hit; /* counted windows (not all in probation) */
    double raw, null_score, perfect;
} tk_nab_result;

/* Score detections (detect[i] != 0 = the detector fired at row i) of a
 * series of n rows with timestamps ts against nw windows, per the rules at
 * the top of this file. Window ends are matched to the first row >= start
 * and the last row <= end; a window matching no row is skipped. Fills *res
 * (overwriting it). Returns TK_OK or TK_ENOMEM. */
int tk_nab_score(const int64_t *ts, size_t n, const uint8_t *detect, const tk_nab_window *w, size_t nw,
                  tk_nab_result *res);

/* Accumulate one file's result into a total (all fields add). */
void tk_nab_result_add(tk_nab_result *total, const tk_nab_result *r);

/* Point-level precision tp/detections, recall tp/window_points and their
 * harmonic mean; each 0 when its denominator is 0. */
double tk_nab_precision(const tk_nab_result *r);
double tk_nab_recall(const tk_nab_result *r);
double tk_nab_f1(const tk_nab_result *r);

/* 100 (raw - null) / (perfect - null); NAN when perfect == null (no windows). */
double tk_nab_normalised(const tk_nab_result *r);

/* ---- detectors ----------------------------------------------------------- */

typedef enum tk_nab_train_mode {
    TK_NAB_TRAIN_PROBATION = 0, /* fit on the probation rows only (online-honest) */
    TK_NAB_TRAIN_ALL,           /* fit on the whole file, unsupervised */
} tk_nab_train_mode;

typedef struct tk_nab_detector {
    tk_nab_features features;
    tk_iforest_params forest;
    tk_nab_train_mode train;
    double threshold; /* forest fires when score >= threshold */
    unsigned cooldown; /* after firing, stay quiet this many rows (0 = off); both detectors */
    unsigned z_window; /* baseline trailing window */
    double z_threshold; /* baseline fires when |z| > z_threshold */
} tk_nab_detector;

/* Defaults chosen by measurement on realAWSCloudwatch (the numbers are in
 * the comment above tk_nab_detector_defaults() in lib/nab.c). */
void tk_nab_detector_defaults(tk_nab_detector *d);

/* Run the forest over one series: features, train (per d->train), score
 * every row into scores[n] (may be NULL) and set detect[n]. Returns TK_OK,
 * or an error with a message in err (OUT). */
int tk_nab_run_forest(const tk_nab_series *s, const tk_nab_detector *d, double *scores, uint8_t *detect,
                      char *err, size_t errlen);

/* Run the z-score baseline over one series into detect[n]. Returns TK_OK or
 * TK_ENOMEM. */
int tk_nab_run_zscore(const tk_nab_series *s, const tk_nab_detector *d, uint8_t *detect);

#endif
