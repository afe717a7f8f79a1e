/* The booking flow's lean HTTP/1.1 transport (benchflow.h): each VU keeps
 * one keep-alive connection (non-blocking socket, TCP_NODELAY) on its
 * thread's event loop, as httpload.c's connections do for one endpoint.
 *
 * Per request: the flow gives path, body and kind; the request is formatted
 * into the thread's send buffer (request line, Host, User-Agent,
 * Content-Type and Content-Length with a body, Authorization, X-Queue-Token,
 * X-Lock-Strategy, Idempotency-Key as the kind wants) and written with one
 * send(); only a short write keeps a heap copy of the rest. The answer is
 * read with recv() into the thread's 64 KiB buffer and framed there by
 * tk_http1_response() (http1.h); only an answer split over several reads is
 * gathered in a heap buffer of the VU, freed once it is complete. So a VU
 * costs its struct, its access token and its socket, not per-VU 4-8 KiB
 * buffers as libcurl's easy handles do.
 *
 * Clocks (issue 17): the uncorrected latency runs from the send() of the
 * request to the read that completes its answer, as wrk and httpload.c
 * measure; connect time is left out (as curl's pretransfer clock and wrk
 * do). The flow never sends from inside a read callback: the next request
 * goes out from the VU's think timer or, with no think time, from the
 * thread's after-batch queue once every answer of the loop round has been
 * read and timestamped (bench.c).
 *
 * Not from the write event in the next round, as httpload.c now sends for
 * one endpoint (issue 17, docs/LOADGEN.md). In the flow, that was measured
 * with scripts/sockwait.c in 4 interleaved rounds, reseeded, at 50 VUs with
 * no think time. It cost 7 % more CPU per request (101 against 109 thousand
 * requests per CPU-second), and the answers' wait in the socket did not
 * shorten (p99 1.17-1.33 ms against 1.01-1.29). The steps' p99 there is
 * 13-20 ms, set by the server, not by the generator.
 *
 * Errors by kind as httpload.c: connect, timeout (no complete answer within
 * timeout_ms of the request, found by the thread's 100 ms scan), read
 * (reset, EOF or a malformed answer). A request that finds its kept-alive
 * connection closed by the server before any byte of the answer is written
 * once more on a fresh connection with the same Idempotency-Key (as curl
 * does), not counted twice. */
#include "benchflow.h"
#include "ticketctl/common.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TK_VERSION
#define TK_VERSION "0.1.0"
#endif

#define RBUF (64 * 1024)      /* per-thread receive buffer */
#define SBUF (8 * 1024)       /* per-thread request buffer */
#define ANSWER_MAX (32u << 20) /* a longer answer is a read error */

int tk_benchlean_init(bench *b, char *err, size_t errlen)
{
    if (tk_http1_url_split(b->target, &b->url) != 0)
        return tk_err(err, errlen, "target '%s' is not a plain http://host[:port] URL", b->target);
    if (tk_http1_resolve(&b->url, &b->addr, &b->addrlen, err, errlen) != 0)
        return -1;
    return 0;
}

int tk_benchlean_thr_init(thr *t)
{
    if (!(t->rbuf = malloc(RBUF)) || !(t->sbuf = malloc(SBUF)))
        return tk_err(t->err, sizeof t->err, "out of memory");
    for (int i = 0; i < t->nvu; i++)
        t->vus[i].fd = -1;
    return 0;
}

static void lean_close(vu *v)
{
    if (v->fd >= 0) {
        event_del(&v->rev);
        event_del(&v->wev);
        close(v->fd);
        v->fd = -1;
    }
    v->reused = 0;
}

/* The request is over: reset the per-request state. */
static void lean_reset(vu *v)
{
    v->cstate = L_IDLE;
    v->got = 0;
    v->retried = 0;
    free(v->buf);
    v->buf = NULL;
    v->len = v->cap = 0;
    free(v->wrest);
    v->wrest = NULL;
    v->wlen = v->woff = 0;
}

void tk_benchlean_thr_free(thr *t)
{
    for (int i = 0; i < t->nvu; i++) {
        lean_close(&t->vus[i]);
        lean_reset(&t->vus[i]);
    }
    free(t->rbuf);
    free(t->sbuf);
    t->rbuf = t->sbuf = NULL;
}

static void lean_fail(vu *v, int kind)
{
    lean_close(v);
    lean_reset(v);
    tk_benchflow_done(v, kind, 0, NULL, 0, tk_mono_us() - (v->t_write ? v->t_write : v->t_start));
}

/* The connection broke before a complete answer: once, when a kept-alive
 * connection was closed under us before a byte came back, the request goes
 * again on a fresh one; else a read error. */
