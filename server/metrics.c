/* Prometheus metrics (text exposition format 0.0.4): per-route request
 * counts and latency histograms, status classes, in-flight requests, the
 * worker queue, cache hits and hold outcomes. Counters are atomics bumped
 * on the loop thread when a reply is sent. */
#include "internal.h"
#include "queue_routes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bucket upper bounds, ms. */
static const double lat_le_ms[TK_LAT_BUCKETS] = {0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

void tk_metrics_observe(tk_metrics *m, int route, int status, uint64_t us)
{
    if (route < 0 || route > 63)
        route = 63;
    atomic_fetch_add(&m->requests[route], 1);
    int cls = status / 100;
    if (cls >= 1 && cls <= 5)
        atomic_fetch_add(&m->status_class[cls], 1);
    int b = 0;
    while (b < TK_LAT_BUCKETS && (double)us / 1000.0 > lat_le_ms[b])
        b++;
    atomic_fetch_add(&m->lat_bucket[route][b], 1);
    atomic_fetch_add(&m->lat_sum_us[route], us);
}

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = b->cap * 2 + (size_t)n;
        char *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
}

char *tk_metrics_render(tk_server *srv, size_t *len)
{
    tk_metrics *m = &srv->metrics;
    sbuf b = {malloc(16384), 0, 16384, 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    sb_printf(&b, "# HELP ticketctl_http_requests_total HTTP requests by route.\n"
                  "# TYPE ticketctl_http_requests_total counter\n");
    for (size_t i = 0; i < tk_nroutes; i++)
        sb_printf(&b, "ticketctl_http_requests_total{method=\"%s\",route=\"%s\"} %llu\n", tk_routes[i].method,
                  tk_routes[i].pattern, (unsigned long long)atomic_load(&m->requests[i]));
    sb_printf(&b, "ticketctl_http_requests_total{method=\"\",route=\"unmatched\"} %llu\n",
              (unsigned long long)atomic_load(&m->requests[63]));
    sb_printf(&b, "# HELP ticketctl_http_responses_total HTTP responses by status class.\n"
                  "# TYPE ticketctl_http_responses_total counter\n");
    for (int c = 1; c <= 5; c++)
        sb_printf(&b, "ticketctl_http_responses_total{code=\"%dxx\"} %llu\n", c,
                  (unsigned long long)atomic_load(&m->status_class[c]));
    sb_printf(&b, "# HELP ticketctl_http_request_duration_seconds Request latency by route.\n"
                  "# TYPE ticketctl_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < tk_nroutes; i++) {
        uint64_t cum = 0;
        for (int k = 0; k <= TK_LAT_BUCKETS; k++) {
            cum += atomic_load(&m->lat_bucket[i][k]);
            if (k < TK_LAT_BUCKETS)
                sb_printf(&b, "ticketctl_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
                          tk_routes[i].pattern, lat_le_ms[k] / 1000.0, (unsigned long long)cum);
            else
                sb_printf(&b, "ticketctl_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
                          tk_routes[i].pattern, (unsigned long long)cum);
        }
        sb_printf(&b, "ticketctl_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", tk_routes[i].pattern,
                  (double)atomic_load(&m->lat_sum_us[i]) / 1e6);
        sb_printf(&b, "ticketctl_http_request_duration_seconds_count{route=\"%s\"} %llu\n", tk_routes[i].pattern,
                  (unsigned long long)cum);
    }
    uint64_t hits, misses;
    tk_cache_stats(srv->cache, &hits, &misses);
    sb_printf(&b,
              "# TYPE ticketctl_inflight_requests gauge\nticketctl_inflight_requests %lld\n"
              "# TYPE ticketctl_worker_queue_depth gauge\nticketctl_worker_queue_depth %lld\n"
              "# TYPE ticketctl_worker_queue_waits_total counter\nticketctl_worker_queue_waits_total %llu\n"
              "# TYPE ticketctl_workers gauge\nticketctl_workers %d\n"
              "# TYPE ticketctl_cache_hits_total counter\nticketctl_cache_hits_total %llu\n"
              "# TYPE ticketctl_cache_misses_total counter\nticketctl_cache_misses_total %llu\n"
              "# TYPE ticketctl_holds_rejected_by_redis_total counter\nticketctl_holds_rejected_by_redis_total %llu\n"
              "# TYPE ticketctl_holds_expired_total counter\nticketctl_holds_expired_total %llu\n"
              "# TYPE ticketctl_start_time_seconds gauge\nticketctl_start_time_seconds %lld\n",
              (long long)atomic_load(&m->inflight), (long long)atomic_load(&m->queued),
              (unsigned long long)atomic_load(&m->queue_waits), srv->nworkers, (unsigned long long)hits,
              (unsigned long long)misses, (unsigned long long)atomic_load(&m->holds_redis_rejected),
              (unsigned long long)atomic_load(&m->holds_expired), (long long)(srv->started_ms / 1000));
    if (srv->relay) {
        tk_relay_stats rs;
        tk_relay_get_stats(srv->relay, &rs);
        sb_printf(&b,
                  "# TYPE ticketctl_outbox_published_total counter\nticketctl_outbox_published_total %llu\n"
                  "# TYPE ticketctl_outbox_failed_total counter\nticketctl_outbox_failed_total %llu\n"
                  "# TYPE ticketctl_outbox_relay_leader gauge\nticketctl_outbox_relay_leader %d\n",
                  (unsigned long long)rs.published, (unsigned long long)rs.failed, rs.leader);
    }
    uint64_t polls_state, polls_backend; /* the waiting room's polls (queue_routes.c) */
    tk_wr_poll_counts(&polls_state, &polls_backend);
    sb_printf(&b,
              "# TYPE ticketctl_queue_polls_total counter\n"
              "ticketctl_queue_polls_total{answered=\"state\"} %llu\n"
              "ticketctl_queue_polls_total{answered=\"backend\"} %llu\n",
              (unsigned long long)polls_state, (unsigned long long)polls_backend);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
