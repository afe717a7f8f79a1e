/* ticketctl anomaly: train / score / eval / bench an Isolation Forest on
 * NAB-format metric series. Parsing and printing only; the forest, features,
 * scoring and baseline live in lib/iforest.c and lib/nab.c. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/common.h"
#include "ticketctl/iforest.h"
#include "ticketctl/nab.h"
#include "ticketctl/nabscore.h"
#include "ticketctl/nabeval.h"
#include "ticketctl/online.h"

#include <stddef.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>

#include "ticketctl/backend.h"
#include "ticketctl/detect.h"
#include "ticketctl/devstack.h"

enum { OPT_FROM = 256, OPT_MODEL, OPT_TREES, OPT_SAMPLE, OPT_SEED, OPT_WINDOW, OPT_TOPIC, OPT_JSON, OPT_LABELS,
       OPT_THRESHOLD, OPT_POINTS, OPT_DIMS, OPT_REPEAT, OPT_WEBHOOK, OPT_METRIC, OPT_KAFKA, OPT_MYSQL, OPT_STATE,
       OPT_REARM, OPT_IDLE, OPT_BEGIN, OPT_VERBOSE, OPT_NOSTORE, OPT_PERSIST, OPT_SINCE, OPT_DETECTOR, OPT_NABRES,
       OPT_REFIT, OPT_TRAINWIN, OPT_LIK, OPT_LIKSHORT, OPT_SUPPRESS, OPT_SUPPROB, OPT_STEP,
       OPT_NABRANGE, OPT_GROWRANGE };

/* One row per flag; each subcommand's table lists the rows it reads. */
#define R_FROM {.id = OPT_FROM, .name = "from", .type = TK_OPT_STR, .arg = "FILE.csv", .help = "the series (NAB format: timestamp,value)"}
#define R_FROM_X {.id = OPT_FROM, .name = "from", .type = TK_OPT_STR, .arg = "X.csv", .help = "attributes: a header line, then numbers"}
#define R_MODEL(H) {.id = OPT_MODEL, .name = "model", .type = TK_OPT_STR, .arg = "FILE", .help = H}
#define R_TOPIC(H) {.id = OPT_TOPIC, .name = "topic", .type = TK_OPT_STR, .arg = "NAME", .help = H}
#define R_METRIC {.id = OPT_METRIC, .name = "metric", .type = TK_OPT_STR, .arg = "FIELD", .help = "the record field (default p99_ms)"}
#define R_SINCE                                                                                                   \
    {.id = OPT_SINCE, .name = "since", .type = TK_OPT_INT, .arg = "MS", .min = 0, .max = INT64_MAX,                  \
     .help = "only records from this time on (ms since the epoch), e.g. to\nleave out a warm-up or an old incident"}
#define R_JSON {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG, .help = "JSON on stdout"}
#define R_LABELS {.id = OPT_LABELS, .name = "labels", .type = TK_OPT_STR, .arg = "FILE", .help = "NAB's combined_windows.json"}
#define R_THRESHOLD                                                                                               \
    {.id = OPT_THRESHOLD, .name = "threshold", .type = TK_OPT_REAL, .arg = "T", .lo = -1e300, .hi = 1e300,           \
     .help = "the fixed threshold (default: forest 0.70)"}
#define R_PERSIST                                                                                                 \
    {.id = OPT_PERSIST, .name = "persist", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1000,                    \
     .help = "an incident starts after N anomalous records in a row\n(default 2; cad 1)"}
#define R_REARM                                                                                                   \
    {.id = OPT_REARM, .name = "rearm", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 100000,                      \
     .help = "... and ends after N normal ones (default 10)"}
#define R_KAFKA TK_OPT_ROW_KAFKA(OPT_KAFKA)
#define R_MYSQL TK_OPT_ROW_MYSQL(OPT_MYSQL)
#define R_STATE TK_OPT_ROW_STATE(OPT_STATE)
#define R_DETECTOR(H) {.id = OPT_DETECTOR, .name = "detector", .type = TK_OPT_STR, .arg = "NAME", .help = H}
#define DETECTORS_HELP                                                                                            \
    "cad (eval's default), forest (train's default), ensemble\n(forest + wgauss), relent (relative entropy, Wang "    \
    "et al.\n2011), wgauss (NAB's windowed Gaussian), zscore (rolling z-score)"
#define R_TREES {.id = OPT_TREES, .name = "trees", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = TK_IFOREST_MAX_TREES, .help = "trees (default 100)"}
#define R_SAMPLE {.id = OPT_SAMPLE, .name = "sample", .type = TK_OPT_INT, .arg = "N", .min = 2, .max = TK_IFOREST_MAX_PSI, .help = "subsample size psi (default 256)"}
#define R_SEED {.id = OPT_SEED, .name = "seed", .type = TK_OPT_INT, .arg = "S", .min = 0, .max = INT64_MAX, .help = "generator seed (default 1; fit k uses S + k)"}
/* The detector's tuning: applied over --detector's defaults (det_opts). */
#define R_TUNING                                                                                                  \
    {.id = OPT_GROWRANGE, .name = "grow-range", .type = TK_OPT_FLAG,                                                 \
     .help = "cad: the range keeps growing (default: frozen after\nprobation)"},                                     \
    R_TREES, R_SAMPLE, R_SEED,                                                                                     \
    {.id = OPT_WINDOW, .name = "window", .type = TK_OPT_INT, .arg = "N", .min = 2, .max = 1000000,                   \
     .help = "feature window (forest, default 8) / statistics window\n(wgauss 6400, zscore 48)"},                   \
    {.id = OPT_REFIT, .name = "refit", .type = TK_OPT_INT, .arg = "K", .min = 0, .max = 1000000,                     \
     .help = "forest: refit every K records (default 64; 0 = never)"},                                               \
    {.id = OPT_TRAINWIN, .name = "train-window", .type = TK_OPT_INT, .arg = "T", .min = 16, .max = 1000000,          \
     .help = "forest: fit on the last T records (default 6400)"},                                                    \
    {.id = OPT_STEP, .name = "step", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1000000,                       \
     .help = "wgauss: refresh the statistics every N records (default\n100)"},                                       \
    {.id = OPT_SUPPRESS, .name = "suppress", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = 1000000,               \
     .help = "after a score s, zero the next N scores unless above s"},                                              \
    {.id = OPT_SUPPROB, .name = "suppress-probation", .type = TK_OPT_REAL, .arg = "F", .lo = -1e300, .hi = 1e300,    \
     .help = "suppress F x probation records (forest default 0.50)"},                                                \
    {.id = OPT_LIK, .name = "likelihood", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = 1000000,                  \
     .help = "Numenta's anomaly likelihood over N raw scores (0 = off)"},                                            \
    {.id = OPT_LIKSHORT, .name = "likelihood-short", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1000000,       \
     .help = "its short window (default 10)"}

