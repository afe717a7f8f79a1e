/* HTTP/1.1 client-side framing for the lean load engines (http1.h). */
#include "http1.h"
#include "ticketctl/common.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HEAD_LIMIT (64 * 1024)

int tk_http1_url_split(const char *target, tk_http1_url *u)
{
    memset(u, 0, sizeof *u);
    if (!target || strncasecmp(target, "http://", 7) != 0)
        return -1;
    const char *p = target + 7, *slash = strchr(p, '/');
    size_t hplen = slash ? (size_t)(slash - p) : strlen(p);
    if (hplen == 0 || hplen >= sizeof u->hostport || strchr(p, '@') || strchr(p, '?') || strchr(p, '#'))
        return -1;
    memcpy(u->hostport, p, hplen);
    const char *hp = u->hostport, *colon;
    if (hp[0] == '[') {
        const char *rb = strchr(hp, ']');
        if (!rb || rb == hp + 1 || (size_t)(rb - hp - 1) >= sizeof u->host)
            return -1;
        memcpy(u->host, hp + 1, (size_t)(rb - hp - 1));
        colon = rb[1] == ':' ? rb + 1 : NULL;
        if (rb[1] && rb[1] != ':')
            return -1;
    } else {
        colon = strchr(hp, ':');
        size_t hl = colon ? (size_t)(colon - hp) : strlen(hp);
        if (hl == 0 || hl >= sizeof u->host)
            return -1;
        memcpy(u->host, hp, hl);
    }
    if (colon) {
        int64_t port;
        if (tk_parse_i64(colon + 1, 1, 65535, &port) != 0)
            return -1;
        snprintf(u->port, sizeof u->port, "%d", (int)port);
    } else {
        snprintf(u->port, sizeof u->port, "80");
    }
    if (slash) {
        size_t n = strlen(slash);
        while (n > 0 && slash[n - 1] == '/')
            n--;
        if (n >= sizeof u->prefix)
            return -1;
        memcpy(u->prefix, slash, n);
    }
    return 0;
}

int tk_http1_resolve(const tk_http1_url *u, struct sockaddr_storage *addr, socklen_t *len, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_family = AF_UNSPEC}, *res = NULL;
    int e = getaddrinfo(u->host, u->port, &hints, &res);
    if (e != 0 || !res)
        return tk_err(err, errlen, "cannot resolve %s: %s", u->host, e ? gai_strerror(e) : "no address");
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int tk_http1_connect(const struct sockaddr_storage *addr, socklen_t len)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (const struct sockaddr *)addr, len) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Case-insensitive: does [v, v+n) contain the token tok? */
static int has_token(const char *v, size_t n, const char *tok)
{
    size_t k = strlen(tok);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(v + i, tok, k) == 0)
            return 1;
    return 0;
}

