/* Lean HTTP/1.1 keep-alive load engine for single-endpoint mode (after wrk).
 *
 * Layout: T threads, each with its own event_base, connections, histograms
 * and counters; connection g (0-based, global) lives in thread g mod T, so
 * a closed-model profile activates connections in the same order as the
 * VUs of bench.c. Everything of the hot path is preallocated per thread:
 * the connection array, a header buffer per connection (HEAD_MAX, used only
 * when a response head arrives in pieces), one receive buffer per thread.
 *
 * Per request: send() of the shared request buffer, the persistent
 * (edge-triggered) read event fires, recv() until a short read, the parser
 * below, three to five tk_hist_record() calls (plus one or two bucket
 * increments in the closed model, for the correction), and the connection
 * joins the thread's after-batch queue. Only once every callback of the loop
 * round has run (every answer that epoll reported has been read and
 * timestamped) does the thread walk that queue: it arms think timers, hands
 * connections to waiting iterations / the idle stack (open model), or, in
 * the closed model with no think time, arms each connection's write event.
 *
 * When the next request goes out (issue 17). In the closed model with no
 * think time the next request is sent from the connection's write event in
 * the next loop round, as wrk does (response_complete() re-arms AE_WRITABLE,
 * socket_writeable() sends and takes c->start): the clock starts at that
 * send and stops when the answer is complete. Sending every due request at
 * the end of the round instead (this engine until then) is 14 % cheaper per
 * request, but on a quiet 2-core box its p99 was 1.3-1.6x wrk's. Kernel
 * receive timestamps (SO_TIMESTAMPNS, scripts/sockwait.c) on both tools'
 * sockets in the same setup showed where: the server's part (send to the
 * answer's arrival) was the same for both, p99 0.66-0.81 ms; the answers'
 * wait in the socket until the generator read them was not, p99 1.9-2.4 ms
 * against wrk's 1.5 ms, p99.9 3.6-3.8 against 2.4-2.7 ms. The wait is the
 * generator's own scheduling on CPUs it shares with the server. Sending the
 * same requests later without the write event (after the next round, or
 * first in it through event_active()) did not shorten it; the write event
 * did, to wrk's (A/B runs in docs/LOADGEN.md).
 *
 * Why never from inside a read callback: a send() on loopback runs the
 * server's TCP receive and wakes its thread, between the arrival of the
 * other answers of the same epoll round and their timestamps (p99 of that
 * in-batch wait 80-150 us, max 4-17 ms when the woken server preempted the
 * bench thread, against 16-18 us after the batch).
 *
 * Response parser: the head is located by its blank line ("\r\n\r\n"),
 * then the status line and three headers are read (Content-Length,
 * Transfer-Encoding: chunked, Connection); the body is skipped byte-count
 * wise or through the chunk state machine (size line, data, CRLF, trailer).
 * No length and not chunked means "until the server closes" (RFC 9112
 * section 6.3, rule 8). 1xx heads are skipped; 204 and 304 have no body.
 *
 * Open-model pacing, the per-second series ring and the self-watch follow
 * bench.c (same formulas: iteration j is due when the integral of the rate
 * profile reaches j+1 and belongs to thread j mod T; one lock per thread per
 * second; a 10 ms timer records its own lateness). */
#include "bench_int.h"
#include "ticketctl/httpload.h"
#include "http1.h"
#include "ticketctl/common.h"
#include "ticketctl/hist.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef TK_VERSION
#define TK_VERSION "0.1.0"
#endif

#define RBUF (64 * 1024)    /* per-thread receive buffer */
#define HEAD_MAX 8192       /* a response head larger than this is a read error */
#define REQ_MAX 4096        /* the pre-formatted request */
#define LAG_PERIOD_US 10000 /* self-watch and timeout scan */

enum { C_IDLE = 0, C_CONNECTING, C_WRITING, C_READING };
enum { P_HEAD = 0, P_BODY, P_EOF, P_CSIZE, P_CEXT, P_CDATA, P_CCRLF, P_TRAILER, P_DONE };

struct hl_thr;

typedef struct hl_conn {
    struct hl_thr *t;
    struct event rev, wev; /* read: persistent while fd is open; write: one-shot */
    struct event timer;    /* start, think time, deferred connect failure */
    int fd;
    uint32_t g;           /* global index, 0-based */
    uint8_t state;        /* C_* */
    uint8_t ps;           /* parser state P_* */
    uint8_t keep;         /* keep the connection after this response */
    uint8_t reused;       /* a response was read on this connection already */
    uint8_t retried;      /* this request was re-sent once on a fresh connection */
    uint8_t active;       /* closed model: counted as a started VU */
    uint8_t line_empty;   /* chunk trailer: the current line is empty so far */
    uint8_t ndig;         /* hex digits of the chunk size line */
    uint8_t queued;       /* on the thread's after-batch queue */
    uint8_t armed;        /* the next request goes out from the write event (closed, no think) */
    int deferred_err;     /* connect failed synchronously: reported from the timer */
    int status;
    size_t sent, hlen;
    uint64_t left; /* body or chunk bytes still to come */
    uint64_t got;  /* bytes of the answer received for the request in flight */
    uint64_t t_start, t_intended;
    char *head; /* HEAD_MAX bytes in the thread's block */
} hl_conn;

struct hl_run;

typedef struct hl_thr {
    int idx;
    struct hl_run *run;
    pthread_t tid;
    struct event_base *base;
    struct event tick, stop, lag, pace;
    hl_conn *conns;
    int nconn, started;
    hl_conn **idle;
    int nidle;
    tk_loadgen_batch after; /* finished requests: what next, once the loop round is read */
    int stopped;
    tk_loadgen_pending pending; /* open model: iterations waiting for a connection */
    uint64_t next_j;
    char *rbuf, *heads;
    tk_hist *hist, *uhist, *steady_hist, *steady_uhist, *sec_hist, *empty_hist, *lag_hist;
    uint64_t *lb_all, *lb_steady; /* closed model: uncorrected latencies in LB_N buckets (see lb_*) */
    uint64_t lag_due;
    unsigned lag_n;
    uint64_t req, err, ok, steady_req, steady_err, sec_req, sec_err, sec_drop;
    uint64_t iters_sched, iters_started, iters_late, iters_dropped;
    uint64_t by_kind[TK_BENCH_NERRKINDS], by_status[TK_BENCH_MAX_STATUS];
    uint32_t sec_status[TK_BENCH_MAX_STATUS]; /* this second's requests by HTTP status (0: no answer) */
    tk_loadgen_persec persec;                 /* handed over with the second: the step and its statuses */
    uint64_t cpu_us, wall_us;
    int next_sec;
    int failed;
    char errbuf[256];
} hl_thr;

