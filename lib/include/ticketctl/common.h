/* Shared return codes and small helpers used across lib/, server/ and cmd/.
 *
 * Error convention (one per layer): library calls return a tk_rc (TK_OK == 0)
 * or 0/-1; constructors return NULL; a readable message goes into a caller
 * supplied buffer marked OUT (char *err, size_t errlen). Translation to an
 * HTTP status or an exit code happens only at the edge (server/, cmd/). */
#ifndef TICKETCTL_COMMON_H
#define TICKETCTL_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum tk_rc {
    TK_OK = 0,
    TK_EINVAL,        /* bad input from the caller (400/422) */
    TK_ENOTFOUND,     /* unknown id, or not the caller's (404) */
    TK_ECONFLICT,     /* state does not allow it: seat taken, already paid (409) */
    TK_EFUNDS,        /* not enough points (409) */
    TK_EEXPIRED,      /* hold expired (409) */
    TK_EEXISTS,       /* unique key already present: e-mail taken (409) */
    TK_EAUTH,         /* bad credentials or token (401) */
    TK_EFORBIDDEN,    /* authenticated but not allowed (403) */
    TK_EBUSY,         /* lock timeout / retry budget spent (503) */
    TK_EBACKEND,      /* MariaDB / Redis / Kafka failure (503) */
    TK_ENOMEM,
    TK_EIO,
} tk_rc;

/* Short stable name of a return code ("TK_ECONFLICT"); static storage. */
const char *tk_rc_name(tk_rc rc);

/* Monotonic clock in µs / ms, and wall clock in ms since the Unix epoch. */
uint64_t tk_mono_us(void);
uint64_t tk_mono_ms(void);
int64_t tk_wall_ms(void);

/* snprintf into err (may be NULL) and return -1: `return tk_err(err, len, "x %d", 1);` */
int tk_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Parse a duration such as "60s", "250ms", "2m", "1500" (plain = ms).
 * Returns 0 and stores milliseconds in *out_ms, or -1 on bad input. */
int tk_parse_duration_ms(const char *s, int64_t *out_ms);

/* Parse a whole number in [min, max]; returns 0 on success, -1 otherwise
 * (garbage, trailing characters, overflow, out of range). */
int tk_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Read a whole file into a malloc'd buffer (*out, caller frees; one spare
 * byte past *outlen is set to NUL). Files larger than max bytes (0: no
 * limit) are refused. Returns TK_OK, TK_EIO (cannot open/read), TK_EINVAL
 * (too large) or TK_ENOMEM, with a message naming the path in err. */
int tk_read_file(const char *path, size_t max, char **out, size_t *outlen, char *err /* OUT */, size_t errlen);

/* Raise RLIMIT_NOFILE to its hard limit (or `want`, whichever is smaller).
 * Returns the new soft limit. */
long tk_raise_nofile(long want);

#endif
