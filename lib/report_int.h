/* Report internals shared by the report kinds (report_<kind>.c). Not a
 * public API: lib/include/ticketctl/report.h is. */
#ifndef TICKETCTL_REPORT_INT_H
#define TICKETCTL_REPORT_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "ticketctl/common.h"
#include "ticketctl/report.h"

struct tk_report {
    json_t *root;
    char name[256];
};

/* One kind of results file: does root look like it, and its two renderers
 * (0, or -1 with err). Listed in report.c; the first match wins. */
typedef int (*rpt_render_fn)(const tk_report *r, FILE *f, char *err /* OUT */, size_t errlen);
typedef struct rpt_kind {
    const char *name;
    int (*match)(const json_t *root);
    rpt_render_fn html, markdown;
} rpt_kind;

extern const rpt_kind rpt_kind_bench, rpt_kind_scenario, rpt_kind_tune, rpt_kind_queue_compare, rpt_kind_capacity;

#define DASH "\xe2\x80\x93" /* en dash: a missing value */

/* ---- report_fmt.c: JSON access, formatting, escaping, page parts ---- */

/* Value at a dotted path ("summary.latency_ms.p99") or NULL; borrowed. */
json_t *rpt_jget(const json_t *o, const char *path);
/* The number at path, NAN when missing or not a number. */
double rpt_jnum(const json_t *o, const char *path);
/* The string at path, NULL when missing; borrowed. */
const char *rpt_jstr(const json_t *o, const char *path);

/* Each formats into buf (cap bytes) and returns buf; NAN gives DASH. */
const char *rpt_fmt_num(char *buf, size_t cap, double v, int dec); /* 1234567.8 -> "1,234,567.8" */
const char *rpt_fmt_ms(char *buf, size_t cap, double v);           /* ms, precision by size */
const char *rpt_fmt_bytes(char *buf, size_t cap, double v);        /* 1536 -> "1.5 KiB" */
const char *rpt_fmt_pct(char *buf, size_t cap, double frac);       /* 0.0123 -> "1.23%" */
/* A scalar for a key/value table (_bytes keys as sizes); nested values as
 * compact JSON malloc'd into *owned (caller frees). */
const char *rpt_fmt_value(char *buf, size_t cap, const char *key, json_t *v, char **owned /* OUT */);

/* A human label for a results-file key ("think_time_ms" -> "think time
 * (ms)"): static storage, or buf with '_' turned into spaces. */
const char *rpt_label(const char *key, char *buf, size_t cap);

void rpt_html_esc(FILE *f, const char *s); /* NULL prints DASH */
void rpt_md_esc(FILE *f, const char *s);   /* a Markdown table cell */

extern const char rpt_css[];
/* The page up to and including <h1>: doctype, <title>, inline CSS; both
 * strings are escaped here. */
void rpt_html_open(FILE *f, const char *title, const char *h1);
/* Close the last open <div> and the page with a footer naming the results
 * file; 0, or -1 with err when writing failed. */
int rpt_html_close(FILE *f, const char *name, char *err /* OUT */, size_t errlen);
void rpt_card(FILE *f, const char *key, const char *value, const char *sub, const char *cls);
void rpt_html_kv(FILE *f, const char *title, json_t *obj);
void rpt_html_counts(FILE *f, const char *title, const char *col, json_t *obj);
void rpt_md_kv(FILE *f, const char *title, json_t *obj);
void rpt_md_counts(FILE *f, const char *title, const char *col, json_t *obj);

typedef struct inv_count {
    size_t total, failed;
} inv_count;
/* How many entries of root.invariants there are and how many are not ok. */
inv_count rpt_count_invariants(const json_t *root);

/* ---- report_svg.c: line charts ---- */

/* Columns of root.timeseries (malloc'd, NAN where missing); t is the x
 * axis (seconds, or whatever x_label says; NULL means "time (s)"). */
typedef struct series {
    size_t n;
    double *t, *vus, *rps, *errors, *p50, *p95, *p99;
    const char *x_label;
} series;

void rpt_series_free(series *s);
/* Load root.timeseries into s (n == 0 when absent). 0, or -1 out of memory. */
int rpt_series_load(const json_t *root, series *s /* OUT */);
/* Largest finite value of v[0..n), NAN if none. */
double rpt_series_max(const double *v, size_t n);

typedef struct line {
    const char *name;
    const char *color;
    const double *y;
    int right; /* on the right axis */
    int dashed;
    int fill;
} line;

/* A 1, 2, 2.5 or 5 × 10^k step giving about `ticks` ticks over range. */
double rpt_nice_step(double range, int ticks);
const char *rpt_fmt_tick(char *buf, size_t cap, double v, double step);
/* A line chart over s->t; left axis for lines with right == 0, right axis
 * (its own scale) for right == 1 when right_label is not NULL. */
void rpt_svg_chart(FILE *f, const char *title, const series *s, const line *lines, size_t nlines,
                   const char *left_label, const char *right_label);
/* A bar chart: one bar per labels[i] of height v[i] (NAN as 0). */
void rpt_svg_bars(FILE *f, const char *title, const char *const *labels, const double *v, size_t n,
                  const char *ylabel, const char *xlabel);

#endif