typedef struct hl_run {
    const tk_bench_config *cfg;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char req[REQ_MAX];
    size_t reqlen;
    char target[512];
    tk_bench_stage prof[TK_BENCH_MAX_STAGES + 1];
    size_t nprof;
    int open;
    uint64_t t0, ramp_end, end, timeout_us, think_us;
    int nthreads, nsec;
    hl_thr *thr;
    tk_loadgen lg; /* start gate, per-second ring, watch loop (bench_int.h) */
    int count_mismatch; /* merge_results: histogram counts disagree with the counters */
} hl_run;

/* the profile formulas and percentiles of bench.c (bench_int.h) */
#define prof_value(b, t) tk_bench_prof_value((b)->prof, (b)->nprof, (t))
#define prof_next_above(b, g, from) tk_bench_prof_next_above((b)->prof, (b)->nprof, (g), (from))
#define fill_latency tk_bench_fill_latency

/* ---------- small helpers ---------- */

static void evtimer_in_us(struct event *ev, int64_t us)
{
    if (us < 0)
        us = 0;
    struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};
    evtimer_add(ev, &tv);
}

static double us_to_ms(uint64_t us) { return (double)us / 1000.0; }


/* ---------- closed model: the expected-interval correction ----------
 *
 * A closed loop cannot send while it waits, so a slow answer hides the
 * requests that would have been sent meanwhile (coordinated omission). As
 * wrk does (stats_correct(), HdrHistogram's recordValueWithExpectedInterval
 * applied after the run), every answer of latency v >= 2E, E being the
 * expected interval between two requests of one connection = run time x
 * connections / requests, stands also for the requests that would have been
 * sent E, 2E, ... later: synthetic samples v - E, v - 2E, ... while > E.
 * This gives the corrected latency of the closed model with no think time,
 * directly comparable with wrk's figures; the uncorrected one stays raw.
 *
 * The raw latencies are counted per thread in log-linear buckets like
 * hist.h (exact below 128 us, then 128 linear steps per power of two: 1/128
 * relative error), which lets the synthetic samples be added in bulk, by
 * bucket, instead of one by one. */

#define LB_SUB 128u
#define LB_N (LB_SUB + 25u * LB_SUB) /* up to 2^32 us > 1 hour */

static unsigned lb_index(uint64_t v)
{
    if (v < 1)
        v = 1;
    if (v > TK_HIST_MAX_US)
        v = TK_HIST_MAX_US;
    if (v < LB_SUB)
        return (unsigned)v;
    unsigned k = 63u - (unsigned)__builtin_clzll(v);
    return LB_SUB + (k - 7u) * LB_SUB + ((unsigned)(v >> (k - 7u)) & (LB_SUB - 1));
}

static uint64_t lb_low(unsigned i)
{
    if (i < LB_SUB)
        return i;
    unsigned shift = (i - LB_SUB) / LB_SUB, sub = (i - LB_SUB) % LB_SUB;
    return (uint64_t)(LB_SUB + sub) << shift;
}

static uint64_t lb_high(unsigned i) { return i + 1 < LB_N ? lb_low(i + 1) - 1 : TK_HIST_MAX_US; }

/* corr[] = raw[] plus the synthetic samples for expected interval e (us);
 * *sum gets the sum of the added values. A bucket's samples are taken at
 * its middle, so a synthetic value v - k*e carries the absolute error of
 * its source bucket (at most v/256), not a relative one. */
static void lb_correct(const uint64_t *raw, uint64_t *corr, uint64_t e, double *sum)
{
    memcpy(corr, raw, LB_N * sizeof *corr);
    *sum = 0;
    if (e == 0)
        return;
    for (unsigned i = 0; i < LB_N; i++) {
        uint64_t c = raw[i], v = (lb_low(i) + lb_high(i)) / 2; /* unbiased within the bucket */
        if (!c || v < 2 * e)
            continue;
        /* m = v - k*e for k = 1..kmax, m > e: kmax = floor((v - e - 1) / e) */
        uint64_t kmax = (v - e - 1) / e;
        if (kmax == 0)
            continue;
        for (unsigned j = 0; j <= i; j++) {
            uint64_t lo = lb_low(j), hi = lb_high(j);
            if (hi <= e || lo > v - e)
                continue;
            /* k with lo <= v - k*e <= hi, 1 <= k <= kmax */
            uint64_t k0 = v > hi ? (v - hi + e - 1) / e : 0, k1 = (v - lo) / e;
            if (k0 < 1)
                k0 = 1;
            if (k1 > kmax)
                k1 = kmax;
            if (k0 > k1)
                continue;
            uint64_t n = k1 - k0 + 1;
            corr[j] += c * n;
            *sum += (double)c * ((double)n * (double)v - (double)e * (double)(k0 + k1) * (double)n / 2.0);
        }
    }
}

/* Nearest-rank percentile over the buckets (as tk_hist_percentile). */
static uint64_t lb_percentile(const uint64_t *b, uint64_t total, uint64_t max, double p)
{
    if (total == 0)
        return 0;
    double r = p / 100.0 * (double)total;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r - 1e-9)
        rank++;
    if (rank < 1)
        rank = 1;
    uint64_t acc = 0;
    for (unsigned i = 0; i < LB_N; i++) {
        acc += b[i];
        if (acc >= rank) {
            uint64_t v = lb_high(i);
            return v < max ? v : max;
        }
    }
    return max;
}

/* The corrected latency of a closed run from the raw buckets; raw_mean_us,
 * max_us: of the raw samples (exact, from the uncorrected tk_hist). */
