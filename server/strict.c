/* Strict HTTP/1.1 request framing (see strict.h for what is refused and
 * why). A state machine over the bytes of one connection: the head is
 * judged whole once its empty line has arrived, bodies pass by count,
 * chunked bodies line by line. */
#include "strict.h"

#include <string.h>
#include <strings.h>

enum { S_HEAD = 0, S_BODY, S_CHUNK_SIZE, S_CHUNK_DATA, S_CHUNK_CRLF, S_TRAILER, S_DEAD };

static const tk_strict_reply replies[TK_STRICT_NREASONS] = {
    [TK_STRICT_REQUEST_LINE] = {400, "BAD_REQUEST", "malformed request line (RFC 9112 3)"},
    [TK_STRICT_HTTP09] = {400, "BAD_REQUEST", "HTTP/0.9 requests are not served: the request line needs a version"},
    [TK_STRICT_VERSION] = {505, "HTTP_VERSION_NOT_SUPPORTED", "only HTTP/1.0 and HTTP/1.1 are served"},
    [TK_STRICT_METHOD] = {501, "NOT_IMPLEMENTED", "unknown request method"},
    [TK_STRICT_CONNECT_TRACE] = {501, "NOT_IMPLEMENTED", "CONNECT and TRACE are not served"},
    [TK_STRICT_TARGET] = {400, "BAD_REQUEST", "malformed request target"},
    [TK_STRICT_TARGET_LONG] = {414, "URI_TOO_LONG", "request target over 8192 bytes"},
    [TK_STRICT_HEAD_LARGE] = {431, "HEADERS_TOO_LARGE", "request head over 16384 bytes"},
    [TK_STRICT_FIELD_NAME] = {400, "BAD_REQUEST", "malformed header field name (RFC 9112 5.1)"},
    [TK_STRICT_FIELD_VALUE] = {400, "BAD_REQUEST", "control character in a header field value (RFC 9110 5.5)"},
    [TK_STRICT_FOLD] = {400, "BAD_REQUEST", "obsolete line folding in the header (RFC 9112 5.2)"},
    [TK_STRICT_CL_BAD] = {400, "BAD_REQUEST", "Content-Length must be decimal digits only"},
    [TK_STRICT_CL_DUP] = {400, "BAD_REQUEST", "more than one Content-Length"},
    [TK_STRICT_CL_TE] = {400, "BAD_REQUEST", "Content-Length together with Transfer-Encoding (RFC 9112 6.3)"},
    [TK_STRICT_TE_DUP] = {400, "BAD_REQUEST", "more than one Transfer-Encoding"},
    [TK_STRICT_TE_UNKNOWN] = {501, "NOT_IMPLEMENTED", "the only transfer coding served is chunked"},
    [TK_STRICT_TE_HTTP10] = {400, "BAD_REQUEST", "Transfer-Encoding on an HTTP/1.0 request (RFC 9112 6.1)"},
    [TK_STRICT_HOST_MISSING] = {400, "BAD_REQUEST", "HTTP/1.1 requires a Host header (RFC 9112 3.2)"},
    [TK_STRICT_HOST_DUP] = {400, "BAD_REQUEST", "more than one Host header"},
    [TK_STRICT_HEAD_BODY] = {400, "BAD_REQUEST", "a HEAD request cannot carry a body"},
    [TK_STRICT_EXPECT] = {417, "EXPECTATION_FAILED", "the only expectation served is 100-continue"},
    [TK_STRICT_BODY_LARGE] = {413, "PAYLOAD_TOO_LARGE", "request body over the limit"},
    [TK_STRICT_CHUNK_SIZE] = {400, "BAD_REQUEST", "malformed chunk size (RFC 9112 7.1)"},
    [TK_STRICT_CHUNK_EXT] = {400, "BAD_REQUEST", "chunk extensions are not accepted"},
    [TK_STRICT_CHUNK_CRLF] = {400, "BAD_REQUEST", "chunk data not followed by CRLF"},
    [TK_STRICT_TRAILER] = {400, "BAD_REQUEST", "malformed or framing field in the trailer section"},
};

const tk_strict_reply *tk_strict_reply_for(int reason)
{
    if (reason <= TK_STRICT_OK || reason >= TK_STRICT_NREASONS)
        return NULL;
    return &replies[reason];
}