static const tk_opt train_rows[] = {
    R_FROM, R_TOPIC("or: the --metric field of every record in this Kafka topic"),
    R_MODEL("where to save the model"), R_METRIC, R_SINCE, R_DETECTOR("forest (default) or cad"), R_TUNING,
    R_KAFKA, R_STATE, TK_OPT_ROW_END,
};
static const tk_opt detect_rows[] = {
    R_MODEL("the model `anomaly train` wrote"),
    R_TOPIC("the metrics topic (default ticketctl.metrics)"),
    R_METRIC,
    {.id = OPT_WEBHOOK, .name = "webhook", .type = TK_OPT_STR, .arg = "URL",
     .help = "POST a Slack-style alert here once per incident"},
    R_THRESHOLD, R_PERSIST, R_REARM,
    {.id = OPT_BEGIN, .name = "from-beginning", .type = TK_OPT_FLAG, .help = "read the topic from its start"},
    {.id = OPT_IDLE, .name = "idle-exit", .type = TK_OPT_DURATION, .arg = "DUR", .help = "stop after DUR without a record"},
    {.id = OPT_VERBOSE, .name = "verbose", .type = TK_OPT_FLAG, .help = "log every scored record"},
    {.id = OPT_NOSTORE, .name = "no-store", .type = TK_OPT_FLAG, .help = "do not store the records in anomaly_results"},
    R_KAFKA, R_MYSQL, R_STATE, R_JSON, TK_OPT_ROW_END,
};
static const tk_opt score_rows[] = {R_MODEL("the model `anomaly train` wrote"), R_FROM, R_JSON, TK_OPT_ROW_END};
static const tk_opt eval_rows[] = {
    R_LABELS, R_DETECTOR(DETECTORS_HELP),
    {.id = OPT_NABRES, .name = "nab-results", .type = TK_OPT_STR, .arg = "OUT",
     .help = "write OUT/<detector>/<folder>/<detector>_<file>.csv for\nNAB's scorer"},
    {.id = OPT_NABRANGE, .name = "nab-range", .type = TK_OPT_FLAG,
     .help = "hand cad/relent each file's min/max as NAB does\n(LOOK-AHEAD: only to check against NAB's published runs)"},
    R_THRESHOLD, R_PERSIST, R_REARM, R_TUNING, R_JSON, TK_OPT_ROW_END,
};
static const tk_opt nabscore_rows[] = {
    R_LABELS, R_DETECTOR("the results folder's detector name (NAB's own too)"), R_THRESHOLD, R_JSON, TK_OPT_ROW_END,
};
static const tk_opt bench_rows[] = {
    {.id = OPT_POINTS, .name = "points", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 100000000,
     .help = "points to score (default 1000000)"},
    {.id = OPT_DIMS, .name = "dims", .type = TK_OPT_INT, .arg = "D", .min = 1, .max = TK_IFOREST_MAX_DIMS,
     .help = "attributes per point (default 3)"},
    {.id = OPT_REPEAT, .name = "repeat", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000,
     .help = "training repetitions (default 20)"},
    R_DETECTOR(DETECTORS_HELP), R_TUNING, R_JSON, TK_OPT_ROW_END,
};
static const tk_opt forest_rows[] = {R_FROM_X, R_TREES, R_SAMPLE, R_SEED, TK_OPT_ROW_END};

static const tk_optset train_set = {
    .cmd = "anomaly train",
    .synopsis = "anomaly train --from FILE.csv|--topic NAME --model OUT [--detector forest|cad] [options]",
    .about = "Fit the forest on the last T rows of FILE.csv (NAB format) or of the --metric\n"
             "field of every record in the Kafka topic NAME, and save it to OUT. The model\n"
             "file holds the forest and 'online window=W train=T refit=K rows=N mean=M\n"
             "sd=S range=LO,HI': the feature settings, the refit schedule, the training\n"
             "size, the feature normalisation and the training range (range guard).\n"
             "--detector cad writes a cad model instead: 'ticketctl cad model v1 rows=N\n"
             "range=LO,HI' and the N training values, one a line (CAD learns as it goes:\n"
             "detect replays them, its range frozen at theirs, and never refits).",
    .opts = train_rows,
};
static const tk_optset detect_set = {
    .cmd = "anomaly detect",
    .synopsis = "anomaly detect --model M [--topic NAME] [--metric FIELD] [--webhook URL] [options]",
    .about = "Score each new record of the metrics topic (default ticketctl.metrics, field\n"
             "p99_ms) with the model's streaming detector. A forest, once it has seen N\n"
             "records of its own, refits every K records on the last T; cad learns every\n"
             "record (no refit, rest period 0). A value more than 3 training ranges outside\n"
             "the training range is anomalous whatever the score (range guard). Stores every\n"
             "record in anomaly_results (unless --no-store) and POSTs a Slack-style alert to\n"
             "--webhook once per incident (an incident starts after --persist anomalous\n"
             "records in a row, default 2 (cad: 1, its score fires on the one record nothing\n"
             "predicted), and ends after --rearm normal ones, default 10).",
    .opts = detect_rows,
};
static const tk_optset score_set = {
    .cmd = "anomaly score",
    .synopsis = "anomaly score --model M --from FILE.csv [--json]",
    .about = "Print timestamp,value,score per row of FILE.csv, streamed as detect does.",
    .opts = score_rows,
};
static const tk_optset eval_set = {
    .cmd = "anomaly eval",
    .synopsis = "anomaly eval DIR --labels combined_windows.json [--detector NAME] [options]",
    .about = "Run one detector over every labelled NAB file under DIR (the NAB data root\n"
             "or one folder), causally, and score it with NAB's rules: three profiles,\n"
             "NAB's corpus threshold optimisation beside a fixed threshold, and the\n"
             "incident (persist/rearm) output as a second figure.",
    .opts = eval_rows,
};
static const tk_optset nabscore_set = {
    .cmd = "anomaly nabscore",
    .synopsis = "anomaly nabscore DIR --labels combined_windows.json --detector NAME [--json]",
    .about = "Score NAB results files (NAB's own results/<detector>, or eval's).",
    .opts = nabscore_rows,
};
static const tk_optset bench_set = {
    .cmd = "anomaly bench",
    .synopsis = "anomaly bench [--points N] [--trees N] [--sample N] [--dims D] [options]",
    .about = "Time training and scoring on synthetic data, and the streaming forest's\n"
             "cost per record (one thread).",
    .opts = bench_rows,
};
static const tk_optset forest_set = {
    .cmd = "anomaly forest",
    .synopsis = "anomaly forest --from X.csv [--trees N] [--sample N] [--seed S]",
    .about = "The bare Isolation Forest: train on every row of a CSV of attributes\n"
             "(header line, then numbers), print one score per row.",
    .opts = forest_rows,
};