static int lb_fill(tk_bench_latency *l, const uint64_t *raw, uint64_t e, double raw_mean_us, uint64_t max_us)
{
    uint64_t *corr = malloc(LB_N * sizeof *corr);
    if (!corr)
        return -1;
    double extra_sum;
    lb_correct(raw, corr, e, &extra_sum);
    uint64_t n_raw = 0, n = 0;
    for (unsigned i = 0; i < LB_N; i++) {
        n_raw += raw[i];
        n += corr[i];
    }
    l->p50 = us_to_ms(lb_percentile(corr, n, max_us, 50));
    l->p90 = us_to_ms(lb_percentile(corr, n, max_us, 90));
    l->p95 = us_to_ms(lb_percentile(corr, n, max_us, 95));
    l->p99 = us_to_ms(lb_percentile(corr, n, max_us, 99));
    l->p999 = us_to_ms(lb_percentile(corr, n, max_us, 99.9));
    l->p9999 = us_to_ms(lb_percentile(corr, n, max_us, 99.99));
    l->max = us_to_ms(max_us);
    l->mean = n ? (raw_mean_us * (double)n_raw + extra_sum) / (double)n / 1000.0 : 0;
    free(corr);
    return 0;
}

/* ---------- target and request ---------- */

int tk_httpload_supports(const char *target)
{
    tk_http1_url u;
    return target && tk_http1_url_split(target, &u) == 0;
}

