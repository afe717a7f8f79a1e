/* Deterministic bulk load of load-test data: users, concerts, schedules,
 * seats, reservations, payments and point history.
 *
 * The same seed gives the same rows (ids, names, titles, venues, times,
 * seat layout, grades, prices, reservations); row N depends only on (seed,
 * table, N), so the tables can be generated in any order and in parallel.
 * Times are laid out relative to `base_ms` (default: today 00:00 UTC), so
 * sales have opened and shows lie ahead whenever the data are loaded.
 *
 * Every seeded user (id 1..users) has e-mail user<N>@bench.ticketctl, the
 * password "bench-password" (one argon2id hash at libsodium's MIN limits,
 * shared by all seeded users so logins during a bench stay cheap) and role
 * USER. Seats: sections A, B, ... of 10 rows of 20 seats, front to back;
 * grade by row band over the schedule (first 10% of rows VIP 150,000, next
 * 20% R 120,000, next 30% S 90,000, the rest A 60,000 points).
 *
 * Reservations (0 in the demo and ci profiles, so their seats stay
 * AVAILABLE and their users at 0 points): reservation r holds seat
 * ((r-1) * stride mod seats) + 1 for a stride coprime to the seat count
 * (a bijection, so no seat has two reservations) and belongs to user
 * ((r-1) mod users) + 1. Status by a per-row draw: 60% CONFIRMED (seat
 * SOLD, one COMPLETED payment), 5% PENDING (seat HELD, hold expires two
 * days after base_ms so the sweeper leaves it alone on the seed day), 15%
 * CANCELED after payment (payment REFUNDED, seat AVAILABLE), 20% EXPIRED
 * (never paid, seat AVAILABLE). live_seat_id = seat_id while PENDING or
 * CONFIRMED, else NULL; price = the seat's price; a schedule's
 * available_seats = its seats minus its HELD and SOLD ones.
 * Payments: one per paid reservation (CONFIRMED or CANCELED), id = the
 * reservation id, amount = its price, idempotency key "seed-<id>".
 * Point history and balances: a user with at least one paid reservation
 * has one CHARGE of (sum of the paid prices + a drawn 0..490,000 extra in
 * steps of 10,000), then per paid reservation in id order a PAY of -price,
 * and for a canceled one a REFUND of +price right after; balance_after
 * runs along, never below 0, and users.points = the last balance_after
 * (the sum of the user's history). Users without a paid reservation have
 * 0 points and no history. Point-history ids are sparse: user u's k-th
 * entry is (u-1) * E + k, E = 1 + 2 * ceil(reservations / users).
 *
 * Loading: each table is streamed on its own connection and thread with
 * LOAD DATA LOCAL INFILE from a generator callback (no temp file), in
 * primary-key order into an empty table, unique and foreign-key checks off
 * for the session (restored before the indexes are built), ids explicit.
 * Secondary indexes (the list in lib/seed.c, which mirrors the migrations
 * in lib/db.c) are dropped before the load and built after it in one ALTER
 * TABLE per table; then ANALYZE TABLE. Falls back to multi-row INSERT when
 * the server refuses LOCAL INFILE.
 *
 * Resume: the seed_state table (migration 7) records per table the data
 * configuration it was loaded with and LOADING or COMPLETE; COMPLETE is
 * written only after the load and the index build. A re-run with the same
 * configuration keeps the COMPLETE tables and reloads every other one from
 * scratch (TRUNCATE first), so an interrupted load never leaves a
 * half-loaded table that looks complete. */
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
    uint32_t schedules_per_concert; /* used when schedules is 0 */
    uint64_t schedules;            /* total schedules, spread evenly over the concerts
                                      (schedule s belongs to concert (s-1)*concerts/schedules+1);
                                      0 = concerts x schedules_per_concert */
    uint32_t seats_per_schedule;
    uint64_t reservations;         /* reservation ids 1..reservations; <= seats */
    int without_indexes;           /* leave only PRIMARY and UNIQUE keys (see tk_seed_run) */
    int skip_disk_check;           /* do not compare free space with the estimate */
    uint32_t seat_streams;         /* seats loaded as this many consecutive id ranges at
                                      once, one connection each; 0 or 1 = one stream */
    uint64_t seed;                 /* same seed -> same rows */
    int reset;                     /* TRUNCATE the domain tables first */
    tk_seed_method method;
    int progress;                  /* draw progress bars on stderr */
    int64_t base_ms;               /* time anchor, ms since epoch; 0 = today 00:00 UTC */
} tk_seed_config;

