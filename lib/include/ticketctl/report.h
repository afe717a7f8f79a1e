/* Rendering of a bench results JSON (docs/RESULTS.md) into a self-contained
 * HTML page and a Markdown summary.
 *
 * The HTML page loads nothing from the network: CSS is inline and the
 * charts (throughput with virtual users over time, latency percentiles
 * over time) are SVG drawn here. It carries headline figures, the per-step
 * table, errors by kind and status, business outcomes, invariants with
 * OK/FAIL, and config/machine/server info. The Markdown summary has the
 * same tables without charts. Every string taken from the results is
 * escaped (HTML entities; '|' and newlines in Markdown cells).
 *
 * A scenario results file ("kind": "scenario", see scenario.h) renders
 * instead as a comparison section: the verdict, one row per strategy
 * (outcomes, double bookings, oversell, retries, lock waits, attempts/s,
 * p50/p99/max), a horizontal bar chart per metric (unsafe strategies in
 * red), every invariant per strategy, and the redis-benchmark comparison.
 *
 * An index tuner results file ("kind": "tune", see tune.h) renders as one
 * row per query (findings, candidate, status, before/after ms, ratio, rows
 * examined before/after, DDL), then the redundant and unused indexes.
 *
 * Missing fields are tolerated: a file from an older or newer version, or a
 * partial one, renders whatever it has; absent numbers show as "–". */
#ifndef TICKETCTL_REPORT_H
#define TICKETCTL_REPORT_H

#include <stddef.h>
#include <stdio.h>

typedef struct tk_report tk_report;

/* Parse results JSON text (len bytes, need not be NUL-terminated). The top
 * level must be a JSON object. `name` (may be NULL) titles the report,
 * usually the file name. Returns a report the caller frees with
 * tk_report_free(), or NULL with a message in err (with line:column for
 * malformed JSON). */
tk_report *tk_report_parse(const char *text, size_t len, const char *name, char *err /* OUT */,
                           size_t errlen);

/* Same, reading the file at path (name = its base name). */
tk_report *tk_report_load(const char *path, char *err /* OUT */, size_t errlen);

/* Free; accepts NULL. */
void tk_report_free(tk_report *r);

/* Write the HTML page / the Markdown summary to out (UTF-8). Returns 0, or
 * -1 with a message in err when writing failed. */
int tk_report_html(const tk_report *r, FILE *out, char *err /* OUT */, size_t errlen);
int tk_report_markdown(const tk_report *r, FILE *out, char *err /* OUT */, size_t errlen);

/* The run's gates as JUnit XML (report_junit.c): test suites "thresholds"
 * (one case per --threshold), "invariants" (one per invariant check) and
 * "generator" (the self-check), a <failure> with the detail for each that
 * did not hold; *failed (may be NULL) gets how many failed. Returns 0, or
 * -1 with a message when writing failed. */
int tk_report_junit(const tk_report *r, FILE *out, size_t *failed /* OUT */, char *err /* OUT */, size_t errlen);

/* Load json_path and write <name>.html and <name>.md, where <name> is the
 * file's base name without a ".json" suffix, into out_dir (NULL = the
 * JSON's own directory). The paths written are copied into html_path and
 * md_path (each may be NULL). Returns 0, or -1 with a message in err
 * (unreadable or malformed JSON, unwritable output). */
int tk_report_write_files(const char *json_path, const char *out_dir, char *html_path /* OUT */,
                          size_t html_len, char *md_path /* OUT */, size_t md_len,
                          char *err /* OUT */, size_t errlen);

#endif