/* Format the request once: it never changes during the run. */
static int build_request(hl_run *b, const tk_http1_url *u, const char *path, const char *auth)
{
    for (const char *s = path; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return -1; /* no spaces or controls in a request target */
    int n;
    if (auth && *auth) {
        if (strpbrk(auth, "\r\n"))
            return -1;
        n = snprintf(b->req, sizeof b->req,
                     "GET %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ticketctl-bench/" TK_VERSION
                     "\r\nAuthorization: %s\r\n\r\n",
                     u->prefix, path, u->hostport, auth);
    } else {
        n = snprintf(b->req, sizeof b->req, "GET %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: ticketctl-bench/" TK_VERSION
                     "\r\n\r\n", u->prefix, path, u->hostport);
    }
    if (n < 0 || (size_t)n >= sizeof b->req)
        return -1;
    b->reqlen = (size_t)n;
    return 0;
}

/* ---------- response parser ---------- */

/* Parse a complete head h[0..len) (http1.h) into c's status, keep and
 * body state. Returns 0, 1 for a 1xx head (skip it), -1 when malformed. */
static int parse_head(hl_conn *c, const char *h, size_t len)
{
    tk_http1_head hd;
    int rc = tk_http1_parse_head(h, len, &hd);
    if (rc != 0)
        return rc;
    c->status = hd.status;
    c->keep = (uint8_t)hd.keep;
    switch (hd.framing) {
    case TK_HTTP1_NOBODY:
        c->ps = P_DONE;
        break;
    case TK_HTTP1_CHUNKED:
        c->ps = P_CSIZE;
        c->left = 0;
        c->ndig = 0;
        break;
    case TK_HTTP1_LENGTH:
        c->left = hd.length;
        c->ps = P_BODY;
        break;
    default:
        c->ps = P_EOF;
        break;
    }
    return 0;
}

/* Feed n bytes of the answer. Returns 1 when the response is complete
 * (*used bytes consumed), 0 when more is needed (all consumed), -1 when
 * malformed. */
static int conn_feed(hl_conn *c, const char *p, size_t n, size_t *used)
{
    size_t i = 0;
    while (i < n) {
        switch (c->ps) {
        case P_HEAD: {
            const char *end = NULL;
            size_t headlen = 0;
            if (c->hlen == 0) {
                const char *e = memmem(p + i, n - i, "\r\n\r\n", 4);
                if (e) {
                    end = p + i;
                    headlen = (size_t)(e - (p + i)) + 4;
                    int rc = parse_head(c, end, headlen);
                    if (rc < 0)
                        return -1;
                    i += headlen;
                    if (rc == 1)
                        c->ps = P_HEAD; /* 1xx: the real head follows */
                    break;
                }
                if (n - i > HEAD_MAX)
                    return -1;
                memcpy(c->head, p + i, n - i);
                c->hlen = n - i;
                i = n;
                break;
            }
            size_t old = c->hlen, take = n - i;
            if (take > HEAD_MAX - old)
                take = HEAD_MAX - old;
            memcpy(c->head + old, p + i, take);
            c->hlen += take;
            size_t from = old >= 3 ? old - 3 : 0;
            const char *e = memmem(c->head + from, c->hlen - from, "\r\n\r\n", 4);
            if (!e) {
                if (c->hlen >= HEAD_MAX)
                    return -1; /* head too large */
                i += take;
                break;
            }
            headlen = (size_t)(e - c->head) + 4;
            int rc = parse_head(c, c->head, headlen);
            if (rc < 0)
                return -1;
            i += headlen - old;
            c->hlen = 0;
            if (rc == 1)
                c->ps = P_HEAD;
            break;
        }
        case P_BODY: {
            uint64_t k = n - i < c->left ? n - i : c->left;
            c->left -= k;
            i += (size_t)k;
            if (c->left == 0)
                c->ps = P_DONE;
            break;
        }
        case P_EOF:
            i = n; /* ends when the server closes */
            break;
        case P_CSIZE: {
            char ch = p[i++];
            int d = ch >= '0' && ch <= '9' ? ch - '0'
                    : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                    : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                             : -1;
            if (d >= 0) {
                if (c->ndig >= 15)
                    return -1;
                c->left = c->left * 16 + (uint64_t)d;
                c->ndig++;
            } else if (c->ndig == 0) {
                return -1;
            } else if (ch == '\n') {
                c->ps = c->left ? P_CDATA : P_TRAILER;
                c->line_empty = 1;
            } else if (ch == ';' || ch == ' ' || ch == '\t' || ch == '\r') {
                c->ps = P_CEXT;
            } else {
                return -1;
            }
            break;
        }
        case P_CEXT: {
            const char *nl = memchr(p + i, '\n', n - i);
            if (!nl) {
                i = n;
                break;
            }
            i = (size_t)(nl - p) + 1;
            c->ps = c->left ? P_CDATA : P_TRAILER;
            c->line_empty = 1;
            break;
        }
        case P_CDATA: {
            uint64_t k = n - i < c->left ? n - i : c->left;
            c->left -= k;
            i += (size_t)k;
            if (c->left == 0)
                c->ps = P_CCRLF;
            break;
        }
        case P_CCRLF: {
            char ch = p[i++];
            if (ch == '\n') {
                c->ps = P_CSIZE;
                c->left = 0;
                c->ndig = 0;
            } else if (ch != '\r') {
                return -1;
            }
            break;
        }
        case P_TRAILER: {
            char ch = p[i++];
            if (ch == '\n') {
                if (c->line_empty)
                    c->ps = P_DONE;
                c->line_empty = 1;
            } else if (ch != '\r') {
                c->line_empty = 0;
            }
            break;
        }
        case P_DONE:
            *used = i;
            return 1;
        }
        if (c->ps == P_DONE) {
            *used = i;
            return 1;
        }
    }
    *used = i;
    return c->ps == P_DONE ? 1 : 0;
}

/* ---------- connections ---------- */

static void conn_send(hl_conn *c);
static void on_read(evutil_socket_t fd, short what, void *arg);
static void on_write(evutil_socket_t fd, short what, void *arg);

static void conn_close(hl_conn *c)
{
    if (c->fd >= 0) {
        event_del(&c->rev);
        event_del(&c->wev);
        close(c->fd);
        c->fd = -1;
    }
    c->reused = 0;
    c->armed = 0;
}

static void parser_reset(hl_conn *c)
{
    c->ps = P_HEAD;
    c->hlen = 0;
    c->left = 0;
    c->got = 0;
    c->status = 0;
}

/* Open model: c is free; give it the oldest waiting iteration still within
 * max_delay (older ones are dropped), else put it on the idle stack. */
static void conn_go_idle(hl_conn *c)
{
    hl_thr *t = c->t;
    uint64_t when, dropped = 0;
    int got = tk_loadgen_pending_take(&t->pending, tk_mono_us(), (uint64_t)t->run->cfg->max_delay_ms * 1000u, &when,
                                      &dropped);
    t->iters_dropped += dropped;
    t->sec_drop += dropped;
    if (got) {
        t->iters_late++;
        t->iters_started++;
        c->t_intended = when;
        conn_send(c);
        return;
    }
    t->idle[t->nidle++] = c;
}

/* Closed model, no think time, a kept-alive connection: send the next request
 * from its write event, in the next loop round, as wrk does (the top of the
 * file, "When the next request goes out"); the clock starts at that write. */
static void conn_arm(hl_conn *c)
{
    c->sent = 0;
    c->state = C_WRITING;
    c->armed = 1;
    c->t_start = tk_mono_us(); /* until the write: the timeout scan must not see the last request's start */
    event_add(&c->wev, NULL);
}

/* The request is over (answered or failed): what the connection does next. */
static void conn_next(hl_conn *c)
{
    hl_thr *t = c->t;
    hl_run *b = t->run;
    if (b->open) {
        conn_go_idle(c);
        return;
    }
    uint64_t now = tk_mono_us();
    /* a coarse timer fires up to TK_LOADGEN_EARLY_US early: before t0 the
     * unsigned difference would wrap and end this connection's profile */
    double now_s = (now > b->t0 ? (double)(now - b->t0) / 1e6 : 0.0);
    if (now < b->end && prof_value(b, now_s) > (double)c->g) {
        t->iters_started++;
        if (b->think_us) {
            /* think time randomised +-50 %: mean/2 + uniform [0, mean] */
            uint64_t x = (uint64_t)c->g * 0x9E3779B97F4A7C15ULL ^ now;
            x ^= x >> 31;
            x *= 0xBF58476D1CE4E5B9ULL;
            x ^= x >> 29;
            uint64_t th = b->think_us / 2 + x % (b->think_us + 1);
            c->t_intended = now + th;
            evtimer_in_us(&c->timer, (int64_t)th - TK_LOADGEN_EARLY_US); /* coarse timers (bench_int.h) */
            return;
        }
        c->t_intended = 0;
        if (c->fd >= 0)
            conn_arm(c);
        else
            conn_send(c);
        return;
    }
    c->active = 0;
    t->started--;
    double at = prof_next_above(b, (double)c->g, now_s);
    if (at >= 0) {
        c->t_intended = b->t0 + (uint64_t)(at * 1e6);
        evtimer_in_us(&c->timer, (int64_t)c->t_intended - (int64_t)now - TK_LOADGEN_EARLY_US);
    }
}

/* Count the request: kind < 0 an HTTP answer with c->status, else the
 * error kind (no answer). Then close or keep the connection and go on. */
static void conn_finish(hl_conn *c, int kind)
{
    hl_thr *t = c->t;
    uint64_t now = tk_mono_us(), lat = now - c->t_start;
    uint64_t clat = c->t_intended && c->t_intended < c->t_start ? now - c->t_intended : lat;
    int steady = c->t_start >= t->run->ramp_end;
    t->req++;
    t->sec_req++;
    if (steady)
        t->steady_req++;
    c->state = C_IDLE;
    t->sec_status[kind >= 0 || c->status >= TK_BENCH_MAX_STATUS ? 0 : c->status]++;
    if (kind >= 0) {
        t->by_kind[kind]++;
        t->err++;
        t->sec_err++;
        if (steady)
            t->steady_err++;
        conn_close(c);
    } else {
        tk_hist_record(t->hist, clat);
        tk_hist_record(t->uhist, lat);
        tk_hist_record(t->sec_hist, clat);
        if (steady) {
            tk_hist_record(t->steady_hist, clat);
            tk_hist_record(t->steady_uhist, lat);
        }
        if (t->lb_all) {
            unsigned i = lb_index(lat);
            t->lb_all[i]++;
            if (steady)
                t->lb_steady[i]++;
        }
        if (c->status >= 400) {
            t->by_kind[TK_BERR_STATUS]++;
            if (c->status < TK_BENCH_MAX_STATUS)
                t->by_status[c->status]++;
            t->err++;
            t->sec_err++;
            if (steady)
                t->steady_err++;
        } else {
            t->ok++;
        }
        if (c->keep)
            c->reused = 1;
        else
            conn_close(c);
    }
    parser_reset(c);
    c->retried = 0;
    if (!c->queued) {
        c->queued = 1;
        tk_loadgen_batch_push(&t->after, c);
    }
}

/* After one round of callbacks (tk_loadgen_batch_run): the next request of
 * a connection whose answer was read in it. */
static void after_batch_next(void *item)
{
    hl_conn *c = item;
    c->queued = 0;
    conn_next(c);
}

/* The connection broke before a complete answer: send the request once more
 * on a fresh connection when a kept-alive one was closed under us before a
 * byte came back, else count a read error. */
static void conn_broken(hl_conn *c)
{
    if (c->reused && c->got == 0 && !c->retried) {
        c->retried = 1;
        conn_close(c);
        parser_reset(c);
        uint64_t t_start = c->t_start;
        conn_send(c);
        c->t_start = t_start; /* the retry is part of this request's latency */
        return;
    }
    conn_finish(c, TK_BERR_READ);
}

static void conn_write(hl_conn *c)
{
    hl_run *b = c->t->run;
    while (c->sent < b->reqlen) {
        ssize_t n = send(c->fd, b->req + c->sent, b->reqlen - c->sent, MSG_NOSIGNAL);
        if (n > 0) {
            c->sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            event_add(&c->wev, NULL);
            return;
        }
        conn_broken(c);
        return;
    }
    c->state = C_READING;
}

static int conn_connect(hl_conn *c)
{
    hl_run *b = c->t->run;
    int fd = tk_http1_connect(&b->addr, b->addrlen);
    if (fd < 0)
        return -1;
    c->fd = fd;
    c->reused = 0;
    /* edge-triggered: on_read reads until a short read, which on TCP drains
     * the socket, so no answer is left behind; epoll then does not poll the
     * socket again on its next wait, as a level-triggered event makes it do
     * (tcp_poll() in ep_send_events(), 2.5 % of the engine's CPU in perf) */
    event_assign(&c->rev, c->t->base, fd, EV_READ | EV_PERSIST | EV_ET, on_read, c);
    event_assign(&c->wev, c->t->base, fd, EV_WRITE, on_write, c);
    event_add(&c->rev, NULL);
    event_add(&c->wev, NULL); /* connected (or failed) when writable */
    c->state = C_CONNECTING;
    return 0;
}

/* Send the request on c (connecting first when needed). Never counts the
 * request synchronously: failures come back through an event, so a dead
 * server cannot recurse. */
static void conn_send(hl_conn *c)
{
    c->t_start = tk_mono_us();
    c->sent = 0;
    if (c->fd < 0) {
        if (conn_connect(c) != 0) {
            c->deferred_err = errno ? errno : EIO;
            c->state = C_CONNECTING;
            evtimer_in_us(&c->timer, 0);
        }
        return;
    }
    c->state = C_WRITING;
    conn_write(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    hl_conn *c = arg;
    if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0 || e != 0) {
            conn_finish(c, TK_BERR_CONNECT);
            return;
        }
        c->state = C_WRITING;
    }
    if (c->armed) {
        c->armed = 0;
        c->t_start = tk_mono_us();
    }
    if (c->state == C_WRITING)
        conn_write(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    hl_conn *c = arg;
    hl_thr *t = c->t;
    for (;;) {
        ssize_t n = recv(fd, t->rbuf, RBUF, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (c->state == C_CONNECTING) {
                conn_finish(c, TK_BERR_CONNECT);
                return;
            }
        }
        if (n <= 0) { /* closed (or reset) by the server */
            if (c->state == C_IDLE) {
                conn_close(c); /* an idle kept-alive connection: reconnect on the next request */
                return;
            }
            if (c->state == C_CONNECTING) {
                conn_finish(c, TK_BERR_CONNECT);
                return;
            }
            if (n == 0 && c->ps == P_EOF) {
                c->keep = 0;
                conn_finish(c, -1); /* a body delimited by the close */
                return;
            }
            conn_broken(c);
            return;
        }
        if (c->state == C_IDLE || c->state == C_CONNECTING || c->armed) {
            int armed = c->armed;
            conn_close(c); /* bytes nobody asked for: drop the connection */
            if (c->state == C_CONNECTING)
                conn_finish(c, TK_BERR_READ);
            else if (armed)
                conn_send(c); /* the request not yet sent goes out on a fresh connection */
            return;
        }
        c->got += (uint64_t)n;
        size_t used = 0;
        int rc = conn_feed(c, t->rbuf, (size_t)n, &used);
        if (rc < 0) {
            conn_finish(c, TK_BERR_READ);
            return;
        }
        if (rc == 1) {
            if (used < (size_t)n)
                c->keep = 0; /* more than one answer to one request: do not trust the connection */
            if (c->sent < t->run->reqlen)
                c->keep = 0; /* answered before we finished sending */
            conn_finish(c, -1);
            if ((size_t)n == RBUF && c->fd >= 0)
                continue; /* edge-triggered: drain; more bytes now are bytes nobody asked for (above) */
            return;
        }
        if ((size_t)n < RBUF)
            return;
    }
}

static void on_conn_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hl_conn *c = arg;
    hl_thr *t = c->t;
    if (c->deferred_err) {
        c->deferred_err = 0;
        conn_finish(c, TK_BERR_CONNECT);
        return;
    }
    if (!t->run->open && !c->active) { /* closed model: the profile (re)activates this connection */
        c->active = 1;
        t->started++;
        t->iters_started++;
    }
    conn_send(c);
}

