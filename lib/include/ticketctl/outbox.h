/* The outbox relay: publishes the events that reservation and payment
 * transactions wrote into the `outbox` table (migration 3, procedure
 * tk_emit) to Kafka, and marks them published.
 *
 * Guarantees: an event is written in the same transaction as its state
 * change, so it exists iff the change committed; the relay marks a row
 * published only after Kafka acknowledged it (acks=all, idempotent
 * producer), so with the broker down events wait in the table and drain
 * when it returns, across restarts of the server. Delivery is at least
 * once: a crash between the acknowledgement and the UPDATE re-sends a
 * batch, so consumers de-duplicate by the payload's event_id. One relay
 * publishes at a time across server instances (MariaDB GET_LOCK).
 *
 * A broker that loses acknowledged messages (the embedded one after kill
 * -9; a real cluster after an unclean leader election) is detected: each
 * published row records its partition and offset (migration 10), and when
 * a partition's end offset falls to or below the highest acknowledged one,
 * the rows from the end offset on are published again, as long as they are
 * retained. Published rows are kept for the retention (default 24 h), then
 * deleted. */
#ifndef TICKETCTL_OUTBOX_H
#define TICKETCTL_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

/* Topics the events go to; key = reservation id. */
#define TK_TOPIC_RESERVATIONS "ticketctl.reservations"
#define TK_TOPIC_PAYMENTS "ticketctl.payments"

typedef struct tk_relay tk_relay;

#define TK_OUTBOX_RETENTION_S (24 * 3600)

typedef struct tk_relay_stats {
    uint64_t published;   /* rows acknowledged by Kafka and marked */
    uint64_t failed;      /* deliveries that failed (retried later) */
    uint64_t republished; /* rows marked again after a broker lost them */
    uint64_t purged;      /* published rows deleted after the retention */
    uint64_t losses;      /* times a partition was found shorter than acknowledged */
    int64_t backlog;      /* unpublished events at the last sample (once a second, leader only) */
    int64_t oldest_age_ms; /* age of the oldest of them, 0 when none */
    int leader;           /* 1 while this relay holds the relay lock */
} tk_relay_stats;

typedef struct tk_relay_opts {
    int poll_ms;         /* idle poll of the outbox (default 100) */
    int64_t retention_s; /* keep published rows this long (default TK_OUTBOX_RETENTION_S) */
    int64_t check_ms;    /* compare end offsets with acknowledged ones this often (default 5,000) */
} tk_relay_opts;

/* Start the relay thread: MariaDB at mysql_url, Kafka bootstrap servers
 * `brokers`; polls every poll_ms (default 100 when 0). Returns NULL with a
 * message in err when the producer cannot be created. */
tk_relay *tk_relay_start(const char *mysql_url, const char *brokers, int poll_ms, char *err /* OUT */,
                         size_t errlen);

/* The same with options (NULL: defaults). */
tk_relay *tk_relay_start_opts(const char *mysql_url, const char *brokers, const tk_relay_opts *o,
                              char *err /* OUT */, size_t errlen);

/* Stop the thread (after its current batch, at most ~15 s) and free; NULL
 * is a no-op. */
void tk_relay_stop(tk_relay *r);

/* A snapshot of the counters (thread-safe). */
void tk_relay_get_stats(tk_relay *r, tk_relay_stats *out);

#endif
