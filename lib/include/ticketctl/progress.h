/* Progress bars for long work (bulk loads, long benches), drawn on a stream.
 *
 * One tk_progress holds one or more bars, each a line:
 *
 *   seats     [#########---------]  180000/400000  45.0%  212,340 rows/s  ETA 1s
 *
 * On a terminal the block is redrawn in place (`\r`, and cursor-up when
 * there are several bars) at most ~10 times a second; on anything else
 * (a pipe, a CI log) a plain line per unfinished bar is printed every few
 * seconds. tk_progress_finish() prints each bar's final line with its total
 * time and rate.
 *
 * Threads: add bars before the work starts (not thread-safe); after that
 * tk_progress_set/advance/done may be called from any thread. They do not
 * allocate; they take a lock only when a redraw is due, and skip the redraw
 * if another thread is drawing. */
#ifndef TICKETCTL_PROGRESS_H
#define TICKETCTL_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct tk_progress tk_progress;

/* Most bars one tk_progress holds. */
#define TK_PROGRESS_MAX_BARS 8

/* Create a set of bars drawing on `out` (NULL = stderr). `unit` names what
 * is counted in the rate ("rows" gives "rows/s"); NULL means "items".
 * The stream is treated as a terminal when isatty() says so; set the
 * environment variable TICKETCTL_PROGRESS=plain to force plain lines.
 * Returns NULL when out of memory. Free with tk_progress_free(). */
tk_progress *tk_progress_new(FILE *out, const char *unit);

/* Add a bar with a label (copied, at most 23 chars shown) and the expected
 * total (0 = unknown: no percentage or ETA). Returns the bar index (>= 0),
 * or -1 when TK_PROGRESS_MAX_BARS bars exist. The bar's clock starts now. */
int tk_progress_add(tk_progress *p, const char *label, uint64_t total);

/* Set / add to the done count of a bar; may redraw. Out-of-range bar
 * indexes and p == NULL are ignored, so callers need no checks. */
void tk_progress_set(tk_progress *p, int bar, uint64_t done);
void tk_progress_advance(tk_progress *p, int bar, uint64_t n);

/* Mark a bar finished now (its time and rate stop here). */
void tk_progress_done(tk_progress *p, int bar);

/* Print every bar's final line ("done/total 100.0%  in 2.31s, 173,160 rows/s").
 * Bars not marked done are finished now. Idempotent. */
void tk_progress_finish(tk_progress *p);

/* Seconds a bar ran (until done, or until now) and its done count. */
double tk_progress_seconds(const tk_progress *p, int bar);
uint64_t tk_progress_count(const tk_progress *p, int bar);

/* Free the set; accepts NULL. Does not print (call finish first). */
void tk_progress_free(tk_progress *p);

#endif
