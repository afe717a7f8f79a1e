/* The outbox relay (see outbox.h): one thread, one MariaDB connection, one
 * idempotent librdkafka producer. Each round: take up to BATCH unpublished
 * rows in id order, produce them, wait for every delivery report, mark the
 * acknowledged ones published in one UPDATE, with the partition and offset
 * Kafka gave each, and raise the partition's acknowledged offset.
 *
 * Every check_ms the leader compares each partition's end offset (the high
 * watermark) with the highest offset Kafka acknowledged. An end offset at
 * or below it means the broker lost acknowledged messages; the rows it
 * lost (offset >= end, still within retention) are marked unpublished and
 * go out again in id order. Consumers de-duplicate by event_id, so an
 * event seen twice is harmless and an event lost is not possible while its
 * row is retained. Once a minute rows published longer ago than the
 * retention are deleted, in small batches. */
#include "ticketctl/outbox.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/statelog.h"

#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 500
#define FLUSH_MS 15000
#define STOP_FLUSH_MS 1000 /* at shutdown the producer gets this long, whatever the broker does */
#define PURGE_BATCH 5000
#define PURGE_EVERY_MS 60000

struct tk_relay {
    char mysql_url[512];
    int poll_ms;
    int64_t retention_s, check_ms;
    uint64_t next_check, next_purge;
    rd_kafka_t *rk;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    _Atomic int stopping; /* set by tk_relay_stop at once: a delivery wait then ends within STOP_FLUSH_MS */
    _Atomic uint64_t published, failed, republished, purged, losses;
    _Atomic int64_t backlog, oldest_age_ms;
    uint64_t next_backlog;
    _Atomic int leader;
    tk_statelog kafka_state; /* touched only by the relay thread (callbacks are served by its flush/poll) */
};

typedef struct pending {
    unsigned long long id;
    char topic[64];
    int32_t partition;
    int64_t offset;
    int state; /* 0 waiting, 1 delivered, -1 failed */
} pending;

/* librdkafka's own log lines are not printed (TICKETCTL_KAFKA_LOG=1 shows
 * them); the broker going away and coming back is one JSON state line each
 * (statelog.h). Called from librdkafka's threads: reads nothing mutable. */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    static int show = -1;
    if (show < 0) {
        const char *v = getenv("TICKETCTL_KAFKA_LOG");
        show = v && *v == '1';
    }
    if (show)
        fprintf(stderr, "outbox-relay: kafka %d %s: %s\n", level, fac, buf);
}

static void kafka_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)rk;
    tk_relay *r = opaque;
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
        e == RD_KAFKA_RESP_ERR__RESOLVE)
        tk_statelog_set(&r->kafka_state, stderr, 0, reason);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    pending *p = m->_private;
    if (!m->err)
        tk_statelog_set(&((tk_relay *)opaque)->kafka_state, stderr, 1, NULL);
    (void)rk;
    if (!p)
        return;
    p->state = m->err ? -1 : 1;
    p->partition = m->partition;
    p->offset = m->offset;
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

/* Append to a growing SQL string; -1 when out of memory. */
typedef struct sqlbuf {
    char *p;
    size_t len, cap;
} sqlbuf;

static int sb_add(sqlbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sb_add(sqlbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return 0;
        }
        size_t nc = (b->cap + (size_t)n) * 2 + 256;
        char *np = realloc(b->p, nc);
        if (!np)
            return -1;
        b->p = np;
        b->cap = nc;
    }
}

/* One JSON line on stderr when the broker lost acknowledged events. */
static void log_loss(const char *topic, int part, long long end, long long acked, long long rows);

/* Mark p[0..n) published with their partition and offset, and move each
 * partition's acknowledged offset, in one transaction. If a partition hands
 * out offsets at or below what it had already acknowledged, its log was cut
 * and is being written again from the first of those offsets (this relay
 * is the topics' only producer): every older row from that offset on was
 * lost and goes out again. Returns n, or -1. */
