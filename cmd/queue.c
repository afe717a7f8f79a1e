/* ticketctl queue simulate: the waiting-room poller (lib/waitload.c) from
 * a script; parse, wire, print. */
#include "commands.h"
#include "opt.h"

#include <getopt.h>
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

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl queue simulate --target URL --schedule ID --waiting N [options]\n"
            "\n"
            "Simulate N users waiting in the waiting room of schedule ID on a `serve --queue redis`:\n"
            "each takes a place, polls with its queue token alone at the server's poll_after_ms,\n"
            "and leaves once admitted (after --session). Users need not be seeded: their JWTs are\n"
            "minted with the server's key. Prints a summary; --out writes a results JSON.\n"
            "\n"
            "  --target URL            http://127.0.0.1:PORT of the server\n"
            "  --schedule ID           the sale (schedule id)\n"
            "  --waiting N             users to simulate (<= 256 bytes each)\n"
            "  --first-user N          user ids N.. (default 1)\n"
            "  --connections N         keep-alive connection pool (default 128)\n"
            "  --enqueue-rate N        arrivals per second (default 5000)\n"
            "  --session DUR           an admitted user leaves after DUR (default 0)\n"
            "  --max-time DUR          stop after DUR whatever is left (default 10m)\n"
            "  --jwt-secret-file FILE  the server's HS256 key (default <state>/jwt.secret)\n"
            "  --state DIR             the dev stack (for the key and the Redis sample)\n"
            "  --redis URL             sample the admitted set's size each second (redis:// or\n"
            "                          redis-cluster://h:p,h:p)\n"
            "  --server-pid PID --redis-pid PID  CPU and RSS of the server and Redis\n"
            "  --out FILE              results JSON\n"
            "  --quiet                 no progress lines\n"
            "Exit: 0 everyone admitted, 1 not (stopped early or users lost), 2 usage.\n");
}

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
    static const struct option opts[] = {
        {"target", required_argument, NULL, 't'},       {"schedule", required_argument, NULL, 's'},
        {"waiting", required_argument, NULL, 'n'},      {"first-user", required_argument, NULL, 'f'},
        {"connections", required_argument, NULL, 'c'},  {"enqueue-rate", required_argument, NULL, 'e'},
        {"session", required_argument, NULL, 'S'},      {"max-time", required_argument, NULL, 'T'},
        {"jwt-secret-file", required_argument, NULL, 'j'}, {"state", required_argument, NULL, 'd'},
        {"redis", required_argument, NULL, 'r'},        {"server-pid", required_argument, NULL, 'P'},
        {"redis-pid", required_argument, NULL, 'R'},    {"out", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},              {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    tk_waitload_config cfg;
    tk_waitload_config_default(&cfg);
    cfg.progress = 1;
    const char *keyfile = NULL, *state = NULL, *redis = NULL, *outfile = NULL;
    int64_t v;
    int c;
    opterr = 0; /* one line of ours instead (tk_opt_getopt_hint) */
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't': cfg.target = optarg; break;
        case 's':
            if (tk_parse_i64(optarg, 1, INT64_MAX, &v)) goto bad;
            cfg.sale = (uint64_t)v;
            break;
        case 'n':
            if (tk_parse_i64(optarg, 1, 50000000, &v)) goto bad;
            cfg.users = v;
            break;
        case 'f':
            if (tk_parse_i64(optarg, 1, INT64_MAX / 2, &v)) goto bad;
            cfg.first_user = (uint64_t)v;
            break;
        case 'c':
            if (tk_parse_i64(optarg, 1, 4096, &v)) goto bad;
            cfg.connections = (int)v;
            break;
        case 'e':
            if (tk_parse_i64(optarg, 1, 10000000, &v)) goto bad;
            cfg.enqueue_per_s = (double)v;
            break;
        case 'S':
            if (tk_parse_duration_ms(optarg, &v) || v < 0) goto bad;
            cfg.session_ms = v;
            break;
        case 'T':
            if (tk_parse_duration_ms(optarg, &v) || v < 1000) goto bad;
            cfg.max_seconds = v / 1000;
            break;
        case 'j': keyfile = optarg; break;
        case 'd': state = optarg; break;
        case 'r': redis = optarg; break;
        case 'P':
            if (tk_parse_i64(optarg, 1, 1 << 22, &v)) goto bad;
            cfg.server_pid = (pid_t)v;
            break;
        case 'R':
            if (tk_parse_i64(optarg, 1, 1 << 22, &v)) goto bad;
            cfg.redis_pid = (pid_t)v;
            break;
        case 'o': outfile = optarg; break;
        case 'q': cfg.progress = 0; break;
        case 'h': usage(stdout); return 0;
        default: return tk_opt_getopt_hint("queue simulate", opts, argv);
        }
    }
    if (!cfg.target || !cfg.sale || !cfg.users) {
        fprintf(stderr, "queue simulate: --target, --schedule and --waiting are required\n");
        return 2;
    }
    return queue_waiting_run(&cfg, keyfile, state, redis, NULL, outfile, "queue simulate");
bad:
    return tk_opt_getopt_bad("queue simulate", opts, c, optarg);
}

int cmd_queue(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "simulate"))
        return simulate(argc - 1, argv + 1);
    usage(argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? stdout : stderr);
    return argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) ? 0 : 2;
}