/* Fill *cfg with a named profile: "demo" (10,000 users, 500 concerts x 4
 * schedules x 200 seats = 400,000 seats), "ci" (2,000 users, 50 x 2 x 100)
 * or "large", the reference test of DESIGN.md (1,000,000 users, 2,000,000
 * concerts, 3,000,000 schedules x 50 seats = 150,000,000 seats, 2,000,000
 * reservations with their payments and point history). demo and ci have no
 * reservations. seed 1, no reset, AUTO method, progress on. Returns 0, or
 * -1 for an unknown name. */
int tk_seed_profile(const char *name, tk_seed_config *cfg /* OUT */);

/* Tables seed writes, in the order of tk_seed_result.tables. */
enum {
    TK_SEED_USERS,
    TK_SEED_CONCERTS,
    TK_SEED_SCHEDULES,
    TK_SEED_SEATS,
    TK_SEED_RESERVATIONS,
    TK_SEED_PAYMENTS,
    TK_SEED_POINT_HISTORY,
    TK_SEED_CONCERT_WORDS, /* the search index (migration 15): each concert's words */
    TK_SEED_NTABLES
};

typedef struct tk_seed_table_result {
    const char *table;    /* static name: "users", "concerts", ... */
    uint64_t rows;        /* rows the server reports loaded (0 when kept) */
    double seconds;       /* wall time of this table's load (rows only) */
    double index_seconds; /* wall time of its secondary-index build/drop */
    int kept;             /* 1: COMPLETE from an earlier run with this config, not reloaded */
} tk_seed_table_result;

typedef struct tk_seed_result {
    tk_seed_table_result tables[TK_SEED_NTABLES];
    uint64_t total_rows;
    double load_seconds;    /* parallel load, wall time */
    double analyze_seconds; /* ANALYZE TABLE of the loaded tables */
    uint64_t disk_needed;   /* estimated bytes the load needs (0 when not checked) */
    uint64_t disk_free;     /* free bytes at the datadir (0 when not checked) */
    double total_seconds;   /* checks + reset + load + analyze */
    const char *method;     /* static: "load-data" or "insert" (what was used) */
    int reset_done;         /* 1 if tables were truncated first */
} tk_seed_result;

/* Load the data described by cfg. `db` is an open connection to the
 * migrated schema (migration 7 or later: seed_state), used for the checks,
 * --reset and ANALYZE; `mysql_url` is used to open one more connection per
 * table for the parallel load.
 *
 * Without cfg->reset: when seed_state holds tables seeded with this same
 * configuration (seed, counts, base_ms), COMPLETE tables are kept and the
 * others are truncated and reloaded (resume); when it holds another
 * configuration, or is empty while any of users, concerts,
 * concert_schedules, seats, reservations, payments, point_history has
 * rows, it refuses (-1, message in err). With reset all of those and the
 * outbox are truncated first.
 *
 * Indexes: the secondary indexes seed knows (the migrations' set) are
 * dropped before a table's load and re-created after it. With
 * cfg->without_indexes only the PRIMARY KEY and the UNIQUE keys remain
 * afterwards: every non-unique secondary index is dropped (known or not),
 * while the UNIQUE keys are constraints the application's correctness
 * rests on (one live reservation per seat, one payment per reservation,
 * idempotency keys, one account per e-mail), not performance indexes, so
 * they are kept. Kept tables get their indexes brought to the same state.
 *
 * Disk: unless cfg->skip_disk_check, when @@datadir is a local directory
 * its free space (statvfs) must cover an estimate of the bytes the tables
 * to load need (rows x bytes per row of data, indexes and the sort files
 * of the index build, per table); else -1 with both numbers in err.
 *
 * Returns 0 and fills *out, or -1 with a message in err (tables not marked
 * COMPLETE are reloaded by the next run). */
int tk_seed_run(MYSQL *db, const char *mysql_url, const tk_seed_config *cfg,
                tk_seed_result *out /* OUT */, char *err /* OUT */, size_t errlen);

/* Tell servers their caches are stale: INCR TK_SEED_CACHE_GEN_KEY on the
 * Redis at redis://host:port. Stores the new generation in *gen (may be
 * NULL). Returns 0, or -1 with a message in err. */
int tk_seed_bump_cache_gen(const char *redis_url, long long *gen /* OUT */, char *err /* OUT */,
                           size_t errlen);

#endif