static int mark_published(tk_relay *r, MYSQL *db, const pending *p, int n)
{
    sqlbuf u = {0};
    int bad = sb_add(&u, "UPDATE outbox SET published_at = UTC_TIMESTAMP(3), kpartition = CASE id");
    for (int i = 0; i < n; i++)
        bad |= sb_add(&u, " WHEN %llu THEN %d", p[i].id, (int)p[i].partition);
    bad |= sb_add(&u, " END, koffset = CASE id");
    for (int i = 0; i < n; i++)
        bad |= sb_add(&u, " WHEN %llu THEN %lld", p[i].id, (long long)p[i].offset);
    bad |= sb_add(&u, " END WHERE id IN (");
    for (int i = 0; i < n; i++)
        bad |= sb_add(&u, "%s%llu", i ? "," : "", p[i].id);
    bad |= sb_add(&u, ")");
    if (bad || mysql_autocommit(db, 0) != 0) {
        free(u.p);
        return -1;
    }
    int ok = 1;
    for (int i = 0; i < n && ok; i++) {
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (p[j].partition == p[i].partition && !strcmp(p[j].topic, p[i].topic))
                first = 0;
        if (!first || p[i].offset < 0)
            continue;
        long long lo = p[i].offset, hi = p[i].offset;
        for (int j = i + 1; j < n; j++)
            if (p[j].partition == p[i].partition && !strcmp(p[j].topic, p[i].topic) && p[j].offset >= 0) {
                lo = p[j].offset < lo ? p[j].offset : lo;
                hi = p[j].offset > hi ? p[j].offset : hi;
            }
        char sql[512];
        long long acked = -1;
        snprintf(sql, sizeof sql,
                 "SELECT acked_offset FROM outbox_acked WHERE topic = '%s' AND kpartition = %d FOR UPDATE",
                 p[i].topic, (int)p[i].partition);
        MYSQL_RES *res = mysql_real_query(db, sql, strlen(sql)) == 0 ? mysql_store_result(db) : NULL;
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        if (row && row[0])
            acked = strtoll(row[0], NULL, 10);
        if (res)
            mysql_free_result(res);
        else
            ok = 0;
        if (ok && acked >= lo) {
            /* The log was cut at some offset <= lo, not necessarily at lo:
             * when the first acks from the new log could not be recorded
             * (MariaDB stalled right after the broker came back), those
             * rows went out again at higher offsets, and lo is past the
             * cut. Every row marked at an offset below lo is from before
             * the cut (a recorded ack in the new log would have been
             * detected there), so all retained rows of the partition go
             * out again: a few duplicates at worst, which consumers drop by
             * event_id (found by itest_drills: broker kill -9, then
             * mariadbd SIGSTOP). */
            sqlbuf x = {0};
            bad = sb_add(&x, "UPDATE outbox SET published_at = NULL, kpartition = NULL, koffset = NULL "
                             "WHERE topic = '%s' AND kpartition = %d AND koffset >= 0 AND published_at >= "
                             "UTC_TIMESTAMP(3) - INTERVAL %lld SECOND AND id NOT IN (",
                         p[i].topic, (int)p[i].partition, (long long)r->retention_s);
            for (int j = 0; j < n; j++)
                bad |= sb_add(&x, "%s%llu", j ? "," : "", p[j].id);
            bad |= sb_add(&x, ")");
            if (bad || mysql_real_query(db, x.p, x.len) != 0) {
                ok = 0;
            } else {
                long long k = (long long)mysql_affected_rows(db);
                log_loss(p[i].topic, (int)p[i].partition, lo, acked, k);
                atomic_fetch_add(&r->losses, 1);
                atomic_fetch_add(&r->republished, (uint64_t)k);
            }
            free(x.p);
        }
        snprintf(sql, sizeof sql,
                 "INSERT INTO outbox_acked (topic, kpartition, acked_offset) VALUES ('%s', %d, %lld) "
                 "ON DUPLICATE KEY UPDATE acked_offset = %s",
                 p[i].topic, (int)p[i].partition, hi, acked >= lo ? "VALUES(acked_offset)"
                                                                  : "GREATEST(acked_offset, VALUES(acked_offset))");
        if (ok && mysql_real_query(db, sql, strlen(sql)) != 0)
            ok = 0;
    }
    int rc = -1;
    if (ok && mysql_real_query(db, u.p, u.len) == 0 && mysql_commit(db) == 0)
        rc = n;
    else
        mysql_rollback(db);
    mysql_autocommit(db, 1);
    free(u.p);
    return rc;
}

/* One JSON line on stderr when the broker lost acknowledged events. */
static void log_loss(const char *topic, int part, long long end, long long acked, long long rows)
{
    fprintf(stderr,
            "{\"component\":\"outbox-relay\",\"event\":\"broker lost acknowledged events\",\"topic\":\"%s\","
            "\"partition\":%d,\"end_offset\":%lld,\"acked_offset\":%lld,\"republishing\":%lld}\n",
            topic, part, end, acked, rows);
}

