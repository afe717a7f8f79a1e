/* Strict HTTP/1.1 framing in front of evhttp (server/strict.c).
 *
 * evhttp (libevent 2.1.12) is lenient where a proxy and the server must
 * agree byte for byte: it takes "Content-Length: +14", keeps the first of
 * two Content-Length headers, serves HTTP/0.9, a space in a field name, a
 * NUL in a field value (its C strings end there), reads "0x5" or " 5" as a
 * chunk size, and answers its own errors as HTML. Its parsing cannot be
 * hooked per request before the body is read, so every connection's bytes
 * pass through a bufferevent filter that frames each request itself
 * (RFC 9112: request line, field lines, Content-Length or chunked body,
 * trailers) and lets a request through only when the framing is
 * unambiguous. What it lets through, evhttp reads the same way.
 *
 * Decisions (RFC 9112 / RFC 9110 give the statuses):
 * - versions: HTTP/1.0 and HTTP/1.1 are served; "HTTP/0.9" (a request line
 *   with no version) is 400; any other version 505.
 * - HTTP/1.1 needs exactly one Host (RFC 9112 3.2: 400); two Host is 400.
 * - Content-Length must be 1*DIGIT; a second Content-Length (even equal),
 *   Content-Length with Transfer-Encoding, Transfer-Encoding on HTTP/1.0,
 *   or a body on HEAD/TRACE is 400 (6.1, 6.3: ambiguous framing).
 *   A Transfer-Encoding other than exactly "chunked" is 501.
 * - a chunk size is 1*16HEXDIG; chunk extensions are refused (400) because
 *   evhttp cannot read them; a bad CRLF after chunk data is 400; a
 *   trailer may not carry Content-Length, Transfer-Encoding or Host.
 * - field names are tokens, ':' follows at once; values are VCHAR,
 *   obs-text, SP, HTAB: any other control byte (NUL, a bare CR, DEL) is
 *   400; obsolete line folding is 400 (5.2).
 * - a line ends in LF with an optional CR before it (2.2, as evhttp).
 * - methods GET HEAD POST PUT DELETE OPTIONS PATCH pass; CONNECT, TRACE and
 *   any other method are 501 and the connection is closed (9.1).
 * - the head is at most TK_STRICT_MAX_HEAD bytes (431), the target at most
 *   TK_STRICT_MAX_TARGET (414), a body at most the configured limit (413,
 *   for Content-Length before the body is read, for chunked as it comes).
 * - Expect other than 100-continue on HTTP/1.1 is 417.
 * - empty lines before a request line are skipped (2.2). */
#ifndef TICKETCTL_SERVER_STRICT_H
#define TICKETCTL_SERVER_STRICT_H

#include <stddef.h>
#include <stdint.h>

#define TK_STRICT_MAX_HEAD (16 * 1024) /* bytes: request line + fields */
#define TK_STRICT_MAX_TARGET 8192      /* bytes */

/* Why a request was refused; TK_STRICT_OK when it was not. */
typedef enum tk_strict_reason {
    TK_STRICT_OK = 0,
    TK_STRICT_REQUEST_LINE,
    TK_STRICT_HTTP09,
    TK_STRICT_VERSION,
    TK_STRICT_METHOD,
    TK_STRICT_CONNECT_TRACE,
    TK_STRICT_TARGET,
    TK_STRICT_TARGET_LONG,
    TK_STRICT_HEAD_LARGE,
    TK_STRICT_FIELD_NAME,
    TK_STRICT_FIELD_VALUE,
    TK_STRICT_FOLD,
    TK_STRICT_CL_BAD,
    TK_STRICT_CL_DUP,
    TK_STRICT_CL_TE,
    TK_STRICT_TE_DUP,
    TK_STRICT_TE_UNKNOWN,
    TK_STRICT_TE_HTTP10,
    TK_STRICT_HOST_MISSING,
    TK_STRICT_HOST_DUP,
    TK_STRICT_HEAD_BODY,
    TK_STRICT_EXPECT,
    TK_STRICT_BODY_LARGE,
    TK_STRICT_CHUNK_SIZE,
    TK_STRICT_CHUNK_EXT,
    TK_STRICT_CHUNK_CRLF,
    TK_STRICT_TRAILER,
    TK_STRICT_NREASONS
} tk_strict_reason;

/* The reply a reason gets: status (RFC 9110), error code and message of
 * the JSON error shape (docs/API.md). Static strings. NULL for OK or an
 * out-of-range value. */
typedef struct tk_strict_reply {
    int status;
    const char *code;
    const char *message;
} tk_strict_reply;
const tk_strict_reply *tk_strict_reply_for(int reason);

/* Framing state of one connection. Zero it with tk_strict_init. */
typedef struct tk_strict {
    int state;
    uint64_t max_body;   /* bytes */
    uint64_t left;       /* bytes of the body or chunk still to pass */
    uint64_t body_total; /* chunked: bytes of chunk data so far */
    size_t scanned;      /* head: bytes already searched for its end */
    size_t trailer_bytes;
    tk_strict_reason reason; /* set when tk_strict_feed returned TK_STRICT_REJECT */
    int requests;            /* request heads let through */
} tk_strict;

/* What tk_strict_feed decided about the front of the bytes given. */
enum {
    TK_STRICT_MORE = 0, /* nothing decidable yet: give more bytes (the same ones again, plus new) */
    TK_STRICT_PASS,     /* *n bytes may go to evhttp unchanged */
    TK_STRICT_SKIP,     /* *n bytes are to be dropped (empty lines before a request) */
    TK_STRICT_REJECT,   /* refuse: st->reason says why; the connection must close */
};

/* max_body in bytes (a Content-Length or chunked total above it is 413). */
void tk_strict_init(tk_strict *st, uint64_t max_body);

/* Look at the front of the unread bytes p[0..len) and decide. In the head
 * state the caller must give the bytes contiguous from the start of the
 * head, at least min(len, TK_STRICT_MAX_HEAD + 2) of them when it has
 * them; in body states any contiguous prefix will do. After PASS/SKIP the
 * caller removes *n bytes and calls again with the rest. Pure: no I/O, no
 * allocation. */
int tk_strict_feed(tk_strict *st, const char *p, size_t len, size_t *n /* OUT */);

/* 1 when the next bytes tk_strict_feed wants must start a head (state
 * HEAD, TRAILER or a chunk-size line): the caller then gives them
 * contiguous. */
int tk_strict_wants_line(const tk_strict *st);

/* 1 while a request's head has been let through but its body has not
 * ended: a refusal then cannot be sent as a new request to evhttp. */
int tk_strict_in_body(const tk_strict *st);

#endif
