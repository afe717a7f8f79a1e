/* `anomaly eval`: run one causal detector (ticketctl/online.h) over every
 * labelled NAB file, optionally write NAB results files, and collect the
 * per-record scores and the incident alerts into two NAB-scored corpora
 * (ticketctl/nabscore.h).
 *
 * Files: for each key "<folder>/<file>.csv" of the labels, DIR/<key>, or
 * DIR/<file> when DIR itself is the folder. Keys whose file is absent are
 * skipped (and counted), so one folder can be evaluated against the
 * combined label file.
 *
 * Results files (NAB's layout and columns, readable by NAB's scorer):
 * OUT/<detector>/<folder>/<detector>_<file>.csv with
 * timestamp,value,anomaly_score,label (label 1 inside a window, %.12g
 * scores as NAB's detectors write them). */
#ifndef TICKETCTL_NABEVAL_H
#define TICKETCTL_NABEVAL_H

#include <stddef.h>

#include "ticketctl/nab.h"
#include "ticketctl/nabscore.h"
#include "ticketctl/online.h"

typedef struct tk_nabeval_config {
    const char *dir;           /* NAB data root or one of its folders */
    const tk_nab_labels *labels;
    const char *detector;      /* results name (no '_', NAB splits on it) */
    tk_online_params params;   /* the detector */
    const char *results_dir;   /* write results files here, or NULL */
    double alert_threshold;    /* detect's fixed threshold */
    unsigned persist, rearm;   /* incident logic (tk_incident; 0 = detect's 2 and 10) */
    int nab_range;             /* hand cad / relent each file's min and max, as NAB does (look-ahead:
                                * only for checking our detectors against NAB's published runs) */
} tk_nabeval_config;

typedef struct tk_nabeval_stats {
    size_t files, skipped, rows;
    double cpu_ms;             /* detector CPU time over all rows, ms */
} tk_nabeval_stats;

/* Run. scores gets the per-record scores; alerts gets 1.0 at every record
 * that starts an incident and 0 elsewhere (score it at threshold 1): the
 * incident logic of `anomaly detect` (persist, rearm) over what detect
 * thresholds, the unsuppressed score >= alert_threshold, or the range guard
 * (a value more than 3 ranges outside the range of the probation records,
 * which the first fit was trained on).
 * Both corpora are created here (the caller frees them). Returns TK_OK, or
 * an error code with a message in err (OUT). */
int tk_nabeval_run(const tk_nabeval_config *cfg, tk_nabscore **scores, tk_nabscore **alerts,
                   tk_nabeval_stats *st, char *err, size_t errlen);

#endif
