/* Streaming anomaly detection over the metrics topic (see detect.h). */
#include "ticketctl/detect.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/online.h"

#include <curl/curl.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static rd_kafka_t *consumer(const char *brokers, char *err, size_t errlen)
{
    char errstr[512], group[64];
    snprintf(group, sizeof group, "ticketctl-anomaly-%lld", (long long)tk_wall_ms());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.partition.eof", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        tk_err(err, errlen, "consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        tk_err(err, errlen, "consumer: %s", errstr);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* Assign every partition of topic at `offset`; returns the partition count or -1. */
static int assign_all(rd_kafka_t *rk, const char *topic, int64_t offset, char *err, size_t errlen)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        tk_err(err, errlen, "topic %s: %s", topic,
               e ? rd_kafka_err2str(e) : md->topic_cnt ? rd_kafka_err2str(md->topics[0].err) : "no metadata");
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int n = md->topics[0].partition_cnt;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(n);
    for (int i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, topic, md->topics[0].partitions[i].id)->offset = offset;
    rd_kafka_metadata_destroy(md);
    e = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e)
        return tk_err(err, errlen, "assign: %s", rd_kafka_err2str(e));
    return n;
}

/* The field's value and the record time (s) of one metrics record. A
 * second with no requests is skipped: its latency percentiles are not 0,
 * they are undefined, and idle-to-busy jumps would teach the model that
 * any jump is normal. */
static int record_value(const rd_kafka_message_t *m, const char *field, double *v, int64_t *ts_s)
{
    json_t *rec = json_loadb(m->payload, m->len, 0, NULL);
    json_t *f = json_object_get(rec, field), *reqs = json_object_get(rec, "requests");
    int ok = json_is_number(f) && !(json_is_integer(reqs) && json_integer_value(reqs) == 0);
    if (ok) {
        *v = json_number_value(f);
        *ts_s = json_integer_value(json_object_get(rec, "ts")) / 1000;
    }
    json_decref(rec);
    return ok ? 0 : -1;
}