static const tk_optset *const anomaly_subs[] = {&train_set,    &detect_set, &score_set,  &eval_set,
                                                &nabscore_set, &bench_set,  &forest_set, NULL};

const tk_optset tk_optset_anomaly = {
    .cmd = "anomaly",
    .synopsis = "anomaly train|detect|score|eval|nabscore|bench|forest [options]",
    .about = "Causal streaming anomaly detectors (lib/online.c) on metric series: every record\n"
             "is scored before it is learnt, and scores are in [0,1]. The forest is an\n"
             "Isolation Forest (Liu, Ting & Zhou, ICDM 2008) on scale-free features, refitted\n"
             "every K records on the trailing T records. cad is the contextual anomaly detector\n"
             "(CAD OSE, as in NAB) with a causal range: eval's default, the best measured on NAB.",
    .opts = tk_opt_no_rows,
    .subs = anomaly_subs,
};

typedef struct opts {
    const char *from, *model, *labels, *topic;
    const char *webhook, *metric, *kafka, *mysql, *state, *detector, *nab_results;
    int64_t rearm, idle_exit_ms, persist, since_ms;
    int from_beginning, verbose, no_store, nab_range, grow_range;
    int json;
    double threshold;
    int threshold_set, detector_known;
    tk_online_params online; /* the --detector's defaults with the options applied */
    int64_t points, dims, repeat;
} opts;

/* Detector options are applied after --detector's defaults, whatever their
 * order on the command line: one row per option. */
typedef struct det_opt {
    int opt;
    const char *name;
    int64_t min, max;
    size_t off;  /* offset of an unsigned field in tk_online_params, or ... */
    int kind;    /* 0 unsigned field, 1 forest.trees, 2 forest.psi, 3 forest.seed, 4 suppress_probation */
} det_opt;

static const det_opt det_opts[] = {
    {OPT_WINDOW, "window", 2, 1000000, offsetof(tk_online_params, window), 0},
    {OPT_REFIT, "refit", 0, 1000000, offsetof(tk_online_params, refit), 0},
    {OPT_TRAINWIN, "train-window", 16, 1000000, offsetof(tk_online_params, train_window), 0},
    {OPT_LIK, "likelihood", 0, 1000000, offsetof(tk_online_params, likelihood), 0},
    {OPT_LIKSHORT, "likelihood-short", 1, 1000000, offsetof(tk_online_params, lik_short), 0},
    {OPT_SUPPRESS, "suppress", 0, 1000000, offsetof(tk_online_params, suppress), 0},
    {OPT_STEP, "step", 1, 1000000, offsetof(tk_online_params, step), 0},
    {OPT_TREES, "trees", 1, TK_IFOREST_MAX_TREES, 0, 1},
    {OPT_SAMPLE, "sample", 2, TK_IFOREST_MAX_PSI, 0, 2},
    {OPT_SEED, "seed", 0, INT64_MAX, 0, 3},
    {OPT_SUPPROB, "suppress-probation", 0, 0, 0, 4},
};
#define NDET_OPTS (sizeof det_opts / sizeof det_opts[0])

static void apply_det_opt(const det_opt *d, const tk_optval *v, tk_online_params *p)
{
    switch (d->kind) {
    case 0: *(unsigned *)((char *)p + d->off) = (unsigned)v->i; break;
    case 1: p->forest.trees = (uint32_t)v->i; break;
    case 2: p->forest.psi = (uint32_t)v->i; break;
    case 3: p->forest.seed = (uint64_t)v->i; break;
    default: p->suppress_probation = v->d; p->suppress = 0; break;
    }
}

/* Parse the options after the subcommand word with its table; returns -1
 * to go on, else the exit code (0 after --help, 2 usage). */