void tk_strict_init(tk_strict *st, uint64_t max_body)
{
    memset(st, 0, sizeof *st);
    st->max_body = max_body;
}

int tk_strict_wants_line(const tk_strict *st)
{
    return st->state == S_HEAD || st->state == S_TRAILER || st->state == S_CHUNK_SIZE;
}

int tk_strict_in_body(const tk_strict *st)
{
    return st->state != S_HEAD;
}

static int reject(tk_strict *st, tk_strict_reason r)
{
    st->reason = r;
    st->state = S_DEAD;
    return TK_STRICT_REJECT;
}

/* RFC 9110 5.6.2 tchar */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-value bytes: VCHAR, obs-text, SP, HTAB */
static int is_vbyte(unsigned char c)
{
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* The line [p, p+len) without its LF; strip one CR before it. A CR left
 * inside is a bare CR: 0. */
static size_t line_body(const char *p, size_t len, int *bare_cr)
{
    if (len && p[len - 1] == '\r')
        len--;
    *bare_cr = memchr(p, '\r', len) != NULL;
    return len;
}

static int ieq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && strncasecmp(a, b, alen) == 0;
}

/* One field line [p, p+len) (no line end). Splits it into name and the
 * OWS-trimmed value. 0, or a reason. */
static tk_strict_reason field_split(const char *p, size_t len, const char **name, size_t *nlen, const char **val,
                                    size_t *vlen)
{
    if (len && (p[0] == ' ' || p[0] == '\t'))
        return TK_STRICT_FOLD;
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i == len || p[i] != ':')
        return TK_STRICT_FIELD_NAME;
    *name = p;
    *nlen = i;
    size_t s = i + 1, e = len;
    for (size_t k = s; k < e; k++)
        if (!is_vbyte((unsigned char)p[k]))
            return TK_STRICT_FIELD_VALUE;
    while (s < e && (p[s] == ' ' || p[s] == '\t'))
        s++;
    while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    *val = p + s;
    *vlen = e - s;
    return TK_STRICT_OK;
}

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"};

