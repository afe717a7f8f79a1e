/* ticketctl serve: parse flags, resolve backends, run the server. */
#include "commands.h"
#include "opt.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "server.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/storebatch.h"
#include "ticketctl/strategy.h"

enum {
    OPT_HOST = 256, OPT_PORT, OPT_PORT_FILE, OPT_LOOPS, OPT_WORKERS, OPT_HOLD_TTL, OPT_SWEEP, OPT_CACHE_TTL,
    OPT_TOKEN_TTL, OPT_STRATEGY, OPT_STRATEGY_HEADER, OPT_QUEUE, OPT_NEW_PER_MIN, OPT_ADMIT_RATE, OPT_CAPACITY,
    OPT_CALLS, OPT_SAFETY, OPT_ACTIVE, OPT_ADMITTED_CAP, OPT_QUEUEING, OPT_ADMITTED_TTL, OPT_TICK, OPT_POLL_MAX,
    OPT_PRE_QUEUE, OPT_OPENS_IN, OPT_SECRET, OPT_MYSQL, OPT_REDIS, OPT_KAFKA, OPT_STATE, OPT_NO_MIGRATE,
    OPT_NO_RELAY, OPT_RETENTION, OPT_FAULT, OPT_REQ_TIMEOUT, OPT_ACCESS_LOG, OPT_QUIET, OPT_DB_BATCH,
};