static int parse_opts(const tk_optset *set, int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->points = 1000000;
    o->dims = 3;
    o->repeat = 20;
    tk_optval given[NDET_OPTS];
    int have[NDET_OPTS] = {0};
    int c;
    tk_optparse p = {0};
    tk_optval v;
    while ((c = tk_opt_next(&p, set, argc, argv, &v)) > 0) {
        size_t k = 0;
        while (k < NDET_OPTS && det_opts[k].opt != c)
            k++;
        if (k < NDET_OPTS) {
            given[k] = v;
            have[k] = 1;
            continue;
        }
        switch (c) {
        case OPT_FROM: o->from = v.str; break;
        case OPT_MODEL: o->model = v.str; break;
        case OPT_LABELS: o->labels = v.str; break;
        case OPT_TOPIC: o->topic = v.str; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_THRESHOLD: o->threshold = v.d, o->threshold_set = 1; break;
        case OPT_DETECTOR: o->detector = v.str; break;
        case OPT_NABRES: o->nab_results = v.str; break;
        case OPT_POINTS: o->points = v.i; break;
        case OPT_DIMS: o->dims = v.i; break;
        case OPT_REPEAT: o->repeat = v.i; break;
        case OPT_WEBHOOK: o->webhook = v.str; break;
        case OPT_METRIC: o->metric = v.str; break;
        case OPT_KAFKA: o->kafka = v.str; break;
        case OPT_MYSQL: o->mysql = v.str; break;
        case OPT_STATE: o->state = v.str; break;
        case OPT_REARM: o->rearm = v.i; break;
        case OPT_IDLE: o->idle_exit_ms = v.i; break;
        case OPT_BEGIN: o->from_beginning = 1; break;
        case OPT_VERBOSE: o->verbose = 1; break;
        case OPT_NOSTORE: o->no_store = 1; break;
        case OPT_NABRANGE: o->nab_range = 1; break;
        case OPT_GROWRANGE: o->grow_range = 1; break;
        case OPT_SINCE: o->since_ms = v.i; break;
        case OPT_PERSIST: o->persist = v.i; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    /* (nabscore's --detector names any results folder, e.g. NAB's own) */
    tk_online_kind kind = TK_ONLINE_FOREST;
    o->detector_known = !o->detector || tk_online_kind_parse(o->detector, &kind) == 0;
    tk_online_defaults(kind, &o->online);
    for (size_t k = 0; k < NDET_OPTS; k++)
        if (have[k])
            apply_det_opt(&det_opts[k], &given[k], &o->online);
    o->online.grow_range = o->grow_range;
    return -1;
}

static int do_train(const opts *o)
{
    if ((!o->from == !o->topic) || !o->model) {
        fprintf(stderr, "anomaly train: one of --from FILE.csv or --topic NAME, and --model OUT, are required\n");
        return 2;
    }
    char err[512];
    tk_nab_series s;
    if (o->topic) {
        tk_backend b;
        if (tk_backend_resolve_some(&b, TK_NEED_KAFKA, NULL, NULL, o->kafka, o->state, 1, err, sizeof err) != 0 ||
            tk_metrics_read_topic(b.kafka, o->topic, o->metric ? o->metric : "p99_ms", 10000000, 60000, o->since_ms,
                                  &s, err, sizeof err) != 0) {
            fprintf(stderr, "anomaly train: %s\n", err);
            return 1;
        }
    } else if (tk_nab_load_csv(o->from, &s, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly train: %s\n", err);
        return 1;
    }
    tk_online_params p = o->online;
    int rc = 1;
    if (o->detector && p.kind == TK_ONLINE_CAD) {
        if (tk_online_cad_model_save(o->model, s.value, s.n, err, sizeof err) != TK_OK)
            fprintf(stderr, "anomaly train: %s\n", err);
        else {
            printf("cad model: %zu training rows -> %s (detect replays them, range frozen at theirs)\n", s.n,
                   o->model);
            rc = 0;
        }
        tk_nab_series_free(&s);
        return rc;
    }
    if (o->detector && p.kind != TK_ONLINE_FOREST) {
        fprintf(stderr, "anomaly train: --detector wants forest or cad\n");
        tk_nab_series_free(&s);
        return 2;
    }
    p.kind = TK_ONLINE_FOREST;
    tk_iforest *f = NULL;
    tk_online_model m;
    uint64_t t0 = tk_mono_us();
    if (tk_online_train(&p, s.value, s.n, &f, &m, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly train: %s\n", err);
        goto done;
    }
    uint64_t t1 = tk_mono_us();
    if (tk_iforest_save(f, o->model, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly train: %s\n", err);
        goto done;
    }
    printf("trained %u trees x %u samples on %zu rows (%zu features) in %.1f ms -> %s\n  %s\n",
           tk_iforest_trees(f), tk_iforest_psi(f), s.n < p.train_window ? s.n : (size_t)p.train_window,
           tk_online_dims(), (double)(t1 - t0) / 1000.0, o->model, tk_iforest_meta(f));
    rc = 0;
done:
    tk_iforest_free(f);
    tk_nab_series_free(&s);
    return rc;
}

static int do_score(const opts *o)
{
    if (!o->from || !o->model) {
        fprintf(stderr, "anomaly score: --model M and --from FILE.csv are required\n");
        return 2;
    }
    char err[512], ts[32];
    tk_online *d = NULL;
    tk_online_model m;
    tk_nab_series s = {0};
    int rc = 1;
    if (!(d = tk_online_open_model(o->model, &m, err, sizeof err))) {
        fprintf(stderr, "anomaly score: %s: %s\n", o->model, err);
        return 1;
    }
    if (tk_nab_load_csv(o->from, &s, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly score: %s\n", err);
        goto done;
    }
    json_t *arr = o->json ? json_array() : NULL;
    if (!o->json)
        printf("timestamp,value,score\n");
    for (size_t i = 0; i < s.n; i++) {
        double sc = tk_online_update(d, s.value[i]);
        tk_nab_format_time(s.ts[i], ts, sizeof ts);
        if (arr)
            json_array_append_new(arr, json_pack("{s:s,s:f,s:f}", "timestamp", ts, "value", s.value[i], "score", sc));
        else
            printf("%s,%.15g,%.6f\n", ts, s.value[i], sc);
    }
    if (arr) {
        json_t *root = json_pack("{s:s,s:I,s:o}", "model", o->model, "refits", (json_int_t)tk_online_fits(d), "rows",
                                 arr);
        json_dumpf(root, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
        putchar('\n');
        json_decref(root);
    }
    rc = 0;
done:
    tk_nab_series_free(&s);
    tk_online_free(d);
    return rc;
}

/* Read a CSV matrix (a header line of names, then rows of numbers, the same
 * count each) into a malloc'd row-major array. Returns 0 or -1 (message on
 * stderr). Front-end input for `anomaly forest`. */
static int read_matrix(const char *path, double **out, size_t *rows, size_t *dims)
{
    char *buf, err[512];
    size_t len;
    if (tk_read_file(path, 0, &buf, &len, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly forest: %s\n", err);
        return -1;
    }
    size_t cap = 1024, n = 0, d = 0, line = 0;
    double *x = malloc(cap * sizeof *x);
    char *save = NULL, *ln = strtok_r(buf, "\n", &save);
    int rc = -1;
    for (; ln && x; ln = strtok_r(NULL, "\n", &save)) {
        if (line++ == 0) {
            d = 1;
            for (char *p = ln; *p; p++)
                d += *p == ',';
            continue;
        }
        char *p = ln, *end;
        for (size_t k = 0; k < d; k++, p = end + 1) {
            double v = strtod(p, &end);
            int last = k + 1 == d;
            if (end == p || !isfinite(v) || (last ? (*end && *end != '\r') : *end != ',')) {
                fprintf(stderr, "anomaly forest: %s:%zu: want %zu numbers\n", path, line, d);
                goto done;
            }
            if (n == cap) {
                double *nx = realloc(x, (cap *= 2) * sizeof *x);
                if (!nx)
                    goto done;
                x = nx;
            }
            x[n++] = v;
        }
    }
    if (d == 0 || n == 0) {
        fprintf(stderr, "anomaly forest: %s: no rows\n", path);
        goto done;
    }
    *out = x;
    x = NULL;
    *rows = n / d;
    *dims = d;
    rc = 0;
done:
    free(x);
    free(buf);
    return rc;
}

/* anomaly forest --from X.csv: the bare Isolation Forest on given attributes
 * (train on every row, print one score per row), for the agreement test
 * with scikit-learn and the speed comparison. */
static int do_forest(const opts *o)
{
    if (!o->from) {
        fprintf(stderr, "anomaly forest: --from X.csv is required\n");
        return 2;
    }
    double *x = NULL;
    size_t n, d;
    if (read_matrix(o->from, &x, &n, &d) != 0)
        return 1;
    char err[256];
    uint64_t t0 = tk_mono_us();
    tk_iforest *f = tk_iforest_train(x, n, d, &o->online.forest, err, sizeof err);
    uint64_t t1 = tk_mono_us();
    double *sc = f ? malloc(n * sizeof *sc) : NULL;
    if (!f || !sc) {
        fprintf(stderr, "anomaly forest: %s\n", f ? "out of memory" : err);
        free(x);
        tk_iforest_free(f);
        return 1;
    }
    tk_iforest_score_many(f, x, n, sc);
    uint64_t t2 = tk_mono_us();
    printf("score\n");
    for (size_t i = 0; i < n; i++)
        printf("%.10f\n", sc[i]);
    fprintf(stderr, "anomaly forest: %zu x %zu, train %.2f ms, score %.2f ms\n", n, d, (double)(t1 - t0) / 1e3,
            (double)(t2 - t1) / 1e3);
    free(sc);
    free(x);
    tk_iforest_free(f);
    return 0;
}

/* NAB's three profiles of one corpus: optimised threshold, and the fixed
 * one when fixed >= 0. Returns a JSON object {profile: {...}} (new ref). */
static json_t *nab_profiles(const tk_nabscore *c, double fixed, int print, const char *label)
{
    json_t *root = json_object();
    if (print)
        printf("%-26s %-20s %9s %9s %8s %8s %7s %9s\n", label, "profile", "threshold", "raw", "null", "perfect",
               "hit", "NAB");
    for (size_t k = 0; k < TK_NABSCORE_NPROFILES; k++) {
        const tk_nabscore_profile *p = &tk_nabscore_profiles[k];
        tk_nabscore_result r[2];
        int n = 0;
        if (tk_nabscore_optimise(c, p, &r[n]) == TK_OK)
            n++;
        if (fixed >= 0 && tk_nabscore_at(c, p, fixed, &r[n]) == TK_OK)
            n++;
        json_t *pj = json_object();
        for (int i = 0; i < n; i++) {
            const char *kind = i == 0 ? "optimised" : "fixed";
            if (print)
                printf("%-26s %-20s %9.6g %9.2f %8.1f %8.1f %3zu/%-3zu %9.2f\n", i == 0 ? "  optimised" : "  fixed",
                       p->name, r[i].threshold, r[i].raw, r[i].null_score, r[i].perfect, r[i].windows_hit,
                       r[i].windows, r[i].normalised);
            json_object_set_new(pj, kind,
                                json_pack("{s:f,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I}", "threshold", r[i].threshold,
                                          "score", isnan(r[i].normalised) ? 0.0 : r[i].normalised, "raw", r[i].raw,
                                          "null", r[i].null_score, "perfect", r[i].perfect, "tp",
                                          (json_int_t)r[i].tp, "fp", (json_int_t)r[i].fp, "windows",
                                          (json_int_t)r[i].windows, "windows_counted",
                                          (json_int_t)r[i].windows_counted, "windows_hit",
                                          (json_int_t)r[i].windows_hit));
        }
        json_object_set_new(root, p->name, pj);
    }
    return root;
}

/* Default fixed (chosen in advance, not optimised) thresholds per detector. */
static double fixed_threshold(const tk_online_params *p)
{
    /* set before any NAB run: wgauss |z| ~ 4.4, zscore |z| = 3, the
     * forest's (and the ensemble's) detect default */
    if (p->likelihood)
        return 0.9;
    if (p->kind == TK_ONLINE_RELENT)
        return 0.5; /* its scores are 0 or 1 */
    if (p->kind == TK_ONLINE_CAD)
        return 0.75; /* CAD OSE's own base threshold */
    return p->kind == TK_ONLINE_WGAUSS ? 0.99999 : p->kind == TK_ONLINE_ZSCORE ? 0.75 : TK_DETECT_THRESHOLD;
}

static int do_eval(const opts *o, const char *dir)
{
    if (!dir || !o->labels) {
        fprintf(stderr, "anomaly eval: DIR and --labels combined_windows.json are required\n");
        return 2;
    }
    char err[512];
    if (!o->detector_known) {
        fprintf(stderr, "anomaly eval: --detector wants cad, forest, ensemble, relent, wgauss or zscore, got '%s'\n", o->detector);
        return 2;
    }
    tk_nab_labels *labels = NULL;
    if (tk_nab_labels_load(o->labels, &labels, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly eval: %s\n", err);
        return 1;
    }
    tk_nabeval_config cfg = {
        .dir = dir, .labels = labels, .detector = o->detector ? o->detector : "cad",
        .params = o->online, .results_dir = o->nab_results,
        .rearm = o->rearm ? (unsigned)o->rearm : 10, .nab_range = o->nab_range,
    };
    if (!o->detector) { /* the default: cad, the best causal detector measured (scripts/nab-eval) */
        tk_online_defaults(TK_ONLINE_CAD, &cfg.params);
        cfg.params.grow_range = o->grow_range;
        cfg.detector = "cad";
    }
    cfg.alert_threshold = o->threshold_set ? o->threshold : fixed_threshold(&cfg.params);
    cfg.persist = o->persist ? (unsigned)o->persist : tk_detect_default_persist(cfg.params.kind);
    tk_nabscore *sc = NULL, *al = NULL;
    tk_nabeval_stats st;
    int rc = 1;
    if (tk_nabeval_run(&cfg, &sc, &al, &st, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly eval: %s\n", err);
        goto done;
    }
    if (st.files == 0) {
        fprintf(stderr, "anomaly eval: no labelled file of %s found in %s\n", o->labels, dir);
        goto done;
    }
    const tk_online_params *p = &cfg.params;
    if (!o->json)
        printf("detector %s (%s): window %u, step %u, refit %u, train window %u, trees %u x %u, seed %llu, "
               "likelihood %u/%u, suppress %u (or %.2f x probation)\n%zu files, %zu rows, %.1f CPU-ms (%.2f us/record)%s%s\n\n",
               cfg.detector, tk_online_kind_name(p->kind), p->window, p->step, p->refit, p->train_window,
               p->forest.trees, p->forest.psi, (unsigned long long)p->forest.seed, p->likelihood, p->lik_short,
               p->suppress, p->suppress_probation, st.files, st.rows, st.cpu_ms, 1000.0 * st.cpu_ms / (double)st.rows,
               cfg.results_dir ? ", results in " : "", cfg.results_dir ? cfg.results_dir : "");
    json_t *pj = nab_profiles(sc, cfg.alert_threshold, !o->json, "scores");
    if (!o->json)
        printf("\n");
    json_t *aj = nab_profiles(al, 1.0, !o->json, "alerts (persist/rearm)");
    if (o->json) {
        json_t *root = json_pack("{s:s,s:s,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f},s:I,s:I,s:f,s:f,s:o,s:o}",
                                 "detector", cfg.detector, "kind", tk_online_kind_name(p->kind), "params", "window",
                                 (json_int_t)p->window, "step", (json_int_t)p->step, "refit", (json_int_t)p->refit,
                                 "train_window", (json_int_t)p->train_window, "trees", (json_int_t)p->forest.trees,
                                 "sample", (json_int_t)p->forest.psi, "seed", (json_int_t)p->forest.seed,
                                 "likelihood", (json_int_t)p->likelihood, "suppress", (json_int_t)p->suppress,
                                 "suppress_probation", p->suppress_probation,
                                 "files", (json_int_t)st.files, "rows", (json_int_t)st.rows, "cpu_ms", st.cpu_ms,
                                 "alert_threshold", cfg.alert_threshold, "scores", pj, "alerts", aj);
        json_dumpf(root, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(8));
        putchar('\n');
        json_decref(root);
    } else {
        json_decref(pj);
        json_decref(aj);
        printf("\nNAB v1.1 scoring: threshold 'optimised' over the corpus as NAB does, 'fixed' = %.5f set in\n"
               "advance; alerts = what detect would page: the unsuppressed score at the fixed threshold\n"
               "or the range guard, through the incident logic (persist %u, rearm %u), scored as a binary\n"
               "detector. NAB = 100 (raw - null) / (perfect - null), perfect over every label window.\n",
               cfg.alert_threshold, cfg.persist, cfg.rearm);
    }
    rc = 0;
done:
    tk_nabscore_free(sc);
    tk_nabscore_free(al);
    tk_nab_labels_free(labels);
    return rc;
}

/* Synthetic data for bench: Gaussian-ish inliers with 1% far outliers. */
static uint64_t bench_rng = 0x243F6A8885A308D3ULL;
static double bench_uniform(void)
{
    bench_rng ^= bench_rng >> 12;
    bench_rng ^= bench_rng << 25;
    bench_rng ^= bench_rng >> 27;
    return (double)((bench_rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* CPU time of this thread in seconds: on a shared machine this, not the wall
 * clock, says what one core can do. */
static double thread_cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int do_bench(const opts *o)
{
    size_t n = (size_t)o->points, dims = (size_t)o->dims, ntrain = 4096;
    double *x = malloc(n * dims * sizeof *x), *sc = malloc(n * sizeof *sc);
    double *t_train = malloc((size_t)o->repeat * sizeof *t_train);
    char err[256];
    if (!x || !sc || !t_train) {
        free(x);
        free(sc);
        free(t_train);
        fprintf(stderr, "anomaly bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n * dims; i++) {
        double g = bench_uniform() + bench_uniform() + bench_uniform() - 1.5;
        x[i] = (i / dims) % 100 == 0 ? 8 + g : g;
    }
    if (ntrain > n)
        ntrain = n;
    tk_iforest *f = NULL;
    tk_iforest_params p = o->online.forest;
    for (int64_t r = 0; r < o->repeat; r++) {
        tk_iforest_free(f);
        p.seed = o->online.forest.seed + (uint64_t)r;
        double c0 = thread_cpu_s();
        f = tk_iforest_train(x, ntrain, dims, &p, err, sizeof err);
        t_train[r] = (thread_cpu_s() - c0) * 1000.0;
        if (!f) {
            fprintf(stderr, "anomaly bench: %s\n", err);
            free(x);
            free(sc);
            free(t_train);
            return 1;
        }
    }
    qsort(t_train, (size_t)o->repeat, sizeof *t_train, cmp_double);
    uint64_t t0 = tk_mono_us();
    double c0 = thread_cpu_s();
    tk_iforest_score_many(f, x, n, sc);
    double cpu = thread_cpu_s() - c0;
    double secs = (double)(tk_mono_us() - t0) / 1e6;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += sc[i];
    /* The streaming forest (eval's and detect's) on a synthetic series:
     * CPU per record with the default refit schedule, and without refits
     * after the first fit; the difference over the extra fits is the cost
     * of one refit. */
    enum { NSTREAM = 20000 };
    double *v = malloc(NSTREAM * sizeof *v), *ss = malloc(NSTREAM * sizeof *ss), st_cpu[2];
    unsigned st_fits[2];
    tk_online_params sp = o->online;
    sp.kind = TK_ONLINE_FOREST;
    sp.probation = 750;
    for (size_t i = 0; v && i < NSTREAM; i++)
        v[i] = 10 + 2 * sin((double)i / 40.0) + bench_uniform();
    for (int k = 0; k < 2 && v && ss; k++) {
        tk_online_params q = sp;
        if (k == 1)
            q.refit = 0;
        tk_online *d = tk_online_new(&q, err, sizeof err);
        double c0 = thread_cpu_s();
        for (size_t i = 0; d && i < NSTREAM; i++)
            ss[i] = tk_online_update(d, v[i]);
        st_cpu[k] = (thread_cpu_s() - c0) * 1000.0;
        st_fits[k] = d ? tk_online_fits(d) : 0;
        tk_online_free(d);
    }
    /* the other streaming detectors on the same series: CPU per record */
    static const tk_online_kind other[] = {TK_ONLINE_CAD, TK_ONLINE_RELENT, TK_ONLINE_WGAUSS, TK_ONLINE_ZSCORE};
    double other_us[sizeof other / sizeof other[0]] = {0};
    for (size_t k = 0; k < sizeof other / sizeof other[0] && v && ss; k++) {
        tk_online_params q;
        tk_online_defaults(other[k], &q);
        q.probation = 750;
        tk_online *d = tk_online_new(&q, err, sizeof err);
        double c0 = thread_cpu_s();
        for (size_t i = 0; d && i < NSTREAM; i++)
            ss[i] = tk_online_update(d, v[i]);
        other_us[k] = (thread_cpu_s() - c0) * 1e6 / NSTREAM;
        tk_online_free(d);
    }
    double per_rec_us = 1000.0 * st_cpu[0] / NSTREAM, per_fit_ms = st_fits[0] > st_fits[1]
        ? (st_cpu[0] - st_cpu[1]) / (double)(st_fits[0] - st_fits[1]) : 0;
    if (o->json) {
        json_t *root = json_pack("{s:{s:I,s:I,s:I,s:I,s:f,s:f,s:I},s:{s:I,s:f,s:f,s:f},s:{s:I,s:I,s:I,s:I,s:f,s:f,"
                                 "s:f,s:f}}",
                                 "train", "trees", (json_int_t)tk_iforest_trees(f), "psi",
                                 (json_int_t)tk_iforest_psi(f), "dims", (json_int_t)dims, "points",
                                 (json_int_t)ntrain, "median_cpu_ms", t_train[o->repeat / 2], "min_cpu_ms",
                                 t_train[0], "runs", (json_int_t)o->repeat, "score", "points", (json_int_t)n,
                                 "wall_s", secs, "cpu_s", cpu, "points_per_cpu_s", (double)n / cpu, "stream",
                                 "records", (json_int_t)NSTREAM, "refit", (json_int_t)sp.refit, "train_window",
                                 (json_int_t)sp.train_window, "fits", (json_int_t)st_fits[0], "cpu_ms", st_cpu[0],
                                 "us_per_record", per_rec_us, "ms_per_refit", per_fit_ms,
                                 "refit_us_per_record", sp.refit ? 1000.0 * per_fit_ms / sp.refit : 0.0);
        json_t *us = json_object();
        for (size_t k = 0; k < sizeof other / sizeof other[0]; k++)
            json_object_set_new(us, tk_online_kind_name(other[k]), json_real(other_us[k]));
        json_object_set_new(json_object_get(root, "stream"), "us_per_record_by_detector", us);
        json_dumpf(root, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
        putchar('\n');
        json_decref(root);
    } else {
        printf("train: %u trees x %u samples, %zu attributes, from %zu points: median %.2f CPU-ms, min %.2f "
               "(%lld runs)\n",
               tk_iforest_trees(f), tk_iforest_psi(f), dims, ntrain, t_train[o->repeat / 2], t_train[0],
               (long long)o->repeat);
        printf("score: %zu points in %.3f s wall = %.0f points/s; %.3f s CPU = %.0f points/s per core "
               "(one thread, mean score %.4f)\n",
               n, secs, (double)n / secs, cpu, (double)n / cpu, sum / (double)n);
        printf("stream: %d records, refit every %u on the last %u: %u fits, %.1f CPU-ms = %.2f us/record; "
               "one refit %.2f CPU-ms = %.2f us/record amortised\n",
               NSTREAM, sp.refit, sp.train_window, st_fits[0], st_cpu[0], per_rec_us, per_fit_ms,
               sp.refit ? 1000.0 * per_fit_ms / sp.refit : 0.0);
        for (size_t k = 0; k < sizeof other / sizeof other[0]; k++)
            printf("stream: %s %.2f us/record\n", tk_online_kind_name(other[k]), other_us[k]);
    }
    free(v);
    free(ss);
    tk_iforest_free(f);
    free(x);
    free(sc);
    free(t_train);
    return 0;
}

/* anomaly nabscore DIR: score NAB results files (NAB's own, or ours from
 * eval --nab-results) with NAB's rules. */
static int do_nabscore(const opts *o, const char *dir)
{
    if (!dir || !o->labels || !o->detector) {
        fprintf(stderr, "anomaly nabscore: DIR, --labels combined_windows.json and --detector NAME are required\n");
        return 2;
    }
    char err[512];
    tk_nab_labels *labels = NULL;
    tk_nabscore *c = tk_nabscore_new();
    int rc = 1;
    if (!c || tk_nab_labels_load(o->labels, &labels, err, sizeof err) != TK_OK ||
        tk_nabscore_load_results(c, dir, o->detector, labels, err, sizeof err) != TK_OK) {
        fprintf(stderr, "anomaly nabscore: %s\n", c ? err : "out of memory");
        goto done;
    }
    json_t *pj = nab_profiles(c, o->threshold_set ? o->threshold : -1, !o->json, o->detector);
    if (o->json) {
        json_t *root = json_pack("{s:s,s:I,s:o}", "detector", o->detector, "files",
                                 (json_int_t)tk_nabscore_files(c), "profiles", pj);
        json_dumpf(root, stdout, JSON_INDENT(1) | JSON_REAL_PRECISION(8));
        putchar('\n');
        json_decref(root);
    } else {
        json_decref(pj);
        printf("%zu files\n", tk_nabscore_files(c));
    }
    rc = 0;
done:
    tk_nabscore_free(c);
    tk_nab_labels_free(labels);
    return rc;
}

static volatile sig_atomic_t detect_stop;

static void on_detect_stop(int sig)
{
    (void)sig;
    detect_stop = 1;
}

static int do_detect(const opts *o)
{
    if (!o->model) {
        fprintf(stderr, "anomaly detect: --model M is required\n");
        return 2;
    }
    char err[512];
    tk_backend b;
    unsigned need = TK_NEED_KAFKA | (o->no_store ? 0 : TK_NEED_MYSQL);
    if (tk_backend_resolve_some(&b, need, o->mysql, NULL, o->kafka, o->state, 1, err, sizeof err) != 0) {
        fprintf(stderr, "anomaly detect: %s\n", err);
        return 1;
    }
    tk_detect_config cfg = {
        .brokers = b.kafka, .topic = o->topic, .field = o->metric, .model_path = o->model,
        .threshold = o->threshold_set ? o->threshold : 0,
        .rearm = (unsigned)o->rearm, .persist = (unsigned)o->persist, .mysql_url = o->no_store ? NULL : b.mysql, .webhook = o->webhook,
        .from_beginning = o->from_beginning, .idle_exit_ms = o->idle_exit_ms, .stop = &detect_stop,
        .verbose = o->verbose,
    };
    signal(SIGTERM, on_detect_stop);
    signal(SIGINT, on_detect_stop);
    tk_detect_stats st;
    int rc = tk_detect_run(&cfg, &st, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "anomaly detect: %s\n", err);
        return 1;
    }
    printf(o->json ? "{\"records\":%llu,\"anomalies\":%llu,\"incidents\":%llu,\"alerts_sent\":%llu,"
                     "\"alert_failures\":%llu,\"stored\":%llu,\"refits\":%llu,\"max_score\":%.4f}\n"
                   : "records %llu, anomalous records %llu, incidents %llu, alerts sent %llu (failed %llu), "
                     "stored %llu, refits %llu, max score %.4f\n",
           (unsigned long long)st.records, (unsigned long long)st.anomalies, (unsigned long long)st.incidents,
           (unsigned long long)st.alerts_sent, (unsigned long long)st.alert_failures,
           (unsigned long long)st.stored, (unsigned long long)st.refits, st.max_score);
    return 0;
}

typedef struct subcommand {
    const char *name;
    int positional; /* positional arguments wanted after the options */
    const tk_optset *set;
} subcommand;

static const subcommand subs[] = {{"train", 0, &train_set},   {"score", 0, &score_set},
                                  {"eval", 1, &eval_set},     {"bench", 0, &bench_set},
                                  {"detect", 0, &detect_set}, {"nabscore", 1, &nabscore_set},
                                  {"forest", 0, &forest_set}};

int cmd_anomaly(int argc, char **argv)
{
    if (argc < 2)
        return tk_opt_error(&tk_optset_anomaly, "which one: train, detect, score, eval, nabscore, bench or forest?");
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        tk_opt_help(&tk_optset_anomaly, stdout);
        return 0;
    }
    size_t k = 0;
    for (; k < sizeof subs / sizeof subs[0]; k++)
        if (!strcmp(argv[1], subs[k].name))
            break;
    if (k == sizeof subs / sizeof subs[0])
        return tk_opt_error(&tk_optset_anomaly,
                            "unknown subcommand '%s' (train, detect, score, eval, nabscore, bench or forest)", argv[1]);
    opts o;
    int prc = parse_opts(subs[k].set, argc - 1, argv + 1, &o);
    if (prc >= 0)
        return prc;
    int extra = argc - 1 - optind;
    if (extra != subs[k].positional)
        return tk_opt_error(subs[k].set, "%s",
                            subs[k].positional ? "one DIR argument, please" : "unexpected extra arguments");
    switch (k) {
    case 0: return do_train(&o);
    case 1: return do_score(&o);
    case 2: return do_eval(&o, argv[1 + optind]);
    case 4: return do_detect(&o);
    case 5: return do_nabscore(&o, argv[1 + optind]);
    case 6: return do_forest(&o);
    default: return do_bench(&o);
    }
}
