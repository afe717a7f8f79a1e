/* Causal, streaming anomaly detectors: one value at a time, each scored
 * before it is learnt, so the score of record t depends on records 0..t
 * only (NAB's rule: "detections must be made on the fly"). The same code
 * runs in `anomaly eval` over NAB files and in `anomaly detect` over the
 * metrics stream. Every score is in [0, 1], high = anomalous.
 *
 * Detectors:
 *   wgauss  NAB's windowed Gaussian (numenta/NAB detectors/gaussian, the
 *           version behind NAB's published results): mean and population
 *           std of up to `window` (6400) past values, refreshed every
 *           `step` (100) values once the window is full; score = 1 - Q(|z|),
 *           Q the standard normal tail (0.5 erfc(z / sqrt 2)); 0 for the
 *           first record, std 0 counts as 1e-6.
 *   zscore  rolling z-score: z over the `window` (48) values before t
 *           (population std); score |z| / (1 + |z|).
 *   forest  Isolation Forest (Liu, Ting & Zhou, ICDM 2008) over scale-free
 *           features of v and the values before it (see online.c); with
 *           the trees' own score s = 2^(-E[h]/c(psi)); quiet (score 0)
 *           until `probation` records have been seen, first fitted then on
 *           the features of those records, refitted every `refit` records
 *           on the features of the last `train_window` records (seed + k
 *           for the k-th fit), so it trains on the past only. A value
 *           beyond every training value scores like the most extreme one
 *           (isolation does not extrapolate), hence detect's range guard.
 *   ensemble  forest and wgauss (6400/100) side by side, raw score the
 *           mean of the two.
 *   cad     contextual anomaly detector (CAD OSE, NAB 69.9; ticketctl/cad.h)
 *           with NAB's parameters, rest = probation / 5, the range of the
 *           first `probation` records (frozen after them, see below).
 *   relent  relative entropy with multiple hypotheses (Wang et al. 2011,
 *           NAB's parameters; ticketctl/relent.h): `window` (52) records,
 *           range fixed by the first `probation` records; scores 0 or 1.
 *
 * Post-processing (any detector; 0 = off):
 *   likelihood  Numenta's anomaly likelihood (Ahmad, Lavin, Purdy, Agha,
 *           "Unsupervised real-time anomaly detection for streaming data",
 *           Neurocomputing 262, 2017, eq. 5-6): the mean of the last
 *           `lik_short` raw scores against the mean and std of the last
 *           `likelihood` raw scores, z_L = (short - mean) / std; the output
 *           is 0.5 + 0.5 z_L / (1 + |z_L|), a monotone map of the paper's
 *           1 - Q(z_L) that does not round to 1 for large z_L.
 *   suppress  after a record scored s, the next `suppress` records output
 *           0 unless they score above s (one detection per event: NAB
 *           counts only the earliest detection in a window and charges
 *           every other one as a false positive outside it). With
 *           suppress_probation f, suppress = f x probation: NAB gives every
 *           detector the probation length, 15% of the file up to 750, so
 *           the length scales with the file as NAB's windows do (measured:
 *           f = 0.5 over 0.3..1.0 and fixed 100..800 records). */
#ifndef TICKETCTL_ONLINE_H
#define TICKETCTL_ONLINE_H

#include <stddef.h>
#include <stdint.h>

#include "ticketctl/iforest.h"

typedef enum tk_online_kind {
    TK_ONLINE_WGAUSS = 0,
    TK_ONLINE_ZSCORE,
    TK_ONLINE_FOREST,
    TK_ONLINE_ENSEMBLE, /* forest and wgauss (NAB's 6400/100), mean of the two raw scores */
    TK_ONLINE_RELENT,   /* relative entropy, Wang et al. 2011 (ticketctl/relent.h) */
    TK_ONLINE_CAD,      /* contextual anomaly detector, CAD OSE (ticketctl/cad.h) */
} tk_online_kind;

typedef struct tk_online_params {
    tk_online_kind kind;
    unsigned window;        /* wgauss / zscore / forest feature window, records */
    unsigned step;          /* wgauss: refresh the statistics every step records */
    size_t probation;       /* forest: records before the first fit (>= 16) */
    unsigned refit;         /* forest: refit every refit records (0 = never) */
    unsigned train_window;  /* forest: fit on the last train_window records */
    tk_iforest_params forest;
    unsigned likelihood;    /* long window of the anomaly likelihood (0 = off) */
    unsigned lik_short;     /* its short window (default 10) */
    unsigned suppress;      /* records of suppression after a score (0 = off) */
    double suppress_probation; /* when suppress is 0: suppress = this x probation records */
    /* cad: the range. Causal default: the running min/max of the first
     * `probation` records, frozen after them; grow_range: it keeps growing.
     * range_set: [range_lo, range_hi] given (NAB hands detectors the whole
     * file's min/max: look-ahead, for checking against NAB's published
     * runs only). */
    int grow_range, range_set;
    double range_lo, range_hi;
    long cad_rest;          /* cad: rest period, records; -1 = probation / 5 (NAB's) */
} tk_online_params;

/* Defaults of a detector kind (NAB's for wgauss; by measurement for the
 * rest: the tables are in scripts/nab-eval's output, reports/out/). */
void tk_online_defaults(tk_online_kind kind, tk_online_params *p);

/* "wgauss", "zscore", "forest" -> kind; 0, or -1 when unknown. */
int tk_online_kind_parse(const char *name, tk_online_kind *kind);
const char *tk_online_kind_name(tk_online_kind kind);

