/* Notifications: consume reservation and payment events from Kafka and
 * deliver each to a webhook (Slack-compatible JSON: {"text": ..., "event": {...}}).
 *
 * Consumer group with manually committed offsets: an offset is committed
 * only after its event was delivered (HTTP 2xx) or recognised as already
 * delivered, so a crash re-delivers rather than loses. Duplicates (the
 * outbox relay is at-least-once) are dropped by event id, remembered in
 * Redis for 7 days (key tk:notified:<event_id>). A failing webhook is
 * retried with exponential backoff (100 ms doubling, capped at 5 s). */
#ifndef TICKETCTL_NOTIFY_H
#define TICKETCTL_NOTIFY_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tk_notify_config {
    const char *brokers;   /* Kafka bootstrap servers */
    const char *redis_url; /* for de-duplication */
    const char *webhook;   /* http(s) URL */
    const char *group;     /* consumer group id (default "ticketctl-notify") */
    int max_attempts;      /* per event; 0 = retry until stopped */
    int64_t max_events;    /* stop after this many delivered; 0 = run until stopped */
    int64_t idle_exit_ms;  /* stop after this long without a message; 0 = never */
    volatile sig_atomic_t *stop; /* set to non-zero to stop (e.g. by a signal handler) */
    int verbose;                 /* also librdkafka's own log lines, and failed deliveries */
    int64_t connect_timeout_ms;  /* no broker answer at start within this: fail (0 = 10,000) */
} tk_notify_config;

typedef struct tk_notify_stats {
    uint64_t consumed, delivered, duplicates, retries, failed, skipped;
} tk_notify_stats;

/* Run until stopped, max_events or idle_exit_ms. The brokers must answer a
 * metadata request within connect_timeout_ms at start; later outages are
 * ridden out (librdkafka reconnects) and logged once each way as a JSON
 * state line on stderr (statelog.h). Returns 0, or -1 with a message in err
 * (no broker configuration, no broker answering at start, Redis
 * unreachable, an event undeliverable after max_attempts). */
int tk_notify_run(const tk_notify_config *cfg, tk_notify_stats *stats /* OUT */, char *err /* OUT */,
                  size_t errlen);

#endif
