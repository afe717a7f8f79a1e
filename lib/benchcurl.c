/* The booking flow's libcurl transport (benchflow.h): https targets, and
 * plain http with `bench --engine curl` (the peer the lean transport is
 * measured against).
 *
 * libcurl is driven by the hiper pattern: CURLMOPT_SOCKETFUNCTION turns
 * curl's interest in a socket into a libevent event, CURLMOPT_TIMERFUNCTION
 * into a libevent timer, and both call curl_multi_socket_action() back.
 * Each VU owns one easy handle (re-added for every request, so its
 * connection stays alive) and a response buffer that only grows up to
 * BUF_KEEP and is released above it. */
#include "benchflow.h"
#include "ticketctl/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TK_VERSION
#define TK_VERSION "0.1.0"
#endif

#define BUF_KEEP 4096 /* response buffers above this are released after use: RSS per VU */
#define BUF_MAX (32 * 1024 * 1024)
#define IDEM_PREFIX "Idempotency-Key: "

struct sockctx {
    struct event ev;
    struct thr *t;
    struct sockctx *next_free;
    int heap;   /* malloc'ed because the pool ran dry */
    int active; /* ev is added */
};

static void evtimer_in_us(struct event *ev, int64_t us)
{
    if (us < 0)
        us = 0;
    struct timeval tv = {.tv_sec = us / 1000000, .tv_usec = us % 1000000};
    evtimer_add(ev, &tv);
}

static void vu_release_buf(vu *v)
{
    if (v->cap > BUF_KEEP) {
        free(v->buf);
        v->buf = NULL;
        v->cap = 0;
    }
    v->len = 0;
}

/* A transfer ended: its outcome to the flow. */
static void curl_done(vu *v, CURLcode res)
{
    uint64_t lat = tk_mono_us() - v->t_start;
    /* uncorrected: from the request's write to the complete answer, as wrk
     * and httpload.c measure (issue 17). curl's own clocks (total minus
     * pretransfer time) leave out the wait between curl_multi_add_handle()
     * and the write - a timer round of our loop plus curl's setup, measured
     * p50 50 us, p99 6.1-6.8 ms, max 99 ms at load average 11 - which is the
     * generator's, not the server's; connect is left out too, as in wrk. */
    curl_off_t pre = 0, tot = 0;
    if (res == CURLE_OK && curl_easy_getinfo(v->easy, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK &&
        curl_easy_getinfo(v->easy, CURLINFO_TOTAL_TIME_T, &tot) == CURLE_OK && tot >= pre && (uint64_t)(tot - pre) < lat)
        lat = (uint64_t)(tot - pre);
    if (res != CURLE_OK) {
        int kind = TK_BERR_READ;
        if (res == CURLE_OPERATION_TIMEDOUT)
            kind = TK_BERR_TIMEOUT;
        else if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST ||
                 res == CURLE_COULDNT_RESOLVE_PROXY)
            kind = TK_BERR_CONNECT;
        vu_release_buf(v);
        tk_benchflow_done(v, kind, 0, NULL, 0, lat);
        return;
    }
    long status = 0;
    curl_easy_getinfo(v->easy, CURLINFO_RESPONSE_CODE, &status);
    tk_benchflow_done(v, -1, (int)status, v->buf ? v->buf : "", v->len, lat);
    vu_release_buf(v);
}

static void check_multi_info(thr *t)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(t->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        vu *v = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&v);
        curl_multi_remove_handle(t->multi, easy);
        v->in_flight = 0;
        curl_done(v, res);
    }
}

static void on_curl_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    thr *t = arg;
    curl_multi_socket_action(t->multi, CURL_SOCKET_TIMEOUT, 0, &t->running);
    check_multi_info(t);
}

static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    thr *t = userp;
    if (timeout_ms < 0)
        evtimer_del(&t->curl_timer);
    else
        evtimer_in_us(&t->curl_timer, (int64_t)timeout_ms * 1000);
    return 0;
}

static void on_sock_event(evutil_socket_t fd, short what, void *arg)
{
    thr *t = arg;
    int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    curl_multi_socket_action(t->multi, fd, action, &t->running);
    check_multi_info(t);
}

static sockctx *sock_get(thr *t)
{
    sockctx *s = t->free_socks;
    if (s) {
        t->free_socks = s->next_free;
        return s;
    }
    s = calloc(1, sizeof *s); /* pool ran dry: more sockets than VUs + slack */
    if (s)
        s->heap = 1;
    return s;
}

