/* HTTP/1.1 client-side pieces shared by the two lean load engines
 * (httpload.c: one endpoint, body counted; benchlean.c: the booking flow,
 * body read): the plain-http target split, the response head parser and a
 * whole-response framer. Internal to the load engines (not a public API).
 *
 * Message framing follows RFC 9112 section 6.3: 1xx heads are skipped,
 * 204 and 304 have no body, chunked wins over Content-Length, two different
 * Content-Length values are malformed, and with neither the body runs until
 * the server closes (rule 8). */
#ifndef TICKETCTL_HTTP1_H
#define TICKETCTL_HTTP1_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

typedef struct tk_http1_url {
    char host[256];     /* without brackets */
    char hostport[300]; /* as written, for the Host header */
    char port[8];
    char prefix[256]; /* path prefix without trailing slash, may be "" */
} tk_http1_url;

/* Split "http://host[:port][/prefix]" (IPv4, [IPv6] or a name) into u.
 * Returns 0, or -1 for anything else (https, userinfo, query, fragment,
 * a bad port, parts too long). */
int tk_http1_url_split(const char *target, tk_http1_url *u /* OUT */);

/* Resolve u's host and port once (getaddrinfo, the first address) into
 * addr/len. 0, or -1 with err. */
int tk_http1_resolve(const tk_http1_url *u, struct sockaddr_storage *addr /* OUT */, socklen_t *len /* OUT */,
                     char *err /* OUT */, size_t errlen);

/* A non-blocking TCP_NODELAY socket with its connect() to addr started:
 * the fd (connected, or EINPROGRESS: writable once done), or -1 with
 * errno. */
int tk_http1_connect(const struct sockaddr_storage *addr, socklen_t len);

enum { TK_HTTP1_NOBODY = 0, TK_HTTP1_LENGTH, TK_HTTP1_CHUNKED, TK_HTTP1_UNTIL_CLOSE };

typedef struct tk_http1_head {
    int status;       /* 200..599 */
    int keep;         /* the connection may carry the next request */
    int framing;      /* TK_HTTP1_* */
    uint64_t length;  /* body bytes with TK_HTTP1_LENGTH */
} tk_http1_head;

/* Parse a complete response head h[0..len) (status line to the blank line
 * included) into out. Returns 0, 1 for a 1xx head (skip it, the real head
 * follows), -1 when malformed. */
int tk_http1_parse_head(const char *h, size_t len, tk_http1_head *out /* OUT */);

typedef struct tk_http1_resp {
    tk_http1_head head;
    size_t used;      /* bytes of the buffer this response took */
    size_t body_off;  /* the body (de-chunked in place) starts here ... */
    size_t body_len;  /* ... and is this long */
} tk_http1_resp;

/* Is p[0..n) (every byte received so far for one request) a complete
 * response? Returns 1 and fills out (a chunked body is de-chunked in place
 * in p, so p must be writable and the caller's), 0 when more bytes are
 * needed, -1 when malformed or when a head passes 64 KiB. `closed`: the
 * server has closed the connection after these bytes, which ends a body
 * delimited by the close (else incomplete stays incomplete). */
int tk_http1_response(char *p, size_t n, int closed, tk_http1_resp *out /* OUT */);

#endif
