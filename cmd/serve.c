/* ticketctl serve: parse flags, resolve backends, run the server. */
#include "commands.h"
#include "opt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl serve [options]\n\n"
            "Run the reservation HTTP API (docs/API.md) on MariaDB + Redis.\n\n"
            "  --host ADDR            listen address (default 127.0.0.1)\n"
            "  --port N               listen port (default 8080; 0 = any free port)\n"
            "  --port-file FILE       write the bound port to FILE once listening\n"
            "  --loops N              event loops (default: one per CPU)\n"
            "  --workers N            database worker threads (default 1 per loop, at least 2)\n"
            "  --db-batch K           a worker that takes a payment, hold or charge also takes up to\n"
            "                         K-1 more of that kind already queued: one round trip, one\n"
            "                         commit, a savepoint each\n"
            "                         (default 1: one at a time; at most 32)\n"
            "  --hold-ttl SECONDS     how long a hold lasts before it expires (default 600)\n"
            "  --sweep-interval DUR   how often expired holds are freed (default 1s)\n"
            "  --cache-ttl DUR        response cache lifetime (default 5s)\n"
            "  --token-ttl SECONDS    access token lifetime (default 3600)\n"
            "  --strategy NAME        lock strategy of seat holds (default redis-atomic):\n"
            "                         optimistic, pessimistic, pessimistic-nowait,\n"
            "                         pessimistic-skip-locked, redis-lock, redis-atomic, db-unique\n"
            "                         (`ticketctl scenario strategies`; the database arbiter stays)\n"
            "  --allow-strategy-header  let a request pick the strategy by X-Lock-Strategy\n"
            "                         (for `bench --strategy`; off: such a request is a 400)\n"
            "  --queue none|redis|mysql  waiting room in front of hold and pay (default none);\n"
            "                         with one, hold and pay need an admitted X-Queue-Token\n"
            "  --new-users-per-minute M  admit at most M new users a minute to each schedule\n"
            "  --admit-rate N[/min]   or: N users a minute, all schedules together (split\n"
            "                         by queue length; default 6636)\n"
            "  --capacity-tps X --calls-per-user N --safety F\n"
            "                         or compute the rate: floor(X / N) * 60 * F (default N 7, F 0.7)\n"
            "  --active-users N       at most N admitted at once per schedule (default 1000;\n"
            "                         also --admitted-cap); a slot frees on pay, leave or timeout\n"
            "  --queueing fifo|random admit in arrival order (default) or draw uniformly among\n"
            "                         those waiting at each tick (redis)\n"
            "  --admitted-ttl DUR     an admission lasts DUR unless paid (default 10m)\n"
            "  --queue-tick DUR       admission period (default 1s)\n"
            "  --poll-max DUR         the longest poll_after_ms hint (default 10s; Cloudflare: 20s)\n"
            "  --pre-queue            shuffle who arrived before the sale opens, then FIFO (redis)\n"
            "  --opens-in DUR         the sale opens DUR after start (with --pre-queue; default 0)\n"
            "  --jwt-secret-file FILE HS256 key file (default: TICKETCTL_JWT_SECRET, else\n"
            "                         <state>/jwt.secret, created on first use)\n"
            "  --mysql URL --redis URL --kafka-brokers LIST --state DIR\n"
            "                         backends (default: the dev stack, started if needed)\n"
            "  --no-migrate           do not apply schema migrations at start\n"
            "  --no-relay             do not publish the outbox to Kafka from this process\n"
            "  --outbox-retention DUR keep published events this long (default 24h) so that a\n"
            "                         broker that loses its log gets them again\n"
            "  --fault-latency DUR    fault drill: SIGUSR1 adds DUR to every database-bound\n"
            "                         request, SIGUSR2 ends it (off unless given)\n"
            "  --request-timeout DUR  a request's deadline (default 2s): one still waiting for a\n"
            "                         worker then gets 503 BACKEND_UNAVAILABLE with Retry-After;\n"
            "                         MariaDB calls get read/write timeouts of about half of it\n"
            "                         and max_statement_time equal to it (unless the --mysql\n"
            "                         URL sets read-timeout/write-timeout/max-statement-time)\n"
            "  --access-log FILE|-    one JSON line per request (time, method, route, status, us,\n"
            "                         request_id, user_id) appended to FILE, or stdout\n"
            "  --quiet                no log lines\n"
            "  -h, --help\n");
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
    static const struct option opts[] = {
        {"host", required_argument, NULL, 'H'},       {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'P'},  {"loops", required_argument, NULL, 'l'},
        {"workers", required_argument, NULL, 'w'},    {"hold-ttl", required_argument, NULL, 't'},
        {"sweep-interval", required_argument, NULL, 's'}, {"cache-ttl", required_argument, NULL, 'c'},
        {"token-ttl", required_argument, NULL, 'T'},  {"jwt-secret-file", required_argument, NULL, 'j'},
        {"mysql", required_argument, NULL, 'm'},      {"redis", required_argument, NULL, 'r'},
        {"kafka-brokers", required_argument, NULL, 'k'}, {"state", required_argument, NULL, 'S'},
        {"no-migrate", no_argument, NULL, 'n'},       {"no-relay", no_argument, NULL, 'R'},
        {"fault-latency", required_argument, NULL, 'F'},       {"quiet", no_argument, NULL, 'q'},
        {"strategy", required_argument, NULL, 'y'},   {"allow-strategy-header", no_argument, NULL, 'Y'},
        {"queue", required_argument, NULL, 1000},     {"admit-rate", required_argument, NULL, 1001},
        {"capacity-tps", required_argument, NULL, 1002}, {"calls-per-user", required_argument, NULL, 1003},
        {"safety", required_argument, NULL, 1004},    {"admitted-cap", required_argument, NULL, 1005},
        {"admitted-ttl", required_argument, NULL, 1006}, {"queue-tick", required_argument, NULL, 1007},
        {"pre-queue", no_argument, NULL, 1008},       {"opens-in", required_argument, NULL, 1009},
        {"new-users-per-minute", required_argument, NULL, 1010}, {"active-users", required_argument, NULL, 1005},
        {"queueing", required_argument, NULL, 1011}, {"poll-max", required_argument, NULL, 1012},
        {"outbox-retention", required_argument, NULL, 1100},
        {"request-timeout", required_argument, NULL, 1101}, {"access-log", required_argument, NULL, 1102},
        {"db-batch", required_argument, NULL, 1103},
        {"help", no_argument, NULL, 'h'},             {NULL, 0, NULL, 0},
    };
    tk_server_config cfg = {.port = 8080};
    const char *mysql = NULL, *redis = NULL, *kafka = NULL, *state = NULL, *secret_file = NULL;
    int migrate = 1, c;
    int64_t v;
    /* waiting room (queue.h) */
    tk_queue_config_default(&cfg.queue);
    double capacity_tps = 0, calls_per_user = 7, safety = 0.7, d;
    int64_t opens_in_ms = 0;
    char *end;
    optind = 1;
    opterr = 0; /* one line of ours instead (tk_opt_getopt_hint) */
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': cfg.host = optarg; break;
        case 'p':
            if (tk_parse_i64(optarg, 0, 65535, &v)) goto bad;
            cfg.port = (int)v;
            break;
        case 'P': cfg.port_file = optarg; break;
        case 'l':
            if (tk_parse_i64(optarg, 1, 64, &v)) goto bad;
            cfg.loops = (int)v;
            break;
        case 'w':
            if (tk_parse_i64(optarg, 1, 512, &v)) goto bad;
            cfg.workers = (int)v;
            break;
        case 't':
            if (tk_parse_i64(optarg, 1, 86400, &v)) goto bad;
            cfg.hold_ttl_s = (int)v;
            break;
        case 's':
            if (tk_parse_duration_ms(optarg, &v) || v < 10 || v > 3600000) goto bad;
            cfg.sweep_interval_ms = (int)v;
            break;
        case 'c':
            if (tk_parse_duration_ms(optarg, &v) || v < 1 || v > 3600000) goto bad;
            cfg.cache_ttl_ms = (int)v;
            break;
        case 'T':
            if (tk_parse_i64(optarg, 1, 30 * 86400, &v)) goto bad;
            cfg.token_ttl_s = (int)v;
            break;
        case 'j': secret_file = optarg; break;
        case 'm': mysql = optarg; break;
        case 'r': redis = optarg; break;
        case 'k': kafka = optarg; break;
        case 'S': state = optarg; break;
        case 'n': migrate = 0; break;
        case 'R': cfg.no_relay = 1; break;
        case 1100:
            if (tk_parse_duration_ms(optarg, &v) || v < 1000) goto bad;
            cfg.outbox_retention_s = v / 1000;
            break;
        case 1101:
            if (tk_parse_duration_ms(optarg, &v) || v < 100 || v > 600000) goto bad;
            cfg.request_timeout_ms = (int)v;
            break;
        case 1102: cfg.access_log = optarg; break;
        case 1103:
            if (tk_parse_i64(optarg, 1, TK_DB_BATCH_MAX, &v)) goto bad;
            cfg.db_batch = (int)v;
            break;
        case 'F':
            if (tk_parse_duration_ms(optarg, &v) || v < 1 || v > 60000) goto bad;
            cfg.fault_latency_ms = (int)v;
            break;
        case 'q': cfg.quiet = 1; break;
        case 'y': {
            const char *why;
            if (!(cfg.strategy = tk_strategy_for_serve(optarg, &why))) {
                fprintf(stderr, "serve: --strategy %s: %s\n", optarg, why);
                return 2;
            }
            break;
        }
        case 'Y': cfg.strategy_header = 1; break;
        case 1000:
            if (tk_queue_kind_parse(optarg, &cfg.queue.kind)) goto bad;
            break;
        case 1001:
        case 1010:
            d = strtod(optarg, &end);
            if (end == optarg || (*end && strcmp(end, "/min")) || !(d > 0) || d > 1e9) goto bad;
            cfg.queue.admit_per_min = d;
            cfg.queue.rate_per_sale = c == 1010;
            break;
        case 1011:
            if (tk_queue_queueing_parse(optarg, &cfg.queue.queueing)) goto bad;
            break;
        case 1012:
            if (tk_parse_duration_ms(optarg, &v) || v < 100 || v > 600000) goto bad;
            cfg.queue.poll_max_ms = v;
            break;
        case 1002:
        case 1003:
        case 1004:
            d = strtod(optarg, &end);
            if (end == optarg || *end || !(d > 0) || d > 1e9 || (c == 1004 && d > 1)) goto bad;
            *(c == 1002 ? &capacity_tps : c == 1003 ? &calls_per_user : &safety) = d;
            break;
        case 1005:
            if (tk_parse_i64(optarg, 1, 10000000, &v)) goto bad;
            cfg.queue.admitted_cap = v;
            break;
        case 1006:
            if (tk_parse_duration_ms(optarg, &v) || v < 100 || v > 86400000) goto bad;
            cfg.queue.admitted_ttl_ms = v;
            break;
        case 1007:
            if (tk_parse_duration_ms(optarg, &v) || v < 10 || v > 60000) goto bad;
            cfg.queue.tick_ms = v;
            break;
        case 1008: cfg.queue.pre_queue = 1; break;
        case 1009:
            if (tk_parse_duration_ms(optarg, &v) || v < 0 || v > 86400000) goto bad;
            opens_in_ms = v;
            break;
        case 'h': usage(stdout); return 0;
        default: return tk_opt_getopt_hint("serve", opts, argv);
        }
    }
    if (optind != argc) {
        fprintf(stderr, "serve: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

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
bad:
    return tk_opt_getopt_bad("serve", opts, c, optarg);
}
