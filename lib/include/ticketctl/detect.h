/* Streaming anomaly detection over the server's per-second metrics records
 * (topic ticketctl.metrics, written by serve: {"ts": ms, "p99_ms": .., ...}).
 *
 * One numeric field of the record is the series (default p99_ms). Each new
 * record is scored by the same causal streaming detector `anomaly eval`
 * measures on NAB (ticketctl/online.h), of the kind the model file of
 * `anomaly train` holds (tk_online_open_model). A forest starts from the
 * model and, once it has seen as many records as the model was trained on,
 * refits every K records on the trailing window (K and the window come
 * from the model); cad replays the model's training rows (its range frozen
 * at theirs) and learns every record after, with no refit. score >= threshold is an anomalous record,
 * and so is a value more than three training ranges outside the training
 * range (the range guard, a labelled rule: isolation does not
 * extrapolate). Every scored record is stored as an anomaly_results row
 * (migration 5; features = {"rule": "forest"|"cad"|"range_guard"|"none"}) when a
 * database is given. An incident starts after `persist` consecutive
 * anomalous records (a lone outlier second, such as latency dropping after
 * a spike, does not page anyone) and ends after `rearm` consecutive normal
 * ones; the webhook (Slack-compatible {"text": ...}) is posted once per
 * incident. */
#ifndef TICKETCTL_DETECT_H
#define TICKETCTL_DETECT_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "ticketctl/iforest.h"
#include "ticketctl/nab.h"
#include "ticketctl/online.h"

/* Read every record currently in `topic` (all partitions, from the start
 * to the end seen at call time, at most `max` records, at most timeout_ms)
 * with "ts" >= since_ms (ms since the epoch; 0 = all) into a series of
 * `field` values; ts in seconds. Records without the field, and seconds
 * with no requests, are skipped. Returns 0 (the caller frees with
 * tk_nab_series_free) or -1 with a message in err (no broker, no records). */
int tk_metrics_read_topic(const char *brokers, const char *topic, const char *field, size_t max, int timeout_ms,
                          int64_t since_ms, tk_nab_series *out, char *err /* OUT */, size_t errlen);

typedef struct tk_detect_config {
    const char *brokers, *topic; /* topic default "ticketctl.metrics" */
    const char *field;           /* default "p99_ms" */
    const char *model_path;      /* written by `anomaly train` */
    double threshold;            /* default TK_DETECT_THRESHOLD when 0 */
    unsigned rearm;              /* normal windows that end an incident (default 10) */
    unsigned persist;            /* anomalous windows in a row that start one (0: tk_detect_default_persist) */
    const char *mysql_url;       /* store anomaly_results here, or NULL */
    const char *webhook;         /* alert here, or NULL */
    int from_beginning;          /* replay the topic instead of starting at its end */
    int64_t idle_exit_ms;        /* stop after this long without a record; 0 = never */
    volatile sig_atomic_t *stop;
    int verbose;
} tk_detect_config;

/* The forest's fixed threshold, set in advance (the `fixed` row of
 * `anomaly eval --detector forest`). */
#define TK_DETECT_THRESHOLD 0.7

/* detect's default persist for a detector kind: 2 anomalous records in a
 * row, or 1 for cad (its score is non-zero only on a record nothing
 * predicted, and the next records of a lasting change are soon predicted:
 * measured on NAB, eval's alert figure (raw cad score >= 0.75 or the range
 * guard, rearm 10), standard profile: persist 2 17.0, persist 1 48.7). */
unsigned tk_detect_default_persist(tk_online_kind kind);

typedef struct tk_detect_stats {
    uint64_t records, anomalies, incidents, alerts_sent, alert_failures, stored, refits;
    double max_score;
} tk_detect_stats;

/* Run until *stop or idle_exit_ms. Returns 0, or -1 with a message in err
 * (bad model metadata, broker or database set-up failures). */
int tk_detect_run(const tk_detect_config *cfg, tk_detect_stats *stats /* OUT */, char *err /* OUT */,
                  size_t errlen);

#endif
