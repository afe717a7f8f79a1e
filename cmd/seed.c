/* ticketctl seed: parse flags, resolve backends, call tk_seed_run, print the summary. */
#include "commands.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/seed.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

enum { OPT_USERS = 256, OPT_CONCERTS, OPT_SCHED, OPT_SEATS, OPT_SEED, OPT_RESET, OPT_JSON,
       OPT_METHOD, OPT_NO_PROGRESS, OPT_MYSQL, OPT_REDIS, OPT_KAFKA, OPT_STATE };

static const struct option longopts[] = {
    {"profile", required_argument, NULL, 'p'},
    {"users", required_argument, NULL, OPT_USERS},
    {"concerts", required_argument, NULL, OPT_CONCERTS},
    {"schedules-per-concert", required_argument, NULL, OPT_SCHED},
    {"seats-per-schedule", required_argument, NULL, OPT_SEATS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"reset", no_argument, NULL, OPT_RESET},
    {"json", no_argument, NULL, OPT_JSON},
    {"method", required_argument, NULL, OPT_METHOD},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"mysql", required_argument, NULL, OPT_MYSQL},
    {"redis", required_argument, NULL, OPT_REDIS},
    {"kafka-brokers", required_argument, NULL, OPT_KAFKA},
    {"state", required_argument, NULL, OPT_STATE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ticketctl seed [options]\n"
            "\n"
            "Bulk-load users, concerts, schedules and seats, deterministically: the same\n"
            "--seed gives the same rows. Seeded users are user<N>@bench.ticketctl with the\n"
            "password 'bench-password' and 0 points. Loads into empty tables only.\n"
            "\n"
            "  --profile NAME              demo (default): 10,000 users, 500 concerts x 4\n"
            "                              schedules x 200 seats; ci: 2,000 users, 50 x 2 x 100\n"
            "  --users N                   override the profile's user count\n"
            "  --concerts N                override the concert count\n"
            "  --schedules-per-concert N   override the schedules per concert\n"
            "  --seats-per-schedule N      override the seats per schedule\n"
            "  --seed S                    generator seed (default 1)\n"
            "  --reset                     truncate users, concerts, schedules, seats,\n"
            "                              reservations, payments, point history first\n"
            "  --json                      print the summary as JSON on stdout\n"
            "  --method auto|load|insert   LOAD DATA LOCAL (auto falls back to INSERT if the\n"
            "                              server refuses it) or multi-row INSERT\n"
            "  --no-progress               no progress bars on stderr\n"
            "  --mysql URL --redis URL --kafka-brokers LIST --state DIR\n"
            "                              backends (default: env, then the dev stack,\n"
            "                              started if needed)\n"
            "  -h, --help                  this help\n"
            "\n"
            "After loading, INCR %s in Redis tells servers their caches are stale.\n",
            TK_SEED_CACHE_GEN_KEY);
}

static void fmt_count(char *dst, size_t cap, unsigned long long v)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "%llu", v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            dst[o++] = ',';
        dst[o++] = raw[i];
    }
    dst[o] = '\0';
}

static double rate(unsigned long long rows, double s) { return s > 0 ? (double)rows / s : 0.0; }

static void print_text(const tk_seed_config *cfg, const tk_seed_result *r, int have_gen, long long gen)
{
    char a[32], b[32];
    printf("seeded %s%s (seed %llu):\n", r->method, r->reset_done ? " after reset" : "",
           (unsigned long long)cfg->seed);
    printf("  %-18s %12s %9s %12s\n", "table", "rows", "seconds", "rows/s");
    for (int t = 0; t < TK_SEED_NTABLES; t++) {
        fmt_count(a, sizeof a, r->tables[t].rows);
        fmt_count(b, sizeof b, (unsigned long long)rate(r->tables[t].rows, r->tables[t].seconds));
        printf("  %-18s %12s %9.2f %12s\n", r->tables[t].table, a, r->tables[t].seconds, b);
    }
    fmt_count(a, sizeof a, r->total_rows);
    fmt_count(b, sizeof b, (unsigned long long)rate(r->total_rows, r->load_seconds));
    printf("  %-18s %12s %9.2f %12s  (tables in parallel)\n", "load", a, r->load_seconds, b);
    printf("  analyze %.2f s, total %.2f s", r->analyze_seconds, r->total_seconds);
    if (have_gen)
        printf(", cache generation %lld", gen);
    printf("\n");
}