/* ---------- threads: pacing, seconds, self-watch ---------- */

static void thr_due(void *ud, uint64_t when)
{
    hl_thr *t = ud;
    t->iters_sched++;
    if (t->nidle > 0) {
        hl_conn *c = t->idle[--t->nidle];
        t->iters_started++;
        c->t_intended = when;
        conn_send(c);
        return;
    }
    if (tk_loadgen_pending_push(&t->pending, when) == 0)
        return;
    t->iters_dropped++;
    t->sec_drop++;
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hl_thr *t = arg;
    int64_t next = tk_loadgen_pace(&t->run->lg, t->run->prof, t->run->nprof, &t->next_j, thr_due, t);
    if (next >= 0)
        evtimer_in_us(&t->pace, next);
}

/* Hand second `sec` of thread t to the shared ring (data 0: report it empty). */
static void thr_flush_second(hl_thr *t, int sec, int data)
{
    hl_run *b = t->run;
    if (data) /* the one step's second and its statuses: once a second, not per request */
        tk_loadgen_persec_add(&t->persec, TK_STEP_URL, t->sec_hist, t->sec_req, t->sec_status, TK_BENCH_MAX_STATUS);
    tk_loadgen_flush_second_ps(&b->lg, sec, data ? t->sec_hist : t->empty_hist, data ? t->sec_req : 0,
                               data ? t->sec_err : 0, data ? t->sec_drop : 0,
                               b->open ? t->nconn - t->nidle : t->started, data ? &t->persec : NULL);
    if (data) {
        tk_hist_reset(t->sec_hist);
        t->sec_req = t->sec_err = t->sec_drop = 0;
        memset(t->sec_status, 0, sizeof t->sec_status);
    }
}

