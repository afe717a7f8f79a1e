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
 * publishes at a time across server instances (MariaDB GET_LOCK). */
#ifndef TICKETCTL_OUTBOX_H
#define TICKETCTL_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

/* Topics the events go to; key = reservation id. */
#define TK_TOPIC_RESERVATIONS "ticketctl.reservations"
#define TK_TOPIC_PAYMENTS "ticketctl.payments"

typedef struct tk_relay tk_relay;

typedef struct tk_relay_stats {
    uint64_t published;  /* rows acknowledged by Kafka and marked */
    uint64_t failed;     /* deliveries that failed (retried later) */
    int leader;          /* 1 while this relay holds the relay lock */
} tk_relay_stats;

/* Start the relay thread: MariaDB at mysql_url, Kafka bootstrap servers
 * `brokers`; polls every poll_ms (default 100 when 0). Returns NULL with a
 * message in err when the producer cannot be created. */
tk_relay *tk_relay_start(const char *mysql_url, const char *brokers, int poll_ms, char *err /* OUT */,
                         size_t errlen);

/* Stop the thread (after its current batch, at most ~15 s) and free; NULL
 * is a no-op. */
void tk_relay_stop(tk_relay *r);

/* A snapshot of the counters (thread-safe). */
void tk_relay_get_stats(tk_relay *r, tk_relay_stats *out);

#endif
