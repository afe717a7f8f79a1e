/* ticketctl seed: parse flags, resolve backends, call tk_seed_run, print the summary. */
#include "commands.h"
#include "opt.h"
#include "ticketctl/backend.h"
#include "ticketctl/common.h"
#include "ticketctl/db.h"
#include "ticketctl/seed.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

enum { OPT_USERS = 256, OPT_CONCERTS, OPT_SCHED, OPT_SEATS, OPT_SEED, OPT_RESET, OPT_JSON,
       OPT_METHOD, OPT_NO_PROGRESS, OPT_MYSQL, OPT_REDIS, OPT_KAFKA, OPT_STATE, OPT_SCHEDULES,
       OPT_RESERVATIONS, OPT_WITHOUT_INDEXES, OPT_SKIP_DISK_CHECK, OPT_SEAT_STREAMS };

static const tk_opt seed_rows[] = {
    {.id = 'p', .name = "profile", .short_name = 'p', .type = TK_OPT_CHOICE, .arg = "NAME", .choices = "demo|ci|large",
     .help = "demo (default): 10,000 users, 500 concerts x 4\nschedules x 200 seats; ci: 2,000 users, 50 x 2 x 100;\n"
             "large: 1M users, 2M concerts, 3M schedules x 50\nseats = 150M seats, 2M reservations (DESIGN.md)"},
    {.id = OPT_USERS, .name = "users", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 100000000,
     .help = "override the profile's user count"},
    {.id = OPT_CONCERTS, .name = "concerts", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000000,
     .help = "override the concert count"},
    {.id = OPT_SCHEDULES, .name = "schedules", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 1000000000,
     .help = "total schedules, spread over the concerts"},
    {.id = OPT_SCHED, .name = "schedules-per-concert", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 10000,
     .help = "schedules = concerts x N (when --schedules is not given)"},
    {.id = OPT_SEATS, .name = "seats-per-schedule", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 100000,
     .help = "override the seats per schedule"},
    {.id = OPT_RESERVATIONS, .name = "reservations", .type = TK_OPT_INT, .arg = "N", .min = 0, .max = 1000000000,
     .help = "reservations (0 = none; at most one per seat)"},
    {.id = OPT_WITHOUT_INDEXES, .name = "without-indexes", .type = TK_OPT_FLAG,
     .help = "leave only PRIMARY and UNIQUE keys: every non-unique\nsecondary index is dropped (for the index tuner)"},
    {.id = OPT_SKIP_DISK_CHECK, .name = "skip-disk-check", .type = TK_OPT_FLAG,
     .help = "do not compare the datadir's free space with the\nestimate of what the load needs"},
    {.id = OPT_SEAT_STREAMS, .name = "seat-streams", .type = TK_OPT_INT, .arg = "N", .min = 1, .max = 16,
     .help = "load seats as N id ranges at once, one connection\neach (default 1: two measured no faster here)"},
    {.id = OPT_SEED, .name = "seed", .type = TK_OPT_INT, .arg = "S", .min = 0, .max = INT64_MAX,
     .help = "generator seed (default 1)"},
    {.id = OPT_RESET, .name = "reset", .type = TK_OPT_FLAG,
     .help = "truncate users, concerts, schedules, seats,\nreservations, payments, point history first"},
    {.id = OPT_JSON, .name = "json", .type = TK_OPT_FLAG, .help = "print the summary as JSON on stdout"},
    {.id = OPT_METHOD, .name = "method", .type = TK_OPT_CHOICE, .choices = "auto|load|insert",
     .help = "LOAD DATA LOCAL (auto falls back to INSERT if the\nserver refuses it) or multi-row INSERT"},
    {.id = OPT_NO_PROGRESS, .name = "no-progress", .type = TK_OPT_FLAG, .help = "no progress bars on stderr"},
    TK_OPT_ROW_MYSQL(OPT_MYSQL),
    TK_OPT_ROW_REDIS(OPT_REDIS),
    TK_OPT_ROW_KAFKA(OPT_KAFKA),
    TK_OPT_ROW_STATE(OPT_STATE),
    TK_OPT_ROW_END,
};

const tk_optset tk_optset_seed = {
    .cmd = "seed",
    .synopsis = "seed [options]",
    .about = "Bulk-load users, concerts, schedules, seats, reservations, payments and point\n"
             "history, deterministically: the same --seed gives the same rows. Seeded users\n"
             "are user<N>@bench.ticketctl with the password 'bench-password'; with\n"
             "reservations, a user's points are what its seeded history leaves (rules: the\n"
             "header of lib/include/ticketctl/seed.h). Loads into empty tables; a re-run\n"
             "with the same options resumes an interrupted load (tables not marked complete\n"
             "in seed_state are reloaded from scratch).",
    .opts = seed_rows,
    .epilog = "After loading, INCR " TK_SEED_CACHE_GEN_KEY " in Redis tells servers their caches are stale.",
};

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

int cmd_seed(int argc, char **argv)
{
    const char *profile = "demo", *mysql = NULL, *redis = NULL, *kafka = NULL, *state = NULL;
    int64_t users = 0, concerts = 0, sched = 0, seats = 0, seed = -1, schedules = 0, reservations = -1;
    int reset = 0, json = 0, progress = 1, without_indexes = 0, skip_disk = 0;
    int64_t seat_streams = 0;
    tk_seed_method method = TK_SEED_AUTO;
    static const tk_seed_method methods[] = {TK_SEED_AUTO, TK_SEED_LOAD_DATA, TK_SEED_INSERT};
    tk_optparse p = {0};
    tk_optval v;
    int c;
    while ((c = tk_opt_next(&p, &tk_optset_seed, argc, argv, &v)) > 0) {
        switch (c) {
        case 'p': profile = v.str; break;
        case OPT_USERS: users = v.i; break;
        case OPT_CONCERTS: concerts = v.i; break;
        case OPT_SCHED: sched = v.i; break;
        case OPT_SEATS: seats = v.i; break;
        case OPT_SCHEDULES: schedules = v.i; break;
        case OPT_RESERVATIONS: reservations = v.i; break;
        case OPT_WITHOUT_INDEXES: without_indexes = 1; break;
        case OPT_SEAT_STREAMS: seat_streams = v.i; break;
        case OPT_SKIP_DISK_CHECK: skip_disk = 1; break;
        case OPT_SEED: seed = v.i; break;
        case OPT_RESET: reset = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_NO_PROGRESS: progress = 0; break;
        case OPT_METHOD: method = methods[v.i]; break;
        case OPT_MYSQL: mysql = v.str; break;
        case OPT_REDIS: redis = v.str; break;
        case OPT_KAFKA: kafka = v.str; break;
        case OPT_STATE: state = v.str; break;
        }
    }
    if (c != TK_OPT_END)
        return tk_opt_exit(c);
    if (optind < argc)
        return tk_opt_error(&tk_optset_seed, "unexpected argument '%s'", argv[optind]);

    tk_seed_config cfg;
    if (tk_seed_profile(profile, &cfg) != 0) {
        return tk_opt_error(&tk_optset_seed, "--profile: unknown profile '%s' (demo, ci or large)", profile);
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