static void lean_broken(vu *v)
{
    if (v->reused && v->got == 0 && !v->retried) {
        lean_close(v);
        free(v->wrest);
        v->wrest = NULL;
        v->retried = 1;
        v->resend = 1;
        tk_benchflow_resend(v); /* back through tk_benchlean_send, the same bytes */
        return;
    }
    lean_fail(v, TK_BERR_READ);
}

/* Write what is left of the request (the thread's buffer, or the rest). */
static void lean_write(vu *v, const char *p, size_t n)
{
    size_t off = 0;
    if (!v->t_write)
        v->t_write = tk_mono_us();
    while (off < n) {
        ssize_t k = send(v->fd, p + off, n - off, MSG_NOSIGNAL);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (p != v->wrest) { /* keep the rest: the thread's buffer is reused */
                char *rest = malloc(n - off);
                if (!rest) {
                    lean_fail(v, TK_BERR_READ);
                    return;
                }
                memcpy(rest, p + off, n - off);
                v->wrest = rest;
                v->wlen = (uint32_t)(n - off);
            } else {
                memmove(v->wrest, v->wrest + off, n - off);
                v->wlen = (uint32_t)(n - off);
            }
            v->cstate = L_WRITING;
            event_add(&v->wev, NULL);
            return;
        }
        lean_broken(v);
        return;
    }
    free(v->wrest);
    v->wrest = NULL;
    v->wlen = 0;
    v->cstate = L_READING;
}

static void on_lean_read(evutil_socket_t fd, short what, void *arg);

static void on_lean_write(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    vu *v = arg;
    if (v->cstate == L_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e != 0) {
            lean_fail(v, TK_BERR_CONNECT);
            return;
        }
    }
    if (v->wrest)
        lean_write(v, v->wrest, v->wlen);
}

/* The answer in p[0..n) is complete (r): count it, keep or close. */
static void lean_complete(vu *v, const char *p, const tk_http1_resp *r, size_t n)
{
    uint64_t lat = tk_mono_us() - v->t_write;
    int keep = r->head.keep && r->used == n && !v->wrest;
    if (keep)
        v->reused = 1;
    else
        lean_close(v);
    char *own = v->buf; /* the body may be in it: freed after the flow read it */
    v->buf = NULL;
    lean_reset(v);
    tk_benchflow_done(v, -1, r->head.status, p + r->body_off, r->body_len, lat);
    free(own);
}

static void on_lean_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    vu *v = arg;
    thr *t = v->t;
    for (;;) {
        ssize_t n = recv(fd, t->rbuf, RBUF, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) { /* closed (or reset) by the server */
            if (v->cstate == L_IDLE) {
                lean_close(v); /* an idle kept-alive connection: reconnect on the next request */
                return;
            }
            if (v->cstate == L_CONNECTING) {
                lean_fail(v, TK_BERR_CONNECT);
                return;
            }
            tk_http1_resp r;
            if (n == 0 && v->buf && tk_http1_response(v->buf, v->len, 1, &r) == 1) {
                lean_close(v); /* a body delimited by the close */
                lean_complete(v, v->buf, &r, v->len);
                return;
            }
            lean_broken(v);
            return;
        }
        if (v->cstate != L_READING && v->cstate != L_WRITING) {
            int connecting = v->cstate == L_CONNECTING;
            lean_close(v); /* bytes nobody asked for: drop the connection */
            if (connecting)
                lean_fail(v, TK_BERR_READ);
            return;
        }
        v->got += (uint64_t)n;
        char *p = t->rbuf;
        size_t len = (size_t)n;
        if (v->buf) { /* the answer so far is gathered in v->buf */
            if (v->len + len > v->cap) {
                size_t cap = v->cap * 2;
                while (cap < v->len + len)
                    cap *= 2;
                char *nb = cap <= ANSWER_MAX ? realloc(v->buf, cap) : NULL;
                if (!nb) {
                    lean_fail(v, TK_BERR_READ);
                    return;
                }
                v->buf = nb;
                v->cap = cap;
            }
            memcpy(v->buf + v->len, p, len);
            v->len += len;
            p = v->buf;
            len = v->len;
        }
        tk_http1_resp r;
        int rc = tk_http1_response(p, len, 0, &r);
        if (rc < 0) {
            lean_fail(v, TK_BERR_READ);
            return;
        }
        if (rc == 1) {
            lean_complete(v, p, &r, len);
            return;
        }
        if (!v->buf) { /* the first piece of a split answer */
            size_t cap = 2 * len > 4096 ? 2 * len : 4096;
            if (!(v->buf = malloc(cap))) {
                lean_fail(v, TK_BERR_READ);
                return;
            }
            memcpy(v->buf, p, len);
            v->len = len;
            v->cap = cap;
        }
        if ((size_t)n < RBUF)
            return;
    }
}

