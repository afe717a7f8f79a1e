/* ticketctl seed: parse flags, resolve backends, call tk_seed_run, print the summary. */
#include "commands.h"
#include "ticketctl/admin.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/seed.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

enum { OPT_USERS = 256, OPT_CONCERTS, OPT_SCHED, OPT_SEATS, OPT_SEED, OPT_RESET, OPT_JSON,
       OPT_METHOD, OPT_NO_PROGRESS, OPT_MYSQL, OPT_REDIS, OPT_KAFKA, OPT_STATE, OPT_SCHEDULES,
       OPT_RESERVATIONS, OPT_WITHOUT_INDEXES, OPT_SKIP_DISK_CHECK, OPT_SEAT_STREAMS, OPT_ADMIN_EMAIL,
       OPT_ADMIN_PASSWORD };

static const struct option longopts[] = {
    {"profile", required_argument, NULL, 'p'},
    {"users", required_argument, NULL, OPT_USERS},
    {"concerts", required_argument, NULL, OPT_CONCERTS},
    {"schedules-per-concert", required_argument, NULL, OPT_SCHED},
    {"seats-per-schedule", required_argument, NULL, OPT_SEATS},
    {"schedules", required_argument, NULL, OPT_SCHEDULES},
    {"reservations", required_argument, NULL, OPT_RESERVATIONS},
    {"without-indexes", no_argument, NULL, OPT_WITHOUT_INDEXES},
    {"skip-disk-check", no_argument, NULL, OPT_SKIP_DISK_CHECK},
    {"seat-streams", required_argument, NULL, OPT_SEAT_STREAMS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"reset", no_argument, NULL, OPT_RESET},
    {"admin-email", required_argument, NULL, OPT_ADMIN_EMAIL},
    {"admin-password", required_argument, NULL, OPT_ADMIN_PASSWORD},
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
            "Bulk-load users, concerts, schedules, seats, reservations, payments and point\n"
            "history, deterministically: the same --seed gives the same rows. Seeded users\n"
            "are user<N>@bench.ticketctl with the password 'bench-password'; with\n"
            "reservations, a user's points are what its seeded history leaves (rules: the\n"
            "header of lib/include/ticketctl/seed.h). Loads into empty tables; a re-run\n"
            "with the same options resumes an interrupted load (tables not marked complete\n"
            "in seed_state are reloaded from scratch).\n"
            "\n"
            "  --profile NAME              demo (default): 10,000 users, 500 concerts x 4\n"
            "                              schedules x 200 seats; ci: 2,000 users, 50 x 2 x 100;\n"
            "                              large: 1M users, 2M concerts, 3M schedules x 50\n"
            "                              seats = 150M seats, 2M reservations (DESIGN.md)\n"
            "  --users N                   override the profile's user count\n"
            "  --concerts N                override the concert count\n"
            "  --schedules N               total schedules, spread over the concerts\n"
            "  --schedules-per-concert N   schedules = concerts x N (when --schedules is not given)\n"
            "  --seats-per-schedule N      override the seats per schedule\n"
            "  --reservations N            reservations (0 = none; at most one per seat)\n"
            "  --without-indexes           leave only PRIMARY and UNIQUE keys: every non-unique\n"
            "                              secondary index is dropped (for the index tuner)\n"
            "  --skip-disk-check           do not compare the datadir's free space with the\n"
            "                              estimate of what the load needs\n"
            "  --seat-streams N            load seats as N id ranges at once, one connection\n"
            "                              each (default 1: two measured no faster here)\n"
            "  --seed S                    generator seed (default 1)\n"
            "  --reset                     truncate users, concerts, schedules, seats,\n"
            "                              reservations, payments, point history first\n"
            "  --admin-email E             the ADMIN account seed creates or resets (default\n"
            "                              " TK_ADMIN_EMAIL ")\n"
            "  --admin-password P          its password (default: a new random one, printed)\n"
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
    printf("  %-18s %12s %9s %12s %9s\n", "table", "rows", "seconds", "rows/s", "indexes s");
    for (int t = 0; t < TK_SEED_NTABLES; t++) {
        fmt_count(a, sizeof a, r->tables[t].rows);
        fmt_count(b, sizeof b, (unsigned long long)rate(r->tables[t].rows, r->tables[t].seconds));
        printf("  %-18s %12s %9.2f %12s %9.2f%s\n", r->tables[t].table, a, r->tables[t].seconds, b,
               r->tables[t].index_seconds, r->tables[t].kept ? "  (kept: complete from an earlier run)" : "");
    }
    fmt_count(a, sizeof a, r->total_rows);
    fmt_count(b, sizeof b, (unsigned long long)rate(r->total_rows, r->load_seconds));
    printf("  %-18s %12s %9.2f %12s  (tables in parallel, indexes included)\n", "load", a, r->load_seconds, b);
    printf("  analyze %.2f s, total %.2f s", r->analyze_seconds, r->total_seconds);
    if (r->disk_free)
        printf(", disk: ~%.1f GB needed, %.1f GB were free", (double)r->disk_needed / 1e9, (double)r->disk_free / 1e9);
    if (have_gen)
        printf(", cache generation %lld", gen);
    printf("\n");
}

