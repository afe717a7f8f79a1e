/* Event notifications to a webhook (see notify.h). */
#include "ticketctl/rcluster.h"
#include "ticketctl/notify.h"
#include "ticketctl/statelog.h"
#include "ticketctl/common.h"
#include "ticketctl/hold.h"
#include "ticketctl/outbox.h"

#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEDUP_TTL_S (7 * 24 * 3600)

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

/* POST body; returns the HTTP status, or 0 on a transport error. */
static long post(CURL *c, const char *url, const char *body)
{
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    return status;
}

/* The Slack-style text of an event. */
static char *render(json_t *ev)
{
    char text[512];
    snprintf(text, sizeof text, "%s: reservation %lld, user %lld, seat %lld, %lld points",
             json_string_value(json_object_get(ev, "type")),
             (long long)json_integer_value(json_object_get(ev, "reservation_id")),
             (long long)json_integer_value(json_object_get(ev, "user_id")),
             (long long)json_integer_value(json_object_get(ev, "seat_id")),
             (long long)json_integer_value(json_object_get(ev, "amount")));
    json_t *msg = json_pack("{s:s, s:O}", "text", text, "event", ev);
    char *s = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
    json_decref(msg);
    return s;
}

static int redis_exists(redisContext *r, const char *eid)
{
    char key[160];
    snprintf(key, sizeof key, "tk:notified:%.140s", eid);
    redisReply *rep = tk_redis_cmd(r, key, "EXISTS %s", key);
    int v = rep && rep->type == REDIS_REPLY_INTEGER ? (int)rep->integer : -1;
    if (rep)
        freeReplyObject(rep);
    return v;
}

static void redis_mark(redisContext *r, const char *eid)
{
    char key[160];
    snprintf(key, sizeof key, "tk:notified:%.140s", eid);
    redisReply *rep = tk_redis_cmd(r, key, "SET %s 1 EX %d", key, DEDUP_TTL_S);
    if (rep)
        freeReplyObject(rep);
}

/* librdkafka's own log lines ("%3|1700000000.123|FAIL|rdkafka#consumer-1| ...")
 * are not ours to print: broker trouble reaches the operator once, as a
 * state line (statelog.h); with --verbose the raw lines go to stderr. */
typedef struct kafka_watch { /* the client's opaque; verbose is set before rd_kafka_new and never written again */
    int verbose;
    tk_statelog log;
    char last_error[256];
} kafka_watch;

static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const kafka_watch *w = rd_kafka_opaque(rk);
    if (w && w->verbose)
        fprintf(stderr, "notify: kafka %d %s: %s\n", level, fac, buf);
}

/* Errors the client reports while polling (in the polling thread). */
static void kafka_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)rk;
    kafka_watch *w = opaque;
    snprintf(w->last_error, sizeof w->last_error, "%s", reason);
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
        e == RD_KAFKA_RESP_ERR__RESOLVE)
        tk_statelog_set(&w->log, stderr, 0, reason);
}

/* Does the cluster answer a metadata request within timeout_ms? */
static int kafka_answers(rd_kafka_t *rk, int timeout_ms)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (md)
        rd_kafka_metadata_destroy(md);
    return e == RD_KAFKA_RESP_ERR_NO_ERROR;
}

