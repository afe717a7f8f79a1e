/* Prometheus metrics (text exposition format 0.0.4, every family with HELP
 * and TYPE): requests by method, route and status class, latency
 * histograms by method and route up to 10 s, in-flight requests, the worker
 * pool and its queue, cache hits, holds by strategy and outcome, payments
 * by outcome, the outbox relay (backlog, oldest age, re-publishing), the
 * waiting room per sale (line length, active users, admission rate),
 * build info and the process_* family. Counters are atomics bumped where
 * the event happens; the page is rendered on the loop thread from memory
 * only (no backend call). */
#include "internal.h"
#include "routes.h"
#include "queue_routes.h"
#include "ticketctl/buildinfo.h"

#include <dirent.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bucket upper bounds, ms: Prometheus' default buckets (client_golang
 * DefBuckets, 5 ms .. 10 s) with 0.5, 1 and 2 ms below them for cached reads. */
static const double lat_le_ms[TK_LAT_BUCKETS] = {0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

static const char *const class_label[6] = {"", "1xx", "2xx", "3xx", "4xx", "5xx"};
static const char *const hold_outcome[TK_HOLD_OUTCOMES] = {"held", "seat_taken", "conflict", "busy",
                                                           "stale", "rejected", "error"};
static const char *const pay_outcome[TK_PAY_OUTCOMES] = {"completed", "insufficient_points", "expired", "conflict",
                                                         "not_found", "rejected", "error"};

void tk_metrics_observe(tk_metrics *m, int route, int status, uint64_t us)
{
    if (route < 0 || route >= TK_METRIC_ROUTES)
        route = TK_METRIC_ROUTES - 1;
    int cls = status / 100;
    atomic_fetch_add(&m->requests[route][cls >= 1 && cls <= 5 ? cls : 5], 1);
    int b = 0;
    while (b < TK_LAT_BUCKETS && (double)us / 1000.0 > lat_le_ms[b])
        b++;
    atomic_fetch_add(&m->lat_bucket[route][b], 1);
    atomic_fetch_add(&m->lat_sum_us[route], us);
}

void tk_metrics_hold(tk_metrics *m, const tk_strategy *st, tk_rc rc)
{
    size_t si = TK_METRIC_STRATEGIES - 1;
    for (size_t i = 0; st && i < tk_strategy_count() && i < TK_METRIC_STRATEGIES; i++)
        if (tk_strategy_at(i) == st)
            si = i;
    int o = rc == TK_OK ? 0 : rc == TK_ECONFLICT ? 1 : rc == TK_EEXISTS ? 2 : rc == TK_EBUSY ? 3
          : rc == TK_EEXPIRED ? 4 : rc == TK_EBACKEND || rc == TK_ENOMEM || rc == TK_EIO ? 6 : 5;
    atomic_fetch_add(&m->holds[si][o], 1);
}

void tk_metrics_payment(tk_metrics *m, tk_rc rc)
{
    int o = rc == TK_OK ? 0 : rc == TK_EFUNDS ? 1 : rc == TK_EEXPIRED ? 2 : rc == TK_ECONFLICT ? 3
          : rc == TK_ENOTFOUND ? 4 : rc == TK_EBACKEND || rc == TK_ENOMEM || rc == TK_EIO ? 6 : 5;
    atomic_fetch_add(&m->payments[o], 1);
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

/* HELP and TYPE of one metric family. */
static void family(sbuf *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* process_* as the Prometheus client libraries export them (client_golang
 * process collector): CPU, memory, descriptors, start time, from /proc. */
static void process_metrics(sbuf *b)
{
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, stt = 0, start = 0, vsize = 0;
    long long rss = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu %llu %lld",
               &ut, &stt, &start, &vsize, &rss);
    long hz = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
    double boot = 0;
    f = fopen("/proc/stat", "r");
    while (f && fgets(buf, sizeof buf, f))
        if (!strncmp(buf, "btime ", 6))
            boot = strtod(buf + 6, NULL);
    if (f)
        fclose(f);
    int fds = 0;
    DIR *d = opendir("/proc/self/fd");
    for (struct dirent *de; d && (de = readdir(d));)
        fds += de->d_name[0] != '.';
    if (d)
        closedir(d);
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);
    family(b, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    struct timespec cpu; /* the process CPU clock: ns, where /proc's ticks are 10 ms */
    double cpu_s = clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu) == 0
                       ? (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9
                       : (double)(ut + stt) / (double)(hz > 0 ? hz : 100);
    sb_printf(b, "process_cpu_seconds_total %.6f\n", cpu_s);
    family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    sb_printf(b, "process_resident_memory_bytes %lld\n", rss * (long long)page);
    family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    sb_printf(b, "process_virtual_memory_bytes %llu\n", vsize);
    family(b, "process_open_fds", "gauge", "Number of open file descriptors.");
    sb_printf(b, "process_open_fds %d\n", fds - (d ? 1 : 0));
    family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    sb_printf(b, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
    family(b, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
    sb_printf(b, "process_start_time_seconds %.2f\n", boot + (double)start / (double)(hz > 0 ? hz : 100));
}

/* The waiting room per sale (schedule), from the state each instance reads
 * once per admission tick (queue_routes.c): no backend call here. At most
 * WR_METRIC_SALES sales, so the page stays small. */
#define WR_METRIC_SALES 256
static void waiting_room_metrics(sbuf *b)
{
    static tk_wr_sale_gauges g[WR_METRIC_SALES]; /* rendered on the loop thread only */
    int n = tk_wr_sale_gauges_get(g, WR_METRIC_SALES);
    static const struct {
        const char *name, *help;
    } fam[] = {
        {"ticketctl_waiting_room_waiting", "Users waiting in the sale's line at the last admission tick."},
        {"ticketctl_waiting_room_active_users",
         "Admitted users whose admission is live (at most --active-users per sale)."},
        {"ticketctl_waiting_room_admission_rate_per_minute",
         "New users per minute the sale is admitted at now (its share of the admission budget)."},
        {"ticketctl_waiting_room_line_advance_per_minute",
         "Measured pace of the line, ranks per minute (admitted plus skipped), EWMA over ticks; 0 unknown."},
        {"ticketctl_waiting_room_state_age_seconds",
         "Age of the sale's now-serving state this instance answers polls from."},
    };
    int64_t now = tk_wall_ms();
    for (size_t f = 0; f < sizeof fam / sizeof fam[0]; f++) {
        family(b, fam[f].name, "gauge", fam[f].help);
        for (int i = 0; i < n; i++) {
            double v = f == 0 ? (double)g[i].waiting : f == 1 ? (double)g[i].active : f == 2 ? g[i].rate_per_min
                     : f == 3 ? g[i].advance_per_min : (double)(now - g[i].at_ms) / 1000.0;
            sb_printf(b, "%s{schedule=\"%llu\"} %.6g\n", fam[f].name, (unsigned long long)g[i].sale, v);
        }
    }
}

char *tk_metrics_render(tk_server *srv, size_t *len)
{
    tk_metrics *m = &srv->metrics;
    sbuf b = {malloc(32768), 0, 32768, 0};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';
    /* one series per (method, route, code class): GET and POST of one path stay apart */
    family(&b, "ticketctl_http_requests_total", "counter", "HTTP requests answered, by method, route and status class.");
    size_t nroutes = tk_route_count(); /* tk_routes then tk_admin_routes (routes.h) */
    for (size_t i = 0; i <= nroutes && i < TK_METRIC_ROUTES; i++) {
        size_t slot = i < nroutes ? i : TK_METRIC_ROUTES - 1;
        const char *method = i < nroutes ? tk_route_at(i)->method : "", *route = i < nroutes ? tk_route_at(i)->pattern : "unmatched";
        for (int c = 1; c <= 5; c++)
            sb_printf(&b, "ticketctl_http_requests_total{method=\"%s\",route=\"%s\",code=\"%s\"} %llu\n", method,
                      route, class_label[c], (unsigned long long)atomic_load(&m->requests[slot][c]));
    }
    family(&b, "ticketctl_http_request_duration_seconds", "histogram",
           "Time from a request's arrival to its answer, by method and route.");
    for (size_t i = 0; i < nroutes && i < TK_METRIC_ROUTES - 1; i++) {
        uint64_t cum = 0;
        const char *method = tk_route_at(i)->method, *route = tk_route_at(i)->pattern;
        for (int k = 0; k <= TK_LAT_BUCKETS; k++) {
            cum += atomic_load(&m->lat_bucket[i][k]);
            if (k < TK_LAT_BUCKETS)
                sb_printf(&b, "ticketctl_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"%g\"} %llu\n",
                          method, route, lat_le_ms[k] / 1000.0, (unsigned long long)cum);
            else
                sb_printf(&b, "ticketctl_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",le=\"+Inf\"} %llu\n",
                          method, route, (unsigned long long)cum);
        }
        sb_printf(&b, "ticketctl_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} %.6f\n", method, route,
                  (double)atomic_load(&m->lat_sum_us[i]) / 1e6);
        sb_printf(&b, "ticketctl_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} %llu\n", method, route,
                  (unsigned long long)cum);
    }
    family(&b, "ticketctl_inflight_requests", "gauge", "Requests received and not yet answered.");
    sb_printf(&b, "ticketctl_inflight_requests %lld\n", (long long)atomic_load(&m->inflight));
    family(&b, "ticketctl_worker_queue_depth", "gauge", "Jobs waiting for a database worker.");
    sb_printf(&b, "ticketctl_worker_queue_depth %lld\n", (long long)atomic_load(&m->queued));
    family(&b, "ticketctl_worker_queue_low_depth", "gauge",
           "Of the jobs waiting for a worker, the waiting room's own (the low lane: take a place, leave, a poll the loop could not answer).");
    sb_printf(&b, "ticketctl_worker_queue_low_depth %lld\n", (long long)atomic_load(&m->queued_low));
    family(&b, "ticketctl_worker_lane_jobs_total", "counter",
           "Jobs workers took, by lane: booking (every other route) or low (the waiting room's, every 4th pop at least).");
    sb_printf(&b, "ticketctl_worker_lane_jobs_total{lane=\"booking\"} %llu\n", (unsigned long long)atomic_load(&m->lane_jobs[0]));
    sb_printf(&b, "ticketctl_worker_lane_jobs_total{lane=\"low\"} %llu\n", (unsigned long long)atomic_load(&m->lane_jobs[1]));
    family(&b, "ticketctl_worker_queue_waits_total", "counter", "Jobs that found every database worker busy.");
    sb_printf(&b, "ticketctl_worker_queue_waits_total %llu\n", (unsigned long long)atomic_load(&m->queue_waits));
    family(&b, "ticketctl_db_batches_total", "counter", "Store calls (serve --db-batch) that carried more than one job.");
    sb_printf(&b, "ticketctl_db_batches_total %llu\n", (unsigned long long)atomic_load(&m->db_batches));
    family(&b, "ticketctl_workers", "gauge", "Database worker threads (the MariaDB/Redis connection pool).");
    sb_printf(&b, "ticketctl_workers %d\n", srv->nworkers);
    family(&b, "ticketctl_workers_busy", "gauge", "Database workers running a job now.");
    sb_printf(&b, "ticketctl_workers_busy %lld\n", (long long)atomic_load(&srv->busy_workers));
    uint64_t hits, misses;
    tk_cache_stats(srv->cache, &hits, &misses);
    family(&b, "ticketctl_cache_hits_total", "counter", "Cached reads answered from the response cache.");
    sb_printf(&b, "ticketctl_cache_hits_total %llu\n", (unsigned long long)hits);
    family(&b, "ticketctl_cache_misses_total", "counter", "Cacheable reads that went to MariaDB.");
    sb_printf(&b, "ticketctl_cache_misses_total %llu\n", (unsigned long long)misses);
    { /* the invalidation bus between instances (cache.h; boxoffice) */
        tk_cache_bus_stats cb;
        tk_cache_bus_get_stats(srv->cache_bus, &cb);
        family(&b, "ticketctl_cache_level_requests_total", "counter",
               "Cacheable reads by cache level and result (l1: this process; l2: Redis, shared, asked on an l1 miss).");
        sb_printf(&b, "ticketctl_cache_level_requests_total{level=\"l1\",result=\"hit\"} %llu\n",
                  (unsigned long long)hits);
        sb_printf(&b, "ticketctl_cache_level_requests_total{level=\"l1\",result=\"miss\"} %llu\n",
                  (unsigned long long)misses);
        sb_printf(&b, "ticketctl_cache_level_requests_total{level=\"l2\",result=\"hit\"} %llu\n",
                  (unsigned long long)cb.l2_hits);
        sb_printf(&b, "ticketctl_cache_level_requests_total{level=\"l2\",result=\"miss\"} %llu\n",
                  (unsigned long long)cb.l2_misses);
        uint64_t leaders, followers;
        tk_cache_flight_stats(srv->cache, &leaders, &followers);
        family(&b, "ticketctl_cache_flights_total", "counter",
               "Cache misses by single-flight role: lead (read MariaDB) or follow (waited for the leader's fill).");
        sb_printf(&b, "ticketctl_cache_flights_total{role=\"lead\"} %llu\n", (unsigned long long)leaders);
        sb_printf(&b, "ticketctl_cache_flights_total{role=\"follow\"} %llu\n", (unsigned long long)followers);
        family(&b, "ticketctl_cache_invalidations_total", "counter",
               "Invalidation messages on the cache bus: sent by this instance, received from others.");
        sb_printf(&b, "ticketctl_cache_invalidations_total{direction=\"sent\"} %llu\n",
                  (unsigned long long)cb.published);
        sb_printf(&b, "ticketctl_cache_invalidations_total{direction=\"received\"} %llu\n",
                  (unsigned long long)cb.received);
        family(&b, "ticketctl_cache_resubscribes_total", "counter",
               "Cache bus (re)subscriptions; each clears this instance's cache.");
        sb_printf(&b, "ticketctl_cache_resubscribes_total %llu\n", (unsigned long long)cb.resubscribes);
        family(&b, "ticketctl_cache_invalidation_lag_seconds", "histogram",
               "From another instance's change (its publish) to the invalidation here.");
        static const char *const le[6] = {"0.001", "0.005", "0.01", "0.05", "0.1", "+Inf"};
        for (int i = 0; i < 6; i++)
            sb_printf(&b, "ticketctl_cache_invalidation_lag_seconds_bucket{le=\"%s\"} %llu\n", le[i],
                      (unsigned long long)cb.lag_le[i]);
        sb_printf(&b, "ticketctl_cache_invalidation_lag_seconds_sum %.3f\n", (double)cb.lag_sum_ms / 1000.0);
        sb_printf(&b, "ticketctl_cache_invalidation_lag_seconds_count %llu\n", (unsigned long long)cb.received);
        family(&b, "ticketctl_cache_invalidation_lag_max_seconds", "gauge",
               "The longest invalidation lag seen since the start.");
        sb_printf(&b, "ticketctl_cache_invalidation_lag_max_seconds %.3f\n", (double)cb.lag_max_ms / 1000.0);
    }
    family(&b, "ticketctl_holds_total", "counter", "Seat holds by lock strategy and outcome.");
    for (size_t si = 0; si < tk_strategy_count() && si < TK_METRIC_STRATEGIES; si++) {
        const tk_strategy *st = tk_strategy_at(si);
        if (!st->reserve)
            continue;
        for (int o = 0; o < TK_HOLD_OUTCOMES; o++)
            sb_printf(&b, "ticketctl_holds_total{strategy=\"%s\",outcome=\"%s\"} %llu\n", st->name, hold_outcome[o],
                      (unsigned long long)atomic_load(&m->holds[si][o]));
    }
    family(&b, "ticketctl_holds_rejected_by_redis_total", "counter",
           "Holds turned away by the Redis filter before reaching MariaDB.");
    sb_printf(&b, "ticketctl_holds_rejected_by_redis_total %llu\n",
              (unsigned long long)atomic_load(&m->holds_redis_rejected));
    family(&b, "ticketctl_holds_expired_total", "counter", "Unpaid holds the sweeper expired.");
    sb_printf(&b, "ticketctl_holds_expired_total %llu\n", (unsigned long long)atomic_load(&m->holds_expired));
    family(&b, "ticketctl_payments_total", "counter", "Payments by outcome.");
    for (int o = 0; o < TK_PAY_OUTCOMES; o++)
        sb_printf(&b, "ticketctl_payments_total{outcome=\"%s\"} %llu\n", pay_outcome[o],
                  (unsigned long long)atomic_load(&m->payments[o]));
    family(&b, "ticketctl_start_time_seconds", "gauge", "When this server started, seconds since the epoch.");
    sb_printf(&b, "ticketctl_start_time_seconds %lld\n", (long long)(srv->started_ms / 1000));
    family(&b, "ticketctl_build_info", "gauge", "A constant 1, labelled with what this binary is (ticketctl version).");
    sb_printf(&b, "ticketctl_build_info{version=\"%s\",commit=\"%s\",build_type=\"%s\",strategy=\"%s\"} 1\n",
              tk_build_version(), tk_build_commit(), tk_build_type(),
              srv->cfg.strategy ? srv->cfg.strategy->name : "redis-atomic");
    if (srv->relay) {
        tk_relay_stats rs;
        tk_relay_get_stats(srv->relay, &rs);
        family(&b, "ticketctl_outbox_published_total", "counter", "Outbox events Kafka acknowledged.");
        sb_printf(&b, "ticketctl_outbox_published_total %llu\n", (unsigned long long)rs.published);
        family(&b, "ticketctl_outbox_failed_total", "counter", "Outbox deliveries that failed (retried later).");
        sb_printf(&b, "ticketctl_outbox_failed_total %llu\n", (unsigned long long)rs.failed);
        family(&b, "ticketctl_outbox_relay_leader", "gauge", "1 while this instance holds the relay lock.");
        sb_printf(&b, "ticketctl_outbox_relay_leader %d\n", rs.leader);
        family(&b, "ticketctl_outbox_backlog", "gauge",
               "Outbox events not yet published (as the leading relay last saw it; -1 when not the leader).");
        sb_printf(&b, "ticketctl_outbox_backlog %lld\n", rs.leader ? (long long)rs.backlog : -1LL);
        family(&b, "ticketctl_outbox_oldest_unpublished_age_seconds", "gauge",
               "Age of the oldest unpublished outbox event (0 when none; -1 when not the leader).");
        sb_printf(&b, "ticketctl_outbox_oldest_unpublished_age_seconds %.3f\n",
                  rs.leader ? (double)rs.oldest_age_ms / 1000.0 : -1.0);
        family(&b, "ticketctl_outbox_republished_total", "counter", "Events published again after a broker lost them.");
        sb_printf(&b, "ticketctl_outbox_republished_total %llu\n", (unsigned long long)rs.republished);
        family(&b, "ticketctl_outbox_broker_losses_total", "counter",
               "Partitions found shorter than Kafka had acknowledged.");
        sb_printf(&b, "ticketctl_outbox_broker_losses_total %llu\n", (unsigned long long)rs.losses);
        family(&b, "ticketctl_outbox_purged_total", "counter", "Published events deleted after the retention.");
        sb_printf(&b, "ticketctl_outbox_purged_total %llu\n", (unsigned long long)rs.purged);
    }
    uint64_t polls_state, polls_backend; /* the waiting room's polls (queue_routes.c) */
    tk_wr_poll_counts(&polls_state, &polls_backend);
    family(&b, "ticketctl_queue_polls_total", "counter",
           "Waiting-room polls, by who answered: the sale's shared state (no backend call) or the backend.");
    sb_printf(&b,
              "ticketctl_queue_polls_total{answered=\"state\"} %llu\n"
              "ticketctl_queue_polls_total{answered=\"backend\"} %llu\n",
              (unsigned long long)polls_state, (unsigned long long)polls_backend);
    waiting_room_metrics(&b);
    tk_health_state hs;
    tk_health_get(srv->health, &hs);
    family(&b, "ticketctl_backend_up", "gauge", "1 while the backend answers the health monitor's ping (every 500 ms).");
    sb_printf(&b, "ticketctl_backend_up{backend=\"mariadb\"} %d\nticketctl_backend_up{backend=\"redis\"} %d\n",
              hs.up[TK_HEALTH_MARIADB], hs.up[TK_HEALTH_REDIS]);
    family(&b, "ticketctl_degraded", "gauge", "1 while ready but without Redis (MariaDB alone decides every hold).");
    sb_printf(&b, "ticketctl_degraded %d\n", hs.up[TK_HEALTH_MARIADB] && !hs.up[TK_HEALTH_REDIS]);
    process_metrics(&b);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}
