/* The outbox relay (see outbox.h): one thread, one MariaDB connection, one
 * idempotent librdkafka producer. Each round: take up to BATCH unpublished
 * rows in id order, produce them, wait for every delivery report, mark the
 * acknowledged ones published in one UPDATE. */
#include "ticketctl/outbox.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 500
#define FLUSH_MS 15000

struct tk_relay {
    char mysql_url[512];
    int poll_ms;
    rd_kafka_t *rk;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    _Atomic uint64_t published, failed;
    _Atomic int leader;
};

typedef struct pending {
    unsigned long long id;
    int state; /* 0 waiting, 1 delivered, -1 failed */
} pending;

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    pending *p = m->_private;
    if (p)
        p->state = m->err ? -1 : 1;
}

/* Wait up to ms unless stopping; returns 1 when asked to stop. */
static int relay_sleep(tk_relay *r, int ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)(ms % 1000) * 1000000L;
    ts.tv_sec += ms / 1000 + ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_mutex_lock(&r->mu);
    if (!r->stop)
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    int stop = r->stop;
    pthread_mutex_unlock(&r->mu);
    return stop;
}

/* One round. Returns the number of rows published, or -1 on a DB error. */
static int relay_round(tk_relay *r, MYSQL *db)
{
    static const char sel[] = "SELECT id, topic, event_key, payload FROM outbox WHERE published_at IS NULL "
                              "ORDER BY id LIMIT 500";
    if (mysql_real_query(db, sel, sizeof sel - 1) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return -1;
    int n = (int)mysql_num_rows(res);
    if (n == 0) {
        mysql_free_result(res);
        return 0;
    }
    pending *p = calloc((size_t)n, sizeof *p);
    if (!p) {
        mysql_free_result(res);
        return -1;
    }
    MYSQL_ROW row;
    int produced = 0;
    for (int i = 0; (row = mysql_fetch_row(res)); i++) {
        unsigned long *len = mysql_fetch_lengths(res);
        p[i].id = strtoull(row[0], NULL, 10);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            r->rk, RD_KAFKA_V_TOPIC(row[1]), RD_KAFKA_V_KEY(row[2], len[2]),
            RD_KAFKA_V_VALUE(row[3], len[3]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&p[i]),
            RD_KAFKA_V_END);
        if (e) { /* queue full or the like: stop here, keep order */
            p[i].state = -1;
            break;
        }
        produced++;
    }
    mysql_free_result(res);
    rd_kafka_flush(r->rk, FLUSH_MS);
    /* Mark the acknowledged prefix only: a failure in the middle leaves
     * the rest for the next round, so per-key order is kept. */
    char *sql = malloc((size_t)n * 24 + 128);
    int marked = 0;
    if (sql) {
        size_t off = (size_t)sprintf(sql, "UPDATE outbox SET published_at = UTC_TIMESTAMP(3) WHERE id IN (");
        for (int i = 0; i < produced && p[i].state == 1; i++)
            off += (size_t)sprintf(sql + off, "%s%llu", marked++ ? "," : "", p[i].id);
        strcpy(sql + off, ")");
        if (marked && mysql_real_query(db, sql, strlen(sql)) != 0)
            marked = -1;
    }
    for (int i = 0; i < produced; i++)
        if (p[i].state != 1)
            atomic_fetch_add(&r->failed, 1);
    /* messages still queued after the flush time-out keep a pointer to p */
    if (rd_kafka_outq_len(r->rk) > 0)
        rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(r->rk, 1000);
    free(sql);
    free(p);
    if (marked > 0)
        atomic_fetch_add(&r->published, (uint64_t)marked);
    return marked;
}

static void *relay_main(void *arg)
{
    tk_relay *r = arg;
    MYSQL *db = NULL;
    char err[256];
    for (;;) {
        if (!db) {
            db = tk_db_connect(r->mysql_url, err, sizeof err);
            atomic_store(&r->leader, 0);
        }
        if (db && !atomic_load(&r->leader)) {
            long long got = 0;
            if (tk_db_query_i64(db, "SELECT GET_LOCK('tk_outbox_relay', 0)", &got, err, sizeof err) < 0) {
                mysql_close(db);
                db = NULL;
            } else {
                atomic_store(&r->leader, got == 1);
            }
        }
        int published = 0;
        if (db && atomic_load(&r->leader)) {
            published = relay_round(r, db);
            if (published < 0) { /* reconnect; the lock went with the session */
                mysql_close(db);
                db = NULL;
            }
        }
        if (published < BATCH && relay_sleep(r, published < 0 || !db ? 1000 : r->poll_ms))
            break;
    }
    if (db)
        mysql_close(db); /* releases the relay lock */
    return NULL;
}

tk_relay *tk_relay_start(const char *mysql_url, const char *brokers, int poll_ms, char *err, size_t errlen)
{
    char errstr[512];
    tk_relay *r = calloc(1, sizeof *r);
    if (!r) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(r->mysql_url, sizeof r->mysql_url, "%s", mysql_url);
    r->poll_ms = poll_ms > 0 ? poll_ms : 100;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "acks", "all", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "message.timeout.ms", "10000", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "client.id", "ticketctl-outbox-relay", errstr, sizeof errstr)) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!r->rk) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        snprintf(errstr, sizeof errstr, "cannot start the relay thread");
        goto fail;
    }
    return r;
fail:
    tk_err(err, errlen, "outbox relay: %s", errstr);
    if (r->rk)
        rd_kafka_destroy(r->rk);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
    return NULL;
}

void tk_relay_stop(tk_relay *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    rd_kafka_flush(r->rk, 2000);
    rd_kafka_destroy(r->rk);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r);
}

void tk_relay_get_stats(tk_relay *r, tk_relay_stats *out)
{
    out->published = atomic_load(&r->published);
    out->failed = atomic_load(&r->failed);
    out->leader = atomic_load(&r->leader);
}
