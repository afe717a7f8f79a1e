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
#include <getopt.h>
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

static const struct option longopts[] = {
    {"from", required_argument, NULL, OPT_FROM},
    {"model", required_argument, NULL, OPT_MODEL},
    {"trees", required_argument, NULL, OPT_TREES},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"seed", required_argument, NULL, OPT_SEED},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"topic", required_argument, NULL, OPT_TOPIC},
    {"json", no_argument, NULL, OPT_JSON},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"points", required_argument, NULL, OPT_POINTS},
    {"dims", required_argument, NULL, OPT_DIMS},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"webhook", required_argument, NULL, OPT_WEBHOOK},
    {"metric", required_argument, NULL, OPT_METRIC},
    {"kafka-brokers", required_argument, NULL, OPT_KAFKA},
    {"mysql", required_argument, NULL, OPT_MYSQL},
    {"state", required_argument, NULL, OPT_STATE},
    {"rearm", required_argument, NULL, OPT_REARM},
    {"idle-exit", required_argument, NULL, OPT_IDLE},
    {"from-beginning", no_argument, NULL, OPT_BEGIN},
    {"verbose", no_argument, NULL, OPT_VERBOSE},
    {"no-store", no_argument, NULL, OPT_NOSTORE},
    {"persist", required_argument, NULL, OPT_PERSIST},
    {"since", required_argument, NULL, OPT_SINCE},
    {"detector", required_argument, NULL, OPT_DETECTOR},
    {"nab-results", required_argument, NULL, OPT_NABRES},
    {"refit", required_argument, NULL, OPT_REFIT},
    {"train-window", required_argument, NULL, OPT_TRAINWIN},
    {"likelihood", required_argument, NULL, OPT_LIK},
    {"likelihood-short", required_argument, NULL, OPT_LIKSHORT},
    {"suppress", required_argument, NULL, OPT_SUPPRESS},
    {"suppress-probation", required_argument, NULL, OPT_SUPPROB},
    {"step", required_argument, NULL, OPT_STEP},
    {"nab-range", no_argument, NULL, OPT_NABRANGE},
    {"grow-range", no_argument, NULL, OPT_GROWRANGE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
    tk_online_params f;
    tk_online_defaults(TK_ONLINE_FOREST, &f);
    fprintf(out,
            "usage: ticketctl anomaly train --from FILE.csv|--topic NAME --model OUT [--detector forest|cad]\n"
            "                               [--trees N] [--sample N] [--seed S] [--window N] [--refit K]\n"
            "                               [--train-window T]\n"
            "       ticketctl anomaly detect --model M [--topic NAME] [--metric FIELD] [--webhook URL]\n"
            "                               [--threshold T] [--persist N] [--rearm N] [--from-beginning]\n"
            "       ticketctl anomaly score --model M --from FILE.csv [--json]\n"
            "       ticketctl anomaly eval DIR --labels combined_windows.json [--detector NAME]\n"
            "                               [--nab-results OUT] [--threshold T] [--seed S] [--json]\n"
            "                               [--grow-range] [--nab-range]\n"
            "       ticketctl anomaly nabscore DIR --labels combined_windows.json --detector NAME [--json]\n"
            "       ticketctl anomaly bench [--points N] [--trees N] [--sample N] [--dims D]\n"
            "       ticketctl anomaly forest --from X.csv [--trees N] [--sample N] [--seed S]\n"
            "\n"
            "Causal streaming anomaly detectors (lib/online.c) on metric series: every record\n"
            "is scored before it is learnt, and scores are in [0,1]. The forest is an\n"
            "Isolation Forest (Liu, Ting & Zhou, ICDM 2008) on scale-free features, refitted\n"
            "every K records on the trailing T records. cad is the contextual anomaly detector\n"
            "(CAD OSE, as in NAB) with a causal range: eval's default, the best measured on NAB.\n"
            "\n"
            "train    fit the forest on the last T rows of FILE.csv (NAB format) or of the --metric\n"
            "         field of every record in the Kafka topic NAME, and save it to OUT. The model\n"
            "         file holds the forest and 'online window=W train=T refit=K rows=N mean=M\n"
            "         sd=S range=LO,HI': the feature settings, the refit schedule, the training\n"
            "         size, the feature normalisation and the training range (range guard).\n"
            "         --detector cad writes a cad model instead: 'ticketctl cad model v1 rows=N\n"
            "         range=LO,HI' and the N training values, one a line (CAD learns as it goes:\n"
            "         detect replays them, its range frozen at theirs, and never refits)\n"
            "detect   score each new record of the metrics topic (default ticketctl.metrics, field\n"
            "         p99_ms) with the model's streaming detector. A forest, once it has seen N\n"
            "         records of its own, refits every K records on the last T; cad learns every\n"
            "         record (no refit, rest period 0). A value more than 3 training\n"
            "         ranges outside the training range is anomalous whatever the score (range\n"
            "         guard). Stores every record in anomaly_results (unless --no-store) and POSTs\n"
            "         a Slack-style alert to --webhook once per incident (an incident starts after\n"
            "         --persist anomalous records in a row, default 2 (cad: 1, its score fires\n"
            "         on the one record nothing predicted), and ends after --rearm normal ones,\n"
            "         default 10)\n"
            "score    print timestamp,value,score per row of FILE.csv, streamed as detect does\n"
            "eval     run one detector over every labelled NAB file under DIR (the NAB data root\n"
            "         or one folder), causally, and score it with NAB's rules: three profiles,\n"
            "         NAB's corpus threshold optimisation beside a fixed threshold, and the\n"
            "         incident (persist/rearm) output as a second figure; --nab-results OUT\n"
            "         writes OUT/<detector>/<folder>/<detector>_<file>.csv for NAB's scorer\n"
            "nabscore score NAB results files (NAB's own results/<detector>, or eval's)\n"
            "bench    time training and scoring on synthetic data, and the streaming forest's\n"
            "         cost per record (one thread)\n"
            "forest   the bare Isolation Forest: train on every row of a CSV of attributes\n"
            "         (header line, then numbers), print one score per row\n"
            "\n"
            "  --detector NAME    cad (eval's default), forest (train's default), ensemble\n"
            "                     (forest + wgauss), relent (relative entropy, Wang et al. 2011),\n"
            "                     wgauss (NAB's windowed Gaussian), zscore (rolling z-score)\n"
            "  --grow-range       cad: the range keeps growing (default: frozen after probation)\n"
            "  --nab-range        eval: hand cad/relent each file's min/max as NAB does\n"
            "                     (LOOK-AHEAD: only to check against NAB's published runs)\n"
            "  --trees N          trees (default %u)\n"
            "  --sample N         subsample size psi (default %u)\n"
            "  --seed S           generator seed (default %llu; fit k uses S + k)\n"
            "  --window N         feature window (forest, default %u) / statistics window\n"
            "                     (wgauss 6400, zscore 48)\n"
            "  --refit K          forest: refit every K records (default %u; 0 = never)\n"
            "  --train-window T   forest: fit on the last T records (default %u)\n"
            "  --step N           wgauss: refresh the statistics every N records (default 100)\n"
            "  --suppress N       after a score s, zero the next N scores unless above s\n"
            "  --suppress-probation F   suppress F x probation records (forest default %.2f)\n"
            "  --likelihood N     Numenta's anomaly likelihood over N raw scores (0 = off)\n"
            "  --likelihood-short N     its short window (default 10)\n"
            "  --threshold T      eval/detect: the fixed threshold (default: forest %.2f)\n"
            "  --persist N --rearm N    incident logic (default 2 (cad 1) and 10; eval's alert figure too)\n"
            "  --points N         bench: points to score (default 1000000)\n"
            "  --dims D           bench: attributes per point (default 3)\n"
            "  --repeat N         bench: training repetitions (default 20)\n"
            "  --metric FIELD     train --topic / detect: record field (default p99_ms)\n"
            "  --since MS         train --topic: only records from this time on (ms since\n"
            "                     the epoch), e.g. to leave out a warm-up or an old incident\n"
            "  --idle-exit DUR    detect: stop after DUR without a record\n"
            "  --verbose          detect: log every scored record\n"
            "  --kafka-brokers L --mysql URL --state DIR   backends (default: the dev stack)\n"
            "  --json             JSON on stdout\n"
            "  -h, --help         this help\n",
            f.forest.trees, f.forest.psi, (unsigned long long)f.forest.seed, f.window, f.refit, f.train_window,
            f.suppress_probation, TK_DETECT_THRESHOLD);
}

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