/* Judge a complete head [p, p+len) (ending with its empty line). */
static int judge_head(tk_strict *st, const char *p, size_t len)
{
    const char *end = p + len;
    const char *lf = memchr(p, '\n', len);
    int bare_cr;
    size_t ll = line_body(p, (size_t)(lf - p), &bare_cr);
    if (bare_cr)
        return reject(st, TK_STRICT_REQUEST_LINE);
    /* method SP target SP version */
    const char *sp1 = memchr(p, ' ', ll);
    if (!sp1 || sp1 == p)
        return reject(st, TK_STRICT_REQUEST_LINE);
    for (const char *c = p; c < sp1; c++)
        if (!is_tchar((unsigned char)*c))
            return reject(st, TK_STRICT_REQUEST_LINE);
    size_t mlen = (size_t)(sp1 - p);
    const char *tgt = sp1 + 1, *le = p + ll;
    const char *sp2 = memchr(tgt, ' ', (size_t)(le - tgt));
    if (!sp2)
        return reject(st, tgt < le ? TK_STRICT_HTTP09 : TK_STRICT_REQUEST_LINE);
    size_t tlen = (size_t)(sp2 - tgt);
    const char *ver = sp2 + 1;
    size_t vlen = (size_t)(le - ver);
    if (vlen != 8 || memcmp(ver, "HTTP/", 5) || ver[5] < '0' || ver[5] > '9' || ver[6] != '.' || ver[7] < '0' ||
        ver[7] > '9')
        return reject(st, TK_STRICT_REQUEST_LINE); /* also a third space or a lower-case "http/" */
    int v11 = ver[5] == '1' && ver[7] == '1', v10 = ver[5] == '1' && ver[7] == '0';
    if (!v11 && !v10)
        return reject(st, TK_STRICT_VERSION);
    int known = 0, is_head = 0;
    if ((mlen == 7 && !memcmp(p, "CONNECT", 7)) || (mlen == 5 && !memcmp(p, "TRACE", 5)))
        return reject(st, TK_STRICT_CONNECT_TRACE);
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (mlen == strlen(methods[i]) && !memcmp(p, methods[i], mlen)) {
            known = 1;
            is_head = i == 1;
        }
    if (!known)
        return reject(st, TK_STRICT_METHOD);
    if (tlen == 0)
        return reject(st, TK_STRICT_TARGET);
    if (tlen > TK_STRICT_MAX_TARGET)
        return reject(st, TK_STRICT_TARGET_LONG);
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)tgt[i] <= 0x20 || (unsigned char)tgt[i] >= 0x7f)
            return reject(st, TK_STRICT_TARGET);
    if (tgt[0] != '/' && !(tlen == 1 && tgt[0] == '*') && strncasecmp(tgt, "http://", 7) &&
        strncasecmp(tgt, "https://", 8))
        return reject(st, TK_STRICT_TARGET);

    int ncl = 0, nte = 0, nhost = 0;
    uint64_t cl = 0;
    for (const char *line = lf + 1; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t fl = line_body(line, (size_t)(nl - line), &bare_cr);
        if (fl == 0 && !bare_cr) /* the empty line */
            break;
        if (bare_cr)
            return reject(st, TK_STRICT_FIELD_VALUE);
        const char *name, *val;
        size_t nlen, vl;
        tk_strict_reason r = field_split(line, fl, &name, &nlen, &val, &vl);
        if (r)
            return reject(st, r);
        if (ieq(name, nlen, "Content-Length")) {
            if (++ncl > 1)
                return reject(st, TK_STRICT_CL_DUP);
            if (vl == 0 || vl > 18)
                return reject(st, TK_STRICT_CL_BAD);
            for (size_t i = 0; i < vl; i++) {
                if (val[i] < '0' || val[i] > '9')
                    return reject(st, TK_STRICT_CL_BAD);
                cl = cl * 10 + (uint64_t)(val[i] - '0');
            }
        } else if (ieq(name, nlen, "Transfer-Encoding")) {
            if (++nte > 1)
                return reject(st, TK_STRICT_TE_DUP);
            if (!ieq(val, vl, "chunked"))
                return reject(st, TK_STRICT_TE_UNKNOWN);
        } else if (ieq(name, nlen, "Host")) {
            if (++nhost > 1)
                return reject(st, TK_STRICT_HOST_DUP);
        } else if (ieq(name, nlen, "Expect")) {
            if (v11 && !ieq(val, vl, "100-continue"))
                return reject(st, TK_STRICT_EXPECT);
        }
        line = nl + 1;
    }
    if (ncl && nte)
        return reject(st, TK_STRICT_CL_TE);
    if (nte && v10)
        return reject(st, TK_STRICT_TE_HTTP10);
    if (v11 && !nhost)
        return reject(st, TK_STRICT_HOST_MISSING);
    if (is_head && (nte || cl > 0))
        return reject(st, TK_STRICT_HEAD_BODY);
    if (cl > st->max_body)
        return reject(st, TK_STRICT_BODY_LARGE);
    st->requests++;
    st->body_total = 0;
    st->trailer_bytes = 0;
    if (nte) {
        st->state = S_CHUNK_SIZE;
    } else if (cl > 0) {
        st->state = S_BODY;
        st->left = cl;
    } else {
        st->state = S_HEAD;
    }
    return TK_STRICT_PASS;
}

static int feed_head(tk_strict *st, const char *p, size_t len, size_t *n)
{
    if (st->scanned == 0 && len) { /* empty lines before the request line */
        if (p[0] == '\n') {
            *n = 1;
            return TK_STRICT_SKIP;
        }
        if (p[0] == '\r') {
            if (len < 2)
                return TK_STRICT_MORE;
            if (p[1] != '\n')
                return reject(st, TK_STRICT_REQUEST_LINE);
            *n = 2;
            return TK_STRICT_SKIP;
        }
    }
    /* Find the empty line: resume at the start of the last incomplete line. */
    size_t ls = st->scanned;
    size_t lim = len < TK_STRICT_MAX_HEAD + 2 ? len : TK_STRICT_MAX_HEAD + 2;
    while (ls < lim) {
        const char *nl = memchr(p + ls, '\n', lim - ls);
        if (!nl)
            break;
        size_t ll = (size_t)(nl - (p + ls));
        if (ls > 0 && (ll == 0 || (ll == 1 && p[ls] == '\r'))) {
            size_t hl = (size_t)(nl - p) + 1;
            st->scanned = 0;
            if (hl > TK_STRICT_MAX_HEAD + 2)
                return reject(st, TK_STRICT_HEAD_LARGE);
            int rc = judge_head(st, p, hl);
            if (rc == TK_STRICT_PASS)
                *n = hl;
            return rc;
        }
        ls = (size_t)(nl - p) + 1;
    }
    st->scanned = ls;
    if (len >= TK_STRICT_MAX_HEAD + 2)
        return reject(st, TK_STRICT_HEAD_LARGE);
    return TK_STRICT_MORE;
}