static void flush_cb(void *thread, int sec, int data)
{
    thr_flush_second(thread, sec, data);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hl_thr *t = arg;
    int64_t next = tk_loadgen_tick(&t->run->lg, &t->next_sec, flush_cb, t);
    if (next >= 0)
        evtimer_in_us(&t->tick, next);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hl_thr *t = arg;
    t->iters_dropped += t->pending.len; /* still waiting for a connection: never started */
    t->sec_drop += t->pending.len;
    t->pending.len = 0;
    tk_loadgen_last_seconds(&t->run->lg, &t->next_sec, flush_cb, t);
    t->stopped = 1;
    event_base_loopbreak(t->base);
}

/* Self-watch (missed periods recorded with their own lateness) and, every
 * tenth period, the timeout scan. */
static void on_lag(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    hl_thr *t = arg;
    uint64_t now = tk_mono_us();
    tk_loadgen_lag(&t->lag_due, LAG_PERIOD_US, t->lag_hist, now);
    if (++t->lag_n % 10 == 0)
        for (int i = 0; i < t->nconn; i++) {
            hl_conn *c = &t->conns[i];
            if (c->state != C_IDLE && !c->deferred_err && now - c->t_start > t->run->timeout_us)
                conn_finish(c, TK_BERR_TIMEOUT);
        }
    evtimer_in_us(&t->lag, (int64_t)(t->lag_due - tk_mono_us()));
}

static int thr_setup(hl_thr *t)
{
    hl_run *b = t->run;
    /* Coarse timers (bench_int.h, TK_LOADGEN_EARLY_US): libevent's precise
     * timers re-arm a timerfd with one timerfd_settime() per loop round
     * (perf trace: 3,970 for 3,978 epoll_wait), 18-21 % of this engine's CPU
     * per request at 50 connections (issue 17). The open model's schedule
     * and think times are armed early instead. */
    t->base = event_base_new();
    if (!t->base)
        return tk_err(t->errbuf, sizeof t->errbuf, "event_base_new failed");
    evtimer_assign(&t->tick, t->base, on_tick, t);
    evtimer_assign(&t->stop, t->base, on_stop, t);
    evtimer_assign(&t->lag, t->base, on_lag, t);
    evtimer_assign(&t->pace, t->base, on_pace, t);
    if (!(t->rbuf = malloc(RBUF)) || !(t->heads = malloc((size_t)t->nconn * HEAD_MAX)) ||
        !(t->hist = tk_hist_new()) || !(t->uhist = tk_hist_new()) || !(t->steady_hist = tk_hist_new()) ||
        !(t->steady_uhist = tk_hist_new()) || !(t->sec_hist = tk_hist_new()) || !(t->empty_hist = tk_hist_new()) ||
        !(t->lag_hist = tk_hist_new()) || tk_loadgen_persec_init(&t->persec) != 0 ||
        tk_loadgen_batch_init(&t->after, t->nconn) != 0)
        return tk_err(t->errbuf, sizeof t->errbuf, "out of memory");
    for (int i = 0; i < t->nconn; i++) {
        hl_conn *c = &t->conns[i];
        c->t = t;
        c->fd = -1;
        c->head = t->heads + (size_t)i * HEAD_MAX;
        evtimer_assign(&c->timer, t->base, on_conn_timer, c);
    }
    if (b->open) {
        if (!(t->idle = calloc((size_t)t->nconn, sizeof *t->idle)))
            return tk_err(t->errbuf, sizeof t->errbuf, "out of memory");
        if (tk_loadgen_pending_init(&t->pending, b->cfg->max_delay_ms) != 0)
            return tk_err(t->errbuf, sizeof t->errbuf, "out of memory");
        t->next_j = (uint64_t)t->idx;
    } else if (!b->think_us) {
        if (!(t->lb_all = calloc(LB_N, sizeof *t->lb_all)) || !(t->lb_steady = calloc(LB_N, sizeof *t->lb_steady)))
            return tk_err(t->errbuf, sizeof t->errbuf, "out of memory");
    }
    t->next_sec = 1;
    return 0;
}

static void thr_teardown(hl_thr *t)
{
    if (t->base) {
        for (int i = 0; i < t->nconn; i++) {
            conn_close(&t->conns[i]);
            event_del(&t->conns[i].timer);
        }
        event_del(&t->tick);
        event_del(&t->stop);
        event_del(&t->lag);
        event_del(&t->pace);
        event_base_free(t->base);
        t->base = NULL;
    }
    free(t->rbuf);
    free(t->heads);
    free(t->idle);
    tk_loadgen_pending_free(&t->pending);
    tk_loadgen_batch_free(&t->after);
    tk_loadgen_persec_free(&t->persec);
    t->rbuf = t->heads = NULL;
    t->idle = NULL;
}