static int parse_u(const char *name, const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (tk_parse_i64(s, min, max, out) != 0) {
        fprintf(stderr, "anomaly: --%s wants a whole number in %lld..%lld, got '%s'\n", name, (long long)min,
                (long long)max, s);
        return -1;
    }
    return 0;
}

static int parse_d(const char *name, const char *s, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !isfinite(v)) {
        fprintf(stderr, "anomaly: --%s wants a number, got '%s'\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

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

static int apply_det_opt(const det_opt *d, const char *arg, tk_online_params *p)
{
    int64_t v = 0;
    double x = 0;
    if (d->kind == 4 ? parse_d(d->name, arg, &x) : parse_u(d->name, arg, d->min, d->max, &v))
        return -1;
    switch (d->kind) {
    case 0: *(unsigned *)((char *)p + d->off) = (unsigned)v; break;
    case 1: p->forest.trees = (uint32_t)v; break;
    case 2: p->forest.psi = (uint32_t)v; break;
    case 3: p->forest.seed = (uint64_t)v; break;
    default: p->suppress_probation = x; p->suppress = 0; break;
    }
    return 0;
}

/* Parse options after the subcommand word; returns 0, 1 (help shown) or 2. */
static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->points = 1000000;
    o->dims = 3;
    o->repeat = 20;
    const char *given[NDET_OPTS] = {0};
    int c;
    optind = 1;
    opterr = 0; /* one line of ours instead (tk_opt_getopt_hint) */
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        size_t k = 0;
        while (k < NDET_OPTS && det_opts[k].opt != c)
            k++;
        if (k < NDET_OPTS) {
            given[k] = optarg;
            continue;
        }
        switch (c) {
        case OPT_FROM: o->from = optarg; break;
        case OPT_MODEL: o->model = optarg; break;
        case OPT_LABELS: o->labels = optarg; break;
        case OPT_TOPIC: o->topic = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_THRESHOLD:
            if (parse_d("threshold", optarg, &o->threshold)) return 2;
            o->threshold_set = 1;
            break;
        case OPT_DETECTOR: o->detector = optarg; break;
        case OPT_NABRES: o->nab_results = optarg; break;
        case OPT_POINTS:
            if (parse_u("points", optarg, 1, 100000000, &o->points)) return 2;
            break;
        case OPT_DIMS:
            if (parse_u("dims", optarg, 1, TK_IFOREST_MAX_DIMS, &o->dims)) return 2;
            break;
        case OPT_REPEAT:
            if (parse_u("repeat", optarg, 1, 10000, &o->repeat)) return 2;
            break;
        case OPT_WEBHOOK: o->webhook = optarg; break;
        case OPT_METRIC: o->metric = optarg; break;
        case OPT_KAFKA: o->kafka = optarg; break;
        case OPT_MYSQL: o->mysql = optarg; break;
        case OPT_STATE: o->state = optarg; break;
        case OPT_REARM:
            if (parse_u("rearm", optarg, 1, 100000, &o->rearm)) return 2;
            break;
        case OPT_IDLE:
            if (tk_parse_duration_ms(optarg, &o->idle_exit_ms)) {
                fprintf(stderr, "anomaly: bad --idle-exit '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_BEGIN: o->from_beginning = 1; break;
        case OPT_VERBOSE: o->verbose = 1; break;
        case OPT_NOSTORE: o->no_store = 1; break;
        case OPT_NABRANGE: o->nab_range = 1; break;
        case OPT_GROWRANGE: o->grow_range = 1; break;
        case OPT_SINCE:
            if (parse_u("since", optarg, 0, INT64_MAX, &o->since_ms)) return 2;
            break;
        case OPT_PERSIST:
            if (parse_u("persist", optarg, 1, 1000, &o->persist)) return 2;
            break;
        case 'h': usage(stdout); return 1;
        default: return tk_opt_getopt_hint("anomaly", longopts, argv);
        }
    }
    /* (nabscore's --detector names any results folder, e.g. NAB's own) */
    tk_online_kind kind = TK_ONLINE_FOREST;
    o->detector_known = !o->detector || tk_online_kind_parse(o->detector, &kind) == 0;
    tk_online_defaults(kind, &o->online);
    for (size_t k = 0; k < NDET_OPTS; k++)
        if (given[k] && apply_det_opt(&det_opts[k], given[k], &o->online) != 0)
            return 2;
    o->online.grow_range = o->grow_range;
    return 0;
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
} subcommand;

static const subcommand subs[] = {{"train", 0}, {"score", 0}, {"eval", 1}, {"bench", 0}, {"detect", 0},
                                  {"nabscore", 1}, {"forest", 0}};

int cmd_anomaly(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    size_t k = 0;
    for (; k < sizeof subs / sizeof subs[0]; k++)
        if (!strcmp(argv[1], subs[k].name))
            break;
    if (k == sizeof subs / sizeof subs[0]) {
        fprintf(stderr, "anomaly: unknown subcommand '%s' (train, detect, score, eval, nabscore, bench, forest)\n",
                argv[1]);
        return 2;
    }
    opts o;
    int prc = parse_opts(argc - 1, argv + 1, &o);
    if (prc)
        return prc == 1 ? 0 : 2;
    if (o.topic && k != 0 && k != 4) {
        fprintf(stderr, "anomaly %s: --topic is only for train and detect\n", subs[k].name);
        return 2;
    }
    int extra = argc - 1 - optind;
    if (extra != subs[k].positional) {
        fprintf(stderr, "anomaly %s: %s\n", subs[k].name,
                subs[k].positional ? "one DIR argument, please" : "unexpected extra arguments");
        return 2;
    }
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