static void sock_put(thr *t, sockctx *s)
{
    if (s->active)
        event_del(&s->ev);
    s->active = 0;
    if (s->heap) {
        free(s);
        return;
    }
    s->next_free = t->free_socks;
    t->free_socks = s;
}

static int curl_sock_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    thr *t = userp;
    sockctx *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(t->multi, fd, NULL);
            sock_put(t, s);
        }
        return 0;
    }
    if (!s) {
        s = sock_get(t);
        if (!s)
            return -1;
        s->t = t;
        curl_multi_assign(t->multi, fd, s);
    } else if (s->active) {
        event_del(&s->ev);
    }
    short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    event_assign(&s->ev, t->base, fd, kind, on_sock_event, t);
    event_add(&s->ev, NULL);
    s->active = 1;
    return 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    vu *v = ud;
    size_t n = size * nmemb;
    if (v->len + n + 1 > v->cap) {
        size_t cap = v->cap ? v->cap : 4096;
        while (cap < v->len + n + 1)
            cap *= 2;
        if (cap > BUF_MAX)
            return 0; /* fails the transfer: counted as a read error */
        char *nb = realloc(v->buf, cap);
        if (!nb)
            return 0;
        v->buf = nb;
        v->cap = cap;
    }
    memcpy(v->buf + v->len, ptr, n);
    v->len += n;
    return n;
}

/* Single-endpoint mode reads nothing from the body (as wrk). */
static size_t on_write_discard(char *ptr, size_t size, size_t nmemb, void *ud)
{
    (void)ptr;
    (void)ud;
    return size * nmemb;
}

int tk_benchcurl_headers(vu *v)
{
    char qhdr[TK_QTOKEN_MAX + 32];
    snprintf(qhdr, sizeof qhdr, "X-Queue-Token: %s", v->qtok);
    char auth[2048];
    int n = snprintf(auth, sizeof auth, "Authorization: Bearer %s", v->jwt ? v->jwt : "");
    if (n < 0 || (size_t)n >= sizeof auth)
        return -1;
    char idem[sizeof IDEM_PREFIX + IDEM_LEN];
    snprintf(idem, sizeof idem, IDEM_PREFIX "%0*d", IDEM_LEN, 0);
    curl_slist_free_all(v->hdrs);
    curl_slist_free_all(v->hdrs_pay);
    v->hdrs = v->hdrs_pay = NULL;
    v->idem = NULL;
    struct curl_slist *a = NULL, *p = NULL, *tmp;
    char lock[96] = "";
    if (v->t->b->cfg->strategy)
        snprintf(lock, sizeof lock, "X-Lock-Strategy: %s", v->t->b->cfg->strategy);
    const char *common[5] = {"Content-Type: application/json", "Expect:", auth, NULL, NULL};
    size_t ncommon = 3;
    if (v->qtok[0])
        common[ncommon++] = qhdr;
    if (lock[0])
        common[ncommon++] = lock;
    for (size_t i = 0; i < ncommon; i++) {
        if (!(tmp = curl_slist_append(a, common[i])))
            goto fail;
        a = tmp;
        if (!(tmp = curl_slist_append(p, common[i])))
            goto fail;
        p = tmp;
    }
    if (!(tmp = curl_slist_append(p, idem)))
        goto fail;
    p = tmp;
    while (tmp->next)
        tmp = tmp->next;
    v->idem = tmp->data + strlen(IDEM_PREFIX);
    v->hdrs = a;
    v->hdrs_pay = p;
    return 0;
fail:
    curl_slist_free_all(a);
    curl_slist_free_all(p);
    return -1;
}

void tk_benchcurl_send(vu *v, const char *body, int kind)
{
    thr *t = v->t;
    CURL *e = v->easy;
    if (kind != REQ_URL) { /* single endpoint: URL, GET and no headers were set once */
        if (kind == REQ_PAY) {
            char key[IDEM_LEN + 1]; /* a fresh key per attempt, written over the old one (same length) */
            snprintf(key, sizeof key, "%08x-%08x-%016llx", t->b->nonce, v->id, (unsigned long long)v->pay_seq);
            memcpy(v->idem, key, IDEM_LEN);
        }
        curl_easy_setopt(e, CURLOPT_URL, t->url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, kind == REQ_LOGIN ? t->hdrs_login : kind == REQ_PAY ? v->hdrs_pay : v->hdrs);
        if (body) {
            size_t n = strlen(body);
            if (body != v->body && n < sizeof v->body) { /* libcurl keeps the pointer: our copy */
                memcpy(v->body, body, n + 1);
                body = v->body;
            }
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)n);
        } else {
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        }
    }
    v->len = 0;
    if (curl_multi_add_handle(t->multi, e) != CURLM_OK) {
        tk_benchflow_done(v, TK_BERR_READ, 0, NULL, 0, 0);
        return;
    }
    v->in_flight = 1;
}

