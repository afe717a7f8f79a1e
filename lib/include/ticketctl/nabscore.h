/* NAB's scorer: per-record anomaly scores in [0, 1] of a whole corpus,
 * scored the way the Numenta Anomaly Benchmark v1.1 scores them
 * (numenta/NAB nab/sweeper.py, nab/optimizer.py, nab/runner.py normalize();
 * Lavin & Ahmad, ICMLA 2015):
 *
 *   - probation: the first min(floor(0.15 n), 750) rows of a file are not
 *     scored at all; a window whose rows are all in probation does not count
 *     for the detector (nor for the null baseline);
 *   - each row gets a sweep value: inside a window [l, r] of width w rows,
 *     A_TP * sigma(-(r - i + 1) / w) / sigma(-1); outside, A_FP * sigma(d),
 *     d = |i - r_prev| / (w_prev - 1) for the last window that ended before
 *     row i, or A_FP * -1 when none did; sigma(y) = 2 / (1 + e^(5y)) - 1,
 *     and sigma(y) = -1 for y >= 3;
 *   - at a threshold T the rows with anomaly score >= T are detections; a
 *     window scores the best (largest) sweep value among its detections, or
 *     -A_FN when it has none; every detection outside a window adds its
 *     (negative) sweep value; the file's raw score is the sum;
 *   - threshold optimisation: one T for the whole corpus, the one of all the
 *     distinct anomaly scores (and 1.1, nothing fires) with the highest
 *     corpus raw score; on a tie, the higher threshold;
 *   - normalisation: 100 (raw - null) / (perfect - null), where perfect =
 *     A_TP times the number of every label window in the label file
 *     (including windows in probation) and null is the optimised score of
 *     NAB's null detector (a constant score, so -A_FN per counted window).
 *
 * Window ends are matched to rows by exact timestamp, as NAB does (first row
 * whose timestamp equals the start; the first row equal to the end); a
 * window whose ends are not row timestamps falls back to the first row >=
 * start and the last row <= end before it. */
#ifndef TICKETCTL_NABSCORE_H
#define TICKETCTL_NABSCORE_H

#include <stddef.h>
#include <stdint.h>

#include "ticketctl/nab.h"

/* A NAB cost-matrix profile (profiles.json of NAB). */
typedef struct tk_nabscore_profile {
    const char *name;
    double tp, fp, fn; /* tpWeight, fpWeight, fnWeight */
} tk_nabscore_profile;

#define TK_NABSCORE_NPROFILES 3
/* standard (1, 0.11, 1), reward_low_FP_rate (1, 0.22, 1),
 * reward_low_FN_rate (1, 0.11, 2): NAB's config/profiles.json. */
extern const tk_nabscore_profile tk_nabscore_profiles[TK_NABSCORE_NPROFILES];

/* The profile called name, or NULL. */
const tk_nabscore_profile *tk_nabscore_profile_find(const char *name);

/* A corpus of scored files. Opaque; free with tk_nabscore_free(). */
typedef struct tk_nabscore tk_nabscore;

tk_nabscore *tk_nabscore_new(void);
void tk_nabscore_free(tk_nabscore *c); /* NULL is a no-op */

/* Add one file `name` (its label key, copied): n rows with timestamps ts (epoch s, as loaded; need not be
 * monotonic) and anomaly scores score[n] (any finite doubles; NAB's are in
 * [0, 1]); its nw label windows w (may be 0). The arrays are only read.
 * Returns the file's index (0, 1, ...) or -1 when out of memory. */
long tk_nabscore_add(tk_nabscore *c, const char *name, const int64_t *ts, size_t n, const double *score, const tk_nab_window *w,
                     size_t nw);

/* One score: raw, its normalisation and counts. tp/fp count detection rows
 * (after probation) inside / outside windows. */
typedef struct tk_nabscore_result {
    double threshold;
    double raw, null_score, perfect, normalised; /* normalised: NAN if perfect == null */
    size_t tp, fp;
    size_t windows;         /* every label window added */
    size_t windows_counted; /* with at least one row after probation */
    size_t windows_hit;
} tk_nabscore_result;

/* Score the whole corpus at threshold T (a row fires when score >= T).
 * Returns TK_OK or TK_ENOMEM. */
int tk_nabscore_at(const tk_nabscore *c, const tk_nabscore_profile *p, double threshold, tk_nabscore_result *out);

/* NAB's threshold optimisation over the corpus, then the score at the best
 * threshold (out->threshold). O(N log N) in the scored rows. Returns TK_OK
 * or TK_ENOMEM. */
int tk_nabscore_optimise(const tk_nabscore *c, const tk_nabscore_profile *p, tk_nabscore_result *out);

/* Raw score of file `file` alone at threshold T (its null and perfect are
 * the file's own). Returns TK_OK, or TK_EINVAL for a bad index. */
int tk_nabscore_file_at(const tk_nabscore *c, size_t file, const tk_nabscore_profile *p, double threshold,
                        tk_nabscore_result *out);

/* Number of files added, and file i's name (owned by c). */
size_t tk_nabscore_files(const tk_nabscore *c);
const char *tk_nabscore_file_name(const tk_nabscore *c, size_t i);

/* Read NAB results files of `detector` for every series in labels:
 * DIR/<folder>/<detector>_<file>.csv (columns timestamp,value,
 * anomaly_score,...), and add them to c. Returns TK_OK, or TK_EIO /
 * TK_EINVAL (a missing or malformed file; message in err, OUT) /
 * TK_ENOMEM. */
int tk_nabscore_load_results(tk_nabscore *c, const char *dir, const char *detector, const tk_nab_labels *labels,
                             char *err, size_t errlen);

#endif