int tk_http1_parse_head(const char *h, size_t len, tk_http1_head *out)
{
    if (len < 12 || memcmp(h, "HTTP/1.", 7) != 0 || (h[7] != '0' && h[7] != '1') || h[8] != ' ')
        return -1;
    if (h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' || h[11] > '9')
        return -1;
    int status = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
    if (status < 200)
        return 1;
    int keep = h[7] == '1', chunked = 0, have_len = 0;
    uint64_t clen = 0;
    const char *p = memchr(h, '\n', len), *end = h + len;
    while (p && ++p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            break;
        size_t ll = (size_t)(eol - p);
        if (ll && p[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            break; /* the blank line */
        const char *colon = memchr(p, ':', ll);
        if (!colon)
            return -1;
        size_t nl = (size_t)(colon - p);
        const char *v = colon + 1, *ve = p + ll;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        if (nl == 14 && strncasecmp(p, "content-length", 14) == 0) {
            uint64_t x = 0;
            const char *q = v;
            for (; q < ve && *q >= '0' && *q <= '9'; q++) {
                if (x > (UINT64_MAX - 9) / 10)
                    return -1;
                x = x * 10 + (uint64_t)(*q - '0');
            }
            while (q < ve && (*q == ' ' || *q == '\t'))
                q++;
            if (q == v || q != ve || (have_len && x != clen))
                return -1;
            clen = x;
            have_len = 1;
        } else if (nl == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
            chunked = has_token(v, (size_t)(ve - v), "chunked");
        } else if (nl == 10 && strncasecmp(p, "connection", 10) == 0) {
            if (has_token(v, (size_t)(ve - v), "close"))
                keep = 0;
            else if (has_token(v, (size_t)(ve - v), "keep-alive"))
                keep = 1;
        }
        p = eol;
    }
    out->status = status;
    out->keep = keep;
    out->length = 0;
    if (status == 204 || status == 304) {
        out->framing = TK_HTTP1_NOBODY;
    } else if (chunked) {
        out->framing = TK_HTTP1_CHUNKED;
    } else if (have_len) {
        out->framing = clen ? TK_HTTP1_LENGTH : TK_HTTP1_NOBODY;
        out->length = clen;
    } else {
        out->framing = TK_HTTP1_UNTIL_CLOSE;
        out->keep = 0;
    }
    return 0;
}

static int hexval(char ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Walk a chunked body p[i..n). Returns 1 with *end (the byte after the
 * trailer) and, with w != NULL, the data moved down to w (its length in
 * *wlen); 0 when incomplete; -1 when malformed. */
static int chunked_walk(char *p, size_t i, size_t n, char *w, size_t *wlen, size_t *end)
{
    size_t out = 0;
    for (;;) {
        uint64_t size = 0;
        int ndig = 0, d;
        while (i < n && (d = hexval(p[i])) >= 0) {
            if (++ndig > 15)
                return -1;
            size = size * 16 + (uint64_t)d;
            i++;
        }
        if (i >= n)
            return 0;
        if (ndig == 0)
            return -1;
        const char *nl = memchr(p + i, '\n', n - i); /* extensions skipped */
        if (!nl)
            return 0;
        if (p[i] != '\r' && p[i] != '\n' && p[i] != ';' && p[i] != ' ' && p[i] != '\t')
            return -1;
        i = (size_t)(nl - p) + 1;
        if (size == 0)
            break;
        if (n - i < size)
            return 0;
        if (w)
            memmove(w + out, p + i, (size_t)size);
        out += (size_t)size;
        i += (size_t)size;
        if (i < n && p[i] == '\r')
            i++;
        if (i >= n)
            return 0;
        if (p[i++] != '\n')
            return -1;
    }
    for (;;) { /* trailer lines, up to the empty one */
        const char *nl = memchr(p + i, '\n', n - i);
        if (!nl)
            return 0;
        size_t ll = (size_t)(nl - (p + i));
        i = (size_t)(nl - p) + 1;
        if (ll == 0 || (ll == 1 && p[i - 2] == '\r'))
            break;
    }
    *end = i;
    if (wlen)
        *wlen = out;
    return 1;
}

int tk_http1_response(char *p, size_t n, int closed, tk_http1_resp *out)
{
    size_t off = 0;
    for (;;) { /* 1xx heads first */
        const char *e = memmem(p + off, n - off, "\r\n\r\n", 4);
        if (!e)
            return n - off > HEAD_LIMIT ? -1 : 0;
        size_t hl = (size_t)(e - (p + off)) + 4;
        int rc = tk_http1_parse_head(p + off, hl, &out->head);
        if (rc < 0)
            return -1;
        off += hl;
        if (rc == 0)
            break;
    }
    out->body_off = off;
    switch (out->head.framing) {
    case TK_HTTP1_NOBODY:
        out->body_len = 0;
        out->used = off;
        return 1;
    case TK_HTTP1_LENGTH:
        if (n - off < out->head.length)
            return 0;
        out->body_len = (size_t)out->head.length;
        out->used = off + out->body_len;
        return 1;
    case TK_HTTP1_CHUNKED: {
        size_t end = 0, len = 0;
        int rc = chunked_walk(p, off, n, NULL, NULL, &end);
        if (rc <= 0)
            return rc;
        chunked_walk(p, off, n, p + off, &len, &end); /* complete: de-chunk in place */
        out->body_len = len;
        out->used = end;
        return 1;
    }
    default: /* until the server closes */
        if (!closed)
            return 0;
        out->body_len = n - off;
        out->used = n;
        return 1;
    }
}