int tk_notify_run(const tk_notify_config *cfg, tk_notify_stats *st, char *err, size_t errlen)
{
    kafka_watch watch = {.verbose = cfg->verbose, .log = {.component = "notify", .backend = "kafka"}};
    int broker_seen = 0;
    char errstr[512];
    int rc = -1;
    memset(st, 0, sizeof *st);
    if (!cfg->brokers || !*cfg->brokers || !cfg->webhook || !*cfg->webhook)
        return tk_err(err, errlen, "Kafka brokers and a webhook URL are required");
    redisContext *redis = tk_redis_connect(cfg->redis_url, err, errlen);
    if (!redis)
        return -1;
    CURL *curl = curl_easy_init();
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", cfg->group && *cfg->group ? cfg->group : "ticketctl-notify", errstr,
                          sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        tk_err(err, errlen, "consumer: %s", errstr);
        goto out;
    }
    rd_kafka_conf_set_opaque(conf, &watch);
    rd_kafka_conf_set_log_cb(conf, kafka_log);
    rd_kafka_conf_set_error_cb(conf, kafka_error);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk || !curl) {
        if (!rk)
            rd_kafka_conf_destroy(conf);
        tk_err(err, errlen, "consumer: %s", rk ? "out of memory" : errstr);
        goto out;
    }
    /* Fail fast and say why when no broker ever answers, instead of polling
     * a dead address forever. */
    int64_t ct = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 10000;
    if (!kafka_answers(rk, (int)ct)) {
        rd_kafka_poll(rk, 0); /* serve the error callback: its reason goes in the message */
        tk_err(err, errlen, "Kafka at %s did not answer within %lld ms%s%s (check --kafka-brokers, or 'ticketctl dev up')",
               cfg->brokers, (long long)ct, watch.last_error[0] ? ": " : "", watch.last_error);
        goto out;
    }
    broker_seen = 1;
    tk_statelog_set(&watch.log, stderr, 1, NULL);
    rd_kafka_poll_set_consumer(rk);
    uint64_t next_probe = 0;
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(topics, TK_TOPIC_RESERVATIONS, RD_KAFKA_PARTITION_UA);
    rd_kafka_topic_partition_list_add(topics, TK_TOPIC_PAYMENTS, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t se = rd_kafka_subscribe(rk, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (se) {
        tk_err(err, errlen, "subscribe: %s", rd_kafka_err2str(se));
        goto out;
    }
    uint64_t last_msg = tk_mono_ms();
    rc = 0;
    while (!(cfg->stop && *cfg->stop)) {
        if (cfg->max_events > 0 && (int64_t)st->delivered >= cfg->max_events)
            break;
        if (cfg->idle_exit_ms > 0 && tk_mono_ms() - last_msg > (uint64_t)cfg->idle_exit_ms)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (watch.log.state == 2 && (m || tk_mono_ms() >= next_probe)) { /* down: is it back? */
            if (m || kafka_answers(rk, 200))
                tk_statelog_set(&watch.log, stderr, 1, NULL);
            next_probe = tk_mono_ms() + 1000;
        }
        if (!m)
            continue;
        if (m->err) { /* partition EOF and transient errors: keep going */
            rd_kafka_message_destroy(m);
            continue;
        }
        last_msg = tk_mono_ms();
        st->consumed++;
        json_t *ev = json_loadb(m->payload, m->len, 0, NULL);
        const char *eid = json_string_value(json_object_get(ev, "event_id"));
        if (!eid || !json_string_value(json_object_get(ev, "type"))) {
            st->skipped++; /* not one of ours: never block the partition on it */
            rd_kafka_commit_message(rk, m, 0);
        } else if (redis_exists(redis, eid) == 1) {
            st->duplicates++;
            rd_kafka_commit_message(rk, m, 0);
        } else {
            char *body = render(ev);
            int attempt = 0, delivered = 0;
            for (int64_t backoff = 100; body && !(cfg->stop && *cfg->stop); backoff = backoff * 2 > 5000 ? 5000 : backoff * 2) {
                long status = post(curl, cfg->webhook, body);
                attempt++;
                if (status >= 200 && status < 300) {
                    delivered = 1;
                    break;
                }
                if (cfg->verbose)
                    fprintf(stderr, "notify: webhook answered %ld for %s (attempt %d)\n", status, eid, attempt);
                if (cfg->max_attempts > 0 && attempt >= cfg->max_attempts)
                    break;
                st->retries++;
                usleep((useconds_t)backoff * 1000);
            }
            free(body);
            if (delivered) {
                redis_mark(redis, eid);
                rd_kafka_commit_message(rk, m, 0);
                st->delivered++;
            } else {
                st->failed++;
                tk_err(err, errlen, "event %s undeliverable after %d attempt(s); offset not committed", eid,
                       attempt);
                rc = -1;
                json_decref(ev);
                rd_kafka_message_destroy(m);
                break;
            }
        }
        json_decref(ev);
        rd_kafka_message_destroy(m);
    }
out:
    if (rk) {
        if (broker_seen && watch.log.state != 2) {
            rd_kafka_consumer_close(rk); /* leave the group cleanly */
            rd_kafka_destroy(rk);
        } else {
            rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE); /* no broker to tell */
        }
    }
    if (curl)
        curl_easy_cleanup(curl);
    tk_redis_free(redis);
    return rc;
}
