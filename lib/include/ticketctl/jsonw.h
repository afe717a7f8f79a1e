/* A JSON text writer for hot responses: rows straight into one growing
 * buffer, without building a jansson tree first.
 *
 * Why: a seat map of 200 seats as a jansson tree is ~1,400 allocations to
 * build, print and free; under the 5,000-VU bench that was 45 % of the
 * server's CPU (perf, scripts/bench-server-cpu). The writer produces the
 * same compact JSON as json_dumps(JSON_COMPACT) in one or two allocations.
 * Strings are escaped as RFC 8259 section 7 requires (quotation mark,
 * reverse solidus, control characters U+0000..U+001F); other bytes pass
 * through, so the input must be UTF-8 (MariaDB utf8mb4 columns are).
 * Use jansson everywhere else. */
#ifndef TICKETCTL_JSONW_H
#define TICKETCTL_JSONW_H

#include <stddef.h>
#include <stdint.h>

typedef struct tk_jsonw {
    char *buf; /* NUL-terminated while !oom */
    size_t len, cap;
    int oom; /* an allocation failed: every later call is a no-op */
} tk_jsonw;

/* Start empty with room for about `hint` bytes (0: a small default). */
void tk_jsonw_init(tk_jsonw *w, size_t hint);
/* Append n raw bytes (punctuation, keys: already valid JSON). */
void tk_jsonw_raw(tk_jsonw *w, const char *s, size_t n);
/* Append a NUL-terminated literal: tk_jsonw_lit(w, "{\"items\":["). */
void tk_jsonw_lit(tk_jsonw *w, const char *s);
/* Append s (UTF-8, NUL-terminated; NULL writes null) as a quoted, escaped string. */
void tk_jsonw_str(tk_jsonw *w, const char *s);
/* Append a decimal integer. */
void tk_jsonw_i64(tk_jsonw *w, int64_t v);
/* Hand the text over: returns the malloc'd buffer (caller frees) and its
 * length in *len, or NULL after an allocation failure (nothing to free).
 * The writer is empty afterwards. */
char *tk_jsonw_take(tk_jsonw *w, size_t *len);
/* Drop the text (after an error path); safe on a taken writer. */
void tk_jsonw_discard(tk_jsonw *w);

#endif