static const tk_opt serve_rows[] = {
    {.id = OPT_HOST, .name = "host", .type = TK_OPT_STR, .arg = "ADDR", .help = "listen address (default 127.0.0.1)"},
    {.id = OPT_PORT, .name = "port", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = 65535,
     .help = "listen port (default 8080; 0 = any free port)"},
    {.id = OPT_PORT_FILE, .name = "port-file", .type = TK_OPT_STR, .arg = "FILE",
     .help = "write the bound port to FILE once listening"},
    {.id = OPT_LOOPS, .name = "loops", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 64,
     .help = "event loops (default: one per CPU)"},
    {.id = OPT_WORKERS, .name = "workers", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 512,
     .help = "database worker threads (default 1 per loop, at least 2)"},
    {.id = OPT_DB_BATCH, .name = "db-batch", .type = TK_OPT_INT, .arg = "K", .min = 1, .max = TK_DB_BATCH_MAX,
     .help = "a worker that takes a payment, hold or charge also takes up\nto K-1 more of that kind already queued: one round trip,\n"
             "one commit, a savepoint each (default 16; 1: one at a time;\nat most 32)"},
    {.id = OPT_HOLD_TTL, .name = "hold-ttl", .type = TK_OPT_INT, .arg = "SECONDS", .min = 1, .max = 86400,
     .help = "how long a hold lasts before it expires (default 600)"},
    {.id = OPT_SWEEP, .name = "sweep-interval", .type = TK_OPT_DURATION, .arg = "DUR", .min = 10,
     .help = "how often expired holds are freed (default 1s; at most 1h)"},
    {.id = OPT_CACHE_TTL, .name = "cache-ttl", .type = TK_OPT_DURATION, .arg = "DUR", .min = 1,
     .help = "response cache lifetime (default 5s; at most 1h)"},
    {.id = OPT_TOKEN_TTL, .name = "token-ttl", .type = TK_OPT_INT, .arg = "SECONDS", .min = 1, .max = 30 * 86400,
     .help = "access token lifetime (default 3600)"},
    {.id = OPT_STRATEGY, .name = "strategy", .type = TK_OPT_STR, .arg = "NAME",
     .help = "lock strategy of seat holds (default redis-atomic):\noptimistic, pessimistic, pessimistic-nowait,\n"
             "pessimistic-skip-locked, redis-lock, redis-atomic, db-unique\n(`ticketctl scenario strategies`; the "
             "database arbiter stays)"},
    {.id = OPT_STRATEGY_HEADER, .name = "allow-strategy-header", .type = TK_OPT_FLAG,
     .help = "let a request pick the strategy by X-Lock-Strategy\n(for `bench --strategy`; off: such a request is a "
             "400)"},
    {.id = OPT_QUEUE, .name = "queue", .type = TK_OPT_CHOICE, .choices = "none|redis|mysql", .group = "waiting room:",
     .help = "waiting room in front of hold and pay (default none);\nwith one, hold and pay need an admitted "
             "X-Queue-Token"},
    {.id = OPT_NEW_PER_MIN, .name = "new-users-per-minute", .type = TK_OPT_STR, .arg = "M",
     .help = "admit at most M new users a minute to each schedule"},
    {.id = OPT_ADMIT_RATE, .name = "admit-rate", .type = TK_OPT_STR, .arg = "N[/min]",
     .help = "or: N users a minute, all schedules together (split\nby queue length; default 6636)"},
    {.id = OPT_CAPACITY, .name = "capacity-tps", .type = TK_OPT_REAL, .arg = "X", .lo = 0, .lo_open = 1, .hi = 1e9,
     .help = "or compute the rate: floor(X / N) * 60 * F, with N\n--calls-per-user and F --safety"},
    {.id = OPT_CALLS, .name = "calls-per-user", .type = TK_OPT_REAL, .arg = "N", .lo = 0, .lo_open = 1, .hi = 1e9,
     .help = "API calls one user makes (default 7)"},
    {.id = OPT_SAFETY, .name = "safety", .type = TK_OPT_REAL, .arg = "F", .lo = 0, .lo_open = 1, .hi = 1,
     .help = "the share of the capacity to admit (default 0.7)"},
    {.id = OPT_ACTIVE, .name = "active-users", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000000,
     .help = "at most N admitted at once per schedule (default 1000);\na slot frees on pay, leave or timeout"},
    {.id = OPT_ADMITTED_CAP, .name = "admitted-cap", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000000,
     .help = "the same as --active-users"},
    {.id = OPT_QUEUEING, .name = "queueing", .type = TK_OPT_CHOICE, .choices = "fifo|random",
     .help = "admit in arrival order (default) or draw uniformly among\nthose waiting at each tick (redis)"},
    {.id = OPT_ADMITTED_TTL, .name = "admitted-ttl", .type = TK_OPT_DURATION, .arg = "DUR", .min = 100,
     .help = "an admission lasts DUR unless paid (default 10m; at most\n24h)"},
    {.id = OPT_TICK, .name = "queue-tick", .type = TK_OPT_DURATION, .arg = "DUR", .min = 10,
     .help = "admission period (default 1s; at most 1m)"},
    {.id = OPT_POLL_MAX, .name = "poll-max", .type = TK_OPT_DURATION, .arg = "DUR", .min = 100,
     .help = "the longest poll_after_ms hint (default 10s; Cloudflare:\n20s; at most 10m)"},
    {.id = OPT_PRE_QUEUE, .name = "pre-queue", .type = TK_OPT_FLAG,
     .help = "shuffle who arrived before the sale opens, then FIFO\n(redis)"},
    {.id = OPT_OPENS_IN, .name = "opens-in", .type = TK_OPT_DURATION, .arg = "DUR",
     .help = "the sale opens DUR after start (with --pre-queue; default\n0; at most 24h)"},
    {.id = OPT_SECRET, .name = "jwt-secret-file", .type = TK_OPT_STR, .arg = "FILE", .group = "backends:",
     .help = "HS256 key file (default: TICKETCTL_JWT_SECRET, else\n<state>/jwt.secret, created on first use)"},
    TK_OPT_ROW_MYSQL(OPT_MYSQL),
    TK_OPT_ROW_REDIS(OPT_REDIS),
    TK_OPT_ROW_KAFKA(OPT_KAFKA),
    TK_OPT_ROW_STATE(OPT_STATE),
    {.id = OPT_NO_MIGRATE, .name = "no-migrate", .type = TK_OPT_FLAG, .help = "do not apply schema migrations at start"},
    {.id = OPT_NO_RELAY, .name = "no-relay", .type = TK_OPT_FLAG,
     .help = "do not publish the outbox to Kafka from this process"},
    {.id = OPT_RETENTION, .name = "outbox-retention", .type = TK_OPT_DURATION, .arg = "DUR", .min = 1000,
     .help = "keep published events this long (default 24h) so that a\nbroker that loses its log gets them again"},
    {.id = OPT_FAULT, .name = "fault-latency", .type = TK_OPT_DURATION, .arg = "DUR", .min = 1,
     .help = "fault drill: SIGUSR1 adds DUR to every database-bound\nrequest, SIGUSR2 ends it (off unless given; at "
             "most 1m)"},
    {.id = OPT_REQ_TIMEOUT, .name = "request-timeout", .type = TK_OPT_DURATION, .arg = "DUR", .min = 100,
     .help = "a request's deadline (default 2s; 100ms to 10m): one still\nwaiting for a worker then gets 503 "
             "BACKEND_UNAVAILABLE\nwith Retry-After; MariaDB calls get read/write timeouts of\nabout half of it and "
             "max_statement_time equal to it\n(unless the --mysql URL sets read-timeout/write-timeout/\n"
             "max-statement-time)"},
    {.id = OPT_ACCESS_LOG, .name = "access-log", .type = TK_OPT_STR, .arg = "FILE|-",
     .help = "one JSON line per request (time, method, route, status,\nus, request_id, user_id) appended to FILE, or "
             "stdout"},
    {.id = OPT_QUIET, .name = "quiet", .type = TK_OPT_FLAG, .help = "no log lines"},
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_serve = {
    .cmd = "serve",
    .synopsis = "serve [options]",
    .about = "Run the reservation HTTP API (docs/API.md) on MariaDB + Redis.",
    .opts = serve_rows,
    .epilog = "DUR is like 250ms, 60s, 2m or plain milliseconds.",
};

/* A duration flag's upper bound (the table holds the lower one). */
static int at_most(const tk_opt *rows, int id, const tk_optval *v, int64_t max_ms)
{
    if (v->i <= max_ms)
        return 0;
    const char *name = "?";
    for (const tk_opt *o = rows; o->name; o++)
        if (o->id == id)
            name = o->name;
    return tk_opt_error(&tk_optset_serve, "--%s: %s is longer than %lld ms", name, v->str, (long long)max_ms);
}

/* Load or create the HS256 key: 32 random bytes, hex in a 0600 file. */
static int load_secret(const char *path, unsigned char *key, size_t *keylen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char hex[129] = "";
    if (f) {
        if (!fgets(hex, sizeof hex, f))
            hex[0] = '\0';
        fclose(f);
        hex[strcspn(hex, "\r\n")] = '\0';
    } else if (errno == ENOENT) {
        unsigned char raw[32];
        randombytes_buf(raw, sizeof raw);
        sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd < 0)
            return tk_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
        dprintf(fd, "%s\n", hex);
        close(fd);
    } else {
        return tk_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
    }
    if (strlen(hex) < 32)
        return tk_err(err, errlen, "%s: the key must be at least 32 hex characters", path);
    memcpy(key, hex, strlen(hex));
    *keylen = strlen(hex);
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    tk_server_config cfg = {.port = 8080, .db_batch = 16}; /* 16: the capacity runs' knee, README */
    const char *mysql = NULL, *redis = NULL, *kafka = NULL, *state = NULL, *secret_file = NULL;
    int migrate = 1, c;
    /* waiting room (queue.h) */
    tk_queue_config_default(&cfg.queue);
    double capacity_tps = 0, calls_per_user = 7, safety = 0.7, d;
    int64_t opens_in_ms = 0;
    char *end;
    static const int64_t max_ms[][2] = {{OPT_SWEEP, 3600000},      {OPT_CACHE_TTL, 3600000},
                                        {OPT_RETENTION, INT64_MAX}, {OPT_REQ_TIMEOUT, 600000},
                                        {OPT_FAULT, 60000},        {OPT_POLL_MAX, 600000},
                                        {OPT_ADMITTED_TTL, 86400000}, {OPT_TICK, 60000},
                                        {OPT_OPENS_IN, 86400000}};
    tk_optparse p = {0};
    tk_optval v;
    while ((c = tk_opt_next(&p, &tk_optset_serve, argc, argv, &v)) > 0) {
        for (size_t i = 0; i < sizeof max_ms / sizeof max_ms[0]; i++)
            if (max_ms[i][0] == c && at_most(serve_rows, c, &v, max_ms[i][1]))
                return 2;
        switch (c) {
        case OPT_HOST: cfg.host = v.str; break;
        case OPT_PORT: cfg.port = (int)v.i; break;
        case OPT_PORT_FILE: cfg.port_file = v.str; break;
        case OPT_LOOPS: cfg.loops = (int)v.i; break;
        case OPT_WORKERS: cfg.workers = (int)v.i; break;
        case OPT_DB_BATCH: cfg.db_batch = (int)v.i; break;
        case OPT_HOLD_TTL: cfg.hold_ttl_s = (int)v.i; break;
        case OPT_SWEEP: cfg.sweep_interval_ms = (int)v.i; break;
        case OPT_CACHE_TTL: cfg.cache_ttl_ms = (int)v.i; break;
        case OPT_TOKEN_TTL: cfg.token_ttl_s = (int)v.i; break;
        case OPT_SECRET: secret_file = v.str; break;
        case OPT_MYSQL: mysql = v.str; break;
        case OPT_REDIS: redis = v.str; break;
        case OPT_KAFKA: kafka = v.str; break;
        case OPT_STATE: state = v.str; break;
        case OPT_NO_MIGRATE: migrate = 0; break;
        case OPT_NO_RELAY: cfg.no_relay = 1; break;
        case OPT_RETENTION: cfg.outbox_retention_s = v.i / 1000; break;
        case OPT_REQ_TIMEOUT: cfg.request_timeout_ms = (int)v.i; break;
        case OPT_ACCESS_LOG: cfg.access_log = v.str; break;
        case OPT_FAULT: cfg.fault_latency_ms = (int)v.i; break;
        case OPT_QUIET: cfg.quiet = 1; break;
        case OPT_STRATEGY: {
            const char *why;
            if (!(cfg.strategy = tk_strategy_for_serve(v.str, &why)))
                return tk_opt_error(&tk_optset_serve, "--strategy: \"%s\": %s", v.str, why);
            break;
        }
        case OPT_STRATEGY_HEADER: cfg.strategy_header = 1; break;
        case OPT_QUEUE:
            if (tk_queue_kind_parse(v.str, &cfg.queue.kind))
                return tk_opt_error(&tk_optset_serve, "--queue: \"%s\" is not valid", v.str);
            break;
        case OPT_ADMIT_RATE:
        case OPT_NEW_PER_MIN:
            d = strtod(v.str, &end);
            if (end == v.str || (*end && strcmp(end, "/min")) || !(d > 0) || d > 1e9)
                return tk_opt_error(&tk_optset_serve, "--%s: \"%s\" is not a rate (N or N/min, 0 < N <= 1e9)",
                                    c == OPT_ADMIT_RATE ? "admit-rate" : "new-users-per-minute", v.str);
            cfg.queue.admit_per_min = d;
            cfg.queue.rate_per_sale = c == OPT_NEW_PER_MIN;
            break;
        case OPT_QUEUEING:
            if (tk_queue_queueing_parse(v.str, &cfg.queue.queueing))
                return tk_opt_error(&tk_optset_serve, "--queueing: \"%s\" is not valid", v.str);
            break;
        case OPT_POLL_MAX: cfg.queue.poll_max_ms = v.i; break;
        case OPT_CAPACITY: capacity_tps = v.d; break;
        case OPT_CALLS: calls_per_user = v.d; break;
        case OPT_SAFETY: safety = v.d; break;
        case OPT_ACTIVE:
        case OPT_ADMITTED_CAP: cfg.queue.admitted_cap = v.i; break;
        case OPT_ADMITTED_TTL: cfg.queue.admitted_ttl_ms = v.i; break;
        case OPT_TICK: cfg.queue.tick_ms = v.i; break;
        case OPT_PRE_QUEUE: cfg.queue.pre_queue = 1; break;
        case OPT_OPENS_IN: opens_in_ms = v.i; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc)
        return tk_opt_error(&tk_optset_serve, "unexpected argument '%s'", argv[optind]);

    if (capacity_tps > 0) /* the rate from a measured capacity (queue.h) */
        cfg.queue.admit_per_min = tk_queue_rate_from_capacity(capacity_tps, calls_per_user, safety);
    cfg.queue.open_at_ms = tk_wall_ms() + opens_in_ms;

    char err[512];
    tk_backend b;
    if (tk_backend_resolve(&b, mysql, redis, kafka, state, 1, err, sizeof err) != 0) {
        fprintf(stderr, "serve: %s\n", err);
        return 1;
    }
    if (migrate) {
        MYSQL *db = tk_db_connect(b.mysql, err, sizeof err);
        if (!db || tk_db_migrate(db, err, sizeof err) < 0) {
            fprintf(stderr, "serve: %s\n", err);
            if (db)
                mysql_close(db);
            return 1;
        }
        mysql_close(db);
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "serve: libsodium failed to initialise\n");
        return 1;
    }
    unsigned char key[128];
    size_t keylen = 0;
    const char *env_secret = getenv("TICKETCTL_JWT_SECRET");
    if (!secret_file && env_secret && *env_secret) {
        if (strlen(env_secret) < 32 || strlen(env_secret) > sizeof key) {
            fprintf(stderr, "serve: TICKETCTL_JWT_SECRET must be 32 to 128 characters\n");
            return 1;
        }
        keylen = strlen(env_secret);
        memcpy(key, env_secret, keylen);
    } else {
        char path[1024];
        if (secret_file)
            snprintf(path, sizeof path, "%s", secret_file);
        else {
            mkdir(b.state_dir, 0700);
            snprintf(path, sizeof path, "%s/jwt.secret", b.state_dir);
        }
        if (load_secret(path, key, &keylen, err, sizeof err) != 0) {
            fprintf(stderr, "serve: %s\n", err);
            return 1;
        }
    }
    if (!cfg.strategy)
        cfg.strategy = tk_strategy_find("redis-atomic");
    {
        /* A stalled MariaDB fails a call (and a reconnect: a SIGSTOPped
         * server still completes the TCP handshake) instead of hanging its
         * worker: client read/write/connect timeouts of about half the
         * deadline (whole seconds; Connector/C retries a read once,
         * backend.c), and the server aborts any statement (a lock wait
         * too) past the deadline itself (max_statement_time, 1969 ->
         * 503 BACKEND_UNAVAILABLE). Each one only when the URL has none. */
        int deadline_ms = cfg.request_timeout_ms > 0 ? cfg.request_timeout_ms : 2000;
        int to_s = deadline_ms / 2000;
        to_s = to_s < 1 ? 1 : to_s;
        static const char *const keys[] = {"read-timeout", "write-timeout", "connect-timeout", "max-statement-time"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            char key[32];
            snprintf(key, sizeof key, "%s=", keys[i]);
            if (strstr(b.mysql, key))
                continue;
            size_t used = strlen(b.mysql);
            if (i == 3)
                snprintf(b.mysql + used, sizeof b.mysql - used, "%s%s%dms", strchr(b.mysql, '?') ? "&" : "?", key,
                         deadline_ms);
            else
                snprintf(b.mysql + used, sizeof b.mysql - used, "%s%s%d", strchr(b.mysql, '?') ? "&" : "?", key,
                         to_s);
        }
    }
    cfg.mysql_url = b.mysql;
    cfg.redis_url = b.redis;
    cfg.kafka_brokers = b.kafka[0] ? b.kafka : NULL;
#if defined(__SANITIZE_THREAD__)
    /* TSan builds (-DTK_TSAN=ON): librdkafka's broker threads crash inside the
     * TSan runtime (getaddrinfo -> realloc), so a TSan serve runs without the
     * outbox relay and the metrics producer; the events stay in the outbox. */
    if (cfg.kafka_brokers && !cfg.quiet)
        fprintf(stderr, "serve: ThreadSanitizer build: Kafka left out (no relay, no metrics records)\n");
    cfg.kafka_brokers = NULL;
#endif
    cfg.jwt_key = key;
    cfg.jwt_key_len = keylen;
    int rc = tk_server_run(&cfg, err, sizeof err);
    sodium_memzero(key, sizeof key);
    if (rc != 0) {
        fprintf(stderr, "serve: %s\n", err);
        return 1;
    }
    return 0;
}
