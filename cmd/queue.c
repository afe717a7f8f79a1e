/* ticketctl queue simulate: the waiting-room poller (lib/waitload.c) from
 * a script; parse, wire, print. */
#include "commands.h"
#include "opt.h"

#include <inttypes.h>
#include <jansson.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/waitload.h"

enum {
    OPT_TARGET = 256, OPT_SCHEDULE, OPT_WAITING, OPT_FIRST_USER, OPT_CONNECTIONS, OPT_RATE, OPT_SESSION, OPT_MAX_TIME,
    OPT_SECRET, OPT_STATE, OPT_REDIS, OPT_SERVER_PID, OPT_REDIS_PID, OPT_OUT, OPT_QUIET,
};

static const tk_opt simulate_rows[] = {
    {.id = OPT_TARGET, .name = "target", .type = TK_OPT_STR, .arg = "URL", .help = "http://127.0.0.1:PORT of the server"},
    {.id = OPT_SCHEDULE, .name = "schedule", .type = TK_OPT_INT, .arg = "ID", .min = 1, .max = INT64_MAX,
     .help = "the sale (schedule id)"},
    {.id = OPT_WAITING, .name = "waiting", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 50000000,
     .help = "users to simulate (<= 256 bytes each)"},
    {.id = OPT_FIRST_USER, .name = "first-user", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = INT64_MAX / 2,
     .help = "user ids N.. (default 1)"},
    {.id = OPT_CONNECTIONS, .name = "connections", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 4096,
     .help = "keep-alive connection pool (default 128)"},
    {.id = OPT_RATE, .name = "enqueue-rate", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000000,
     .help = "arrivals per second (default 5000)"},
    {.id = OPT_SESSION, .name = "session", .type = TK_OPT_DURATION, .arg = "DUR",
     .help = "an admitted user leaves after DUR (default 0)"},
    {.id = OPT_MAX_TIME, .name = "max-time", .type = TK_OPT_DURATION, .arg = "DUR", .min = 1000,
     .help = "stop after DUR whatever is left (default 10m)"},
    {.id = OPT_SECRET, .name = "jwt-secret-file", .type = TK_OPT_STR, .arg = "FILE",
     .help = "the server's HS256 key (default <state>/jwt.secret)"},
    {.id = OPT_STATE, .name = "state", .type = TK_OPT_STR, .arg = "DIR",
     .help = "the dev stack (for the key and the Redis sample)"},
    {.id = OPT_REDIS, .name = "redis", .type = TK_OPT_STR, .arg = "URL",
     .help = "sample the admitted set's size each second (redis:// or\nredis-cluster://h:p,h:p)"},
    {.id = OPT_SERVER_PID, .name = "server-pid", .type = TK_OPT_INT, .arg = "PID", .min = 1, .max = 1 << 22,
     .help = "CPU and RSS of the server"},
    {.id = OPT_REDIS_PID, .name = "redis-pid", .type = TK_OPT_INT, .arg = "PID", .min = 1, .max = 1 << 22,
     .help = "CPU and RSS of Redis"},
    {.id = OPT_OUT, .name = "out", .type = TK_OPT_STR, .arg = "FILE", .help = "results JSON"},
    {.id = OPT_QUIET, .name = "quiet", .type = TK_OPT_FLAG, .help = "no progress lines"},
    TK_OPT_ROW_END,
};

static const tk_optset simulate_set = {
    .cmd = "queue simulate",
    .synopsis = "queue simulate --target URL --schedule ID --waiting N [options]",
    .about = "Simulate N users waiting in the waiting room of schedule ID on a `serve --queue redis`:\n"
             "each takes a place, polls with its queue token alone at the server's poll_after_ms,\n"
             "and leaves once admitted (after --session). Users need not be seeded: their JWTs are\n"
             "minted with the server's key. Prints a summary; --out writes a results JSON.",
    .opts = simulate_rows,
    .epilog = "Exit: 0 everyone admitted, 1 not (stopped early or users lost), 2 usage.",
};

static const tk_optset *const queue_subs[] = {&simulate_set, NULL};

const tk_optset tk_optset_queue = {
    .cmd = "queue",
    .synopsis = "queue simulate --target URL --schedule ID --waiting N [options]",
    .about = "The waiting room from a script.",
    .opts = tk_opt_no_rows,
    .subs = queue_subs,
};

static unsigned char *read_key(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    unsigned char *k = malloc(n + 1);
    if (k) {
        memcpy(k, buf, n);
        *len = n;
    }
    return k;
}

/* The shared runner: resolve the key, Redis and (sale 0) the lowest
 * schedule id, run, print, write the results JSON. */