static int feed_chunk_size(tk_strict *st, const char *p, size_t len, size_t *n)
{
    size_t lim = len < 64 ? len : 64;
    const char *nl = memchr(p, '\n', lim);
    if (!nl)
        return len >= 64 ? reject(st, TK_STRICT_CHUNK_SIZE) : TK_STRICT_MORE;
    int bare_cr;
    size_t ll = line_body(p, (size_t)(nl - p), &bare_cr);
    if (bare_cr)
        return reject(st, TK_STRICT_CHUNK_SIZE);
    uint64_t size = 0;
    size_t i = 0;
    for (; i < ll; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (i >= 15)
            return reject(st, TK_STRICT_CHUNK_SIZE);
        size = size * 16 + (uint64_t)d;
    }
    if (i == 0)
        return reject(st, TK_STRICT_CHUNK_SIZE);
    if (i < ll)
        return reject(st, p[i] == ';' ? TK_STRICT_CHUNK_EXT : TK_STRICT_CHUNK_SIZE);
    if (size > st->max_body - st->body_total)
        return reject(st, TK_STRICT_BODY_LARGE);
    st->body_total += size;
    st->left = size;
    st->state = size ? S_CHUNK_DATA : S_TRAILER;
    *n = (size_t)(nl - p) + 1;
    return TK_STRICT_PASS;
}

static int feed_trailer(tk_strict *st, const char *p, size_t len, size_t *n)
{
    size_t room = TK_STRICT_MAX_HEAD - st->trailer_bytes;
    size_t lim = len < room + 2 ? len : room + 2;
    const char *nl = memchr(p, '\n', lim);
    if (!nl)
        return len >= room + 2 ? reject(st, TK_STRICT_HEAD_LARGE) : TK_STRICT_MORE;
    int bare_cr;
    size_t ll = line_body(p, (size_t)(nl - p), &bare_cr);
    if (bare_cr)
        return reject(st, TK_STRICT_TRAILER);
    *n = (size_t)(nl - p) + 1;
    st->trailer_bytes += *n;
    if (st->trailer_bytes > TK_STRICT_MAX_HEAD)
        return reject(st, TK_STRICT_HEAD_LARGE);
    if (ll == 0) { /* end of the request */
        st->state = S_HEAD;
        return TK_STRICT_PASS;
    }
    const char *name, *val;
    size_t nlen, vl;
    if (field_split(p, ll, &name, &nlen, &val, &vl) != TK_STRICT_OK || ieq(name, nlen, "Content-Length") ||
        ieq(name, nlen, "Transfer-Encoding") || ieq(name, nlen, "Host"))
        return reject(st, TK_STRICT_TRAILER);
    return TK_STRICT_PASS;
}

int tk_strict_feed(tk_strict *st, const char *p, size_t len, size_t *n)
{
    *n = 0;
    if (st->state == S_DEAD)
        return TK_STRICT_REJECT;
    if (len == 0)
        return TK_STRICT_MORE;
    switch (st->state) {
    case S_HEAD: return feed_head(st, p, len, n);
    case S_BODY:
    case S_CHUNK_DATA:
        *n = len < st->left ? len : (size_t)st->left;
        st->left -= *n;
        if (st->left == 0)
            st->state = st->state == S_BODY ? S_HEAD : S_CHUNK_CRLF;
        return TK_STRICT_PASS;
    case S_CHUNK_CRLF:
        if (p[0] == '\n') {
            *n = 1;
        } else if (p[0] == '\r') {
            if (len < 2)
                return TK_STRICT_MORE;
            if (p[1] != '\n')
                return reject(st, TK_STRICT_CHUNK_CRLF);
            *n = 2;
        } else {
            return reject(st, TK_STRICT_CHUNK_CRLF);
        }
        st->state = S_CHUNK_SIZE;
        return TK_STRICT_PASS;
    case S_CHUNK_SIZE: return feed_chunk_size(st, p, len, n);
    case S_TRAILER: return feed_trailer(st, p, len, n);
    }
    return reject(st, TK_STRICT_REQUEST_LINE);
}
