/* The booking-flow engine's internals, shared by its three files (not a
 * public API):
 *   bench.c      the per-thread skeleton (event loop, pacing, seconds,
 *                self-watch), the virtual users' flow and the run;
 *   benchlean.c  the lean HTTP/1.1 keep-alive transport (plain http);
 *   benchcurl.c  the libcurl transport (https, or --engine curl).
 * One skeleton drives either transport: a VU's request is built by the
 * flow (vu_send: path, body, kind), handed to the transport, and its
 * outcome comes back through tk_benchflow_done(). */
#ifndef TICKETCTL_BENCHFLOW_H
#define TICKETCTL_BENCHFLOW_H

#include "bench_int.h"
#include "http1.h"
#include "ticketctl/queue.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>
#include <sys/socket.h>

#define PAGE_SIZE 20
#define IDEM_LEN 34 /* "%08x-%08x-%016llx" */

struct thr;
struct bench;

/* What a request needs besides its path and body. */
enum { REQ_LOGIN = 0, /* no Authorization */
       REQ_AUTH,      /* Authorization (+ X-Queue-Token, X-Lock-Strategy) */
       REQ_PAY,       /* the same + Idempotency-Key */
       REQ_URL };     /* single-endpoint mode: set once (curl only) */

/* lean transport: connection state */
enum { L_IDLE = 0, L_CONNECTING, L_WRITING, L_READING };

typedef struct vu {
    struct thr *t;
    struct event timer; /* start, think time; lean: a deferred connect failure */
    uint64_t rng;
    uint64_t t_start;    /* µs, the flow handed the request to the transport */
    uint64_t t_intended; /* µs, when it should have been sent (schedule or timer due) */
    uint64_t concert_ids[PAGE_SIZE];
    uint64_t concert_id, schedule_id, seat_id, reservation_id;
    uint64_t pay_seq;
    char *buf; /* curl: the answer; lean: an answer split over several reads (else NULL) */
    size_t len, cap;
    uint32_t id; /* seeded user number, 1-based */
    uint8_t step, nconcerts, seat_retries, concert_tries;
    uint8_t logged_in, in_flight, started, active;
    uint8_t queued; /* on the thread's after-batch queue */
    char body[96];  /* curl: the request body (libcurl does not copy it) */
    /* waiting room (config.queue) */
    char *jwt;                /* the access token */
    char qtok[TK_QTOKEN_MAX]; /* X-Queue-Token value, "" before the first take */
    uint64_t q_sched;         /* schedule this VU is admitted to (0: none) */
    uint64_t q_take_us;       /* mono µs: the take was sent (arrival) */
    int64_t q_arrival;        /* the server's arrival_no */
    /* libcurl transport */
    CURL *easy;
    struct curl_slist *hdrs;     /* Content-Type, Expect, Authorization */
    struct curl_slist *hdrs_pay; /* the same + Idempotency-Key */
    char *idem;                  /* points at the key inside hdrs_pay (rewritten in place) */
    /* lean transport */
    struct event rev, wev; /* read: persistent while fd is open; write: one-shot */
    int fd;
    uint8_t cstate, reused, retried, deferred_err, resend;
    uint64_t t_write; /* µs, the request's first byte was written */
    uint64_t got;     /* bytes of the answer so far */
    char *wrest;      /* the unsent rest of a request (short write), else NULL */
    uint32_t wlen, woff;
} vu;

/* One admission, for the fairness figure. */
typedef struct fair_rec {
    uint64_t sched;
    int64_t arrival, admission;
} fair_rec;

typedef struct sockctx sockctx;