static int print_json(const tk_seed_config *cfg, const tk_seed_result *r, int have_gen, long long gen)
{
    json_t *tables = json_array();
    for (int t = 0; t < TK_SEED_NTABLES; t++)
        json_array_append_new(tables, json_pack("{s:s, s:I, s:f, s:f}", "table", r->tables[t].table, "rows",
                                                (json_int_t)r->tables[t].rows, "seconds", r->tables[t].seconds,
                                                "rows_per_s", rate(r->tables[t].rows, r->tables[t].seconds)));
    json_t *o = json_pack("{s:I, s:s, s:b, s:{s:I, s:I, s:i, s:i}, s:o, s:I, s:f, s:f, s:f, s:f}",
                          "seed", (json_int_t)cfg->seed, "method", r->method, "reset", r->reset_done,
                          "config", "users", (json_int_t)cfg->users, "concerts", (json_int_t)cfg->concerts,
                          "schedules_per_concert", (int)cfg->schedules_per_concert, "seats_per_schedule",
                          (int)cfg->seats_per_schedule, "tables", tables, "total_rows",
                          (json_int_t)r->total_rows, "load_seconds", r->load_seconds, "analyze_seconds",
                          r->analyze_seconds, "total_seconds", r->total_seconds, "rows_per_s",
                          rate(r->total_rows, r->load_seconds));
    if (!o)
        return -1;
    json_object_set_new(o, "cache_gen", have_gen ? json_integer(gen) : json_null());
    json_dumpf(o, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(6));
    fputc('\n', stdout);
    json_decref(o);
    return 0;
}

static int parse_count(const char *flag, const char *s, int64_t max, int64_t *out)
{
    if (tk_parse_i64(s, 1, max, out) == 0)
        return 0;
    fprintf(stderr, "seed: %s wants a whole number in 1..%lld, got '%s'\n", flag, (long long)max, s);
    return -1;
}

int cmd_seed(int argc, char **argv)
{
    const char *profile = "demo", *mysql = NULL, *redis = NULL, *kafka = NULL, *state = NULL;
    int64_t users = 0, concerts = 0, sched = 0, seats = 0, seed = -1;
    int reset = 0, json = 0, progress = 1;
    tk_seed_method method = TK_SEED_AUTO;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'p': profile = optarg; break;
        case OPT_USERS: if (parse_count("--users", optarg, 100000000, &users)) return 2; break;
        case OPT_CONCERTS: if (parse_count("--concerts", optarg, 10000000, &concerts)) return 2; break;
        case OPT_SCHED: if (parse_count("--schedules-per-concert", optarg, 10000, &sched)) return 2; break;
        case OPT_SEATS: if (parse_count("--seats-per-schedule", optarg, 100000, &seats)) return 2; break;
        case OPT_SEED:
            if (tk_parse_i64(optarg, 0, INT64_MAX, &seed) != 0) {
                fprintf(stderr, "seed: --seed wants a whole number >= 0, got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_RESET: reset = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_NO_PROGRESS: progress = 0; break;
        case OPT_METHOD:
            if (!strcmp(optarg, "auto"))
                method = TK_SEED_AUTO;
            else if (!strcmp(optarg, "load"))
                method = TK_SEED_LOAD_DATA;
            else if (!strcmp(optarg, "insert"))
                method = TK_SEED_INSERT;
            else {
                fprintf(stderr, "seed: --method is auto, load or insert, not '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_MYSQL: mysql = optarg; break;
        case OPT_REDIS: redis = optarg; break;
        case OPT_KAFKA: kafka = optarg; break;
        case OPT_STATE: state = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "seed: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }

    tk_seed_config cfg;
    if (tk_seed_profile(profile, &cfg) != 0) {
        fprintf(stderr, "seed: unknown profile '%s' (demo or ci)\n", profile);
        return 2;
    }
    if (users) cfg.users = (uint64_t)users;
    if (concerts) cfg.concerts = (uint64_t)concerts;
    if (sched) cfg.schedules_per_concert = (uint32_t)sched;
    if (seats) cfg.seats_per_schedule = (uint32_t)seats;
    if (seed >= 0) cfg.seed = (uint64_t)seed;
    cfg.reset = reset;
    cfg.method = method;
    cfg.progress = progress;

    char err[1024];
    tk_backend b;
    if (tk_backend_resolve(&b, mysql, redis, kafka, state, 1, err, sizeof err) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        return 1;
    }
    MYSQL *db = tk_db_connect(b.mysql, err, sizeof err);
    if (!db) {
        fprintf(stderr, "seed: %s\n", err);
        return 1;
    }
    int rc = 1;
    tk_seed_result r;
    if (tk_db_migrate(db, err, sizeof err) < 0 || tk_seed_run(db, b.mysql, &cfg, &r, err, sizeof err) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        goto out;
    }
    long long gen = 0;
    int have_gen = 0, gen_failed = 0;
    if (b.redis[0]) {
        if (tk_seed_bump_cache_gen(b.redis, &gen, err, sizeof err) == 0)
            have_gen = 1;
        else
            gen_failed = 1;
    }
    if (json)
        print_json(&cfg, &r, have_gen, gen);
    else
        print_text(&cfg, &r, have_gen, gen);
    if (gen_failed) {
        fflush(stdout);
        fprintf(stderr,
                "seed: data loaded, but running servers may serve stale caches: %s\n"
                "seed: run 'INCR %s' in Redis or restart the servers\n",
                err, TK_SEED_CACHE_GEN_KEY);
        goto out;
    }
    rc = 0;
out:
    mysql_close(db);
    return rc;
}