int queue_waiting_run(tk_waitload_config *cfg, const char *keyfile, const char *state, const char *redis,
                      const char *mysql, const char *outfile, const char *who)
{
    char err[512], path[1200];
    tk_backend b;
    if (!keyfile || !redis || !cfg->sale) { /* the dev stack's key, Redis and schedules */
        if (tk_backend_resolve_some(&b, TK_NEED_REDIS | (cfg->sale ? 0u : TK_NEED_MYSQL), mysql, redis, NULL, state, 0,
                                    err, sizeof err) != 0) {
            fprintf(stderr, "%s: %s\n", who, err);
            return 1;
        }
        if (!keyfile) {
            snprintf(path, sizeof path, "%s/jwt.secret", b.state_dir);
            keyfile = path;
        }
        if (!redis)
            redis = b.redis;
    }
    if (!cfg->sale) {
        MYSQL *db = tk_db_connect(b.mysql, err, sizeof err);
        MYSQL_RES *res = db && mysql_query(db, "SELECT MIN(id) FROM concert_schedules") == 0 ? mysql_store_result(db)
                                                                                              : NULL;
        MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
        if (row && row[0])
            cfg->sale = strtoull(row[0], NULL, 10);
        if (res)
            mysql_free_result(res);
        if (db)
            mysql_close(db);
        if (!cfg->sale) {
            fprintf(stderr, "%s: no schedule to wait for (seed first, or give one)\n", who);
            return 1;
        }
    }
    cfg->redis_url = redis;
    cfg->jwt_key = read_key(keyfile, &cfg->jwt_key_len);
    if (!cfg->jwt_key) {
        fprintf(stderr, "%s: cannot read the JWT key %s\n", who, keyfile);
        return 1;
    }
    tk_waitload_result r;
    int rc = tk_waitload_run(cfg, &r, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "%s: %s\n", who, err);
        free((void *)cfg->jwt_key);
        return 1;
    }
    printf("waiting room simulation: %" PRId64 " users, %.1f s, %zu bytes per user\n"
           "  enqueued %" PRId64 " (%.0f/s)  polls %" PRId64 " (%.0f/s, hints %" PRId64 "..%" PRId64 " ms)\n"
           "  admitted %" PRId64 " (%.0f/s)  left %" PRId64 "  fairness (Kendall) %.6f  max active %" PRId64
           " (%s)\n"
           "  errors: connect %" PRId64 ", status %" PRId64 ", parse %" PRId64 ", lost %" PRId64 "\n"
           "  CPU s: server %.1f, redis %.1f, loader %.1f   peak RSS MB: server %.0f, redis %.0f, loader %.0f\n",
           r.users, r.seconds, r.user_bytes, r.enqueued, r.enqueue_per_s, r.polls, r.polls_per_s,
           r.poll_after_ms_min, r.poll_after_ms_max, r.admitted, r.admitted_per_s, r.left, r.kendall_distance,
           r.max_active, r.max_active_from_redis ? "Redis ZCARD" : "client count", r.err_connect, r.err_status,
           r.err_parse, r.err_lost, r.server_cpu_s, r.redis_cpu_s, r.loader_cpu_s, r.server_rss_max_kb / 1024.0,
           r.redis_rss_max_kb / 1024.0, r.loader_rss_max_kb / 1024.0);
    if (outfile) {
        json_t *doc = json_pack("{s:i, s:s}", "schema", 1, "kind", "queue-waiting");
        char ts[32];
        time_t now = time(NULL);
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        json_object_set_new(doc, "finished_at", json_string(ts));
        double la[3] = {0};
        if (getloadavg(la, 3) > 0)
            json_object_set_new(doc, "loadavg", json_pack("[f,f,f]", la[0], la[1], la[2]));
        json_object_set_new(doc, "result", tk_waitload_result_json(cfg, &r));
        if (json_dump_file(doc, outfile, JSON_INDENT(2)) != 0)
            fprintf(stderr, "%s: cannot write %s\n", who, outfile);
        else
            printf("  -> %s\n", outfile);
        json_decref(doc);
    }
    free((void *)cfg->jwt_key);
    return rc == 0 ? 0 : 1;
}

static int simulate(int argc, char **argv)
{
    tk_waitload_config cfg;
    tk_waitload_config_default(&cfg);
    cfg.progress = 1;
    const char *keyfile = NULL, *state = NULL, *redis = NULL, *outfile = NULL;
    int c;
    tk_optparse p = {0};
    tk_optval v;
    while ((c = tk_opt_next(&p, &simulate_set, argc, argv, &v)) > 0) {
        switch (c) {
        case OPT_TARGET: cfg.target = v.str; break;
        case OPT_SCHEDULE: cfg.sale = (uint64_t)v.i; break;
        case OPT_WAITING: cfg.users = v.i; break;
        case OPT_FIRST_USER: cfg.first_user = (uint64_t)v.i; break;
        case OPT_CONNECTIONS: cfg.connections = (int)v.i; break;
        case OPT_RATE: cfg.enqueue_per_s = (double)v.i; break;
        case OPT_SESSION: cfg.session_ms = v.i; break;
        case OPT_MAX_TIME: cfg.max_seconds = v.i / 1000; break;
        case OPT_SECRET: keyfile = v.str; break;
        case OPT_STATE: state = v.str; break;
        case OPT_REDIS: redis = v.str; break;
        case OPT_SERVER_PID: cfg.server_pid = (pid_t)v.i; break;
        case OPT_REDIS_PID: cfg.redis_pid = (pid_t)v.i; break;
        case OPT_OUT: outfile = v.str; break;
        case OPT_QUIET: cfg.progress = 0; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind != argc)
        return tk_opt_error(&simulate_set, "unexpected argument '%s'", argv[optind]);
    if (!cfg.target || !cfg.sale || !cfg.users)
        return tk_opt_error(&simulate_set, "--target, --schedule and --waiting are required");
    return queue_waiting_run(&cfg, keyfile, state, redis, NULL, outfile, "queue simulate");
}

int cmd_queue(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "simulate"))
        return simulate(argc - 1, argv + 1);
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
        tk_opt_help(&tk_optset_queue, stdout);
        return 0;
    }
    if (argc < 2)
        return tk_opt_error(&tk_optset_queue, "which one: simulate?");
    return tk_opt_error(&tk_optset_queue, "unknown subcommand '%s' (simulate)", argv[1]);
}