static int lean_connect(vu *v)
{
    bench *b = v->t->b;
    int fd = tk_http1_connect(&b->addr, b->addrlen);
    if (fd < 0)
        return -1;
    v->fd = fd;
    v->reused = 0;
    event_assign(&v->rev, v->t->base, fd, EV_READ | EV_PERSIST, on_lean_read, v);
    event_assign(&v->wev, v->t->base, fd, EV_WRITE, on_lean_write, v);
    event_add(&v->rev, NULL);
    return 0;
}

/* The request under construction in the thread's buffer: appends by
 * memcpy (snprintf's format parsing was 2.5 % of bench's CPU at 5,000 VUs);
 * over once something did not fit. */
typedef struct wbuf {
    char *s;
    size_t cap, n;
    int over;
} wbuf;

static void put(wbuf *w, const char *p, size_t k)
{
    if (w->over || k > w->cap - w->n) {
        w->over = 1;
        return;
    }
    memcpy(w->s + w->n, p, k);
    w->n += k;
}

static void puts0(wbuf *w, const char *p) { put(w, p, strlen(p)); }

static void putu(wbuf *w, uint64_t v)
{
    char d[20];
    int i = (int)sizeof d;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) && i > 0);
    put(w, d + i, sizeof d - (size_t)i);
}

/* Format the request into the thread's buffer; its length, or 0 when it
 * does not fit. */
static size_t lean_format(vu *v, const char *path, const char *body, int kind)
{
    thr *t = v->t;
    bench *b = t->b;
    wbuf w = {t->sbuf, SBUF, 0, 0};
    size_t blen = body ? strlen(body) : 0;
    puts0(&w, body ? "POST " : "GET ");
    puts0(&w, b->url.prefix);
    puts0(&w, path);
    puts0(&w, " HTTP/1.1\r\nHost: ");
    puts0(&w, b->url.hostport);
    puts0(&w, "\r\nUser-Agent: ticketctl-bench/" TK_VERSION "\r\n");
    if (body) {
        puts0(&w, "Content-Type: application/json\r\nContent-Length: ");
        putu(&w, blen);
        puts0(&w, "\r\n");
    }
    if (kind != REQ_LOGIN) {
        if (v->jwt) {
            puts0(&w, "Authorization: Bearer ");
            puts0(&w, v->jwt);
            puts0(&w, "\r\n");
        }
        if (v->qtok[0]) {
            puts0(&w, "X-Queue-Token: ");
            puts0(&w, v->qtok);
            puts0(&w, "\r\n");
        }
        if (b->cfg->strategy) {
            puts0(&w, "X-Lock-Strategy: ");
            puts0(&w, b->cfg->strategy);
            puts0(&w, "\r\n");
        }
    }
    if (kind == REQ_PAY) {
        char key[64];
        int k = snprintf(key, sizeof key, "Idempotency-Key: %08x-%08x-%016llx\r\n", b->nonce, v->id,
                         (unsigned long long)v->pay_seq);
        if (k > 0 && (size_t)k < sizeof key)
            put(&w, key, (size_t)k);
        else
            w.over = 1;
    }
    puts0(&w, "\r\n");
    put(&w, body ? body : "", blen);
    return w.over ? 0 : w.n;
}

void tk_benchlean_send(vu *v, const char *path, const char *body, int kind)
{
    v->t_write = 0;
    v->resend = 0;
    size_t n = lean_format(v, path, body, kind);
    if (n == 0) { /* no send happens, so no recursion: counted at once */
        lean_fail(v, TK_BERR_READ);
        return;
    }
    if (v->fd < 0) {
        if (lean_connect(v) != 0) {
            v->deferred_err = 1; /* reported from the timer: a dead server cannot recurse */
            v->cstate = L_CONNECTING;
            struct timeval tv = {0, 0};
            evtimer_add(&v->timer, &tv);
            return;
        }
        /* the request waits in wrest until the connection is up */
        if (!(v->wrest = malloc(n))) {
            lean_fail(v, TK_BERR_READ);
            return;
        }
        memcpy(v->wrest, v->t->sbuf, n);
        v->wlen = (uint32_t)n;
        v->cstate = L_CONNECTING;
        event_add(&v->wev, NULL);
        return;
    }
    v->cstate = L_WRITING;
    lean_write(v, v->t->sbuf, n);
}

void tk_benchlean_deferred(vu *v)
{
    v->deferred_err = 0;
    lean_fail(v, TK_BERR_CONNECT);
}

void tk_benchlean_timeouts(thr *t, uint64_t now)
{
    uint64_t limit = t->b->timeout_us;
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        if (v->cstate != L_IDLE && !v->deferred_err && now - v->t_start > limit)
            lean_fail(v, TK_BERR_TIMEOUT);
    }
}