static void *thr_main(void *arg)
{
    hl_thr *t = arg;
    hl_run *b = t->run;
    if (thr_setup(t) != 0)
        t->failed = 1;
    int abort = tk_loadgen_thread_ready(&b->lg);
    if (!t->failed && !abort) {
        uint64_t now = tk_mono_us();
        if (b->open) {
            for (int i = 0; i < t->nconn; i++)
                t->idle[t->nidle++] = &t->conns[t->nconn - 1 - i];
            evtimer_in_us(&t->pace, (int64_t)b->t0 - (int64_t)now);
        } else {
            for (int i = 0; i < t->nconn; i++) {
                hl_conn *c = &t->conns[i];
                double at = prof_next_above(b, (double)c->g, 0);
                if (at < 0)
                    continue;
                c->t_intended = b->t0 + (uint64_t)(at * 1e6);
                evtimer_in_us(&c->timer, (int64_t)c->t_intended - (int64_t)now - TK_LOADGEN_EARLY_US);
            }
        }
        t->lag_due = b->t0 + LAG_PERIOD_US;
        evtimer_in_us(&t->lag, (int64_t)t->lag_due - (int64_t)now);
        evtimer_in_us(&t->tick, (int64_t)(b->t0 + 1000000u) - (int64_t)now);
        evtimer_in_us(&t->stop, (int64_t)b->end - (int64_t)now);
        struct timespec c0, c1;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c0);
        uint64_t w0 = tk_mono_us();
        /* one round of callbacks, then the sends it made due (see the top of the file) */
        while (event_base_loop(t->base, EVLOOP_ONCE) >= 0 && !t->stopped)
            tk_loadgen_batch_run(&t->after, after_batch_next);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &c1);
        t->wall_us = tk_mono_us() - (w0 > b->t0 ? w0 : b->t0);
        t->cpu_us = (uint64_t)((c1.tv_sec - c0.tv_sec) * 1000000LL + (c1.tv_nsec - c0.tv_nsec) / 1000);
    }
    thr_teardown(t);
    tk_loadgen_thread_done(&b->lg);
    return NULL;
}

/* ---------- run ---------- */

static void run_free(hl_run *b)
{
    if (!b)
        return;
    tk_loadgen_destroy(&b->lg);
    if (b->thr)
        for (int i = 0; i < b->nthreads; i++) {
            hl_thr *t = &b->thr[i];
            tk_hist_free(t->hist);
            tk_hist_free(t->uhist);
            tk_hist_free(t->steady_hist);
            tk_hist_free(t->steady_uhist);
            tk_hist_free(t->sec_hist);
            tk_hist_free(t->empty_hist);
            tk_hist_free(t->lag_hist);
            free(t->lb_all);
            free(t->lb_steady);
            free(t->conns);
        }
    free(b->thr);
    free(b);
}

/* Histograms are merged, never percentiles averaged. */
static int merge_results(hl_run *b, tk_bench_result *r)
{
    tk_hist *all = tk_hist_new(), *uall = tk_hist_new(), *steady = tk_hist_new(), *usteady = tk_hist_new(),
            *lag = tk_hist_new();
    int rc = -1;
    if (!all || !uall || !steady || !usteady || !lag)
        goto out;
    double secs = r->elapsed_s > 0 ? r->elapsed_s : 1, steady_secs = (double)(b->end - b->ramp_end) / 1e6;
    for (int i = 0; i < b->nthreads; i++) {
        hl_thr *t = &b->thr[i];
        tk_hist_merge(all, t->hist);
        tk_hist_merge(uall, t->uhist);
        tk_hist_merge(steady, t->steady_hist);
        tk_hist_merge(usteady, t->steady_uhist);
        tk_hist_merge(lag, t->lag_hist);
        r->requests += t->req;
        r->errors += t->err;
        r->flows_completed += t->ok;
        r->steady_requests += t->steady_req;
        r->steady_errors += t->steady_err;
        for (int k = 0; k < TK_BENCH_NERRKINDS; k++)
            r->by_kind[k] += t->by_kind[k];
        for (int s = 0; s < TK_BENCH_MAX_STATUS; s++)
            r->by_status[s] += t->by_status[s];
        r->iters_scheduled += t->iters_sched;
        r->iters_started += t->iters_started;
        r->iters_late += t->iters_late;
        r->iters_dropped += t->iters_dropped;
        double util = t->wall_us ? (double)t->cpu_us / (double)t->wall_us : 0;
        if (util > r->gen_cpu_util)
            r->gen_cpu_util = util;
    }
    /* self-check: every answered request is in the histograms, exactly once */
    uint64_t answered = r->requests - r->by_kind[TK_BERR_CONNECT] - r->by_kind[TK_BERR_TIMEOUT] -
                        r->by_kind[TK_BERR_READ];
    uint64_t steady_answered = 0;
    for (int i = 0; i < b->nthreads; i++)
        steady_answered += tk_hist_count(b->thr[i].steady_hist);
    if (tk_hist_count(all) != answered || tk_hist_count(uall) != answered ||
        tk_hist_count(usteady) != steady_answered || steady_answered > r->steady_requests)
        b->count_mismatch = 1;
    fill_latency(&r->latency, all);
    fill_latency(&r->uncorrected_latency, uall);
    fill_latency(&r->steady_latency, steady);
    fill_latency(&r->steady_uncorrected_latency, usteady);
    if (b->thr[0].lb_all && r->requests) { /* closed model, no think time: wrk's correction */
        uint64_t *raw = calloc(LB_N, sizeof *raw), *sraw = calloc(LB_N, sizeof *sraw);
        uint64_t e = (uint64_t)(r->elapsed_s * 1e6 * (double)b->cfg->users / (double)r->requests);
        int ok = raw && sraw;
        for (int i = 0; ok && i < b->nthreads; i++)
            for (unsigned j = 0; j < LB_N; j++) {
                raw[j] += b->thr[i].lb_all[j];
                sraw[j] += b->thr[i].lb_steady[j];
            }
        if (ok)
            ok = lb_fill(&r->latency, raw, e, tk_hist_mean(uall), tk_hist_max(uall)) == 0 &&
                 lb_fill(&r->steady_latency, sraw, e, tk_hist_mean(usteady), tk_hist_max(usteady)) == 0;
        free(raw);
        free(sraw);
        if (!ok)
            goto out;
    }
    r->lag_p50_ms = us_to_ms(tk_hist_percentile(lag, 50));
    r->lag_p99_ms = us_to_ms(tk_hist_percentile(lag, 99));
    r->lag_max_ms = us_to_ms(tk_hist_max(lag));
    r->tps = (double)r->requests / secs;
    r->steady_tps = steady_secs > 0 ? (double)r->steady_requests / steady_secs : 0;
    r->error_rate = r->requests ? (double)r->errors / (double)r->requests : 0;
    tk_bench_step *st = &r->steps[TK_STEP_URL];
    st->requests = r->requests;
    st->errors = r->errors;
    st->tps = r->tps;
    st->latency = r->latency;
    st->uncorrected_latency = r->uncorrected_latency;
    rc = 0;
out:
    tk_hist_free(all);
    tk_hist_free(uall);
    tk_hist_free(steady);
    tk_hist_free(usteady);
    tk_hist_free(lag);
    return rc;
}

