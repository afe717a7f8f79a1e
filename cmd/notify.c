/* ticketctl notify: reservation/payment events -> webhook. Thin: flags,
 * signals, lib/notify.c, a summary. */
#include "commands.h"

#include <getopt.h>
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

static void usage(FILE *out)
{
    fprintf(out, "usage: ticketctl notify --webhook URL [options]\n\n"
                 "Deliver reservation and payment events from Kafka to a webhook (Slack-compatible\n"
                 "JSON), at least once, de-duplicated by event id, offsets committed after delivery.\n\n"
                 "  --webhook URL        where to POST each event (required)\n"
                 "  --group ID           consumer group (default ticketctl-notify)\n"
                 "  --max-attempts N     give up on an event after N attempts (default 0: retry\n"
                 "                       with backoff until stopped)\n"
                 "  --max-events N       exit after N delivered events\n"
                 "  --idle-exit DUR      exit after DUR without a message\n"
                 "  --connect-timeout DUR  fail when no Kafka broker answers within DUR at start\n"
                 "                       (default 10s); later outages are waited out and logged\n"
                 "                       once each way as a JSON line on stderr\n"
                 "  --json               print the summary as JSON\n"
                 "  --verbose            log failed deliveries\n"
                 "  --kafka-brokers LIST --redis URL --state DIR\n"
                 "                       backends (default: the dev stack, started if needed)\n"
                 "  -h, --help\n");
}

int cmd_notify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"webhook", required_argument, NULL, 'w'},      {"group", required_argument, NULL, 'g'},
        {"max-attempts", required_argument, NULL, 'a'}, {"max-events", required_argument, NULL, 'n'},
        {"idle-exit", required_argument, NULL, 'i'},    {"json", no_argument, NULL, 'j'},
        {"connect-timeout", required_argument, NULL, 'c'},
        {"verbose", no_argument, NULL, 'v'},            {"kafka-brokers", required_argument, NULL, 'k'},
        {"redis", required_argument, NULL, 'r'},        {"state", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},               {NULL, 0, NULL, 0},
    };
    tk_notify_config cfg = {.stop = &stop_flag};
    const char *kafka = NULL, *redis = NULL, *state = NULL;
    int json = 0, c, li = -1;
    int64_t v;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, &li)) != -1) {
        switch (c) {
        case 'w': cfg.webhook = optarg; break;
        case 'g': cfg.group = optarg; break;
        case 'a':
            if (tk_parse_i64(optarg, 0, 1000000, &v)) goto bad;
            cfg.max_attempts = (int)v;
            break;
        case 'n':
            if (tk_parse_i64(optarg, 0, INT64_MAX, &v)) goto bad;
            cfg.max_events = v;
            break;
        case 'i':
            if (tk_parse_duration_ms(optarg, &v)) goto bad;
            cfg.idle_exit_ms = v;
            break;
        case 'c':
            if (tk_parse_duration_ms(optarg, &v) || v <= 0) goto bad;
            cfg.connect_timeout_ms = v;
            break;
        case 'j': json = 1; break;
        case 'v': cfg.verbose = 1; break;
        case 'k': kafka = optarg; break;
        case 'r': redis = optarg; break;
        case 's': state = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!cfg.webhook || optind != argc) {
        fprintf(stderr, "notify: %s\n", cfg.webhook ? "unexpected argument" : "--webhook URL is required");
        usage(stderr);
        return 2;
    }
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
bad:
    fprintf(stderr, "notify: --%s: bad value '%s' (see ticketctl notify --help)\n", li >= 0 ? opts[li].name : "?",
            optarg);
    return 2;
}