/* Compare every partition's end offset with what Kafka acknowledged; when
 * it fell below, mark every retained row of the partition unpublished, not
 * only those at or above the new end: a broker that lost its whole log and
 * has taken new events since (the embedded one after kill -9) holds other
 * events at our old offsets below that end, and nothing here tells the two
 * cases apart without reading the log. The cost after a real broker's
 * unclean election, which loses only a tail, is re-sending the retention's
 * rows of that partition; consumers de-dup by event_id. Returns rows marked for re-publishing, or -1
 * on a DB error. A broker that does not answer is skipped: that is an
 * outage, not a loss. */
static long long check_losses(tk_relay *r, MYSQL *db)
{
    static const char sel[] = "SELECT topic, kpartition, acked_offset FROM outbox_acked";
    if (mysql_real_query(db, sel, sizeof sel - 1) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(db);
    if (!res)
        return -1;
    long long total = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(res))) {
        const char *topic = row[0];
        int part = atoi(row[1]);
        long long acked = strtoll(row[2], NULL, 10);
        int64_t lo = 0, hi = 0;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(r->rk, topic, part, &lo, &hi, 2000);
        if (e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || e == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION ||
            e == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
            hi = 0, e = RD_KAFKA_RESP_ERR_NO_ERROR; /* the broker knows nothing of it: the whole log is gone */
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR || hi > acked)
            continue;
        char sql[512];
        snprintf(sql, sizeof sql,
                 "UPDATE outbox SET published_at = NULL, kpartition = NULL, koffset = NULL WHERE topic = '%s' AND "
                 "kpartition = %d AND koffset >= 0 AND published_at >= UTC_TIMESTAMP(3) - INTERVAL %lld SECOND",
                 topic, part, (long long)r->retention_s);
        if (mysql_real_query(db, sql, strlen(sql)) != 0) {
            mysql_free_result(res);
            return -1;
        }
        long long n = (long long)mysql_affected_rows(db);
        snprintf(sql, sizeof sql, "UPDATE outbox_acked SET acked_offset = %lld WHERE topic = '%s' AND kpartition = %d",
                 (long long)hi - 1, topic, part);
        if (mysql_real_query(db, sql, strlen(sql)) != 0) {
            mysql_free_result(res);
            return -1;
        }
        log_loss(topic, part, (long long)hi, acked, n);
        atomic_fetch_add(&r->losses, 1);
        atomic_fetch_add(&r->republished, (uint64_t)n);
        total += n;
    }
    mysql_free_result(res);
    return total;
}

/* Delete rows published longer ago than the retention, PURGE_BATCH at a
 * time, at most 20 batches per call. Returns rows deleted, or -1. */
static long long purge_retained(tk_relay *r, MYSQL *db)
{
    char sql[256];
    snprintf(sql, sizeof sql,
             "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < UTC_TIMESTAMP(3) - INTERVAL %lld "
             "SECOND ORDER BY published_at LIMIT %d",
             (long long)r->retention_s, PURGE_BATCH);
    long long total = 0;
    for (int i = 0; i < 20; i++) {
        if (mysql_real_query(db, sql, strlen(sql)) != 0)
            return -1;
        long long n = (long long)mysql_affected_rows(db);
        total += n;
        if (n < PURGE_BATCH)
            break;
    }
    atomic_fetch_add(&r->purged, (uint64_t)total);
    return total;
}

/* How many events wait and how old the oldest is, for /metrics. */
static int sample_backlog(tk_relay *r, MYSQL *db)
{
    static const char q[] = "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), UTC_TIMESTAMP(3)), 0)"
                            " FROM outbox WHERE published_at IS NULL";
    if (mysql_real_query(db, q, sizeof q - 1) != 0)
        return -1;
    MYSQL_RES *res = mysql_store_result(db);
    MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
    if (row && row[0] && row[1]) {
        atomic_store(&r->backlog, strtoll(row[0], NULL, 10));
        long long us = strtoll(row[1], NULL, 10);
        atomic_store(&r->oldest_age_ms, us > 0 ? us / 1000 : 0);
    }
    if (res)
        mysql_free_result(res);
    return res ? 0 : -1;
}

