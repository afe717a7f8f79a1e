/* ticketctl notify: reservation/payment events -> webhook. Thin: flags,
 * signals, lib/notify.c, a summary. */
#include "commands.h"
#include "opt.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/devstack.h"
#include "ticketctl/notify.h"

static volatile sig_atomic_t stop_flag;

static void on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

enum { OPT_GROUP = 256, OPT_MAX_ATTEMPTS, OPT_MAX_EVENTS, OPT_IDLE_EXIT, OPT_CONNECT_TIMEOUT, OPT_JSON, OPT_VERBOSE,
       OPT_KAFKA, OPT_REDIS, OPT_STATE };

static const tk_opt notify_rows[] = {
    {.id = 'w', .name = "webhook", .type = TK_OPT_STR, .arg = "URL", .help = "where to POST each event (required)"},
    {.id = OPT_GROUP, .name = "group", .type = TK_OPT_STR, .arg = "ID",
     .help = "consumer group (default ticketctl-notify)"},
    {.id = OPT_MAX_ATTEMPTS, .name = "max-attempts", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = 1000000,
     .help = "give up on an event after N attempts (default 0: retry\nwith backoff until stopped)"},
    {.id = OPT_MAX_EVENTS, .name = "max-events", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = INT64_MAX,
     .help = "exit after N delivered events"},
    {.id = OPT_IDLE_EXIT, .name = "idle-exit", .type = TK_OPT_DURATION, .arg = "DUR",
     .help = "exit after DUR without a message"},
    {.id = OPT_CONNECT_TIMEOUT, .name = "connect-timeout", .type = TK_OPT_DURATION, .arg = "DUR", .min = 1,
     .help = "fail when no Kafka broker answers within DUR at start\n(default 10s); later outages are waited out and "
             "logged\nonce each way as a JSON line on stderr"},
    {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG, .help = "print the summary as JSON"},
    {.id = OPT_VERBOSE, .name = "verbose", .type = TK_OPT_FLAG, .help = "log failed deliveries"},
    TK_OPT_ROW_KAFKA(OPT_KAFKA),
    TK_OPT_ROW_REDIS(OPT_REDIS),
    TK_OPT_ROW_STATE(OPT_STATE),
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_notify = {
    .cmd = "notify",
    .synopsis = "notify --webhook URL [options]",
    .about = "Deliver reservation and payment events from Kafka to a webhook (Slack-compatible\n"
             "JSON), at least once, de-duplicated by event id, offsets committed after delivery.",
    .opts = notify_rows,
};

int cmd_notify(int argc, char **argv)
{
    tk_notify_config cfg = {.stop = &stop_flag};
    const char *kafka = NULL, *redis = NULL, *state = NULL;
    int json = 0, c;
    tk_optparse p = {0};
    tk_optval v;
    while ((c = tk_opt_next(&p, &tk_optset_notify, argc, argv, &v)) > 0) {
        switch (c) {
        case 'w': cfg.webhook = v.str; break;
        case OPT_GROUP: cfg.group = v.str; break;
        case OPT_MAX_ATTEMPTS: cfg.max_attempts = (int)v.i; break;
        case OPT_MAX_EVENTS: cfg.max_events = v.i; break;
        case OPT_IDLE_EXIT: cfg.idle_exit_ms = v.i; break;
        case OPT_CONNECT_TIMEOUT: cfg.connect_timeout_ms = v.i; break;
        case OPT_JSON: json = 1; break;
        case OPT_VERBOSE: cfg.verbose = 1; break;
        case OPT_KAFKA: kafka = v.str; break;
        case OPT_REDIS: redis = v.str; break;
        case OPT_STATE: state = v.str; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (!cfg.webhook)
        return tk_opt_error(&tk_optset_notify, "--webhook URL is required");
    if (optind != argc)
        return tk_opt_error(&tk_optset_notify, "unexpected argument '%s'", argv[optind]);
    char err[512];
    tk_backend b;
    if (tk_backend_resolve_some(&b, TK_NEED_REDIS | TK_NEED_KAFKA, NULL, redis, kafka, state, 1, err, sizeof err)) {
        fprintf(stderr, "notify: %s\n", err);
        return 1;
    }
    cfg.brokers = b.kafka;
    cfg.redis_url = b.redis;
    signal(SIGTERM, on_stop);
    signal(SIGINT, on_stop);
    tk_notify_stats st;
    int rc = tk_notify_run(&cfg, &st, err, sizeof err);
    if (json)
        printf("{\"consumed\":%llu,\"delivered\":%llu,\"duplicates\":%llu,\"retries\":%llu,\"failed\":%llu,"
               "\"skipped\":%llu}\n",
               (unsigned long long)st.consumed, (unsigned long long)st.delivered,
               (unsigned long long)st.duplicates, (unsigned long long)st.retries, (unsigned long long)st.failed,
               (unsigned long long)st.skipped);
    else
        fprintf(stderr, "notify: consumed %llu, delivered %llu, duplicates %llu, retries %llu, failed %llu\n",
                (unsigned long long)st.consumed, (unsigned long long)st.delivered,
                (unsigned long long)st.duplicates, (unsigned long long)st.retries, (unsigned long long)st.failed);
    if (rc != 0) {
        fprintf(stderr, "notify: %s\n", err);
        return 1;
    }
    return 0;
}