typedef struct tk_online tk_online;

/* A new detector. NULL with a message in err (OUT) on bad parameters or
 * no memory. Free with tk_online_free() (NULL is a no-op). */
tk_online *tk_online_new(const tk_online_params *p, char *err, size_t errlen);
void tk_online_free(tk_online *d);

/* Score `value` against what the detector has seen so far, then learn it.
 * Returns the score in [0, 1]. A forest refit happens inside the call that
 * completes a refit period (cost: one tk_iforest_train). Non-finite values
 * score 1 and are not learnt. */
double tk_online_update(tk_online *d, double value);

/* The last score before suppression (what `anomaly detect` thresholds:
 * its incident logic does the suppressing there); for cad, before its rest
 * period too. */
double tk_online_unsuppressed(const tk_online *d);

/* The current forest (NULL before the first fit or for other kinds), owned
 * by d, and the number of fits so far. */
const tk_iforest *tk_online_forest(const tk_online *d);
unsigned tk_online_fits(const tk_online *d);

/* Hand a forest to d (on 0 d owns it; on -1 the caller still does), e.g. a model trained by `anomaly train`, with
 * the feature normalisation it was fitted with (mean, sd > 0 of the
 * training values). It is used until d has seen `probation` records of its
 * own, then refitted as usual. -1 for another kind or dims !=
 * tk_online_dims(). */
int tk_online_set_forest(tk_online *d, tk_iforest *f, double mean, double sd);

/* Take the current forest out of d (the caller frees it; NULL if none) with
 * its normalisation, e.g. to save it as a model file. */
tk_iforest *tk_online_take_forest(tk_online *d, double *mean, double *sd);

/* Attributes of the forest's features (see online.c). */
size_t tk_online_dims(void);

/* A model file (`anomaly train`) is an Isolation Forest file
 * (ticketctl/iforest.h) whose metadata is
 *   "online window=W train=T refit=K rows=N mean=M sd=S range=LO,HI"
 * W: the feature window; T, K: refit on the last T records every K
 * records; N: training rows (detect refits once it has seen N records of
 * its own); M, S: the feature normalisation (mean and std of the training
 * values); LO, HI: the training range of the raw value (detect's range
 * guard). Write it into buf / read it back (0, or -1 when meta is not of
 * this form). */
typedef struct tk_online_model {
    tk_online_kind kind;    /* forest, or cad (a cad model file, below) */
    unsigned window, train_window, refit;
    size_t rows;
    double mean, sd, lo, hi;
} tk_online_model;

/* `anomaly train`: fit the forest of a forest detector p on the features of
 * v[n] (the last p->train_window rows of it), the same fit the streaming
 * detector makes at the end of its probation. *out: the forest (caller
 * frees), its metadata already set as above; *m: the same fields. Returns
 * TK_OK, or TK_EINVAL (n < 16, not a forest kind, bad parameters) /
 * TK_ENOMEM with a message in err (OUT). */
int tk_online_train(const tk_online_params *p, const double *v, size_t n, tk_iforest **out, tk_online_model *m,
                    char *err, size_t errlen);

/* The streaming forest detector of a model file's forest (see above): it
 * scores with `model` until it has seen m->rows records of its own, then
 * refits every m->refit records on the last m->train_window, as in eval
 * (no suppression). On success d owns model and *m holds the metadata; on
 * NULL (metadata not of this form, dims mismatch, no memory; message in
 * err, OUT) the caller still owns model. */
tk_online *tk_online_from_model(tk_iforest *model, tk_online_model *m, char *err, size_t errlen);

/* A cad model file (`anomaly train --detector cad`) is text:
 *   "ticketctl cad model v1 rows=N range=LO,HI" then the N training values,
 * one a line. CAD learns as it goes, so its model is what it learns from
 * those rows: detect replays them into a fresh detector whose range is
 * frozen at the training range (the calibration), then goes on learning
 * from the stream; its rest period is 0 there (detect's incident logic
 * does the one-alert-per-event). Save: TK_OK, or TK_EINVAL (n < 16, a
 * non-finite value) / TK_EIO with a message in err (OUT). */
int tk_online_cad_model_save(const char *path, const double *v, size_t n, char *err, size_t errlen);

/* Open a model file of either kind (a cad model, or a forest model as
 * tk_online_from_model takes it): the streaming detector (caller frees) and
 * *m (kind, rows, lo/hi: the training range for detect's range guard). NULL
 * with a message in err (OUT) when the file is missing or not a model. */
tk_online *tk_online_open_model(const char *path, tk_online_model *m, char *err, size_t errlen);

void tk_online_meta_write(const tk_online_model *m, char *buf, size_t len);
int tk_online_meta_read(const char *meta, tk_online_model *m);

/* Run a detector over a whole series (values v[n]) into scores[n]: the
 * same calls as streaming. Returns TK_OK or TK_EINVAL / TK_ENOMEM. */
int tk_online_run(const tk_online_params *p, const double *v, size_t n, double *scores, char *err, size_t errlen);

/* Incident logic of `anomaly detect` (and of eval's alert figure): an
 * incident starts after `persist` anomalous records in a row and ends after
 * `rearm` normal ones in a row; one alert per incident. */
typedef struct tk_incident {
    unsigned persist, rearm; /* >= 1 */
    unsigned anomalous_run, normal_run;
    int active;
} tk_incident;

/* Feed one verdict; returns 1 when this record starts an incident (alert). */
int tk_incident_step(tk_incident *in, int anomalous);

#endif