int tk_benchcurl_thr_init(thr *t)
{
    bench *b = t->b;
    const tk_bench_config *c = b->cfg;
    if (!(t->multi = curl_multi_init()))
        return tk_err(t->err, sizeof t->err, "curl_multi_init failed");
    evtimer_assign(&t->curl_timer, t->base, on_curl_timer, t);
    struct curl_slist *tmp = curl_slist_append(NULL, "Content-Type: application/json");
    if (!tmp || !(t->hdrs_login = curl_slist_append(tmp, "Expect:"))) {
        curl_slist_free_all(tmp);
        return tk_err(t->err, sizeof t->err, "out of memory");
    }
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(t->multi, CURLMOPT_SOCKETDATA, t);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(t->multi, CURLMOPT_TIMERDATA, t);
    /* keep every VU's connection in the cache between its requests */
    curl_multi_setopt(t->multi, CURLMOPT_MAXCONNECTS, (long)t->nvu + 16);
    int nsocks = t->nvu + 16;
    if (!(t->socks = calloc((size_t)nsocks, sizeof *t->socks)))
        return tk_err(t->err, sizeof t->err, "out of memory");
    for (int i = nsocks - 1; i >= 0; i--) {
        t->socks[i].next_free = t->free_socks;
        t->free_socks = &t->socks[i];
    }
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        if (!(v->easy = curl_easy_init()))
            return tk_err(t->err, sizeof t->err, "curl_easy_init failed");
        CURL *e = v->easy;
        curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)v);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, v);
        if (c->url_path) { /* single endpoint: the request never changes */
            snprintf(t->url, sizeof t->url, "%s%s", b->target, c->url_path);
            curl_easy_setopt(e, CURLOPT_URL, t->url);
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
            curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write_discard);
        }
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->timeout_ms);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 8192L); /* per-handle receive buffer: RSS per VU */
        curl_easy_setopt(e, CURLOPT_USERAGENT, "ticketctl-bench/" TK_VERSION);
    }
    return 0;
}

void tk_benchcurl_thr_free(thr *t)
{
    for (int i = 0; i < t->nvu; i++)
        if (t->vus[i].in_flight)
            curl_multi_remove_handle(t->multi, t->vus[i].easy);
    if (t->multi)
        curl_multi_cleanup(t->multi); /* closes the cached connections */
    for (int i = 0; i < t->nvu; i++) {
        vu *v = &t->vus[i];
        curl_easy_cleanup(v->easy);
        curl_slist_free_all(v->hdrs);
        curl_slist_free_all(v->hdrs_pay);
        v->easy = NULL;
        v->hdrs = v->hdrs_pay = NULL;
    }
    if (t->socks)
        for (int i = 0; i < t->nvu + 16; i++)
            if (t->socks[i].active)
                event_del(&t->socks[i].ev);
    if (t->base && t->multi)
        event_del(&t->curl_timer);
    curl_slist_free_all(t->hdrs_login);
    free(t->socks);
    t->hdrs_login = NULL;
    t->socks = NULL;
    t->multi = NULL;
}

int tk_bench_probe(const char *target, int64_t timeout_ms, char *err, size_t errlen)
{
    char url[600];
    size_t n = strlen(target);
    while (n > 0 && target[n - 1] == '/')
        n--;
    snprintf(url, sizeof url, "%.*s/healthz", (int)n, target);
    CURL *e = curl_easy_init();
    if (!e)
        return tk_err(err, errlen, "curl_easy_init failed");
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOBODY, 0L);
    FILE *devnull = fopen("/dev/null", "w");
    if (devnull)
        curl_easy_setopt(e, CURLOPT_WRITEDATA, devnull);
    CURLcode rc = curl_easy_perform(e);
    long status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(e);
    if (devnull)
        fclose(devnull);
    if (rc != CURLE_OK)
        return tk_err(err, errlen, "cannot reach %s: %s", url, curl_easy_strerror(rc));
    if (status < 200 || status >= 300)
        return tk_err(err, errlen, "%s answered HTTP %ld", url, status);
    return 0;
}

