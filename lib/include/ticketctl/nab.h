/* Numenta Anomaly Benchmark (NAB) data: series and label loading.
 *
 * Data: NAB CSV files (header `timestamp,value`, timestamps
 * "YYYY-MM-DD HH:MM:SS" in UTC) and NAB results files (`timestamp,value,
 * anomaly_score,label`), and NAB's combined_windows.json
 * ("<folder>/<file>.csv" -> [[start, end], ...], timestamps
 * "YYYY-MM-DD HH:MM:SS.ffffff"). Our copy: ../shared/data/nab (MIT licence).
 * Scoring is in ticketctl/nabscore.h, the detectors in ticketctl/online.h. */
#ifndef TICKETCTL_NAB_H
#define TICKETCTL_NAB_H

#include <stddef.h>
#include <stdint.h>

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

#endif
