/* Deterministic bulk load of load-test data: users, concerts, schedules, seats.
 *
 * The same seed gives the same rows (ids, names, titles, venues, times,
 * seat layout, grades, prices); row N depends only on (seed, table, N), so
 * the tables can be generated in any order and in parallel. Times are laid
 * out relative to `base_ms` (default: today 00:00 UTC), so sales have
 * opened and shows lie ahead whenever the data are loaded.
 *
 * Every seeded user (id 1..users) has e-mail user<N>@bench.ticketctl, the
 * password "bench-password" (one argon2id hash at libsodium's MIN limits,
 * shared by all seeded users so logins during a bench stay cheap), 0 points
 * and role USER. Seats: sections A, B, ... of 10 rows of 20 seats, front to
 * back; grade by row band over the schedule (first 10% of rows VIP 150,000,
 * next 20% R 120,000, next 30% S 90,000, the rest A 60,000 points), all
 * AVAILABLE.
 *
 * Loading: each table is streamed on its own connection and thread with
 * LOAD DATA LOCAL INFILE from a generator callback (no temp file), unique
 * and foreign-key checks off for the session, ids explicit; then ANALYZE
 * TABLE. Falls back to multi-row INSERT when the server refuses LOCAL INFILE. */
#ifndef TICKETCTL_SEED_H
#define TICKETCTL_SEED_H

#include <stddef.h>
#include <stdint.h>
#include <mysql.h>

/* Password of every seeded account (docs/API.md). */
#define TK_SEED_PASSWORD "bench-password"
/* Redis key the server keys its caches by; seed INCRs it when done. */
#define TK_SEED_CACHE_GEN_KEY "tk:cache:gen"

typedef enum tk_seed_method {
    TK_SEED_AUTO = 0,  /* LOAD DATA LOCAL, INSERT if the server refuses it */
    TK_SEED_LOAD_DATA, /* LOAD DATA LOCAL INFILE from a generator callback */
    TK_SEED_INSERT,    /* multi-row INSERT statements of ~1 MiB */
} tk_seed_method;

typedef struct tk_seed_config {
    uint64_t users;                /* user ids 1..users */
    uint64_t concerts;             /* concert ids 1..concerts */
    uint32_t schedules_per_concert;
    uint32_t seats_per_schedule;
    uint64_t seed;                 /* same seed -> same rows */
    int reset;                     /* TRUNCATE the domain tables first */
    tk_seed_method method;
    int progress;                  /* draw progress bars on stderr */
    int64_t base_ms;               /* time anchor, ms since epoch; 0 = today 00:00 UTC */
} tk_seed_config;

/* Fill *cfg with a named profile: "demo" (10,000 users, 500 concerts x 4
 * schedules x 200 seats = 400,000 seats) or "ci" (2,000 users, 50 x 2 x
 * 100). seed 1, no reset, AUTO method, progress on. Returns 0, or -1 for
 * an unknown name. */
int tk_seed_profile(const char *name, tk_seed_config *cfg /* OUT */);

/* Tables seed writes, in the order of tk_seed_result.tables. */
enum { TK_SEED_USERS, TK_SEED_CONCERTS, TK_SEED_SCHEDULES, TK_SEED_SEATS, TK_SEED_NTABLES };

typedef struct tk_seed_table_result {
    const char *table; /* static name: "users", "concerts", ... */
    uint64_t rows;     /* rows the server reports loaded */
    double seconds;    /* wall time of this table's load */
} tk_seed_table_result;

typedef struct tk_seed_result {
    tk_seed_table_result tables[TK_SEED_NTABLES];
    uint64_t total_rows;
    double load_seconds;    /* parallel load, wall time */
    double analyze_seconds; /* ANALYZE TABLE of the loaded tables */
    double total_seconds;   /* checks + reset + load + analyze */
    const char *method;     /* static: "load-data" or "insert" (what was used) */
    int reset_done;         /* 1 if tables were truncated first */
} tk_seed_result;

/* Load the data described by cfg. `db` is an open connection to the
 * migrated schema, used for the emptiness check, --reset and ANALYZE;
 * `mysql_url` is used to open one more connection per table for the
 * parallel load. Refuses (returns -1, message in err) when any of users,
 * concerts, concert_schedules, seats, reservations, payments, point_history
 * has rows and cfg->reset is 0. Returns 0 and fills *out, or -1 with a
 * message in err (partially loaded tables are left as they are; rerun with
 * reset). */
int tk_seed_run(MYSQL *db, const char *mysql_url, const tk_seed_config *cfg,
                tk_seed_result *out /* OUT */, char *err /* OUT */, size_t errlen);

/* Tell servers their caches are stale: INCR TK_SEED_CACHE_GEN_KEY on the
 * Redis at redis://host:port. Stores the new generation in *gen (may be
 * NULL). Returns 0, or -1 with a message in err. */
int tk_seed_bump_cache_gen(const char *redis_url, long long *gen /* OUT */, char *err /* OUT */,
                           size_t errlen);

#endif