tk_bench_result *tk_httpload_run(const tk_bench_config *c, char *err, size_t errlen)
{
    tk_http1_url u;
    if (!c || !c->target || !c->url_path || c->users < 1 || c->duration_ms <= 0 || c->timeout_ms <= 0)
        return tk_err(err, errlen, "bad bench configuration"), NULL;
    if (tk_http1_url_split(c->target, &u) != 0)
        return tk_err(err, errlen, "target '%s' is not a plain http://host[:port] URL", c->target), NULL;
    tk_bench_result *r = calloc(1, sizeof *r);
    hl_run *b = calloc(1, sizeof *b);
    int created = 0;
    tk_benchcpu cpu = {0};
    if (!r || !b)
        goto oom;
    b->cfg = c;
    b->open = c->open_model != 0;
    if (build_request(b, &u, c->url_path, c->url_authorization) != 0) {
        tk_err(err, errlen, "the request does not fit or has spaces/control characters in its path or header");
        goto fail;
    }
    if (tk_http1_resolve(&u, &b->addr, &b->addrlen, err, errlen) != 0)
        goto fail;
    if (c->nstages) {
        if (c->nstages > TK_BENCH_MAX_STAGES) {
            tk_err(err, errlen, "at most %d stages", TK_BENCH_MAX_STAGES);
            goto fail;
        }
        memcpy(b->prof, c->stages, c->nstages * sizeof *c->stages);
        b->nprof = c->nstages;
    } else {
        if (b->open) {
            tk_err(err, errlen, "the open model needs a rate (stages)");
            goto fail;
        }
        if (c->ramp_ms > 0)
            b->prof[b->nprof++] = (tk_bench_stage){c->ramp_ms, 0, c->users};
        if (c->duration_ms > c->ramp_ms)
            b->prof[b->nprof++] = (tk_bench_stage){c->duration_ms - c->ramp_ms, c->users, c->users};
    }
    snprintf(b->target, sizeof b->target, "%s", c->target);
    for (size_t n = strlen(b->target); n > 0 && b->target[n - 1] == '/'; n--)
        b->target[n - 1] = '\0';
    b->timeout_us = (uint64_t)c->timeout_ms * 1000u;
    b->think_us = c->think_ms > 0 ? (uint64_t)c->think_ms * 1000u : 0;
    b->nthreads = c->threads > 0 ? c->threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (b->nthreads < 1)
        b->nthreads = 1;
    if (b->nthreads > c->users)
        b->nthreads = c->users;
    b->nsec = (int)((c->duration_ms + 999) / 1000);
    if (tk_loadgen_init(&b->lg, b->nthreads, b->nsec) != 0 || !(b->thr = calloc((size_t)b->nthreads, sizeof *b->thr)))
        goto oom;
    for (int i = 0; i < b->nthreads; i++) {
        hl_thr *t = &b->thr[i];
        t->idx = i;
        t->run = b;
        t->nconn = c->users / b->nthreads + (i < c->users % b->nthreads);
        if (!(t->conns = calloc((size_t)t->nconn, sizeof *t->conns)))
            goto oom;
        for (int j = 0; j < t->nconn; j++)
            t->conns[j].g = (uint32_t)(j * b->nthreads + i);
    }
    tk_raise_nofile((long)c->users + 256);
    if (tk_benchcpu_init(&cpu, c, err, errlen) != 0)
        goto fail;
    for (; created < b->nthreads; created++) {
        int e = pthread_create(&b->thr[created].tid, NULL, thr_main, &b->thr[created]);
        if (e != 0) {
            tk_err(err, errlen, "pthread_create: %s", strerror(e));
            b->lg.abort = 1;
            break;
        }
    }
    tk_loadgen_wait_ready(&b->lg, created);
    for (int i = 0; i < created; i++)
        if (b->thr[i].failed && !b->lg.abort) {
            tk_err(err, errlen, "thread %d: %s", i, b->thr[i].errbuf);
            b->lg.abort = 1;
        }
    tk_loadgen_set_times(&b->lg, c, r->started_at, sizeof r->started_at, &cpu);
    b->t0 = b->lg.t0;
    b->ramp_end = b->lg.ramp_end;
    b->end = b->lg.end;
    tk_loadgen_open_gate(&b->lg);
    tk_loadgen_watch(&b->lg, created, c, r, &cpu);
    for (int i = 0; i < created; i++)
        pthread_join(b->thr[i].tid, NULL);
    if (b->lg.abort)
        goto fail;

    snprintf(r->target, sizeof r->target, "%s", b->target);
    r->users = c->users;
    r->threads = b->nthreads;
    r->ramp_ms = b->lg.ramp_ms;
    r->duration_ms = c->duration_ms;
    r->open_model = b->open;
    snprintf(r->url_path, sizeof r->url_path, "%s", c->url_path);
    memcpy(r->stages, b->prof, b->nprof * sizeof *b->prof);
    r->nstages = b->nprof;
    r->max_delay_ms = b->open ? c->max_delay_ms : 0;
    r->think_ms = c->think_ms;
    r->timeout_ms = c->timeout_ms;
    r->elapsed_s = (double)(b->end - b->t0) / 1e6;
    if (merge_results(b, r) != 0)
        goto oom;
    tk_benchcpu_finish(&cpu, (double)r->steady_requests, r);
    r->series = b->lg.series;
    r->nseries = (size_t)b->nsec;
    b->lg.series = NULL;
    tk_loadgen_validate(r, c, b->count_mismatch ? "histogram counts disagree with the request counters" : NULL);
    run_free(b);
    return r;
oom:
    tk_err(err, errlen, "out of memory");
fail:
    run_free(b);
    if (r)
        free(r->series);
    free(r);
    return NULL;
}
