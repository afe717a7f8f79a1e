/* The per-second metrics record ("pulse") the server publishes to Kafka
 * for anomaly detection (DESIGN.md "Events and anomaly detection"):
 *   {"ts": ms, "interval_ms", "rps", "error_rate", "p50_ms", "p99_ms",
 *    "cpu", "inflight", "queued", "queue_waits", "requests", "errors", "instance"}
 * Latencies come from one histogram per loop thread (only that loop writes
 * it, under an uncontended mutex the pulse thread takes once a second to
 * swap it out); errors are 5xx answers. Producing never blocks: with the
 * broker down, records queue in librdkafka up to its limit, then the
 * oldest are dropped by their time-out (metrics are perishable). */
#include "internal.h"

#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ticketctl/hist.h"

void tk_pulse_record(tk_loop *l, int status, uint64_t us)
{
    pthread_mutex_lock(&l->pulse_mu);
    tk_hist_record(l->pulse_hist, us);
    if (status >= 500)
        l->pulse_errors++;
    pthread_mutex_unlock(&l->pulse_mu);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void *pulse_main(void *arg)
{
    tk_server *srv = arg;
    tk_hist *sum = tk_hist_new();
    char errstr[256], host[64] = "";
    gethostname(host, sizeof host - 1);
    char instance[128];
    snprintf(instance, sizeof instance, "%s:%d", host, (int)getpid());
    uint64_t last_us = tk_mono_us(), last_waits = 0;
    double last_cpu = cpu_seconds();
    pthread_mutex_lock(&srv->pulse_mu);
    while (!srv->pulse_stop && sum) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&srv->pulse_cv, &srv->pulse_mu, &ts);
        if (srv->pulse_stop)
            break;
        pthread_mutex_unlock(&srv->pulse_mu);
        uint64_t errors = 0;
        tk_hist_reset(sum);
        for (int i = 0; i < srv->nloops; i++) {
            tk_loop *l = &srv->loops[i];
            pthread_mutex_lock(&l->pulse_mu);
            tk_hist_merge(sum, l->pulse_hist);
            tk_hist_reset(l->pulse_hist);
            errors += l->pulse_errors;
            l->pulse_errors = 0;
            pthread_mutex_unlock(&l->pulse_mu);
        }
        uint64_t now_us = tk_mono_us();
        double secs = (double)(now_us - last_us) / 1e6, cpu = cpu_seconds();
        uint64_t waits = atomic_load(&srv->metrics.queue_waits);
        uint64_t n = tk_hist_count(sum);
        json_t *rec = json_pack("{s:I, s:i, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:s}", "ts",
                                (json_int_t)tk_wall_ms(), "interval_ms", (int)(secs * 1000), "rps",
                                secs > 0 ? (double)n / secs : 0.0, "error_rate", n ? (double)errors / (double)n : 0.0,
                                "p50_ms", n ? (double)tk_hist_percentile(sum, 50) / 1000.0 : 0.0, "p99_ms",
                                n ? (double)tk_hist_percentile(sum, 99) / 1000.0 : 0.0, "cpu",
                                secs > 0 ? (cpu - last_cpu) / secs : 0.0, "inflight",
                                (json_int_t)atomic_load(&srv->metrics.inflight), "queued",
                                (json_int_t)atomic_load(&srv->metrics.queued), "queue_waits",
                                (json_int_t)(waits - last_waits), "requests", (json_int_t)n, "errors",
                                (json_int_t)errors, "instance", instance);
        last_us = now_us;
        last_cpu = cpu;
        last_waits = waits;
        char *s = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
        json_decref(rec);
        if (s) {
            if (rd_kafka_producev(srv->pulse_rk, RD_KAFKA_V_TOPIC(TK_TOPIC_METRICS),
                                  RD_KAFKA_V_KEY(instance, strlen(instance)), RD_KAFKA_V_VALUE(s, strlen(s)),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
                srv->pulse_dropped++;
            free(s);
        }
        rd_kafka_poll(srv->pulse_rk, 0);
        (void)errstr;
        pthread_mutex_lock(&srv->pulse_mu);
    }
    pthread_mutex_unlock(&srv->pulse_mu);
    tk_hist_free(sum);
    return NULL;
}

int tk_pulse_start(tk_server *srv, char *err, size_t errlen)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", srv->cfg.kafka_brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", "30000", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "queue.buffering.max.messages", "10000", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "client.id", "ticketctl-pulse", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        return tk_err(err, errlen, "metrics producer: %s", errstr);
    }
    srv->pulse_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!srv->pulse_rk) {
        rd_kafka_conf_destroy(conf);
        return tk_err(err, errlen, "metrics producer: %s", errstr);
    }
    if (pthread_create(&srv->pulse_thread, NULL, pulse_main, srv) != 0) {
        rd_kafka_destroy(srv->pulse_rk);
        srv->pulse_rk = NULL;
        return tk_err(err, errlen, "cannot start the metrics thread");
    }
    srv->pulse_started = 1;
    return 0;
}

void tk_pulse_stop(tk_server *srv)
{
    if (!srv->pulse_started)
        return;
    pthread_mutex_lock(&srv->pulse_mu);
    srv->pulse_stop = 1;
    pthread_cond_broadcast(&srv->pulse_cv);
    pthread_mutex_unlock(&srv->pulse_mu);
    pthread_join(srv->pulse_thread, NULL);
    rd_kafka_flush(srv->pulse_rk, 200); /* per-second metrics: lossy by design; shutdown stays bounded */
    rd_kafka_purge(srv->pulse_rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(srv->pulse_rk);
    srv->pulse_rk = NULL;
    srv->pulse_started = 0;
}