/* One round. Returns the number of rows published, or -1 on a DB error. */
static int relay_round(tk_relay *r, MYSQL *db)
{
    /* The request id (migration 14) goes as the header x-request-id and
     * as the event's "request_id" field, added here so the procedures'
     * payloads stay as they are. */
    static const char sel[] = "SELECT id, topic, event_key,"
                              " IF(request_id IS NULL, payload, JSON_SET(payload, '$.request_id', request_id)),"
                              " request_id FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 500";
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
        snprintf(p[i].topic, sizeof p[i].topic, "%s", row[1]);
        p[i].offset = -1;
        rd_kafka_headers_t *hdrs = NULL;
        if (row[4] && len[4]) {
            hdrs = rd_kafka_headers_new(1);
            rd_kafka_header_add(hdrs, "x-request-id", -1, row[4], (ssize_t)len[4]);
        }
        rd_kafka_resp_err_t e = rd_kafka_producev(
            r->rk, RD_KAFKA_V_TOPIC(row[1]), RD_KAFKA_V_KEY(row[2], len[2]),
            RD_KAFKA_V_VALUE(row[3], len[3]), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&p[i]),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
        if (e && hdrs) /* the headers are the message's only once it is queued */
            rd_kafka_headers_destroy(hdrs);
        if (e) { /* queue full or the like: stop here, keep order */
            p[i].state = -1;
            break;
        }
        produced++;
    }
    mysql_free_result(res);
    /* Wait for the deliveries in slices, so that a stop does not wait the
     * whole FLUSH_MS for an unreachable broker: what is not acknowledged
     * stays unpublished in the outbox and goes out after the restart. */
    {
        uint64_t t0 = tk_mono_us(), stop_at = 0;
        while (rd_kafka_outq_len(r->rk) > 0 && tk_mono_us() - t0 < FLUSH_MS * 1000ULL) {
            if (atomic_load(&r->stopping)) {
                if (!stop_at)
                    stop_at = tk_mono_us() + STOP_FLUSH_MS * 1000ULL;
                else if (tk_mono_us() > stop_at)
                    break;
            }
            rd_kafka_flush(r->rk, 50);
        }
    }
    /* Mark the acknowledged prefix only: a failure in the middle leaves
     * the rest for the next round, so per-key order is kept. Each row gets
     * the partition and offset Kafka acknowledged it at. */
    int ack = 0;
    while (ack < produced && p[ack].state == 1)
        ack++;
    int marked = ack ? mark_published(r, db, p, ack) : 0;    for (int i = 0; i < produced; i++)
        if (p[i].state != 1)
            atomic_fetch_add(&r->failed, 1);
    /* messages still queued after the flush time-out keep a pointer to p */
    if (rd_kafka_outq_len(r->rk) > 0)
        rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(r->rk, atomic_load(&r->stopping) ? 100 : 1000);
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
            uint64_t now = tk_mono_ms();
            if (now >= r->next_check) {
                r->next_check = now + (uint64_t)r->check_ms;
                if (check_losses(r, db) < 0)
                    published = -1;
            }
            if (published >= 0 && now >= r->next_backlog) {
                r->next_backlog = now + 1000;
                if (sample_backlog(r, db) < 0)
                    published = -1;
            }
            if (published >= 0 && now >= r->next_purge) {
                r->next_purge = now + PURGE_EVERY_MS;
                if (purge_retained(r, db) < 0)
                    published = -1;
            }
        }
        if (db && atomic_load(&r->leader) && published >= 0) {
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
    tk_relay_opts o = {.poll_ms = poll_ms};
    return tk_relay_start_opts(mysql_url, brokers, &o, err, errlen);
}

tk_relay *tk_relay_start_opts(const char *mysql_url, const char *brokers, const tk_relay_opts *o, char *err,
                              size_t errlen)
{
    static const tk_relay_opts defaults = {0};
    if (!o)
        o = &defaults;
    char errstr[512];
    tk_relay *r = calloc(1, sizeof *r);
    if (!r) {
        tk_err(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(r->mysql_url, sizeof r->mysql_url, "%s", mysql_url);
    r->poll_ms = o->poll_ms > 0 ? o->poll_ms : 100;
    r->retention_s = o->retention_s > 0 ? o->retention_s : TK_OUTBOX_RETENTION_S;
    r->check_ms = o->check_ms > 0 ? o->check_ms : 5000;
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
    r->kafka_state = (tk_statelog){.component = "outbox-relay", .backend = "kafka"};
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_conf_set_log_cb(conf, kafka_log);
    rd_kafka_conf_set_error_cb(conf, kafka_error);
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
    atomic_store(&r->stopping, 1);
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(r->thread, NULL);
    /* the relay thread already waited for its last batch (at most
     * STOP_FLUSH_MS after the stop); unacknowledged rows stay in the outbox */
    rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(r->rk, 100);
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
    out->republished = atomic_load(&r->republished);
    out->purged = atomic_load(&r->purged);
    out->losses = atomic_load(&r->losses);
    out->backlog = atomic_load(&r->backlog);
    out->oldest_age_ms = atomic_load(&r->oldest_age_ms);
}
