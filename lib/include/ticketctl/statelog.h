/* Backend state changes as one JSON line each, for operators and log
 * shippers: {"time": RFC 3339 UTC, "component": "notify", "backend":
 * "kafka", "state": "down", "error": "...", "since": when this state began
 * (the change itself, so equal to time), "down_for_ms" on an "up" line (the
 * outage's length) or "up_for_ms" on a "down" line}. A caller logs each
 * change once (down, then up), never per failed request. */
#ifndef TICKETCTL_STATELOG_H
#define TICKETCTL_STATELOG_H

#include <stdint.h>
#include <stdio.h>

/* One backend's last logged state. Zero-initialise; not thread-safe (one
 * per thread that watches the backend). */
typedef struct tk_statelog {
    const char *component; /* "serve", "notify", ... (static storage) */
    const char *backend;   /* "kafka", "mariadb", "redis" (static storage) */
    int state;             /* 0 unknown, 1 up, 2 down */
    int64_t since_ms;      /* wall clock of the last change, ms since the epoch */
} tk_statelog;

/* Record the backend as up (up != 0) or down with error (may be NULL). A
 * line is written to out only when the state changes (unknown -> up is
 * silent: starting healthy is not news). Returns 1 when it wrote a line. */
int tk_statelog_set(tk_statelog *s, FILE *out, int up, const char *error);

#endif