typedef struct thr {
    int idx;
    struct bench *b;
    pthread_t tid;
    struct event_base *base;
    struct event tick, stop, lag, pace;
    int stopped;
    vu *vus;
    int nvu, started_vus;
    tk_loadgen_batch after; /* VUs whose next request goes out once the loop round is read */
    unsigned lag_n;
    int concert_pages; /* learned from the list's total */
    char url[600];     /* scratch: the request path (curl: the whole URL) */
    /* libcurl transport */
    CURLM *multi;
    struct event curl_timer;
    int running;
    sockctx *socks, *free_socks;
    struct curl_slist *hdrs_login;
    /* lean transport */
    char *rbuf, *sbuf;
    /* results, merged after the run */
    tk_hist *step_hist[TK_BENCH_NSTEPS];
    tk_hist *step_uhist[TK_BENCH_NSTEPS]; /* uncorrected */
    tk_hist *steady_hist, *steady_uhist, *sec_hist, *empty_hist, *lag_hist;
    tk_loadgen_persec persec; /* this second by step and status (loadgen.c) */
    uint64_t lag_due;
    /* open model */
    vu **idle;
    int nidle;
    tk_loadgen_pending pending; /* iterations waiting for a free VU */
    uint64_t next_j; /* next global iteration index of this thread */
    uint64_t iters_sched, iters_started, iters_late, iters_dropped, sec_drop;
    uint64_t cpu_us, wall_us;
    uint64_t step_req[TK_BENCH_NSTEPS], step_err[TK_BENCH_NSTEPS];
    uint64_t by_kind[TK_BENCH_NERRKINDS], by_status[TK_BENCH_MAX_STATUS];
    uint64_t seat_taken, sold_out, flows, steady_flows, steady_req, steady_err;
    uint64_t sec_req, sec_err;
    /* waiting room */
    tk_hist *qwait_hist; /* take sent -> admitted seen, µs */
    fair_rec *fair;
    size_t nfair, capfair;
    uint64_t admissions;
    int next_sec; /* next second to hand over, 1-based */
    int failed;
    char err[256];
} thr;

typedef struct bench {
    const tk_bench_config *cfg;
    char target[512];
    tk_bench_stage prof[TK_BENCH_MAX_STAGES + 1]; /* the load profile actually used */
    size_t nprof;
    int open, flow_first; /* flow_first: first step of an iteration */
    int queue;            /* 1: the waiting-room steps (config.queue) */
    int lean;             /* 1: the lean transport, 0: libcurl */
    uint64_t t0, ramp_end, end; /* mono µs */
    uint64_t timeout_us;
    int nthreads, nsec;
    uint32_t nonce;
    thr *thr;
    tk_loadgen lg; /* start gate, per-second ring, watch loop (bench_int.h) */
    /* lean transport */
    tk_http1_url url;
    struct sockaddr_storage addr;
    socklen_t addrlen;
} bench;

/* ---- the flow (bench.c), called by the transports ---- */

/* The request of v is over. kind < 0: an HTTP answer with `status` and
 * body[0..len) (read only during the call); else the error kind
 * (tk_bench_err_kind, no answer). lat_us: uncorrected latency, from the
 * write of the request to the complete answer. Counts it and moves v on. */
void tk_benchflow_done(vu *v, int kind, int status, const char *body, size_t len, uint64_t lat_us);

/* Build v's current request again (the lean transport's one retry on a
 * fresh connection; the same Idempotency-Key). */
void tk_benchflow_resend(vu *v);

/* ---- the lean transport (benchlean.c) ---- */

/* Resolve the target into b (b->url set). 0, or -1 with err. */
int tk_benchlean_init(bench *b, char *err /* OUT */, size_t errlen);
/* Per-thread buffers; VUs start unconnected. 0, or -1 with t->err. */
int tk_benchlean_thr_init(thr *t);
void tk_benchlean_thr_free(thr *t);
/* Write the request (method from body: POST with one, else GET) for v on
 * its kept-alive connection (connecting first when needed). Never reports
 * the outcome synchronously. */
void tk_benchlean_send(vu *v, const char *path, const char *body, int kind);
/* Requests older than the timeout at mono time now: counted as timeouts. */
void tk_benchlean_timeouts(thr *t, uint64_t now);
/* v's timer fired with a deferred connect failure: report it. */
void tk_benchlean_deferred(vu *v);

/* ---- the libcurl transport (benchcurl.c) ---- */

int tk_benchcurl_thr_init(thr *t);
void tk_benchcurl_thr_free(thr *t);
/* Rebuild v's header lists after the access or queue token changed. 0 or -1. */
int tk_benchcurl_headers(vu *v);
/* Start the transfer for v (CURLOPT_URL is t->url, already the whole URL). */
void tk_benchcurl_send(vu *v, const char *body, int kind);

#endif