int tk_metrics_read_topic(const char *brokers, const char *topic, const char *field, size_t max, int timeout_ms,
                          int64_t since_ms, tk_nab_series *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    rd_kafka_t *rk = consumer(brokers, err, errlen);
    if (!rk)
        return -1;
    int parts = assign_all(rk, topic, RD_KAFKA_OFFSET_BEGINNING, err, errlen);
    size_t cap = 1024;
    out->ts = malloc(cap * sizeof *out->ts);
    out->value = malloc(cap * sizeof *out->value);
    int eofs = 0, rc = -1;
    uint64_t deadline = tk_mono_ms() + (uint64_t)timeout_ms;
    while (parts > 0 && out->ts && out->value && eofs < parts && out->n < max && tk_mono_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (!m->err) {
            double v;
            int64_t ts;
            if (record_value(m, field, &v, &ts) == 0 && ts * 1000 >= since_ms) {
                if (out->n == cap) {
                    cap *= 2;
                    int64_t *nt = realloc(out->ts, cap * sizeof *nt);
                    double *nv = nt ? realloc(out->value, cap * sizeof *nv) : NULL;
                    if (nt)
                        out->ts = nt;
                    if (!nv) {
                        rd_kafka_message_destroy(m);
                        break;
                    }
                    out->value = nv;
                }
                out->ts[out->n] = ts;
                out->value[out->n++] = v;
            }
        }
        rd_kafka_message_destroy(m);
    }
    if (parts > 0 && out->n > 0)
        rc = 0;
    else if (parts > 0)
        tk_err(err, errlen, "no records with field '%s' in topic %s", field, topic);
    rd_kafka_assign(rk, NULL);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc != 0)
        tk_nab_series_free(out);
    return rc;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static int post_alert(const char *url, const char *body)
{
    CURL *c = curl_easy_init();
    if (!c)
        return -1;
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    long status = 0;
    int rc = -1;
    /* a few quick retries: an alert is worth a second try, not a stall */
    for (int attempt = 0; attempt < 3 && rc != 0; attempt++) {
        if (curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
            status >= 200 && status < 300)
            rc = 0;
        else
            nanosleep(&(struct timespec){0, 200000000L << attempt}, NULL);
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return rc;
}

unsigned tk_detect_default_persist(tk_online_kind kind) { return kind == TK_ONLINE_CAD ? 1 : 2; }

int tk_detect_run(const tk_detect_config *cfg, tk_detect_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    tk_online_model m;
    tk_iforest *model = NULL;
    tk_online *det = NULL;
    MYSQL *db = NULL;
    rd_kafka_t *rk = NULL;
    int rc = -1;
    /* The streaming detector of `anomaly eval`, forest or cad, as the model
     * file says (no suppression: the incident logic below decides what
     * pages). */
    if (!(det = tk_online_open_model(cfg->model_path, &m, err, errlen)))
        goto out;
    const char *by = tk_online_kind_name(m.kind); /* the rule that paged when the score did */
    /* Range guard, a labelled rule beside the forest. An Isolation Forest
     * cannot rank a value beyond all it was trained on above its most
     * extreme training point: such a value follows that point's path to
     * the same leaf (isolation does not extrapolate). So a value more than
     * three training ranges outside the training range is anomalous
     * whatever the score. */
    double span = m.hi - m.lo;
    const char *topic = cfg->topic && *cfg->topic ? cfg->topic : "ticketctl.metrics";
    const char *field = cfg->field && *cfg->field ? cfg->field : "p99_ms";
    double threshold = cfg->threshold > 0 ? cfg->threshold : TK_DETECT_THRESHOLD;
    tk_incident inc = {.persist = cfg->persist ? cfg->persist : tk_detect_default_persist(m.kind),
                       .rearm = cfg->rearm ? cfg->rearm : 10};
    if (cfg->mysql_url && !(db = tk_db_connect(cfg->mysql_url, err, errlen)))
        goto out;
    if (db && tk_db_migrate(db, err, errlen) < 0)
        goto out;
    if (!(rk = consumer(cfg->brokers, err, errlen)) ||
        assign_all(rk, topic, cfg->from_beginning ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END, err,
                   errlen) < 0)
        goto out;
    uint64_t last = tk_mono_ms();
    int64_t first_ts = 0;
    rc = 0;
    while (!(cfg->stop && *cfg->stop)) {
        if (cfg->idle_exit_ms > 0 && tk_mono_ms() - last > (uint64_t)cfg->idle_exit_ms)
            break;
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 200);
        if (!msg)
            continue;
        double v;
        int64_t ts;
        if (msg->err || record_value(msg, field, &v, &ts) != 0) {
            rd_kafka_message_destroy(msg);
            continue;
        }
        rd_kafka_message_destroy(msg);
        last = tk_mono_ms();
        if (!first_ts)
            first_ts = ts;
        unsigned fits = tk_online_fits(det);
        double score = tk_online_update(det, v);
        int out_of_range = v > m.hi + 3 * span || v < m.lo - 3 * span;
        int rule = out_of_range ? 1 : 0;
        int verdict = score >= threshold || out_of_range;
        st->records++;
        st->refits += tk_online_fits(det) - fits;
        if (score > st->max_score)
            st->max_score = score;
        if (cfg->verbose)
            fprintf(stderr, "anomaly detect: %s=%.3f score %.3f%s%s\n", field, v, score, verdict ? " ANOMALY" : "",
                    rule ? " (range guard: far outside the training range)" : "");
        if (db) {
            char sql[1024];
            snprintf(sql, sizeof sql,
                     "INSERT INTO anomaly_results (window_start, window_end, metric, value, score, features, verdict)"
                     " VALUES (FROM_UNIXTIME(%lld), FROM_UNIXTIME(%lld), '%s', %.6f, %.6f, '{\"rule\":\"%s\"}', %d)",
                     (long long)(ts - m.window > first_ts ? ts - m.window : first_ts), (long long)ts, field, v, score,
                     rule ? "range_guard" : verdict ? by : "none", verdict);
            if (mysql_query(db, sql) == 0)
                st->stored++;
        }
        if (verdict)
            st->anomalies++;
        if (tk_incident_step(&inc, verdict)) {
            st->incidents++;
            if (cfg->webhook) {
                char text[512];
                snprintf(text, sizeof text,
                         "ticketctl anomaly: %s = %.2f, anomaly score %.3f (threshold %.2f)%s at %lld", field, v,
                         score, threshold, rule ? ", range guard: far outside the trained range" : "",
                         (long long)ts);
                json_t *js = json_pack("{s:s, s:{s:s, s:f, s:f, s:f, s:I, s:s}}", "text", text, "anomaly", "metric",
                                       field, "value", v, "score", score, "threshold", threshold, "ts",
                                       (json_int_t)ts, "rule", rule ? "range_guard" : by);
                char *body = js ? json_dumps(js, JSON_COMPACT) : NULL;
                json_decref(js);
                if (body && post_alert(cfg->webhook, body) == 0)
                    st->alerts_sent++;
                else
                    st->alert_failures++;
                free(body);
            }
        }
    }
out:
    if (rk) {
        rd_kafka_assign(rk, NULL);
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    if (db)
        mysql_close(db);
    tk_online_free(det);
    tk_iforest_free(model);
    return rc;
}