static int print_json(const tk_seed_config *cfg, const tk_seed_result *r, int have_gen, long long gen)
{
    json_t *tables = json_array();
    for (int t = 0; t < TK_SEED_NTABLES; t++)
        json_array_append_new(tables, json_pack("{s:s, s:I, s:b, s:f, s:f, s:f}", "table", r->tables[t].table, "rows",
                                                (json_int_t)r->tables[t].rows, "kept", r->tables[t].kept,
                                                "index_seconds", r->tables[t].index_seconds,
                                                "seconds", r->tables[t].seconds,
                                                "rows_per_s", rate(r->tables[t].rows, r->tables[t].seconds)));
    uint64_t schedules = cfg->schedules ? cfg->schedules : cfg->concerts * cfg->schedules_per_concert;
    json_t *o = json_pack("{s:I, s:s, s:b, s:{s:I, s:I, s:I, s:i, s:I, s:b}, s:o, s:I, s:f, s:f, s:f, s:f}",
                          "seed", (json_int_t)cfg->seed, "method", r->method, "reset", r->reset_done,
                          "config", "users", (json_int_t)cfg->users, "concerts", (json_int_t)cfg->concerts,
                          "schedules", (json_int_t)schedules, "seats_per_schedule",
                          (int)cfg->seats_per_schedule, "reservations", (json_int_t)cfg->reservations,
                          "without_indexes", cfg->without_indexes, "tables", tables, "total_rows",
                          (json_int_t)r->total_rows, "load_seconds", r->load_seconds, "analyze_seconds",
                          r->analyze_seconds, "total_seconds", r->total_seconds, "rows_per_s",
                          rate(r->total_rows, r->load_seconds));
    if (!o)
        return -1;
    json_object_set_new(o, "cache_gen", have_gen ? json_integer(gen) : json_null());
    json_object_set_new(o, "disk_needed_bytes", json_integer((json_int_t)r->disk_needed));
    json_object_set_new(o, "disk_free_bytes", json_integer((json_int_t)r->disk_free));
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
    const char *admin_email = TK_ADMIN_EMAIL, *admin_password = NULL;
    int64_t users = 0, concerts = 0, sched = 0, seats = 0, seed = -1, schedules = 0, reservations = -1;
    int reset = 0, json = 0, progress = 1, without_indexes = 0, skip_disk = 0;
    int64_t seat_streams = 0;
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
        case OPT_SCHEDULES: if (parse_count("--schedules", optarg, 1000000000, &schedules)) return 2; break;
        case OPT_RESERVATIONS:
            if (tk_parse_i64(optarg, 0, 1000000000, &reservations) != 0) {
                fprintf(stderr, "seed: --reservations wants a whole number in 0..1000000000, got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_WITHOUT_INDEXES: without_indexes = 1; break;
        case OPT_SEAT_STREAMS: if (parse_count("--seat-streams", optarg, 16, &seat_streams)) return 2; break;
        case OPT_SKIP_DISK_CHECK: skip_disk = 1; break;
        case OPT_SEED:
            if (tk_parse_i64(optarg, 0, INT64_MAX, &seed) != 0) {
                fprintf(stderr, "seed: --seed wants a whole number >= 0, got '%s'\n", optarg);
                return 2;
            }
            break;
        case OPT_RESET: reset = 1; break;
        case OPT_ADMIN_EMAIL: admin_email = optarg; break;
        case OPT_ADMIN_PASSWORD: admin_password = optarg; break;
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
        fprintf(stderr, "seed: unknown profile '%s' (demo, ci or large)\n", profile);
        return 2;
    }
    if (users) cfg.users = (uint64_t)users;
    if (concerts) cfg.concerts = (uint64_t)concerts;
    if (sched) {
        cfg.schedules_per_concert = (uint32_t)sched;
        cfg.schedules = 0;
    }
    if (concerts && !sched && cfg.schedules)
        cfg.schedules = 0; /* a new concert count: schedules_per_concert x concerts */
    if (schedules) cfg.schedules = (uint64_t)schedules;
    if (reservations >= 0) cfg.reservations = (uint64_t)reservations;
    cfg.without_indexes = without_indexes;
    cfg.skip_disk_check = skip_disk;
    if (seat_streams) cfg.seat_streams = (uint32_t)seat_streams;
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
    char admin_pw[129];
    if (tk_admin_account_ensure(db, admin_email, admin_password, admin_pw, err, sizeof err) != 0) {
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
    fprintf(json ? stderr : stdout,
            "admin account: %s, password %s\n"
            "  log in: ticketctl admin login --email %s --password '%s'  (or POST /api/v1/auth/login)\n",
            admin_email, admin_pw, admin_email, admin_pw);
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
